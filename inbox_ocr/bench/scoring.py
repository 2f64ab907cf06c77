"""OCR quality scoring against SROIE-style ground truth: pure functions, no engine.

The conventions are the maintainers' (``../shared/datasets/README.md``) so figures compare:

- text is compared case-insensitively; words are whitespace tokens;
- word precision / recall / F1 over the *multiset* of words of the whole receipt
  (a word read twice but printed once counts once);
- line CER: each ground-truth line against its closest output line, or two adjacent output
  lines joined by a space; edit distances summed, divided by the summed ground-truth length.
  Runs of whitespace count as one space on both sides (layout spacing is not an error);
- field presence: the key's ``date`` / ``total`` string, whitespace removed, occurs in the
  output with whitespace removed.

``score_page(truth, output)`` scores one receipt; ``Totals`` adds receipts up: word figures are
pooled over all words of all receipts (micro average), line CER over all lines.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Truth:
    """One receipt's ground truth: its text lines and the key fields that must be found."""

    name: str
    lines: tuple[str, ...]
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PageScore:
    """Counts for one receipt; ratios come from ``Totals`` so they pool correctly."""

    matched_words: int
    output_words: int
    truth_words: int
    line_edits: int
    truth_chars: int
    fields_found: dict[str, bool]


def words(text: str) -> Counter[str]:
    return Counter(text.lower().split())


def _norm_line(line: str) -> str:
    return " ".join(line.lower().split())


def edit_distance(a: str, b: str, bound: int | None = None) -> int:
    """Levenshtein distance; stops early and returns ``bound`` once it cannot be below it."""
    if len(a) < len(b):
        a, b = b, a
    if bound is not None and len(a) - len(b) >= bound:
        return bound
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (ca != cb)))
        if bound is not None and min(current) >= bound:
            return bound
        previous = current
    return previous[-1]


def line_edits(truth_line: str, candidates: list[str]) -> int:
    """Edit distance from ``truth_line`` to its closest candidate (at most its own length)."""
    best = len(truth_line)  # matching nothing costs deleting everything
    for candidate in sorted(candidates, key=lambda c: abs(len(c) - len(truth_line))):
        if abs(len(candidate) - len(truth_line)) >= best:
            break
        best = min(best, edit_distance(truth_line, candidate, best))
        if best == 0:
            break
    return best


def output_candidates(text: str) -> list[str]:
    """Each non-empty output line, and each pair of adjacent ones joined by a space."""
    lines = [n for n in (_norm_line(line) for line in text.splitlines()) if n]
    return lines + [f"{a} {b}" for a, b in itertools.pairwise(lines)]


def field_found(value: str, text: str) -> bool:
    needle = "".join(value.lower().split())
    return bool(needle) and needle in "".join(text.lower().split())


def score_page(truth: Truth, output: str) -> PageScore:
    want, got = words(" ".join(truth.lines)), words(output)
    candidates = output_candidates(output)
    truth_lines = [n for n in (_norm_line(line) for line in truth.lines) if n]
    return PageScore(
        matched_words=sum((want & got).values()),
        output_words=sum(got.values()),
        truth_words=sum(want.values()),
        line_edits=sum(line_edits(line, candidates) for line in truth_lines),
        truth_chars=sum(len(line) for line in truth_lines),
        fields_found={name: field_found(value, output) for name, value in truth.fields.items()},
    )


@dataclass
class Totals:
    """Scores of many receipts added up, plus the seconds spent reading them."""

    pages: int = 0
    matched: int = 0
    output: int = 0
    truth: int = 0
    edits: int = 0
    chars: int = 0
    seconds: float = 0.0
    found: Counter[str] = field(default_factory=Counter)
    asked: Counter[str] = field(default_factory=Counter)

    def add(self, score: PageScore, seconds: float = 0.0) -> None:
        self.pages += 1
        self.matched += score.matched_words
        self.output += score.output_words
        self.truth += score.truth_words
        self.edits += score.line_edits
        self.chars += score.truth_chars
        self.seconds += seconds
        for name, found in score.fields_found.items():
            self.asked[name] += 1
            self.found[name] += found

    @property
    def precision(self) -> float:
        return self.matched / self.output if self.output else 0.0

    @property
    def recall(self) -> float:
        return self.matched / self.truth if self.truth else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def cer(self) -> float:
        return self.edits / self.chars if self.chars else 0.0

    def field_rate(self, name: str) -> float:
        return self.found[name] / self.asked[name] if self.asked[name] else 0.0

    @property
    def seconds_per_page(self) -> float:
        return self.seconds / self.pages if self.pages else 0.0


FIELDS = ("date", "total")


def read_sroie(dataset: Path, limit: int | None = None) -> Iterator[tuple[Path, Truth]]:
    """``(image path, truth)`` for each receipt of a SROIE-style folder, in name order.

    ``img/NNN.jpg``, ``box/NNN.csv`` (8 corner coordinates, then the line's transcript, which
    may itself contain commas) and ``key/NNN.json`` (``date``, ``total``, ...). Receipts
    without a box file are skipped; a missing key file means no fields are checked.
    """
    images = sorted(p for p in (dataset / "img").iterdir()
                    if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".tif", ".tiff"})
    count = 0
    for image in images:
        box = dataset / "box" / f"{image.stem}.csv"
        if not box.is_file():
            continue
        lines = []
        for row in box.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = row.split(",", 8)
            if len(parts) == 9 and parts[8].strip():
                lines.append(parts[8].strip())
        key = dataset / "key" / f"{image.stem}.json"
        fields: dict[str, str] = {}
        if key.is_file():
            data = json.loads(key.read_text(encoding="utf-8", errors="replace"))
            fields = {name: str(data[name]) for name in FIELDS if data.get(name)}
        yield image, Truth(image.stem, tuple(lines), fields)
        count += 1
        if limit is not None and count >= limit:
            return
