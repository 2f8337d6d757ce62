"""The GlobMed Space (Gradio): Leaderboard, Plots, Compare, Demo and About tabs.

    demo = build_demo([str(globmed.space.SAMPLE_RESULTS)])   # or results_refs(): $GLOBMED_RESULTS, else that sample
    launch(demo, server_port=7860)

Security: every string that comes from a results dataset reaches the page as text (Dataframe cells,
dropdown labels, images) or, in Markdown, escaped first (`md_text`); a model's chat answer is made inert
(`chat.inert`: no image, no HTML tag is rendered) and the page's Content-Security-Policy allows images
only from the Space itself; no environment value (URLs, tokens, keys) is ever rendered; free-text inputs
are bounded (search 100, chat 4000 characters).
"""

from __future__ import annotations

import html
import math
import re
import threading
from typing import Any, Iterable

import gradio as gr
import pandas as pd

from .. import languages, registry
from . import chat as chatlib
from .data import ResultsError
from .leaderboard import DISPLAYS, LOW_MARK, MAX_SEARCH, Filters, Results
from .plots import language_bars, radar, significance_heatmap, size_scatter

TITLE = "GlobMed-Bench leaderboard"
LOW_BG = "#f6e6f7"  # low-resource language columns
CSS = """
#globmed-title h1 { margin-bottom: 0.2em; }
.globmed-low { color: #7b1f86; font-weight: 600; }
#demo-disclaimer { border-left: 4px solid #c0392b; padding: 0.4em 0.8em; background: #fff5f4; }
"""
# Images only from the Space itself (and data:/blob: URLs it makes): whatever a model's answer or a results
# dataset holds, the visitor's browser fetches no image from elsewhere.
CSP = """<meta http-equiv="Content-Security-Policy" content="img-src 'self' data: blob:">"""
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")  # <, > and & are left to html.escape


def md_text(value: Any, limit: int = 300) -> str:
    """Any text made safe for gr.Markdown: markdown syntax backslash-escaped, then HTML-escaped."""
    s = str(value)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    return html.escape(_MD_SPECIAL.sub(r"\\\1", s), quote=True)


def _filters(langs: list[str] | None, dsets: list[str] | None, tasks: list[str] | None, access: list[str] | None,
             domain: list[str] | None, reasoning: list[str] | None, size_min: float | None, size_max: float | None,
             unknown_size: bool | None, search: str | None, display: str | None) -> Filters:
    def listed(values: Any) -> list[str] | None:  # None: no restriction; []: nothing selected
        if values is None:
            return None
        values = [values] if isinstance(values, str) else values
        return [str(v) for v in values if isinstance(v, (str, int, float))][:200]

    def number(value: Any) -> float | None:
        try:
            return None if value is None or value == "" else float(value)
        except (TypeError, ValueError):
            return None

    return Filters(languages=listed(langs), datasets=listed(dsets), tasks=listed(tasks), access=listed(access),
                   domain=listed(domain), reasoning=listed(reasoning), size_min=number(size_min),
                   size_max=number(size_max), unknown_size=bool(unknown_size),
                   search=str(search or "")[:MAX_SEARCH], display=str(display or DISPLAYS[1]))


def styled(table: pd.DataFrame) -> Any:
    """The leaderboard with the low-resource language columns shaded (pandas Styler)."""
    low = [c for c in table.columns if isinstance(c, str) and c.endswith(LOW_MARK)]
    numeric = [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c])]
    style = table.style.format(precision=1, na_rep="–", subset=numeric) if numeric else table.style
    if low:
        style = style.set_properties(subset=low, **{"background-color": LOW_BG, "font-weight": "600"})
    return style.hide(axis="index")


def _datatypes(table: pd.DataFrame) -> list[str]:
    return ["number" if pd.api.types.is_numeric_dtype(table[c]) else "str" for c in table.columns]


def compare_table(rows: list[dict[str, Any]], model_a: str, model_b: str) -> pd.DataFrame:
    def pct(x: Any) -> float | None:
        return None if x is None or x != x else round(100 * float(x), 1)

    def p(x: Any) -> str:
        return "–" if x is None or x != x else f"{x:.3g}"

    out = []
    for r in rows:
        ci = ("–" if r["diff_ci_low"] != r["diff_ci_low"] else
              f"[{100 * r['diff_ci_low']:+.1f}, {100 * r['diff_ci_high']:+.1f}]")
        out.append({"Dataset": r["dataset"], "Language": r["language"] + (LOW_MARK if Results.low_resource(r["language"]) else ""),
                    "Items": r["n_items"], "Acc. A %": pct(r["acc_a"]), "Acc. B %": pct(r["acc_b"]),
                    "Diff. (A-B) pts": pct(r["diff"]), "95% CI of diff.": ci, "Test": r["test"], "p": p(r["p"]),
                    "p adj.": p(r["p_adj"]), "Sig.": r["stars"], "Note": r["note"]})
    return pd.DataFrame(out, columns=["Dataset", "Language", "Items", "Acc. A %", "Acc. B %", "Diff. (A-B) pts",
                                      "95% CI of diff.", "Test", "p", "p adj.", "Sig.", "Note"])


def build_demo(refs: Iterable[str], chat_config: chatlib.ChatConfig | None = None, warm: bool = True) -> gr.Blocks:
    """The Space's Blocks for these results sources (see globmed.space.results_refs)."""
    results = Results(list(refs))
    config = chat_config or chatlib.ChatConfig.from_env()
    if warm and results.sources:  # the statistics need the details configs: load them in the background
        threading.Thread(target=lambda: _quietly(results.reference_tests), daemon=True).start()
    with gr.Blocks(title=TITLE, fill_width=True, analytics_enabled=False) as demo:
        _header(results)
        with gr.Tabs():  # each tab builds its components and events inside the Blocks opened here
            _leaderboard_tab(results)
            _plots_tab(results)
            _compare_tab(results)
            _demo_tab(config)
            _about_tab(results)
    return demo


def _header(results: Results) -> None:
    gr.Markdown(f"# {TITLE}\nMultilingual medical question answering and inference in "
                f"{len(results.languages)} languages: zero-shot, prompts wholly in the target language. "
                f"{len(results.model_names)} models, {len(results.datasets)} datasets. Low-resource languages are "
                f"marked {LOW_MARK.strip()} and shaded.", elem_id="globmed-title")
    if results.warnings:
        gr.Markdown("**Some results could not be loaded:**\n\n" + "\n".join(f"- {md_text(w)}" for w in results.warnings))


def _leaderboard_tab(results: Results) -> None:
    """The table (filtered by language, dataset, task, access, domain, reasoning, size, name) and its note."""
    langs, dsets, tasks = results.languages, results.datasets, results.tasks
    lang_choices = [(f"{c}{LOW_MARK} ({languages.get(c).name})" if results.low_resource(c) else
                     (f"{c} ({languages.get(c).name})" if c in languages.codes() else c), c) for c in langs]
    dset_choices = [(registry.get(d).title if d in registry.names() else d, d) for d in dsets]
    initial = results.leaderboard(Filters())
    max_size = float(math.ceil(results.max_size)) if results.max_size else 1000.0
    with gr.Tab("Leaderboard", id="leaderboard"):
        with gr.Row():
            search = gr.Textbox(label="Search models", placeholder="model name contains…", max_length=MAX_SEARCH,
                                scale=3, elem_id="search")
            display = gr.Radio(list(DISPLAYS), value=DISPLAYS[1], label="Cells show (accuracy %, over runs)",
                               scale=2, elem_id="display")
        table = gr.Dataframe(value=styled(initial), datatype=_datatypes(initial), interactive=False,
                             pinned_columns=1, max_height=640, wrap=True, label="Leaderboard", show_label=False,
                             elem_id="leaderboard-table", buttons=["copy", "fullscreen"])
        gr.Markdown(f"Overall, languages and datasets: accuracy (%) averaged over the selected cells "
                    f"(model x dataset x language), mean ± SD over runs; 95% CI: Wilson interval over items. "
                    f"{LOW_MARK.strip()} low-resource language. Unparsed answers count as wrong and are "
                    "reported; API errors are not counted as answers. Click a column header to sort.")

        with gr.Accordion("Filters", open=True):
            with gr.Row():
                f_lang = gr.CheckboxGroup(lang_choices, value=langs, label="Languages", elem_id="f-languages")
            with gr.Row():
                f_dset = gr.CheckboxGroup(dset_choices, value=dsets, label="Datasets", elem_id="f-datasets")
                f_task = gr.CheckboxGroup(tasks, value=tasks, label="Task", elem_id="f-tasks")
            with gr.Row():
                f_access = gr.CheckboxGroup(results.choices("access"), value=results.choices("access"),
                                            label="Access", elem_id="f-access")
                f_domain = gr.CheckboxGroup(results.choices("domain"), value=results.choices("domain"),
                                            label="Domain", elem_id="f-domain")
                f_reason = gr.CheckboxGroup(results.choices("reasoning"), value=results.choices("reasoning"),
                                            label="Reasoning", elem_id="f-reasoning")
            with gr.Row():
                size_min = gr.Number(value=0, label="Size from (B params)", minimum=0, elem_id="size-min")
                size_max = gr.Number(value=max_size, label="Size up to (B params)", minimum=0,
                                     elem_id="size-max")
                unknown = gr.Checkbox(value=True, label="Include models of unknown size (proprietary)",
                                      elem_id="unknown-size")

        def update_board(*values: Any) -> Any:
            board = results.leaderboard(_filters(*values))
            return gr.Dataframe(value=styled(board), datatype=_datatypes(board))

        inputs = [f_lang, f_dset, f_task, f_access, f_domain, f_reason, size_min, size_max, unknown, search,
                  display]
        gr.on([c.change for c in inputs if c is not search] + [search.submit, search.change],
              update_board, inputs=inputs, outputs=table, api_name="leaderboard", show_progress="hidden")


def _plots_tab(results: Results) -> None:
    """Accuracy by language, size vs accuracy, the radar of a model pair and the significance heatmap."""
    models, pairs = results.model_names, results.pairs()
    pair_labels = [label for label, _, _ in pairs] + ["(choose two models below)"]
    with gr.Tab("Plots", id="plots") as plots_tab:
        p_models = gr.CheckboxGroup(models, value=models, label="Models", elem_id="p-models")
        with gr.Row():
            bars_img = gr.Image(label="Accuracy by language (mean over runs and datasets)", type="filepath",
                                interactive=False, elem_id="plot-bars", buttons=["download"], show_label=False,
                                scale=3)
            scatter = gr.Plot(label="Size vs accuracy (open-weight models)", elem_id="plot-scatter",
                              show_label=False, scale=2)
        with gr.Row():
            pair = gr.Dropdown(pair_labels, value=pair_labels[0], label="Model pair (radar charts)",
                               elem_id="pair")
            pair_a = gr.Dropdown(models, value=models[0] if models else None, label="Model A (custom pair)")
            pair_b = gr.Dropdown(models, value=models[1] if len(models) > 1 else None, label="Model B (custom pair)")
        radar_plot = gr.Plot(label="Radar: per dataset and per language", elem_id="plot-radar", show_label=False)
        method = gr.Radio([("Holm", "holm"), ("Benjamini-Hochberg", "bh")], value="holm",
                          label="Multiple-comparison correction (heatmap)")
        heat_img = gr.Image(label="Each language vs the reference language, pooled over datasets: "
                                  "difference in points, paired test, stars from corrected p",
                            type="filepath", interactive=False, elem_id="plot-heatmap", buttons=["download"],
                            show_label=False)

        def pair_models(label: str | None, a: str | None, b: str | None) -> tuple[str, str]:
            for lab, x, y in pairs:
                if lab == label:
                    return x, y
            return str(a or ""), str(b or "")

        def update_plots(chosen: list[str] | None, label: str | None, a: str | None, b: str | None,
                         corr: str | None) -> tuple[Any, Any, Any, Any]:
            chosen = [m for m in (chosen or []) if m in set(models)]
            x, y = pair_models(label, a, b)
            x, y = (x if x in set(models) else ""), (y if y in set(models) else "")
            return (language_bars(results, chosen), size_scatter(results, chosen),
                    radar(results, x, y), _quietly(lambda: significance_heatmap(results, chosen, corr or "holm")))

        plot_inputs = [p_models, pair, pair_a, pair_b, method]
        plot_outputs = [bars_img, scatter, radar_plot, heat_img]
        plots_tab.select(update_plots, plot_inputs, plot_outputs, api_name="plots")
        gr.on([c.change for c in plot_inputs], update_plots, plot_inputs, plot_outputs, api_name=False)


def _compare_tab(results: Results) -> None:
    """Paired tests of two models on the same items, per dataset x language."""
    models, pairs = results.model_names, results.pairs()
    with gr.Tab("Compare", id="compare"):
        gr.Markdown("Paired tests on the same items (by id) for every dataset x language both models were "
                    "evaluated on: McNemar's exact test for one run, the Wilcoxon signed-rank test on per-item "
                    "mean correctness for several; p-values corrected over all cells of the pair.")
        with gr.Row():
            first = (pairs[0][1], pairs[0][2]) if pairs else (models[0] if models else None,
                                                              models[1] if len(models) > 1 else None)
            cmp_a = gr.Dropdown(models, value=first[0], label="Model A", elem_id="cmp-a")
            cmp_b = gr.Dropdown(models, value=first[1], label="Model B", elem_id="cmp-b")
            cmp_method = gr.Radio([("Holm", "holm"), ("Benjamini-Hochberg", "bh")], value="holm",
                                  label="Correction")
        cmp_btn = gr.Button("Compare", variant="primary", elem_id="cmp-run")
        cmp_summary = gr.Markdown(elem_id="cmp-summary")
        cmp_table = gr.Dataframe(interactive=False, max_height=640, label="Per dataset x language",
                                 elem_id="cmp-table")

        def run_compare(a: str | None, b: str | None, corr: str | None) -> tuple[str, Any]:
            if a not in set(models) or b not in set(models) or a == b:
                return "Pick two different models from the lists.", None
            try:
                rows = results.compare(a, b, corr or "holm")
            except ResultsError as exc:
                return md_text(exc), None
            sig = [r for r in rows if r["p_adj"] == r["p_adj"] and r["p_adj"] < 0.05]
            better_a = sum(1 for r in sig if r["diff"] > 0)
            text = (f"**A** = {md_text(a)}, **B** = {md_text(b)}: {len(rows)} cells, {len(sig)} significant "
                    f"after {'Holm' if corr != 'bh' else 'Benjamini-Hochberg'} correction "
                    f"(A better in {better_a}, B better in {len(sig) - better_a}).")
            return text, compare_table(rows, a, b)

        cmp_btn.click(run_compare, [cmp_a, cmp_b, cmp_method], [cmp_summary, cmp_table], api_name="compare")


def _demo_tab(config: chatlib.ChatConfig) -> None:
    """The chat with a model (through the backends; see globmed.space.chat), with the medical disclaimer."""
    with gr.Tab("Demo", id="demo"):
        with gr.Row():
            demo_lang = gr.Dropdown(chatlib.language_choices(), value="en", label="Language",
                                    elem_id="demo-language", scale=1)
            notice = gr.Markdown(md_text(chatlib.disclaimer("en")), elem_id="demo-disclaimer")
        if not config.configured:
            gr.Markdown(md_text(chatlib.NOT_CONFIGURED), elem_id="demo-not-configured")
        demo_lang.change(lambda code: md_text(chatlib.disclaimer(code)), demo_lang, notice,
                         api_name="disclaimer", show_progress="hidden")

        def respond(message: Any, history: list[Any], code: str) -> Any:
            yield from chatlib.reply(config, message, history, str(code or "en"))

        gr.ChatInterface(respond, additional_inputs=[demo_lang], api_name="chat",
                         textbox=gr.Textbox(placeholder="Ask a medical question in any of the 12 languages…",
                                            max_length=chatlib.MAX_INPUT, show_label=False, submit_btn=True),
                         chatbot=gr.Chatbot(height=420, label="Model", elem_id="demo-chatbot",
                                            sanitize_html=True, allow_tags=False),
                         fill_height=False)


def _about_tab(results: Results) -> None:
    with gr.Tab("About", id="about"):
        sources = "\n".join(f"- {md_text(s.ref)}" + (" (Hub)" if s.hub else "") for s in results.sources)
        gr.Markdown("## Results datasets\n" + (sources or "none") + "\n\n"
                    "Produced by `globmed bench run` ([globmed](https://github.com/globmed/globmed)). "
                    "The shipped sample results are SYNTHETIC (fake models named \"(synthetic)\") and say "
                    "nothing about any real model.\n\n## Reproduce\n```\nglobmed bench run --backend openai "
                    "--model M --base-url URL --data DATA --out OUT\nglobmed bench report OUT\n```")


def _quietly(fn: Any) -> Any:
    """Run fn; on failure return None (the plot stays empty; the page never shows a traceback)."""
    try:
        return fn()
    except Exception:  # noqa: BLE001
        return None


def launch(demo: gr.Blocks, **kwargs: Any) -> Any:
    """demo.launch with the Space's CSS, theme and Content-Security-Policy (Gradio 6 takes them at launch)."""
    kwargs.setdefault("head", CSP)
    kwargs.setdefault("css", CSS)
    kwargs.setdefault("theme", gr.themes.Soft())
    kwargs.setdefault("footer_links", ["api", "gradio"])
    return demo.launch(**kwargs)
