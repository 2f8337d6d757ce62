"""Deployment against the loopback Hub (tests/support/hub_server.py): `globmed deploy endpoint` sends
exactly the expected Inference Endpoints request (a pinned TGI custom image), waits until it runs and
prints its URL; pause/resume/scale-to-zero/delete send the right requests; `globmed-push space`
creates or updates the Space (sdk gradio) in ONE commit with the GLOBMED_RESULTS variable set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.conftest import ROOT, run_cli
from tests.support.hub_server import HubServer, client_env

TGI = "ghcr.io/huggingface/text-generation-inference:3.3.5"
IE = "/inference-endpoints/v2/endpoint"


@pytest.fixture
def hub(tmp_path) -> Iterator[tuple[HubServer, dict[str, str]]]:
    with HubServer(tmp_path / "hub") as server:
        env = client_env(server.url, tmp_path / "home", server.token)
        env.update(GLOBMED_INFERENCE_ENDPOINTS_URL=env["HUB_SERVER_INFERENCE_ENDPOINTS_URL"], COLUMNS="300",
                   NO_COLOR="1", TERM="dumb")
        yield server, env


def ie_requests(server: HubServer) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in server.requests if r["path"].startswith(IE)]


def test_deploy_endpoint_sends_the_pinned_tgi_request_waits_and_prints_the_url(hub):
    server, env = hub
    res = run_cli(["deploy", "endpoint", "--model", "globmed-org/globmed-8b", "--name", "gm8b", "--max-replica", "2",
                   "--instance-type", "nvidia-l4", "--instance-size", "x1", "--max-input-tokens", "4096",
                   "--poll", "0.05"], env)
    assert res.returncode == 0, str(res)
    creates = [r for r in server.requests if r["method"] == "POST" and r["path"] == f"{IE}/tester"]
    assert len(creates) == 1 and creates[0]["authorized"]
    assert creates[0]["json"] == {
        "compute": {"accelerator": "gpu", "instanceSize": "x1", "instanceType": "nvidia-l4",
                    "scaling": {"maxReplica": 2, "minReplica": 0, "scaleToZeroTimeout": 15}},
        "model": {"framework": "pytorch", "repository": "globmed-org/globmed-8b", "revision": None,
                  "image": {"custom": {"url": TGI, "health_route": "/health",
                                       "env": {"MODEL_ID": "/repository", "MAX_INPUT_TOKENS": "4096"}}}},
        "name": "gm8b", "provider": {"region": "us-east-1", "vendor": "aws"}, "type": "authenticated",
    }
    # it waited: polled the endpoint until running and checked its health route
    assert server.endpoints[("tester", "gm8b")]["status"]["state"] == "running"
    assert any(r["path"] == "/endpoints/gm8b/health" and r["status"] == 200 for r in server.requests)
    assert f"URL: {server.url}/endpoints/gm8b" in res.output
    assert "globmed bench run --backend endpoint --model gm8b" in res.output
    assert server.token not in res.stdout + res.stderr


def test_deploy_endpoint_updates_an_existing_one(hub):
    server, env = hub
    base = ["deploy", "endpoint", "--model", "globmed-org/globmed-8b", "--name", "gm8b", "--poll", "0.05"]
    assert run_cli(base, env).returncode == 0
    res = run_cli([*base[:-2], "--namespace", "tester", "--min-replica", "1", "--max-replica", "3",
                   "--instance-type", "nvidia-a10g", "--poll", "0.05"], env)
    assert res.returncode == 0, str(res)
    puts = [r for r in server.requests if r["method"] == "PUT" and r["path"] == f"{IE}/tester/gm8b"]
    assert len(puts) == 1
    body = puts[0]["json"]
    assert body["compute"]["instanceType"] == "nvidia-a10g"
    assert body["compute"]["scaling"]["minReplica"] == 1 and body["compute"]["scaling"]["maxReplica"] == 3
    assert "scaleToZeroTimeout" not in body["compute"]["scaling"]  # no scale-to-zero with a minimum replica
    assert body["model"]["image"] == {"custom": {"url": TGI, "health_route": "/health", "env": {"MODEL_ID": "/repository"}}}
    assert sum(1 for m, p in ie_requests(server) if m == "POST" and p == f"{IE}/tester") == 1  # created once
    assert f"URL: {server.url}/endpoints/gm8b" in res.output


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
    assert {"README.md", "app.py", "requirements.txt", "sample_results/results/train-00000-of-00001.parquet",
            "sample_results/globmed.json"} <= set(files)
    assert not any("__pycache__" in f or f.startswith(("vendor/", "wheels/")) for f in files)
    assert space["variables"]["GLOBMED_RESULTS"]["value"] == "globmed-org/results-a,globmed-org/results-b"
    assert _file(server, repo, "README.md") == (ROOT / "spaces" / "README.md").read_bytes()
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
    res = run_cli(["space", "--repo", "globmed-org/s", "--results", str(ROOT / "spaces" / "sample_results")], env,
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
    res = run_cli(["results", ROOT / "spaces" / "sample_results", "--repo", "globmed-org/sample-results"], env,
                  exe="globmed-push")
    assert res.returncode == 0, str(res)
    code = ("from globmed.space.data import Results, Filters\n"
            "r = Results(['globmed-org/sample-results', 'globmed-org/missing'])\n"
            "print(len(r.model_names), len(r.leaderboard(Filters())), len(r.warnings))\n"
            "print(len(r.reference_tests()), len(r.compare(r.model_names[0], r.model_names[1])))\n")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["6", "6", "1", "132", "84"]  # 6 models x (11 languages vs en + 11 vs es)
    paths = [r["path"] for r in server.requests if "/resolve/" in r["path"]]
    assert any("/results/" in p for p in paths) and any("/details." in p for p in paths)
