"""RapidOCR (``rapidocr-onnxruntime``): PP-OCRv4 detection and recognition on ONNX Runtime.

Installs from PyPI alone, with its models inside the wheel: nothing is downloaded at run time.
The recogniser often drops the spaces between words; ``daemon.layout`` puts them back from the
characters' positions, which RapidOCR reports with ``return_word_box=True``, and, by default
(``ocr.rapidocr_word_breaks = "tesseract"``), from Tesseract's reading of each detected line:
Tesseract places spaces well, RapidOCR reads characters well, so the text keeps RapidOCR's
characters with Tesseract's word breaks wherever the two agree on the characters around them.

One instance per worker thread (see ``daemon.ocr.OcrEngine``). ``recognize`` raises
EngineFailed for a page it cannot read.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from importlib import metadata
from typing import Any, Protocol

import numpy as np
from PIL import Image

from daemon.errors import EngineFailed, StartupError
from daemon.layout import Glyph, Region, assemble
from daemon.ocr import OcrResult
from daemon.records import Word

PACKAGE = "rapidocr-onnxruntime"
# Lines are re-read for word breaks at this height (pixels), with this much margin (fraction
# of the height) around the detected box: best of 24-48 px and 0.05-0.3 on sroie-dev.
LINE_HEIGHT = 32
LINE_MARGIN = 0.05
# RapidOCR pads pages wider than this ratio, or this low, before detection (not re-read).
LETTERBOX_RATIO = 7.5
LETTERBOX_HEIGHT = 40
# RapidOCR's own threshold: lines read with less confidence are dropped.
TEXT_SCORE = 0.5
# Fewer lines per recogniser batch pad less: 1.49 s per receipt against 1.75 s with 6.
REC_BATCH = 3


class LineReader(Protocol):
    version: str

    def read(self, line: Image.Image) -> str | None: ...

    def close(self) -> None: ...


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, threads: int, line_reader: Callable[[], LineReader] | None = None) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as exc:
            raise StartupError(f"ocr.engine = 'rapidocr' needs the {PACKAGE} package: {exc}") from exc
        self.version = metadata.version(PACKAGE)
        per_model = {f"{part}_{key}": value for part in ("det", "cls", "rec")
                     for key, value in (("intra_op_num_threads", threads),
                                        ("inter_op_num_threads", 1))}
        # No angle classifier: scanned lines are upright; skipping it was ~10% faster and no
        # worse on sroie-dev (word F1 0.805 vs 0.802, first 15 receipts).
        if line_reader and threads > 1:
            per_model["rec_intra_op_num_threads"] = threads - 1  # Tesseract gets the other
        self._ocr = RapidOCR(print_verbose=False, use_cls=False, rec_batch_num=REC_BATCH,
                             **per_model)
        self._rereading: Rereading | None = None
        if line_reader:
            self._rereading = Rereading(self._ocr.get_crop_img_list, line_reader())
            self._ocr.get_crop_img_list = self._rereading
            self.version += f" (word breaks: tesseract {self._rereading.reader.version})"

    def recognize(self, image: Image.Image) -> OcrResult:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        if self._rereading:
            self._rereading.start(image)
        try:
            # text_score 0: every line comes back, in the order of the recogniser's crops (the
            # re-readings' order); lines below RapidOCR's own threshold are dropped here.
            found, _elapsed = self._ocr(bgr, return_word_box=True, text_score=0.0)
            readings = self._rereading.collect() if self._rereading else None
        except Exception as exc:  # onnxruntime and OpenCV raise their own error types
            raise EngineFailed(f"rapidocr failed: {type(exc).__name__}: {exc}") from exc
        items = list(found or [])
        if readings is None or len(readings) != len(items):
            readings = [None] * len(items)
        kept = [(region_of(item), reading) for item, reading in zip(items, readings, strict=True)
                if float(item[2]) >= TEXT_SCORE]
        regions = [region for region, _reading in kept]
        by_region = {id(region): reading for region, reading in kept}
        text, laid = assemble(regions, lambda region: by_region.get(id(region)))
        # The recogniser is trained on Chinese too: fold full-width punctuation
        # (U+FF1A colon, U+FF08/U+FF09 parentheses) into ASCII.
        words = tuple(Word(unicodedata.normalize("NFKC", w.text), round(100 * w.confidence, 1))
                      for w in laid)
        return OcrResult(unicodedata.normalize("NFKC", text), words)

    def close(self) -> None:
        self._ocr = None
        if self._rereading:
            self._rereading.close()
            self._rereading = None


class Rereading:
    """RapidOCR's line cropping, wrapped: as soon as the detector has found a page's text lines,
    Tesseract starts re-reading them (from the full-resolution page) on a second thread while
    RapidOCR's recogniser reads them, so the word breaks cost little extra time. Both release
    the GIL; the recogniser is given one thread fewer.

    Relies on RapidOCR 1.4's ``get_crop_img_list(image, boxes)`` being called once per page with
    the detected boxes, in the order of the returned lines (pinned: ``<1.5``).
    """

    def __init__(self, crop_lines: Callable[..., Any], reader: LineReader) -> None:
        self.crop_lines = crop_lines
        self.reader = reader
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="rapidocr-breaks")
        self._page: Image.Image | None = None
        self._pending: Future[list[str | None]] | None = None

    def start(self, page: Image.Image) -> None:
        """The page about to be read (grayscale); pages RapidOCR letterboxes are not re-read."""
        self._pending = None
        wide = page.width > LETTERBOX_RATIO * page.height or page.height <= LETTERBOX_HEIGHT
        self._page = None if wide else page.convert("L")

    def __call__(self, image: np.ndarray, boxes: list[np.ndarray]) -> Any:
        page, self._page = self._page, None
        if page is not None:
            sx, sy = page.width / image.shape[1], page.height / image.shape[0]
            bounds = [(float(b[:, 0].min()) * sx, float(b[:, 1].min()) * sy,
                       float(b[:, 0].max()) * sx, float(b[:, 1].max()) * sy) for b in boxes]
            self._pending = self._thread.submit(self._read_all, page, bounds)
        return self.crop_lines(image, boxes)

    def _read_all(self, page: Image.Image,
                  bounds: list[tuple[float, float, float, float]]) -> list[str | None]:
        return [self.reader.read(line_crop(page, *box)) for box in bounds]

    def collect(self) -> list[str | None] | None:
        """The re-readings of the page's lines, in RapidOCR's order (None: not re-read)."""
        pending, self._pending = self._pending, None
        return pending.result() if pending else None

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self.reader.close()


def line_crop(page: Image.Image, x0: float, y0: float, x1: float, y1: float) -> Image.Image:
    """A detected line's box plus a small margin, scaled so the box is ``LINE_HEIGHT`` px high."""
    height = max(1.0, y1 - y0)
    margin = LINE_MARGIN * height
    box = (max(0, round(x0 - margin)), max(0, round(y0 - margin)),
           min(page.width, round(x1 + margin)), min(page.height, round(y1 + margin)))
    crop = page.crop(box)
    scale = LINE_HEIGHT / height
    return crop.resize((max(1, round(crop.width * scale)), max(1, round(crop.height * scale))),
                       Image.Resampling.BICUBIC)


def region_of(item: list[Any]) -> Region:
    """One RapidOCR result ``[box, text, score, glyph boxes, glyphs, glyph scores]``.

    Without glyph positions (older versions, or a region the recogniser could not place), the
    region's text is spread evenly over its box so the read spaces still separate words.
    """
    box, text, score = item[0], str(item[1]), float(item[2])
    xs = [float(p[0]) for p in box]
    ys = [float(p[1]) for p in box]
    x0, x1 = min(xs), max(xs)
    glyphs: list[Glyph] = []
    if len(item) >= 6 and item[3] and len(item[3]) == len(item[4]) == len(item[5]):
        for points, chars, confidence in zip(item[3], item[4], item[5], strict=True):
            gx = [float(p[0]) for p in points]
            glyphs.append(Glyph(str(chars), min(gx), max(gx), float(confidence)))
    else:
        step = (x1 - x0) / max(1, len(text))
        glyphs = [Glyph(c, x0 + i * step, x0 + (i + 1) * step, score) for i, c in enumerate(text)]
    return Region(x0, min(ys), x1, max(ys), tuple(glyphs))
