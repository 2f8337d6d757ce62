"""`globmed-push data`: one private commit, loadable with `datasets`, stale files removed, the
licence guard, and the token never leaked, against the loopback fake Hub (tests/support/hub_server.py).

The push CLI and the `datasets` client run in subprocesses (both read HF_ENDPOINT at import time).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import uuid

import pytest

from tests.support.hub_server import HubServer, client_env

from .conftest import (
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
    write_jsonl,
)

SECRET = "hf_GlobmedPushSecret" + uuid.uuid4().hex  # distinctive: any leak is found by a plain search
REPO = "globmed-org/sample"

MEDQA = [medqa_item("Deficiency of which vitamin causes scurvy?", ["Vitamin A", "Vitamin C", "Vitamin D", "Vitamin K"], "B"),
         medqa_item("Which drug is an antiplatelet agent?", ["Aspirin", "Heparin", "Warfarin", "Insulin"], "A")]
ZU = [{"question": "Ukuntuleka kwaliphi uvithamini okubangela i-scurvy?",
       "options": ["Uvithamini A", "Uvithamini C", "Uvithamini D", "Uvithamini K"]},
      {"question": "Yisiphi isidakamizwa esivimbela amaplatelet?",
       "options": ["I-aspirin", "I-heparin", "I-warfarin", "I-insulin"]}]


def make_tree(root, mednli=False):
    sources = make_sources(root, medqa=MEDQA, headqa=headqa_doc({"Cuaderno_2019_1_M": [
        headqa_item(1, "¿Cuál es el fármaco de elección?", ["Uno", "Dos", "Tres", "Cuatro"], 2)]}))
    if mednli:
        make_sources(root, mednli=[mednli_item("p1", "Patient febrile at 39 °C.", "The patient has a fever.",
                                               "entailment")])
    ids = [r.id for r in read_records(sources, "medqa")]
    write_jsonl(sources / "translations" / "medqa" / "zu.jsonl", [{"id": i, **t} for i, t in zip(ids, ZU)])
    return sources


def build(tmp, sources, out, *extra):
    run = data_build(lambda *a, **e: run_cli(list(a), cli_env(tmp / "hf_home_build", **e)), sources, out, *extra)
    assert run.returncode == 0, str(run)
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("push")
    out = build(tmp, make_tree(tmp / "sources"), tmp / "out")
    restricted = build(tmp, make_tree(tmp / "sources_nli", mednli=True), tmp / "out_nli")
    return {"tmp": tmp, "out": out, "restricted": restricted}


@pytest.fixture
def hub(tmp_path):
    with HubServer(tmp_path / "hub", token=SECRET) as server:
        yield server


def push(hub, tmp_path, folder, *args, token=SECRET):
    env = client_env(hub.url, tmp_path / "hf_home", token)
    env.update(COLUMNS="400", NO_COLOR="1", TERM="dumb")
    return run_cli(["data", folder, "--repo", REPO, *args], env, exe="globmed-push")


def commit_posts(hub):
    return [r for r in hub.requests if r["method"] == "POST" and "/commit/" in r["path"]]


def repo_files(hub):
    repo = hub.repos[("dataset", REPO)]
    return set(repo["commits"][repo["refs"]["main"]]["files"])


def local_files(folder):
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def listed_files(run):
    """The file column of the push table (dry run or real)."""
    out = set()
    for line in run.stdout.splitlines():
        cells = [c.strip() for c in line.replace("┃", "│").split("│")]
        if len(cells) >= 4 and cells[1] and cells[1] != "file" and cells[2].replace(",", "").isdigit():
            out.add(cells[1])
    return out


def assert_no_leak(hub, *runs):
    for run in runs:
        assert SECRET not in run.stdout and SECRET not in run.stderr, "token printed"
    needle = SECRET.encode()
    for path in hub.root.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"token stored in {path}"


def load_from_hub(hub, tmp_path, configs, token=SECRET):
    code = textwrap.dedent(f"""
        import json, datasets
        rows = {{c: datasets.load_dataset({REPO!r}, c, split="test").to_list() for c in {configs!r}}}
        print(json.dumps(rows, ensure_ascii=False))
    """)
    env = client_env(hub.url, tmp_path / "hf_home_load", token)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert SECRET not in proc.stdout and SECRET not in proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------- tests
def test_push_is_one_private_commit_and_loads_back(built, hub, tmp_path):
    out = built["out"]
    run = push(hub, tmp_path, out)
    assert run.returncode == 0, str(run)
    assert len(commit_posts(hub)) == 1
    assert hub.repos[("dataset", REPO)]["private"] is True
    create = [r for r in hub.requests if r["path"] == "/api/repos/create"]
    assert create and all(r["json"].get("visibility") == "private" or r["json"].get("private") is True for r in create)
    assert repo_files(hub) - {".gitattributes"} == local_files(out)
    assert all(r["authorized"] for r in hub.requests if r["method"] in ("POST", "PUT") and "/lfs-upload/" not in r["path"])

    configs = ["medqa.zu", "medqa.en", "headqa.es"]
    remote = load_from_hub(hub, tmp_path, configs)
    for config in configs:
        assert remote[config] == load_config(out, config, cache=tmp_path / "cache"), config
    assert [r["question"] for r in remote["medqa.zu"]] == [t["question"] for t in ZU]
    assert [r["answer"] for r in remote["medqa.zu"]] == ["B", "A"]
    assert_no_leak(hub, run)


def test_private_repo_is_hidden_without_the_token(built, hub, tmp_path):
    assert push(hub, tmp_path, built["out"]).returncode == 0
    code = textwrap.dedent(f"""
        import datasets
        try:
            datasets.load_dataset({REPO!r}, "medqa.zu", split="test")
        except Exception as exc:
            print("refused:", type(exc).__name__)
        else:
            print("loaded")
    """)
    env = client_env(hub.url, tmp_path / "hf_home_anon", None)
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=180)
    assert "refused:" in proc.stdout, proc.stdout + proc.stderr[-2000:]


def test_dry_run_lists_exactly_what_a_push_uploads(built, hub, tmp_path):
    out = built["out"]
    dry = push(hub, tmp_path, out, "--dry-run")
    assert dry.returncode == 0, str(dry)
    assert hub.requests == []  # nothing sent, not even a whoami
    listed = listed_files(dry)
    assert listed == local_files(out)
    real = push(hub, tmp_path, out)
    assert real.returncode == 0, str(real)
    assert repo_files(hub) - {".gitattributes"} == listed
    assert listed_files(real) == listed
    assert_no_leak(hub, dry, real)


def test_second_push_deletes_stale_files_in_one_commit(built, hub, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built["out"], out)
    assert push(hub, tmp_path, out).returncode == 0
    assert "medqa.zu/test-00000-of-00001.parquet" in repo_files(hub)
    # rebuild without the Zulu config
    build(tmp_path, built["tmp"] / "sources", out, "--overwrite", "--languages", "en,es")
    assert not (out / "medqa.zu").exists()
    second = push(hub, tmp_path, out)
    assert second.returncode == 0, str(second)
    posts = commit_posts(hub)
    assert len(posts) == 2
    deleted = [line["value"]["path"] for line in posts[1]["ndjson"] if line["key"] in ("deletedFile", "deletedFolder")]
    assert deleted == ["medqa.zu/test-00000-of-00001.parquet"]
    assert repo_files(hub) - {".gitattributes"} == local_files(out)
    assert "medqa.zu" in second.output  # the user is told what was removed
    assert_no_leak(hub, second)


def test_restricted_data_refused_publicly_before_any_request(built, hub, tmp_path):
    run = push(hub, tmp_path, built["restricted"], "--public")
    assert run.returncode != 0, str(run)
    assert "MedNLI" in run.output and "PhysioNet" in run.output
    assert hub.requests == []
    assert "Traceback" not in run.stderr


def test_restricted_data_needs_allow_restricted_even_privately(built, hub, tmp_path):
    refused = push(hub, tmp_path, built["restricted"])
    assert refused.returncode != 0, str(refused)
    assert "--allow-restricted" in refused.output and "mednli" in refused.output.lower()
    assert hub.requests == []
    # public is refused even with the flag
    still = push(hub, tmp_path, built["restricted"], "--public", "--allow-restricted")
    assert still.returncode != 0 and hub.requests == []
    accepted = push(hub, tmp_path, built["restricted"], "--allow-restricted")
    assert accepted.returncode == 0, str(accepted)
    assert len(commit_posts(hub)) == 1
    assert hub.repos[("dataset", REPO)]["private"] is True
    assert "mednli.en/test-00000-of-00001.parquet" in repo_files(hub)
    assert_no_leak(hub, refused, still, accepted)


def test_public_push_of_redistributable_data(built, hub, tmp_path):
    run = push(hub, tmp_path, built["out"], "--public")
    assert run.returncode == 0, str(run)
    assert hub.repos[("dataset", REPO)]["private"] is False and len(commit_posts(hub)) == 1


def test_no_token_is_a_clear_error(built, hub, tmp_path):
    run = push(hub, tmp_path, built["out"], token=None)
    assert run.returncode != 0, str(run)
    assert "token" in run.output.lower() and "HF_TOKEN" in run.output
    assert "Traceback" not in run.stderr
    assert commit_posts(hub) == [] and hub.repos == {}


def test_a_file_holding_the_token_is_refused_before_upload(built, hub, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(built["out"], out)
    (out / "notes").mkdir()
    (out / "notes" / "debug.txt").write_text(f"HF_TOKEN={SECRET}\n", encoding="utf-8")
    run = push(hub, tmp_path, out)
    assert run.returncode != 0, str(run)
    assert "debug.txt" in run.output and "secret" in run.output.lower()
    assert commit_posts(hub) == [] and hub.repos == {}
    assert not [r for r in hub.requests if r["method"] in ("POST", "PUT")]
    assert_no_leak(hub, run)


def test_restricted_data_refused_into_an_existing_public_repo(built, hub, tmp_path):
    """--public only decides the visibility of a NEW repo: the guard must look at the repo's real visibility."""
    assert push(hub, tmp_path, built["out"], "--public").returncode == 0
    assert hub.repos[("dataset", REPO)]["private"] is False
    run = push(hub, tmp_path, built["restricted"], "--allow-restricted")
    assert run.returncode != 0, str(run)
    assert "public" in run.output and "mednli" in run.output.lower()
    assert len(commit_posts(hub)) == 1  # only the first, public, push
    assert not any(p.startswith("mednli") for p in repo_files(hub))
    assert_no_leak(hub, run)
