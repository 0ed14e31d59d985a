"""Time ``simulator.simulate`` at the "large" scale (10 million invoice lines) and report its wall
time and peak resident memory (``resource.getrusage``), against the budget of 5 minutes and 8 GB.

    python benchmarks/simulate_large.py                # large, seed 0, into benchmarks/_work/large
    python benchmarks/simulate_large.py --scale medium
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator import SCALES, simulate  # noqa: E402

BUDGET_SECONDS = 300.0
BUDGET_RSS_MB = 8 * 1024.0


def peak_rss_mb() -> float:
    """Peak resident set size of this process (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", default="large", help=f"one of {sorted(SCALES)} or a number of invoice lines")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "_work" / "large")
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    args = parser.parse_args()
    scale = int(args.scale) if args.scale.isdigit() else args.scale
    if args.out.exists():
        shutil.rmtree(args.out)

    load_before = os.getloadavg()[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    summary = simulate(args.out, scale=scale, seed=args.seed)
    wall_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    rss_mb = peak_rss_mb()
    load_after = os.getloadavg()[0]

    print(f"scale            {scale} (seed {args.seed})")
    print(f"machine          {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}")
    print(f"wall time        {wall_seconds:.1f} s (budget {BUDGET_SECONDS:.0f} s)")
    print(f"CPU time         {cpu_seconds:.1f} s (all threads of this process)")
    print(f"load average     {load_before:.1f} before, {load_after:.1f} after (other jobs share the cores)")
    print(f"peak RSS         {rss_mb:.0f} MB (budget {BUDGET_RSS_MB:.0f} MB)")
    print(f"output           {folder_mb(args.out):.0f} MB in {args.out}")
    print("steps (wall)     " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.step_seconds.items()))
    print("steps (CPU)      " + ", ".join(f"{k} {v:.1f} s" for k, v in summary.step_cpu_seconds.items()))
    print("peak RSS by step " + ", ".join(f"{k} {v:.0f} MB" for k, v in summary.step_peak_rss_mb.items()))
    print(f"labels / decoys  {summary.n_labels} / {summary.n_decoys}")
    for table, rows in summary.rows.items():
        print(f"  {table:<22}{rows:>12,}")
    if not args.keep:
        shutil.rmtree(args.out)
    return 0 if wall_seconds <= BUDGET_SECONDS and rss_mb <= BUDGET_RSS_MB else 1


if __name__ == "__main__":
    raise SystemExit(main())
