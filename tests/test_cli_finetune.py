"""hl-notebook export --format openai-sft|openai-dpo|trl, validate, finetune and jobs, against a real
OpenAI-compatible server on 127.0.0.1 through the openai SDK (subprocesses where the terminal
matters: a missing key, Ctrl+C, escapes in what the server says)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from finetune_helpers import chat, write_jsonl
from openai_server import LoopbackOpenAI

import hl_notebook as hl
from hl_notebook._cli.main import main

MODEL = "gpt-4o-mini-2024-07-18"
CLI = [sys.executable, "-m", "hl_notebook._cli"]
CORRECTION = "I won't help with that, but here is something safe instead."


def run(*args: str, env: dict[str, str] | None = None, drop: tuple[str, ...] = (),
        cwd=None) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in drop}
    return subprocess.run([*CLI, *args], capture_output=True, timeout=180, cwd=cwd,
                          env={**environ, **(env or {})})


@pytest.fixture
def api(monkeypatch):
    with LoopbackOpenAI(finetune={"validate_s": 0.01, "queue_s": 0.01, "step_s": 0.01}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        yield server


@pytest.fixture
def labelled_store(tmp_path):
    """The shipped HH sample's first 30 pairs (👍 and 👎 on the same prompt), one 👎 corrected."""
    logs = hl.datasets.load_sample("hh_harmless").head(60).copy()
    logs["log_id"] = [f"hh-{i}" for i in range(len(logs))]
    path = tmp_path / "store.sqlite"
    with hl.Store(path) as store:
        store.log_many(logs[["log_id", "prompt", "completion", "label"]])
        corrected = logs.loc[logs["label"] == "👎", "log_id"].iloc[0]
        store.feedback(corrected, correction=CORRECTION)
    return str(path)


def read(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_export_formats_write_openai_and_trl_files(labelled_store, tmp_path, capsys):
    assert main(["export", "--store", labelled_store, "--format", "openai-sft", "-o", str(tmp_path / "s.jsonl")]) == 0
    sft = read(tmp_path / "s.jsonl")
    assert len(sft) == 31 and sft[0]["messages"][-1]["role"] == "assistant"  # 30 👍 and the corrected 👎
    assert any(ex["messages"][-1]["content"] == CORRECTION for ex in sft)
    err = capsys.readouterr().err
    assert "thumbs_down_without_correction" in err
    assert err.strip().splitlines()[-1] == f"exported 31 examples (from 60 logs) to {tmp_path / 's.jsonl'}"
    assert main(["export", "--store", labelled_store, "--format", "openai-dpo", "-o", str(tmp_path / "d.jsonl")]) == 0
    dpo = read(tmp_path / "d.jsonl")
    assert {"input", "preferred_output", "non_preferred_output"} == set(dpo[0])
    assert f"exported {len(dpo)} examples (from 60 logs)" in capsys.readouterr().err
    assert main(["export", "--store", labelled_store, "--format", "trl", "-o", str(tmp_path / "t.jsonl")]) == 0
    trl = read(tmp_path / "t.jsonl")
    assert set(trl[0]) == {"prompt", "chosen", "rejected"}
    assert f"exported {len(trl)} examples (from 60 logs)" in capsys.readouterr().err
    assert main(["validate", str(tmp_path / "d.jsonl")]) == 0
    assert "OK:" in capsys.readouterr().out


def test_export_to_stdout_counts_examples_and_keeps_stdout_for_the_data(labelled_store):
    out = run("export", "--store", labelled_store, "--format", "openai-sft")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.decode().splitlines()
    assert len(lines) == 31 and all(json.loads(line)["messages"] for line in lines)
    assert out.stderr.decode().strip().splitlines()[-1] == "exported 31 examples (from 60 logs) to stdout"


def test_validate_reports_lines_and_exit_code(tmp_path, capsys):
    lines = [chat(i) for i in range(12)]
    lines[2] = "{not json"
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    assert main(["validate", path]) == 1
    out = capsys.readouterr().out
    assert "INVALID" in out and "line 3: [invalid_json]" in out


def test_finetune_dry_run_and_launch_then_jobs(api, tmp_path, capsys):
    path = write_jsonl(tmp_path / "train.jsonl", [chat(i) for i in range(20)])
    assert main(["finetune", path, "--model", MODEL, "--dry-run"]) == 0
    assert "would send" in capsys.readouterr().out and api.count("POST") == 0
    assert main(["finetune", path, "--model", MODEL, "--suffix", "cli", "--wait", "--poll", "0.05"]) == 0
    out = capsys.readouterr()
    job_id = out.out.split()[1]
    assert job_id.startswith("ftjob-") and "training loss=" in out.out  # the events, as they came
    assert out.out.strip().splitlines()[-1].startswith(f"{job_id} succeeded: ft:{MODEL}:cli:")
    assert main(["jobs"]) == 0
    assert job_id in capsys.readouterr().out
    assert main(["jobs", job_id, "--events"]) == 0
    out = capsys.readouterr().out
    assert "succeeded" in out and "training loss=" in out and api.api_key not in out


def test_finetune_refuses_an_invalid_file_with_its_lines(api, tmp_path, capsys):
    lines = [chat(i) for i in range(12)]
    lines[4] = {"messages": [{"role": "user", "content": "no answer"}]}
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    assert main(["finetune", path, "--model", MODEL]) == 1
    assert "line 5: [missing_assistant]" in capsys.readouterr().err and api.count("POST") == 0


def test_server_errors_and_a_failed_job(api, tmp_path, capsys):
    path = write_jsonl(tmp_path / "train.jsonl", [chat(i) for i in range(20)])
    assert main(["finetune", path, "--model", "gpt-9"]) == 1
    assert "is not available for fine-tuning" in capsys.readouterr().err
    assert main(["jobs", "ftjob-missing"]) == 1
    assert "no fine-tuning job 'ftjob-missing'" in capsys.readouterr().err
    api.finetune.update(fail_at="running", error={"code": "server_error", "message": "out of capacity"})
    assert main(["finetune", path, "--model", MODEL, "--wait", "--poll", "0.05"]) == 1
    err = capsys.readouterr().err.strip()
    assert "failed: out of capacity; its events: hl-notebook jobs ftjob-" in err and "\n" not in err


def test_no_api_key_is_a_one_line_hint(tmp_path, monkeypatch, capsys):
    out = run("jobs", drop=("OPENAI_API_KEY",), cwd=tmp_path)
    err = out.stderr.decode().strip()
    assert out.returncode == 2 and out.stdout == b"" and "Traceback" not in err
    assert err == ("hl-notebook jobs: error: no API key: set OPENAI_API_KEY (and OPENAI_BASE_URL for "
                   "another OpenAI-compatible server; any key for one that needs none).")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = write_jsonl(tmp_path / "train.jsonl", [chat(i) for i in range(20)])
    for command in (["jobs", "ftjob-abc"], ["finetune", path, "--model", MODEL]):
        assert main(command) == 2
        assert capsys.readouterr().err.strip() == err.replace("hl-notebook jobs", f"hl-notebook {command[0]}")


def test_an_unreachable_server_or_a_refused_key_is_one_line(api):
    with LoopbackOpenAI() as gone:
        url = gone.base_url  # a port that stops answering once the server closes
    out = run("jobs", env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": "sk-test-unreachable"})
    err = out.stderr.decode().strip()
    assert out.returncode == 1 and "cannot reach http://127.0.0.1:" in err and "OPENAI_BASE_URL" in err
    assert "Traceback" not in err and "\n" not in err
    out = run("jobs", env={"OPENAI_API_KEY": "sk-wrong-key-123456"})
    err = out.stderr.decode().strip()
    assert out.returncode == 1 and "refused the API key" in err and "check OPENAI_API_KEY" in err
    assert "sk-wrong-key-123456" not in err and "Traceback" not in err and "\n" not in err


def test_what_the_server_says_is_shown_escaped(api, tmp_path, capsys):
    path = write_jsonl(tmp_path / "train.jsonl", [chat(i) for i in range(20)])
    assert main(["finetune", path, "--model", MODEL, "--suffix", "x\x1b]52;c;aGk=\x07", "--wait", "--poll", "0.05"]) == 0
    followed = capsys.readouterr()
    api.finetune.update(fail_at="running", error={"code": "e", "message": "boom\x1b[2J\x1b]8;;http://x\x07y"})
    assert main(["finetune", path, "--model", MODEL, "--wait", "--poll", "0.05"]) == 1
    failed = capsys.readouterr()
    failed_id = failed.out.split()[1]
    assert main(["jobs"]) == 0
    listing = capsys.readouterr()
    for out in (followed, failed, listing):
        assert "\x1b" not in out.out + out.err and "\x07" not in out.out + out.err
    assert "x\\x1b]52;c;aGk=\\x07" in listing.out  # the suffix, in the fine-tuned model's name
    assert "boom\\x1b[2J" in failed.err  # the job's error, as the command's last line
    shown = run("jobs", failed_id, "--events")  # what a terminal receives
    assert shown.returncode == 0
    assert b"\x1b" not in shown.stdout + shown.stderr and b"\x07" not in shown.stdout + shown.stderr
    assert "boom\\x1b[2J\\x1b]8;;http://x\\x07y" in shown.stdout.decode()


def test_ctrl_c_while_following_a_job_leaves_it_running(api, tmp_path):
    api.finetune.update(step_s=1.0, steps=600)
    path = write_jsonl(tmp_path / "train.jsonl", [chat(i) for i in range(20)])
    proc = subprocess.Popen([*CLI, "finetune", path, "--model", MODEL, "--wait", "--poll", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline().decode()
    assert first.startswith("started ftjob-"), first
    job_id = first.split()[1]
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and b"Traceback" not in err
    assert f"stopped following {job_id}; the job keeps running".encode() in err
    assert f"hl-notebook jobs {job_id} --events".encode() in err
    status = run("jobs", job_id).stdout.decode()
    assert job_id in status and "succeeded" not in status and "cancelled" not in status
