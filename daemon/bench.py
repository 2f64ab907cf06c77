"""Benchmarks that print figures (never pass/fail): ``inbox-ocr bench correct``.

``bench correct`` takes clean receipt text (SROIE ground-truth lines), injects OCR confusions
into it with a fixed seed, runs the configured corrector and prints:
- fixed: share of injected errors restored exactly;
- false corrections: share of clean tokens changed;
- numeric tokens changed: clean well-formed numbers/dates/amounts changed (must be 0);
- lines per second, with the baseline (no corrector) measured in the same run.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from daemon.config import LlmSettings
from daemon.confusion import is_well_formed_value
from daemon.corrector import LlmCorrector

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
    corrector = LlmCorrector(settings)
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
        out, _ = corrector.correct(1, " ".join(sample.noisy))
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
