"""One self-contained HTML report of a regression run (images embedded), plus summary.json.

Per scenario: the metric tables, the safety-mode timeline, and per frame the six-camera
mosaic with the plan's explanation beside a bird's-eye view of planned vs expert trajectory.
Drawn with OpenCV into PNG/JPEG, base64-embedded; no external JS or CSS.
"""

import base64
import html
import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from autovla_common.topic_map import TopicMap
from autovla_scenarios.geometry import box_corners, to_frame
from autovla_scenarios.world import EGO_LENGTH_M, EGO_WIDTH_M
import cv2
import numpy as np

from autovla_replay import strict_json
from autovla_replay.bagdata import read_messages
from autovla_replay.scoring import anchor_stamps, FrameTruth, load_outputs, load_truth, Plan

MOSAIC_ORDER = (('CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT'),
                ('CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT'))
TILE = (240, 135)
BEV_SIZE = 300
BEV_PX_PER_M = 5.0
BEV_ORIGIN = (BEV_SIZE // 2, BEV_SIZE - 60)    # ego pixel (u, v): x forward = up
MODE_COLORS = {'NOMINAL': (80, 180, 60), 'DEGRADED': (0, 200, 230), 'FALLBACK': (0, 140, 255),
               'COMFORTABLE_STOP': (60, 60, 230), 'EMERGENCY_STOP': (40, 0, 160)}
HEADLINE = (('l2_stp3', 'avg', 'L2 avg ST-P3 (m)'), ('l2_uniad', '3s', 'L2 @3s UniAD (m)'),
            ('collision_stp3', 'avg', 'collision avg ST-P3 (%)'))
STYLE = ('body{font-family:sans-serif;margin:20px;color:#222}table{border-collapse:collapse;'
         'margin:6px 0}td,th{border:1px solid #bbb;padding:3px 8px;text-align:right}'
         'th{background:#eee}.frame{display:flex;gap:10px;align-items:flex-start;margin:8px 0;'
         'border-top:1px solid #ddd;padding-top:6px}.text{max-width:380px;font-size:13px}'
         '.bad{color:#b00}')


def _embed(image: np.ndarray, fmt: str = '.png') -> str:
    ok, data = cv2.imencode(fmt, image, [cv2.IMWRITE_JPEG_QUALITY, 80] if fmt == '.jpg' else [])
    if not ok:
        raise RuntimeError('image encoding failed')
    mime = 'jpeg' if fmt == '.jpg' else 'png'
    return f'<img src="data:image/{mime};base64,{base64.b64encode(data).decode()}">'


def camera_mosaic(images: Dict[str, np.ndarray]) -> np.ndarray:
    """3 x 2 grid of the six cameras (front row, back row); grey where a camera is missing."""
    rows = []
    for names in MOSAIC_ORDER:
        tiles = []
        for name in names:
            tile = np.full((TILE[1], TILE[0], 3), 60, np.uint8)
            if name in images:
                tile = cv2.resize(images[name], TILE, interpolation=cv2.INTER_AREA)
            cv2.putText(tile, name, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1,
                        cv2.LINE_AA)
            tiles.append(tile)
        rows.append(np.hstack(tiles))
    return np.vstack(rows)


def _bev_pixels(xy: np.ndarray) -> np.ndarray:
    xy = np.asarray(xy, float).reshape(-1, 2)
    return np.column_stack([BEV_ORIGIN[0] - xy[:, 1] * BEV_PX_PER_M,
                            BEV_ORIGIN[1] - xy[:, 0] * BEV_PX_PER_M]).round().astype(np.int32)


def birds_eye(truth: FrameTruth, plan: Optional[Plan]) -> np.ndarray:
    """Top view in base_link: ego box, expert future (green), plan (red), agents on top."""
    image = np.full((BEV_SIZE, BEV_SIZE, 3), 250, np.uint8)
    for metres in range(10, 60, 10):
        cv2.circle(image, BEV_ORIGIN, int(metres * BEV_PX_PER_M), (225, 225, 225), 1)
    cv2.fillPoly(image, [_bev_pixels(box_corners(0.0, 0.0, 0.0, EGO_LENGTH_M, EGO_WIDTH_M))],
                 (200, 120, 40), cv2.LINE_AA)
    for xy, color in ((truth.expert_xy, (40, 160, 40)),
                      (plan.xy if plan is not None else np.zeros((0, 2)), (40, 40, 220))):
        if len(xy):
            points = _bev_pixels(np.vstack([[0.0, 0.0], xy]))
            cv2.polylines(image, [points], False, color, 2, cv2.LINE_AA)
            for point in points[1:]:
                cv2.circle(image, tuple(int(v) for v in point), 3, color, -1, cv2.LINE_AA)
    for kind, (x, y, yaw, length, width) in truth.current_agents:
        corners = to_frame(box_corners(x, y, yaw, length, width), truth.ego)
        color = (200, 0, 200) if kind == 'pedestrian' else (120, 120, 120)
        cv2.fillPoly(image, [_bev_pixels(corners)], color, cv2.LINE_AA)
        cv2.polylines(image, [_bev_pixels(corners)], True, (30, 30, 30), 1, cv2.LINE_AA)
    for row, (label, color) in enumerate((('expert', (40, 160, 40)), ('plan', (40, 40, 220)),
                                          ('pedestrian', (200, 0, 200)))):
        cv2.putText(image, label, (8, 18 + 16 * row), cv2.FONT_HERSHEY_SIMPLEX, 0.45, color, 1,
                    cv2.LINE_AA)
    cv2.putText(image, '10 m rings', (BEV_SIZE - 80, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                (120, 120, 120), 1, cv2.LINE_AA)
    return image


def safety_timeline(statuses, start: int, end: int, width: int = 720) -> np.ndarray:
    """Horizontal bar coloured by safety mode over [start, end] ns, with a legend."""
    image = np.full((46, width, 3), 255, np.uint8)
    span = max(end - start, 1)
    for (stamp, mode), (next_stamp, _) in zip(statuses, list(statuses[1:]) + [(end, None)]):
        u0 = int(np.clip((stamp - start) / span, 0, 1) * (width - 1))
        u1 = int(np.clip((next_stamp - start) / span, 0, 1) * (width - 1))
        cv2.rectangle(image, (u0, 2), (max(u1, u0 + 1), 24), MODE_COLORS.get(mode, (0, 0, 0)),
                      -1)
    x = 4
    for mode, color in MODE_COLORS.items():
        cv2.rectangle(image, (x, 30), (x + 10, 40), color, -1)
        cv2.putText(image, mode, (x + 14, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.38, (40, 40, 40), 1,
                    cv2.LINE_AA)
        x += 18 + 8 * len(mode)
    return image


def _fmt(value) -> str:
    if isinstance(value, float):
        return 'n/a' if math.isnan(value) else f'{value:.3f}'
    return html.escape(str(value))


def _table(rows: List[List[object]], header: List[str]) -> str:
    head = ''.join(f'<th>{html.escape(h)}</th>' for h in header)
    body = ''.join('<tr>' + ''.join(f'<td>{_fmt(v)}</td>' for v in row) + '</tr>'
                   for row in rows)
    return f'<table><tr>{head}</tr>{body}</table>'


def _metric_tables(metrics: Dict) -> str:
    rows = [[name] + [metrics.get(name, {}).get(k, math.nan) for k in ('1s', '2s', '3s', 'avg')]
            for name in ('l2_stp3', 'l2_uniad', 'collision_stp3', 'collision_uniad')]
    comfort, modes = metrics.get('comfort', {}), metrics.get('modes', {})
    latency = metrics.get('latency_ms', {})
    other = [['plans / frames', f'{metrics.get("plans", 0)} / {metrics.get("frames", 0)}'],
             ['warm-up frames', metrics.get('warmup_frames', 0)],
             ['lock-step timeouts', metrics.get('timeouts', 0)],
             ['dropped frames (no plan after warm-up)', metrics.get('dropped_frames', 0)],
             ['progress ratio (plan / expert path)', metrics.get('progress_ratio_mean',
                                                                  math.nan)],
             ['heading error vs expert (rad)', metrics.get('heading_error_rad_mean', math.nan)],
             ['max lateral acceleration, mean (m/s^2)',
              comfort.get('max_lateral_acceleration_mean', math.nan)],
             ['collisions checked against', metrics.get('collision_source', 'none')],
             ['explanation share', metrics.get('explanation_share', math.nan)],
             ['fast / slow plans', f'{modes.get("fast", 0)} / {modes.get("slow", 0)}'],
             ['max jerk, mean over plans (m/s^3)', comfort.get('max_jerk_mean', math.nan)],
             ['share of plans above 4 m/s^3', comfort.get('uncomfortable_share', math.nan)]]
    for name, stats in latency.items():
        other.append([f'latency {name} p50 / p90 / max (ms)',
                      ' / '.join(_fmt(stats.get(k, math.nan)) for k in ('p50', 'p90', 'max'))])
    for mode, seconds in metrics.get('safety_time_s', {}).items():
        other.append([f'time in {mode} (s)', seconds])
    return (_table(rows, ['metric (L2 m, collision %)', '1 s', '2 s', '3 s', 'avg'])
            + _table(other, ['', 'value']))


def _images_at(bag: Path, topic_map: TopicMap, stamps: List[int], tolerance_ns: int
               ) -> Dict[int, Dict[str, np.ndarray]]:
    """Anchor stamp -> camera name -> image captured within ``tolerance_ns`` of it."""
    wanted = np.array(sorted(stamps), dtype=np.int64)
    images: Dict[int, Dict[str, np.ndarray]] = {}
    if not len(wanted):
        return images
    cameras = topic_map.image_topics
    for message in read_messages(bag, cameras):
        stamp = message.capture_stamp
        nearest = int(wanted[np.argmin(np.abs(wanted - stamp))])
        if abs(nearest - stamp) > tolerance_ns:
            continue
        msg = message.decode()
        if message.msgtype.endswith('CompressedImage'):
            image = cv2.imdecode(np.asarray(msg.data, np.uint8), cv2.IMREAD_COLOR)
        else:
            image = np.asarray(msg.data, np.uint8).reshape(msg.height, msg.width, -1)[:, :, :3]
        if image is not None:
            images.setdefault(nearest, {})[cameras[message.topic]] = image
    return images


def explanation_html(explanation: str) -> str:
    """Render a plan's explanation: escaped, a slow plan's reasoning line by line."""
    return html.escape(explanation).replace('\n', '<br>') or '<i>none</i>'


def scenario_section(name: str, bag: Path, run_dir: Path, topic_map: TopicMap,
                     anchor_camera: str, max_frames: Optional[int] = None,
                     tolerance_ns: int = 60_000_000) -> str:
    """HTML of one bag: tables, timeline, and every anchor frame with its plan (if any)."""
    metrics = strict_json.read(run_dir / 'metrics.json')
    plans, statuses, _ = load_outputs(run_dir / 'outputs')
    by_stamp = {p.stamp: p for p in plans}
    # Frames are the anchors the replay sent (frames.json), else the bag's anchor frames.
    frames_file = run_dir / 'frames.json'
    anchors = ([f['anchor_stamp'] for f in strict_json.read(frames_file)['frames']]
               if frames_file.exists()
               else anchor_stamps(bag, topic_map.camera(anchor_camera).image))
    stamps = sorted(set(anchors) | set(by_stamp))[:max_frames]
    truths = load_truth(bag, stamps, topic_map)
    images = _images_at(bag, topic_map, stamps, tolerance_ns)
    parts = [f'<h2>{html.escape(name)}</h2>', _metric_tables(metrics)]
    if statuses:
        parts.append('<p>safety mode over the run</p>'
                     + _embed(safety_timeline(statuses, statuses[0][0], statuses[-1][0])))
    else:
        parts.append('<p>no safety_status recorded</p>')
    per_frame = {f['stamp']: f for f in metrics.get('per_frame', [])}
    for index, stamp in enumerate(stamps):
        plan = by_stamp.get(stamp)
        scored = per_frame.get(stamp)
        text = (f'<b>frame {index}</b> t = {(stamp - stamps[0]) / 1e9:.1f} s<br>')
        if plan is None:
            text += '<i>no plan for this frame (warm-up or timeout)</i>'
        else:
            mode = 'slow' if plan.slow else 'fast'
            text += (f'{mode} plan, confidence {plan.confidence:.2f}<br>'
                     f'explanation: {explanation_html(plan.explanation)}')
            if scored:
                text += ('<br>L2 at 1/2/3 s: ' + ' / '.join(
                    _fmt(scored['l2'][k]) for k in (1, 3, 5) if k < len(scored['l2']))
                    + (' <span class="bad">COLLISION</span>' if scored['collision'] else ''))
        mosaic = _embed(camera_mosaic(images.get(stamp, {})), '.jpg')
        parts.append(f'<div class="frame">{mosaic}{_embed(birds_eye(truths[stamp], plan))}'
                     f'<div class="text">{text}</div></div>')
    return '\n'.join(parts)


def headline(metrics: Dict) -> Dict[str, float]:
    """Pick the few numbers summary.json and stdout carry per scenario."""
    values = {label: metrics.get(group, {}).get(key, math.nan) for group, key, label in HEADLINE}
    values.update({'plans': metrics.get('plans', 0), 'frames': metrics.get('frames', 0),
                   'timeouts': metrics.get('timeouts', 0),
                   'dropped frames': metrics.get('dropped_frames', 0),
                   'explanation share': metrics.get('explanation_share', math.nan)})
    return values


SUMMARY_SCHEMA = 2


def write_report(jobs: Sequence[Tuple[str, Path]], run_dir: Path, out_html: Path,
                 topic_map: TopicMap, anchor_camera: str = 'CAM_FRONT', note: str = '',
                 max_frames: Optional[int] = None) -> Dict[str, object]:
    """Write the HTML report of (name, bag) jobs and summary.json beside it; return the summary.

    summary.json (schema 2): ``scenarios`` {name: headline numbers}, ``overall`` (mean of
    each headline over the bags), ``model_ids``, ``note``, ``report`` (HTML file name), and
    ``null_reasons`` for any value that could not be computed (strict JSON: null, not NaN).
    """
    run_dir, out_html = Path(run_dir), Path(out_html)
    sections, summary_rows, model_ids = [], {}, set()
    for name, bag in jobs:
        bag_run = run_dir / name
        if not (bag_run / 'metrics.json').exists():
            continue
        metrics = strict_json.read(bag_run / 'metrics.json')
        model_ids.update(metrics.get('model_ids', []))
        summary_rows[name] = headline(metrics)
        sections.append(scenario_section(name, Path(bag), bag_run, topic_map, anchor_camera,
                                         max_frames))
    overall = {label: float(np.nanmean([row[label] for row in summary_rows.values()]))
               if summary_rows and any(math.isfinite(row[label]) for row in summary_rows.values())
               else math.nan for _, _, label in HEADLINE}
    summary = {'schema': SUMMARY_SCHEMA, 'scenarios': summary_rows, 'overall': overall,
               'model_ids': sorted(model_ids), 'note': note, 'report': out_html.name}
    table = _table([[name] + list(row.values()) for name, row in summary_rows.items()],
                   ['bag'] + list(next(iter(summary_rows.values()), {}).keys()))
    notes = f'<p><b>{html.escape(note)}</b></p>' if note else ''
    out_html.parent.mkdir(parents=True, exist_ok=True)
    out_html.write_text(
        f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>autovla_ros regression report'
        f'</title><style>{STYLE}</style></head><body><h1>autovla_ros regression report</h1>'
        f'{notes}<p>models: {html.escape(", ".join(sorted(model_ids)) or "none")}</p>{table}'
        + '\n'.join(sections) + '</body></html>\n', encoding='utf-8')
    strict_json.write(out_html.parent / 'summary.json', summary)
    return summary


def summary_text(summary: Dict[str, object]) -> str:
    """Format the summary as a short stdout table."""
    lines = [f'{"bag":20s} {"frames":>6s} {"plans":>6s} {"tmout":>6s} {"L2 avg":>7s} '
             f'{"L2@3s":>7s} {"coll%":>6s} {"expl":>5s}']
    for name, row in summary['scenarios'].items():
        lines.append(f'{name:20s} {row["frames"]:>6} {row["plans"]:>6} {row["timeouts"]:>6} '
                     f'{row["L2 avg ST-P3 (m)"]:7.2f} {row["L2 @3s UniAD (m)"]:7.2f} '
                     f'{row["collision avg ST-P3 (%)"]:6.1f} {row["explanation share"]:5.2f}')
    lines.append(f'models: {", ".join(summary["model_ids"]) or "none"}')
    if summary.get('note'):
        lines.append(summary['note'])
    return '\n'.join(lines)
