"""Settings resolved once (globmed.bench.resolve): the evaluation id names every setting that shapes a request
or a score and no other, results written before keep their ids, and a setting that cannot be meant is an error."""

from __future__ import annotations

import hashlib
import json
from dataclasses import fields
from typing import Any

import pytest

from globmed.backends import make_backend
from globmed.bench.campaign import ModelEntry
from globmed.bench.evaluate import BenchSettings
from globmed.bench.resolve import ResolvedRun, entries_from, resolve
from globmed.core.datafolder import DataFolder
from globmed.errors import GlobmedError

BASE = dict(data="d", out="o", backend="openai", model="m", base_url="http://127.0.0.1:9/v1")
TASKS = ["lfqa", "mcqa", "nli"]
DATA = DataFolder("d", None, {}, "local-0123456789abcdef")

# A changed value of each setting that shapes the requests (what is sent, to which model) or the scores.
SHAPING: dict[str, Any] = {
    "backend": "tgi", "model": "other", "name": "shown-as", "base_url": "http://127.0.0.1:10/v1",
    "revision": "abc123", "split": "validation", "temperature": 0.7, "greedy": True, "top_p": 0.9, "seed": 1,
    "max_tokens": 7, "max_tokens_lfqa": 99, "reasoning_effort": "minimal", "enable_thinking": False,
    "mode": "loglik", "bertscore_model": "roberta-large", "meta": ["reasoning=true"],
}
# Settings that shape neither: how many items/runs/configs, how requests are sent, what is only recorded.
NOT_SHAPING: dict[str, Any] = {
    "runs": 2, "datasets": "medqa", "languages": "sw", "limit": 3, "concurrency": 8, "rpm": 60.0, "tpm": 1e5,
    "max_retries": 0, "timeout": 5.0, "deadline": 9.0, "repair": True, "price_input": 1.0,
    "price_output": 2.0, "progress": False, "dry_run": True, "api_key_env": "OTHER_KEY",
    "judge": "j", "judge_backend": "anthropic", "judge_base_url": "http://127.0.0.1:11/v1", "judge_api_key_env": "J",
}
# Not settings of one run: where data and results live (the data's revision is in DATA), which campaign entries.
ELSEWHERE = {"data", "out", "models", "only",
             "bertscore_layers",  # only with bertscore_model (checked with it below)
             "batch_size"}  # the transformers backend's (which needs a model to build; checked below)


def _id(monkeypatch: pytest.MonkeyPatch, data: DataFolder = DATA, **changes: Any) -> str:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OTHER_KEY", "sk-test")
    settings = BenchSettings(**{**BASE, **changes})
    run = resolve(entries_from(settings)[0], settings)
    backend = make_backend(run.entry.backend, run.entry.model, **run.backend_options)
    return run.evaluation_id(backend.identity(), data, TASKS)


def test_every_bench_setting_is_classified():
    """A new setting must be placed: does it shape requests or scores (then the id names it) or not?"""
    assert {f.name for f in fields(BenchSettings)} == set(SHAPING) | set(NOT_SHAPING) | ELSEWHERE


def test_each_setting_that_shapes_a_request_or_a_score_gives_a_new_evaluation_id(monkeypatch):
    base = _id(monkeypatch)
    ids = {name: _id(monkeypatch, **{name: value}) for name, value in SHAPING.items()}
    ids["bertscore_layers"] = _id(monkeypatch, bertscore_model="roberta-large", bertscore_layers=9)
    ids["data_revision"] = _id(monkeypatch, data=DataFolder("d", None, {}, "local-fedcba9876543210"))
    ids["data"] = _id(monkeypatch, data=DataFolder("other/hub-id", None, {}, DATA.revision))
    unchanged = [name for name, eid in ids.items() if eid == base]
    assert not unchanged, f"the evaluation id ignores {unchanged}"
    assert len(set(ids.values())) == len(ids)  # and no two settings collide


def test_campaign_generation_settings_give_a_new_evaluation_id(monkeypatch):
    """What a campaign entry sets for its model (stop, extra body, top-p, ...) names its evaluation too."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = BenchSettings(**BASE)
    identity = {"backend": "openai", "model": "m"}

    def eid(**entry: Any) -> str:
        run = resolve(ModelEntry(name="m", backend="openai", model="m", **entry), settings)
        return run.evaluation_id(identity, DATA, TASKS)

    variants = [eid(), eid(temperature=0.6), eid(generation={"top_p": 0.8}),
                eid(generation={"stop": ["</s>"]}), eid(generation={"extra_body": {"min_p": 0.1}}),
                eid(generation={"token_param": "max_completion_tokens"}), eid(generation={"max_tokens": 64}),
                eid(generation={"chat_template_kwargs": {"enable_thinking": False}})]
    assert len(set(variants)) == len(variants)


def test_settings_that_shape_neither_keep_the_evaluation_id(monkeypatch):
    base = _id(monkeypatch)
    changed = [name for name, value in NOT_SHAPING.items() if _id(monkeypatch, **{name: value}) != base]
    assert not changed, f"the evaluation id changes with {changed}, which shape no request and no score"
    local = dict(BASE, backend="transformers", base_url=None)
    identity = {"backend": "transformers", "model": "m", "revision": None, "dtype": "auto", "chat_template": True}
    batched = [resolve(entries_from(s)[0], s).evaluation_id(identity, DATA, TASKS)
               for s in (BenchSettings(**local), BenchSettings(**local, batch_size=4))]
    assert batched[0] == batched[1]


def _id_before_top_p(run: ResolvedRun, identity: dict[str, Any], data: DataFolder, tasks: list[str]) -> str:
    """The evaluation id as globmed wrote it before the id covered top-p and BERTScore (bench/run.py:eval_id
    at commit 8064106): results written then must keep their ids, or a rerun would start them over."""
    parts = {"name": run.name, "identity": identity, "generation": run.entry.generation, "mode": run.mode,
             "budgets": {task: run.generation(task, 0).max_tokens for task in tasks},
             "temperature": run.temperature, "data": data.ref, "data_revision": data.revision, "split": run.split,
             "seed": run.seed, "enable_thinking": run.enable_thinking, "reasoning_effort": run.reasoning_effort}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


@pytest.mark.parametrize("changes", [{}, {"seed": 4, "greedy": True, "max_tokens": 9}, {"reasoning_effort": "low"},
                                     {"runs": 3, "concurrency": 2}])
def test_runs_that_leave_the_new_settings_unset_keep_the_ids_of_older_results(changes):
    settings = BenchSettings(**{**BASE, **changes})
    entry = ModelEntry(name="q", backend="openai", model="Qwen/Qwen3-8B", temperature=0.7,
                       generation={"top_p": 0.8, "chat_template_kwargs": {"enable_thinking": False}})
    identity = {"backend": "openai", "model": "Qwen/Qwen3-8B", "base_url": "http://127.0.0.1:9/v1", "revision": None}
    for e in (entry, entries_from(settings)[0]):
        run = resolve(e, settings)
        for tasks in (TASKS, ["mcqa"]):
            assert run.evaluation_id(identity, DATA, tasks) == _id_before_top_p(run, identity, DATA, tasks)


def test_a_window_of_zero_is_an_error_not_the_adaptive_one():
    with pytest.raises(ValueError, match="--concurrency must be at least 1"):
        BenchSettings(**BASE, concurrency=0)
    settings = BenchSettings(**BASE)
    assert resolve(entries_from(settings)[0], settings).window is None  # left out: adaptive
    with pytest.raises(GlobmedError, match=r"^m0: concurrency must be a whole number of at least 1, not 0"):
        resolve(ModelEntry(name="m0", backend="openai", model="m", concurrency=0), settings)
    run = resolve(ModelEntry(name="m3", backend="openai", model="m", concurrency=3), BenchSettings(**BASE, concurrency=8))
    assert (run.concurrency, run.window) == (3, 3)  # the entry wins over the command's setting


def test_concurrency_zero_on_the_command_line_is_a_one_line_error(cli, tmp_path):
    res = cli("bench", "run", "--data", tmp_path, "--out", tmp_path / "out", "--model", "m", "--concurrency", "0")
    assert res.returncode == 2, str(res)
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "--concurrency must be at least 1" in lines[0], str(res)
    assert not (tmp_path / "out").exists()  # nothing started
