"""`globmed translate` over real HTTP against `transformers serve` with a tiny local random model
(globmed.tiny_model): the whole client path (openai SDK -> OpenAI-compatible server -> store) runs, and
since the tiny model writes garbage, every record must end as a recorded failure, never kept."""

from __future__ import annotations

import json

import pytest

from tests.conftest import SAMPLE_SOURCES, cli_env, run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served_records(served, tiny_model, tmp_path_factory):
    """(base_url, model path, records file): the session's tiny model behind `transformers serve`, and
    the sample's medqa + mednli records to translate."""
    root = tmp_path_factory.mktemp("translate-serve")
    records = root / "records.jsonl"
    res = run_cli(["data", "records", "--sources", SAMPLE_SOURCES, "--out", records, "--datasets", "medqa,mednli"],
                  cli_env(root / "hf"))
    assert res.returncode == 0, str(res)
    return served + "/v1", tiny_model, records


def test_real_http_path_records_garbage_as_failures(served_records, tmp_path):
    base_url, model, records = served_records
    out = tmp_path / "out"
    env = cli_env(tmp_path / "hf")
    args = ["translate", "--data", records, "--out", out, "--languages", "sw", "--backend", "openai",
            "--model", model, "--base-url", base_url, "--limit", "2", "--max-tokens", "12", "--max-fix", "1",
            "--concurrency", "2", "--no-progress"]
    res = run_cli(args, env, timeout=600)
    manifest = json.loads((out / "globmed-translate.json").read_text())
    assert res.returncode == (3 if manifest["counts"]["error"] else 0), str(res)  # 3: failed calls, rerun
    assert manifest["pairs"] == 4 and manifest["counts"]["ok"] == 0
    assert manifest["counts"]["failed"] + manifest["counts"]["error"] == 4
    assert manifest["usage"]["calls"] >= 4 * 4 - 4  # draft, review, refine (+ 1 retry) per record, over HTTP
    assert manifest["usage"]["tokens_in"] > 0  # usage comes back from the server
    for dataset in ("medqa", "mednli"):
        for line in (json.loads(x) for x in (out / dataset / "sw.jsonl").read_text().splitlines()):
            assert line["status"] in ("failed", "error") and line["error"]
            assert "question" not in line and "premise" not in line  # nothing kept
            stages = line["trace"]["stages"]
            assert stages[0]["stage"] == "draft" and stages[0]["tokens_out"]  # the model really answered
            if line["status"] == "failed":
                assert [s["stage"] for s in stages] == ["draft", "review", "refine", "refine"]
                assert "structure check failed after 2 refine attempt(s)" in line["error"]
    # A rerun answers everything from the store (same keys), sends nothing new.
    res = run_cli(args, env, timeout=600)
    assert res.returncode == 0, str(res)
    again = json.loads((out / "globmed-translate.json").read_text())
    assert again["usage"]["calls"] == 0 and again["usage"]["cached"] == manifest["usage"]["calls"]
    # `data build` lists the failures and keeps none of them.
    build = tmp_path / "globmed"
    res = run_cli(["data", "build", "--sources", SAMPLE_SOURCES, "--out", build, "--translations", out,
                   "--datasets", "medqa,mednli", "--languages", "en,sw"], env)
    assert res.returncode == 0, str(res)
    report = json.loads((build / "screening" / "report.json").read_text())
    ours = [p for p in report["translation_problems"] if str(out) in p["origin"]]
    assert len(ours) == 4 and all("translation status is" in p["reason"] for p in ours)


def test_ner_model_entities_join_the_glossary(served_records, tmp_path):
    """--ner: a transformers token-classification model from a local folder (here a tiny random BERT whose
    classifier tags every token as an entity) adds its entities to the glossary, marked "ner"."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from globmed.translate.dictionary import Dictionary
    from globmed.translate.ner import NER
    from globmed.translate.pipeline import plan_pairs
    from globmed.translate.settings import TranslateSettings

    _, model, records = served_records
    tok = AutoTokenizer.from_pretrained(model)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=1024, num_labels=2,
                     id2label={0: "O", 1: "B-DISEASE"}, label2id={"O": 0, "B-DISEASE": 1})
    torch.manual_seed(0)
    ner_model = BertForTokenClassification(cfg)
    with torch.no_grad():
        ner_model.classifier.weight.zero_()
        ner_model.classifier.bias.copy_(torch.tensor([0.0, 20.0]))
    folder = tmp_path / "ner"
    ner_model.save_pretrained(folder)
    tok.save_pretrained(folder)
    ner = NER(str(folder))
    text = "Lumbar puncture showed clear CSF with normal glucose."
    entities = ner.entities([text])
    assert entities and all(e in text for e in entities)
    d = Dictionary()
    d.add("lumbar puncture", "sw", "kuchoma uti wa mgongo")
    for e in entities:
        d.add(e, "sw", f"<{e}>")
    settings = TranslateSettings(data=records, out=tmp_path / "x", languages="sw", model="m", datasets="mednli")
    pair = next(p for p in plan_pairs(settings, d, ner, ["sw"]) if "Lumbar puncture" in p.record.premise)
    sources = {g.source for g in pair.glossary}
    assert "ner" in sources and pair.glossary[0].term == "Lumbar puncture"
    ner_terms = [g for g in pair.glossary if g.source == "ner"]
    assert all(g.term in pair.record.premise + pair.record.hypothesis for g in ner_terms)
    assert any(g.translations for g in ner_terms)  # entities found in the dictionary carry its translation
    from globmed.errors import GlobmedError

    with pytest.raises(GlobmedError, match="cannot load a token-classification model"):
        NER(str(tmp_path / "missing"))
