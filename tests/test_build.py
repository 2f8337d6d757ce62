"""`globmed data build`: configs per dataset.language, translations attached (and refused when they
break structure), a language added as data only, the manifest, and loading with `datasets`."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import textwrap

import pytest
import yaml

from globmed.languages import HERE as LANGUAGES_DIR

from .conftest import (
    card_yaml,
    cli_env,
    data_build,
    headqa_doc,
    headqa_item,
    load_config,
    make_sources,
    mednli_item,
    medqa_item,
    read_records,
    run_cli,
    screening_report,
    write_jsonl,
)

MEDQA_ITEMS = [
    medqa_item("Deficiency of which vitamin causes scurvy?", ["Vitamin A", "Vitamin C", "Vitamin D", "Vitamin K"], "B"),
    medqa_item("A patient takes 500 mg of metformin twice daily. Which organ clears it?",
               ["Liver", "Lung", "Kidney", "Skin"], "C"),
    medqa_item("Which drug is an antiplatelet agent?", ["Aspirin", "Heparin", "Warfarin", "Insulin"], "A"),
    medqa_item("A child is given 500 mg of amoxicillin. Which class is it?",
               ["Macrolide", "Penicillin", "Tetracycline", "Quinolone"], "B"),
    medqa_item("Which hormone lowers blood glucose?", ["Glucagon", "Cortisol", "Insulin", "Adrenaline"], "C"),
    medqa_item("Which organism causes tuberculosis?", ["M. tuberculosis", "S. aureus", "E. coli", "H. pylori"], "A"),
]
HEADQA = headqa_doc({"Cuaderno_2019_1_M": [
    headqa_item(1, "¿Cuál es el fármaco de primera elección en la diabetes tipo 2?",
                ["Insulina", "Metformina", "Glibenclamida", "Pioglitazona"], 2)]})
MEDNLI = [mednli_item("p1", "Patient was started on IV vancomycin.", "The patient receives antibiotics.", "entailment")]

ZU = {  # Zulu translations of the first two items
    0: {"question": "Ukuntuleka kwaliphi uvithamini okubangela isifo se-scurvy?",
        "options": ["Uvithamini A", "Uvithamini C", "Uvithamini D", "Uvithamini K"]},
    1: {"question": "Isiguli sithatha i-metformin engu-500 mg kabili ngosuku. Yisiphi isitho esiyikhiphayo?",
        "options": ["Isibindi", "Amaphaphu", "Izinso", "Isikhumba"]},
}

AMHARIC_TABLE = """\
code: am
name: Amharic
native_name: አማርኛ
resource: low
script: Ethi
char_tokenized: false
system: "እርስዎ የሕክምና ባለሙያ ነዎት። በአማርኛ ይመልሱ።"
mcqa:
  instruction: "የሚከተለው ስለ ሕክምና የብዙ ምርጫ ጥያቄ ነው። ትክክለኛውን አንድ መልስ ይምረጡ።"
  question: "ጥያቄ"
  options: "አማራጮች"
  answer_format: "የትክክለኛውን አማራጭ ፊደል ብቻ ይመልሱ።"
  answer_cue: "መልስ፦"
nli:
  instruction: "ከሕክምና ጽሑፍ የተወሰደውን መነሻ ሐሳብ እና መላምት ያንብቡ። መላምቱ ከመነሻ ሐሳቡ ጋር ያለውን ግንኙነት ይወስኑ።"
  premise: "መነሻ ሐሳብ"
  hypothesis: "መላምት"
  answer_format: "ከእነዚህ ቃላት አንዱን ብቻ ይመልሱ፦ {labels}።"
  answer_cue: "መልስ፦"
  labels:
    entailment: [ይከተላል, ያስከትላል]
    neutral: [ገለልተኛ, ያልተወሰነ]
    contradiction: [ይቃረናል, ተቃርኖ]
lfqa:
  instruction: "የሚከተለውን የሕክምና ጥያቄ በትክክል እና በአጭሩ ይመልሱ።"
  question: "ጥያቄ"
  answer_cue: "መልስ፦"
extraction:
  answer_phrases: ["ትክክለኛው መልስ", "መልሱ", "መልስ"]
  option_words: ["አማራጭ"]
  refusal_phrases: ["መመለስ አልችልም", "ሐኪም ያማክሩ"]
  letter_words: []
  negations: []
  choice_verbs: []
  conclusion_markers: []
  copulas: []
  fillers: []
  verdicts: []
  negations_after: []
  conditionals: []
disclaimer: "ይህ ማሳያ ለምርምር ብቻ ነው። የሕክምና ምክር አይደለም፤ ሁልጊዜ ብቁ የጤና ባለሙያ ያማክሩ።"
reviewed: "test fixture (not reviewed)"
"""


def keys(tree):
    if isinstance(tree, dict):
        return {k: keys(v) for k, v in tree.items() if k != "labels"}
    return None


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("build")
    sources = make_sources(tmp / "sources", medqa=MEDQA_ITEMS, headqa=HEADQA, mednli=MEDNLI)
    ids = [r.id for r in read_records(sources, "medqa")]
    head_id = read_records(sources, "headqa")[0].id
    trans = sources / "translations" / "medqa"
    write_jsonl(trans / "zu.jsonl", [
        {"id": ids[0], **ZU[0], "status": "ok", "trace": {"model": "test"}},                       # 1 used
        {"id": ids[1], **ZU[1]},                                                                  # 2 used
        {"id": ids[2], "question": "Yisiphi isidakamizwa esivimbela amaplatelet?",
         "options": ["I-aspirin", "I-heparin", "I-warfarin"]},                                   # 3 wrong option count
        {"id": ids[3], "question": "Ingane inikezwa u-50 mg we-amoxicillin. Yisiphi isigaba?",
         "options": ["I-macrolide", "I-penicillin", "I-tetracycline", "I-quinolone"]},           # 4 500 mg -> 50 mg
        {"id": ids[4], "options": ["I-glucagon", "I-cortisol", "I-insulin", "I-adrenaline"]},    # 5 no question
        {"id": "medqa-test-0000000000000000", "question": "Umbuzo?", "options": ["a", "b", "c", "d"]},  # 6 unknown id
        {"id": ids[5], "question": "Iyiphi i-organism?", "options": ["a", "b", "c", "d"], "status": "failed",
         "error": "rate limited"},                                                               # 7 failed
    ])
    write_jsonl(trans / "sw.jsonl", [{"id": ids[0], "question": "Swali la zamani?", "options": ["a", "b", "c", "d"]}])
    write_jsonl(trans / "am.jsonl", [{"id": ids[0], "question": "ስከርቪ የሚያመጣው የየትኛው ቫይታሚን እጥረት ነው?",
                                      "options": ["ቫይታሚን ኤ", "ቫይታሚን ሲ", "ቫይታሚን ዲ", "ቫይታሚን ኬ"]}])
    extra = tmp / "extra"  # e.g. `globmed translate` output, passed with --translations; overrides <sources>/translations
    write_jsonl(extra / "medqa" / "sw.jsonl", [
        {"id": ids[0], "question": "Upungufu wa vitamini gani husababisha kiseyeye?",
         "options": ["Vitamini A", "Vitamini C", "Vitamini D", "Vitamini K"]},
        {"id": ids[1], "question": "Mgonjwa anatumia metformin 500 mg mara mbili kwa siku. Kiungo gani huiondoa?",
         "options": ["Ini", "Mapafu", "Figo", "Ngozi"]}])
    write_jsonl(extra / "headqa" / "en.jsonl", [
        {"id": head_id, "question": "What is the first-choice drug in type 2 diabetes?",
         "options": ["Insulin", "Metformin", "Glibenclamide", "Pioglitazone"]}])
    langs = tmp / "langs"
    langs.mkdir()
    (langs / "am.yaml").write_text(AMHARIC_TABLE, encoding="utf-8")
    out = tmp / "work" / "globmed"
    run = data_build(lambda *a, **e: run_cli(list(a), cli_env(tmp / "hf_home", **e)), sources, out,
                     "--translations", extra, GLOBMED_LANGUAGES_PATH=str(langs))
    assert run.returncode == 0, str(run)
    return {"tmp": tmp, "sources": sources, "out": out, "ids": ids, "head_id": head_id, "langs": langs, "run": run}


def test_amharic_fixture_has_the_english_table_structure():
    en = yaml.safe_load((LANGUAGES_DIR / "en.yaml").read_text(encoding="utf-8"))
    am = yaml.safe_load(AMHARIC_TABLE)
    assert keys(am) == keys(en)
    assert set(am["nli"]["labels"]) == set(en["nli"]["labels"])


def test_card_declares_one_config_per_dataset_language(tree):
    out = tree["out"]
    card = card_yaml(out)
    configs = {c["config_name"]: c["data_files"] for c in card["configs"]}
    assert set(configs) == {"medqa.en", "medqa.zu", "medqa.sw", "medqa.am", "headqa.es", "headqa.en", "mednli.en"}
    files = [p.relative_to(out).as_posix() for p in out.rglob("*.parquet")]
    for name, data_files in configs.items():
        assert [d["split"] for d in data_files] == ["test"], name
        matched = [f for f in files if fnmatch.fnmatch(f, data_files[0]["path"])]
        assert matched == [f"{name}/test-00000-of-00001.parquet"], (name, data_files)
    assert len(files) == len(configs)
    assert {"en", "es", "zu", "sw", "am"} <= set(card["language"])


def test_translated_config_loads_with_source_answer_keys(tree, tmp_path):
    rows = load_config(tree["out"], "medqa.zu", cache=tmp_path / "cache")
    assert [r["id"] for r in rows] == tree["ids"][:2]
    assert [(r["question"], r["options"]) for r in rows] == [(ZU[i]["question"], ZU[i]["options"]) for i in (0, 1)]
    assert [r["answer"] for r in rows] == [MEDQA_ITEMS[0]["answer_idx"], MEDQA_ITEMS[1]["answer_idx"]]
    assert {r["language"] for r in rows} == {"zu"} and {r["dataset"] for r in rows} == {"medqa"}
    english = load_config(tree["out"], "medqa.en", cache=tmp_path / "cache")
    assert [r["question"] for r in english] == [item["question"] for item in MEDQA_ITEMS]
    assert [r["answer"] for r in english] == [item["answer_idx"] for item in MEDQA_ITEMS]


def test_translation_folders_later_ones_override(tree, tmp_path):
    sw = load_config(tree["out"], "medqa.sw", cache=tmp_path / "cache")
    assert [r["question"] for r in sw] == ["Upungufu wa vitamini gani husababisha kiseyeye?",
                                           "Mgonjwa anatumia metformin 500 mg mara mbili kwa siku. Kiungo gani huiondoa?"]
    assert [r["answer"] for r in sw] == ["B", "C"]
    head_en = load_config(tree["out"], "headqa.en", cache=tmp_path / "cache")
    assert [(r["id"], r["question"], r["answer"]) for r in head_en] == [
        (tree["head_id"], "What is the first-choice drug in type 2 diabetes?", "B")]


def test_structure_breaking_translations_are_not_used(tree):
    problems = screening_report(tree["out"])["translation_problems"]
    zu = {p["origin"]: p for p in problems if p["language"] == "zu"}
    display = "translations/medqa/zu.jsonl"
    assert set(zu) == {f"{display}:{n}" for n in (3, 4, 5, 6, 7)}, problems
    expectations = {3: ["options", "4", "3"], 4: ["500"], 5: ["question"], 6: ["no kept source record"],
                    7: ["failed", "rate limited"]}
    for line, words in expectations.items():
        entry = zu[f"{display}:{line}"]
        assert entry["dataset"] == "medqa"
        for word in words:
            assert word in entry["reason"], entry
    assert zu[f"{display}:6"]["id"] == "medqa-test-0000000000000000"
    assert [p for p in problems if p["language"] != "zu"] == []
    manifest = json.loads((tree["out"] / "globmed.json").read_text(encoding="utf-8"))
    assert manifest["translation_problems"] == len(problems)


def test_load_by_folder_name_from_its_parent(tree):
    """From the folder holding OUT (named globmed): load_dataset("globmed", "medqa.zu"), offline."""
    code = textwrap.dedent("""
        import json, datasets
        ds = datasets.load_dataset("globmed", "medqa.zu", split="test")
        print(json.dumps(ds.to_list(), ensure_ascii=False))
    """)
    env = cli_env(tree["tmp"] / "hf_home_load")
    proc = subprocess.run([sys.executable, "-c", code], cwd=tree["out"].parent, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    assert [(r["id"], r["question"], r["options"], r["answer"]) for r in rows] == [
        (tree["ids"][i], ZU[i]["question"], ZU[i]["options"], MEDQA_ITEMS[i]["answer_idx"]) for i in (0, 1)]
    # the cache went to the pinned HF_HOME, not the user's
    assert (tree["tmp"] / "hf_home_load").exists()


def test_a_language_added_as_data_only(tree, tmp_path):
    rows = load_config(tree["out"], "medqa.am", cache=tmp_path / "cache")
    assert [(r["id"], r["language"], r["answer"]) for r in rows] == [(tree["ids"][0], "am", "B")]
    assert rows[0]["options"] == ["ቫይታሚን ኤ", "ቫይታሚን ሲ", "ቫይታሚን ዲ", "ቫይታሚን ኬ"]
    manifest = json.loads((tree["out"] / "globmed.json").read_text(encoding="utf-8"))
    assert "am" in manifest["languages"]
    assert manifest["datasets"]["medqa"]["configs"]["medqa.am"] == {"test": 1}


def test_without_the_language_table_the_translation_is_skipped(tree, cli, tmp_path):
    out = tmp_path / "out"
    run = data_build(cli, tree["sources"], out, "--datasets", "medqa")
    assert run.returncode == 0, str(run)
    assert "am" in run.output and "no language table" in run.output
    configs = {c["config_name"] for c in card_yaml(out)["configs"]}
    assert configs == {"medqa.en", "medqa.zu", "medqa.sw"}


def test_manifest_lists_datasets_with_redistributable_flags(tree):
    manifest = json.loads((tree["out"] / "globmed.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "globmed-data"
    datasets = manifest["datasets"]
    assert set(datasets) == {"medqa", "headqa", "mednli"}
    assert {name: d["redistributable"] for name, d in datasets.items()} == {
        "medqa": True, "headqa": True, "mednli": False}
    assert "PhysioNet" in (datasets["mednli"]["restriction"] or "") + datasets["mednli"]["licence"]
    assert datasets["medqa"]["configs"] == {"medqa.en": {"test": 6}, "medqa.zu": {"test": 2}, "medqa.sw": {"test": 2},
                                            "medqa.am": {"test": 1}}
    assert datasets["headqa"]["configs"] == {"headqa.es": {"test": 1}, "headqa.en": {"test": 1}}
    assert manifest["screening"]["medqa"]["kept"] == 6
    assert manifest["sample"] is False
