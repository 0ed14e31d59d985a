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

The audit itself runs under a watcher that samples /proc: wall and CPU seconds (the child and everything it
starts), the peak RSS of each process by role (``python``, its ``worker`` process, ``java`` and ``pyspark`` under ``--engine spark``) and of all of
them together, and the slowest components from the run's detectors.csv.

Targets for the product (issue 22): 1M lines in ≤ 30 s and ≤ 1.5 GB; 10M in ≤ 300 s and ≤ 6 GB; growth
exponent ≤ 1.0; under Spark the Python process ≤ 1 GB at 1M.

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

PAGE_BYTES = resource.getpagesize()

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


def _descendants(root: int) -> dict[int, str]:
    """The process ``root`` and every process under it, with their command names (from /proc)."""
    parents, names = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2:].split()[1])
        names[int(entry.name)] = name
    found, stack = {}, [root]
    while stack:
        pid = stack.pop()
        if pid in names:
            found[pid] = names[pid]
            stack.extend(child for child, parent in parents.items() if parent == pid)
    return found


def _role(pid: int, name: str) -> str:
    """What a process the audit started is: its worker (audit/lanes.py), multiprocessing's resource tracker,
    PySpark's Python workers, else its name (the JVM: ``java``)."""
    try:
        command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return name
    for marker, role in (("spawn_main", "worker"), ("resource_tracker", "tracker"), ("pyspark", "pyspark")):
        if marker in command:
            return role
    return name


def _rss_gb(pid: int) -> float:
    try:
        return int((Path("/proc") / str(pid) / "statm").read_text().split()[1]) * PAGE_BYTES / 1024 ** 3
    except (OSError, IndexError, ValueError):
        return 0.0


def _watched_child(command: list[str], every_seconds: float = 0.2) -> dict:
    """Wall and CPU seconds of a child and everything it starts (the JVM under Spark), each process's peak
    RSS by name and the peak of their sum, sampled from /proc every ``every_seconds``."""
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    peaks: dict[str, float] = {}
    total_peak = 0.0
    while child.poll() is None:
        processes = _descendants(child.pid)
        sizes = {pid: _rss_gb(pid) for pid in processes}
        for pid, gb in sizes.items():
            name = "python" if pid == child.pid else _role(pid, processes[pid])
            peaks[name] = max(peaks.get(name, 0.0), gb)
        total_peak = max(total_peak, sum(sizes.values()))
        time.sleep(every_seconds)
    seconds = time.perf_counter() - started
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, command)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime)
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_rss_gb_by_process": {k: round(v, 2) for k, v in peaks.items()},
            "peak_rss_gb_total": total_peak}


def _component_seconds(out: Path, top: int = 8) -> list[tuple[str, float]]:
    """The components that took longest, from the run's detectors.csv."""
    import csv

    with (out / "detectors.csv").open() as handle:
        rows = [(r["detector"], float(r["seconds"] or 0)) for r in csv.DictReader(handle)]
    return sorted(rows, key=lambda r: -r[1])[:top]


def simulated(size: int, work: Path, seed: int) -> Path:
    data = work / f"ledger_{size}"
    if not (data / "labels.csv").is_file():
        subprocess.run([sys.executable, "-m", "audit.cli", "simulate", "--out", str(data), "--scale", str(size),
                        "--seed", str(seed), "--format", "parquet"], check=True, stdout=subprocess.DEVNULL)
    return data


def invoice_lines(data: Path) -> int:
    import duckdb  # only here: the parent process otherwise stays free of the tool's libraries

    return duckdb.connect().execute(f"select count(*) from read_parquet('{data / 'invoice_lines.parquet'}')").fetchone()[0]


def measure(data: Path, out: Path, engine: str = "duckdb") -> dict:
    # The scan first, and twice: the first read warms the page cache for the audit as much as for the scan.
    _timed_child([sys.executable, "-c", SCAN, str(data)])
    scan_seconds, scan_gb = _timed_child([sys.executable, "-c", SCAN, str(data)])
    import_seconds, _ = _timed_child([sys.executable, "-c", IMPORTS])
    fixed_seconds, _ = _timed_child([sys.executable, "-c", FIXED_COST, str(data)])
    audit = _watched_child([sys.executable, "-m", "audit.cli", "run", "--data", str(data), "--out", str(out),
                            "--format", "csv,parquet,manifest", "--engine", engine])
    audit_seconds, audit_gb = audit["seconds"], audit["peak_rss_gb_by_process"].get("python", 0.0)
    return {"data": str(data), "engine": engine, "invoice_lines": invoice_lines(data),
            "audit_seconds": round(audit_seconds, 1), "audit_cpu_seconds": round(audit["cpu_seconds"], 1),
            "peak_rss_gb_by_process": audit["peak_rss_gb_by_process"],
            "peak_rss_gb_all_processes": round(audit["peak_rss_gb_total"], 2),
            "components_seconds": round(sum(s for _, s in _component_seconds(out, top=1000)), 1),
            "slowest_components": _component_seconds(out),
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
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb",
                        help="the engine of the audit runs (Spark: local[2] unless SPARK_MASTER says otherwise)")
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
    rows = sorted((measure(data, out, args.engine) for data, out in ledgers), key=lambda r: r["invoice_lines"])
    exponent = growth_exponent(rows) if len({r["invoice_lines"] for r in rows}) > 1 else float("nan")
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, python {platform.python_version()}")
    print(f"{'lines':>12} {'audit s':>9} {'scan s':>8} {'ratio':>6} {'import s':>9} {'import/scan':>11} "
          f"{'fixed s':>8} {'fixed/scan':>10} {'audit GB':>9}")
    for r in rows:
        print(f"{r['invoice_lines']:>12,} {r['audit_seconds']:>9} {r['scan_seconds']:>8} {r['ratio']:>6} "
              f"{r['import_seconds']:>9} {r['import_ratio']:>11} {r['fixed_cost_seconds']:>8} "
              f"{r['fixed_cost_ratio']:>10} {r['audit_peak_rss_gb']:>9}")
    print(f"{'lines':>12} {'audit CPU s':>11} {'components s':>12} {'peak GB by process':>30} {'all processes GB':>16}")
    for r in rows:
        by_process = ", ".join(f"{k} {v}" for k, v in r["peak_rss_gb_by_process"].items())
        print(f"{r['invoice_lines']:>12,} {r['audit_cpu_seconds']:>11} {r['components_seconds']:>12} "
              f"{by_process:>30} {r['peak_rss_gb_all_processes']:>16}")
        print("      slowest: " + ", ".join(f"{code} {sec:.1f} s" for code, sec in r["slowest_components"]))
    print(f"growth exponent of audit time: {exponent:.2f}")
    (args.work / "audit_scale.json").write_text(json.dumps({"rows": rows, "exponent": exponent}, indent=2))


if __name__ == "__main__":
    main()
