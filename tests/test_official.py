"""Official translations and the splits the community uses, through a real build.

MedExpQA's release ships the Spanish exam with official English, French and Italian versions; HEAD-QA
ships HEAD_EN beside HEAD. Both are attached by one registry field (`official`) with provenance
"official", which the built rows, the manifest, the dataset card and the bench's results say; machine
translations keep "machine". MedMCQA is published and evaluated on its dev set (validation), PubMedQA
on the 500 official test PMIDs; the registry's `eval_split` is what the bench reads and the card states.
"""

from __future__ import annotations

import io
import json

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from globmed import registry
from globmed.bench.scoring import translation_kind
from globmed.core.datafolder import open_data
from globmed.hub.build import build
from globmed.hub.settings import BuildSettings

from .conftest import headqa_doc, headqa_item, medexpqa_item, medmcqa_item, pubmedqa_item, write_jsonl, write_source

CASES = {  # id -> (question per language, options, correct option)
    1: ({"es": "¿Fármaco de elección en la anafilaxia?", "en": "Drug of choice in anaphylaxis?",
         "fr": "Médicament de choix dans l'anaphylaxie ?", "it": "Farmaco di scelta nell'anafilassi?"}, 1),
    2: ({"es": "¿Dosis de adrenalina IM en adultos: 0,5 mg?", "en": "Adult IM adrenaline dose: 0.5 mg?",
         "fr": "Dose d'adrénaline IM chez l'adulte : 0,5 mg ?", "it": "Dose di adrenalina IM nell'adulto: 0,5 mg?"}, 2),
    3: ({"es": "¿Primera prueba ante sospecha de TEP?", "en": "First test for suspected PE?",
         "fr": "Premier examen en cas de suspicion d'EP ?", "it": "Primo esame nel sospetto di EP?"}, 3),
}


def medexpqa_file(lang: str, wrong_key_for: int | None = None) -> list[dict]:
    return [medexpqa_item(i, q[lang], [f"{lang} option {k}" for k in range(1, 6)],
                          (answer % 5) + 1 if i == wrong_key_for else answer, lang=lang)
            for i, (q, answer) in CASES.items()]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("official")
    src = tmp / "sources"
    for lang in ("es", "en", "fr", "it"):  # the Hub layout; the English file's item 2 has another answer key
        write_source(src, "medexpqa", medexpqa_file(lang, wrong_key_for=2 if lang == "en" else None),
                     path=f"medexpqa/data/{lang}/test.{lang}.casimedicos.rag.jsonl")
    machine = [{"id": f"medexpqa-test-{i}", "question": f"[machine] {q['es']}", "options": [f"m{k}" for k in range(1, 6)]}
               for i, (q, _) in CASES.items()]
    write_jsonl(src / "translations/medexpqa/fr.jsonl", machine)  # replaced by the official French
    write_jsonl(src / "translations/medexpqa/de.jsonl", machine)
    for split in ("train", "dev", "test"):  # question 2 needs an image, in both versions
        write_source(src, "headqa", headqa_doc({"C1": [headqa_item(1, f"¿{split}?", ["uno", "dos", "tres", "cuatro"], 2),
                                                       headqa_item(2, "¿Imagen?", ["a", "b", "c", "d"], 1, image="i.png")]}),
                     path=f"headqa/HEAD/{split}_HEAD.json")
        write_source(src, "headqa", headqa_doc({"C1": [headqa_item(1, f"{split}?", ["one", "two", "three", "four"], 2),
                                                       headqa_item(2, "Image?", ["a", "b", "c", "d"], 1, image="i.png")]}),
                     path=f"headqa/HEAD_EN/{split}_HEAD_EN.json")
    write_source(src, "medmcqa", [medmcqa_item("t1", "Train item?", ["a", "b", "c", "d"], 1)], path="medmcqa/train.json")
    write_source(src, "medmcqa", [medmcqa_item("d1", "Dev item?", ["a", "b", "c", "d"], 2)], path="medmcqa/dev.json")
    write_source(src, "pubmedqa", {"1": pubmedqa_item("Test PMID?", ["C."], "yes"),
                                   "2": pubmedqa_item("Other PMID?", ["C."], "no")}, path="pubmedqa/ori_pqal.json")
    (src / "pubmedqa/test_ground_truth.json").write_text(json.dumps({"1": "yes"}), encoding="utf-8")
    out, log = tmp / "out", io.StringIO()
    result = build(BuildSettings(sources=src, out=out, datasets="medexpqa,headqa,medmcqa,pubmedqa",
                                 languages="all"), console=Console(file=log, width=300))
    return out, result, log.getvalue()


def rows(out, config, split="test"):
    return pq.read_table(out / config / f"{split}-00000-of-00001.parquet").to_pylist()


def test_medexpqa_spanish_source_and_official_translations(built):
    out, result, log = built
    spec = registry.get("medexpqa")
    assert (spec.language, spec.reference_language) == ("es", "es")
    es = rows(out, "medexpqa.es")
    assert [r["question"] for r in es] == [q["es"] for q, _ in CASES.values()]
    assert all("provenance" not in json.loads(r["meta"]) for r in es)
    for lang in ("fr",):
        official = rows(out, f"medexpqa.{lang}")
        assert [r["question"] for r in official] == [q[lang] for q, _ in CASES.values()]
        assert [r["options"] for r in official] == [[f"{lang} option {k}" for k in range(1, 6)]] * 3
        assert [r["answer"] for r in official] == [r["answer"] for r in es]  # keys come from the source
        assert {json.loads(r["meta"])["provenance"] for r in official} == {"official"}
    assert {json.loads(r["meta"])["provenance"] for r in rows(out, "medexpqa.de")} == {"machine"}
    assert "translations/medexpqa/fr.jsonl: not used; the release's official fr translation is" in log
    # Italian is not one of GlobMed's languages (no table in globmed/languages): said, not built
    assert "medexpqa/data/it/test.it.casimedicos.rag.jsonl: no language table for 'it'; skipped" in log
    assert not (out / "medexpqa.it").exists()


def test_official_item_with_another_answer_key_is_listed_not_used(built):
    out, result, _ = built
    assert [r["id"] for r in rows(out, "medexpqa.en")] == ["medexpqa-test-1", "medexpqa-test-3"]
    (problem,) = [p for p in result.translation_problems if p.dataset == "medexpqa"]
    assert (problem.id, problem.language) == ("medexpqa-test-2", "en") and "answer key 'C'" in problem.reason
    assert problem.origin == "medexpqa/data/en/test.en.casimedicos.rag.jsonl:2"


def test_headqa_all_splits_with_the_official_english_version(built):
    out, result, _ = built
    assert result.configs["headqa.es"] == {"train": 1, "validation": 1, "test": 1}
    assert result.configs["headqa.en"] == {"train": 1, "validation": 1, "test": 1}
    (en,) = rows(out, "headqa.en", "validation")
    assert (en["question"], en["options"][1], json.loads(en["meta"])["provenance"]) == ("dev?", "two", "official")
    # the English version of a question screened out in Spanish is passed over, not reported again
    assert [r["check"] for r in result.screening["removed"] if r["dataset"] == "headqa"] == ["needs_image"] * 3
    assert not [p for p in result.translation_problems if p.dataset == "headqa"]


def test_manifest_and_card_say_which_languages_are_human_and_which_machine(built):
    out, _, _ = built
    manifest = json.loads((out / "globmed.json").read_text(encoding="utf-8"))
    assert manifest["datasets"]["medexpqa"]["translations"] == {
        "es": "original", "de": "machine", "en": "official", "fr": "official"}
    assert manifest["datasets"]["medmcqa"]["eval_split"] == "validation"
    card = (out / "README.md").read_text(encoding="utf-8")
    assert "| medexpqa | test (3) | test | es | en, fr | de |" in card
    assert "| headqa | train (1), validation (1), test (1) | test | es | en | - |" in card
    assert "| medmcqa | train (1), validation (1) | validation | en | - | - |" in card
    assert "| pubmedqa | train (1), test (1) | test | en | - | - |" in card
    assert "**pubmedqa:** `test` is the official 500-question test set" in card


def test_bench_reads_the_split_the_registry_names_and_the_translation_kind(built):
    out, _, _ = built
    source = open_data(str(out))
    assert source.choose_split("medmcqa.en", "test") == "validation"  # no test split: the registry's eval split
    assert source.choose_split("medmcqa.en", "train") == "train"      # an explicit split that exists wins
    assert source.choose_split("pubmedqa.en", "test") == "test"
    kinds = {lang: {translation_kind(item, "es", lang) for item in source.items(f"medexpqa.{lang}", "test")}
             for lang in ("es", "en", "de")}
    assert kinds == {"es": {"original"}, "en": {"official"}, "de": {"machine"}}
