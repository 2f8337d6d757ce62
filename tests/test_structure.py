"""The import structure, read from the source by benchmarks/import_graph.py (ast; nothing is imported): the
on-disk layouts are spelled in globmed/core/ alone, and no module cycle runs through bench, core or tasks."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# The names only a folder's owner spells ('.cache' and 'results/' are also ordinary words in messages and in
# other caches, e.g. ~/.cache/globmed/models: import_graph.py lists them, this test does not hold them).
OWNED = ("globmed.json", "requests.sqlite", "details.", "train-00000-of-00001.parquet")


@pytest.fixture(scope="module")
def graph():
    path = ROOT / "benchmarks" / "import_graph.py"
    spec = importlib.util.spec_from_file_location("import_graph", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def test_only_globmed_core_spells_a_folder_layout(graph):
    spelled = {m: graph.layout_literals(p) & set(OWNED) for m, p in graph.modules(ROOT).items()}
    outside = {m: sorted(found) for m, found in spelled.items() if found and not m.startswith("globmed.core")}
    assert not outside, f"layout names spelled outside globmed/core/: {outside}"
    in_core = {lit for found in spelled.values() for lit in found}  # core spells them (the scan finds them)
    assert {"globmed.json", "requests.sqlite", "train-00000-of-00001.parquet"} <= in_core


def test_bench_core_and_tasks_are_in_no_import_cycle(graph):
    mods = graph.modules(ROOT)
    edges = {m: graph.imports(m, p, set(mods)) for m, p in mods.items()}
    assert "globmed.bench.scoring" in edges["globmed.bench.evaluate"]  # the scan sees the imports it checks
    parts = ("globmed.bench", "globmed.core", "globmed.tasks")
    tangled = [c for c in graph.cycles(edges) if any(m.startswith(parts) for m in c)]
    assert not tangled, tangled
