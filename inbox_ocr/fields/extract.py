"""Key fields of an invoice or receipt, read from its corrected text: pure functions, no I/O.

``extract_fields(pages, today=...)`` finds the invoice number, the invoice and due dates, the
total, subtotal and tax, the currency, the vendor's name and tax id and an IBAN, each as a
:class:`Field` that says where it was read (page, line, the line's text), how sure the reading
is, and whether it passed every check that applies (``valid``) or why not (``reason``).

The rule is the accounting users' one: a flagged raw value beats a wrong corrected one. So:

- numbers are parsed by the document's own convention (``1.234,56`` or ``1,234.56``, ``1 234,56``
  only where the comma is the decimal mark); a number that could be read two ways is flagged;
- a date whose day and month could be swapped (``03/04/2024``) is resolved only by evidence in
  the document (an unambiguous date, its language, its currency or country); otherwise it is
  kept as printed with ``valid: false``;
- amounts read by OCR are ``valid`` only when something in the document cross-checks them:
  subtotal + tax (+ rounding) = total, cash - change = total, or two total lines agreeing;
- IBANs (ISO 13616 mod 97) and VAT numbers (DE, FR, PL, GB, BE, NL, IT, ES, AT; India's GSTIN)
  are checked by their checksums; an identifier with no known checksum is not ``valid``;
- words that the OCR engine read with a low confidence make the field not ``valid``;
- labels are found in English, French, German, Polish and Malay, also when OCR damaged one of
  their characters (``Gesamibetrag``); a value found without a proper label (a total that is
  only the largest amount printed with a currency, an invoice number under ``Booking ID``) is
  never ``valid``.

Nothing here invents a value: every value is taken from one line of the text, whose text is
kept in ``source``. ``today`` is injected (dates are checked against a plausible range).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FIELD_NAMES = (
    "invoice_number", "invoice_date", "due_date", "total", "subtotal", "tax", "currency",
    "vendor", "vendor_tax_id", "iban",
)

# Words the OCR engine read with less confidence (0-100) than this make a field not valid.
MIN_WORD_CONFIDENCE = 90.0
# Dates before today minus this many years, or after today plus one (two for due dates),
# are implausible.
PLAUSIBLE_YEARS_BACK = 25


@dataclass(frozen=True)
class PageInput:
    """One page as the extractor sees it.

    number: 1-based page number. text: the corrected text. words: (word, confidence 0-100 or
    None) in reading order as the OCR engine gave them; used only when they line up one to one
    with the whitespace-separated tokens of ``text`` (the corrector replaces tokens one for one),
    otherwise confidences count as unknown.
    """

    number: int
    text: str
    words: tuple[tuple[str, float | None], ...] = ()


@dataclass(frozen=True)
class Field:
    """One extracted field.

    value: normalised (ISO 8601 date, decimal string like ``"1234.56"``, ISO 4217 code,
    identifier without spaces), or the raw text as printed when it could not be normalised
    safely (then ``valid`` is false). valid: passed every check that applies. reason: why not
    (``"slug: detail"``), None when valid. page, line: 1-based, where it was read. source: that
    line's text. confidence: 0..1, a heuristic from the label's strength and the OCR word
    confidences (halved when not valid).
    """

    value: str
    valid: bool
    reason: str | None
    page: int
    line: int
    source: str
    confidence: float

    def as_json(self) -> dict[str, Any]:
        return {"value": self.value, "valid": self.valid, "reason": self.reason,
                "page": self.page, "line": self.line, "source": self.source,
                "confidence": self.confidence}


@dataclass(frozen=True)
class Locale:
    """What the document says about its own conventions.

    language: ``en``, ``fr``, ``de``, ``pl``, ``ms`` or ``""`` (unknown). decimal: ``"."`` or
    ``","`` or None. day_first: True (31/12), False (12/31) or None (no evidence).
    """

    language: str
    decimal: str | None
    day_first: bool | None


@dataclass(frozen=True)
class Fields:
    """The fields found in one document, the locale they were read with, and warnings."""

    found: tuple[tuple[str, Field], ...]
    locale: Locale
    warnings: tuple[str, ...]

    def get(self, name: str) -> Field | None:
        return dict(self.found).get(name)

    def as_json(self) -> dict[str, dict[str, Any] | None]:
        """Every name in FIELD_NAMES; None for a field that was not found."""
        found = dict(self.found)
        return {name: (found[name].as_json() if name in found else None)
                for name in FIELD_NAMES}


# -- lines and OCR confidences --------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    page: int
    number: int  # 1-based within its page
    text: str
    confidences: tuple[float | None, ...]  # one per whitespace token, or () when unknown
    view: str = ""  # ``text`` with OCR-damaged label words repaired, same length (labels only)

    def confidence(self, start: int, end: int) -> float | None:
        """Lowest OCR confidence of the tokens overlapping text[start:end] (None: unknown)."""
        if not self.confidences:
            return None
        found: list[float] = []
        for i, token in enumerate(re.finditer(r"\S+", self.text)):
            if token.start() < end and token.end() > start:
                conf = self.confidences[i]
                if conf is not None:
                    found.append(conf)
        return min(found) if found else None


def _lines(pages: Iterable[PageInput]) -> list[_Line]:
    out: list[_Line] = []
    for page in sorted(pages, key=lambda p: p.number):
        texts = page.text.split("\n")
        tokens = sum(len(t.split()) for t in texts)
        confs = [c for _w, c in page.words] if len(page.words) == tokens else []
        k = 0
        for number, text in enumerate(texts, 1):
            n = len(text.split())
            out.append(_Line(page.number, number, text, tuple(confs[k:k + n]) if confs else (),
                             label_view(text)))
            k += n
    return out


# Label words long enough that one misread character cannot make another word of them.
_LABEL_WORDS = frozenset({
    "total", "subtotal", "amount", "invoice", "receipt", "rounding", "change", "balance",
    "payable", "facture", "montant", "rechnung", "rechnungsnummer", "rechnungsdatum",
    "rechnungsbetrag", "gesamtbetrag", "nettobetrag", "zwischensumme", "endbetrag", "faktura",
    "razem", "jumlah", "tarikh", "tunai", "cukai", "invois",
})


def label_view(text: str) -> str:
    """``text`` with each word that is one misread character away from a label word
    (``Gesamibetrag``, ``Tota2``) replaced by that word; same length, so spans found in the
    view hold in ``text``. Used to find labels only: values are always read from ``text``."""
    def repair(m: re.Match[str]) -> str:
        word = m.group(0)
        lowered = word.lower()
        if len(word) < 5 or lowered in _LABEL_WORDS:
            return word
        for label in _LABEL_WORDS:
            if len(label) != len(word):
                continue
            diff = [i for i, (a, b) in enumerate(zip(lowered, label, strict=True)) if a != b]
            if len(diff) != 1:
                continue
            bad = lowered[diff[0]]
            if len(word) > 5 or not bad.isalpha() or bad in "iltj":
                return label
        return word
    return re.sub(r"[^\s:;.,|()]+", repair, text)


# -- numbers --------------------------------------------------------------------------------

_SPACES = " \u00a0\u202f\u2009"
# A number as printed: digits with thousands separators and a decimal part, not glued to
# other digits, not a percentage.
_NUMBER_RE = re.compile(
    r"(?<![\d.,])(\d{1,3}(?:[ \u00a0\u202f\u2009]\d{3})+(?:,\d{1,2})?"
    r"|\d[\d.,']*\d|\d)(?![\d])(?![.,]\d)(?!\s?%)"
)


class AmbiguousNumber(ValueError):
    """A number that reads two ways (``1,234``: 1234 or 1.234) and nothing tells which."""


def parse_amount(text: str, decimal: str | None) -> Decimal:
    """``text`` (one number as printed, no currency) as a Decimal.

    ``decimal`` is the document's decimal mark (``"."``, ``","`` or None when unknown). Spaces
    group thousands only where the decimal mark is a comma (``1 234,56``); apostrophes always
    (``1'234.50``). Raises AmbiguousNumber when the reading depends on an unknown convention,
    ValueError when ``text`` is not a well-formed number.
    """
    s = text.strip()
    if any(c in s for c in _SPACES):
        if decimal != ",":
            raise ValueError(f"spaces inside {text!r}")
        s = "".join(c for c in s if c not in _SPACES)
    s = s.replace("'", "")
    if not re.fullmatch(r"\d[\d.,]*", s) or s[-1] in ".,":
        raise ValueError(f"not a number: {text!r}")
    dots, commas = s.count("."), s.count(",")
    if dots and commas:
        mark = "." if s.rfind(".") > s.rfind(",") else ","
        group = "," if mark == "." else "."
        whole, _, frac = s.rpartition(mark)
        if group == mark or mark in whole or not _grouped(whole, group) or len(frac) > 2:
            raise ValueError(f"malformed number {text!r}")
        return Decimal(whole.replace(group, "") + "." + frac)
    if not dots and not commas:
        return Decimal(s)
    sep = "." if dots else ","
    parts = s.split(sep)
    if len(parts) > 2:
        if not _grouped(s, sep):
            raise ValueError(f"malformed number {text!r}")
        return Decimal(s.replace(sep, ""))
    whole, frac = parts
    if len(frac) <= 2:
        return Decimal(whole + "." + frac)
    if len(frac) == 3 and len(whole) <= 3 and whole != "0":
        if decimal is not None and decimal != sep:
            return Decimal(whole + frac)  # the other mark is the decimal: this one groups
        raise AmbiguousNumber(f"{text!r} could be {whole}{frac} or {whole}.{frac}")
    raise ValueError(f"malformed number {text!r}")


def _grouped(whole: str, sep: str) -> bool:
    groups = whole.split(sep)
    return 1 <= len(groups[0]) <= 3 and all(len(g) == 3 for g in groups[1:])


def money(value: Decimal) -> str:
    """A decimal string with two places (``"1234.50"``); more places are kept as they are."""
    if value.as_tuple().exponent in (0, -1, -2):
        value = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return format(value, "f")


# -- dates ----------------------------------------------------------------------------------

_MONTHS: dict[str, int] = {}
for _n, _names in enumerate([
    "january jan januar jänner janvier janv januari stycznia styczeń styczen",
    "february feb februar février fevrier févr fevr februari lutego luty",
    "march mar märz maerz marz mars mac marca marzec",
    "april apr avril avr kwietnia kwiecień kwiecien",
    "may mai mei maja maj",
    "june jun juni juin czerwca czerwiec",
    "july jul juli juillet juil julai lipca lipiec",
    "august aug août aout ogos ogo sierpnia sierpień sierpien",
    "september sep sept septembre września wrzesnia wrzesień wrzesien",
    "october oct okt oktober octobre października pazdziernika październik pazdziernik",
    "november nov novembre listopada listopad",
    "december dec dez dezember décembre decembre déc disember grudnia grudzień grudzien",
], 1):
    for _name in _names.split():
        _MONTHS[_name] = _n
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))

_DATE_RES = [
    ("ymd", re.compile(r"(?<!\d)(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")),
    ("num", re.compile(r"(?<![\d.])(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?!\d)")),
    ("dmy", re.compile(rf"(?<![\w])(\d{{1,2}})\.?(?:st|nd|rd|th|er)?[\s\-/]*({_MONTH})\.?"
                       r"[\s\-/,]*(\d{4}|\d{2})(?!\d)", re.IGNORECASE)),
    ("mdy", re.compile(rf"(?<![\w])({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\s*,?\s*"
                       r"(\d{4})(?!\d)", re.IGNORECASE)),
]


@dataclass(frozen=True)
class DateReading:
    """A date found in a line: ``value`` (None when ambiguous or impossible), the printed
    text, its span, and why it could not be resolved."""

    value: date | None
    text: str
    start: int
    end: int
    problem: str | None = None


def _year(text: str, today: date) -> int:
    if len(text) == 4:
        return int(text)
    y = 2000 + int(text)
    return y if y <= today.year + 1 else y - 100


def find_dates(line: str, day_first: bool | None, today: date) -> list[DateReading]:
    """Every date printed in ``line``, in order. Numeric day/month order comes from
    ``day_first``; when that is None and both orders are possible, the reading has no value
    and its problem says so."""
    found: list[DateReading] = []
    taken: list[tuple[int, int]] = []
    for kind, regex in _DATE_RES:
        for m in regex.finditer(line):
            if any(m.start() < e and m.end() > s for s, e in taken):
                continue
            text = m.group(0)
            problem = None
            value: date | None = None
            try:
                if kind == "ymd":
                    value = date(int(m[1]), int(m[3]), int(m[4]))
                elif kind == "dmy":
                    value = date(_year(m[3], today), _MONTHS[m[2].lower()], int(m[1]))
                elif kind == "mdy":
                    value = date(int(m[3]), _MONTHS[m[1].lower()], int(m[2]))
                else:
                    a, b, year = int(m[1]), int(m[3]), _year(m[4], today)
                    if a > 12 >= b or (a == b):
                        value = date(year, b, a)
                    elif b > 12 >= a:
                        value = date(year, a, b)
                    elif day_first is None:
                        problem = (f"ambiguous-date: {text} is {a} {_month_name(b)} or "
                                   f"{b} {_month_name(a)} and the document does not say which")
                    else:
                        value = date(year, b, a) if day_first else date(year, a, b)
            except ValueError:
                continue  # 31/02/2024 and the like are not dates
            taken.append((m.start(), m.end()))
            found.append(DateReading(value, text, m.start(), m.end(), problem))
    return sorted(found, key=lambda d: d.start)


def _month_name(n: int) -> str:
    return date(2000, n, 1).strftime("%B")


def _day_first_evidence(lines: Sequence[_Line]) -> bool | None:
    """Numeric dates whose order is certain (31/12/2024 or 12/31/2024) settle it."""
    votes = {True: 0, False: 0}
    for line in lines:
        for m in _DATE_RES[1][1].finditer(line.text):
            a, b = int(m[1]), int(m[3])
            if a > 12 >= b >= 1:
                votes[True] += 1
            elif b > 12 >= a >= 1 and b <= 31:
                votes[False] += 1
    if votes[True] and not votes[False]:
        return True
    if votes[False] and not votes[True]:
        return False
    return None


# -- locale ---------------------------------------------------------------------------------

_LANGUAGE_WORDS = {
    "fr": r"facture|montant|tva|total ttc|total ht|date d|échéance|règlement|reglement|siret",
    "de": r"rechnung|datum|betrag|mwst|ust|summe|gesamt|zahlung|steuer|bankverbindung",
    "pl": r"faktura|sprzedawca|nabywca|razem|zapłaty|zaplaty|netto|brutto|nip|płatności",
    "ms": r"jumlah|tunai|baki|cukai|terima kasih|sdn\.? bhd|jalan|taman|selangor|johor|kuala",
    "en": r"invoice|total|amount|date|receipt|thank you|subtotal|due|cash|change",
}
# Countries where the day comes first, recognisable by currency or company form; and the US.
_DAY_FIRST_CUES = re.compile(
    r"\b(?:RM|MYR|SDN\.? BHD|BHD|GBP|EUR|INR|Rs\.?|PLN|zł|GmbH|Ltd|Limited|Pvt|SARL|AG|GST)\b|[£€₹]",
    re.IGNORECASE)
_MONTH_FIRST_CUES = re.compile(r"\b(?:USD|US\$|Inc\.?|LLC)\b")


def detect_locale(pages: Iterable[PageInput]) -> Locale:
    """The document's language, decimal mark and day/month order, from its own text."""
    return _detect_locale(_lines(pages))


def _detect_locale(lines: Sequence[_Line]) -> Locale:
    text = "\n".join(line.text for line in lines)
    lowered = text.lower()
    scores = {lang: len(re.findall(rf"\b(?:{words})", lowered))
              for lang, words in _LANGUAGE_WORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    language = best if scores[best] >= 2 else ""
    if language == "en" and scores["ms"] >= 2:
        language = "ms"  # Malaysian receipts are printed in English with Malay addresses
    comma = len(re.findall(r"(?<![\d.,])\d{1,3}(?:\.\d{3})*,\d{2}(?![\d,.])", text))
    dot = len(re.findall(r"(?<![\d.,])\d{1,3}(?:,\d{3})*\.\d{2}(?![\d,.])", text))
    decimal: str | None
    if comma > 2 * dot:
        decimal = ","
    elif dot > 2 * comma:
        decimal = "."
    else:
        decimal = {"fr": ",", "de": ",", "pl": ",", "en": ".", "ms": "."}.get(language)
    day_first = _day_first_evidence(lines)
    if day_first is None:
        day_cue = bool(_DAY_FIRST_CUES.search(text)) and not _MONTH_FIRST_CUES.search(text)
        if language in {"fr", "de", "pl", "ms"} or day_cue:
            day_first = True
        elif _MONTH_FIRST_CUES.search(text) and not _DAY_FIRST_CUES.search(text):
            day_first = False
    return Locale(language, decimal, day_first)


# -- labels ---------------------------------------------------------------------------------


def _labels(*specs: tuple[float, str]) -> list[tuple[float, re.Pattern[str]]]:
    return [(w, re.compile(rf"(?<![\w])(?:{p})(?![\w])", re.IGNORECASE)) for w, p in specs]


_INVOICE_NUMBER = _labels(
    (1.0, r"invoice\s*(?:no\.?|number|num\.?|nr\.?|#|id)|inv\.?\s*(?:no|#)\.?"
          r"|facture\s*(?:n\s?[°ºo]\.?|num[ée]ro)|n\s?[°º]\s*(?:de\s*)?facture|rechnungs?-?\s*(?:nummer|nr\.?)"
          r"|faktura\s*(?:vat\s*)?(?:nr\.?|numer)|numer\s*faktury|invois\s*no\.?"),
    (0.9, r"(?:receipt|bill|document|doc|belegs?|rachunek|resit)\s*(?:no\.?|number|nr\.?|#|num[ée]ro)"
          r"|tax\s*invoice\s*(?:no\.?|#)|no\.?\s*(?:invois|resit|bil)"),
    (0.6, r"booking\s*id|invoice(?=\s*:)|facture(?=\s*:)|rechnung(?=\s*:)|faktura(?=\s+\S*\d)"),
)
_INVOICE_DATE = _labels(
    (1.0, r"invoice\s*date|date\s*of\s*invoice|inv\.?\s*(?:date|dt)|bill\s*date|receipt\s*date"
          r"|date\s*(?:de\s*(?:la\s*)?)?facture|rechnungsdatum|data\s*(?:wystawienia|faktury)"
          r"|tarikh\s*invois"),
    (0.8, r"date|datum|data|tarikh|dated"),
)
_DUE_DATE = _labels(
    (1.0, r"due\s*date|payment\s*due|pay\s*by|date\s*d'?\s*[ée]ch[ée]ance|[ée]ch[ée]ance"
          r"|f[äa]llig(?:keitsdatum|\s*am)?|zahlbar\s*bis|zahlungsziel|termin\s*p[łl]atno[śs]ci"
          r"|tarikh\s*(?:akhir|tamat)"),
)
# Dates on these lines are something else (order, delivery, period, stay).
_OTHER_DATE = re.compile(
    r"order|delivery|ship|check\s*(?:in|out)|period|from|until|lieferdatum|leistungs|"
    r"commande|livraison|sprzeda|dostaw|expir|valid|printed|born|birth|due|[ée]ch[ée]ance|"
    r"f[äa]llig|zahlungsziel|termin|du\s+\d", re.IGNORECASE)

_TOTAL = _labels(
    (1.1, r"total\s*after\s*(?:adj|round)\w*|total\s*rounded|rounded\s*total|grand\s*total"
          r"|(?:total\s*)?(?:amount|amt)\s*due|balance\s*due|total\s*due|total\s*to\s*pay"
          r"|amount\s*payable|total\s*payable|net+\s*total|total\s*ttc|montant\s*ttc"
          r"|net\s*[àa]\s*payer|total\s*[àa]\s*payer|gesamtbetrag|rechnungsbetrag|endbetrag"
          r"|zu\s*zahlen|zahlbetrag|do\s*zap[łl]aty|jumlah\s*(?:besar|keseluruhan|bersih)"
          r"|jumlah\s*perlu\s*dibayar|total\s*for\s*this\s*invoice|invoice\s*total"
          r"|gesamtsumme|rechnungssumme"),
    (1.0, r"total\s*(?:sales\s*)?\(?[^)\d]{0,12}incl\w*|total\s*amount|total\s*brutto"
          r"|suma\s*brutto|warto[śs][ćc]\s*brutto"),
    # "Tota1", "Totat": OCR misreads of the label itself.
    (0.8, r"tota[l1It]|jumlah|razem|summe|gesamt|montant\s*total|net+\s*amt"),
)
# Lines that hold another total (quantity, tax, before tax...): only for the plain labels.
_NOT_TOTAL = re.compile(
    r"sub|qty|quantity|items?\b|pieces|pcs|excl|exclud|before\s*tax|\bht\b|tax\b|gst\b|vat\b"
    r"|tva\b|mwst|discount|saving|rabatt|remise|net\s*amount|netto|count|summary|\bno\b|paid|kecil",
    re.IGNORECASE)
_NOT_STRONG_TOTAL = re.compile(r"sub|excl|exclud|before\s*tax|\bht\b", re.IGNORECASE)
_SUBTOTAL = _labels(
    (1.0, r"sub\s*-?\s*total|total\s*\(?\s*excl\w*|total\s*sales\s*\(?\s*excl\w*|total\s*ht"
          r"|montant\s*ht|total\s*net|net\s*amount|amount\s*excl\w*|total\s*before\s*tax"
          r"|nettobetrag|zwischensumme|summe\s*netto|gesamt\s*netto|warto[śs][ćc]\s*netto"
          r"|razem\s*netto|jumlah\s*kecil|jumlah\s*sebelum\s*cukai|net\s*total\s*excl\w*"),
)
_TAX = _labels(
    (1.0, r"total\s*(?:tax|gst|vat|sst)|(?:vat|gst|sst|tax)\s*amount|tax\s*total|montant\s*tva"
          r"|kwota\s*vat|umsatzsteuer|mehrwertsteuer|mwst\.?|ust\.?|tva|vat|gst|sst|tax|podatek"
          r"|cukai"),
)
_NOT_TAX = re.compile(
    r"invoice|id\b|no\b|nr\b|reg|number|code|summary|incl|exclud|excl|inclus|included|rate"
    r"|taxable|\btin\b|ust-?id|ustid|identif|intracom|n\s?[°º]|numéro|num[ée]ro|payer|st\.?-?nr|steuer-?nr"
    r"|sub|total\s*(?:sales|amount)", re.IGNORECASE)
_ROUNDING = re.compile(r"round|arrondi|rundung|zaokr|pelarasan|penggenapan", re.IGNORECASE)
_CASH = re.compile(r"^\W*(?:cash|tunai|paid|esp[èe]ces|bar|got[óo]wka|amount\s*paid|tendered"
                   r"|visa|master\s*card|mastercard|credit\s*card|debit\s*card|card|carte|karta"
                   r"|kad|total\s*paid|payment\s*received|(?:amount\s*)?received(?:\s*cash)?)\b",
                   re.IGNORECASE)
_CHANGE = re.compile(r"^\W*(?:change|baki|rendu|r[üu]ckgeld|reszta)\b", re.IGNORECASE)
_TAX_ID = _labels(
    (1.0, r"vat\s*(?:reg(?:istration)?\.?\s*)?(?:no\.?|number|id|#)|vat|tva\s*(?:intra\w*)?"
          r"|n[°º]\s*tva|ust-?\s*id(?:nr)?\.?|ust\.?\s*-?\s*idnr\.?|umsatzsteuer-?id\w*|nip"
          r"|gst\s*(?:reg(?:istration)?\.?\s*)?(?:no\.?|number|id|#)|gstin|sst\s*(?:reg\.?\s*)?"
          r"(?:no\.?|id)|tax\s*(?:reg\.?\s*)?(?:id|no\.?|number)|abn|vat/tin|tin"),
)
_IBAN_LABEL = re.compile(r"\bIBAN\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Hit:
    """A candidate value: where it was read and how strong its label was."""

    line: _Line
    weight: float
    text: str  # the value as printed
    start: int
    end: int

    @property
    def order(self) -> tuple[int, int]:
        return (self.line.page, self.line.number)


def _label_hits(lines: Sequence[_Line], labels: list[tuple[float, re.Pattern[str]]],
                reject: re.Pattern[str] | None = None,
                strong_reject: re.Pattern[str] | None = None,
                ) -> list[tuple[_Line, float, re.Match[str]]]:
    """(line, weight, label match) for each line, its strongest label only.

    ``reject`` near a plain label (weight < 1), ``strong_reject`` near any label, drop the line.
    """
    hits = []
    for line in lines:
        for weight, regex in labels:
            m = regex.search(line.view or line.text)
            if m is None:
                continue
            around = (line.view or line.text)[: m.end() + 12]
            if strong_reject is not None and strong_reject.search(around):
                break
            if weight < 1.0 and reject is not None and reject.search(around):
                break
            hits.append((line, weight, m))
            break
    return hits


def _next_line(lines: Sequence[_Line], line: _Line) -> _Line | None:
    """The next line on the same page: where the value sits when a label heads a column
    (``Booking ID`` above ``IBZY2087``) or ends its line."""
    for candidate in lines:
        if candidate.page == line.page and candidate.number == line.number + 1:
            return candidate
    return None


# -- field extractors -----------------------------------------------------------------------

_ID_TOKEN = re.compile(r"[#:.\s]*([A-Za-z0-9][A-Za-z0-9_\-/.]*[A-Za-z0-9]|[0-9])")


def _first_id(text: str, offset: int) -> tuple[str, int, int] | None:
    m = _ID_TOKEN.match(text)
    if m is None:
        return None
    token = m.group(1)
    if not any(c.isdigit() for c in token) or len(token) < 3 or len(token) > 40:
        return None
    if find_dates(token, True, date(2000, 1, 1)):
        return None
    return token, offset + m.start(1), offset + m.end(1)


def _invoice_numbers(lines: Sequence[_Line]) -> list[_Hit]:
    hits = []
    for line, weight, m in _label_hits(lines, _INVOICE_NUMBER):
        found = _first_id(line.text[m.end():], m.end())
        if found is None:
            rest = line.text[m.end():]
            if rest.strip() and not re.match(r"\s{3,}", rest):
                continue
            below = _next_line(lines, line)
            if below is None:
                continue
            col = below.text[max(0, m.start() - 2):]
            found_below = _first_id(col, max(0, m.start() - 2))
            if found_below is None or (m.start() > 2 and below.text[m.start() - 3:m.start() - 2]
                                       .strip()):
                continue
            hits.append(_Hit(below, weight * 0.9, *found_below))
            continue
        hits.append(_Hit(line, weight, *found))
    # A line that is only "# <id>": how some templates print "Invoice #" in a header box.
    for line in lines:
        alone = re.fullmatch(r"\s*#\s*([A-Za-z0-9][A-Za-z0-9_\-/.]*)\s*", line.text)
        if alone and any(c.isdigit() for c in alone[1]) and len(alone[1]) >= 3:
            hits.append(_Hit(line, 0.5, alone[1], alone.start(1), alone.end(1)))
    return hits


def _date_hits(lines: Sequence[_Line], labels: list[tuple[float, re.Pattern[str]]],
               locale: Locale, today: date, *, unlabelled: bool,
               skip: re.Pattern[str] | None) -> list[tuple[_Hit, DateReading]]:
    hits: list[tuple[_Hit, DateReading]] = []
    labelled_lines = set()
    for line, weight, m in _label_hits(lines, labels):
        before = line.text[:m.end()]
        if skip is not None and skip.search(before[max(0, m.start() - 12):]):
            continue
        readings = find_dates(line.text[m.end():], locale.day_first, today)
        if readings:
            r = readings[0]
            r = DateReading(r.value, r.text, r.start + m.end(), r.end + m.end(), r.problem)
            hits.append((_Hit(line, weight, r.text, r.start, r.end), r))
            labelled_lines.add((line.page, line.number))
    if unlabelled:
        for line in lines:
            if (line.page, line.number) in labelled_lines:
                continue
            readings = find_dates(line.text, locale.day_first, today)
            if not readings:
                continue
            if skip is not None and skip.search(line.text[:readings[0].start]):
                continue
            r = readings[0]
            hits.append((_Hit(line, 0.6, r.text, r.start, r.end), r))
    return hits


def _amount_hits(lines: Sequence[_Line], labels: list[tuple[float, re.Pattern[str]]],
                 locale: Locale, reject: re.Pattern[str] | None = None,
                 strong_reject: re.Pattern[str] | None = None,
                 ) -> list[tuple[_Hit, Decimal | None, str | None]]:
    """(hit, value or None, problem) for the last number on each labelled line, or, when the
    label ends its line, the last number of the next line (printed below it)."""
    cents = _prints_cents(lines)
    found = []
    for line, weight, m in _label_hits(lines, labels, reject, strong_reject):
        last = _last_number(line.text, m.end())
        rest = line.text[m.end():]
        if last is None and len(rest.strip()) <= 15 and not any(c.isdigit() for c in rest):
            below = _next_line(lines, line)
            if below is not None and (last := _last_number(below.text, 0)) is not None:
                line = below
        if last is None:
            continue
        text, start, end = last
        try:
            value: Decimal | None = parse_amount(text, locale.decimal)
            problem = None
        except AmbiguousNumber as exc:
            value, problem = None, f"ambiguous-number: {exc}"
        except ValueError:
            continue
        if value is not None and cents and value == value.to_integral_value() and "." not in \
                text and "," not in text:
            continue  # "2 23100": the decimal mark was lost; amounts here print cents
        found.append((_Hit(line, weight, text, start, end), value, problem))
    return found


def _prints_cents(lines: Sequence[_Line]) -> bool:
    """Whether this document prints amounts with two decimals (then a whole number on a total
    line is a misread, not an amount)."""
    text = "\n".join(line.text for line in lines)
    return len(re.findall(r"(?<![\d.,])\d+[.,]\d{2}(?![\d])", text)) >= 2


def _last_number(text: str, start: int) -> tuple[str, int, int] | None:
    matches = [m for m in _NUMBER_RE.finditer(text, start)]
    if not matches:
        return None
    m = matches[-1]
    return m.group(0), m.start(), m.end()


# Cents with no leading zero ending a line: "CHANGE RM .40", "Rounding RM ,02".
_CENTS_ONLY_RE = re.compile(r"(?<![\w.,])[.,](\d{2})\s*$")


def _plain_amounts(lines: Sequence[_Line], pattern: re.Pattern[str],
                   locale: Locale) -> list[tuple[_Line, Decimal]]:
    out = []
    for line in lines:
        if pattern.search(line.text):
            last = _last_number(line.text, 0)
            if last is None:
                cents = _CENTS_ONLY_RE.search(line.text)
                if cents is not None:
                    out.append((line, Decimal(cents[1]) / 100))
                continue
            try:
                out.append((line, parse_amount(last[0], locale.decimal)))
            except ValueError:
                continue
    return out


# -- identifiers ----------------------------------------------------------------------------

IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GR": 27, "HR": 21, "HU": 28,
    "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MT": 31,
    "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24, "SA": 24, "SE": 24, "SI": 19, "SK": 24,
    "SM": 27, "TR": 26,
}


def iban_problem(iban: str) -> str | None:
    """None for a valid IBAN (no spaces), else why not: length for its country, mod 97."""
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{8,30}", iban):
        return "iban-format: not two letters, two digits and the account"
    expected = IBAN_LENGTHS.get(iban[:2])
    if expected is not None and len(iban) != expected:
        return f"iban-length: {iban[:2]} IBANs have {expected} characters, this has {len(iban)}"
    digits = "".join(str(int(c, 36)) for c in iban[4:] + iban[:4])
    if int(digits) % 97 != 1:
        return "iban-checksum: mod-97 check fails (a character is misread or missing)"
    if expected is None:
        return f"iban-country: no length known for {iban[:2]}; checksum alone is not enough"
    return None


def _de_vat(d: str) -> bool:
    product = 10
    for c in d[:8]:
        total = (int(c) + product) % 10 or 10
        product = (2 * total) % 11
    return (11 - product) % 10 == int(d[8])


def _fr_vat(key: str, siren: str) -> bool:
    return key.isdigit() and int(key) == (12 + 3 * (int(siren) % 97)) % 97


def _pl_nip(d: str) -> bool:
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    return sum(int(c) * w for c, w in zip(d, weights, strict=False)) % 11 == int(d[9])


def _gb_vat(d: str) -> bool:
    total = sum(int(c) * w for c, w in zip(d[:7], range(8, 1, -1), strict=True)) + int(d[7:9])
    return total % 97 == 0 or (total + 55) % 97 == 0


def _be_vat(d: str) -> bool:
    return 97 - int(d[:8]) % 97 == int(d[8:])


def _nl_vat(d: str) -> bool:
    digits = d[:9]
    total = sum(int(c) * w for c, w in zip(digits[:8], range(9, 1, -1), strict=True))
    if total % 11 == int(digits[8]):
        return True
    return int("".join(str(int(c, 36)) for c in "NL" + d)) % 97 == 1


def _luhn(d: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(d)):
        n = int(c) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _at_vat(d: str) -> bool:  # ATU + 8 digits
    s = 0
    for i, c in enumerate(d[:7]):
        n = int(c) * (2 if i % 2 else 1)
        s += n // 10 + n % 10
    return (96 - s) % 10 == int(d[7])


def _es_vat(v: str) -> bool:
    letters = "TRWAGMYFPDXBNJZSQVHLCKE"
    if re.fullmatch(r"\d{8}[A-Z]", v):
        return letters[int(v[:8]) % 23] == v[8]
    if re.fullmatch(r"[XYZ]\d{7}[A-Z]", v):
        return letters[int(str("XYZ".index(v[0])) + v[1:8]) % 23] == v[8]
    return False


def _gstin(v: str) -> bool:
    chars = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    total = 0
    for i, c in enumerate(v[:14]):
        product = chars.index(c) * (2 if i % 2 else 1)
        total += product // 36 + product % 36
    return chars[(36 - total % 36) % 36] == v[14]


def tax_id_problem(tax_id: str) -> str | None:
    """None when ``tax_id`` (no spaces, upper case) passes its country's checksum.

    Known: DE, FR (numeric key), PL, GB, BE, NL, IT, ES (personal numbers), AT and India's
    15-character GSTIN. Anything else is reported as unverifiable. A Polish NIP printed without
    its PL prefix is checked by the caller as ``"PL" + nip``.
    """
    v = tax_id
    checks: list[tuple[str, Any]] = [
        (r"DE\d{9}", lambda: _de_vat(v[2:])),
        (r"FR\d{11}", lambda: _fr_vat(v[2:4], v[4:])),
        (r"PL\d{10}", lambda: _pl_nip(v[2:])),
        (r"GB\d{9}(?:\d{3})?", lambda: _gb_vat(v[2:11])),
        (r"BE[01]\d{9}", lambda: _be_vat(v[2:])),
        (r"NL\d{9}B\d{2}", lambda: _nl_vat(v[2:])),
        (r"IT\d{11}", lambda: _luhn(v[2:])),
        (r"ES(?:\d{8}|[XYZ]\d{7})[A-Z]", lambda: _es_vat(v[2:])),
        (r"ATU\d{8}", lambda: _at_vat(v[3:])),
        (r"\d{2}[A-Z]{5}\d{4}[A-Z][1-9A-Z]Z[0-9A-Z]", lambda: _gstin(v)),
    ]
    for pattern, check in checks:
        if re.fullmatch(pattern, v):
            if check():
                return None
            return "tax-id-checksum: the check digits do not match (misread or mistyped)"
    return "tax-id-unverifiable: no checksum known for this format"


_CURRENCY_CODES = frozenset({
    "AED", "AUD", "BGN", "BRL", "CAD", "CHF", "CNY", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF",
    "IDR", "ILS", "INR", "JPY", "KRW", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "RON", "RUB",
    "SAR", "SEK", "SGD", "THB", "TRY", "TWD", "USD", "ZAR"})
_CURRENCY_SYMBOLS = [
    (re.compile(r"€"), "EUR", None), (re.compile(r"£"), "GBP", None),
    (re.compile(r"₹|\bRs\.?(?=\s?\d)|\bINR\b"), "INR", None),
    (re.compile(r"\bzł"), "PLN", None), (re.compile(r"\bRM\s?(?=\d)|\(RM\)"), "MYR", None),
    (re.compile(r"US\$"), "USD", None),
    # Kept as printed: the accounting tool, not this guess, decides which dollar it is.
    (re.compile(r"(?<!US)\$"), "$", "ambiguous-currency: '$' is the sign of several currencies"),
]


# -- the extractor --------------------------------------------------------------------------


def extract_fields(pages: Sequence[PageInput], *, today: date) -> Fields:
    """The key fields of one document (see the module docstring for the rules)."""
    lines = _lines(pages)
    locale = _detect_locale(lines)
    found: dict[str, Field] = {}

    def put(name: str, hit: _Hit, value: str, problem: str | None) -> None:
        conf = hit.line.confidence(hit.start, hit.end)
        if problem is None and conf is not None and conf < MIN_WORD_CONFIDENCE:
            problem = f"low-ocr-confidence: the engine was {conf:.0f}% sure of these characters"
        score = hit.weight * (conf / 100 if conf is not None else 0.9)
        if problem is not None:
            score /= 2
        found[name] = Field(value, problem is None, problem, hit.line.page, hit.line.number,
                            hit.line.text.strip(), round(min(1.0, score), 2))

    _pick_invoice_number(lines, put)
    _pick_dates(lines, locale, today, put)
    _pick_amounts(lines, locale, put)
    _pick_currency(lines, put)
    _pick_vendor(lines, put)
    _pick_tax_id(lines, put)
    _pick_iban(lines, put)
    warnings = tuple(f"field {name}: {found[name].reason}" for name in FIELD_NAMES
                     if name in found and not found[name].valid)
    return Fields(tuple((n, found[n]) for n in FIELD_NAMES if n in found), locale, warnings)


# Records a field: name, where it was read, its value, and why it is not valid (None: valid).
_Put = Callable[[str, _Hit, str, str | None], None]


def _best(hits: Sequence[_Hit]) -> list[_Hit]:
    """The hits with the strongest label, in document order."""
    if not hits:
        return []
    top = max(h.weight for h in hits)
    return sorted((h for h in hits if h.weight == top), key=lambda h: h.order)


def _pick_invoice_number(lines: Sequence[_Line], put: _Put) -> None:
    best = _best(_invoice_numbers(lines))
    if not best:
        return
    hit = best[0]
    values = {h.text.lstrip("#") for h in best}
    problem = None
    if len(values) > 1:
        problem = "conflicting-values: " + ", ".join(sorted(values))
    elif hit.weight < 0.8:
        problem = "weak-label: no 'invoice number' label; read from a nearby heading"
    put("invoice_number", hit, hit.text, problem)


def _pick_dates(lines: Sequence[_Line], locale: Locale, today: date, put: _Put) -> None:
    issued: date | None = None
    for name, labels, unlabelled, skip, years_ahead in (
        ("invoice_date", _INVOICE_DATE, True, _OTHER_DATE, 1),
        ("due_date", _DUE_DATE, False, None, 2),
    ):
        hits = _date_hits(lines, labels, locale, today, unlabelled=unlabelled, skip=skip)
        if not hits:
            continue
        top = max(h.weight for h, _ in hits)
        best = sorted(((h, r) for h, r in hits if h.weight == top), key=lambda x: x[0].order)
        hit, reading = best[0]
        if reading.value is None:
            put(name, hit, reading.text, reading.problem)
            continue
        problem = None
        earliest = date(today.year - PLAUSIBLE_YEARS_BACK, 1, 1)
        latest = date(today.year + years_ahead, today.month, min(today.day, 28))
        values = {r.value for _h, r in best if r.value is not None}
        if not earliest <= reading.value <= latest:
            problem = (f"implausible-date: {reading.value.isoformat()} is outside "
                       f"{earliest.isoformat()}..{latest.isoformat()}")
        elif top >= 0.8 and len(values) > 1:
            problem = "conflicting-values: " + ", ".join(sorted(v.isoformat() for v in values))
        elif name == "due_date" and issued is not None and reading.value < issued:
            problem = (f"due-before-invoice: due {reading.value.isoformat()} is before the "
                       f"invoice date {issued.isoformat()}")
        if name == "invoice_date":
            issued = reading.value
        put(name, hit, reading.value.isoformat(), problem)


def _pick_amounts(lines: Sequence[_Line], locale: Locale, put: _Put) -> None:
    totals = _amount_hits(lines, _TOTAL, locale, _NOT_TOTAL, _NOT_STRONG_TOTAL)
    subtotals = _amount_hits(lines, _SUBTOTAL, locale)
    taxes = _amount_hits(lines, _TAX, locale, _NOT_TAX, _NOT_TAX)
    rounding = _plain_amounts(lines, _ROUNDING, locale)
    cash = _plain_amounts(lines, _CASH, locale)
    change = _plain_amounts(lines, _CHANGE, locale)

    def first_best(hits: list[_Amount]) -> _Amount | None:
        if not hits:
            return None
        top = max(h.weight for h, _v, _p in hits)
        return min((x for x in hits if x[0].weight == top), key=lambda x: x[0].order)

    if not totals:
        totals = _unlabelled_totals(lines, locale)
    total = first_best(totals)
    subtotal = first_best(subtotals)
    tax = first_best(taxes)
    problems: dict[str, str] = {}
    checked: set[str] = set()

    if total is not None and total[1] is not None:
        total, rounded_ok = _after_rounding(lines, locale, total, total[1], totals, rounding)
        if rounded_ok:
            checked.add("total")

    s = subtotal[1] if subtotal else None
    x = tax[1] if tax else None
    if total is not None and total[1] is not None and "total" not in checked:
        total = _paid_total(total, totals, rounding, cash, change, s, x)
    t = total[1] if total else None
    if t is not None and s is not None and x is not None:
        adjustments = [Decimal(0)] + [v for _l, v in rounding] + [-v for _l, v in rounding]
        if any(s + x + a == t for a in adjustments):
            checked |= {"total", "subtotal", "tax"}
        elif not (s == t and x < t):  # s == t: prices include the tax, nothing to add up
            reason = f"sum-mismatch: subtotal {money(s)} + tax {money(x)} != total {money(t)}"
            problems.update(total=reason, subtotal=reason, tax=reason)
    if total is not None and t is not None and "total" not in problems:
        hit = total[0]
        paid = [v for line, v in cash if line != hit.line]
        back = [v for line, v in change if line != hit.line]
        same = [h for h, v, _p in totals if v == t and h.line != hit.line]
        rivals = sorted({money(v) for h, v, _p in totals
                         if v is not None and v != t and h.weight == hit.weight >= 1.0})
        if any(p - b == t for p in paid for b in back) or t in paid or same:
            checked.add("total")
        elif rivals:
            problems["total"] = "conflicting-values: " + ", ".join([money(t), *rivals])

    for name, picked in (("total", total), ("subtotal", subtotal), ("tax", tax)):
        if picked is None:
            continue
        hit, value, ambiguity = picked
        if value is None:
            put(name, hit, hit.text, ambiguity)
            continue
        why = ambiguity or problems.get(name)
        if why is None and name not in checked:
            why = ("not-cross-checked: no subtotal + tax, payment or second total line "
                   "confirms this amount")
        put(name, hit, money(value), why)


_Amount = tuple[_Hit, Decimal | None, str | None]

# An amount printed with a currency code or sign next to it: "EUR 34,73", "56,02 €".
_MONEY_RE = re.compile(
    r"(?:\b(?:[A-Z]{3}|RM|Rs\.?)|[€£$₹])[ \t]*(\d[\d.,']*\d)(?![\d])"
    r"|(?<![\d.,])(\d[\d.,']*\d)[ \t]?(?:[€£₹]|zł|\b[A-Z]{3}\b)")
UNLABELLED_WEIGHT = 0.4


def _unlabelled_totals(lines: Sequence[_Line], locale: Locale) -> list[_Amount]:
    """No total label anywhere (or OCR destroyed it): the largest amount printed with a
    currency, as a weak candidate that is never valid without a cross-check."""
    best: tuple[_Hit, Decimal] | None = None
    for line in lines:
        for m in _MONEY_RE.finditer(line.text):
            group = 1 if m.group(1) else 2
            code = re.search(r"[A-Z]{3}", m.group(0))
            if code and code.group(0) not in _CURRENCY_CODES:
                continue
            try:
                amount = parse_amount(m.group(group).strip(), locale.decimal)
            except ValueError:
                continue
            if best is None or amount > best[1]:
                best = (_Hit(line, UNLABELLED_WEIGHT, m.group(group), m.start(group),
                             m.end(group)), amount)
    if best is None:
        return []
    return [(best[0], best[1], "weak-label: no total label; the largest amount printed with a "
                               "currency")]


def _after_rounding(lines: Sequence[_Line], locale: Locale, total: _Amount, value: Decimal,
                    totals: Sequence[_Amount], rounding: Sequence[tuple[_Line, Decimal]],
                    ) -> tuple[_Amount, bool]:
    """A rounding line within 3 lines after the total means the amount paid follows it:
    a total line printed after the rounding, or a line whose amount is total +/- rounding.
    Returns the total to use and whether the arithmetic confirms it."""
    hit = total[0]
    for r_line, r_value in rounding:
        if r_line.page != hit.line.page or not 0 < r_line.number - hit.line.number <= 3:
            continue
        after = [(h, v) for h, v, _p in totals if v is not None and h.line.page == r_line.page
                 and 0 < h.line.number - r_line.number <= 2]
        if after:
            return (after[0][0], after[0][1], None), after[0][1] in (value + r_value,
                                                                     value - r_value)
        for line in lines:
            if line.page != hit.line.page or not 0 < line.number - r_line.number <= 3:
                continue
            last = _last_number(line.text, 0)
            if last is None:
                continue
            try:
                rounded = parse_amount(last[0], locale.decimal)
            except ValueError:
                continue
            if rounded in (value + r_value, value - r_value) and rounded != value:
                return (_Hit(line, hit.weight, *last), rounded, None), True
        break
    return total, False


def _paid_total(total: _Amount,
                totals: Sequence[_Amount], rounding: Sequence[tuple[_Line, Decimal]],
                cash: Sequence[tuple[_Line, Decimal]], change: Sequence[tuple[_Line, Decimal]],
                subtotal: Decimal | None, tax: Decimal | None) -> _Amount:
    """The picked total is confirmed by nothing, but cash - change equals another printed
    total: that one was paid, so use it ("Nett Total: $1 1.20" misread beside
    "Total Amount: $11.20", CASH $11.20, Change $0.00). A line with a rounding word counts as
    a printed total when its amount is within 0.05 of the picked one ("Rounding RM 13.60"
    after "Total RM 13.58"). Only one such value may match; otherwise the pick stays."""
    hit, value = total[0], total[1]
    if value is None:
        return total
    paid = {v for line, v in cash if line != hit.line}
    back = {v for line, v in change if line != hit.line}
    due = {p - b for p in paid for b in back}
    adjustments = [Decimal(0)] + [v for _l, v in rounding] + [-v for _l, v in rounding]
    if (value in due or value in paid
            or any(v == value and h.line != hit.line for h, v, _p in totals)
            or (subtotal is not None and tax is not None
                and any(subtotal + tax + a == value for a in adjustments))):
        return total  # already confirmed by the usual checks
    found: dict[Decimal, _Amount] = {}
    for h, v, _p in totals:
        if v is not None and v != value and v in due:
            found.setdefault(v, (h, v, None))
    for line, v in rounding:
        last = _last_number(line.text, 0)
        if last is not None and v != value and v in due and abs(v - value) <= Decimal("0.05"):
            found.setdefault(v, (_Hit(line, hit.weight, *last), v, None))
    if len(found) != 1:
        return total
    return next(iter(found.values()))


_DOLLARS = frozenset({"USD", "AUD", "CAD", "HKD", "NZD", "SGD", "TWD", "MXN"})


def _pick_currency(lines: Sequence[_Line], put: _Put) -> None:
    hits: list[tuple[_Hit, str, str | None]] = []
    for line in lines:
        for m in re.finditer(r"(?<![A-Za-z])([A-Z]{3})(?![A-Za-z])", line.text):
            if m[1] in _CURRENCY_CODES:
                hits.append((_Hit(line, 1.0, m[1], m.start(1), m.end(1)), m[1], None))
        for regex, code, problem in _CURRENCY_SYMBOLS:
            m2 = regex.search(line.text)
            if m2 is not None:
                hits.append((_Hit(line, 0.8 if problem is None else 0.5, m2[0], m2.start(),
                                  m2.end()), code, problem))
    if any(code in _DOLLARS for _h, code, _p in hits):
        hits = [x for x in hits if x[1] != "$"]  # "$" beside "USD" (or "SGD"...) is that one
    if not hits:
        return
    codes = {code for _h, code, _p in hits}
    # The currency printed most (codes count more than signs), then the first mention.
    support = {c: sum(h.weight for h, code, _p in hits if code == c) for c in codes}
    chosen = max(codes, key=lambda c: (support[c], c))
    hit, code, problem = min(((h, c, p) for h, c, p in hits if c == chosen),
                             key=lambda x: (-x[0].weight, x[0].order))
    if len(codes) > 1:
        problem = "conflicting-values: " + ", ".join(sorted(codes))
    put("currency", hit, code, problem)


_LEGAL_FORM = re.compile(
    r"\b(?:SDN\.?\s*BHD|BHD|BERHAD|LTD|LIMITED|GMBH|AG|SARL|SAS|S\.?A\.?|INC|LLC|CORP|PLC|"
    r"CO\.|PVT|ENTERPRISE|TRADING|SP\.?\s*Z\s*O\.?\s*O\.?|S\.?R\.?L\.?|B\.?V\.?|KG|OHG|E\.?K\.?)"
    r"(?![\w])", re.IGNORECASE)
_NOT_VENDOR = re.compile(
    r"invoice|receipt|facture|rechnung|faktura|resit|bill\b|tax\b|page|seite|date|tel|fax|"
    r"@|www|http|phone|email|customer|client|kunde|to:|an:|copy|original|duplicate|a/?tt?n|"
    r"jalan|road|street|strasse|straße|rue\b|ul\.|floor|lot\b|no\.|^\W*\d",
    re.IGNORECASE)
# The buyer's block: names below these are not the vendor.
_BUYER = re.compile(r"bill(?:ed)?\s*to|ship\s*to|sold\s*to|customer|client|kunde|"
                    r"rechnungsadresse|factur[ée]\s*[àa]|nabywca|a/?tt?n|atin|guest",
                    re.IGNORECASE)
# A company registration number after the name: "(139386 X)", "862725-U".
_REG_NUMBER = re.compile(r"[\s(]*\d[\d\s]*-?\s?[A-Z]?\)?\s*$")


def _pick_vendor(lines: Sequence[_Line], put: _Put) -> None:
    """The first name in the page head, preferring one with a company form (Ltd, SDN BHD...).

    Names have no checksum: one is ``valid`` only when it carries a company form, was read
    with high OCR confidence and is printed again elsewhere in the document."""
    if not lines:
        return
    head = [line for line in lines if line.page == lines[0].page and line.text.strip()][:8]
    candidates: list[_Hit] = []
    buyer_until = -1
    for i, line in enumerate(head):
        if _BUYER.search(line.text):
            buyer_until = i + 4
            continue
        if i <= buyer_until:
            continue
        for m in re.finditer(r"\S+(?: {1,2}\S+)*", line.text):
            segment = m.group(0)
            letters = sum(c.isalpha() for c in segment)
            if letters < 3 or letters < 0.6 * len(segment.replace(" ", "")):
                continue
            legal = _LEGAL_FORM.search(segment)
            if _NOT_VENDOR.search(segment) and not legal:
                continue
            start, end = m.start(), m.end()
            if legal:
                end = m.start() + legal.end()
                if not segment[:legal.start()].strip(" .,(") and i > 0:
                    continue  # "Sdn Bhd" alone: the name is on the line above, unjoinable
            text = line.text[start:end]
            text = _REG_NUMBER.sub("", text) if not legal else text
            candidates.append(_Hit(line, 1.0 if legal else 0.6, text, start, start + len(text)))
    best = _best(candidates)
    if not best:
        return
    hit = best[0]
    name = hit.text.strip(" ,:;-")
    if name.endswith(".") and not re.search(r"\b\w{1,3}\.$", name):
        name = name[:-1]  # a full stop, not an abbreviation such as "Ltd." or "o.o."
    key = _name_key(name)
    again = sum(1 for line in lines if line != hit.line and key in _name_key(line.text))
    problem = None
    if hit.weight < 1.0:
        problem = "unverified: no company form (Ltd, GmbH, SDN BHD, ...) to confirm a name"
    elif not again:
        problem = "unverified: the name is printed only once, nothing confirms its spelling"
    put("vendor", hit, name, problem)


def _name_key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.upper()).split())


def _pick_tax_id(lines: Sequence[_Line], put: _Put) -> None:
    for line, _w, m in _label_hits(lines, _TAX_ID):
        rest = line.text[m.end():]
        v = re.match(r"[\s:.#°º-]*([A-Z]{0,3}[\s-]?[0-9A-Z][0-9A-Z .\-]{5,22}[0-9A-Z])",
                     rest, re.IGNORECASE)
        if v is None:
            continue
        raw = re.split(r"\s{2,}", v[1])[0]
        cleaned = re.sub(r"[\s.\-]", "", raw).upper()
        if sum(c.isdigit() for c in cleaned) < 8:
            continue
        start = m.end() + v.start(1)
        nip = m.group(0).upper() == "NIP" and re.fullmatch(r"\d{10}", cleaned)
        put("vendor_tax_id", _Hit(line, 1.0, raw, start, start + len(raw)), cleaned,
            tax_id_problem("PL" + cleaned if nip else cleaned))
        return


def _pick_iban(lines: Sequence[_Line], put: _Put) -> None:
    for line in lines:
        label = _IBAN_LABEL.search(line.text)
        if label is None:
            continue
        v = re.match(r"[\s:.]*([A-Z]{2}\d{2}(?:\s?[A-Z0-9]){8,34})", line.text[label.end():])
        if v is None:
            continue
        compact = re.sub(r"\s", "", v[1])
        expected = IBAN_LENGTHS.get(compact[:2])
        if expected is not None and len(compact) > expected:
            compact = compact[:expected]
        start = label.end() + v.start(1)
        put("iban", _Hit(line, 1.0, v[1], start, start + len(v[1])), compact,
            iban_problem(compact))
        return
    for line in lines:
        for m in re.finditer(r"(?<![A-Z0-9])([A-Z]{2}\d{2}[A-Z0-9]{11,30})(?![A-Z0-9])",
                             line.text):
            if m[1][:2] in IBAN_LENGTHS and iban_problem(m[1]) is None:
                put("iban", _Hit(line, 0.8, m[1], m.start(1), m.end(1)), m[1], None)
                return
