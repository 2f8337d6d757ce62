"""Dependencies that hold: every package globmed imports is declared in pyproject.toml (in the core
dependencies or in the extra of the module importing it), nothing declared goes unused, each requirement
has a floor and a cap below the next major release, and constraints.txt (what CI installs with) pins a
version inside every declared range, keeps torch at the Makefile's pin and holds no CUDA package.

Import names are mapped to distributions by the installed packages' own metadata
(importlib.metadata.packages_distributions), not by a table written here."""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import re
import sys

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

# Which extra a module may import from, beyond the core dependencies (a module that is not listed needs
# only the core). These are the modules behind `pip install 'globmed[EXTRA]'` in their error messages.
EXTRA_OF = {
    "globmed/train/": "train",
    "globmed/space/": "space",
    "globmed/review/": "review",
    "globmed/backends/transformers_local.py": "local",
    "globmed/tiny_model.py": "local",
    "globmed/translate/ner.py": "local",
    "globmed/models/fetch.py": "local",
}
# Imported but deliberately not declared: the code catches the ImportError and says what to install.
OPTIONAL = {"bert_score": "globmed.bench.metrics.bertscore: `pip install bert-score`"}
# Declared but not imported by name: needed at run time by a call into another package.
USED_WITHOUT_IMPORT = {
    "jinja2": "tokenizer.apply_chat_template renders chat templates with jinja2 (transformers does not install it)",
    "transformers": "`transformers serve` (the [serving] extra) runs the OpenAI-compatible test/demo server",
    "gguf": "transformers reads the GGUF files of `globmed models fetch` through it (from_pretrained(gguf_file=...))",
    "accelerate": "transformers needs it to load a GGUF file (`globmed models fetch`)",
}


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def requirements() -> dict[str, list[Requirement]]:
    """'core' and each extra -> its requirements, with self-references (globmed[a,b]) expanded."""
    project = pyproject()["project"]
    raw = {"core": project["dependencies"], **project["optional-dependencies"]}

    def expand(group: str) -> list[Requirement]:
        out = []
        for text in raw[group]:
            req = Requirement(text)
            if canonicalize_name(req.name) == "globmed":
                for extra in sorted(req.extras):
                    out += expand(extra)
            else:
                out.append(req)
        return out

    return {group: expand(group) for group in raw}


def imports_by_module() -> dict[str, set[str]]:
    """Module path -> the top-level third-party packages it imports (at the top or inside functions)."""
    out = {}
    for path in sorted((ROOT / "globmed").rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
        out[path.relative_to(ROOT).as_posix()] = {n for n in names if n not in sys.stdlib_module_names and n != "globmed"}
    return out


def extra_of(module: str) -> str | None:
    return next((extra for prefix, extra in EXTRA_OF.items() if module.startswith(prefix)), None)


@functools.lru_cache(maxsize=None)
def _distributions() -> dict[str, list[str]]:
    return importlib.metadata.packages_distributions()


def distribution(import_name: str) -> str:
    dists = _distributions().get(import_name)
    assert dists, f"{import_name} is imported but not installed here, so its distribution is unknown"
    return canonicalize_name(dists[0])


def test_every_import_is_declared_where_the_module_lives():
    reqs = requirements()
    core = {canonicalize_name(r.name) for r in reqs["core"]}
    missing = []
    for module, names in imports_by_module().items():
        extra = extra_of(module)
        allowed = core | ({canonicalize_name(r.name) for r in reqs[extra]} if extra else set())
        for name in sorted(names - set(OPTIONAL)):
            if distribution(name) not in allowed:
                missing.append(f"{module} imports {name} ({distribution(name)}), not declared in "
                               f"{'core or [' + extra + ']' if extra else 'the core dependencies'}")
    assert not missing, "\n".join(missing)
    for extra in ("local", "train"):  # both render chat templates
        assert "jinja2" in {canonicalize_name(r.name) for r in reqs[extra]}, extra


def test_nothing_declared_goes_unused():
    imported = {distribution(n) for names in imports_by_module().values() for n in names - set(OPTIONAL)}
    reqs = requirements()
    unused = sorted({canonicalize_name(r.name) for group, rs in reqs.items() if group != "test" for r in rs}
                    - imported - set(USED_WITHOUT_IMPORT))
    assert not unused, f"declared but never imported by globmed: {unused}"
    assert "httpx" not in {canonicalize_name(r.name) for r in reqs["core"]}


def test_each_requirement_has_a_floor_and_a_cap_below_the_next_major():
    """One floor (>=) and one cap (<) each; the cap is the major release after the version CI tests with
    (constraints.txt): 3.x is capped <4, 0.x (no stable major yet) <1."""
    pins = constraints()
    bad = []
    for group, reqs in requirements().items():
        for req in reqs:
            floors = [Version(s.version) for s in req.specifier if s.operator == ">="]
            caps = [Version(s.version) for s in req.specifier if s.operator == "<"]
            if len(floors) != 1 or len(caps) != 1:
                bad.append(f"[{group}] {req}: needs exactly one >= floor and one < cap")
                continue
            tested = Version(pins.get(canonicalize_name(req.name), "0"))
            if caps[0] != Version(str(tested.major + 1)):
                bad.append(f"[{group}] {req}: CI tests {tested}, so the cap is <{tested.major + 1}")
    assert not bad, "\n".join(bad)


def test_floors_match_the_apis_used():
    """The floors that an API sets, checked against the API's own history: scipy's bootstrap took
    `rng=` in 1.15 (it was `random_state=` before), which globmed.bench.metrics passes."""
    import inspect

    from scipy import stats

    core = {canonicalize_name(r.name): r for r in requirements()["core"]}
    assert "rng" in inspect.signature(stats.bootstrap).parameters
    assert Version("1.14.1") not in core["scipy"].specifier and Version("1.15.0") in core["scipy"].specifier
    metrics = (ROOT / "globmed" / "bench" / "metrics.py").read_text(encoding="utf-8")
    assert "rng=np.random.default_rng(seed)" in metrics


# -- constraints.txt: what CI installs with ---------------------------------------------------------------
def constraints() -> dict[str, str]:
    pins = {}
    for number, line in enumerate((ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        req = Requirement(line)
        (spec,) = req.specifier
        assert spec.operator == "==", f"constraints.txt:{number}: pin one version with ==, got {line!r}"
        pins[canonicalize_name(req.name)] = spec.version
    return pins


def test_constraints_pin_every_declared_dependency_inside_its_range():
    pins = constraints()
    problems = []
    for group, reqs in requirements().items():
        for req in reqs:
            name = canonicalize_name(req.name)
            if name not in pins:
                problems.append(f"[{group}] {req.name} is not pinned in constraints.txt")
            elif Version(pins[name]) not in req.specifier:
                problems.append(f"[{group}] {req}: constraints.txt pins {pins[name]}, outside the declared range")
    assert not problems, "\n".join(problems)


def test_constraints_keep_the_makefile_torch_and_no_cuda_packages():
    pins = constraints()
    torch_pin = re.search(r"^TORCH \?= torch==(\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)
    assert pins["torch"] == torch_pin
    assert not [n for n in pins if n.startswith(("nvidia-", "triton", "cuda"))]
    assert "globmed" not in pins
    text = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert "make constraints" in text  # the file says how to refresh it
    assert "+" not in "".join(pins.values())  # no local versions (torch 2.13.0+cpu matches torch==2.13.0)


def test_makefile_installs_with_the_constraints():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^PIP_INSTALL = \$\(BIN\)/pip install --quiet -c \$\(CONSTRAINTS\)$", makefile, re.M)
    assert re.search(r"^CONSTRAINTS \?= constraints.txt$", makefile, re.M)
    recipes = [line.strip() for line in makefile.splitlines() if line.startswith("\t")]
    installs = [line for line in recipes if "$(PIP_INSTALL)" in line]
    assert len(installs) >= 4  # torch, .[all], .[test], deepspeed
    bare = [line for line in recipes if "pip install" in line and "--upgrade pip" not in line and "echo" not in line]
    assert not bare, f"installs that bypass constraints.txt: {bare}"
