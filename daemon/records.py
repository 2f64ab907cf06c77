"""Small immutable records that travel between pipeline stages.

The flow is ``Document`` (intake) -> ``PageImage`` (split) -> ``PageText`` (OCR, then the
corrector) -> outbox. A ``DocumentEnd`` follows the last page of each document through every
stage so the outbox knows how many pages to wait for, and whether splitting failed midway.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

    from daemon.errors import InboxOcrError


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
    """A recognised word with the engine's confidence (0..100) when the engine gives one."""

    text: str
    confidence: float | None


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
    evaluation_truncated: the engine ran unlicensed (Aspose evaluation mode) and read only
    the start of the page.
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


@dataclass(frozen=True)
class DocumentEnd:
    """Marks the end of a document's pages. ``pages`` is how many PageImages were emitted;
    ``error`` is set when splitting stopped early (the document then fails)."""

    document: Document
    pages: int
    error: InboxOcrError | None = None
