"""A trained-model folder: the OUTPUT of `globmed train sft`, a Hub model repo (`globmed-push model OUTPUT`).

    OUTPUT/
      config.json, model.safetensors, tokenizer files     the model (full-parameter training), or
      adapter_config.json, adapter_model.safetensors      a LoRA adapter
      README.md                                           the model card (globmed.train.card)
      globmed.json                                        manifest, kind globmed-model: base model, data, the
                                                          registry datasets trained on, languages, restricted
                                                          ones (the push licence guard reads it)
      train_report.json                                   everything the run says about itself
      language_mix.json                                   items per dataset and language
      merged/                                             with --merge-lora: the merged model, its own card
                                                          and manifest
      .cache/checkpoints/                                 checkpoints (never uploaded)
      .cache/data/                                        GlobMed built from --sources
      .cache/base-model/                                  the tiny base model, built locally

Without the manifest `globmed-push model` refuses the folder: the licence guard could not tell what
the model was trained on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from . import CACHE, manifest

KIND = "globmed-model"
CARD = "README.md"
TRAIN_REPORT = "train_report.json"
LANGUAGE_MIX = "language_mix.json"
MERGED = "merged"
CHECKPOINTS = Path(CACHE) / "checkpoints"
BUILT_DATA = Path(CACHE) / "data"
BASE_MODEL = Path(CACHE) / "base-model"
WEIGHTS_CONFIGS = ("config.json", "adapter_config.json")  # a model, or an adapter


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """OUTPUT/globmed.json (kind globmed-model); None when the folder has none."""
    return manifest.read(folder, KIND, "a trained-model folder")


def write_manifest(folder: Path, data: dict[str, Any]) -> Path:
    return manifest.write(folder, KIND, data)


def check(folder: Path) -> None:
    """A folder `globmed-push model` may publish: weights or an adapter, the manifest and the card."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GlobmedError(f"{folder}: folder not found")
    if not any((folder / name).exists() for name in WEIGHTS_CONFIGS):
        raise GlobmedError(f"{folder}: no model here (neither config.json nor adapter_config.json)")
    if read_manifest(folder) is None:  # one of another kind, or broken, is an error of its own
        raise GlobmedError(f"{folder}: no {manifest.NAME} model manifest (is this a `globmed train sft` output?); "
                           "without it the licence guard cannot tell what the model was trained on")
    if not (folder / CARD).exists():
        raise GlobmedError(f"{folder}: no model card ({CARD}); write it with `globmed train card {folder}`")
