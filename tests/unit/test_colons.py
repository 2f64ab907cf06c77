"""Lone colons found between a label and its value (``inbox_ocr.ocr.colons``), on hand-made
blob and region boxes."""

from __future__ import annotations

from inbox_ocr.ocr.colons import CONFIDENCE, lone_colons
from inbox_ocr.ocr.layout import Glyph, Region, assemble


def region(text: str, x0: float, x1: float, y0: float = 100.0, height: float = 40.0) -> Region:
    width = (x1 - x0) / len(text)
    return Region(x0, y0, x1, y0 + height, tuple(
        Glyph(c, x0 + i * width, x0 + (i + 1) * width, 0.99) for i, c in enumerate(text)))


LABEL, VALUE = region("TOTAL", 0, 150), region("12.00", 400, 550)
# A colon 26 px high: two 8 x 8 dots with a 10 px gap, in the middle of the row.
DOTS = [(270.0, 108.0, 278.0, 116.0), (270.0, 126.0, 278.0, 134.0)]


def test_two_stacked_dots_in_a_column_gap_are_a_colon() -> None:
    [colon] = lone_colons(DOTS, [LABEL, VALUE])
    assert (colon.x0, colon.y0, colon.x1, colon.y1) == (270.0, 108.0, 278.0, 134.0)
    assert colon.glyphs == (Glyph(":", 270.0, 278.0, CONFIDENCE),)
    text, _words, _second = assemble([LABEL, VALUE, colon])
    assert text.split() == ["TOTAL", ":", "12.00"]


def test_speckle_around_the_dots_is_ignored() -> None:
    assert lone_colons([*DOTS, (200.0, 110.0, 201.0, 111.0)], [LABEL, VALUE])


def test_anything_else_in_the_gap_is_no_colon() -> None:
    third_dot = (270.0, 93.0, 278.0, 101.0)  # ":" under a dot
    dash = (250.0, 118.0, 300.0, 122.0)
    assert lone_colons([*DOTS, third_dot], [LABEL, VALUE]) == []
    assert lone_colons([*DOTS, dash], [LABEL, VALUE]) == []
    assert lone_colons(DOTS[:1], [LABEL, VALUE]) == []


def test_dots_that_are_no_colon_shape_are_left_alone() -> None:
    side_by_side = [(270.0, 118.0, 278.0, 126.0), (290.0, 118.0, 298.0, 126.0)]
    unlike = [(270.0, 108.0, 278.0, 116.0), (266.0, 124.0, 282.0, 136.0)]  # 8x8 and 16x12
    too_tall = [(270.0, 60.0, 278.0, 68.0), (270.0, 126.0, 278.0, 134.0)]
    big = [(260.0, 104.0, 280.0, 118.0), (260.0, 122.0, 280.0, 136.0)]  # 20 px: a letter's parts
    for blobs in (side_by_side, unlike, too_tall, big):
        assert lone_colons(blobs, [LABEL, VALUE]) == [], blobs


def test_only_gaps_between_regions_of_one_row_are_searched() -> None:
    assert lone_colons(DOTS, [LABEL]) == []  # no region to its right: no column gap
    close = region("12.00", 160, 310)  # a word space, not a column gap, and the dots under it
    assert lone_colons(DOTS, [LABEL, close]) == []
    other_row = region("12.00", 400, 550, y0=300)
    assert lone_colons(DOTS, [LABEL, other_row]) == []
