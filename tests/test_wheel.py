"""What a plain `pip install globmed` gets: the wheel built from this checkout holds the recipes, the
shipped sample, the Space (its Hub repository files and sample results) and the model card template, and
from a folder outside the repository (nothing but the unpacked wheel on the path) `globmed data build
--sources sample` and `globmed train sft --recipe smoke` run on that packaged sample. The wheel installed
by pip into a new, empty virtual environment with its core dependencies only (no extras: no torch, no
transformers) builds the sample too: every package the build imports is declared; with the `space` extra,
`globmed space` serves the leaderboard of the shipped sample results and `globmed-push space --dry-run`
lists the Space files of the installed package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT, cli_env
from .support.serving import free_port

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


def files_under(root: Path, folder: str) -> set[str]:
    return {p.relative_to(root).as_posix() for p in (root / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


@pytest.mark.parametrize("folder", ["globmed/sample", "globmed/space/repo", "globmed/space/sample_results",
                                    "globmed/train/templates"])
def test_the_wheel_holds_every_shipped_file(site, folder):
    """The sample, the Space's repository files and sample results, the model card template: every file of
    the checkout's folder is in the wheel (nothing is found outside the package any more)."""
    shipped = files_under(ROOT, folder)
    assert shipped and shipped == files_under(site, folder)


def test_the_wheel_holds_the_recipes(site):
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


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """cli_env without PYTHONPATH (which would put this checkout before the installed wheel)."""
    return cli_env(home, PYTHONPATH=None, VIRTUAL_ENV=None, PYTHONHOME=None, **extra)


def pip_install(python: Path, home: Path, *what: str) -> None:
    env = clean_env(home)
    env.pop("HF_HUB_OFFLINE")  # pip reaches PyPI (the machine's pip configuration and caches apply)
    install = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-compile", *what], env=env,
                             capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stderr[-3000:]
    check = subprocess.run([str(python), "-m", "pip", "check"], env=env, capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A new, empty virtual environment with the wheel and its core dependencies only."""
    root = tmp_path_factory.mktemp("venv")
    venv = root / "venv"
    # the interpreter this venv was made from, not this venv: the new one sees nothing installed here
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True, timeout=300)
    pip_install(venv / "bin" / "python", root / "hf_home", str(wheel))
    return venv


@pytest.mark.slow
def test_pip_install_into_an_empty_venv_then_data_build_on_the_sample(venv, tmp_path):
    python = venv / "bin" / "python"
    env = clean_env(tmp_path / "hf_home")
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


@pytest.mark.slow
def test_the_installed_space_serves_its_sample_and_lists_its_files_to_push(wheel, venv, tmp_path):
    """After `pip install globmed[space]` nothing of this checkout is needed: `globmed space` answers HTTP 200
    with the leaderboard of the sample results shipped in the wheel, and `globmed-push space --dry-run` lists
    the Space files of the installed package (the installed app's bytecode left out)."""
    pip_install(venv / "bin" / "python", tmp_path / "hf_home", f"{wheel}[space]")
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = clean_env(tmp_path / "hf_home", GRADIO_ANALYTICS_ENABLED="False", MPLCONFIGDIR=str(tmp_path / "mpl"))
    port = free_port()
    with open(tmp_path / "space.log", "w") as log:
        proc = subprocess.Popen([str(venv / "bin" / "globmed"), "space", "--port", str(port)], cwd=cwd, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            page, config = _wait_for_page(f"http://127.0.0.1:{port}/", proc, tmp_path / "space.log")
        finally:
            proc.terminate()
            proc.wait(30)
    assert "GlobMed-Bench leaderboard" in page
    assert "demo-proprietary (synthetic)" in config  # the shipped sample results, read from the installed wheel
    assert f"GlobMed Space on http://127.0.0.1:{port}" in (tmp_path / "space.log").read_text()

    where = "import globmed.space as s; print(s.SPACE_REPO)"
    package = Path(subprocess.run([str(venv / "bin" / "python"), "-c", where], env=env, cwd=cwd, capture_output=True,
                                  text=True, check=True).stdout.strip())
    assert package.is_relative_to(venv) and (package / "app.py").is_file()
    subprocess.run([str(venv / "bin" / "python"), "-m", "compileall", "-q", str(package)], check=True, env=env)
    dry = subprocess.run([str(venv / "bin" / "globmed-push"), "space", "--repo", "globmed-org/space", "--dry-run"],
                         cwd=cwd, env={**env, "COLUMNS": "200"}, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    listed = {line.split("│")[1].strip() for line in dry.stdout.splitlines() if line.count("│") == 3}
    assert listed - {"file"} == {"README.md", "app.py", "requirements.txt"}, dry.stdout
    assert "3 files" in dry.stdout


def _wait_for_page(url: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> tuple[str, str]:
    """The page and the app's config once the server answers 200 (the log when it dies or never does)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.status == 200
                page = resp.read().decode()
            with urllib.request.urlopen(url + "config", timeout=30) as resp:
                return page, resp.read().decode()
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"`globmed space` did not answer (exit {proc.poll()}):\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
