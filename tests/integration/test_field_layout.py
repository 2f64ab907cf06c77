"""Layout-aware pairing (issue 18): labels in a header row over their values, read through the
real engines. The words' boxes travel from the engine to the extractor and into the JSON.
Also the generated invoices of ``inbox-ocr bench invoices`` (every language and layout)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from inbox_ocr.bench.fields import Case, cases_for, score
from inbox_ocr.bench.invoices import LANGUAGES, LAYOUTS, generate
from inbox_ocr.config import OcrSettings, Settings
from inbox_ocr.correct.corrector import PassThroughCorrector
from inbox_ocr.correct.process import make_corrector
from inbox_ocr.document import engine_factory_for, field_inputs, read_document
from inbox_ocr.fields import Fields, PageInput, extract_fields
from inbox_ocr.intake.documents import make_document

# (x, line) of each printed cell: labels in a header row, the values in the row below.
HEADER_ROWS = [
    [(140, "ACME Trading Ltd")],
    [(140, "Invoice Number"), (700, "Invoice Date"), (1150, "Due Date")],
    [(140, "INV/2023/03/0008"), (700, "03/20/2023"), (1150, "04/04/2023")],
    [(140, "Description"), (1150, "Amount")],
    [(140, "Consulting services"), (1150, "1,200.00")],
    [(140, "Subtotal"), (700, "VAT 20%"), (1150, "Total")],
    [(140, "1,200.00"), (700, "240.00"), (1150, "1,440.00")],
]


def header_row_invoice(path: Path) -> Path:
    page = Image.new("L", (1654, 1400), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=36)
    for row, cells in enumerate(HEADER_ROWS):
        for x, text in cells:
            draw.text((x, 150 + 110 * row), text, font=font, fill=0)
    page.save(path, dpi=(300, 300))
    return path


@pytest.mark.parametrize("engine", ["rapidocr", "tesseract"])
def test_labels_in_a_header_row_pair_with_the_values_below_them(tmp_path: Path,
                                                                engine: str) -> None:
    settings = Settings(ocr=OcrSettings(engine=engine))  # type: ignore[arg-type]
    path = header_row_invoice(tmp_path / "header.png")
    ocr = engine_factory_for(settings, workers=1)()
    try:
        st = path.stat()
        reading = read_document(make_document(path, st.st_size, st.st_mtime_ns, 0.0), settings,
                                ocr, PassThroughCorrector())
    finally:
        ocr.close()
    fields = reading.fields
    page = reading.pages[0]
    assert all(w.box is not None for w in page.words), "every word carries its box"
    assert fields["invoice_number"] is not None, page.text
    assert fields["invoice_number"]["value"] == "INV/2023/03/0008", page.text
    assert fields["invoice_date"]["value"] == "2023-03-20", page.text  # type: ignore[index]
    assert fields["due_date"]["value"] == "2023-04-04", page.text  # type: ignore[index]
    assert fields["total"]["value"] == "1440.00", page.text  # type: ignore[index]
    # Subtotal + VAT = total: the amounts under their labels cross-check each other.
    assert fields["total"]["valid"], fields["total"]  # type: ignore[index]


def test_without_boxes_a_header_row_is_paired_by_text_columns_only() -> None:
    # The same header row as monospaced text (Tesseract keeps runs of spaces): no boxes.
    text = "Invoice Number      Invoice Date\nINV/2023/03/0008    03/20/2023"
    found = extract_fields([PageInput(1, text)], today=date(2024, 1, 1)).as_json()
    assert found["invoice_number"]["value"] == "INV/2023/03/0008"  # type: ignore[index]


def test_boxes_pair_a_value_that_the_text_columns_do_not_line_up_with() -> None:
    # RapidOCR's text keeps at most 8 spaces between columns: the characters do not line up,
    # the boxes do.
    text = "Invoice Number  Invoice Date  Due Date\nINV/2023/03/0008  03/20/2023  04/04/2023"
    boxes = [(140, 100, 260, 130), (270, 100, 400, 130), (700, 100, 800, 130),
             (810, 100, 900, 130), (1150, 100, 1220, 130), (1230, 100, 1300, 130),
             (140, 160, 420, 190), (700, 160, 880, 190), (1150, 160, 1330, 190)]
    words = tuple((w, 99.0, box) for w, box in zip(text.split(), boxes, strict=True))
    found = extract_fields([PageInput(1, text, words)], today=date(2024, 1, 1)).as_json()
    assert found["invoice_number"]["value"] == "INV/2023/03/0008"  # type: ignore[index]
    assert found["invoice_date"]["value"] == "2023-03-20"  # type: ignore[index]
    assert found["due_date"]["value"] == "2023-04-04"  # type: ignore[index]


def test_generated_invoices_cover_every_language_and_layout_deterministically(
        tmp_path: Path) -> None:
    first = generate(tmp_path / "a", 40, seed=5)
    again = generate(tmp_path / "b", 40, seed=5)
    truths = [json.loads(p.with_suffix(".json").read_text()) for p in first]
    assert truths == [json.loads(p.with_suffix(".json").read_text()) for p in again]
    assert {(t["language"], t["layout"]) for t in truths} == {
        (lang, layout) for lang in LANGUAGES for layout in LAYOUTS}
    assert {p.suffix for p in first} == {".png", ".pdf"}
    kind, cases = cases_for(tmp_path / "a")
    assert kind == "generated" and len(cases) == 40
    assert set(cases[0].truth) == {"invoice_number", "invoice_date", "due_date", "total"}


@pytest.mark.parametrize("corrected", [False, True], ids=["raw", "corrected"])
def test_the_fields_of_generated_invoices_are_read_in_each_layout(tmp_path: Path,
                                                                  corrected: bool) -> None:
    """Read as the daemon reads them: also through the resident model's corrections, which
    may split a token (the words' boxes must follow) or meet a label no English word list
    knows (``MwSt``, which it must leave alone)."""
    generate(tmp_path, 37, seed=5)
    _kind, cases = cases_for(tmp_path)
    # One of each layout, in five languages: de inline, en header-row, es two-column, fr table,
    # it with the number printed without its label.
    chosen = [cases[0], cases[9], cases[18], cases[27], cases[36]]
    assert [c.name.split(" ", 1)[1] for c in chosen] == [
        "(de, inline)", "(en, header-row)", "(es, two-column)", "(fr, table)",
        "(it, unlabelled-number)"]
    settings = Settings()
    ocr = engine_factory_for(settings, workers=1)()
    corrector = make_corrector(settings) if corrected else PassThroughCorrector()
    corrector.load()

    def read(case: Case) -> Fields:
        st = case.path.stat()
        reading = read_document(make_document(case.path, st.st_size, st.st_mtime_ns, 0.0),
                                settings, ocr, corrector, with_fields=False)
        return extract_fields(field_inputs(reading.pages), today=date(2026, 12, 1))

    try:
        tallies = score(chosen, read)
    finally:
        ocr.close()
        corrector.close()
    for name, tally in tallies.items():
        assert tally.valid_wrong == 0, (name, tally.misses)
        assert tally.correct == 5, (name, tally.misses)
