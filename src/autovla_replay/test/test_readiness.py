"""Lock-step replay waits for the stack on the topic map's names and says what is missing."""

from pathlib import Path

from autovla_common.rig import load_rig
from autovla_common.topic_map import parse_topic_map
from autovla_replay.pipeline import LockstepConfig, run_scenario
from autovla_replay.recording import rendered_recording

RIG = load_rig(Path(__file__).resolve().parents[3] / 'config' / 'rigs' / 'nuscenes.yaml')
MAP = parse_topic_map({'cameras': {name: f'/{name}/image_raw/compressed' for name in RIG.names},
                       'odometry': '/odom', 'route': '/route'})


def test_replay_without_a_stack_names_the_mapped_topics_it_waits_for(tmp_path):
    bag = tmp_path / 'foreign'
    rendered_recording(bag, MAP, RIG.resized(64, 36), 0.5, 2, {})
    lines = []
    config = LockstepConfig(subscriber_timeout=6.0, frame_timeout=0.3, warmup_frames=0,
                            drain=0.1, topic_map=MAP)
    result = run_scenario(bag, tmp_path / 'run', config, log=lines.append)
    waiting = [line for line in lines if 'waiting 5 s for the stack' in line]
    assert waiting, lines
    for name in ('/CAM_FRONT/image_raw/compressed (no subscriber)', '/odom (no subscriber)',
                 '/route (no subscriber)', 'planned_trajectory (no publisher)'):
        assert name in waiting[0]
    assert any('stack not ready after 6 s' in line for line in lines)
    assert (result['frames'], result['plans'], result['timeouts']) == (2, 0, 2)
