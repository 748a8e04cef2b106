"""hl.finetune and FineTuneJob through the real openai SDK against the loopback server."""

from __future__ import annotations

import json

import openai
import pytest
from finetune_helpers import chat, hh_logs, pref, write_jsonl
from openai_server import LoopbackOpenAI

import hl_notebook as hl

MODEL = "gpt-4o-mini-2024-07-18"


@pytest.fixture
def server():
    with LoopbackOpenAI(finetune={"validate_s": 0.02, "queue_s": 0.02, "step_s": 0.01, "steps": 12}) as s:
        yield s


@pytest.fixture
def train(tmp_path):
    return write_jsonl(tmp_path / "train.jsonl", [chat(i) for i in range(20)])


def bodies(server, path):
    return [r["json"] for r in server.requests if r["method"] == "POST" and r["path"] == path]


def everything_shown(job, *errors) -> str:
    from IPython.lib.pretty import pretty

    return "\n".join([repr(job), job._repr_html_(), pretty(job), job.events().to_string(), *map(str, errors)])


def test_launch_wait_and_inspect_a_job(server, train):
    client = server.client()
    job = hl.finetune(train, model=MODEL, client=client, suffix="hh", hyperparameters={"n_epochs": 3}, seed=1)
    assert job.id.startswith("ftjob-") and job.status == "validating_files"
    (sent,) = bodies(server, "/v1/fine_tuning/jobs")
    assert sent["model"] == MODEL and sent["suffix"] == "hh" and sent["seed"] == 1
    assert sent["method"] == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}
    assert sent["training_file"].startswith("file-")
    assert job.wait(poll_interval=0.02, progress=False) is job
    assert job.status == "succeeded" and job.fine_tuned_model.startswith(f"ft:{MODEL}:hh:")
    events = job.events()
    assert events["created_at"].is_monotonic_increasing
    metrics = job.metrics()
    assert metrics["step"].tolist() == list(range(1, 13)) and metrics["train_loss"].notna().all()
    ckpts = job.checkpoints()
    assert ckpts["step_number"].tolist() == [4, 8, 12] and "train_loss" in ckpts.columns
    html = job._repr_html_()
    assert "<svg" in html and "succeeded" in html and job.fine_tuned_model in html
    assert server.api_key not in everything_shown(job)
    # the new model answers
    reply = client.chat.completions.create(model=job.fine_tuned_model, messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content


def test_dry_run_validates_and_uploads_nothing(server, train):
    job = hl.finetune(train, model=MODEL, client=server.client(), method="supervised", dry_run=True,
                      hyperparameters={"learning_rate_multiplier": 0.5})
    assert job.status == "dry_run" and job.id is None
    assert job.request["method"]["supervised"]["hyperparameters"] == {"learning_rate_multiplier": 0.5}
    assert job.request["training_file"] == "<upload of train.jsonl>"
    assert job.validation_report.ok and job.validation_report.n_examples == 20
    assert "would send" in job._repr_html_() and "estimated cost" in job._text()
    assert server.count("POST") == 0
    with pytest.raises(hl.FineTuneError, match="dry run"):
        job.wait()


def test_dry_run_needs_no_client_or_key(train, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    job = hl.finetune(train, model=MODEL, dry_run=True)
    assert job.status == "dry_run"


def test_invalid_file_is_refused_and_nothing_is_uploaded(server, tmp_path):
    lines = [chat(i) for i in range(12)]
    lines[6] = {"messages": [{"role": "user", "content": "no answer"}]}
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    with pytest.raises(hl.HLValueError, match=r"line 7: \[missing_assistant\]"):
        hl.finetune(path, model=MODEL, client=server.client())
    assert server.count("POST") == 0


def test_dataframe_is_exported_then_launched_as_dpo(server):
    job = hl.finetune(hh_logs(15), model=MODEL, method="dpo", client=server.client(),
                      hyperparameters={"beta": 0.2})
    (sent,) = bodies(server, "/v1/fine_tuning/jobs")
    assert sent["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.2}}}
    assert job._plan["export"].n_train == 15
    assert job.wait(poll_interval=0.02, progress=False).status == "succeeded"


def test_validation_file_is_uploaded_too(server, train, tmp_path):
    valid = write_jsonl(tmp_path / "valid.jsonl", [chat(i) for i in range(100, 104)])
    job = hl.finetune(train, model=MODEL, client=server.client(), validation=valid)
    assert server.count("POST", "/v1/files") == 2
    assert job.refresh()._job.validation_file.startswith("file-")


def test_server_side_failure_raises_with_job_id_and_server_error(server, train):
    server.finetune.update(fail_at="running", error={"code": "quota_exceeded", "message": "Out of training credits.",
                                                     "param": None})
    job = hl.finetune(train, model=MODEL, client=server.client())
    with pytest.raises(hl.FineTuneError, match=f"{job.id} failed \\[quota_exceeded\\]: Out of training credits") as e:
        job.wait(poll_interval=0.02, progress=False)
    assert e.value.job_id == job.id and e.value.code == "quota_exceeded"
    assert job.wait(poll_interval=0.02, progress=False, raise_on_failure=False).status == "failed"
    assert "Out of training credits" in job._repr_html_()
    assert server.api_key not in everything_shown(job, e.value)


def test_server_side_cancellation_is_reported(server, train):
    server.finetune.update(cancel_at_step=3)
    job = hl.finetune(train, model=MODEL, client=server.client())
    with pytest.raises(hl.FineTuneError, match=f"{job.id} was cancelled"):
        job.wait(poll_interval=0.02, progress=False)


def test_user_cancel(server, train):
    server.finetune.update(step_s=1.0)
    job = hl.finetune(train, model=MODEL, client=server.client())
    assert job.cancel().status == "cancelled"
    with pytest.raises(hl.FineTuneError, match="cannot be cancelled"):
        job.cancel()


def test_4xx_on_create_names_the_file_and_shows_the_server_text(server, train):
    with pytest.raises(hl.FineTuneError, match=r"on training file file-\w+ \(train.jsonl\): HTTP 400: Model 'gpt-9' is not "
                                               r"available .*model_not_available") as e:
        hl.finetune(train, model="gpt-9", client=server.client())
    assert server.api_key not in str(e.value)


def test_network_loss_while_waiting_says_how_to_reattach(server, train):
    server.finetune.update(step_s=0.05)
    client = server.client(max_retries=0, timeout=2)
    job = hl.finetune(train, model=MODEL, client=client)
    server.inject("fine_tuning", schedule=["close"] * 50)  # every poll: the connection drops
    with pytest.raises(hl.FineTuneError, match=rf"lost the connection .* {job.id}.*FineTuneJob.attach\('{job.id}'\)") as e:
        job.wait(poll_interval=0.01, progress=False)
    assert e.value.job_id == job.id and server.api_key not in str(e.value)
    server.clear_faults()  # the network is back; the job kept running on the server
    again = hl.FineTuneJob.attach(job.id, client=server.client())
    assert again.wait(poll_interval=0.02, progress=False).status == "succeeded"


def test_attach_unknown_job(server):
    with pytest.raises(hl.FineTuneError, match="no fine-tuning job 'ftjob-nope'"):
        hl.FineTuneJob.attach("ftjob-nope", client=server.client())


def test_wait_timeout_leaves_the_job_running(server, train):
    server.finetune.update(step_s=1.0)
    job = hl.finetune(train, model=MODEL, client=server.client())
    with pytest.raises(hl.FineTuneError, match="stopped waiting .* keeps going"):
        job.wait(poll_interval=0.01, timeout=0.05, progress=False)
    assert job.status in ("validating_files", "queued", "running")


def test_progress_bar_shows_steps_and_loss(server, train, capsys):
    job = hl.finetune(train, model=MODEL, client=server.client())
    job.wait(poll_interval=0.02)
    err = capsys.readouterr().err
    assert job.id in err and "12/12" in err and "loss=" in err and server.api_key not in err


def test_bad_arguments(server, train):
    with pytest.raises(hl.HLValueError, match="Did you mean 'n_epochs'"):
        hl.finetune(train, model=MODEL, hyperparameters={"n_epoch": 3}, dry_run=True)
    with pytest.raises(hl.HLValueError, match="does not take"):
        hl.finetune(train, model=MODEL, hyperparameters={"beta": 0.1}, dry_run=True)
    with pytest.raises(hl.HLValueError, match="Did you mean 'dpo'"):
        hl.finetune(train, model=MODEL, method="dpp", dry_run=True)
    with pytest.raises(hl.HLValueError, match="at most 64"):
        hl.finetune(train, model=MODEL, suffix="x" * 65, dry_run=True)


def test_no_key_in_the_environment_gives_a_clear_error(train, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(hl.HLValueError, match="set OPENAI_API_KEY"):
        hl.finetune(train, model=MODEL)


def test_azure_client_works_through_its_public_methods(server, tmp_path):
    path = write_jsonl(tmp_path / "dpo.jsonl", [pref(i) for i in range(12)])
    client = openai.AzureOpenAI(base_url=server.base_url, azure_ad_token=server.api_key, api_version="2024-10-21")
    job = hl.finetune(path, model=MODEL, method="dpo", client=client)
    assert job.wait(poll_interval=0.02, progress=False).status == "succeeded"
    assert json.dumps(server.requests).count(server.api_key) == 0


def test_long_jobs_page_through_all_events(tmp_path):
    with LoopbackOpenAI(finetune={"validate_s": 0.01, "queue_s": 0.01, "step_s": 0.001, "steps": 240}) as server:
        path = write_jsonl(tmp_path / "t.jsonl", [chat(i) for i in range(20)])
        job = hl.finetune(path, model=MODEL, client=server.client())
        job.wait(poll_interval=0.05, progress=False)
        events = job.events()
        assert job.metrics()["step"].tolist() == list(range(1, 241))
        assert events["message"].is_unique and len(events) > 240
        assert len(job.checkpoints()) == 3
