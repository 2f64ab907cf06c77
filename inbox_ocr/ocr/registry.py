"""Which engine ``ocr.engine`` names, checked at start-up and built once per worker, with the
page preparation of ``inbox_ocr.ocr.prep`` (upscaling, deskew, denoise) in front of it."""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable

from PIL import Image

from inbox_ocr.config import LimitsSettings, OcrSettings
from inbox_ocr.errors import ConfigError
from inbox_ocr.ocr.api import OcrEngine, OcrResult
from inbox_ocr.ocr.prep import Prep, prepare
from inbox_ocr.ocr.tesseract import TesseractEngine, TesseractLineReader, tesseract_languages

DEFAULT_MAX_PIXELS = int(LimitsSettings().max_page_megapixels * 1e6)


def engine_factory(settings: OcrSettings, max_pixels: int = DEFAULT_MAX_PIXELS,
                   workers: int | None = None) -> Callable[[], OcrEngine]:
    """Validate the engine settings now (start-up) and return a per-thread constructor.

    Each engine built by the constructor prepares pages as ``[ocr]`` says (``inbox_ocr.ocr.prep``)
    before reading them; ``max_pixels`` caps upscaling. ``workers`` (default: the configured
    count) shares the CPU cores among engines that run their own thread pools.
    Raises ConfigError naming the key when the engine cannot be set up as configured, and
    StartupError when an engine's package is missing.
    """
    prep = Prep(upscale_dpi=settings.upscale_dpi,
                deskew=settings.deskew, denoise=settings.denoise, max_pixels=max_pixels)
    inner: Callable[[], OcrEngine]
    if settings.engine == "tesseract":
        tessdata = tesseract_languages(settings)
        inner = functools.partial(TesseractEngine, tessdata, settings.languages, settings.psm)
    elif settings.engine == "rapidocr":
        from inbox_ocr.ocr.rapidocr import PACKAGE, RapidOcrEngine

        if importlib.util.find_spec("rapidocr_onnxruntime") is None:
            raise ConfigError("ocr.engine", f"'rapidocr' needs the {PACKAGE} package "
                              "(pip install inbox-ocr installs it)")
        cores = max(1, len(os.sched_getaffinity(0)))
        threads = max(1, cores // (workers or settings.worker_count()))
        reader = None
        if settings.rapidocr_word_breaks == "tesseract":
            try:
                tessdata = tesseract_languages(settings)
            except ConfigError as exc:
                raise ConfigError(exc.key, f"{exc.message} (needed for "
                                  "ocr.rapidocr_word_breaks = 'tesseract'; 'positions' "
                                  "works without Tesseract)") from exc
            reader = functools.partial(TesseractLineReader, tessdata, settings.languages)
        inner = functools.partial(RapidOcrEngine, threads, reader)
    elif settings.engine == "aspose":
        from inbox_ocr.ocr.aspose import AsposeEngine, apply_license

        apply_license(settings.aspose_license)  # a bad licence fails start-up, warns once
        inner = functools.partial(AsposeEngine, settings.aspose_license)
    else:  # pragma: no cover - the config's Literal type admits no other name
        raise ConfigError("ocr.engine", f"unknown engine {settings.engine!r}")
    return functools.partial(PreparedEngine, inner, prep)


class PreparedEngine:
    """An engine that prepares each page (``inbox_ocr.ocr.prep``) before reading it."""

    def __init__(self, build: Callable[[], OcrEngine], prep: Prep) -> None:
        self.engine = build()
        self.prep = prep
        self.name = self.engine.name
        self.version = self.engine.version

    def recognize(self, image: Image.Image) -> OcrResult:
        prepared, _info = prepare(image, self.prep)
        try:
            return self.engine.recognize(prepared)
        finally:
            if prepared is not image:
                prepared.close()

    def close(self) -> None:
        self.engine.close()
