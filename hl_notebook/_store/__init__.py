"""The durable store: logs and the append-only feedback journal (SQLite), ids, and store files.

- `store`: `Store`, the module-level `configure` / `log` / `feedback`, schema and migrations.
- `ids`: time-sortable ids.
- `arrow_reader`: big reads in a child process (Arrow, ADBC).
- `files`: export a store to JSONL / CSV / Parquet and import such files back.
"""
