"""NodeProcess.stop on a process that ignores SIGINT: its stacks are in the output, then killed."""

import sys

from autovla_common.testing import NodeProcess

IGNORES_SIGINT = """
import signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
print('up', flush=True)
def stuck_here():
    while True:
        time.sleep(0.1)
stuck_here()
"""


def test_a_hung_process_shows_where_it_hung_before_it_is_killed():
    with NodeProcess([sys.executable, '-c', IGNORES_SIGINT]) as process:
        assert process.wait_for_output('up', timeout=60), process.output()
        assert process.stop(timeout=1.0) < 0
        assert 'in stuck_here' in process.output(), process.output()
