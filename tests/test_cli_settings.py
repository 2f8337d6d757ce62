"""Every command takes its settings one way (a dataclass: flags, arguments, `--config FILE.yaml`, flags
overriding the file), walked over the real command tree of `globmed` and `globmed-push`; a command's
arguments are required on the command line; `globmed data records` writes exactly the records the
builder keeps (one read/screen loop, `hub.build.screen_dataset`)."""

from __future__ import annotations

import json
from typing import Any

import pyarrow.parquet as pq
import pytest
import typer

from globmed import registry
from globmed.settings import coerce
from globmed.space import SAMPLE_RESULTS

from .conftest import BENCH_DATASETS, SAMPLE_SOURCES

# the commands that take no settings at all: they print a shipped file's path or the recipes' list
NO_SETTINGS = {"globmed train recipes", "globmed models list", "globmed train accelerate-config", "globmed train slurm-script"}
MODELS = ["demo-general-8B (synthetic)", "demo-medical-8B (synthetic)"]


def commands() -> dict[str, Any]:
    """Every leaf command of both CLIs, by its full name ("globmed bench report")."""
    from globmed.cli import app
    from globmed.push_cli import app as push_app

    found: dict[str, Any] = {}

    def walk(cmd: Any, name: str) -> None:
        if hasattr(cmd, "commands"):  # a group (typer's own click: not click.Group)
            for sub_name, sub in cmd.commands.items():
                walk(sub, f"{name} {sub_name}")
        else:
            found[name] = cmd

    walk(typer.main.get_command(app), "globmed")
    walk(typer.main.get_command(push_app), "globmed-push")
    return found


def test_every_command_takes_a_settings_file_and_its_arguments_are_required():
    found = commands()
    assert {"globmed list", "globmed data records", "globmed bench report", "globmed review score",
            "globmed train card", "globmed-push data", "globmed deploy pause"} <= set(found)
    without = {name for name, cmd in found.items()
               if not {"--config", "--recipe"} & {opt for p in cmd.params for opt in p.opts}}
    assert without == NO_SETTINGS
    optional_arguments = [f"{name} {p.name}" for name, cmd in found.items() for p in cmd.params
                          if p.param_type_name == "argument" and not p.required and name not in NO_SETTINGS]
    assert optional_arguments == []


def test_push_folder_is_one_required_argument(cli, tmp_path):
    shown = cli("data", "--help", exe="globmed-push")
    assert shown.returncode == 0 and "FOLDER" in shown.output and "[FOLDER]" not in shown.output
    for args in (["data", "--repo", "org/x"], ["results", "--repo", "org/x"], ["model", "--repo", "org/x"]):
        res = cli(*args, exe="globmed-push")
        assert res.returncode == 2 and "Missing argument 'FOLDER'" in res.output and "--folder" not in res.output


def test_a_missing_argument_given_through_the_api_is_named_as_on_the_command_line():
    from globmed.bench.settings import CompareSettings
    from globmed.hub.push import PushSettings

    with pytest.raises(Exception, match=r"missing required setting\(s\): FOLDER, --repo"):
        coerce(PushSettings, {})
    with pytest.raises(Exception, match=r"missing required setting\(s\): OUT_B$"):
        coerce(CompareSettings, {"out_a": "a"})


def test_a_settings_file_feeds_a_former_plain_command_and_flags_override_it(cli, tmp_path):
    config = tmp_path / "compare.yaml"
    config.write_text(f"model_a: {MODELS[0]}\nmodel-b: {MODELS[1]}\ncorrection: bh\n", encoding="utf-8")
    from_file = cli("bench", "compare", SAMPLE_RESULTS, SAMPLE_RESULTS, "--config", config)
    assert from_file.returncode == 0, str(from_file)
    assert f"{MODELS[0]} vs {MODELS[1]}: paired tests per dataset x language (bh-corrected)" in from_file.output
    flag_wins = cli("bench", "compare", SAMPLE_RESULTS, SAMPLE_RESULTS, "--config", config, "--correction", "holm")
    assert flag_wins.returncode == 0 and "(holm-corrected)" in flag_wins.output, str(flag_wins)

    config.write_text(f"model_a: {MODELS[0]}\ncorection: bh\n", encoding="utf-8")
    typo = cli("bench", "compare", SAMPLE_RESULTS, SAMPLE_RESULTS, "--config", config)
    assert typo.returncode == 2 and "Traceback" not in typo.output
    assert f"{config}:2: unknown setting 'corection' (did you mean 'correction'?)" in typo.output
    bad = cli("bench", "report", tmp_path / "nowhere", "--correction", "bonferroni")
    assert bad.returncode == 2 and "--correction must be holm or bh, not 'bonferroni'" in bad.output


def test_list_takes_its_flag_from_a_settings_file(cli, tmp_path):
    config = tmp_path / "list.yaml"
    config.write_text("json: true\n", encoding="utf-8")
    res = cli("list", "recipes", "--config", config)
    assert res.returncode == 0, str(res)
    assert "smoke" in {row["name"] for row in json.loads(res.stdout)}
    table = cli("list", "recipes", "--config", config, "--no-json")
    assert table.returncode == 0 and not table.stdout.lstrip().startswith("[")


def test_data_sources_on_a_missing_folder_is_one_line(cli, tmp_path):
    res = cli("data", "sources", "--sources", tmp_path / "nowhere")
    assert res.returncode == 2 and "Traceback" not in res.output
    assert f"{tmp_path / 'nowhere'}: sources folder not found" in res.output


def test_data_records_are_the_records_the_build_keeps(cli, sample_data, tmp_path):
    """The same screened records as `globmed data build` (the sample_data fixture) writes in each dataset's
    own language, as many as its screening kept (the sample has removals: duplicates, broken items)."""
    out = tmp_path / "records.jsonl"
    res = cli("data", "records", "--sources", SAMPLE_SOURCES, "--out", out, "--datasets", BENCH_DATASETS)
    assert res.returncode == 0, str(res)
    records = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    screening = json.loads((sample_data / "screening" / "report.json").read_text(encoding="utf-8"))
    assert {r["dataset"] for r in screening["removed"]} >= {"medqa", "headqa"}  # the sample exercises screening
    for name in BENCH_DATASETS.split(","):
        spec = registry.get(name)
        built = [row["id"] for f in (sample_data / f"{name}.{spec.language}").glob("*.parquet")
                 for row in pq.read_table(f).to_pylist()]
        written = [r["id"] for r in records if r["dataset"] == name]
        assert sorted(written) == sorted(built) and len(written) == screening["datasets"][name]["kept"], name


def test_data_records_names_datasets_without_files(cli, tmp_path):
    empty = tmp_path / "sources"
    empty.mkdir()
    asked = cli("data", "records", "--sources", empty, "--out", tmp_path / "a.jsonl", "--datasets", "medqa")
    assert asked.returncode == 2 and f"{empty}: no source files for medqa (looked for" in asked.output
    assert not (tmp_path / "a.jsonl").exists()
    every = cli("data", "records", "--sources", empty, "--out", tmp_path / "b.jsonl")
    assert every.returncode == 0 and "no source files for medqa, headqa" in every.output
    assert "wrote 0 records" in every.output
