"""The review desk under load: 20 reviewers at once on loopback, then a kill and a restart.

A run folder (simulated ledger, or ``--run``) is imported into a fresh SQLite case store and served by
``audit serve`` (waitress) on 127.0.0.1. Twenty reviewer threads (auditors and managers, each with an API
token) repeat, for ``--seconds`` or ``--rounds`` rounds each: read the worklist of open findings
(``GET /api/findings?status=open``), open one finding (``GET /api/findings/<id>``) and post a decision on
it with the version read (``POST .../decisions``); a 409 (another reviewer decided first) is counted, not
retried. Then, in a second phase, the server is killed (SIGKILL) and started again while the reviewers keep
going (requests that fail while it is down are counted and retried after it is back; a decision whose
answer was lost is posted again with the version read, so it can only be a 201 once).

The latency figures are those of a first, steady phase; a second phase repeats the load (half as many
rounds) and kills the server halfway. Reported: p50/p95/max latency per request kind and overall
(target p95 ≤ 300 ms); decisions answered
201, 409, errors; decisions lost (answered 201 but not in the store after the final restart) and
overwritten (a finding's decisions fewer than its 201s, or two 201s with the same version) — both
targets 0; and the hash chain checked by ``audit verify-cases``.

    python benchmarks/desk_load.py                       # simulate a small ledger and audit it first
    python benchmarks/desk_load.py --run runs/2025-04    # an existing run folder
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import requests

PASSWORD = "desk load benchmark"
REVIEWERS = 20


def audit(*args, env, stdin=None) -> str:
    result = subprocess.run([sys.executable, "-m", "audit.cli", *map(str, args)], input=stdin, env=env,
                            capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(f"audit {' '.join(map(str, args))} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(db: str, port: int, env, threads: int = 8) -> subprocess.Popen:
    # the server's messages go to a file: a pipe nobody reads would stop the server once full
    log = open(Path(db[len("sqlite:///"):]).with_name("serve.log"), "a")  # noqa: SIM115 (closed with the process)
    server = subprocess.Popen([sys.executable, "-m", "audit.cli", "serve", "--db", db, "--host", "127.0.0.1",
                               "--port", str(port), "--threads", str(threads)], env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/login", timeout=2)
            return server
        except requests.RequestException:
            if server.poll() is not None:
                raise SystemExit(Path(log.name).read_text()) from None
            time.sleep(0.2)
    raise SystemExit("audit serve did not start")


class Reviewer(threading.Thread):
    def __init__(self, name: str, base: str, stop: threading.Event, rounds: int, seed: int, results: dict):
        super().__init__(daemon=True)
        self.name_, self.base, self.stop, self.rounds = name, base, stop, rounds
        self.random = random.Random(seed)
        self.results = results
        self.session = requests.Session()

    def call(self, kind: str, method: str, path: str, **kwargs):
        """One request, retried while the server is down (the restart); latency of the answered attempt."""
        while True:
            started = time.perf_counter()
            try:
                response = self.session.request(method, self.base + path, timeout=30, **kwargs)
            except requests.RequestException:
                self.results["unreachable"][kind] += 1
                time.sleep(0.2)
                continue
            self.results["latency"][kind].append(time.perf_counter() - started)
            return response

    def run(self):
        token = self.call("token", "POST", "/api/token", json={"username": self.name_, "password": PASSWORD})
        self.session.headers["Authorization"] = f"Token {token.json()['token']}"
        for round_no in range(self.rounds):
            if self.stop.is_set():
                break
            listed = self.call("worklist", "GET", "/api/findings?status=open").json()["findings"]
            if not listed:
                listed = self.call("worklist", "GET", "/api/findings").json()["findings"]
            target = self.random.choice(listed)["exception_id"]
            finding = self.call("finding", "GET", f"/api/findings/{target}").json()
            comment = f"{self.name_} round {round_no}"
            decision = self.random.choice(["confirmed", "false positive", "explained", "needs information"])
            body = {"decision": decision, "comment": comment, "version": finding["version"]}
            answer = self.call("decide", "POST", f"/api/findings/{target}/decisions", json=body)
            self.results["answers"][answer.status_code] += 1
            if answer.status_code == 201:
                self.results["created"].append({**answer.json(), "read_version": finding["version"]})


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", type=Path, help="An existing run folder to import (default: simulate one).")
    parser.add_argument("--scale", default="small", help="Simulated ledger size when --run is not given.")
    parser.add_argument("--rounds", type=int, default=60, help="Rounds per reviewer (list, open, decide).")
    parser.add_argument("--seconds", type=float, default=180.0, help="Stop earlier after this many seconds.")
    parser.add_argument("--threads", type=int, default=8, help="The server's threads (audit serve --threads).")
    parser.add_argument("--work", type=Path, help="Working folder (default: a temporary one).")
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="desk-load-"))
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SALES_AUDIT_HOME": str(work / "home")}
    run = args.run
    if run is None:
        run = work / "run"
        if not (run / "manifest.json").is_file():
            audit("simulate", "--out", work / "ledger", "--scale", args.scale, "--seed", "7", env=env)
            audit("run", "--data", work / "ledger", "--out", run, "--format", "csv,parquet,manifest", env=env)
    store = work / "cases.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{store}{suffix}").unlink(missing_ok=True)
    db = f"sqlite:///{store}"
    audit("import", run, "--db", db, env=env)
    managers = sorted({row[0] for row in sqlite3.connect(store).execute(
        "SELECT manager_id FROM desk_salesperson WHERE manager_id != ''")})
    names = []
    for index in range(REVIEWERS):
        name = f"reviewer{index:02d}"
        scope = (["--role", "manager", "--manager", managers[index % len(managers)]]
                 if managers and index % 2 else ["--role", "auditor"])
        audit("users", "add", name, *scope, "--db", db, "--password-stdin", env=env, stdin=PASSWORD + "\n")
        names.append(name)
    findings = sqlite3.connect(store).execute("SELECT count(*) FROM desk_finding").fetchone()[0]

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    holder = {"server": serve(db, port, env, args.threads)}

    def phase(rounds: int, seed: int, kill_halfway: bool) -> tuple[dict, float, dict]:
        results = {"latency": defaultdict(list), "answers": Counter(), "created": [], "unreachable": Counter()}
        stop = threading.Event()
        threads = [Reviewer(name, base, stop, rounds, seed * 100 + i, results) for i, name in enumerate(names)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        restart = {}
        if kill_halfway:  # kill the server without warning once half the decisions are in, start it again
            while sum(results["answers"].values()) < REVIEWERS * rounds // 2 and any(t.is_alive() for t in threads):
                time.sleep(0.05)
            restart["answered_201_before_kill"] = len(results["created"])
            holder["server"].send_signal(signal.SIGKILL)
            holder["server"].wait()
            killed_at = time.perf_counter()
            holder["server"] = serve(db, port, env, args.threads)
            restart["server_down_seconds"] = round(time.perf_counter() - killed_at, 1)
        deadline = started + args.seconds
        for thread in threads:
            thread.join(max(0.0, deadline - time.perf_counter()))
        stop.set()
        for thread in threads:
            thread.join()
        return results, time.perf_counter() - started, restart

    # 1. steady load: the latency figures, and the server's CPU time per request (independent of what else
    # the machine is doing, unlike the latencies)
    cpu_before = cpu_seconds(holder["server"].pid)
    load_before = os.getloadavg()[0]
    steady, elapsed, _ = phase(args.rounds, 1, kill_halfway=False)
    server_cpu = cpu_seconds(holder["server"].pid) - cpu_before
    load_after = os.getloadavg()[0]
    # 2. the same load with the server killed (SIGKILL) halfway and started again
    killed, _, restart = phase(max(4, args.rounds // 2), 2, kill_halfway=True)
    holder["server"].send_signal(signal.SIGKILL)
    holder["server"].wait()
    server = serve(db, port, env, args.threads)  # a final restart: everything must still be there
    server.terminate()
    server.wait()

    connection = sqlite3.connect(store)
    stored = {row[0]: row[1:] for row in connection.execute(
        "SELECT sequence, exception_id, username, comment, decision, hash FROM desk_decision")}
    created = steady["created"] + killed["created"]
    lost = [c for c in created if stored.get(c["sequence"], (None,) * 5)[4] != c["hash"]]
    per_finding = Counter(c["exception_id"] for c in created)
    in_store = Counter(row[0] for row in stored.values())
    overwritten = sum(max(0, n - in_store[f]) for f, n in per_finding.items())
    same_version = sum(n - 1 for n in Counter((c["exception_id"], c["read_version"]) for c in created).values() if n > 1)
    verify = subprocess.run([sys.executable, "-m", "audit.cli", "verify-cases", "--db", db], env=env,
                            capture_output=True, text=True)

    latency = steady["latency"]
    everything = [v for kind in ("worklist", "finding", "decide") for v in latency[kind]]
    figures = {
        "findings": findings, "reviewers": REVIEWERS, "seconds": round(elapsed, 1),
        "requests": len(everything), "requests_per_second": round(len(everything) / elapsed, 1),
        "latency_ms": {kind: {"p50": round(1000 * statistics.median(latency[kind]), 1),
                              "p95": round(1000 * percentile(latency[kind], 0.95), 1),
                              "max": round(1000 * max(latency[kind]), 1), "n": len(latency[kind])}
                       for kind in ("worklist", "finding", "decide") if latency[kind]},
        "p95_ms_all": round(1000 * percentile(everything, 0.95), 1),
        "server_cpu_ms_per_request": round(1000 * server_cpu / max(1, len(everything)), 2),
        "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
        "answers": {str(k): v for k, v in sorted((steady["answers"] + killed["answers"]).items())},
        "decisions_201": len(created), "decisions_in_store": len(stored), **restart,
        "requests_refused_while_down": dict(killed["unreachable"]),
        "lost": len(lost), "overwritten": overwritten + same_version,
        "hash_chain": "intact" if verify.returncode == 0 else verify.stdout + verify.stderr,
        "python": sys.version.split()[0], "cpus": os.cpu_count(),
    }
    print(json.dumps(figures, indent=2))
    ok = figures["p95_ms_all"] <= 300 and not lost and not figures["overwritten"] and verify.returncode == 0
    print("targets met" if ok else "TARGETS MISSED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
