"""`globmed train sft`: supervised fine-tuning with TRL's SFTTrainer on GlobMed conversations.

Runs unchanged on one CPU, one GPU, or many GPUs / nodes under `accelerate launch` (the launcher
decides the number of processes; gradient accumulation is derived from the global batch). Only
the main process prints, builds shared inputs, writes the card and the manifest.

OUTPUT holds the final model (or LoRA adapter), README.md (the model card), globmed.json (what it
was trained on: the push licence guard reads it), language_mix.json and train_report.json.
Checkpoints go to OUTPUT/.cache/checkpoints (never uploaded by `globmed-push model`).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from ..core.modelfolder import BASE_MODEL, CHECKPOINTS, LANGUAGE_MIX, MERGED, TRAIN_REPORT
from ..errors import GlobmedError
from ..io import write_json
from .data import (
    assign_languages,
    conversations,
    distill_conversations,
    language_mix,
    load_records,
    print_mix,
    resolve_data,
)
from .report import train_report
from .scale import cpu_only, distributed_state, gradient_accumulation, num_processes, parallelism, resolve_bf16
from .settings import TINY, SFTSettings

CLOCK = "globmed-clock.json"  # in each checkpoint: the training time up to it, over every attempt


class _Quiet:
    """A console that prints on the main process only."""

    def __init__(self, console: Console, main: bool):
        self.console, self.main = console, main

    def print(self, *args: Any, **kwargs: Any) -> None:
        if self.main:
            self.console.print(*args, **kwargs)

    def rule(self, *args: Any, **kwargs: Any) -> None:
        if self.main:
            self.console.rule(*args, **kwargs)


# -------------------------------------------------------------------------------------------- inputs
def training_rows(settings: SFTSettings, workdir: Path, console: Console | None = None
                  ) -> tuple[list[dict[str, Any]], str | None, str | None]:
    """(conversations, the data they came from (None: distillation data only), the local data folder)."""
    rows: list[dict[str, Any]] = []
    data_ref = None
    if settings.distill_data:
        rows += distill_conversations(settings.distill_data)
    if settings.data or settings.sources:  # also for a tiny model's tokenizer with distillation data only
        data_ref = resolve_data(settings.data, settings.sources, workdir, console)
    if not settings.distill_data or settings.include_direct:
        from ..core.datafolder import open_data

        assert data_ref is not None
        records = load_records(open_data(data_ref), settings.datasets, settings.languages, settings.split, settings.limit)
        rows += conversations(records, assign_languages(records, settings.language_mode, settings.seed))
        return rows, data_ref, data_ref
    return rows, None, data_ref


def tiny_base_model(workdir: Path, data_ref: str | None) -> Path:
    """The smoke recipe's model: built locally (random init, tokenizer trained on the data's texts)."""
    from ..tiny_model import build_tiny_model, sample_texts

    path = Path(workdir) / BASE_MODEL
    with distributed_state().main_process_first():
        if not (path / "config.json").exists():
            if not data_ref or not Path(data_ref).is_dir():
                raise GlobmedError("--model tiny needs local data (--data FOLDER or --sources) to train its tokenizer")
            build_tiny_model(path, sample_texts(Path(data_ref)))
    return path


def drop_long(rows: list[dict[str, Any]], tokenizer: Any, max_length: int, template_kwargs: dict[str, Any]
              ) -> tuple[list[dict[str, Any]], list[int]]:
    """Conversations of at most `max_length` tokens (a longer one would lose its answer), and every length."""
    lengths: list[int] = []
    for start in range(0, len(rows), 512):
        chunk = rows[start:start + 512]
        texts = [tokenizer.apply_chat_template(r["prompt"] + r["completion"], tokenize=False, **template_kwargs)
                 for r in chunk]
        lengths += [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    kept = [r for r, n in zip(rows, lengths) if n <= max_length]
    return kept, lengths


def resolve_attention(value: str, padding_free: bool) -> str:
    """auto: flash_attention_2 where flash-attn is installed on a GPU; else, for padding-free
    batches, globmed's varlen SDPA (attention within each conversation only); else SDPA."""
    from .attention import register

    register()
    if value != "auto":
        return value
    import importlib.util

    import torch

    if torch.cuda.is_available() and importlib.util.find_spec("flash_attn") is not None:
        return "flash_attention_2"
    return "globmed_varlen" if padding_free else "sdpa"


def resolve_dtype(value: str, peft: str, bf16: bool) -> str:
    """Full-parameter training keeps float32 master weights (bf16 autocast computes; a bf16 weight
    would swallow updates of lr 1e-5); LoRA loads the frozen base in the compute dtype."""
    if value != "auto":
        return value
    if peft == "none":
        return "float32"
    return "bfloat16" if bf16 else "float32"


def peft_config(settings: SFTSettings) -> Any:
    if settings.peft == "none":
        return None
    from peft import LoraConfig

    targets: Any = settings.lora_target_modules
    if targets == ["all-linear"]:
        targets = "all-linear"
    return LoraConfig(r=settings.lora_r, lora_alpha=settings.lora_alpha, lora_dropout=settings.lora_dropout,
                      target_modules=targets, task_type="CAUSAL_LM")


def quantization_config(settings: SFTSettings) -> Any:
    if settings.peft != "qlora":
        return None
    import importlib.util

    import torch

    if not torch.cuda.is_available():
        raise GlobmedError("--peft qlora needs a CUDA GPU (bitsandbytes 4-bit kernels); on CPU use --peft lora")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise GlobmedError("--peft qlora needs bitsandbytes: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=torch.bfloat16)


# ------------------------------------------------------------------------------------------ training
@dataclass
class Prepared:
    """Everything set up for training (the trainer included), before `trainer.train()`."""

    settings: SFTSettings
    trainer: Any
    out: Path
    say: _Quiet
    is_main: bool
    mix: dict[str, Any]
    data_ref: str | None
    model_ref: str
    processes: int
    accumulation: int
    global_batch: int
    bf16: bool
    dtype: str
    attn: str
    padding_free: bool
    lengths: list[int]
    dropped: int
    started: float
    fingerprint: str


def prepare(settings: SFTSettings, console: Console | None = None) -> Prepared:
    """Check the batch split, build the conversations, load the model and make TRL's SFTTrainer."""
    state = distributed_state()
    out = Path(settings.output_dir)
    say = _Quiet(console or Console(), state.is_main_process)
    started = time.time()
    if settings.peft == "qlora":
        quantization_config(settings)  # fail before any work when QLoRA cannot run here

    # 1. Batch arithmetic first: a bad split must fail before anything is loaded.
    processes = num_processes()
    accumulation = gradient_accumulation(settings.global_batch_size, settings.per_device_train_batch_size, processes,
                                         settings.gradient_accumulation_steps)
    global_batch = settings.per_device_train_batch_size * accumulation * processes
    fingerprint = run_fingerprint(settings, processes, accumulation)
    _check_resumable(out, settings, fingerprint)
    bf16, why = resolve_bf16(settings.bf16)
    say.print(f"processes: {processes}; global batch {global_batch} = per-device {settings.per_device_train_batch_size}"
              f" x accumulation {accumulation} x {processes} process(es)")
    say.print(why)

    # 2. Data: conversations with the bench's prompts, in the drawn languages.
    rows, data_ref, local_data = training_rows(settings, out, say.console if state.is_main_process else Console(quiet=True))
    model_ref = str(tiny_base_model(out, local_data)) if settings.model == TINY else settings.model

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_ref)
    if not getattr(tokenizer, "chat_template", None):
        raise GlobmedError(f"{settings.model}: the tokenizer has no chat template; train from an instruct/chat model "
                           "or one whose tokenizer defines a chat template")
    template_kwargs = {} if settings.enable_thinking is None else {"enable_thinking": settings.enable_thinking}
    rows, lengths = drop_long(rows, tokenizer, settings.max_length, template_kwargs)
    dropped = len(lengths) - len(rows)
    if not rows:
        raise GlobmedError(f"every conversation is longer than --max-length {settings.max_length} tokens")
    mix = language_mix(rows, settings.language_mode if not settings.distill_data else "distill", settings.seed)
    mix["dropped_too_long"] = dropped
    if state.is_main_process:
        print_mix(mix, say.console)
        write_json(out / LANGUAGE_MIX, mix)
    if dropped:
        say.print(f"[yellow]{dropped} conversation(s) longer than {settings.max_length} tokens were left out[/]")

    # 3. TRL. SFTConfig is built before the model is loaded, so DeepSpeed ZeRO-3 can shard at load time.
    import datasets
    from trl import SFTConfig, SFTTrainer

    padding_free = settings.padding_free or settings.packing
    attn = resolve_attention(settings.attn_implementation, padding_free)
    dtype = resolve_dtype(settings.model_dtype, settings.peft, bf16)
    if padding_free and attn == "eager":
        raise GlobmedError("padding-free training needs sdpa or flash attention, not eager")
    columns = ["prompt", "completion"] + (["chat_template_kwargs"] if template_kwargs else [])
    train = datasets.Dataset.from_list([{**{k: r[k] for k in ("prompt", "completion")},
                                         **({"chat_template_kwargs": template_kwargs} if template_kwargs else {})}
                                        for r in rows]).select_columns(columns)
    init_kwargs: dict[str, Any] = {"dtype": dtype, "attn_implementation": attn}
    args = SFTConfig(
        output_dir=str(out / CHECKPOINTS), run_name=settings.run_name or out.name,
        learning_rate=settings.learning_rate, per_device_train_batch_size=settings.per_device_train_batch_size,
        gradient_accumulation_steps=accumulation, num_train_epochs=settings.num_train_epochs,
        max_steps=settings.max_steps, weight_decay=settings.weight_decay, lr_scheduler_type=settings.lr_scheduler_type,
        warmup_steps=settings.warmup_ratio, optim=settings.optim, max_grad_norm=settings.max_grad_norm,
        bf16=bf16, fp16=False, gradient_checkpointing=settings.gradient_checkpointing,
        max_length=None if padding_free and not settings.packing else settings.max_length,
        packing=settings.packing, packing_strategy="bfd", padding_free=padding_free,
        completion_only_loss=True, assistant_only_loss=False,
        report_to=settings.report_to, logging_steps=settings.logging_steps, logging_first_step=True,
        save_strategy="steps", save_steps=settings.save_steps, save_total_limit=settings.save_total_limit,
        seed=settings.seed, data_seed=settings.seed, dataloader_num_workers=settings.dataloader_num_workers,
        include_num_input_tokens_seen="non_padding", model_init_kwargs=init_kwargs, disable_tqdm=not state.is_main_process,
        use_cpu=cpu_only(), ddp_find_unused_parameters=False if settings.peft == "none" else None,
    )
    say.print(f"model {settings.model} ({dtype} weights, {attn} attention); "
              f"{'packing (bfd)' if settings.packing else 'padding-free' if padding_free else 'padded batches'}; "
              f"loss on the answer tokens only; peft: {settings.peft}")
    trainer = SFTTrainer(model=model_ref, args=args, train_dataset=train, processing_class=tokenizer,
                         peft_config=peft_config(settings), quantization_config=quantization_config(settings))
    if not state.is_main_process:
        # transformers prints the logs on every node's first process; one copy (the main process's) is enough
        from transformers import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    say.print(f"parallelism: {parallelism(trainer.accelerator, explain=True)}")
    return Prepared(settings, trainer, out, say, state.is_main_process, mix, data_ref, model_ref, processes,
                    accumulation, global_batch, bf16, dtype, attn, padding_free, lengths, dropped, started, fingerprint)


def run_sft(settings: SFTSettings, console: Console | None = None) -> Path:
    """Train; returns OUTPUT (the model, its card, globmed.json)."""
    p = prepare(settings, console)
    trainer, out, say = p.trainer, p.out, p.say
    checkpoint = _checkpoint_to_resume(p)
    before = _seconds_before(checkpoint)
    if checkpoint:
        say.print(f"resuming from {checkpoint}")
    trainer.add_callback(_clock(before, p.started))
    result = trainer.train(resume_from_checkpoint=checkpoint)
    trainer.model.config.use_cache = True  # switched off for training; generation wants it
    trainer.save_model(str(out))
    seconds = before + time.time() - p.started

    # 4. Merge, card, manifest (main process).
    trainer.accelerator.wait_for_everyone()
    if p.is_main:
        merged = settings.peft != "none" and settings.merge_lora
        if merged:
            merge_adapter(out, out / MERGED)
        report = train_report(p, result, seconds, resumed_from=checkpoint_step(checkpoint) if checkpoint else None)
        write_json(out / TRAIN_REPORT, report)
        from .card import write_manifest, write_model_card

        for folder in [out] + ([out / MERGED] if merged else []):
            write_manifest(folder, report)
            write_model_card(folder, report, results=settings.results, template=settings.card_template,
                             name=settings.model_name)
        say.print(f"[green]trained[/] in {seconds:.0f} s: {out}" + (f" (merged model: {out / MERGED})" if merged else ""))
    trainer.accelerator.wait_for_everyone()
    return out


# Settings that do not change what is trained (a run may resume with other values of these).
_NOT_TRAINING = {"output_dir", "resume", "report_to", "logging_steps", "save_steps", "save_total_limit",
                 "dataloader_num_workers", "results", "model_name", "card_template", "run_name", "merge_lora"}


def run_fingerprint(settings: SFTSettings, processes: int, accumulation: int) -> str:
    import hashlib

    values = {k: v for k, v in asdict(settings).items() if k not in _NOT_TRAINING}
    values.update(processes=processes, accumulation=accumulation)
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _check_resumable(out: Path, settings: SFTSettings, fingerprint: str) -> None:
    """Checkpoints in OUTPUT from a run with other training settings: resuming them would silently
    train something else, so that is an error (before anything is loaded)."""
    folder = out / CHECKPOINTS
    if not settings.resume or not any(folder.glob("checkpoint-*")):
        return
    stamp = folder / "globmed-run.json"
    previous = json.loads(stamp.read_text())["fingerprint"] if stamp.exists() else None
    if previous != fingerprint:
        raise GlobmedError(f"{out} holds checkpoints of a run with other settings; use another --output-dir, "
                           "or --no-resume to start this run afresh there")


def _checkpoint_to_resume(p: Prepared) -> str | None:
    """The last complete checkpoint of this run when resuming. The trainer writes a checkpoint's
    trainer_state.json last (after the weights, optimizer and RNG states of every process), so a
    checkpoint without one was being written when the run stopped: it is removed, not resumed from.
    With --no-resume old checkpoints are removed."""
    import re
    import shutil

    folder = p.out / CHECKPOINTS
    found = sorted((c for c in folder.glob("checkpoint-*") if c.is_dir() and re.fullmatch(r"checkpoint-\d+", c.name)),
                   key=checkpoint_step) if folder.is_dir() else []
    complete = [c for c in found if (c / "trainer_state.json").is_file()]
    last = complete[-1] if complete and p.settings.resume else None
    p.trainer.accelerator.wait_for_everyone()  # every process has looked before anything is removed
    if p.is_main:
        stale = [c for c in found if c not in complete] if p.settings.resume else found
        for old in stale:
            if p.settings.resume:
                p.say.print(f"[yellow]removing {old.name}: incomplete (the run stopped while writing it)[/]")
            shutil.rmtree(old, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        write_json(folder / "globmed-run.json", {"fingerprint": p.fingerprint})
    p.trainer.accelerator.wait_for_everyone()
    return str(last) if last else None


def checkpoint_step(folder: str | Path) -> int:
    """The optimizer step of a trainer checkpoint folder (checkpoint-N)."""
    return int(Path(folder).name.split("-")[1])


def _seconds_before(checkpoint: str | None) -> float:
    """Training time up to the checkpoint a run resumes from, over every earlier attempt (0 if unknown)."""
    clock = Path(checkpoint) / CLOCK if checkpoint else None
    return float(json.loads(clock.read_text())["seconds"]) if clock and clock.is_file() else 0.0


def _clock(before: float, started: float) -> Any:
    """A callback that writes, into each checkpoint, the training time up to it (this attempt's time
    plus `before`), so that a resumed run's report and card count the earlier attempts too."""
    from transformers import TrainerCallback

    class TrainingClock(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if state.is_world_process_zero and folder.is_dir():
                write_json(folder / CLOCK, {"seconds": round(before + time.time() - started, 1)})

    return TrainingClock()


def merge_adapter(adapter_dir: Path, target: Path) -> Path:
    """Load base + adapter, merge the LoRA weights into the base and save a plain model."""
    from peft import AutoPeftModelForCausalLM
    from transformers import AutoTokenizer

    model = AutoPeftModelForCausalLM.from_pretrained(str(adapter_dir), dtype="auto")
    merged = model.merge_and_unload()
    merged.save_pretrained(str(target))
    AutoTokenizer.from_pretrained(str(adapter_dir)).save_pretrained(str(target))
    return target
