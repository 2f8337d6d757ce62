"""Token budgets in generate mode: each task's answer budget for a model that answers at once, 4096 more
for one that reasons first, explicit settings winning; the budget reaches the server, and the results
record it with the finish reasons (the share cut at the budget per language)."""

from __future__ import annotations

import json

import pytest

from globmed.bench.campaign import ModelEntry
from globmed.bench.evaluate import BenchSettings
from globmed.bench.resolve import resolve
from globmed.tasks import REASONING_TOKENS
from tests.conftest import cli_env, gold_responder, load_config, run_cli


def _budget(task: str, meta: dict | None = None, generation: dict | None = None, **settings) -> int:
    entry = ModelEntry(name="m", backend="openai", model="m", meta=meta or {}, generation=generation or {})
    return resolve(entry, BenchSettings(data="d", out="o", model="m", **settings)).generation(task, 0).max_tokens


@pytest.mark.parametrize("task, answer", [("mcqa", 32), ("nli", 32), ("lfqa", 1024)])
def test_each_task_has_its_budget_and_reasoning_adds_room(task, answer):
    assert _budget(task) == answer
    assert _budget(task, meta={"reasoning": True}) == answer + REASONING_TOKENS
    assert _budget(task, reasoning_effort="minimal") == answer + REASONING_TOKENS
    assert _budget(task, reasoning_effort="none") == answer
    # a thinking switch decides over the metadata: Qwen3 with enable_thinking=false answers at once
    assert _budget(task, meta={"reasoning": True}, enable_thinking=False) == answer
    assert _budget(task, generation={"chat_template_kwargs": {"enable_thinking": True}}) == answer + REASONING_TOKENS


def test_explicit_budgets_win():
    assert _budget("mcqa", max_tokens=100) == _budget("nli", max_tokens=100) == 100
    assert _budget("lfqa", max_tokens=100) == 1024  # long-form QA has its own setting
    assert _budget("lfqa", max_tokens_lfqa=300, meta={"reasoning": True}) == 300
    assert _budget("mcqa", generation={"max_tokens": 2048}, max_tokens=100) == 2048  # a campaign's entry wins


def test_the_budget_reaches_the_server_and_the_results_record_the_cuts(openai_server, sample_data, tmp_path):
    """Every answer is right but runs on for 40 words: the scripted server cuts it at max_tokens words
    (finish reason length), the answer is still read, and the results say each one was cut."""
    server = openai_server(responder=gold_responder(sample_data, template="{}\n\n" + "because " * 40))
    out = tmp_path / "out"
    args = ["bench", "run", "--backend", "openai", "--base-url", server.base_url, "--model", "scripted",
            "--data", str(sample_data), "--out", str(out), "--datasets", "medqa,mednli", "--languages", "en,sw",
            "--limit", "2", "--runs", "1", "--no-progress"]
    res = run_cli(args, cli_env(tmp_path / "hf_home"))
    assert res.returncode == 0, str(res)
    bodies = [r["json"] for r in server.chat_requests()]
    assert len(bodies) == 8 and {b["max_tokens"] for b in bodies} == {32}
    rows = load_config(out, "results", split="train")
    assert len(rows) == 4
    for r in rows:
        assert r["max_tokens"] == 32 and json.loads(r["generation"])["max_tokens"] == 32
        assert json.loads(r["finish_reasons"]) == {"length": 2} and r["truncated"] == 2 and r["truncated_rate"] == 1.0
        assert r["accuracy"] == 1.0 and r["unparsed_rate"] == 0.0, (r["dataset"], r["language"])
    assert "100.0 (0%, 100% cut)" in res.stdout and "Finish reasons of generated answers" in res.output
    assert res.stdout.count("│ length 4 │") == 2  # per language (en, sw): 2 datasets x 2 items

    again = run_cli(args[:-1] + ["--no-progress", "--meta", "reasoning=true", "--name", "reasoner"],
                    cli_env(tmp_path / "hf_home"))
    assert again.returncode == 0, str(again)
    assert {r["json"]["max_tokens"] for r in server.chat_requests()[8:]} == {32 + REASONING_TOKENS}
    rows = load_config(out, "results", split="train", cache=tmp_path / "cache-2")  # the folder changed: a fresh cache
    reasoner = [r for r in rows if r["model"] == "reasoner"]
    assert {r["max_tokens"] for r in reasoner} == {32 + REASONING_TOKENS}
    assert all(json.loads(r["finish_reasons"]) == {"stop": 2} for r in reasoner)  # 41 words fit
