"""The SQLite tables of a store, the statement that keeps each log's latest feedback, and the
migrations from older schema versions.

Layout (schema version 2):

- ``meta``: key/value pairs: the schema version, the label vocabulary and the rating scale.
- ``logs``: one row per logged completion, plus the *latest* feedback of that log (a cache of the
  journal, kept in the same transaction as each event, so reading a million rows needs no join).
- ``feedback``: every feedback event, append-only; never updated in place.
- ``kv``: small namespaced key/value records for other modules (the generation cache).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from .._schema import (
    FEEDBACK_FIELDS,
)

if TYPE_CHECKING:
    pass

__all__ = ["MIGRATIONS", "SCHEMA_V1", "SCHEMA_VERSION", "UPDATE_LATEST", "latest_params"]

SCHEMA_VERSION = 2

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS logs (
    log_id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    prompt TEXT NOT NULL,
    completion TEXT NOT NULL,
    model TEXT,
    prompt_version TEXT,
    messages TEXT,
    inputs TEXT,
    metadata TEXT
);
CREATE TABLE IF NOT EXISTS feedback (
    feedback_id TEXT PRIMARY KEY,
    log_id TEXT NOT NULL REFERENCES logs(log_id),
    label TEXT,
    rating INTEGER,
    correction TEXT,
    comment TEXT,
    annotator TEXT,
    source TEXT NOT NULL,
    cleared TEXT,
    created_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS feedback_log_id ON feedback(log_id);
"""


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Version 2 keeps each log's latest feedback beside it; rebuild it from the journal."""
    for column, kind in [
        ("label", "TEXT"),
        ("rating", "INTEGER"),
        ("correction", "TEXT"),
        ("comment", "TEXT"),
        ("annotator", "TEXT"),
        ("labelled_at", "INTEGER"),
    ]:
        conn.execute(f"ALTER TABLE logs ADD COLUMN {column} {kind}")
    conn.execute("CREATE TABLE IF NOT EXISTS kv (ns TEXT, key TEXT, value TEXT, PRIMARY KEY (ns, key))")
    events = conn.execute(
        "SELECT log_id, label, rating, correction, comment, annotator, cleared, created_at "
        "FROM feedback ORDER BY rowid"
    ).fetchall()
    conn.executemany(UPDATE_LATEST, [latest_params(*e) for e in events])


#: Each entry upgrades a file from version ``key`` to ``key + 1`` inside one transaction.
MIGRATIONS = {1: _migrate_1_to_2}

UPDATE_LATEST = """
UPDATE logs SET
    label = CASE WHEN :c_label THEN NULL ELSE coalesce(:label, label) END,
    rating = CASE WHEN :c_rating THEN NULL ELSE coalesce(:rating, rating) END,
    correction = CASE WHEN :c_correction THEN NULL ELSE coalesce(:correction, correction) END,
    comment = CASE WHEN :c_comment THEN NULL ELSE coalesce(:comment, comment) END,
    annotator = :annotator,
    labelled_at = :created_at
WHERE log_id = :log_id
"""


def latest_params(
    log_id: str,
    label: str | None,
    rating: int | None,
    correction: str | None,
    comment: str | None,
    annotator: str | None,
    cleared: str | None,
    created_at: int,
) -> dict[str, Any]:
    cleared_set = set(cleared.split(",")) if cleared else set()
    return {
        "log_id": log_id,
        "label": label,
        "rating": rating,
        "correction": correction,
        "comment": comment,
        "annotator": annotator,
        "created_at": created_at,
        **{f"c_{f}": f in cleared_set for f in FEEDBACK_FIELDS},
    }
