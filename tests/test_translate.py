"""`globmed translate` against a scripted OpenAI-compatible loopback server (tests/support/openai_server.py)
through the real openai SDK: the glossary reaches the draft prompt, the review reaches the refiner, a
broken option count is caught and retried and then recorded as failed, a crash (kill -9) resumes without
repeating a completed call, the output builds with `globmed data build`, dry-run, the quality signal and
ranking, and the provider batch APIs (OpenAI files + batches; Anthropic message batches) served by a
subclass of the scripted server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from globmed import sample
from tests.conftest import BIN, ROOT, SAMPLE_SOURCES, cli_env, load_config, run_cli
from tests.support.fake_translator import make_responder, stage_of
from tests.support.openai_server import OpenAIServer, _head

DICTIONARY = sample.DICTIONARY
MEDQA_1 = "medqa-test-d0407a0c8db98ea8"  # "A 58-year-old man has had crushing chest pain ... blood pressure ..."
MEDQA_2 = "medqa-test-6d9b1394c271e7a0"  # "A 24-year-old woman develops a fever of 39.5 °C ..."


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> Path:
    """The screened sample records (medqa, mednli, headqa) as written by `globmed data records`."""
    root = tmp_path_factory.mktemp("records")
    out = root / "records.jsonl"
    res = run_cli(["data", "records", "--sources", SAMPLE_SOURCES, "--out", out, "--datasets", "medqa,mednli,headqa"],
                  cli_env(root / "hf"))
    assert res.returncode == 0, str(res)
    return out


def translate(cli, records: Path, out: Path, server: Any, *extra: Any, languages: str = "sw", **env: str) -> Any:
    res = cli("translate", "--data", records, "--out", out, "--languages", languages, "--model", "scripted",
              "--base-url", server.base_url, "--no-progress", *extra, **env)
    return res


def lines(out: Path, dataset: str, lang: str) -> dict[str, dict[str, Any]]:
    path = out / dataset / f"{lang}.jsonl"
    return {(obj := json.loads(raw))["id"]: obj for raw in path.read_text(encoding="utf-8").splitlines() if raw.strip()}


def requests_of(server: Any, stage: str, needle: str | None = None) -> list[dict[str, Any]]:
    out = []
    for r in server.chat_requests():
        msgs = r["json"]["messages"]
        if stage_of(msgs) == stage and (needle is None or any(needle in m["content"] for m in msgs)):
            out.append(r)
    return out


def drop_last_option(answer: dict[str, Any]) -> dict[str, Any]:
    return {**answer, "options": answer["options"][:-1]}


# -- the agents' prompts -------------------------------------------------------------------------------
def test_glossary_reaches_draft_and_review_reaches_refiner(cli, openai_server, records, tmp_path):
    base = make_responder()
    marker = "REVIEW-7f3a: 'kifua' must be 'kifua' in the question"

    def responder(messages, body):
        if stage_of(messages) == "review":
            return json.dumps({"problems": [{"category": "terminology", "field": "question", "problem": marker,
                                             "suggestion": "use the glossary term"}]})
        return base(messages, body)

    server = openai_server(responder=responder)
    out = tmp_path / "out"
    res = translate(cli, records, out, server, "--dictionary", DICTIONARY, "--datasets", "medqa")
    assert res.returncode == 0, str(res)
    drafts = requests_of(server, "draft", "crushing chest pain")
    assert len(drafts) == 1
    prompt = drafts[0]["json"]["messages"][-1]["content"]
    for line in ("- chest pain -> maumivu ya kifua", "- blood pressure -> shinikizo la damu [C0005823]",
                 "- heart rate -> mapigo ya moyo [C0018810]", "- coronary artery -> ateri ya koronari"):
        assert line in prompt, prompt
    assert "exactly 4 strings" in prompt and "Swahili (Kiswahili)" in prompt
    refines = requests_of(server, "refine", "crushing chest pain")
    assert len(refines) == 1 and marker in refines[0]["json"]["messages"][-1]["content"]
    assert "Expert Agent II" in refines[0]["json"]["messages"][0]["content"]
    reviews = requests_of(server, "review", "crushing chest pain")
    assert "Expert Agent I," in reviews[0]["json"]["messages"][0]["content"]
    line = lines(out, "medqa", "sw")[MEDQA_1]
    assert line["status"] == "ok" and len(line["options"]) == 4 and line["question"].startswith("[sw] A 58-year-old")
    stages = [(s["stage"], s["attempt"]) for s in line["trace"]["stages"]]
    assert stages == [("draft", 0), ("review", 0), ("refine", 0), ("backtranslate", 0)]
    assert {"term": "chest pain", "translations": ["maumivu ya kifua"]} in line["trace"]["glossary"]
    assert line["trace"]["stages"][1]["parsed"][0]["problem"] == marker
    assert all("messages" in s and s["output"] for s in line["trace"]["stages"])  # every input and output kept
    q = line["quality"]
    assert q["chrf++"] == 100.0 and q["bleu"] == 100.0 and q["glossary_terms"] == 4
    assert q["glossary_coverage"] == 0.0  # the fake translator does not use the glossary
    manifest = json.loads((out / "globmed-translate.json").read_text())
    assert manifest["counts"]["ok"] == 10 and manifest["usage"]["calls"] == 40


def test_broken_option_count_is_retried_then_recorded_as_failed(cli, openai_server, records, tmp_path):
    once = {"done": False}

    def break_once(answer):
        if once["done"]:
            return answer
        once["done"] = True
        return drop_last_option(answer)

    server = openai_server(responder=make_responder({"crushing chest pain": drop_last_option,
                                                     "develops a fever of 39.5": break_once}))
    out = tmp_path / "out"
    res = translate(cli, records, out, server, "--datasets", "medqa")
    assert res.returncode == 0, str(res)
    got = lines(out, "medqa", "sw")
    # Always broken: 1 refine + 2 retries with the failure stated, then a recorded failure with no text kept.
    bad = got[MEDQA_1]
    assert bad["status"] == "failed" and "options" not in bad and "question" not in bad
    assert "field 'options' must have 4 items in the source order, got 3" in bad["error"]
    assert "after 3 refine attempt(s)" in bad["error"]
    fixes = requests_of(server, "fix", "crushing chest pain")
    assert len(requests_of(server, "refine", "crushing chest pain")) == 1 and len(fixes) == 2
    assert "field 'options' must have 4 items" in fixes[0]["json"]["messages"][-1]["content"]
    assert [s["stage"] for s in bad["trace"]["stages"]] == ["draft", "review", "refine", "refine", "refine"]
    # Broken once: fixed on the first retry and kept.
    fixed = got[MEDQA_2]
    assert fixed["status"] == "ok" and len(fixed["options"]) == 4
    assert [s["attempt"] for s in fixed["trace"]["stages"] if s["stage"] == "refine"] == [0, 1]
    # The failure is listed by `globmed data build`, the rest is built and loads back.
    build = tmp_path / "globmed"
    res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", build, "--translations", out,
              "--datasets", "medqa", "--languages", "en,sw")
    assert res.returncode == 0, str(res)
    report = json.loads((build / "screening" / "report.json").read_text())
    problems = [p for p in report["translation_problems"] if p["language"] == "sw"]
    assert [p["id"] for p in problems] == [MEDQA_1] and "must have 4 items" in problems[0]["reason"]
    rows = load_config(build, "medqa.sw")
    assert len(rows) == 9 and MEDQA_1 not in {r["id"] for r in rows}
    assert next(r for r in rows if r["id"] == MEDQA_2)["options"][0].startswith("[sw] ")
    # The ranking puts the failure first.
    res = cli("review", "rank", out, "--top", "3")
    assert res.returncode == 0, str(res)
    assert res.output.index(MEDQA_1) < res.output.index("medqa-test-", res.output.index(MEDQA_1) + 10)


def test_end_to_end_records_translate_build_load(cli, openai_server, records, tmp_path):
    server = openai_server(latency=0.01, responder=make_responder())
    out = tmp_path / "out"
    res = translate(cli, records, out, server, "--dictionary", DICTIONARY, "--concurrency", "4",
                    "--price-input", "1.0", "--price-output", "2.0", languages="sw,zu,en")
    assert res.returncode == 0, str(res)
    assert server.max_in_flight <= 4
    # headqa is Spanish: translated into en too (and never into its own language); the others skip en.
    assert sorted(p.name for p in (out / "headqa").iterdir()) == ["en.jsonl", "sw.jsonl", "zu.jsonl"]
    assert sorted(p.name for p in (out / "medqa").iterdir()) == ["sw.jsonl", "zu.jsonl"]
    head = lines(out, "headqa", "en")["headqa-test-Cuaderno_2019_1_B-3"]
    assert {"term": "neumonía", "translations": ["pneumonia"]} in head["trace"]["glossary"]
    manifest = json.loads((out / "globmed-translate.json").read_text())
    pairs = 10 * 2 + 9 * 2 + 10 * 3
    assert manifest["pairs"] == pairs and manifest["counts"]["ok"] == pairs and manifest["usage"]["calls"] == 4 * pairs
    u = manifest["usage"]
    assert manifest["cost_usd"]["this_run"] == pytest.approx((u["tokens_in"] * 1 + u["tokens_out"] * 2) / 1e6)
    build = tmp_path / "globmed"
    res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", build, "--translations", out,
              "--datasets", "medqa,mednli,headqa", "--languages", "en,es,sw,zu")
    assert res.returncode == 0, str(res)
    nli = load_config(build, "mednli.zu")
    assert len(nli) == 9 and all(r["premise"].startswith("[zu] ") for r in nli)
    assert {r["label"] for r in nli} == {"entailment", "neutral", "contradiction"}  # labels untouched
    mcqa = load_config(build, "headqa.en")
    assert all(r["question"].startswith("[en] ") for r in mcqa)
    # A rerun sends nothing: every call is in the store.
    before = len(server.chat_requests())
    res = translate(cli, records, out, server, "--dictionary", DICTIONARY, languages="sw,zu,en")
    assert res.returncode == 0, str(res)
    assert len(server.chat_requests()) == before
    again = json.loads((out / "globmed-translate.json").read_text())
    assert again["usage"]["calls"] == 0 and again["usage"]["cached"] == 4 * pairs


def test_dry_run_sends_nothing(cli, openai_server, records, tmp_path):
    server = openai_server(responder=make_responder())
    res = translate(cli, records, tmp_path / "out", server, "--dry-run", "--price-input", "2.5", "--price-output", "10",
                    languages="sw,zu")
    assert res.returncode == 0, str(res)
    assert "Dry run: nothing is sent" in res.output and "232 (348)" in res.output  # 29 records x 2 languages x 4 calls (+2 retries each at most)
    assert server.chat_requests() == []
    assert not (tmp_path / "out").exists()


def test_call_errors_are_recorded_not_kept_and_retried_on_rerun(cli, openai_server, records, tmp_path):
    server = openai_server(responder=make_responder())
    server.fail("crushing chest pain", 400, times=None)  # not retryable: the draft of this record fails
    out = tmp_path / "out"
    res = translate(cli, records, out, server, "--datasets", "medqa")
    assert res.returncode == 3, str(res)  # finished with failed calls: rerun to complete
    assert "Rerun the same command" in res.output and (out / "globmed-translate.json").exists()
    bad = lines(out, "medqa", "sw")[MEDQA_1]
    assert bad["status"] == "error" and "draft call failed" in bad["error"] and "HTTP 400" in bad["error"]
    server.rules.clear()
    res = translate(cli, records, out, server, "--datasets", "medqa")
    assert res.returncode == 0, str(res)
    assert lines(out, "medqa", "sw")[MEDQA_1]["status"] == "ok"
    assert len(requests_of(server, "draft", "crushing chest pain")) == 2  # the failed call, then the retry


def test_compact_trace_keeps_prompts_in_the_store(cli, openai_server, records, tmp_path):
    import sqlite3

    server = openai_server(responder=make_responder())
    out = tmp_path / "out"
    res = translate(cli, records, out, server, "--datasets", "mednli", "--limit", "2", "--trace", "compact")
    assert res.returncode == 0, str(res)
    line = next(iter(lines(out, "mednli", "sw").values()))
    stage = line["trace"]["stages"][0]
    assert "messages" not in stage and stage["output"]
    db = sqlite3.connect(out / ".cache" / "requests.sqlite")
    (messages,) = db.execute("SELECT messages FROM prompts WHERE hash=?", (stage["prompt_hash"],)).fetchone()
    db.close()
    assert json.loads(messages)[-1]["content"].startswith("Translate the English item below into Swahili")
    # A later run over fewer records rewrites their lines and keeps the others.
    res = translate(cli, records, out, server, "--datasets", "mednli", "--limit", "1")
    assert res.returncode == 0, str(res)
    got = lines(out, "mednli", "sw")
    assert len(got) == 2 and "messages" in got[next(iter(got))]["trace"]["stages"][0]


HAUSA = """code: ha
name: Hausa
native_name: Harshen Hausa
resource: low
script: Latn
char_tokenized: false
system: "Kai kwararren likita ne. Ka amsa da Hausa."
mcqa: {instruction: "Ga tambaya mai zabi game da likitanci. Zabi amsa daya mafi dacewa.", question: "Tambaya",
       options: "Zabuka", answer_format: "Ka amsa da harafin zabin da ya dace kawai.", answer_cue: "Amsa:"}
nli:
  instruction: "Karanta jigo da hasashe daga rubutun likitanci. Yanke yadda hasashen ya danganta da jigon."
  premise: "Jigo"
  hypothesis: "Hasashe"
  answer_format: "Ka amsa da kalma daya daga cikin wadannan: {labels}."
  answer_cue: "Amsa:"
  labels: {entailment: [tabbatarwa], neutral: [tsaka-tsaki], contradiction: [sabani]}
lfqa: {instruction: "Ka amsa tambayar likitanci mai zuwa daidai kuma a takaice.", question: "Tambaya", answer_cue: "Amsa:"}
extraction: {answer_phrases: ["amsar ita ce", "amsa"], refusal_phrases: [], letter_words: []}
"""


def test_a_13th_language_needs_only_a_language_table_and_a_dictionary(cli, openai_server, records, tmp_path,
                                                                      monkeypatch):
    """Hausa: a language table in GLOBMED_LANGUAGES_PATH and dictionary rows; translate, build, load."""
    from globmed import languages as language_tables

    langs = tmp_path / "languages"
    langs.mkdir()
    (langs / "ha.yaml").write_text(HAUSA, encoding="utf-8")
    monkeypatch.setenv("GLOBMED_LANGUAGES_PATH", str(langs))  # the scripted translator reads the tables too
    language_tables.reload()
    try:
        (tmp_path / "ha.tsv").write_text("term\tlanguage\ttranslation\nblood pressure\tha\thawan jini\n", encoding="utf-8")
        server = openai_server(responder=make_responder())
        out = tmp_path / "out"
        res = translate(cli, records, out, server, "--datasets", "medqa", "--dictionary", tmp_path / "ha.tsv",
                        languages="ha", GLOBMED_LANGUAGES_PATH=str(langs))
        assert res.returncode == 0, str(res)
        line = lines(out, "medqa", "ha")[MEDQA_1]
        assert line["status"] == "ok" and line["question"].startswith("[ha] ")
        assert "into Hausa (Harshen Hausa)" in line["trace"]["stages"][0]["messages"][-1]["content"]
        assert "- blood pressure -> hawan jini" in line["trace"]["stages"][0]["messages"][-1]["content"]
        build = tmp_path / "globmed"
        res = cli("data", "build", "--sources", SAMPLE_SOURCES, "--out", build, "--translations", out, "--datasets", "medqa",
                  "--languages", "en,ha", GLOBMED_LANGUAGES_PATH=str(langs))
        assert res.returncode == 0, str(res)
        assert len(load_config(build, "medqa.ha")) == 10
    finally:
        monkeypatch.delenv("GLOBMED_LANGUAGES_PATH")
        language_tables.reload()


# -- crash safety ----------------------------------------------------------------------------------------
def test_kill_9_mid_run_resumes_without_repeating_a_completed_call(openai_server, records, tmp_path):
    server = openai_server(latency=0.05, responder=make_responder())
    out = tmp_path / "out"
    args = ["translate", "--data", records, "--out", out, "--languages", "sw,zu", "--model", "scripted",
            "--base-url", server.base_url, "--no-progress", "--concurrency", "4", "--datasets", "medqa,mednli"]
    env = cli_env(tmp_path / "hf")
    exe = BIN / "globmed"
    proc = subprocess.Popen([str(exe), *map(str, args)], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while sum(1 for r in server.chat_requests() if r["status"] == 200) < 40 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    first_run = len(server.chat_requests())
    assert 40 <= first_run < 152, first_run  # stopped mid-run (38 pairs x 4 calls in all)
    assert not (out / "medqa" / "sw.jsonl").exists()  # no half-written output
    import sqlite3

    db = sqlite3.connect(out / ".cache" / "requests.sqlite")
    completed = {k for (k,) in db.execute("SELECT key FROM responses")}
    db.close()
    assert len(completed) >= 36
    res = run_cli(args, env)
    assert res.returncode == 0, str(res)
    # Map each request's messages to its store key through the traces, then check the second run's requests.
    key_of: dict[str, str] = {}
    for lang in ("sw", "zu"):
        for ds in ("medqa", "mednli"):
            for line in lines(out, ds, lang).values():
                assert line["status"] == "ok"
                for s in line["trace"]["stages"]:
                    key_of[json.dumps(s["messages"], sort_keys=True)] = s["key"]
    second = server.chat_requests()[first_run:]
    keys = [key_of[json.dumps(r["json"]["messages"], sort_keys=True)] for r in second]
    assert not set(keys) & completed, "a call completed before the crash was sent again"
    assert len(keys) == len(set(keys))
    assert len(completed) + len(keys) == 152  # every call answered exactly once across the two runs
    manifest = json.loads((out / "globmed-translate.json").read_text())
    assert manifest["usage"]["cached"] == len(completed)


# -- provider batch APIs ----------------------------------------------------------------------------------
class BatchServer(OpenAIServer):
    """The scripted server plus OpenAI's /v1/files + /v1/batches and Anthropic's /v1/messages/batches.
    A batch answers every line with the responder after `polls` status polls."""

    def __init__(self, polls: int = 1, **options: Any):
        super().__init__(**options)
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.polls = polls
        self.batch_log: list[str] = []

    async def _request(self, method, path, headers, body, writer):  # type: ignore[override]
        if path == "/v1/files" and method == "POST":
            content = _multipart_file(headers.get("content-type", ""), body)
            fid = f"file-{uuid.uuid4().hex[:12]}"
            self.files[fid] = content
            self.batch_log.append(f"upload {len(content.splitlines())}")
            return await self._raw(writer, 200, json.dumps({"id": fid, "object": "file", "bytes": len(content),
                                                            "created_at": 0, "filename": "batch.jsonl", "purpose": "batch",
                                                            "status": "processed"}).encode())
        if path.startswith("/v1/files/") and path.endswith("/content"):
            return await self._raw(writer, 200, self.files[path.split("/")[3]], "application/octet-stream")
        if path == "/v1/batches" and method == "POST":
            data = json.loads(body)
            bid = f"batch_{uuid.uuid4().hex[:12]}"
            self.batches[bid] = {"kind": "openai", "input": data["input_file_id"], "polls": 0, "id": bid}
            self.batch_log.append("create openai")
            return await self._raw(writer, 200, json.dumps(self._openai_batch(bid)).encode())
        if path.startswith("/v1/batches/") and method == "GET":
            bid = path.split("/")[3]
            self._advance(bid)
            return await self._raw(writer, 200, json.dumps(self._openai_batch(bid)).encode())
        if path == "/v1/messages/batches" and method == "POST":
            data = json.loads(body)
            bid = f"msgbatch_{uuid.uuid4().hex[:12]}"
            self.batches[bid] = {"kind": "anthropic", "requests": data["requests"], "polls": 0, "id": bid}
            self.batch_log.append(f"create anthropic {len(data['requests'])}")
            return await self._raw(writer, 200, json.dumps(self._anthropic_batch(bid)).encode())
        if path.startswith("/v1/messages/batches/") and path.endswith("/results"):
            bid = path.split("/")[4]
            return await self._raw(writer, 200, self.batches[bid]["results"], "application/binary")
        if path.startswith("/v1/messages/batches/") and method == "GET":
            bid = path.split("/")[4]
            self._advance(bid)
            return await self._raw(writer, 200, json.dumps(self._anthropic_batch(bid)).encode())
        return await super()._request(method, path, headers, body, writer)

    async def _raw(self, writer, status: int, payload: bytes, ctype: str = "application/json") -> bool:
        writer.write(_head(status, {"Content-Type": ctype, "Content-Length": str(len(payload))}) + payload)
        await writer.drain()
        return True

    def _advance(self, bid: str) -> None:
        b = self.batches[bid]
        b["polls"] += 1
        if b["polls"] <= self.polls or "done" in b:
            return
        b["done"] = True
        if b["kind"] == "openai":
            out = []
            for raw in self.files[b["input"]].decode().splitlines():
                req = json.loads(raw)
                answer = self.responder(req["body"]["messages"], req["body"])
                self.requests.append({"method": "BATCH", "path": req["url"], "json": req["body"], "status": 200})
                completion = {"id": "c", "object": "chat.completion", "created": 0, "model": req["body"]["model"],
                              "choices": [{"index": 0, "message": {"role": "assistant", "content": answer},
                                           "finish_reason": "stop"}],
                              "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}}
                out.append(json.dumps({"id": "r", "custom_id": req["custom_id"],
                                       "response": {"status_code": 200, "request_id": "x", "body": completion},
                                       "error": None}))
            fid = f"file-{uuid.uuid4().hex[:12]}"
            self.files[fid] = ("\n".join(out) + "\n").encode()
            b["output"], b["count"] = fid, len(out)
        else:
            out = []
            for req in b["requests"]:
                params = req["params"]
                msgs = ([{"role": "system", "content": params["system"]}] if params.get("system") else []) + params["messages"]
                answer = self.responder(msgs, params)
                self.requests.append({"method": "BATCH", "path": "/v1/messages", "json": params, "status": 200})
                message = {"id": "msg", "type": "message", "role": "assistant", "model": params["model"],
                           "content": [{"type": "text", "text": answer}], "stop_reason": "end_turn",
                           "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 5}}
                out.append(json.dumps({"custom_id": req["custom_id"], "result": {"type": "succeeded", "message": message}}))
            b["results"] = ("\n".join(out) + "\n").encode()
            b["count"] = len(out)

    def _openai_batch(self, bid: str) -> dict[str, Any]:
        b = self.batches[bid]
        done = "done" in b
        n = b.get("count", 0)
        return {"id": bid, "object": "batch", "endpoint": "/v1/chat/completions", "completion_window": "24h",
                "created_at": 0, "input_file_id": b["input"], "status": "completed" if done else "in_progress",
                "output_file_id": b.get("output"), "error_file_id": None,
                "request_counts": {"completed": n, "failed": 0, "total": n}}

    def _anthropic_batch(self, bid: str) -> dict[str, Any]:
        b = self.batches[bid]
        done = "done" in b
        n = len(b["requests"])
        return {"id": bid, "type": "message_batch", "processing_status": "ended" if done else "in_progress",
                "request_counts": {"processing": 0 if done else n, "succeeded": n if done else 0, "errored": 0,
                                   "canceled": 0, "expired": 0},
                "created_at": "2026-11-22T00:00:00Z", "expires_at": "2026-11-23T00:00:00Z", "ended_at": None,
                "archived_at": None, "cancel_initiated_at": None,
                "results_url": f"{self.url}/v1/messages/batches/{bid}/results" if done else None}


def _multipart_file(content_type: str, body: bytes) -> bytes:
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    for part in body.split(b"--" + boundary):
        if b'name="file"' in part:
            return part.split(b"\r\n\r\n", 1)[1].rsplit(b"\r\n", 1)[0]
    raise ValueError("no file part")


@pytest.fixture
def batch_server():
    server = BatchServer(responder=make_responder())
    server.start()
    yield server
    server.stop()


def test_openai_batch_api_same_store_keys_as_direct_calls(cli, batch_server, records, tmp_path):
    out = tmp_path / "out"
    res = translate(cli, records, out, batch_server, "--datasets", "medqa", "--batch-api", "--batch-poll", "0.02",
                    "--dictionary", DICTIONARY)
    assert res.returncode == 0, str(res)
    # One batch per stage wave: draft, review, refine, back-translation, each with the 10 records.
    assert batch_server.batch_log == ["upload 10", "create openai"] * 4
    assert not [r for r in batch_server.chat_requests() if r["path"] == "/v1/chat/completions"]  # no direct call
    got = lines(out, "medqa", "sw")
    assert len(got) == 10 and all(v["status"] == "ok" for v in got.values())
    assert "- chest pain -> maumivu ya kifua" in got[MEDQA_1]["trace"]["stages"][0]["messages"][-1]["content"]
    ledger = [json.loads(x) for x in (out / ".cache" / "batches.jsonl").read_text().splitlines()]
    assert sum(1 for e in ledger if e.get("collected")) == 4
    # Resume across modes: a direct run finds every call in the store and sends nothing.
    n = len(batch_server.requests)
    res = translate(cli, records, out, batch_server, "--datasets", "medqa", "--dictionary", DICTIONARY)
    assert res.returncode == 0, str(res)
    assert len(batch_server.requests) == n
    assert json.loads((out / "globmed-translate.json").read_text())["usage"]["cached"] == 40


def test_batch_submitted_before_a_crash_is_collected_not_resubmitted(batch_server, records, tmp_path):
    batch_server.polls = 10**9  # the first batch stays "in_progress" until the run is killed
    out = tmp_path / "out"
    args = ["translate", "--data", records, "--out", out, "--languages", "sw", "--model", "scripted", "--base-url",
            batch_server.base_url, "--no-progress", "--datasets", "medqa", "--batch-api", "--batch-poll", "0.02"]
    env = cli_env(tmp_path / "hf")
    proc = subprocess.Popen([str(BIN / "globmed"), *map(str, args)], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 60
    while not any(b["polls"] >= 2 for b in batch_server.batches.values()) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(10)
    assert batch_server.batch_log == ["upload 10", "create openai"]
    ledger = (out / ".cache" / "batches.jsonl").read_text()
    assert '"requests": 10' in ledger and "collected" not in ledger
    batch_server.polls = 0  # the provider finishes the batch while nobody is running
    res = run_cli(args, env)
    assert res.returncode == 0, str(res)
    assert "collecting batch" in res.output and "submitted by an earlier run" in res.output
    # The draft batch was collected, not submitted again: only review, refine, back-translation follow.
    assert batch_server.batch_log == ["upload 10", "create openai"] * 4
    assert all(v["status"] == "ok" for v in lines(out, "medqa", "sw").values())


def test_anthropic_message_batches(cli, batch_server, records, tmp_path):
    out = tmp_path / "out"
    res = cli("translate", "--data", records, "--out", out, "--languages", "zu", "--backend", "anthropic", "--model",
              "claude-scripted", "--base-url", batch_server.url, "--no-progress", "--datasets", "mednli", "--batch-api",
              "--batch-poll", "0.02", "--no-back-translation", ANTHROPIC_API_KEY="test-key")
    assert res.returncode == 0, str(res)
    assert batch_server.batch_log == ["create anthropic 9"] * 3
    got = lines(out, "mednli", "zu")
    assert len(got) == 9 and all(v["status"] == "ok" and v["premise"].startswith("[zu] ") for v in got.values())
    assert all("chrf++" not in v["quality"] for v in got.values())


def test_batch_result_parsing_with_sdk_objects():
    from anthropic.types.messages import MessageBatchIndividualResponse

    from globmed.translate.batch import parse_anthropic_entry, parse_openai_line

    ok = {"custom_id": "k1", "response": {"status_code": 200, "body": {
        "id": "c", "object": "chat.completion", "created": 0, "model": "m",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "{\"question\": \"x\"}"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}}}, "error": None}
    key, resp, err = parse_openai_line(ok)
    assert key == "k1" and err is None and resp.text == '{"question": "x"}' and (resp.tokens_in, resp.tokens_out) == (7, 3)
    bad = {"custom_id": "k2", "response": {"status_code": 429, "body": {"error": {"message": "slow down"}}}, "error": None}
    assert parse_openai_line(bad) == ("k2", None, "batch request failed (HTTP 429): slow down")
    expired = {"custom_id": "k3", "response": None, "error": {"code": "batch_expired", "message": "expired"}}
    assert parse_openai_line(expired)[2] == "batch request failed (HTTP None): expired"
    entry = MessageBatchIndividualResponse.model_validate({"custom_id": "k4", "result": {"type": "errored", "error": {
        "type": "error", "error": {"type": "overloaded_error", "message": "overloaded"}}}})
    assert parse_anthropic_entry(entry) == ("k4", None, "batch request errored: overloaded")
    entry = MessageBatchIndividualResponse.model_validate({"custom_id": "k5", "result": {"type": "expired"}})
    assert parse_anthropic_entry(entry)[2] == "batch request expired"


# -- units ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("source,translation", [
    ("Fever of 39.5 °C for 2 days.", "39.5 °Cの発熱が2日間続く。"),              # ja: the unit touches kana
    ("BP 164/112 mmHg and 3+ proteinuria.", "혈압은 164/112 mmHg이고 단백뇨 3+."),  # ko: touches Hangul
    ("Give 500 mg of ceftriaxone.", "给予头孢曲松500mg。"),                      # zh: digits, then Han
])
def test_units_touching_cjk_text_are_found(source, translation):
    """Chinese, Japanese and Korean put no space between a unit and the next word: the unit is still
    found (a kept unit passes), and a dropped one is still flagged."""
    from globmed.records import MCQARecord
    from globmed.structure import check_translation, units

    assert units(translation) == units(source) and units(source)
    record = MCQARecord(id="x", dataset="medqa", split="test", language="en", question=source, options=["a", "b"], answer="A")
    assert check_translation(record, {"question": translation, "options": ["a", "b"]}) == []
    dropped = translation
    for unit in ("°C", "mmHg", "mg"):
        dropped = dropped.replace(unit, "")
    problems = check_translation(record, {"question": dropped, "options": ["a", "b"]})
    assert problems and "unit(s)" in problems[0]


@pytest.mark.parametrize("text,expected", [
    ('{"question": "q", "options": ["a", "b"]}', {"question": "q", "options": ["a", "b"]}),
    ('Here it is:\n```json\n{"question": "q", "options": ["A. a", "B) b"],}\n```\nDone.', {"question": "q", "options": ["a", "b"]}),
    ('{"Question": "q", "options": {"B": "b", "A": "a"}, "answer": "A"}', {"question": "q", "options": ["a", "b"]}),
    ('<think>{"question": "no"}</think> {"translation": {"question": "q", "options": ["a", "b"]}}', {"question": "q", "options": ["a", "b"]}),
])
def test_parse_fields_is_robust(text, expected):
    from globmed.translate.parse import parse_fields

    texts, problem, _ = parse_fields(text, {"question": "Q", "options": ["x", "y"]})
    assert problem is None and texts == expected


def test_parse_fields_reports_unusable_answers():
    from globmed.translate.parse import parse_fields

    assert parse_fields("Sorry, I cannot.", {"question": "Q"})[1].startswith("the answer is not a JSON object")
    assert "none of the keys" in parse_fields('{"foo": 1}', {"question": "Q"})[1]


def test_templates_can_be_replaced_and_placeholders_are_checked(tmp_path):
    from globmed.errors import GlobmedError
    from globmed.translate import templates

    (tmp_path / "draft.txt").write_text("[user]\nTranslate into {{target_language}}: {{source_json}} {{nope}}\n")
    loaded = templates.load(tmp_path)
    assert loaded["draft"].path.endswith("draft.txt") and str(tmp_path) in loaded["draft"].path
    assert loaded["review"].path.startswith(str(templates.HERE))
    with pytest.raises(GlobmedError, match="no value for placeholder"):
        loaded["draft"].render({"target_language": "Zulu", "source_json": "{}"})
    (tmp_path / "review.txt").write_text("no sections\n")
    with pytest.raises(GlobmedError, match="text before the first"):
        templates.load(tmp_path)
