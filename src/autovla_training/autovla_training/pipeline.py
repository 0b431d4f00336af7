"""``train_reasoning_model``: the bundled model's whole training, BC -> dual-mode SFT -> RFT.

1. ``train_default_model`` (train.py) behaviour-clones the seeded tiny model on fast answers
   and writes ``sim_bc_*`` (skipped with ``--from-bundled-bc``: start from the bundled ones);
2. ``train_sft_model`` (sft.py) from those weights writes ``sim_sft_*`` (and evaluates them on
   its held-out seeds);
3. ``rft_default_model`` (grpo.py) starts from the SFT weights, which are also its KL
   reference, on the SFT stage's own training sets (one shared work directory), and writes
   ``sim_rft_*``.
Each stage's options pass through ``--bc``, ``--sft`` and ``--rft`` (quoted); their defaults
are the settings the shipped weights were trained with. Everything each stage prints goes to
the console, with the minutes of each stage at the end.
"""

import argparse
from pathlib import Path
import shlex
import time
from typing import Optional, Sequence

from autovla_planner.model_files import DATA_DIR

from autovla_training import grpo, sft, train
from autovla_training.train import log

SHIPPED_BC = '--train-seeds 24 --epochs 6 --minutes 18'
SHIPPED_SFT = '--train-seeds 8 --held-out-seeds 0 --epochs 3 --minutes 14'
SHIPPED_RFT = '--train-seeds 1-4 --minutes 20 --temperature 0.7'


def parse_args(argv: Optional[Sequence[str]]):
    """Command line of train_reasoning_model."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--work-dir', type=Path, default=Path('out/reasoning_work'),
                        help='scenario sets and model directories of every stage (reused)')
    parser.add_argument('--out-dir', type=Path, default=DATA_DIR,
                        help='where every stage writes its weights and record')
    parser.add_argument('--from-bundled-bc', action='store_true',
                        help='skip behaviour cloning: SFT starts from the bundled sim_bc weights')
    parser.add_argument('--bc', default=SHIPPED_BC, help='train_default_model options, quoted')
    parser.add_argument('--sft', default=SHIPPED_SFT, help='train_sft_model options, quoted')
    parser.add_argument('--rft', default=SHIPPED_RFT, help='rft_default_model options, quoted')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``train_reasoning_model``."""
    args = parse_args(argv)
    common = ['--work-dir', str(args.work_dir), '--out-dir', str(args.out_dir)]
    stages = [] if args.from_bundled_bc else [('BC', train.main, shlex.split(args.bc))]
    bc_dir = DATA_DIR if args.from_bundled_bc else args.out_dir
    stages += [('SFT', sft.main, ['--bc-dir', str(bc_dir)] + shlex.split(args.sft)),
               ('RFT', grpo.main,
                ['--init-weights', str(args.out_dir / sft.SFT_WEIGHTS.name),
                 '--init-record', str(args.out_dir / sft.SFT_RECORD.name)]
                + shlex.split(args.rft))]
    minutes, began = [], time.monotonic()
    for name, stage, options in stages:
        started = time.monotonic()
        code = stage(common + options)
        minutes.append(f'{name} {(time.monotonic() - started) / 60:.1f} min')
        if code:
            log(f'train_reasoning_model: {name} stage failed (exit {code}); '
                f'{", ".join(minutes)}')
            return code
    log(f'train_reasoning_model: {", ".join(minutes)}, total '
        f'{(time.monotonic() - began) / 60:.1f} min')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
