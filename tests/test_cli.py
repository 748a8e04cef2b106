"""The real hl-notebook entry point, run as a subprocess on real store files."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

import hl_notebook as hl

CLI = [sys.executable, "-m", "hl_notebook._cli"]


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], input=stdin, capture_output=True, cwd=cwd, timeout=120)


@pytest.fixture
def filled(tmp_path) -> Path:
    path = tmp_path / "filled.sqlite"
    with hl.Store(path) as store:
        ids = store.log_many(hl.datasets.load_sample("hh_harmless").head(10))
        store.log(prompt="p", completion="c", model="gpt-x", prompt_version="v2")
        store.feedback(ids[0], rating=5, annotator="ada")
    return path


def test_export_to_stdout_then_import_from_stdin(filled, tmp_path):
    out = run("export", "--store", str(filled), "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert len(lines) == 11 and json.loads(lines[0])["label"] in ("👍", "👎")
    copy = tmp_path / "copy.sqlite"
    imp = run("import", "-", "--format", "jsonl", "--store", str(copy), stdin=out.stdout)
    assert imp.returncode == 0, imp.stderr
    assert "imported 11, skipped 0 already present, rejected 0" in imp.stdout.decode()


def test_labelled_only_exports_only_logs_with_feedback(filled, tmp_path):
    target = tmp_path / "out.csv"
    out = run("export", "--store", str(filled), "--format", "csv", "--labelled-only", "-o", str(target))
    assert out.returncode == 0 and "exported 10 logs" in out.stderr.decode()
    assert len(hl.Store(":memory:").to_pandas()) == 0
    imp = run("import", str(target), "--store", str(tmp_path / "c.sqlite"))
    assert b"imported 10" in imp.stdout


def test_parquet_round_trip_and_reimport_is_harmless(filled, tmp_path):
    target = tmp_path / "out.parquet"
    assert run("export", "--store", str(filled), "--format", "parquet", "-o", str(target)).returncode == 0
    copy = tmp_path / "copy.sqlite"
    assert run("import", str(target), "--store", str(copy)).returncode == 0
    again = run("import", str(target), "--store", str(copy))
    assert again.returncode == 0 and b"imported 0, skipped 11 already present" in again.stdout
    with hl.Store(filled) as a, hl.Store(copy) as b:
        cols = ["log_id", "prompt", "completion", "label", "rating", "annotator", "labelled_at"]
        assert a.to_pandas()[cols].equals(b.to_pandas()[cols])


def test_import_reports_bad_lines_keeps_good_ones_and_fails(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"log_id": "a1", "prompt": "a", "completion": "b"}\n{oops}\n'
                    '{"log_id": "c1", "prompt": "c", "completion": "d", "label": "meh"}\n', encoding="utf-8")
    store = tmp_path / "s.sqlite"
    out = run("import", str(path), "--store", str(store))
    err = out.stderr.decode()
    assert out.returncode == 1
    assert f"{path}: line 2: is not valid JSON" in err
    assert "line 3:" in err and "--add-label" in err and "Traceback" not in err
    assert "imported 1, skipped 0 already present, rejected 2" in out.stdout.decode()
    fixed = run("import", str(path), "--store", str(store), "--add-label", "meh")
    assert b"imported 1, skipped 1 already present, rejected 1" in fixed.stdout


def test_stats_tables_and_json(filled):
    text = run("stats", "--store", str(filled)).stdout.decode()
    assert "11 logs, 10 with feedback" in text
    assert re.search(r"gpt-x\s+1", text) and re.search(r"ada\s+1\s+1", text)
    data = json.loads(run("stats", "--store", str(filled), "--json").stdout)
    assert data["logs"] == 11 and {"prompt_version": "v2", "logs": 1} in data["prompt_version"]
    assert {"annotator": "ada", "events": 1, "logs": 1} in data["annotator"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "--store", "missing.sqlite", "--format", "jsonl"], "store 'missing.sqlite' does not exist"),
        (["import", "nope.jsonl", "--store", "s.sqlite"], "'nope.jsonl' does not exist"),
        (["import", "-", "--store", "s.sqlite"], "reading stdin needs --format"),
        (["stats", "--store", "foreign.sqlite"], "not an hl_notebook store"),
        (["demo", "--notebook", "nowhere.ipynb"], "notebook 'nowhere.ipynb' does not exist"),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, args, message):
    import sqlite3

    with sqlite3.connect(tmp_path / "foreign.sqlite") as conn:
        conn.execute("CREATE TABLE t (x)")
    out = run(*args, cwd=tmp_path)
    err = out.stderr.decode().strip()
    assert out.returncode == 2
    assert message in err and "\n" not in err and "Traceback" not in err


def test_demo_finds_the_quickstart_in_the_working_directory_first(tmp_path, monkeypatch):
    from hl_notebook._cli.common import CLIError
    from hl_notebook._cli.demo import find_notebook

    monkeypatch.chdir(tmp_path)
    if not (ROOT / "examples" / "quickstart.ipynb").exists():
        with pytest.raises(CLIError, match="cannot find examples/quickstart.ipynb.*pass --notebook PATH"):
            find_notebook(None)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "quickstart.ipynb").write_text("{}", encoding="utf-8")
    assert find_notebook(None) == tmp_path / "examples" / "quickstart.ipynb"


def test_help_lists_every_command():
    text = run("--help").stdout.decode()
    for command in ("export", "import", "stats", "demo"):
        assert command in text


@pytest.mark.slow
def test_demo_fills_the_store_once_and_serves_jupyterlab(tmp_path):
    import nbformat

    notebook = tmp_path / "nb" / "quickstart.ipynb"
    notebook.parent.mkdir()
    nbformat.write(nbformat.v4.new_notebook(), notebook)
    store = tmp_path / "demo.sqlite"
    with socket_port() as port:
        pass
    proc = subprocess.Popen(
        [*CLI, "demo", "--no-browser", "--port", str(port), "--store", str(store), "--notebook", str(notebook)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    try:
        url = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            if line.startswith("URL: "):
                url = line[5:].strip()
                break
        assert url and url.startswith(f"http://127.0.0.1:{port}/lab/tree/quickstart.ipynb?token=")
        token = url.split("token=")[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=10) as r:
            assert r.status == 200 and "started" in json.loads(r.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents/quickstart.ipynb?token={token}",
                                    timeout=10) as r:
            assert json.loads(r.read())["type"] == "notebook"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    with hl.Store(store) as s:
        first = len(s)
        assert first == 600 and s.to_pandas()["label"].notna().sum() == 300
    # idempotent: loading again adds nothing
    from hl_notebook._cli.demo import load_demo_data

    with hl.Store(store) as s:
        assert load_demo_data(s) == 0 and len(s) == first


class socket_port:
    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_parquet_to_a_terminal_is_refused(filled):
    import pty

    leader, follower = pty.openpty()
    try:
        out = subprocess.run([*CLI, "export", "--store", str(filled), "--format", "parquet"],
                             stdout=follower, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(follower)
        os.close(leader)
    assert out.returncode == 2
    assert b"binary format and stdout is a terminal; pass -o FILE" in out.stderr
