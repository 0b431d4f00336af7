"""Per-camera ring buffers and the choice of an anchor frame with a frame history per camera.

ROS-free: stamps and arrival times are integer nanoseconds. Stamps (message headers) decide
which frames belong together; arrival times (node clock) decide how long to wait for a late
camera.
"""

from bisect import bisect_left
from collections import deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, List, Optional, Sequence

POLICIES = ('skip', 'publish_missing')


@dataclass
class BufferedFrame:
    """A received frame: its stamp, when it arrived, and whatever the caller stores with it."""

    stamp_ns: int
    arrival_ns: int
    payload: Any


@dataclass(frozen=True)
class Selection:
    """The outcome of one synchronisation attempt.

    status: 'no_new_anchor', 'warming_up' (the anchor camera's history is incomplete),
    'waiting' (a camera is late, its deadline has not passed), 'skipped' (a camera stayed
    missing and the policy is 'skip') or 'ready'. When 'ready', ``histories`` maps every
    camera to its frames oldest first, or to None for a missing camera.
    """

    status: str
    anchor_stamp_ns: int = 0
    anchor_arrival_ns: int = 0
    histories: Optional[Dict[str, Optional[List[BufferedFrame]]]] = None
    missing: Sequence[str] = ()
    spacing_ns: int = 0           # mean stamp spacing of the anchor camera's history
    recorded_spacing: bool = False   # the history follows the recording, not the rate


class CameraBuffer:
    """Frames of one camera, sorted by stamp, pruned by age."""

    def __init__(self):
        self.frames: Deque[BufferedFrame] = deque()
        self._stamps: Deque[int] = deque()

    @property
    def newest_stamp_ns(self) -> Optional[int]:
        """Stamp of the newest frame (None when empty)."""
        return self._stamps[-1] if self._stamps else None

    def append(self, frame: BufferedFrame) -> None:
        """Add a frame newer than every buffered one."""
        self.frames.append(frame)
        self._stamps.append(frame.stamp_ns)

    def prune(self, oldest_ns: int, keep: int = 0) -> None:
        """Drop frames stamped before ``oldest_ns``, but keep the newest ``keep`` frames."""
        while len(self._stamps) > keep and self._stamps[0] < oldest_ns:
            self._stamps.popleft()
            self.frames.popleft()

    def keep_within(self, first_ns: int, last_ns: int) -> None:
        """Drop every frame stamped before ``first_ns`` or after ``last_ns``."""
        while self._stamps and self._stamps[-1] > last_ns:
            self._stamps.pop()
            self.frames.pop()
        self.prune(first_ns)

    def remove(self, frame: BufferedFrame) -> None:
        """Drop one frame (e.g. it turned out not to decode)."""
        index = self.frames.index(frame)
        del self.frames[index]
        del self._stamps[index]

    def nearest(self, target_ns: int, tolerance_ns: int) -> Optional[BufferedFrame]:
        """Return the frame stamped closest to ``target_ns`` if within ``tolerance_ns``."""
        index = bisect_left(self._stamps, target_ns)
        best = None
        for candidate in (index - 1, index):
            if 0 <= candidate < len(self._stamps):
                offset = abs(self._stamps[candidate] - target_ns)
                if offset <= tolerance_ns and (best is None or offset < best[0]):
                    best = (offset, self.frames[candidate])
        return None if best is None else best[1]

    def median_gap_ns(self) -> Optional[int]:
        """Median stamp spacing of the buffered frames (None with fewer than two)."""
        gaps = sorted(b - a for a, b in zip(self._stamps, list(self._stamps)[1:]))
        return gaps[len(gaps) // 2] if gaps else None

    def clear(self) -> None:
        """Drop every frame."""
        self.frames.clear()
        self._stamps.clear()


class Synchroniser:
    """Anchor-camera synchronisation with a frame history per camera."""

    def __init__(self, cameras: Sequence[str], anchor: str, tolerance_ns: int,
                 history_length: int, history_period_ns: int, max_wait_ns: int,
                 policy: str, min_spacing_ns: int = 0, allow_recorded_spacing: bool = False):
        if anchor not in cameras:
            raise ValueError(f'anchor camera {anchor!r} is not one of {list(cameras)}')
        if policy not in POLICIES:
            raise ValueError(f'late camera policy {policy!r} is not one of {POLICIES}')
        if history_length > 1 and 2 * tolerance_ns >= history_period_ns:
            raise ValueError('the sync tolerance must be under half the history period, '
                             'or one frame could fill two history slots')
        self.cameras = list(cameras)
        self.anchor = anchor
        self.tolerance_ns = tolerance_ns
        self.history_length = history_length
        self.history_period_ns = history_period_ns
        self.max_wait_ns = max_wait_ns
        self.policy = policy
        self.allow_recorded_spacing = allow_recorded_spacing
        # Observations are at least this far apart in stamp time (the planning rate). Spacing
        # by stamps, not by a timer, keeps replays deterministic and never waits on a clock.
        self.min_spacing_ns = max(0, min_spacing_ns - tolerance_ns)
        # Keep what a history can reach back to, plus the wait for late cameras and a margin.
        self.span_ns = (history_length - 1) * history_period_ns + tolerance_ns \
            + max_wait_ns + 1_000_000_000
        self.buffers = {name: CameraBuffer() for name in self.cameras}
        self.last_anchor_ns: Optional[int] = None

    def restart_timeline(self, camera: str, stamp_ns: int) -> None:
        """Forget the old timeline after ``camera``'s stamps went back to ``stamp_ns``.

        The other cameras keep their frames stamped within one sync tolerance of it: the same
        capture on the new timeline, which may have come first (a camera's first new frame can
        follow the others', or a last frame of the old timeline delivered late), and wiping
        it lost the new replay's first observation. Everything else is dropped.
        """
        for name, buffer in self.buffers.items():
            if name == camera:
                buffer.clear()
            else:
                buffer.keep_within(stamp_ns - self.tolerance_ns, stamp_ns + self.tolerance_ns)
        self.last_anchor_ns = None

    def add(self, camera: str, stamp_ns: int, arrival_ns: int, payload: Any) -> str:
        """Buffer a frame; return 'ok', 'duplicate_stamp' (dropped) or 'stamp_backwards'.

        A stamp older than the camera's newest means the source went back in time (a bag
        looping, a second replay): the old timeline is dropped (``restart_timeline``) and the
        frame starts the new one.
        """
        buffer = self.buffers[camera]
        newest = buffer.newest_stamp_ns
        outcome = 'ok'
        if newest is not None and stamp_ns == newest:
            return 'duplicate_stamp'
        if newest is not None and stamp_ns < newest:
            self.restart_timeline(camera, stamp_ns)
            outcome = 'stamp_backwards'
        buffer.append(BufferedFrame(stamp_ns, arrival_ns, payload))
        # A sparse recording (keyframes seconds apart) still keeps a full history.
        buffer.prune(stamp_ns - self.span_ns, keep=self.history_length)
        return outcome

    def history(self, camera: str, slots_ns: Sequence[int]) -> Optional[List[BufferedFrame]]:
        """Return the frame nearest to each slot stamp (oldest first), or None if one lacks."""
        frames = []
        buffer = self.buffers[camera]
        for slot in slots_ns:
            frame = buffer.nearest(slot, self.tolerance_ns)
            if frame is None:
                return None
            frames.append(frame)
        return frames

    def rate_slots(self, anchor_ns: int) -> List[int]:
        """History slot stamps at the configured rate: anchor - k * period, oldest first."""
        return [anchor_ns - k * self.history_period_ns
                for k in range(self.history_length - 1, -1, -1)]

    def too_sparse(self) -> bool:
        """Tell whether the anchor camera's frames are further apart than tolerance bridges.

        Then history slots at the configured rate fall between frames and stay empty.
        """
        gap = self.buffers[self.anchor].median_gap_ns()
        return gap is not None and gap > 2 * self.tolerance_ns

    def recorded_slots(self, anchor_ns: int) -> Optional[List[int]]:
        """Slot stamps from the anchor camera's own frames, as close to the rate as recorded.

        Walking back from the anchor, each slot is the newest frame at least one period
        (less the tolerance) older than the previous slot. None until there are enough frames.
        """
        stamps = [frame.stamp_ns for frame in self.buffers[self.anchor].frames
                  if frame.stamp_ns <= anchor_ns]
        slots = [anchor_ns]
        for stamp in reversed(stamps):
            if len(slots) == self.history_length:
                break
            if stamp <= slots[-1] - self.history_period_ns + self.tolerance_ns:
                slots.append(stamp)
        return slots[::-1] if len(slots) == self.history_length else None

    def select(self, now_ns: int) -> Selection:
        """Try to assemble the newest unused anchor frame with every camera's history.

        Does not consume the anchor: call ``consume`` once the result has been used (or
        given up on), so a 'waiting' selection can be retried.
        """
        anchor_buffer = self.buffers[self.anchor]
        if not anchor_buffer.frames or (
                self.last_anchor_ns is not None
                and anchor_buffer.newest_stamp_ns < self.last_anchor_ns + max(
                    1, self.min_spacing_ns)):
            return Selection('no_new_anchor')
        anchor = anchor_buffer.frames[-1]
        slots = self.rate_slots(anchor.stamp_ns)
        histories = {self.anchor: self.history(self.anchor, slots)}
        recorded = False
        if histories[self.anchor] is None and self.allow_recorded_spacing and self.too_sparse():
            slots = self.recorded_slots(anchor.stamp_ns)
            recorded = slots is not None
            histories[self.anchor] = self.history(self.anchor, slots) if recorded else None
        if histories[self.anchor] is None:
            return Selection('warming_up', anchor.stamp_ns, anchor.arrival_ns)
        spacing = (slots[-1] - slots[0]) // max(1, len(slots) - 1)
        missing = []
        for camera in self.cameras:
            if camera != self.anchor:
                histories[camera] = self.history(camera, slots)
                if histories[camera] is None:
                    missing.append(camera)
        if missing and now_ns - anchor.arrival_ns < self.max_wait_ns:
            return Selection('waiting', anchor.stamp_ns, anchor.arrival_ns, missing=missing)
        if missing and self.policy == 'skip':
            return Selection('skipped', anchor.stamp_ns, anchor.arrival_ns, missing=missing)
        return Selection('ready', anchor.stamp_ns, anchor.arrival_ns, histories, missing,
                         spacing, recorded)

    def consume(self, anchor_ns: int) -> None:
        """Mark every anchor frame up to ``anchor_ns`` as used."""
        self.last_anchor_ns = anchor_ns
