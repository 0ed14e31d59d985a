"""The case store on PostgreSQL (for teams): migrations, users, import, a decision, the hash chain and
`audit run --cases` reading it back, each command in its own process as a team would run them."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest
import sqlalchemy as sa

from .conftest import MINI
from .test_loading import postgres_server  # noqa: F401  (the session's throw-away server)

pytestmark = pytest.mark.postgres
PASSWORD = "correct horse battery"

DECIDE = """
import sys
from desk import setup
setup(sys.argv[1])
from django.contrib.auth.models import User
from desk.cases import decide
decision = decide(User.objects.get(username="ali"), sys.argv[2], "false positive", "owner's own account", 0)
print(decision.sequence)
"""


def _audit(*args, env, stdin=None, code=0):
    result = subprocess.run([sys.executable, "-m", "audit.cli", *map(str, args)], input=stdin, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == code, result.stdout + result.stderr
    return result


def test_a_postgresql_case_store(postgres_server, tmp_path):  # noqa: F811
    admin = sa.create_engine(postgres_server("postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text("drop database if exists cases"))
        connection.execute(sa.text("create database cases"))
    admin.dispose()
    db = postgres_server("cases").replace("postgresql+psycopg://", "postgresql://")
    env = {**os.environ, "SALES_AUDIT_HOME": str(tmp_path / "home")}
    _audit("run", "--data", MINI, "--out", tmp_path / "april", "--format", "csv,parquet,manifest", env=env)
    _audit("users", "add", "ali", "--role", "auditor", "--db", db, "--password-stdin", env=env, stdin=PASSWORD + "\n")
    assert "16 findings" in _audit("import", tmp_path / "april", "--db", db, env=env).stdout
    target = pd.read_parquet(tmp_path / "april" / "exceptions.parquet")["exception_id"].iloc[0]
    done = subprocess.run([sys.executable, "-c", DECIDE, db, target], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "1", done.stderr
    assert "1 decisions, hash chain intact" in _audit("verify-cases", "--db", db, env=env).stdout
    _audit("run", "--data", MINI, "--out", tmp_path / "may", "--cases", db, "--format", "csv,parquet,manifest", env=env)
    may = pd.read_parquet(tmp_path / "may" / "exceptions.parquet").set_index("exception_id")
    assert (may.at[target, "status"], may.at[target, "decided_by"]) == ("suppressed", "ali")
    engine = sa.create_engine(postgres_server("cases"))
    with engine.begin() as connection:
        connection.execute(sa.text("update desk_decision set comment = 'rewritten'"))
    engine.dispose()
    _audit("verify-cases", "--db", db, env=env, code=1)
