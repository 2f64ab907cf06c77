"""Where two OCR readings of a line disagree, and which of those words the model may weigh.

RapidOCR reads each line; Tesseract re-reads the same crop for its word breaks
(``ocr.rapidocr_word_breaks = "tesseract"``), and that second reading travels with the page
(``records.LineReading``). Where the two disagree on a word, Tesseract's word becomes a
candidate for the corrector, next to the confusion classes of ``inbox_ocr.correct.confusion``;
the language model chooses, with each engine's confidence as a prior (``prior``).

Numbers stay sacred. A second reading never changes a well-formed number, amount, date or
time, and it changes a digit elsewhere only where both engines agree on it
(``may_replace``): where they disagree on digits, the first reading stands, unchanged (a
flagged raw value beats a wrong "corrected" one; field validation judges it).

Pure: no model, no I/O.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Container, Mapping

from inbox_ocr.correct.confusion import (
    DIGIT_AS_LETTERS,
    LETTER_AS_DIGIT,
    Suspect,
    is_well_formed_value,
    strip_token,
)
from inbox_ocr.records import LineReading

_TOKEN = re.compile(r"\S+")
_LETTERS = re.compile(r"[^\W\d_]")
#: The prior's weight: nats per unit of log-odds between the two engines' confidences.
PRIOR_WEIGHT = 1.0
#: Confidences are clipped into this range (0-100) before the log-odds: an engine's 100 is
#: not certainty.
CONFIDENCE_RANGE = (5.0, 95.0)


def disagreements(line: str, reading: LineReading,
                  known: Container[str] | None = None) -> list[Suspect]:
    """The words of ``line`` that ``reading`` reads otherwise, each with the other reading as
    its one alternative (kind ``"second-reading"``), left to right.

    Words are aligned one to one inside runs that both readings split alike; a run where the
    two split the text differently is left alone. Differences of case or of edge punctuation
    only, and changes the numbers rule forbids (module docstring), are not disagreements.
    """
    tokens = list(_TOKEN.finditer(line))
    if not tokens or not reading.words:
        return []
    ours = [t.group().lower() for t in tokens]
    theirs = [w.lower() for w in reading.words]
    matcher = difflib.SequenceMatcher(None, ours, theirs, autojunk=False)
    found = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "replace" or i2 - i1 != j2 - j1:
            continue
        for i, j in zip(range(i1, i2), range(j1, j2), strict=True):
            left, core = strip_token(tokens[i].group())
            _, other = strip_token(reading.words[j])
            if not core or not other or core.lower() == other.lower():
                continue
            if not may_replace(core, other, known):
                continue
            start = tokens[i].start() + left
            prior = PRIOR_WEIGHT * (_log_odds(_at(reading.confidences, j))
                                    - _log_odds(_at(reading.own, i)))
            found.append(Suspect(start, start + len(core), core, (other,), "second-reading",
                                 round(prior, 3)))
    return found


def may_replace(ours: str, theirs: str, known: Container[str] | None = None) -> bool:
    """The numbers rule: may the second reading's word ``theirs`` replace ``ours``?

    - a word without digits may become another word without digits;
    - a word with digits that is no well-formed value (``Tota1``, ``2.B0``, ``RN12.50``) may
      change its letters (``RM12.50``); lose its digits only to become a known word of
      ``known``, each digit read as a letter the confusion tables pair with it (``Total``;
      ``CASHIER3`` never becomes ``cashiers``); and gain digits only where its own letters
      are the tables' readings of them (``B`` for ``8``) and the result is a well-formed
      value (``2.80``): both engines then agree on every digit but the glyph the first
      misread;
    - a well-formed number, amount, date or time never changes, and nothing else gains a
      digit.
    """
    our_digits = [ch for ch in ours if ch.isdigit()]
    if not our_digits:
        return not any(ch.isdigit() for ch in theirs)
    if is_well_formed_value(ours):
        return False
    if not any(ch.isdigit() for ch in theirs):
        return known is not None and theirs.lower() in known and _confused(
            ours, theirs, DIGIT_AS_LETTERS)
    if _LETTERS.sub("a", ours) == _LETTERS.sub("a", theirs):
        return True
    return is_well_formed_value(theirs) and _confused(ours, theirs, LETTER_AS_DIGIT)


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
