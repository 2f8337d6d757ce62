"""What a training run says about itself: train_report.json, which the model card and the
manifest (globmed.json) are written from."""

from __future__ import annotations

import datetime as dt
import os
import platform
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .scale import parallelism
from .settings import TINY

if TYPE_CHECKING:
    from .sft import Prepared


def hardware() -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "torch": torch.__version__, "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
        info["gpus_per_node"] = torch.cuda.device_count()
    else:
        info["gpu"] = None
        info["cpu"] = platform.processor() or platform.machine()
    return info


def train_report(p: Prepared, result: Any, seconds: float, resumed_from: int | None = None) -> dict[str, Any]:
    """Everything the card and the manifest say about this run."""
    from .. import __version__, registry

    settings, trainer, mix, lengths, dropped = p.settings, p.trainer, p.mix, p.lengths, p.dropped
    processes, accumulation, global_batch = p.processes, p.accumulation, p.global_batch
    bf16, dtype, attn, padding_free, data_ref, model_ref = p.bf16, p.dtype, p.attn, p.padding_free, p.data_ref, p.model_ref
    args = trainer.args
    datasets_used = sorted({d for d in mix["datasets"] if d in registry.names()})
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    hyper = {
        "learning_rate": settings.learning_rate, "global_batch_size": global_batch,
        "per_device_train_batch_size": settings.per_device_train_batch_size,
        "gradient_accumulation_steps": accumulation, "num_processes": processes,
        "num_train_epochs": settings.num_train_epochs, "max_steps": settings.max_steps,
        "optimizer": settings.optim, "adam_beta1": args.adam_beta1, "adam_beta2": args.adam_beta2,
        "adam_epsilon": args.adam_epsilon, "weight_decay": settings.weight_decay,
        "lr_scheduler_type": settings.lr_scheduler_type, "warmup_ratio": settings.warmup_ratio,
        "max_grad_norm": settings.max_grad_norm, "bf16": bf16, "weights_dtype": dtype,
        "gradient_checkpointing": settings.gradient_checkpointing, "max_length": settings.max_length,
        "padding_free": padding_free, "packing": settings.packing, "attn_implementation": attn,
        "loss": "answer (completion) tokens only", "seed": settings.seed, "peft": settings.peft,
    }
    if settings.peft != "none":
        hyper.update(lora_r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                     lora_target_modules=settings.lora_target_modules, merge_lora=settings.merge_lora)
    return {
        "kind": "globmed-model", "globmed_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "base_model": settings.model if settings.model != TINY else "tiny (random init, built locally)",
        "base_model_path": model_ref, "data": data_ref, "distill_data": [str(p) for p in settings.distill_data],
        "split": settings.split, "datasets": datasets_used, "language_mode": settings.language_mode,
        "language_mix": mix, "hyperparameters": hyper,
        "settings": {k: (str(v) if isinstance(v, Path) else [str(x) for x in v] if isinstance(v, list) else v)
                     for k, v in asdict(settings).items()},
        "training": {"steps": trainer.state.global_step, "epochs": trainer.state.epoch,
                     "conversations": len(lengths) - dropped, "dropped_too_long": dropped,
                     "tokens": sum(n for n in lengths) if lengths else 0,
                     "mean_length": (sum(lengths) / len(lengths)) if lengths else 0,
                     "final_loss": round(losses[-1], 4) if losses else None, "train_loss": result.training_loss,
                     "seconds": round(seconds, 1), "resumed_from_step": resumed_from,
                     "train_runtime": result.metrics.get("train_runtime"),
                     "total_flos": trainer.state.total_flos,
                     "num_input_tokens_seen": trainer.state.num_input_tokens_seen},
        "hardware": {**hardware(), "num_processes": processes, "parallelism": parallelism(trainer.accelerator)},
        "log_history": trainer.state.log_history,
    }
