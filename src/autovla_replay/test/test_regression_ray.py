"""run_regression --ray: the bags as jobs on a (local) Ray cluster, one actor per DDS domain.

Needs the optional ray extra (requirements/optional.txt); skipped without it. Three bags on
two domains: a task per job (the first version) could run two jobs on one domain at the same
time, where each replay records the other stack's plans too.
"""

import json
import os
from pathlib import Path
import subprocess

from autovla_common.rig import load_rig, save_rig
from autovla_common.testing import executable
from autovla_common.topic_map import parse_topic_map
from autovla_replay.recording import rendered_recording
import pytest
import yaml

pytest.importorskip('ray', reason='the optional ray extra is not installed '
                                  '(pip install -r requirements/optional.txt)')

REPO = Path(__file__).resolve().parents[3]
OFFSETS_MS = {'CAM_FRONT': 0, 'CAM_FRONT_LEFT': -8, 'CAM_FRONT_RIGHT': 12, 'CAM_BACK': 35,
              'CAM_BACK_LEFT': 50, 'CAM_BACK_RIGHT': 27}
MAP = {'cameras': {name: f'/{name}/image_raw/compressed' for name in OFFSETS_MS},
       'odometry': '/odom', 'route': '/route'}
FRAMES, WARMUP = 5, 3
SCENARIOS = ('curve', 'straight_cruise', 'intersection_left')


def test_run_regression_on_a_local_ray_cluster(tmp_path):
    rig = load_rig(REPO / 'config' / 'rigs' / 'nuscenes.yaml').resized(320, 180)
    save_rig(rig, tmp_path / 'rig.yaml')
    (tmp_path / 'map.yaml').write_text(yaml.safe_dump(MAP))
    for scenario in SCENARIOS:
        rendered_recording(tmp_path / 'bags' / scenario, parse_topic_map(MAP), rig, 0.5,
                           FRAMES, OFFSETS_MS, scenario)
    out = tmp_path / 'run'
    result = subprocess.run(
        [executable('autovla_replay', 'run_regression'), '--bags', str(tmp_path / 'bags'),
         '--topic-map', str(tmp_path / 'map.yaml'), '--rig-file', str(tmp_path / 'rig.yaml'),
         '--out', str(out), '--ray', 'local', '--jobs', '2', '--frame-timeout', '120',
         '--warmup-frames', str(WARMUP)],
        capture_output=True, text=True, timeout=1200, env={**os.environ})
    logs = result.stdout + result.stderr
    assert result.returncode == 0, logs
    assert 'DomainWorker' in logs, logs      # the jobs ran in Ray actors
    domains = {}
    for scenario in SCENARIOS:
        metrics = json.loads((out / scenario / 'metrics.json').read_text())
        # Exactly this bag's answers: a second stack on the same domain would add its plans.
        assert (metrics['plans'], metrics['timeouts'], metrics['dropped_frames']) == \
            (FRAMES - WARMUP, 0, 0), (scenario, logs)
        line = next(line for line in logs.splitlines()
                    if f'{scenario}: starting a stack on ROS_DOMAIN_ID' in line)
        domains[scenario] = int(line.split('ROS_DOMAIN_ID ')[1].split()[0])
    assert len(set(domains.values())) == 2, domains
    assert set(json.loads((out / 'summary.json').read_text())['scenarios']) == set(SCENARIOS)
