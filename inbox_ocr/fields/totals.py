"""The amounts of a document: the total, the subtotal and the tax, chosen among the labelled
candidates and checked against each other and the amounts paid (pure functions, no I/O).

A total is ``valid`` only where another line confirms it: subtotal + tax (+ rounding), cash -
change, the amount paid, or a second total line. A total that nothing confirms may be replaced
by another reading of it that something does (``reread``), by a printed total that was paid,
or by the amount paid where subtotal + tax outvote a misread digit (``outvoted``); such a
value is never valid."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Sequence
from decimal import Decimal

from inbox_ocr.fields.candidates import _amount_hits, _last_amount, _last_number, _plain_amounts
from inbox_ocr.fields.identifiers import _CURRENCY_CODES
from inbox_ocr.fields.labels import (
    _CASH,
    _CHANGE,
    _NOT_STRONG_TOTAL,
    _NOT_TAX,
    _NOT_TOTAL,
    _ROUNDING,
    _SUBTOTAL,
    _TAX,
    _TOTAL,
    _Hit,
)
from inbox_ocr.fields.lines import _Line
from inbox_ocr.fields.model import Locale
from inbox_ocr.fields.numbers import money, parse_amount

# Records a field: name, where it was read, its value, and why it is not valid (None: valid).
_Put = Callable[[str, _Hit, str, str | None], None]


# The second OCR reading of a line's words whose digits it reads otherwise, by (page, line):
# (word, the other reading's word).
_Disputes = dict[tuple[int, int], list[tuple[str, str]]]


def _pick_amounts(lines: Sequence[_Line], locale: Locale, put: _Put,
                  disputes: _Disputes | None = None) -> None:
    totals = _amount_hits(lines, _TOTAL, locale, _NOT_TOTAL, _NOT_STRONG_TOTAL)
    subtotals = _amount_hits(lines, _SUBTOTAL, locale)
    taxes = _amount_hits(lines, _TAX, locale, _NOT_TAX, _NOT_TAX)
    # An amount a total label claims is not the tax, whatever else its line says ("Total In
    # of GST 6 00", where OCR lost the "cl" that would have rejected the tax label).
    claimed = {(h.line, h.start) for h, _v, _p in totals if h.weight >= 1.0}
    taxes = [t for t in taxes if (t[0].line, t[0].start) not in claimed]
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
        total = _paid_total(total, [*totals, *subtotals], rounding, cash, change, s, x)
        total = _outvoted_total(total, [*totals, *subtotals], locale, rounding, cash, change,
                                s, x)
    if total is not None and "total" not in checked:
        total = _reread_total(total, lines, totals, locale, disputes or {}, rounding, cash, change,
                              subtotal, tax)
    t = total[1] if total else None
    if t is not None and s is not None and x is not None:
        if any(s + x + a == t for a in _adjustments(rounding)):
            checked |= {"total", "subtotal", "tax"}
        elif not (s == t and x < t):  # s == t: prices include the tax, nothing to add up
            reason = f"sum-mismatch: subtotal {money(s)} + tax {money(x)} != total {money(t)}"
            problems.update(total=reason, subtotal=reason, tax=reason)
    if total is not None and t is not None and "total" not in problems:
        hit = total[0]
        rivals = sorted({money(v) for h, v, _p in totals
                         if v is not None and v != t and h.weight == hit.weight >= 1.0})
        if _confirmed(total, totals, (), cash, change, None, None):  # paid, or another total
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
MAX_ROUNDING = Decimal("0.50")

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
        if abs(r_value) >= MAX_ROUNDING:
            # Not an adjustment of a few cents: a "rounded" line printing the whole amount
            # ("Total Amt Rounded 104.00"; then 104.00 - 104.00 would make 0.00 the total).
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
    total or a subtotal: that one was paid, so use it ("Nett Total: $1 1.20" misread beside
    "Total Amount: $11.20", CASH $11.20, Change $0.00; no total label, but SUBTOTAL RM53.60,
    CASH RM100.00, CHANGE RM46.40). A line with a rounding word counts as
    a printed total when its amount is within 0.05 of the picked one ("Rounding RM 13.60"
    after "Total RM 13.58"). Only one such value may match; otherwise the pick stays."""
    hit, value = total[0], total[1]
    if value is None:
        return total
    if _confirmed(total, totals, rounding, cash, change, subtotal, tax):
        return total  # already confirmed by the usual checks
    # What was paid, from every cash line: the pick may be the cash line itself (no total
    # label: the largest amount printed with a currency is the cash handed over).
    due = {p - b for _l, p in cash for _m, b in change}
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


def _outvoted_total(total: _Amount, totals: Sequence[_Amount], locale: Locale,
                    rounding: Sequence[tuple[_Line, Decimal]],
                    cash: Sequence[tuple[_Line, Decimal]], change: Sequence[tuple[_Line, Decimal]],
                    subtotal: Decimal | None, tax: Decimal | None) -> _Amount:
    """The total line's amount is confirmed by nothing and differs in one digit from an
    amount paid that subtotal + tax (+ rounding) confirms: two lines outvote the total line's
    misread digit (``AMT PAID INCL GST: RM76.30`` read for 78.30, beside ``PAID BY: CC
    RM78.30``, ``excl. GST RM 73.87`` and ``GST AMT RM4.43``). The amount paid is reported
    from its own line, flagged ``outvoted``; exactly one amount paid may qualify."""
    hit, value = total[0], total[1]
    if value is None or subtotal is None or tax is None or total[2] is not None:
        return total
    if _confirmed(total, totals, rounding, cash, change, subtotal, tax):
        return total
    # An amount paid as printed on one line (card, "PAID BY"): cash - change is printed on
    # no line, so it cannot be reported from one.
    sums = {subtotal + tax + a for a in _adjustments(rounding)}
    found = {v: line for line, v in cash
             if line != hit.line and v in sums and _one_digit_apart(money(v), money(value))}
    if len(found) != 1:
        return total
    v, line = next(iter(found.items()))
    last = _last_amount(line.text, 0)
    with contextlib.suppress(ValueError):
        if last is not None and parse_amount(last[0], locale.decimal) == v:
            return (_Hit(line, hit.weight, *last), v,
                    f"outvoted: the total line reads {money(value)}; the amount paid, "
                    f"{money(v)}, is subtotal {money(subtotal)} + tax {money(tax)}")
    return total


def _one_digit_apart(a: str, b: str) -> bool:
    """Two amounts printed alike but for one digit (an OCR misread: ``76.30``, ``78.30``)."""
    return len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


# An amount that OCR broke with a space: "NET TOTAL 2 2.25" (22.25).
_SPACED_AMOUNT = re.compile(r"(?<![\d.,])(\d{1,3}) (\d{1,3}[.,]\d{2})\s*$")


def _reread_total(total: _Amount, lines: Sequence[_Line], totals: Sequence[_Amount],
                  locale: Locale,
                  disputes: _Disputes, rounding: Sequence[tuple[_Line, Decimal]],
                  cash: Sequence[tuple[_Line, Decimal]], change: Sequence[tuple[_Line, Decimal]],
                  subtotal: _Amount | None, tax: _Amount | None) -> _Amount:
    """The picked total is confirmed by nothing (or could not be read at all), but another
    reading of its amount is: the second OCR engine's, confirmed by that engine's reading of
    the other amounts (``Total 248.015``, which Tesseract reads ``248.05`` beside its
    ``CASH 248.05``), or the amount without a space that OCR put inside it, confirmed by the
    text as read (``NET TOTAL 2 2.25``, ``Cash 22.25``). Confirmed means equal to the amount
    paid, cash - change, subtotal + tax (+ rounding), or the subtotal. Exactly one other
    reading must be confirmed; it is reported, never valid, with the reason ``reread`` (the
    printed text stays in ``source``)."""
    hit, value = total[0], total[1]
    s = subtotal[1] if subtotal else None
    x = tax[1] if tax else None
    if value is not None and _confirmed(total, totals, rounding, cash, change, s, x):
        return total

    def second(line: _Line, printed: str | None = None) -> Decimal | None:
        """The second engine's reading of the amount ``printed`` on ``line`` (by default
        the line's last number): its own where the two disagree on that word's digits, else
        the first reading's; None when neither reads an amount there."""
        if printed is None:
            last = _last_number(line.text, 0)
            printed = last[0] if last else None
        for word, other in disputes.get((line.page, line.number), ()):
            if printed is None or printed in word or word in printed:
                theirs = _last_number(other, 0)
                printed = theirs[0] if theirs else None
                break
        if printed is None:
            return None
        with contextlib.suppress(ValueError):
            return parse_amount(printed, locale.decimal)
        return None

    readings: list[tuple[Decimal, str, bool]] = []  # value, whence, from the second reading
    if (other := second(hit.line, hit.text)) is not None and other != value:
        readings.append((other, "the second OCR reading of the line", True))
    if (m := _SPACED_AMOUNT.search(hit.line.text)) and m.end(2) == hit.end:
        with contextlib.suppress(ValueError):
            readings.append((parse_amount(m[1] + m[2], locale.decimal),
                             f"{m[0].strip()!r} without its space", False))
    if not readings:
        return total
    # The second reading of the cash and change lines, also of those whose first reading
    # holds no amount (``CASH : 248.015``).
    again = [(line, v) for line in lines if _CASH.search(line.view or line.text)
             and (v := second(line)) is not None]
    back = [(line, v) for line in lines if _CHANGE.search(line.view or line.text)
            and (v := second(line)) is not None]
    s2 = second(subtotal[0].line, subtotal[0].text) if subtotal else None
    x2 = second(tax[0].line, tax[0].text) if tax else None
    matched = []
    for v, whence, from_second in readings:
        candidate = (hit, v, None)
        if from_second:
            ok = _confirmed(candidate, (), rounding, again, back, s2, x2) or v == s2
        else:
            ok = _confirmed(candidate, (), rounding, cash, change, s, x) or v == s
        if ok:
            matched.append((v, whence))
    if len(matched) != 1:
        return total
    v, whence = matched[0]
    return hit, v, (f"reread: {hit.line.text[hit.start:hit.end]!r} is {money(v)} in "
                    f"{whence}, which the amounts paid or added up confirm")


def _confirmed(total: _Amount, totals: Sequence[_Amount],
               rounding: Sequence[tuple[_Line, Decimal]],
               cash: Sequence[tuple[_Line, Decimal]], change: Sequence[tuple[_Line, Decimal]],
               subtotal: Decimal | None, tax: Decimal | None) -> bool:
    """Another line confirms the total's amount: the amount paid, cash - change, another
    total line, or subtotal + tax (+ rounding)."""
    hit, value = total[0], total[1]
    paid = {v for line, v in cash if line != hit.line}
    back = {v for line, v in change if line != hit.line}
    return (value in paid or value in {p - b for p in paid for b in back}
            or any(v == value and h.line != hit.line for h, v, _p in totals)
            or (subtotal is not None and tax is not None
                and any(subtotal + tax + a == value for a in _adjustments(rounding))))


def _adjustments(rounding: Sequence[tuple[_Line, Decimal]]) -> list[Decimal]:
    """What a rounding line may add to or take from subtotal + tax: nothing, or its amount."""
    return [Decimal(0)] + [v for _l, v in rounding] + [-v for _l, v in rounding]
