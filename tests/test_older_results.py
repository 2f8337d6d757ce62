"""Folders written by an older globmed still work: a data folder and a results folder written by the code of
GLOBMED_OLDER_SRC (a checkout of an earlier commit, e.g. `git archive main | tar -x -C /tmp/older`) are read,
reported, shown by the Space and resumed by this code without sending any request again.

Opt-in (it needs that second checkout): GLOBMED_OLDER_SRC=/tmp/older pytest tests/test_older_results.py"""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import ROOT, SAMPLE_SOURCES, cli_env, run_cli
from tests.test_resume import table

OLDER = os.environ.get("GLOBMED_OLDER_SRC")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not OLDER, reason="set GLOBMED_OLDER_SRC to a checkout of an earlier globmed")]


def test_an_older_results_folder_is_read_reported_and_resumed_without_a_request(openai_server, tmp_path):
    older = cli_env(tmp_path / "hf_home", PYTHONPATH=OLDER)
    this = cli_env(tmp_path / "hf_home", PYTHONPATH=str(ROOT))
    data, out = tmp_path / "data", tmp_path / "out"
    res = run_cli(["data", "build", "--sources", SAMPLE_SOURCES, "--out", data, "--datasets", "medqa,mednli,liveqa",
                   "--languages", "en,sw"], older)
    assert res.returncode == 0, str(res)
    server = openai_server()
    args = ["bench", "run", "--data", data, "--out", out, "--base-url", server.base_url, "--model", "scripted",
            "--datasets", "medqa,mednli,liveqa", "--languages", "en,sw", "--runs", "2", "--concurrency", "4",
            "--no-progress"]
    res = run_cli(args, older)
    assert res.returncode == 0, str(res)
    sent = len(server.chat_requests())
    assert sent == 2 * 2 * (10 + 9 + 8), sent  # items per dataset in the shipped sample, in en and sw
    manifest = json.loads((out / "globmed.json").read_text())
    results = table(out, "results", ())

    res = run_cli(["bench", "report", out, "--rescore"], this)  # re-scored, offline, by this code: the same rows
    assert res.returncode == 0, str(res)
    assert table(out, "results", ()) == results
    assert (out / "report" / "report.md").exists()

    res = run_cli(args, this)  # resumed by this code: every answer is in the store, the evaluation is the same
    assert res.returncode == 0, str(res)
    assert len(server.chat_requests()) == sent
    resumed = json.loads((out / "globmed.json").read_text())
    assert list(resumed["evaluations"]) == list(manifest["evaluations"])
    (evaluation,) = resumed["evaluations"].values()
    assert evaluation["last_run"]["sent"] == 0 and evaluation["last_run"]["cached"] == sent
    assert table(out, "results", ("globmed_version", "started", "finished")) == [
        {k: v for k, v in r.items() if k not in ("globmed_version", "started", "finished")} for r in results]

    from globmed.space.data import load

    loaded = load([str(out)])
    assert not loaded.warnings and len(loaded.sources) == 1 and len(loaded.frame) == len(results)


def test_older_translation_and_distillation_stores_resume_without_a_request(openai_server, tmp_path):
    """The request keys of `globmed translate` and `globmed train distill` are those the older code stored."""
    older = cli_env(tmp_path / "hf_home", PYTHONPATH=OLDER)
    this = cli_env(tmp_path / "hf_home", PYTHONPATH=str(ROOT))
    records, data = tmp_path / "records.jsonl", tmp_path / "data"
    res = run_cli(["data", "records", "--sources", SAMPLE_SOURCES, "--out", records, "--datasets", "mednli"], older)
    assert res.returncode == 0, str(res)
    res = run_cli(["data", "build", "--sources", SAMPLE_SOURCES, "--out", data, "--datasets", "medqa,mednli",
                   "--languages", "en,sw"], older)
    assert res.returncode == 0, str(res)
    server = openai_server()
    runs = {
        "translate": ["translate", "--data", records, "--out", tmp_path / "translated", "--languages", "sw",
                      "--limit", "2", "--model", "scripted", "--base-url", server.base_url, "--no-progress"],
        "distill": ["train", "distill", "--data", data, "--datasets", "medqa,mednli", "--languages", "en,sw",
                    "--split", "test", "--limit", "3", "--backend", "openai", "--base-url", server.base_url,
                    "--model", "teacher", "--translate", "no", "--out", tmp_path / "distill", "--no-progress"],
    }
    for name, args in runs.items():
        before = len(server.chat_requests())
        res = run_cli(args, older)
        assert res.returncode == 0, str(res)
        sent = len(server.chat_requests())
        assert sent > before, name
        res = run_cli(args, this)
        assert res.returncode == 0, str(res)
        assert len(server.chat_requests()) == sent, f"{name}: this code sent requests the older code had answered"
    report = json.loads((tmp_path / "distill" / "report.json").read_text())
    assert report["last_run"]["sent"] == 0 and report["last_run"]["cached"] == report["items"] == 6
