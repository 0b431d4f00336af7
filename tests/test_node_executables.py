"""Each node executable starts, logs its configuration and exits 0 on SIGINT."""

from autovla_common.testing import NodeProcess
import pytest

NODES = [
    ('autovla_perception', 'perception_node'),
    ('autovla_planner', 'planner_node'),
    ('autovla_safety', 'safety_node'),
]

# One disallowed override per node, and the words the start-up error must contain.
BAD_OVERRIDES = [
    ('autovla_perception', 'perception_node', 'planning_rate_hz', 500.0, 'planning_rate_hz'),
    ('autovla_planner', 'planner_node', 'device', 'tpu', "'tpu' is not one of"),
    ('autovla_safety', 'safety_node', 'control_rate_hz', 1.0, 'control_rate_hz'),
]


@pytest.mark.parametrize('package,name', NODES)
def test_node_starts_and_exits_cleanly_on_sigint(package, name):
    with NodeProcess.ros_node(package, name) as node:
        assert node.wait_for_output('configuration', timeout=60), node.output()
        assert node.process.poll() is None, node.output()
        # SIGINT may land in the model load; a clean exit, however slow on a busy CPU.
        assert node.stop(timeout=90) == 0, node.output()


@pytest.mark.parametrize('package,name,param,value,message', BAD_OVERRIDES)
def test_disallowed_parameter_fails_start_with_a_clear_message(package, name, param, value,
                                                               message):
    with NodeProcess.ros_node(package, name, params={param: value}) as node:
        node.process.wait(timeout=60)
        assert node.process.returncode == 1, node.output()
        assert 'cannot start' in node.output() and message in node.output(), node.output()
