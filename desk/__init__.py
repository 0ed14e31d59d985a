"""The review desk: managers and auditors decide on findings, and the decisions carry from month to month.

A Django project and app in one package. The case store (runs, findings, decisions, users) is a SQLite
file by default or a PostgreSQL database for teams, under Django migrations. Django provides the
authentication, password hashing, sessions, CSRF protection and template escaping; Django REST framework
the token-authenticated API. Nothing in ``audit`` or ``detectors`` imports this package: ``audit``'s
command line reaches it lazily (``audit serve``, ``audit users add``, ...).

:func:`setup` points Django at a case store (a database URL) and must run before models are imported.
"""

from __future__ import annotations

import os

ENV_DB = "SALES_AUDIT_CASES"


def setup(db_url: str | None = None, *, migrate: bool = True) -> None:
    """Configure Django for the case store at ``db_url`` (default: ``$SALES_AUDIT_CASES``) and bring its
    schema up to date. Call once per process, before importing :mod:`desk.models`."""
    import django
    from django.conf import settings

    if db_url:
        os.environ[ENV_DB] = db_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "desk.settings")
    if not settings.configured or not getattr(setup, "_done", False):
        django.setup()
        setup._done = True
    if migrate:
        from django.core.management import call_command

        call_command("migrate", interactive=False, verbosity=0)
