from pathlib import Path

from autovla_common.rig import load_rig
from autovla_common.topic_map import (
    CameraTopics,
    default_topic_map,
    load_topic_map,
    parse_topic_map,
)
import pytest

CONFIG = Path(__file__).resolve().parents[3] / 'config'
RIG = load_rig(CONFIG / 'rigs' / 'nuscenes.yaml')


def test_default_map_file_is_the_stacks_own_names_and_the_rigs_topics():
    shipped = load_topic_map(CONFIG / 'topic_maps' / 'default.yaml')
    assert shipped == default_topic_map()
    assert shipped.apply_to_rig(RIG) == RIG
    assert shipped.input_topics()[0] == 'cameras/CAM_FRONT/image/compressed'
    assert (shipped.odometry, shipped.route, shipped.command) == \
        ('odometry', 'route', 'driving_command')
    assert shipped.remaps() == []


@pytest.mark.parametrize('name', ['nuscenes.yaml', 'autoware.yaml'])
def test_example_maps_load_and_cover_the_nuscenes_rig(name):
    topic_map = load_topic_map(CONFIG / 'topic_maps' / name)
    rig = topic_map.apply_to_rig(RIG)
    assert [c.topic for c in rig.cameras] == [topic_map.camera(n).image for n in RIG.names]
    assert all(t.startswith('/') for t in topic_map.input_topics())


def test_short_form_takes_the_transport_from_the_name_and_long_form_gives_camera_info():
    topic_map = parse_topic_map({'cameras': {
        'A': '/a/image_raw/compressed', 'B': '/b/image_raw',
        'C': {'image': '/c/image', 'transport': 'raw', 'camera_info': '/c/info'}},
        'odometry': '/odom', 'route': '/route'})
    assert topic_map.camera('A') == CameraTopics('/a/image_raw/compressed', 'compressed')
    assert topic_map.camera('B') == CameraTopics('/b/image_raw', 'raw')
    assert topic_map.camera('C') == CameraTopics('/c/image', 'raw', '/c/info')
    assert topic_map.command == '' and topic_map.objects == ''
    assert topic_map.remaps() == [('odometry', '/odom'), ('route', '/route')]
    assert topic_map.input_topics() == ['/a/image_raw/compressed', '/b/image_raw', '/c/image',
                                        '/c/info', '/odom', '/route']


@pytest.mark.parametrize('document, message', [
    ({'cameras': {}}, 'cameras must map'),
    ({'cameras': {'A': '/a'}, 'odom': '/odom'}, 'unknown key(s) odom'),
    ({'cameras': {'A': 'has space'}}, "cameras.A: 'has space' is not a valid ROS topic"),
    ({'cameras': {'A': {'image': '/a', 'transport': 'h264'}}}, "'h264' is not one of"),
    ({'cameras': {'A': {'image': '/a', 'info': '/i'}}}, 'unknown key(s) info'),
    ({'cameras': {'A': '/a', 'B': '/a'}}, 'more than one input: /a'),
    ({'cameras': {'A': '/a'}, 'odometry': 3}, 'odometry: expected a topic name'),
    (['cameras'], 'expected a mapping'),
])
def test_bad_maps_are_rejected_with_the_key_and_the_problem(document, message):
    with pytest.raises(ValueError) as error:
        parse_topic_map(document, 'my_map.yaml')
    assert 'my_map.yaml' in str(error.value) and message in str(error.value)


def test_map_and_rig_must_name_the_same_cameras():
    topic_map = parse_topic_map({'cameras': {'CAM_FRONT': '/f', 'CAM_TOP': '/t'}})
    with pytest.raises(ValueError, match='not mapped: CAM_FRONT_LEFT.*not in the rig: CAM_TOP'):
        topic_map.apply_to_rig(RIG)


def test_missing_or_broken_files_say_so(tmp_path):
    with pytest.raises(ValueError, match='cannot read'):
        load_topic_map(tmp_path / 'none.yaml')
    (tmp_path / 'bad.yaml').write_text('cameras: [unclosed\n')
    with pytest.raises(ValueError, match='not valid YAML'):
        load_topic_map(tmp_path / 'bad.yaml')
