"""The planner's torch does not spin idle OpenMP threads unless the user asks for it."""

import os
import subprocess
import sys

PRINT_POLICY = ('import autovla_planner.runtime, os, torch; '
                'print(os.environ.get("OMP_WAIT_POLICY"))')


def policy_in_a_fresh_process(**env):
    environment = {key: value for key, value in os.environ.items() if key != 'OMP_WAIT_POLICY'}
    environment.update(env)
    return subprocess.run([sys.executable, '-c', PRINT_POLICY], env=environment, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_openmp_threads_sleep_when_idle_by_default():
    # Spinning threads made a plan ~50x slower with the other core busy (the benchmark).
    assert policy_in_a_fresh_process() == 'PASSIVE'


def test_a_wait_policy_the_user_set_is_kept():
    assert policy_in_a_fresh_process(OMP_WAIT_POLICY='ACTIVE') == 'ACTIVE'
