"""The labels of each field, per language, and where they are on the page."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from inbox_ocr.fields.lines import _Line


def _labels(*specs: tuple[float, str]) -> list[tuple[float, re.Pattern[str]]]:
    return [(w, re.compile(rf"(?<![\w])(?:{p})(?![\w])", re.IGNORECASE)) for w, p in specs]


_INVOICE_NUMBER = _labels(
    (1.0, r"invoice\s*(?:no\.?|number|num\.?|nr\.?|#|id)|inv\.?\s*(?:no|#)\.?"
          r"|facture\s*(?:n\s?[°ºo]\.?|num[ée]ro)|n\s?[°º]\s*(?:de\s*)?facture|rechnungs?-?\s*(?:nummer|nr\.?)"
          r"|num[ée]ro\s*de\s*(?:la\s*)?facture"
          r"|faktura\s*(?:vat\s*)?(?:nr\.?|numer)|numer\s*faktury|invois\s*no\.?"
          # Dutch, Spanish, Italian, Portuguese.
          r"|factuur\s*-?\s*(?:nummer|nr\.?|no\.?)|n[úu]mero\s*de\s*factura"
          r"|factura\s*(?:n\s?[°ºo]\.?|n[úu]m\.?|nr\.?)|n\s?[°º]\s*(?:de\s*)?factura"
          r"|numero\s*(?:di\s*)?fattura|fattura\s*(?:n\.?|nr\.?|numero|n\s?[°º])"
          r"|n[úu]mero\s*da\s*fatura|fatura\s*(?:n\.?\s?[°ºo]?|n[úu]mero)"
          r"|fatura(?=\s+[A-Z]{1,4}\s\d{4}/)"),
    (0.9, r"(?:receipt|bill|document|doc|belegs?|rachunek|resit)\s*(?:no\.?|number|nr\.?|#|num[ée]ro)"
          r"|tax\s*invoice\s*(?:no\.?|#)|no\.?\s*(?:invois|resit|bil)"),
    (0.6, r"booking\s*id|invoice(?=\s*:)|facture(?=\s*:)|rechnung(?=\s*:)|faktura(?=\s+\S*\d)"
          r"|factuur(?=\s*:)|factura(?=\s*:)|fattura(?=\s*:)|fatura(?=\s*:)"),
)
_INVOICE_DATE = _labels(
    (1.0, r"invoice\s*date|date\s*of\s*invoice|inv\.?\s*(?:date|dt)|bill\s*date|receipt\s*date"
          r"|date\s*(?:de\s*(?:la\s*)?)?facture|rechnungsdatum|data\s*(?:wystawienia|faktury)"
          r"|tarikh\s*invois|factuurdatum|fecha\s*(?:de\s*)?(?:la\s*)?(?:factura|emisi[óo]n)"
          r"|data\s*(?:della\s*)?fattura|data\s*(?:de\s*|da\s*)?(?:emiss[ãa]o|fatura)"),
    (0.8, r"date|datum|data|tarikh|dated|fecha"),
)
_DUE_DATE = _labels(
    (1.0, r"due\s*date|payment\s*due|pay\s*by|date\s*d'?\s*[ée]ch[ée]ance|[ée]ch[ée]ance"
          r"|f(?:äa?|ae?)llig(?:keitsdatum|\s*am)?|zahlbar\s*bis|zahlungsziel|termin\s*p[łlt]atno[śs]ci"
          r"|tarikh\s*(?:akhir|tamat)|date\s*limite\s*(?:de\s*)?(?:paiement|r[èe]glement)"
          r"|vervaldatum|vervaldag|uiterste\s*betaaldatum|fecha\s*(?:de\s*)?vencimiento"
          r"|vencimiento|data\s*(?:di\s*)?scadenza|scadenza|data\s*(?:de\s*)?vencimento"
          r"|vencimento"),
)
# Dates on these lines are something else (order, delivery, period, stay).
_OTHER_DATE = re.compile(
    r"order|delivery|ship|check\s*(?:in|out)|period|from|until|lieferdatum|leistungs|"
    r"commande|livraison|sprzeda|dostaw|expir|valid|printed|born|birth|due|[ée]ch[ée]ance|"
    r"f(?:äa?|ae?)llig|zahlungsziel|termin|du\s+\d|limite|paiement|vervaldat|leverdatum|levering|"
    r"vencim|entrega|scadenz|consegna|vencimento", re.IGNORECASE)

_TOTAL = _labels(
    (1.1, r"total\s*after\s*(?:adj|round)\w*|total\s*(?:amt\.?|amount)?\s*rounded"
          r"|rounded\s*total|grand\s*total"
          r"|(?:total\s*)?(?:amount|amt)\s*due|balance\s*due|total\s*due|total\s*to\s*pay"
          r"|amount\s*payable|total\s*payable|net+\s*total|total\s*ttc|montant\s*ttc"
          r"|net\s*[àa]\s*payer|total\s*[àa]\s*payer|gesamtbetrag|rechnungsbetrag|endbetrag"
          r"|zu\s*zahlen|zahlbetrag|do\s*zap[łl]aty|jumlah\s*(?:besar|keseluruhan|bersih)"
          r"|jumlah\s*perlu\s*dibayar|total\s*for\s*this\s*invoice|invoice\s*total"
          r"|gesamtsumme|rechnungssumme|totaal\s*(?:te\s*betalen|bedrag|incl\w*)|te\s*betalen"
          r"|totaalbedrag|total\s*a\s*pagar|importe\s*total|total\s*factura"
          r"|totale\s*(?:fattura|documento|da\s*pagare)|valor\s*total|total\s*a\s*pagar"),
    # "TotaySales (Inclusive of GST)": the l misread as in the 0.8 labels below
    # "Total In of GST" (Incl. lost its cl); "AMTPAIDInCI.GST", "AMTPAID nCL GST": the amount
    # paid including the tax, its words run together and its "Incl" damaged.
    (1.0, r"tota[l1Ity]\s*(?:sales\s*)?\(?[^)\d]{0,12}incl\w*|total\s*amount|total\s*brutto"
          r"|tota[l1]\s*in(?:c[l1]?\w*)?\.?\s+of\s+(?:gst|sst|vat|tax)"
          r"|total\s*with\s*(?:gst|sst|vat|tax)|amount\s*incl\w*"
          r"|(?:amount|amt)\s*pa[il1]d\s*[il1]?nc[l1i]\w*"
          r"|suma\s*brutto|warto[śs][ćc]\s*brutto"),
    # "Tota1", "Totat", "IUIAL" (a dot-matrix TOTAL): OCR misreads of the label itself.
    (0.8, r"tota[l1It]|iuial|jumlah|razem|summe|gesamt|montant\s*total|net+\s*amt|totaal|totale"),
)
# Lines that hold another total (quantity, tax, before tax...): only for the plain labels.
_NOT_TOTAL = re.compile(
    r"sub|qty|quantity|items?\b|pieces|pcs|ex[co][l1]|exclud|before\s*tax|\bht\b|tax\b|gst\b|vat\b"
    r"|tva\b|mwst|discount|saving|rabatt|remise|net\s*amount|netto|count|summary|\bno\b|paid|kecil"
    r"|btw\b|iva\b|excl|imponib|korting|descuento|sconto|suppl",
    re.IGNORECASE)
# "Exol" is how OCR reads "Excl"; "Total 0% supplies" is a part of the subtotal (GST receipts).
_NOT_STRONG_TOTAL = re.compile(r"sub|ex[co][l1]|exclud|before\s*tax|\bht\b|suppl",
                               re.IGNORECASE)
_SUBTOTAL = _labels(
    (1.0, r"sub\s*-?\s*total|total\s*\(?\s*excl\w*|total\s*sales\s*\(?\s*excl\w*|total\s*ht"
          r"|montant\s*ht|total\s*net|net\s*amount|amount\s*excl\w*|total\s*before\s*tax"
          r"|(?:amount|amt)\s*pa[il1]d\s*excl\w*"
          r"|nettobetrag|zwischensumme|summe\s*netto|gesamt\s*netto|warto[śs][ćc]\s*netto"
          r"|razem\s*netto|jumlah\s*kecil|jumlah\s*sebelum\s*cukai|net\s*total\s*excl\w*"
          r"|subtotaal|totaal\s*excl\w*|base\s*imponible|imponibile|subtotale|valor\s*l[íi]quido"),
)
_TAX = _labels(
    (1.0, r"total\s*(?:tax|gst|vat|sst)|(?:vat|gst|sst|tax)\s*amount|tax\s*total|montant\s*tva"
          r"|kwota\s*vat|umsatzsteuer|mehrwertsteuer|mwst\.?|ust\.?|tva|vat|gst|sst|tax|podatek"
          r"|cukai|btw|iva|imposta"),
)
_NOT_TAX = re.compile(
    r"invoice|id\b|no\b|nr\b|reg|number|code|summary|incl|exclud|excl|inclus|included|rate"
    r"|taxable|\btin\b|ust-?id|ustid|identif|intracom|n\s?[°º]|numéro|num[ée]ro|payer|st\.?-?nr|steuer-?nr"
    r"|sub|total\s*(?:sales|amount|with)|btw-?\s*(?:nr|nummer|id)|nummer|partita|p\.\s*iva|nif|cif"
    r"|contribuinte", re.IGNORECASE)
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
            around = _heading_cell(line, m) or (line.view or line.text)[: m.end() + 12]
            if strong_reject is not None and strong_reject.search(around):
                break
            if weight < 1.0 and reject is not None and reject.search(around):
                break
            hits.append((line, weight, m))
            break
    return hits


_CELL_GAP = re.compile(r"\s{2,}")
_RATE = re.compile(r"\d{1,2}(?:[.,]\d{1,2})?\s*%")


def _heads_column(rest: str) -> bool:
    """Whether a label followed by ``rest`` on its line stands alone in its cell (nothing but
    punctuation, or a rate such as ``20%``, before a wide gap or the line's end), so its value
    may be printed under it."""
    rest = _RATE.sub("", rest, count=1)  # "VAT 20%" heads a column too
    return not rest.strip() or re.match(r"[\s:#.]*\s{2,}", rest) is not None


def _heading_cell(line: _Line, m: re.Match[str]) -> str | None:
    """The label's own cell when it heads a column of a header row (``Subtotal   VAT 20%
    Total`` over the amounts): the text between the wide gaps around the label, when the
    words' boxes are known and nothing but the label's words is in that cell. Then only that
    cell can reject the label: its neighbours are other columns' labels. None otherwise."""
    if not line.boxes:
        return None
    text = line.view or line.text
    gaps = list(_CELL_GAP.finditer(text))
    starts = [0, *(g.end() for g in gaps)]
    ends = [*(g.start() for g in gaps), len(text)]
    for start, end in zip(starts, ends, strict=True):
        if start <= m.start() < end:
            if len(starts) > 1 and _heads_column(text[m.end():end]):
                return text[start:end]
            return None
    return None


def _next_line(lines: Sequence[_Line], line: _Line) -> _Line | None:
    """The next line on the same page: where the value sits when a label heads a column
    (``Booking ID`` above ``IBZY2087``) or ends its line."""
    for candidate in lines:
        if candidate.page == line.page and candidate.number == line.number + 1:
            return candidate
    return None
