"""The review desk in headless Chromium (Debian's ``chromium``, driven by Playwright) against `audit serve`:
a manager logs in, decides on a finding; the server is killed and restarted and the decision is still
there; next month's `audit run --cases` lists the finding as suppressed with the manager's comment."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from .conftest import MINI
from .test_browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (Debian packages: chromium "
                                                     "fonts-liberation)"),
]
PASSWORD = "correct horse battery"


def _audit(*args, env, stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "audit.cli", *map(str, args)], input=stdin, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve(db: str, runs: Path, port: int, env) -> subprocess.Popen:
    log = runs.parent / "serve.log"  # a file, not a pipe: a full pipe nobody reads would stop the server
    with log.open("a") as stream:
        server = subprocess.Popen([sys.executable, "-m", "audit.cli", "serve", "--db", db, "--runs", str(runs),
                                   "--port", str(port)], env=env, stdout=stream, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2)
            return server
        except OSError:
            if server.poll() is not None:
                raise AssertionError(log.read_text()) from None
            time.sleep(0.3)
    server.kill()
    raise AssertionError("audit serve did not answer within 60 s")


def _next_month(tmp_path: Path) -> Path:
    """The mini ledger a month later: one more invoice, in May."""
    ledger = tmp_path / "may"
    shutil.copytree(MINI, ledger)
    invoices = pd.read_csv(ledger / "invoices.csv", dtype=str, keep_default_na=False)
    invoices.loc[len(invoices)] = ["I90", "1090", "2025-05-06", "C1", "S1", "2025-06-05", "", "posted", "U1", ""]
    invoices.to_csv(ledger / "invoices.csv", index=False)
    lines = pd.read_csv(ledger / "invoice_lines.csv", dtype=str, keep_default_na=False)
    lines.loc[len(lines)] = ["I90", "1", "P1", "5", "100000", "100000", "0", "none", ""]
    lines.to_csv(ledger / "invoice_lines.csv", index=False)
    return ledger


def test_manager_decides_and_next_month_shows_it_suppressed(tmp_path):
    from playwright.sync_api import sync_playwright

    env = {**os.environ, "SALES_AUDIT_HOME": str(tmp_path / "home")}
    db = f"sqlite:///{tmp_path / 'cases.sqlite3'}"
    runs = tmp_path / "runs"
    _audit("run", "--data", MINI, "--out", runs / "2025-04", "--format", "csv,parquet,manifest", env=env)
    april = pd.read_parquet(runs / "2025-04" / "exceptions.parquet")
    _audit("users", "add", "mona", "--role", "manager", "--manager", "M1", "--db", db, "--password-stdin", env=env,
           stdin=PASSWORD + "\n")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    server = _serve(db, runs, port, env)
    errors: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(f"{base}/")
                assert page.url.startswith(f"{base}/login")
                page.fill("#id_username", "mona")
                page.fill("#id_password", "wrong password")
                page.click("#login-form button[type=submit]")
                assert "Please enter a correct username and password" in page.inner_text("main")
                page.fill("#id_username", "mona")
                page.fill("#id_password", PASSWORD)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector("#worklist")
                rows = page.locator("#worklist tbody tr.finding-row")
                assert rows.count() == len(april)
                assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == april["exception_id"].tolist()
                page.select_option("#filters select[name=pattern]", "payment_swap")
                page.click("#filters button[type=submit]")
                swaps = april[april["pattern"] == "payment_swap"]
                assert rows.count() == len(swaps)
                target = swaps["exception_id"].iloc[0]
                page.click(f"tr[data-id='{target}'] a")
                page.wait_for_selector("#decide-form")
                assert swaps["explanation"].iloc[0][:50] in page.inner_text("#explanation")
                page.select_option("#id_decision", "false_positive")
                page.fill("#id_comment", "the owner's own account, on record since 2021")
                page.click("#decide-form button[type=submit]")
                page.wait_for_selector("text=Decision recorded")
                assert page.inner_text("#decision-now") == "false positive"
                page.screenshot(path=tmp_path / "finding.png", full_page=True)

                # killed without warning and started again: the decision answered is still there
                server.send_signal(signal.SIGKILL)
                server.wait(timeout=30)
                server = _serve(db, runs, port, env)
                page.goto(f"{base}/findings/{target}")
                if page.url.startswith(f"{base}/login"):  # the session outlives the process; log in if not
                    page.fill("#id_username", "mona")
                    page.fill("#id_password", PASSWORD)
                    page.click("#login-form button[type=submit]")
                history = page.locator("#history tbody tr")
                assert history.count() == 1 and "on record since 2021" in history.inner_text()
                page.goto(f"{base}/")
                assert page.locator(f"tr[data-id='{target}']").count() == 0  # decided: off the open worklist
            finally:
                browser.close()
    finally:
        server.kill()
        server.wait(timeout=30)
    assert errors == [], errors

    ledger = _next_month(tmp_path)
    _audit("run", "--data", ledger, "--out", runs / "2025-05", "--previous", runs / "2025-04", "--cases", db,
           "--format", "csv,parquet,manifest", env=env)
    may = pd.read_parquet(runs / "2025-05" / "exceptions.parquet").set_index("exception_id")
    assert (may.at[target, "status"], may.at[target, "decision"], may.at[target, "decided_by"]) == (
        "suppressed", "false positive", "mona")
    assert may.at[target, "reason"] == "the owner's own account, on record since 2021"
    assert set(may.drop(index=target)["status"]) <= {"repeat", "new"}
