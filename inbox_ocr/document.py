"""The document path, one function per step: split -> prepare and OCR -> correct -> fields.

The daemon's pipeline runs these steps in its stages (each on its own queue and thread);
``read_document`` runs them one after the other for ``inbox-ocr ocr`` and for every benchmark,
so what a benchmark measures is what the daemon does. The settings reach each step here and
only here (``split_limits``, ``engine_factory_for``): the two paths cannot drift apart.

Threads: every function is synchronous and blocking (I/O, native OCR code, the model
process); the pipeline calls them on its worker threads.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import Image

from inbox_ocr.config import Settings
from inbox_ocr.correct.corrector import Corrector
from inbox_ocr.correct.fusion import disputed
from inbox_ocr.fields import FIELD_NAMES, PageInput, align_words, extract_fields
from inbox_ocr.ocr.api import OcrEngine, OcrResult, mean_confidence
from inbox_ocr.ocr.registry import engine_factory
from inbox_ocr.ops import audit
from inbox_ocr.records import Document, PageText
from inbox_ocr.split import SplitLimits, open_pages

log = audit.get_logger()

Pages = Iterator[tuple[int, Image.Image, int]]
#: A page whose words the engine read with a mean confidence (0-100) below this gets a
#: ``low_ocr_confidence`` warning. Measured: pages scanned at 90/180/270 degrees read as
#: garbage at 39-41, upright pages of the same PDF at 99.
LOW_CONFIDENCE = 60.0


def split_limits(settings: Settings) -> SplitLimits:
    """The ``[limits]`` that splitting and page preparation enforce."""
    return SplitLimits(
        max_file_bytes=int(settings.limits.max_file_mb * 1024 * 1024),
        max_pages=settings.limits.max_pages,
        max_page_pixels=int(settings.limits.max_page_megapixels * 1_000_000),
    )


def engine_factory_for(settings: Settings, workers: int | None = None
                       ) -> Callable[[], OcrEngine]:
    """The configured engine's constructor, with page preparation capped by
    ``limits.max_page_megapixels``. Raises ConfigError/StartupError (start-up)."""
    return engine_factory(settings.ocr, split_limits(settings).max_page_pixels, workers)


def split(path: Path, settings: Settings) -> tuple[int, Pages]:
    """Step 1: the page count and an iterator of ``(number, image, dpi)``, one page decoded at
    a time. Raises DocumentError subclasses (unreadable, encrypted, over a limit)."""
    return open_pages(path, settings.ocr.dpi, split_limits(settings))


def page_text(document: Document, number: int, size: tuple[int, int], dpi: int,
              result: OcrResult, timings: dict[str, float]) -> PageText:
    """Step 2's record: what the engine read on one page (``size``: the image's pixels),
    before correction."""
    width, height = size
    # Reading nothing is a result, never a failure: a reviewer should look at the page.
    warnings: tuple[str, ...] = () if result.text.strip() else (
        f"page {number}: no_text: the OCR engine read no text on this page (blank, a picture, "
        "or print it cannot read)",)
    mean = mean_confidence(result.words)
    if mean is not None and mean < LOW_CONFIDENCE:
        warnings += (f"page {number}: low_ocr_confidence: mean word confidence {mean:.0f} "
                     f"(below {LOW_CONFIDENCE:.0f}): the page may be rotated, faint or not "
                     "text; check its reading",)
    if result.fallback:
        warnings += (f"page {number}: read_by_fallback: {result.fallback}; the page was read "
                     f"by {result.engine}",)
    return PageText(document, number, width, height, dpi, result.text, result.text,
                    result.words, timings, warnings=warnings,
                    evaluation_truncated=result.evaluation_truncated, engine=result.engine,
                    turned=result.turned, second_reading=result.second_reading)


def correct(corrector: Corrector, page: PageText,
            clock: Callable[[], float] = time.monotonic) -> PageText:
    """Step 3: the page after correction. Never raises: a corrector that could not do its
    work leaves the raw text, and a warning on the page (``PageCorrection.status``)."""
    t0 = clock()
    result = corrector.correct(page.number, page.raw_text, page.second_reading)
    timings = {**page.timings, "correct": clock() - t0}
    warnings = page.warnings
    if result.warning is not None:
        # The page goes on with (partly) raw text: the document never fails for it.
        warnings += (f"page {page.number}: {result.warning}: {result.detail}",)
        log.warning(audit.CORRECTION_FAILED, status=result.warning, detail=result.detail)
    if result.corrections:
        log.info(audit.PAGE_CORRECTED, corrections=len(result.corrections))
    return PageText(page.document, page.number, page.width, page.height, page.dpi,
                    page.raw_text, result.text, page.words, timings, result.corrections,
                    warnings=warnings, evaluation_truncated=page.evaluation_truncated,
                    correction=result.status, engine=page.engine, turned=page.turned,
                    disputed=disputes(page))


def disputes(page: PageText) -> tuple[tuple[int, str, str], ...]:
    """The words of the page whose digits its two readings disagree on (whatever the
    corrector does: with ``llm.enabled = false`` too)."""
    lines = page.raw_text.split("\n")
    if len(page.second_reading) != len(lines):
        return ()
    return tuple((number, pair.core, pair.other)
                 for number, (line, reading) in enumerate(zip(lines, page.second_reading,
                                                              strict=True), start=1)
                 for pair in disputed(line, reading))


def fields(pages: list[PageText], finished_at: float
           ) -> tuple[dict[str, dict[str, Any] | None], list[str]]:
    """Step 4: the result's ``fields`` object and its warnings, from the corrected pages.
    Field extraction never costs a document its result: an unexpected error leaves every
    field null, with a warning."""
    today = datetime.fromtimestamp(finished_at).date()
    try:
        found = extract_fields(field_inputs(pages), today=today)
    except Exception as exc:
        log.exception(audit.INTERNAL_ERROR, stage="fields", error_class=type(exc).__name__)
        return dict.fromkeys(FIELD_NAMES), [f"fields: extraction failed ({type(exc).__name__})"]
    return found.as_json(), list(found.warnings)


def field_inputs(pages: list[PageText]) -> list[PageInput]:
    """What field extraction reads of each page: the corrected text, the word confidences and
    the words' boxes (carried over to the tokens the corrector split or joined)."""
    return [PageInput(p.number, p.text,
                      align_words(p.raw_text, p.text,
                                  [(w.text, w.confidence, w.box) for w in p.words]),
                      p.disputed)
            for p in sorted(pages, key=lambda p: p.number)]


@dataclass
class Reading:
    """What ``read_document`` returns: the pages in order, the fields and their warnings."""

    pages: list[PageText] = field(default_factory=list)
    fields: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_document(document: Document, settings: Settings, engine: OcrEngine,
                  corrector: Corrector, *, with_fields: bool = True,
                  clock: Callable[[], float] = time.monotonic,
                  wallclock: Callable[[], float] = time.time) -> Reading:
    """Every step on one document, in this thread: what the daemon does to it, minus the
    queues, the journal and the outbox. Raises what ``split`` and the engine raise."""
    reading = Reading()
    _count, pages = split(document.path, settings)
    while True:
        t0 = clock()
        item = next(pages, None)
        if item is None:
            break
        number, image, dpi = item
        t1 = clock()
        try:
            result = engine.recognize(image)
            page = page_text(document, number, image.size, dpi, result,
                             {"split": t1 - t0, "ocr": clock() - t1})
        finally:
            image.close()
        reading.pages.append(correct(corrector, page, clock))
    if with_fields:
        reading.fields, reading.warnings = fields(reading.pages, wallclock())
    return reading
