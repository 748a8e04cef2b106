"""hl-notebook export --format openai-sft|openai-dpo|trl, validate, finetune and jobs (issue 6)."""

from __future__ import annotations

import json

import pytest
from finetune_helpers import chat, hh_logs, write_jsonl
from openai_server import LoopbackOpenAI

import hl_notebook as hl
from hl_notebook._cli.main import main

MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def api(monkeypatch):
    with LoopbackOpenAI(finetune={"validate_s": 0.01, "queue_s": 0.01, "step_s": 0.01}) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", server.api_key)
        yield server


@pytest.fixture
def labelled_store(tmp_path):
    path = tmp_path / "store.sqlite"
    store = hl.Store(path)
    logs = hh_logs(30)
    store.log_many(logs[["log_id", "prompt", "completion"]])
    store.feedback_many([{"log_id": i, "label": lab} for i, lab in zip(logs["log_id"], logs["label"], strict=False)])
    store.feedback(logs["log_id"][1], correction="I won't help with that, but here is something safe instead.")
    store.close()
    return str(path)


def read(path):
    return [json.loads(line) for line in open(path, encoding="utf-8")]


def test_export_formats_write_openai_and_trl_files(labelled_store, tmp_path, capsys):
    assert main(["export", "--store", labelled_store, "--format", "openai-sft", "-o", str(tmp_path / "s.jsonl")]) == 0
    sft = read(tmp_path / "s.jsonl")
    assert len(sft) == 31 and sft[0]["messages"][-1]["role"] == "assistant"
    assert "thumbs_down_without_correction" in capsys.readouterr().err
    assert main(["export", "--store", labelled_store, "--format", "openai-dpo", "-o", str(tmp_path / "d.jsonl")]) == 0
    dpo = read(tmp_path / "d.jsonl")
    assert {"input", "preferred_output", "non_preferred_output"} == set(dpo[0])
    assert main(["export", "--store", labelled_store, "--format", "trl", "-o", str(tmp_path / "t.jsonl")]) == 0
    assert set(read(tmp_path / "t.jsonl")[0]) == {"prompt", "chosen", "rejected"}
    assert main(["validate", str(tmp_path / "d.jsonl")]) == 0
    assert "OK:" in capsys.readouterr().out


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
    assert main(["finetune", path, "--model", MODEL, "--suffix", "cli", "--wait"]) == 0
    out = capsys.readouterr()
    job_id = out.out.split()[1]
    assert job_id.startswith("ftjob-") and f"ft:{MODEL}:cli:" in out.out
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


def test_server_errors_and_missing_key(api, tmp_path, capsys, monkeypatch):
    path = write_jsonl(tmp_path / "train.jsonl", [chat(i) for i in range(20)])
    assert main(["finetune", path, "--model", "gpt-9"]) == 1
    assert "is not available for fine-tuning" in capsys.readouterr().err
    assert main(["jobs", "ftjob-missing"]) == 1
    assert "no fine-tuning job 'ftjob-missing'" in capsys.readouterr().err
    monkeypatch.delenv("OPENAI_API_KEY")
    assert main(["jobs"]) == 2
    assert "set OPENAI_API_KEY" in capsys.readouterr().err
