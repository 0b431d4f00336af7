"""A bag recorded the way real datasets are replays through the real stack and is scored.

Foreign topic names (a topic map), cameras captured 0-50 ms apart and logged in arrival
order, keyframes 0.5 s apart and (second variant) 3 s apart, odometry at 50 Hz, a route on
/route. `run_regression` (the command users run) starts the stack itself with the map, and
must give a plan for every anchor frame after the warm-up, no timeout, L2 against the bag's
own odometry, and a report with camera frames and explanations.
"""

import json
import math
import os
from pathlib import Path
import re
import subprocess

from autovla_common.rig import load_rig, save_rig
from autovla_common.testing import executable
from autovla_common.topic_map import parse_topic_map
from autovla_replay.recording import rendered_recording
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 320, 180
OFFSETS_MS = {'CAM_FRONT': 0, 'CAM_FRONT_LEFT': -8, 'CAM_FRONT_RIGHT': 12, 'CAM_BACK': 35,
              'CAM_BACK_LEFT': 50, 'CAM_BACK_RIGHT': 27}
MAP = {'cameras': {name: f'/{name}/image_raw/compressed' for name in OFFSETS_MS},
       'odometry': '/odom', 'route': '/route'}
WARMUP = 3     # frames that fill the 4-frame history


@pytest.fixture(scope='module')
def inputs(tmp_path_factory):
    root = tmp_path_factory.mktemp('recordings')
    rig = load_rig(REPO / 'config' / 'rigs' / 'nuscenes.yaml').resized(WIDTH, HEIGHT)
    save_rig(rig, root / 'rig.yaml')
    (root / 'map.yaml').write_text(yaml.safe_dump(MAP))
    topic_map = parse_topic_map(MAP)
    bags = [root / 'bags' / 'keyframes_0p5s', root / 'bags' / 'keyframes_3s']
    rendered_recording(bags[0], topic_map, rig, 0.5, 7, OFFSETS_MS)
    rendered_recording(bags[1], topic_map, rig, 3.0, 5, OFFSETS_MS)
    return root, bags


def test_run_regression_on_real_looking_recordings(inputs, tmp_path):
    root, bags = inputs
    out = tmp_path / 'run'
    result = subprocess.run(
        [executable('autovla_replay', 'run_regression'), '--bags', str(root / 'bags'),
         '--topic-map', str(root / 'map.yaml'), '--rig-file', str(root / 'rig.yaml'),
         '--out', str(out), '--device', 'cpu', '--frame-timeout', '120',
         '--warmup-frames', str(WARMUP)],
        capture_output=True, text=True, timeout=1500, env={**os.environ})
    logs = result.stdout + result.stderr + ''.join(
        (out / bag.name / 'stack.log').read_text() for bag in bags
        if (out / bag.name / 'stack.log').exists())
    assert result.returncode == 0, logs
    # The bag's /route reached the stack under its own name (perception and safety).
    assert logs.count('route received') >= len(bags), logs
    summary = json.loads((out / 'summary.json').read_text(),
                         parse_constant=lambda c: pytest.fail(f'{c} in summary.json'))
    assert summary['schema'] == 2 and set(summary['scenarios']) == {b.name for b in bags}
    for bag, count in zip(bags, (7, 5)):
        metrics = json.loads((out / bag.name / 'metrics.json').read_text(),
                             parse_constant=lambda c: pytest.fail(f'{c} in metrics.json'))
        assert (metrics['frames'], metrics['plans'], metrics['timeouts']) == \
            (count, count - WARMUP, 0), logs
        assert metrics['dropped_frames'] == 0 and metrics['scored_plans'] == count - WARMUP
        assert all(math.isfinite(metrics['l2_stp3'][h]) for h in ('1s', '2s', '3s'))
        assert metrics['collision_source'].startswith('none')
    html = (out / 'report.html').read_text()
    # Every anchor frame of both bags shows its camera mosaic (a JPEG) and a bird's-eye view.
    assert html.count('data:image/jpeg') == 7 + 5
    explanations = re.findall(r'explanation: ([^<]+)', html)
    assert len(explanations) == (7 - WARMUP) + (5 - WARMUP)
    # Only the 3 s keyframes carry the spacing note, with the real spacing.
    assert sum('History frames were 3.00 s apart' in e for e in explanations) == 5 - WARMUP
