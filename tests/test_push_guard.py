"""`globmed-push` against the loopback Hub (tests/support/hub_server.py), tried as an attacker would:
every way MedNLI-derived data reached a public repo (issue 16), secrets hidden where a byte search cannot
see them, and Hub failures. The guard decides from content; each refusal happens before any request."""

from __future__ import annotations

import gzip
import json
import shutil
import socket

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from globmed.space import SPACE_REPO
from tests.support.hub_server import HubServer, client_env
from tests.test_push import REPO, SECRET, built, commit_posts, hub, make_tree, push  # noqa: F401 (fixtures)

from .conftest import ROOT, cli_env, medqa_item, run_cli, write_jsonl

PARQUET = "test-00000-of-00001.parquet"


def refused_before_any_request(run, hub, *words):
    assert run.returncode == 2, str(run)
    assert "Traceback" not in run.stderr
    assert hub.requests == [], hub.requests
    for word in words:
        assert word.lower() in run.output.lower(), (word, run.output)


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


# ----------------------------------------------------------------------------------- the licence guard
def test_a_subfolder_of_a_build_is_refused_publicly(built, hub, tmp_path):
    run = push(hub, tmp_path, built["restricted"] / "mednli.en", "--public")
    refused_before_any_request(run, hub, "refusing to publish", "MedNLI", "column 'dataset'")


def test_a_parent_folder_holding_a_build_is_refused(built, hub, tmp_path):
    parent = tmp_path / "parent"
    copy(built["restricted"], parent / "nested" / "build")
    run = push(hub, tmp_path, parent, "--public")
    refused_before_any_request(run, hub, "MedNLI", "nested/build/globmed.json (manifest)")
    private = push(hub, tmp_path, parent)  # privately it still needs the flag
    refused_before_any_request(private, hub, "--allow-restricted")


def test_renamed_configs_without_a_manifest_are_refused(built, hub, tmp_path):
    out = copy(built["restricted"], tmp_path / "out")
    (out / "globmed.json").unlink()
    (out / "mednli.en").rename(out / "nli_set.en")
    card = (out / "README.md").read_text(encoding="utf-8").replace("mednli.en", "nli_set.en")
    (out / "README.md").write_text(card, encoding="utf-8")
    assert "mednli" not in "".join(p.as_posix().lower() for p in out.rglob("*"))
    run = push(hub, tmp_path, out, "--public")
    refused_before_any_request(run, hub, "MedNLI", f"nli_set.en/{PARQUET} (column 'dataset')")


def test_the_name_check_ignores_case(built, hub, tmp_path):
    """A folder named MedNLI.en whose parquet holds no dataset column or ids: only the name tells."""
    out = tmp_path / "out"
    table = pq.read_table(built["restricted"] / "mednli.en" / PARQUET).drop_columns(["dataset", "id"])
    (out / "MedNLI.en").mkdir(parents=True)
    pq.write_table(table, out / "MedNLI.en" / PARQUET)
    run = push(hub, tmp_path, out, "--public")
    refused_before_any_request(run, hub, "MedNLI", f"MedNLI.en/{PARQUET} (its path)")

    shouted = tmp_path / "shouted"  # the dataset column in capitals, under a neutral name
    table = pq.read_table(built["restricted"] / "mednli.en" / PARQUET)
    table = table.set_column(table.schema.get_field_index("dataset"), "dataset", pa.array(["MEDNLI"] * len(table)))
    (shouted / "nli").mkdir(parents=True)
    pq.write_table(table.drop_columns(["id"]), shouted / "nli" / "data.parquet")
    refused_before_any_request(push(hub, tmp_path, shouted, "--public"), hub, "MedNLI", "column 'dataset'")


@pytest.fixture(scope="module")
def results_nli(sample_data, tmp_path_factory):
    """A results folder with MedNLI details (premises and hypotheses in its prompts)."""
    from tests.support.openai_server import OpenAIServer

    tmp = tmp_path_factory.mktemp("results")
    with OpenAIServer() as server:
        out = tmp / "results"
        res = run_cli(["bench", "run", "--data", sample_data, "--out", out, "--backend", "openai", "--model", "m",
                       "--base-url", server.base_url, "--datasets", "mednli,medqa", "--languages", "en",
                       "--runs", "1", "--no-progress"], cli_env(tmp / "home"))
        assert res.returncode == 0, str(res)
    return out


def push_results(hub, tmp_path, folder, *args):
    env = client_env(hub.url, tmp_path / "hf_home", SECRET)
    env.update(COLUMNS="400", NO_COLOR="1", TERM="dumb")
    return run_cli(["results", folder, "--repo", REPO, *args], env, exe="globmed-push")


def test_a_results_folder_whose_details_hold_mednli_is_refused(results_nli, hub, tmp_path):
    refused_before_any_request(push_results(hub, tmp_path, results_nli, "--public"), hub, "MedNLI")
    # no manifest, the details renamed: the record ids in the rows still say where they come from
    out = copy(results_nli, tmp_path / "renamed")
    (out / "globmed.json").unlink()
    (out / "README.md").unlink()
    (out / "details.mednli.en").rename(out / "details.x.en")
    shutil.rmtree(out / "results")
    (out / "results").mkdir()
    run = push_results(hub, tmp_path, out, "--public")
    refused_before_any_request(run, hub, "MedNLI", "details.x.en/train-00000-of-00001.parquet (column 'id')")


def test_a_space_with_results_nested_deeper_is_refused(results_nli, hub, tmp_path):
    app = tmp_path / "space"
    app.mkdir()
    for name in ("README.md", "app.py", "requirements.txt"):
        shutil.copy(SPACE_REPO / name, app / name)
    copy(results_nli, app / "data" / "extra" / "results_nli")
    env = client_env(hub.url, tmp_path / "hf_home", SECRET)
    env.update(COLUMNS="400", NO_COLOR="1", TERM="dumb")
    run = run_cli(["space", "--repo", "globmed-org/space", "--app-dir", app, "--public"], env, exe="globmed-push")
    refused_before_any_request(run, hub, "MedNLI", "data/extra/results_nli")


def test_restricted_datasets_come_from_the_registry(built, hub, tmp_path):
    """Mark HEAD-QA `redistributable: false` in an extra registry file: its data is refused publicly, with the
    registry's own reason, although nothing in globmed names HEAD-QA as restricted."""
    shipped = yaml.safe_load((ROOT / "globmed" / "registry" / "datasets.yaml").read_text(encoding="utf-8"))
    entry = dict(shipped["headqa"], redistributable=False, restriction="HEAD-QA is closed for this test.")
    extra = tmp_path / "registry.yaml"
    extra.write_text(yaml.safe_dump({"headqa": entry}, allow_unicode=True), encoding="utf-8")
    env = client_env(hub.url, tmp_path / "hf_home", SECRET)
    env.update(COLUMNS="400", NO_COLOR="1", TERM="dumb", GLOBMED_REGISTRY_PATH=str(extra))
    run = run_cli(["data", built["out"], "--repo", REPO, "--public"], env, exe="globmed-push")
    refused_before_any_request(run, hub, "HEAD-QA is closed for this test", "headqa")
    assert "mednli" not in run.output.lower()


# ----------------------------------------------------------------------------------- secrets
def test_a_token_inside_a_compressed_parquet_cell_is_found(hub, tmp_path):
    """The issue's case: a token appended to a source question, then built: zstd-compressed in the parquet,
    so a byte search of the file cannot see it."""
    sources = make_tree(tmp_path / "sources")
    path = sources / "medqa" / "US" / "4_options" / "phrases_no_exclude_test.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    rows += [medqa_item(f"A {30 + i}-year-old man has a fever of 39 °C for {i + 2} days. Which drug is first line?",
                        ["Paracetamol", "Aspirin", "Ibuprofen", "Codeine"], "A") for i in range(10)]
    rows[0]["question"] += " " + SECRET  # not the column's min or max (parquet keeps those as plain statistics)
    write_jsonl(path, rows)
    write_jsonl(sources / "translations" / "medqa" / "zu.jsonl", [])
    out = tmp_path / "out"
    res = run_cli(["data", "build", "--sources", sources, "--out", out], cli_env(tmp_path / "home"))
    assert res.returncode == 0, str(res)
    data = out / "medqa.en" / PARQUET
    assert SECRET.encode() not in data.read_bytes()  # compressed: invisible to a byte search
    assert SECRET in json.dumps(pq.read_table(data).to_pylist())
    run = push(hub, tmp_path, out)
    refused_before_any_request(run, hub, f"medqa.en/{PARQUET} (column 'question', row 0)",
                               "the Hugging Face token used for this push", "secret")
    assert SECRET not in run.stdout + run.stderr


def test_secrets_in_named_variables_and_compressed_files(results_nli, hub, tmp_path):
    """The variable named by --api-key-env (any name), a *_KEY variable, AWS_SECRET_ACCESS_KEY, inside a
    gzip file, a zip member and a parquet list cell."""
    named, provider, aws = "llm-access-7d1f0c2a9b", "prov-key-55e3d1c0aa", "aws/Secret+Key9f8e7d6c5b4a"
    out = copy(results_nli, tmp_path / "results")
    manifest = json.loads((out / "globmed.json").read_text())
    for ev in manifest["evaluations"].values():
        ev["api_key_env"] = "LLM_ACCESS"  # as `bench run --api-key-env LLM_ACCESS` records it
    (out / "globmed.json").write_text(json.dumps(manifest))
    env = client_env(hub.url, tmp_path / "hf_home", SECRET)
    env.update(COLUMNS="400", NO_COLOR="1", TERM="dumb", LLM_ACCESS=named, PROVIDER_KEY=provider,
               AWS_SECRET_ACCESS_KEY=aws)

    def attempt(name, data):
        target = copy(out, tmp_path / f"try-{name.replace('/', '_')}")
        (target / "extra").mkdir()
        (target / "extra" / name).write_bytes(data)
        return run_cli(["results", target, "--repo", REPO, "--allow-restricted"], env, exe="globmed-push")

    import io
    import zipfile

    runs = [run := attempt("log.jsonl.gz", gzip.compress(json.dumps({"auth": named}).encode()))]
    refused_before_any_request(run, hub, "extra/log.jsonl.gz (decompressed", "LLM_ACCESS")
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("notes/config.txt", f"key={provider}\n" * 50)
    runs.append(run := attempt("bundle.zip", zipped.getvalue()))
    refused_before_any_request(run, hub, "extra/bundle.zip (notes/config.txt", "PROVIDER_KEY")
    cells = io.BytesIO()
    values = [[f"option {i} for item {i * 7}", f"note {i * 13} about dosage"] for i in range(200)]
    values[50].append(aws)
    pq.write_table(pa.table({"a": values}), cells, compression="zstd", use_dictionary=False, write_statistics=False)
    assert aws.encode() not in cells.getvalue()  # only decoding finds it
    runs.append(run := attempt("cells.parquet", cells.getvalue()))
    refused_before_any_request(run, hub, "extra/cells.parquet (column 'a', rows 0-199)", "AWS_SECRET_ACCESS_KEY")
    for run in runs:  # what was found is named, never shown
        assert named not in run.output and provider not in run.output and aws not in run.output


@pytest.mark.parametrize("key, kind", [
    ("sk-ant-api03-" + "Ab1" * 12, "Anthropic API key"),
    ("sk-proj-" + "Zx9" * 10, "OpenAI-style API key"),
    ("AKIA" + "ABCDEFGH12345678", "AWS access key id"),
    ("hf_" + "q" * 34, "Hugging Face token"),
])
def test_values_with_the_shape_of_known_keys_are_refused(built, hub, tmp_path, key, kind):
    out = copy(built["out"], tmp_path / "out")
    (out / "notes.txt").write_text(f"debug: used {key} yesterday\n", encoding="utf-8")
    run = push(hub, tmp_path, out)
    refused_before_any_request(run, hub, "notes.txt (byte", kind)
    assert key not in run.output


# ----------------------------------------------------------------------------------- Hub failures
def one_line(run, code):
    assert run.returncode == code, str(run)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    return lines[0]


def test_a_bad_repo_id_is_one_line_before_any_request(built, hub, tmp_path):
    env = client_env(hub.url, tmp_path / "hf_home", SECRET)
    run = run_cli(["data", built["out"], "--repo", "org/bad name!"], env, exe="globmed-push")
    assert "not a valid Hub repo id" in one_line(run, 2) and hub.requests == []


def test_a_refused_token_is_one_line_with_the_cause(built, tmp_path):
    with HubServer(tmp_path / "hub", token="hf_the_right_one") as hub:
        run = push(hub, tmp_path, built["out"])  # pushes with SECRET: the Hub answers 401
    line = one_line(run, 1)
    assert "the Hub refused the token" in line and "HTTP 401" in line and SECRET not in run.output


def test_an_unreachable_hub_is_one_line_with_the_cause(built, tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = client_env(f"http://127.0.0.1:{port}", tmp_path / "hf_home", SECRET)
    run = run_cli(["data", built["out"], "--repo", REPO], env, exe="globmed-push")
    line = one_line(run, 1)
    assert f"cannot reach the Hub at http://127.0.0.1:{port}" in line and "refused" in line.lower()


# ----------------------------------------------------------------------------------- decoding, unit level
def test_compressed_and_archived_content_is_read(tmp_path):
    """zstd (a codec Python lacks), a .tgz holding a .gz member, a .tar.gz: the guard and the scan see inside."""
    import io
    import tarfile
    from dataclasses import dataclass

    from globmed.hub.guard import derived_datasets
    from globmed.hub.secrets import SecretScan, secrets_to_find

    key = "hf_" + "Q" * 34
    with pa.CompressedOutputStream(str(tmp_path / "x.jsonl.zst"), "zstd") as out:
        out.write(json.dumps({"id": "mednli-test-1", "text": key}).encode() + b"\n")
    member = gzip.compress(json.dumps({"dataset": "MedNLI", "text": key}).encode())
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        info = tarfile.TarInfo("inner/records.jsonl.gz")
        info.size = len(member)
        tf.addfile(info, io.BytesIO(member))
    (tmp_path / "bundle.tgz").write_bytes(buf.getvalue())
    (tmp_path / "bundle.tar.gz").write_bytes(buf.getvalue())

    @dataclass
    class Planned:
        path_in_repo: str
        local: object

    names = ["x.jsonl.zst", "bundle.tgz", "bundle.tar.gz"]
    found = derived_datasets([Planned(n, tmp_path / n) for n in names])
    assert found["mednli"] == ["x.jsonl.zst > decompressed (its records)",
                               "bundle.tgz > inner/records.jsonl.gz > decompressed (its records)",
                               "bundle.tar.gz > decompressed > inner/records.jsonl.gz > decompressed (its records)"]
    scan = SecretScan(secrets_to_find(None))
    for name in names:
        finding = scan.scan(tmp_path / name, name)
        assert finding and finding.what == "a Hugging Face token (hf_...)" and "decompressed" in finding.where


def test_the_shipped_sample_inside_the_package_is_not_a_dataset(tmp_path):
    """A vendored globmed (the Space's --vendor-globmed) carries the machine-written sample in MedNLI's
    format: byte-identical to the shipped files, it does not count; one changed byte and it does."""
    from globmed.hub.guard import derived_datasets
    from globmed.hub.push import plan

    package = ROOT / "globmed"
    assert "mednli" not in derived_datasets(plan(package))
    copy(package / "sample" / "sources", tmp_path / "sources")
    target = next((tmp_path / "sources" / "mednli").glob("*.jsonl"))
    target.write_text(target.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert "mednli" in derived_datasets(plan(tmp_path / "sources"))
