"""`globmed demo --offline` (what `make demo-offline` runs) end to end on the shipped sample, in an
80-column terminal: the build with its row-count table, a config loaded back, the bench with a tiny
local model on every language, the per-language table readable, and every shipped translation used
(none rejected by the checks). The real-model demo (`make demo`) is tested in test_real_model.py."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import cli_env, load_config, run_cli

pytestmark = pytest.mark.slow

LANGS = ["en", "zh", "fr", "de", "ja", "ko", "pt", "es", "sw", "wo", "yo", "zu"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    work = tmp_path_factory.mktemp("demo")
    res = run_cli(["demo", "--offline", "--workdir", work / "demo", "--runs", "2"],  # default sources: the packaged sample
                  cli_env(work / "hf_home", COLUMNS="80"), cwd=work, timeout=900)
    assert res.returncode == 0, str(res)
    return work / "demo", res


def test_build_table_and_config_loaded_back(demo):
    folder, res = demo
    assert "Rows per config" in res.stdout and 'load_dataset("globmed", "medqa.zu")' in res.stdout
    assert re.search(r"num_rows: 10\b", res.stdout)
    rows = load_config(folder / "globmed", "medqa.zu")
    assert len(rows) == 10 and {r["language"] for r in rows} == {"zu"}


def test_every_shipped_translation_is_used(demo):
    """The sample's translations into all 11 languages pass the structure checks (units next to CJK
    text included): each language's config has as many rows as the source language's."""
    folder, _ = demo
    report = json.loads((folder / "globmed" / "screening" / "report.json").read_text(encoding="utf-8"))
    assert report["translation_problems"] == []
    import pyarrow.parquet as pq

    from globmed import registry

    built = folder / "globmed"
    rows = {p.name: sum(pq.read_metadata(f).num_rows for f in p.glob("*.parquet"))
            for p in built.iterdir() if p.is_dir() and "." in p.name}
    datasets = {c.split(".")[0] for c in rows}
    assert len(datasets) == 11 and len(rows) == 11 * 12
    for dataset in datasets:
        source = rows[f"{dataset}.{registry.get(dataset).language}"]
        assert source and all(rows[f"{dataset}.{lang}"] == source for lang in LANGS), (dataset, rows)
    sizes = {lang: len(load_config(folder / "globmed", f"medexpqa.{lang}")) for lang in ("en", "ja", "ko", "zh")}
    assert set(sizes.values()) == {8}, sizes


def test_bench_results_and_readable_table(demo):
    folder, res = demo
    results = load_config(folder / "results", "results", split="train")
    assert {r["language"] for r in results} == set(LANGS) and {r["run"] for r in results} == {0, 1}
    table = res.stdout[res.stdout.index("GlobMed-Bench: accuracy"):]
    table = table[:table.index("Long-form QA")]
    for lang in LANGS:  # one row per language, its number whole (no "…" from an over-wide table)
        assert re.search(rf"│ {lang}\s+│\s+\d+\.\d \(\d+%\) │", table), (lang, table)
    assert "…" not in table
    assert (folder / "results" / "report" / "report.md").is_file()
