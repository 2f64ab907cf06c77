"""Which OCR tokens look misread, and what they could have been. Pure: no model, no I/O.

The corrector never rewrites text freely. It only considers tokens that mix letters and digits
in the ways OCR engines confuse them (``Inv0ice``, ``Tota1``, ``1O.00``), proposes the
confusion-class alternatives, and lets a language model choose between the original and those
alternatives. Tokens that already read as a well-formed number, amount, date or identifier are
frozen: they are never candidates, so a value read right can never be "corrected". Where two
engines disagree on a word of letters, the known words one like letter away
(``misread_alternatives``) are candidates too (``inbox_ocr.correct.fusion.variants``).
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Container
from dataclasses import dataclass

# digit -> letters it is mistaken for (in words), letter -> digit (in numbers).
DIGIT_AS_LETTERS = {"0": "oO", "1": "lIi", "5": "sS", "8": "B", "2": "zZ", "6": "G"}
LETTER_AS_DIGIT = {"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "i": "1", "|": "1",
                   "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6"}

#: A token: a run of non-space characters (the corrector works token by token).
TOKEN = re.compile(r"\S+")
_EDGE_PUNCT = "\"'()[]{}<>,;:!?*"
# Well-formed values: frozen.
_NUMBER = re.compile(r"^[-+]?(\d{1,3}([,.\s]\d{3})+|\d+)([.,]\d{1,4})?%?$")
_DATE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}$")
_TIME = re.compile(r"^\d{1,2}:\d{2}(:\d{2})?$")
# What a misread number may be corrected into: an amount with decimals or a date. A bare
# integer is not enough evidence ("B2", "10S" are more likely codes than misread numbers).
_AMOUNT = re.compile(r"^[-+]?(\d{1,3}([,.]\d{3})+|\d+)[.,]\d{2}$")
MAX_CANDIDATES = 8
MIN_NUMBER_DIGITS = 3
#: A word with digits in it has at least this share of letters (``T0MAT0`` has 4 of 6).
MIN_WORD_LETTERS = 0.6


@dataclass(frozen=True)
class Suspect:
    """A token that may be misread: its position in the line and its alternatives."""

    start: int
    end: int
    token: str
    alternatives: tuple[str, ...]
    kind: str  # "word" (digits inside a word), "number" (letters inside a number),
    # "multi-char" (a letter group read for another: rn/m, cl/d, vv/w), "misread" (a known
    # word one like letter away where the engines disagree), "misread-agreed" (the same
    # where they agree), "second-reading" (another engine read the word otherwise:
    # ``inbox_ocr.correct.fusion``) or "regrouped" (a run of words it split otherwise)
    prior: float = 0.0  # nats added to each alternative's score before the margin test


def is_well_formed_value(core: str) -> bool:
    """A number, amount, percentage, date or time as printed: never touched."""
    return bool(_NUMBER.match(core) or _DATE.match(core) or _TIME.match(core))


def strip_token(token: str) -> tuple[int, str]:
    """``(offset, core)``: the token without its edge punctuation (quotes, brackets, a
    sentence's full stop), and where that core starts in it."""
    left = len(token) - len(token.lstrip(_EDGE_PUNCT))
    core = token.strip(_EDGE_PUNCT)
    # A trailing full stop ends a sentence; a dot inside belongs to the token.
    if core.endswith(".") and not _NUMBER.match(core):
        core = core[:-1]
    return left, core


def find_suspects(line: str, known: Container[str] | None = None) -> list[Suspect]:
    """Tokens of ``line`` that look misread, with their confusion-class alternatives.

    ``known`` (a lexicon, ``inbox_ocr.correct.lexicon``): a digit may become a letter only
    where the result is a known word (``Inv0ice`` -> ``Invoice``; ``PJU6A`` stays)."""
    suspects = []
    for match in TOKEN.finditer(line):
        left, core = strip_token(match.group())
        if not core or is_well_formed_value(core):
            continue
        found = (_word_alternatives(core, known) or _number_alternatives(core)
                 or _multi_alternatives(core, known))
        if found:
            kind, alternatives = found
            start = match.start() + left
            suspects.append(Suspect(start, start + len(core), core, alternatives, kind))
    return suspects


def _word_alternatives(core: str, known: Container[str] | None = None
                       ) -> tuple[str, tuple[str, ...]] | None:
    """``Inv0ice`` -> ``Invoice``: a word of letters with one or two confusable digits.

    Identifiers (``INV-2024-0042``, ``A4``, ``R2D2``) do not qualify: separators, short
    tokens, more than two digits, or digits that are not confusable all freeze the token. A
    token of two or three characters qualifies only with a lexicon, and only for a ``0`` read
    for an ``O`` (``N0:`` -> ``NO:``, ``L0T`` -> ``LOT``).
    """
    if not core.isalnum():
        return None
    digits = [i for i, ch in enumerate(core) if ch.isdigit()]
    letters = sum(ch.isalpha() for ch in core)
    if len(core) < 4:  # "N0", "L0T": only a 0 in a short known word ("1X" is a quantity)
        if known is None or digits != [core.find("0")] or letters != len(core) - 1:
            return None
    elif not digits or len(digits) > 2 or letters < MIN_WORD_LETTERS * len(core):
        return None
    if any(core[i] not in DIGIT_AS_LETTERS for i in digits):
        return None
    # A digit at either end next to a run of capitals is likely a code (e.g. "ABC1").
    options = []
    for i in digits:
        neighbours = core[max(0, i - 1):i] + core[i + 1:i + 2]
        upper = neighbours.isupper() or (i == 0 and core[1:2].isupper())
        options.append([c for c in DIGIT_AS_LETTERS[core[i]] if c.isupper() == upper]
                       or list(DIGIT_AS_LETTERS[core[i]]))
    alternatives = []
    for choice in itertools.product(*options):
        chars = list(core)
        for i, ch in zip(digits, choice, strict=True):
            chars[i] = ch
        alternatives.append("".join(chars))
    if known is not None:
        alternatives = [alt for alt in alternatives if alt in known]
        if not alternatives:
            return None  # no known word: a code (PJU6A), a name, or a word we cannot check
    return "word", tuple(alternatives[:MAX_CANDIDATES])


# Letter groups OCR engines read for one another (``TARNAN`` for ``TAMAN``, ``dient`` for
# ``client``, ``vvork`` for ``work``), both ways.
MULTI_CHAR = (("rn", "m"), ("cl", "d"), ("vv", "w"))


def _multi_alternatives(core: str, known: Container[str] | None
                        ) -> tuple[str, tuple[str, ...]] | None:
    """``dient`` -> ``client``: a word of letters that is no known word, one of whose letter
    groups read the other way is one. Only with a lexicon: without one every word with an
    ``m`` would be a suspect."""
    # Five letters at least: abbreviations ("Incl", "encl") are no known words, and "cl" read
    # back as "d" would make them ones ("Ind", "end"): measured on sroie-dev.
    if known is None or len(core) < 5 or not core.isalpha() or core in known:
        return None
    lowered = core.lower()
    alternatives = []
    for a, b in MULTI_CHAR:
        for old, new in ((a, b), (b, a)):
            start = lowered.find(old)
            while start != -1:
                alt = lowered[:start] + new + lowered[start + len(old):]
                if alt in known:
                    alternatives.append(cased(alt, core))
                start = lowered.find(old, start + 1)
    if not alternatives:
        return None
    return "multi-char", tuple(dict.fromkeys(alternatives))[:MAX_CANDIDATES]


#: A misread word has at least this many letters: shorter ones are a known word at one edit
#: from too many others.
MIN_MISREAD_LETTERS = 4
#: ...and is tried as its most frequent known words at one edit, at most this many.
MAX_MISREAD = 4
#: Letters of alike shapes, which OCR engines read for one another (``AMOUNI``, ``Anount``,
#: ``Deseription``, ``Malavsia``); a misread letter is replaced only within its group.
SHAPES = ("iltfj", "nmhr", "ceoadgq", "uvwy", "bhk", "pfr")
_LOOKALIKES = {ch: "".join(sorted({o for g in SHAPES if ch in g for o in g} - {ch}))
               for ch in set("".join(SHAPES))}
_ASCII = "abcdefghijklmnopqrstuvwxyz"


def misread_alternatives(core: str, known: Container[str] | None) -> tuple[str, ...]:
    """``AMOUNI`` -> ``AMOUNT``, ``Thak`` -> ``Thank``: a word of letters that is no known
    word, and the known words one letter away from it: one letter read as another of a like
    shape (``SHAPES``), or one lost inside the word. The most frequent are tried first. A
    letter is never dropped, nor added at either end: names are no known words, and that
    would make them ones (``JALAN`` -> ``ALAN``, ``Serv`` -> ``Servo``). Only with a lexicon,
    and never a word with a digit: numbers stay as read. Empty when there are none."""
    if (known is None or len(core) < MIN_MISREAD_LETTERS or not core.isalpha()
            or core in known):
        return ()
    lowered = core.lower()
    edits = {lowered[:i] + c + lowered[i + 1:]
             for i, ch in enumerate(lowered) for c in _LOOKALIKES.get(ch, "")}
    edits |= {lowered[:i] + c + lowered[i:] for i in range(1, len(lowered)) for c in _ASCII}
    found = [alt for alt in edits if alt in known]
    frequency = getattr(known, "frequency", lambda _word: 0)
    found.sort(key=lambda alt: (-frequency(alt), alt))
    return tuple(cased(alt, core) for alt in found[:MAX_MISREAD])


def cased(alt: str, like: str) -> str:
    """``alt`` in the case pattern of ``like``: all caps, capitalised or lower case."""
    if like.isupper():
        return alt.upper()
    if like[:1].isupper():
        return alt[:1].upper() + alt[1:]
    return alt


def _number_alternatives(core: str) -> tuple[str, tuple[str, ...]] | None:
    """``1O.00`` -> ``10.00``: a number with confusable letters, only if the fix is well formed.

    At least three digits must be there as read: with fewer, the token is as likely a code
    that merely looks like an amount (a unit number ``LOT G.22`` must not become ``6.22``).
    The fix must be an amount, a plausible date, or a run of digits read with an O in it.
    """
    if sum(ch.isdigit() for ch in core) < MIN_NUMBER_DIGITS:
        return None
    letters = [ch for ch in core if ch.isalpha() or ch == "|"]
    if not letters or len(letters) > 2 or any(ch not in LETTER_AS_DIGIT for ch in letters):
        return None
    fixed = "".join(LETTER_AS_DIGIT.get(ch, ch) for ch in core)
    if not _AMOUNT.match(fixed) and not _plausible_date(fixed) and not digit_run(core):
        return None
    return "number", (fixed,)


def digit_run(core: str) -> bool:
    """``475OO`` -> ``47500``: a run of digits with letters O in it (a postcode or a quantity;
    ``_number_alternatives`` has already asked for three digits and at most two letters).
    Only the O, the letter most like a 0: ``10S`` and ``B2`` stay codes."""
    return all(ch.isdigit() or ch in "Oo" for ch in core)


_DMY = re.compile(r"^(\d{1,2})([-/.])(\d{1,2})\2(\d{2}|\d{4})$")
_YMD = re.compile(r"^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})$")


def _plausible_date(text: str) -> bool:
    """A date a misread may be corrected into: one separator used twice, a day and a month
    in range. ``SB/01-3`` must not become ``58/01-3`` (SROIE dev 151: an item code)."""
    if m := _YMD.match(text):
        return 1 <= int(m[3]) <= 12 and 1 <= int(m[4]) <= 31
    if m := _DMY.match(text):
        a, b = int(m[1]), int(m[3])
        return 1 <= a <= 31 and 1 <= b <= 31 and min(a, b) <= 12
    return False


def replace(line: str, suspect: Suspect, alternative: str) -> str:
    return line[: suspect.start] + alternative + line[suspect.end:]


#: The prior of a document's own word (nats), as for a word neither engine read.
DOCUMENT_WORD_PRIOR = -1.5
#: ... tried for words of at least this many letters.
MIN_DOCUMENT_WORD_LETTERS = 2


def page_words(text: str) -> Counter[str]:
    """How often each word of letters occurs in a page (case folded): the page's own
    vocabulary, for ``document_words``."""
    found: Counter[str] = Counter()
    for token in TOKEN.findall(text):
        core = strip_token(token)[1]
        if core.isalpha():
            found[core.lower()] += 1
        elif (glued := _LETTERS_BEFORE_AMOUNT.match(core)) is not None:
            found[glued[1].lower()] += 1  # "RM13.30": the currency is a word too
    return found


_LETTERS_BEFORE_AMOUNT = re.compile(r"([A-Za-z]{2,3})\d")


def document_words(line: str, vocabulary: Counter[str], known: Container[str] | None,
                   ) -> list[Suspect]:
    """Words of ``line`` that the same page prints more often with one letter of a like
    shape read otherwise (``CST``, ``GSI`` beside ``GST`` three times; ``Menber`` beside
    ``Member``; ``CIN`` beside ``CTN``), each a candidate of kind ``"document-word"`` with prior
    ``DOCUMENT_WORD_PRIOR``: the receipt's own abbreviations and names (``GST``, ``Jln``,
    ``MALURI``) are in no word list, but a misread one is rarer on its page than the word
    it was. Never a known word of ``known``, never a word with a digit (numbers stay as
    read; a digit becomes a letter only into a known word), and the page's word must occur
    more often than the word read. ``vocabulary``: ``page_words`` of the page."""
    suspects = []
    for match in TOKEN.finditer(line):
        left, core = strip_token(match.group())
        if (len(core) < MIN_DOCUMENT_WORD_LETTERS or not core.isalpha()
                or (known is not None and core in known)):
            continue
        lowered = core.lower()
        seen = vocabulary.get(lowered, 0)
        options = {lowered[:i] + c + lowered[i + 1:]
                   for i, ch in enumerate(lowered) for c in _LOOKALIKES.get(ch, "")}
        found = sorted((alt for alt in options if vocabulary.get(alt, 0) > seen),
                       key=lambda alt: (-vocabulary[alt], alt))
        if found:
            start = match.start() + left
            suspects.append(Suspect(start, start + len(core), core,
                                    tuple(cased(alt, core) for alt in found[:MAX_MISREAD]),
                                    "document-word", DOCUMENT_WORD_PRIOR))
    return suspects
