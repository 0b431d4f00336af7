"""The RFT reward of one sampled plan (ROS-free): driving score minus reasoning cost.

reward = PDMS of the plan against the scenario's future (``autovla_sim.scoring.score_plan``:
         no at-fault collision x drivable area x driving direction x weighted TTC, comfort,
         ego progress; in [0, 1])
       - the paper's reasoning-length penalty, slow thinking only:
         0.3 * sigmoid((characters - 400) * 0.002)   (AutoVLA, arXiv 2506.13757)
       + optionally ``preference_weight`` x a human mark: +1 when the plan is the same motion
         as a plan marked good on that frame, -1 when it is the same motion as one marked bad.

The scenario of a training frame is rebuilt from its catalogue name and seed, with the
expert's drive simulated as the generator did, so the scorer sees the same world as the bag.
"""

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from autovla_scenarios.catalogue import make_scenario
from autovla_scenarios.generator import GenerationConfig, START_STAMP_NS
from autovla_scenarios.world import simulate_expert
from autovla_sim.scoring import score_plan
import numpy as np
import yaml

LENGTH_PENALTY_WEIGHT = 0.3       # the paper's coefficient
LENGTH_PENALTY_CENTRE_CHARS = 400.0
LENGTH_PENALTY_SLOPE = 0.002      # per character
PLAN_STEP_S = 0.5
SAME_MOTION_M = 1.0               # mean distance below which two plans are the same motion
SAME_FRAME_S = 0.25               # a mark applies to frames this close to its time
MARKS = {'good': 1.0, 'bad': -1.0}


def reasoning_length_penalty(reasoning: str, slow: bool,
                             weight: float = LENGTH_PENALTY_WEIGHT) -> float:
    """Return the paper's penalty on long reasoning (none for fast thinking)."""
    if not slow:
        return 0.0
    x = (len(reasoning) - LENGTH_PENALTY_CENTRE_CHARS) * LENGTH_PENALTY_SLOPE
    return weight / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class PlanMark:
    """A person's good/bad mark on the plan shown for one report frame."""

    scenario: str
    seed: int
    t: float                 # s after the scenario start (the frame's time)
    plan_xy: np.ndarray      # (H, 2) base_link points at 0.5 s steps, as the report shows
    value: float             # +1 good, -1 bad
    note: str = ''


def load_preferences(path: Path) -> List[PlanMark]:
    """Read a marks file (YAML: ``marks:`` list); ValueError naming the first bad entry."""
    document = yaml.safe_load(Path(path).read_text(encoding='utf-8')) or {}
    marks = []
    for number, entry in enumerate(document.get('marks') or []):
        where = f'{path}: mark {number + 1}'
        try:
            plan = np.asarray(entry['plan'], dtype=float)
            mark = str(entry['mark'])
            t = float(entry['t'])
            seed = int(entry['seed'])
            scenario = str(entry['scenario'])
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f'{where}: needs scenario, seed, t, mark and plan ({error})') \
                from None
        if mark not in MARKS:
            raise ValueError(f'{where}: mark must be good or bad, got {mark!r}')
        if plan.ndim != 2 or plan.shape[1] != 2 or not len(plan) or \
                not np.isfinite(plan).all() or not math.isfinite(t):
            raise ValueError(f'{where}: plan must be finite [x, y] points and t finite')
        marks.append(PlanMark(scenario, seed, t, plan, MARKS[mark], str(entry.get('note', ''))))
    return marks


def preference_term(marks: Sequence[PlanMark], scenario: str, seed: int, t: float,
                    plan_xy: np.ndarray) -> float:
    """+1 / -1 when ``plan_xy`` is the same motion as a plan marked good / bad here, else 0.

    The nearest matching mark decides (a plan near both a good and a bad plan takes the
    closer one's mark).
    """
    best, value = SAME_MOTION_M, 0.0
    for mark in marks:
        if mark.scenario != scenario or mark.seed != seed or abs(mark.t - t) > SAME_FRAME_S:
            continue
        steps = min(len(mark.plan_xy), len(plan_xy))
        distance = float(np.mean(np.linalg.norm(mark.plan_xy[:steps] - plan_xy[:steps, :2],
                                                axis=1)))
        if distance < best:
            best, value = distance, mark.value
    return value


class ScenarioReward:
    """Rewards of plans made on the frames of one generated scenario (catalogue name, seed)."""

    def __init__(self, name: str, seed: int, config: GenerationConfig = GenerationConfig(),
                 marks: Sequence[PlanMark] = (), preference_weight: float = 0.0,
                 length_weight: float = LENGTH_PENALTY_WEIGHT):
        self.name, self.seed = name, seed
        self.scenario = make_scenario(name, seed)
        self.expert = simulate_expert(self.scenario, config.duration + config.horizon)
        self.marks = [m for m in marks if m.scenario == name and m.seed == seed]
        self.preference_weight = preference_weight
        self.length_weight = length_weight

    def frame_time(self, stamp_ns: int) -> float:
        """Scenario time (s) of a bag stamp."""
        return (stamp_ns - START_STAMP_NS) * 1e-9

    def __call__(self, stamp_ns: int, poses: np.ndarray, reasoning: str = '',
                 slow: bool = False) -> Dict[str, float]:
        """Reward and its parts for ``poses`` (H, 3: x, y, yaw in base_link, 0.5 s steps)."""
        t0 = self.frame_time(stamp_ns)
        poses = np.asarray(poses, dtype=float)
        index = self.expert.index(t0)
        score = score_plan(self.scenario, self.expert, t0, self.expert.pose(t0),
                           float(self.expert.speed[index]),
                           PLAN_STEP_S * np.arange(1, len(poses) + 1), poses[:, :2], poses[:, 2])
        penalty = reasoning_length_penalty(reasoning, slow, self.length_weight)
        preference = preference_term(self.marks, self.name, self.seed, t0, poses[:, :2]) \
            if self.marks else 0.0
        return {'reward': score['pdms'] - penalty + self.preference_weight * preference,
                'pdms': score['pdms'], 'length_penalty': penalty, 'preference': preference,
                'collision': float(score['terms']['no_at_fault_collision'] < 1.0),
                'comfort': score['terms']['comfort']}


def reward_for(rewards: Dict[tuple, ScenarioReward], name: str, seed: int,
               **options) -> ScenarioReward:
    """Return the (cached) ScenarioReward of scenario ``name`` with ``seed``."""
    key = (name, seed)
    if key not in rewards:
        rewards[key] = ScenarioReward(name, seed, **options)
    return rewards[key]


def optional_marks(path: Optional[Path]) -> List[PlanMark]:
    """Return the marks of ``path``, or none."""
    return load_preferences(path) if path else []
