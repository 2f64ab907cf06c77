"""Benchmarks that print figures (never pass/fail): ``inbox-ocr bench correct`` and
``inbox-ocr bench quality``.

``bench quality`` reads a SROIE-style folder through the product's own path (``open_pages``,
then the engine with its page preparation) for each engine setting and prints word precision,
recall, F1, line CER, date/total presence (``inbox_ocr.bench.scoring`` conventions) and seconds per
page (split + preparation + OCR, one engine, one page at a time). With ``--corrector`` it also
runs the configured LLM corrector on each page's raw text and prints raw vs corrected word F1.

``bench correct`` takes clean receipt text (SROIE ground-truth lines), injects OCR confusions
into it with a fixed seed, runs the configured corrector and prints:
- fixed: share of injected errors restored exactly;
- false corrections: share of clean tokens changed;
- numeric tokens changed: clean well-formed numbers/dates/amounts changed (must be 0);
- lines per second, with the baseline (no corrector) measured in the same run.
"""

from __future__ import annotations

import itertools
import os
import random
import re
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from inbox_ocr.bench.scoring import FIELDS, Totals, Truth, read_sroie, score_page, words
from inbox_ocr.config import LlmSettings, Settings, load_settings
from inbox_ocr.correct.confusion import is_well_formed_value
from inbox_ocr.correct.corrector import Corrector, PassThroughCorrector
from inbox_ocr.correct.process import SupervisedCorrector, make_corrector
from inbox_ocr.document import engine_factory_for, read_document
from inbox_ocr.intake.documents import make_document
from inbox_ocr.records import Correction, PageText

# Letter -> digit in words, digit -> letter in numbers: what OCR engines do.
WORD_NOISE = {"o": "0", "O": "0", "l": "1", "I": "1", "s": "5", "S": "5", "B": "8", "Z": "2"}
NUMBER_NOISE = {"0": "O", "1": "l", "5": "S", "8": "B"}


@dataclass
class Noisy:
    clean: list[str]
    noisy: list[str]
    injected: set[int]  # token indexes that were changed


def read_sroie_lines(dataset: Path, limit: int) -> list[str]:
    lines: list[str] = []
    for csv in sorted((dataset / "box").glob("*.csv"))[:limit]:
        for row in csv.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = row.split(",", 8)
            if len(parts) == 9 and parts[8].strip():
                lines.append(" ".join(parts[8].split()))
    return lines


def inject(line: str, rng: random.Random, rate: float) -> Noisy:
    """Corrupt about ``rate`` of the tokens with one OCR confusion each."""
    clean = line.split(" ")
    noisy = list(clean)
    injected: set[int] = set()
    for i, token in enumerate(clean):
        if rng.random() >= rate:
            continue
        numeric = is_well_formed_value(token.strip(",:;")) and any(c in "." for c in token)
        table = NUMBER_NOISE if numeric else WORD_NOISE
        letters = sum(c.isalpha() for c in token)
        if not numeric and (letters < 4 or letters != len(token.strip(".,:;"))):
            continue  # corrupt real words only, as OCR does most visibly
        spots = [j for j, c in enumerate(token) if c in table]
        if not spots:
            continue
        j = rng.choice(spots)
        noisy[i] = token[:j] + table[token[j]] + token[j + 1:]
        injected.add(i)
    return Noisy(clean, noisy, injected)


def bench_correct(dataset: Path, limit: int, rate: float, seed: int, settings: LlmSettings) -> str:
    rng = random.Random(seed)
    corpus = [inject(line, rng, rate) for line in read_sroie_lines(dataset, limit)]
    corrector = SupervisedCorrector(settings)
    t0 = time.perf_counter()
    corrector.load()
    load_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    for sample in corpus:
        " ".join(sample.noisy).split(" ")  # baseline: the pass-through does nothing more
    base_s = time.perf_counter() - t0

    fixed = injected = clean_total = clean_changed = numeric_changed = 0
    t0 = time.perf_counter()
    for sample in corpus:
        out = corrector.correct(1, " ".join(sample.noisy)).text
        tokens = out.split(" ")
        if len(tokens) != len(sample.clean):
            tokens = (tokens + [""] * len(sample.clean))[: len(sample.clean)]
        for i, (want, got, was) in enumerate(zip(sample.clean, tokens, sample.noisy, strict=True)):
            if i in sample.injected:
                injected += 1
                fixed += got == want
            else:
                clean_total += 1
                if got != was:
                    clean_changed += 1
                    numeric_changed += is_well_formed_value(was.strip(",:;"))
    llm_s = time.perf_counter() - t0
    corrector.close()
    lines = len(corpus)
    return "\n".join([
        f"bench correct: {lines} lines from {dataset} (limit {limit} receipts), "
        f"confusion rate {rate}, seed {seed}, model {corrector.name}, margin {settings.margin}",
        f"  model load            {load_s:.2f} s",
        f"  injected errors fixed {fixed}/{injected} = {fixed / max(1, injected):.1%}",
        f"  clean tokens changed  {clean_changed}/{clean_total} = "
        f"{clean_changed / max(1, clean_total):.2%}",
        f"  numeric tokens changed {numeric_changed}",
        f"  lines per second      {lines / max(llm_s, 1e-9):.1f} with the corrector, "
        f"{lines / max(base_s, 1e-9):.0f} without (baseline, same run)",
    ])


def setting_environ(spec: str) -> dict[str, str]:
    """``"rapidocr,upscale_dpi=300"`` -> ``[ocr]`` overrides, validated by the config loader."""
    name, *pairs = [part.strip() for part in spec.split(",")]
    env = {"INBOX_OCR_OCR_ENGINE": name}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            from inbox_ocr.errors import ConfigError

            raise ConfigError(f"--engine {spec}", f"expected key=value after the engine, got {pair!r}")
        env[f"INBOX_OCR_OCR_{key.strip().upper()}"] = value.strip()
    return env


@dataclass
class QualityRow:
    spec: str
    raw: Totals
    corrected: Totals | None = None
    fused: Totals | None = None  # the raw text with only the second-reading corrections
    corrections: int = 0
    # correction reason -> {"fixed", "broken", "numeric broken", "neither"} -> count
    classes: dict[str, Counter[str]] = field(default_factory=dict)
    correct_seconds: float = 0.0
    truncated: int = 0  # pages the engine cut short (Aspose evaluation mode)


def turned_copies(truths: list[tuple[Path, Truth]], degrees: int, folder: Path
                  ) -> list[tuple[Path, Truth]]:
    """The receipts turned ``degrees`` counter-clockwise (PNG copies in ``folder``), as a
    scanner fed sideways or upside down would deliver them."""
    if not degrees:
        return truths
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for image, truth in truths:
        target = folder / f"{image.stem}-{degrees}.png"
        with Image.open(image) as page:
            page.rotate(degrees, expand=True).save(target)
        out.append((target, truth))
    return out


def bench_quality(dataset: Path, specs: list[str], limit: int | None, config: Path | None,
                  corrector: bool, rotations: list[int] | None = None) -> str:
    """Score each engine setting on the dataset; returns the printed report (markdown table).

    Each receipt goes through the daemon's own document path (``inbox_ocr.document``), with
    the corrector the config asks for when ``corrector`` is true, else the pass-through.
    ``rotations``: also read the receipts turned by these degrees (one row each)."""
    upright = list(read_sroie(dataset, limit))
    scratch_dir = Path(tempfile.mkdtemp(prefix="inbox-ocr-quality-"))
    try:
        return _bench_quality(dataset, specs, config, corrector, upright,
                              [(degrees, turned_copies(upright, degrees, scratch_dir))
                               for degrees in rotations or [0]])
    finally:
        shutil.rmtree(scratch_dir, ignore_errors=True)


def tally_classes(classes: dict[str, Counter[str]], truth: Truth,
                  pages: list[PageText]) -> None:
    """Count each correction against the receipt's true words: "fixed" (the new token is a
    true word, the old one was not), "broken" (the reverse; "numeric broken" when the old
    token had a digit), or "neither"."""
    want = words(" ".join(truth.lines))
    for page in pages:
        for c in page.corrections:
            before, after = c.before.lower() in want, c.after.lower() in want
            outcome = ("fixed" if after and not before else
                       ("numeric broken" if any(ch.isdigit() for ch in c.before) else "broken")
                       if before and not after else "neither")
            classes.setdefault(c.reason, Counter())[outcome] += 1


SECOND_READING = "second-reading"


def replayed(raw: str, corrections: tuple[Correction, ...], reason: str) -> str:
    """``raw`` with only the corrections of ``reason`` (and of its kinds, such as
    ``second-reading:regrouped``) made again, each at the first place its line still holds
    the word it replaced (what the text would be with that class alone)."""
    lines = raw.split("\n")
    for c in corrections:
        if (c.reason == reason or c.reason.startswith(reason + ":")) and 0 < c.line <= len(lines):
            line = lines[c.line - 1]
            found = re.search(rf"(?<![^\W_]){re.escape(c.before)}(?![^\W_])", line)
            if found:
                lines[c.line - 1] = line[:found.start()] + c.after + line[found.end():]
    return "\n".join(lines)


def _bench_quality(dataset: Path, specs: list[str], config: Path | None, corrector: bool,
                   upright: list[tuple[Path, Truth]],
                   sets: list[tuple[int, list[tuple[Path, Truth]]]]) -> str:
    # As in the daemon's OCR workers: OpenMP threads only slow Tesseract on small images.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    base = load_settings(config, {}, check_paths=False)
    fixer: Corrector = make_corrector(base) if corrector else PassThroughCorrector()
    fixer.load()
    rows: list[QualityRow] = []
    try:
        for spec, (degrees, truths) in itertools.product(specs or [base.ocr.engine], sets):
            settings: Settings = load_settings(config, setting_environ(spec), check_paths=False)
            engine = engine_factory_for(settings, workers=1)()
            label = f"{spec}, pages turned {degrees}" if degrees else spec
            row = QualityRow(label, Totals(), Totals() if corrector else None,
                             Totals() if corrector else None)
            try:
                for image, truth in truths:
                    t0 = time.perf_counter()
                    st = image.stat()
                    document = make_document(image, st.st_size, st.st_mtime_ns, time.time())
                    pages = read_document(document, settings, engine, fixer,
                                          with_fields=False).pages
                    correct_s = sum(p.timings.get("correct", 0.0) for p in pages)
                    row.truncated += sum(p.evaluation_truncated for p in pages)
                    row.raw.add(score_page(truth, "\f".join(p.raw_text for p in pages)),
                                time.perf_counter() - t0 - correct_s)
                    if row.corrected is not None:
                        row.correct_seconds += correct_s
                        row.corrections += sum(len(p.corrections) for p in pages)
                        tally_classes(row.classes, truth, pages)
                        row.corrected.add(score_page(truth, "\f".join(p.text for p in pages)))
                        assert row.fused is not None
                        row.fused.add(score_page(truth, "\f".join(
                            replayed(p.raw_text, p.corrections, SECOND_READING) for p in pages)))
            finally:
                engine.close()
            rows.append(row)
    finally:
        fixer.close()
    return format_quality(dataset, len(upright), rows, fixer.name if corrector else None)


def format_quality(dataset: Path, pages: int, rows: list[QualityRow], model: str | None) -> str:
    out = [
        f"bench quality: {pages} receipts from {dataset}",
        "",
        "| engine, settings | word P | word R | word F1 | line CER | "
        + " | ".join(FIELDS) + " | s/page | truncated |",
        "| --- | --- | --- | --- | --- | " + " | ".join("---" for _ in FIELDS) + " | --- | --- |",
    ]
    for row in rows:
        t = row.raw
        fields = " | ".join(f"{t.field_rate(name):.1%}" for name in FIELDS)
        out.append(f"| {row.spec} | {t.precision:.3f} | {t.recall:.3f} | {t.f1:.3f} | "
                   f"{t.cer:.3f} | {fields} | {t.seconds_per_page:.2f} | {row.truncated} |")
    if model is not None:
        out += ["", f"Corrector {model}: raw vs corrected text of the same OCR output "
                "(fused: the raw text with only the words the model took from the second "
                "reading)", "",
                "| engine, settings | raw word F1 | fused word F1 | corrected word F1 | change "
                "| raw line CER | corrected line CER | corrections | OCR s/page | "
                "corrector s/page |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            if row.corrected is None or row.fused is None:
                continue
            delta = row.corrected.f1 - row.raw.f1
            out.append(f"| {row.spec} | {row.raw.f1:.4f} | {row.fused.f1:.4f} | "
                       f"{row.corrected.f1:.4f} | {delta:+.4f} | {row.raw.cer:.4f} | "
                       f"{row.corrected.cer:.4f} | {row.corrections} | "
                       f"{row.raw.seconds_per_page:.2f} | "
                       f"{row.correct_seconds / max(1, row.raw.pages):.2f} |")
        out += ["", "| engine, settings | correction class | fixed | broken | numeric broken "
                "| neither |", "| --- | --- | --- | --- | --- | --- |"]
        for row in rows:
            for reason, counts in sorted(row.classes.items()):
                out.append(f"| {row.spec} | {reason} | {counts['fixed']} | {counts['broken']} "
                           f"| {counts['numeric broken']} | {counts['neither']} |")
    return "\n".join(out)
