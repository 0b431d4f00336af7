"""README tables, the RViz config and the Docker files, checked against the stack."""

from pathlib import Path
import shutil
import subprocess

import pytest
import yaml

from autovla_bringup import docs, stack

REPO = Path(__file__).resolve().parents[3]
SAFETY_README = REPO / 'src/autovla_safety/README.md'
TOP_README_MAX_LINES = 250


def test_package_readme_tables_match_the_specs_and_yaml():
    problems = docs.repository_problems(REPO, docs.generated_sections())
    assert problems == [], '\n'.join(problems) + '\nrun: python -m autovla_bringup.docs --write'


def test_each_generated_table_lives_in_its_package_readme():
    homes = docs.section_homes()
    assert homes['params:safety_node'] == 'src/autovla_safety/README.md'
    assert homes['topics'] == 'src/autovla_bringup/README.md'
    assert set(homes) == set(docs.generated_sections())


def test_top_readme_is_a_map_and_every_package_has_a_readme():
    top = (REPO / 'README.md').read_text()
    assert len(top.splitlines()) < TOP_README_MAX_LINES
    assert '<!-- params:' not in top and '<!-- topics:' not in top
    for package in sorted(path.parent for path in REPO.glob('src/*/package.xml')):
        assert (package / 'README.md').is_file(), f'{package.name} has no README.md'
        assert f'(src/{package.name}/README.md)' in top, f'top README does not link {package.name}'


def test_readme_check_fails_when_a_default_in_the_readme_is_edited():
    readme = SAFETY_README.read_text()
    row = '| `control_rate_hz` | double | `50.0` |'
    assert row in readme
    edited = readme.replace(row, row.replace('50.0', '60.0'))
    blocks = docs.sections_by_readme(docs.generated_sections())['src/autovla_safety/README.md']
    assert docs.readme_problems(readme, blocks) == []
    assert any('60.0' in line for line in docs.readme_problems(edited, blocks))


def test_docs_check_reports_a_missing_package_readme(tmp_path):
    problems = docs.repository_problems(tmp_path, docs.generated_sections())
    assert any(line.startswith('src/autovla_safety/README.md: missing') for line in problems)


def test_readme_check_fails_when_a_yaml_default_changes(tmp_path):
    install = stack.InstallSpace()

    def share(package):
        # A copy of every share dir, with safety's control rate changed.
        copy = tmp_path / package
        if not copy.exists():
            shutil.copytree(install.share(package), copy)
        return copy

    safety_yaml = share('autovla_safety') / 'config' / 'safety.yaml'
    safety_yaml.unlink()
    safety_yaml.write_text(yaml.safe_dump(
        {'safety_node': {'ros__parameters': {'control_rate_hz': 25.0}}}))
    sections = docs.generated_sections(stack.InstallSpace(share=share))
    problems = docs.repository_problems(REPO, sections)
    assert any(line.startswith('+') and '25.0' in line for line in problems)


def test_readme_without_markers_is_reported():
    assert docs.readme_problems('# no tables\n', {'topics': 'x'}, 'X.md') == [
        'X.md: README has no <!-- topics:begin --> ... end block']


def _rviz():
    return yaml.safe_load((REPO / 'config/rviz/autovla.rviz').read_text())


# RViz display class -> the message types it can show.
RVIZ_DISPLAY_TYPES = {
    'rviz_default_plugins/Image': {'sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage'},
    'rviz_default_plugins/Path': {'nav_msgs/msg/Path'},
    'rviz_default_plugins/MarkerArray': {'visualization_msgs/msg/MarkerArray'},
    'rviz_default_plugins/Odometry': {'nav_msgs/msg/Odometry'},
}


def _displays():
    return _rviz()['Visualization Manager']['Displays']


def test_rviz_config_shows_the_stack_in_odom_with_tf():
    manager = _rviz()['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'odom'
    assert manager['Views']['Current']['Target Frame'] == 'base_link'
    shown = {}
    for display in _displays():
        shown.setdefault(display['Class'], []).append(
            display['Topic']['Value'] if 'Topic' in display else None)
    assert shown['rviz_default_plugins/TF'] == [None]
    rig = stack.load_rig_document(REPO / 'config/rigs/nuscenes.yaml')
    assert sorted(shown['rviz_default_plugins/Image']) == sorted(
        f'/autovla/{camera["topic"]}' for camera in rig['cameras'])
    assert sorted(shown['rviz_default_plugins/Path']) == [
        '/autovla/ground_truth/expert_trajectory', '/autovla/planned_path',
        '/autovla/selected_path']
    assert sorted(shown['rviz_default_plugins/MarkerArray']) == [
        '/autovla/ground_truth/agents', '/autovla/planner_markers']
    assert shown['rviz_default_plugins/Odometry'] == ['/autovla/odometry']


def test_every_rviz_display_shows_a_topic_someone_publishes_with_its_type():
    published = stack.published_topics(stack.DEFAULT_NAMESPACE,
                                       stack.InstallSpace().default_rig())
    with_topic = [display for display in _displays() if 'Topic' in display]
    assert len(with_topic) == 12
    for display in with_topic:
        topic = display['Topic']['Value']
        assert topic in published, f'{display["Name"]}: nobody publishes {topic}'
        assert published[topic] in RVIZ_DISPLAY_TYPES[display['Class']], (
            f'{display["Name"]}: {topic} carries {published[topic]}')


def test_published_topics_know_the_replayed_ground_truth_and_tf():
    from autovla_common.frames import TF_STATIC_TOPIC, TF_TOPIC
    from autovla_scenarios.generator import TOPIC_AGENTS, TOPIC_EXPERT
    published = stack.published_topics('car', stack.InstallSpace().default_rig())
    assert published['/car/' + TOPIC_AGENTS] == 'visualization_msgs/msg/MarkerArray'
    assert published['/car/' + TOPIC_EXPERT] == 'nav_msgs/msg/Path'
    assert published[TF_TOPIC] == published[TF_STATIC_TOPIC] == 'tf2_msgs/msg/TFMessage'
    assert '/car/drive_command' in published and '/clock' in published


def _tool(name):
    path = shutil.which(name)
    assert path, f'{name} missing: it is pinned in requirements/python.txt (make setup)'
    return path


def test_dockerfile_passes_hadolint():
    result = subprocess.run([_tool('hadolint'), str(REPO / 'docker/Dockerfile')],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize('script', ['docker/entrypoint.sh', 'docker/check_image.sh'])
def test_docker_scripts_pass_shellcheck_and_are_executable(script):
    result = subprocess.run([_tool('shellcheck'), str(REPO / script)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (REPO / script).stat().st_mode & 0o111


@pytest.mark.parametrize('script', ['tools/activate.sh', 'tools/setup_env.sh', '.ci/run'])
def test_workspace_shell_scripts_pass_shellcheck(script):
    result = subprocess.run([_tool('shellcheck'), str(REPO / script)], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_check_runs_the_installed_executables_with_the_ros_numpy():
    dockerfile = (REPO / 'docker/Dockerfile').read_text()
    assert 'RUN src/autovla_ros/docker/check_image.sh "$ROS_NUMPY_VERSION"' in dockerfile
    # Ubuntu 24.04's python3-numpy, which ROS Jazzy's apt packages are built against.
    assert 'ARG ROS_NUMPY_VERSION=1.26.4' in dockerfile
    assert "grep -v -e '^torch==' -e '^numpy=='" in dockerfile
    check = (REPO / 'docker/check_image.sh').read_text()
    for node in stack.NODES:
        assert f'"{node.package} {node.executable}"' in check
    assert f'"{stack.REPLAY.package} {stack.REPLAY.executable}"' in check
    assert 'timeout --signal=INT --preserve-status' in check


def test_dockerfile_uses_official_jazzy_base_and_the_pinned_torch():
    dockerfile = (REPO / 'docker/Dockerfile').read_text().splitlines()
    assert [line for line in dockerfile if line.startswith('FROM ')] == [
        'FROM ros:jazzy-ros-base']
    pins = dict(line.split('==') for line in (REPO / 'requirements/python.txt').read_text()
                .splitlines() if '==' in line and not line.startswith('#'))
    assert f'ARG TORCH_VERSION={pins["torch"]}' in dockerfile


def test_compose_reserves_the_gpu_and_shares_host_network():
    compose = yaml.safe_load((REPO / 'docker/compose.yaml').read_text())
    service = compose['services']['autovla']
    assert service['build'] == {'context': '..', 'dockerfile': 'docker/Dockerfile'}
    assert (REPO / 'docker' / service['build']['context'] / service['build']['dockerfile']) \
        .resolve() == (REPO / 'docker/Dockerfile').resolve()
    [device] = service['deploy']['resources']['reservations']['devices']
    assert device['driver'] == 'nvidia' and 'gpu' in device['capabilities']
    assert service['network_mode'] == 'host' and service['ipc'] == 'host'
    assert 'ROS_DOMAIN_ID' in service['environment']
    assert 'autovla.launch.py' in service['command']


@pytest.mark.parametrize('path', ['docker/entrypoint.sh', 'docker/compose.yaml'])
def test_docker_files_name_the_installed_workspace(path):
    text = (REPO / path).read_text()
    assert '/ws' in text or 'autovla_bringup' in text
