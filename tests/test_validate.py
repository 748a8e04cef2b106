"""validate_finetune_file: the cookbook's checks, line numbers, statistics, and garbage files."""

from __future__ import annotations

import json

import pytest
from finetune_helpers import chat, pref, write_jsonl

import hl_notebook as hl
from hl_notebook._finetune.validate import default_epochs


def kinds(report):
    return {(e.line, e.kind) for e in report.errors}


def test_good_supervised_file_is_ok_with_statistics(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [chat(i) for i in range(60)])
    r = hl.validate_finetune_file(path)
    assert r.ok and r.method == "supervised" and r.n_examples == 60 and not r.errors
    assert r.messages_per_example == {"min": 2, "median": 2.0, "p90": 2.0, "max": 2}
    assert 10 < r.tokens_per_example["median"] < 30
    assert r.epochs == 3 and r.epochs_source == "cookbook default"
    assert r.billable_tokens == sum(hl._finetune.tokens.counter_for(r.model).count_conversations([c["messages"] for c in map(chat, range(60))]))
    assert r.estimated_cost_usd == pytest.approx(r.billable_tokens * 3 * 3.00 / 1e6)
    assert r.tokens_exact is False  # gpt-4o-mini's o200k is not available offline: flagged
    assert "approximate" in repr(r) and "OK" in repr(r)


def test_each_broken_line_gets_its_number_and_kind(tmp_path):
    lines = [chat(i) for i in range(12)]
    lines[1] = '{"messages": [{"role": "user", "content": "hi"}'  # bad JSON
    lines[3] = {"messages": [{"role": "user", "content": "no reply"}]}
    lines[5] = {"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}
    lines[7] = {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "y"}]}
    lines[8] = {"messages": [{"role": "user", "contnet": "x"}, {"role": "assistant", "content": "y"}]}
    lines[9] = {"messages": []}
    lines[10] = [1, 2]
    r = hl.validate_finetune_file(write_jsonl(tmp_path / "t.jsonl", lines))
    assert not r.ok
    k = kinds(r)
    assert {(2, "invalid_json"), (4, "missing_assistant"), (6, "unknown_role"), (8, "empty_content"),
            (9, "unknown_key"), (9, "missing_content"), (10, "missing_messages"), (11, "not_object")} <= k
    assert (None, "too_few_examples") in k  # only 5 good examples remain
    robot = next(e for e in r.errors if e.kind == "unknown_role")
    assert "'robot'" in robot.message and "assistant" in robot.message
    typo = next(e for e in r.errors if e.kind == "unknown_key")
    assert "Did you mean 'content'" in typo.message
    with pytest.raises(hl.HLValueError, match="line 2: \\[invalid_json\\]"):
        r.raise_if_invalid()
    assert set(r.issues_frame()["severity"]) == {"error"}


def test_over_long_example_is_a_warning_with_its_line(tmp_path):
    lines = [chat(i) for i in range(12)]
    lines[4] = chat(4, answer="word " * 20_000)
    r = hl.validate_finetune_file(write_jsonl(tmp_path / "t.jsonl", lines))
    assert r.ok and r.n_over_token_limit == 1
    w = [x for x in r.warnings if x.kind == "over_token_limit"]
    assert w[0].line == 5 and "truncated" in w[0].message
    assert r.tokens_per_example["max"] > 16_385
    assert r.billable_tokens < 16_385 + 11 * 30  # the long one is capped


def test_dpo_checks(tmp_path):
    lines = [pref(i) for i in range(12)]
    lines[2]["non_preferred_output"] = lines[2]["preferred_output"]
    lines[3]["preferred_output"] = [{"role": "assistant", "content": "a"}, {"role": "assistant", "content": "b"}]
    lines[4]["input"]["messages"].append({"role": "assistant", "content": "already answered"})
    lines[5]["preferred_output"] = [{"role": "user", "content": "x"}]
    lines[6] = chat(6)
    r = hl.validate_finetune_file(write_jsonl(tmp_path / "d.jsonl", lines))
    assert r.method == "dpo" and not r.ok
    assert {(3, "identical_outputs"), (4, "bad_output"), (5, "input_not_user_last"), (6, "bad_output"),
            (7, "wrong_format")} <= kinds(r)
    good = hl.validate_finetune_file(write_jsonl(tmp_path / "g.jsonl", [pref(i) for i in range(12)]), method="dpo")
    assert good.ok and good.n_examples == 12


def test_method_mismatch_and_bad_method(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [chat(i) for i in range(12)])
    r = hl.validate_finetune_file(path, method="dpo")
    assert not r.ok and r.error_counts["wrong_format"] == 12
    with pytest.raises(hl.HLValueError, match="Did you mean 'supervised'"):
        hl.validate_finetune_file(path, method="supervise")
    with pytest.raises(hl.HLValueError, match="is not a file"):
        hl.validate_finetune_file(tmp_path / "missing.jsonl")


def test_empty_file_and_json_array(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"\n  \n")
    r = hl.validate_finetune_file(empty)
    assert not r.ok and kinds(r) == {(None, "empty_file")}
    arr = tmp_path / "array.json"
    arr.write_text(json.dumps([chat(i) for i in range(12)], indent=2))
    r = hl.validate_finetune_file(arr)
    assert not r.ok and [e.kind for e in r.errors] == ["json_array"]
    assert "JSON Lines" in r.errors[0].message


def test_invalid_utf8_line_does_not_hide_the_rest(tmp_path):
    path = tmp_path / "t.jsonl"
    with open(path, "wb") as f:
        for i in range(12):
            f.write(json.dumps(chat(i)).encode() + b"\n")
        f.write(b'{"messages": "\xff\xfe"}\n')
    r = hl.validate_finetune_file(path)
    assert kinds(r) == {(13, "invalid_utf8")} and r.n_examples == 12


def test_a_50_mb_line_is_reported_without_tokenizing_it(tmp_path):
    path = tmp_path / "huge.jsonl"
    with open(path, "w") as f:
        for i in range(11):
            f.write(json.dumps(chat(i)) + "\n")
        f.write(json.dumps(chat(99, answer="x" * 50_000_000)) + "\n")
    r = hl.validate_finetune_file(path)
    assert r.ok and r.n_examples == 12 and r.n_over_token_limit == 1
    assert any(w.line == 12 and w.kind == "over_token_limit" for w in r.warnings)


def test_garbage_bytes_give_errors_not_crashes(tmp_path):
    import random

    rng = random.Random(0)
    path = tmp_path / "garbage.jsonl"
    path.write_bytes(bytes(rng.randrange(256) for _ in range(20_000)))
    r = hl.validate_finetune_file(path)
    assert not r.ok and r.n_examples == 0
    assert r.error_counts.total() >= 1 and len(r.errors) <= 1000


def test_epochs_heuristic_and_price_override(tmp_path):
    assert [default_epochs(n) for n in (1, 10, 33, 34, 1000, 8334, 30_000)] == [25, 10, 3, 3, 3, 2, 1]
    path = write_jsonl(tmp_path / "t.jsonl", [chat(i) for i in range(12)])
    r = hl.validate_finetune_file(path, model="my-local-model", n_epochs=2)
    assert r.estimated_cost_usd is None and "price_per_million" in repr(r) and r.epochs == 2
    r = hl.validate_finetune_file(path, model="my-local-model", price_per_million=10.0)
    assert r.epochs == 8 and r.estimated_cost_usd == pytest.approx(r.billable_tokens * 8 * 10 / 1e6)


def test_duplicates_and_few_examples_warn(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [chat(i) for i in range(12)] + [chat(3)])
    r = hl.validate_finetune_file(path)
    assert r.ok
    assert {(w.line, w.kind) for w in r.warnings} >= {(13, "duplicate"), (None, "few_examples")}
    html = r._repr_html_()
    assert "Warnings (2)" in html and "<script" not in html
