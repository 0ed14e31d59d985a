"""Shared fixtures: the hand-written mini ledger, the policy, and where the public data lives."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from audit.policy import load_policy
from audit.validation import load_and_validate

TESTS = Path(__file__).parent
MINI = TESTS / "data" / "mini"
# CI clones the repository with shared/ beside it; SALES_AUDIT_SHARED overrides.
SHARED = Path(os.environ.get("SALES_AUDIT_SHARED", TESTS.parent.parent / "shared"))


def java_available() -> bool:
    return shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME"))


@pytest.fixture(scope="session")
def mini_policy():
    return load_policy(MINI / "policy.toml")


@pytest.fixture(scope="session")
def mini_tables(mini_policy):
    return load_and_validate(MINI, mini_policy)


@pytest.fixture
def mini_copy(tmp_path):
    target = tmp_path / "mini"
    shutil.copytree(MINI, target)
    return target
