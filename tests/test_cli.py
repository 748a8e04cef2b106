"""The real hl-notebook entry point, run as a subprocess on real store files where the terminal
matters (escapes, a pty, Ctrl+C, a closed pipe, an unreadable file), in-process elsewhere."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

import hl_notebook as hl
from hl_notebook._cli.main import main
from hl_notebook._cli.output import display_width, escape, table

CLI = [sys.executable, "-m", "hl_notebook._cli"]
#: Terminal control in data: clear the screen, an OSC 8 hyperlink, an OSC 52 clipboard write, a
#: one-byte C1 CSI and a right-to-left override.
HOSTILE = {
    "clear": "\x1b[2J\x1b[H",
    "link": "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "clipboard": "\x1b]52;c;cm0gLXJmIH4=\x07",
    "c1": "\x9b31m",
    "bidi": "\u202etxt.exe",
}
RAW_CONTROL = [b"\x1b", b"\x07", b"\xc2\x9b", "\u202e".encode()]


def run(*args: str, stdin: bytes | None = None, cwd: Path | None = None,
        env: dict[str, str] | None = None, prefix: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), *CLI, *args], input=stdin, capture_output=True, cwd=cwd,
                          timeout=180, env=None if env is None else {**os.environ, **env})


def no_raw_control(data: bytes) -> bool:
    return not any(c in data for c in RAW_CONTROL)


@pytest.fixture
def filled(tmp_path) -> Path:
    path = tmp_path / "filled.sqlite"
    with hl.Store(path) as store:
        ids = store.log_many(hl.datasets.load_sample("hh_harmless").head(10))
        store.log(prompt="p", completion="c", model="gpt-x", prompt_version="v2")
        store.feedback(ids[0], rating=5, annotator="ada")
    return path


@pytest.fixture
def hostile(tmp_path) -> Path:
    """A store whose models, prompt versions, annotators and completions hold terminal escapes."""
    path = tmp_path / "hostile.sqlite"
    with hl.Store(path) as store:
        for name, seq in HOSTILE.items():
            log_id = store.log(prompt=f"p {name}", completion=f"c {seq}", model=f"m-{name}{seq}",
                               prompt_version=f"v-{name}{seq}")
            store.feedback(log_id, label="👍", annotator=f"a-{name}{seq}")
    return path


@pytest.fixture
def no_server(monkeypatch):
    """The demo must not start JupyterLab in this test: starting it fails the test."""
    from hl_notebook._cli import demo

    def refuse(*args, **kwargs):
        raise AssertionError(f"the demo tried to start a server: {args[0] if args else kwargs}")

    monkeypatch.setattr(demo.subprocess, "Popen", refuse)


def unreadable(path: Path) -> list[str]:
    """Make ``path`` unreadable; the command prefix that makes it so for root too (no DAC override)."""
    path.chmod(0)
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
                "--bounding-set=-dac_override,-dac_read_search"]
    return []


# -- export, import, stats ----------------------------------------------------------------------


def test_export_to_stdout_then_import_from_stdin(filled, tmp_path):
    out = run("export", "--store", str(filled), "--format", "jsonl")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert len(lines) == 11 and json.loads(lines[0])["label"] in ("👍", "👎")
    assert "exported 11 logs to stdout" in out.stderr.decode()
    copy = tmp_path / "copy.sqlite"
    imp = run("import", "-", "--format", "jsonl", "--store", str(copy), stdin=out.stdout)
    assert imp.returncode == 0, imp.stderr
    assert "imported 11, skipped 0 already present, rejected 0" in imp.stdout.decode()


def test_labelled_only_exports_only_logs_with_feedback(filled, tmp_path, capsys):
    target = tmp_path / "out.csv"
    assert main(["export", "--store", str(filled), "--format", "csv", "--labelled-only", "-o", str(target)]) == 0
    assert "exported 10 logs" in capsys.readouterr().err
    assert main(["import", str(target), "--store", str(tmp_path / "c.sqlite")]) == 0
    assert "imported 10" in capsys.readouterr().out


def test_parquet_round_trip_and_reimport_is_harmless(filled, tmp_path, capsys):
    target = tmp_path / "out.parquet"
    assert main(["export", "--store", str(filled), "--format", "parquet", "-o", str(target)]) == 0
    copy = tmp_path / "copy.sqlite"
    assert main(["import", str(target), "--store", str(copy)]) == 0
    assert main(["import", str(target), "--store", str(copy)]) == 0
    assert "imported 0, skipped 11 already present" in capsys.readouterr().out
    with hl.Store(filled) as a, hl.Store(copy) as b:
        cols = ["log_id", "prompt", "completion", "label", "rating", "annotator", "labelled_at"]
        assert a.to_pandas()[cols].equals(b.to_pandas()[cols])


def test_import_reports_bad_lines_keeps_good_ones_and_fails(tmp_path, capsys):
    path = tmp_path / "in.jsonl"
    path.write_text('{"log_id": "a1", "prompt": "a", "completion": "b"}\n{oops}\n'
                    '{"log_id": "c1", "prompt": "c", "completion": "d", "label": "meh"}\n', encoding="utf-8")
    store = tmp_path / "s.sqlite"
    assert main(["import", str(path), "--store", str(store)]) == 1
    out = capsys.readouterr()
    assert f"{path}: line 2: is not valid JSON" in out.err
    assert "line 3:" in out.err and "--add-label" in out.err
    assert "imported 1, skipped 0 already present, rejected 2" in out.out
    assert main(["import", str(path), "--store", str(store), "--add-label", "meh"]) == 1
    assert "imported 1, skipped 1 already present, rejected 1" in capsys.readouterr().out


def test_stats_tables_and_json(filled, capsys):
    assert main(["stats", "--store", str(filled)]) == 0
    text = capsys.readouterr().out
    assert "11 logs, 10 with feedback" in text
    assert re.search(r"gpt-x\s+1", text) and re.search(r"ada\s+1\s+1", text)
    assert main(["stats", "--store", str(filled), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["logs"] == 11 and {"prompt_version": "v2", "logs": 1} in data["prompt_version"]
    assert {"annotator": "ada", "events": 1, "logs": 1} in data["annotator"]


# -- what a terminal is shown: escapes, widths ---------------------------------------------------


def test_stats_shows_terminal_escapes_in_data_escaped_and_json_exact(hostile):
    out = run("stats", "--store", str(hostile))
    assert out.returncode == 0, out.stderr
    assert no_raw_control(out.stdout), out.stdout
    text = out.stdout.decode()
    assert "m-clear\\x1b[2J\\x1b[H" in text and "a-clipboard\\x1b]52;c;cm0gLXJmIH4=\\x07" in text
    assert "m-c1\\x9b31m" in text and "v-bidi\\u202etxt.exe" in text
    as_json = run("stats", "--store", str(hostile), "--json")
    assert no_raw_control(as_json.stdout)
    data = json.loads(as_json.stdout)
    models = {row["model"] for row in data["model"]}
    assert models == {f"m-{name}{seq}" for name, seq in HOSTILE.items()}  # the exact values


def test_export_files_stay_exact_but_a_terminal_sees_escapes(hostile, tmp_path):
    import pty

    target = tmp_path / "out.csv"
    assert run("export", "--store", str(hostile), "-f", "csv", "-o", str(target)).returncode == 0
    data = target.read_bytes()
    assert b"c \x1b]52;c;cm0gLXJmIH4=\x07" in data and b"\r\n" in data  # data, byte for byte

    leader, follower = pty.openpty()
    try:
        proc = subprocess.Popen([*CLI, "export", "--store", str(hostile), "-f", "csv"],
                                stdout=follower, stderr=subprocess.PIPE)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the pty closes when the command exits
                break
            if not chunk:
                break
            shown += chunk
        assert proc.wait(timeout=120) == 0
    finally:
        os.close(leader)
    assert no_raw_control(shown), shown
    assert b"c \\x1b]52;c;cm0gLXJmIH4=\\x07" in shown and b"\\r" not in shown


def test_import_errors_and_validate_show_escapes(tmp_path, capsys):
    path = tmp_path / f"in{HOSTILE['clear']}.jsonl"
    path.write_text(json.dumps({"prompt": "p", "completion": "c", "label": HOSTILE["clipboard"]}) + "\n"
                    + "{bad\x1b[2J\n", encoding="utf-8")
    assert main(["import", str(path), "--store", str(tmp_path / "s.sqlite")]) == 1
    out = capsys.readouterr()
    assert "\x1b" not in out.err + out.out and "\\x1b[2J" in out.err and "line 2" in out.err
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "\x1b" not in out and "in\\x1b[2J\\x1b[H.jsonl" in out


@pytest.mark.parametrize(
    "text, width",
    [("👍", 2), ("👎", 2), ("👍👎 ok", 7), ("日本語", 6), ("한국어", 6), ("ｱ", 1), ("Ａ", 2),
     ("e\u0301", 1), ("a\u0308o\u0308", 2), ("ก่", 1), ("a\u200bb", 2), ("❤️", 2), ("👍🏽", 2),
     ("👩\u200d💻", 2), ("🇫🇷", 2), ("plain", 5), ("", 0)],
)
def test_display_width_counts_terminal_columns(text, width):
    assert display_width(text) == width


def test_tables_align_with_emoji_cjk_and_combining_marks():
    rows = [("👍", 12), ("👎", 3), ("日本語", 100), ("Zoe\u0308", 7), ("plain", 1), ("a\tb\nc", 2)]
    lines = table("by label", ["label", "logs"], rows).splitlines()[1:]
    assert len({display_width(line) for line in lines}) == 1, lines  # right edges line up
    assert any("a\\tb\\nc" in line for line in lines)  # a cell never breaks the table


def test_escape_keeps_text_and_shows_controls():
    assert escape("👍 日本 e\u0301") == "👍 日本 e\u0301"
    assert escape("a\x1b[2Jb\rc\x00\x7f") == "a\\x1b[2Jb\\rc\\x00\\x7f"
    assert escape("one\ntwo") == "one\ntwo" and escape("one\ntwo", newlines=False) == "one\\ntwo"
    assert escape("\udcff") == "\\xff"  # a byte that was not UTF-8, as Python reads it from argv


def test_help_lists_every_command_and_aligns_within_the_terminal(monkeypatch, capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for command in ("export", "import", "stats", "demo", "validate", "finetune", "jobs"):
        assert command in text
    monkeypatch.setenv("COLUMNS", "60")
    assert main(["export", "--help"]) == 0
    lines = capsys.readouterr().out.splitlines()
    formats = [line for line in lines if re.match(r"  (jsonl|csv|parquet|openai-sft|openai-dpo|trl) ", line)]
    assert len(formats) == 6
    starts = {display_width(re.match(r"  \S+\s+", line).group(0)) for line in formats}
    assert len(starts) == 1  # every explanation starts in the same column
    assert max(display_width(line) for line in lines) <= 60
    assert any("👍" in line for line in lines)


def test_a_terminal_that_cannot_show_emoji_gets_escapes_not_a_crash(filled):
    out = run("stats", "--store", str(filled), env={"PYTHONIOENCODING": "ascii"})
    assert out.returncode == 0 and b"Traceback" not in out.stderr
    assert b"\\U0001f44d" in out.stdout  # 👍, written out


# -- common mistakes: one line, no traceback ---------------------------------------------------


def test_a_user_error_is_one_line_on_stderr_from_the_real_entry_point(tmp_path):
    out = run("stats", "--store", "missing.sqlite", cwd=tmp_path)
    err = out.stderr.decode().strip()
    assert out.returncode == 2 and out.stdout == b""
    assert err == "hl-notebook stats: error: store 'missing.sqlite' does not exist; check the path (or --store)."


@pytest.mark.parametrize(
    "args, message",
    [
        (["export", "--store", "missing.sqlite", "--format", "jsonl"], "store 'missing.sqlite' does not exist"),
        (["import", "nope.jsonl", "--store", "s.sqlite"], "'nope.jsonl' does not exist"),
        (["import", "-", "--store", "s.sqlite"], "reading stdin needs --format"),
        (["stats", "--store", "foreign.sqlite"], "not an hl_notebook store"),
        (["demo", "--notebook", "nowhere.ipynb"], "notebook 'nowhere.ipynb' does not exist"),
        (["import", "folder", "--store", "s.sqlite"], "'folder' is a directory; pass a JSONL, CSV or Parquet file"),
        (["import", "filled.sqlite", "--store", "s.sqlite"], "is an SQLite file (a store?)"),
        (["import", "in.jsonl", "--store", "folder"], "store 'folder' is a directory"),
        (["import", "in.jsonl", "--store", "in.jsonl/s.sqlite"], "'in.jsonl' is a file, not a folder"),
        (["import", "in.jsonl", "--store", "text.sqlite"], "text.sqlite is not a usable hl_notebook store"),
        (["import", "in.jsonl", "--store", "s.sqlite", "--format", "xml"], "invalid choice: 'xml'"),
        (["export", "--store", "filled.sqlite", "-f", "xml"], "invalid choice: 'xml'"),
        (["export", "--store", "folder", "-f", "jsonl"], "store 'folder' is a directory"),
        (["export", "--store", "text.sqlite", "-f", "jsonl"], "is not a usable hl_notebook store"),
        (["export", "--store", "filled.sqlite", "-f", "jsonl", "-o", "folder"], "-o 'folder' is a directory"),
        (["export", "--store", "filled.sqlite", "-f", "csv", "-o", "no/x.csv"], "its folder does not exist"),
        (["stats", "--store", "folder"], "store 'folder' is a directory"),
        (["stats", "--store", "text.sqlite"], "is not a usable hl_notebook store"),
        (["validate", "nope.jsonl"], "'nope.jsonl' does not exist"),
        (["validate", "folder"], "'folder' is a directory"),
        (["validate", "in.jsonl", "--method", "rlhf"], "invalid choice: 'rlhf'"),
        (["finetune", "nope.jsonl", "--model", "m"], "'nope.jsonl' does not exist"),
        (["finetune", "in.jsonl", "--model", "m", "--validation-file", "folder"], "(check --validation-file)"),
        (["demo", "--notebook", "folder"], "notebook 'folder' is a directory"),
        (["demo", "--store", ":memory:"], "the demo needs a store file"),
        (["demo", "--store", "folder"], "store 'folder' is a directory"),
        (["demo", "--store", "s.sqlite", "--dir", "in.jsonl"], "'in.jsonl' is a file, not a folder"),
        (["jobs", "--events"], "--events needs a job ID"),
    ],
)
def test_common_mistakes_get_one_line_and_no_traceback(tmp_path, monkeypatch, capsys, no_server, filled, args, message):
    import sqlite3

    with sqlite3.connect(tmp_path / "foreign.sqlite") as conn:
        conn.execute("CREATE TABLE t (x)")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    (tmp_path / "in.jsonl").write_text('{"prompt": "a", "completion": "b"}\n', encoding="utf-8")
    (tmp_path / "text.sqlite").write_text("not a database, just text\n", encoding="utf-8")
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2
    last = err.splitlines()[-1]
    assert message in last and last.startswith("hl-notebook ") and ": error: " in last
    assert "Traceback" not in err  # at most argparse's usage lines, then the error
    assert all(line.startswith(("usage: ", " ")) for line in err.splitlines()[:-1])


def test_unreadable_files_and_stores_are_named_not_a_traceback(filled, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"prompt": "a", "completion": "b"}\n', encoding="utf-8")
    prefix = unreadable(source)
    unreadable(filled)
    for args, message in [
        (["import", str(source), "--store", str(tmp_path / "s.sqlite")], "cannot read"),
        (["stats", "--store", str(filled)], "cannot read store"),
    ]:
        out = run(*args, prefix=prefix)
        err = out.stderr.decode().strip()
        assert out.returncode == 2, (args, err)
        assert message in err and "Permission denied" in err and "\n" not in err and "Traceback" not in err


def test_an_export_that_fails_leaves_no_file_behind(tmp_path, capsys):
    store = tmp_path / "empty.sqlite"
    hl.Store(store).close()
    target = tmp_path / "out.jsonl"
    assert main(["export", "--store", str(store), "-f", "trl", "-o", str(target)]) == 2
    assert "no usable rows" in capsys.readouterr().err
    assert not target.exists() and not (tmp_path / "out.jsonl.partial").exists()


def test_ctrl_c_exits_130_without_a_traceback(tmp_path):
    proc = subprocess.Popen([*CLI, "import", "-", "--format", "jsonl", "--store", str(tmp_path / "s.sqlite")],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b'{"prompt": "a", "completion": "b"}\n')
    proc.stdin.flush()
    time.sleep(3)  # let it start and block reading stdin (no timing is asserted)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert b"Traceback" not in err and b"interrupted" in err


def test_a_closed_pipe_ends_quietly(tmp_path):
    store = tmp_path / "big.sqlite"
    with hl.Store(store) as s:
        s.log_many(hl.datasets.load_sample("hh_harmless"))  # ~300 kB of JSONL, more than a pipe holds
    proc = subprocess.Popen([*CLI, "export", "--store", str(store), "-f", "jsonl"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.read(100)
    proc.stdout.close()  # like `| head -c 100`
    err = proc.stderr.read()
    assert proc.wait(timeout=60) == 0 and b"Traceback" not in err and b"Exception ignored" not in err


# -- export counts -------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "openai-sft", "openai-dpo", "trl"])
def test_export_says_how_many_records_it_wrote(fmt, tmp_path, capsys):
    store = tmp_path / "labelled.sqlite"
    with hl.Store(store) as s:
        s.log_many(hl.datasets.load_sample("hh_harmless").head(40))  # 20 pairs of 👍 and 👎
    target = tmp_path / f"out.{fmt}"
    assert main(["export", "--store", str(store), "-f", fmt, "-o", str(target)]) == 0
    last = capsys.readouterr().err.strip().splitlines()[-1]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        written = pq.read_table(target).num_rows
    elif fmt == "csv":
        import csv

        with open(target, newline="", encoding="utf-8") as fh:
            written = len(list(csv.reader(fh))) - 1
    else:
        written = len(target.read_text(encoding="utf-8").splitlines())
    unit = "logs" if fmt in ("jsonl", "csv", "parquet") else "examples"
    assert last == f"exported {written} {unit}" + (" (from 40 logs)" if unit == "examples" else "") + f" to {target}"
    assert written == (40 if unit == "logs" else 20)


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


# -- demo ----------------------------------------------------------------------------------------


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


def test_demo_copies_the_quickstart_and_the_tracked_notebook_is_untouched(tmp_path):
    from hl_notebook._cli.demo import DEMO_FOLDER, companions, demo_folder, prepare_copy

    tracked = ROOT / "examples" / "quickstart.ipynb"
    before = (tracked.read_bytes(), tracked.stat().st_mtime_ns)
    assert companions(tracked) == [ROOT / "tests" / "openai_server.py"]  # its cell imports ../tests/...

    folder = demo_folder(None, tmp_path / "hl_feedback.sqlite")
    assert folder == tmp_path / DEMO_FOLDER  # beside the store
    copy = prepare_copy(tracked, folder)
    assert copy.status == "new" and copy.notebook == folder / "quickstart.ipynb"
    assert copy.notebook.read_bytes() == before[0]
    assert (folder / "openai_server.py").read_bytes() == (ROOT / "tests" / "openai_server.py").read_bytes()
    assert (folder / ".gitignore").read_text(encoding="utf-8").splitlines()[-1] == "*"
    assert str(folder) in copy.describe() and "openai_server.py" in copy.describe()

    copy.notebook.write_text('{"cells": [], "edited": true}', encoding="utf-8")  # the user's work
    again = prepare_copy(tracked, folder)
    assert again.status == "reused" and "--fresh" in again.describe()
    assert copy.notebook.read_text(encoding="utf-8") == '{"cells": [], "edited": true}'
    fresh = prepare_copy(tracked, folder, fresh=True)
    assert fresh.status == "replaced" and copy.notebook.read_bytes() == before[0]

    assert (tracked.read_bytes(), tracked.stat().st_mtime_ns) == before


def test_demo_refuses_to_work_on_the_shipped_notebook_itself(tmp_path):
    from hl_notebook._cli.common import CLIError
    from hl_notebook._cli.demo import prepare_copy

    source = tmp_path / "nb" / "quickstart.ipynb"
    source.parent.mkdir()
    source.write_text("{}", encoding="utf-8")
    with pytest.raises(CLIError, match="pass another --dir so the shipped notebook stays as it is"):
        prepare_copy(source, source.parent)
    assert source.read_text(encoding="utf-8") == "{}"


@pytest.mark.slow
def test_the_demo_copy_runs_outside_the_checkout(tmp_path):
    """The copy's generation cell imports openai_server from beside it, far from tests/."""
    import nbformat
    from nbclient import NotebookClient

    from hl_notebook._cli.demo import prepare_copy

    copy = prepare_copy(ROOT / "examples" / "quickstart.ipynb", tmp_path / "somewhere" / "demo")
    nb = nbformat.read(copy.notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    upto = next(i for i, c in enumerate(code) if "openai_server" in c.source)
    nb.cells = [*code[: upto + 1], nbformat.v4.new_code_cell("import openai_server; print(openai_server.__file__)")]
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(copy.notebook.parent)}}).execute()
    assert nb.cells[-1].outputs[0]["text"].strip() == str(copy.notebook.parent / "openai_server.py")


@pytest.mark.slow
def test_demo_serves_its_copy_and_autosave_never_touches_the_tracked_notebook(tmp_path):
    tracked = ROOT / "examples" / "quickstart.ipynb"
    before = tracked.read_bytes()
    store = tmp_path / "demo.sqlite"
    with socket_port() as port:
        pass
    proc = subprocess.Popen(
        [*CLI, "demo", "--no-browser", "--port", str(port), "--store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=tmp_path,
    )
    printed = []
    try:
        url = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            printed.append(line)
            if line.startswith("URL: "):
                url = line[5:].strip()
                break
        assert url and url.startswith(f"http://127.0.0.1:{port}/lab/tree/quickstart.ipynb?token="), printed
        copy = tmp_path / "hl-notebook-demo" / "quickstart.ipynb"
        assert any(str(copy) in line for line in printed)
        token = url.split("token=")[1]
        api = f"http://127.0.0.1:{port}/api/contents/quickstart.ipynb?token={token}"
        with urllib.request.urlopen(api, timeout=30) as r:
            model = json.loads(r.read())
        assert model["type"] == "notebook"
        # what JupyterLab's autosave does after a run: write the notebook back with outputs
        model["content"]["cells"][1]["outputs"] = [
            {"output_type": "stream", "name": "stdout", "text": "600 logs in the store\n"}]
        body = json.dumps({"type": "notebook", "format": "json", "content": model["content"]}).encode()
        request = urllib.request.Request(api, data=body, method="PUT",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "600 logs in the store" in copy.read_text(encoding="utf-8")
    assert tracked.read_bytes() == before
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


def test_the_cli_prints_only_through_its_escaping_output():
    """A new command cannot print data raw by accident: print() lives in output.py alone."""
    folder = ROOT / "hl_notebook" / "_cli"
    offenders = [
        f"{path.name}:{number}" for path in folder.glob("*.py") if path.name != "output.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if re.search(r"\bprint\(|sys\.std(out|err)\.write\(", line)
    ]
    assert not offenders


def test_a_warning_from_a_command_is_one_escaped_line(capsys):
    import argparse
    import warnings

    from hl_notebook._cli.main import _run

    def command(args):
        warnings.warn(f"{HOSTILE['clear']}/mnt/share/s.sqlite: SQLite refused WAL mode", UserWarning, stacklevel=1)
        return 0

    assert _run(argparse.Namespace(func=command), "hl-notebook stats") == 0
    err = capsys.readouterr().err
    assert err == "hl-notebook stats: warning: \\x1b[2J\\x1b[H/mnt/share/s.sqlite: SQLite refused WAL mode\n"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="/dev/full is a Linux device")
def test_a_full_disk_is_one_line_not_a_traceback(filled):
    with open("/dev/full", "wb") as full:
        out = subprocess.run([*CLI, "stats", "--store", str(filled)], stdout=full, stderr=subprocess.PIPE,
                             timeout=120)
    assert out.returncode == 1
    assert out.stderr.decode().strip() == "hl-notebook stats: error: No space left on device."
