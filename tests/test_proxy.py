"""The OpenAI-compatible backend's aiohttp session honours HTTP_PROXY / NO_PROXY (trust_env), as the
openai SDK does: requests go through a real forwarding proxy (pproxy, from PyPI) started on loopback,
and a proxy that is down makes them fail (so the proxy is really on the path, not just configured)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from globmed.backends import GenerationSettings, Request, make_backend
from globmed.backends.base import BackendError
from tests.support.serving import free_port

PPROXY = shutil.which("pproxy") or str(Path(sys.executable).parent / "pproxy")
REQUEST = Request(messages=({"role": "user", "content": "Which?\nA. no\nB. correct"},),
                  settings=GenerationSettings(max_tokens=4))


def chat(base_url: str) -> str:
    backend = make_backend("openai", "m", base_url=base_url)

    async def go() -> str:
        try:
            return (await backend.chat(REQUEST)).text
        finally:
            await backend.aclose()

    return asyncio.run(go())


@pytest.fixture
def proxy(tmp_path):
    if not Path(PPROXY).exists():
        pytest.skip("pproxy is not installed (pip install 'globmed[test]')")
    port, log = free_port(), tmp_path / "proxy.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen([PPROXY, "-l", f"http://127.0.0.1:{port}", "-v"], stdout=fh, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 20
        while "Serving on" not in log.read_text() and time.time() < deadline:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_requests_go_through_http_proxy(openai_server, proxy, monkeypatch):
    server = openai_server()
    proxy_url, log = proxy
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    assert chat(server.base_url) == "B"
    port = server.base_url.split(":")[-1].split("/")[0]
    deadline = time.time() + 5
    while f"127.0.0.1:{port}" not in log.read_text() and time.time() < deadline:
        time.sleep(0.05)
    assert f"127.0.0.1:{port}" in log.read_text()  # the proxy forwarded the request to the server


def test_a_dead_proxy_is_on_the_path_and_no_proxy_bypasses_it(openai_server, monkeypatch):
    server = openai_server()
    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    with pytest.raises(BackendError) as err:
        chat(server.base_url)
    assert err.value.retryable and not server.chat_requests()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert chat(server.base_url) == "B" and len(server.chat_requests()) == 1
