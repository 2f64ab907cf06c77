"""Two readings, one choice: where the engines disagree, and the numbers rule (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import pytest

from inbox_ocr.correct.confusion import (
    DOCUMENT_WORD_PRIOR,
    document_words,
    find_suspects,
    misread_alternatives,
    page_words,
)
from inbox_ocr.correct.corrector import ConfusionCorrector, window_end
from inbox_ocr.correct.fusion import (
    AGREED_PRIOR,
    MISREAD_PRIOR,
    agreed_misreads,
    agreeing,
    disagreements,
    disputed,
    may_replace,
    pairs,
    regrouped,
    variants,
)
from inbox_ocr.correct.lexicon import Lexicon
from inbox_ocr.records import LineReading

KNOWN = Lexicon(frozenset({"total", "amount", "no", "floor", "invoice"}))


def reading(*words: str, theirs: float | None = None, ours: float | None = None
            ) -> LineReading:
    return LineReading(words, (theirs,) * len(words), (ours,) * len(words))


def test_disagreeing_words_become_candidates_with_the_engines_confidence_as_prior() -> None:
    line = "Amcunt:   RM 12.50"
    found = disagreements(pairs(line, reading("Amount:", "RM", "12.50", theirs=90.0,
                                              ours=50.0)))
    assert [(s.token, s.alternatives, s.kind) for s in found] == [
        ("Amcunt", ("Amount",), "second-reading")]
    assert line[found[0].start:found[0].end] == "Amcunt"  # the edge colon stays
    assert found[0].prior > 2  # Tesseract sure, RapidOCR unsure: the prior favours it
    unsure = disagreements(pairs(line, reading("Amount:", "RM", "12.50", theirs=50.0,
                                               ours=90.0)))
    assert unsure[0].prior < -2
    # no confidence from an engine: no opinion
    assert disagreements(pairs(line, reading("Amount:", "RM", "12.50")))[0].prior == 0.0


def test_a_second_reading_that_lost_letters_is_no_candidate() -> None:
    # SROIE dev 421: "IUIAL" (a dot-matrix TOTAL, which the fields read as a total label)
    # became "UAL", and the total was lost.
    assert disagreements(pairs("IUIAL 4.50", reading("UAL", "4.50")), KNOWN) == []
    assert disagreements(pairs("IUIAL 4.50", reading("UAL", "4.50"))) == []
    # One letter fewer, or a known word, still is one.
    assert [s.alternatives for s in disagreements(pairs("Amcount", reading("Amount")), KNOWN)
            ] == [("Amount",)]
    assert [s.alternatives for s in disagreements(pairs("Totalll", reading("Total")), KNOWN)
            ] == [("Total",)]


def test_case_punctuation_and_split_differences_are_no_disagreements() -> None:
    assert disagreements(pairs("TOTAL: 5.00", reading("Total", "5.00"))) == []
    # the engines split the words differently: left alone
    assert disagreements(pairs("SDNBHD 5.00", reading("SDN", "BHD", "5.00"))) == []
    assert disagreements(pairs("", reading("x"))) == []
    assert disagreements(pairs("TOTAL", LineReading((), (), ()))) == []


@pytest.mark.parametrize(("ours", "theirs", "allowed"), [
    ("Amcunt", "Amount", True),        # letters for letters
    ("12.50", "12.58", False),          # a well-formed amount never changes
    ("12.50", "12,50", False),
    ("07/11/2024", "07/11/2021", False),
    ("Tota1", "Total", True),           # a digit read as its confusion letter, a known word
    ("Tota1", "Totai", False),          # ... but only into a known word
    ("CASHIER3", "CASHIERS", False),    # 3 is not a letter's confusion
    ("PJU6A", "PJUGA", False),          # a code: no known word
    ("RN12.50", "RM12.50", True),       # the letters of a malformed number change
    ("2D", "2", False),                 # ... never by losing one
    ("2.B0", "2.80", False),            # never gains a digit on the other engine's say-so
    ("S8.20", "58.20", False),          # ... "S" is as likely "$" (SROIE train 030)
    ("Total", "Tota1", False),          # a word never gains a digit
    ("ROAD", "R0AD", False),
    ("St:8282", "Sty", False),
])
def test_the_numbers_rule(ours: str, theirs: str, allowed: bool) -> None:
    assert may_replace(ours, theirs, KNOWN) is allowed


class TableScorer:
    def __init__(self, table: dict[str, float]) -> None:
        self.table = table
        self.asked: list[str] = []

    def score(self, text: str) -> float:
        self.asked.append(text)
        return self.table.get(text, -100.0)

    def compare_all(self, groups: Iterable[Sequence[str]]) -> Iterator[list[float]]:
        return ([self.score(text) for text in texts] for texts in groups)


def test_the_model_takes_the_second_reading_only_by_the_margin() -> None:
    line = "Amcunt due 12.50"
    second = (reading("Amount", "due", "12.58"),)
    scorer = TableScorer({"Amcunt due": -20.0, "Amount due": -18.0})
    corrector = ConfusionCorrector(scorer, margin=3.0, name="fake", known=KNOWN)
    assert corrector.correct(1, line, second).text == line  # 2 nats: not enough
    scorer.table["Amount due"] = -15.0
    result = corrector.correct(1, line, second)
    # the amount the engines disagree on keeps the first reading: never a candidate
    assert result.text == "Amount due 12.50"
    assert [(c.before, c.after, c.reason, c.margin) for c in result.corrections] == [
        ("Amcunt", "Amount", "second-reading", 5.0)]
    assert not any("12.58" in text for text in scorer.asked)


def test_a_prior_can_tip_the_choice_and_the_confusion_classes_compete() -> None:
    line = "Tota1 5.00"
    # RapidOCR sure of its "1", Tesseract unsure of its "Totai": the model's preference
    # alone is not enough, while the confusion class's "Total" wins.
    second = (LineReading(("Totai", "5.00"), (40.0, 90.0), (95.0, 95.0)),)
    scorer = TableScorer({"Tota1 5.00": -20.0, "Totai 5.00": -16.0, "Total 5.00": -10.0})
    known = Lexicon(frozenset({"total", "totai"}))
    corrector = ConfusionCorrector(scorer, margin=3.0, name="fake", known=known)
    result = corrector.correct(1, line, second)
    assert result.text == "Total 5.00"
    assert [c.reason for c in result.corrections] == ["ocr-confusion:word"]
    # A second reading that does not match the page's lines is ignored.
    assert corrector.correct(1, line, second * 2).corrections == result.corrections


def test_alternatives_are_scored_on_the_line_up_to_the_next_word() -> None:
    line = "Amcunt due now please"
    assert line[:window_end(line, 6)] == "Amcunt due"
    assert window_end(line, len(line)) == len(line)
    assert line[:window_end(line, 6, words=2)] == "Amcunt due now"


def test_a_digit_fix_the_second_reading_contradicts_is_no_candidate() -> None:
    line = "Nett Total: S8.20   CASH 1O.00"
    suspects = find_suspects(line)
    assert [(x.token, x.alternatives) for x in suspects] == [("S8.20", ("58.20",)),
                                                              ("1O.00", ("10.00",))]
    second = reading("Nett", "Total:", "$8.20", "CASH", "10.00")
    assert [(x.token, x.alternatives) for x in agreeing(suspects, pairs(line, second))] == [
        ("1O.00", ("10.00",))]


def test_zeros_read_as_letters_stay_candidates_where_the_other_reading_has_no_digit_there(
) -> None:
    # SROIE train 330: RapidOCR "475OO", Tesseract "475@@": nothing contradicts the zeros.
    line = "475OO SUBANG JAYA"
    suspects = find_suspects(line)
    assert [(x.token, x.alternatives) for x in suspects] == [("475OO", ("47500",))]
    for other in ("475@@", "475@0", "4,500"):  # train 330, 340, 370
        assert [(x.token, x.alternatives)
                for x in agreeing(suspects, pairs(line, reading(other, "SUBANG", "JAYA")))
                ] == [("475OO", ("47500",))]
    # Another digit there, or another length, and it is no candidate.
    for other in ("47506", "476@@", "475@"):
        assert agreeing(suspects, pairs(line, reading(other, "SUBANG", "JAYA"))) == []


def test_words_whose_digits_the_readings_disagree_on_are_disputed() -> None:
    line = "REG C01 04-05-2013 16:07"
    found = disputed(line, reading("REG", "Col", "G4-04-2018", "16:07"))
    assert [(p.core, p.other) for p in found] == [("C01", "Col"), ("04-05-2013", "G4-04-2018")]
    assert disputed("Total 5.00", reading("Total", "5.00")) == []


def test_runs_the_readings_split_differently_are_taken_whole_with_the_same_digits() -> None:
    found = regrouped("DARUL.EHSAN  SS 2/3", reading("DARUL", "EHSAN", "SS", "2/3",
                                                    theirs=90.0, ours=60.0))
    assert [(s.token, s.alternatives, s.kind) for s in found] == [
        ("DARUL.EHSAN", ("DARUL EHSAN",), "regrouped")]
    assert found[0].prior > 1  # Tesseract surer of its words than RapidOCR of its one
    assert [s.alternatives for s in regrouped("SDNBHD", reading("SDN", "BHD"))] == [
        ("SDN BHD",)]
    # Numbers stay sacred: no run with a digit; no column gap crossed, no rule bars or bare
    # punctuation from the second reading, no run whose letters are another word's.
    for line, other in (("No:03-62587191", ("No", "02-6253", "7191")),
                        ("TOTAL 12.50RM", ("TOTAL", "12", "50RM")),
                        ("81750.JOHOR", ("81750", "JOHOR")), ("S8.20", (";", "$8.20")),
                        ("GSTID", ("GST", "|ID")), ("GST SLIM        Ant", ("A", "mt_")),
                        ("PB F/", ("PREY",))):
        assert regrouped(line, reading(*other)) == [], line
    assert regrouped("", reading("x")) == [] and regrouped("A B", LineReading((), (), ())) == []


def test_a_run_and_a_word_inside_it_never_both_change() -> None:
    line = "DARUL.EHSAN x Tarnan"
    second = (reading("DARUL", "EHSAN", "x", "Taman"),)
    scorer = TableScorer({"DARUL.EHSAN x Tarnan": -30.0, "DARUL.EHSAN x Taman": -25.0,
                          "DARUL.EHSAN x": -12.0, "DARUL EHSAN x": -10.0})
    corrector = ConfusionCorrector(scorer, margin=1.5, name="fake", known=KNOWN)
    result = corrector.correct(1, line, second)
    assert result.text == "DARUL EHSAN x Taman"
    assert [(c.before, c.after, c.reason) for c in result.corrections] == [
        ("DARUL.EHSAN", "DARUL EHSAN", "second-reading:regrouped"),
        ("Tarnan", "Taman", "second-reading")]
    # A suspect inside the run competes with it: the clearer one wins, the other is dropped.
    scorer = TableScorer({"Arnount due": -30.0, "Amount due": -20.0, "Arnountdue": -25.0})
    result = ConfusionCorrector(scorer, margin=1.5, name="fake", known=KNOWN).correct(
        1, "Arnount due", (reading("Arnountdue"),))
    assert result.text == "Amount due"
    assert [c.reason for c in result.corrections] == ["ocr-confusion:multi-char"]


WORDS = Lexicon({"amount": 900, "mount": 50, "total": 800, "tote": 30, "thank": 500,
                 "item": 400, "alan": 300, "servo": 20, "rubbish": 10})


@pytest.mark.parametrize(("word", "expected"), [
    ("AMOUNI", ("AMOUNT",)),    # i for t: letters of a like shape
    ("Anount", ("Amount",)),    # n for m
    ("Thak", ("Thank",)),       # a letter lost inside the word
    ("Totai", ("Total",)),
    ("JALAN", ()),              # never a letter dropped (ALAN): a name is no known word
    ("Serv", ()),               # ... nor one added at an end (Servo)
    ("Amount", ()),             # a known word is no misread
    ("A1OUNT", ()),             # nor a word with a digit
    ("ruhbish", ("rubbish",)),  # b and h: a like shape
    ("rupbish", ()),            # p and b: none
])
def test_a_misread_word_becomes_the_known_words_one_like_letter_away(
        word: str, expected: tuple[str, ...]) -> None:
    assert misread_alternatives(word, WORDS) == expected
    assert misread_alternatives(word, None) == ()  # only with a lexicon


def test_the_most_frequent_known_words_are_tried_first() -> None:
    words = Lexicon({"iter": 10, "item": 400, "itch": 1, "items": 300})
    assert misread_alternatives("Iten", words) == ("Item", "Iter")
    assert misread_alternatives("ITEN", Lexicon({f"ite{c}": 1 for c in "mhr"}
                                                | {"itern": 1, "itean": 1})) == (
        "ITEAN", "ITEH", "ITEM", "ITER")  # at most four, alphabetical where none is known
    assert misread_alternatives("Iten", Lexicon(frozenset({"item"}))) == ("Item",)


def test_variants_of_both_readings_where_they_disagree_and_never_where_they_agree() -> None:
    # RapidOCR's AMOUNI, Tesseract's AMQUHT: neither is a word, AMOUNT is one letter from one.
    found = variants(pairs("AMOUNI 12.50", reading("AMQUHT", "12.50")), WORDS)
    assert [(s.token, s.alternatives, s.kind) for s in found] == [
        ("AMOUNI", ("AMOUNT",), "misread")]
    assert found[0].prior < 0  # neither engine read it: it must be that much clearer
    from_other = variants(pairs("Tcial 5.00", reading("Totai", "5.00")), WORDS)
    assert [s.alternatives for s in from_other] == [("Total",)]
    # Both engines read JALAN (or SERI, TAMAN): two readings agree, no variant.
    assert variants(pairs("AMOUNI JALAN", reading("AMOUNT", "JALAN")), WORDS) == []
    # A first reading that is a known word stays as the engines read it.
    assert variants(pairs("Total 5.00", reading("Tolal", "5.00")), WORDS) == []
    # A variant far from the first reading is none (difference of more than two letters).
    assert variants(pairs("MAKASSAR", reading("WAKF")), Lexicon({"wake": 1})) == []
    assert variants(pairs("AMOUNI", reading("AMQUHT")), None) == []


def test_a_variant_wins_only_by_the_margin_plus_its_prior() -> None:
    line = "AMOUNI 12.50"
    second = (reading("AMQUHT", "12.50"),)
    # the window: the word and the one after it
    scorer = TableScorer({"AMOUNI 12.50": -20.0, "AMQUHT 12.50": -25.0,
                          "AMOUNT 12.50": -15.0})
    corrector = ConfusionCorrector(scorer, margin=3.0, name="fake", known=WORDS)
    assert corrector.correct(1, line, second).text == line  # 5 nats, less the prior's 3
    scorer.table["AMOUNT 12.50"] = -13.0
    result = corrector.correct(1, line, second)
    assert result.text == "AMOUNT 12.50"
    assert [(c.before, c.after, c.reason, c.margin) for c in result.corrections] == [
        ("AMOUNI", "AMOUNT", "ocr-confusion:misread", 4.0)]


def test_a_word_both_readings_agree_on_is_tried_as_a_known_word_with_a_stronger_prior(
        ) -> None:
    # Both engines read Totai (sroie-train 117): the known word one like letter away is a
    # candidate, against twice the prior of a word the readings disagree on.
    line = "Totai 12.50 JALAN"
    found = pairs(line, reading("Totai", "12.50", "JALAN"))
    assert found == []
    [suspect] = agreed_misreads(line, found, WORDS)
    assert (suspect.token, suspect.alternatives, suspect.kind) == (
        "Totai", ("Total",), "misread-agreed")
    assert suspect.prior == AGREED_PRIOR == 2 * MISREAD_PRIOR
    # A word the readings disagree on is left to ``variants``; digits and known words stay.
    other = pairs("AMOUNI 12.50", reading("AMQUHT", "12.50"))
    assert agreed_misreads("AMOUNI 12.50", other, WORDS) == []
    assert agreed_misreads("Tota1 Total T0tai", [], WORDS) == []
    assert agreed_misreads("Totai", [], None) == []  # no lexicon, no candidate


def test_an_agreed_misread_must_beat_the_margin_plus_its_stronger_prior() -> None:
    line = "Totai 12.50"
    second = (reading("Totai", "12.50"),)
    scorer = TableScorer({"Totai 12.50": -20.0, "Total 12.50": -12.0})
    corrector = ConfusionCorrector(scorer, margin=3.0, name="fake", known=WORDS)
    assert corrector.correct(1, line, second).text == line  # 8 nats, less the prior's 6
    scorer.table["Total 12.50"] = -10.0
    result = corrector.correct(1, line, second)
    assert [(c.before, c.after, c.reason, c.margin) for c in result.corrections] == [
        ("Totai", "Total", "ocr-confusion:misread-agreed", 4.0)]


def test_a_word_the_page_prints_more_often_one_like_letter_away_is_a_candidate() -> None:
    page = "GST ID: 0001\nCST 6%   1.20\nTotal GST   1.20\nGST Summary\nRM13.30 RM0.80\n(RH)"
    vocabulary = page_words(page)
    assert vocabulary["gst"] == 3 and vocabulary["rm"] == 2  # "RM13.30": the currency too
    found = document_words("CST 6%   1.20", vocabulary, WORDS)
    assert [(s.token, s.alternatives, s.kind, s.prior) for s in found] == [
        ("CST", ("GST",), "document-word", DOCUMENT_WORD_PRIOR)]
    assert [s.alternatives for s in document_words("(RH)", vocabulary, WORDS)] == [("RM",)]
    # The page's word must be the more frequent one: GST twice, CST twice, no candidate.
    even = page_words("GST 1\nGST 2\nCST 3\nCST 4")
    assert document_words("CST 3", even, WORDS) == []
    # Never a known word, never a word with a digit, never a letter of another shape.
    assert document_words("Total", page_words("Tota1 Tote Tote"), WORDS) == []
    assert document_words("GS1 1.20", vocabulary, WORDS) == []
    assert document_words("BST 1.20", vocabulary, WORDS) == []
    assert document_words("GST", vocabulary, None) == []  # and the page's word itself


def test_a_document_word_must_beat_the_margin_plus_its_prior() -> None:
    page = "GST ID: 0001\nCST 6%   1.20\nGST Summary"
    scorer = TableScorer({"CST 6%": -20.0, "GST 6%": -17.0})
    corrector = ConfusionCorrector(scorer, margin=2.0, name="fake", known=WORDS)
    assert corrector.correct(1, page).text == page  # 3 nats, less the prior's 1.5
    scorer.table["GST 6%"] = -16.0
    result = corrector.correct(1, page)
    assert [(c.before, c.after, c.reason, c.margin) for c in result.corrections] == [
        ("CST", "GST", "ocr-confusion:document-word", 2.5)]
    assert result.text.split("\n")[1] == "GST 6%   1.20"
