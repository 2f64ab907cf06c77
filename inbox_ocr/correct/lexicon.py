"""Which words a language knows, for the rule that a digit may become a letter only when the
result is a known word (``PJU6A`` must never become ``PJUGA``, a broken address code).

The word lists are the ones ``pyspellchecker`` ships inside its wheel (English, French,
German, Spanish, Portuguese, Italian, Dutch, ...), read once per model process. Languages
follow ``ocr.languages`` (Tesseract codes, ``eng+fra``); English is always included, since
receipts in every language print English words (``TOTAL``, ``CASH``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable, Mapping
from importlib import resources

#: Tesseract language code -> pyspellchecker's word list.
WORD_LISTS = {"eng": "en", "fra": "fr", "deu": "de", "spa": "es", "por": "pt", "ita": "it",
              "nld": "nl"}


#: Words of invoices and receipts that the general word lists lack, or have only in their own
#: language: tax names, company forms, currencies and the field labels of every language the
#: field extraction reads. Known whatever ``ocr.languages`` says, so that the corrector never
#: "repairs" a label into the English word one letter away (``MwSt`` into ``Must``, generated
#: seed 23) and a damaged one can be repaired into it.
INVOICE_WORDS = frozenset({
    "qty", "pcs", "incl", "excl", "inv", "amt", "subtotal", "gst", "sst", "vat", "tin",
    "abn", "iban", "bic", "swift", "nr", "ref",
    "rm", "myr", "usd", "eur", "pln", "gbp", "inr", "sgd", "chf",
    "mwst", "ust", "ustid", "umsatzsteuer", "inkl", "zzgl", "netto", "brutto",
    "nettobetrag", "bruttobetrag", "summe",
    "zwischensumme", "gesamtbetrag", "rechnung", "rechnungsnummer", "rechnungsdatum",
    "rechnungsbetrag",
    "faelligkeitsdatum", "fälligkeitsdatum", "lieferdatum", "leistungsdatum",
    "kundennummer", "skonto",
    "facture", "tva", "ht", "ttc", "échéance", "echeance", "montant", "siret", "siren",
    "règlement", "reglement",
    "factuur", "factuurnummer", "factuurdatum", "btw", "totaal", "subtotaal", "vervaldatum",
    "bedrag", "omschrijving",
    "kvk", "betalen",
    "factura", "fecha", "vencimiento", "importe", "nif", "cif", "imponible",
    "fattura", "imponibile", "totale", "importo", "scadenza",
    "fatura", "vencimento", "contribuinte", "emissão", "emissao", "líquido", "liquido",
    "faktura", "faktury", "razem", "zapłaty", "zaplaty", "płatności", "platnosci",
    "sprzedawca", "nabywca",
    "wystawienia", "sprzedaży", "sprzedazy", "regon", "nip", "kwota", "wartość", "wartosc",
    "jumlah", "tunai", "baki", "cukai", "invois", "resit", "tarikh", "sdn", "bhd", "berhad",
    "kecil", "bersih", "keseluruhan",
})


class Lexicon:
    """Lower-case words with how often each occurs (the word list's counts, 0 when it has
    none); ``word in lexicon`` and ``frequency`` ignore case."""

    def __init__(self, words: Iterable[str] | Mapping[str, int]) -> None:
        self._counts: Mapping[str, int] = (
            dict(words) if isinstance(words, Mapping) else dict.fromkeys(words, 0))

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and word.lower() in self._counts

    def __len__(self) -> int:
        return len(self._counts)

    def frequency(self, word: str) -> int:
        return self._counts.get(word.lower(), 0)


def load_lexicon(languages: str) -> Lexicon:
    """The words of English and of every language of ``languages`` that has a word list, and
    ``INVOICE_WORDS``."""
    codes = {"en"} | {WORD_LISTS[c] for c in languages.split("+") if c in WORD_LISTS}
    counts: dict[str, int] = {}
    folder = resources.files("spellchecker") / "resources"
    for code in sorted(codes):
        with (folder / f"{code}.json.gz").open("rb") as raw, gzip.open(raw, "rt",
                                                                       encoding="utf-8") as f:
            for word, count in json.load(f).items():
                key = word.lower()
                counts[key] = max(count, counts.get(key, 0))
    for word in INVOICE_WORDS:
        counts.setdefault(word, 0)
    return Lexicon(counts)
