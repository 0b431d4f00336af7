from setuptools import find_packages, setup

package_name = 'autovla_scenarios'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        # The rig the scenarios are rendered for (same file the perception node reads).
        ('share/' + package_name + '/config/rigs', ['../../config/rigs/nuscenes.yaml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='autovla_ros maintainers',
    maintainer_email='autovla-ros@example.com',
    description='Procedural driving scenarios for the nuScenes rig, written to rosbag2.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'generate_scenarios = autovla_scenarios.cli:main',
        ],
    },
)
