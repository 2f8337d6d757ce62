"""`globmed bench run` against servers that misbehave (tests/support/openai_server.py, on request):
content that is not a string, a server that never answers, one that trickles a byte at a time, replies
too large to keep, and credentials in the server URL. The real CLI runs in a subprocess; the server
runs in this process, so each test reads what the server saw."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pyarrow.parquet as pq

from tests.conftest import Run

ARGS = ("--backend", "openai", "--model", "scripted", "--datasets", "medqa", "--languages", "en", "--runs", "1",
        "--no-progress")


def questions(data: Path, n: int = 3) -> list[str]:
    rows = pq.read_table(data / "medqa.en" / "test-00000-of-00001.parquet", columns=["question"]).to_pylist()
    return [r["question"] for r in rows[:n]]


def details(out: Path) -> dict[str, dict]:
    """The details rows of medqa.en by the start of their prompt's question."""
    rows = pq.read_table(out / "details.medqa.en" / "train-00000-of-00001.parquet").to_pylist()
    return {r["id"]: r for r in rows}


def row_for(out: Path, question: str) -> dict:
    rows = [r for r in details(out).values() if any(question in m["content"] for m in r["prompt"] or [])]
    assert len(rows) == 1, question
    return rows[0]


def posts_with(server, text: str) -> list[dict]:
    return [r for r in server.chat_requests() if text in json.dumps(r["json"], ensure_ascii=False)]


def bench(cli, data, out, server, *extra) -> Run:
    return cli("bench", "run", "--data", data, "--out", out, "--base-url", server.base_url, *ARGS, *extra)


def test_content_parts_are_joined_and_other_content_is_an_error_that_a_rerun_retries(openai_server, sample_data,
                                                                                       tmp_path, cli):
    server = openai_server()
    parts, number, fine = questions(sample_data)
    server.content(parts, [{"type": "text", "text": "The answer is "}, {"type": "text", "text": "B."}])
    server.content(number, 42, times=1)  # the rerun gets a proper answer
    out = tmp_path / "out"
    first = bench(cli, sample_data, out, server)
    assert first.returncode == 3, str(first)  # finished, with one failed request
    assert "1 request(s) failed" in first.output and "Traceback" not in first.stderr
    joined, broken = row_for(out, parts), row_for(out, number)
    assert joined["output"] == "The answer is B." and joined["pred"] == "B" and joined["error"] is None
    assert broken["output"] is None and "content as a int" in broken["error"] and "not text" in broken["error"]
    assert row_for(out, fine)["error"] is None

    report = cli("bench", "report", out, "--rescore")  # scoring the store again does not crash either
    assert report.returncode == 0, str(report)

    again = bench(cli, sample_data, out, server)
    assert again.returncode == 0, str(again)
    assert len(posts_with(server, number)) == 2 and len(posts_with(server, parts)) == 1  # only the failed one again
    assert row_for(out, number)["error"] is None and row_for(out, number)["output"] == "A"


def test_hung_trickling_and_huge_replies_are_cut_off_and_never_stored(openai_server, sample_data, tmp_path, cli):
    """One run, four hostile items beside a fine one: a server that never answers, one that sends a valid
    answer a byte every 0.2 s (~1.5 min in all), and 20 MB answers with and without Content-Length."""
    server = openai_server()
    hung, slow, huge, chunked, fine = questions(sample_data, 5)
    server.hang(hung)
    server.trickle(slow, 0.2)
    server.huge(huge, 20 * 1024 * 1024)
    server.huge(chunked, 20 * 1024 * 1024, chunked=True)
    out = tmp_path / "out"
    start = time.monotonic()
    run = bench(cli, sample_data, out, server, "--timeout", "1.5", "--deadline", "3.5")
    assert run.returncode == 3, str(run)  # finished, with failed requests
    assert "4 request(s) failed" in run.output
    assert time.monotonic() - start < 30  # each gave up at its deadline, not after 7 x 600 s

    attempts = posts_with(server, hung)
    assert 2 <= len(attempts) <= 4, len(attempts)  # retried within the deadline (1.5 s each + backoff)
    error = row_for(out, hung)["error"]
    assert "deadline of 3.5 s" in error and "no complete answer within" in error, error

    # cut while trickling: the first attempt got a few bytes in its 1.5 s, no attempt got the whole answer
    # (a retry that the jittered backoff starts just before the deadline may be cut before its first byte)
    sent = [r.get("sent_bytes", 0) for r in posts_with(server, slow)]
    assert sent and sent[0] >= 2 and all(n < 60 for n in sent), sent
    assert "no complete answer within" in row_for(out, slow)["error"]

    for item in (huge, chunked):
        error = row_for(out, item)["error"]
        assert "the limit is 4,194,304 bytes" in error and "not stored" in error, error
        assert len(posts_with(server, item)) == 1  # not retried: the same server would send it again
    store = out / ".cache" / "requests.sqlite"
    assert sum(p.stat().st_size for p in store.parent.glob("requests.sqlite*")) < 2_000_000
    assert row_for(out, fine)["error"] is None


def test_credentials_in_the_server_url_are_used_but_never_stored(openai_server, sample_data, tmp_path, cli):
    server = openai_server()
    password = "pw-Sup3rSecret-9d2c"
    url = server.base_url.replace("http://", f"http://tester:{password}@")
    out = tmp_path / "out"
    run = cli("bench", "run", "--data", sample_data, "--out", out, "--base-url", url, *ARGS)
    assert run.returncode == 0, str(run)
    import base64

    sent = {r["headers"].get("authorization") for r in server.chat_requests()}
    assert sent == {"Basic " + base64.b64encode(f"tester:{password}".encode()).decode()}  # used, as Basic auth
    assert password not in run.stdout + run.stderr
    manifest = json.loads((out / "globmed.json").read_text())
    [evaluation] = manifest["evaluations"].values()
    assert evaluation["identity"]["base_url"] == server.base_url
    results = pq.read_table(out / "results" / "train-00000-of-00001.parquet").to_pylist()
    assert {r["base_url"] for r in results} == {server.base_url}
    for path in out.rglob("*"):  # nowhere: not in the raw bytes, not inside a (compressed) parquet cell
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path
            if path.suffix == ".parquet":
                assert password not in json.dumps(pq.read_table(path).to_pylist(), default=str), path
