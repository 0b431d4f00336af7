"""The closed-loop section of ``make demo``: baselines on the catalogue and frame strips.

The expert and the rule-based controller drive every catalogue type in process (seconds);
the full stack drives a few types over DDS in lock-step (a fresh stack per run, about a
minute each on a 2-core machine), and every ``STRIP_EVERY``-th camera frame of those runs
becomes a panel: bird's-eye view, front camera, safety mode and the planner's explanation.
Writes ``closed_loop.html`` (score table + strips) and ``closed_loop.json``.
"""

import argparse
import base64
import html
import json
from pathlib import Path
from typing import Callable, Dict, List, Sequence

from autovla_scenarios.catalogue import CATALOGUE
from autovla_scenarios.render import scene_ground
import cv2

from autovla_sim import birdseye
from autovla_sim.cli import baseline_table, run_one, write_rig

STACK_SCENARIOS = ('stopped_vehicle',)   # one run keeps make demo within its 10 minutes
STRIP_EVERY = 2          # camera frames (2 Hz) between two panels of a strip


def _html_table(markdown: str) -> str:
    """Turn the markdown tables (and lines between them) of ``baseline_table`` into HTML."""
    parts, rows = [], []

    def flush():
        if rows:
            head, body = rows[0], rows[2:]
            parts.append('<table><tr>' + ''.join(f'<th>{html.escape(c)}</th>' for c in head)
                         + '</tr>' + ''.join('<tr>' + ''.join(
                             f'<td>{html.escape(c.replace("**", ""))}</td>' for c in row)
                             + '</tr>' for row in body) + '</table>')
            rows.clear()

    for line in markdown.splitlines():
        if line.startswith('|'):
            rows.append([c.strip() for c in line.strip('|').split('|')])
        else:
            flush()
            if line.strip():
                parts.append(f'<p>{html.escape(line)}</p>')
    flush()
    return '\n'.join(parts)


class StripRecorder:
    """Collects the panels of one stack run (called by the loop at each camera frame)."""

    def __init__(self, scenario_name: str):
        self.scenario_name = scenario_name
        self.panels: List[bytes] = []
        self._count = 0
        self._ground = None

    def __call__(self, sim, images, link) -> None:
        """Draw a panel every ``STRIP_EVERY`` frames."""
        self._count += 1
        if (self._count - 1) % STRIP_EVERY:
            return
        if self._ground is None:
            self._ground = scene_ground(sim.scenario)
        plan = link.plans[-1] if link.plans else None
        lines = [f'{self.scenario_name}  t = {sim.time:.1f} s  speed {sim.ego.speed:.1f} m/s  '
                 f'safety: {link.mode or "-"}',
                 'plan: ' + (plan.explanation if plan is not None else '(warming up)')]
        panel = birdseye.panel(birdseye.frame(sim.scenario, self._ground, sim.pose(),
                                              sim.agent_boxes()),
                               images['CAM_FRONT'], lines)
        ok, jpeg = cv2.imencode('.jpg', panel, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if ok:
            self.panels.append(jpeg.tobytes())


def run_section(out_dir: Path, seed: int = 0, device: str = 'auto', model_path: str = '',
                stack_scenarios: Sequence[str] = STACK_SCENARIOS,
                types: Sequence[str] = tuple(CATALOGUE),
                log: Callable[[str], None] = print) -> Dict[str, object]:
    """Run the closed-loop section into ``out_dir``; return {'table': markdown, 'html': path}."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    args = argparse.Namespace(duration=10.0, width=800, height=450, latency_aware=False,
                              speed_factor=1.0, frame_timeout=60.0, model_path=model_path,
                              device=device)
    rig_file = out_dir / 'rig.yaml'
    write_rig(rig_file, args.width, args.height)
    results, strips = [], {}
    for baseline in ('expert', 'rule'):
        for name in types:
            results.append(run_one(name, seed, baseline, args, rig_file, out_dir))
    log(f'closed loop: expert and rule-based on {len(types)} types done')
    for name in stack_scenarios:
        recorder = StripRecorder(name)
        result = run_one(name, seed, 'stack', args, rig_file, out_dir, recorder)
        results.append(result)
        strips[name] = (recorder.panels, result)
        log(f'closed loop: stack on {name}: PDMS {result["pdms"]:.2f}, DS '
            f'{result["driving_score"]:.0f}, at-fault collisions '
            f'{result["at_fault_collisions"]} ({result["wall_s"]:.0f} s)')
    table = baseline_table(results)
    sections = []
    for name, (panels, result) in strips.items():
        events = ', '.join(f'{e["kind"]} at {e["t"]:.1f} s' for e in result['collisions']) \
            or 'none'
        images = ''.join(f'<img src="data:image/jpeg;base64,{base64.b64encode(p).decode()}">'
                         for p in panels)
        sections.append(f'<h3>{html.escape(name)} (seed {seed}), full stack</h3><p>PDMS '
                        f'{result["pdms"]:.2f}, driving score {result["driving_score"]:.0f}, '
                        f'collisions: {html.escape(events)}, planner share '
                        f'{result["planner_share"]:.2f}</p><div>{images}</div>')
    page = out_dir / 'closed_loop.html'
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>closed loop</title><style>'
        'body{font-family:sans-serif;margin:20px}table{border-collapse:collapse}td,th{border:'
        '1px solid #bbb;padding:3px 8px}img{display:block;margin:4px 0}</style></head><body>'
        f'<h2>Closed loop (lock-step, seed {seed})</h2><p>expert and rule-based: every '
        f'catalogue type in process; full stack: {", ".join(stack_scenarios)} over DDS. '
        "Panels: bird's-eye view (ego green, route cyan), front camera, safety mode, the "
        "newest plan's explanation.</p>" + _html_table(table) + ''.join(sections)
        + '</body></html>\n', encoding='utf-8')
    (out_dir / 'closed_loop.json').write_text(
        json.dumps(results, indent=1, default=float) + '\n', encoding='utf-8')
    return {'table': table, 'html': page}
