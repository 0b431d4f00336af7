"""``train_reasoning_model``: dual-mode SFT, then GRPO RFT from it, in one command.

1. ``train_sft_model`` (sft.py) from the bundled behaviour-cloned weights writes ``sim_sft_*``
   (and evaluates them on its held-out seeds);
2. ``rft_default_model`` (grpo.py) starts from those weights, which are also its KL reference,
   on the SFT stage's own training sets (one shared work directory), and writes ``sim_rft_*``.
Each stage's own options pass through ``--sft`` and ``--rft`` (quoted); everything each stage
prints goes to the console, with the time of each stage at the end.
"""

import argparse
from pathlib import Path
import shlex
import time
from typing import Optional, Sequence

from autovla_planner.model_files import DATA_DIR

from autovla_training import grpo, sft
from autovla_training.train import log


def parse_args(argv: Optional[Sequence[str]]):
    """Command line of train_reasoning_model."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--work-dir', type=Path, default=Path('out/reasoning_work'),
                        help='scenario sets and model directories of both stages (reused)')
    parser.add_argument('--out-dir', type=Path, default=DATA_DIR,
                        help='where both stages write their weights and records')
    parser.add_argument('--sft', default='', help='extra train_sft_model options, quoted')
    parser.add_argument('--rft', default='', help='extra rft_default_model options, quoted')
    return parser.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of ``train_reasoning_model``."""
    args = parse_args(argv)
    common = ['--work-dir', str(args.work_dir), '--out-dir', str(args.out_dir)]
    started = time.monotonic()
    code = sft.main(common + shlex.split(args.sft))
    sft_s = time.monotonic() - started
    if code:
        return code
    code = grpo.main(common + ['--init-weights', str(args.out_dir / sft.SFT_WEIGHTS.name),
                               '--init-record', str(args.out_dir / sft.SFT_RECORD.name)]
                     + shlex.split(args.rft))
    log(f'train_reasoning_model: SFT {sft_s / 60:.1f} min, RFT '
        f'{(time.monotonic() - started - sft_s) / 60:.1f} min, total '
        f'{(time.monotonic() - started) / 60:.1f} min')
    return code


if __name__ == '__main__':
    raise SystemExit(main())
