from glob import glob

from setuptools import find_packages, setup

package_name = 'autovla_perception'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        # The workspace-level config/ is the single source of this node's defaults.
        ('share/' + package_name + '/config', ['../../config/perception.yaml']),
        ('share/' + package_name + '/config/rigs', glob('../../config/rigs/*.yaml')),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='autovla_ros maintainers',
    maintainer_email='autovla-ros@example.com',
    description='Six cameras, odometry and route into one DrivingObservation.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'perception_node = autovla_perception.node:main',
        ],
    },
)
