"""What users of lm-eval and lighteval expect: `globmed --version`, `globmed list ...` (what is available
and the file it comes from), the Python API (globmed.data.build, globmed.bench.run, globmed.bench.score:
the README's example is run as written, against a scripted OpenAI-compatible server), and results with a
fixed schema read back with `datasets` (no column typed null, NLI labels as a ClassLabel, the whole prompt
as sent)."""

from __future__ import annotations

import importlib.metadata
import io
import json
import re
import subprocess
import sys
import types

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from rich.console import Console

import globmed
from globmed import languages, registry
from globmed.errors import GlobmedError
from tests.conftest import ROOT, cli_env, gold_responder, load_config


def test_version(cli):
    res = cli("--version")
    assert res.returncode == 0 and res.stdout.strip() == f"globmed {globmed.__version__}"
    assert globmed.__version__ == importlib.metadata.version("globmed")  # the code and the package agree


# -- globmed list ----------------------------------------------------------------------------------------
def listed(cli, what: str, **env: str) -> list[dict]:
    res = cli("list", what, "--json", **env)
    assert res.returncode == 0, str(res)
    return json.loads(res.stdout)


def test_list_datasets_and_languages_name_their_files(cli, tmp_path):
    rows = listed(cli, "datasets")
    assert [r["name"] for r in rows] == registry.names()
    medqa = next(r for r in rows if r["name"] == "medqa")
    assert medqa["file"] == str(ROOT / "globmed" / "registry" / "datasets.yaml")
    assert medqa["source"] == registry.get("medqa").homepage and medqa["task"] == "mcqa"
    assert next(r for r in rows if r["name"] == "mednli")["redistributable"] is False

    # a 13th language from GLOBMED_LANGUAGES_PATH is listed with its own file
    extra = tmp_path / "langs"
    extra.mkdir()
    text = (ROOT / "globmed" / "languages" / "sw.yaml").read_text(encoding="utf-8")
    (extra / "xx.yaml").write_text(re.sub(r"(?m)^code: .*$", "code: xx", text), encoding="utf-8")
    rows = listed(cli, "languages", GLOBMED_LANGUAGES_PATH=str(extra))
    assert [r["code"] for r in rows if r["code"] != "xx"] == languages.codes()
    assert next(r for r in rows if r["code"] == "xx")["file"] == str(extra / "xx.yaml")
    assert next(r for r in rows if r["code"] == "zu") == {**next(r for r in rows if r["code"] == "zu"),
                                                          "resource": "low", "file": str(ROOT / "globmed/languages/zu.yaml")}


def test_list_campaigns_and_recipes(cli):
    campaigns = {c["name"]: c for c in listed(cli, "campaigns")}
    assert set(campaigns) == {p.stem for p in (ROOT / "globmed" / "campaigns").glob("*.yaml")}
    paper = campaigns["paper56"]
    assert paper["models"] == 56 and paper["file"].endswith("globmed/campaigns/paper56.yaml")
    recipes = {r["name"]: r for r in listed(cli, "recipes")}
    assert {"smoke", "qwen3-8b"} <= set(recipes)
    assert recipes["qwen3-8b"]["model"] == "Qwen/Qwen3-8B" and "Qwen3-8B" in recipes["qwen3-8b"]["description"]
    res = cli("list", "recipes")  # the table shows shipped files inside the package
    assert res.returncode == 0 and "globmed/recipes/smoke.yaml" in res.stdout and "Qwen/Qwen3-8B" in res.stdout
    res = cli("list", "models")
    assert res.returncode == 2 and "choose one of datasets, languages, campaigns, recipes" in res.output


# -- the Python API -------------------------------------------------------------------------------------
def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- python-api -->\s*```python\n(.*?)```", text, re.S)
    assert match, "README.md: the Python API example (after <!-- python-api -->) is missing"
    return match.group(1)


def test_the_readme_python_example_runs(openai_server, tmp_path):
    server = openai_server()
    code = readme_example()
    assert 'base_url="http://localhost:8000/v1"' in code
    code = code.replace("http://localhost:8000/v1", server.base_url)
    env = cli_env(tmp_path / "hf_home")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert server.chat_requests()  # the bench really ran against the server
    assert (tmp_path / "globmed" / "README.md").exists() and (tmp_path / "results" / "globmed.json").exists()
    assert "['entailment', 'neutral', 'contradiction']" in out.stdout and "'role': 'system'" in out.stdout


def test_api_takes_the_settings_dataclasses_or_their_fields(sample_data, openai_server, tmp_path):
    import globmed.bench
    from globmed.bench import BenchSettings

    server = openai_server()
    base = dict(data=str(sample_data), backend="openai", base_url=server.base_url, model="m", datasets="medqa",
                languages="en", limit=2, runs=1, progress=False)
    out = globmed.bench.run(BenchSettings(out=tmp_path / "a", **base), console=Console(file=io.StringIO()))
    assert out == tmp_path / "a" and len(server.chat_requests()) == 2
    # keyword settings are converted and checked as CLI flags are ("2" -> 2, a typo is named)
    out = globmed.bench.run(out=str(tmp_path / "b"), console=Console(file=io.StringIO()), **{**base, "runs": "2"})
    assert {r["run"] for r in pq.read_table(out / "results").to_pylist()} == {0, 1}
    with pytest.raises(GlobmedError, match="unknown setting 'runz' \\(did you mean 'runs'\\?\\)"):
        globmed.bench.run(out=str(tmp_path / "c"), runz=1, **base)
    assert globmed.bench.score(out) == {"results": 2, "details": 4}
    import globmed.bench.evaluate  # importing the module that does the work leaves the API function in place
    import globmed.bench.scoring

    assert globmed.bench.evaluate.BenchSettings is BenchSettings
    assert isinstance(globmed.bench.run, types.FunctionType) and isinstance(globmed.bench.score, types.FunctionType)


def test_importing_the_api_is_light():
    code = ("import sys, globmed.bench, globmed.data; "
            "print([m for m in ('globmed.bench.evaluate', 'globmed.bench.scoring', 'globmed.runner', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


# -- results with a fixed schema -----------------------------------------------------------------------
def test_results_have_a_fixed_schema_read_back_with_datasets(sample_data, openai_server, tmp_path):
    """Every column typed even when all of its values are missing (no price, no BERTScore, no revision),
    NLI gold/pred as ClassLabels, and each detail row keeps the system and user messages as sent."""
    import datasets

    from globmed.bench.evaluate import BenchSettings, run_bench
    from globmed.bench.schema import RESULTS

    server = openai_server(responder=gold_responder(sample_data, template="{}"))
    out = tmp_path / "out"

    run_bench(BenchSettings(data=str(sample_data), out=out, backend="openai", base_url=server.base_url, model="m",
                            datasets="medqa,mednli", languages="en,sw", limit=3, runs=1, progress=False),
              Console(file=io.StringIO()))
    for config in ("results", "details.medqa.en", "details.mednli.sw"):
        schema = pq.read_schema(next((out / config).glob("*.parquet")))
        assert not [f.name for f in schema if pa.types.is_null(f.type)], config
    results = datasets.load_dataset(str(out), "results", split="train", cache_dir=str(tmp_path / "cache"))
    assert results.features == RESULTS and len(results) == 4
    assert all(r["cost_usd"] is None and r["bertscore"] is None for r in results)  # typed, and empty
    assert results.features["cost_usd"].dtype == "float64" and results.features["model_revision"].dtype == "string"

    nli = datasets.load_dataset(str(out), "details.mednli.sw", split="train", cache_dir=str(tmp_path / "cache"))
    labels = nli.features["gold"]
    assert isinstance(labels, datasets.ClassLabel) and labels.names == list(registry.get("mednli").labels)
    assert isinstance(nli.features["pred"], datasets.ClassLabel)
    sent = [r["json"]["messages"] for r in server.chat_requests()]
    items = {r["id"]: r for r in load_config(sample_data, "mednli.sw", cache=tmp_path / "cache")}
    for row in nli:
        assert labels.int2str(row["gold"]) == items[row["id"]]["label"]
        assert row["pred"] == row["gold"]  # the scripted server answers the label word itself
        assert [m["role"] for m in row["prompt"]] == ["system", "user"]
        assert row["prompt"][0]["content"] == languages.get("sw").system
        assert row["prompt"] in sent  # exactly the messages the server received
    mcqa = datasets.load_dataset(str(out), "details.medqa.en", split="train", cache_dir=str(tmp_path / "cache"))
    assert mcqa.features["gold"].dtype == "string" and all(r["pred"] in ("A", "B", "C", "D") for r in mcqa)


def test_a_column_without_a_type_is_refused_not_dropped():
    from globmed.bench.schema import RESULTS, details_features, table

    with pytest.raises(GlobmedError, match="results: column\\(s\\) finish_rate have no type"):
        table([{"model": "m", "finish_rate": 0.5}], RESULTS, "results")
    with pytest.raises(GlobmedError, match="gold 'maybe' is not one of the labels"):
        table([{"gold": "maybe"}], details_features("nli", ["entailment", "contradiction"]), "details.bionli.en")
    t = table([{"gold": "contradiction", "pred": None}], details_features("nli", ["entailment", "contradiction"]), "x")
    assert t.column("gold").to_pylist() == [1] and t.schema.field("latency").type == pa.float64()
