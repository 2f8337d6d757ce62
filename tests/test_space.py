"""The GlobMed Space, headless: a launched app driven through gradio_client (leaderboard filters,
compare, plots, the demo chat against `transformers serve` on a tiny model and against failing
servers), plus the Space folder itself (front matter, pinned requirements, light imports)."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq
import pytest
import yaml

from globmed.space import SAMPLE_RESULTS, SPACE_REPO
from tests.support.serving import free_port, launch_space as launch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

SAMPLE = SAMPLE_RESULTS
MODELS = ["demo-small-1.7B (synthetic)", "demo-general-8B (synthetic)", "demo-medical-8B (synthetic)",
          "demo-instruct-32B (synthetic)", "demo-reasoning-32B (synthetic)", "demo-proprietary (synthetic)"]
LANGS = ["de", "en", "es", "fr", "ja", "ko", "pt", "zh", "sw", "wo", "yo", "zu"]
LOW = {"sw", "wo", "yo", "zu"}
DATASETS = ["medqa", "headqa", "medexpqa", "mmlu_pro", "bionli", "medmcqa", "pubmedqa"]




@pytest.fixture(scope="module")
def space() -> Iterator[tuple[Any, Any]]:
    """The Space on the shipped sample; its demo config is mutated by the demo tests."""
    from gradio_client import Client

    from globmed.space.chat import ChatConfig

    config = ChatConfig()
    demo, url = launch([str(SAMPLE)], config)
    try:
        yield Client(url, verbose=False), config
    finally:
        demo.close()


def board(client: Any, langs: Any = LANGS, dsets: Any = DATASETS, tasks: Any = ("mcqa", "nli"),
          access: Any = ("open-weight", "proprietary"), domain: Any = ("general", "medical"),
          reasoning: Any = ("non-reasoning", "reasoning"), size_min: Any = 0, size_max: Any = None,
          unknown: bool = True, search: str = "", display: str = "mean") -> tuple[list[str], list[list[Any]]]:
    out = client.predict(list(langs), list(dsets), list(tasks), list(access), list(domain), list(reasoning),
                         size_min, size_max, unknown, search, display, api_name="/leaderboard")
    value = out.get("value", out)
    return value["headers"], value["data"]


def expected_accuracy(model: str, dataset: str, language: str) -> float:
    """Straight from the results parquet: mean over runs of correct/answered, in %."""
    rows = [r for r in pq.read_table(SAMPLE / "results").to_pylist()
            if r["model"] == model and r["dataset"] == dataset and r["language"] == language]
    return 100 * sum(r["correct"] / r["answered"] for r in rows) / len(rows)


# -- the Space folder ------------------------------------------------------------------------------------
def test_space_folder_deploys_as_is():
    import gradio

    text = (SPACE_REPO / "README.md").read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---", 2)[1])
    assert meta["sdk"] == "gradio" and meta["app_file"] == "app.py" and (SPACE_REPO / "app.py").exists()
    assert meta["sdk_version"] == gradio.__version__
    assert {"title", "emoji", "colorFrom", "colorTo"} <= set(meta)
    reqs = [l.strip() for l in (SPACE_REPO / "requirements.txt").read_text().splitlines()
            if l.strip() and not l.startswith("#")]
    assert "globmed @ git+https://github.com/globmed/globmed@v0.1.0" in reqs
    assert all("==" in r for r in reqs if not r.startswith("globmed @")), reqs  # everything pinned
    assert not any(r.lower().startswith("gradio") for r in reqs)  # the SDK version pins gradio


def test_sample_results_are_small_synthetic_and_without_mednli():
    size = sum(p.stat().st_size for p in SAMPLE.rglob("*") if p.is_file())
    assert size < 2_000_000
    assert not (SAMPLE / ".cache").exists()
    assert "SYNTHETIC" in (SAMPLE / "README.md").read_text(encoding="utf-8")
    rows = pq.read_table(SAMPLE / "results").to_pylist()
    assert {r["model"] for r in rows} == set(MODELS)
    assert all(r["model"].endswith("(synthetic)") for r in rows)
    assert not any("mednli" in p.name for p in SAMPLE.iterdir())
    assert "mednli" not in json.loads((SAMPLE / "globmed.json").read_text())["datasets"]
    assert {r["run"] for r in rows} == {0, 1}


def test_space_import_is_light():
    code = ("import sys, globmed.space.app, globmed.space.data, globmed.space.chat; "
            "heavy = [m for m in ('globmed.runner', 'globmed.backends', 'globmed.bench.scoring', 'globmed.bench.evaluate', "
            "'torch', 'transformers') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# -- leaderboard -----------------------------------------------------------------------------------------
def test_leaderboard_default_one_row_per_model(space):
    client, _ = space
    headers, data = board(client)
    assert [row[0] for row in data] and sorted(row[0] for row in data) == sorted(MODELS)
    for code in LANGS:
        assert (code + " ◆" if code in LOW else code) in headers  # low-resource languages stand out
    assert all(d in headers for d in DATASETS)
    assert {"Overall", "SD", "95% CI", "Unparsed %", "Errors %", "Access", "Domain", "Reasoning", "Size (B)"} <= set(headers)
    overall = [row[headers.index("Overall")] for row in data]
    assert overall == sorted(overall, reverse=True)  # best first
    assert data[0][0] == "demo-proprietary (synthetic)"
    errors = {row[0]: row[headers.index("Errors %")] for row in data}
    assert all(v > 0 for v in errors.values())  # the two scripted 400s per model are counted as errors
    lo, hi = map(float, re.findall(r"[\d.]+", data[0][headers.index("95% CI")]))
    assert lo <= data[0][headers.index("Overall")] <= hi


def test_leaderboard_language_and_dataset_filters(space):
    client, _ = space
    headers, data = board(client, langs=["sw", "en"], dsets=["medqa"])
    assert [h for h in headers if h in LANGS or h.endswith("◆") or h in DATASETS] == ["en", "sw ◆", "medqa"]
    for row in data:
        model = row[0]
        assert row[headers.index("en")] == pytest.approx(expected_accuracy(model, "medqa", "en"), abs=0.06)
        assert row[headers.index("sw ◆")] == pytest.approx(expected_accuracy(model, "medqa", "sw"), abs=0.06)
        mean = (expected_accuracy(model, "medqa", "en") + expected_accuracy(model, "medqa", "sw")) / 2
        assert row[headers.index("Overall")] == pytest.approx(mean, abs=0.06)
    # task filter: NLI only leaves BioNLI
    headers, _ = board(client, tasks=["nli"])
    assert [d for d in DATASETS if d in headers] == ["bionli"]


def test_leaderboard_model_type_size_and_search(space):
    client, _ = space
    names = lambda **kw: sorted(row[0] for row in board(client, **kw)[1])  # noqa: E731
    assert names(access=["proprietary"]) == ["demo-proprietary (synthetic)"]
    assert names(domain=["medical"]) == ["demo-medical-8B (synthetic)"]
    assert names(reasoning=["reasoning"]) == ["demo-proprietary (synthetic)", "demo-reasoning-32B (synthetic)"]
    assert names(size_min=5, size_max=10, unknown=False) == ["demo-general-8B (synthetic)", "demo-medical-8B (synthetic)"]
    assert "demo-proprietary (synthetic)" in names(size_min=5, size_max=10, unknown=True)
    assert names(size_min=20, unknown=False) == ["demo-instruct-32B (synthetic)", "demo-reasoning-32B (synthetic)"]
    assert names(search="MEDICAL") == ["demo-medical-8B (synthetic)"]
    assert names(search="<script>alert(1)</script>") == []
    assert names(search="x" * 10_000) == []  # bounded, no error


def test_leaderboard_display_modes(space):
    client, _ = space
    headers, data = board(client, display="mean ± SD [95% CI]")
    cell = data[0][headers.index("sw ◆")]
    assert re.fullmatch(r"\d+\.\d ± \d+\.\d \[\d+\.\d, \d+\.\d\]", cell), cell
    headers, data = board(client, display="mean ± SD")
    assert re.fullmatch(r"\d+\.\d ± \d+\.\d", data[0][headers.index("en")])


# -- compare and plots -----------------------------------------------------------------------------------
def test_compare_gives_corrected_p_values(space):
    client, _ = space
    summary, table = client.predict("demo-reasoning-32B (synthetic)", "demo-small-1.7B (synthetic)", "holm",
                                    api_name="/compare")
    headers, data = table["headers"], table["data"]
    assert len(data) == len(DATASETS) * len(LANGS)
    assert {"Dataset", "Language", "Items", "p", "p adj.", "Sig."} <= set(headers)
    cells = {(r[0], r[1].replace(" ◆", "")) for r in data}
    assert cells == {(d, l) for d in DATASETS for l in LANGS}
    p, padj = headers.index("p"), headers.index("p adj.")
    for row in data:
        assert float(row[padj]) >= float(row[p]) - 1e-12  # Holm never lowers a p-value
        assert row[headers.index("Sig.")] in ("ns", "*", "**", "***", "****")
    assert "significant" in summary
    # BH differs from Holm and is also corrected
    _, bh = client.predict("demo-reasoning-32B (synthetic)", "demo-small-1.7B (synthetic)", "bh", api_name="/compare")
    assert len(bh["data"]) == len(data)
    message, none = client.predict("demo-small-1.7B (synthetic)", "demo-small-1.7B (synthetic)", "holm",
                                   api_name="/compare")
    assert "two different models" in message


def test_plots_render(space):
    client, _ = space
    bars, scatter, radar, heat = client.predict(
        MODELS, "demo-medical-8B (synthetic) vs demo-general-8B (synthetic) (medical vs general)",
        MODELS[0], MODELS[1], "holm", api_name="/plots")
    for image in (bars, heat):
        assert Path(image).read_bytes()[:4] == b"\x89PNG"
    for plot in (scatter, radar):
        assert plot["type"] == "matplotlib" and plot["plot"].startswith("data:image/")


def test_disclaimer_follows_the_language(space):
    from globmed import languages

    client, _ = space
    text = client.predict("sw", api_name="/disclaimer")
    assert text.startswith("Onyesho hili ni kwa ajili ya utafiti tu")
    assert languages.get("yo").disclaimer[:10] in client.predict("yo", api_name="/disclaimer")


def test_results_of_two_sources_and_a_bad_one(tmp_path):
    from globmed.space.leaderboard import Filters, Results

    results = Results([str(SAMPLE), str(SAMPLE), str(tmp_path / "missing")])
    assert len(results.model_names) == 2 * len(MODELS)  # same names from a second source get the source appended
    assert any(name.endswith(f"[{SAMPLE}]") for name in results.model_names)
    assert results.warnings and "missing" in results.warnings[0]
    assert len(results.leaderboard(Filters())) == 12


# -- the demo --------------------------------------------------------------------------------------------
def configure(config: Any, **values: Any) -> None:
    from globmed.space.chat import ChatConfig

    for key, value in {**ChatConfig().__dict__, **values}.items():
        setattr(config, key, value)


def chat(client: Any, message: str, language: str) -> list[str]:
    job = client.submit(message, language, api_name="/chat")
    job.result(timeout=120)
    return [o for o in job.outputs() if isinstance(o, str)]


@pytest.mark.slow
def test_demo_streams_from_transformers_serve(space, served, tiny_model):
    from globmed.space import chat as chatlib

    client, config = space
    url, model = served, tiny_model
    # A random tiny model greedily repeats newlines: sample (transformers serve needs do_sample for that).
    configure(config, url=url + "/v1", model=str(model), backend="openai", max_tokens=12, temperature=1.0,
              extra_body={"generation_config": json.dumps({"do_sample": True, "top_k": 0})})
    outputs = chat(client, "Habari daktari, nina homa.", "sw")
    assert len(outputs) >= 3, outputs  # streamed: several growing partial answers
    assert all(outputs[i + 1].startswith(outputs[i]) for i in range(len(outputs) - 1))
    final = outputs[-1]
    assert final.strip() and final not in (chatlib.UNREACHABLE, chatlib.ASLEEP, chatlib.EMPTY)
    assert not final.startswith("The model server")


def test_demo_sends_the_language_system_prompt_and_streams(space, openai_server):
    from globmed import languages

    client, config = space
    server = openai_server(responder=lambda messages, body: "Pole sana. Kunywa maji mengi na upumzike.")
    configure(config, url=server.base_url, model="scripted", backend="openai")
    outputs = chat(client, "Nina homa.", "sw")
    assert outputs[-1] == "Pole sana. Kunywa maji mengi na upumzike." and len(outputs) > 2
    body = server.chat_requests()[-1]["json"]
    assert body["stream"] is True and body["model"] == "scripted"
    assert body["messages"][0] == {"role": "system", "content": languages.get("sw").system}
    assert body["messages"][-1] == {"role": "user", "content": "Nina homa."}
    assert server.chat_requests()[-1]["headers"].get("authorization") == "Bearer EMPTY"  # no token to a 3rd party


def test_demo_tgi_backend(space, openai_server, monkeypatch):
    client, config = space
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    server = openai_server(responder=lambda messages, body: "Bonjour, je suis là.")
    configure(config, url=server.url, backend="tgi")
    assert chat(client, "Bonjour", "fr")[-1] == "Bonjour, je suis là."


def test_demo_clear_message_when_down_or_asleep(space, openai_server, monkeypatch):
    from globmed.space import chat as chatlib

    client, config = space
    configure(config, url=f"http://127.0.0.1:{free_port()}/v1", model="m", backend="openai")  # nothing listens
    assert chat(client, "Hello", "en") == [chatlib.UNREACHABLE]
    asleep = openai_server()
    asleep.fail("", 503, times=None)  # scaled to zero / starting: every request answers 503
    configure(config, url=asleep.base_url, model="m", backend="openai")
    assert chat(client, "Hello", "en") == [chatlib.ASLEEP]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    configure(config, url=asleep.url, backend="tgi")
    assert chat(client, "Hello", "en") == [chatlib.ASLEEP]
    broken = openai_server()
    broken.fail("", 500, times=None)
    configure(config, url=broken.base_url, model="m", backend="openai")
    assert chat(client, "Hello", "en") == [chatlib.FAILED.format(status=500)]


def test_demo_input_bounded_and_unconfigured(space, openai_server):
    from globmed.space import chat as chatlib

    client, config = space
    server = openai_server()
    configure(config, url=server.base_url, model="m", backend="openai")
    out = chat(client, "a" * (chatlib.MAX_INPUT + 1), "en")
    assert out == [chatlib.TOO_LONG.format(n=chatlib.MAX_INPUT + 1, limit=chatlib.MAX_INPUT)]
    assert server.chat_requests() == []
    configure(config)
    assert chat(client, "Hello", "en") == [chatlib.NOT_CONFIGURED]


def test_demo_anthropic_backend_and_settings_that_cannot_work(openai_server, tmp_path, monkeypatch):
    """The chat's other backends go through globmed.backends too: Anthropic's Messages API streams with the
    demo's key; a backend that cannot be set up (no key, no such local model) gets one message for the owner."""
    from globmed.space import chat as chatlib

    server = openai_server(responder=lambda m, b: "Hola, ¿en qué puedo ayudarle?")
    config = chatlib.ChatConfig(backend="anthropic", url=server.url, model="claude-x", api_key="sk-ant-demo-key")
    outputs = list(chatlib.reply(config, "Hola", [], "es"))
    assert outputs[-1] == "Hola, ¿en qué puedo ayudarle?" and len(outputs) > 2  # streamed
    [sent] = server.chat_requests()
    assert sent["path"] == "/v1/messages" and sent["json"]["stream"] is True and sent["json"]["system"]
    assert "sk-ant-demo-key" in str(sent["headers"])
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    for config in (chatlib.ChatConfig(backend="anthropic", model="claude-x"),
                   chatlib.ChatConfig(backend="transformers", model=str(tmp_path / "no-such-model"))):
        assert config.configured and list(chatlib.reply(config, "Hola", [], "es")) == [chatlib.MISCONFIGURED]


def test_no_secret_or_setting_is_rendered(tmp_path):
    """The page config (every component's props) holds none of the demo's settings or secrets."""
    from globmed.space.chat import ChatConfig

    secret, url = "sk-very-secret-key-123456", "http://secret-host.example:9/v1"
    demo, base = launch([str(SAMPLE)], ChatConfig(url=url, model="secret-model-name", api_key=secret, hf_token="hf_xyzsecret"))
    try:
        page = urllib.request.urlopen(base, timeout=30).read().decode()
        config = urllib.request.urlopen(base + "config", timeout=30).read().decode()
        for text in (page, config):
            for value in (secret, "secret-host.example", "secret-model-name", "hf_xyzsecret"):
                assert value not in text
        assert "demo-proprietary (synthetic)" in config
    finally:
        demo.close()


def test_chat_config_from_env_keeps_hf_token_to_hf_hosts():
    from globmed.space.chat import ChatConfig

    env = {"GLOBMED_DEMO_URL": "https://example.org/v1", "GLOBMED_DEMO_MODEL": "m", "HF_TOKEN": "hf_abc"}
    config = ChatConfig.from_env(env)
    assert config.configured and config.backend == "openai"
    assert config.token_for(config.url) is None  # never sent to a third-party host
    assert config.token_for("https://xyz.us-east-1.aws.endpoints.huggingface.cloud/v1") == "hf_abc"
    assert "hf_abc" not in repr(config)
    assert ChatConfig.from_env({**env, "GLOBMED_DEMO_API_KEY": "k"}).token_for(config.url) == "k"
    assert not ChatConfig.from_env({}).configured
    assert ChatConfig.from_env({"GLOBMED_DEMO_BACKEND": "endpoint", "GLOBMED_DEMO_MODEL": "my-ep"}).configured
    assert math.isclose(ChatConfig.from_env({"GLOBMED_DEMO_TEMPERATURE": "0.2"}).temperature, 0.2)


def test_demo_endpoint_backend_asleep_paused_running(tmp_path, openai_server, monkeypatch):
    """GLOBMED_DEMO_BACKEND=endpoint: the endpoint is looked up by name on the (loopback) Hub; asleep,
    paused and running endpoints give the asleep message, the paused message, and the answer. A running
    vLLM-like endpoint (404 for any model name but the one it serves) is asked with its served name."""
    import huggingface_hub.constants

    from globmed.space import chat as chatlib
    from tests.support.hub_server import HubServer, inference_endpoints_url

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    asleep, awake = openai_server(), openai_server(responder=lambda m, b: "Hallo, ich bin wach.")
    vllm = openai_server(responder=lambda m, b: "Hallo von vLLM.", model="o/m-served", strict_model=True)
    asleep.fail("", 503, times=None)
    with HubServer(tmp_path / "hub") as hub:
        monkeypatch.setattr(huggingface_hub.constants, "INFERENCE_ENDPOINTS_ENDPOINT", inference_endpoints_url(hub.url))
        from huggingface_hub import HfApi

        HfApi(token=hub.token).create_inference_endpoint(
            "ep", repository="o/m", framework="pytorch", accelerator="gpu", instance_size="x1",
            instance_type="nvidia-l4", region="us-east-1", vendor="aws", namespace="tester", min_replica=0)
        ep = hub.endpoints[("tester", "ep")]
        config = chatlib.ChatConfig(backend="endpoint", model="tester/ep", hf_token=hub.token)

        def state(name: str, url: str) -> None:
            ep["status"].update(state=name, url=url)
            ep["_next"] = []

        state("scaledToZero", asleep.url)
        assert list(chatlib.reply(config, "Hallo", [], "de")) == [chatlib.ASLEEP]
        assert asleep.chat_requests()  # the request that wakes it went to the endpoint's URL
        state("paused", awake.url)
        assert list(chatlib.reply(config, "Hallo", [], "de")) == [chatlib.PAUSED]
        state("initializing", awake.url)
        assert list(chatlib.reply(config, "Hallo", [], "de")) == [chatlib.WAKING]
        state("running", awake.url)
        assert list(chatlib.reply(config, "Hallo", [], "de"))[-1] == "Hallo, ich bin wach."
        state("running", vllm.url)
        assert list(chatlib.reply(config, "Hallo", [], "de"))[-1] == "Hallo von vLLM."
        [sent] = vllm.chat_requests()
        assert sent["json"]["model"] == "o/m-served" and sent["json"]["stream"] is True
        assert hub.token not in str([r["headers"] for r in vllm.requests])  # a loopback URL is not Hugging Face
        missing = chatlib.ChatConfig(backend="endpoint", model="tester/nope", hf_token=hub.token)
        assert list(chatlib.reply(missing, "Hallo", [], "de")) == [chatlib.NOT_FOUND]


def test_heatmap_tests_are_the_bench_reports_pooled_tests():
    """The Space's pooled tests equal globmed.bench.report.reference_tests' dataset "all" rows (it skips
    only the per-dataset tests, which the heatmap does not show)."""
    from globmed.bench.report import load_correctness, reference_tests
    from globmed.space.leaderboard import Results

    keep = {"en", "es", "sw", "zu"}
    full = load_correctness(SAMPLE)
    small = {m: {k: v for k, v in cells.items() if k[1] in keep} for m, cells in full.items() if m in MODELS[1:3]}
    results = Results([str(SAMPLE)])
    results._correctness = small
    ours = results.reference_tests("holm")
    theirs = [t for t in reference_tests(small, "holm") if t["dataset"] == "all"]
    key = lambda t: (t["model"], t["reference"], t["language"])  # noqa: E731
    # two panels per model: es, sw, zu against English; en, sw, zu against Spanish (HEAD-QA)
    assert sorted(map(key, ours)) == sorted(map(key, theirs)) and len(ours) == 2 * (3 + 3)
    by = {key(t): t for t in theirs}
    for t in ours:
        ref = by[key(t)]
        assert (t["n_items"], t["stars"]) == (ref["n_items"], ref["stars"])
        assert t["p_adj"] == pytest.approx(ref["p_adj"]) and t["diff"] == pytest.approx(ref["diff"])


def test_heatmap_has_the_papers_two_panels_with_values_from_the_details():
    """Fig. 4's two panels on the shipped sample results: English-reference datasets (no "en" column) and
    Spanish-reference ones (HeadQA; "en" is a column), each value the pooled paired difference computed here
    straight from the details parquet files."""
    from globmed import registry
    from globmed.bench.plots import heatmap_panels
    from globmed.space.leaderboard import Results
    from globmed.space.plots import significance_heatmap

    model = MODELS[1]
    results = Results([str(SAMPLE)])
    panels = {p["reference"]: p for p in heatmap_panels([t for t in results.reference_tests("holm")
                                                         if t["model"] == model])}
    assert list(panels) == ["en", "es"]
    assert "en" not in panels["en"]["languages"] and "es" in panels["en"]["languages"]
    assert "es" not in panels["es"]["languages"] and "en" in panels["es"]["languages"]
    assert panels["es"]["datasets"] == ",".join(sorted(d for d in _sample_datasets() if registry.get(d).reference_language == "es"))

    def item_means(dataset: str, lang: str) -> dict[str, float]:
        rows = [r for f in sorted((SAMPLE / f"details.{dataset}.{lang}").glob("*.parquet"))
                for r in pq.read_table(f, columns=["model", "id", "correct", "error"]).to_pylist() if r["model"] == model]
        runs: dict[str, list[Any]] = {}
        for r in rows:
            runs.setdefault(r["id"], []).append(None if r["error"] is not None else bool(r["correct"]))
        return {i: sum(v) / len(v) for i, v in runs.items() if None not in v}

    for ref, lang in (("en", "sw"), ("en", "es"), ("es", "en"), ("es", "zu")):
        pairs = []
        for dataset in _sample_datasets():
            if registry.get(dataset).reference_language != ref:
                continue
            x, y = item_means(dataset, lang), item_means(dataset, ref)
            pairs += [(x[i], y[i]) for i in x.keys() & y.keys()]
        expected = 100 * (sum(a for a, _ in pairs) - sum(b for _, b in pairs)) / len(pairs)
        p = panels[ref]
        value = p["diff"][p["models"].index(model)][p["languages"].index(lang)]
        assert value == pytest.approx(expected, abs=1e-9), (ref, lang)
    path = significance_heatmap(results, [model])
    assert path and Path(path).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _sample_datasets() -> list[str]:
    return sorted({p.name.split(".")[1] for p in SAMPLE.glob("details.*")})
