from setuptools import find_packages, setup

package_name = 'autovla_training'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    package_data={package_name: ['data/*.yaml']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='autovla_ros maintainers',
    maintainer_email='autovla-ros@example.com',
    description='Behaviour cloning of the bundled default planner model on synthetic scenarios.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'train_default_model = autovla_training.train:main',
            'distill_default_model = autovla_training.distill:main',
            'train_sft_model = autovla_training.sft:main',
            'rft_default_model = autovla_training.grpo:main',
            'rft_tables = autovla_training.tables:main',
            'train_reasoning_model = autovla_training.pipeline:main',
        ],
    },
)
