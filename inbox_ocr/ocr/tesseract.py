"""Tesseract through tesserocr: the page engine, the line reader RapidOCR's word breaks use,
and finding tessdata with the configured languages in it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from PIL import Image

from inbox_ocr.config import OcrSettings
from inbox_ocr.errors import ConfigError, EngineFailed, StartupError
from inbox_ocr.ocr import orient
from inbox_ocr.ocr.api import OcrResult, tidy
from inbox_ocr.ocr.layout import LineText
from inbox_ocr.records import Word

TESSDATA_CANDIDATES = (
    "/usr/share/tesseract-ocr/5/tessdata",
    "/usr/share/tesseract-ocr/4.00/tessdata",
    "/usr/share/tessdata",
    "/usr/local/share/tessdata",
)


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

    Orientation (``ocr.orientation``): a page read with a mean word confidence below
    ``orient.RETRY_CONFIDENCE`` is read again turned by the quarter Tesseract's orientation
    detection (OSD, ``osd.traineddata``) proposes, or by each quarter when it is unsure, and
    the reading with the clearly higher confidence is kept. Upright pages read well cost
    nothing more.
    """

    name = "tesseract"

    def __init__(self, tessdata: Path, languages: str, psm: int,
                 orientation: bool = True) -> None:
        self._api, self.version = load_tesseract(tessdata, languages, psm)
        # Keep word spacing as printed: invoices align columns with runs of spaces.
        self._api.SetVariable("preserve_interword_spaces", "1")
        self._osd: Any = None
        if orientation and (tessdata / "osd.traineddata").is_file():
            import tesserocr

            self._osd, _version = load_tesseract(tessdata, "osd", int(tesserocr.PSM.OSD_ONLY))

    def recognize(self, image: Image.Image) -> OcrResult:
        result = self._read(image)
        if self._osd is None or not orient.worth_turning(result.words):
            return result
        best, best_degrees = result, 0
        for degrees in self._proposed_turns(image):
            with image.transpose(orient.TURNS[degrees]) as turned:
                other = self._read(turned)
            if orient.better(other.words, best.words):
                best, best_degrees = other, degrees
        return dataclasses.replace(best, turned=best_degrees) if best_degrees else result

    def _proposed_turns(self, image: Image.Image) -> list[int]:
        """OSD's quarter turn when it is sure of one, else every quarter."""
        assert self._osd is not None
        try:
            self._osd.SetImage(image)
            found = self._osd.DetectOrientationScript()
        except RuntimeError:
            found = None
        finally:
            self._osd.Clear()
        if found and found.get("orient_conf", 0.0) >= orient.OSD_SURE and found["orient_deg"]:
            return [int(found["orient_deg"]) % 360]
        return [90, 180, 270]

    def _read(self, image: Image.Image) -> OcrResult:
        import tesserocr

        try:
            self._api.SetImage(image)
            self._api.Recognize()
            text = self._api.GetUTF8Text()
            words = []
            iterator = self._api.GetIterator()
            level = tesserocr.RIL.WORD
            for item in tesserocr.iterate_level(iterator, level):
                try:
                    word = item.GetUTF8Text(level)
                except RuntimeError:  # "No text returned": a blob Tesseract read nothing in
                    continue
                if word:
                    box = item.BoundingBox(level)
                    words.append(Word(word, round(float(item.Confidence(level)), 1),
                                      (box[0], box[1], box[2], box[3]) if box else None))
        except RuntimeError as exc:
            raise EngineFailed(f"tesseract failed: {exc}") from exc
        finally:
            self._api.Clear()
        return OcrResult(tidy(text), tuple(words))

    def close(self) -> None:
        self._api.End()
        if self._osd is not None:
            self._osd.End()


class TesseractLineReader:
    """Tesseract reading one cropped text line (page segmentation mode 7), loaded once.

    Used by the RapidOCR engine for word breaks only (``ocr.rapidocr_word_breaks``): Tesseract
    places spaces between words well, RapidOCR reads the characters better.
    """

    def __init__(self, tessdata: Path, languages: str) -> None:
        import tesserocr

        self._api, self.version = load_tesseract(tessdata, languages, tesserocr.PSM.SINGLE_LINE)

    def read(self, line: Image.Image) -> LineText | None:
        """The line's text and its words' confidences, or None when Tesseract fails on it
        (the caller keeps its own)."""
        try:
            self._api.SetImage(line)
            text = str(self._api.GetUTF8Text())
            confidences = tuple(float(c) for c in self._api.AllWordConfidences())
            return LineText(text, confidences)
        except RuntimeError:
            return None
        finally:
            self._api.Clear()

    def close(self) -> None:
        self._api.End()


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
