"""One call per bag for regression, the demo and CI: lock-step replay + record + metrics.

The stack (perception, planner, safety) must already be running in ``namespace`` and read
its inputs through the same topic map; this module only talks to it over DDS.
"""

from dataclasses import dataclass, field
from pathlib import Path
import shutil
import time
from typing import Callable, Dict, List, Optional

from autovla_common.spin import spinning_node
from autovla_common.topic_map import default_topic_map, TopicMap

from autovla_replay import strict_json
from autovla_replay.bagdata import read_messages, split_frames, topic_types
from autovla_replay.live import BagReplayer, DEFAULT_RECORD_TOPICS, FrameOutcome, OutputRecorder
from autovla_replay.scoring import score_bag


@dataclass(frozen=True)
class LockstepConfig:
    """How a regression run replays each bag."""

    namespace: str = ''
    anchor_camera: str = 'CAM_FRONT'
    output_topic: str = 'planned_trajectory'
    output_type: str = 'autovla_msgs/msg/PlannedTrajectory'
    frame_timeout: float = 30.0        # s to wait for the stack's output of one frame
    warmup_frames: int = 3             # frames before the stack can answer (history filling)
    warmup_pause: float = 0.2          # s to let a warm-up frame settle
    subscriber_timeout: float = 120.0  # s to wait for the stack (a planner loads its model)
    drain: float = 1.0                 # s to keep recording after the last frame
    exclude_prefix: str = 'ground_truth/'   # not replayed: the stack must not see it
    # Cameras captured up to this long after the anchor belong to its frame (perception's
    # sync_tolerance_s: the stack pairs them the same way).
    camera_tolerance_s: float = 0.06
    # Input names: replay starts once each mapped input in the bag has a subscriber, so no
    # early frame is lost to DDS discovery (a lost frame leaves a history incomplete).
    topic_map: TopicMap = field(default_factory=default_topic_map)


def run_scenario(bag: Path, out_dir: Path, config: LockstepConfig = LockstepConfig(),
                 record_topics: Optional[Dict[str, str]] = None,
                 log: Callable[[str], None] = print) -> Dict[str, object]:
    """Replay ``bag`` in lock-step, record the outputs, score; write out_dir files.

    Writes ``out_dir/outputs`` (MCAP), ``out_dir/frames.json`` (per-frame outcome) and
    ``out_dir/metrics.json``; returns the metrics.
    """
    bag, out_dir = Path(bag), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    topic_map = config.topic_map
    messages = [m for m in read_messages(bag)
                if not (config.exclude_prefix and m.topic.startswith(config.exclude_prefix))
                and m.topic != topic_map.objects]
    frames = split_frames(messages, topic_map.camera(config.anchor_camera).image,
                          set(topic_map.image_topics), int(config.camera_tolerance_s * 1e9))
    outputs_path = out_dir / 'outputs'
    if outputs_path.exists():
        shutil.rmtree(outputs_path)
    outcomes: List[FrameOutcome] = []
    started = time.monotonic()
    with spinning_node('autovla_replay', config.namespace) as node:
        recorder = OutputRecorder(node, outputs_path, record_topics or DEFAULT_RECORD_TOPICS)
        replayer = BagReplayer(node, topic_types(messages),
                               latched=[topic_map.route] if topic_map.route else [])
        replayer.watch_output(config.output_topic, config.output_type)
        try:
            missing = replayer.wait_for_stack(topic_map.input_topics(),
                                              config.subscriber_timeout,
                                              lambda line: log(f'{bag.name}: {line}'))
            if missing:
                log(f'{bag.name}: stack not ready after {config.subscriber_timeout:g} '
                    f's: {", ".join(missing)}; replaying anyway')
            started = time.monotonic()
            outcomes = replayer.play_lockstep(frames, config.frame_timeout, config.warmup_frames,
                                              config.warmup_pause)
            time.sleep(config.drain)
        finally:
            recorder.close()
    timeouts = sum(o.waited and not o.answered for o in outcomes)
    log(f'{bag.name}: {len(outcomes)} frames, {sum(o.answered for o in outcomes)} answered, '
        f'{timeouts} timed out, {time.monotonic() - started:.1f} s')
    records = [o.__dict__ for o in outcomes]
    strict_json.write(out_dir / 'frames.json', {'frames': records})
    result = score_bag(bag, outputs_path, topic_map, config.anchor_camera, records)
    strict_json.write(out_dir / 'metrics.json', result)
    return result
