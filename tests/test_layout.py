"""Lines and words from text boxes (RapidOCR's character positions), on hand-made boxes."""

from __future__ import annotations

from daemon.layout import Glyph, Region, assemble, rows, words_in_region


def region(text: str, x: float, y: float, gaps: dict[int, float] | None = None,
           width: float = 10.0, height: float = 20.0) -> Region:
    """Characters ``width`` wide, touching, with extra space before the indexes in ``gaps``."""
    glyphs = []
    for i, char in enumerate(text):
        x += (gaps or {}).get(i, 0.0)
        glyphs.append(Glyph(char, x, x + width, 0.9))
        x += width
    return Region(glyphs[0].x0, y, glyphs[-1].x1, y + height, tuple(glyphs))


def test_wide_gaps_become_word_breaks() -> None:
    # "27,JALANDEDAP13" as read, with the printed gaps before D and 1
    laid = words_in_region(region("27,JALANDEDAP13", 0, 0, {8: 12.0, 13: 9.0}))
    assert [w.text for w in laid] == ["27,JALAN", "DEDAP", "13"]


def test_narrow_gaps_inside_a_word_are_kept_together() -> None:
    laid = words_in_region(region("JALAN", 0, 0, {3: 3.0}))
    assert [w.text for w in laid] == ["JALAN"]


def test_read_spaces_break_words_and_confidence_is_averaged() -> None:
    laid = words_in_region(region("TAMAN JAYA", 0, 0))
    assert [w.text for w in laid] == ["TAMAN", "JAYA"]
    assert laid[0].confidence == 0.9


def test_regions_on_one_row_join_left_to_right_with_column_spacing() -> None:
    total = region("TOTAL", 0, 100)
    amount = region("60.30", 200, 103)  # slightly lower: still the same row
    header = region("RECEIPT", 50, 0)
    assert [[r.glyphs[0].text for r in row] for row in rows([amount, total, header])] == [
        ["R"], ["T", "6"]]
    text, words = assemble([amount, total, header])
    lines = text.splitlines()
    assert lines[0] == "RECEIPT"
    assert lines[1].split() == ["TOTAL", "60.30"]
    assert "        " in lines[1]  # a wide gap keeps the columns apart
    assert [w.text for w in words] == ["RECEIPT", "TOTAL", "60.30"]


def test_empty_page() -> None:
    assert assemble([]) == ("", [])
