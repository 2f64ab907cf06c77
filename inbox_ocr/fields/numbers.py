"""Amounts as printed: decimal and grouping conventions, never floats."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

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


# A letter that OCR read for a digit between a currency code or sign and the rest of an
# amount: "RMO.02" (0.02), "RMI11.90" (111.90), "$O.50". Only there: a letter elsewhere in a
# number is not repaired.
_LETTER_DIGITS = {"O": "0", "o": "0", "I": "1", "l": "1", "|": "1"}
_CURRENCY_LETTER = re.compile(
    r"(?:(?<![A-Za-z])(?:RM|Rs\.?|EUR|USD|GBP|SGD|MYR|PLN|CHF)|[$€£])[ \t]?"
    r"([OoIl|])(?=\d{0,5}[.,]\d{2}(?!\d))")


def amount_view(text: str) -> str:
    """``text`` with each letter OCR read for a digit right after a currency code or sign
    replaced by that digit (``RMO.02`` -> ``RM0.02``); same length, so spans found in the view
    hold in ``text``. Where the view differs inside a value's span, the value is flagged
    ``letter-for-digit``."""
    return _CURRENCY_LETTER.sub(
        lambda m: m.group(0)[:m.start(1) - m.start()] + _LETTER_DIGITS[m.group(1)], text)
