"""The regexes of answer extraction, composed from the language tables (globmed/languages/<code>.yaml,
`extraction:` and `nli.labels`), one set per language, always merged with English's.

No sentence is special-cased here: each rule is a shape (answer phrase -> letter, letter -> verdict,
conclusion marker -> letter) whose words come from the table fields:

  answer_phrases      "the answer is", "Lösung", "réponse retenue", "jibu la mwisho"
  choice_verbs        "I choose", "I'd go with", "elijo", "我选", "ninachagua"   (before the letter)
  conclusion_markers  "therefore", "daher", "donc", "因此", "したがって", "kwa hiyo", "kon"
  copulas             "is", "ist", "est", "为", "ni", "mooy", "ngu"
  fillers             articles and short words before a letter: "the", "la", "die", "u", "바로"
  option_words        words for "option" and "letter": "option", "letra", "herufi", "araf", "選択肢"
  verdicts            what a letter is said to be, after it: "correct", "richtig", "正解", "맞습니다",
                      "sahihi", "dëggu", "tọ̀nà", "ulungile"; also choices made after the letter ("を選びます")
  negations           words that negate what follows ("not", "nicht", "不", "si", "du", "kò")
  negations_after     words that negate what precedes (Japanese "ません", Korean "않")
  conditionals        "if", "wenn", "如果", "kama": a letter in a clause they open is no answer
  refusal_phrases, letter_words   (see en.yaml's header)

NLI label words are read in every language's words (a French label inside a Wolof answer), except
a word that two languages give different labels.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .. import languages
from ..records import LETTERS

BOX = "\x01"  # what \boxed{...} becomes: an answer marker

LATIN = "A-Za-z\u00c0-\u02af\u1e00-\u1eff"
CLOSERS = r")\]}】」』>"
LETTER = rf"(?-i:([A-J])(?![{LATIN}]|\.[ \t]?[a-z]))"
SEP = r"[\s:=\-–—>\"'“”‘’«»(\[{【「『,，、]*"
CONN = r"(?:[ \t]*[,/&+|、][ \t]*|[ \t]+\w{1,5}[ \t]+|[ \t]*[^\x00-\x7f\s。．！？]{1,3}[ \t]*)"
TERMINAL = re.compile(rf"[ \t]*(?:[.,;:!?。、．\-–—{CLOSERS}]|\n|$|[^\x00-\u02af\s])")
WORD_END = rf"(?=(?-i:[A-J])(?![{LATIN}])|(?!\w))"  # a word ends here, or a capital is glued on
NEGATED = r"(?:[ \t]+[\w'’-]+)?[ \t-]*$"  # after a negation word: one more word at most


def tail(stop_letters: str) -> str:
    """From a letter to its verdict: within one clause, and up to another letter (which starts its own)."""
    other = rf"(?<![{LATIN}'’])(?-i:[{stop_letters}])(?![{LATIN}'’])" if stop_letters else "(?!)"
    return rf"(?:(?!{other})[^.;!?。！？\n,，、]){{0,48}}?"

_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_ACCENTED_CAPS = {
    c: d[0].lower()
    for c in map(chr, [*range(0xC0, 0x250), *range(0x1E00, 0x1F00)])
    if c.isupper() and len(d := unicodedata.normalize("NFD", c)) > 1 and d[0] in LETTERS
}
_LONE_ACCENTED_CAP = re.compile(rf"(?<!\w)([{''.join(_ACCENTED_CAPS)}])[\u0300-\u036f]*(?!\w)")


def normalize(text: str) -> str:
    """NFKC, then drop diacritics (a lone accented capital A-J becomes its lowercase base)."""
    text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        return text
    text = _LONE_ACCENTED_CAP.sub(lambda m: _ACCENTED_CAPS[m.group(1)], text)
    return unicodedata.normalize("NFC", _MARKS.sub("", unicodedata.normalize("NFD", text)))


def key(text: str) -> str:
    """Comparison form of a table word, a label match or an option text."""
    return " ".join(normalize(str(text)).lower().split())


def alternation(words: set[str], start: str, spaced: bool = False, latin_end: bool = False) -> str:
    """One regex for a set of words: longest first, inner spaces matching any whitespace, ' and ’
    alike, each starting where `start` allows. With `spaced` a word must end at a word boundary
    (WORD_END); else with `latin_end`, a word ending in a Latin letter must end there (other
    scripts may take attached particles, as in Korean "모순입니다")."""
    def end(w: str) -> str:
        if spaced and w[-1].isalnum():
            return WORD_END
        return rf"(?![{LATIN}])" if latin_end and re.search(f"[{LATIN}]$", w) else ""

    words = sorted(words, key=lambda w: (-len(w), w))
    if not words:
        return "(?!)"
    body = "|".join(r"\s+".join(re.sub("['’]", "['’]", re.escape(part)) for part in w.split())
                    + end(w) for w in words)
    firsts = "".join(sorted({re.escape(w[0]) for w in words}))
    return rf"(?=[{firsts}]){start}(?:{body})"  # the lookahead lets the engine skip fast


@dataclass(frozen=True)
class Patterns:
    char_tokenized: bool
    letter_words: frozenset[str]
    phrase: re.Pattern  # an answer phrase or a box
    anchored_letter: re.Pattern  # answer phrase / box / choice verb ... letter
    concluded_letter: re.Pattern  # conclusion marker ... letter, ending its sentence
    verdict_letter: re.Pattern  # letter ... verdict (groups: ctx, open, letter, tail, verdict)
    letter_verdict: re.Pattern  # the same anywhere, without a context: to find letters ruled out
    copula_next: re.Pattern  # a copula right after a letter ("A is correct")
    option_letter: re.Pattern
    line_letter: re.Pattern  # a line led by a letter ("B.", "- C) ...", "选项C."): to find option lists
    letter_conflict: re.Pattern
    conflict_before: re.Pattern  # "C or [la] " right before a letter
    conditional: re.Pattern  # "if", "wenn", "如果": a letter after one, in its clause, is no answer
    negation: re.Pattern  # anywhere in a letter's tail
    negation_after: re.Pattern  # right after a verdict
    anchored_label: re.Pattern
    label: re.Pattern
    label_conflict: re.Pattern
    label_of: dict[str, str]
    refusal: re.Pattern
    negated: re.Pattern  # a negation ending right before an NLI label


def _words(tables: list, field: str) -> set[str]:
    return {key(w) for t in tables for w in t.extraction.get(field) or []}


@lru_cache(maxsize=None)
def _all_label_words(codes: tuple[str, ...]) -> dict[str, str]:
    """Every language's NLI label words -> canonical label, less the words two languages disagree on."""
    seen: dict[str, set[str]] = {}
    for lang in map(languages.get, codes):
        for canonical, words in lang.nli["labels"].items():
            for w in [*words, canonical]:
                seen.setdefault(key(w), set()).add(canonical)
    return {w: next(iter(labels)) for w, labels in seen.items() if len(labels) == 1}


def patterns(code: str) -> Patterns:
    """Regexes for one language (its table merged with English's), compiled once per set of tables."""
    return _patterns(code, tuple(languages.codes()))


@lru_cache(maxsize=None)
def _patterns(code: str, codes: tuple[str, ...]) -> Patterns:
    lang, en = languages.get(code), languages.get("en")
    tables = [lang] if lang.code == "en" else [lang, en]
    spaced = not lang.char_tokenized
    start = r"(?<!\w)" if spaced else rf"(?<![{LATIN}])"

    def alt(field: str) -> str:
        return alternation(_words(tables, field), start, spaced, latin_end=True)

    phrase, option, negation, choice, marker = (alt(f) for f in (
        "answer_phrases", "option_words", "negations", "choice_verbs", "conclusion_markers"))
    # verdicts may take particles in any non-Latin script ("정답입니다", "正解です")
    verdict = alternation(_words(tables, "verdicts"), start, latin_end=True)
    copula_words = alternation(_words(tables, "copulas"), "")
    copula = rf"(?:{copula_words})(?:(?=(?-i:[A-J])(?![{LATIN}]))|(?![{LATIN}]))"  # "为C", not "isolated"
    filler = alt("fillers")
    # between a head and its letter: copulas, articles, option words, markers ("is the option", "ist die")
    fill = rf"(?:{SEP}(?:{copula}|{filler}|{option}|{marker})){{0,4}}{SEP}"
    # free words after an answer phrase, when a copula or colon follows ("the answer here would be B")
    free = (rf"(?:(?:[ \t]+(?!{negation}|(?-i:[A-J])(?![{LATIN}]))[^\W\d_]{{1,14}}){{1,3}}" if spaced
            else r"(?:[^\x00-\x7f\s，。、：；！？]{1,4}")
    free = rf"{free}(?=[ \t]*[,，、]?[ \t]*(?:{copula}|{option}|[:：])))?"
    head = rf"(?:{phrase}|{BOX}|{choice})"
    # where a letter may start a clause: a line or clause start, after a marker, a V2 copula
    # ("Daher ist C"), an answer phrase ("la réponse A est correcte"); in non-Latin scripts
    # anywhere outside a Latin word ("저는 B를 선택"); a letter in brackets anywhere
    clause_start = r"(?:^|(?<=[.!?;:,。！？；：，、*•\-–—]))[ \t]*"
    if lang.script != "Latn":
        clause_start = rf"(?:{clause_start}|(?<![{LATIN}0-9])(?<![{LATIN}0-9][ \t]))"
    ctx = (rf"(?:(?P<ctx>{head}|(?<=\w[ \t]){copula})|{marker}[ \t]*[,:]?|{clause_start}|(?=[(\[][A-J][)\]]))")
    letter_words = frozenset(str(w) for t in tables for w in t.extraction.get("letter_words") or [])
    stop_letters = "".join(x for x in LETTERS if x not in letter_words)
    label_of: dict[str, str] = dict(_all_label_words(codes))
    for t in tables:  # the language's own words first: they win a clash with another language
        for canonical, words in t.nli["labels"].items():
            for w in [*words, canonical]:
                label_of[key(w)] = canonical
    labels = alternation(set(label_of), start, latin_end=True)
    cop_head = rf"(?:\s(?:{copula}){SEP})?"
    label_head = rf"(?:{phrase}|{BOX}){SEP}{cop_head}"  # "the answer is:", "\boxed{"
    no_word = rf"(?![ \t]*(?:{phrase}|{option}))"  # "B. Option C is wrong": no "B or C" conflict
    return Patterns(
        char_tokenized=bool(lang.char_tokenized),
        letter_words=letter_words,
        phrase=re.compile(rf"{phrase}|{BOX}", re.I),
        anchored_letter=re.compile(rf"{head}{free}{fill}{LETTER}", re.I),
        concluded_letter=re.compile(rf"{marker}[ \t]*[,:]?{fill}[(\[]?{LETTER}[)\]]?(?=[ \t]*(?:[.!。！]|\n|$))",
                                    re.I | re.M),
        verdict_letter=re.compile(rf"{ctx}{fill}(?P<open>[(\[])?{LETTER.replace('([A-J])', '(?P<letter>[A-J])')}[)\]]?(?P<tail>{tail(stop_letters)})(?P<verdict>{verdict})",
                                  re.I | re.M),
        letter_verdict=re.compile(rf"(?<![{LATIN}'’]){LETTER.replace('([A-J])', '(?P<letter>[A-J])')}[)\]]?"
                                  rf"(?P<tail>{tail(stop_letters)})(?P<verdict>{verdict})", re.I),
        copula_next=re.compile(rf"[)\]]?[ \t]+{copula}|[^\x00-\u02af\s]", re.I),
        option_letter=re.compile(rf"{option}{SEP}{cop_head}{LETTER}", re.I),
        line_letter=re.compile(rf"^[ \t]*(?:[-*•>]+[ \t]*)?(?:{option}[ \t]*)?[(\[]?(?-i:([A-J]))(?=[.):\]]|[ \t]*$)",
                               re.I | re.M),
        letter_conflict=re.compile(rf"[{CLOSERS}.]?{no_word}{CONN}(?:{filler}[ \t-]*)?[(\[]?{LETTER}", re.I),
        conditional=re.compile(alt("conditionals"), re.I),
        conflict_before=re.compile(rf"(?<![{LATIN}])(?-i:[{stop_letters or '-'}])[{CLOSERS}.]?{CONN}(?:{filler}[ \t-]*)?[(\[]?$",
                                   re.I),
        negation=re.compile(negation, re.I),
        negation_after=re.compile(rf"[^.。!！?？\n]{{0,4}}?{alternation(_words(tables, 'negations_after'), '')}", re.I),
        anchored_label=re.compile(rf"{label_head}({labels})", re.I),
        label=re.compile(labels, re.I),
        label_conflict=re.compile(rf"[{CLOSERS}.]?{CONN}[(\[]?({labels})", re.I),
        label_of=label_of,
        refusal=re.compile(alternation(_words(tables, "refusal_phrases"), start), re.I),
        negated=re.compile(negation + NEGATED, re.I),
    )

