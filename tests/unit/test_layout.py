"""Lines and words from text boxes (RapidOCR's character positions), on hand-made boxes, and
word breaks moved to where a second reading of the line (Tesseract's) puts them."""

from __future__ import annotations

from inbox_ocr.ocr.layout import (
    Glyph,
    LineText,
    Region,
    assemble,
    fold,
    pieces_in_region,
    rebreak,
    rows,
)


def region(text: str, x: float, y: float, gaps: dict[int, float] | None = None,
           width: float = 10.0, height: float = 20.0) -> Region:
    """Characters ``width`` wide, touching, with extra space before the indexes in ``gaps``."""
    glyphs = []
    for i, char in enumerate(text):
        x += (gaps or {}).get(i, 0.0)
        glyphs.append(Glyph(char, x, x + width, 0.9))
        x += width
    return Region(glyphs[0].x0, y, glyphs[-1].x1, y + height, tuple(glyphs))


def texts(pieces: list[list[Glyph]]) -> list[str]:
    return ["".join(g.text for g in piece) for piece in pieces]


def test_wide_gaps_become_word_breaks() -> None:
    # "27,JALANDEDAP13" as read, with the printed gaps before D and 1
    pieces = pieces_in_region(region("27,JALANDEDAP13", 0, 0, {8: 12.0, 13: 9.0}))
    assert texts(pieces) == ["27,JALAN", "DEDAP", "13"]


def test_narrow_gaps_inside_a_word_are_kept_together() -> None:
    assert texts(pieces_in_region(region("JALAN", 0, 0, {3: 3.0}))) == ["JALAN"]


def test_read_spaces_break_words_and_confidence_is_averaged() -> None:
    _text, laid, _second = assemble([region("TAMAN JAYA", 0, 0)])
    assert [w.text for w in laid] == ["TAMAN", "JAYA"]
    assert laid[0].confidence == 0.9


def test_regions_on_one_row_join_left_to_right_with_column_spacing() -> None:
    total = region("TOTAL", 0, 100)
    amount = region("60.30", 200, 103)  # slightly lower: still the same row
    header = region("RECEIPT", 50, 0)
    assert [[r.glyphs[0].text for r in row] for row in rows([amount, total, header])] == [
        ["R"], ["T", "6"]]
    text, words, second = assemble([amount, total, header])
    assert second == ()  # read once: no second reading
    lines = text.splitlines()
    assert lines[0] == "RECEIPT"
    assert lines[1].split() == ["TOTAL", "60.30"]
    assert "        " in lines[1]  # a wide gap keeps the columns apart
    assert [w.text for w in words] == ["RECEIPT", "TOTAL", "60.30"]


def test_empty_page() -> None:
    assert assemble([]) == ("", [], ())


def test_rebreak_takes_the_reference_breaks_where_both_read_the_same() -> None:
    pieces = pieces_in_region(region("TAXINVOICE(COSWAY)", 0, 0))
    assert texts(pieces) == ["TAXINVOICE(COSWAY)"]
    assert texts(rebreak(pieces, "TAX INVOICE (COSWAY)")) == ["TAX", "INVOICE", "(COSWAY)"]


def test_rebreak_removes_a_gap_break_inside_an_agreed_word() -> None:
    pieces = pieces_in_region(region("GSTSummary", 0, 0, {6: 8.0}))
    assert texts(pieces) == ["GSTSum", "mary"]
    assert texts(rebreak(pieces, "gst summary")) == ["GST", "Summary"]  # case is ignored


def test_rebreak_keeps_its_own_characters_and_breaks_where_the_readings_differ() -> None:
    pieces = pieces_in_region(region("RH 60.31", 0, 0))
    out = rebreak(pieces, "RM 6031")  # the reference misreads both words
    assert texts(out) == ["RH", "60.31"]
    assert all(g.confidence == 0.9 for piece in out for g in piece)
    assert texts(rebreak(pieces, "")) == ["RH", "60.31"]
    # full-width punctuation from the recogniser aligns with its ASCII reading
    assert texts(rebreak(pieces_in_region(region("Item（s）Qty", 0, 0)), "Item(s) Qty")) == [
        "Item（s）", "Qty"]


def test_rebreak_never_splits_an_amount_after_its_decimal_mark() -> None:
    # A receipt font with a wide decimal point: Tesseract reads "39. 80".
    pieces = pieces_in_region(region("RM39.80", 0, 0))
    assert texts(rebreak(pieces, "RM 39. 80")) == ["RM", "39.80"]
    assert texts(rebreak(pieces_in_region(region("(2.25)", 0, 0)), "(2. 25)")) == ["(2.25)"]
    # A count before an amount, or a sentence's end before a number, stays two words.
    assert texts(rebreak(pieces_in_region(region("3.25.00", 0, 0)), "3. 25.00")) == [
        "3.", "25.00"]
    assert texts(rebreak(pieces_in_region(region("NO.123", 0, 0)), "NO. 123")) == ["NO.", "123"]


def test_a_quantity_and_its_times_sign_are_two_words() -> None:
    pieces = pieces_in_region(region("2X 6.50", 0, 0))
    assert texts(rebreak(pieces, "2X 6.50")) == ["2", "X", "6.50"]
    assert texts(rebreak(pieces_in_region(region("12x", 0, 0)), "12x")) == ["12", "x"]
    # A code that ends in x, or a word, stays whole.
    for word in ("001055194x", "1234X", "Xx", "2XL", "x2"):
        assert texts(rebreak(pieces_in_region(region(word, 0, 0)), word)) == [word]


def test_assemble_rereads_each_region_for_its_breaks() -> None:
    seen: list[str] = []

    def reread(r: Region) -> LineText | None:
        text = "".join(g.text for g in r.glyphs)
        seen.append(text)
        # None: keep the gap-based breaks
        return {"THANKYOU": LineText("THANK Y0U", (96.0, 41.0))}.get(text)

    text, words, second = assemble([region("THANKYOU", 0, 0), region("COMEAGAIN", 0, 40)],
                                   reread)
    assert text.splitlines() == ["THANK YOU", "COMEAGAIN"]
    assert [w.text for w in words] == ["THANK", "YOU", "COMEAGAIN"]
    assert words[0].x1 <= words[1].x0  # each word keeps its own glyphs' extent
    assert seen == ["THANKYOU", "COMEAGAIN"]
    # The second reading of each line travels on: the reread words with their confidences,
    # and the region's own words where there was none.
    assert [line.words for line in second] == [("THANK", "Y0U"), ("COMEAGAIN",)]
    assert second[0].confidences == (96.0, 41.0) and second[1].confidences == (None,)
    assert len(second[0].own) == 2 and all(c is not None for c in second[0].own)


def test_with_accents_the_letters_take_the_reference_diacritics() -> None:
    pieces = pieces_in_region(region("GroBe:UbergroBe,StraBe5", 0, 0))
    assert texts(rebreak(pieces, "Größe: Übergröße, Straße 5", accents=True)) == [
        "Größe:", "Übergröße,", "Straße", "5"]
    # Without a language that writes them, the letters stay as read (only breaks move).
    assert "".join(texts(rebreak(pieces, "Größe: Übergröße, Straße 5"))) == (
        "GroBe:UbergroBe,StraBe5")
    # Letters only, and only where the two agree once diacritics are folded away.
    assert texts(rebreak(pieces_in_region(region("Total12,50", 0, 0)), "Totàl 12.5O",
                         accents=True)) == ["Totàl", "12,50"]
    # A diacritic of the first reading is kept, and so is its case.
    assert texts(rebreak(pieces_in_region(region("THÉIERE", 0, 0)), "Théière",
                         accents=True)) == ["THÉIÈRE"]


def test_number_forms_are_not_folded_into_digits() -> None:
    assert fold("Pipe 3½\" x 2 m²") == "Pipe 3½\" x 2 m²"
    assert fold("Item（s）：ﬁle") == "Item(s):file"
