"""Counters of rejected input and a per-reason throttle for the warnings that go with them."""

from typing import Callable, Dict, Optional


class InputHealth:
    """Count problems by reason; say when a reason's warning is due (at most once a period)."""

    def __init__(self, throttle_s: float, clock: Callable[[], float]):
        self.counters: Dict[str, int] = {}
        self._throttle_s = throttle_s
        self._clock = clock
        self._last_warned: Dict[str, float] = {}
        self._reported: Dict[str, int] = {}

    def record(self, reason: str, detail: str) -> Optional[str]:
        """Count one ``reason``; return the warning text when one is due, else None."""
        self.counters[reason] = self.counters.get(reason, 0) + 1
        now = self._clock()
        last = self._last_warned.get(reason)
        if last is not None and now - last < self._throttle_s:
            return None
        self._last_warned[reason] = now
        return f'{detail} [{reason}: {self.counters[reason]} so far]'

    def new_since_last_report(self) -> Dict[str, int]:
        """Return the counts added per reason since the previous call."""
        new = {reason: count - self._reported.get(reason, 0)
               for reason, count in self.counters.items()
               if count != self._reported.get(reason, 0)}
        self._reported = dict(self.counters)
        return new
