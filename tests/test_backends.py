"""Every backend against a real server: `transformers serve` on a tiny local model (openai, tgi),
the model in-process (transformers), the scripted server (anthropic Messages API, openai
log-likelihood via top_logprobs) and the fake Hub's Inference Endpoints (endpoint)."""

from __future__ import annotations

import asyncio
import io
import json
import uuid
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from globmed import languages, registry
from globmed.backends import GenerationSettings, Request, make_backend
from globmed.bench.run import BenchSettings, build_requests, entries_from, plan_configs, run_bench
from globmed.bench.data import open_source
from globmed.bench.score import load_results
from globmed.bench.tasks import get_task
from tests.conftest import cli_env, gold_responder, load_config, run_cli
from tests.support.hub_server import HubServer, inference_endpoints_url


def run_async(backend: Any, coro_fn: Any) -> Any:
    """Run coro_fn(backend) and close the backend in the same event loop."""
    async def go() -> Any:
        try:
            return await coro_fn(backend)
        finally:
            await backend.aclose()

    return asyncio.run(go())


# -- openai and tgi against `transformers serve` ---------------------------------------------------------
SAMPLING = {"generation_config": json.dumps({"do_sample": True, "temperature": 1.0, "top_k": 0})}


@pytest.mark.slow
def test_openai_chat_against_transformers_serve(served, tiny_model):
    backend = make_backend("openai", str(tiny_model), base_url=served + "/v1")
    # The random tiny model repeats "\n" greedily (stripped by the server): sample to get visible text.
    request = Request(messages=({"role": "user", "content": "What treats scurvy?"},),
                      settings=GenerationSettings(max_tokens=8, temperature=1.0, seed=3, extra_body=SAMPLING))
    out = run_async(backend, lambda b: b.chat(request))
    assert isinstance(out.text, str) and out.text.strip()
    assert out.tokens_in and out.tokens_in > 5 and out.tokens_out == 8
    assert out.finish_reason == "length" and out.model.startswith(str(tiny_model))


@pytest.mark.slow
def test_bench_run_openai_against_transformers_serve(served, tiny_model, sample_data, tmp_path):
    out = tmp_path / "out"
    res = run_cli(["bench", "run", "--data", sample_data, "--out", out, "--backend", "openai",
                   "--base-url", served + "/v1", "--model", tiny_model, "--name", "tiny", "--datasets", "medqa,mednli",
                   "--languages", "en,sw", "--limit", "2", "--runs", "1", "--max-tokens", "4", "--concurrency", "2",
                   "--no-progress"], cli_env(tmp_path / "hf_home"))
    assert res.returncode == 0, str(res)
    results = load_config(out, "results", split="train")
    assert {(r["dataset"], r["language"]) for r in results} == {(d, l) for d in ("medqa", "mednli") for l in ("en", "sw")}
    assert all(r["n"] == 2 and r["errors"] == 0 and r["model_id"] == str(tiny_model) for r in results)
    assert all(r["base_url"] == served + "/v1" and r["backend"] == "openai" for r in results)
    details = load_config(out, "details.medqa.en", split="train")
    assert len(details) == 2 and all(d["error"] is None and d["tokens_out"] == 4 for d in details)
    assert all(isinstance(d["output"], str) and d["finish_reason"] == "length" for d in details)


@pytest.mark.slow
def test_tgi_backend_against_transformers_serve(served, tiny_model, sample_data, tmp_path):
    out = tmp_path / "out"
    # No HF_HUB_OFFLINE here: it also stops huggingface_hub's InferenceClient from reaching 127.0.0.1.
    env = cli_env(tmp_path / "hf_home", HF_HUB_OFFLINE=None)
    res = run_cli(["bench", "run", "--data", sample_data, "--out", out, "--backend", "tgi", "--base-url", served,
                   "--model", tiny_model, "--datasets", "medqa", "--languages", "en", "--limit", "2", "--runs", "1",
                   "--max-tokens", "3", "--concurrency", "2", "--no-progress"], env)
    assert res.returncode == 0, str(res)
    (row,) = load_results(out)
    assert row["backend"] == "tgi" and row["n"] == 2 and row["errors"] == 0 and row["answered"] == 2
    assert row["tokens_out"] == 2 * 3


# -- the transformers backend in-process ------------------------------------------------------------------
def plan(sample_data: Path, tmp_path: Path, datasets: str, langs: str, limit: int, mode: str):
    settings = BenchSettings(data=str(sample_data), out=tmp_path, model="local", datasets=datasets, languages=langs,
                             limit=limit, runs=1, mode=mode, max_tokens=4)
    plans = plan_configs(open_source(str(sample_data)), settings, tmp_path)
    return list(build_requests(plans, entries_from(settings)[0], settings, 1, supports_loglik=True))


@pytest.mark.slow
def test_transformers_backend_loglik_is_one_forward_pass(tiny_model, sample_data, tmp_path):
    import torch

    backend = make_backend("transformers", str(tiny_model), device="cpu", batch_size=4)
    planned = plan(sample_data, tmp_path, "medqa,headqa,mednli", "en,es,sw", 3, "loglik")
    assert len(planned) == 27 and all(req.choices for *_, req in planned)
    rows: list[int] = []  # sequences through the model, per forward call
    hook = backend.lm.register_forward_hook(lambda module, args, kwargs, out: rows.append(kwargs["input_ids"].shape[0]),
                                            with_kwargs=True)
    responses = run_async(backend, lambda b: asyncio.gather(*(b.loglik(req) for *_, req in planned)))
    hook.remove()

    tok, lm = backend.tokenizer, backend.lm
    expected_rows = 0
    for (cfg, item, _, req), resp in zip(planned, responses):
        prompt = tok.apply_chat_template([dict(m) for m in req.messages], tokenize=False, add_generation_prompt=True)
        prompt_ids = tok(prompt, add_special_tokens=False)["input_ids"]
        with torch.no_grad():  # straightforward: the whole prompt, unpadded, all positions
            logprobs = torch.log_softmax(lm(torch.tensor([prompt_ids])).logits[0, -1].float(), dim=-1)
        ids = [tok(prompt + choice, add_special_tokens=False)["input_ids"] for choice in req.choices]
        assert all(i[:len(prompt_ids)] == prompt_ids for i in ids)
        firsts = [i[len(prompt_ids)] for i in ids]
        if len(set(firsts)) == len(firsts):  # one forward pass scores the next token ...
            expected = [float(logprobs[t]) for t in firsts]
            expected_rows += 1
        else:  # ... continuations sharing a first token are scored whole
            expected, expected_rows = [], expected_rows + len(ids)
            for seq in ids:
                with torch.no_grad():
                    lp = torch.log_softmax(lm(torch.tensor([seq])).logits[0].float(), dim=-1)
                expected.append(sum(float(lp[j - 1, seq[j]]) for j in range(len(prompt_ids), len(seq))))
        if cfg.dataset != "mednli":
            assert all(len(i) == len(prompt_ids) + 1 for i in ids)  # option letters are single tokens
        assert resp.scores == pytest.approx(expected, abs=1e-4), (cfg.dataset, cfg.language, item["id"])
        spec, lang = registry.get(cfg.dataset), languages.get(cfg.language)
        task = get_task(spec.task)
        names = list(req.choices) if spec.task == "mcqa" else list(spec.labels)
        best = max(range(len(expected)), key=lambda i: expected[i])
        assert task.score_choices(resp.scores, item, lang, spec).pred == names[best]
        assert resp.finish_reason == "loglik" and resp.tokens_in == len(prompt_ids)
    assert sum(rows) == expected_rows  # one sequence per item (batched), none per option letter
    assert len(rows) < len(planned)  # batched


@pytest.mark.slow
def test_transformers_backend_generates(tiny_model, sample_data, tmp_path):
    backend = make_backend("transformers", str(tiny_model), device="cpu", batch_size=4)
    planned = plan(sample_data, tmp_path, "medqa", "en,sw", 2, "generate")
    responses = run_async(backend, lambda b: asyncio.gather(*(b.chat(req) for *_, req in planned)))
    assert len(responses) == 4
    for resp in responses:
        assert isinstance(resp.text, str) and resp.scores is None
        assert resp.tokens_out == 4 and resp.finish_reason == "length" and resp.tokens_in > 20


@pytest.mark.slow
def test_transformers_backend_without_a_temperature_follows_the_generation_config(tiny_model):
    """No temperature asked for (the bench default): the model's generation_config decides; when it samples,
    each run's seed gives its own reproducible sample, and greedy (temperature 0) is one fixed output."""
    backend = make_backend("transformers", str(tiny_model), device="cpu", batch_size=1)
    messages = ({"role": "user", "content": "What treats scurvy?"},)
    config = backend.lm.generation_config

    async def go(b: Any) -> tuple[list[str], list[str]]:
        async def say(**settings: Any) -> str:
            return (await b.chat(Request(messages=messages, settings=GenerationSettings(max_tokens=12, **settings)))).text

        config.do_sample = False
        greedy = [await say(temperature=0.0), await say(temperature=None, seed=1), await say(temperature=None, seed=2)]
        config.do_sample, config.top_k = True, 0
        return greedy, [await say(temperature=None, seed=s) for s in (1, 2, 3, 1)]

    greedy, samples = run_async(backend, go)
    assert greedy[0] == greedy[1] == greedy[2]
    assert samples[0] == samples[3] and len(set(samples[:3])) > 1  # seeded per run, different runs differ


# -- anthropic and openai log-likelihood against the scripted server -----------------------------------------
def test_anthropic_backend_against_messages_api(openai_server, sample_data, tmp_path):
    server = openai_server()
    key = f"sk-ant-test-{uuid.uuid4().hex}"
    out = tmp_path / "out"
    env = cli_env(tmp_path / "hf_home", GLOBMED_TEST_ANTHROPIC_KEY=key)
    res = run_cli(["bench", "run", "--data", sample_data, "--out", out, "--backend", "anthropic", "--base-url", server.url,
                   "--api-key-env", "GLOBMED_TEST_ANTHROPIC_KEY", "--model", "claude-test", "--datasets", "medqa,mednli",
                   "--languages", "en,es", "--limit", "2", "--runs", "1", "--max-tokens", "16", "--greedy", "--no-progress"], env)
    assert res.returncode == 0, str(res)
    calls = server.chat_requests()
    assert len(calls) == 8 and {r["path"] for r in calls} == {"/v1/messages"}
    sent = [r["headers"].get("x-api-key") or r["headers"].get("authorization", "").removeprefix("Bearer ") for r in calls]
    assert sent == [key] * len(calls)  # the key was used (x-api-key, or a bearer token in newer SDKs) ...
    body = calls[0]["json"]
    assert body["model"] == "claude-test" and body["max_tokens"] == 16 and body["system"]
    assert body["temperature"] == 0.0  # --greedy, sent in the body (anthropic>=1.0 has no temperature argument)
    assert [m["role"] for m in body["messages"]] == ["user"]  # the system prompt goes apart
    rows = load_results(out)
    assert all(r["errors"] == 0 and r["backend"] == "anthropic" and r["tokens_in"] > 0 for r in rows)
    nli = [r for r in rows if r["dataset"] == "mednli"]
    assert all(r["unparsed"] == 0 for r in nli)  # "entailment" is read in every language
    for file in out.rglob("*"):  # ... and is written nowhere
        assert not file.is_file() or key.encode() not in file.read_bytes(), file


def test_openai_loglik_via_top_logprobs(openai_server, sample_data, tmp_path):
    server = openai_server(responder=gold_responder(sample_data, "{}", fallback="C"))
    settings = BenchSettings(data=str(sample_data), out=tmp_path / "out", model="scripted", base_url=server.base_url,
                             datasets="medqa,headqa", languages="en,sw", runs=1, limit=4, mode="loglik",
                             concurrency=4, progress=False)
    run_bench(settings, Console(file=io.StringIO()))
    calls = server.chat_requests()
    assert len(calls) == 16
    assert all(r["json"]["logprobs"] is True and r["json"]["top_logprobs"] == 20 and r["json"]["max_tokens"] == 1
               and r["json"]["temperature"] == 0.0 for r in calls)
    rows = load_results(tmp_path / "out")
    assert all(r["mode"] == "loglik" and r["accuracy"] == 1.0 and r["unparsed"] == 0 for r in rows)
    details = pq.read_table(tmp_path / "out" / "details.medqa.en").to_pylist()
    for d in details:  # the scripted distribution: the answer at -0.05, then A-J in order, 0.5 apart
        others = [c for c in "ABCD" if c != d["gold"]]
        expected = {d["gold"]: -0.05, **{c: -0.05 - 0.5 * (1 + "ABCDEFGHIJ".replace(d["gold"], "").index(c))
                                          for c in others}}
        assert d["scores"] == pytest.approx([expected[c] for c in "ABCD"]) and d["pred"] == d["gold"]


# -- endpoint: an Inference Endpoint scaled to zero is resumed, then used -------------------------------------
def test_endpoint_backend_resumes_a_scaled_to_zero_endpoint(openai_server, tmp_path, monkeypatch):
    import huggingface_hub.constants
    from huggingface_hub import HfApi

    chat = openai_server()
    with HubServer(tmp_path / "hub", endpoint_url=chat.url) as hub:
        monkeypatch.setattr(huggingface_hub.constants, "INFERENCE_ENDPOINTS_ENDPOINT", inference_endpoints_url(hub.url))
        monkeypatch.setenv("HF_TOKEN", hub.token)
        api = HfApi()
        api.create_inference_endpoint(
            "globmed-ep", repository="globmed-org/tiny", framework="pytorch", accelerator="gpu", instance_size="x1",
            instance_type="nvidia-l4", region="us-east-1", vendor="aws", namespace="tester", min_replica=0,
            max_replica=1, scale_to_zero_timeout=15,
            custom_image={"url": "ghcr.io/huggingface/text-generation-inference:3.3.4", "health_route": "/health"})
        assert api.scale_to_zero_inference_endpoint("globmed-ep", namespace="tester").status == "scaledToZero"
        mark = len(hub.requests)

        backend = make_backend("endpoint", "tester/globmed-ep")

        path = "/inference-endpoints/v2/endpoint/tester/globmed-ep"
        assert [(r["method"], r["path"], r["status"]) for r in hub.requests[mark:]] == [
            ("GET", path, 200), ("POST", path + "/resume", 200), ("GET", path, 200)]
        assert all(r["authorized"] for r in hub.requests[mark:])
        assert hub.endpoints[("tester", "globmed-ep")]["status"]["state"] == "running"
        assert backend.base_url == chat.url + "/v1" and backend.identity()["repository"] == "globmed-org/tiny"
        assert backend.kind == "endpoint" and backend.engine == "tgi" and backend.top_logprobs == 5
        request = Request(messages=({"role": "user", "content": "Which?\nA. no\nB. correct"},),
                          settings=GenerationSettings(max_tokens=8))
        out = run_async(backend, lambda b: b.chat(request))
    assert out.text == "B" and out.tokens_out == 1 and out.finish_reason == "stop"
    assert [(r["method"], r["path"]) for r in chat.requests] == [
        ("GET", "/health"), ("GET", "/v1/models"), ("POST", "/v1/chat/completions")]
    assert chat.requests[-1]["json"]["max_tokens"] == 8 and chat.requests[-1]["json"]["model"] == "scripted"
