"""RapidOCR (``rapidocr-onnxruntime``): PP-OCRv4 detection and recognition on ONNX Runtime.

Installs from PyPI alone, with its models inside the wheel: nothing is downloaded at run time.
The recogniser often drops the spaces between words; ``inbox_ocr.ocr.layout`` puts them back from the
characters' positions, which RapidOCR reports with ``return_word_box=True``, and, by default
(``ocr.rapidocr_word_breaks = "tesseract"``), from Tesseract's reading of each detected line:
Tesseract places spaces well, RapidOCR reads characters well, so the text keeps RapidOCR's
characters with Tesseract's word breaks wherever the two agree on the characters around them.
Where a line is printed in a monospaced font, the page's own character grid overrides both
(``inbox_ocr.ocr.cells``).

One instance per worker thread (see ``inbox_ocr.ocr.OcrEngine``). ``recognize`` raises
EngineFailed for a page it cannot read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from importlib import metadata
from typing import Any, Protocol

import numpy as np
from PIL import Image

from inbox_ocr.errors import EngineFailed, StartupError
from inbox_ocr.ocr import orient
from inbox_ocr.ocr.api import OcrResult
from inbox_ocr.ocr.cells import measured_breaks
from inbox_ocr.ocr.colons import Box, dark_blobs, lone_colons
from inbox_ocr.ocr.layout import Glyph, LineText, Region, assemble, fold
from inbox_ocr.records import LineReading, Word

PACKAGE = "rapidocr-onnxruntime"
# Lines are re-read for word breaks at this text height (pixels), with this much margin
# (fraction of the height) around the detected box: best of 24-48 px and 0.05-0.3 on sroie-dev.
LINE_HEIGHT = 32
LINE_MARGIN = 0.05
#: ... and with diacritics wanted from that reading (``ocr.languages``), a margin that keeps
#: the marks above and below the letters the detector's box may cut off (ę, ą, ś, É).
ACCENT_LINE_MARGIN = 0.25
# Fewer lines per recogniser batch pad less: 1.49 s per receipt against 1.75 s with 6.
REC_BATCH = 3
#: Tesseract re-reads a page's lines on up to this many threads (one per core the engine may
#: use), each with an instance of its own (tesserocr releases the GIL); ONNX Runtime's threads
#: wait meanwhile. On 2 cores the lines of 12 sroie-train receipts took 0.113 s per page on 2
#: threads against 0.216 s on one, read the same.
MAX_LINE_READERS = 4
#: Pages larger than this are read at a reduced size (aspect kept). RapidOCR holds several
#: full-size copies of the page (BGR, float detection input, crops); a 5100x6600 page peaked
#: near 800 MB and an 81 MP one at 1.36 GB. 16 MP is an A4 page at about 400 dpi, so scans at
#: the usual 200-400 dpi are read untouched.
MAX_READ_PIXELS = 16_000_000


#: ONNX Runtime's threads spin while they wait for work (``session.intra_op.allow_spinning``,
#: on by default): they burn the cores that the model process and Tesseract's line reads need.
#: Off, on 2 cores and the 63 sroie-dev receipts, the daemon's OCR worker used 152 s of CPU
#: against 197 s, and the daemon took 124.8 s against 144.3 s with the corrector on, 87.4 s
#: against 91.7 s with it off.
SPIN_OPTION = "session.intra_op.allow_spinning"
_BUILDING = threading.Lock()  # one engine built at a time while the factory is wrapped


@contextlib.contextmanager
def _sessions_without_spinning() -> Iterator[None]:
    """While RapidOCR builds its ONNX Runtime sessions, every one gets ``SPIN_OPTION`` = 0.
    RapidOCR has no setting for it, so its session-options factory is wrapped for the while
    (a version without that factory keeps the default)."""
    from rapidocr_onnxruntime.utils import infer_engine  # type: ignore[import-untyped]

    with _BUILDING:
        factory = infer_engine.OrtInferSession.__dict__.get("_init_sess_opts")
        if not isinstance(factory, staticmethod):
            yield
            return
        build = factory.__func__

        def quiet(config: dict[str, Any]) -> Any:
            options = build(config)
            options.add_session_config_entry(SPIN_OPTION, "0")
            return options

        infer_engine.OrtInferSession._init_sess_opts = staticmethod(quiet)
        try:
            yield
        finally:
            infer_engine.OrtInferSession._init_sess_opts = factory


class LineReader(Protocol):
    version: str

    def read(self, line: Image.Image) -> LineText | None: ...

    def close(self) -> None: ...


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, threads: int, line_reader: Callable[[], LineReader] | None = None,
                 orientation: bool = True, accents: bool = False) -> None:
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
        with _sessions_without_spinning():
            self._ocr = RapidOCR(print_verbose=False, use_cls=False, rec_batch_num=REC_BATCH,
                                 **per_model)
        count = max(1, min(threads, MAX_LINE_READERS))
        self._readers: list[LineReader] = [line_reader() for _i in range(count)] \
            if line_reader else []
        self._pool = ThreadPoolExecutor(count, thread_name_prefix="line-reader") \
            if len(self._readers) > 1 else None
        self._orient = orientation
        self._accents = accents and bool(self._readers)
        if self._readers:
            self.version += f" (word breaks: tesseract {self._readers[0].version})"

    def recognize(self, image: Image.Image) -> OcrResult:
        scaled = reduced(image, MAX_READ_PIXELS)
        turned: Image.Image | None = None
        try:
            regions = self._detect(scaled)
            degrees = self._upright_turn(scaled, regions) if self._orient else 0
            if degrees:
                turned = scaled.transpose(orient.TURNS[degrees])
                regions = self._detect(turned)
            page = turned or scaled
            blobs = self._blobs(page)
            colons = lone_colons(blobs, regions)
            regions = measured_breaks(blobs, regions)
            result = self._assemble(page, regions + colons, frozenset(colons))
            return dataclasses.replace(result, turned=degrees) if degrees else result
        finally:
            for made in (turned, scaled):
                if made is not None and made is not image:
                    made.close()

    def _detect(self, image: Image.Image) -> list[Region]:
        bgr = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        try:
            found, _elapsed = self._ocr(bgr, return_word_box=True)
        except Exception as exc:  # onnxruntime and OpenCV raise their own error types
            raise EngineFailed(f"rapidocr failed: {type(exc).__name__}: {exc}") from exc
        return [region_of(item) for item in found or []]

    @staticmethod
    def _blobs(image: Image.Image) -> list[Box]:
        try:
            return dark_blobs(image)
        except Exception as exc:  # OpenCV raises cv2.error
            raise EngineFailed(f"rapidocr colon search failed: {type(exc).__name__}: {exc}"
                               ) from exc

    def _upright_turn(self, image: Image.Image, regions: list[Region]) -> int:
        """Degrees (counter-clockwise) that make the page upright (``inbox_ocr.ocr.orient``):
        the text direction classifier RapidOCR ships, on the page's longest lines."""
        boxes = [(r.x0, r.y0, r.x1, r.y1) for r in regions]
        sideways = orient.is_sideways(boxes)
        crops = []
        for x0, y0, x1, y1 in orient.sample(boxes):
            if (x1 - x0) < 4 or (y1 - y0) < 4:
                continue
            crop = np.asarray(image.crop((int(x0), int(y0), int(x1 + 1), int(y1 + 1)))
                              .convert("RGB"))[:, :, ::-1]
            crops.append(np.ascontiguousarray(np.rot90(crop, k=-1) if sideways else crop))
        if not crops:
            return 0
        try:
            _crops, verdicts, _elapsed = self._ocr.text_cls(crops)
        except Exception as exc:  # onnxruntime raises its own error types
            raise EngineFailed(f"rapidocr orientation failed: {type(exc).__name__}: "
                               f"{exc}") from exc
        degrees = orient.turn(sideways, [(str(label), float(score))
                                         for label, score in verdicts])
        if not degrees:
            return 0
        # The classifier can be wrong on a whole page (SROIE train 090, upright, 9 of 12 lines
        # "180"): the recogniser reads the same lines both ways, and the better reading wins.
        # The crops as the verdict's turn shows them, and as the opposite turn would.
        flipped = [np.ascontiguousarray(np.rot90(c, k=2)) for c in crops]
        upright, other = (crops, flipped) if sideways and degrees == 270 else (flipped, crops)
        try:
            ours, _elapsed = self._ocr.text_rec(upright)
            theirs, _elapsed = self._ocr.text_rec(other)
        except Exception as exc:  # onnxruntime raises its own error types
            raise EngineFailed(f"rapidocr orientation failed: {type(exc).__name__}: "
                               f"{exc}") from exc
        return orient.confirmed(degrees, [float(score) for _text, score in ours],
                                [float(score) for _text, score in theirs])

    def _assemble(self, image: Image.Image, regions: list[Region],
                  colons: frozenset[Region] = frozenset()) -> OcrResult:
        reread = None
        if self._readers:
            gray = image.convert("L")
            margin = ACCENT_LINE_MARGIN if self._accents else LINE_MARGIN
            # A lone colon found in the image has nothing to re-read, a region without
            # characters no words to break.
            lines = [region for region in regions if region not in colons and region.glyphs]
            readings = dict(zip(lines, self._read_lines(
                [line_crop(gray, region, margin) for region in lines]), strict=True))
            reread = readings.get
        text, laid, second = assemble(regions, reread, self._accents)
        # The recogniser is trained on Chinese too: fold full-width punctuation
        # (U+FF1A colon, U+FF08/U+FF09 parentheses) into ASCII, but keep number forms (3½).
        words = tuple(Word(fold(w.text), round(100 * w.confidence, 1),
                           (round(w.x0), round(w.y0), round(w.x1), round(w.y1))) for w in laid)
        return OcrResult(fold(text), words, second_reading=tuple(
            LineReading(tuple(fold(w) for w in line.words), line.confidences, line.own)
            for line in second))

    def _read_lines(self, crops: Sequence[Image.Image]) -> list[LineText | None]:
        """Tesseract's reading of each line crop, on the engine's reader threads."""
        if self._pool is None or len(crops) < 2:
            return [self._readers[0].read(crop) for crop in crops]
        readings: list[LineText | None] = [None] * len(crops)
        lines = iter(range(len(crops)))
        taking = threading.Lock()

        def work(reader: LineReader) -> None:
            while True:
                with taking:
                    index = next(lines, None)
                if index is None:
                    return
                readings[index] = reader.read(crops[index])

        running = [self._pool.submit(work, reader) for reader in self._readers]
        wait(running)  # every reader idle again before an error leaves this page
        for done in running:
            done.result()
        return readings

    def close(self) -> None:
        self._ocr = None
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        for reader in self._readers:
            reader.close()
        self._readers = []


def reduced(image: Image.Image, max_pixels: int) -> Image.Image:
    """``image`` itself when it has at most ``max_pixels``, else a copy scaled down to that."""
    pixels = image.width * image.height
    if pixels <= max_pixels:
        return image
    scale = (max_pixels / pixels) ** 0.5
    size = (max(1, int(image.width * scale)), max(1, int(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def line_crop(page: Image.Image, region: Region, margin_share: float = LINE_MARGIN
              ) -> Image.Image:
    """The region's box plus a small margin, scaled so its text is ``LINE_HEIGHT`` px high."""
    height = max(1.0, region.y1 - region.y0)
    margin = margin_share * height
    left, top = max(0, round(region.x0 - margin)), max(0, round(region.y0 - margin))
    right = max(left + 1, min(page.width, round(region.x1 + margin)))  # never an empty box
    bottom = max(top + 1, min(page.height, round(region.y1 + margin)))
    crop = page.crop((left, top, right, bottom))
    scale = LINE_HEIGHT / height
    size = (max(1, round(crop.width * scale)), max(1, round(crop.height * scale)))
    return crop.resize(size, Image.Resampling.BICUBIC)


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
