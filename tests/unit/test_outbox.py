"""Output naming and atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox_ocr.errors import CorruptInput, OutboxUnavailable
from inbox_ocr.outbox.files import Outbox, unique_name, unique_stem, write_atomic
from inbox_ocr.outbox.result import build_result, page_text, page_warnings
from inbox_ocr.records import Correction, Document, PageText, Word


def test_unique_stem_adds_a_counter_only_when_taken() -> None:
    assert unique_stem("invoice", lambda s: False) == "invoice"
    taken = {"invoice", "invoice-2"}
    assert unique_stem("invoice", taken.__contains__) == "invoice-3"


def test_unique_name_keeps_the_suffix() -> None:
    assert unique_name("scan.pdf", {"scan.pdf"}.__contains__) == "scan-2.pdf"
    assert unique_name("README", {"README"}.__contains__) == "README-2"


def test_same_stem_inputs_get_separate_results(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path, tmp_path / "a", tmp_path / "f")
    first = outbox.reserve_stem("invoice.pdf")
    outbox.commit(first, "one\n", {"n": 1})
    second = outbox.reserve_stem("invoice.png")
    outbox.commit(second, "two\n", {"n": 2})
    assert (first, second) == ("invoice", "invoice-2")
    assert (tmp_path / "invoice.txt").read_text() == "one\n"
    assert json.loads((tmp_path / "invoice-2.json").read_text()) == {"n": 2}


def test_write_atomic_leaves_no_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "x.txt"
    write_atomic(target, b"hello")
    write_atomic(target, b"world")
    assert target.read_bytes() == b"world"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


def test_write_atomic_to_a_missing_folder_is_retryable(tmp_path: Path) -> None:
    with pytest.raises(OutboxUnavailable) as info:
        write_atomic(tmp_path / "gone" / "x.txt", b"data")
    assert info.value.retryable


def test_quarantine_writes_a_machine_readable_reason(tmp_path: Path) -> None:
    (tmp_path / "failed").mkdir()
    source = tmp_path / "bad.pdf"
    source.write_bytes(b"junk")
    error = CorruptInput("PDF cannot be read: broken xref")
    error.stage = "split"
    target = Outbox(tmp_path, tmp_path, tmp_path / "failed").quarantine(source, error, "split", "id1")
    report = json.loads((tmp_path / "failed" / "bad.pdf.error.json").read_text())
    assert target == tmp_path / "failed" / "bad.pdf" and not source.exists()
    assert report["reason"] == "corrupt_input"
    assert report["error_class"] == "CorruptInput"
    assert report["stage"] == "split"
    assert report["retryable"] is False
    assert "broken xref" in report["message"]


def test_result_json_lists_pages_in_order_with_corrections() -> None:
    doc = Document("abc-1", Path("/in/scan.pdf"), "ab" * 32, 10, 1_700_000_000_000_000_000, 1.7e9)
    pages = [
        PageText(doc, 2, 10, 20, 300, "p2", "p2", (), {"ocr": 0.5}),
        PageText(doc, 1, 10, 20, 300, "Inv0ice", "Invoice", (Word("Inv0ice", 91.0),),
                 {"ocr": 0.25}, (Correction(1, 1, "Inv0ice", "Invoice", 2.5, "confusion"),)),
    ]
    result = build_result(doc, pages, engine={"name": "tesseract"}, corrector="none",
                          started_at=1.7e9, finished_at=1.7e9 + 1, stage_seconds={"ocr": 0.75},
                          warnings=[], outputs={"text": "scan.txt"})
    assert result["schema_version"] == 1
    assert [p["number"] for p in result["pages"]] == [1, 2]
    assert result["pages"][0]["raw_text"] == "Inv0ice"
    assert result["pages"][0]["words"] == [["Inv0ice", 91.0, None]]
    assert result["corrections"][0]["after"] == "Invoice"
    assert result["source"]["sha256"] == "ab" * 32
    assert page_text(pages) == "Invoice\fp2\n"


def test_evaluation_truncated_pages_are_marked_and_warned_about() -> None:
    doc = Document("abc-1", Path("/in/scan.png"), "ab" * 32, 10, 1_700_000_000_000_000_000, 1.7e9)
    pages = [PageText(doc, 1, 10, 20, 300, "ACME", "ACME", (), {}, evaluation_truncated=True)]
    warnings = page_warnings(pages)
    assert warnings == ["page 1: OCR engine in evaluation mode, text truncated"]
    result = build_result(doc, pages, engine={"name": "aspose"}, corrector="none",
                          started_at=1.7e9, finished_at=1.7e9 + 1, stage_seconds={},
                          warnings=warnings, outputs={})
    assert result["pages"][0]["evaluation_truncated"] is True
    assert result["warnings"] == warnings
