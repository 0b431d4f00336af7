from setuptools import find_packages, setup

package_name = 'autovla_replay'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='autovla_ros maintainers',
    maintainer_email='autovla-ros@example.com',
    description='Bag replay, output recording, metrics, regression compare and report.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'replay_bag = autovla_replay.cli:replay_main',
            'record_outputs = autovla_replay.cli:record_main',
            'compute_metrics = autovla_replay.cli:metrics_main',
            'compare_runs = autovla_replay.cli:compare_main',
            'make_report = autovla_replay.cli:report_main',
            'run_regression = autovla_replay.cli:regression_main',
            'autovla_demo = autovla_replay.demo:main',
        ],
    },
)
