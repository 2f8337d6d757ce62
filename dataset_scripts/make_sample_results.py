"""Make the Space's offline sample results (globmed/space/sample_results/, package data): SYNTHETIC, for demos
and tests.

Runs the real `globmed bench run` (a campaign of six clearly fake models, 2 runs each) on the
built shipped sample against a loopback scripted OpenAI-compatible server
(tests/support/openai_server.py). The server looks each prompt up in the built sample, knows the
gold answer, and answers correctly with a deterministic probability that depends on the model,
the language (lower for the low-resource languages sw, wo, yo, zu) and the dataset, so every
leaderboard column, plot and test in the Space has content. Nothing here measures a real model.

MedNLI is excluded (its licence forbids redistribution) and so is long-form QA (no accuracy).

    .venv/bin/python dataset_scripts/make_sample_results.py [--out globmed/space/sample_results]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pyarrow.parquet as pq  # noqa: E402

from globmed import languages, registry  # noqa: E402
from globmed.records import LETTERS  # noqa: E402

DATASETS = ["medqa", "headqa", "medexpqa", "mmlu_pro", "medmcqa", "pubmedqa", "bionli"]  # no MedNLI, no LFQA
LOW = {"sw", "wo", "yo", "zu"}
RUNS = 2
SEED = 0

# name -> (model id sent to the server, base accuracy, low-resource penalty, dataset bonus, unparsed rate, meta)
MODELS: dict[str, dict[str, Any]] = {
    "demo-small-1.7B (synthetic)": dict(
        id="demo-small-1.7b", base=0.46, low=0.16, medical=0.0, unparsed=0.06,
        meta=dict(access="open-weight", domain="general", reasoning=False, params_b=1.7, family="demo-small")),
    "demo-general-8B (synthetic)": dict(
        id="demo-general-8b", base=0.62, low=0.22, medical=0.0, unparsed=0.03,
        meta=dict(access="open-weight", domain="general", reasoning=False, params_b=8, family="demo-8B")),
    "demo-medical-8B (synthetic)": dict(
        id="demo-medical-8b", base=0.64, low=0.26, medical=0.08, unparsed=0.03,
        meta=dict(access="open-weight", domain="medical", reasoning=False, params_b=8, family="demo-8B",
                  base_model="demo-general-8B (synthetic)")),
    "demo-instruct-32B (synthetic)": dict(
        id="demo-instruct-32b", base=0.72, low=0.2, medical=0.0, unparsed=0.02,
        meta=dict(access="open-weight", domain="general", reasoning=False, params_b=32, family="demo-32B")),
    "demo-reasoning-32B (synthetic)": dict(
        id="demo-reasoning-32b", base=0.8, low=0.14, medical=0.0, unparsed=0.02, think=True,
        meta=dict(access="open-weight", domain="general", reasoning=True, params_b=32, family="demo-32B",
                  base_model="demo-instruct-32B (synthetic)")),
    "demo-proprietary (synthetic)": dict(
        id="demo-proprietary", base=0.86, low=0.1, medical=0.0, unparsed=0.01,
        meta=dict(access="proprietary", domain="general", reasoning=True, provider="demo-provider")),
}
# Per-dataset difficulty (added to every model's accuracy).
DIFFICULTY = {"medqa": 0.0, "headqa": 0.04, "medexpqa": -0.06, "mmlu_pro": -0.1, "medmcqa": 0.02,
              "pubmedqa": 0.05, "bionli": -0.04}


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def accuracy(profile: dict[str, Any], dataset: str, language: str) -> float:
    p = profile["base"] + DIFFICULTY[dataset]
    if language in LOW:
        p -= profile["low"]
    if dataset in ("medqa", "medexpqa", "medmcqa", "headqa"):
        p += profile["medical"]
    p += 0.04 * (_unit("lang", profile["id"], language) - 0.5)  # a little per-language texture
    return min(0.97, max(0.05, p))


def load_items(built: Path) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """language -> [(text that identifies the item in a prompt, dataset, row)]."""
    index: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for dataset in DATASETS:
        for lang in languages.codes():
            for file in sorted((built / f"{dataset}.{lang}").glob("*.parquet")):
                for row in pq.read_table(file).to_pylist():
                    key = row["hypothesis"] if "hypothesis" in row else row["question"]
                    index.setdefault(lang, []).append((key, dataset, row))
    return index


class Responder:
    """The scripted answers of every fake model (chosen by the request's `model`)."""

    def __init__(self, built: Path):
        self.items = load_items(built)
        self.by_system = {languages.get(c).system: c for c in languages.codes()}
        self.profiles = {p["id"]: p for p in MODELS.values()}

    def __call__(self, messages: list[dict[str, str]], body: dict[str, Any]) -> str:
        profile = self.profiles[body["model"]]
        lang = self.by_system[messages[0]["content"]]
        prompt = messages[-1]["content"]
        matches = [(len(k), d, r) for k, d, r in self.items[lang] if k and k in prompt]
        _, dataset, row = max(matches, key=lambda m: m[0])
        run = int(body.get("seed") or 0) - SEED
        # Mostly the item decides (the same item is right or wrong in every run), sometimes the run.
        u = (_unit("item", profile["id"], row["id"], lang) if _unit("mix", profile["id"], row["id"], lang, run) < 0.8
             else _unit("run", profile["id"], row["id"], lang, run))
        unparsed_rate = profile["unparsed"] * (2.5 if lang in LOW else 1.0)
        if _unit("unparsed", profile["id"], row["id"], lang, run) < unparsed_rate:
            return "…"
        correct = u < accuracy(profile, dataset, lang)
        if registry.get(dataset).task == "nli":
            labels = list(registry.get(dataset).labels)
            gold = row["label"]
            label = gold if correct else [x for x in labels if x != gold][int(u * 1000) % (len(labels) - 1)]
            answer = languages.get(lang).label_word(label)
        else:
            letters = LETTERS[: len(row["options"])]
            answer = row["answer"] if correct else [x for x in letters if x != row["answer"]][int(u * 1000) % (len(letters) - 1)]
        if profile.get("think"):
            return f"<think>Checking each option before answering.</think>\n{answer}"
        return answer


def campaign(base_url: str) -> dict[str, Any]:
    return {"defaults": {"runs": RUNS, "generation": {"max_tokens": 64}},
            "models": [{"name": name, "backend": "openai", "model": p["id"], "base_url": base_url, "meta": p["meta"]}
                       for name, p in MODELS.items()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "globmed" / "space" / "sample_results")
    parser.add_argument("--sources", type=Path, default=ROOT / "globmed" / "sample" / "sources")
    args = parser.parse_args()
    from tests.support.openai_server import OpenAIServer

    bin_dir = Path(sys.executable).parent
    globmed = [str(bin_dir / "globmed")] if (bin_dir / "globmed").exists() else [sys.executable, "-m", "globmed"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "COLUMNS": "200"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        built = work / "built"
        subprocess.run([*globmed, "data", "build", "--sources", str(args.sources), "--out", str(built),
                        "--datasets", ",".join(DATASETS)], check=True, env=env, stdout=subprocess.DEVNULL)
        responder = Responder(built)
        with OpenAIServer(responder=responder) as server:
            # Two items are "too long" for every model: a 400 is recorded as an API error, never as a wrong answer.
            for lang, dataset in (("wo", "medmcqa"), ("yo", "mmlu_pro")):
                server.fail(next(k for k, d, _ in responder.items[lang] if d == dataset), 400, times=None)
            (work / "campaign.yaml").write_text(json.dumps(campaign(server.base_url)), encoding="utf-8")
            results = work / "results"
            # run inside the work folder so the results record "globmed-sample" as their data, not a temp path
            (work / "globmed-sample").symlink_to(built, target_is_directory=True)
            bench = subprocess.run([*globmed, "bench", "run", "--models", "campaign.yaml", "--data", "globmed-sample",
                                    "--out", "results", "--datasets", ",".join(DATASETS), "--runs", str(RUNS),
                                    "--seed", str(SEED), "--concurrency", "16", "--max-retries", "0", "--no-progress"],
                                   env=env, cwd=work)
            # exit status 3: finished, with failed requests recorded as errors (the two scripted 400s, as meant)
            if bench.returncode != 3:
                raise SystemExit(f"globmed bench run exited with {bench.returncode}, not 3 (the scripted errors)")
        _note_synthetic(results)
        if args.out.exists():
            shutil.rmtree(args.out)
        shutil.copytree(results, args.out, ignore=shutil.ignore_patterns(".cache", "report"))
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"wrote {args.out} ({size / 1e6:.2f} MB)")


def _note_synthetic(results: Path) -> None:
    """Say loudly, in the card, that these results are synthetic."""
    card = results / "README.md"
    text = card.read_text(encoding="utf-8")
    head, sep, body = text.partition("\n---\n")
    note = ("\n> **SYNTHETIC RESULTS.** Every model here is a fake, scripted responder (names end in "
            "\"(synthetic)\") evaluated on the machine-written globmed sample; the numbers were generated by "
            "`dataset_scripts/make_sample_results.py` for demos and tests of the GlobMed Space. They say nothing "
            "about any real model.\n")
    card.write_text(head + sep + note + body, encoding="utf-8")


if __name__ == "__main__":
    main()
