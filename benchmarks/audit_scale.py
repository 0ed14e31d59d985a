"""How the full audit scales: simulated ledgers of growing size, audit time against a plain scan.

For each size (invoice lines) it simulates a ledger as Parquet, then in fresh processes
- times ``audit run`` on it (wall time and peak RSS of the child process), and
- times a one-pass DuckDB scan that reads every column of the same Parquet files once,
- times the audit's fixed cost before any detector runs: starting Python, importing the tool with
  every detector (pandas, Ibis, DuckDB, pyod, scikit-learn, networkx) and reading and checking the
  data against the contract,
- times the first part of that alone: starting Python and importing the tool (no data),
and prints wall time, peak RSS, the ratio audit/scan, the imports and the fixed cost each divided by the
scan (the lowest ratio the audit could reach if every detector, or every detector and the reading,
took no time at all) and the growth exponent of the audit time across sizes (the slope of log time
against log size).

Targets for the product: ratio ≤ 5, exponent ≤ 1.1, peak RSS ≤ 6 GB at 10M lines.

    python benchmarks/audit_scale.py --sizes 1000000 3000000 10000000 --work benchmarks/_work
    python benchmarks/audit_scale.py --data path/to/ledger          # ledgers that already exist
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

SCAN = """
import duckdb, sys
from pathlib import Path
con = duckdb.connect()
for path in sorted(Path(sys.argv[1]).glob("*.parquet")):
    columns = [r[0] for r in con.execute(f"describe select * from read_parquet('{path}')").fetchall()]
    # count(col) forces every value of every column to be read and decoded once
    con.execute("select " + ", ".join(f'count("{c}")' for c in columns) + f" from read_parquet('{path}')").fetchall()
"""

# What `audit run` imports before it reads anything: the registry imports every detector module.
IMPORTS = """
from audit.loading import load
from audit.policy import load_policy, policy_beside
from audit.registry import analysis_classes, detector_classes
from audit.validation import validate
detector_classes(), analysis_classes()
"""

# Everything `audit run` does before its first detector: the imports and the contract check of every table.
FIXED_COST = IMPORTS + """
import sys
validate(load(sys.argv[1]), load_policy(policy_beside(sys.argv[1])))
"""


def _timed_child(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (GB) of a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    # ru_maxrss of children is the largest child so far (KB on Linux): run the largest size last.
    peak_gb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024 ** 2
    return seconds, peak_gb


def simulated(size: int, work: Path, seed: int) -> Path:
    data = work / f"ledger_{size}"
    if not (data / "labels.csv").is_file():
        subprocess.run([sys.executable, "-m", "audit.cli", "simulate", "--out", str(data), "--scale", str(size),
                        "--seed", str(seed), "--format", "parquet"], check=True, stdout=subprocess.DEVNULL)
    return data


def invoice_lines(data: Path) -> int:
    import duckdb  # only here: the parent process otherwise stays free of the tool's libraries

    return duckdb.connect().execute(f"select count(*) from read_parquet('{data / 'invoice_lines.parquet'}')").fetchone()[0]


def measure(data: Path, out: Path) -> dict:
    # The scan first, and twice: the first read warms the page cache for the audit as much as for the scan.
    _timed_child([sys.executable, "-c", SCAN, str(data)])
    scan_seconds, scan_gb = _timed_child([sys.executable, "-c", SCAN, str(data)])
    import_seconds, _ = _timed_child([sys.executable, "-c", IMPORTS])
    fixed_seconds, _ = _timed_child([sys.executable, "-c", FIXED_COST, str(data)])
    audit_seconds, audit_gb = _timed_child([sys.executable, "-m", "audit.cli", "run", "--data", str(data),
                                            "--out", str(out), "--format", "csv,parquet,manifest"])
    return {"data": str(data), "invoice_lines": invoice_lines(data), "audit_seconds": round(audit_seconds, 1),
            "scan_seconds": round(scan_seconds, 2), "ratio": round(audit_seconds / scan_seconds, 1),
            "import_seconds": round(import_seconds, 1), "import_ratio": round(import_seconds / scan_seconds, 1),
            "fixed_cost_seconds": round(fixed_seconds, 1), "fixed_cost_ratio": round(fixed_seconds / scan_seconds, 1),
            "audit_peak_rss_gb": round(audit_gb, 2), "scan_peak_rss_gb": round(scan_gb, 2)}


def growth_exponent(rows: list[dict]) -> float:
    """Least-squares slope of log(audit seconds) on log(size)."""
    xs = [math.log(r["invoice_lines"]) for r in rows]
    ys = [math.log(r["audit_seconds"]) for r in rows]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sum((x - mean_x) ** 2 for x in xs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--work", type=Path, default=Path("benchmarks/_work"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data", type=Path, nargs="+",
                        help="ledgers (Parquet folders) to measure instead of simulating --sizes")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.data:
        missing = [str(d) for d in args.data if not (d / "invoice_lines.parquet").is_file()]
        if missing:
            parser.error(f"no invoice_lines.parquet in {', '.join(missing)}: --data takes Parquet ledger folders")
        ledgers = [(d, args.work / f"run_{d.name}") for d in args.data]
    else:
        ledgers = [(simulated(size, args.work, args.seed), args.work / f"run_{size}") for size in sorted(args.sizes)]
    rows = sorted((measure(data, out) for data, out in ledgers), key=lambda r: r["invoice_lines"])
    exponent = growth_exponent(rows) if len({r["invoice_lines"] for r in rows}) > 1 else float("nan")
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"{'lines':>12} {'audit s':>9} {'scan s':>8} {'ratio':>6} {'import s':>9} {'import/scan':>11} "
          f"{'fixed s':>8} {'fixed/scan':>10} {'audit GB':>9}")
    for r in rows:
        print(f"{r['invoice_lines']:>12,} {r['audit_seconds']:>9} {r['scan_seconds']:>8} {r['ratio']:>6} "
              f"{r['import_seconds']:>9} {r['import_ratio']:>11} {r['fixed_cost_seconds']:>8} "
              f"{r['fixed_cost_ratio']:>10} {r['audit_peak_rss_gb']:>9}")
    print(f"growth exponent of audit time: {exponent:.2f}")
    (args.work / "audit_scale.json").write_text(json.dumps({"rows": rows, "exponent": exponent}, indent=2))


if __name__ == "__main__":
    main()
