"""What a plain `pip install globmed` gets: the wheel built from this checkout holds the recipes and the
shipped sample, and from a folder outside the repository (nothing but the unpacked wheel on the path)
`globmed data build --sources sample` and `globmed train sft --recipe smoke` run on that packaged sample.
The wheel installed by pip into a new, empty virtual environment with its core dependencies only (no
extras: no torch, no transformers) builds the sample too: every package the build imports is declared."""

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
def wheel(tmp_path_factory) -> Path:
    from globmed.space.push import build_wheel

    return build_wheel(ROOT, tmp_path_factory.mktemp("wheel") / "dist")


@pytest.fixture(scope="module")
def site(wheel) -> Path:
    """The wheel, unpacked (what pip installs for a pure-Python wheel)."""
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(wheel.parent.parent / "site")
    return wheel.parent.parent / "site"


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


def clean_env(home: Path) -> dict[str, str]:
    """cli_env without PYTHONPATH (which would put this checkout before the installed wheel)."""
    return cli_env(home, PYTHONPATH=None, VIRTUAL_ENV=None, PYTHONHOME=None)


@pytest.mark.slow
def test_pip_install_into_an_empty_venv_then_data_build_on_the_sample(wheel, tmp_path):
    venv = tmp_path / "venv"
    # the interpreter this venv was made from, not this venv: the new one sees nothing installed here
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    env = clean_env(tmp_path / "hf_home")
    env.pop("HF_HUB_OFFLINE")  # pip reaches PyPI (the machine's pip configuration and caches apply)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-compile", str(wheel)], env=env,
                             capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stderr[-3000:]
    check = subprocess.run([str(python), "-m", "pip", "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    probe = "import importlib.util as u; print([m for m in ('torch', 'transformers', 'trl', 'gradio') if u.find_spec(m)])"
    assert subprocess.run([str(python), "-c", probe], env=env, capture_output=True, text=True).stdout.strip() == "[]"

    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = clean_env(tmp_path / "hf_home")
    built = subprocess.run([str(venv / "bin" / "globmed"), "data", "build", "--sources", "sample", "--out", "globmed"],
                           cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-3000:]
    manifest = json.loads((cwd / "globmed" / "globmed.json").read_text(encoding="utf-8"))
    assert manifest["sample"] is True and manifest["partial"] == [] and len(manifest["datasets"]) >= 10
    # read back by that venv's own `datasets`, from the folder's parent, as the README shows
    code = ("import datasets, json; ds = datasets.load_dataset('globmed', 'medqa.zu', split='test'); "
            "import globmed; print(json.dumps([len(ds), ds[0]['language'], globmed.__file__]))")
    loaded = subprocess.run([str(python), "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    rows, language, where = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert rows == manifest["datasets"]["medqa"]["configs"]["medqa.zu"]["test"] and language == "zu"
    assert Path(where).is_relative_to(venv)  # the installed wheel, not this checkout
