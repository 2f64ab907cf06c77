"""Which engine ``ocr.engine`` names, checked at start-up and built once per worker, with the
page preparation of ``inbox_ocr.ocr.prep`` (upscaling, deskew, denoise) in front of it."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os
from collections.abc import Callable

from PIL import Image

from inbox_ocr.config import LimitsSettings, OcrSettings
from inbox_ocr.errors import ConfigError, EngineFailed, StartupError
from inbox_ocr.ocr.api import OcrEngine, OcrResult
from inbox_ocr.ocr.prep import Prep, prepare
from inbox_ocr.ocr.tesseract import TesseractEngine, TesseractLineReader, tesseract_languages

DEFAULT_MAX_PIXELS = int(LimitsSettings().max_page_megapixels * 1e6)


def engine_factory(settings: OcrSettings, max_pixels: int = DEFAULT_MAX_PIXELS,
                   workers: int | None = None) -> Callable[[], OcrEngine]:
    """Validate the engine settings now (start-up) and return a per-thread constructor.

    Each engine built by the constructor prepares pages as ``[ocr]`` says (``inbox_ocr.ocr.prep``)
    before reading them; ``max_pixels`` caps upscaling. ``workers`` (default: the configured
    count) shares the CPU cores among engines that run their own thread pools. With a
    fallback engine (``ocr.fallback_engine``) the constructor builds a ``FallbackEngine``.
    Raises ConfigError naming the key when the engine cannot be set up as configured, and
    StartupError when an engine's package is missing.
    """
    prep = Prep(upscale_dpi=settings.upscale_dpi,
                deskew=settings.deskew, denoise=settings.denoise, max_pixels=max_pixels)
    primary = functools.partial(PreparedEngine, _builder(settings.engine, settings, workers),
                                prep)
    second = fallback_name(settings)
    if second is None:
        return primary
    try:
        other = _builder(second, settings, workers)
    except (ConfigError, StartupError) as exc:
        if settings.fallback_engine != "auto":
            raise ConfigError("ocr.fallback_engine", f"{second!r} cannot be used: "
                              f"{getattr(exc, 'message', exc)}") from exc
        return primary  # "auto": the other engine is not installed here
    return functools.partial(FallbackEngine, primary, functools.partial(PreparedEngine, other,
                                                                        prep))


def fallback_name(settings: OcrSettings) -> str | None:
    """The engine that ``ocr.fallback_engine`` names for ``ocr.engine``, or None."""
    if settings.fallback_engine == "none":
        return None
    if settings.fallback_engine != "auto":
        return settings.fallback_engine
    return "tesseract" if settings.engine != "tesseract" else "rapidocr"


#: Tesseract languages written in the Latin script with diacritics: with one of them in
#: ``ocr.languages``, RapidOCR's letters take the diacritics of Tesseract's reading.
DIACRITIC_LANGUAGES = frozenset({
    "fra", "deu", "pol", "nld", "spa", "ita", "por", "cat", "ces", "slk", "hun", "ron", "swe",
    "nor", "dan", "fin", "isl", "tur", "hrv", "slv", "est", "lav", "lit", "vie", "glg", "eus",
})


def writes_diacritics(languages: str) -> bool:
    return any(code in DIACRITIC_LANGUAGES for code in languages.split("+"))


def _builder(name: str, settings: OcrSettings, workers: int | None) -> Callable[[], OcrEngine]:
    """The constructor of the engine called ``name``, with the settings checked now."""
    if name == "tesseract":
        tessdata = tesseract_languages(settings)
        return functools.partial(TesseractEngine, tessdata, settings.languages, settings.psm,
                                 settings.orientation)
    if name == "rapidocr":
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
        return functools.partial(RapidOcrEngine, threads, reader, settings.orientation,
                                 writes_diacritics(settings.languages))
    if name == "aspose":
        from inbox_ocr.ocr.aspose import AsposeEngine, apply_license

        apply_license(settings.aspose_license)  # a bad licence fails start-up, warns once
        return functools.partial(AsposeEngine, settings.aspose_license)
    raise ConfigError("ocr.engine", f"unknown engine {name!r}")  # pragma: no cover - Literal


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
            result = self.engine.recognize(prepared)
            return result if result.engine else dataclasses.replace(result, engine=self.name)
        finally:
            if prepared is not image:
                prepared.close()

    def close(self) -> None:
        self.engine.close()


class FallbackEngine:
    """The configured engine, and a second one for the pages it reads nothing on or fails on.

    An empty reading is a result (the page gets a ``no_text`` warning), but where a second
    engine is installed it reads the page first: held-out receipt 415, a normal printed
    receipt, read as nothing with Tesseract and fine with RapidOCR. The second engine is built
    on first use, so a daemon whose pages all read well never pays for it. Each result names
    the engine that read it (``OcrResult.engine``) and what happened to the first
    (``OcrResult.fallback``); when both fail, the first engine's error is raised.
    """

    def __init__(self, primary: Callable[[], OcrEngine], second: Callable[[], OcrEngine]) -> None:
        self.engine = primary()
        self._build_second = second
        self._second: OcrEngine | None = None
        self._unavailable: str | None = None
        self.name = self.engine.name
        self.version = self.engine.version

    def recognize(self, image: Image.Image) -> OcrResult:
        first: OcrResult | None = None
        try:
            first = self.engine.recognize(image)
        except EngineFailed as exc:
            failure = str(exc)
        else:
            if first.text.strip():
                return first
            failure = f"{self.name} read no text"
        second, why = self._second_reading(image)
        if why:
            failure = f"{failure}; {why}"
        if second is None or not second.text.strip():
            if first is not None:
                return first  # neither read anything: the page's result is the first reading
            if second is None:
                raise EngineFailed(failure)
        return dataclasses.replace(second, fallback=failure)

    def _second_reading(self, image: Image.Image) -> tuple[OcrResult | None, str]:
        """The second engine's reading, or None and why not. Runs in an OCR worker, which
        does not log: what happened travels in the result and the error."""
        if self._unavailable is not None:
            return None, self._unavailable
        try:
            if self._second is None:
                self._second = self._build_second()
            return self._second.recognize(image), ""
        except StartupError as exc:  # e.g. its models cannot load: never try it again
            self._unavailable = f"second engine unavailable: {exc}"
            return None, self._unavailable
        except EngineFailed as exc:
            return None, f"second engine: {exc}"

    def close(self) -> None:
        self.engine.close()
        if self._second is not None:
            self._second.close()

