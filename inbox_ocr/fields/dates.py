"""Dates as printed, in the supported languages' formats and month names."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from inbox_ocr.fields.lines import _Line

_MONTHS: dict[str, int] = {}
for _n, _names in enumerate([
    "january jan januar jänner janvier janv januari stycznia styczeń styczen enero ene gennaio janeiro",
    "february feb februar février fevrier févr fevr februari lutego luty febrero febbraio fevereiro fev",
    "march mar märz maerz marz mars mac marca marzec maart mrt marzo março marco",
    "april apr avril avr kwietnia kwiecień kwiecien abril abr aprile",
    "may mai mei maja maj mayo maggio maio",
    "june jun juni juin czerwca czerwiec junio giugno giu junho",
    "july jul juli juillet juil julai lipca lipiec julio luglio lug julho",
    "august aug août aout ogos ogo sierpnia sierpień sierpien augustus agosto ago",
    "september sep sept septembre września wrzesnia "
    "wrzesień wrzesien septiembre setiembre settembre setembro",
    "october oct okt oktober octobre października "
    "pazdziernika październik pazdziernik octubre ottobre ott outubro",
    "november nov novembre listopada listopad noviembre novembro",
    "december dec dez dezember décembre decembre déc "
    "disember grudnia grudzień grudzien diciembre dic dicembre dezembro",
], 1):
    for _name in _names.split():
        _MONTHS[_name] = _n
# Month names as OCR reads them with a zero for the O ("10 0CT 2017").
_MONTHS.update({"0ct": 10, "0ctober": 10, "0kt": 10, "0ktober": 10, "n0v": 11,
                "n0vember": 11})
_MONTH = "|".join(sorted(map(re.escape, _MONTHS), key=len, reverse=True))

_DATE_RES = [
    ("ymd", re.compile(r"(?<!\d)(\d{4})([-/.])(\d{1,2})\2(\d{1,2})(?!\d)")),
    ("num", re.compile(r"(?<![\d.])(\d{1,2})([-/.])(\d{1,2})\2(\d{4}|\d{2})(?!\d)")),
    # "5 de marzo de 2024" (Spanish, Portuguese) as well as "5 March 2024", "5-Mar-24".
    ("dmy", re.compile(rf"(?<![\w])(\d{{1,2}})\.?(?:st|nd|rd|th|er)?[\s\-/]*(?:de\s+)?"
                       rf"({_MONTH})\.?[\s\-/,]*(?:de\s+)?"
                       # the year, or a year that OCR ran into the time ("29 Mar 201818:19")
                       r"(\d{4}(?=\d{1,2}:\d{2})|\d{4}(?!\d)|\d{2}(?!\d))",
                       re.IGNORECASE)),
    ("mdy", re.compile(rf"(?<![\w])({_MONTH})\.?\s+(\d{{1,2}})(?!\d)(?:st|nd|rd|th)?\s*,?\s*"
                       r"(\d{4})(?!\d)", re.IGNORECASE)),
    # "05 02-18": OCR read one separator as a space. Two-digit day and month, a dash or a
    # slash for the other separator (a dot would make "02 10.50" an amount a date), and no
    # digit, time or amount around it; never valid (``spaced-date``).
    ("spaced", re.compile(r"(?<![\d.,:/-])(\d{2}) (\d{2})([-/])(\d{4}|\d{2})(?![\d:.,/-])"
                          r"|(?<![\d.,:/-])(\d{2})([-/])(\d{2}) (\d{4})(?![\d:.,/-])")),
    # "03:07.2024": OCR read one separator as a colon, semicolon or comma. A four-digit year
    # only ("11:14.00" is a time); never valid (``misread-separator``).
    ("misread", re.compile(r"(?<![\d.,:;/-])(\d{1,2})[:;,](\d{1,2})([-/.])(\d{4})(?![\d:.,/-])"
                           r"|(?<![\d.,:;/-])(\d{1,2})([-/.])(\d{1,2})[:;,](\d{4})(?![\d:.,/-])")),
    # "03/0.1/2024", "09/12/2.024": OCR put a dot inside one of the numbers of a date whose
    # separators are slashes or dashes; never valid (``stray-mark``).
    ("stray", re.compile(r"(?<![\w.,:/-])(\d[\d.]*)([/-])(\d[\d.]*)\2(\d[\d.]*\d)"
                         r"(?![\w:,/-]|\.\d)")),
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


# Two digits after a two-digit year "19"/"20", not followed by a digit or a time's colon.
_SPLIT_YEAR = re.compile(r" (\d{2})(?![\d:.,])")


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
                elif kind in ("spaced", "misread"):
                    value, problem = _spaced(m, text, day_first, today, kind)
                elif kind == "stray":
                    value, problem = _stray(m, text, day_first, today)
                else:
                    a, b = int(m[1]), int(m[3])
                    value = _day_month(a, b, _year(m[4], today), day_first)
                    if value is None:
                        problem = (f"ambiguous-date: {text} is {_either(a, b)} and the "
                                   "document does not say which")
            except ValueError:
                continue  # 31/02/2024 and the like are not dates
            end = m.end()
            split = _SPLIT_YEAR.match(line, end)
            if (value is not None and kind == "num" and len(m[4]) == 2
                    and m[4] in ("19", "20") and split is not None):
                # "25/12/20 18": OCR put a space inside the year; "25/12/20 18:30" is a time.
                year = int(m[4] + split[1])
                try:
                    value = value.replace(year=year)
                except ValueError:
                    continue
                end, text = split.end(), line[m.start():split.end()]
                problem = (f"split-year: read '{text}' with the year {year}; the space inside "
                           "it may hide a misread")
            taken.append((m.start(), end))
            found.append(DateReading(value, text, m.start(), end, problem))
    return sorted(found, key=lambda d: d.start)


def _spaced(m: re.Match[str], text: str, day_first: bool | None, today: date,
            kind: str = "spaced") -> tuple[date | None, str | None]:
    """A numeric date with a space (``_DATE_RES``' "spaced") or a colon, semicolon or comma
    ("misread") for one of its separators: its value (None when the order is unknown) and a
    problem that always starts ``spaced-date`` or ``misread-separator``. Raises ValueError
    when it is no date."""
    a, b, printed = (int(m[1]), int(m[2]), m[4]) if m[1] else (int(m[5]), int(m[7]), m[8])
    value = _day_month(a, b, _year(printed, today), day_first)
    said = (f"spaced-date: read '{text}' with a space for one of its separators"
            if kind == "spaced" else
            f"misread-separator: read '{text}' with {_MARK_NAMES[_odd_mark(text)]} for one of "
            "its separators")
    if value is None:
        return None, f"{said}, and it is {_either(a, b)}: the document does not say which"
    return value, f"{said}; it may be no date"


def _stray(m: re.Match[str], text: str, day_first: bool | None, today: date,
           ) -> tuple[date | None, str]:
    """A slash or dash date with a dot OCR put inside one of its numbers (``_DATE_RES``'
    "stray"): its value without the dots (None when the order is unknown) and a problem that
    starts ``stray-mark``. Raises ValueError when it is no date."""
    a, b, year = (m[i].replace(".", "") for i in (1, 3, 4))
    if "." not in text or not (len(a) <= 2 and len(b) <= 2 and len(year) in (2, 4)):
        raise ValueError(text)
    value = _day_month(int(a), int(b), _year(year, today), day_first)
    said = f"stray-mark: read '{text}' with a dot inside one of its numbers"
    if value is None:
        return None, (f"{said}, and it is {_either(int(a), int(b))}: the document does not "
                      "say which")
    return value, said


_MARK_NAMES = {":": "a colon", ";": "a semicolon", ",": "a comma"}


def _odd_mark(text: str) -> str:
    return next(c for c in text if c in _MARK_NAMES)


def _day_month(a: int, b: int, year: int, day_first: bool | None) -> date | None:
    """The date of a numeric ``a``/``b``/``year``: the order is certain where one of them
    is over 12 (or both are the same), else ``day_first`` says; None when it cannot.
    Raises ValueError when it is no date."""
    if a > 12 >= b or a == b:
        return date(year, b, a)
    if b > 12 >= a:
        return date(year, a, b)
    if day_first is None:
        return None
    return date(year, b, a) if day_first else date(year, a, b)


def _either(a: int, b: int) -> str:
    return f"{a} {_month_name(b)} or {b} {_month_name(a)}"


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
