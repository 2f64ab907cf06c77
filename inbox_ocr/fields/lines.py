"""Lines of text with their OCR confidences, and labels seen through OCR noise."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from inbox_ocr.fields.model import Box, PageInput


@dataclass(frozen=True)
class _Line:
    page: int
    number: int  # 1-based within its page
    text: str
    confidences: tuple[float | None, ...]  # one per whitespace token, or () when unknown
    view: str = ""  # ``text`` with OCR-damaged label words repaired, same length (labels only)
    boxes: tuple[Box | None, ...] = ()  # one per whitespace token, or () when unknown

    def boxed_tokens(self) -> list[tuple[re.Match[str], Box]]:
        """The whitespace tokens of ``text`` whose box is known, with their boxes."""
        return [(token, box) for token, box in zip(re.finditer(r"\S+", self.text), self.boxes,
                                                   strict=False) if box is not None]

    def span_box(self, start: int, end: int) -> tuple[int, int] | None:
        """The horizontal extent (x0, x1) of the tokens overlapping text[start:end]."""
        xs = [box for token, box in self.boxed_tokens()
              if token.start() < end and token.end() > start]
        if not xs:
            return None
        return min(b[0] for b in xs), max(b[2] for b in xs)

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
        aligned = len(page.words) == tokens
        confs = [w[1] for w in page.words] if aligned else []
        boxes = [w[2] if len(w) > 2 else None for w in page.words] if aligned else []
        if not any(boxes):
            boxes = []
        k = 0
        for number, text in enumerate(texts, 1):
            n = len(text.split())
            out.append(_Line(page.number, number, text, tuple(confs[k:k + n]) if confs else (),
                             label_view(text), tuple(boxes[k:k + n]) if boxes else ()))
            k += n
    return out


_Word = tuple[str, float | None, Box | None]


def align_words(raw_text: str, text: str, words: Sequence[_Word]) -> tuple[_Word, ...]:
    """The OCR engine's ``words`` (one per whitespace token of ``raw_text``, in order) as
    words of the corrected ``text``, one per its tokens: where the corrector split a token
    (``Numero.de`` -> ``Numero de``) or joined two, each new token takes the confidence of the
    words it came from (the lowest) and their box: a split word's box cut in proportion to
    the characters, joined words' boxes merged. Lines are matched one to one; when the line or
    word counts do not fit, ``words`` are returned as they are (the extractor then treats
    confidences and positions as unknown)."""
    raw_lines, lines = raw_text.split("\n"), text.split("\n")
    if (len(raw_lines) != len(lines)
            or sum(len(line.split()) for line in raw_lines) != len(words)):
        return tuple(words)
    out: list[_Word] = []
    k = 0
    for raw, new in zip(raw_lines, lines, strict=True):
        raw_tokens = list(re.finditer(r"\S+", raw))
        mine = words[k:k + len(raw_tokens)]
        k += len(raw_tokens)
        new_tokens = list(re.finditer(r"\S+", new))
        if len(new_tokens) == len(raw_tokens):
            out.extend((t.group(0), w[1], w[2]) for t, w in zip(new_tokens, mine, strict=True))
            continue
        where = _char_map(raw, new)
        for token in new_tokens:
            chars = [c for i in range(token.start(), token.end()) if (c := where[i]) is not None]
            out.append(_carried(token.group(0), chars, raw_tokens, mine))
    return tuple(out)


def _char_map(raw: str, new: str) -> list[int | None]:
    """For each character of ``new``, the position of the same character in ``raw`` (None
    for one the corrector put in)."""
    where: list[int | None] = [None] * len(new)
    for a, b, size in SequenceMatcher(None, raw, new, autojunk=False).get_matching_blocks():
        for i in range(size):
            where[b + i] = a + i
    return where


def _carried(token: str, chars: list[int], raw_tokens: list[re.Match[str]],
             words: Sequence[_Word]) -> _Word:
    """A corrected token with the confidence and box of the raw words its characters
    (``chars``, positions in the raw line) came from."""
    sources = [(i, t) for i, t in enumerate(raw_tokens)
               if any(t.start() <= c < t.end() for c in chars)]
    if not sources:
        return (token, None, None)
    confs = [c for i, _t in sources if (c := words[i][1]) is not None]
    boxes = [(b, t) for i, t in sources if (b := words[i][2]) is not None]
    box: Box | None = None
    if len(sources) == 1 and boxes:
        (x0, y0, x1, y1), t = boxes[0]
        width, span = x1 - x0, max(1, len(t.group(0)))
        lo, hi = min(chars) - t.start(), max(chars) - t.start() + 1  # all inside t
        box = (x0 + width * lo // span, y0, x0 + width * hi // span, y1)
    elif boxes:
        box = (min(b[0] for b, _t in boxes), min(b[1] for b, _t in boxes),
               max(b[2] for b, _t in boxes), max(b[3] for b, _t in boxes))
    return (token, min(confs) if confs else None, box)


def column_below(lines: Sequence[_Line], line: _Line, start: int, end: int,
                 depth: int = 2) -> tuple[_Line, int, int] | None:
    """What is printed under text[start:end] of ``line`` (a label heading a column): on one
    of the next ``depth`` lines of the page, the tokens whose boxes overlap the label's
    horizontal extent, as ``(that line, start, end)`` in its text. None when the words' boxes
    are unknown or nothing sits under the label."""
    label = line.span_box(start, end)
    if label is None:
        return None
    x0, x1 = label
    for below in lines:
        if below.page != line.page or not 0 < below.number - line.number <= depth:
            continue
        tokens = [(token, box) for token, box in below.boxed_tokens()
                  if box[0] < x1 and box[2] > x0]
        if tokens:
            return below, tokens[0][0].start(), tokens[-1][0].end()
    return None


# Label words long enough that one misread character cannot make another word of them.
_LABEL_WORDS = frozenset({
    "total", "subtotal", "amount", "invoice", "receipt", "rounding", "change", "balance",
    "payable", "facture", "montant", "rechnung", "rechnungsnummer", "rechnungsdatum",
    "rechnungsbetrag", "gesamtbetrag", "nettobetrag", "zwischensumme", "endbetrag", "faktura",
    "razem", "jumlah", "tarikh", "tunai", "cukai", "invois",
    # Polish: "faktury" must not become "faktura"; RapidOCR reads "ł" as "t" ("zaptaty").
    "faktury", "zapłaty", "płatności", "wystawienia",
    # Dutch, Spanish, Italian, Portuguese: also keeps "fattura" from being "repaired" into the
    # Polish "faktura", one letter away.
    "factuur", "factuurnummer", "factuurdatum", "vervaldatum", "totaal", "subtotaal",
    "factura", "importe", "fattura", "totale", "importo", "imponibile", "fatura",
})


# A misread vowel for a vowel ("Totel") cannot make another label word of a short one either.
_VOWELS = frozenset("aeou")


# What OCR glues to the end of a word from nothing (a mark, an edge): "Numero de facturai".
_JUNK_END = frozenset("il1|!")
# A dot OCR read for the space between two words: "Numer.faktury", "Numero.de factura".
_DOT_FOR_SPACE = re.compile(r"(?<=[^\W\d_]{2})\.(?=[^\W\d_]{2})")


def label_view(text: str) -> str:
    """``text`` with each word that is one misread character away from a label word
    (``Gesamibetrag``, ``Tota2``) replaced by that word, a label word of six letters or more
    with a stray ``i``, ``l`` or ``1`` glued to its end read without it (``facturai``), and a
    dot between two words read as the space it was (``Numer.faktury``); same length, so spans
    found in the view hold in ``text``. Used to find labels only: values are always read from
    ``text``."""
    def repair(m: re.Match[str]) -> str:
        word = m.group(0)
        lowered = word.lower()
        if len(word) < 5 or lowered in _LABEL_WORDS:
            return word
        if len(word) > 6 and lowered[-1] in _JUNK_END and lowered[:-1] in _LABEL_WORDS:
            return lowered[:-1] + " "
        for label in _LABEL_WORDS:
            if len(label) != len(word):
                continue
            diff = [i for i, (a, b) in enumerate(zip(lowered, label, strict=True)) if a != b]
            if len(diff) != 1:
                continue
            bad, good = lowered[diff[0]], label[diff[0]]
            if (len(word) > 5 or not bad.isalpha() or bad in "iltj"
                    or (bad in _VOWELS and good in _VOWELS)):  # "Totel"
                return label
        return word
    return re.sub(r"[^\s:;.,|()]+", repair, _DOT_FOR_SPACE.sub(" ", text))
