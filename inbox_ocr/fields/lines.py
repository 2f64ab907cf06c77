"""Lines of text with their OCR confidences, and labels seen through OCR noise."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from inbox_ocr.fields.model import PageInput


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
    # Dutch, Spanish, Italian, Portuguese: also keeps "fattura" from being "repaired" into the
    # Polish "faktura", one letter away.
    "factuur", "factuurnummer", "factuurdatum", "vervaldatum", "totaal", "subtotaal",
    "factura", "importe", "fattura", "totale", "importo", "imponibile", "fatura",
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
