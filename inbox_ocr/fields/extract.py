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
  kept as printed with ``valid: false``; a date before the tax the document charges came in
  (Malaysian GST, 2015-04-01) ranks after dates in the tax's time, and is read through one
  like-shaped digit of its year where exactly one makes it fit (``confusable-year``, flagged);
- amounts read by OCR are ``valid`` only when something in the document cross-checks them
  (``totals``: subtotal + tax, cash - change, two total lines); a total nothing confirms may
  be replaced by a confirmed other reading of it (``reread``) or by the amount paid that
  subtotal + tax confirm, one digit away (``outvoted``), both flagged;
- IBANs (ISO 13616 mod 97) and VAT numbers (DE, FR, PL, GB, BE, NL, IT, ES, AT; India's GSTIN)
  are checked by their checksums; an identifier with no known checksum is not ``valid``;
- words that the OCR engine read with a low confidence make the field not ``valid``;
- labels are found in English, French, German, Polish, Malay, Dutch, Spanish, Italian and
  Portuguese, also when OCR damaged one of their characters (``Gesamibetrag``); a value
  found without a proper label (a total that is only the largest amount printed with a
  currency, an invoice number under ``Booking ID`` or printed on the date's line with no
  label at all) is never ``valid``.

Nothing here invents a value: every value is taken from one line of the text, whose text is
kept in ``source`` (a value read through OCR damage, such as a confusable digit, is never
``valid`` and says so in its ``reason``). ``today`` is injected (dates are checked against a
plausible range)."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date

from inbox_ocr.fields.candidates import (
    _date_hits,
    _invoice_numbers,
    _unlabelled_numbers,
)
from inbox_ocr.fields.dates import DateReading, find_dates
from inbox_ocr.fields.identifiers import (
    _CURRENCY_CODES,
    _CURRENCY_SYMBOLS,
    IBAN_LENGTHS,
    iban_problem,
    tax_id_problem,
)
from inbox_ocr.fields.labels import (
    _DUE_DATE,
    _IBAN_LABEL,
    _INVOICE_DATE,
    _OTHER_DATE,
    _TAX_ID,
    _Hit,
    _label_hits,
)
from inbox_ocr.fields.lines import _Line, _lines
from inbox_ocr.fields.locale import _detect_locale
from inbox_ocr.fields.model import (
    FIELD_NAMES,
    MIN_WORD_CONFIDENCE,
    PLAUSIBLE_YEARS_BACK,
    Field,
    Fields,
    Locale,
    PageInput,
)
from inbox_ocr.fields.totals import _pick_amounts, _Put


def extract_fields(pages: Sequence[PageInput], *, today: date) -> Fields:
    """The key fields of one document (see the module docstring for the rules)."""
    lines = _lines(pages)
    locale = _detect_locale(lines)
    found: dict[str, Field] = {}
    disputes: dict[tuple[int, int], list[tuple[str, str]]] = {}
    for page in pages:
        for line_number, word, other in page.disputed:
            disputes.setdefault((page.number, line_number), []).append((word, other))

    def put(name: str, hit: _Hit, value: str, problem: str | None) -> None:
        printed = hit.line.text[hit.start:hit.end]
        for word, other in disputes.get((hit.line.page, hit.line.number), ()):
            if problem is None and printed and (printed in word or word in printed):
                problem = (f"engines-disagree: {word!r} is {other!r} in the second OCR "
                           "reading of the line")
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
    _pick_amounts(lines, locale, put, disputes)
    _pick_currency(lines, put)
    _pick_vendor(lines, put)
    _pick_tax_id(lines, put)
    _pick_iban(lines, put)
    warnings = tuple(f"field {name}: {found[name].reason}" for name in FIELD_NAMES
                     if name in found and not found[name].valid)
    return Fields(tuple((n, found[n]) for n in FIELD_NAMES if n in found), locale, warnings)


def _best(hits: Sequence[_Hit]) -> list[_Hit]:
    """The hits with the strongest label, in document order."""
    if not hits:
        return []
    top = max(h.weight for h in hits)
    return sorted((h for h in hits if h.weight == top), key=lambda h: h.order)


def _pick_invoice_number(lines: Sequence[_Line], put: _Put) -> None:
    best = _best(_invoice_numbers(lines))
    if not best:
        dated = [(line, m) for line, _w, m in _label_hits(lines, _INVOICE_DATE)]
        best = _unlabelled_numbers(lines, dated)[:1]
        if best:
            put("invoice_number", best[0], best[0].text,
                "weak-label: no 'invoice number' label; an identifier printed on the invoice "
                "date's line or after the document's title")
        return
    hit = best[0]
    values = {h.text.lstrip("#") for h in best}
    problem = None
    if len(values) > 1:
        problem = "conflicting-values: " + ", ".join(sorted(values))
    elif hit.weight < 0.8:
        problem = "weak-label: no 'invoice number' label; read from a nearby heading"
    elif (odd := _DIGIT_AMONG_LETTERS.search(hit.text)) is not None:
        problem = (f"confusable-characters: {hit.text!r} has a {odd[0]} among letters, "
                   f"where OCR reads {'an O' if odd[0] == '0' else 'an I or l'} so")
    put("invoice_number", hit, hit.text, problem)


# A 0 or 1 that starts a run of capitals or stands inside one ("1NV-2024-53507", "IN0-7"):
# where OCR reads an O, I or l, the number is not sure.
_DIGIT_AMONG_LETTERS = re.compile(r"(?<![A-Za-z0-9])[01](?=[A-Z]{2})|(?<=[A-Z])[01](?=[A-Z])")


def _pick_dates(lines: Sequence[_Line], locale: Locale, today: date, put: _Put) -> None:
    issued: date | None = None
    due_hits = _date_hits(lines, _DUE_DATE, locale, today, unlabelled=False, skip=None)
    # Where the due date was read: an unlabelled date there is no invoice date (a header row
    # whose invoice date OCR garbled leaves only the due date under its label).
    claimed = {(h.line.page, h.line.number, h.start) for h, _r in due_hits}
    # An invoice date label whose value could not be read: any other date is a guess.
    unread = any(weight >= 1.0 for _l, weight, _m in _label_hits(lines, _INVOICE_DATE))
    era = _tax_era(lines)
    for name, labels, unlabelled, skip, years_ahead in (
        ("invoice_date", _INVOICE_DATE, True, _OTHER_DATE, 1),
        ("due_date", _DUE_DATE, False, None, 2),
    ):
        hits = due_hits if name == "due_date" else [
            (h, r) for h, r in _date_hits(lines, labels, locale, today, unlabelled=unlabelled,
                                          skip=skip)
            if h.weight >= 0.8 or (h.line.page, h.line.number, h.start) not in claimed]
        if not hits:
            continue
        earliest = date(today.year - PLAUSIBLE_YEARS_BACK, 1, 1)
        latest = date(today.year + years_ahead, today.month, min(today.day, 28))
        top = max(h.weight for h, _ in hits)
        best = sorted(((h, r) for h, r in hits if h.weight == top),
                      key=_date_rank(earliest, latest, era[0] if era else earliest))
        hit, reading = best[0]
        if reading.value is None:
            put(name, hit, reading.text, reading.problem)
            continue
        problem = None
        value = reading.value
        values = {r.value for _h, r in best if r.value is not None}
        if era is not None and earliest <= value < era[0]:
            before = (f"{value.isoformat()} is before {era[1]} ({era[0].isoformat()}), which "
                      "the document charges")
            year = _misread_year(reading, locale, today, era[0], latest)
            if year is None:
                problem = f"before-tax-era: {before}"
            else:
                problem = f"confusable-year: read {reading.text!r} as {year.isoformat()}: {before}"
                value = year
        elif reading.problem is not None:
            problem = reading.problem  # e.g. split-year: the value is read, but not sure
        elif not earliest <= value <= latest:
            problem = (f"implausible-date: {value.isoformat()} is outside "
                       f"{earliest.isoformat()}..{latest.isoformat()}")
        elif top >= 0.8 and len(values) > 1:
            problem = "conflicting-values: " + ", ".join(sorted(v.isoformat() for v in values))
        elif top < 0.8 and unread:
            problem = ("unclear-role: the invoice date label's own date could not be read; "
                       "this one has no label")
        elif top < 0.8 and len(others := {r.value for _h, r in hits
                                          if r.value not in (None, value)}) > 0:
            # No label says which date is the invoice's, and another date is printed: the
            # first one is a guess (it may be a delivery date or a deadline).
            problem = ("unclear-role: no label marks the invoice date; other dates printed: "
                       + ", ".join(sorted(v.isoformat() for v in others if v is not None)))
        elif name == "due_date" and issued is not None and value < issued:
            problem = (f"due-before-invoice: due {value.isoformat()} is before the "
                       f"invoice date {issued.isoformat()}")
        if name == "invoice_date":
            issued = value
        put(name, hit, value.isoformat(), problem)


# Taxes that date a document: one that charges the tax cannot be older than the tax. Each is
# (what charging it looks like, where it applies, in force from, its name). Malaysia's GST
# ran from 2015-04-01 to 2018-08-31, but receipts kept printing "GST" afterwards (sroie-train
# 003, December 2018), so only the start is used.
_TAX_ERAS = (
    (re.compile(r"GST\s*summary|\d\s*%\s*GST|GST\s*@?\s*\(?\d\s*%|incl\w*\.?\s*(?:of\s*)?GST"
                r"|GST\s*(?:amt|amount|payable)|total\s*GST|\bSR\s*@?\s*\(?6\s*%", re.IGNORECASE),
     re.compile(r"\bRM\s*\d|\bMYR\b|\bSDN\.?\s*BHD\b|\bMalaysia\b", re.IGNORECASE),
     date(2015, 4, 1), "Malaysian GST"),
)


def _tax_era(lines: Sequence[_Line]) -> tuple[date, str] | None:
    """The date a tax the document charges came into force, and its name; None if none of
    ``_TAX_ERAS`` applies."""
    text = "\n".join(line.text for line in lines)
    for charged, where, start, name in _TAX_ERAS:
        if charged.search(text) and where.search(text):
            return start, name
    return None


# Digits OCR reads for one another, by shape ("15-03-18" read as "15-03-13").
_CONFUSABLE_DIGITS = {"0": "68", "1": "7", "3": "8", "5": "6", "6": "058", "7": "1",
                      "8": "0369", "9": "8"}


def _misread_year(reading: DateReading, locale: Locale, today: date, start: date,
                  latest: date) -> date | None:
    """The one date between ``start`` and ``latest`` that ``reading`` becomes when one of
    its digits is read as a like-shaped one and only its year changes; None when there is
    no such date or more than one."""
    assert reading.value is not None
    text, found = reading.text, set()
    for i, digit in enumerate(text):
        for other in _CONFUSABLE_DIGITS.get(digit, ""):
            for r in find_dates(text[:i] + other + text[i + 1:], locale.day_first, today):
                if (r.value is not None and r.problem is None and r.start == 0
                        and (r.value.month, r.value.day) == (reading.value.month,
                                                             reading.value.day)
                        and start <= r.value <= latest):
                    found.add(r.value)
    return found.pop() if len(found) == 1 else None


def _date_rank(earliest: date, latest: date, era: date,
               ) -> Callable[[tuple[_Hit, DateReading]], tuple[bool, bool, tuple[int, int]]]:
    """Document order, but a date that cannot be this document's comes after one that can
    ("RC11-23-42", a product code read as 1942, before the receipt's own date), and one
    before the tax the document charges (``era``) after one in its time."""
    def rank(hit: tuple[_Hit, DateReading]) -> tuple[bool, bool, tuple[int, int]]:
        value = hit[1].value
        return (value is not None and not earliest <= value <= latest,
                value is not None and value < era, hit[0].order)
    return rank


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
# What follows "Co." when it labels a registration number.
_REG_LABEL = re.compile(r"\s*(?:no\b|reg\b|registration)", re.IGNORECASE)
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
            # To the last company form ("AEON CO. (M) BHD."), but not the "Co." of a
            # registration label ("Dion Realties Sdn Bhd (Co. No. 1234-X)").
            forms = [f for f in _LEGAL_FORM.finditer(segment)
                     if not (f.group(0).lower() == "co." and _REG_LABEL.match(segment, f.end()))]
            legal = forms[-1] if forms else None
            # Letters count in the name, not in the registration number printed after it
            # ("AEON CO. (M) BHD. (126926-H)").
            name_part = segment[:legal.end()] if legal else segment
            letters = sum(c.isalpha() for c in name_part)
            if letters < 3 or letters < 0.6 * len(name_part.replace(" ", "")):
                continue
            if _NOT_VENDOR.search(segment) and not legal:
                continue
            start, end = m.start(), m.end()
            if legal:
                end = m.start() + legal.end()
                if not segment[:forms[0].start()].strip(" .,(") and i > 0:
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
