"""Where a dataset's files lie under a sources folder, as its public releases unpack them.

The registry lists, per dataset, the layouts of its releases (`files`, best first), the files of
a release that are not read and why (`skip`), and its official translations (`official`).
`locate` applies them to a folder and keeps everything it saw, so that `globmed data sources`
and the build can say what was found, what was left out and why, and what to do when nothing
matched.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from ..registry import DatasetSpec, FilePattern

# "{split}" in a pattern matches these names only (so US/{split}.jsonl does not take US_qbank.jsonl);
# the release's own names are published under the Hub's split names.
SPLIT_NAMES = {"train": "train", "dev": "validation", "valid": "validation", "val": "validation",
               "validation": "validation", "test": "test"}


@dataclass(frozen=True)
class SourceFile:
    path: Path
    rel: str  # the path under the sources folder: how origins and errors name the file
    split: str
    pattern: FilePattern


@dataclass
class Located:
    """What one dataset's layouts found under a sources folder."""

    spec: DatasetSpec
    files: list[SourceFile]  # the source files that are read: those of the first layout that matched
    official: dict[str, list[SourceFile]]  # language -> the official translation's files
    skipped: list[tuple[str, str]]  # (file, reason) for files a skip rule names
    companions: list[str]  # files the reader reads beside the data files
    unused: list[str]  # other files in the dataset's folder(s) that no pattern matched
    folders: list[str]  # the folders looked in, under the sources folder

    @property
    def layout(self) -> FilePattern | None:
        return self.files[0].pattern if self.files else None

    @property
    def screening_spec(self) -> DatasetSpec:
        """The spec to screen these files with: the found layout may allow more options (MedQA's 5-option files)."""
        layout = self.layout
        if layout is not None and layout.options is not None:
            return dataclasses.replace(self.spec, options=layout.options)
        return self.spec


def _regex(pattern: str) -> re.Pattern[str]:
    splits = "|".join(sorted(SPLIT_NAMES, key=len, reverse=True))
    text = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
    return re.compile("^" + text.replace(r"\{split\}", f"(?P<split>{splits})") + "$")


def _folder(pattern: str) -> str:
    """The literal folder a pattern starts in ("medqa/**/x.jsonl" -> "medqa")."""
    first = pattern.split("/", 1)[0]
    return "" if any(c in first for c in "*?[{") else first


def _files(root: Path, folders: list[str]) -> list[str]:
    out: set[str] = set()
    for folder in folders:
        base = root / folder if folder else root
        if base.is_dir():
            out.update(p.relative_to(root).as_posix() for p in base.rglob("*")
                       if p.is_file() and not any(part.startswith(".") for part in p.relative_to(base).parts))
    return sorted(out)


def _match(rels: list[str], root: Path, spec: DatasetSpec, patterns: tuple[FilePattern, ...],
           taken: set[str]) -> list[SourceFile]:
    """The files of the first pattern that matches any of `rels` (not already taken)."""
    for pat in patterns:
        regex = _regex(pat.pattern)
        found = []
        for rel in rels:
            m = regex.match(rel)
            if m and rel not in taken:
                raw = m.groupdict().get("split")
                split = SPLIT_NAMES[raw] if raw else (pat.split or spec.split or "test")
                found.append(SourceFile(root / rel, rel, split, pat))
        if found:
            return found
    return []


def locate(root: Path, spec: DatasetSpec) -> Located:
    patterns = [p.pattern for p in spec.layouts] + [p.pattern for ps in spec.official.values() for p in ps]
    folders = sorted({_folder(p) for p in patterns})
    rels = _files(root, folders)
    skip = [(_regex(rule.pattern), rule.reason) for rule in spec.skip]
    skipped = [(rel, next(reason for regex, reason in skip if regex.match(rel)))
               for rel in rels if any(regex.match(rel) for regex, _ in skip)]
    companion_rules = [_regex(p) for p in spec.companions]
    companions = [rel for rel in rels if any(regex.match(rel) for regex in companion_rules)]
    readable = [rel for rel in rels if rel not in dict(skipped) and rel not in companions]
    official: dict[str, list[SourceFile]] = {}
    taken: set[str] = set()
    # Official translations first: their names are the most specific (".en." in MedExpQA, HEAD_EN/), so a
    # broad source pattern (headqa/{split}_HEAD.json) never takes an English file as the Spanish source.
    for lang, pats in spec.official.items():
        found = _match(readable, root, spec, pats, taken)
        if found:
            official[lang] = found
            taken.update(f.rel for f in found)
    files = _match(readable, root, spec, spec.layouts, taken)
    taken.update(f.rel for f in files)
    unused = []
    for rel in readable:
        if rel in taken:
            continue
        other = next((p for p in spec.layouts if _regex(p.pattern).match(rel)), None)
        if other is not None and files:  # a second copy of the data: say so rather than read it twice
            skipped.append((rel, f"the same data in another layout ({other.pattern}); "
                                 f"{files[0].pattern.pattern} is read instead"))
        else:
            unused.append(rel)
    return Located(spec, files, official, skipped, companions, unused, [f or "." for f in folders])


def example_path(pattern: str, split: str = "test") -> str:
    """A concrete path a pattern accepts, for "put the file here" advice."""
    return pattern.replace("**/", "").replace("{split}", split).replace("*", "00000-of-00001")


def report(located: Located, root: Path) -> dict[str, object]:
    """What `globmed data sources` shows for one dataset (JSON-able); `root` is the sources folder."""
    spec = located.spec
    out: dict[str, object] = {
        "dataset": spec.name, "title": spec.title, "language": spec.language,
        "found": [{"file": f.rel, "split": f.split} for f in located.files],
        "layout": located.layout.pattern if located.layout else None,
        "note": located.layout.note if located.layout else None,
        "official_translations": {lang: [{"file": f.rel, "split": f.split} for f in files]
                                  for lang, files in located.official.items()},
        "companions": located.companions,
        "not_read": [{"file": rel, "reason": reason} for rel, reason in located.skipped],
        "unmatched": located.unused,
        "patterns": list(spec.files),
        "official_patterns": {lang: [p.pattern for p in pats] for lang, pats in spec.official.items()},
    }
    if not located.files:
        example = root / example_path(spec.layouts[0].pattern)
        todo = [f"get {spec.obtain.replace('SOURCES/', f'{root}/')}"] if spec.obtain else []
        todo.append(f"the files must match a pattern above (folders between the dataset's folder and the file "
                    f"are free where a pattern has **/), e.g. {example}")
        if located.unused:
            todo.append(f"{len(located.unused)} file(s) in {', '.join(located.folders)} match no pattern: check their "
                        f"names against the patterns above")
        if located.official:
            todo.append(f"only official translations were found ({', '.join(sorted(located.official))}); the source "
                        f"language of {spec.name} is {spec.language!r}")
        out["todo"] = todo
    return out
