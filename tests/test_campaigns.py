"""The shipped campaigns: paper56.yaml is exactly the paper's 56 models with the paper's settings;
extended.yaml holds only models beyond them.

The expected list below is transcribed from the paper's model table (arXiv 2601.02186; see the
project's paper-facts notes), independently of the campaign file it checks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import globmed
from globmed.bench.campaign import load_campaign

CAMPAIGNS = Path(globmed.__file__).parent / "campaigns"

PAPER = {
    "proprietary": ["Claude-3.5-Haiku", "Claude-4.0-Sonnet", "Gemini-2.5-Flash", "GPT-4o-mini", "GPT-4o",
                    "GPT-4.1-nano", "GPT-4.1-mini", "GPT-4.1", "GPT-5-nano", "GPT-5-mini", "GPT-5", "o4-mini"],
    "DeepSeek": ["DeepSeek-V3", "DeepSeek-R1", "DeepSeek-R1-Qwen3-8B"],
    "Gemma": ["Gemma-3-4B", "Gemma-3-12B", "Gemma-3-27B"],
    "gpt-oss": ["gpt-oss-20B", "gpt-oss-120B"],
    "LLaMA": ["LLaMA-3.1-8B", "LLaMA-3.1-70B", "LLaMA-3.2-3B", "LLaMA-3.3-70B", "LLaMA-4-Scout", "LLaMA-4-Maverick"],
    "Mistral": ["Mistral-7B-v0.3", "Mistral-Small-3.1-24B"],
    "Phi": ["Phi-4-mini", "Phi-4", "Phi-4-mini-reasoning", "Phi-4-reasoning"],
    "Qwen": ["Qwen2.5-3B", "Qwen2.5-7B", "Qwen2.5-14B", "Qwen2.5-72B", "QwQ-32B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B",
             "Qwen3-14B", "Qwen3-4B-thinking", "Qwen3-8B-thinking", "Qwen3-14B-thinking"],
    "medical": ["MedGemma-4B", "MedGemma-27B", "HuatuoGPT-o1-7B", "HuatuoGPT-o1-8B", "HuatuoGPT-o1-70B",
                "HuatuoGPT-o1-72B", "OpenBioLLM-8B", "OpenBioLLM-70B", "Baichuan-M2-32B", "Bio-Medical-LLaMA3-8B",
                "MediPhi", "MedReason-8B"],
}
PAPER_HUB_IDS = {"Bio-Medical-LLaMA3-8B": "ContactDoctor/Bio-Medical-Llama-3-8B",
                 "OpenBioLLM-8B": "aaditya/Llama3-OpenBioLLM-8B", "OpenBioLLM-70B": "aaditya/Llama3-OpenBioLLM-70B"}


def _load(name: str, monkeypatch: pytest.MonkeyPatch):
    path = CAMPAIGNS / name
    for var in set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text(encoding="utf-8"))):
        monkeypatch.setenv(var, f"http://{var.lower()}.invalid/v1")
    return {e.name: e for e in load_campaign(path)}


def test_paper56_is_the_papers_list(monkeypatch):
    entries = _load("paper56.yaml", monkeypatch)
    assert len(entries) == 56 == sum(len(v) for v in PAPER.values())
    assert set(entries) == {n for names in PAPER.values() for n in names}
    for group, names in PAPER.items():
        assert sorted(e.name for e in entries.values() if e.group == group) == sorted(names), group
    access = [e.meta["access"] for e in entries.values()]
    assert access.count("proprietary") == 12 and access.count("open-weight") == 44
    assert {e.name for e in entries.values() if e.meta["access"] == "proprietary"} == set(PAPER["proprietary"])
    assert all(e.confirmed is True and e.runs == 5 for e in entries.values())
    medical = {n for n, e in entries.items() if e.meta["domain"] == "medical"}
    assert medical == set(PAPER["medical"])


def test_paper56_settings(monkeypatch):
    entries = _load("paper56.yaml", monkeypatch)
    for name in ("GPT-5", "GPT-5-mini", "GPT-5-nano"):  # the paper: reasoning effort "minimal"
        e = entries[name]
        assert e.generation["reasoning_effort"] == "minimal" and e.temperature == "omit"
    assert not any("reasoning_effort" in e.generation for n, e in entries.items() if not n.startswith("GPT-5"))
    qwen17 = entries["Qwen3-1.7B"]  # the paper: non-thinking
    assert qwen17.generation["chat_template_kwargs"] == {"enable_thinking": False}
    assert "Qwen3-1.7B-thinking" not in entries
    for size in ("4B", "8B", "14B"):  # both modes, one checkpoint
        plain, thinking = entries[f"Qwen3-{size}"], entries[f"Qwen3-{size}-thinking"]
        assert plain.model == thinking.model == f"Qwen/Qwen3-{size}"
        assert plain.generation["chat_template_kwargs"] == {"enable_thinking": False}
        assert thinking.generation["chat_template_kwargs"] == {"enable_thinking": True}
        assert thinking.meta["reasoning"] is True and plain.meta["reasoning"] is False
        assert plain.base_url == thinking.base_url  # one server serves both
    for name, hub_id in PAPER_HUB_IDS.items():
        assert entries[name].model == hub_id


def test_paper56_open_weights_have_hub_ids_and_servers(monkeypatch):
    entries = _load("paper56.yaml", monkeypatch)
    for e in entries.values():
        if e.meta["access"] == "open-weight":
            assert re.fullmatch(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+", e.model), e.name
            assert e.backend == "openai" and e.base_url.endswith(".invalid/v1"), e.name
        else:
            assert "/" not in e.model and e.api_key_env, e.name
    # checkpoints the paper's name leaves open say so
    for name in ("DeepSeek-V3", "DeepSeek-R1", "MedGemma-27B", "MediPhi"):
        assert entries[name].note and "/" in entries[name].note, name


def test_extended_holds_only_models_beyond_the_paper(monkeypatch):
    paper = _load("paper56.yaml", monkeypatch)
    extended = _load("extended.yaml", monkeypatch)
    assert extended and not set(extended) & set(paper)
    assert not {e.model for e in extended.values()} & {e.model for e in paper.values()}
    assert all(e.confirmed is None and e.group is None for e in extended.values())
