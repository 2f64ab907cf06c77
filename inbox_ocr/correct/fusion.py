"""Where two OCR readings of a line disagree, and which of those words the model may weigh.

RapidOCR reads each line; Tesseract re-reads the same crop for its word breaks
(``ocr.rapidocr_word_breaks = "tesseract"``), and that second reading travels with the page
(``records.LineReading``). Where the two disagree on a word, Tesseract's word becomes a
candidate for the corrector, next to the confusion classes of ``inbox_ocr.correct.confusion``
(``pairs``, ``disagreements``), together with the known words one misread letter away from
either reading (``variants``), and so is a short run of words the two split differently
(``regrouped``); the language model chooses, with each engine's confidence as a prior.

Numbers stay sacred. A second reading never changes a well-formed number, amount, date or
time, and it changes a digit elsewhere only where both engines agree on it
(``may_replace``): where they disagree on digits, the first reading stands, unchanged (a
flagged raw value beats a wrong "corrected" one; field validation judges it).

Pure: no model, no I/O.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re
from collections.abc import Container, Mapping, Sequence
from dataclasses import dataclass

from inbox_ocr.correct.confusion import (
    DIGIT_AS_LETTERS,
    MAX_MISREAD,
    TOKEN,
    Suspect,
    cased,
    digit_run,
    is_well_formed_value,
    misread_alternatives,
    strip_token,
)
from inbox_ocr.records import LineReading

_LETTERS = re.compile(r"[^\W\d_]")
#: The prior's weight: nats per unit of log-odds between the two engines' confidences.
PRIOR_WEIGHT = 1.0
#: Confidences are clipped into this range (0-100) before the log-odds: an engine's 100 is
#: not certainty.
CONFIDENCE_RANGE = (5.0, 95.0)


@dataclass(frozen=True)
class Pair:
    """A word of the line (its core, without edge punctuation, and where that starts) and
    the word the second reading has in its place."""

    start: int
    core: str
    other: str
    prior: float  # log-odds of the second engine's confidence minus the first's, weighted


def pairs(line: str, reading: LineReading) -> list[Pair]:
    """The words of ``line`` that ``reading`` reads otherwise, left to right.

    Words are aligned one to one inside runs that both readings split alike; a run where the
    two split the text differently is left alone. Differences of case or of edge punctuation
    only are no difference.
    """
    tokens, opcodes = _aligned(line, reading)
    found = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag != "replace" or i2 - i1 != j2 - j1:
            continue
        for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
            left, core = strip_token(tokens[i].group())
            _, other = strip_token(reading.words[j])
            if not core or not other or core.lower() == other.lower():
                continue
            prior = PRIOR_WEIGHT * (_log_odds(_at(reading.confidences, j))
                                    - _log_odds(_at(reading.own, i)))
            found.append(Pair(tokens[i].start() + left, core, other, round(prior, 3)))
    return found


def _aligned(line: str, reading: LineReading,
             ) -> tuple[list[re.Match[str]], Sequence[tuple[str, int, int, int, int]]]:
    """The line's words and their alignment with the second reading's (difflib opcodes over
    the words, case folded); no opcodes when either side has no words."""
    tokens = list(TOKEN.finditer(line))
    if not tokens or not reading.words:
        return tokens, []
    matcher = difflib.SequenceMatcher(None, [t.group().lower() for t in tokens],
                                      [w.lower() for w in reading.words], autojunk=False)
    return tokens, matcher.get_opcodes()


def disagreements(found: list[Pair], known: Container[str] | None = None) -> list[Suspect]:
    """The words a second reading reads otherwise (``pairs``) that the numbers rule lets it
    replace (``may_replace``), unless it lost letters of them (``_lost``), each with the
    other reading as its one alternative (kind ``"second-reading"``)."""
    return [Suspect(p.start, p.start + len(p.core), p.core, (p.other,), "second-reading",
                    p.prior)
            for p in found if may_replace(p.core, p.other, known) and not _lost(p, known)]


def _lost(pair: Pair, known: Container[str] | None) -> bool:
    """The second reading lost letters of the word: two or more fewer, and no known word
    (``IUIAL``, how a dot-matrix TOTAL reads, as ``UAL``; ``SANYUSTAT`` as ``SANYO``). On
    sroie-train and sroie-dev such a word never fixed one."""
    return len(pair.other) <= len(pair.core) - 2 and (known is None or pair.other not in known)


#: The prior of a word neither engine read (nats): it must be that much clearer.
MISREAD_PRIOR = -3.0
#: A candidate neither reading has word for word (a run taken whole, a variant) must have
#: letters and digits this alike to the first reading (difflib's ratio): ``PB F/`` is no
#: reading of ``PREY``, nor ``WAKE`` a variant of ``MAKASSAR``.
MIN_SIMILARITY = 0.6


def variants(found: list[Pair], known: Container[str] | None) -> list[Suspect]:
    """Where the two readings disagree on a word of letters (``pairs``), the known words one
    misread letter away from either reading (``confusion.misread_alternatives``:
    ``AMOUNI``/``AMQUHT`` -> ``AMOUNT``), each a candidate of kind ``"misread"``. A word both
    engines read alike is none (``agreed_misreads`` tries it, with a stronger prior); nor is
    a first reading that is a known word, and a variant's letters must be like the first
    reading's (``MIN_SIMILARITY``). Neither engine read a variant: its prior is
    ``MISREAD_PRIOR``."""
    suspects = []
    for p in found:
        if known is None or p.core in known:
            continue
        options = [alt for word in (p.core, p.other)
                   for alt in misread_alternatives(word, known)
                   if alt.lower() != p.other.lower()
                   and _similarity(alt, p.core) >= MIN_SIMILARITY]
        options = [cased(alt, p.core) for alt in dict.fromkeys(a.lower() for a in options)]
        if options and may_replace(p.core, options[0], known):
            suspects.append(Suspect(p.start, p.start + len(p.core), p.core,
                                    tuple(options[:MAX_MISREAD]), "misread", MISREAD_PRIOR))
    return suspects


#: The prior of a word both engines read alike into no known word (nats): two readings
#: agreeing are twice the evidence against the lexicon that one is.
AGREED_PRIOR = 2 * MISREAD_PRIOR
#: ... and such a word has at least this many letters, and is tried as its most frequent
#: known word only: on sroie-train every word this class fixed was the first, and of the
#: four-letter words as many were broken as fixed (``BESI``, ``Punp``; ``Thak``, ``fron``),
#: while each candidate costs a model evaluation (27.5 scored texts per sroie-dev page
#: against 19.4 without the class, when it tried four of every length).
MIN_AGREED_LETTERS = 5


def agreed_misreads(line: str, found: list[Pair], known: Container[str] | None
                    ) -> list[Suspect]:
    """Words of ``line`` both engines read alike (none of ``found``, the line's ``pairs``)
    into no known word, tried as the known words one misread letter away
    (``misread_alternatives``: ``Totai`` -> ``Total``, ``Anount`` -> ``Amount``; the most
    frequent, and in words of ``MIN_AGREED_LETTERS`` or more), each a candidate of kind
    ``"misread-agreed"`` with prior ``AGREED_PRIOR``: the engines agreeing is evidence too,
    and most words they agree on that the lexicon lacks are names or the receipt's own
    spelling (``JALAN``, ``ACRYIC``). Only with a lexicon; never a word with a digit
    (``misread_alternatives``)."""
    if known is None:
        return []
    differ = {p.start for p in found}
    suspects = []
    for match in TOKEN.finditer(line):
        left, core = strip_token(match.group())
        start = match.start() + left
        if start in differ or len(core) < MIN_AGREED_LETTERS:
            continue
        options = [alt for alt in misread_alternatives(core, known)[:1]
                   if _similarity(alt, core) >= MIN_SIMILARITY]
        if options:
            suspects.append(Suspect(start, start + len(core), core, tuple(options),
                                    "misread-agreed", AGREED_PRIOR))
    return suspects


#: Runs of words the two readings split differently, taken whole, up to this many words.
MAX_RUN_WORDS = 3


def regrouped(line: str, reading: LineReading) -> list[Suspect]:
    """Runs of words that the two readings split differently (``DARUL.EHSAN`` read as
    ``DARUL EHSAN``; ``SE ANGOR`` as ``SELANGOR``), each with the second reading's run as its one
    alternative (kind ``"regrouped"``). Numbers stay sacred: a run with a digit in either
    reading is never regrouped (``12.50RM`` never becomes ``12 50RM``, nor ``81750.JOHOR``,
    as the receipt prints it, ``81750 JOHOR``). A run never crosses a column gap, its letters
    must be alike in both readings (``MIN_SIMILARITY``), and no word of the other run may
    lack a letter or hold a bar (Tesseract's ``|`` from a rule)."""
    tokens, opcodes = _aligned(line, reading)
    found = []
    for tag, i1, i2, j1, j2 in opcodes:
        if (tag != "replace" or i2 - i1 == j2 - j1 or i2 - i1 > MAX_RUN_WORDS
                or j2 - j1 > MAX_RUN_WORDS):
            continue
        start, end = tokens[i1].start(), tokens[i2 - 1].end()
        run, words = line[start:end], reading.words[j1:j2]
        other = " ".join(words)
        if ("  " in run  # a run across columns
                or digits(run) or digits(other)
                or _similarity(run, other) < MIN_SIMILARITY
                or any("|" in w or not _ALNUM.search(w) for w in words)):
            continue
        prior = PRIOR_WEIGHT * (_mean_log_odds(reading.confidences[j1:j2])
                                - _mean_log_odds(reading.own[i1:i2]))
        found.append(Suspect(start, end, run, (other,), "regrouped", round(prior, 3)))
    return found


_ALNUM = re.compile(r"[^\W_]")


def _similarity(a: str, b: str) -> float:
    """How alike two texts' letters and digits are (difflib's ratio, case folded)."""
    return difflib.SequenceMatcher(None, _alnum(a), _alnum(b)).ratio()


def _alnum(text: str) -> str:
    return "".join(_ALNUM.findall(text.lower()))


def _mean_log_odds(confidences: tuple[float | None, ...]) -> float:
    known = [_log_odds(c) for c in confidences if c is not None]
    return sum(known) / len(known) if known else 0.0


def agreeing(suspects: list[Suspect], found: list[Pair]) -> list[Suspect]:
    """``suspects`` without the digit fixes the second reading contradicts: a letter read
    for a digit (``1O.00`` -> ``10.00``, kind ``"number"``) is fixed only into the digits
    the other engine read there, when it read that word otherwise (``S8.20`` stays when
    Tesseract has ``$8.20``), or, for a run of digits and O, where no digit of the other
    reading contradicts the fix (``_unopposed``). ``found``: the line's ``pairs``."""
    others = {p.start: p.other for p in found}
    out = []
    for suspect in suspects:
        other = others.get(suspect.start)
        if suspect.kind == "number" and other is not None:
            kept = tuple(a for a in suspect.alternatives if digits(a) == digits(other)
                         or _unopposed(suspect.token, a, other))
            if not kept:
                continue
            suspect = dataclasses.replace(suspect, alternatives=kept)
        out.append(suspect)
    return out


def _unopposed(ours: str, fixed: str, other: str) -> bool:
    """A run of digits with letters O in it (``475OO``, ``confusion.digit_run``) whose other
    reading, letter for letter, has no digit that differs from the fix (``475@@``, ``475@0``,
    ``4,500``): nothing contradicts the zeros, so the model decides. ``S8.20`` against
    ``$8.20`` is no such run: the S may be a dollar sign."""
    return (len(other) == len(ours) == len(fixed)
            and digit_run(ours)
            and all(not o.isdigit() or o == f for o, f in zip(other, fixed, strict=True)))


def disputed(line: str, reading: LineReading) -> list[Pair]:
    """The words of ``line`` whose digits the second reading reads otherwise
    (``04-05-2013`` against ``G4-04-2018``): a value read from one of them is flagged, never
    valid, whatever the corrector did (``inbox_ocr.fields``)."""
    return [p for p in pairs(line, reading) if digits(p.core) != digits(p.other)]


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def may_replace(ours: str, theirs: str, known: Container[str] | None = None) -> bool:
    """The numbers rule: may the second reading's word ``theirs`` replace ``ours``?

    - a word without digits may become another word without digits;
    - a word with digits that is no well-formed value (``Tota1``, ``RN12.50``) may
      change its letters (``RM12.50``); lose its digits only to become a known word of
      ``known``, each digit read as a letter the confusion tables pair with it (``Total``;
      ``CASHIER3`` never becomes ``cashiers``); it never gains one: ``S8.20`` is as likely
      ``$8.20`` as ``58.20`` (SROIE train 030);
    - a well-formed number, amount, date or time never changes, and nothing gains a digit.
    """
    if not digits(ours):
        return not digits(theirs)
    if is_well_formed_value(ours):
        return False
    if not digits(theirs):
        return known is not None and theirs.lower() in known and _confused(
            ours, theirs, DIGIT_AS_LETTERS)
    return _LETTERS.sub("a", ours) == _LETTERS.sub("a", theirs)


def _confused(a: str, b: str, table: Mapping[str, str]) -> bool:
    """``b`` is ``a`` with some characters read as the confusion table says: the same length,
    and every character that differs is one ``table`` maps to the other's (``1`` -> ``l``)."""
    return len(a) == len(b) and all(x == y or y in table.get(x, "")
                                    for x, y in zip(a, b, strict=True))


def _at(values: tuple[float | None, ...], index: int) -> float | None:
    return values[index] if index < len(values) else None


def _log_odds(confidence: float | None) -> float:
    """An engine's confidence (0-100) as log-odds; 0 (no opinion) when it gives none."""
    if confidence is None:
        return 0.0
    low, high = CONFIDENCE_RANGE
    p = min(high, max(low, confidence)) / 100
    return math.log(p / (1 - p))
