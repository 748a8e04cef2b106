"""Read a SQLite query into Arrow in a child process and stream it back as Arrow IPC.

Why a child process: Arrow's SQLite driver (ADBC) builds the columns in C, about four times faster
than Python's ``sqlite3`` tuples, but it carries its own copy of the SQLite library. Two copies of
SQLite in one process break SQLite's POSIX locks (closing one copy's file handle drops the other's
locks), which can corrupt a database. In a child process it is simply one more reader, which SQLite's
WAL mode is made for.

Usage (internal): write ``{"path": ..., "sql": ..., "out": ...}`` as JSON to stdin; the child writes
the result as an Arrow IPC file at ``out``. Big reads are split by rowid over several children, one
per core.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path


class Readers:
    """Reader processes started by `start`: `collect` their tables, then `close`."""

    def __init__(self, procs: list[subprocess.Popen], outs: list[str]) -> None:
        self.procs, self.outs = procs, outs

    def collect(self) -> list:  # -> list[pyarrow.Table]
        """Wait for every reader; one pyarrow Table per query, mapped without copying."""
        import pyarrow as pa

        tables = []
        for proc, out in zip(self.procs, self.outs, strict=True):
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            if proc.wait() != 0:
                raise RuntimeError(f"the Arrow reader failed (exit {proc.returncode}): {err.strip()[-500:]}")
            with pa.memory_map(out) as source:
                tables.append(pa.ipc.open_file(source).read_all())
        return tables

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:  # only when interrupted or failed
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()
        for out in self.outs:
            try:
                os.unlink(out)  # a mapping stays valid until its table is freed
            except FileNotFoundError:  # pragma: no cover
                pass


def start(path: str | Path, sqls: Sequence[str]) -> Readers:
    """Start one child process per query on the SQLite file at ``path``, all at once.

    Each child writes an Arrow IPC file into a temporary folder (memory-backed where the system
    has one); `Readers.collect` maps them.
    """
    shm = Path("/dev/shm")
    folder = shm if shm.is_dir() and os.access(shm, os.W_OK) else None
    readers = Readers([], [])
    try:
        for sql in sqls:
            fd, out = tempfile.mkstemp(prefix="hl_notebook_read_", suffix=".arrow", dir=folder)
            os.close(fd)
            readers.outs.append(out)
            proc = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve())],  # by path: no package import
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            readers.procs.append(proc)
            assert proc.stdin is not None
            proc.stdin.write(json.dumps({"path": str(path), "sql": sql, "out": out}).encode())
            proc.stdin.close()
    except BaseException:
        readers.close()
        raise
    return readers


def read(path: str | Path, sqls: Sequence[str]) -> list:  # -> list[pyarrow.Table]
    """Run each query on the SQLite file at ``path`` in its own child process, all at once."""
    readers = start(path, sqls)
    try:
        return readers.collect()
    finally:
        readers.close()


def _main() -> int:
    # The low-level API: the DB-API module imports pandas and pyarrow.dataset (a second of start-up).
    import adbc_driver_manager
    import adbc_driver_sqlite
    import pyarrow as pa

    request = json.loads(sys.stdin.buffer.read())
    with adbc_driver_sqlite.connect(request["path"]) as db, adbc_driver_manager.AdbcConnection(
        db
    ) as conn, adbc_driver_manager.AdbcStatement(conn) as stmt:
        # Infer each column's type from the whole result, not from the first 1,024 rows (which
        # may all be NULL).
        stmt.set_options(**{"adbc.sqlite.query.batch_rows": str(1_000_000_000)})
        stmt.set_sql_query(request["sql"])
        handle, _ = stmt.execute_query()
        reader = pa.RecordBatchReader._import_from_c(handle.address)
        with pa.OSFile(request["out"], "wb") as sink, pa.ipc.new_file(sink, reader.schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
