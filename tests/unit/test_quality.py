"""The benchmark's scorer on hand-made cases, and the SROIE reader on a hand-made folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from inbox_ocr.bench.commands import setting_environ
from inbox_ocr.bench.scoring import (
    Totals,
    Truth,
    edit_distance,
    field_found,
    line_edits,
    output_candidates,
    read_sroie,
    score_page,
)
from inbox_ocr.cli import main
from inbox_ocr.errors import ConfigError
from tests.support.workspace import SHARED_DATASETS


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("", "", 0), ("abc", "", 3), ("kitten", "sitting", 3), ("total", "tota1", 1), ("ab", "ba", 2)],
)
def test_edit_distance(a: str, b: str, distance: int) -> None:
    assert edit_distance(a, b) == distance
    assert edit_distance(b, a) == distance


def test_edit_distance_bound_stops_early_but_never_undercounts() -> None:
    assert edit_distance("aaaaaaaa", "bbbbbbbb", bound=3) == 3
    assert edit_distance("abc", "abd", bound=5) == 1


def test_words_are_a_case_insensitive_multiset() -> None:
    truth = Truth("t", ("TOTAL 10.00", "CASH 10.00"))
    score = score_page(truth, "total 10.00\n10.00 10.00 change")
    # truth: total, 10.00 x2, cash; output: total, 10.00 x3, change
    assert (score.matched_words, score.output_words, score.truth_words) == (3, 5, 4)
    totals = Totals()
    totals.add(score)
    assert totals.precision == pytest.approx(3 / 5)
    assert totals.recall == pytest.approx(3 / 4)
    assert totals.f1 == pytest.approx(2 * 0.6 * 0.75 / 1.35)


def test_totals_pool_words_over_receipts() -> None:
    totals = Totals()
    totals.add(score_page(Truth("a", ("one two",)), "one two"), seconds=1.0)
    totals.add(score_page(Truth("b", ("three four five six",)), "three"), seconds=3.0)
    assert totals.recall == pytest.approx(3 / 6)
    assert totals.precision == 1.0
    assert totals.seconds_per_page == 2.0


def test_line_cer_uses_the_closest_line_or_two_adjacent_lines_joined() -> None:
    output = "TEL:07-3507405\nFAX:07-3558160\nRECEIPT"
    assert "tel:07-3507405 fax:07-3558160" in output_candidates(output)
    truth = Truth("t", ("TEL:07-3507405 FAX:07-3558160", "RECEIPT", "THANK YOU"))
    score = score_page(truth, output)
    # the joined pair matches exactly, RECEIPT matches, THANK YOU matches nothing (9 edits max)
    assert score.truth_chars == 29 + 7 + 9
    assert score.line_edits == line_edits("thank you", output_candidates(output))
    assert score.line_edits <= 9


def test_line_cer_ignores_layout_spacing_and_case() -> None:
    score = score_page(Truth("t", ("Total   RM 25.50",)), "TOTAL RM    25.50")
    assert score.line_edits == 0


def test_empty_output_costs_every_character() -> None:
    score = score_page(Truth("t", ("abc", "de")), "")
    assert (score.line_edits, score.truth_chars, score.output_words) == (5, 5, 0)


@pytest.mark.parametrize(
    ("value", "text", "found"),
    [
        ("19/10/2018", "DATE: 19/10/2018 20:49", True),
        ("60.30", "TOTAL RM 60 .30", True),  # whitespace removed on both sides
        ("60.30", "TOTAL RM 60.80", False),
        ("Mar 5, 2018", "mar5,2018", True),
        ("", "anything", False),
    ],
)
def test_field_presence(value: str, text: str, found: bool) -> None:
    assert field_found(value, text) is found


def test_read_sroie_folder(tmp_path: Path) -> None:
    for folder in ("img", "box", "key"):
        (tmp_path / folder).mkdir()
    (tmp_path / "img" / "001.jpg").write_bytes(b"")
    (tmp_path / "img" / "002.jpg").write_bytes(b"")
    (tmp_path / "img" / "003.jpg").write_bytes(b"")  # no box file: skipped
    (tmp_path / "box" / "001.csv").write_text(
        "1,2,3,4,5,6,7,8,27,JALAN DEDAP 13,\n1,2,3,4,5,6,7,8,TOTAL 60.30\n\n", encoding="utf-8")
    (tmp_path / "box" / "002.csv").write_text("1,2,3,4,5,6,7,8,HELLO\n", encoding="utf-8")
    (tmp_path / "key" / "001.json").write_text(
        '{"company": "X", "date": "19/10/2018", "total": "60.30"}', encoding="utf-8")
    items = list(read_sroie(tmp_path))
    assert [truth.name for _path, truth in items] == ["001", "002"]
    first = items[0][1]
    assert first.lines == ("27,JALAN DEDAP 13,", "TOTAL 60.30")
    assert first.fields == {"date": "19/10/2018", "total": "60.30"}
    assert items[1][1].fields == {}
    assert len(list(read_sroie(tmp_path, limit=1))) == 1


def test_engine_setting_spec_becomes_validated_overrides() -> None:
    assert setting_environ("rapidocr, upscale_dpi=300") == {
        "INBOX_OCR_OCR_ENGINE": "rapidocr", "INBOX_OCR_OCR_UPSCALE_DPI": "300"}
    with pytest.raises(ConfigError):
        setting_environ("tesseract,psm")


@pytest.mark.skipif(not (SHARED_DATASETS / "sroie-dev").is_dir(),
                    reason="../shared/datasets/sroie-dev is not present")
def test_bench_quality_command_prints_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["bench", "quality", "--dataset", str(SHARED_DATASETS / "sroie-dev"),
                 "--limit", "2", "--engine", "tesseract", "--engine", "tesseract,psm=4"])
    out = capsys.readouterr().out
    assert code == 0
    assert "2 receipts" in out
    rows = [line for line in out.splitlines() if line.startswith("| tesseract")]
    assert len(rows) == 2
    f1 = float(rows[0].split("|")[4])
    assert 0.0 < f1 <= 1.0


def test_bench_quality_rejects_an_unknown_setting(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    code = main(["bench", "quality", "--dataset", str(tmp_path), "--engine", "tesseract,colour=1"])
    assert code == 2
    assert "INBOX_OCR_OCR_COLOUR" in capsys.readouterr().err


def test_corrections_are_counted_fixed_broken_or_neither_against_the_truth() -> None:
    from collections import Counter

    from inbox_ocr.bench.commands import tally_classes
    from inbox_ocr.bench.scoring import Truth
    from inbox_ocr.records import Correction, Document, PageText

    doc = Document("id", Path("r.png"), "0" * 64, 1, 0, 0.0)
    fixes = (Correction(1, 1, "Inv0ice", "Invoice", 3.0, "ocr-confusion:word"),
             Correction(1, 2, "10.00", "1O.00", 3.0, "ocr-confusion:number"),
             Correction(1, 3, "B0ARD", "BOARD", 3.0, "ocr-confusion:word"))
    page = PageText(doc, 1, 1, 1, 300, "", "", (), {}, fixes)
    classes: dict[str, Counter[str]] = {}
    tally_classes(classes, Truth("r", ("Invoice 10.00", "CARD")), [page])
    assert classes == {"ocr-confusion:word": Counter(fixed=1, neither=1),
                       "ocr-confusion:number": Counter({"numeric broken": 1})}


def test_the_fused_text_replays_only_the_second_reading_words() -> None:
    from inbox_ocr.bench.commands import SECOND_READING, replayed
    from inbox_ocr.records import Correction

    corrections = (Correction(1, 1, "N0", "NO", 4.0, SECOND_READING),
                   Correction(1, 1, "Tota1", "Total", 9.0, "ocr-confusion:word"),
                   Correction(1, 2, "Amcunt", "Amount", 5.0, SECOND_READING))
    # whole words only: "TN0" keeps its "N0"
    assert replayed("TN0 N0 Tota1\nAmcunt: 5", corrections, SECOND_READING) == (
        "TN0 NO Tota1\nAmount: 5")
    assert replayed("Tota1", corrections, "ocr-confusion:word") == "Total"
    # a run of words regrouped as the second reading splits it is part of that reading
    regrouped = (Correction(1, 1, "DARUL.EHSAN", "DARUL EHSAN", 9.0, "second-reading:regrouped"),)
    assert replayed("43000 DARUL.EHSAN", regrouped, SECOND_READING) == "43000 DARUL EHSAN"
