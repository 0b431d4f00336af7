"""One call per scenario for the demo and CI: lock-step replay + record + metrics.

The stack (perception, planner, safety) must already be running in ``namespace`` with
``use_sim_time`` as the caller wishes; this module only talks to it over DDS.
"""

from dataclasses import dataclass
import json
from pathlib import Path
import shutil
import time
from typing import Callable, Dict, List, Optional, Tuple

from autovla_common.spin import spinning_node
from autovla_scenarios.generator import image_topic

from autovla_replay.bagdata import read_messages, split_frames, topic_types
from autovla_replay.live import (
    BagReplayer,
    DEFAULT_RECORD_TOPICS,
    FrameOutcome,
    OutputRecorder,
    STACK_INPUT_TOPICS,
)
from autovla_replay.scoring import score_scenario


@dataclass(frozen=True)
class LockstepConfig:
    """How a regression run replays each scenario."""

    namespace: str = ''
    anchor_camera: str = 'CAM_FRONT'
    output_topic: str = 'planned_trajectory'
    output_type: str = 'autovla_msgs/msg/PlannedTrajectory'
    frame_timeout: float = 30.0        # s to wait for the stack's output of one frame
    warmup_frames: int = 3             # frames before the stack can answer (history filling)
    warmup_pause: float = 0.2          # s to let a warm-up frame settle
    subscriber_timeout: float = 30.0   # s to wait for the stack to subscribe to the cameras
    drain: float = 1.0                 # s to keep recording after the last frame
    exclude_prefix: str = 'ground_truth/'   # not replayed: the stack must not see it
    # The stack's inputs: replay starts once each of these topics in the bag has a subscriber,
    # so no early frame is lost to DDS discovery (a lost frame leaves a history incomplete).
    input_topics: Tuple[str, ...] = STACK_INPUT_TOPICS


def run_scenario(scenario_bag: Path, out_dir: Path, config: LockstepConfig = LockstepConfig(),
                 record_topics: Optional[Dict[str, str]] = None,
                 log: Callable[[str], None] = print) -> Dict[str, object]:
    """Replay ``scenario_bag`` in lock-step, record the outputs, score; write out_dir files.

    Writes ``out_dir/outputs`` (MCAP), ``out_dir/frames.json`` (per-frame outcome) and
    ``out_dir/metrics.json``; returns the metrics.
    """
    scenario_bag, out_dir = Path(scenario_bag), Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    messages = [m for m in read_messages(scenario_bag)
                if not (config.exclude_prefix and m.topic.startswith(config.exclude_prefix))]
    anchor = image_topic(config.anchor_camera)
    frames = split_frames(messages, anchor)
    outputs_path = out_dir / 'outputs'
    if outputs_path.exists():
        shutil.rmtree(outputs_path)
    outcomes: List[FrameOutcome] = []
    with spinning_node('autovla_replay', config.namespace) as node:
        recorder = OutputRecorder(node, outputs_path, record_topics or DEFAULT_RECORD_TOPICS)
        replayer = BagReplayer(node, topic_types(messages))
        replayer.watch_output(config.output_topic, config.output_type)
        try:
            missing = replayer.wait_for_stack(config.input_topics, config.subscriber_timeout)
            if missing:
                log(f'{scenario_bag.name}: stack not ready after {config.subscriber_timeout:g} '
                    f's: {", ".join(missing)}; replaying anyway')
            started = time.monotonic()
            outcomes = replayer.play_lockstep(frames, config.frame_timeout, config.warmup_frames,
                                              config.warmup_pause)
            time.sleep(config.drain)
        finally:
            recorder.close()
    answered = sum(o.answered for o in outcomes)
    log(f'{scenario_bag.name}: {len(outcomes)} frames, {answered} answered, '
        f'{sum(o.waited and not o.answered for o in outcomes)} timed out, '
        f'{time.monotonic() - started:.1f} s')
    (out_dir / 'frames.json').write_text(json.dumps([o.__dict__ for o in outcomes], indent=1),
                                         encoding='utf-8')
    result = score_scenario(scenario_bag, outputs_path,
                            [o.latency_ms for o in outcomes if o.waited and o.answered])
    result['timeouts'] = sum(o.waited and not o.answered for o in outcomes)
    (out_dir / 'metrics.json').write_text(json.dumps(result, indent=1, default=float),
                                          encoding='utf-8')
    return result


def run_suite(scenario_dir: Path, run_dir: Path, config: LockstepConfig = LockstepConfig(),
              names: Optional[List[str]] = None,
              log: Callable[[str], None] = print) -> Dict[str, Dict[str, object]]:
    """run_scenario for every scenario of ``scenario_dir/index.json`` (or ``names``)."""
    index = json.loads((Path(scenario_dir) / 'index.json').read_text(encoding='utf-8'))
    results = {}
    for entry in index['scenarios']:
        if names and entry['name'] not in names:
            continue
        results[entry['name']] = run_scenario(Path(scenario_dir) / entry['bag'],
                                              Path(run_dir) / entry['name'], config, log=log)
    return results
