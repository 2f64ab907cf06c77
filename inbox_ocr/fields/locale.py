"""Which language and which date order a document uses."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from inbox_ocr.fields.dates import _day_first_evidence
from inbox_ocr.fields.lines import _Line, _lines
from inbox_ocr.fields.model import Locale, PageInput

_LANGUAGE_WORDS = {
    "fr": r"facture|montant|tva|total ttc|total ht|date d|échéance|règlement|reglement|siret",
    "de": r"rechnung|datum|betrag|mwst|ust|summe|gesamt|zahlung|steuer|bankverbindung",
    "pl": r"faktura|sprzedawca|nabywca|razem|zapłaty|zaplaty|netto|brutto|nip|płatności",
    "ms": r"jumlah|tunai|baki|cukai|terima kasih|sdn\.? bhd|jalan|taman|selangor|johor|kuala",
    "nl": r"factuur|btw|totaal|bedrag|betaling|vervaldatum|kvk|te betalen|omschrijving",
    "es": r"factura|fecha|importe|iva|cif|nif|vencimiento|base imponible|pagar",
    "it": r"fattura|importo|iva|totale|partita|scadenza|imponibile|pagamento",
    "pt": r"fatura|valor|contribuinte|vencimento|pagamento|nif|iva|emissão|emissao",
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
        if language in {"fr", "de", "pl", "ms", "nl", "es", "it", "pt"} or day_cue:
            day_first = True
        elif _MONTH_FIRST_CUES.search(text) and not _DAY_FIRST_CUES.search(text):
            day_first = False
    return Locale(language, decimal, day_first)
