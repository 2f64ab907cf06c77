"""``inbox-ocr bench invoices``: realistic generated invoices with ground truth, for
``bench fields`` (issue 18). Deterministic by seed.

Each invoice is one A4 page in one of the supported languages (English, French, German,
Polish, Dutch, Spanish, Italian, Portuguese) and one of five layouts:

- ``inline``: ``Label: value`` lines;
- ``header-row``: the labels in a row, their values in the row below (``Invoice Number
  Invoice Date   Due Date`` over ``INV/2023/03/0008   03/20/2023   04/04/2023``);
- ``two-column``: a block of labels on the left, their values in a column on the right;
- ``table``: item lines in a table, the totals in the footer under their labels;
- ``unlabelled-number``: the invoice number printed without its label, on the invoice
  date's line (``VF1005193039   Date: 05/06/2015``).

Every invoice prints a due date beside the invoice date and an item table; some carry a
rotated ``PAID`` stamp. Numbers follow the language's conventions (``1.234,56`` in German,
``1 234,56`` in French and Polish, ``1,234.56`` in English). Each is written as a rasterised
scan (``NNN.png``, 200 dpi, light noise) or as a PDF of that scan (``NNN.pdf``), beside its
truth (``NNN.json``: invoice_number, invoice_date, due_date, total, language, layout), and a
``manifest.json`` that says how the set was made.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

MANIFEST = "manifest.json"
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
PAGE = (1654, 2339)  # A4 at 200 dpi
LAYOUTS = ("inline", "header-row", "two-column", "table", "unlabelled-number")


@dataclass(frozen=True)
class Language:
    code: str
    number: str  # label of the invoice number
    issued: str
    due: str
    subtotal: str
    tax: str
    total: str
    thousands: str
    decimal: str
    day_first: bool
    currency: str


LANGUAGES = {
    lang.code: lang for lang in (
        Language("en", "Invoice Number", "Invoice Date", "Due Date", "Subtotal", "VAT 20%",
                 "Total Due", ",", ".", False, "USD"),
        Language("fr", "Numéro de facture", "Date de facture", "Date d'échéance",
                 "Total HT", "TVA 20%", "Total TTC", " ", ",", True, "EUR"),
        Language("de", "Rechnungsnummer", "Rechnungsdatum", "Fälligkeitsdatum", "Nettobetrag",
                 "MwSt. 19%", "Gesamtbetrag", ".", ",", True, "EUR"),
        Language("pl", "Numer faktury", "Data wystawienia", "Termin płatności",
                 "Wartość netto", "VAT 23%", "Do zapłaty", " ", ",", True, "PLN"),
        Language("nl", "Factuurnummer", "Factuurdatum", "Vervaldatum", "Subtotaal",
                 "BTW 21%", "Totaal", ".", ",", True, "EUR"),
        Language("es", "Número de factura", "Fecha de factura", "Fecha de vencimiento",
                 "Base imponible", "IVA 21%", "Total a pagar", ".", ",", True, "EUR"),
        Language("it", "Numero fattura", "Data fattura", "Data di scadenza", "Imponibile",
                 "IVA 22%", "Totale da pagare", ".", ",", True, "EUR"),
        Language("pt", "Número da fatura", "Data da fatura", "Data de vencimento",
                 "Valor líquido", "IVA 23%", "Total a pagar", ".", ",", True, "EUR"),
    )
}
RATES = {"en": 20, "fr": 20, "de": 19, "pl": 23, "nl": 21, "es": 21, "it": 22, "pt": 23}
VENDORS = ["Northwind Supplies", "Contoso Office", "Fabrikam Parts", "Tailspin Media",
           "Wide World Trading", "Litware Services"]
ITEMS = ["Printer paper A4", "Toner cartridge", "Consulting hours", "Office chairs",
         "Cable set", "Maintenance fee", "Software licence", "Shipping"]


def amount(value: Decimal, lang: Language) -> str:
    """``value`` printed the way ``lang`` prints money (two decimals)."""
    whole, cents = f"{value:.2f}".split(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return lang.thousands.join(groups) + lang.decimal + cents


def printed_date(day: date, lang: Language) -> str:
    if lang.day_first:
        separator = "." if lang.code in ("de", "pl") else "/" if lang.code != "nl" else "-"
        return f"{day.day:02d}{separator}{day.month:02d}{separator}{day.year}"
    return f"{day.month:02d}/{day.day:02d}/{day.year}"


@dataclass(frozen=True)
class Invoice:
    lang: Language
    layout: str
    vendor: str
    number: str
    issued: date
    due: date
    items: tuple[tuple[str, Decimal], ...]
    stamp: bool

    @property
    def subtotal(self) -> Decimal:
        return sum((price for _name, price in self.items), Decimal(0))

    @property
    def tax(self) -> Decimal:
        rate = Decimal(RATES[self.lang.code]) / 100
        return (self.subtotal * rate).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.tax

    def truth(self) -> dict[str, str]:
        return {"invoice_number": self.number, "invoice_date": self.issued.isoformat(),
                "due_date": self.due.isoformat(), "total": f"{self.total:.2f}",
                "language": self.lang.code, "layout": self.layout}


def make_invoice(rng: random.Random, index: int) -> Invoice:
    lang = LANGUAGES[sorted(LANGUAGES)[index % len(LANGUAGES)]]
    layout = LAYOUTS[(index // len(LANGUAGES)) % len(LAYOUTS)]
    issued = date(2024, 1, 1) + timedelta(days=rng.randrange(0, 330))
    number = rng.choice(["INV-{y}-{n:04d}", "FV/{y}/{m:02d}/{n}", "{n:06d}", "F{y}{n:05d}",
                         "RE-{n:05d}"]).format(y=issued.year, m=issued.month,
                                                n=rng.randrange(1, 99999))
    items = tuple((rng.choice(ITEMS), Decimal(rng.randrange(500, 250000)) / 100)
                  for _ in range(rng.randrange(2, 6)))
    return Invoice(lang, layout, rng.choice(VENDORS), number, issued,
                   issued + timedelta(days=rng.choice([14, 30, 45])), items,
                   rng.random() < 0.4)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if DEJAVU.is_file():
        return ImageFont.truetype(str(DEJAVU), size)
    return ImageFont.load_default(size=size)


def render(invoice: Invoice) -> Image.Image:
    """The invoice as a white grayscale A4 page at 200 dpi."""
    lang, page = invoice.lang, Image.new("L", PAGE, 255)
    draw = ImageDraw.Draw(page)
    font, big = _font(30), _font(46)
    y = 140
    draw.text((140, y), invoice.vendor, font=big, fill=0)
    y += 150

    def row(*cells: tuple[int, str]) -> None:
        nonlocal y
        for x, text in cells:
            draw.text((x, y), text, font=font, fill=0)
        y += 60

    number, issued, due = (invoice.number, printed_date(invoice.issued, lang),
                           printed_date(invoice.due, lang))
    if invoice.layout == "header-row":
        row((140, lang.number), (700, lang.issued), (1180, lang.due))
        row((140, number), (700, issued), (1180, due))
    elif invoice.layout == "two-column":
        for label, value in ((lang.number, number), (lang.issued, issued), (lang.due, due)):
            row((140, label), (900, value))
    elif invoice.layout == "unlabelled-number":
        row((140, number), (700, f"{lang.issued}: {issued}"))
        row((700, f"{lang.due}: {due}"))
    else:
        row((140, f"{lang.number}: {number}"))
        row((140, f"{lang.issued}: {issued}"), (900, f"{lang.due}: {due}"))
    y += 80
    for name, price in invoice.items:
        row((140, name), (1180, amount(price, lang)))
    y += 60
    sums = ((lang.subtotal, invoice.subtotal), (lang.tax, invoice.tax),
            (lang.total, invoice.total))
    if invoice.layout == "table":
        row(*((x, label) for x, (label, _v) in zip((140, 700, 1180), sums, strict=True)))
        row(*((x, f"{amount(v, lang)} {lang.currency}")
              for x, (_l, v) in zip((140, 700, 1180), sums, strict=True)))
    else:
        for label, sum_value in sums:
            row((800, f"{label}:"), (1180, f"{amount(sum_value, lang)} {lang.currency}"))
    if invoice.stamp:
        stamp = Image.new("L", (420, 140), 255)
        ImageDraw.Draw(stamp).text((30, 20), "PAID", font=_font(90), fill=90)
        turned = stamp.rotate(25, expand=True, fillcolor=255)
        page.paste(turned, (1000, 1850), Image.eval(turned, lambda v: 255 - v))
    return page


def scanned(page: Image.Image, rng: random.Random) -> Image.Image:
    """Light scanner noise: a few specks (deterministic by ``rng``)."""
    out = page.copy()
    pixels = out.load()
    assert pixels is not None
    for _ in range(1500):
        pixels[rng.randrange(page.width), rng.randrange(page.height)] = rng.randrange(0, 200)
    return out


def generate(folder: Path, count: int, seed: int = 1) -> list[Path]:
    """Write ``count`` invoices (every language and layout in turn) into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    made = []
    for index in range(count):
        invoice = make_invoice(rng, index)
        page = scanned(render(invoice), rng)
        stem = folder / f"{index:03d}"
        path = stem.with_suffix(".pdf" if index % 3 == 2 else ".png")
        page.save(path, resolution=200.0) if path.suffix == ".pdf" else page.save(
            path, dpi=(200, 200))
        stem.with_suffix(".json").write_text(json.dumps(invoice.truth(), ensure_ascii=False,
                                                        indent=1), encoding="utf-8")
        made.append(path)
    (folder / MANIFEST).write_text(json.dumps({"generator": "inbox-ocr bench invoices",
                                               "count": count, "seed": seed,
                                               "font": str(DEJAVU) if DEJAVU.is_file()
                                               else "PIL default"}), encoding="utf-8")
    return made
