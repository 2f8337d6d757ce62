"""The GlobMed Space in a real browser: Debian's chromium driven by Playwright (never a downloaded
browser). Loads the Space, switches every tab, applies filters, checks the table and that the plots
render, and saves a screenshot of each tab (to a temporary folder; to refresh the README's, run it with
GLOBMED_SCREENSHOTS_DIR=docs/screenshots: a test run leaves the source tree as it was).
One test loads results whose model names carry HTML/JS and checks they are shown as text only."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterator

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from globmed.space import SAMPLE_RESULTS
from tests.support.serving import launch_space as launch

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-quic"]
SAMPLE = SAMPLE_RESULTS
MODELS = ["demo-small-1.7B (synthetic)", "demo-general-8B (synthetic)", "demo-medical-8B (synthetic)",
          "demo-instruct-32B (synthetic)", "demo-reasoning-32B (synthetic)", "demo-proprietary (synthetic)"]
SCRIPT_NAME = "<script>window.__xss=1</script>evil-A"
IMG_NAME = '<img src=x onerror="window.__xss=2">evil-B'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed (/usr/bin/chromium); "
                       "install it with `apt-get install -y chromium chromium-driver` (.ci/run does)"),
]




@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with sync_api.sync_playwright() as p:  # Playwright gives the browser a fresh, empty profile
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def scripted_model() -> Iterator[Any]:
    from tests.support.openai_server import OpenAIServer

    with OpenAIServer(responder=lambda messages, body: "Pole sana. Kunywa maji mengi, pumzika, na umwone daktari "
                                                       "ikiwa homa itaendelea.") as server:
        yield server


def table_text(page: Any, elem: str = "#leaderboard-table") -> str:
    return page.locator(elem).inner_text()


def wait_text(page: Any, elem: str, present: str | None = None, absent: str | None = None, timeout: float = 30) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        text = table_text(page, elem)
        if (present is None or present in text) and (absent is None or absent not in text):
            return
        assert time.monotonic() < deadline, f"{elem}: waiting for {present!r}/{absent!r}; text: {text[:1500]}"
        page.wait_for_timeout(200)


def open_tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def wait_images(page: Any, selectors: list[str], timeout_ms: int = 90_000) -> None:
    """Each selector holds a loaded image (or canvas/svg) with a non-zero size."""
    for sel in selectors:
        page.wait_for_function(
            """sel => { const root = document.querySelector(sel); if (!root) return false;
                 const el = root.querySelector('img, canvas, svg.main-svg');
                 if (!el) return false; const r = el.getBoundingClientRect();
                 return r.width > 50 && r.height > 50 && (el.tagName !== 'IMG' || (el.complete && el.naturalWidth > 0)); }""",
            arg=sel, timeout=timeout_ms)


def test_every_tab_filters_plots_and_screenshots(browser, scripted_model, tmp_path):
    from globmed.space.chat import ChatConfig

    shots = Path(os.environ.get("GLOBMED_SCREENSHOTS_DIR") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    demo, url = launch([str(SAMPLE)], ChatConfig(url=scripted_model.base_url, model="scripted", backend="openai"))
    page = browser.new_page(viewport={"width": 1800, "height": 1000})
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#leaderboard-table table", timeout=60_000)
        text = table_text(page)
        assert all(m in text for m in MODELS)
        assert "sw ◆" in text and "zu ◆" in text
        # low-resource language columns are shaded
        shaded = page.evaluate("""() => [...document.querySelectorAll('#leaderboard-table [role=gridcell]')]
            .filter(el => getComputedStyle(el).backgroundColor === 'rgb(246, 230, 247)').length""")
        assert shaded >= 4 * len(MODELS)
        page.screenshot(path=str(shots / "leaderboard.png"), full_page=True)

        # a filter: search by name
        page.locator("#search textarea, #search input").first.fill("medical")
        page.keyboard.press("Enter")
        wait_text(page, "#leaderboard-table", present="demo-medical-8B (synthetic)", absent="demo-proprietary")
        assert "demo-general-8B" not in table_text(page)
        page.locator("#search textarea, #search input").first.fill("")
        page.keyboard.press("Enter")
        wait_text(page, "#leaderboard-table", present="demo-proprietary (synthetic)")
        # a filter: drop a language (its column goes) and keep proprietary models only
        page.locator("#f-languages").get_by_text("de (German)").click()
        page.locator("#f-access").get_by_text("open-weight").click()
        wait_text(page, "#leaderboard-table", present="demo-proprietary (synthetic)", absent="demo-small")
        headers = page.locator("#leaderboard-table th").all_inner_texts()
        assert "de" not in [h.strip() for h in headers] and "en" in [h.strip() for h in headers]

        open_tab(page, "Plots")
        wait_images(page, ["#plot-bars", "#plot-scatter", "#plot-radar", "#plot-heatmap"])
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / "plots.png"), full_page=True)

        open_tab(page, "Compare")
        page.locator("#cmp-run").click()
        wait_text(page, "#cmp-table", present="medqa", timeout=90)
        assert "p adj." in table_text(page, "#cmp-table")
        assert "significant" in table_text(page, "#cmp-summary")
        page.screenshot(path=str(shots / "compare.png"), full_page=True)

        open_tab(page, "Demo")
        page.locator("#demo-language input").click()
        page.get_by_role("option", name="Kiswahili (sw) ◆").click()
        wait_text(page, "#demo-disclaimer", present="Onyesho hili ni kwa ajili ya utafiti tu")
        box = page.get_by_placeholder("Ask a medical question in any of the 12 languages…")
        box.fill("Nina homa tangu jana. Nifanye nini?")
        box.press("Enter")
        wait_text(page, "#demo-chatbot", present="Kunywa maji mengi", timeout=60)
        body = scripted_model.chat_requests()[-1]["json"]
        assert body["messages"][0]["content"].startswith("Wewe ni mtaalamu wa tiba")
        page.screenshot(path=str(shots / "demo.png"), full_page=True)

        open_tab(page, "About")
        page.get_by_text("Results datasets").wait_for()
        page.screenshot(path=str(shots / "about.png"), full_page=True)
        for shot in ("leaderboard", "plots", "compare", "demo", "about"):
            assert (shots / f"{shot}.png").stat().st_size > 10_000
    finally:
        page.close()
        demo.close()


def _rename(folder: Path, names: dict[str, str]) -> None:
    for file in folder.glob("*/*.parquet"):
        table = pq.read_table(file)
        rows = table.to_pylist()
        for row in rows:
            for column in ("model", "base_model"):
                if row.get(column) in names:
                    row[column] = names[row[column]]
        pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), file)


def test_model_names_with_html_are_shown_as_text(browser, tmp_path):
    from globmed.space.chat import ChatConfig

    results = tmp_path / "evil_results"
    shutil.copytree(SAMPLE, results)
    _rename(results, {MODELS[2]: SCRIPT_NAME, MODELS[1]: IMG_NAME})  # the medical/general pair: Compare's default
    demo, url = launch([str(results)], ChatConfig())
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#leaderboard-table table", timeout=60_000)
        wait_text(page, "#leaderboard-table", present="evil-B")
        text = table_text(page)
        assert SCRIPT_NAME in text and IMG_NAME in text  # visible, literally, as text
        open_tab(page, "Plots")
        wait_images(page, ["#plot-bars", "#plot-radar"])
        assert SCRIPT_NAME in page.locator("#p-models").inner_text()
        open_tab(page, "Compare")
        page.locator("#cmp-run").click()
        wait_text(page, "#cmp-summary", present="evil-B", timeout=90)
        summary = table_text(page, "#cmp-summary")
        assert SCRIPT_NAME in summary and IMG_NAME in summary
        page.wait_for_timeout(500)  # time for any injected onerror handler to fire
        assert page.evaluate("window.__xss") is None
        assert page.locator('img[src="x"]').count() == 0
        assert not dialogs
    finally:
        page.close()
        demo.close()


def test_demo_chat_answers_with_the_real_model(browser, real_served, real_model):
    """The demo chat streams a real model's answer (SmolLM2-135M-Instruct under `transformers serve`,
    greedy): the page shows the same answer the server gives to the same messages asked directly."""
    from openai import OpenAI

    from globmed.space.chat import ChatConfig, build_messages

    question = "What is the normal body temperature of a healthy adult?"
    config = ChatConfig(url=real_served + "/v1", model=str(real_model), backend="openai", max_tokens=40, temperature=0.0)
    client = OpenAI(base_url=real_served + "/v1", api_key="EMPTY", max_retries=0, timeout=120)
    try:
        direct = client.chat.completions.create(model=str(real_model), messages=build_messages(question, [], "en"),
                                                max_tokens=40, temperature=0.0).choices[0].message.content
    finally:
        client.close()
    words = " ".join(re.sub(r"[*_`#>]", "", direct).split()[:6])  # as the page shows it: markdown rendered
    assert len(words.split()) >= 3, direct  # a real answer, not an empty or one-token reply
    demo, url = launch([str(SAMPLE)], config)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.wait_for_selector("#leaderboard-table table", timeout=60_000)
        open_tab(page, "Demo")
        box = page.get_by_placeholder("Ask a medical question in any of the 12 languages…")
        box.fill(question)
        box.press("Enter")
        wait_text(page, "#demo-chatbot", present=words, timeout=180)
    finally:
        page.close()
        demo.close()
