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
from globmed.bench.evaluate import BenchSettings, build_requests, plan_configs, run_bench
from globmed.bench.grading import score_choices
from globmed.bench.resolve import entries_from, resolve
from globmed.core.datafolder import open_data
from globmed.core.resultsfolder import ResultsFolder
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
    (row,) = ResultsFolder(out).read_results()
    assert row["backend"] == "tgi" and row["n"] == 2 and row["errors"] == 0 and row["answered"] == 2
    assert row["tokens_out"] == 2 * 3


# -- the transformers backend in-process ------------------------------------------------------------------
def plan(sample_data: Path, tmp_path: Path, datasets: str, langs: str, limit: int, mode: str):
    settings = BenchSettings(data=str(sample_data), out=tmp_path, model="local", datasets=datasets, languages=langs,
                             limit=limit, runs=1, mode=mode, max_tokens=4)
    plans = plan_configs(open_data(str(sample_data)), settings, ResultsFolder(tmp_path))
    return list(build_requests(plans, resolve(entries_from(settings)[0], settings), supports_loglik=True))


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
        names = list(req.choices) if spec.task == "mcqa" else list(spec.labels)
        best = max(range(len(expected)), key=lambda i: expected[i])
        assert score_choices(spec.task, resp.scores, item, lang, spec).pred == names[best]
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
    rows = ResultsFolder(out).read_results()
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
    rows = ResultsFolder(tmp_path / "out").read_results()
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


# -- streaming (the Space's chat): every backend's `stream` against real servers ------------------------------
ANSWER = "Pole sana. Kunywa maji mengi na upumzike."
ASK = Request(messages=({"role": "system", "content": "Jibu kwa Kiswahili."},
                        {"role": "user", "content": "Nina homa."}),
              settings=GenerationSettings(max_tokens=64, temperature=0.7))


def collect(backend: Any, request: Request = ASK) -> list[str]:
    async def go(b: Any) -> list[str]:
        return [piece async for piece in b.stream(request)]

    return run_async(backend, go)


def streaming_backend(kind: str, server: Any, monkeypatch: Any, **options: Any) -> Any:
    if kind == "tgi":  # HF_HUB_OFFLINE also stops huggingface_hub's client from reaching 127.0.0.1
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    if kind == "anthropic":
        monkeypatch.setenv("GLOBMED_TEST_ANTHROPIC_KEY", "sk-ant-test-stream")
        options.setdefault("api_key_env", "GLOBMED_TEST_ANTHROPIC_KEY")
    url = server.base_url if kind == "openai" else server.url
    return make_backend(kind, "scripted", base_url=url, **options)


@pytest.mark.parametrize("kind", ["openai", "tgi", "anthropic"])
def test_stream_gives_the_answer_in_pieces_that_chat_gives_whole(kind, openai_server, monkeypatch):
    server = openai_server(responder=lambda messages, body: ANSWER)
    pieces = collect(streaming_backend(kind, server, monkeypatch))
    whole = run_async(streaming_backend(kind, server, monkeypatch), lambda b: b.chat(ASK)).text
    assert "".join(pieces) == whole == ANSWER
    assert len(pieces) == len(ANSWER.split())  # one event per word from the server: really streamed
    streamed, plain = (r["json"] for r in server.chat_requests())
    assert streamed["stream"] is True and not plain.get("stream")
    same = lambda body: {k: v for k, v in body.items() if k != "stream"}  # noqa: E731
    assert same(streamed) == same(plain)  # the same request otherwise
    assert streamed["temperature"] == 0.7 and streamed["max_tokens"] == 64


@pytest.mark.parametrize("kind", ["openai", "tgi", "anthropic"])
def test_stream_failures_are_backend_errors_with_their_cause(kind, openai_server, monkeypatch):
    from globmed.backends import BackendError

    server = openai_server()
    server.fail("", 503, times=1)
    with pytest.raises(BackendError) as failed:
        collect(streaming_backend(kind, server, monkeypatch))
    assert failed.value.status == 503 and failed.value.retryable
    server.slow("", 3.0)
    with pytest.raises(BackendError) as slow:
        collect(streaming_backend(kind, server, monkeypatch, timeout=0.5))
    assert slow.value.kind == "timeout" and slow.value.status is None
    server.stop()  # nothing listens there any more
    with pytest.raises(BackendError) as down:
        collect(streaming_backend(kind, server, monkeypatch))
    assert down.value.kind == "connection" and down.value.status is None


def test_openai_stream_of_a_server_that_does_not_stream(openai_server):
    """A server that ignores `stream` and sends one JSON completion: its whole answer, as one piece; content
    that is not text is refused as in chat()."""
    from globmed.backends import BackendError

    server = openai_server()
    server.content("parts", [{"type": "text", "text": "Pole "}, {"type": "text", "text": "sana."}])
    server.content("number", 42)
    def ask(text: str) -> list[str]:
        request = Request(messages=({"role": "user", "content": text},), settings=GenerationSettings())
        return collect(make_backend("openai", "m", base_url=server.base_url), request)

    assert ask("parts") == ["Pole sana."]
    with pytest.raises(BackendError, match="not text"):
        ask("number")


def test_endpoint_stream_names_the_model_the_server_serves(openai_server, monkeypatch):
    """A vLLM-like server answers 404 for any model name but the one it serves: the endpoint backend reads it
    from /v1/models and streams with it (the Space's chat used to send "dummy")."""
    server = openai_server(responder=lambda messages, body: ANSWER, model="globmed-org/served", strict_model=True)
    monkeypatch.setenv("HF_TOKEN", "hf_NotForThisHost0123456789abcdefghij")
    backend = make_backend("endpoint", "my-endpoint", base_url=server.base_url)
    assert backend.served_model == "globmed-org/served"
    assert "".join(collect(backend)) == ANSWER
    models, chat = server.requests
    assert models["path"] == "/v1/models" and chat["json"]["model"] == "globmed-org/served" and chat["status"] == 200
    # a loopback URL is not Hugging Face: the machine's token goes to neither request
    assert {r["headers"]["authorization"] for r in (models, chat)} == {"Bearer EMPTY"}


@pytest.mark.slow
def test_transformers_stream_is_the_answer_chat_gives(tiny_model):
    """Sampled with a seed, the streamed pieces join to exactly the text chat() generates; a stop string ends
    the stream before it, as it ends chat()'s text."""
    backend = make_backend("transformers", str(tiny_model), device="cpu", batch_size=1)
    backend.lm.generation_config.top_k = 0

    def ask(**settings: Any) -> Request:
        return Request(messages=({"role": "user", "content": "What treats scurvy?"},),
                       settings=GenerationSettings(max_tokens=16, temperature=1.0, seed=5, **settings))

    async def go(b: Any) -> tuple[str, list[str], str, str, list[str]]:
        whole = (await b.chat(ask())).text
        pieces = [p async for p in b.stream(ask())]
        stop = next(w for w in whole.split()[1:] if len(w) > 1)  # a word after the first
        cut = (await b.chat(ask(stop=(stop,)))).text
        return whole, pieces, stop, cut, [p async for p in b.stream(ask(stop=(stop,)))]

    whole, pieces, stop, cut, cut_pieces = run_async(backend, go)
    assert whole.strip() and len(pieces) >= 2 and "".join(pieces) == whole
    assert "".join(cut_pieces) == cut == whole[: whole.index(stop)]


@pytest.mark.slow
def test_tgi_stream_against_transformers_serve(served, tiny_model, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    backend = make_backend("tgi", str(tiny_model), base_url=served)
    request = Request(messages=({"role": "user", "content": "What treats scurvy?"},),
                      settings=GenerationSettings(max_tokens=8, temperature=1.0, seed=3, extra_body=SAMPLING))
    pieces = collect(backend, request)
    assert len(pieces) >= 2 and "".join(pieces).strip()


@pytest.mark.parametrize("kind, secret", [("openai", "api_key"), ("anthropic", "api_key"), ("endpoint", "token")])
def test_settings_cannot_hand_a_backend_a_key_itself(kind, secret):
    """Settings and campaigns name the variable that holds a key (api_key_env); a key itself is refused, so
    none is ever written into a settings file, a campaign or the results."""
    from globmed.errors import GlobmedError

    with pytest.raises(GlobmedError, match=f"does not take option\\(s\\) {secret}") as refused:
        make_backend(kind, "m", base_url="http://127.0.0.1:9/v1", **{secret: "sk-secret-value"})
    assert "sk-secret-value" not in str(refused.value)
