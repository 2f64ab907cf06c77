"""Aspose OCR through ``aspose-ocr-python-java`` (JPype and the machine's JDK).

Optional: ``pip install inbox-ocr[aspose]`` and a JDK (scripts/setup.sh installs both when
``INBOX_OCR_EXTRAS`` includes ``aspose``). Importing the package starts one JVM per process;
JPype attaches each worker thread to it.

Why not ``aspose-ocr-python-net``, which also carries Aspose's AI post-processor: it embeds
.NET Core 3.1, which aborts on Debian 12 ("Couldn't find a valid ICU package"; with invariant
globalization "No usable version of libssl was found"). ``aspose-ocr-python-cpp`` downloads its
models at run time and returns nothing offline.

Licence: ``ocr.aspose_license`` names the licence file, applied once at start-up. Without one
Aspose runs in evaluation mode: it returns only the first ~300 characters of a page and appends
a ``***** Trial Licenses *****`` line. ``split_evaluation_marker`` detects and strips that line;
the page is then marked ``evaluation_truncated`` (outbox JSON and audit log) so truncated text
is never taken for the whole page.
"""

from __future__ import annotations

import io
import re
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

from PIL import Image

from inbox_ocr.errors import ConfigError, EngineFailed, StartupError
from inbox_ocr.ocr.api import OcrResult, tidy
from inbox_ocr.ops import audit
from inbox_ocr.records import Word

PACKAGE = "aspose-ocr-python-java"
EVALUATION_MARKER = re.compile(r"^\s*\*+\s*Trial\s+Licen[sc]es?\s*\*+\s*$", re.IGNORECASE | re.MULTILINE)

log = audit.get_logger()
_licence_lock = threading.Lock()
_licensed: dict[str, bool] = {}


def split_evaluation_marker(text: str) -> tuple[str, bool]:
    """The text without Aspose's evaluation marker line, and whether the marker was there."""
    stripped, count = EVALUATION_MARKER.subn("", text)
    return (tidy(stripped), True) if count else (text, False)


def load_aspose() -> Any:
    """Import the package (starting the JVM); StartupError when it or the JDK is missing."""
    try:
        import aspose.asposeocr as asposeocr
    except ImportError as exc:
        raise StartupError(
            f"ocr.engine = 'aspose' needs the optional extra: pip install 'inbox-ocr[aspose]' ({exc})"
        ) from exc
    except Exception as exc:  # JPype raises its own errors when no JVM can be found
        raise StartupError(f"aspose OCR cannot start a Java VM (install a JDK): {exc}") from exc
    return asposeocr


def apply_license(path: str) -> bool:
    """Apply the licence file once per process; True when Aspose reports itself licensed.

    An empty ``path`` means evaluation mode. Logs one warning when not licensed.
    Raises ConfigError (key ``ocr.aspose_license``) when the file is missing or rejected.
    """
    with _licence_lock:
        if path in _licensed:
            return _licensed[path]
        load_aspose()
        from aspose.license import License

        licensed = False
        if path:
            if not Path(path).is_file():
                raise ConfigError("ocr.aspose_license", f"licence file not found: {path}")
            licence = License()
            try:
                licence.set_license(path)
            except Exception as exc:  # a java.lang.IllegalStateException for a bad file
                raise ConfigError("ocr.aspose_license", f"licence rejected: {exc}") from exc
            licensed = licence.is_licensed()
        if not licensed:
            log.warning(audit.OCR_EVALUATION_MODE, engine="aspose",
                        license=path or None,
                        consequence="each page is cut to about 300 characters and marked "
                                    "evaluation_truncated")
        _licensed[path] = licensed
        return licensed


class AsposeEngine:
    name = "aspose"

    def __init__(self, license_path: str = "") -> None:
        asposeocr = load_aspose()
        from aspose.models import InputType, OcrInput

        self.version = metadata.version(PACKAGE)
        self.licensed = apply_license(license_path)
        self._api = asposeocr.AsposeOcr()
        self._new_input: Any = OcrInput
        self._single_image: Any = InputType.SINGLE_IMAGE

    def recognize(self, image: Image.Image) -> OcrResult:
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        try:
            page = self._new_input(self._single_image)
            page.addStream(buffer.getvalue())
            results = self._api.recognize(page)
            raw = str(results[0].recognition_text) if len(results) else ""
        except Exception as exc:  # Java exceptions arrive as JPype proxies
            raise EngineFailed(f"aspose failed: {type(exc).__name__}: {exc}") from exc
        text, truncated = split_evaluation_marker(tidy(raw))
        if truncated:
            log.warning(audit.OCR_EVALUATION_TRUNCATED, engine="aspose", characters=len(text))
        words = tuple(Word(w, None) for w in text.split())
        return OcrResult(text, words, evaluation_truncated=truncated)

    def close(self) -> None:
        self._api = None
