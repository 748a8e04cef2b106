"""The loopback server's own behaviours, seen through the real openai SDK (its models parse every
response, which is what proves the shapes are right)."""

from __future__ import annotations

import io
import json
import time

import openai
import pytest
from openai_server import LoopbackOpenAI, expected_completion, openai_server_fixture

openai_server = openai_server_fixture()

USER = [{"role": "user", "content": "Fix the grammar: she go home"}]


def _sft_lines(count: int = 12) -> bytes:
    line = {"messages": [{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}
    return b"".join(json.dumps(line).encode() + b"\n" for _ in range(count))


def _dpo_lines(count: int = 12) -> bytes:
    line = {
        "input": {"messages": [{"role": "user", "content": "2+2?"}]},
        "preferred_output": [{"role": "assistant", "content": "4"}],
        "non_preferred_output": [{"role": "assistant", "content": "5"}],
    }
    return b"".join(json.dumps(line).encode() + b"\n" for _ in range(count))


def _upload(client, data: bytes, purpose: str = "fine-tune", name: str = "train.jsonl"):
    return client.files.create(file=(name, io.BytesIO(data), "application/jsonl"), purpose=purpose)


def _wait_job(client, job_id: str, *, until=("succeeded", "failed", "cancelled"), timeout: float = 10):
    deadline = time.monotonic() + timeout
    while True:
        job = client.fine_tuning.jobs.retrieve(job_id)
        if job.status in until or time.monotonic() > deadline:
            return job
        time.sleep(0.02)


def test_chat_completion_is_deterministic_with_usage_and_n(openai_server):
    client = openai_server.client()
    resp = client.chat.completions.create(model="gpt-4o-mini", messages=USER, n=3, seed=7)
    assert resp.object == "chat.completion" and resp.model == "gpt-4o-mini"
    assert [c.index for c in resp.choices] == [0, 1, 2]
    for c in resp.choices:
        assert c.message.content == expected_completion(USER, model="gpt-4o-mini", seed=7, index=c.index)
        assert c.finish_reason == "stop"
    assert len({c.message.content for c in resp.choices}) == 3
    assert resp.usage.prompt_tokens > 0 and resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens
    again = client.chat.completions.create(model="gpt-4o-mini", messages=USER, n=3, seed=7)
    assert [c.message.content for c in again.choices] == [c.message.content for c in resp.choices]


def test_max_completion_tokens_cuts_the_text_with_finish_reason_length(openai_server):
    resp = openai_server.client().chat.completions.create(model="gpt-4o-mini", messages=USER, max_completion_tokens=2)
    assert resp.choices[0].finish_reason == "length"
    assert len(resp.choices[0].message.content.split()) == 2


def test_json_response_format_returns_json(openai_server):
    resp = openai_server.client().chat.completions.create(
        model="gpt-4o-mini", messages=USER, response_format={"type": "json_object"}
    )
    assert json.loads(resp.choices[0].message.content)["answer"].endswith("she go home")


def test_unknown_model_is_a_404_in_openai_error_shape(openai_server):
    with pytest.raises(openai.NotFoundError) as info:
        openai_server.client().chat.completions.create(model="gpt-9", messages=USER)
    assert info.value.status_code == 404
    assert info.value.body["code"] == "model_not_found"
    assert "The model `gpt-9` does not exist" in info.value.body["message"]


def test_a_wrong_key_is_a_401_that_never_echoes_the_key(openai_server):
    secret = "sk-FAKE-KEY-THAT-MUST-NOT-LEAK-1234567890"
    with pytest.raises(openai.AuthenticationError) as info:
        openai_server.client(api_key=secret).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert info.value.status_code == 401
    assert secret not in str(info.value) and secret not in json.dumps(info.value.body)
    assert all("authorization" not in r["headers"] for r in openai_server.requests)


def test_models_list_and_retrieve(openai_server):
    client = openai_server.client()
    ids = [m.id for m in client.models.list()]
    assert "gpt-4o-mini" in ids
    assert client.models.retrieve("gpt-4o").id == "gpt-4o"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope")


def test_files_upload_retrieve_content_list_delete(openai_server):
    client = openai_server.client()
    data = _sft_lines(3)
    f = _upload(client, data)
    assert f.object == "file" and f.bytes == len(data) and f.purpose == "fine-tune" and f.filename == "train.jsonl"
    assert client.files.retrieve(f.id).id == f.id
    assert client.files.content(f.id).content == data
    assert f.id in [x.id for x in client.files.list()]
    assert [x.id for x in client.files.list(purpose="batch")] == []
    deleted = client.files.delete(f.id)
    assert deleted.deleted is True
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(f.id)
    assert openai_server.count("POST", "/v1/files") == 1


def test_batch_runs_through_validating_in_progress_finalizing_to_completed():
    with LoopbackOpenAI(batch_phase_s=0.1) as server:
        client = server.client()
        lines = [
            {"custom_id": "ok-1", "method": "POST", "url": "/v1/chat/completions",
             "body": {"model": "gpt-4o-mini", "messages": USER}},
            {"custom_id": "bad-model", "method": "POST", "url": "/v1/chat/completions",
             "body": {"model": "gpt-9", "messages": USER}},
        ]
        f = _upload(client, "".join(json.dumps(x) + "\n" for x in lines).encode(), purpose="batch", name="b.jsonl")
        batch = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        seen = [batch.status]
        deadline = time.monotonic() + 5
        while batch.status != "completed" and time.monotonic() < deadline:
            time.sleep(0.02)
            batch = client.batches.retrieve(batch.id)
            if batch.status != seen[-1]:
                seen.append(batch.status)
        assert seen[0] == "validating" and seen[-1] == "completed"
        assert "in_progress" in seen or "finalizing" in seen
        assert batch.request_counts.total == 2 and batch.request_counts.completed == 1 and batch.request_counts.failed == 1
        out = [json.loads(x) for x in client.files.content(batch.output_file_id).text.splitlines()]
        assert out[0]["custom_id"] == "ok-1"
        assert out[0]["response"]["body"]["choices"][0]["message"]["content"] == expected_completion(USER)
        err = [json.loads(x) for x in client.files.content(batch.error_file_id).text.splitlines()]
        assert err[0]["custom_id"] == "bad-model" and err[0]["response"]["status_code"] == 404
        assert batch.id in [b.id for b in client.batches.list()]


def test_batch_cancel():
    with LoopbackOpenAI(batch_phase_s=5) as server:
        client = server.client()
        f = _upload(client, b'{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {}}\n',
                    purpose="batch")
        batch = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
        assert client.batches.cancel(batch.id).status == "cancelling"
        assert client.batches.retrieve(batch.id).status == "cancelled"


@pytest.mark.parametrize("method", ["supervised", "dpo"])
def test_fine_tuning_job_succeeds_with_metrics_events_checkpoints_and_a_usable_model(method):
    with LoopbackOpenAI(finetune={"step_s": 0.005, "steps": 9}) as server:
        client = server.client()
        f = _upload(client, _sft_lines() if method == "supervised" else _dpo_lines())
        job = client.fine_tuning.jobs.create(
            model="gpt-4o-mini-2024-07-18", training_file=f.id, suffix="mine",
            method={"type": method, method: {"hyperparameters": {"n_epochs": 3}}},
        )
        assert job.status == "validating_files" and job.method.type == method
        job = _wait_job(client, job.id)
        assert job.status == "succeeded"
        assert job.fine_tuned_model.startswith("ft:gpt-4o-mini-2024-07-18:mine:")
        assert job.hyperparameters.n_epochs == 3 and job.trained_tokens and job.result_files
        first = client.fine_tuning.jobs.list_events(job.id, limit=5)
        assert len(first.data) == 5 and first.has_more is True
        events = list(client.fine_tuning.jobs.list_events(job.id, limit=5))  # follows the cursor
        messages = [e.message for e in events]
        assert messages[0] == "The job has successfully completed"
        assert "Files validated, moving job to queued state" in messages
        metrics = [e for e in events if e.type == "metrics"]
        assert [e.data["step"] for e in metrics][::-1] == list(range(1, 10))
        assert all(isinstance(e.data["train_loss"], float) for e in metrics)
        ckpts = list(client.fine_tuning.jobs.checkpoints.list(job.id))
        assert [c.step_number for c in ckpts] == [9, 6, 3]
        assert ckpts[0].metrics.train_loss is not None
        assert job.id in [j.id for j in client.fine_tuning.jobs.list()]
        resp = client.chat.completions.create(model=job.fine_tuned_model, messages=USER)
        assert resp.choices[0].message.content == expected_completion(USER, model=job.fine_tuned_model)


def test_fine_tuning_job_with_a_bad_file_fails_naming_the_line(openai_server):
    client = openai_server.client()
    f = _upload(client, _sft_lines(11) + b"{not json\n")
    job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=f.id, method={"type": "supervised"})
    job = _wait_job(client, job.id)
    assert job.status == "failed" and job.error.code == "invalid_training_file"
    assert "Line 12" in job.error.message


def test_fine_tuning_job_configured_to_fail_or_be_cancelled_server_side():
    with LoopbackOpenAI(finetune={"step_s": 0.005, "fail_at": "running",
                                  "error": {"code": "quota", "message": "Out of quota", "param": None}}) as server:
        client = server.client()
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=_upload(client, _sft_lines()).id)
        job = _wait_job(client, job.id)
        assert job.status == "failed" and job.error.message == "Out of quota"
        server.finetune.update(fail_at=None, error=None, cancel_at_step=3)
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=_upload(client, _sft_lines()).id)
        job = _wait_job(client, job.id)
        assert job.status == "cancelled" and job.fine_tuned_model is None


def test_fine_tuning_cancel_pause_resume_and_bad_create():
    with LoopbackOpenAI(finetune={"step_s": 0.05, "steps": 40}) as server:
        client = server.client()
        fid = _upload(client, _sft_lines()).id
        job = client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file=fid)
        _wait_job(client, job.id, until=("running",))
        assert client.fine_tuning.jobs.pause(job.id).status == "paused"
        step = len([e for e in client.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "metrics"])
        time.sleep(0.2)
        assert len([e for e in client.fine_tuning.jobs.list_events(job.id, limit=100) if e.type == "metrics"]) == step
        assert client.fine_tuning.jobs.resume(job.id).status == "running"
        assert client.fine_tuning.jobs.cancel(job.id).status == "cancelled"
        with pytest.raises(openai.BadRequestError, match="already cancelled"):
            client.fine_tuning.jobs.cancel(job.id)
        with pytest.raises(openai.BadRequestError, match="invalid training_file"):
            client.fine_tuning.jobs.create(model="gpt-4o-mini", training_file="file-nope")
        with pytest.raises(openai.BadRequestError, match="not available for fine-tuning"):
            client.fine_tuning.jobs.create(model="gpt-9", training_file=fid)
        with pytest.raises(openai.NotFoundError):
            client.fine_tuning.jobs.retrieve("ftjob-nope")


def test_injected_429_carries_retry_after_headers_and_the_sdk_retries(openai_server):
    openai_server.inject("chat", schedule=["429", "429"], retry_after_ms=30, retry_after_s=1)
    client = openai_server.client(max_retries=0)
    with pytest.raises(openai.RateLimitError) as info:
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert info.value.response.headers["retry-after-ms"] == "30"
    assert info.value.response.headers["retry-after"] == "1"
    resp = openai_server.client(max_retries=2).chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert resp.choices[0].message.content == expected_completion(USER)
    chat = [r for r in openai_server.requests if r["path"] == "/v1/chat/completions"]
    assert len(chat) == 3 and chat[-1]["headers"]["x-stainless-retry-count"] == "1"


@pytest.mark.parametrize(
    ("fault", "error"),
    [("500", openai.InternalServerError), ("garbage", Exception), ("close", openai.APIConnectionError),
     ("timeout", openai.APITimeoutError)],
)
def test_injected_faults_reach_the_client(openai_server, fault, error):
    openai_server.inject("chat", schedule=[fault], timeout_s=0.5)
    client = openai_server.client(max_retries=0, timeout=0.2)
    with pytest.raises(error):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    # the next request is served normally
    assert openai_server.client().chat.completions.create(model="gpt-4o-mini", messages=USER).choices


def test_latency_and_rates_are_applied(openai_server):
    openai_server.inject("chat", latency=0.1, rates={"500": 1.0})
    client = openai_server.client(max_retries=0)
    t0 = time.perf_counter()
    with pytest.raises(openai.InternalServerError):
        client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert time.perf_counter() - t0 >= 0.1
    with pytest.raises(ValueError, match="unknown fault"):
        openai_server.inject("chat", rates={"418": 1.0})


def test_requests_are_recorded_with_json_bodies(openai_server):
    openai_server.client().chat.completions.create(model="gpt-4o-mini", messages=USER, temperature=0)
    (rec,) = openai_server.requests
    assert rec["method"] == "POST" and rec["path"] == "/v1/chat/completions"
    assert rec["json"]["temperature"] == 0 and rec["json"]["messages"] == USER
    assert openai_server.count("POST", "/v1/files") == 0
