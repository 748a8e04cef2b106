"""hl.generate through the real openai SDK against the loopback server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
from openai_server import LoopbackOpenAI, expected_completion, openai_server_fixture

import hl_notebook as hl

openai_server = openai_server_fixture()

FAKE_KEY = "sk-FAKE-hlnb-7f3a9c1e5b2d4f6a8c0e-DO-NOT-LEAK"


def _rows(count: int = 3) -> pd.DataFrame:
    return pd.DataFrame({"text": [f"she go home {i}" for i in range(count)], "id": list(range(count))},
                        index=[f"r{i}" for i in range(count)])


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def _chat_requests(server: LoopbackOpenAI) -> int:
    return server.count("POST", "/v1/chat/completions")


def test_string_template_fills_every_row_and_keeps_the_input_columns(openai_server):
    df = _rows()
    out = hl.generate(df, "Fix the grammar: {text}", model="gpt-4o-mini", client=openai_server.client(),
                      progress=False, seed=1)
    assert list(out.columns[:2]) == ["text", "id"]
    assert list(out.columns[2:]) == list(hl._generate.run.OUTPUT_COLUMNS)
    assert list(out.index) == ["r0", "r1", "r2"]
    assert out["prompt"].tolist() == [f"Fix the grammar: she go home {i}" for i in range(3)]
    for _, row in out.iterrows():
        assert row["messages"] == _user(row["prompt"])
        assert row["completion"] == expected_completion(row["messages"], model="gpt-4o-mini", seed=1)
    assert out["error"].isna().all() and (~out["cached"]).all()
    assert out["params"].tolist() == [{"seed": 1}] * 3
    assert out["finish_reason"].tolist() == ["stop"] * 3
    assert (out["latency_s"] > 0).all() and out["prompt_tokens"].gt(0).all()
    assert out["log_id"].str.startswith("log_").all() and out["log_id"].is_unique
    assert str(out["created_at"].dtype) == "datetime64[us, UTC]"
    assert out["prompt_version"].isna().all()
    assert out.attrs["generate"]["requests"] == 3 and out.attrs["generate"]["errors"] == 0


def test_versions_dict_and_message_templates_with_system(openai_server):
    df = _rows(2)
    template = {
        "v1": "Fix: {text}",
        "v2": [{"role": "system", "content": "You fix grammar."}, {"role": "user", "content": "Text {{literal}}: {text}"}],
    }
    out = hl.generate(df, template, model="gpt-4o-mini", system="Be brief.", client=openai_server.client(),
                      progress=False)
    assert out["prompt_version"].tolist() == ["v1", "v1", "v2", "v2"]
    assert out["text"].tolist() == df["text"].tolist() * 2
    v2 = out.iloc[2]
    assert v2["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "You fix grammar."},
        {"role": "user", "content": "Text {literal}: she go home 0"},
    ]
    assert v2["prompt"] == "Text {literal}: she go home 0"
    assert v2["completion"] == expected_completion(v2["messages"])


def test_n_gives_one_row_per_completion_sharing_tokens_and_cost(openai_server):
    out = hl.generate(_rows(2), "{text}", model="gpt-4o-mini", n=3, client=openai_server.client(), progress=False)
    assert len(out) == 6 and _chat_requests(openai_server) == 2
    first = out.iloc[:3]
    assert first["completion"].tolist() == [expected_completion(first["messages"].iloc[0], index=i) for i in range(3)]
    usage = openai_server.client().chat.completions.create(model="gpt-4o-mini", messages=first["messages"].iloc[0], n=3).usage
    assert first["prompt_tokens"].sum() == pytest.approx(usage.prompt_tokens)
    assert first["completion_tokens"].sum() == pytest.approx(usage.completion_tokens)
    price_in, price_out = hl.PRICES["gpt-4o-mini"]
    assert first["cost_usd"].sum() == pytest.approx((usage.prompt_tokens * price_in + usage.completion_tokens * price_out) / 1e6)


def test_params_pass_through_to_the_request(openai_server):
    out = hl.generate(_rows(1), "{text}", model="gpt-4o-mini", client=openai_server.client(), progress=False,
                      temperature=0, max_completion_tokens=2, response_format={"type": "text"})
    body = openai_server.requests[-1]["json"]
    assert body["temperature"] == 0 and body["max_completion_tokens"] == 2 and body["model"] == "gpt-4o-mini"
    assert out["finish_reason"].iloc[0] == "length"


# -- bad input: clear errors before any request --------------------------------------------


def test_missing_template_field_names_it_and_lists_columns_before_any_request(openai_server):
    with pytest.raises(hl.HLValueError, match=r"uses \{txt\}, but df has no column 'txt'; it has \['text', 'id'\]\. Did you mean \{text\}\?"):
        hl.generate(_rows(), "Fix: {txt}", model="gpt-4o-mini", client=openai_server.client(), progress=False)
    with pytest.raises(hl.HLValueError, match=r"template 'v2'.*no column 'body'"):
        hl.generate(_rows(), {"v1": "{text}", "v2": [{"role": "user", "content": "{body}"}]}, model="gpt-4o-mini",
                    client=openai_server.client(), progress=False)
    assert openai_server.requests == []


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("Fix: {text", r"not a valid template.*literal brace as \{\{"),
        ("JSON like {}", r"positional field \{\}"),
        (42, r"template must be a format string"),
        ([{"role": "robot", "content": "x"}], r"role in"),
        ({}, r"empty dict"),
    ],
)
def test_malformed_templates_are_rejected(openai_server, template, message):
    with pytest.raises(hl.HLValueError, match=message):
        hl.generate(_rows(), template, model="gpt-4o-mini", client=openai_server.client(), progress=False)
    assert openai_server.requests == []


def test_bad_arguments_get_clear_errors(openai_server):
    client = openai_server.client()
    with pytest.raises(hl.HLValueError, match=r"df is empty \(0 rows\)"):
        hl.generate(_rows().iloc[:0], "{text}", model="gpt-4o-mini", client=client)
    with pytest.raises(hl.HLValueError, match=r"needs a pandas DataFrame of inputs; got list"):
        hl.generate(["a", "b"], "{text}", model="gpt-4o-mini", client=client)
    with pytest.raises(hl.HLValueError, match=r"n must be an integer >= 1; got int 0"):
        hl.generate(_rows(), "{text}", model="gpt-4o-mini", n=0, client=client)
    with pytest.raises(hl.HLValueError, match=r"unexpected keyword 'concurency'\. Did you mean concurrency=\?"):
        hl.generate(_rows(), "{text}", model="gpt-4o-mini", client=client, concurency=4)
    with pytest.raises(hl.HLValueError, match=r"model must be a model id"):
        hl.generate(_rows(), "{text}", model="", client=client)
    assert openai_server.requests == []


def test_a_row_with_a_missing_value_is_not_sent_and_the_others_are(openai_server):
    df = pd.DataFrame({"text": ["fine", None, "also fine"]})
    out = hl.generate(df, "{text}", model="gpt-4o-mini", client=openai_server.client(), progress=False)
    assert _chat_requests(openai_server) == 2
    assert out["error"].tolist()[1].startswith("not sent: column 'text' is missing")
    assert out["completion"].notna().tolist() == [True, False, True]


def test_input_columns_named_like_outputs_are_kept_with_an_input_prefix(openai_server):
    df = pd.DataFrame({"prompt": ["hello"], "completion": ["old answer"]})
    out = hl.generate(df, "Say: {prompt}", model="gpt-4o-mini", client=openai_server.client(), progress=False)
    assert out["input_prompt"].tolist() == ["hello"] and out["input_completion"].tolist() == ["old answer"]
    assert out["prompt"].tolist() == ["Say: hello"]


# -- failures per row --------------------------------------------------------------------------


def test_unknown_model_puts_the_servers_404_text_on_every_row(openai_server):
    out = hl.generate(_rows(), "{text}", model="gpt-9", client=openai_server.client(), progress=False)
    assert len(out) == 3 and out["completion"].isna().all()
    assert out["error"].tolist() == [
        "HTTP 404: The model `gpt-9` does not exist or you do not have access to it. (code model_not_found)"
    ] * 3
    assert out.attrs["generate"]["errors"] == 3


def test_429s_are_retried_honouring_retry_after_ms(openai_server):
    openai_server.inject("chat", schedule=["429", "429", "429"], retry_after_ms=40)
    out = hl.generate(_rows(3), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=1,
                      progress=False)
    assert out["error"].isna().all()
    assert _chat_requests(openai_server) == 6
    chat = [r for r in openai_server.requests if r["path"] == "/v1/chat/completions"]
    order = [r["json"]["messages"][0]["content"] for r in chat]
    # a row waiting for its retry frees its slot: the other rows go first
    assert order == [f"she go home {i}" for i in (0, 1, 2, 0, 1, 2)]
    for i in range(3):
        first, retry = [r["time"] for r in chat if r["json"]["messages"][0]["content"] == f"she go home {i}"]
        assert retry - first >= 0.035


def test_retry_after_seconds_header_is_honoured(openai_server):
    openai_server.inject("chat", schedule=["429"], retry_after_ms=None, retry_after_s=1)
    t0 = time.perf_counter()
    out = hl.generate(_rows(1), "{text}", model="gpt-4o-mini", client=openai_server.client(), progress=False)
    assert time.perf_counter() - t0 >= 1.0
    assert out["error"].isna().all() and _chat_requests(openai_server) == 2


def test_a_row_that_keeps_failing_gets_its_error_and_the_others_finish(openai_server):
    openai_server.inject("chat", schedule=["500", "ok", "ok", "500"])  # row 0 fails, then its retry fails
    out = hl.generate(_rows(3), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=1,
                      max_retries=1, progress=False)
    assert out["error"].tolist()[0] == (
        "HTTP 500: The server had an error while processing your request. (after 2 attempts)"
    )
    assert out["completion"].notna().tolist() == [False, True, True]


def test_garbage_response_is_a_row_error(openai_server):
    openai_server.inject("chat", schedule=["garbage"])
    out = hl.generate(_rows(2), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=1,
                      progress=False)
    assert out["error"].iloc[0].startswith("malformed response")
    assert out["completion"].iloc[1] == expected_completion(out["messages"].iloc[1])


def test_closed_connections_are_retried_then_reported(openai_server):
    openai_server.inject("chat", schedule=["close"])
    out = hl.generate(_rows(2), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=1,
                      progress=False)
    assert out["error"].isna().all()
    openai_server.inject("chat", schedule=["close"])
    out = hl.generate(_rows(2).assign(text=["x", "y"]), "{text}", model="gpt-4o-mini",
                      client=openai_server.client(), concurrency=1, max_retries=0, progress=False)
    assert out["error"].iloc[0].startswith("connection error")
    assert out["error"].iloc[1] is None or pd.isna(out["error"].iloc[1])


def test_timeouts_are_reported_per_row(openai_server):
    openai_server.inject("chat", schedule=["timeout"], timeout_s=0.6)
    out = hl.generate(_rows(1), "{text}", model="gpt-4o-mini", client=openai_server.client(timeout=0.2),
                      max_retries=0, progress=False)
    assert out["error"].iloc[0].startswith("timeout")


# -- 401 and the key -------------------------------------------------------------------------


def test_a_bad_key_stops_at_once_with_one_error_carrying_the_rows(openai_server):
    client = openai_server.client(api_key=FAKE_KEY)
    with pytest.raises(hl.GenerationError, match=r"rejected the key \(HTTP 401") as info:
        hl.generate(_rows(200), "{text}", model="gpt-4o-mini", client=client, concurrency=4, progress=False)
    partial = info.value.partial
    assert len(partial) == 200 and partial["completion"].isna().all()
    assert partial["error"].str.contains("401").all()
    assert _chat_requests(openai_server) <= 8  # not one retry per row


def test_a_key_that_expires_mid_run_keeps_the_finished_rows(openai_server, store):
    openai_server.inject("chat", schedule=["ok", "ok", "401"])
    with pytest.raises(hl.GenerationError) as info:
        hl.generate(_rows(10), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=1,
                    store=store, progress=False)
    partial = info.value.partial
    assert partial["completion"].notna().tolist()[:3] == [True, True, False]
    assert partial["error"].iloc[3].startswith("not sent: stopped after the API rejected the key")
    assert sorted(store.to_pandas()["log_id"]) == sorted(partial["log_id"].dropna())


def test_the_api_key_never_appears_in_frame_attrs_store_logs_or_errors(tmp_path, capfd, caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    path = tmp_path / "keys.sqlite"
    with LoopbackOpenAI(api_key=FAKE_KEY) as server:
        store = hl.Store(path)
        server.inject("chat", schedule=["429", "500", "garbage"], retry_after_ms=1)
        out = hl.generate(_rows(4), {"a": "{text}", "b": "B {text}"}, model="gpt-4o-mini", client=server.client(),
                          store=store, max_retries=1, progress=True)
        again = hl.generate(_rows(4), "{text}", model="gpt-9", client=server.client(), store=store, progress=False)
        batch = hl.generate(_rows(2), "{text}", model="gpt-4o-mini", client=server.client(), store=store,
                            batch=True, progress=True)
        store.close()
    with LoopbackOpenAI() as other:  # the fake key is wrong here: a 401
        with pytest.raises(hl.GenerationError) as info:
            hl.generate(_rows(2), "{text}", model="gpt-4o-mini",
                        client=other.client(api_key=FAKE_KEY), progress=False)
    texts = [
        out.to_string(), repr(out), json.dumps(out.attrs, default=str), out.to_json(orient="records", date_format="iso", default_handler=str),
        again.to_string(), batch.to_string(), json.dumps(batch.attrs, default=str),
        str(info.value), repr(info.value), info.value.partial.to_string(), caplog.text,
    ]
    texts += list(capfd.readouterr())
    for text in texts:
        assert FAKE_KEY not in text
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("keys.sqlite"))
    assert raw and FAKE_KEY.encode() not in raw and b"DO-NOT-LEAK" not in raw


# -- store, cache ----------------------------------------------------------------------------


def test_rows_are_logged_with_their_metadata(openai_server, store):
    out = hl.generate(_rows(2), {"v1": "Fix: {text}"}, model="gpt-4o-mini", client=openai_server.client(),
                      store=store, progress=False, seed=5)
    logged = store.to_pandas().set_index("log_id").loc[out["log_id"]]
    assert logged["completion"].tolist() == out["completion"].tolist()
    assert logged["prompt"].tolist() == out["prompt"].tolist()
    assert logged["prompt_version"].tolist() == ["v1", "v1"] and logged["model"].tolist() == ["gpt-4o-mini"] * 2
    assert logged["messages"].iloc[0] == out["messages"].iloc[0]
    assert logged["inputs"].iloc[0] == {"text": "she go home 0", "id": 0}
    meta = logged["metadata"].iloc[0]
    assert meta["params"] == {"seed": 5} and meta["finish_reason"] == "stop"
    assert meta["prompt_tokens"] == out["prompt_tokens"].iloc[0] and meta["cache_key"].startswith("gen1:")
    assert meta["cost_usd"] == pytest.approx(out["cost_usd"].iloc[0]) and meta["latency_s"] > 0


def test_rerunning_is_served_from_the_cache(openai_server, store):
    client = openai_server.client()
    first = hl.generate(_rows(3), "{text}", model="gpt-4o-mini", client=client, store=store, progress=False, seed=2)
    sent = _chat_requests(openai_server)
    again = hl.generate(_rows(3), "{text}", model="gpt-4o-mini", client=client, store=store, progress=False, seed=2)
    assert _chat_requests(openai_server) == sent
    assert again["cached"].all() and not first["cached"].any()
    assert again["log_id"].tolist() == first["log_id"].tolist()
    for col in ("completion", "prompt_tokens", "completion_tokens", "finish_reason", "cost_usd"):
        assert again[col].tolist() == first[col].tolist()
    assert len(store) == 3 and again.attrs["generate"]["spent_usd"] == 0.0
    assert first.attrs["generate"]["spent_usd"] == pytest.approx(first["cost_usd"].sum())
    other = hl.generate(_rows(3), "{text}", model="gpt-4o-mini", client=client, store=store, progress=False, seed=3)
    assert not other["cached"].any() and _chat_requests(openai_server) == sent + 3
    fresh = hl.generate(_rows(3), "{text}", model="gpt-4o-mini", client=client, store=store, cache=False,
                        progress=False, seed=2)
    assert not fresh["cached"].any()


def test_default_store_is_used_when_configured_and_false_logs_nothing(openai_server):
    hl.configure(store=":memory:")
    hl.generate(_rows(2), "{text}", model="gpt-4o-mini", client=openai_server.client(), progress=False)
    assert len(hl.default_store()) == 2
    hl.generate(_rows(2), "x {text}", model="gpt-4o-mini", client=openai_server.client(), store=False, progress=False)
    assert len(hl.default_store()) == 2


def test_errors_are_not_cached(openai_server, store):
    openai_server.inject("chat", schedule=["500"] * 3)
    first = hl.generate(_rows(1), "{text}", model="gpt-4o-mini", client=openai_server.client(), store=store,
                        max_retries=2, progress=False)
    assert first["error"].notna().all()
    again = hl.generate(_rows(1), "{text}", model="gpt-4o-mini", client=openai_server.client(), store=store,
                        progress=False)
    assert again["error"].isna().all() and not again["cached"].any()


# -- prices ----------------------------------------------------------------------------------


def test_cost_uses_the_price_table_and_unknown_models_get_nan(monkeypatch):
    monkeypatch.setattr(hl._generate.prices, "PRICES", dict(hl.PRICES))
    with LoopbackOpenAI(models=("gpt-4o-mini-2024-07-18", "local-llama")) as server:
        out = hl.generate(_rows(1), "{text}", model="gpt-4o-mini-2024-07-18", client=server.client(), progress=False)
        p_in, p_out = hl._generate.prices.PRICES["gpt-4o-mini"]
        row = out.iloc[0]
        assert row["cost_usd"] == pytest.approx((row["prompt_tokens"] * p_in + row["completion_tokens"] * p_out) / 1e6)
        local = hl.generate(_rows(1), "{text}", model="local-llama", client=server.client(), progress=False)
        assert math.isnan(local["cost_usd"].iloc[0])
        hl._generate.prices.set_price("local-llama", input_per_1m=1.0, output_per_1m=2.0)
        local = hl.generate(_rows(1), "y {text}", model="local-llama", client=server.client(), progress=False)
        row = local.iloc[0]
        assert row["cost_usd"] == pytest.approx((row["prompt_tokens"] + 2 * row["completion_tokens"]) / 1e6)
    with pytest.raises(hl.HLValueError, match="output_per_1m must be a price"):
        hl.set_price("x", input_per_1m=1, output_per_1m=-1)


# -- concurrency, progress, interrupts -------------------------------------------------------


def test_works_inside_a_running_event_loop(openai_server):
    async def notebook_cell():
        assert asyncio.get_running_loop().is_running()  # as in a Jupyter cell
        return hl.generate(_rows(4), "{text}", model="gpt-4o-mini", client=openai_server.client(), progress=False)

    # A fresh thread: in-process notebook runs earlier in the session (nbclient) can leave this
    # thread marked as running a loop, which would make asyncio.run itself refuse to start.
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(out=asyncio.run(notebook_cell())))
    worker.start()
    worker.join(60)
    out = result["out"]
    assert out["error"].isna().all() and len(out) == 4


def test_concurrency_is_bounded(openai_server):
    openai_server.inject("chat", latency=0.1)
    t0 = time.perf_counter()
    hl.generate(_rows(12), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=4, progress=False)
    assert time.perf_counter() - t0 >= 0.3  # 12 requests, 4 at a time, 0.1 s each
    starts = sorted(r["time"] for r in openai_server.requests)
    in_flight = max(sum(1 for s in starts if t <= s < t + 0.09) for t in starts)
    assert in_flight <= 4


def test_progress_bar_shows_errors_and_can_be_turned_off(openai_server, capfd):
    hl.generate(_rows(3), "{text}", model="gpt-9", client=openai_server.client())
    err = capfd.readouterr().err
    assert "generate" in err and "3/3" in err and "errors=3" in err
    hl.generate(_rows(3), "{text}", model="gpt-9", client=openai_server.client(), progress=False)
    assert capfd.readouterr().err == ""


def test_keyboard_interrupt_returns_finished_rows_and_marks_the_rest(openai_server, store):
    import _thread
    import threading

    openai_server.inject("chat", latency=0.15)

    def interrupt_once_requests_flow():  # not during imports or set-up: mid-run, like a user
        deadline = time.monotonic() + 20
        while _chat_requests(openai_server) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        _thread.interrupt_main()

    timer = threading.Thread(target=interrupt_once_requests_flow)
    timer.start()
    with pytest.warns(UserWarning, match=r"interrupted: \d+ of 40 rows finished"):
        out = hl.generate(_rows(40), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=2,
                          store=store, progress=False)
    timer.join()
    finished = out["completion"].notna()
    assert 0 < finished.sum() < 40
    assert (out.loc[~finished, "error"] == "interrupted").all()
    assert out.attrs["generate"]["interrupted"] is True
    assert sorted(store.to_pandas()["log_id"]) == sorted(out.loc[finished, "log_id"])
    again = hl.generate(_rows(40), "{text}", model="gpt-4o-mini", client=openai_server.client(), concurrency=8,
                        store=store, progress=False)
    assert again["error"].isna().all() and again["cached"].sum() == finished.sum()


def test_sigint_to_a_running_generate_returns_the_finished_rows(openai_server, tmp_path):
    openai_server.inject("chat", latency=0.2)
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(f"""
        import json, sys, warnings
        import openai, pandas as pd, hl_notebook as hl
        client = openai.OpenAI(base_url={openai_server.base_url!r}, api_key={openai_server.api_key!r})
        df = pd.DataFrame({{"text": [f"row {{i}}" for i in range(200)]}})
        print("started", flush=True)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = hl.generate(df, "{{text}}", model="gpt-4o-mini", client=client, concurrency=2, store=False,
                              progress=False)
        print(json.dumps({{"rows": len(out), "done": int(out.completion.notna().sum()),
                          "interrupted": int((out.error == "interrupted").sum()),
                          "warning": str(caught[0].message) if caught else ""}}), flush=True)
    """))
    env = {**os.environ, "PYTHONPATH": str(Path(hl.__file__).parents[1])}
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)
    assert proc.stdout.readline().strip() == "started"
    deadline = time.monotonic() + 20
    while _chat_requests(openai_server) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["rows"] == 200 and result["done"] >= 2
    assert result["done"] + result["interrupted"] == 200
    assert "Re-run the cell" in result["warning"]


# -- batch -----------------------------------------------------------------------------------


def test_batch_mode_returns_the_same_frame_and_can_be_resumed_by_id(openai_server, store):
    df = _rows(3)
    online = hl.generate(df, "{text}", model="gpt-4o-mini", client=openai_server.client(), store=False,
                         progress=False, seed=4)
    out = hl.generate(df, "{text}", model="gpt-4o-mini", client=openai_server.client(), store=store, batch=True,
                      progress=False, seed=4)
    assert _chat_requests(openai_server) == 3  # only the online run
    assert openai_server.count("POST", "/v1/files") == 1 and openai_server.count("POST", "/v1/batches") == 1
    assert out["completion"].tolist() == online["completion"].tolist()
    assert list(out.columns) == list(online.columns) and out["error"].isna().all()
    batch_id = out.attrs["generate"]["batch_id"]
    assert sorted(store.to_pandas()["log_id"]) == sorted(out["log_id"])
    run = hl.BatchRun(batch_id, client=openai_server.client(), store=store)  # e.g. after a kernel restart
    assert run.status == "completed" and batch_id in repr(run)
    again = run.to_frame()
    assert again["completion"].tolist() == out["completion"].tolist()
    assert again["text"].tolist() == df["text"].tolist()
    cached = hl.generate(df, "{text}", model="gpt-4o-mini", client=openai_server.client(), store=store, batch=True,
                         progress=False, seed=4)
    assert cached["cached"].all() and openai_server.count("POST", "/v1/batches") == 1


def test_batch_rows_that_fail_get_their_error(openai_server):
    out = hl.generate(_rows(2), "{text}", model="gpt-9", client=openai_server.client(), store=False, batch=True,
                      progress=False)
    assert out["error"].str.startswith("HTTP 404: The model `gpt-9` does not exist").all()


def test_batch_run_wait_times_out_with_a_resume_hint_and_can_be_cancelled(openai_server):
    import io

    openai_server.batch_phase_s = 30
    client = openai_server.client()
    line = {"custom_id": "hl-0", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": _user("hi")}}
    f = client.files.create(file=("b.jsonl", io.BytesIO((json.dumps(line) + "\n").encode()), "application/jsonl"),
                            purpose="batch")
    batch = client.batches.create(input_file_id=f.id, endpoint="/v1/chat/completions", completion_window="24h")
    run = hl.BatchRun(batch.id, client=client, store=False)
    with pytest.raises(TimeoutError, match=rf"hl.BatchRun\('{batch.id}'\).wait\(\)"):
        run.wait(poll_interval=0.01, timeout=0.05, progress=False)
    with pytest.raises(hl.HLValueError, match="wait for it first"):
        run.results()
    assert run.cancel().refresh().status == "cancelled"
    frame = run.to_frame()
    assert frame["error"].str.startswith("no result in the batch output").all()


def test_a_store_path_is_opened_logged_to_and_closed(openai_server, tmp_path):
    path = tmp_path / "by_path.sqlite"
    hl.generate(_rows(2), "{text}", model="gpt-4o-mini", client=openai_server.client(), store=str(path),
                progress=False)
    again = hl.generate(_rows(2), "{text}", model="gpt-4o-mini", client=openai_server.client(), store=path,
                        progress=False)
    assert again["cached"].all()
    with hl.Store(path) as s:
        assert len(s) == 2


def test_extra_headers_are_sent_but_never_recorded(openai_server, store):
    out = hl.generate(_rows(1), "{text}", model="gpt-4o-mini", client=openai_server.client(), store=store,
                      progress=False, extra_headers={"X-Org-Token": "tok-SECRET-123"}, timeout=5)
    assert openai_server.requests[-1]["headers"]["x-org-token"] == "tok-SECRET-123"
    assert out["params"].iloc[0] == {}
    assert "tok-SECRET-123" not in out.to_string() + json.dumps(store.to_pandas()["metadata"].tolist())
