"""The optional judge (globmed.bench.judge) through the real CLI against the loopback OpenAI-compatible
server (tests/support/openai_server.py): one server plays the evaluated model and the judge."""

from __future__ import annotations

import json
import re

import pyarrow.parquet as pq
import pytest
from datasets import ClassLabel, Features

from globmed.bench.judge import SYSTEM, read_verdict
from globmed.core.resultsfolder import ResultsFolder


def _rows(folder):
    """Rows of a details config with its class labels (NLI pred, pred_judge, gold) as names."""
    table = pq.read_table(folder)
    labels = {k: f for k, f in Features.from_arrow_schema(table.schema).items() if isinstance(f, ClassLabel)}
    return [{**r, **{k: None if r[k] is None else f.int2str(r[k]) for k, f in labels.items()}} for r in table.to_pylist()]


UNREADABLE = "Hmm, the mystery option with the big heart."  # no rule reads this


def responder(messages, body):
    prompt = messages[-1]["content"]
    if messages[0]["content"] == SYSTEM:  # the judge: reads the shown response
        shown = re.search(r"<<<\n(.*)\n>>>", prompt, re.S).group(1)
        if "mystery" not in shown:
            return "NONE"
        return "neutral" if "Premise:" in prompt else "**C**"
    is_nli = not re.search(r"^A\. ", prompt, re.M)  # MCQA prompts list lettered options
    if len(prompt) % 2:  # about half the outputs: unreadable by the rules
        return UNREADABLE
    return "Answer: neutral" if is_nli else "The answer is B."


@pytest.mark.slow  # three CLI runs and a served "model"
def test_judge_is_asked_only_about_unparsed_outputs_and_kept_apart(openai_server, sample_data, tmp_path, cli):
    server = openai_server(responder=responder)
    out = tmp_path / "out"
    args = ["--judge", "judge-model", "--judge-base-url", server.base_url]
    res = cli("bench", "run", "--data", sample_data, "--out", out, "--backend", "openai", "--base-url", server.base_url,
              "--model", "babbler", "--datasets", "medqa,mednli", "--languages", "en,sw", "--limit", "4",
              "--runs", "1", "--no-progress", *args)
    assert res.returncode == 0, str(res)
    sent = server.chat_requests()
    judged = [r for r in sent if r["json"]["messages"][0]["content"] == SYSTEM]
    assert {r["json"]["model"] for r in judged} == {"judge-model"}
    details = [row for cfg in ("medqa.en", "medqa.sw", "mednli.en", "mednli.sw") for row in _rows(out / f"details.{cfg}")]
    unparsed = [d for d in details if d["unparsed"]]
    assert 0 < len(unparsed) < len(details)
    assert len(judged) == len(unparsed)  # one question per unparsed output, none about read ones
    for d in details:
        if d["unparsed"]:
            assert d["pred"] is None and d["output"] == UNREADABLE
            assert d["pred_judge"] == ("C" if d["gold"] in "ABCDE" else "neutral")
        else:
            assert d["pred_judge"] is None and d["pred"] in ("B", "neutral")
    # the rules' accuracy and unparsed counts are untouched; the judge's numbers are their own columns
    for r in ResultsFolder(out).read_results():
        cfg = pq.read_table(out / f"details.{r['dataset']}.{r['language']}").to_pylist()
        assert r["unparsed"] == sum(d["unparsed"] for d in cfg) and r["unparsed_judge"] == 0
        assert r["accuracy"] == sum(bool(d["correct"]) for d in cfg) / len(cfg)
        rescued = sum(d["unparsed"] and d["pred_judge"] == d["gold"] for d in cfg)
        assert r["accuracy_judge"] == (sum(bool(d["correct"]) for d in cfg) + rescued) / len(cfg)

    # report --rescore --judge: every answer is in the store, nothing is sent again
    before = len(server.chat_requests())
    res = cli("bench", "report", out, "--rescore", *args)
    assert res.returncode == 0, str(res)
    assert len(server.chat_requests()) == before
    assert "Judge on unparsed outputs" in res.output
    table = json.loads((out / "report" / "judge.json").read_text())
    assert {(t["language"], t["unparsed_after"]) for t in table} == {("en", 0.0), ("sw", 0.0)}
    assert all(t["unparsed_before"] > 0 for t in table)
    # a plain --rescore keeps the stored readings (offline)
    res = cli("bench", "report", out, "--rescore")
    assert res.returncode == 0, str(res)
    again = {d["id"]: d["pred_judge"] for d in pq.read_table(out / "details.medqa.en").to_pylist()}
    assert again == {d["id"]: d["pred_judge"] for d in details[:len(again)]}


def test_read_verdict():
    letters = ["x", "y", "z", "w"]
    assert read_verdict("C", "mcqa", letters) == "C"
    assert read_verdict("**B**", "mcqa", letters) == "B"
    assert read_verdict("NONE", "mcqa", letters) is None and read_verdict("none.", "mcqa", letters) is None
    assert read_verdict("E", "mcqa", letters) is None  # beyond the options
    assert read_verdict("Neutral", "nli", ["entailment", "neutral", "contradiction"]) == "neutral"
    assert read_verdict("", "nli", ["entailment", "neutral"]) is None
