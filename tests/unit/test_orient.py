"""The orientation core (inbox_ocr.ocr.orient): which quarter turn makes a page upright, from
its line boxes and a line classifier's verdicts. The engine side is tested on real pages in
tests/integration/test_engines.py."""

from __future__ import annotations

from inbox_ocr.ocr import orient
from inbox_ocr.records import Word

WIDE = [(10, 10, 400, 40), (10, 60, 300, 90), (10, 110, 500, 140)]
TALL = [(y0, x0, y1, x1) for x0, y0, x1, y1 in WIDE]  # the same lines, turned a quarter


def test_a_page_of_tall_lines_is_sideways() -> None:
    assert not orient.is_sideways(WIDE)
    assert orient.is_sideways(TALL)
    assert not orient.is_sideways(TALL[:1])  # one tall box (a stamp, a logo) is not a page
    squares = [(0, 0, 30, 30)] * 5  # single characters say nothing about direction
    assert not orient.is_sideways(squares + TALL[:1])


def test_the_longest_directed_lines_are_sampled() -> None:
    assert orient.sample([*WIDE, (0, 0, 30, 30)], size=2) == [WIDE[2], WIDE[0]]


def test_an_upright_page_is_turned_only_on_a_clear_majority() -> None:
    assert orient.turn(False, [("0", 0.99)] * 5) == 0
    assert orient.turn(False, [("180", 0.99)] * 5) == 180
    assert orient.turn(False, [("180", 0.9)] * 3 + [("0", 0.9)] * 3) == 0  # split: as scanned
    assert orient.turn(False, [("180", 0.99)]) == 0  # one line is not enough
    assert orient.turn(False, []) == 0


def test_a_sideways_page_is_always_turned_one_way_or_the_other() -> None:
    # Crops turned clockwise read upright: the page needs the clockwise quarter.
    assert orient.turn(True, [("0", 0.99)] * 4) == 270
    assert orient.turn(True, [("180", 0.99)] * 4) == 90
    assert orient.turn(True, [("180", 0.6), ("0", 0.9)]) == 270  # the larger weight wins


def words(*pairs: tuple[str, float]) -> list[Word]:
    return [Word(text, confidence) for text, confidence in pairs]


def test_tesseract_keeps_a_turned_reading_only_when_it_is_clearly_better() -> None:
    garbage = words(("uu", 40.0), ("n", 38.0), ("s", 41.0))
    upright = words(("Invoice", 96.0), ("INV-4411", 91.0))
    assert orient.worth_turning(garbage) and orient.worth_turning([])
    assert not orient.worth_turning(upright)
    assert orient.better(upright, garbage)
    assert orient.better(upright, [])
    assert not orient.better(garbage, [])  # nothing read beats garbage from a turned page
    assert not orient.better(words(("Invoice", 60.0)), garbage)  # not read well
    assert not orient.better(words(("I", 95.0)), words(("uu nsm uou snosmo", 45.0)))  # too little


def test_the_recogniser_overrules_a_turn_that_reads_worse_than_its_opposite() -> None:
    assert orient.confirmed(180, [0.95, 0.9], [0.5, 0.6]) == 180
    assert orient.confirmed(180, [0.5, 0.6], [0.95, 0.9]) == 0  # upright after all
    assert orient.confirmed(90, [0.4], [0.9]) == 270  # sideways the other way
    assert orient.confirmed(270, [0.4], [0.9]) == 90
    assert orient.confirmed(90, [0.8], [0.8]) == 90  # a tie keeps the verdict
    assert orient.confirmed(180, [], []) == 180  # nothing read: the verdict stands
