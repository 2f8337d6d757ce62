"""The import structure of globmed, read from the source with `ast` (nothing is imported).

    python benchmarks/import_graph.py                 # cycles, package edges, who spells each layout
    python benchmarks/import_graph.py --edges         # ... and every module -> module edge
    python benchmarks/import_graph.py --src ../main   # another tree (e.g. before a change)

Every import counts, including those inside functions (a lazy import is still a dependency; it only
changes when the module is loaded). Printed:
- cycles: strongly connected components of the module graph (modules that import each other,
  directly or through others);
- package edges: which top-level part of globmed (bench, core, tasks, space, ...) imports which, and the
  package-level cycles among them;
- layouts: which modules spell the on-disk names of the folders globmed writes (`globmed.json`,
  `requests.sqlite`, `details.`, `.cache`, `results/`): after issue 17 only globmed/core/ should.
Exit status 0 always: this is a view, not a check (tests/test_structure.py holds the checks).
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import defaultdict
from pathlib import Path

# String literals that spell a folder layout (the names, not the words in docstrings: only string
# constants that are whole expressions' parts are scanned, docstrings are skipped).
LAYOUT_LITERALS = {
    "globmed.json": "manifest",
    "requests.sqlite": "request store",
    "details.": "details configs",
    ".cache": "cache folder",
    "results/": "results config",
    "train-00000-of-00001.parquet": "config file",
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(src: Path) -> dict[str, Path]:
    root = src
    return {module_name(p, root): p for p in sorted((src / "globmed").rglob("*.py"))}


def _resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join(base + ([node.module] if node.module else []))


def _type_checking_only(tree: ast.AST) -> set[int]:
    """The import nodes under `if TYPE_CHECKING:` (for annotations only: never run)."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for part in node.body for n in ast.walk(part)}
    return skip


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    is_package = path.name == "__init__.py"
    skip = _type_checking_only(tree)
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, is_package, node)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            # the longest known module that the name starts with (`from .x import y`: y may be a module or a name)
            parts = target.split(".")
            while parts and ".".join(parts) not in known:
                parts.pop()
            if parts and ".".join(parts) != name:
                out.add(".".join(parts))
    return out


def _prose(tree: ast.AST) -> set[int]:
    """String nodes that are prose, not paths: docstrings and help texts (`help=...`, {"help": ...})."""
    out: set[int] = set()
    for n in ast.walk(tree):
        if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and n.body \
                and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant):
            out.add(id(n.body[0].value))
        helps = [kw.value for kw in n.keywords if kw.arg == "help"] if isinstance(n, ast.Call) else []
        if isinstance(n, ast.Dict):
            helps += [v for k, v in zip(n.keys, n.values) if isinstance(k, ast.Constant) and k.value == "help"]
        out |= {id(x) for h in helps for x in ast.walk(h)}
    return out


def layout_literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    prose = _prose(tree)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            found |= {literal for literal in LAYOUT_LITERALS if literal in node.value}
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def package(name: str) -> str:
    parts = name.split(".")
    return ".".join(parts[:2]) if len(parts) > 1 else name


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1], help="a tree holding globmed/")
    ap.add_argument("--edges", action="store_true", help="also print every module -> module edge")
    args = ap.parse_args()
    mods = modules(args.src)
    known = set(mods)
    graph = {m: imports(m, p, known) for m, p in mods.items()}
    # a package's __init__ importing its own submodules is not an edge between parts
    if args.edges:
        print("# module edges")
        for m in sorted(graph):
            for t in sorted(graph[m]):
                print(f"{m} -> {t}")
    print(f"# {len(mods)} modules, {sum(len(v) for v in graph.values())} import edges ({args.src})")
    found = cycles(graph)
    print(f"\n# module cycles: {len(found) or 'none'}")
    for comp in found:
        print("  " + " <-> ".join(comp))
    pkg: dict[str, set[str]] = defaultdict(set)
    for m, targets in graph.items():
        for t in targets:
            if package(t) != package(m):
                pkg[package(m)].add(package(t))
    print("\n# package edges (globmed.X -> globmed.Y)")
    for p in sorted(pkg):
        print(f"  {p} -> {', '.join(sorted(pkg[p]))}")
    pcycles = cycles(pkg)
    print(f"\n# package cycles: {len(pcycles) or 'none'}")
    for comp in pcycles:
        print("  " + " <-> ".join(comp))
    print("\n# modules that spell a folder layout (string literals outside docstrings)")
    owners: dict[str, list[str]] = defaultdict(list)
    for m, p in mods.items():
        for literal in layout_literals(p):
            owners[literal].append(m)
    for literal, what in LAYOUT_LITERALS.items():
        print(f"  {literal!r:32} ({what}): {', '.join(sorted(owners.get(literal, []))) or '-'}")


if __name__ == "__main__":
    main()
