"""Regression compare: a run's plans and metrics against stored references, with tolerances.

A reference is one JSON file per scenario (``<references>/<scenario>.json``) holding each
plan's waypoints by stamp and the headline metrics. A run regresses when a frame's plan is
missing or new, a waypoint moved more than ``plan_tolerance_m``, or a metric got worse than
its tolerance allows (more L2, more collisions, fewer explanations).
"""

from dataclasses import dataclass
import math
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np

from autovla_replay import strict_json
from autovla_replay.scoring import load_outputs

# metric path -> (tolerance, direction): +1 = higher is worse, -1 = lower is worse.
METRIC_TOLERANCES: Dict[str, Tuple[float, int]] = {
    'l2_stp3.avg': (0.05, +1),
    'l2_uniad.3s': (0.05, +1),
    'collision_stp3.avg': (0.5, +1),
    'collision_uniad.3s': (0.5, +1),
    'explanation_share': (0.01, -1),
    'timeouts': (0.0, +1),
}


@dataclass(frozen=True)
class Tolerances:
    """How far a run may move from its reference before it counts as a regression."""

    plan_tolerance_m: float = 0.1
    metric_scale: float = 1.0      # multiplies every METRIC_TOLERANCES entry


def _metric(metrics: Dict, path: str) -> float:
    value = metrics
    for key in path.split('.'):
        if not isinstance(value, dict) or key not in value:
            return math.nan
        value = value[key]
    return float(value)


def reference_of(run_scenario_dir: Path) -> Dict[str, object]:
    """Build the reference record of one scenario run directory (outputs bag + metrics)."""
    plans, _, _ = load_outputs(Path(run_scenario_dir) / 'outputs')
    metrics = strict_json.read(Path(run_scenario_dir) / 'metrics.json')
    return {
        'plans': {str(p.stamp): [[round(float(x), 4), round(float(y), 4)] for x, y in p.xy]
                  for p in plans},
        'metrics': {path: _metric(metrics, path) for path in METRIC_TOLERANCES},
    }


def compare_scenario(run: Dict, reference: Dict, tolerances: Tolerances) -> List[str]:
    """Human-readable regressions of one scenario (empty = passes)."""
    problems = []
    run_plans, ref_plans = run['plans'], reference['plans']
    missing = sorted(set(ref_plans) - set(run_plans))
    extra = sorted(set(run_plans) - set(ref_plans))
    if missing:
        problems.append(f'{len(missing)} reference plan(s) missing (first stamp {missing[0]})')
    if extra:
        problems.append(f'{len(extra)} plan(s) not in the reference (first stamp {extra[0]})')
    for stamp in sorted(set(ref_plans) & set(run_plans)):
        a, b = np.asarray(run_plans[stamp]), np.asarray(ref_plans[stamp])
        if a.shape != b.shape:
            problems.append(f'plan {stamp}: {len(a)} waypoints, reference has {len(b)}')
            continue
        moved = float(np.max(np.linalg.norm(a - b, axis=1))) if len(a) else 0.0
        if moved > tolerances.plan_tolerance_m:
            problems.append(f'plan {stamp}: a waypoint moved {moved:.3f} m '
                            f'(tolerance {tolerances.plan_tolerance_m:g} m)')
    for path, (tolerance, direction) in METRIC_TOLERANCES.items():
        new, old = run['metrics'].get(path, math.nan), reference['metrics'].get(path, math.nan)
        if math.isnan(old) and math.isnan(new):
            continue
        if math.isnan(old) != math.isnan(new):
            problems.append(f'{path}: {old} -> {new}')
        elif direction * (new - old) > tolerance * tolerances.metric_scale:
            problems.append(f'{path}: {old:.4f} -> {new:.4f} '
                            f'(tolerance {tolerance * tolerances.metric_scale:g})')
    return problems


def compare_run(run_dir: Path, references: Path, tolerances: Tolerances = Tolerances(),
                update: bool = False) -> Dict[str, List[str]]:
    """Compare (or with ``update`` rewrite) every scenario of a run; scenario -> problems."""
    run_dir, references = Path(run_dir), Path(references)
    results = {}
    for scenario_dir in sorted(p for p in run_dir.iterdir() if (p / 'metrics.json').exists()):
        record = reference_of(scenario_dir)
        path = references / f'{scenario_dir.name}.json'
        if update:
            references.mkdir(parents=True, exist_ok=True)
            strict_json.write(path, record)
            results[scenario_dir.name] = []
        elif not path.exists():
            results[scenario_dir.name] = [f'no reference {path} (run with --update-references)']
        else:
            results[scenario_dir.name] = compare_scenario(record, strict_json.read(path),
                                                          tolerances)
    return results
