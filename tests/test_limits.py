"""Documented limits, each a clear one-line error through the real CLI: source line length (and its
memory), YAML alias expansion in every hand-written file kind (settings, registry, campaign), and
symlinks that lead out of a sources folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from tests.conftest import BIN, cli_env, data_build, make_sources, medqa_item, write_source

MEDQA = "medqa/US/4_options/phrases_no_exclude_test.jsonl"


def one_line_error(run, code: int = 2) -> str:
    assert run.returncode == code, str(run)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    return lines[0]


# ------------------------------------------------------------------------------------------ line length
def test_a_90_mb_source_line_is_refused_without_reading_it_whole(tmp_path):
    """The issue's file: one 90 MB line was accepted at 1.7 GB of memory. Now the reader stops at the
    limit (8 MiB): the error names file and line, and the process stays small."""
    sources = make_sources(tmp_path / "sources", medqa=None)
    path = sources / MEDQA
    good = path.read_text(encoding="utf-8")
    item = medqa_item("x" * (90 * 1024 * 1024), ["a", "b", "c", "d"], "A")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(good + json.dumps(item) + "\n")
    env = cli_env(tmp_path / "home")
    # a wrapper process: its RUSAGE_CHILDREN is this build alone
    code = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
            "print(p.returncode); print(p.stderr); print('MAXRSS', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    proc = subprocess.run([sys.executable, "-c", code, str(BIN / "globmed"), "data", "build", "--sources", str(sources),
                           "--out", str(tmp_path / "out"), "--datasets", "medqa"],
                          env=env, capture_output=True, text=True, timeout=120)
    rc, *rest = proc.stdout.splitlines()
    assert rc == "2", proc.stdout + proc.stderr
    err = "\n".join(rest)
    assert f"{MEDQA}:3: line longer than 8,388,608 bytes" in err and "GLOBMED_MAX_LINE_BYTES" in err, err
    maxrss_mb = int(err.rsplit("MAXRSS", 1)[1]) / 1024
    assert maxrss_mb < 600, maxrss_mb  # imports + 8 MiB, not 1.7 GB
    assert not (tmp_path / "out").exists()


def test_line_limit_boundary_in_jsonl_and_csv(tmp_path, cli):
    """GLOBMED_MAX_LINE_BYTES lowers the limit: a line of exactly the limit is read, one byte more is not;
    the same holds for CSV (BioNLI), which is read whole."""
    line = json.dumps(medqa_item("Which vitamin deficiency causes scurvy?", ["A1", "B1", "C1", "D1"], "B"))
    limit = len(line.encode())
    sources = make_sources(tmp_path / "ok")
    write_source(sources, "medqa", line + "\n")
    ok = data_build(cli, sources, tmp_path / "out_ok", "--datasets", "medqa", GLOBMED_MAX_LINE_BYTES=str(limit))
    assert ok.returncode == 0, str(ok)

    over = make_sources(tmp_path / "over")
    write_source(over, "medqa", line + "\n" + line.replace("scurvy?", "scurvy??") + "\n")
    refused = data_build(cli, over, tmp_path / "out_over", "--datasets", "medqa", GLOBMED_MAX_LINE_BYTES=str(limit))
    assert f"{MEDQA}:2: line longer than {limit:,} bytes" in one_line_error(refused)

    csv = make_sources(tmp_path / "csv")
    header = "pmid,supp_set,conclusion,label_cat,perturbation\n"
    write_source(csv, "bionli", header + "1,premise,hypothesis,pos,original\n" + "2," + "p" * 500 + ",h,pos,original\n",
                 path="bionli/test.csv")
    refused = data_build(cli, csv, tmp_path / "out_csv", "--datasets", "bionli", GLOBMED_MAX_LINE_BYTES="200")
    assert "bionli/test.csv:3: line longer than 200 bytes" in one_line_error(refused)


# ------------------------------------------------------------------------------------------ YAML aliases
def mapping_bomb(levels: int = 9) -> str:
    """Nested mapping aliases: 9 keys x 9 levels expand to 9**9 (387 million) values in ~700 bytes."""
    lines = ["l0: &l0 {a: 1, b: 1, c: 1, d: 1, e: 1, f: 1, g: 1, h: 1, i: 1}"]
    for n in range(1, levels):
        keys = ", ".join(f"{k}: *l{n - 1}" for k in "abcdefghi")
        lines.append(f"l{n}: &l{n} {{{keys}}}")
    return "\n".join(lines) + "\n"


def list_bomb(levels: int = 9) -> str:
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]" for n in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("bomb", [mapping_bomb, list_bomb], ids=["mappings", "lists"])
def test_yaml_alias_bombs_are_refused_in_every_hand_written_file(tmp_path, cli, sample_data, bomb):
    text = bomb()
    assert len(text) < 800
    settings = tmp_path / "settings.yaml"
    settings.write_text("runs: 1\n" + text)
    start = time.monotonic()
    run = cli("bench", "run", "--config", settings, "--data", sample_data, "--out", tmp_path / "out", "--model", "m")
    assert time.monotonic() - start < 30
    line = one_line_error(run)
    assert f"{settings}:" in line and "aliases expand to more than 100,000 values" in line, line

    registry = tmp_path / "registry.yaml"
    registry.write_text(text)
    run = cli("data", "build", "--sources", "sample", "--out", tmp_path / "out2", GLOBMED_REGISTRY_PATH=str(registry))
    assert f"{registry}:" in one_line_error(run) and "dataset registry" in run.stderr

    campaign = tmp_path / "campaign.yaml"
    campaign.write_text("models: []\n" + text)
    run = cli("bench", "run", "--models", campaign, "--data", sample_data, "--out", tmp_path / "out3")
    assert f"{campaign}:" in one_line_error(run) and "campaign" in run.stderr


def test_recursive_and_too_deep_yaml_are_refused(tmp_path, cli, sample_data):
    recursive = tmp_path / "recursive.yaml"
    recursive.write_text("runs: 1\nmeta: &m [1, *m]\n")
    run = cli("bench", "run", "--config", recursive, "--data", sample_data, "--out", tmp_path / "o", "--model", "m")
    assert f"{recursive}:2:" in one_line_error(run) and "recursive alias" in run.stderr
    deep = tmp_path / "deep.yaml"
    deep.write_text("meta: " + "[" * 5000 + "]" * 5000 + "\n")
    run = cli("bench", "run", "--config", deep, "--data", sample_data, "--out", tmp_path / "o", "--model", "m")
    assert "nested too deeply" in one_line_error(run)


def test_yaml_with_modest_aliases_still_reads(tmp_path):
    from globmed.yamlfile import read_yaml

    path = tmp_path / "ok.yaml"
    path.write_text("base: &b {max_tokens: 64, temperature: 0}\none: *b\ntwo: {<<: *b, temperature: 1}\n")
    data, lines = read_yaml(path, "settings")
    assert data["one"] == {"max_tokens": 64, "temperature": 0} and data["two"]["temperature"] == 1
    assert lines.line("two") == 3


# ------------------------------------------------------------------------------------------ symlinks
def test_symlinks_leaving_the_sources_folder_are_refused_by_name(tmp_path, cli):
    elsewhere = tmp_path / "elsewhere"
    outside = write_source(elsewhere, "medqa")  # a file that is not part of the sources
    sources = make_sources(tmp_path / "sources", headqa=None)
    link = sources / MEDQA
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(outside, link)
    inside = sources / "headqa" / "en" / "test_HEAD.json"  # a link within the folder is fine
    inside.parent.mkdir(parents=True)
    os.symlink(sources / "headqa" / "es" / "test_HEAD.json", inside)

    refused = data_build(cli, sources, tmp_path / "out")
    line = one_line_error(refused)
    assert f"{link} -> {outside}" in line and "--follow-symlinks" in line and str(inside) not in line
    assert not (tmp_path / "out").exists()
    records = cli("data", "records", "--sources", sources, "--out", tmp_path / "records.jsonl")
    assert str(link) in one_line_error(records)

    followed = data_build(cli, sources, tmp_path / "out", "--follow-symlinks")
    assert followed.returncode == 0, str(followed)
    assert (tmp_path / "out" / "medqa.en").is_dir()


def test_a_symlinked_folder_leaving_the_sources_is_refused(tmp_path, cli):
    outside = make_sources(tmp_path / "elsewhere", medqa=None)
    sources = make_sources(tmp_path / "sources", headqa=None)
    os.symlink(outside / "medqa", sources / "medqa", target_is_directory=True)
    line = one_line_error(data_build(cli, sources, tmp_path / "out"))
    assert f"{sources / 'medqa'} -> {outside / 'medqa'}" in line
