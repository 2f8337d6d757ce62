"""The exit status of `globmed` and `globmed-push` by kind of failure, documented in `--help`. The
failures themselves are exercised where they happen: 1 (tests/test_store_damage.py,
tests/test_push_guard.py::test_a_refused_token_is_one_line_with_the_cause), 2 (tests/test_limits.py) and
3 (tests/test_hostile_servers.py)."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("exe, args", [("globmed", ["--help"]), ("globmed", ["bench", "run", "--help"]),
                                       ("globmed", ["data", "build", "--help"]), ("globmed-push", ["--help"]),
                                       ("globmed-push", ["results", "--help"])])
def test_help_documents_the_exit_status(cli, exe, args):
    run = cli(*args, exe=exe)
    assert run.returncode == 0, str(run)
    for text in ("Exit status", "1 runtime failure", "2 usage or bad input", "3 finished with failed requests"):
        assert text in run.output, (text, run.output[-800:])


def test_usage_mistakes_exit_2(cli):
    assert cli("bench", "run", "--no-such-flag").returncode == 2
    bad = cli("bench", "run", "--data", "x", "--out", "y", "--model", "m", "--runs", "0")
    assert bad.returncode == 2 and "--runs must be at least 1" in bad.output and "Traceback" not in bad.stderr
