"""Score one replayed bag: the expert is the bag's own future odometry, plans from outputs.

Works on any bag with odometry: the expert trajectory of an anchor frame is where the
odometry went 0.5, 1.0, ... 5.0 s after the anchor stamp, in base_link at the anchor. Object
boxes (for collisions and the report) come from the topic map's ``objects`` topic when the
bag has one: visualization_msgs/MarkerArray, CUBE markers in odom (pose = box centre and
yaw, scale.x = length, scale.y = width, header.stamp = when the box is valid; markers whose
ns starts with 'future/' are predictions, drawn as such in generated scenarios).

Only plans whose frame has the expert up to the longest L2 horizon (3 s) are scored: a
recording that stops soon after its last camera frame leaves those frames a shorter future,
and averaging them into the 1 s and 2 s figures but not the 3 s one would bias the table.
They are counted as ``plans_without_full_future``.
"""

from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from autovla_common.topic_map import TopicMap
from autovla_scenarios.generator import FUTURE_NS_PREFIX
from autovla_scenarios.geometry import wrap_angle
from autovla_scenarios.messages import quaternion_yaw, stamp_ns
import numpy as np

from autovla_replay import metrics
from autovla_replay.bagdata import read_messages

TOPIC_PLAN = 'planned_trajectory'
TOPIC_EXPLANATION = 'explanation'
TOPIC_SAFETY = 'safety_status'
TOPIC_DRIVE = 'drive_command'
MODE_SLOW = 1    # autovla_msgs/PlannedTrajectory.MODE_SLOW
TOTAL_STAGE = 'total'   # the planner's end-to-end stage; the others are parts of it
EXPERT_STEP_S = 0.5
EXPERT_HORIZON_S = 5.0
SCORED_FUTURE_S = max(metrics.HORIZONS_S)   # a frame is scored with this much expert future
BOX_TOLERANCE_NS = 60_000_000   # boxes count for a waypoint within this of its time


@dataclass
class FrameTruth:
    """Ground truth of one anchor frame: ego pose in odom, expert future in base_link, boxes."""

    stamp: int
    ego: Tuple[float, float, float]
    expert_t: np.ndarray            # (N,) s after the frame stamp
    expert_xy: np.ndarray           # (N, 2) base_link
    expert_yaw: np.ndarray          # (N,) rad, relative to the ego heading
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
    stage_ms: float                 # planner time: the total stage, else the sum of stages
    received: int                   # log time in the outputs bag (ns)


def planner_ms(stages: Sequence[Tuple[str, float]]) -> float:
    """Planner time of one plan from its (stage, ms) records, each millisecond counted once.

    The 'total' stage already contains the others; without it the stages are summed.
    """
    totals = [ms for stage, ms in stages if stage == TOTAL_STAGE]
    return float(totals[-1]) if totals else float(sum(ms for stage, ms in stages))


def odometry_track(bag: Path, topic: str) -> np.ndarray:
    """(N, 4) stamp ns, x, y, yaw of the bag's odometry by header stamp (sorted, unique)."""
    rows = {}
    for message in read_messages(bag, [topic]):
        msg = message.decode()
        pose = msg.pose.pose
        values = (pose.position.x, pose.position.y, quaternion_yaw(pose.orientation))
        if all(math.isfinite(v) for v in values):
            rows[message.capture_stamp] = values
    return np.array([(stamp, *rows[stamp]) for stamp in sorted(rows)]).reshape(-1, 4)


def pose_at(track: np.ndarray, stamp: int) -> Optional[Tuple[float, float, float]]:
    """Odometry pose interpolated at ``stamp`` (None outside the recorded span)."""
    if len(track) == 0 or stamp < track[0, 0] or stamp > track[-1, 0]:
        return None
    yaw = np.unwrap(track[:, 3])
    return (float(np.interp(stamp, track[:, 0], track[:, 1])),
            float(np.interp(stamp, track[:, 0], track[:, 2])),
            float(np.interp(stamp, track[:, 0], yaw)))


def expert_of(track: np.ndarray, stamp: int, ego: Tuple[float, float, float]
              ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return where the odometry went after ``stamp``: times s, base_link xy, relative yaw."""
    times, xy, yaw = [], [], []
    x0, y0, yaw0 = ego
    c, s = math.cos(yaw0), math.sin(yaw0)
    for k in range(1, int(round(EXPERT_HORIZON_S / EXPERT_STEP_S)) + 1):
        pose = pose_at(track, stamp + int(round(k * EXPERT_STEP_S * 1e9)))
        if pose is None:
            break
        dx, dy = pose[0] - x0, pose[1] - y0
        times.append(k * EXPERT_STEP_S)
        xy.append((c * dx + s * dy, -s * dx + c * dy))
        yaw.append(pose[2] - yaw0)
    return np.array(times), np.array(xy).reshape(-1, 2), np.array(yaw)


def load_boxes(bag: Path, topic: str) -> Dict[int, List[Tuple[str, Tuple[float, ...]]]]:
    """Marker stamp -> [(ns, (x, y, yaw, length, width))] of the bag's object boxes."""
    boxes: Dict[int, Dict[Tuple[str, int], Tuple[float, ...]]] = {}
    for message in read_messages(bag, [topic]) if topic else ():
        for marker in message.decode().markers:
            box = (marker.pose.position.x, marker.pose.position.y,
                   quaternion_yaw(marker.pose.orientation), marker.scale.x, marker.scale.y)
            boxes.setdefault(stamp_ns(marker.header.stamp), {})[(marker.ns, marker.id)] = box
    return {stamp: [(ns, box) for (ns, _), box in found.items()]
            for stamp, found in boxes.items()}


def _boxes_near(boxes: Dict[int, list], stamps: np.ndarray, stamp: int) -> list:
    if not len(stamps):
        return []
    nearest = int(stamps[np.argmin(np.abs(stamps - stamp))])
    return boxes[nearest] if abs(nearest - stamp) <= BOX_TOLERANCE_NS else []


def load_truth(bag: Path, anchor_stamps: Sequence[int], topic_map: TopicMap
               ) -> Dict[int, FrameTruth]:
    """Anchor stamp -> FrameTruth from the bag's own odometry (and boxes, if mapped)."""
    track = odometry_track(bag, topic_map.odometry)
    boxes = load_boxes(bag, topic_map.objects)
    box_stamps = np.array(sorted(boxes), dtype=np.int64)
    truths = {}
    for stamp in anchor_stamps:
        ego = pose_at(track, stamp)
        if ego is None:
            truths[stamp] = FrameTruth(stamp, (math.nan,) * 3, np.zeros(0), np.zeros((0, 2)),
                                       np.zeros(0), {})
            continue
        times, xy, yaw = expert_of(track, stamp, ego)
        agents_at = {stamp + int(round(t * 1e9)): [box for _, box in _boxes_near(
            boxes, box_stamps, stamp + int(round(t * 1e9)))] for t in times}
        current = [(ns.split('/')[-1], box) for ns, box in _boxes_near(boxes, box_stamps, stamp)
                   if not ns.startswith(FUTURE_NS_PREFIX)]
        truths[stamp] = FrameTruth(stamp, ego, times, xy, yaw, agents_at, current)
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
            msg.model_id, planner_ms([(s.stage, s.milliseconds) for s in msg.latencies]),
            message.stamp))
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


def anchor_stamps(bag: Path, anchor_topic: str) -> List[int]:
    """Capture stamps of the anchor camera's frames, in order."""
    return sorted({m.capture_stamp for m in read_messages(bag, [anchor_topic])})


def score_bag(bag: Path, outputs_bag: Path, topic_map: TopicMap, anchor_camera: str,
              frames: Optional[Sequence[Dict]] = None) -> Dict[str, object]:
    """Every metric of one replayed bag as a dict (NaN where undefined: see strict_json).

    ``frames``: the lock-step outcomes (frames.json) for latency, timeouts and drops.
    """
    anchors = anchor_stamps(bag, topic_map.camera(anchor_camera).image)
    truths = load_truth(bag, anchors, topic_map)
    plans, statuses, explanation_msgs = load_outputs(outputs_bag)
    l2_rows, collision_rows, jerks, lateral, progress, heading, per_frame = \
        [], [], [], [], [], [], []
    short_future = 0
    for plan in plans:
        truth = truths.get(plan.stamp)
        if truth is None:
            continue
        if not len(truth.expert_t) or truth.expert_t[-1] < SCORED_FUTURE_S - 1e-6:
            short_future += 1
            continue
        local = plan_at(plan, truth.expert_t)
        l2 = np.where(np.isfinite(local[:, 0]),
                      np.linalg.norm(local[:, :2] - truth.expert_xy, axis=1), math.nan)
        boxes = [truth.agents_at.get(truth.stamp + int(round(t * 1e9)), [])
                 for t in truth.expert_t]
        collisions = metrics.ego_collisions(to_world(truth.ego, local), boxes)
        l2_rows.append(l2)
        collision_rows.append(collisions)
        finite = np.isfinite(local[:, 0])
        jerks.append(metrics.max_jerk(local[finite, :2], EXPERT_STEP_S))
        lateral.append(metrics.max_lateral_acceleration(local[finite], EXPERT_STEP_S))
        progress.append(metrics.progress_ratio(local[finite, :2], truth.expert_xy[finite]))
        errors = [abs(wrap_angle(a - b)) for a, b in zip(local[finite, 2],
                                                          truth.expert_yaw[finite])]
        heading.append(float(np.mean(errors)) if errors else math.nan)
        per_frame.append({'stamp': plan.stamp, 'l2': [round(float(v), 4) for v in l2],
                          'collision': bool(np.nansum(collisions) > 0)})
    slow = sum(p.slow for p in plans)
    has_boxes = any(boxes for truth in truths.values() for boxes in truth.agents_at.values())
    frames = list(frames or [])
    waited = [f for f in frames if f['waited']]
    planned = {p.stamp for p in plans}
    return {
        'frames': len(anchors),
        'plans': len(plans),
        'scored_plans': len(l2_rows),
        'plans_without_full_future': short_future,
        'unscored_reason': '' if l2_rows else (
            'no plans' if not plans else
            f'less than {SCORED_FUTURE_S:g} s of odometry after the planned frames'),
        # Without boxes there is nothing to collide with: no collision figures (not 0 %).
        **metrics.summarize_scores(l2_rows, collision_rows if has_boxes else [],
                                   EXPERT_STEP_S),
        'collision_source': topic_map.objects if has_boxes
        else 'none (no object boxes in the bag)',
        'comfort': {
            'max_jerk_mean': _mean(jerks), 'max_jerk_max': _max(jerks),
            'uncomfortable_share': metrics.share(
                [j > metrics.COMFORT_JERK_LIMIT for j in jerks if math.isfinite(j)]),
            'max_lateral_acceleration_mean': _mean(lateral),
            'max_lateral_acceleration_max': _max(lateral),
        },
        'progress_ratio_mean': _mean(progress),
        'heading_error_rad_mean': _mean(heading),
        'explanation_share': metrics.share([bool(p.explanation.strip()) for p in plans]),
        'explanation_messages': explanation_msgs,
        'modes': metrics.ModeCounts(len(plans) - slow, slow).as_dict(),
        'safety_time_s': metrics.time_in_modes(statuses),
        'latency_ms': {'planner': metrics.percentiles([p.stage_ms for p in plans
                                                       if p.stage_ms > 0]),
                       'frame_to_plan': metrics.percentiles(
                           [f['latency_ms'] for f in waited if f['answered']])},
        'warmup_frames': len(frames) - len(waited),
        'timeouts': sum(not f['answered'] for f in waited),
        'dropped_frames': sum(f['anchor_stamp'] not in planned for f in waited),
        'model_ids': sorted({p.model_id for p in plans}),
        'per_frame': per_frame,
    }


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _max(values: Sequence[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.max(finite)) if finite else math.nan
