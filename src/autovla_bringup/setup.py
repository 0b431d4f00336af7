from glob import glob

from setuptools import find_packages, setup

package_name = 'autovla_bringup'
share = 'share/' + package_name

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        (share, ['package.xml']),
        # Workspace-level launch/ and config/ are the sources; ros2 launch finds them here.
        (share + '/launch', glob('../../launch/*.launch.py')),
        (share + '/config/rigs', glob('../../config/rigs/*.yaml')),
        (share + '/config/topic_maps', glob('../../config/topic_maps/*.yaml')),
        (share + '/config/rviz', ['../../config/rviz/autovla.rviz']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='autovla_ros maintainers',
    maintainer_email='autovla-ros@example.com',
    description='Stack description, ros2 launch files and a launch_ros-free bring-up command.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'autovla_bringup = autovla_bringup.cli:main',
        ],
    },
)
