"""When a crashed perception or planner is restarted, and when the bring-up gives it up.

ROS-free: ``autovla_bringup`` asks a ``RestartRecord`` per node after each exit;
``launch/autovla.launch.py`` uses the same constants. The first restart comes after
RESPAWN_DELAY_S, each consecutive one after twice the previous (at most RESPAWN_MAX_DELAY_S);
a run longer than RESPAWN_STABLE_S starts the doubling again. A node restarted
``max_restarts`` times within ``window_s`` that dies once more is given up: it crash-loops
(bad model path, broken driver, out of memory), and restarting it for ever would hide that
behind a log line every 30 s while the car sits in a stop.
"""

from collections import deque
from dataclasses import dataclass
from typing import Deque, Optional

RESPAWN_DELAY_S = 1.0
RESPAWN_MAX_DELAY_S = 30.0
RESPAWN_STABLE_S = 60.0
RESPAWN_MAX_RESTARTS = 5
RESPAWN_WINDOW_S = 300.0
# Exit status of autovla_bringup when a node was given up (the safety node kept commanding).
GAVE_UP_EXIT_CODE = 3


@dataclass(frozen=True)
class RespawnPolicy:
    """At most ``max_restarts`` restarts of one node within ``window_s`` seconds."""

    max_restarts: int = RESPAWN_MAX_RESTARTS
    window_s: float = RESPAWN_WINDOW_S

    def __post_init__(self):
        if self.max_restarts < 0:
            raise ValueError(f'max restarts {self.max_restarts} must be 0 or more')
        if not self.window_s > 0.0:
            raise ValueError(f'restart window {self.window_s} s must be positive')


class RestartRecord:
    """One node's restart history under a policy."""

    def __init__(self, policy: RespawnPolicy):
        self.policy = policy
        self.failures = 0                    # consecutive short runs (backoff exponent)
        self._restarts: Deque[float] = deque()   # monotonic times of the restarts decided

    @property
    def restarts_in_window(self) -> int:
        """Restarts counted against the limit at the last decision."""
        return len(self._restarts)

    def after_exit(self, now: float, ran_s: float) -> Optional[float]:
        """Return the delay (s) before restarting a node that ran ``ran_s`` s, or None: give up."""
        self.failures = 0 if ran_s > RESPAWN_STABLE_S else self.failures + 1
        while self._restarts and self._restarts[0] <= now - self.policy.window_s:
            self._restarts.popleft()
        if len(self._restarts) >= self.policy.max_restarts:
            return None
        self._restarts.append(now)
        return min(RESPAWN_DELAY_S * 2 ** max(self.failures - 1, 0), RESPAWN_MAX_DELAY_S)
