"""Tests for globmed.bench.metrics: accuracy intervals and multilingual long-form metrics."""

from __future__ import annotations

import math
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import yaml
from rouge_score import rouge_scorer
from scipy import stats as sps

import globmed.languages as languages_pkg
from globmed import languages
from globmed.bench import metrics

# --------------------------------------------------------------------------- Wilson


def test_wilson_matches_scipy():
    ci = sps.binomtest(8, 10).proportion_ci(confidence_level=0.95, method="wilson")
    assert metrics.wilson_ci(8, 10) == pytest.approx((ci.low, ci.high))
    ci90 = sps.binomtest(8, 10).proportion_ci(confidence_level=0.9, method="wilson")
    assert metrics.wilson_ci(8, 10, level=0.9) == pytest.approx((ci90.low, ci90.high))


def test_wilson_by_hand():
    # Wilson 95% for 8/10: (p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)
    z, n, p = sps.norm.ppf(0.975), 10, 0.8
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert metrics.wilson_ci(8, 10) == pytest.approx((centre - half, centre + half))


def test_wilson_empty_and_invalid():
    low, high = metrics.wilson_ci(0, 0)
    assert math.isnan(low) and math.isnan(high)
    with pytest.raises(ValueError):
        metrics.wilson_ci(11, 10)


# --------------------------------------------------------------------------- accuracy_summary


def test_single_run_uses_wilson_and_excludes_none():
    run = [True] * 8 + [False] * 2 + [None] * 5  # 5 API errors: excluded, not wrong
    s = metrics.accuracy_summary([run])
    assert s["method"] == "wilson" and s["runs"] == 1
    assert s["n_items"] == 10 and s["per_run_n"] == [10]
    assert s["mean"] == pytest.approx(0.8) and s["per_run"] == [pytest.approx(0.8)]
    assert s["sd"] == 0.0
    assert (s["ci_low"], s["ci_high"]) == pytest.approx(metrics.wilson_ci(8, 10))


def test_multi_run_mean_sd_and_none():
    runs = [
        [True, True, False, None],   # 2/3
        [True, False, False, True],  # 2/4
        [True, True, True, True],    # 4/4
    ]
    s = metrics.accuracy_summary(runs, n_boot=500)
    assert s["method"] == "bootstrap" and s["runs"] == 3 and s["n_items"] == 4
    assert s["per_run"] == pytest.approx([2 / 3, 0.5, 1.0])
    assert s["mean"] == pytest.approx(np.mean([2 / 3, 0.5, 1.0]))
    assert s["sd"] == pytest.approx(np.std([2 / 3, 0.5, 1.0], ddof=1))


def test_bootstrap_ci_contains_mean_and_is_reproducible():
    rng = np.random.default_rng(0)
    p_item = rng.random(300)
    runs = [[bool(rng.random() < p) for p in p_item] for _ in range(5)]
    s1 = metrics.accuracy_summary(runs, seed=3, n_boot=1000)
    s2 = metrics.accuracy_summary(runs, seed=3, n_boot=1000)
    assert s1 == s2
    assert s1["ci_low"] < s1["mean"] < s1["ci_high"]
    # agrees with scipy.stats.bootstrap on the per-item means with the same generator
    item_means = np.mean(np.asarray(runs, dtype=float), axis=0)
    ref = sps.bootstrap((item_means,), np.mean, n_resamples=1000, method="percentile",
                        vectorized=True, rng=np.random.default_rng(3)).confidence_interval
    assert (s1["ci_low"], s1["ci_high"]) == pytest.approx((ref.low, ref.high))
    s3 = metrics.accuracy_summary(runs, seed=4, n_boot=1000)
    assert (s3["ci_low"], s3["ci_high"]) != (s1["ci_low"], s1["ci_high"])


def test_accuracy_summary_degenerate_inputs():
    s = metrics.accuracy_summary([[None, None]])
    assert s["n_items"] == 0 and math.isnan(s["mean"]) and math.isnan(s["ci_low"])
    s = metrics.accuracy_summary([[True] * 4, [True] * 4])
    assert s["mean"] == 1.0 and s["ci_low"] == s["ci_high"] == 1.0
    with pytest.raises(ValueError):
        metrics.accuracy_summary([[True], [True, False]])


# --------------------------------------------------------------------------- long-form metrics

# Amharic is not one of the shipped tables: register it the supported way (GLOBMED_LANGUAGES_PATH).
@pytest.fixture
def amharic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    table = yaml.safe_load((Path(languages_pkg.__file__).parent / "en.yaml").read_text(encoding="utf-8"))
    table.update(code="am", name="Amharic", native_name="አማርኛ", resource="low", script="Ethi",
                 char_tokenized=False)
    (tmp_path / "am.yaml").write_text(yaml.safe_dump(table, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("GLOBMED_LANGUAGES_PATH", str(tmp_path))
    languages.reload()
    yield "am"
    monkeypatch.delenv("GLOBMED_LANGUAGES_PATH")
    languages.reload()


# (language, text, disjoint text) -- no shared token (character for zh/ja) between the two
TEXTS = {
    "en": ("High blood pressure needs treatment.", "Fever, cough"),
    "zh": ("高血压需要治疗。", "发烧咳嗽"),
    "ja": ("高血圧には治療が必要です。", "咳と熱"),
    "am": ("የደም ግፊት ሕክምና ያስፈልገዋል።", "ትኩሳት፣ ሳል"),
    "zu": ("Umfutho wegazi ophakeme udinga ukwelashwa.", "Imfiva nokukhwehlela"),
    "yo": ("Ẹ̀jẹ̀ ríru nílò ìtọ́jú.", "Ibà àti ikọ́"),
}


@pytest.mark.parametrize("language", list(TEXTS))
def test_identical_and_disjoint(language, request):
    if language == "am":
        request.getfixturevalue("amharic")
    text, other = TEXTS[language]
    assert metrics.rouge(text, text, language) == {"rouge1": pytest.approx(1.0), "rougeL": pytest.approx(1.0)}
    assert metrics.bleu1(text, text, language) == pytest.approx(100.0)
    assert metrics.rouge(other, text, language) == {"rouge1": 0.0, "rougeL": 0.0}
    assert metrics.bleu1(other, text, language) == pytest.approx(0.0)
    assert metrics.rouge_corpus([text, other], [text, text], language) == {
        "rouge1": pytest.approx(0.5), "rougeL": pytest.approx(0.5)}
    assert metrics.bleu1_corpus([text], [text], language) == pytest.approx(100.0)
    assert metrics.bleu1_corpus([other], [text], language) == pytest.approx(0.0)


@pytest.mark.parametrize("language", ["zh", "ja", "yo"])
def test_default_rouge_tokenizer_fails_where_ours_works(language):
    text = TEXTS[language][0]
    default = rouge_scorer.RougeScorer(["rouge1"]).score(text, text)["rouge1"].fmeasure
    if language in ("zh", "ja"):
        assert default == 0.0  # every CJK character is dropped by the default tokenizer
    assert metrics.rouge(text, text, language)["rouge1"] == pytest.approx(1.0)


def test_default_rouge_tokenizer_fails_on_amharic(amharic):
    text = TEXTS["am"][0]
    assert rouge_scorer.RougeScorer(["rouge1"]).score(text, text)["rouge1"].fmeasure == 0.0
    assert metrics.rouge(text, text, amharic)["rouge1"] == pytest.approx(1.0)


def test_tokenizer_per_script(amharic):
    # tone marks stay inside the word; NFC/NFD spellings are the same token
    word = "ọ̀dọ̀"
    assert metrics.tokenize(word, "yo") == [unicodedata.normalize("NFKC", word)]
    assert metrics.tokenize(unicodedata.normalize("NFD", word), "yo") == metrics.tokenize(word, "yo")
    # Ge'ez punctuation separates words like ASCII punctuation does
    assert metrics.tokenize("የደም ግፊት።ሳል፣ትኩሳት", amharic) == ["የደም", "ግፊት", "ሳል", "ትኩሳት"]
    # one token per character, punctuation and spaces dropped; NFKC folds full-width forms
    assert metrics.tokenize("高血压，需要 治疗。", "zh") == list("高血压需要治疗")
    assert metrics.tokenize("ＣＴ検査", "ja") == ["c", "t", "検", "査"]
    assert metrics.tokenize("Hello, WORLD! mg/dL", "en") == ["hello", "world", "mg", "dl"]
    # Ge'ez word vs the same word with a trailing full stop: same token for ROUGE and BLEU
    assert metrics.rouge("ነው።", "ነው", amharic)["rouge1"] == pytest.approx(1.0)
    # BLEU keeps punctuation as tokens (sacrebleu convention), but the intl tokenizer splits the
    # Ge'ez full stop off the word (13a would not: "ነው።" would be one token)
    assert metrics.bleu1("ግፊት ነው።", "ግፊት ነው ።", amharic) == pytest.approx(100.0)


def test_english_partial_overlap_by_hand():
    pred, ref = "The patient has a fever.", "the patient has no fever today"
    # 4 shared unigrams (the patient has fever); P = 4/5, R = 4/6, F1 = 8/11; LCS is also 4
    r = metrics.rouge(pred, ref, "en")
    assert r["rouge1"] == pytest.approx(8 / 11) and r["rougeL"] == pytest.approx(8 / 11)
    # BLEU-1 counts "." as a token: 4 of 6 prediction tokens match, lengths equal, BP = 1
    assert metrics.bleu1(pred, ref, "en") == pytest.approx(100 * 4 / 6)
    # without the full stop: 4/5 matched, BP = exp(1 - 6/5) because the prediction is shorter
    assert metrics.bleu1(pred.rstrip("."), ref, "en") == pytest.approx(100 * 0.8 * math.exp(-0.2))
    # word order matters for ROUGE-L only: LCS("fever has the patient", "the patient has fever") = 2
    r = metrics.rouge("fever has the patient", "the patient has fever", "en")
    assert r["rouge1"] == pytest.approx(1.0) and r["rougeL"] == pytest.approx(0.5)


def test_chinese_partial_overlap_by_hand():
    # characters: pred 高血压 (3), ref 高血糖 (3); 2 shared -> P = R = F1 = 2/3
    r = metrics.rouge("高血压", "高血糖", "zh")
    assert r["rouge1"] == pytest.approx(2 / 3) and r["rougeL"] == pytest.approx(2 / 3)
    assert metrics.bleu1("高血压", "高血糖", "zh") == pytest.approx(100 * 2 / 3)


def test_corpus_inputs_and_signature():
    with pytest.raises(ValueError):
        metrics.rouge_corpus(["a"], [], "en")
    with pytest.raises(ValueError):
        metrics.bleu1_corpus(["a"], [], "en")
    assert math.isnan(metrics.rouge_corpus([], [], "en")["rouge1"])
    assert math.isnan(metrics.bleu1_corpus([], [], "en"))
    assert "tok:char" in metrics.bleu1_signature("ja")
    assert "tok:intl" in metrics.bleu1_signature("sw")
    with pytest.raises(Exception, match="unknown language"):
        metrics.rouge("a", "a", "xx")


def test_bertscore_without_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "bert_score", None)  # makes `import bert_score` fail
    with pytest.raises(ImportError, match="pip install bert-score"):
        metrics.bertscore(["a"], ["a"], "some/model", "en")
