"""Settings of `globmed train sft`, `distill` and `card` (one dataclass per command, TRL's style).

A recipe is a YAML file of SFTSettings fields. `--recipe NAME` reads the shipped
`globmed/recipes/NAME.yaml` (so `--recipe qwen3-4b` works after a plain pip install); a path to a
YAML file works too. Flags given on the command line override the recipe's values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import GlobmedError
from ..settings import SettingsFile, load_yaml

RECIPES = Path(__file__).resolve().parent.parent / "recipes"
LANGUAGE_MODES = ("random", "all")
PEFT_MODES = ("none", "lora", "qlora")
TINY = "tiny"  # the model name that builds a tiny random model locally (the smoke recipe)


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES.glob("*.yaml"))


def recipe_path(ref: str) -> Path:
    """A shipped recipe name (`qwen3-4b`) or a path to a YAML file."""
    path = Path(ref)
    if path.is_file():
        return path
    if path.suffix in (".yaml", ".yml") or "/" in ref or "\\" in ref:
        raise GlobmedError(f"{ref}: recipe file not found")
    shipped = RECIPES / f"{ref}.yaml"
    if not shipped.is_file():
        raise GlobmedError(f"unknown recipe {ref!r}: not a file, and not a shipped recipe "
                           f"({', '.join(recipe_names())})")
    return shipped


def load_recipe(ref: str) -> SettingsFile:
    return load_yaml(recipe_path(ref))


@dataclass
class DataSettings:
    """Where the training items come from (shared by `sft` and `distill`)."""

    data: str | None = field(default=None, metadata={"help": "a built GlobMed folder or a Hub dataset id"})
    sources: Path | None = field(default=None, metadata={
        "help": "original source files (`sample`: the sample shipped inside the package): built with `globmed data build` "
                "into OUTPUT/.cache/data first; instead of --data"})
    datasets: str = field(default="all", metadata={"help": "comma-separated datasets, or all"})
    languages: str = field(default="all", metadata={"help": "comma-separated language codes, or all"})
    split: str = field(default="train", metadata={"help": "split to train on; a comma-separated list takes the first one each config has (none: an error)"})
    language_mode: str = field(default="random", metadata={
        "help": "random: each item once, in one language drawn (seeded) from those it exists in; all: every language"})
    seed: int = field(default=42, metadata={"help": "seed of the language draw, the data order and the model init"})
    limit: int | None = field(default=None, metadata={"help": "first K items per dataset (a quick look)"})

    def check_data(self) -> None:
        if self.language_mode not in LANGUAGE_MODES:
            raise ValueError(f"--language-mode must be one of {', '.join(LANGUAGE_MODES)}, not {self.language_mode!r}")
        if bool(self.data) == bool(self.sources):
            raise ValueError("give exactly one of --data (a built GlobMed folder or Hub id) and --sources")


@dataclass
class SFTSettings(DataSettings):
    model: str = field(default=TINY, metadata={
        "help": "base model: a Hub id or local folder; `tiny` builds a tiny random model locally (smoke tests)"})
    output_dir: Path = field(default=Path("outputs/globmed-sft"), metadata={
        "help": "where the trained model, its card and globmed.json go (checkpoints: OUTPUT/.cache/checkpoints)"})
    distill_data: list[Path] = field(default_factory=list, metadata={
        "help": "SFT dataset(s) written by `globmed train distill` (jsonl/parquet of chat messages): train on these"})
    include_direct: bool = field(default=False, metadata={
        "help": "with --distill-data, also train on the direct (answer-only) conversations from --data"})
    learning_rate: float = field(default=1e-5, metadata={"help": "peak learning rate (AdamW)"})
    global_batch_size: int | None = field(default=256, metadata={
        "help": "examples per optimizer step over all processes; accumulation = global / (per-device x processes)"})
    per_device_train_batch_size: int = field(default=4, metadata={"help": "examples per device per forward pass"})
    gradient_accumulation_steps: int | None = field(default=None, metadata={
        "help": "derived from --global-batch-size; give it only without a global batch size"})
    num_train_epochs: float = field(default=1.0, metadata={"help": "epochs over the training conversations"})
    max_steps: int = field(default=-1, metadata={"help": "stop after this many optimizer steps (-1: epochs decide)"})
    weight_decay: float = field(default=0.0, metadata={"help": "AdamW weight decay"})
    lr_scheduler_type: str = field(default="cosine", metadata={"help": "learning-rate schedule (transformers name)"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "fraction of the steps spent warming up linearly"})
    optim: str = field(default="adamw_torch", metadata={"help": "optimizer (transformers name)"})
    max_grad_norm: float = field(default=1.0, metadata={"help": "gradient clipping"})
    bf16: str = field(default="auto", metadata={
        "help": "auto (follows accelerate launch's mixed_precision where it binds, see docs/training.md; else on "
                "where the GPU supports bf16, off on CPU) | true | false"})
    gradient_checkpointing: bool = field(default=True, metadata={"help": "trade compute for activation memory"})
    max_length: int = field(default=4096, metadata={
        "help": "tokens per conversation; longer ones are dropped (counted in the report), never cut mid-answer"})
    padding_free: bool = field(default=True, metadata={
        "help": "no padding: a batch's conversations are concatenated into one sequence (position ids restart "
                "per conversation); the batch still holds exactly --per-device-train-batch-size conversations"})
    packing: bool = field(default=False, metadata={
        "help": "TRL's best-fit-decreasing packing into rows of --max-length tokens (a batch then counts rows, not "
                "conversations); implies padding-free"})
    attn_implementation: str = field(default="auto", metadata={
        "help": "auto (flash_attention_2 when installed on a GPU; else globmed_varlen, SDPA per conversation, for "
                "padding-free batches; else sdpa) | globmed_varlen | sdpa | eager | flash_attention_2 | ..."})
    model_dtype: str = field(default="auto", metadata={
        "help": "dtype of the weights: auto (float32 master weights for full-parameter training, the compute "
                "dtype for LoRA) | bfloat16 | float32"})
    enable_thinking: bool | None = field(default=None, metadata={
        "help": "chat-template thinking switch (Qwen3): false trains the non-thinking format the bench uses "
                "with --no-enable-thinking"})
    peft: str = field(default="none", metadata={"help": "none (full-parameter) | lora | qlora (4-bit, needs a GPU)"})
    lora_r: int = field(default=16, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=32, metadata={"help": "LoRA alpha"})
    lora_dropout: float = field(default=0.05, metadata={"help": "LoRA dropout"})
    lora_target_modules: list[str] = field(default_factory=lambda: ["all-linear"], metadata={
        "help": "modules to adapt, comma-separated (e.g. q_proj,v_proj), or all-linear"})
    merge_lora: bool = field(default=False, metadata={"help": "also write the adapter merged into the base: OUTPUT/merged"})
    report_to: list[str] = field(default_factory=lambda: ["none"], metadata={
        "help": "trackers: none | tensorboard | wandb | trackio ... (comma-separated)"})
    logging_steps: int = field(default=10, metadata={"help": "log every N optimizer steps"})
    save_steps: int = field(default=500, metadata={"help": "checkpoint every N steps (OUTPUT/.cache/checkpoints)"})
    save_total_limit: int | None = field(default=2, metadata={"help": "checkpoints kept"})
    resume: bool = field(default=True, metadata={"help": "resume from the last checkpoint in OUTPUT when there is one"})
    dataloader_num_workers: int = field(default=0, metadata={"help": "data loader worker processes"})
    results: Path | None = field(default=None, metadata={
        "help": "a `globmed bench run` results folder of this model: its scores go into the card's model-index"})
    model_name: str | None = field(default=None, metadata={"help": "name in the model card (default: OUTPUT's name)"})
    card_template: Path | None = field(default=None, metadata={
        "help": "model card template (default: the shipped one)"})
    run_name: str | None = field(default=None, metadata={"help": "run name for the trackers"})

    def __post_init__(self) -> None:
        if not (self.distill_data and not self.include_direct):
            self.check_data()
        elif self.language_mode not in LANGUAGE_MODES:
            raise ValueError(f"--language-mode must be one of {', '.join(LANGUAGE_MODES)}")
        if self.data and self.sources:
            raise ValueError("give only one of --data and --sources")
        if self.peft not in PEFT_MODES:
            raise ValueError(f"--peft must be one of {', '.join(PEFT_MODES)}, not {self.peft!r}")
        if str(self.bf16).lower() not in ("auto", "true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"--bf16 must be auto, true or false, not {self.bf16!r}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError("--warmup-ratio must be in [0, 1)")
        if self.per_device_train_batch_size < 1:
            raise ValueError("--per-device-train-batch-size must be at least 1")
        if self.global_batch_size is not None and self.global_batch_size < 1:
            raise ValueError("--global-batch-size must be at least 1")
        if self.max_length < 16:
            raise ValueError("--max-length must be at least 16")


@dataclass
class DistillSettings(DataSettings):
    out: Path = field(default=Path("outputs/globmed-distill"), metadata={
        "help": "output folder: distill.jsonl (the SFT dataset), report.json and the crash-safe request store"})
    backend: str = field(default="openai", metadata={"help": "teacher backend: openai | tgi | endpoint | anthropic | transformers"})
    model: str | None = field(default=None, metadata={"help": "teacher model id / path / endpoint (the paper: gpt-oss-120b)"})
    base_url: str | None = field(default=None, metadata={"help": "teacher server URL (OpenAI-compatible, TGI)"})
    api_key_env: str | None = field(default=None, metadata={"help": "environment variable holding the teacher's API key"})
    teacher_language: str = field(default="en", metadata={"help": "language the teacher reads and reasons in"})
    temperature: float = field(default=0.0, metadata={"help": "teacher sampling temperature"})
    max_tokens: int = field(default=2048, metadata={"help": "teacher's token budget for trace + answer"})
    reasoning_effort: str | None = field(default=None, metadata={"help": "e.g. low | medium | high (gpt-oss)"})
    concurrency: int | None = field(default=None, metadata={"help": "teacher requests in flight (default: adaptive)"})
    rpm: float | None = field(default=None, metadata={"help": "request rate limit per minute"})
    tpm: float | None = field(default=None, metadata={"help": "token rate limit per minute"})
    max_retries: int = field(default=6, metadata={"help": "retries of 408/429/5xx/timeouts"})
    translate: str = field(default="auto", metadata={
        "help": "translate the kept traces into their target languages with globmed.translate: auto (when it is "
                "installed) | no (keep the English traces)"})
    # The translator is its own model, not the teacher's: the paper had gpt-oss-120B write the traces and
    # GPT-5 translate them (--translate-backend openai --translate-model gpt-5).
    translate_backend: str = field(default="openai", metadata={
        "help": "translator backend: openai | tgi | endpoint | anthropic | transformers"})
    translate_model: str | None = field(default=None, metadata={
        "help": "translator model, needed unless --translate no (the paper: gpt-5)"})
    translate_base_url: str | None = field(default=None, metadata={
        "help": "translator server URL (default: the backend's own API, e.g. OpenAI's)"})
    translate_api_key_env: str | None = field(default=None, metadata={
        "help": "environment variable holding the translator's API key (default: the backend's, e.g. OPENAI_API_KEY)"})
    translate_temperature: float | None = field(default=None, metadata={
        "help": "translator temperature (default: none sent; GPT-5 accepts only its own)"})
    translate_dictionary: list[Path] = field(default_factory=list, metadata={
        "help": "medical dictionaries for the translation glossary (see `globmed translate --help`)"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self) -> None:
        self.check_data()
        if not self.model:
            raise ValueError("give the teacher with --model (and --backend / --base-url)")
        if self.translate not in ("auto", "no"):
            raise ValueError("--translate must be auto or no")
        if self.translate != "no" and not self.translate_model:
            raise ValueError("give the translator with --translate-model (the paper: GPT-5, i.e. --translate-backend "
                             "openai --translate-model gpt-5), or --translate no to keep the English traces")


@dataclass
class CardSettings:
    """Settings of `globmed train card`."""

    model_dir: Path = field(metadata={"help": "a `globmed train sft` output folder (or its merged/ model)",
                                      "positional": True})
    results: Path | None = field(default=None, metadata={"help": "a `globmed bench run` results folder of this model"})
    results_model: str | None = field(default=None, metadata={
        "help": "the model's name in RESULTS (when it holds several)"})
    template: Path | None = field(default=None, metadata={"help": "card template (default: the shipped one)"})
    name: str | None = field(default=None, metadata={"help": "model name in the card"})
