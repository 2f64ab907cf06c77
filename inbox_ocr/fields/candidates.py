"""Candidate values next to their labels: numbers, dates, amounts."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from inbox_ocr.fields.dates import DateReading, find_dates
from inbox_ocr.fields.labels import _INVOICE_NUMBER, _heads_column, _Hit, _label_hits, _next_line
from inbox_ocr.fields.lines import _Line, column_below
from inbox_ocr.fields.model import Locale
from inbox_ocr.fields.numbers import (
    _NUMBER_RE,
    AmbiguousNumber,
    amount_view,
    money,
    parse_amount,
)

_ID_TOKEN = re.compile(r"[#:.\s]*([A-Za-z0-9][A-Za-z0-9_\-/.]*[A-Za-z0-9]|[0-9])")


# A Portuguese series number: the series code, a space, the year and number (FT 2024/77).
_SERIES_ID = re.compile(r"[#:.\s]*([A-Z]{1,4} [A-Z0-9]{0,4}/?\d{1,6}/\d{1,8})(?![\w/])")


def _first_id(text: str, offset: int) -> tuple[str, int, int] | None:
    series = _SERIES_ID.match(text)
    if series is not None:
        return series.group(1), offset + series.start(1), offset + series.end(1)
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
            rest = (line.view or line.text)[m.end():]  # "facturai": the label's stray i
            column = (column_below(lines, line, m.start(), m.end())
                      if _heads_column(rest) else None)
            if column is not None:  # the words' boxes: the value printed under the label
                under, start, end = column
                found_under = _first_id(under.text[start:end], start)
                if found_under is not None:
                    hits.append(_Hit(under, weight * 0.9, *found_under))
                continue
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


# An identifier as documents print their numbers: letters then at least four digits
# (``VF1005193039``, ``INV-2024-0042``), or six digits and more; not part of a longer token.
_DOCUMENT_ID = re.compile(r"(?<![\w/.:,-])([A-Z]{1,4}[-/]?\d{4,}(?:[-/]\d+)*|\d{6,})"
                          r"(?![\w/.:,%-])")
# Document titles an unlabelled number may follow on their line ("FACTURE VF1005193039").
_TITLE = re.compile(r"(?<![\w])(?:tax\s*)?(?:invoice|facture|rechnung|faktura|factuur|factura"
                    r"|fattura|fatura)(?![\w])", re.IGNORECASE)
# Lines whose long numbers are something else.
_NOT_DOCUMENT_ID = re.compile(r"tel|fax|phone|mobile|iban|bic|swift|vat|tva|btw|gst|tax\s*id"
                              r"|siret|siren|kvk|ust|nip|reg|account|konto|compte|order|po\b",
                              re.IGNORECASE)
UNLABELLED_NUMBER_WEIGHT = 0.4


def _unlabelled_numbers(lines: Sequence[_Line],
                        dated: Sequence[tuple[_Line, re.Match[str]]]) -> list[_Hit]:
    """No label names the invoice number: an identifier printed on the invoice date's line
    (``VF1005193039   Date: 05/06/2015``) or after the document's title on its line, as a
    weak candidate (never valid). ``dated``: the lines with an invoice date label, and the
    label's match."""
    hits = []
    places = [(line, m.start(), m.end()) for line, m in dated]
    places += [(line, m.start(), m.end()) for line in lines
               for m in [_TITLE.search(line.text)] if m is not None]
    for line, start, end in places:
        if _NOT_DOCUMENT_ID.search(line.text):
            continue
        dates = find_dates(line.text, True, date(2000, 1, 1))
        for m in _DOCUMENT_ID.finditer(line.text):
            if start <= m.start() < end or any(d.start <= m.start() < d.end for d in dates):
                continue
            hits.append(_Hit(line, UNLABELLED_NUMBER_WEIGHT, m.group(1), m.start(1), m.end(1)))
            break
    return hits


#: A date read with a space or a colon for a separator or a dot inside a number
#: (``spaced-date``, ``misread-separator``, ``stray-mark``) ranks below every well-formed date
#: with the same label, or none.
SPACED_DATE_WEIGHT = 0.9


def _weighed(weight: float, reading: DateReading) -> float:
    spaced = reading.problem is not None and reading.problem.startswith(
        ("spaced-date", "misread-separator", "stray-mark"))
    return weight * SPACED_DATE_WEIGHT if spaced else weight


def _date_hits(lines: Sequence[_Line], labels: list[tuple[float, re.Pattern[str]]],
               locale: Locale, today: date, *, unlabelled: bool,
               skip: re.Pattern[str] | None) -> list[tuple[_Hit, DateReading]]:
    hits: list[tuple[_Hit, DateReading]] = []
    labelled_lines = set()
    for line, weight, m in _label_hits(lines, labels):
        readings = find_dates(line.text[m.end():], locale.day_first, today)
        # What the line says before the date, the label's own words included: "Date limite
        # de paiement le 05 Juillet" is a deadline although it starts with "Date".
        said = line.text[max(0, m.start() - 12):m.end() + (readings[0].start if readings else 0)]
        if skip is not None and skip.search(said):
            continue
        column = (column_below(lines, line, m.start(), m.end())
                  if not readings and _heads_column((line.view or line.text)[m.end():])
                  else None)
        if column is not None:  # a header row: the date printed under its label
            under, start, end = column
            below = find_dates(under.text[start:end], locale.day_first, today)
            if below:
                r = below[0]
                r = DateReading(r.value, r.text, r.start + start, r.end + start, r.problem)
                hits.append((_Hit(under, _weighed(weight * 0.9, r), r.text, r.start, r.end), r))
                labelled_lines.add((under.page, under.number))
            continue
        if readings:
            r = readings[0]
            r = DateReading(r.value, r.text, r.start + m.end(), r.end + m.end(), r.problem)
            hits.append((_Hit(line, _weighed(weight, r), r.text, r.start, r.end), r))
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
            hits.append((_Hit(line, _weighed(0.6, r), r.text, r.start, r.end), r))
    return hits


def _amount_hits(lines: Sequence[_Line], labels: list[tuple[float, re.Pattern[str]]],
                 locale: Locale, reject: re.Pattern[str] | None = None,
                 strong_reject: re.Pattern[str] | None = None,
                 ) -> list[tuple[_Hit, Decimal | None, str | None]]:
    """(hit, value or None, problem) for the last number on each labelled line, or, when the
    label ends its line, the last number of the next line (printed below it)."""
    page = "\n".join(line.text for line in lines)
    cents = _prints_cents(page)
    found = []
    lost: list[tuple[_Hit, Decimal | None, str | None]] = []

    def printed(value: Decimal) -> bool:
        """Whether the document prints ``value`` with its decimals somewhere."""
        return re.search(rf"(?<![\d.,]){re.escape(money(value))}(?![\d])", page) is not None

    for line, weight, m in _label_hits(lines, labels, reject, strong_reject):
        labelled = line
        last = _last_amount(line.text, m.end())
        rest = (line.view or line.text)[m.end():]
        column = (column_below(lines, line, m.start(), m.end())
                  if last is None and _heads_column(rest) else None)
        if column is not None:  # the amount printed under its label, in the same column
            under, start, end = column
            if (last := _last_amount(under.text[:end], start)) is not None:
                line = under
        elif last is None and len(rest.strip()) <= 15 and not any(c.isdigit() for c in rest):
            below = _next_line(lines, line)
            if (below is not None
                    and (last := _last_amount(below.text, 0)) is not None):
                line = below
        if last is None:
            continue
        text, start, end = last
        try:
            value: Decimal | None = parse_amount(text, locale.decimal)
            problem = _letter_problem(line.text[start:end], text)
        except AmbiguousNumber as exc:
            value, problem = None, f"ambiguous-number: {exc}"
        except ValueError:
            continue
        if value is not None and cents and value == value.to_integral_value() and "." not in \
                text and "," not in text:
            # A whole number where amounts print cents: OCR damaged the decimals ("2 23100",
            # "RM39 . 0 0", "Total 6 00", "TOTAL 700"). A damaged amount that ends the line is
            # read, flagged, when no labelled line reads better; one with no mark at all only
            # right after its label ("TOTAL 700", not "GST Act 2014").
            said = line.text[m.end() if line is labelled else 0:start]
            bare = _ONLY_CURRENCY.fullmatch(said) is not None
            if (damaged := _damaged_amount(line.text, start, lost_mark=True,
                                           printed=printed if bare else None)) is not None:
                d_start, d_end, d_value, d_problem = damaged
                lost.append((_Hit(line, weight, line.text[d_start:d_end], d_start, d_end),
                             d_value, d_problem))
            continue
        found.append((_Hit(line, weight, line.text[start:end], start, end), value, problem))
    return found or lost


# OCR damage to the decimals of an amount that ends its line: spaces around or inside them
# ("RM39 . 0 0", "250 .00", "8.4 8"), the mark read as a space ("Total 6 00") or lost
# ("TOTAL 700").
_SPACED_MARK = re.compile(r"(?<![\d.,])(\d{1,6}) ?[.,] ?(\d) ?(\d)\s*$")
_LOST_MARK = re.compile(r"(?<![\d.,])(\d{1,6}) (\d{2})\s*$")
# "Total Due: 3,183:18 USD", "Do zapłaty: 4.751;02 PLN": the decimal mark read as a colon or
# a semicolon. Grouped or three digits and more before it: "12:30" is a time.
_COLON_MARK = re.compile(r"(?<![\d.,:;])(\d{1,3}(?:[.,]\d{3})+|\d{3,})[:;](\d{2})(?![\d:;])"
                         r"(?=\s*(?:[A-Z]{3}|[€$£])?\s*$)")
_NO_MARK = re.compile(r"(?<![\d.,])(?<![\d.,] )(\d{1,4})(\d{2})\s*$")
# What may stand between a label and its amount: punctuation and a currency.
_ONLY_CURRENCY = re.compile(r"[\s:.\-=]*(?:RM|Rs\.?|[A-Z]{3}|[$€£])?[\s:.]*")


def _damaged_amount(text: str, start: int, *, lost_mark: bool,
                    printed: Callable[[Decimal], bool] | None = None,
                    ) -> tuple[int, int, Decimal, str] | None:
    """The damaged amount at the end of ``text`` that holds the number read at ``start``:
    (start, end, value, problem). Spaced decimals always (``spaced-amount``); a mark read
    as a space, a colon or a semicolon only with ``lost_mark`` (``lost-decimal-mark``, ``misread-mark``),
    and a mark lost with no trace only with ``printed`` as well, where it says the document
    prints that amount elsewhere (``TOTAL 700`` beside ``SUB-TOTAL 7.00``; ``TOTAL 100``
    under two items of 50.00 is no 1.00): a cash line may print a whole amount ("CASH 50")."""
    spaced = _SPACED_MARK.search(text)
    if spaced is not None and spaced.start() <= start < spaced.end() \
            and " " in spaced[0].strip():
        value = Decimal(f"{spaced[1]}.{spaced[2]}{spaced[3]}")
        read = spaced[0].strip()
        return (spaced.start(), spaced.start() + len(read), value,
                f"spaced-amount: read {read!r} as {money(value)}")
    if not lost_mark:
        return None
    colon = _COLON_MARK.search(text)
    if colon is not None and colon.start() <= start < colon.end(2):
        value = Decimal(f"{re.sub(r'[.,]', '', colon[1])}.{colon[2]}")
        read = text[colon.start():colon.end(2)]
        return (colon.start(), colon.end(2), value,
                f"misread-mark: read {read!r} as {money(value)}")
    for regex in (_LOST_MARK, _NO_MARK) if printed is not None else (_LOST_MARK,):
        m = regex.search(text)
        if m is not None and m.start() <= start < m.end():
            read = m[0].strip()
            value = Decimal(f"{m[1]}.{m[2]}")
            if regex is _NO_MARK and printed is not None and not printed(value):
                return None
            return (m.start(), m.start() + len(read), value,
                    f"lost-decimal-mark: read {read!r} as {money(value)}")
    return None


def _letter_problem(printed: str, read: str) -> str | None:
    """``letter-for-digit`` where the amount was read through :func:`amount_view`."""
    if printed == read:
        return None
    return f"letter-for-digit: read {printed!r} as {read}"


def _prints_cents(text: str) -> bool:
    """Whether this document's text prints amounts with two decimals (then a whole number on
    a total line is a misread, not an amount)."""
    return len(re.findall(r"(?<![\d.,])\d+(?:[.,' ]\d{3})*[.,]\d{2}(?![\d])", text)) >= 2


def _last_number(text: str, start: int) -> tuple[str, int, int] | None:
    matches = [m for m in _NUMBER_RE.finditer(text, start)]
    if not matches:
        return None
    m = matches[-1]
    return m.group(0), m.start(), m.end()


def _last_amount(text: str, start: int) -> tuple[str, int, int] | None:
    """The last number of ``text`` from ``start``, read through :func:`amount_view`
    (``RMO.02`` is 0.02), unless that reading is a letter's and a number read as printed
    comes before it (``Total RM40.00 RMO.00``: 40.00)."""
    view = amount_view(text)
    read = _last_number(view, start)
    if read is None or view == text:
        return read
    plain = _last_number(text, start)
    if plain is not None and plain[2] <= read[1] and view[read[1]:read[2]] != \
            text[read[1]:read[2]]:
        return plain
    return read


# Cents with no leading zero ending a line: "CHANGE RM .40", "Rounding RM ,02".
_CENTS_ONLY_RE = re.compile(r"(?<![\w.,])[.,](\d{2})\s*$")


def _plain_amounts(lines: Sequence[_Line], pattern: re.Pattern[str],
                   locale: Locale) -> list[tuple[_Line, Decimal]]:
    out = []
    for line in lines:
        if pattern.search(line.view or line.text):  # "Chenge", "Casb"
            last = _last_amount(line.text, 0)  # "Rounding RMO.02"
            if last is None:
                cents = _CENTS_ONLY_RE.search(amount_view(line.text))
                if cents is not None:
                    out.append((line, Decimal(cents[1]) / 100))
                continue
            try:
                value = parse_amount(last[0], locale.decimal)
            except ValueError:
                continue
            if (damaged := _damaged_amount(line.text, last[1], lost_mark=False)) is not None:
                value = damaged[2]  # "CASH RM39 . 0 0"
            out.append((line, value))
    return out
