"""OCR engines behind one small protocol, and the worker pool that runs them off the event loop.

An ``OcrEngine`` is created once per worker thread (engines keep native state that is not
thread-safe) by ``EnginePool``, which hands pages to those threads. ``recognize`` may raise
``EngineFailed`` (the page's document fails) and must not raise anything else on purpose.

Engines, chosen by ``ocr.engine``: ``tesseract`` (here), ``rapidocr``
(``inbox_ocr.ocr.rapidocr``) and ``aspose`` (``inbox_ocr.ocr.aspose``, optional extra).
``engine_factory`` wraps each in ``PreparedEngine``, which runs the page preparation of
``inbox_ocr.ocr.prep`` (upscaling, deskew, denoise) on the worker thread before the engine reads.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import importlib.util
import os
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from PIL import Image

from inbox_ocr.config import LimitsSettings, OcrSettings
from inbox_ocr.errors import ConfigError, EngineFailed, StartupError
from inbox_ocr.ocr.prep import Prep, prepare
from inbox_ocr.records import Word

T = TypeVar("T")
DEFAULT_MAX_PIXELS = int(LimitsSettings().max_page_megapixels * 1e6)

TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


@dataclass(frozen=True)
class OcrResult:
    """What an engine read on one page.

    text: lines separated by newlines. words: in reading order, with confidence when given.
    evaluation_truncated: the engine ran unlicensed and returned only part of the page.
    """

    text: str
    words: tuple[Word, ...]
    evaluation_truncated: bool = False


class OcrEngine(Protocol):
    """One engine instance, used by exactly one thread for its whole life.

    Lifecycle: constructed on the worker thread, ``recognize`` called any number of times,
    ``close`` once at shutdown. ``recognize`` raises EngineFailed for a page it cannot read.
    """

    name: str
    version: str

    def recognize(self, image: Image.Image) -> OcrResult: ...

    def close(self) -> None: ...


def find_tessdata(configured: str) -> Path:
    """The tessdata folder: ``ocr.tessdata``, else $TESSDATA_PREFIX, else the distro's."""
    env = os.environ.get("TESSDATA_PREFIX", "")
    candidates = [configured] if configured else [env, *TESSDATA_CANDIDATES]
    for candidate in filter(None, candidates):
        folder = Path(candidate)
        if folder.is_dir() and any(folder.glob("*.traineddata")):
            return folder
    key = "ocr.tessdata"
    if configured:
        raise ConfigError(key, f"{configured} holds no *.traineddata files")
    raise ConfigError(key, "no tessdata folder found; install tesseract-ocr-eng or set ocr.tessdata")


def load_tesseract(tessdata: Path, languages: str, psm: int) -> tuple[Any, str]:
    """A loaded tesserocr API for ``languages`` and page segmentation mode ``psm``, and
    Tesseract's version. Raises StartupError when the languages cannot be loaded."""
    import tesserocr

    try:
        api = tesserocr.PyTessBaseAPI(path=str(tessdata) + os.sep, lang=languages, psm=psm)
    except RuntimeError as exc:
        raise StartupError(f"tesseract cannot load languages {languages!r}: {exc}") from exc
    return api, tesserocr.tesseract_version().split()[1]


class TesseractEngine:
    """Tesseract through tesserocr: the engine stays loaded between pages (no process per page).

    tesserocr releases the GIL while recognising, so several threads OCR in parallel.
    """

    name = "tesseract"

    def __init__(self, tessdata: Path, languages: str, psm: int) -> None:
        self._api, self.version = load_tesseract(tessdata, languages, psm)
        # Keep word spacing as printed: invoices align columns with runs of spaces.
        self._api.SetVariable("preserve_interword_spaces", "1")

    def recognize(self, image: Image.Image) -> OcrResult:
        import tesserocr

        try:
            self._api.SetImage(image)
            self._api.Recognize()
            text = self._api.GetUTF8Text()
            words = []
            iterator = self._api.GetIterator()
            level = tesserocr.RIL.WORD
            for item in tesserocr.iterate_level(iterator, level):
                word = item.GetUTF8Text(level)
                if word:
                    words.append(Word(word, round(float(item.Confidence(level)), 1)))
        except RuntimeError as exc:
            raise EngineFailed(f"tesseract failed: {exc}") from exc
        finally:
            self._api.Clear()
        return OcrResult(tidy(text), tuple(words))

    def close(self) -> None:
        self._api.End()


class TesseractLineReader:
    """Tesseract reading one cropped text line (page segmentation mode 7), loaded once.

    Used by the RapidOCR engine for word breaks only (``ocr.rapidocr_word_breaks``): Tesseract
    places spaces between words well, RapidOCR reads the characters better.
    """

    def __init__(self, tessdata: Path, languages: str) -> None:
        import tesserocr

        self._api, self.version = load_tesseract(tessdata, languages, tesserocr.PSM.SINGLE_LINE)

    def read(self, line: Image.Image) -> str | None:
        """The line's text, or None when Tesseract fails on it (the caller keeps its own)."""
        try:
            self._api.SetImage(line)
            return str(self._api.GetUTF8Text())
        except RuntimeError:
            return None
        finally:
            self._api.Clear()

    def close(self) -> None:
        self._api.End()


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


def tesseract_languages(settings: OcrSettings) -> Path:
    """The tessdata folder, once every language of ``ocr.languages`` is known to be in it."""
    tessdata = find_tessdata(settings.tessdata)
    available = {p.stem for p in tessdata.glob("*.traineddata")}
    for language in settings.languages.split("+"):
        if language not in available:
            raise ConfigError(
                "ocr.languages",
                f"language {language!r} is not installed in {tessdata} "
                f"(installed: {', '.join(sorted(available))})",
            )
    return tessdata


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


async def run_in(executor: Executor, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on ``executor`` with the caller's contextvars (its log context)."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(executor, ctx.run, fn, *args)


class EnginePool:
    """A fixed set of worker threads, each with its own engine instance.

    ``start()`` builds every engine (so a broken engine fails start-up, not the first page);
    ``recognize`` runs on a worker thread and returns to the event loop; ``close`` frees them.
    """

    def __init__(self, factory: Callable[[], OcrEngine], workers: int) -> None:
        self._factory = factory
        self._workers = workers
        self._local = threading.local()
        self._engines: list[OcrEngine] = []
        self._lock = threading.Lock()
        # Tesseract's own OpenMP threads fight with ours; one each is fastest in parallel.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ocr")
        self.name = ""
        self.version = ""

    @property
    def workers(self) -> int:
        return self._workers

    def _engine(self) -> OcrEngine:
        engine: OcrEngine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._factory()
            self._local.engine = engine
            with self._lock:
                self._engines.append(engine)
        return engine

    async def start(self) -> None:
        barrier = threading.Barrier(self._workers, timeout=120)

        def warm() -> OcrEngine:
            engine = self._engine()
            barrier.wait()  # make sure every thread builds its own engine
            return engine

        loop = asyncio.get_running_loop()
        engines = await asyncio.gather(
            *(loop.run_in_executor(self._executor, warm) for _ in range(self._workers))
        )
        self.name, self.version = engines[0].name, engines[0].version

    async def recognize(self, image: Image.Image) -> OcrResult:
        return await self.run(lambda: self._engine().recognize(image))

    async def run(self, fn: Callable[[], T]) -> T:
        return await run_in(self._executor, fn)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            engines, self._engines = self._engines, []
        for engine in engines:
            engine.close()
