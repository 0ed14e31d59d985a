"""``python -m simulator OUT_DIR [--scale tiny] [--seed 0] [--clean] [--format csv] [--world key_accounts]``"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import DEFAULT_WORLD, SCALES, WORLDS, simulate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m simulator",
                                     description="Write a synthetic sales ledger with labels and decoys.")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--scale", default="small", help=f"one of {sorted(SCALES)} or a number of invoice lines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clean", action="store_true", help="no fraud and no distress (look-alikes stay)")
    parser.add_argument("--format", dest="fmt", choices=("csv", "parquet"), default=None)
    parser.add_argument("--world", choices=sorted(WORLDS), default=DEFAULT_WORLD,
                        help="world shape (simulator/shapes.py); key_accounts is the harder one")
    args = parser.parse_args(argv)
    scale = int(args.scale) if args.scale.isdigit() else args.scale
    summary = simulate(args.out_dir, scale=scale, seed=args.seed, clean=args.clean, fmt=args.fmt, world=args.world)
    print(f"wrote {sum(summary.rows.values()):,} rows, {summary.n_labels} labels, {summary.n_decoys} decoys "
          f"to {summary.out_dir} in {summary.seconds:.1f} s")


if __name__ == "__main__":
    main()
