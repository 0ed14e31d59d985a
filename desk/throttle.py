"""Failed logins per username (API token and browser alike): after ``LOGIN_FAILURES_ALLOWED`` failures in
``LOGIN_FAILURE_WINDOW_SECONDS``, each further attempt must wait, twice as long after every failure (up to
five minutes), whether or not its password is right. Counts live in Django's cache."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

MAX_WAIT_SECONDS = 300


def _key(username: str) -> str:
    return "desk-login-failures:" + str(username or "").strip().lower()[:150]


def wait_seconds(username: str) -> int:
    """Seconds until this username may try again (0: now)."""
    failures = [t for t in cache.get(_key(username), []) if t > time.time() - settings.LOGIN_FAILURE_WINDOW_SECONDS]
    over = len(failures) - settings.LOGIN_FAILURES_ALLOWED
    if over < 0:
        return 0
    wait = min(2 ** over, MAX_WAIT_SECONDS)
    return max(0, int(failures[-1] + wait - time.time() + 0.999))


def record_failure(username: str) -> None:
    window = settings.LOGIN_FAILURE_WINDOW_SECONDS
    failures = [t for t in cache.get(_key(username), []) if t > time.time() - window]
    cache.set(_key(username), [*failures, time.time()][-50:], timeout=window + MAX_WAIT_SECONDS)


def reset(username: str) -> None:
    cache.delete(_key(username))
