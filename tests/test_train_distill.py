"""`globmed train distill`: only traces whose final answer matches the gold answer are kept, they are
translated through globmed.translate, the output trains with `train sft --distill-data`, and the run
is crash-safe: kill -9 mid-run, rerun, and no answered request is sent again. Against the scripted
server (deterministic right / wrong / unparsable teacher answers; the translation stages answered by
tests.support.fake_translator) and against `transformers serve` on a tiny model (real HTTP)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from globmed import languages, registry
from globmed.core.datafolder import open_data
from globmed.records import LETTERS
from globmed.tasks import get_task
from tests.support.fake_translator import make_responder, stage_of

from .conftest import BIN, ROOT, cli_env, run_cli

DATASETS = "medqa,mednli,headqa"
LABELS = ["entailment", "neutral", "contradiction"]


@pytest.fixture(scope="module")
def items(sample_data) -> dict[str, dict[str, Any]]:
    """English teacher items by the text that identifies them in a teacher prompt, each with its
    scripted fate: index % 3 == 0 wrong, == 1 unparsable, else right."""
    source = open_data(str(sample_data))
    out = {}
    for dataset in DATASETS.split(","):
        for i, row in enumerate(source.items(f"{dataset}.en", "test")):
            key = row["premise"] if dataset == "mednli" else row["question"]
            fate = ("wrong", "unparsed", "right")[i % 3]
            out[key] = {"dataset": dataset, "id": row["id"], "row": row, "fate": fate}
    return out


def teacher(items: dict[str, dict[str, Any]]):
    translate = make_responder()

    def respond(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
        if stage_of(messages) != "unknown":
            return translate(messages, body)
        prompt = messages[-1]["content"]
        item = next(v for k, v in items.items() if k in prompt)
        row, fate = item["row"], item["fate"]
        if item["dataset"] == "mednli":
            right = row["label"]
            answer = right if fate == "right" else next(lbl for lbl in LABELS if lbl != right)
        else:
            right = row["answer"]
            answer = right if fate == "right" else next(c for c in LETTERS[:len(row["options"])] if c != right)
        if fate == "unparsed":
            return "Step 1: the findings are 5 mg/dL.\nI am not sure which one it is."
        return f"Step 1: the key finding is 5 mg/dL.\nStep 2: so it must be this.\nAnswer: {answer}"

    return respond


def distill_args(data: Path, out: Path, base_url: str, *extra: str) -> list[str]:
    return ["train", "distill", "--data", str(data), "--datasets", DATASETS, "--languages", "en,es,sw",
            "--split", "test", "--backend", "openai", "--base-url", base_url, "--model", "teacher", "--out", str(out),
            "--no-progress", *extra]


def rows(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (out / "distill.jsonl").read_text(encoding="utf-8").splitlines()]


def test_failed_teacher_requests_exit_3_and_a_rerun_completes(openai_server, sample_data, items, tmp_path):
    """Exit status 3 (finished with failed requests), as `bench run`: the dataset and report are written,
    the failed item is left out, and the same command retries exactly it and exits 0."""
    server = openai_server(responder=teacher(items))
    right = next(v for v in items.values() if v["fate"] == "right" and v["dataset"] == "medqa")
    server.fail(right["row"]["question"], 400, times=None)  # not retryable
    out = tmp_path / "distill"
    env = cli_env(tmp_path / "hf_home")
    res = run_cli(distill_args(sample_data, out, server.base_url, "--translate", "no"), env)
    assert res.returncode == 3, str(res)
    assert "1 teacher request(s)" in res.output and "Rerun the same command" in res.output
    report = json.loads((out / "report.json").read_text())
    assert report["last_run"]["errors"] == 1 and (right["dataset"], right["id"]) not in {(r["dataset"], r["id"]) for r in rows(out)}
    server.rules.clear()
    server.reset()
    again = run_cli(distill_args(sample_data, out, server.base_url, "--translate", "no"), env)
    assert again.returncode == 0, str(again)
    assert len(server.chat_requests()) == 1  # only the failed one
    assert (right["dataset"], right["id"]) in {(r["dataset"], r["id"]) for r in rows(out)}


def test_keeps_only_right_answers_translates_and_trains(openai_server, sample_data, items, tmp_path):
    server = openai_server(responder=teacher(items))
    translator = openai_server(responder=make_responder())  # its own model and server, as in the paper (GPT-5)
    out = tmp_path / "distill"
    env = cli_env(tmp_path / "hf_home")
    translation = ["--translate-model", "translator", "--translate-base-url", translator.base_url]
    res = run_cli(distill_args(sample_data, out, server.base_url, "--concurrency", "8", *translation), env)
    assert res.returncode == 0, str(res)
    assert server.chat_requests() and all(stage_of(r["json"]["messages"]) == "unknown" for r in server.chat_requests())
    assert translator.chat_requests() and {r["json"]["model"] for r in translator.chat_requests()} == {"translator"}
    assert all(stage_of(r["json"]["messages"]) != "unknown" for r in translator.chat_requests())
    got = rows(out)
    right = {(v["dataset"], v["id"]) for v in items.values() if v["fate"] == "right"}
    assert {(r["dataset"], r["id"]) for r in got} == right  # exactly the traces with the gold answer
    report = json.loads((out / "report.json").read_text())
    outcomes = {k: sum(d.get(k, 0) for d in report["outcomes"].values()) for k in ("kept", "wrong", "unparsed")}
    assert outcomes == {"kept": len(right), "wrong": sum(v["fate"] == "wrong" for v in items.values()),
                        "unparsed": sum(v["fate"] == "unparsed" for v in items.values())}
    by_id = {(v["dataset"], v["id"]): v for v in items.values()}
    for r in got:
        spec, lang = registry.get(r["dataset"]), languages.get(r["language"])
        task = get_task(spec.task)
        system, user, assistant = r["messages"]
        assert r["language"] in ("en", "es", "sw") and system["content"] == lang.system
        row = open_data(str(sample_data)).items(f"{r['dataset']}.{r['language']}", "test")
        row = next(x for x in row if x["id"] == r["id"])
        assert [system, user] == [dict(m) for m in task.messages(row, lang, spec)]  # the bench prompt, target language
        cue = getattr(lang, spec.task)["answer_cue"]
        assert assistant["content"].endswith(f"{cue} {task.target(row, lang, spec)}")
        assert task.gold(row) == task.gold(by_id[(r["dataset"], r["id"])]["row"]) == r["gold"]
        if r["language"] == "en":
            assert r["trace_language"] == "en" and assistant["content"].startswith("Step 1")
        else:  # translated by the pipeline (the fake translator tags every text with its language)
            assert r["trace_language"] == r["language"] and assistant["content"].startswith(f"[{r['language']}] Step 1")
        assert "5 mg/dL" in assistant["content"]  # numbers and units survive translation
    assert set(report["trace_languages"]) == {r["language"] for r in got}

    assert report["translator"] == {"backend": "openai", "model": "translator", "base_url": translator.base_url}

    # A rerun sends nothing at all: the teacher's answers and every translation stage are in the stores.
    server.reset()
    translator.reset()
    again = run_cli(distill_args(sample_data, out, server.base_url, "--concurrency", "8", *translation), env)
    assert again.returncode == 0, str(again)
    assert server.chat_requests() == [] and translator.chat_requests() == []
    assert rows(out) == got

    # The dataset trains: `train sft --distill-data` reads it (prompt/completion; answer-only loss).
    from globmed.settings import coerce
    from globmed.train.settings import SFTSettings, load_recipe
    from globmed.train.sft import prepare

    settings = coerce(SFTSettings, {**load_recipe("smoke"), "sources": None, "data": str(sample_data),
                                    "distill_data": [str(out / "distill.jsonl")], "output_dir": str(tmp_path / "sft"),
                                    "max_steps": 1, "per_device_train_batch_size": 4, "global_batch_size": 4})
    p = prepare(settings)
    assert p.mix["conversations"] == len(got) and p.mix["kinds"] == {"distill": len(got)}
    assert p.trainer.train().global_step == 1


def stored_prompts(out: Path) -> set[str]:
    """The teacher prompts (user message text) whose responses are in OUT's store."""
    path = out / ".cache" / "requests.sqlite"
    if not path.exists():
        return set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found = db.execute("SELECT p.messages FROM plan l JOIN responses r ON r.key = l.key "
                           "JOIN prompts p ON p.hash = l.prompt_hash").fetchall()
    except sqlite3.Error:
        found = []
    finally:
        db.close()
    return {json.loads(m)[-1]["content"] for (m,) in found}


def test_kill_9_mid_run_then_resume_repeats_no_answered_request(openai_server, sample_data, items, tmp_path):
    server = openai_server(responder=teacher(items), latency=0.25)
    out = tmp_path / "distill"
    env = cli_env(tmp_path / "hf_home")
    args = distill_args(sample_data, out, server.base_url, "--concurrency", "2", "--translate", "no")
    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen([str(BIN / "globmed"), *args], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while len(stored_prompts(out)) < 6:
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "killed.log").read_text()[-3000:]
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    log.close()
    assert proc.returncode == -signal.SIGKILL
    done = stored_prompts(out)
    total = len(items)
    assert 6 <= len(done) < total  # killed mid-run

    server.reset()
    res = run_cli(args, env)
    assert res.returncode == 0, str(res)
    sent = [r["json"]["messages"][-1]["content"] for r in server.chat_requests()]
    assert not set(sent) & done  # nothing answered before the kill is asked again
    assert len(sent) == total - len(done) and len(set(sent)) == len(sent)
    assert stored_prompts(out) == done | set(sent)
    report = json.loads((out / "report.json").read_text())
    assert report["last_run"]["cached"] == len(done) and report["last_run"]["sent"] == total - len(done)
    right = {(v["dataset"], v["id"]) for v in items.values() if v["fate"] == "right"}
    assert {(r["dataset"], r["id"]) for r in rows(out)} == right
    assert {r["trace_language"] for r in rows(out)} == {"en"}  # --translate no: English traces


# ------------------------------------------------------------------------------- transformers serve
@pytest.mark.slow
def test_against_transformers_serve_keeps_exactly_the_right_answers(served, tiny_model, sample_data, tmp_path):
    from globmed.backends import Response
    from globmed.runner import Store
    from globmed.train.distill import teacher_answer

    out = tmp_path / "distill"
    env = cli_env(tmp_path / "hf_home")
    args = ["train", "distill", "--data", str(sample_data), "--datasets", "medqa,mednli", "--languages", "en,sw",
            "--split", "test", "--limit", "3", "--backend", "openai", "--base-url", served + "/v1", "--model", str(tiny_model),
            "--max-tokens", "24", "--translate", "no", "--out", str(out), "--no-progress"]
    res = run_cli(args, env, timeout=300)
    assert res.returncode == 0, str(res)
    report = json.loads((out / "report.json").read_text())
    assert report["items"] == 6 and report["last_run"]["sent"] == 6 and report["last_run"]["errors"] == 0
    # Recompute every verdict from the stored responses: kept == the answers equal to gold.
    source = open_data(str(sample_data))
    eid = _eval_id(out)
    store = Store(out / ".cache" / "requests.sqlite")
    try:
        expected = set()
        for dataset in ("medqa", "mednli"):
            plan = store.plan(eid, dataset, "en")
            assert len(plan) == 3
            rows_by_id = {r["id"]: r for r in source.items(f"{dataset}.en", "test")}
            for item_id, _, key, _ in plan:
                response = Response.from_json(store.get(key))
                assert response.text is not None and response.model  # a real completion from the server
                row = rows_by_id[item_id]
                if teacher_answer(response.text, dataset, row, "en") == get_task(registry.get(dataset).task).gold(row):
                    expected.add((dataset, item_id))
    finally:
        store.close()
    assert {(r["dataset"], r["id"]) for r in rows(out)} == expected
    assert report["kept"] == len(expected)
    again = run_cli(args, env, timeout=300)  # resumes: nothing is sent again
    assert again.returncode == 0, str(again)
    last = json.loads((out / "report.json").read_text())["last_run"]
    assert (last["cached"], last["sent"]) == (6, 0)
    assert {(r["dataset"], r["id"]) for r in rows(out)} == expected


def _eval_id(out: Path) -> str:
    db = sqlite3.connect(f"file:{out / '.cache' / 'requests.sqlite'}?mode=ro", uri=True)
    try:
        (eid,) = {row[0] for row in db.execute("SELECT DISTINCT eval FROM plan").fetchall()}
    finally:
        db.close()
    return eid


def test_the_translator_is_never_the_teacher_by_default(sample_data, tmp_path, cli):
    """Translating needs a translator named on its own (the paper: GPT-5 translating gpt-oss-120B's traces)."""
    res = cli(*distill_args(sample_data, tmp_path / "out", "http://127.0.0.1:9/v1"))
    assert res.returncode != 0 and "--translate-model" in res.output and "GPT-5" in res.output
    assert not (tmp_path / "out").exists()
