"""Word breaks measured on a monospaced line's character grid (``inbox_ocr.ocr.cells``), on
hand-made ink and glyph boxes."""

from __future__ import annotations

from inbox_ocr.ocr.cells import columns, grid_cells, measured_breaks
from inbox_ocr.ocr.colons import Box
from inbox_ocr.ocr.layout import Glyph, LineText, Region, assemble

PITCH = 20.0
TOP, HEIGHT = 100.0, 30.0


def printed(line: str, x0: float = 40.0, pitch: float = PITCH) -> list[Box]:
    """The ink of ``line`` in a monospaced font: a 12 px wide blob centred in each character's
    cell (two stacked dots for ``:``), nothing for a space."""
    ink: list[Box] = []
    for i, char in enumerate(line):
        middle = x0 + (i + 0.5) * pitch
        if char == ":":
            ink += [(middle - 2, TOP + 10, middle + 2, TOP + 14),
                    (middle - 2, TOP + 20, middle + 2, TOP + 24)]
        elif char == ".":
            ink.append((middle - 2, TOP + 22, middle + 2, TOP + 26))
        elif char != " ":
            ink.append((middle - 6, TOP + 4, middle + 6, TOP + 26))
    return ink


def read_as(text: str, x0: float, x1: float) -> Region:
    """A region as the recogniser reports it: ``text``'s glyphs spread evenly over its box
    (the recogniser's positions are coarse), with no spaces when it dropped them."""
    step = (x1 - x0) / len(text)
    return Region(x0, TOP, x1, TOP + HEIGHT, tuple(
        Glyph(c, x0 + i * step, x0 + (i + 1) * step, 0.95) for i, c in enumerate(text)))


def words(regions: list[Region], second: str | None = None) -> list[str]:
    text, _laid, _second = assemble(
        regions, (lambda _region: LineText(second)) if second is not None else None)
    return text.split()


def test_an_empty_cell_is_a_word_break_and_none_is_none() -> None:
    line = "Cashier:Nicole"  # glued as printed; Tesseract read "Cashier :Nicole"
    region = read_as(line, 40.0, 40.0 + PITCH * len(line))
    [measured] = measured_breaks(printed(line), [region])
    assert words([measured], "Cashier :Nicole") == ["Cashier:Nicole"]
    assert words([region], "Cashier :Nicole") == ["Cashier", ":Nicole"]  # without the grid

    spaced = "TOTAL : 250.00"  # the recogniser read "TOTAL:250.00", Tesseract "TOTAL: 250 .00"
    region = read_as("TOTAL:250.00", 40.0, 40.0 + PITCH * len(spaced))
    [measured] = measured_breaks(printed(spaced), [region])
    assert words([measured], "TOTAL: 250 .00") == ["TOTAL", ":", "250.00"]
    assert [g.spaced for g in measured.glyphs] == [
        None, False, False, False, False, True, True, False, False, False, False, False]


def test_the_widest_fitting_pitch_wins_over_half_of_it() -> None:
    # At half the pitch every character also has a cell of its own, with an empty one between
    # each two: that reading would put a space between all of them.
    ink = columns(printed("WHOLEMEAL"))
    assert grid_cells(ink, 9) == list(range(9))


def test_a_letter_printed_in_parts_is_one_character() -> None:
    # A dot-matrix "M" whose strokes come out as three blobs side by side in its cell.
    ink = printed("RM6.00")
    left = 40.0 + 1.5 * PITCH
    m = [(left - 6, TOP + 4, left - 3, TOP + 26), (left - 1.5, TOP + 4, left + 1.5, TOP + 26),
         (left + 3, TOP + 4, left + 6, TOP + 26)]
    ink = [ink[0], *m, *ink[2:]]
    assert grid_cells(columns(sorted(ink)), 6) == list(range(6))


def test_no_grid_where_the_ink_does_not_fit_one() -> None:
    # A proportional font: narrow and wide letters, centres 5, 15, 33, 50 and 68 px.
    proportional = [(0.0, 10.0), (12.0, 18.0), (22.0, 44.0), (48.0, 52.0), (56.0, 80.0)]
    assert grid_cells(proportional, 5) is None
    # More cells hold ink than the recogniser read characters (speckle, a lost character).
    assert grid_cells(columns(printed("AB CDE")), 4) is None
    # Fewer ink columns than characters (touching characters).
    assert grid_cells(columns(printed("ABCD")), 5) is None


def test_regions_without_a_grid_keep_the_readings_breaks() -> None:
    line = "Cashier:Nicole"
    region = read_as(line, 40.0, 40.0 + PITCH * len(line))
    speckle = (40.0 + PITCH * 3.9, TOP + 2, 40.0 + PITCH * 4.1, TOP + 5)  # between two cells
    assert measured_breaks([*printed(line), speckle], [region]) == [region]
    short = read_as("RM6", 40.0, 40.0 + 3 * PITCH)  # too few characters to trust a grid
    assert measured_breaks(printed("RM6"), [short]) == [short]
    # Ink of another region (a line below) is not this region's.
    other = [(b[0], b[1] + 200, b[2], b[3] + 200) for b in printed("X X X X X X X X")]
    [measured] = measured_breaks([*printed(line), *other], [region])
    assert words([measured], "Cashier :Nicole") == ["Cashier:Nicole"]


def test_measured_breaks_override_both_readings_in_the_page_text() -> None:
    # Tesseract put a space before the decimal mark and after the colon of a glued label;
    # the recogniser's own gap-based breaks are overridden too.
    line = "Amount(RM) 250.00"
    region = read_as("Amount(RM)250.00", 40.0, 40.0 + PITCH * len(line))
    [measured] = measured_breaks(printed(line), [region])
    assert words([measured], "Amount (RM) 250 .00") == ["Amount(RM)", "250.00"]
    assert words([measured]) == ["Amount(RM)", "250.00"]  # without a second reading


def test_the_second_reading_is_split_where_the_image_measured_too() -> None:
    # The correction stage weighs the two readings word by word: Tesseract's words are
    # re-split at the measured breaks, so "250 .00" does not stand against "250.00". Its
    # characters stay its own ("Arnount"), and a merged word keeps the lower confidence.
    line = "Amount(RM) 250.00"
    region = read_as("Amount(RM)250.00", 40.0, 40.0 + PITCH * len(line))
    [measured] = measured_breaks(printed(line), [region])
    _text, _laid, second = assemble([measured], lambda _r: LineText("Arnount (RM) 250 .00",
                                                                    (80.0, 90.0, 95.0, 60.0)))
    [reading] = second
    assert reading.words == ("Arnount(RM)", "250.00")
    assert reading.confidences == (80.0, 60.0)
    # Without a measured grid the second reading's own words stay.
    _text, _laid, second = assemble([region], lambda _r: LineText("Amount (RM) 250 .00"))
    assert second[0].words == ("Amount", "(RM)", "250", ".00")


def test_a_region_of_speckle_is_not_tried() -> None:
    # 400 specks under a 5-character reading: no grid, and no quadratic search over them.
    specks = [(float(x), 0.0, x + 1.0, 1.0) for x in range(0, 1600, 4)]
    assert grid_cells(columns(specks), 5) is None
