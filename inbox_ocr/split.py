"""Turn an input file into page images, one page at a time.

``open_pages(path, ...)`` checks the file (format by content, not by name; size, page and pixel
limits) and returns a lazy iterator of ``(number, image, dpi)``. A PDF is rasterised through
pdf2image one page per call (``first_page == last_page``), so a 500-page PDF never sits in
memory whole; a multi-frame TIFF is read frame by frame.

Runs on a worker thread (pdftoppm is a subprocess with a timeout). Raises only
``DocumentError`` subclasses for bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pdf2image
import pdf2image.exceptions
from PIL import Image, ImageSequence, UnidentifiedImageError

from inbox_ocr.errors import CorruptInput, EncryptedInput, LimitExceeded, UnsupportedFormat

# We enforce our own pixel limit (limits.max_page_megapixels) before decoding anything.
Image.MAX_IMAGE_PIXELS = None

_MAGIC = (
    (b"%PDF-", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)
POPPLER_TIMEOUT_S = 120


@dataclass(frozen=True)
class SplitLimits:
    max_file_bytes: int
    max_pages: int
    max_page_pixels: int


def detect_format(head: bytes) -> str | None:
    """Format of a file from its first bytes: 'pdf', 'png', 'jpeg', 'tiff' or None."""
    # Some scanners write a few bytes of junk before %PDF; readers accept it within 1 KiB.
    if b"%PDF-" in head[:1024]:
        return "pdf"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    return None


PageIter = Iterator[tuple[int, Image.Image, int]]


def open_pages(path: Path, dpi: int, limits: SplitLimits) -> tuple[int, PageIter]:
    """Check ``path`` and return (page_count, lazy iterator of pages).

    Raises UnsupportedFormat, CorruptInput, LimitExceeded.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(1024)
    except OSError as exc:
        raise CorruptInput(f"cannot read file: {exc.strerror}") from exc
    if size == 0:
        raise CorruptInput("file is empty")
    if size > limits.max_file_bytes:
        raise LimitExceeded(
            f"file is {size} bytes, more than limits.max_file_mb ({limits.max_file_bytes} bytes)"
        )
    kind = detect_format(head)
    if kind is None:
        raise UnsupportedFormat(
            f"not a PDF, PNG, JPEG or TIFF file (suffix {path.suffix or 'none'!r})"
        )
    if kind == "pdf":
        return _pdf_pages(path, dpi, limits)
    return _image_pages(path, limits)


def _pdf_pages(path: Path, dpi: int, limits: SplitLimits) -> tuple[int, PageIter]:
    try:
        info = pdf2image.pdfinfo_from_path(str(path), timeout=POPPLER_TIMEOUT_S)
    except pdf2image.exceptions.PDFInfoNotInstalledError as exc:  # checked at start-up
        raise CorruptInput("pdfinfo is not installed") from exc
    except (pdf2image.exceptions.PDFPageCountError, pdf2image.exceptions.PDFSyntaxError) as exc:
        message = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable PDF"
        if "password" in message.lower() or "encrypt" in message.lower():
            raise EncryptedInput(f"PDF is encrypted or password-protected: {message}") from exc
        raise CorruptInput(f"PDF cannot be read: {message}") from exc
    except ValueError as exc:  # pdf2image fails to parse pdfinfo output of damaged files
        raise CorruptInput(f"PDF cannot be read: {exc}") from exc
    pages = int(info.get("Pages", 0))
    if pages <= 0:
        raise CorruptInput("PDF has no pages")
    if pages > limits.max_pages:
        raise LimitExceeded(f"PDF has {pages} pages, more than limits.max_pages ({limits.max_pages})")
    width_pt, height_pt = _page_size_points(str(info.get("Page size", "")))
    if width_pt * height_pt * (dpi / 72) ** 2 > limits.max_page_pixels:
        raise LimitExceeded(
            f"page of {width_pt:.0f}x{height_pt:.0f} pt at {dpi} dpi exceeds "
            f"limits.max_page_megapixels ({limits.max_page_pixels / 1e6:g} MP)"
        )

    def pages_iter() -> PageIter:
        for number in range(1, pages + 1):
            try:
                images = pdf2image.convert_from_path(
                    str(path), dpi=dpi, first_page=number, last_page=number,
                    grayscale=True, timeout=POPPLER_TIMEOUT_S,
                )
            except Exception as exc:  # pdf2image raises bare Exceptions from pdftoppm stderr
                raise CorruptInput(f"page {number} cannot be rasterised: {exc}") from exc
            if not images:
                raise CorruptInput(f"page {number} cannot be rasterised")
            yield number, images[0], dpi

    return pages, pages_iter()


def _page_size_points(text: str) -> tuple[float, float]:
    match = re.match(r"\s*([\d.]+)\s*x\s*([\d.]+)", text)
    if not match:
        return (612.0, 792.0)
    return float(match.group(1)), float(match.group(2))


def _image_pages(path: Path, limits: SplitLimits) -> tuple[int, PageIter]:
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise CorruptInput(f"image cannot be read: {exc}") from exc
    frames = getattr(image, "n_frames", 1)
    if frames > limits.max_pages:
        image.close()
        raise LimitExceeded(f"image has {frames} frames, more than limits.max_pages ({limits.max_pages})")
    dpi = _image_dpi(image)

    def pages_iter() -> PageIter:
        with image:
            for index, frame in enumerate(ImageSequence.Iterator(image), start=1):
                if frame.width * frame.height > limits.max_page_pixels:
                    raise LimitExceeded(
                        f"page {index} is {frame.width}x{frame.height} pixels, more than "
                        f"limits.max_page_megapixels ({limits.max_page_pixels / 1e6:g} MP)"
                    )
                try:
                    page = frame.convert("L")
                except (OSError, SyntaxError, ValueError) as exc:
                    raise CorruptInput(f"page {index} cannot be decoded: {exc}") from exc
                yield index, page, dpi

    return frames, pages_iter()


def _image_dpi(image: Image.Image) -> int:
    dpi = image.info.get("dpi")
    try:
        value = round(float(dpi[0])) if dpi else 0
    except (TypeError, ValueError, IndexError):
        value = 0
    return value if value >= 50 else 300
