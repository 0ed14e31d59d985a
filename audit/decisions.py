"""Read a review desk's decisions for a run (``audit run --cases URL``).

The review desk (package ``desk``) keeps its decisions in the case store's ``desk_decision`` table, one
row per decision, never updated. The core reads that table with SQLAlchemy and does not import the desk:
the latest decision on each finding, by exception id. False positive and explained findings come back
``suppressed``, confirmed ones ``confirmed`` (see :func:`audit.runner.finalise`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DECISION_TABLE = "desk_decision"
# the desk's stored codes and the words the exceptions output uses
DECISION_WORDS = {"confirmed": "confirmed", "false_positive": "false positive", "explained": "explained",
                  "needs_information": "needs information"}
SUPPRESSING_DECISIONS = ("false positive", "explained")
CLOSING_DECISIONS = ("confirmed", *SUPPRESSING_DECISIONS)
COLUMNS = ["sequence", "exception_id", "decision", "decided_by", "reason", "decided_at", "previous_hash", "hash"]


class CaseStoreError(ValueError):
    """A case store that cannot be read, with what to do."""


def sqlalchemy_url(url: str) -> str:
    """The case store's URL for SQLAlchemy: a plain path is a SQLite file; postgresql:// uses psycopg 3."""
    text = str(url).strip()
    if "://" not in text:
        return "sqlite:///" + str(Path(text).resolve())
    scheme, rest = text.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        return "postgresql+psycopg://" + rest
    return text


def latest_decisions(history: pd.DataFrame) -> pd.DataFrame:
    """Each finding's latest decision, from :func:`read_decisions`."""
    return history.sort_values("sequence", kind="mergesort").drop_duplicates("exception_id", keep="last")


def read_decisions(url: str) -> pd.DataFrame:
    """Every decision in the store, in order: sequence, exception_id, decision (words), decided_by, reason
    (the comment), decided_at, previous_hash, hash (so that an export can be checked against the store)."""
    import sqlalchemy as sa

    from audit.loading import redact_url

    target = sqlalchemy_url(url)
    label = redact_url(target)
    if target.startswith("sqlite:///") and not Path(target[len("sqlite:///"):]).is_file():
        raise CaseStoreError(f"no case store at {label}: pass the --db URL `audit serve` uses")
    try:
        engine = sa.create_engine(target)
        with engine.connect() as connection:
            frame = pd.read_sql_query(
                sa.text(f"SELECT sequence, exception_id, decision, username, comment, decided_at, previous_hash, hash "
                        f"FROM {DECISION_TABLE} ORDER BY sequence"), connection)
        engine.dispose()
    except Exception as exc:  # a missing table, a wrong password, no server: say which store and why
        raise CaseStoreError(f"cannot read the decisions in the case store {label}: {type(exc).__name__}: "
                             f"{str(exc).splitlines()[0]}. Is it a review desk's store (`audit serve --db`)?") from None
    return pd.DataFrame({"sequence": frame["sequence"].astype("int64"),
                         "exception_id": frame["exception_id"].astype(str),
                         "decision": frame["decision"].map(DECISION_WORDS).fillna(frame["decision"]),
                         "decided_by": frame["username"].astype(str), "reason": frame["comment"].astype(str),
                         "decided_at": frame["decided_at"].astype(str), "previous_hash": frame["previous_hash"].astype(str),
                         "hash": frame["hash"].astype(str)}, columns=COLUMNS).reset_index(drop=True)
