"""The Space's demo chat: where the HF token may go (never to a look-alike host, a user Space or plain
http; checked against real loopback servers) and what a model's answer can make the visitor's browser do
(nothing: no image loads, checked in Debian's chromium)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from globmed.space import chat as chatlib
from globmed.space.chat import ChatConfig
from tests.support.openai_server import OpenAIServer

TOKEN = "hf_DemoChatToken0123456789abcdefghij"


@pytest.mark.parametrize("url, allowed", [
    ("https://huggingface.co/api/v1", True),
    ("https://router.huggingface.co/v1", True),
    ("https://xyz.us-east-1.aws.endpoints.huggingface.cloud/v1", True),
    ("https://evilhuggingface.co/v1", False),            # the host
    ("http://huggingface.co/v1", False),                 # plain http
    ("http://router.huggingface.co/v1", False),
    ("https://huggingface.co.evil.example/v1", False),
    ("https://someone.hf.space/v1", False),              # a user's Space
    ("https://huggingface.co:8443/v1", False),
    ("https://attacker@huggingface.co/v1", False),
    ("https://api.endpoints.huggingface.cloud.evil.example/", False),
    ("not a url", False),
])
@pytest.mark.parametrize("backend", ["openai", "tgi", "endpoint"])
def test_the_hf_token_goes_only_to_hugging_face_over_https(url, allowed, backend, monkeypatch):
    from globmed.endpoints import ENDPOINTS_URL_ENV, token_allowed

    config = ChatConfig.from_env({"HF_TOKEN": TOKEN, "GLOBMED_DEMO_BACKEND": backend})
    assert config.token_for(url) == (TOKEN if allowed else None)
    monkeypatch.delenv(ENDPOINTS_URL_ENV, raising=False)
    assert token_allowed(url) == allowed  # the rule the endpoint backend applies to the URL it looks up


@pytest.mark.parametrize("backend", ["openai", "tgi", "endpoint"])
def test_no_token_reaches_a_third_party_server(backend, monkeypatch):
    """Against a real server: neither the demo's HF token nor the machine's HF_TOKEN (which huggingface_hub
    would send by default) reaches a server that is not Hugging Face, whatever the backend (the endpoint
    backend's request for the served model name included)."""
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # it would also stop huggingface_hub reaching 127.0.0.1
    with OpenAIServer(responder=lambda m, b: "Pole sana.") as server:
        url = server.base_url if backend == "openai" else server.url
        config = ChatConfig(url=url, model="scripted", backend=backend, hf_token=TOKEN)
        answer = list(chatlib.reply(config, "Nina homa.", [], "sw"))[-1]
        assert "Pole sana" in answer
        assert len(server.chat_requests()) == 1
    assert server.requests and all(TOKEN not in str(request["headers"]) for request in server.requests)


def test_the_bench_tgi_backend_sends_no_machine_token_to_a_third_party(monkeypatch):
    """huggingface_hub sends the machine's HF_TOKEN with every request unless told otherwise: a `--base-url`
    TGI server that is not Hugging Face gets a placeholder instead."""
    from globmed.backends import GenerationSettings, Request, make_backend
    from tests.test_backends import run_async

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    with OpenAIServer() as server:
        backend = make_backend("tgi", "scripted", base_url=server.url)
        request = Request(messages=({"role": "user", "content": "Which?\nA. no\nB. correct"},),
                          settings=GenerationSettings(max_tokens=4))
        assert run_async(backend, lambda b: b.chat(request)).text == "B"
        [sent] = server.chat_requests()
    assert sent["headers"].get("authorization") == "Bearer EMPTY"


def test_model_output_is_inert():
    text = ('See ![scan](http://x.test/a.png), ![ref][r] and <img src="http://x.test/b.png"> or '
            '<svg><image href="http://x.test/c.png"/></svg>.\n\n[r]: http://x.test/d.png\nDose <5 mg.')
    out = chatlib.inert(text)
    assert "![" not in out and "<img" not in out and "<svg" not in out and "<image" not in out
    assert "Dose <5 mg." in out and "http://x.test/a.png" in out  # readable, nothing rendered


# ------------------------------------------------------------------------------------------ in a browser
class _Pixels(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[tuple[str, list[str]]]:
    _Pixels.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pixels)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", _Pixels.hits
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.slow
def test_no_image_in_a_model_answer_is_fetched_by_the_browser(image_server, tmp_path):
    from tests.test_space_browser import ARGS, CHROMIUM, SAMPLE, wait_text

    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (/usr/bin/chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.support.serving import launch_space

    images, hits = image_server
    answer = (f"Pole sana. ![scan]({images}/md.png) ![ref][r] <img src=\"{images}/html.png\"> "
              f"<p style=\"background:url({images}/css.png)\">x</p> Kunywa maji.\n\n[r]: {images}/ref.png")
    with OpenAIServer(responder=lambda m, b: answer) as model, sync_api.sync_playwright() as p:
        demo, url = launch_space([str(SAMPLE)], ChatConfig(url=model.base_url, model="scripted"))
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            page.goto(url, wait_until="domcontentloaded")
            page.get_by_role("tab", name="Demo").click()
            box = page.get_by_placeholder("Ask a medical question in any of the 12 languages…")
            box.fill("Nina homa.")
            box.press("Enter")
            wait_text(page, "#demo-chatbot", present="Kunywa maji", timeout=60)
            page.wait_for_timeout(1500)  # time for any image request to leave
            from_answer = list(hits)
            shown = page.locator("#demo-chatbot").inner_text()
            rendered = page.locator("#demo-chatbot img[src*='127.0.0.1']").count()
            # and were an image to slip through, the page's policy forbids loading it
            page.evaluate(f"() => {{ const i = new Image(); i.src = '{images}/injected.png'; document.body.append(i); }}")
            page.wait_for_timeout(1000)
        finally:
            browser.close()
            demo.close()
    assert from_answer == [], from_answer
    assert "md.png" in shown and "<img" in shown and rendered == 0  # shown as text, not rendered
    assert hits == [], hits
