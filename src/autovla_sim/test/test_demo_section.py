"""The demo's closed-loop page: in-process baselines, score table, frame panels."""

from types import SimpleNamespace

from autovla_common.rig import load_rig
from autovla_safety.config import load_shipped_config
from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.generator import default_rig_path
from autovla_sim.cli import Scene
from autovla_sim.simulator import ClosedLoopSim
from autovla_sim.vehicle import VehicleModel
import cv2
import numpy as np

from autovla_sim import demo


def test_section_without_stack_runs_has_every_type_in_its_table(tmp_path):
    lines, types = [], ('red_light', 'occluded_pedestrian')
    result = demo.run_section(tmp_path, stack_scenarios=(), types=types, log=lines.append)
    page = result['html'].read_text(encoding='utf-8')
    for name in types:
        assert f'<td>{name}</td>' in page
    assert 'expert PDMS / DS / coll.' in result['table'] and 'rule PDMS' in result['table']
    assert lines and (tmp_path / 'closed_loop.json').exists()


def test_strip_panel_shows_birdseye_camera_mode_and_explanation():
    scenario = make_scenario('stopped_vehicle', 0)
    sim = ClosedLoopSim(scenario, VehicleModel(load_shipped_config().vehicle))
    images = Scene(scenario, load_rig(default_rig_path()), 320, 180)(sim)
    link = SimpleNamespace(plans=[SimpleNamespace(explanation='Fast thinking: stop.')],
                           mode='NOMINAL')
    recorder = demo.StripRecorder('stopped_vehicle')
    recorder(sim, images, link)
    recorder(sim, images, link)          # every second frame only
    assert len(recorder.panels) == 1
    panel = cv2.imdecode(np.frombuffer(recorder.panels[0], np.uint8), cv2.IMREAD_COLOR)
    # Bird's-eye square (240 px) beside the 16:9 camera, two text lines below.
    assert panel.shape[0] > 240 and panel.shape[1] == 240 + round(180 * 240 / 180 * 16 / 9)
    # The ego is drawn green in the bird's-eye view's lower third.
    ego = panel[160, 120]
    assert ego[1] > 150 and ego[0] < 100 and ego[2] < 100
