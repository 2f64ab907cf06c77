"""IBANs, VAT and tax numbers, checked by their checksums."""

from __future__ import annotations

import re
from typing import Any

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
