"""GlobMed-LLMs: supervised fine-tuning with TRL on GlobMed records (direct and distillation-enhanced).

    data.py      records -> chat conversations (the bench's prompts; answers as targets), language
                 randomization and the language-mix report; distillation datasets
    settings.py  the settings dataclasses of `globmed train sft` / `distill` and the shipped recipes
    scale.py     global batch arithmetic (gradient accumulation from the number of processes), bf16
    sft.py       `globmed train sft`: TRL's SFTTrainer, LoRA/QLoRA through peft, runs under accelerate
    attention.py varlen SDPA: padding-free batches attend within each conversation without flash-attn
    distill.py   `globmed train distill`: teacher traces through the bench backends and crash-safe runner
    card.py      the model card (templates/model_card.md, model-index from bench results) and globmed.json
    accelerate/  accelerate configs (one GPU, FSDP2, DeepSpeed ZeRO-3); slurm/: the multi-node launcher
"""
