"""Stage 1: dictionary loading (TSV/CSV/JSONL, errors naming file and line) and term matching (longest
match, whole words, case- and accent-insensitive), the glossary, and glossary coverage."""

from __future__ import annotations

import json

import pytest

from globmed import sample
from globmed.errors import GlobmedError
from globmed.translate.dictionary import Dictionary, GlossaryEntry
from globmed.translate.quality import glossary_coverage


def make(*rows: tuple[str, ...]) -> Dictionary:
    d = Dictionary()
    for row in rows:
        d.add(*row)
    return d


def surfaces(d: Dictionary, text: str, lang: str = "en") -> list[str]:
    return [s for s, _ in d.find(text, lang)]


def test_longest_match_wins_and_matches_do_not_overlap():
    d = make(("myocardial infarction", "sw", "mshtuko wa moyo"), ("infarction", "sw", "infakti"),
             ("acute myocardial infarction", "sw", "mshtuko mkali wa moyo"), ("acute", "sw", "kali"))
    assert surfaces(d, "Acute myocardial infarction, then a second myocardial infarction; infarction.") == [
        "Acute myocardial infarction", "myocardial infarction", "infarction"]
    # A prefix that does not complete falls back to the longest term found on the way.
    assert surfaces(d, "acute myocardial pain") == ["acute"]


def test_case_and_accent_insensitive_both_ways():
    d = make(("Café au lait spots", "fr", "taches café au lait"), ("neumonía", "en", "pneumonia", None, "es"),
             ("ECG", "sw", "EKG"))
    assert surfaces(d, "CAFE AU LAIT SPOTS and café au lait spots") == ["CAFE AU LAIT SPOTS", "café au lait spots"]
    assert surfaces(d, "Neumonia adquirida; NEUMONÍA grave", "es") == ["Neumonia", "NEUMONÍA"]
    assert surfaces(d, "neumonía", "en") == []  # terms are per source language
    # Decomposed accents (NFD) match too.
    assert surfaces(d, "neumoni\u0301a", "es") == ["neumon\u00eda"]  # reported in NFC


def test_whole_words_only_and_hyphens_are_spaces():
    d = make(("ECG", "sw", "EKG"), ("beta-blocker", "sw", "kizuia-beta"), ("iron", "sw", "chuma"))
    assert surfaces(d, "ECGs, an ECG-guided test, environment, ironic, iron.") == ["ECG", "iron"]
    assert surfaces(d, "a beta blocker or a beta-blocker") == ["beta blocker", "beta-blocker"]


def test_glossary_per_language_with_synonyms_and_concept_ids():
    d = make(("blood pressure", "sw", "shinikizo la damu", "C0005823"), ("blood pressure", "fr", "pression artérielle"),
             ("blood pressure", "fr", "tension artérielle"), ("fever", "fr", "fièvre"))
    text = ["Blood pressure 120/80 mmHg, no fever; blood pressure repeated."]
    assert d.glossary(text, "fr") == [GlossaryEntry("Blood pressure", ("pression artérielle", "tension artérielle"), "C0005823"),
                                      GlossaryEntry("fever", ("fièvre",))]
    assert d.glossary(text, "sw") == [GlossaryEntry("Blood pressure", ("shinikizo la damu",), "C0005823")]
    assert d.glossary(text, "zu") == []


def test_loads_tsv_csv_jsonl(tmp_path):
    (tmp_path / "a.tsv").write_text("# comment\nlanguage\tterm\ttranslation\tconcept_id\n"
                                    "sw\tchest pain\tmaumivu ya kifua\t\n", encoding="utf-8")
    (tmp_path / "b.csv").write_text('term,language,translation\n"fever, high",zu,imfiva ephezulu\n', encoding="utf-8")
    (tmp_path / "c.jsonl").write_text(json.dumps({"term": "fièvre", "language": "en", "translation": "fever",
                                                  "source_language": "fr", "concept_id": "C0015967"}) + "\n", encoding="utf-8")
    d = Dictionary.from_files([tmp_path / "a.tsv", tmp_path / "b.csv", tmp_path / "c.jsonl"])
    assert len(d) == 3 and d.rows == 3
    assert d.glossary(["Chest pain"], "sw")[0].translations == ("maumivu ya kifua",)
    assert d.glossary(["High: fever, high"], "zu")[0].translations == ("imfiva ephezulu",)
    assert d.glossary(["Fievre"], "en", "fr") == [GlossaryEntry("Fievre", ("fever",), "C0015967")]


@pytest.mark.parametrize("name,content,message", [
    ("x.tsv", "term\tlang\ttranslation\n", r"lacks column\(s\) language"),
    ("x.tsv", "term\tlanguage\ttranslation\n# c\nfever\t\tfièvre\n", r"x.tsv:3: field 'language' is missing"),
    ("x.jsonl", '{"term": "a", "language": "sw", "translation": "b"}\n{"term": "a"\n', r"x.jsonl:2: invalid JSON"),
    ("x.xml", "<a/>", "unknown dictionary format"),
    ("x.tsv", b"term\tlanguage\ttranslation\nfi\xe8vre\tfr\tx\n", "not valid UTF-8"),
])
def test_bad_dictionaries_name_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(GlobmedError, match=message):
        Dictionary().load(path)
    with pytest.raises(GlobmedError, match="not found"):
        Dictionary().load(tmp_path / "missing.tsv")


def test_shipped_sample_dictionary_covers_every_language_and_the_sample():
    d = Dictionary.from_files([sample.DICTIONARY])
    assert d.languages() == {"en", "zh", "fr", "de", "ja", "ko", "pt", "es", "sw", "wo", "yo", "zu"}
    assert 150 <= d.rows <= 450
    text = ("A 24-year-old woman develops a fever of 39.5 °C, chills, and headache. A thin blood smear shows "
            "ring forms inside red blood cells.")
    for lang in ("zh", "fr", "de", "ja", "ko", "pt", "es", "sw", "wo", "yo", "zu"):
        assert [g.term for g in d.glossary([text], lang)] == ["fever", "headache", "red blood cells"], lang


def test_glossary_coverage_whole_words_and_scripts_without_spaces():
    g = [GlossaryEntry("fever", ("homa",)), GlossaryEntry("headache", ("maumivu ya kichwa",)), GlossaryEntry("x", ())]
    assert glossary_coverage(g, "Ana HOMA na maumivu ya kichwa.") == 1.0
    assert glossary_coverage(g, "Ana homayo.") == 0.0  # whole words only
    assert glossary_coverage(g[2:], "anything") is None  # no term with a translation
    zh = [GlossaryEntry("fever", ("发热",)), GlossaryEntry("headache", ("头痛",))]
    assert glossary_coverage(zh, "患者发热三天。", char_tokenized=True) == 0.5


def test_matching_is_fast_enough_for_a_large_dictionary():
    """20k synthetic terms over 2k records in well under a second or two (the benchmark runs 350k x 100k)."""
    import random
    import time

    rng = random.Random(0)
    words = [f"w{i}" for i in range(5000)]
    d = Dictionary()
    for i in range(20000):
        d.add(" ".join(rng.choice(words) for _ in range(rng.randint(1, 4))), "sw", f"t{i}")
    texts = [" ".join(rng.choice(words) for _ in range(60)) for _ in range(2000)]
    start = time.perf_counter()
    found = sum(len(d.find(t)) for t in texts)
    assert found > 0 and time.perf_counter() - start < 5
