"""Scaling arithmetic: the global batch over processes, and the bf16 decision.

global batch = per-device batch x gradient accumulation x number of processes. Recipes state the
global batch (the paper's 256) and a per-device batch; the accumulation is derived here for
whatever number of processes `accelerate launch` (or torchrun / Slurm) started.
"""

from __future__ import annotations

import os
from typing import Any

from ..errors import GlobmedError


def cpu_only() -> bool:
    """No accelerator here: training runs on CPU processes (gloo when there are several)."""
    try:
        import torch
    except ImportError:
        return True
    xpu = getattr(torch, "xpu", None)
    mps = getattr(torch.backends, "mps", None)
    return not (torch.cuda.is_available() or (xpu is not None and xpu.is_available())
                or (mps is not None and mps.is_available()))


def distributed_state() -> Any:
    """accelerate's PartialState for this launch. On a machine without an accelerator it is made with
    cpu=True, so that several CPU processes (torchrun, `accelerate launch` with MPI) form one job."""
    from accelerate import PartialState

    return PartialState(cpu=cpu_only())


def num_processes() -> int:
    """Processes taking part in training: accelerate's PartialState (which reads the launcher's
    environment), else WORLD_SIZE, else 1."""
    try:
        return int(distributed_state().num_processes)
    except Exception:  # accelerate missing or no usable backend: the launcher's environment decides
        return int(os.environ.get("WORLD_SIZE", "1") or 1)


def parallelism(accelerator: Any, explain: bool = False) -> str:
    """How the processes share the model, in words for the log, the report and the card ("DeepSpeed
    ZeRO-3"); `explain`: say so when the launcher asked for FSDP and accelerate did not use it (it has
    FSDP on accelerators only; on CPU processes it silently trains as DDP)."""
    kind = getattr(accelerator.distributed_type, "value", str(accelerator.distributed_type))
    if kind == "DEEPSPEED":
        return f"DeepSpeed ZeRO-{accelerator.state.deepspeed_plugin.zero_stage}"
    if kind == "FSDP":
        return f"FSDP{getattr(accelerator.state.fsdp_plugin, 'fsdp_version', 1)}"
    words = {"NO": "one process", "MULTI_CPU": "DDP over CPU processes", "MULTI_GPU": "DDP"}.get(kind, kind)
    if explain and os.environ.get("ACCELERATE_USE_FSDP", "").lower() == "true":
        words += " (the accelerate config asks for FSDP, which accelerate runs on GPUs only: every process holds the whole model)"
    return words


def gradient_accumulation(global_batch: int | None, per_device: int, processes: int,
                          accumulation: int | None = None) -> int:
    """Accumulation steps so that per_device x accumulation x processes == global_batch."""
    if per_device < 1 or processes < 1:
        raise GlobmedError("the per-device batch and the number of processes must be at least 1")
    if global_batch is None:
        return accumulation or 1
    step = per_device * processes
    if global_batch % step:
        fits = [b for b in range(1, per_device * 2 + 1) if global_batch % (b * processes) == 0]
        hint = f"; per-device batches that divide it with {processes} processes: {', '.join(map(str, fits))}" if fits else ""
        raise GlobmedError(
            f"global batch {global_batch} is not divisible by per-device batch {per_device} x {processes} "
            f"process(es) = {step}{hint}. Change --per-device-train-batch-size or --global-batch-size.")
    derived = global_batch // step
    if accumulation is not None and accumulation != derived:
        raise GlobmedError(
            f"--gradient-accumulation-steps {accumulation} contradicts --global-batch-size {global_batch} "
            f"(per-device {per_device} x {processes} process(es) needs {derived}); give only one of them")
    return derived


def bf16_supported() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    except Exception:
        return False


def resolve_bf16(value: str | bool) -> tuple[bool, str]:
    """(use bf16, why). Under `accelerate launch` its config's mixed_precision can bind: transformers
    takes mixed_precision bf16 from the launcher even when told bf16=False, and DeepSpeed copies the
    launcher's setting into its own config and refuses a trainer that disagrees. Otherwise `auto` is
    on where a GPU supports bf16 and off on CPU (TRL alone would say True even on CPU)."""
    text = str(value).lower()
    asked = True if text in ("true", "1", "yes") else False if text in ("false", "0", "no") else None
    launcher = os.environ.get("ACCELERATE_MIXED_PRECISION")  # set by `accelerate launch` from its config
    if launcher not in (None, "bf16", "no"):
        raise GlobmedError(f"accelerate launch runs with mixed_precision {launcher}; globmed trains in bf16 or "
                           "float32: launch with --mixed_precision bf16 or no")
    if launcher == "bf16" or (launcher and os.environ.get("ACCELERATE_USE_DEEPSPEED", "").lower() == "true"):
        wanted = launcher == "bf16"
        if asked is not None and asked != wanted:
            raise GlobmedError(
                f"--bf16 {text} contradicts accelerate launch's mixed_precision {launcher} (its config file or "
                f"--mixed_precision); pass --bf16 auto to follow the launcher, or launch with --mixed_precision "
                f"{'bf16' if asked else 'no'}")
        if asked is None:
            return wanted, f"bf16: auto -> {'on' if wanted else 'off'} (accelerate launch's mixed_precision {launcher})"
    if asked is not None:
        return asked, f"bf16: {'on' if asked else 'off'} (asked for)"
    if bf16_supported():
        return True, "bf16: auto -> on (the GPU supports bf16)"
    return False, "bf16: auto -> off (no GPU with bf16 support; training in float32)"
