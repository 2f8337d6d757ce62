"""Deployment against the loopback Hub (tests/support/hub_server.py): `globmed deploy endpoint` sends
exactly the expected Inference Endpoints request (a pinned vLLM engine image by default, a pinned TGI
custom container with --engine tgi), waits until it runs and prints its URL; `globmed bench run
--backend endpoint` then evaluates either engine over the OpenAI route; pause/resume/scale-to-zero/delete
send the right requests; `globmed-push space` creates or updates the Space (sdk gradio) in ONE commit with
the GLOBMED_RESULTS variable set."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq
import pytest

from globmed.deploy import TGI_IMAGE, VLLM_IMAGE
from globmed.space import SAMPLE_RESULTS, SPACE_REPO
from tests.conftest import gold_responder, run_cli
from tests.support.hub_server import HubServer, client_env

IE = "/inference-endpoints/v2/endpoint"


@pytest.fixture
def hub(tmp_path) -> Iterator[tuple[HubServer, dict[str, str]]]:
    with HubServer(tmp_path / "hub") as server:
        yield server, _env(server, tmp_path)


def _env(server: HubServer, tmp_path: Path) -> dict[str, str]:
    env = client_env(server.url, tmp_path / "home", server.token)
    env.update(GLOBMED_INFERENCE_ENDPOINTS_URL=env["HUB_SERVER_INFERENCE_ENDPOINTS_URL"], COLUMNS="300",
               NO_COLOR="1", TERM="dumb")
    return env


def ie_requests(server: HubServer) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in server.requests if r["path"].startswith(IE)]


def test_pinned_images_are_versions_not_moving_tags():
    assert VLLM_IMAGE.startswith("vllm/vllm-openai:v") and VLLM_IMAGE.split(":v")[1][0].isdigit()
    assert TGI_IMAGE.startswith("ghcr.io/huggingface/text-generation-inference:") and TGI_IMAGE[-1].isdigit()
    assert "latest" not in VLLM_IMAGE + TGI_IMAGE and "nightly" not in VLLM_IMAGE


def test_deploy_endpoint_defaults_to_the_pinned_vllm_engine_waits_and_prints_the_url(hub):
    server, env = hub
    res = run_cli(["deploy", "endpoint", "--model", "globmed-org/globmed-8b", "--name", "gm8b", "--max-replica", "2",
                   "--instance-type", "nvidia-l4", "--instance-size", "x1", "--max-total-tokens", "4096",
                   "--poll", "0.05"], env)
    assert res.returncode == 0, str(res)
    creates = [r for r in server.requests if r["method"] == "POST" and r["path"] == f"{IE}/tester"]
    assert len(creates) == 1 and creates[0]["authorized"]
    assert creates[0]["json"] == {
        "compute": {"accelerator": "gpu", "instanceSize": "x1", "instanceType": "nvidia-l4",
                    "scaling": {"maxReplica": 2, "minReplica": 0, "scaleToZeroTimeout": 15}},
        "model": {"framework": "pytorch", "repository": "globmed-org/globmed-8b", "revision": None,
                  # the API's managed vLLM engine image, pinned; one model copy over the instance's one GPU
                  "image": {"vLLM": {"url": VLLM_IMAGE, "healthRoute": "/health", "port": 8000,
                                     "tensorParallelSize": 1}},
                  # engine flags: served under its repo id (the name clients send), context from the flag
                  "args": ["--served-model-name", "globmed-org/globmed-8b", "--max-model-len", "4096"]},
        "name": "gm8b", "provider": {"region": "us-east-1", "vendor": "aws"}, "type": "authenticated",
    }
    # it waited: polled the endpoint until running and checked its health route
    assert server.endpoints[("tester", "gm8b")]["status"]["state"] == "running"
    assert any(r["path"] == "/endpoints/gm8b/health" and r["status"] == 200 for r in server.requests)
    assert f"URL: {server.url}/endpoints/gm8b" in res.output
    assert "vllm: " + VLLM_IMAGE in res.output
    assert "globmed bench run --backend endpoint --model gm8b" in res.output
    assert server.token not in res.stdout + res.stderr


def test_deploy_endpoint_tgi_engine_and_vllm_on_several_gpus(hub):
    server, env = hub
    res = run_cli(["deploy", "endpoint", "--model", "globmed-org/globmed-8b", "--engine", "tgi", "--name", "gm8b-tgi",
                   "--max-input-tokens", "4096", "--env", "MAX_BATCH_PREFILL_TOKENS=8192", "--poll", "0.05"], env)
    assert res.returncode == 0, str(res)
    (create,) = [r["json"] for r in server.requests if r["method"] == "POST" and r["path"] == f"{IE}/tester"]
    assert create["model"]["image"] == {"custom": {"url": TGI_IMAGE, "healthRoute": "/health", "port": 80}}
    assert create["model"]["env"] == {"MODEL_ID": "/repository", "MAX_INPUT_TOKENS": "4096",
                                      "MAX_BATCH_PREFILL_TOKENS": "8192"}
    assert "args" not in create["model"]
    assert "tgi: " + TGI_IMAGE in res.output

    res = run_cli(["deploy", "endpoint", "--model", "globmed-org/globmed-70b", "--name", "gm70b", "--instance-type",
                   "nvidia-a100", "--instance-size", "x4", "--args", "--enable-prefix-caching", "--poll", "0.05"], env)
    assert res.returncode == 0, str(res)
    create = [r["json"] for r in server.requests if r["method"] == "POST" and r["path"] == f"{IE}/tester"][-1]
    assert create["model"]["image"]["vLLM"]["tensorParallelSize"] == 4  # every GPU of the x4 instance
    assert create["model"]["args"] == ["--served-model-name", "globmed-org/globmed-70b", "--enable-prefix-caching"]


@pytest.mark.parametrize("args, message", [
    (["--engine", "sglang"], "--engine must be one of vllm, tgi"),
    (["--max-input-tokens", "10"], "--max-input-tokens is a TGI setting"),
    (["--engine", "tgi", "--tensor-parallel-size", "2"], "--tensor-parallel-size is a vLLM setting"),
])
def test_deploy_endpoint_refuses_settings_of_the_other_engine(hub, args, message):
    server, env = hub
    res = run_cli(["deploy", "endpoint", "--model", "globmed-org/m", *args], env)
    assert res.returncode == 2 and message in res.output and "Traceback" not in res.output
    assert not ie_requests(server)


def test_deploy_endpoint_updates_an_existing_one_and_switches_engine(hub):
    server, env = hub
    base = ["deploy", "endpoint", "--model", "globmed-org/globmed-8b", "--name", "gm8b", "--poll", "0.05"]
    assert run_cli(base, env).returncode == 0
    res = run_cli([*base[:-2], "--namespace", "tester", "--engine", "tgi", "--min-replica", "1", "--max-replica", "3",
                   "--instance-type", "nvidia-a10g", "--poll", "0.05"], env)
    assert res.returncode == 0, str(res)
    puts = [r for r in server.requests if r["method"] == "PUT" and r["path"] == f"{IE}/tester/gm8b"]
    assert len(puts) == 1
    body = puts[0]["json"]
    assert body["compute"]["instanceType"] == "nvidia-a10g"
    assert body["compute"]["scaling"]["minReplica"] == 1 and body["compute"]["scaling"]["maxReplica"] == 3
    assert "scaleToZeroTimeout" not in body["compute"]["scaling"]  # no scale-to-zero with a minimum replica
    assert body["model"]["image"] == {"custom": {"url": TGI_IMAGE, "healthRoute": "/health", "port": 80}}
    assert body["model"]["args"] == [] and body["model"]["env"] == {"MODEL_ID": "/repository"}  # vLLM's flags gone
    stored = server.endpoints[("tester", "gm8b")]["model"]
    assert stored["image"] == body["model"]["image"] and stored["args"] == []
    assert sum(1 for m, p in ie_requests(server) if m == "POST" and p == f"{IE}/tester") == 1  # created once
    assert f"URL: {server.url}/endpoints/gm8b" in res.output


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["vllm", "tgi"])
def test_bench_run_backend_endpoint_with_either_engine(engine, openai_server, sample_data, tmp_path):
    """Deploy with the engine, scale to zero, then `bench run --backend endpoint`: the endpoint is woken,
    its served model name is read from /v1/models (the vLLM-like server answers 404 for any other), the
    HF token authenticates, and loglik asks TGI for no more than its 5 alternatives."""
    served = "globmed-org/tiny" if engine == "vllm" else "/repository"
    chat = openai_server(responder=gold_responder(sample_data, template="{}"), model=served, strict_model=True)
    with HubServer(tmp_path / "hub", endpoint_url=chat.url) as server:
        env = _env(server, tmp_path)
        res = run_cli(["deploy", "endpoint", "--model", "globmed-org/tiny", "--engine", engine, "--name", "ep",
                       "--poll", "0.05"], env)
        assert res.returncode == 0, str(res)
        assert run_cli(["deploy", "scale-to-zero", "ep"], env).returncode == 0
        out = tmp_path / "out"
        for mode in ("generate", "loglik"):
            res = run_cli(["bench", "run", "--backend", "endpoint", "--model", "ep", "--data", sample_data, "--out", out,
                           "--datasets", "medqa", "--languages", "en,sw", "--limit", "2", "--runs", "1", "--mode", mode,
                           "--name", f"ep-{mode}", "--no-progress"], env)
            assert res.returncode == 0, str(res)
        assert ("POST", f"{IE}/tester/ep/resume") in ie_requests(server)
    calls = chat.chat_requests()
    assert len(calls) == 8 and all(r["status"] == 200 and r["json"]["model"] == served for r in calls)
    assert all(r["headers"]["authorization"] == f"Bearer {server.token}" for r in calls)
    logliks = [r["json"] for r in calls if r["json"].get("logprobs")]
    assert len(logliks) == 4 and {r["top_logprobs"] for r in logliks} == {5 if engine == "tgi" else 20}
    rows = pq.read_table(out / "results").to_pylist()
    assert len(rows) == 4 and all(r["backend"] == "endpoint" and r["accuracy"] == 1.0 for r in rows)
    manifest = json.loads((out / "globmed.json").read_text())
    identities = [e["identity"] for e in manifest["evaluations"].values()]
    assert {i["engine"] for i in identities} == {engine} and {i["served_model"] for i in identities} == {served}
    assert {i["base_url"] for i in identities} == {chat.url + "/v1"}


def test_pause_resume_scale_to_zero_delete(hub):
    server, env = hub
    assert run_cli(["deploy", "endpoint", "--model", "globmed-org/m", "--name", "ep1", "--poll", "0.05"], env).returncode == 0
    path = f"{IE}/tester/ep1"

    def step(*args: str) -> Any:
        before = len(server.requests)
        res = run_cli(["deploy", *args], env)
        assert res.returncode == 0, str(res)
        return res, [(r["method"], r["path"]) for r in server.requests[before:] if r["path"].startswith(IE)]

    res, sent = step("pause", "ep1")
    assert ("POST", f"{path}/pause") in sent and "paused" in res.output
    assert server.endpoints[("tester", "ep1")]["status"]["state"] == "paused"
    res, sent = step("resume", "ep1", "--poll", "0.05")
    assert ("POST", f"{path}/resume") in sent and ("GET", path) in sent  # resumed, then waited
    assert server.endpoints[("tester", "ep1")]["status"]["state"] == "running"
    assert f"URL: {server.url}/endpoints/ep1" in res.output
    res, sent = step("scale-to-zero", "tester/ep1")
    assert ("POST", f"{path}/scale-to-zero") in sent
    assert server.endpoints[("tester", "ep1")]["status"]["state"] == "scaledToZero"
    res, sent = step("delete", "ep1", "--yes")
    assert ("DELETE", path) in sent and ("tester", "ep1") not in server.endpoints
    res = run_cli(["deploy", "pause", "ep1"], env)
    assert res.returncode == 2 and "no Inference Endpoint named 'ep1'" in res.output
    assert "Traceback" not in res.output


def test_deploy_needs_a_token(hub):
    _, env = hub
    env = {k: v for k, v in env.items() if k != "HF_TOKEN"}
    res = run_cli(["deploy", "endpoint", "--model", "globmed-org/m"], env)
    assert res.returncode == 2 and "no Hugging Face token" in res.output


def _space(server: HubServer, repo: str) -> dict[str, Any]:
    return server.repos[("space", repo)]


def _file(server: HubServer, repo: str, path: str) -> bytes:
    space = _space(server, repo)
    entry = space["commits"][space["refs"]["main"]]["files"][path]
    return (server.root / "blobs" / entry["sha256"]).read_bytes()


def test_push_space_one_commit_with_the_results_variable(hub):
    server, env = hub
    repo = "globmed-org/globmed-space"
    res = run_cli(["space", "--repo", repo, "--results", "globmed-org/results-a,globmed-org/results-b"], env,
                  exe="globmed-push")
    assert res.returncode == 0, str(res)
    space = _space(server, repo)
    assert space["sdk"] == "gradio" and space["private"]
    assert len(space["commits"]) == 2  # the Hub's initial commit + ONE upload
    files = space["commits"][space["refs"]["main"]]["files"]
    # the package's own Space folder, as shipped; its globmed brings the sample results
    assert {"README.md", "app.py", "requirements.txt"} <= set(files)
    assert not any("__pycache__" in f or f.startswith(("vendor/", "wheels/", "sample_results/")) for f in files)
    assert space["variables"]["GLOBMED_RESULTS"]["value"] == "globmed-org/results-a,globmed-org/results-b"
    assert _file(server, repo, "README.md") == (SPACE_REPO / "README.md").read_bytes()
    assert "GLOBMED_RESULTS = globmed-org/results-a,globmed-org/results-b" in res.output
    commits = [r for r in server.requests if r["path"] == f"/api/spaces/{repo}/commit/main"]
    assert len(commits) == 1

    # update with the local globmed vendored: again exactly one commit
    res = run_cli(["space", "--repo", repo, "--vendor-globmed", "--results", "globmed-org/results-a"], env,
                  exe="globmed-push")
    assert res.returncode == 0, str(res)
    space = _space(server, repo)
    assert len(space["commits"]) == 3
    files = space["commits"][space["refs"]["main"]]["files"]
    assert "vendor/globmed/__init__.py" in files and "vendor/globmed/space/app.py" in files
    assert any(f.startswith("wheels/globmed-") and f.endswith(".whl") for f in files)
    requirements = _file(server, repo, "requirements.txt").decode()
    assert "git+https://github.com/globmed/globmed" not in requirements
    assert "pandas==" in requirements and "vendored" in requirements
    assert space["variables"]["GLOBMED_RESULTS"]["value"] == "globmed-org/results-a"


def test_push_space_rejects_local_results_paths(hub, tmp_path):
    server, env = hub
    res = run_cli(["space", "--repo", "globmed-org/s", "--results", str(SAMPLE_RESULTS)], env,
                  exe="globmed-push")
    assert res.returncode == 2 and "Hub dataset ids" in res.output
    assert ("space", "globmed-org/s") not in server.repos


def test_vendored_space_runs_the_vendored_globmed(tmp_path):
    """The staged Space imports globmed from vendor/ (the wheel built here), and its app builds."""
    from globmed.space.push import SpacePushSettings, stage

    folder = stage(SpacePushSettings(repo="o/s", vendor_globmed=True), tmp_path)
    assert "globmed @ git+" not in (folder / "requirements.txt").read_text()
    code = ("import runpy, sys; ns = runpy.run_path('app.py', run_name='space'); import globmed; "
            "print(globmed.__file__); print(type(ns['demo']).__name__)")
    out = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GRADIO_ANALYTICS_ENABLED": "False",
                              "HF_HUB_OFFLINE": "1", "MPLCONFIGDIR": str(tmp_path / "mpl")})
    assert out.returncode == 0, out.stderr[-3000:]
    first, kind = out.stdout.split()[-2:]
    assert Path(first).resolve().is_relative_to((folder / "vendor").resolve()) and kind == "Blocks"


def test_space_reads_results_from_the_hub(hub):
    """A results dataset pushed with `globmed-push results` is read by id: the results config at start,
    the details configs (for the statistics) on first use."""
    server, env = hub
    res = run_cli(["results", SAMPLE_RESULTS, "--repo", "globmed-org/sample-results"], env,
                  exe="globmed-push")
    assert res.returncode == 0, str(res)
    code = ("from globmed.space.leaderboard import Results, Filters\n"
            "r = Results(['globmed-org/sample-results', 'globmed-org/missing'])\n"
            "print(len(r.model_names), len(r.leaderboard(Filters())), len(r.warnings))\n"
            "print(len(r.reference_tests()), len(r.compare(r.model_names[0], r.model_names[1])))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["6", "6", "1", "132", "84"]  # 6 models x (11 languages vs en + 11 vs es)
    paths = [r["path"] for r in server.requests if "/resolve/" in r["path"]]
    assert any("/results/" in p for p in paths) and any("/details." in p for p in paths)
