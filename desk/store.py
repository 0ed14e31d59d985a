"""The case store's database URL: ``sqlite:///path`` (the default kind, one file) or ``postgresql://...``
(for teams), mapped to Django's ``DATABASES`` with dj-database-url."""

from __future__ import annotations

from pathlib import Path

SCHEMES = ("sqlite", "postgres", "postgresql", "pgsql", "postgis")


class StoreError(ValueError):
    """A case-store URL that cannot be used, with what to pass instead."""


def normalise_url(url: str) -> str:
    """A plain file path is a SQLite case store; ``postgresql+psycopg://`` (SQLAlchemy's spelling) is accepted."""
    text = str(url).strip()
    if not text:
        raise StoreError("the case store URL is empty: pass --db sqlite:///cases.sqlite3 or postgresql://user@host/db")
    if "://" not in text:
        return "sqlite:///" + str(Path(text).resolve())
    scheme, rest = text.split("://", 1)
    scheme = scheme.split("+", 1)[0].lower()
    if scheme not in SCHEMES:
        raise StoreError(f"case store {redact(text)}: unknown kind '{scheme}'; use sqlite:///path/cases.sqlite3 "
                         "or postgresql://user@host/db")
    return f"{scheme}://{rest}"


def database_settings(url: str) -> dict:
    import dj_database_url

    text = normalise_url(url)
    # connections are kept per server thread (waitress' pool) instead of opened for every request
    settings = dj_database_url.parse(text, conn_max_age=600, conn_health_checks=True)
    if settings["ENGINE"].endswith("sqlite3"):
        name = settings.get("NAME") or ""
        if not name or name == ":memory:":
            raise StoreError("a SQLite case store must be a file: pass --db sqlite:///path/cases.sqlite3")
        Path(name).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        settings["NAME"] = str(Path(name).expanduser().resolve())
        # IMMEDIATE: a write transaction takes the lock when it starts, so two reviewers' decisions queue
        # (for up to `timeout` seconds) instead of one failing on a lock upgrade.
        settings["OPTIONS"] = {"timeout": 30, "transaction_mode": "IMMEDIATE"}
    return settings


def redact(url: str) -> str:
    """The URL without its password, for manifests and messages."""
    from audit.loading import redact_url

    text = str(url)
    return redact_url(text) if "://" in text else str(Path(text).resolve())
