"""What a plain `pip install globmed` gets: the wheel built from this checkout holds the recipes and the
shipped sample, and from a folder outside the repository (nothing but the unpacked wheel on the path)
`globmed data build --sources sample` and `globmed train sft --recipe smoke` run on that packaged sample."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, cli_env

SAMPLE = ROOT / "globmed" / "sample"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The wheel, unpacked (what pip installs for a pure-Python wheel)."""
    from globmed.space.push import build_wheel

    tmp = tmp_path_factory.mktemp("wheel")
    wheel = build_wheel(ROOT, tmp / "dist")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp / "site")
    return tmp / "site"


def run_installed(site: Path, cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = cli_env(cwd / "hf_home", PYTHONPATH=str(site))
    return subprocess.run([sys.executable, "-c", "from globmed.cli import main; main()", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_the_wheel_holds_the_recipes_and_the_whole_sample(site):
    shipped = {p.relative_to(ROOT).as_posix() for p in SAMPLE.rglob("*") if p.is_file() and "__pycache__" not in p.parts}
    in_wheel = {p.relative_to(site).as_posix() for p in (site / "globmed" / "sample").rglob("*") if p.is_file()}
    assert shipped and shipped == in_wheel
    assert {"smoke.yaml", "qwen3-4b.yaml"} <= {p.name for p in (site / "globmed" / "recipes").glob("*.yaml")}


def test_the_installed_package_builds_and_trains_on_its_sample_from_any_folder(site, tmp_path):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    where = subprocess.run([sys.executable, "-c", "import globmed; print(globmed.__file__)"], cwd=cwd,
                           env=cli_env(cwd / "hf_home", PYTHONPATH=str(site)), capture_output=True, text=True)
    assert Path(where.stdout.strip()).is_relative_to(site), where  # the wheel's globmed, not this checkout's

    built = run_installed(site, cwd, "data", "build", "--sources", "sample", "--out", "globmed", "--datasets", "medqa")
    assert built.returncode == 0, built.stderr[-3000:]
    manifest = json.loads((cwd / "globmed" / "globmed.json").read_text(encoding="utf-8"))
    assert manifest["sample"] is True and list(manifest["datasets"]) == ["medqa"]

    res = run_installed(site, cwd, "train", "sft", "--recipe", "smoke", "--output-dir", "out", "--max-steps", "2",
                        "--datasets", "medqa")
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads((cwd / "out" / "train_report.json").read_text(encoding="utf-8"))
    assert report["training"]["steps"] == 2
    assert (cwd / "out" / "model.safetensors").is_file()
    # the data came from the wheel's sample folder (built into OUTPUT/.cache/data)
    assert json.loads((cwd / "out" / ".cache" / "data" / "globmed.json").read_text(encoding="utf-8"))["sample"] is True


def test_a_missing_sources_folder_is_named(site, tmp_path):
    res = run_installed(site, tmp_path, "train", "sft", "--recipe", "smoke", "--sources", "nowhere",
                        "--output-dir", "out")
    assert res.returncode != 0 and "nowhere: sources folder not found" in res.stdout + res.stderr
    assert not os.path.exists(tmp_path / "out" / "model.safetensors")
