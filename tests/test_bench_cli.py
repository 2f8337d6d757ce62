"""`globmed bench run / compare / report` end to end: the real CLI against scripted servers."""

from __future__ import annotations

import io
import json
import re

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from globmed.bench.evaluate import BenchSettings, run_bench
from globmed.bench.report import compare
from globmed.core.datafolder import open_data
from globmed.core.resultsfolder import ResultsFolder
from globmed.errors import GlobmedError
from tests.conftest import cli_env, gold_responder, run_cli


def test_dry_run_estimates_and_sends_nothing(openai_server, sample_data, tmp_path, cli):
    server = openai_server()
    out = tmp_path / "out"
    res = cli("bench", "run", "--data", sample_data, "--out", out, "--backend", "openai", "--base-url", server.base_url,
              "--model", "scripted", "--datasets", "medqa,mednli", "--languages", "en,sw", "--limit", "3", "--runs", "2",
              "--max-tokens", "100", "--price-input", "3", "--price-output", "15", "--dry-run")
    assert res.returncode == 0, str(res)
    assert server.requests == []  # nothing sent, not even a health check
    assert not (out / ".cache" / "requests.sqlite").exists() and not (out / "results").exists()
    assert "Dry run" in res.output
    row = re.search(r"scripted\s*[│|]\s*([\d,]+)\s*[│|]\s*([\d,]+)\s*[│|]\s*([\d,]+)\s*[│|]\s*([\d,.]+)", res.output)
    assert row, res.output
    requests, tok_in, tok_out, cost = (float(g.replace(",", "")) for g in row.groups())
    assert requests == 2 * 2 * 3 * 2  # datasets x languages x items x runs
    assert tok_out == requests * 100 and tok_in > requests * 50
    assert cost == pytest.approx((tok_in * 3 + tok_out * 15) / 1e6, abs=0.006)


CAMPAIGN = """\
defaults:
  runs: 2
  generation: {max_tokens: 32}
models:
  - name: always-a
    backend: openai
    model: scripted-a
    base_url: ${GM_TEST_URL_A}
    api_key_env: GM_TEST_KEY
    price: {input: 1.0, output: 2.0}
    meta: {access: open-weight, domain: general, reasoning: false, params_b: 8, family: test}
  - name: oracle
    backend: openai
    model: scripted-b
    base_url: ${GM_TEST_URL_B}
    api_key_env: GM_TEST_KEY
    meta: {access: proprietary, domain: medical, reasoning: true, params_b: 70}
"""


@pytest.fixture(scope="module")
def campaign_run(sample_data, tmp_path_factory):
    """Two models (two servers, different responders) evaluated as one campaign job (once per module)."""
    from tests.support.openai_server import OpenAIServer

    tmp = tmp_path_factory.mktemp("campaign")
    with OpenAIServer() as server_a, OpenAIServer(responder=gold_responder(sample_data)) as server_b:
        key = "gm-test-secret-4f1d9c"
        env = cli_env(tmp / "hf_home", GM_TEST_URL_A=server_a.base_url, GM_TEST_URL_B=server_b.base_url,
                      GM_TEST_KEY=key)
        (tmp / "campaign.yaml").write_text(CAMPAIGN)
        out = tmp / "out"
        res = run_cli(["bench", "run", "--data", sample_data, "--out", out, "--models", tmp / "campaign.yaml",
                       "--datasets", "medqa,mednli,headqa", "--languages", "en,es,sw", "--seed", "7", "--no-progress"], env)
        assert res.returncode == 0, str(res)
        yield out, env, key, server_a, server_b


def test_campaign_runs_two_models_as_one_job(campaign_run, sample_data):
    out, env, key, server_a, server_b = campaign_run
    n_requests = 2 * 3 * (10 + 10 + 9)
    assert len(server_a.chat_requests()) == n_requests and len(server_b.chat_requests()) == n_requests
    assert {r["json"]["model"] for r in server_a.chat_requests()} == {"scripted-a"}
    assert {r["json"]["seed"] for r in server_b.chat_requests()} == {7, 8}  # seed + run
    assert not any("temperature" in r["json"] for r in server_a.chat_requests())  # independent samples
    assert all(r["headers"]["authorization"] == f"Bearer {key}" for r in server_a.chat_requests())

    rows = ResultsFolder(out).read_results()
    assert len(rows) == 2 * 9 * 2  # models x configs x runs
    by_model = {m: [r for r in rows if r["model"] == m] for m in ("always-a", "oracle")}
    a, b = by_model["always-a"][0], by_model["oracle"][0]
    assert (a["access"], a["domain"], a["reasoning"], a["params_b"], a["family"]) == ("open-weight", "general", "False", 8.0, "test")
    assert (b["access"], b["domain"], b["reasoning"], b["params_b"]) == ("proprietary", "medical", "True", 70.0)
    assert json.loads(b["meta"]) == {"access": "proprietary", "domain": "medical", "reasoning": True, "params_b": 70}
    assert all(r["accuracy"] == 1.0 and r["unparsed"] == 0 for r in by_model["oracle"])
    assert all(r["cost_usd"] and r["cost_usd"] > 0 for r in by_model["always-a"])
    assert all(r["cost_usd"] is None for r in by_model["oracle"])

    # The reproducibility record of every row.
    revision = open_data(str(sample_data)).revision
    for r in rows:
        assert r["seed"] == 7 + r["run"] and r["data_revision"] == revision and r["data"] == str(sample_data)
        assert re.fullmatch(r"[0-9a-f]{16}", r["prompt_template_hash"])
        gen = json.loads(r["generation"])
        assert gen["max_tokens"] == 32 and gen["temperature"] is None  # default: the model's own sampling
        assert r["temperature"] is None and r["globmed_version"] and r["started"] and r["finished"]
        assert r["decoding"] == "the model's own default sampling (no temperature sent); run r seeded 7 + r"
        assert r["base_url"] in (server_a.base_url, server_b.base_url) and r["errors"] == 0 and r["tokens_in"] > 0
    hashes = {(r["dataset"], r["language"]): r["prompt_template_hash"] for r in by_model["always-a"]}
    assert all(hashes[(r["dataset"], r["language"])] == r["prompt_template_hash"] for r in by_model["oracle"])
    assert hashes[("medqa", "en")] != hashes[("medqa", "sw")] and hashes[("medqa", "en")] != hashes[("mednli", "en")]

    for file in out.rglob("*"):  # the API key is used but written nowhere
        assert not file.is_file() or key.encode() not in file.read_bytes(), file


def test_compare_and_report(campaign_run):
    out, env, *_ = campaign_run
    res = run_cli(["bench", "compare", out, out, "--model-a", "always-a", "--model-b", "oracle"], env)
    assert res.returncode == 0, str(res)
    assert "always-a vs oracle" in res.output and "holm-corrected" in res.output and "p adj" in res.output
    for dataset in ("medqa", "mednli", "headqa"):
        for lang in ("en", "es", "sw"):
            assert re.search(rf"{dataset}\s*[│|]\s*{lang}\s*[│|]\s*\d+", res.output), (dataset, lang)
    p_values = re.findall(r"[│|]\s*(\d(?:\.\d+)?(?:e-\d+)?)\s*[│|]\s*\**\s*[│|]?\s*$", res.stdout, re.M)
    assert p_values and all(0 <= float(p) <= 1 for p in p_values)
    with pytest.raises(GlobmedError, match="two different models"):
        compare(out, out, "oracle", "oracle", console=Console(file=io.StringIO()))

    res = run_cli(["bench", "report", out], env)
    assert res.returncode == 0, str(res)
    report = out / "report"
    markdown = (report / "report.md").read_text()
    assert "| oracle | medqa | sw |" in markdown
    from PIL import Image

    for name in ("accuracy_by_language.png", "accuracy_by_dataset.png", "significance_heatmap.png"):
        data = (report / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and f"({name})" in markdown
        with Image.open(report / name) as img:
            img.verify()
        with Image.open(report / name) as img:
            assert img.size[0] > 300 and img.size[1] > 200
    tests = json.loads((report / "tests.json").read_text())
    assert {t["model"] for t in tests} == {"always-a", "oracle"}
    assert all(0 <= t["p_adj"] <= 1 for t in tests if t["p_adj"] == t["p_adj"])


def test_unparsed_answers_are_counted_not_errors(openai_server, sample_data, tmp_path, cli):
    server = openai_server(responder=lambda messages, body: "zzz qqq xxx")
    out = tmp_path / "out"
    res = cli("bench", "run", "--data", sample_data, "--out", out, "--backend", "openai", "--base-url", server.base_url,
              "--model", "babbler", "--datasets", "medqa,mednli", "--languages", "en,sw", "--limit", "3", "--runs", "1",
              "--no-progress")
    assert res.returncode == 0, str(res)
    rows = ResultsFolder(out).read_results()
    assert len(rows) == 4
    for r in rows:
        assert r["unparsed_rate"] == 1.0 and r["unparsed"] == 3 and r["accuracy"] == 0.0
        assert r["errors"] == 0 and r["error_rate"] == 0.0 and r["answered"] == 3
    details = pq.read_table(out / "details.mednli.sw").to_pylist()
    assert all(d["unparsed"] and d["pred"] is None and d["output"] == "zzz qqq xxx" for d in details)


def test_a_quick_look_then_the_full_run_into_the_same_out(openai_server, sample_data, tmp_path):
    """--limit first, then everything: the full run sends only the rest and scores every item."""
    server = openai_server()
    base = dict(data=str(sample_data), out=tmp_path / "out", model="scripted", base_url=server.base_url,
                datasets="medqa", languages="en", runs=1, progress=False)
    run_bench(BenchSettings(**base, limit=2), Console(file=io.StringIO()))
    assert len(server.chat_requests()) == 2
    run_bench(BenchSettings(**base), Console(file=io.StringIO()))
    assert len(server.chat_requests()) == 10
    (row,) = ResultsFolder(tmp_path / "out").read_results()
    assert row["n"] == 10 and row["answered"] == 10 and row["missing"] == 0
