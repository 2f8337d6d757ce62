"""LiveQA Medical (TREC 2017): XML with NLM-QUESTION elements holding Original-Question/SUBJECT,
MESSAGE and ReferenceAnswers/ReferenceAnswer/ANSWER. Parsed with expat so each item knows its line.

The released test file spells its tags `<Original-Question>` and `<ReferenceAnswer>` (3 of its 167
answers `<RefAnswer>`); its readme shows `<Original-Question>` too, and other copies write them in
capitals. Tags are therefore compared by a key that ignores case and punctuation, and the known
spelling variants of a tag are listed once in VARIANTS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from xml.parsers import expat

from ..errors import SourceError
from ..records import LFQARecord, make_id
from ..registry import DatasetSpec
from . import reader
from ._io import Fields, read_text

# Field names as the released test file writes them (used in screening reports).
QUESTION_FIELD = "Original-Question/MESSAGE"
ANSWER_FIELD = "ReferenceAnswers/ReferenceAnswer/ANSWER"
VARIANTS = {"refanswer": "referenceanswer", "refanswers": "referenceanswers"}


def tag_key(tag: str) -> str:
    """"Original-Question", "ORIGINAL_QUESTION" -> "originalquestion"; "RefAnswer" -> "referenceanswer"."""
    key = re.sub(r"[^0-9a-z]", "", tag.lower())
    return VARIANTS.get(key, key)


@dataclass
class Node:
    tag: str
    attrs: dict[str, str]
    line: int
    children: list["Node"] = field(default_factory=list)
    text: str = ""

    @property
    def key(self) -> str:
        return tag_key(self.tag)

    def find(self, path: str) -> "Node | None":
        node: Node | None = self
        for key in path.split("/"):
            node = next((c for c in node.children if c.key == key), None) if node else None
        return node

    def walk(self, key: str) -> Iterator["Node"]:
        """Descendants with this key (not looking inside a match)."""
        for child in self.children:
            if child.key == key:
                yield child
            else:
                yield from child.walk(key)


def parse(text: str, display: str) -> Node:
    parser = expat.ParserCreate()
    root = Node("#document", {}, 1)
    stack = [root]

    def start(tag: str, attrs: dict[str, str]) -> None:
        node = Node(tag, attrs, parser.CurrentLineNumber)
        stack[-1].children.append(node)
        stack.append(node)

    def end(tag: str) -> None:
        stack.pop()

    def chars(data: str) -> None:
        stack[-1].text += data

    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = start, end, chars
    try:
        parser.Parse(text, True)
    except expat.ExpatError as exc:
        raise SourceError(display, f"invalid XML: {expat.ErrorString(exc.code)} at column {exc.offset}",
                          line=exc.lineno) from None
    return root


def _text(node: Node | None) -> str | None:
    return " ".join(node.text.split()) or None if node is not None else None


@reader("liveqa")
def read(path: Path, spec: DatasetSpec, split: str, display: str) -> Iterator[LFQARecord]:
    root = parse(read_text(path, display), display)
    for q in root.walk("nlmquestion"):
        original = q.find("originalquestion") or q  # some copies put SUBJECT and MESSAGE directly in the question
        subject, message = _text(original.find("subject")), _text(original.find("message"))
        refs = [_text(r.find("answer")) for r in q.walk("referenceanswer")]
        refs = [r for r in refs if r]
        f = Fields({QUESTION_FIELD: message, ANSWER_FIELD: refs[0] if refs else None})
        question = f.text(QUESTION_FIELD)
        # SUBJECT is often the real question in a few words; keep it unless the message repeats it.
        if question and subject and subject.lower() not in question.lower():
            question = f"{subject}. {question}"
        meta = {"subject": subject, "other_answers": refs[1:]}
        paraphrase = _text(q.find("nistparaphrase"))
        if paraphrase:  # the assessors' rewording of the question (test set only)
            meta["paraphrase"] = paraphrase
        yield LFQARecord(
            # no qid: a hash of the question, so questions without one do not all share an id
            id=make_id(spec.name, split, q.attrs.get("qid"), texts={"question": question}), dataset=spec.name,
            split=split, language=spec.language, question=question, answer=f.text(ANSWER_FIELD), meta=meta,
            origin=f"{display}:{q.line}", issues=f.issues,
        )
