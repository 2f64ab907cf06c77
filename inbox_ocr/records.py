"""Small immutable records that travel between pipeline stages.

The flow is ``Document`` (intake) -> ``PageImage`` (split) -> ``PageText`` (OCR, then the
corrector) -> outbox. A ``DocumentEnd`` follows the last page of each document through every
stage so the outbox knows how many pages to wait for, and whether splitting failed midway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

    from inbox_ocr.errors import InboxOcrError


@dataclass(frozen=True)
class Document:
    """One input file admitted by the stability gate.

    id: short unique id for logs (sha256 prefix + sequence number).
    path: where the file sits in the inbox.
    sha256, size, mtime_ns: identity of the content that was admitted.
    received_at: wall-clock epoch seconds when the gate admitted it.
    """

    id: str
    path: Path
    sha256: str
    size: int
    mtime_ns: int
    received_at: float


@dataclass(frozen=True)
class Word:
    """A recognised word with the engine's confidence (0..100) when the engine gives one, and
    its box on the page as read (``x0, y0, x1, y1`` pixels; None when the engine gives none)."""

    text: str
    confidence: float | None
    box: tuple[int, int, int, int] | None = None


@dataclass(frozen=True)
class LineReading:
    """A second engine's reading of one line of a page's raw text, for the correction stage.

    words: the second engine's words of the line, left to right; confidences: each one's
    confidence (0-100), None where the engine gives none; own: the confidence of each word
    of the raw line as the first engine read it (same order as ``line.split()``).
    """

    words: tuple[str, ...]
    confidences: tuple[float | None, ...]
    own: tuple[float | None, ...]


@dataclass(frozen=True)
class Correction:
    """One change the corrector made: where, what, and why."""

    page: int
    line: int
    before: str
    after: str
    margin: float
    reason: str


@dataclass(frozen=True)
class PageImage:
    """A rasterised page. ``number`` is 1-based; ``split_seconds`` is the time to produce it."""

    document: Document
    number: int
    image: Image.Image = field(repr=False)
    dpi: int
    split_seconds: float


@dataclass(frozen=True)
class PageText:
    """A page after OCR, and after correction once the corrector has seen it.

    raw_text: what the engine read. text: after correction (== raw_text until corrected).
    error: set when OCR or correction failed for this page; the document then fails.
    warnings: things a reader of this page's text should know (e.g. correction cut short).
    correction: what the corrector did with the page (``PageCorrection.status``).
    engine: the engine that read the page (the configured one, or the fallback engine).
    turned: degrees (counter-clockwise) the page was turned to be read upright; 0 when it
    was read as scanned.
    evaluation_truncated: the engine ran unlicensed (Aspose evaluation mode) and read only
    the start of the page.
    second_reading: another engine's reading of each line of ``raw_text`` (RapidOCR's lines
    as Tesseract re-read them), which the corrector weighs; empty when there is none. Not
    written to the outbox: every word taken from it is a correction.
    disputed: ``(line, word, other)`` for each word of ``raw_text`` whose digits the second
    reading has otherwise; field extraction never reports a value read from one as valid.
    """

    document: Document
    number: int
    width: int
    height: int
    dpi: int
    raw_text: str
    text: str
    words: tuple[Word, ...]
    timings: dict[str, float]
    corrections: tuple[Correction, ...] = ()
    error: InboxOcrError | None = None
    warnings: tuple[str, ...] = ()
    evaluation_truncated: bool = False
    correction: str = "pending"
    engine: str = ""
    turned: int = 0
    second_reading: tuple[LineReading, ...] = field(default=(), repr=False)
    disputed: tuple[tuple[int, str, str], ...] = ()


#: ``PageCorrection.status`` values that mean the page kept (some of) its raw text because the
#: corrector could not do its work. Each becomes a warning of the document; none fails it.
CORRECTOR_WARNINGS = ("corrector_cut_short", "corrector_crashed", "corrector_timeout",
                      "corrector_failed", "corrector_unavailable", "corrector_degraded")


@dataclass(frozen=True)
class PageCorrection:
    """What the corrector returns for one page.

    text: the corrected text: the raw text unchanged when the corrector could not work, and
    with only the first lines corrected when status is "corrector_cut_short".
    corrections: the changes made, in line order.
    status: "ok" (every line was looked at), "off" (llm.enabled = false), or one of
    ``CORRECTOR_WARNINGS``: "corrector_cut_short" (limits.llm_seconds_per_page reached, the
    rest of the page is raw), "corrector_crashed" (the model process died),
    "corrector_timeout" (it did not answer in time and was killed), "corrector_failed" (it
    raised), "corrector_unavailable" (it could not be started or is waiting to restart),
    "corrector_degraded" (too many failures: raw text until the model is retried).
    detail: a sentence for the reviewer; empty when status is "ok" or "off".
    """

    text: str
    corrections: tuple[Correction, ...] = ()
    status: str = "ok"
    detail: str = ""

    @property
    def warning(self) -> str | None:
        return self.status if self.status in CORRECTOR_WARNINGS else None


@dataclass(frozen=True)
class DocumentEnd:
    """Marks the end of a document's pages. ``pages`` is how many PageImages were emitted;
    ``error`` is set when splitting stopped early (the document then fails)."""

    document: Document
    pages: int
    error: InboxOcrError | None = None


class Outcome(Enum):
    PROCESSED = "processed"
    FAILED = "failed"  # quarantined in failed/
    DEFERRED = "deferred"  # left in the inbox, to be retried after a back-off
    DUPLICATE = "duplicate"  # content already done: archived without OCR
