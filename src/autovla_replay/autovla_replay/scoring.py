"""Score one replayed scenario: ground truth from the scenario bag, plans from the outputs bag."""

from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from autovla_scenarios.generator import (
    FUTURE_NS_PREFIX,
    TOPIC_AGENTS,
    TOPIC_EXPERT,
    TOPIC_ODOMETRY,
)
from autovla_scenarios.messages import quaternion_yaw, stamp_ns
import numpy as np

from autovla_replay import metrics
from autovla_replay.bagdata import read_messages

TOPIC_PLAN = 'planned_trajectory'
TOPIC_EXPLANATION = 'explanation'
TOPIC_SAFETY = 'safety_status'
TOPIC_DRIVE = 'drive_command'
MODE_SLOW = 1    # autovla_msgs/PlannedTrajectory.MODE_SLOW


@dataclass
class FrameTruth:
    """Ground truth of one frame: ego pose in odom, expert future in base_link, agent boxes."""

    stamp: int
    ego: Tuple[float, float, float]
    expert_t: np.ndarray            # (N,) s after the frame stamp
    expert_xy: np.ndarray           # (N, 2) base_link
    agents_at: Dict[int, List[Tuple[float, ...]]]   # stamp -> boxes (x, y, yaw, length, width)
    current_agents: List[Tuple[str, Tuple[float, ...]]] = field(default_factory=list)


@dataclass
class Plan:
    """The parts of a PlannedTrajectory the metrics use."""

    stamp: int
    t: np.ndarray
    xy: np.ndarray
    yaw: np.ndarray
    slow: bool
    explanation: str
    confidence: float
    model_id: str
    stage_ms: float                 # sum of the StageLatency entries (ms)
    received: int                   # log time in the outputs bag (ns)


def load_truth(scenario_bag: Path) -> Dict[int, FrameTruth]:
    """Frame stamp -> FrameTruth from a generated scenario bag."""
    messages = read_messages(scenario_bag, [TOPIC_ODOMETRY, TOPIC_EXPERT, TOPIC_AGENTS])
    odometry = []
    truths: Dict[int, FrameTruth] = {}
    agents: Dict[int, object] = {}
    for message in messages:
        msg = message.decode()
        if message.topic == TOPIC_ODOMETRY:
            pose = msg.pose.pose
            odometry.append((stamp_ns(msg.header.stamp), pose.position.x, pose.position.y,
                             quaternion_yaw(pose.orientation)))
        elif message.topic == TOPIC_AGENTS:
            agents[message.stamp] = msg
        else:
            stamp = stamp_ns(msg.header.stamp)
            truths[stamp] = FrameTruth(
                stamp, (math.nan,) * 3,
                np.array([(stamp_ns(p.header.stamp) - stamp) / 1e9 for p in msg.poses]),
                np.array([(p.pose.position.x, p.pose.position.y) for p in msg.poses]), {})
    odom_stamps = np.array([o[0] for o in odometry])
    for stamp, truth in truths.items():
        if len(odometry):
            truth.ego = odometry[int(np.argmin(np.abs(odom_stamps - stamp)))][1:]
        array = agents.get(stamp)
        for marker in (array.markers if array is not None else []):
            box = (marker.pose.position.x, marker.pose.position.y,
                   quaternion_yaw(marker.pose.orientation), marker.scale.x, marker.scale.y)
            truth.agents_at.setdefault(stamp_ns(marker.header.stamp), []).append(box)
            if not marker.ns.startswith(FUTURE_NS_PREFIX):
                truth.current_agents.append((marker.ns, box))
    return truths


def load_outputs(outputs_bag: Path) -> Tuple[List[Plan], List[Tuple[int, str]], int]:
    """(plans, safety (stamp, mode name) samples, explanation message count) of a run."""
    plans, statuses, explanations = [], [], 0
    for message in read_messages(outputs_bag, [TOPIC_PLAN, TOPIC_SAFETY, TOPIC_EXPLANATION]):
        if message.topic == TOPIC_EXPLANATION:
            explanations += 1
            continue
        msg = message.decode()
        if message.topic == TOPIC_SAFETY:
            statuses.append((stamp_ns(msg.header.stamp), msg.mode_name))
            continue
        points = msg.points
        plans.append(Plan(
            stamp_ns(msg.header.stamp),
            np.array([p.time_from_start.sec + p.time_from_start.nanosec / 1e9 for p in points]),
            np.array([(p.x, p.y) for p in points]).reshape(-1, 2),
            np.array([p.yaw for p in points]),
            msg.reasoning_mode == MODE_SLOW, msg.explanation, float(msg.confidence),
            msg.model_id, float(sum(s.milliseconds for s in msg.latencies)), message.stamp))
    statuses.sort()
    return plans, statuses, explanations


def plan_at(plan: Plan, times: np.ndarray) -> np.ndarray:
    """(N, 3) plan x, y, yaw interpolated at ``times`` (NaN outside the plan's time span)."""
    out = np.full((len(times), 3), math.nan)
    if len(plan.t) == 0:
        return out
    t = np.concatenate([[0.0], plan.t])
    xy = np.vstack([[0.0, 0.0], plan.xy])
    yaw = np.unwrap(np.concatenate([[0.0], plan.yaw]))
    inside = (times >= 0.0) & (times <= t[-1] + 1e-6)
    for column, values in enumerate((xy[:, 0], xy[:, 1], yaw)):
        out[inside, column] = np.interp(times[inside], t, values)
    return out


def to_world(ego: Tuple[float, float, float], local: np.ndarray) -> np.ndarray:
    """(N, 3) base_link poses at the ego pose -> odom."""
    x, y, yaw = ego
    c, s = math.cos(yaw), math.sin(yaw)
    return np.column_stack([x + c * local[:, 0] - s * local[:, 1],
                            y + s * local[:, 0] + c * local[:, 1], local[:, 2] + yaw])


def score_scenario(scenario_bag: Path, outputs_bag: Path,
                   frame_latencies_ms: Optional[List[float]] = None) -> Dict[str, object]:
    """Every metric of one scenario run as a JSON-ready dict."""
    truths = load_truth(scenario_bag)
    plans, statuses, explanation_msgs = load_outputs(outputs_bag)
    l2_rows, collision_rows, jerks, per_frame = [], [], [], []
    step_dt = 0.5
    for plan in plans:
        truth = truths.get(plan.stamp)
        if truth is None or not len(truth.expert_t):
            continue
        step_dt = float(truth.expert_t[0])
        local = plan_at(plan, truth.expert_t)
        l2 = np.where(np.isfinite(local[:, 0]),
                      np.linalg.norm(local[:, :2] - truth.expert_xy, axis=1), math.nan)
        world = to_world(truth.ego, local)
        boxes = [truth.agents_at.get(truth.stamp + int(round(t * 1e9)), [])
                 for t in truth.expert_t]
        collisions = metrics.ego_collisions(world, boxes)
        l2_rows.append(l2)
        collision_rows.append(collisions)
        finite = np.isfinite(local[:, 0])
        jerks.append(metrics.max_jerk(local[finite, :2], step_dt))
        per_frame.append({'stamp': plan.stamp, 'l2': [round(float(v), 4) for v in l2],
                          'collision': bool(np.nansum(collisions) > 0)})
    stage = [p.stage_ms for p in plans if p.stage_ms > 0]
    slow = sum(p.slow for p in plans)
    finite_jerks = [j for j in jerks if math.isfinite(j)]
    result = {
        'frames': len(truths),
        'plans': len(plans),
        'scored_plans': len(l2_rows),
        **metrics.summarize_scores(l2_rows, collision_rows, step_dt),
        'comfort': {
            'max_jerk_mean': float(np.mean(finite_jerks)) if finite_jerks else math.nan,
            'max_jerk_max': float(np.max(finite_jerks)) if finite_jerks else math.nan,
            'uncomfortable_share': metrics.share(
                [j > metrics.COMFORT_JERK_LIMIT for j in finite_jerks]),
        },
        'explanation_share': metrics.share([bool(p.explanation.strip()) for p in plans]),
        'explanation_messages': explanation_msgs,
        'modes': metrics.ModeCounts(len(plans) - slow, slow).as_dict(),
        'safety_time_s': metrics.time_in_modes(statuses),
        'latency_ms': {'planner_stages': metrics.percentiles(stage),
                       'frame_to_plan': metrics.percentiles(frame_latencies_ms or [])},
        'model_ids': sorted({p.model_id for p in plans}),
        'per_frame': per_frame,
    }
    return result
