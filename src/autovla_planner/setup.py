from setuptools import find_packages, setup

package_name = 'autovla_planner'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    # Prompt template, chat template, tiny-model config and the default codebook ship with
    # the code and are read next to the package's modules.
    package_data={package_name: ['data/*']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        # The workspace-level config/ is the single source of this node's defaults.
        ('share/' + package_name + '/config', ['../../config/planner.yaml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='autovla_ros maintainers',
    maintainer_email='autovla-ros@example.com',
    description='Runs the AutoVLA model with adaptive reasoning; publishes plans, explanations.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'planner_node = autovla_planner.node:main',
            'build_codebook = autovla_planner.codebook_builder:main',
            'make_tiny_model = autovla_planner.model_files:main',
            'convert_autovla_checkpoint = autovla_planner.convert_checkpoint:main',
        ],
    },
)
