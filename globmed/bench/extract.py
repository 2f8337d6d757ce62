"""Read the answer out of a model's free text: an option letter (MCQA) or an NLI label.

Every word used here comes from the language tables (globmed/languages/<code>.yaml: extraction
and nli.labels), always merged with English's, because models often answer in English whatever
the prompt language; the regexes are composed from those words in `extract_rules`. The only
script handling is generic: `char_tokenized` languages (zh, ja) match words as substrings, others
as whole words ("jibu" is not in "kujibu"; "antwort" is not in "Antwortmöglichkeit"; a capital
letter may be glued on: "nguB", "답은B").

Layers, in order; the first that decides wins (a decision may be None = unparsed):

0. Clean-up. `<think>...</think>` is dropped: the answer is the text after the last `</think>`;
   an unclosed `<think>` means the model never finished reasoning -> None. NFKC (full-width
   "Ｂ", "（", "：" become ASCII), diacritics are removed so matching is accent-insensitive (a
   lone accented capital such as French "À" or Portuguese "É" is a word, not a letter, so it is
   lowercased). LaTeX and markdown are unwrapped: `\\text{X}` -> X, `\\boxed{X}` -> an answer
   marker (it counts like an answer phrase), a letter in **bold** / *italics* / `code` / `\\text`
   becomes "(X)", other emphasis and heading marks are dropped. A lowercase letter in brackets
   "(c)" becomes "(C)" (but "(i)" stays a roman numeral where "(ii)" follows).
1. Statements (MCQA), each a shape whose words come from the tables:
   strong: a head (answer phrase, box, verb of choosing: "the answer is", "Lösung", "I'd go
   with", "我选") then the letter, with copulas, fillers (articles), option/letter words and
   markers allowed between ("the answer is the option B", "la respuesta es la letra C",
   "答案为C", "ngu-B"), and up to three free words when a copula or colon follows them ("the
   best answer here would be B", "Réponse retenue : B"); or a conclusion marker then a letter
   that ends its sentence ("Hence, B.", "综上，E。");
   weak: a letter at a clause start (or after a marker, a copula in verb-second order: "Daher
   ist C", an answer phrase; in a non-Latin script anywhere outside a Latin word; a bracketed
   letter anywhere) followed in the same clause by a verdict ("B is correct", "la B es la
   correcta", "Bが正解です", "B가 맞습니다", "B ndilo jibu sahihi", "B mooy tontu bi",
   "U-B uyimpendulo efanele", "Therefore C fits best"). A negation between the letter and its
   verdict, or one of `negations_after` right after it ("C is not correct", "Cは正しくありません"),
   makes the statement rule that letter OUT; a second letter in between ("C or D is correct")
   makes it a conflict, and so does a letter followed by another option's text ("C. <text of D>").
   The LAST strong statement wins, else the last weak one, so reasoning and self-corrections are
   read right; but a letter ruled out further on gives None ("C seems right, but... C is not
   correct"). Not statements: a question ("Is B correct?"), a letter in a clause opened by a
   condition ("If C were correct, ...", `conditionals`), anything inside a refusal ("I
   cannot answer B"), a letter that is also a word (`letter_words`: English "A", "I";
   Portuguese "E") unless marked: followed by punctuation, a line end or a non-Latin character
   after a head; bracketed, after a copula or followed by one ("A is correct") for a verdict.
   Two letters joined by a connector ("A or C", "B/C") -> None; an option word is no connector
   ("B. Option C is wrong" -> B). The letters of an option list (lines led by consecutive
   letters, "B.\n\nC. ...", as small models copy the prompt's options) are no statement.
2. (MCQA) Marked letters: a final line that is a bare letter ("B", "(B)", "B."); else the last
   letter after an option word ("Option B is right"); else lines that start with a letter
   ("B) Aspirin"), if they agree; else the last line holding bracketed letters "(B)", if they
   agree. A short final line naming two letters -> None. A letter ruled out in layer 1 is None.
   Where the text holds an option list, neither a bare final line nor line-led letters count.
3. Refusals (the language's and English refusal phrases) -> None.
4. Weak evidence. MCQA: the option *text* named right after the last answer phrase, else on a
   final line that names no letter (case-, accent- and space-insensitive; an option whose text
   lies inside another matching option's text is dropped; exactly one must remain). NLI: the
   labels on the final line, else in a short response, but not negated ones (a `negations` word
   at most two words before, same clause: "not entailed; it is neutral" -> neutral; a
   `negations_after` word right after: "矛盾でなく"); one label must remain, and not one that is
   also denied there ("not an entailment, but ... an entailment" -> None).

NLI answers are read like layer 1's strong statements (an answer phrase or box then a label; the
last wins; "entailment or neutral" -> None), then layers 3-4. A label word of ANY language counts
(a French "neutre" in a Wolof answer), except words that two languages give different labels.

A letter beyond the number of options and an NLI label not in `options` are never returned:
the answer is None then. A letter followed by ". lowercase" ("E. coli") is an abbreviation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .extract_rules import BOX, CLOSERS, CONN, LATIN, LETTER, LETTERS, TERMINAL, Patterns, key, normalize, patterns

__all__ = ["extract_answer", "strip_reasoning"]

SHORT_RESPONSE = 300  # characters: an NLI response this short may name its label anywhere
SHORT_LINE = 40  # a final line this short naming two letters is a conflict ("B and C")

_LONE = re.compile(rf"[(\[{{【「『<]*{LETTER}[\s.:;,!。{CLOSERS}]*$")
_LEAD = re.compile(rf"[(\[{{【「『<]*{LETTER}[ \t]*[.:\-–—{CLOSERS}][ \t]*\S")
_BRACKETED = re.compile(rf"[(\[{{【「『<]{LETTER}[{CLOSERS}]")
_LETTER_LIST = re.compile(rf"[(\[]?{LETTER}[)\].]?(?:{CONN}[(\[]?{LETTER}[)\].]?)+[\s.!]*")
_STANDALONE = re.compile(rf"(?<![{LATIN}'’]){LETTER}(?!['’])")
_SENTENCE_END = re.compile(r"[.!?。！？\n]")
_CLAUSE_START = re.compile(r"[.;!?。！？；\n][^.;!?。！？；\n]*$")
_AFTER_LETTER = re.compile(rf"^[ \t]*[.:\-–—{CLOSERS}]*[ \t]*")

_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_TEX_WRAP = re.compile(r"\\(?:text[a-z]*|math[a-z]*|operatorname|emph)\s*\{([^{}]*)\}")
_TEX_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{([^{}]*)\}")
_TEX_JUNK = re.compile(r"\\[()\[\]]|\$")
_EMPH_LETTER = re.compile(r"(\*\*|__|\*|`)[ \t]*[(\[]?([A-J])[)\].:]?[ \t]*\1")
_EMPH = re.compile(r"\*+|_{2,}|`+|~~|^[ \t]*#+[ \t]*", re.M)
_BARE_LETTER = re.compile(r"[(\[]?([A-J])[)\].]?")
_LOWER_BRACKETED = re.compile(r"(?<![\w(\[])([(\[])([a-j])([)\]])(?!\w)")
_ROMAN_LIST = re.compile(r"[(\[]ii[)\]]")


def strip_reasoning(text: str | None) -> str | None:
    """The answer part of `text`: after the last `</think>`; None when a `<think>` is unclosed."""
    if not text:
        return None
    if _THINK_CLOSE in text:
        text = text.rsplit(_THINK_CLOSE, 1)[1]
    return None if _THINK_OPEN in text else text.strip()


def _wrap_letter(m: re.Match) -> str:
    inner = m.group(1).strip()
    return f"({inner.strip('()[]. ')})" if _BARE_LETTER.fullmatch(inner) else inner


def _unwrap(text: str) -> str:
    """LaTeX and markdown -> plain text; boxed content -> answer marker; emphasized letter -> (X);
    a lowercase letter in brackets -> (X) ("(c)"; "(i)" stays when "(ii)" shows a roman list)."""
    if "\\" in text:
        for _ in range(3):  # \boxed{\text{B}}: innermost first
            text, count = _TEX_WRAP.subn(_wrap_letter, text)
            if not count:
                break
        text = _TEX_BOXED.sub(lambda m: f" {BOX} ({m.group(1).strip(' ()[]')}) ", text)
    text = _TEX_JUNK.sub(" ", text)
    text = _EMPH_LETTER.sub(r"(\2)", text)
    roman = bool(_ROMAN_LIST.search(text))
    text = _LOWER_BRACKETED.sub(
        lambda m: m.group(0) if roman and m.group(2) == "i" else f"({m.group(2).upper()})", text)
    return _EMPH.sub("", text)


def _in_range(letter: str | None, n: int) -> str | None:
    return letter if letter is not None and LETTERS.index(letter) < n else None


def _refused(text: str, i: int, p: Patterns) -> bool:
    """Whether position i lies inside a refusal phrase ("I cannot answer"); they are short: look near i."""
    return any(r.start() <= i < r.end() for r in p.refusal.finditer(text, max(0, i - 99), i + 99))


def _conditional(text: str, at: int, p: Patterns) -> bool:
    """Whether position `at` lies in a condition ("If C were correct, ..."): after a conditional word
    of its sentence, before the comma that closes the condition ("If X, the answer is B" is read)."""
    m = _CLAUSE_START.search(text, max(0, at - 80), at)
    *_, last = [None, *p.conditional.finditer(text, m.start() if m else max(0, at - 80), at)]
    return last is not None and not re.search("[,，、]", text[last.end():at])


def _question(text: str, end: int) -> bool:
    """Whether the sentence going on at `end` ends with a question mark ("Is B correct?")."""
    m = _SENTENCE_END.search(text, end)
    return m is not None and m.group() in "?？"


@dataclass(frozen=True)
class _Statement:
    """One place where the text says which letter is the answer (letter None: "A or C")."""
    pos: int
    letter: str | None
    strong: bool  # after an answer phrase, a box, a verb of choosing, a conclusion marker
    negative: bool = False  # "C is not correct": rules C out


def _listed(text: str, p: Patterns) -> set[int]:
    """Where the letters of an option list stand: lines led by consecutive letters ("B.\nC.", copied
    from the prompt or enumerated while reasoning) are no answer."""
    led = [(m.start(1), LETTERS.index(m.group(1))) for m in p.line_letter.finditer(text)]
    listed = set()
    for (pos_a, a), (pos_b, b) in zip(led, led[1:]):
        end_a = text.find("\n", pos_a)
        if b == a + 1 and end_a >= 0 and not text[end_a:text.rfind("\n", 0, pos_b) + 1].strip():
            listed |= {pos_a, pos_b}  # next lines (blank lines between): an option list
    return listed


def _other_text(text: str, end: int, letter: str, keys: list[str]) -> bool:
    """Whether the letter ending at `end` is followed by ANOTHER option's text ("C. Pioglitazone"
    where C is Glibenclamide): the letter and the text disagree, two answers."""
    rest = key(_AFTER_LETTER.sub("", text[end:].split("\n", 1)[0], count=1))
    i = LETTERS.index(letter)
    own = keys[i] if i < len(keys) else ""
    if not rest or (own and rest.startswith(own)):
        return False
    return any(k and len(k) > 2 and rest.startswith(k) for j, k in enumerate(keys) if j != i)


def _statements(text: str, p: Patterns, listed: set[int], keys: list[str]) -> list[_Statement]:
    """Every letter statement, in text order (see the module doc, layer 1)."""
    out = []
    for m in p.anchored_letter.finditer(text):  # "the answer is B", "I choose B", "\boxed{B}"
        letter, end = m.group(1), m.end()
        if _refused(text, m.start(), p) or _question(text, end) or m.start(1) in listed \
                or _conditional(text, m.start(), p):
            continue
        if p.letter_conflict.match(text, end) or _other_text(text, end, letter, keys):
            out.append(_Statement(m.start(1), None, True))
        elif letter not in p.letter_words or TERMINAL.match(text, end):
            out.append(_Statement(m.start(1), letter, True))
    for m in p.concluded_letter.finditer(text):  # "Therefore, B."
        if not _refused(text, m.start(), p) and not _conditional(text, m.start(), p):
            out.append(_Statement(m.start(1), m.group(1), True))
    for m in p.verdict_letter.finditer(text):  # "B is correct", "Bが正解です", "B ndilo jibu sahihi"
        letter = m.group("letter")
        if _refused(text, m.start(), p) or _question(text, m.end()) or _conditional(text, m.start("letter"), p):
            continue
        if letter in p.letter_words and not (m.group("open") or m.group("ctx")
                                             or p.copula_next.match(text, m.end("letter"))):
            continue  # "A correct diagnosis needs..." is no answer; "A is correct" is
        at = m.start("letter")
        if p.conflict_before.search(text, max(0, at - 16), at - bool(m.group("open"))):  # "C or D is correct"
            out.append(_Statement(at, None, False))
            continue
        out.append(_Statement(at, letter, False, _negated(m, text, p)))
    # a letter is ruled out wherever it stands ("..., but C is not correct"): that can only unparse
    for m in p.letter_verdict.finditer(text):
        if _negated(m, text, p) and not _question(text, m.end()):
            out.append(_Statement(m.start("letter"), m.group("letter"), False, True))
    return sorted(set(out), key=lambda s: s.pos)


def _negated(m: re.Match, text: str, p: Patterns) -> bool:
    """Whether a letter's verdict is negated: a negation in between, or one right after it."""
    return bool(p.negation.search(m.group("tail")) or p.negation_after.match(text, m.end()))


def _decide(statements: list[_Statement], n: int) -> tuple[bool, str | None]:
    """(found, letter): the last strong statement, else the last other one; None when the letter it
    names is ruled out further on ("C seems right, but... C is not correct")."""
    for strong in (True, False):
        group = [s for s in statements if s.strong == strong and not s.negative]
        if group:
            last = group[-1]
            if any(s.negative and s.letter == last.letter and s.pos > last.pos for s in statements):
                return True, None
            return True, _in_range(last.letter, n)
    return False, None


def _option_letter(text: str, p: Patterns, listed: set[int]) -> tuple[bool, str | None]:
    """(found, letter) from the last option word followed by a letter ("Option C is right")."""
    found, last = False, None
    for m in p.option_letter.finditer(text):
        if _refused(text, m.start(), p) or m.start(1) in listed or _conditional(text, m.start(), p):
            continue
        if p.letter_conflict.match(text, m.end()):
            found, last = True, None
        elif m.group(1) not in p.letter_words or TERMINAL.match(text, m.end()):
            found, last = True, m.group(1)
    return found, last


@dataclass(frozen=True)
class _Reading:
    """An MCQA output as the layers read it."""
    text: str
    lines: list[str]  # its non-blank lines, stripped
    listed: set[int]  # where the letters of an option list stand (`_listed`)
    keys: list[str]  # the options' texts as compared (`key`)
    n: int  # how many options there are


# (decided, letter): a layer that decides ends the reading, and its decision may be None (unparsed)
_Decision = tuple[bool, str | None]
_UNDECIDED: _Decision = (False, None)


def _mcqa(text: str, p: Patterns, options: list[str]) -> str | None:
    n = min(len(options), len(LETTERS)) or len(LETTERS)
    r = _Reading(text, [line.strip() for line in text.splitlines() if line.strip()], _listed(text, p),
                 [key(o).strip(" .;:,!?") for o in options[:n]], n)
    # 1. statements: answer phrases, boxes, choices, conclusions; then letters given a verdict
    statements = _statements(text, p, r.listed, r.keys)
    last_line = text.rstrip().rfind("\n") + 1
    if _LETTER_LIST.fullmatch(r.lines[-1]) and not any(s.strong and s.pos >= last_line for s in statements):
        return None  # a final line listing letters ("B, D"), not one answering ("I chose C"): a conflict
    found, last = _decide(statements, n)
    if found:
        return last
    ruled_out = {s.letter for s in statements if s.negative}
    # 2. marked letters, 3. refusals, 4. the option's text; a letter ruled out in layer 1 is no answer
    for layer in (_marked_letter, _refusal, _option_text):
        found, letter = layer(r, p)
        if found:
            return None if letter in ruled_out else _in_range(letter, n)
    return None


def _marked_letter(r: _Reading, p: Patterns) -> _Decision:
    """Layer 2: a bare final line, option words, lines led by a letter, bracketed letters; none from an
    option list: where the text holds one, lines led by a letter are no answer."""
    final = r.lines[-1]
    if not r.listed and (m := _LONE.match(final if len(r.lines) > 1 else final.upper())):
        return True, m.group(1)
    found, last = _option_letter(r.text, p, r.listed)
    if found:
        return True, last
    named = {x for x in _STANDALONE.findall(final) if x not in p.letter_words}
    if len(final) <= SHORT_LINE and len(named | set(_BRACKETED.findall(final))) > 1:
        return True, None  # a short final line naming two letters ("B and C")
    if not r.listed and (decision := _led_lines(r))[0]:
        return decision
    return _bracketed_line(r)


def _led_lines(r: _Reading) -> _Decision:
    """Lines that start with a letter ("B) Aspirin"), if they agree; a line led by a letter and followed by
    another option's text ("C. <option D's text>") is a conflict."""
    led_lines = [(m, line) for line in r.lines if (m := _LEAD.match(line) or _LONE.match(line))]
    led = {m.group(1) for m, _ in led_lines if _in_range(m.group(1), r.n)}
    if not led:
        return _UNDECIDED
    if any(_other_text(line, m.end(1), m.group(1), r.keys) for m, line in led_lines):
        return True, None
    return True, led.pop() if len(led) == 1 else None


def _bracketed_line(r: _Reading) -> _Decision:
    """The last line holding bracketed letters "(B)", if they agree."""
    for line in reversed(r.lines):
        marked = {x for x in _BRACKETED.findall(line) if _in_range(x, r.n)}
        if marked:
            return True, marked.pop() if len(marked) == 1 else None
    return _UNDECIDED


def _refusal(r: _Reading, p: Patterns) -> _Decision:
    """Layer 3: a refusal anywhere is no answer."""
    return (True, None) if p.refusal.search(r.text) else _UNDECIDED


def _option_text(r: _Reading, p: Patterns) -> _Decision:
    """Layer 4: the option's text, after the last answer phrase or on a final line that names no letter;
    an option whose text lies inside another matching option's text is dropped; one must remain."""
    for region in _regions(r.text, p, r.lines):
        hits = {i for i, k in enumerate(r.keys) if k and _contains(region, k, p.char_tokenized)}
        hits = {i for i in hits if not any(r.keys[i] != r.keys[j] and r.keys[i] in r.keys[j] for j in hits)}
        if hits:
            return True, LETTERS[hits.pop()] if len(hits) == 1 else None
    return _UNDECIDED


def _regions(text: str, p: Patterns, lines: list[str]) -> list[str]:
    """Where a final answer in words should be: right after the last answer phrase; the final line."""
    regions = []
    *_, last = [None, *p.phrase.finditer(text)]
    if last is not None:
        rest = [line for line in text[last.end():].splitlines() if line.strip()]
        regions += [key(rest[0])] if rest else []
    if not {x for x in _STANDALONE.findall(lines[-1]) if x not in p.letter_words}:
        regions.append(key(lines[-1]))  # a line discussing letters ("C is tempting, but...") names no answer
    return regions


def _contains(haystack: str, needle: str, char_tokenized: bool) -> bool:
    """`needle` in `haystack` as whole words (as a substring for char-tokenized languages)."""
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        if char_tokenized or ((start == 0 or not haystack[start - 1].isalnum())
                              and (end == len(haystack) or not haystack[end].isalnum())):
            return True
        start = haystack.find(needle, start + 1)
    return False


def _nli(text: str, p: Patterns, options: list[str]) -> str | None:
    def label(m: re.Match, negatable_in: str = "") -> str | None:
        """The label `m` names; None when negated in `negatable_in` ("not entailed")."""
        i = m.lastindex or 0
        if negatable_in and (p.negated.search(negatable_in, max(0, m.start(i) - 80), m.start(i))
                             or p.negation_after.match(negatable_in, m.end(i))):
            return None
        return p.label_of.get(key(m.group(i)))

    # 1. anchored: the last answer phrase / box followed by a label word
    found, last = False, None
    for m in p.anchored_label.finditer(text):
        if _refused(text, m.start(), p):
            continue
        other = p.label_conflict.match(text, m.end())
        found, last = True, None if other and label(other, text) not in (None, label(m)) else label(m)
    if not found:
        # 3. refusals, then 4. the labels on the final line, else in a short response
        if p.refusal.search(text):
            return None
        lines = [line for line in text.splitlines() if line.strip()]
        for region in (lines[-1], text if len(text) <= SHORT_RESPONSE else ""):
            found_here = list(p.label.finditer(region))
            seen = {label(m, region) for m in found_here} - {None}
            denied = {label(m) for m in found_here if label(m, region) is None}
            if seen:  # a label both denied and asserted ("not an entailment, but ... an entailment"): no answer
                last = seen.pop() if len(seen) == 1 and not seen & denied else None
                break
    return last if last in options else None


def extract_answer(output: str, language: str, task: str, options: list[str]) -> str | None:
    """The answer in a model's `output`: for task "mcqa" the option letter ("A" for options[0], up
    to "J"), for task "nli" one of the canonical labels in `options`; None when unparsed
    (empty, refusal, unfinished reasoning, conflicting or no clear answer). See the module doc."""
    if task not in ("mcqa", "nli"):
        raise ValueError(f"unknown task {task!r}: expected 'mcqa' or 'nli'")
    p = patterns(language)
    text = strip_reasoning(output)
    if not text:
        return None
    text = _unwrap(normalize(text)).strip()
    if not text:
        return None
    return _mcqa(text, p, list(options)) if task == "mcqa" else _nli(text, p, list(options))
