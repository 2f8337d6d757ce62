"""The request store under damage: a file that is not SQLite, a page overwritten, a response altered
on disk, and a store written before checksums holding a reply an old version stored as a list. Each
is met with a one-line error naming the file and the remedy, or with the row requested again; never a
traceback and never a silent rescore. The real CLI runs against the scripted server."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.conftest import cli_env, run_cli

ARGS = ("--backend", "openai", "--model", "scripted", "--datasets", "medqa,mednli", "--languages", "en,sw",
        "--runs", "1", "--no-progress", "--max-tokens", "512", "--max-tokens-lfqa", "512")
PAD = " Because" + " of the reasons given above" * 60  # ~1.6 KB per answer: the responses span many pages
# (the server cuts answers to max_tokens words, and the task budget for MCQA is 32: the flags above lift it)


def answer(messages, body):
    from tests.support.openai_server import default_responder

    return f"The answer is {default_responder(messages, body)}.{PAD}"


@pytest.fixture(scope="module")
def server():
    from tests.support.openai_server import OpenAIServer

    with OpenAIServer(responder=answer) as s:
        yield s


@pytest.fixture(scope="module")
def original(server, sample_data, tmp_path_factory):
    """A complete, uninterrupted run: the results every recovery must end with."""
    tmp = tmp_path_factory.mktemp("store")
    out = tmp / "out"
    res = run_cli(["bench", "run", "--data", sample_data, "--out", out, "--base-url", server.base_url, *ARGS],
                  cli_env(tmp / "home"))
    assert res.returncode == 0, str(res)
    return out


def preds(out: Path) -> dict[tuple[str, str], tuple]:
    rows = {}
    for file in sorted(out.glob("details.*/*.parquet")):
        for r in pq.read_table(file).to_pylist():
            rows[(file.parent.name, r["id"])] = (r["output"], r["pred"], r["correct"], r["error"])
    return rows


def copy_of(original: Path, tmp_path: Path) -> Path:
    import shutil

    out = tmp_path / "out"
    shutil.copytree(original, out)
    return out


def store_of(out: Path) -> Path:
    return out / ".cache" / "requests.sqlite"


def sent(server, before: int) -> int:
    return len(server.chat_requests()) - before


def rerun(cli, server, data, out, *extra):
    return cli("bench", "run", "--data", data, "--out", out, "--base-url", server.base_url, *ARGS, *extra)


def assert_one_line_error(run, store: Path, code: int = 1) -> str:
    assert run.returncode == code, str(run)
    assert "Traceback" not in run.stderr, run.stderr
    lines = [line for line in run.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, run.stderr
    assert str(store) in lines[0], lines[0]
    return lines[0]


def test_a_file_that_is_not_a_store_is_one_line_with_the_remedy(original, server, sample_data, tmp_path, cli):
    out = copy_of(original, tmp_path)
    store = store_of(out)
    with open(store, "r+b") as fh:  # the header: SQLite no longer recognises the file
        fh.write(os.urandom(100))
    for run in (rerun(cli, server, sample_data, out), cli("bench", "report", out, "--rescore")):
        line = assert_one_line_error(run, store)
        assert "the request store is damaged" in line and "--repair" in line and "delete it to start afresh" in line

    before = len(server.chat_requests())
    repaired = rerun(cli, server, sample_data, out, "--repair")
    assert repaired.returncode == 0, str(repaired)
    assert "kept 0 responses" in repaired.output  # nothing was readable: every request is sent again
    assert sent(server, before) == len(preds(original))
    assert preds(out) == preds(original)
    assert list(store.parent.glob("requests.sqlite.damaged-*")), "the damaged file is kept beside it"


def test_repair_keeps_the_readable_rows_of_a_store_with_a_broken_page(original, server, sample_data, tmp_path, cli):
    out = copy_of(original, tmp_path)
    store = store_of(out)
    db = sqlite3.connect(store)
    page = db.execute("PRAGMA page_size").fetchone()[0]
    leaves = [n for (n,) in db.execute("SELECT pageno FROM dbstat WHERE name='responses' AND pagetype='leaf' "
                                       "ORDER BY pageno")]  # the pages that hold the responses' rows
    db.close()
    assert len(leaves) > 10, leaves
    with open(store, "r+b") as fh:  # one leaf in the middle, overwritten
        fh.seek((leaves[len(leaves) // 2] - 1) * page)
        fh.write(b"\xff" * page)
    line = assert_one_line_error(rerun(cli, server, sample_data, out), store)
    assert "damaged" in line and "--repair" in line

    report = cli("bench", "report", out, "--rescore", "--repair")  # offline: the readable rows, scored
    assert report.returncode == 0, str(report)
    assert "repaired" in report.output and "the damaged file is" in report.output
    total = len(preds(original))
    lost = [k for k, v in preds(out).items() if v != preds(original)[k]]
    assert 0 < len(lost) < total // 4, (len(lost), total)  # only the rows of the broken page
    assert all(preds(out)[k][3] for k in lost)  # each lost row says so, none is scored from garbage

    before = len(server.chat_requests())
    again = rerun(cli, server, sample_data, out)
    assert again.returncode == 0, str(again)
    assert sent(server, before) == len(lost)  # exactly the lost ones are requested again
    assert preds(out) == preds(original)


def test_an_altered_response_is_detected_and_requested_again(original, server, sample_data, tmp_path, cli):
    out = copy_of(original, tmp_path)
    store = store_of(out)
    db = sqlite3.connect(store)
    key, response = next((k, r) for k, r in db.execute("SELECT key, response FROM responses ORDER BY key")
                         if json.loads(r)["text"].startswith(("The answer is A.", "The answer is B.")))  # an MCQA answer
    altered = json.loads(response)
    letter = altered["text"][len("The answer is ")]
    altered["text"] = altered["text"].replace(f"is {letter}.", f"is {'B' if letter == 'A' else 'A'}.", 1)
    assert altered["text"] != json.loads(response)["text"]  # another letter: a silent rescore would change the score
    db.execute("UPDATE responses SET response=? WHERE key=?", (json.dumps(altered), key))
    db.commit()
    db.close()

    report = cli("bench", "report", out, "--rescore")
    assert report.returncode == 0, str(report)
    bad = [k for k, v in preds(out).items() if v[3] is not None]
    assert len(bad) == 1 and "failed its checksum" in preds(out)[bad[0]][3]  # not rescored silently

    before = len(server.chat_requests())
    again = rerun(cli, server, sample_data, out)
    assert again.returncode == 0, str(again)
    assert sent(server, before) == 1
    assert preds(out) == preds(original)


def test_a_list_stored_by_an_old_version_counts_as_an_error_and_is_requested_again(original, server, sample_data,
                                                                                   tmp_path, cli):
    """The issue's case: an older globmed stored `content` parts as a list; scoring crashed on every rerun
    and --rescore, for the whole folder. Here the store is rewritten as that version left it (no checksum
    column, one response whose text is a list)."""
    out = copy_of(original, tmp_path)
    store = store_of(out)
    db = sqlite3.connect(store)
    db.execute("ALTER TABLE responses DROP COLUMN checksum")
    key, response = db.execute("SELECT key, response FROM responses ORDER BY key LIMIT 1").fetchone()
    old = json.loads(response)
    old["text"] = [{"type": "text", "text": old["text"]}]
    db.execute("UPDATE responses SET response=? WHERE key=?", (json.dumps(old), key))
    db.commit()
    db.close()

    report = cli("bench", "report", out, "--rescore")
    assert report.returncode == 0, str(report)
    errors = [v[3] for v in preds(out).values() if v[3] is not None]
    assert len(errors) == 1 and "cannot be read: field 'text' is a list" in errors[0], errors

    before = len(server.chat_requests())
    again = rerun(cli, server, sample_data, out)
    assert again.returncode == 0, str(again)
    assert sent(server, before) == 1
    assert preds(out) == preds(original)
    columns = {r[1] for r in sqlite3.connect(store).execute("PRAGMA table_info(responses)")}
    assert "checksum" in columns and sqlite3.connect(store).execute(
        "SELECT COUNT(*) FROM responses WHERE checksum IS NULL").fetchone()[0] == 0  # every row sealed
