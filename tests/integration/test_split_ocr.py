"""Splitting inputs into pages and reading them with the real Tesseract."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from inbox_ocr.bench.samples import SAMPLES, write_sample
from inbox_ocr.config import OcrSettings
from inbox_ocr.errors import ConfigError, CorruptInput, LimitExceeded, UnsupportedFormat
from inbox_ocr.ocr.registry import engine_factory
from inbox_ocr.ocr.tesseract import TesseractEngine, find_tessdata
from inbox_ocr.split import SplitLimits, detect_format, open_pages

LIMITS = SplitLimits(max_file_bytes=50 * 2**20, max_pages=50, max_page_pixels=60_000_000)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine(find_tessdata(""), "eng", 6)


def test_detect_format_by_content_not_name() -> None:
    assert detect_format(b"%PDF-1.7\n") == "pdf"
    assert detect_format(b"\x89PNG\r\n\x1a\n....") == "png"
    assert detect_format(b"\xff\xd8\xff\xe0") == "jpeg"
    assert detect_format(b"II*\x00") == "tiff"
    assert detect_format(b"hello") is None


def test_pdf_pages_come_one_at_a_time(tmp_path: Path) -> None:
    pdf = write_sample(tmp_path / "three.pdf", [["page one"], ["page two"], ["page three"]])
    count, pages = open_pages(pdf, 150, LIMITS)
    assert count == 3
    first = next(pages)
    assert first[0] == 1 and first[1].mode == "L" and first[2] == 150
    assert [n for n, _, _ in pages] == [2, 3]


def test_multiframe_tiff_yields_each_frame(tmp_path: Path) -> None:
    tiff = write_sample(tmp_path / "two.tiff", [["a"], ["b"]])
    count, pages = open_pages(tiff, 300, LIMITS)
    assert count == 2
    assert [n for n, _, _ in pages] == [1, 2]


def test_mislabelled_png_is_read_as_png(tmp_path: Path) -> None:
    path = write_sample(tmp_path / "x.png", [["hello"]]).rename(tmp_path / "scan.pdf")
    count, pages = open_pages(path, 300, LIMITS)
    assert count == 1 and next(pages)[0] == 1


@pytest.mark.parametrize(
    ("content", "error", "reason"),
    [
        (b"", CorruptInput, "empty"),
        (b"just some text, not a scan", UnsupportedFormat, "not a PDF"),
        (b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ntrailer\n%%EOF", CorruptInput, "PDF"),
    ],
)
def test_bad_files_raise_document_errors(
    tmp_path: Path, content: bytes, error: type[Exception], reason: str
) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    with pytest.raises(error, match=reason):
        open_pages(path, 300, LIMITS)


@pytest.mark.parametrize(("suffix", "keep", "dpi"), [(".pdf", 3, 150), (".png", 2, 300)])
def test_truncated_file_is_corrupt(tmp_path: Path, suffix: str, keep: int, dpi: int) -> None:
    good = write_sample(tmp_path / f"good{suffix}", [["text"]]).read_bytes()
    path = tmp_path / f"truncated{suffix}"
    path.write_bytes(good[: len(good) // keep])
    with pytest.raises(CorruptInput):
        _count, pages = open_pages(path, dpi, LIMITS)
        list(pages)


def test_pixel_cap_refuses_a_decompression_bomb_before_decoding(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    Image.new("1", (30000, 30000), 1).save(bomb)  # a few KB on disk, 900 MP decoded
    assert bomb.stat().st_size < 1_000_000
    _count, pages = open_pages(bomb, 300, LIMITS)
    with pytest.raises(LimitExceeded, match="30000x30000"):
        next(pages)


def test_page_and_size_limits(tmp_path: Path) -> None:
    pdf = write_sample(tmp_path / "three.pdf", [["1"], ["2"], ["3"]])
    with pytest.raises(LimitExceeded, match="max_pages"):
        open_pages(pdf, 150, SplitLimits(50 * 2**20, 2, 60_000_000))
    with pytest.raises(LimitExceeded, match="max_file_mb"):
        open_pages(pdf, 150, SplitLimits(1000, 50, 60_000_000))
    with pytest.raises(LimitExceeded, match="megapixels"):
        open_pages(pdf, 1200, SplitLimits(50 * 2**20, 50, 1_000_000))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_tesseract_reads_every_shipped_sample_exactly(engine: TesseractEngine, name: str) -> None:
    _count, pages = open_pages(REPO / "samples" / name, 300, LIMITS)
    for (_number, image, _dpi), expected in zip(pages, SAMPLES[name], strict=True):
        result = engine.recognize(image)
        lines = [" ".join(line.split()) for line in result.text.splitlines()]
        for line in expected:
            assert " ".join(line.split()) in lines
        assert all(w.confidence is not None and 0 <= w.confidence <= 100 for w in result.words)


def test_engine_factory_checks_languages_at_start_up() -> None:
    with pytest.raises(ConfigError) as info:
        engine_factory(OcrSettings(engine="tesseract", languages="eng+xyz"))
    assert info.value.key == "ocr.languages"
    with pytest.raises(ConfigError) as info:
        engine_factory(OcrSettings(engine="tesseract", tessdata="/nonexistent"))
    assert info.value.key == "ocr.tessdata"
