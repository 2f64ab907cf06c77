"""What every OCR engine is and returns: the ``OcrEngine`` protocol and ``OcrResult``.

Engines (``ocr.engine``): ``tesseract`` (``inbox_ocr.ocr.tesseract``), ``rapidocr``
(``inbox_ocr.ocr.rapidocr``) and ``aspose`` (``inbox_ocr.ocr.aspose``, optional extra), built
by ``inbox_ocr.ocr.registry.engine_factory`` and run by the pools of ``inbox_ocr.ocr.pool``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image

from inbox_ocr.records import LineReading, Word


@dataclass(frozen=True)
class OcrResult:
    """What an engine read on one page.

    text: lines separated by newlines. words: in reading order, with confidence when given.
    evaluation_truncated: the engine ran unlicensed and returned only part of the page.
    engine: the name of the engine that read the page ("" until a wrapper names it).
    fallback: set when a second engine read the page: what the first one did ("rapidocr read
    no text", "tesseract failed: ..."); see ``inbox_ocr.ocr.registry.FallbackEngine``.
    turned: degrees (counter-clockwise: 90, 180, 270) the engine turned the page to read it
    upright (``inbox_ocr.ocr.orient``); the words and text are those of the turned page.
    second_reading: another engine's reading of each line of ``text`` (RapidOCR with
    Tesseract's line reader); empty when the engine reads each line once.
    """

    text: str
    words: tuple[Word, ...]
    evaluation_truncated: bool = False
    engine: str = ""
    fallback: str = ""
    turned: int = 0
    second_reading: tuple[LineReading, ...] = ()


class OcrEngine(Protocol):
    """One engine instance, used by exactly one thread for its whole life.

    Lifecycle: constructed on the worker thread, ``recognize`` called any number of times,
    ``close`` once at shutdown. ``recognize`` raises EngineFailed for a page it cannot read.
    """

    name: str
    version: str

    def recognize(self, image: Image.Image) -> OcrResult: ...

    def close(self) -> None: ...


def mean_confidence(words: Sequence[Word]) -> float | None:
    """The mean confidence (0-100) of the words that have one; None when none has."""
    scores = [w.confidence for w in words if w.confidence is not None]
    return sum(scores) / len(scores) if scores else None


def tidy(text: str) -> str:
    """Strip trailing spaces and collapse the blank lines Tesseract puts between blocks."""
    lines = [line.rstrip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    while out and not out[-1]:
        out.pop()
    return "\n".join(out)
