"""Every OCR engine on generated invoices with known text, Aspose's evaluation mode on real
Aspose output, and page preparation (upscaling, deskew, the pixel cap)."""

from __future__ import annotations

import functools
import importlib.util
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from inbox_ocr.bench.samples import SAMPLES, render_page
from inbox_ocr.config import OcrSettings
from inbox_ocr.errors import ConfigError, EngineFailed, StartupError
from inbox_ocr.ocr import rapidocr
from inbox_ocr.ocr.api import OcrEngine, OcrResult
from inbox_ocr.ocr.aspose import split_evaluation_marker
from inbox_ocr.ocr.prep import Prep, prepare, skew_angle, text_line_height, upscale_factor
from inbox_ocr.ocr.registry import FallbackEngine, engine_factory, fallback_name
from inbox_ocr.ocr.tesseract import TesseractLineReader, tesseract_languages

REPO = Path(__file__).resolve().parents[2]
INVOICE = SAMPLES["invoice-acme.png"][0]
KEY_LINES = ["INVOICE", "Invoice No: INV-2024-0042", "Invoice Date: 2024-03-15",
             "Subtotal: 134.90", "Total due: GBP 161.88"]

aspose_missing = importlib.util.find_spec("aspose") is None or shutil.which("java") is None
needs_aspose = pytest.mark.skipif(
    aspose_missing, reason="aspose-ocr-python-java or a JDK is not installed (scripts/setup.sh "
    "installs both with INBOX_OCR_EXTRAS=dev,aspose)")


def normalised_lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines()]


@pytest.fixture(scope="module")
def invoice() -> Image.Image:
    return render_page(INVOICE)


def engine_for(name: str, **settings: str) -> Iterator[OcrEngine]:
    engine = engine_factory(OcrSettings(engine=name, **settings),  # type: ignore[arg-type]
                            workers=1)()
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def rapid() -> Iterator[OcrEngine]:
    yield from engine_for("rapidocr")


@pytest.fixture(scope="module")
def tesseract() -> Iterator[OcrEngine]:
    yield from engine_for("tesseract")


@pytest.fixture(scope="module")
def aspose() -> Iterator[OcrEngine]:
    if aspose_missing:
        pytest.skip("aspose-ocr-python-java or a JDK is not installed")
    yield from engine_for("aspose")


@pytest.mark.parametrize("name", ["tesseract", "rapidocr"])
def test_engine_reads_the_generated_invoice_key_lines_exactly(
    name: str, invoice: Image.Image, request: pytest.FixtureRequest
) -> None:
    engine: OcrEngine = request.getfixturevalue({"rapidocr": "rapid"}.get(name, name))
    result = engine.recognize(invoice)
    lines = normalised_lines(result.text)
    for line in KEY_LINES:
        assert line in lines
    assert not result.evaluation_truncated
    assert result.words and all(
        w.confidence is not None and 0 <= w.confidence <= 100 for w in result.words)


# Lines whose spaces RapidOCR's recogniser drops at this size ("TAXINVOICE(COSWAY)",
# "PLEASECO MEAGAIN", "TOTALRM25.50" with word breaks from character positions alone).
TIGHT_LINES = ["TAX INVOICE (COSWAY)", "GST SUMMARY AMT(RM) TAX(RM)",
               "THANK YOU FOR YOUR PATRONAGE", "TOTAL SALES INCLUSIVE GST @6%",
               "PLEASE COME AGAIN", "ACME SUPPLIES LTD", "TOTAL RM 25.50"]


def test_rapidocr_takes_word_breaks_from_tesseract_reading_each_line(rapid: OcrEngine) -> None:
    page = render_page(TIGHT_LINES, font_size=28)
    assert normalised_lines(rapid.recognize(page).text) == TIGHT_LINES
    assert "word breaks: tesseract" in rapid.version
    positions = next(engine_for("rapidocr", rapidocr_word_breaks="positions"))
    try:
        by_positions = normalised_lines(positions.recognize(page).text)
    finally:
        positions.close()
    # the same characters, fewer breaks: what the Tesseract re-reading is for
    assert [line.replace(" ", "") for line in by_positions] == [
        line.replace(" ", "") for line in TIGHT_LINES]
    assert sum(a == b for a, b in zip(by_positions, TIGHT_LINES, strict=True)) <= 3


def test_rapidocr_hands_tesseract_reading_of_each_line_on(rapid: OcrEngine,
                                                          invoice: Image.Image) -> None:
    result = rapid.recognize(invoice)
    lines = result.text.splitlines()
    # one second reading per line of text, with a confidence for each of its words, and
    # RapidOCR's own confidence for each word of the line as printed
    assert len(result.second_reading) == len(lines)
    for line, second in zip(lines, result.second_reading, strict=True):
        assert len(second.own) == len(line.split())
        assert len(second.confidences) == len(second.words)
        assert all(c is None or 0 <= c <= 100 for c in second.confidences + second.own)
    # on clean print the two readings agree word for word on the key lines
    by_text = {" ".join(line.split()): s for line, s in zip(lines, result.second_reading,
                                                              strict=True)}
    assert [" ".join(by_text[line].words) for line in KEY_LINES] == KEY_LINES
    tesseract_only = next(engine_for("tesseract"))
    try:
        assert tesseract_only.recognize(invoice).second_reading == ()  # read once
    finally:
        tesseract_only.close()


def test_rapidocr_rereads_lines_on_several_tesseract_threads_as_on_one(
        invoice: Image.Image, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tesseract's line reads run on one reader per core the engine may use (up to
    ``MAX_LINE_READERS``), each thread with its own instance, and read what one reader reads."""
    reader = functools.partial(TesseractLineReader, tesseract_languages(OcrSettings()), "eng")
    results, readers = [], []
    for most in (4, 1):
        monkeypatch.setattr(rapidocr, "MAX_LINE_READERS", most)
        engine = rapidocr.RapidOcrEngine(2, reader)
        try:
            readers.append(len(engine._readers))
            results.append(engine.recognize(invoice))
        finally:
            engine.close()
    several, one = results
    assert readers == [2, 1]  # one per core the engine may use (2), or the cap
    assert several.text == one.text and several.second_reading == one.second_reading
    assert " ".join(KEY_LINES[0].split()) in normalised_lines(several.text)


def test_a_line_reader_that_fails_leaves_no_other_reader_busy() -> None:
    """When one reader thread raises, the page's error waits for the other readers, so the
    next page never finds an instance still in use."""
    failed, never, log = threading.Event(), threading.Event(), []

    class Reader:
        version = "fake"

        def read(self, line: Image.Image) -> None:
            if line.width == 1:  # the crop that fails
                failed.set()
                raise ValueError("broken reader")
            failed.wait(10)
            never.wait(0.2)  # still reading for a while after the other thread raised
            log.append("read")

        def close(self) -> None:
            pass

    engine = rapidocr.RapidOcrEngine(2, Reader)
    try:
        with pytest.raises(ValueError, match="broken reader"):
            engine._read_lines([Image.new("L", (1, 1)), Image.new("L", (2, 2))])
        log.append("raised")
    finally:
        engine.close()  # waits for the reader threads
    assert log == ["read", "raised"]


def test_rapidocr_reads_a_single_line_strip(rapid: OcrEngine) -> None:
    strip = render_page(["TOTAL RM 25.50"], size=(1400, 240), font_size=40)
    strip = strip.crop((100, 130, 1400, 210))  # 1300 x 80: wider than RapidOCR's 8:1 limit
    assert normalised_lines(rapid.recognize(strip).text)[0].replace(" ", "") == "TOTALRM25.50"


def test_rapidocr_sessions_do_not_spin_and_others_keep_the_default(invoice: Image.Image) -> None:
    from rapidocr_onnxruntime.utils.infer_engine import OrtInferSession

    from inbox_ocr.ocr.rapidocr import SPIN_OPTION, RapidOcrEngine

    rapid = RapidOcrEngine(threads=1)
    ocr = rapid._ocr
    for session in (ocr.text_det.infer, ocr.text_rec.session, ocr.text_cls.infer):
        options = session.session.get_session_options()
        assert options.get_session_config_entry(SPIN_OPTION) == "0"
    # The factory is RapidOCR's own again once the engine is built.
    with pytest.raises(RuntimeError):
        OrtInferSession._init_sess_opts({}).get_session_config_entry(SPIN_OPTION)
    assert "TOTAL" in rapid.recognize(invoice).text.upper()
    rapid.close()


def test_line_crop_of_a_degenerate_box_is_a_small_image_not_an_error() -> None:
    from inbox_ocr.ocr.layout import Region
    from inbox_ocr.ocr.rapidocr import LINE_HEIGHT, line_crop

    page = Image.new("L", (100, 50), 255)
    line = line_crop(page, Region(10, 10, 60, 26, ()))
    assert LINE_HEIGHT < line.height <= 1.15 * LINE_HEIGHT  # the box at 32 px, plus its margin
    assert line_crop(page, Region(120, 60, 130, 70, ())).size >= (1, 1)  # outside the page


def test_rapidocr_word_breaks_need_the_tesseract_languages() -> None:
    settings = OcrSettings(engine="rapidocr", languages="xxx")
    with pytest.raises(ConfigError) as info:
        engine_factory(settings)
    assert info.value.key == "ocr.languages"
    assert "rapidocr_word_breaks" in info.value.message  # and how to do without
    engine_factory(OcrSettings(engine="rapidocr", languages="xxx",
                               rapidocr_word_breaks="positions"))  # not needed without


def test_rapidocr_restores_spaces_between_words(rapid: OcrEngine) -> None:
    receipt = render_page(SAMPLES["receipt-cafe.jpg"][0])
    lines = normalised_lines(rapid.recognize(receipt).text)
    assert "CAFE MERIDIAN SDN BHD" in lines
    assert "Date: 07/11/2024 12:41" in lines
    assert "CASH 30.00" in lines


@needs_aspose
def test_aspose_reads_the_start_of_the_invoice_exactly(aspose: OcrEngine, invoice: Image.Image) -> None:
    lines = normalised_lines(aspose.recognize(invoice).text)
    for line in KEY_LINES[:3]:  # evaluation mode keeps the first ~300 characters
        assert line in lines


@needs_aspose
def test_aspose_evaluation_mode_is_detected_and_the_marker_stripped(aspose: OcrEngine) -> None:
    from inbox_ocr.ocr.aspose import apply_license

    if apply_license(""):
        pytest.skip("Aspose is licensed on this machine: no evaluation mode to detect")
    long_page = render_page([f"Line {n:02d}: Printer paper A4 box of five reams" for n in range(20)],
                            font_size=32)
    result = aspose.recognize(long_page)
    assert result.evaluation_truncated
    assert "trial" not in result.text.lower() and "*****" not in result.text
    assert 200 <= len(result.text) <= 400  # cut short: the page holds about 1000 characters
    assert "Line 00: Printer paper A4 box of five reams" in normalised_lines(result.text)


@needs_aspose
def test_aspose_missing_licence_file_names_the_key(tmp_path: Path) -> None:
    settings = OcrSettings(engine="aspose", aspose_license=str(tmp_path / "none.lic"))
    with pytest.raises(ConfigError) as info:
        engine_factory(settings)
    assert info.value.key == "ocr.aspose_license"


def test_evaluation_marker_detection_on_aspose_text() -> None:
    # The exact tail Aspose 25.2 appends in evaluation mode (see the real-output test above).
    raw = "tan woon yann\nINDAH GIFT & HOME DECO\n888\n ************* Trial Licenses ************* \n"
    text, truncated = split_evaluation_marker(raw)
    assert truncated and text == "tan woon yann\nINDAH GIFT & HOME DECO\n888"
    assert split_evaluation_marker("TOTAL *** 10.00") == ("TOTAL *** 10.00", False)


def test_text_line_height_and_upscaling_follow_the_text_size() -> None:
    small = render_page(INVOICE, size=(500, 700), font_size=12)
    height = text_line_height(small)
    assert height is not None and 8 <= height <= 16
    prepared, info = prepare(small, Prep(upscale_dpi=300))
    assert info["scale"] > 1.5 and prepared.width > small.width
    big, info = prepare(render_page(INVOICE), Prep(upscale_dpi=300))
    assert "scale" not in info and big.size == render_page(INVOICE).size


def test_upscaling_never_exceeds_the_pixel_cap() -> None:
    assert upscale_factor(10, 300, (4000, 4000), 20_000_000) == pytest.approx(20e6**0.5 / 4000)
    assert upscale_factor(10, 300, (100, 100), 10**9) == 3.0
    small = render_page(INVOICE, size=(500, 700), font_size=12)
    prepared, _info = prepare(small, Prep(upscale_dpi=600, max_pixels=1_000_000))
    assert prepared.width * prepared.height <= 1_000_000 * 1.01


def test_deskew_finds_and_undoes_a_rotation() -> None:
    page = render_page(INVOICE, size=(1200, 1400), font_size=30)
    tilted = page.rotate(3, expand=True, fillcolor=255)
    assert skew_angle(tilted) == pytest.approx(-3, abs=0.6)
    straightened, info = prepare(tilted, Prep(deskew=True, denoise=True))
    assert info["skew_degrees"] == pytest.approx(-3, abs=0.6)
    assert straightened.mode == "L"


def test_prepare_leaves_the_input_alone() -> None:
    page = render_page(["x"]).convert("RGB")
    out, _info = prepare(page, Prep())
    assert page.mode == "RGB" and out.mode == "L"
    gray = page.convert("L")
    assert prepare(gray, Prep())[0] is gray  # nothing to do: no copy


def test_rapidocr_reads_very_large_pages_at_a_reduced_size() -> None:
    from inbox_ocr.ocr.rapidocr import MAX_READ_PIXELS, reduced

    a4 = Image.new("L", (2480, 3508), 255)
    assert reduced(a4, MAX_READ_PIXELS) is a4  # an ordinary scan is read as it is
    huge = Image.new("L", (9000, 9000), 255)
    small = reduced(huge, MAX_READ_PIXELS)
    assert small.width * small.height <= MAX_READ_PIXELS
    assert abs(small.width / small.height - 1.0) < 0.01  # aspect kept


class Scripted:
    """A fake engine for FallbackEngine's rules (the real engines are tested above and in
    tests/integration/test_scanner_reality.py): reads ``text``, or raises ``fails``."""

    built = 0

    def __init__(self, name: str, text: str = "", fails: Exception | None = None) -> None:
        Scripted.built += 1
        self.name, self.version, self.text, self.fails = name, "1", text, fails

    def recognize(self, image: Image.Image) -> OcrResult:
        if self.fails is not None:
            raise self.fails
        return OcrResult(self.text, (), engine=self.name)

    def close(self) -> None:
        pass


def fallback(first: dict[str, object], second: dict[str, object]) -> FallbackEngine:
    return FallbackEngine(functools.partial(Scripted, "one", **first),  # type: ignore[arg-type]
                          functools.partial(Scripted, "two", **second))  # type: ignore[arg-type]


def test_fallback_engine_reads_only_what_the_first_engine_cannot(invoice: Image.Image) -> None:
    Scripted.built = 0
    engine = fallback({"text": "Total 1.00"}, {"text": "other"})
    assert engine.recognize(invoice) == OcrResult("Total 1.00", (), engine="one")
    assert Scripted.built == 1  # the second engine is built on first use only
    empty = fallback({"text": " \n"}, {"text": "Total 2.00"}).recognize(invoice)
    assert (empty.text, empty.engine, empty.fallback) == ("Total 2.00", "two",
                                                          "one read no text")
    failed = fallback({"fails": EngineFailed("one failed: x")}, {"text": "T"}).recognize(invoice)
    assert (failed.engine, failed.fallback) == ("two", "one failed: x")


def test_fallback_engine_keeps_the_first_reading_when_the_second_has_nothing_better(
        invoice: Image.Image) -> None:
    neither = fallback({"text": ""}, {"text": ""}).recognize(invoice)
    assert (neither.engine, neither.fallback) == ("one", "")
    # An empty reading after a failure is a result (no_text), not a failed page.
    blank = fallback({"fails": EngineFailed("one failed: x")}, {"text": ""}).recognize(invoice)
    assert (blank.text, blank.engine) == ("", "two")
    with pytest.raises(EngineFailed, match="one failed: x; second engine: two failed: y"):
        fallback({"fails": EngineFailed("one failed: x")},
                 {"fails": EngineFailed("two failed: y")}).recognize(invoice)


def test_a_fallback_engine_that_cannot_start_is_not_tried_again(invoice: Image.Image) -> None:
    Scripted.built = 0
    engine = fallback({"text": ""}, {"fails": None})
    engine._build_second = lambda: (_ for _ in ()).throw(StartupError("no models"))
    assert engine.recognize(invoice).engine == "one"
    engine._build_second = lambda: pytest.fail("built twice")  # type: ignore[assignment]
    assert engine.recognize(invoice).engine == "one"


def test_fallback_engine_settings() -> None:
    assert fallback_name(OcrSettings(engine="tesseract")) == "rapidocr"
    assert fallback_name(OcrSettings(engine="rapidocr")) == "tesseract"
    assert fallback_name(OcrSettings(engine="aspose")) == "tesseract"
    assert fallback_name(OcrSettings(fallback_engine="none")) is None
    assert isinstance(engine_factory(OcrSettings(engine="tesseract"), workers=1)(),
                      FallbackEngine)
    with pytest.raises(ConfigError, match=r"ocr\.fallback_engine"):
        engine_factory(OcrSettings(engine="tesseract", fallback_engine="aspose",
                                   aspose_license="/nonexistent.lic"))


@pytest.mark.parametrize("degrees", [90, 180, 270])
def test_rapidocr_turns_a_sideways_or_upside_down_page_upright(
        rapid: OcrEngine, invoice: Image.Image, degrees: int) -> None:
    upright = rapid.recognize(invoice)
    assert upright.turned == 0
    turned = rapid.recognize(invoice.rotate(degrees, expand=True))
    # Scanned turned by `degrees` counter-clockwise: turned back by the rest of the circle.
    assert turned.turned == (360 - degrees) % 360
    assert turned.text == upright.text
    assert [w.text for w in turned.words] == [w.text for w in upright.words]


def test_orientation_off_reads_the_page_as_scanned(invoice: Image.Image) -> None:
    engine = next(engine_for("rapidocr", orientation=False))  # type: ignore[arg-type]
    try:
        sideways = engine.recognize(invoice.rotate(90, expand=True))
    finally:
        engine.close()
    assert sideways.turned == 0
    assert "Invoice No: INV-2024-0042" not in normalised_lines(sideways.text)


DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
# Generated invoice lines and the accented words that must come out as printed, per
# ocr.languages. RapidOCR alone reads "Größe" as "GroBe"; the accents come from Tesseract's
# reading of each line. Not fixed: "ł", which RapidOCR reads as "t" (the letters differ).
ACCENTED = {
    "eng+fra+deu": (["Facture n° FA-2024-118", "Désignation : Théière en céramique",
                     "Größe: Übergröße, Straße 5", "Total à payer : 25,00"],
                    ["Désignation", "céramique", "Größe:", "Übergröße,", "Straße"]),
    "eng+pol": (["Faktura nr FV/2024/03/117", "Zażółć gęślą jaźń", "Do zapłaty: 25,00 zł"],
                ["Zaż", "gęślą", "jaźń"]),
}


def accented_invoice(languages: str) -> Image.Image:
    """A generated invoice page in a font that has the accents."""
    if not DEJAVU.is_file():
        pytest.skip("fonts-dejavu-core is not installed (scripts/setup.sh installs it)")
    missing = [lang for lang in languages.split("+")[1:]
               if not (tesseract_languages(OcrSettings()) / f"{lang}.traineddata").is_file()]
    if missing:
        pytest.skip(f"tesseract-ocr-{missing[0]} is not installed (scripts/setup.sh installs it)")
    page = Image.new("L", (1654, 900), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.truetype(str(DEJAVU), 40)
    for number, line in enumerate(ACCENTED[languages][0]):
        draw.text((140, 120 + 90 * number), line, font=font, fill=0)
    return page


@pytest.mark.parametrize("languages", sorted(ACCENTED))
def test_rapidocr_keeps_the_accents_when_the_languages_have_them(languages: str) -> None:
    page = accented_invoice(languages)
    read = {}
    for setting in ("eng", languages):
        engine = next(engine_for("rapidocr", languages=setting))
        try:
            read[setting] = engine.recognize(page).text
        finally:
            engine.close()
    for word in ACCENTED[languages][1]:
        assert word in read[languages], (word, read[languages])
    assert "25,00" in read[languages]
    assert read["eng"] != read[languages]  # with English alone the accents are not there


def test_a_wrong_upside_down_verdict_is_overruled_by_the_recogniser(
        invoice: Image.Image, monkeypatch: pytest.MonkeyPatch) -> None:
    """RapidOCR's line classifier called an upright SROIE receipt (train 090) upside down on 9
    of 12 lines. Here it is made to say "180" on every line of an upright page: the real
    recogniser reads the lines better as they are, so the page stays upright. A page that is
    upside down is still turned (the test above)."""
    engine = next(engine_for("rapidocr"))
    inner: object = engine
    while hasattr(inner, "engine"):  # the fallback and preparing wrappers
        inner = inner.engine
    ocr = inner._ocr  # type: ignore[attr-defined]
    real = ocr.text_cls

    def always_flipped(crops: list[object]) -> tuple[object, list[list[object]], float]:
        found, _verdicts, elapsed = real(crops)
        return found, [["180", 0.99] for _ in crops], elapsed

    monkeypatch.setattr(ocr, "text_cls", always_flipped)
    try:
        upright = engine.recognize(invoice)
        assert upright.turned == 0
        assert "Invoice No: INV-2024-0042" in normalised_lines(upright.text)
        # Upside down, a verdict of "180" is right, and the recogniser agrees.
        assert engine.recognize(invoice.rotate(180)).turned == 180
    finally:
        engine.close()


SROIE_090 = Path(__file__).parents[2] / ".." / "shared" / "datasets" / "sroie-train" / "img" / "090.jpg"


@pytest.mark.skipif(not SROIE_090.is_file(), reason="../shared/datasets/sroie-train is not present")
def test_an_upright_receipt_the_classifier_calls_upside_down_stays_upright(
        rapid: OcrEngine) -> None:
    with Image.open(SROIE_090) as receipt:
        result = rapid.recognize(receipt)
    assert result.turned == 0
    assert "TRI SHAAS SDN BHD" in result.text


def test_rapidocr_finds_a_lone_colon_between_label_and_value(rapid: OcrEngine) -> None:
    """The detector boxes no lone colon in a column of its own; the page image still has it
    (``inbox_ocr.ocr.colons``), and the read space-joined columns keep it in place."""
    page = Image.new("L", (1400, 420), 255)
    draw = ImageDraw.Draw(page)
    font = ImageFont.load_default(size=40)
    for row, (label, value) in enumerate((("Total", "12.00"), ("Cash", "20.00"),
                                          ("Change", "8.00"))):
        y = 60 + 110 * row
        draw.text((80, y), label, fill=0, font=font)
        draw.text((640, y), ":", fill=0, font=font)
        draw.text((1000, y), value, fill=0, font=font)
    result = rapid.recognize(page)
    assert normalised_lines(result.text) == ["Total : 12.00", "Cash : 20.00", "Change : 8.00"]
    found = [w for w in result.words if w.text == ":"]
    assert len(found) == 3 and all(w.confidence == 90.0 for w in found)


MONO_BOLD = DEJAVU.with_name("DejaVuSansMono-Bold.ttf")


@pytest.mark.skipif(not MONO_BOLD.exists(), reason=f"{MONO_BOLD} missing (fonts-dejavu-core)")
def test_rapidocr_takes_word_breaks_from_a_monospaced_lines_character_grid(
        rapid: OcrEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    """A receipt printed in a monospaced font, small and enlarged as a scan: the page's
    character cells decide the breaks (``inbox_ocr.ocr.cells``). Without them Tesseract's
    reading puts a space into ``Cashier:Nicole``."""
    lines = ["GST Summary Amount(RM) Tax(RM)", "TOTAL AMOUNT DUE 250.00", "DATE : 05/01/2018",
             "Facebook: zenandcoffee", "WHOLEMEAL BREAD 2.78", "Change RM6.00", "CASH : 59.00",
             "Cashier:Nicole"]
    font = ImageFont.truetype(str(MONO_BOLD), 18)
    page = Image.new("L", (520, 40 + 30 * len(lines)), 255)
    draw = ImageDraw.Draw(page)
    for row, line in enumerate(lines):
        draw.text((20, 20 + 30 * row), line, fill=0, font=font)
    page = page.resize((page.width * 2, page.height * 2), Image.Resampling.BICUBIC)
    read = normalised_lines(rapid.recognize(page).text)
    assert {"DATE : 05/01/2018", "Facebook: zenandcoffee", "Change RM6.00", "CASH : 59.00",
            "Cashier:Nicole"} <= set(read)

    monkeypatch.setattr(rapidocr, "measured_breaks", lambda _blobs, regions: list(regions))
    assert "Cashier :Nicole" in normalised_lines(rapid.recognize(page).text)
