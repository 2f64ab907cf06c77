"""Turn an engine's text boxes into lines and words with the spacing a reader expects.

Detector/recogniser engines such as RapidOCR return one box per text region with the
characters' positions inside it, and often drop the spaces between words (``27,JALANDEDAP13``).
``pieces_in_region`` puts a word break where the recogniser read a space or where the gap between
two characters is wider than ``SPACE_GAP`` character widths; ``assemble`` groups regions into
rows by vertical overlap, orders them left to right, and keeps wide gaps between regions as
runs of spaces (as Tesseract does with ``preserve_interword_spaces``), so columns stay apart.

Character positions are coarse (one recogniser frame is several characters' worth of pixels),
so gaps alone miss many breaks (``TAXINVOICE``, ``GSTSummary``). ``assemble`` therefore takes
an optional second reading of each region, from an engine that places spaces well (Tesseract
reading the region's crop as one line), and ``rebreak`` moves the word breaks to where that
reading has them, wherever the two readings agree on the characters around the break. The
characters themselves always stay the first engine's.

Pure functions: no engine, no I/O.
"""

from __future__ import annotations

import difflib
import re
import statistics
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from inbox_ocr.records import LineReading

# A gap wider than this many median character widths separates two words.
SPACE_GAP = 0.6
# ... but a single letter is split off only across a gap this wide.
LONE_LETTER_GAP = 1.0
# Runs of spaces between regions on one row are capped at this many.
MAX_COLUMN_SPACES = 8


@dataclass(frozen=True)
class Glyph:
    """One recognised character (or the recogniser's own space) and its horizontal extent.

    ``spaced``: whether the page image shows a word space before this glyph (True) or none
    (False), measured on the character grid of a monospaced line (``inbox_ocr.ocr.cells``);
    ``assemble`` follows it over both readings' breaks. None: not measured."""

    text: str
    x0: float
    x1: float
    confidence: float
    spaced: bool | None = None


@dataclass(frozen=True)
class Region:
    """A detected text region: its bounding box and its glyphs left to right."""

    x0: float
    y0: float
    x1: float
    y1: float
    glyphs: tuple[Glyph, ...]


@dataclass(frozen=True)
class LineText:
    """A second engine's reading of one region: its text, and the confidence (0-100) of each
    of its whitespace-separated words (empty when the engine gives none)."""

    text: str
    confidences: tuple[float, ...] = ()


@dataclass(frozen=True)
class LaidWord:
    text: str
    x0: float
    x1: float
    confidence: float
    y0: float = 0.0
    y1: float = 0.0


def char_width(glyphs: tuple[Glyph, ...] | list[Glyph]) -> float:
    widths = [(g.x1 - g.x0) / max(1, len(g.text)) for g in glyphs if g.text.strip()]
    return statistics.median(widths) if widths else 1.0


def _laid(piece: list[Glyph], region: Region | None = None) -> LaidWord:
    return LaidWord("".join(g.text for g in piece), piece[0].x0, piece[-1].x1,
                    sum(g.confidence for g in piece) / len(piece),
                    region.y0 if region else 0.0, region.y1 if region else 0.0)


def pieces_in_region(region: Region, width: float | None = None) -> list[list[Glyph]]:
    """Split a region's glyphs into words at read spaces and at wide gaps.

    A gap wider than ``SPACE_GAP`` widths separates words, except that a single letter is split
    off only across a gap wider than ``LONE_LETTER_GAP`` widths: the recogniser's character
    positions are coarse, and ``G ST`` is a likelier misreading than a lone letter.
    """
    pitch = width if width is not None else char_width(region.glyphs)
    pieces: list[list[Glyph]] = [[]]
    gaps: list[float] = []
    for glyph in region.glyphs:
        if not glyph.text.strip():
            if pieces[-1]:
                pieces.append([])
                gaps.append(float("inf"))
            continue
        if pieces[-1]:
            gap = (glyph.x0 - pieces[-1][-1].x1) / pitch
            if gap > SPACE_GAP:
                pieces.append([])
                gaps.append(gap)
        pieces[-1].append(glyph)
    if not pieces[-1]:
        pieces.pop()
    merged: list[list[Glyph]] = pieces[:1]
    for piece, gap in zip(pieces[1:], gaps, strict=False):
        lone = _lone_letter(merged[-1]) or _lone_letter(piece)
        if lone and gap <= LONE_LETTER_GAP:
            merged[-1] = merged[-1] + piece
        else:
            merged.append(piece)
    return [piece for piece in merged if piece]


def fold(text: str) -> str:
    """Width and compatibility forms folded (NFKC: U+FF1A is ``:``, U+FB01 is ``fi``), except
    number forms (``½``, ``²``): NFKC makes ``3½`` into ``31`` + fraction slash + ``2``,
    which changes a number."""
    return "".join(ch if unicodedata.category(ch) == "No" else unicodedata.normalize("NFKC", ch)
                   for ch in text)


#: Letters a recogniser without them reads as another letter, for the alignment only.
_BASE_LETTER = {"ß": "b", "ł": "l", "đ": "d", "ø": "o", "æ": "a", "œ": "o"}


def _key(text: str, accents: bool = False) -> str:
    """A character as the alignment compares it: case and width folded (U+FF08 is ``(``), and
    with ``accents`` its diacritics too (``é`` is ``e``, ``ß`` is ``b``)."""
    key = unicodedata.normalize("NFKC", text).lower()[:1] or text
    if accents:
        key = _BASE_LETTER.get(key, unicodedata.normalize("NFKD", key)[:1] or key)
    return key


def _accented(glyph: Glyph, reference: str) -> Glyph:
    """``glyph`` with the letter of ``reference`` when that is the same letter with a
    diacritic the glyph lacks (the glyph's case kept), else ``glyph`` itself."""
    if glyph.text.lower() == reference.lower() or not reference.isalpha():
        return glyph
    if unicodedata.normalize("NFKD", glyph.text) != glyph.text:
        return glyph  # the first reading has a diacritic of its own: keep it
    letter = reference.upper() if glyph.text.isupper() and reference != "ß" else reference.lower()
    return Glyph(letter, glyph.x0, glyph.x1, glyph.confidence, glyph.spaced)


def rebreak(pieces: list[list[Glyph]], reference: str,
            accents: bool = False) -> list[list[Glyph]]:
    """Re-split ``pieces`` (one region's words) at the word breaks of ``reference``.

    ``reference`` is another reading of the same region. Its characters are aligned with the
    glyphs' (ignoring spaces, case and width); inside each run where the two agree, a break
    exists exactly where ``reference`` has a space. Outside those runs (characters the readings
    disagree on, and their edges), the pieces' own breaks stay. Only breaks move: the glyphs,
    their order and their confidences are unchanged, except with ``accents`` (``ocr.languages``
    names a language written with diacritics): the alignment then also ignores diacritics, and
    a letter the reference has with a diacritic the glyph lacks (``e`` read as ``é``, ``B`` as
    ``ß``) takes it. Only letters change that way, never digits or punctuation.
    """
    glyphs = [g for piece in pieces for g in piece]
    if not glyphs:
        return pieces
    own: set[int] = set()
    count = 0
    for piece in pieces[:-1]:
        count += len(piece)
        own.add(count)
    chars: list[str] = []
    letters: list[str] = []
    theirs: set[int] = set()
    for ch in reference:
        if ch.isspace():
            if chars:
                theirs.add(len(chars))
        else:
            chars.append(_key(ch, accents))
            letters.append(ch)
    mine = [_key(g.text, accents) for g in glyphs]
    matcher = difflib.SequenceMatcher(None, mine, chars, autojunk=False)
    agreed: set[int] = set()  # glyph positions strictly inside a run both readings share
    moved: set[int] = set()
    for a, b, size in matcher.get_matching_blocks():
        for offset in range(size):
            if accents:
                glyphs[a + offset] = _accented(glyphs[a + offset], letters[b + offset])
            if offset == 0:
                continue
            agreed.add(a + offset)
            if b + offset in theirs:
                moved.add(a + offset)
    breaks = sorted(moved | (own - agreed))
    out: list[list[Glyph]] = []
    start = 0
    for end in [*breaks, len(glyphs)]:
        if end > start:
            piece = glyphs[start:end]
            if out and _split_cents(out[-1], piece):
                out[-1] = out[-1] + piece
            elif _QUANTITY.fullmatch("".join(g.text for g in piece)):
                out += [piece[:-1], piece[-1:]]  # "2X" -> "2 X"
            else:
                out.append(piece)
            start = end
    return out


#: A quantity glued to its times sign (``2X 6.50``): receipts print ``2 X 6.50``, with a
#: narrow gap that Tesseract closes. Measured on sroie-train: its ground truth has 107
#: ``N X`` against 18 ``NX``.
_QUANTITY = re.compile(r"\d{1,3}[xX]")


_CENTS = re.compile(r"\d{2}[^\w.,]?")


def _split_cents(before: list[Glyph], after: list[Glyph]) -> bool:
    """Whether a break falls after a number's decimal mark and before its two decimals
    (``39. 80``): receipt fonts print the mark with wide spacing, and Tesseract then breaks
    the word there. An amount has no space inside it, so the two pieces are one word."""
    text = "".join(g.text for g in before)
    return (len(text) >= 2 and text[-1] in ".," and text[-2].isdigit()
            and _CENTS.fullmatch("".join(g.text for g in after)) is not None)


def _measured(pieces: list[list[Glyph]]) -> list[list[Glyph]]:
    """``pieces`` with the breaks the image measured (``Glyph.spaced``): a break before each
    glyph marked True, none before one marked False, the readings' own where it is None."""
    out: list[list[Glyph]] = []
    for piece in pieces:
        for i, glyph in enumerate(piece):
            if out and (glyph.spaced is False or (i > 0 and glyph.spaced is None)):
                out[-1].append(glyph)
            else:
                out.append([glyph])
    return out


def _measured_reference(reference: LineText, glyphs: tuple[Glyph, ...], accents: bool
                        ) -> tuple[list[str], list[float | None]]:
    """The second reading's words, with its breaks moved to the ones the image measured
    (``Glyph.spaced``) between characters it shares with the first reading, and each word's
    confidence (the lowest of the words it was made from; None when the engine gave none)."""
    words = reference.text.split()
    known = len(reference.confidences) == len(words)
    chars: list[str] = []
    word_of: list[int] = []
    starts: set[int] = set()
    for n, word in enumerate(words):
        starts.add(len(chars))
        chars += list(word)
        word_of += [n] * len(word)
    measured = [g for g in glyphs if g.text.strip()]
    if all(g.spaced is None for g in measured):
        return words, list(reference.confidences) if known else [None] * len(words)
    matcher = difflib.SequenceMatcher(None, [_key(g.text, accents) for g in measured],
                                      [_key(c, accents) for c in chars], autojunk=False)
    decided: dict[int, bool] = {}
    for a, b, size in matcher.get_matching_blocks():
        for offset in range(1, size):
            spaced = measured[a + offset].spaced
            if spaced is not None:
                decided[b + offset] = spaced
    tokens: list[str] = []
    sources: list[list[int]] = []
    for i, char in enumerate(chars):
        if i == 0 or decided.get(i, i in starts):
            tokens.append("")
            sources.append([])
        tokens[-1] += char
        sources[-1].append(word_of[i])
    confidences: list[float | None] = [
        min(reference.confidences[n] for n in source) if known else None for source in sources]
    return tokens, confidences


def _lone_letter(glyphs: list[Glyph]) -> bool:
    return len(glyphs) == 1 and glyphs[0].text.isalpha()


def rows(regions: list[Region]) -> list[list[Region]]:
    """Group regions into rows: a region joins a row when most of its height overlaps it."""
    out: list[list[Region]] = []
    spans: list[tuple[float, float]] = []
    for region in sorted(regions, key=lambda r: (r.y0 + r.y1) / 2):
        height = max(1.0, region.y1 - region.y0)
        for i, (top, bottom) in enumerate(spans):
            overlap = min(bottom, region.y1) - max(top, region.y0)
            if overlap > 0.5 * min(height, bottom - top):
                out[i].append(region)
                spans[i] = (min(top, region.y0), max(bottom, region.y1))
                break
        else:
            out.append([region])
            spans.append((region.y0, region.y1))
    return [sorted(row, key=lambda r: r.x0) for row in out]


def assemble(regions: list[Region],
             reread: Callable[[Region], LineText | None] | None = None,
             accents: bool = False) -> tuple[str, list[LaidWord], tuple[LineReading, ...]]:
    """The page's text (one row per line), its words in reading order, and the second reading
    of each line (empty without ``reread``).

    ``reread(region)``, when given, returns a second reading of the region whose word breaks
    replace the gap-based ones (``rebreak``, which with ``accents`` also takes its
    diacritics), or None to keep those. Breaks the image measured (``Glyph.spaced``, from
    ``inbox_ocr.ocr.cells``) override both. The second reading of a line is that reading's
    words, region by region, re-split at the measured breaks where its characters match the
    first reading's (a region without one contributes its own words), for the correction
    stage to weigh against the first (``inbox_ocr.correct.fusion``).
    """
    all_glyphs = [g for r in regions for g in r.glyphs]
    pitch = char_width(all_glyphs)
    lines: list[str] = []
    page_words: list[LaidWord] = []
    second: list[LineReading] = []
    for row in rows(regions):
        parts: list[str] = []
        previous_end: float | None = None
        theirs: list[str] = []
        their_confidence: list[float | None] = []
        own: list[float | None] = []
        for region in row:
            pieces = pieces_in_region(region, char_width(region.glyphs) if region.glyphs
                                      else pitch)
            reference = reread(region) if reread and pieces else None
            if reference is not None:
                pieces = rebreak(pieces, reference.text, accents)
            pieces = _measured(pieces)
            region_words = [_laid(piece, region) for piece in pieces]
            if not region_words:
                continue
            if previous_end is not None:
                gap = region_words[0].x0 - previous_end
                parts.append(" " * max(1, min(MAX_COLUMN_SPACES, round(gap / pitch))))
            parts.append(" ".join(w.text for w in region_words))
            previous_end = region_words[-1].x1
            page_words.extend(region_words)
            own += [round(100 * w.confidence, 1) for w in region_words]
            if reference is not None:
                tokens, confidences = _measured_reference(reference, region.glyphs, accents)
                theirs += tokens
                their_confidence += confidences
            else:
                theirs += [w.text for w in region_words]
                their_confidence += [None] * len(region_words)
        if parts:
            lines.append("".join(parts))
            second.append(LineReading(tuple(theirs), tuple(their_confidence), tuple(own)))
    return "\n".join(lines), page_words, tuple(second) if reread else ()
