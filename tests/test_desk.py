"""The review desk in-process, with Django's test client: the API's status codes, scope by role and manager,
CSRF refusal, escaping, the decisions' hash chain, and `audit run --cases` reading the decisions back."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

import audit

from .conftest import MINI

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert('desk')</script>"


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """One SQLite case store for the module (Django is configured once per process)."""
    folder = tmp_path_factory.mktemp("desk")
    os.environ["SALES_AUDIT_HOME"] = str(folder / "home")
    url = f"sqlite:///{folder / 'cases.sqlite3'}"
    from desk import setup

    setup(url)
    return url


@pytest.fixture(scope="module")
def mini_run(tmp_path_factory):
    """The mini ledger's run folder, and a second run (a later one) whose first finding names a hostile customer."""
    folder = tmp_path_factory.mktemp("runs")
    result = audit.run(MINI, policy=MINI / "policy.toml")
    result.write(folder / "2025-04", formats=("csv", "parquet", "manifest"))
    return folder / "2025-04", result


@pytest.fixture
def desk(store, mini_run):
    """A fresh store with the mini run imported and four users."""
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.core.management import call_command

    from desk.importer import import_run
    from desk.models import Reviewer

    call_command("flush", interactive=False, verbosity=0)
    cache.clear()
    import_run(mini_run[0])
    for name, role, salespeople, manager in (("ana", "auditor", "", ""), ("mo", "manager", "", "M1"),
                                             ("sam", "manager", "S1", ""), ("cy", "compliance", "", "")):
        user = User.objects.create_user(name, password=PASSWORD)
        Reviewer.objects.create(user=user, role=role, salespeople=salespeople, manager_id=manager)
    return mini_run[1].exceptions


def _token(client, name) -> str:
    response = client.post("/api/token", {"username": name, "password": PASSWORD}, content_type="application/json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def _api(name):
    from django.test import Client

    client = Client()
    return Client(headers={"authorization": f"Token {_token(client, name)}"})


def _decide(client, exception_id, decision="false positive", comment="a known supplier", version=0):
    return client.post(f"/api/findings/{exception_id}/decisions",
                       {"decision": decision, "comment": comment, "version": version}, content_type="application/json")


def test_token_refuses_a_wrong_password_and_slows_repeated_failures(desk):
    from django.test import Client

    client = Client()
    assert client.post("/api/token", {"username": "ana", "password": "wrong"},
                       content_type="application/json").status_code == 401
    assert client.get("/api/findings").status_code == 401  # no token
    for _ in range(5):
        client.post("/api/token", {"username": "ana", "password": "wrong"}, content_type="application/json")
    slowed = client.post("/api/token", {"username": "ana", "password": PASSWORD}, content_type="application/json")
    assert slowed.status_code == 429 and int(slowed["Retry-After"]) >= 1
    # another user is not slowed by ana's failures
    assert client.post("/api/token", {"username": "mo", "password": PASSWORD},
                       content_type="application/json").status_code == 200


def test_findings_follow_the_users_scope(desk):
    everything = {f["exception_id"] for f in _api("ana").get("/api/findings").json()["findings"]}
    assert everything == set(desk["exception_id"])
    # mo manages M1, the manager of S1 and S2 in the ledger's salespeople table
    by_manager = {f["exception_id"] for f in _api("mo").get("/api/findings").json()["findings"]}
    assert by_manager == set(desk.loc[desk["salesperson_id"].isin(["S1", "S2"]), "exception_id"])
    listed = _api("sam").get("/api/findings").json()["findings"]
    assert {f["salesperson_id"] for f in listed} == {"S1"}
    assert [f["exception_id"] for f in listed] == desk.loc[desk["salesperson_id"] == "S1", "exception_id"].tolist()
    assert set(listed[0]) >= {"exception_id", "salesperson_id", "status", "decision", "version"}
    outside = desk.loc[desk["salesperson_id"] == "S2", "exception_id"].iloc[0]
    assert _api("sam").get(f"/api/findings/{outside}").status_code == 403
    assert _decide(_api("sam"), outside).status_code == 403


def test_a_finding_says_what_to_check_next_and_an_older_run_imports_without_it(desk, mini_run, tmp_path):
    from django.test import Client

    from desk.importer import import_run
    from desk.models import Finding

    first = desk.iloc[0]
    detail = _api("ana").get(f"/api/findings/{first['exception_id']}").json()
    assert detail["check_next"] == first["check_next"] and detail["explanation"].endswith(first["check_next"])
    client = Client()
    client.login(username="ana", password=PASSWORD)
    assert first["check_next"].split("'")[0] in client.get(f"/findings/{first['exception_id']}").content.decode()
    # a run written before the column existed: its new findings import with an empty check_next
    older = tmp_path / "older"
    shutil.copytree(mini_run[0], older)
    exceptions = pd.read_csv(older / "exceptions.csv", dtype=str, keep_default_na=False).drop(columns="check_next")
    exceptions["exception_id"] = [f"{i:016x}" for i in range(len(exceptions))]
    exceptions.to_csv(older / "exceptions.csv", index=False)
    (older / "exceptions.parquet").unlink()
    manifest = json.loads((older / "manifest.json").read_text())
    (older / "manifest.json").write_text(json.dumps({**manifest, "run_id": "older-run"}))
    import_run(older)
    assert Finding.objects.get(exception_id=f"{0:016x}").check_next == ""
    assert _api("ana").get(f"/api/findings/{0:016x}").json()["check_next"] is None


def test_decision_status_codes(desk):
    target = desk["exception_id"].iloc[0]
    mo = _api("mo")
    assert _decide(mo, "0000000000000000").status_code == 404
    assert _decide(mo, target, decision="approved").status_code == 400
    assert _decide(mo, target, comment="  ").status_code == 400
    assert _decide(_api("cy"), target).status_code == 403  # compliance reads, never decides
    created = _decide(mo, target, version=0)
    assert created.status_code == 201 and created.json()["version"] == 1
    # a second reviewer who read version 0 cannot overwrite it silently
    assert _decide(_api("ana"), target, decision="confirmed", version=0).status_code == 409
    assert _decide(_api("ana"), target, decision="confirmed", comment="cheque seen", version=1).status_code == 201
    detail = _api("cy").get(f"/api/findings/{target}").json()
    assert [(h["decision"], h["user"], h["comment"]) for h in detail["history"]] == [
        ("false_positive", "mo", "a known supplier"), ("confirmed", "ana", "cheque seen")]
    assert detail["status"] == "decided" and detail["decision"] == "confirmed" and detail["version"] == 2


def test_browser_form_needs_its_csrf_token(desk):
    from django.test import Client

    target = desk["exception_id"].iloc[0]
    client = Client(enforce_csrf_checks=True)
    page = client.get("/login")
    token = page.cookies["csrftoken"].value
    assert client.post("/login", {"username": "mo", "password": PASSWORD,
                                  "csrfmiddlewaretoken": token}).status_code == 302
    form = {"decision": "explained", "comment": "a price change", "version": 0}
    assert client.post(f"/findings/{target}/decide", form).status_code == 403
    from desk.models import Decision

    assert Decision.objects.count() == 0
    token = client.get(f"/findings/{target}").cookies.get("csrftoken", page.cookies["csrftoken"]).value
    done = client.post(f"/findings/{target}/decide", {**form, "csrfmiddlewaretoken": token})
    assert done.status_code == 302 and Decision.objects.get().decision == "explained"
    # the worklist shows open findings by default: the explained one has left it
    listed = client.get("/").content.decode()
    assert target not in listed and desk["exception_id"].iloc[1] in listed
    assert target in client.get("/?status=decided").content.decode()


def test_ledger_text_is_escaped_everywhere(desk, mini_run, tmp_path):
    from django.test import Client

    from desk.importer import import_run

    folder = tmp_path / "hostile"
    shutil.copytree(mini_run[0], folder)
    exceptions = pd.read_parquet(folder / "exceptions.parquet")
    exceptions.loc[0, "title"] = f"Customer {HOSTILE}: cheque held"
    exceptions.loc[0, "explanation"] = f"The customer {HOSTILE} paid by a cheque held back for ten days."
    exceptions.loc[0, "evidence"] = json.dumps({"customer_name": HOSTILE})
    exceptions.to_parquet(folder / "exceptions.parquet")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest.update(run_id="hostile00001", started_at="2999-01-01T00:00:00+00:00")
    (folder / "manifest.json").write_text(json.dumps(manifest))
    import_run(folder)
    client = Client()
    client.login(username="ana", password=PASSWORD)
    target = exceptions.loc[0, "exception_id"]
    _decide(_api("ana"), target, comment=f"told by {HOSTILE}")
    for url in ("/", f"/findings/{target}", "/overview", "/tuning"):
        html = client.get(url).content.decode()
        assert "<script>alert" not in html, url
    page = client.get(f"/findings/{target}").content.decode()
    assert page.count("&lt;script&gt;alert(") >= 4  # title, explanation, evidence, the decision's comment


def test_hash_chain_detects_a_changed_or_deleted_decision(desk, store):
    from desk.chain import verify_chain

    ids = desk["exception_id"].tolist()[:3]
    for exception_id in ids:
        assert _decide(_api("ana"), exception_id).status_code == 201
    assert verify_chain().ok and verify_chain().checked == 3
    path = store[len("sqlite:///"):]

    def tamper(sql):
        with sqlite3.connect(path) as connection:
            connection.execute(sql)

    tamper("UPDATE desk_decision SET decision = 'confirmed' WHERE sequence = 2")
    assert any("#2" in p and "changed" in p for p in verify_chain().problems)
    tamper("UPDATE desk_decision SET decision = 'false_positive' WHERE sequence = 2")
    assert verify_chain().ok
    tamper("DELETE FROM desk_decision WHERE sequence = 2")
    assert any("missing" in p for p in verify_chain().problems)


def test_deleting_the_latest_decision_is_detected_by_the_command(desk, store):
    from typer.testing import CliRunner

    from audit.cli import app

    for exception_id in desk["exception_id"].tolist()[:2]:
        assert _decide(_api("ana"), exception_id).status_code == 201
    runner = CliRunner()
    assert runner.invoke(app, ["verify-cases", "--db", store]).exit_code == 0
    with sqlite3.connect(store[len("sqlite:///"):]) as connection:
        connection.execute("DELETE FROM desk_decision WHERE sequence = 2")
    result = runner.invoke(app, ["verify-cases", "--db", store])
    assert result.exit_code == 1 and "deleted" in result.output


def test_next_run_reads_the_decisions(desk, store, tmp_path):
    suppress, confirm, ask = desk["exception_id"].tolist()[:3]
    ana = _api("ana")
    assert _decide(ana, suppress, decision="explained", comment="price list changed that day").status_code == 201
    assert _decide(ana, confirm, decision="confirmed", comment="customer confirmed").status_code == 201
    assert _decide(ana, ask, decision="needs information", comment="ask the driver").status_code == 201
    result = audit.run(MINI, policy=MINI / "policy.toml", cases=store)
    rows = result.exceptions.set_index("exception_id")
    assert rows.at[suppress, "status"] == "suppressed"
    assert (rows.at[suppress, "decision"], rows.at[suppress, "decided_by"], rows.at[suppress, "reason"]) == (
        "explained", "ana", "price list changed that day")
    assert rows.at[confirm, "status"] == "confirmed"
    assert rows.at[ask, "status"] == "new" and rows.at[ask, "decision"] == "needs information"
    assert result.manifest["cases"] == {"store": store, "decisions_read": 3, "decisions_applied": 2}
    written = result.export(tmp_path)
    decisions = pd.read_csv(next(p for p in written if p.name == "decisions.csv"))
    assert decisions["exception_id"].tolist() == [suppress, confirm, ask]
    assert decisions["hash"].str.len().eq(64).all()


def test_tuning_suggests_the_limit_that_removes_false_positives(desk):
    from desk.models import Finding, Run
    from desk.tuning import feedback

    run = Run.objects.get()
    maturity = {"fp1": 95, "fp2": 100, "fp3": 120, "ok1": 150, "ok2": 180, "fp4": 200}
    for name, days in maturity.items():
        Finding.objects.create(exception_id=f"{name:0>16}", detector="CHQ-02", pattern="cheque_maturity_over_policy",
                               entity_type="cheque", entity_id=name, salesperson_id="S1", title=name,
                               explanation="x" * 30, last_run=run, rank=99,
                               evidence=json.dumps({"maturity_days": days, "max_maturity_days": 90, "amount": 5.0}))
        _decide(_api("ana"), f"{name:0>16}", decision="confirmed" if name.startswith("ok") else "false positive")
    report = feedback(Finding.objects.all())
    suggestion = next(s for s in report.suggestions if s.detector == "CHQ-02")
    assert (suggestion.policy_key, suggestion.current, suggestion.proposed) == ("[cheques] max_maturity_days", 90, 120)
    assert (suggestion.false_positives_removed, suggestion.false_positives) == (3, 4)
    assert (suggestion.confirmed_kept, suggestion.confirmed) == (2, 2)
    chq = next(r for r in report.by_detector if r["detector"] == "CHQ-02")
    assert (chq["confirmed"], chq["false_positive"]) == (2, 4)


def test_cli_import_refuses_a_folder_that_is_no_run(store, tmp_path):
    from typer.testing import CliRunner

    from audit.cli import app

    (tmp_path / "x").mkdir()
    result = CliRunner().invoke(app, ["import", str(tmp_path / "x" / "missing"), "--db", store])
    assert result.exit_code == 2 and "is not a folder" in " ".join(result.output.split())
    result = CliRunner().invoke(app, ["users", "add", "bob", "--role", "manager", "--db", store, "--password-stdin"],
                                input=PASSWORD + "\n")
    assert result.exit_code == 2 and "--salespeople" in " ".join(result.output.split())


def test_the_audit_command_does_not_load_django():
    code = "import sys, audit.cli; print('django' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_only_loopback_is_the_quiet_default():
    from desk.cli import _loopback

    assert all(_loopback(h) for h in ("127.0.0.1", "127.0.0.2", "::1", "localhost"))
    assert not any(_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "::", "desk.example"))
