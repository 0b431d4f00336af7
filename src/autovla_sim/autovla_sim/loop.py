"""The closed-loop schedule (ROS-free): when to publish, render, wait and step.

One iteration per control period:
1. the link publishes the car's state (odometry, /tf, obstacle cloud) stamped ``t``;
2. every camera period the cameras are rendered at the car's actual pose and published;
   - lock-step (default): simulated time waits until the planner answered this frame (from
     the hand-over on; earlier frames only fill the planner's history), so the outcome does
     not depend on how fast the machine is;
   - latency-aware: simulated time runs on while the planner thinks, at most
     ``speed_factor`` simulated seconds per wall second (the factor stands in for the car's
     GPU: 0.1 = a computer ten times faster than this one), so slow thinking costs driving;
3. the link advances the clock to ``t`` and returns the command in force (the stack's
   DriveCommand for this tick, or an in-process driver's);
4. the simulator applies it for one control period.
Wall time per part (render, stack, scoring) is accounted for the benchmark.
"""

from dataclasses import dataclass, field
import time
from typing import Callable, Dict, List, Optional, Protocol, Tuple

from autovla_safety.controller import Command

from autovla_sim.simulator import ClosedLoopSim

ControlInput = Tuple[Optional[Command], str, str]   # command (None = none yet), source, mode


class Link(Protocol):
    """What the loop needs from the driver side (the ROS stack or an in-process driver)."""

    def publish_state(self, sim: ClosedLoopSim) -> None:
        """Publish the car's state at ``sim.time``."""

    def publish_frame(self, sim: ClosedLoopSim, images: Dict[str, object]) -> None:
        """Publish one camera frame (BGR images per camera) stamped ``sim.time``."""

    def answered(self, stamp: float) -> bool:
        """Tell whether the planner answered the frame stamped ``stamp`` (s)."""

    def wait_answer(self, stamp: float, timeout: float) -> bool:
        """Wait until ``answered(stamp)`` or ``timeout`` wall seconds; return it."""

    def new_answers(self) -> List[float]:
        """Stamps (s) of the answers that arrived since the last call."""

    def control(self, sim: ClosedLoopSim) -> ControlInput:
        """Advance the clock to ``sim.time`` and return the command in force."""


@dataclass(frozen=True)
class LoopConfig:
    """How the loop treats planner time."""

    latency_aware: bool = False
    speed_factor: float = 1.0      # simulated s per wall s of planner time (latency-aware)
    frame_timeout: float = 60.0    # wall s to wait for one answer in lock-step

    def validate(self) -> None:
        """Raise ValueError naming the first bad setting."""
        if not 0.001 <= self.speed_factor <= 100.0:
            raise ValueError('speed_factor must be in [0.001, 100]')
        if self.frame_timeout <= 0:
            raise ValueError('frame_timeout must be positive')


@dataclass
class LoopStats:
    """Wall seconds per part of the loop and what the planner did."""

    render_s: float = 0.0
    stack_s: float = 0.0           # publishing, waiting for answers and commands
    sim_s: float = 0.0             # vehicle model and traffic
    frames: int = 0
    answered: int = 0
    timeouts: int = 0
    answer_latency_s: list = field(default_factory=list)   # wall s, frame -> plan
    answer_sim_delay_s: list = field(default_factory=list)  # simulated s, frame -> plan


def run(sim: ClosedLoopSim, link: Link, render: Optional[Callable[[ClosedLoopSim], Dict]],
        config: LoopConfig = LoopConfig(),
        on_frame: Optional[Callable[[ClosedLoopSim, Dict], None]] = None) -> LoopStats:
    """Drive ``sim`` to its end through ``link``; ``render`` None = no cameras."""
    config.validate()
    stats = LoopStats()
    pending: List[Tuple[float, float]] = []     # (frame stamp, wall time published)
    while not sim.done:
        started = time.monotonic()
        link.publish_state(sim)
        if render is not None and sim.camera_due:
            images = render(sim)
            rendered = time.monotonic()
            stats.render_s += rendered - started
            started = rendered
            if on_frame:
                on_frame(sim, images)
            link.publish_frame(sim, images)
            stats.frames += 1
            if sim.handed_over:
                if config.latency_aware:
                    pending.append((sim.time, time.monotonic()))
                else:
                    _count(stats, link.wait_answer(sim.time, config.frame_timeout), started)
        if pending:
            pending = _pace(sim, link, pending, config, stats)
        command, source, mode = link.control(sim)
        stepped = time.monotonic()
        stats.stack_s += stepped - started
        sim.step(command, source, mode)
        stats.sim_s += time.monotonic() - stepped
    return stats


def _count(stats: LoopStats, answered: bool, since: float) -> None:
    if answered:
        stats.answered += 1
        stats.answer_latency_s.append(time.monotonic() - since)
    else:
        stats.timeouts += 1


def _pace(sim: ClosedLoopSim, link: Link, pending: List[Tuple[float, float]],
          config: LoopConfig, stats: LoopStats) -> List[Tuple[float, float]]:
    """Hold simulated time to the planner's wall time x speed factor while it thinks.

    ``pending``: (frame stamp, wall time published) of unanswered frames, oldest first. An
    answer resolves its frame and every older one (the planner skips superseded frames).
    """
    while pending:
        for stamp in link.new_answers():
            for frame, published in pending:
                if abs(frame - stamp) < 1e-6:
                    _count(stats, True, published)
                    stats.answer_sim_delay_s.append(sim.time - stamp)
            pending = [entry for entry in pending if entry[0] > stamp + 1e-6]
        if not pending:
            break
        stamp, published = pending[0]
        waited = time.monotonic() - published
        if waited * config.speed_factor >= sim.time + sim.config.control_dt - stamp:
            break
        if waited > config.frame_timeout:
            stats.timeouts += 1
            pending = pending[1:]
            continue
        link.wait_answer(pending[-1][0], 0.005)
    return pending


class DriverLink:
    """An in-process driver (expert, rule-based, ...) as a link: no messages, no waiting."""

    def __init__(self, driver, source: str):
        self.driver = driver
        self.source = source

    def publish_state(self, sim: ClosedLoopSim) -> None:
        """Nothing to publish in process."""

    def publish_frame(self, sim: ClosedLoopSim, images: Dict[str, object]) -> None:
        """Nothing to publish in process."""

    def answered(self, stamp: float) -> bool:
        """In-process drivers answer at once."""
        return True

    def wait_answer(self, stamp: float, timeout: float) -> bool:
        """In-process drivers answer at once."""
        return True

    def new_answers(self) -> List[float]:
        """In-process drivers have no planner answers to pace."""
        return []

    def control(self, sim: ClosedLoopSim) -> ControlInput:
        """Return the driver's command for this tick (a sensing driver sees the cloud first)."""
        if hasattr(self.driver, 'observe') and sim.index % sim.cloud_steps == 0:
            self.driver.observe(sim.time, sim.pose(), sim.obstacle_boxes())
        return self.driver.command(sim.time, sim.ego, sim.config.control_dt), self.source, ''
