"""The records of field extraction: the input pages, a field, the locale, the result."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIELD_NAMES = (
    "invoice_number", "invoice_date", "due_date", "total", "subtotal", "tax", "currency",
    "vendor", "vendor_tax_id", "iban",
)

#: A word's box on its page: x0, y0, x1, y1 in pixels.
Box = tuple[int, int, int, int]

# Words the OCR engine read with less confidence (0-100) than this make a field not valid.
MIN_WORD_CONFIDENCE = 90.0
# Dates before today minus this many years, or after today plus one (two for due dates),
# are implausible.
PLAUSIBLE_YEARS_BACK = 25


@dataclass(frozen=True)
class PageInput:
    """One page as the extractor sees it.

    number: 1-based page number. text: the corrected text. words: (word, confidence 0-100 or
    None) or (word, confidence, box) in reading order as the OCR engine gave them, the box
    ``(x0, y0, x1, y1)`` in page pixels or None; used only when they line up one to one with the
    whitespace-separated tokens of ``text`` (``align_words`` carries them over to the tokens
    the corrector split or joined), otherwise confidences and positions count as unknown.
    disputed: ``(line, word, other)`` for each word whose digits a second OCR reading of the
    line reads otherwise (``inbox_ocr.correct.fusion.disputed``): a value read from it is
    never valid.
    """

    number: int
    text: str
    words: tuple[tuple[str, float | None] | tuple[str, float | None, Box | None], ...] = ()
    disputed: tuple[tuple[int, str, str], ...] = ()


@dataclass(frozen=True)
class Field:
    """One extracted field.

    value: normalised (ISO 8601 date, decimal string like ``"1234.56"``, ISO 4217 code,
    identifier without spaces), or the raw text as printed when it could not be normalised
    safely (then ``valid`` is false). valid: passed every check that applies. reason: why not
    (``"slug: detail"``), None when valid. page, line: 1-based, where it was read. source: that
    line's text. confidence: 0..1, a heuristic from the label's strength and the OCR word
    confidences (halved when not valid).
    """

    value: str
    valid: bool
    reason: str | None
    page: int
    line: int
    source: str
    confidence: float

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "valid": self.valid, "reason": self.reason,
                "page": self.page, "line": self.line, "source": self.source,
                "confidence": self.confidence}


@dataclass(frozen=True)
class Locale:
    """What the document says about its own conventions.

    language: ``en``, ``fr``, ``de``, ``pl``, ``ms`` or ``""`` (unknown). decimal: ``"."`` or
    ``","`` or None. day_first: True (31/12), False (12/31) or None (no evidence).
    """

    language: str
    decimal: str | None
    day_first: bool | None


@dataclass(frozen=True)
class Fields:
    """The fields found in one document, the locale they were read with, and warnings."""

    found: tuple[tuple[str, Field], ...]
    locale: Locale
    warnings: tuple[str, ...]

    def get(self, name: str) -> Field | None:
        return dict(self.found).get(name)

    def as_json(self) -> dict[str, dict[str, Any] | None]:
        """Every name in FIELD_NAMES; None for a field that was not found."""
        found = dict(self.found)
        return {name: (found[name].as_json() if name in found else None)
                for name in FIELD_NAMES}
