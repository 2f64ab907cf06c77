"""The correction stage: its protocol, the pass-through, and the confusion corrector.

``ConfusionCorrector`` corrects only OCR confusions that a language model is sure of; it runs
inside the model process (``inbox_ocr.correct.process``), next to the llama.cpp model that scores
its candidates. The daemon itself talks to that process through
``inbox_ocr.correct.process.SupervisedCorrector``; ``PassThroughCorrector`` is used with
``llm.enabled = false``. All of them keep the text unchanged rather than guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container
from typing import Protocol

from inbox_ocr.correct.confusion import find_suspects, replace
from inbox_ocr.records import Correction, PageCorrection


class Corrector(Protocol):
    """Corrects one page of OCR text.

    Lifecycle: ``load`` once at start-up, before READY (raises ConfigError/StartupError);
    ``correct`` for one page at a time, called on one worker thread; ``close`` once at
    shutdown. ``correct`` never raises: when it cannot decide it returns the text unchanged,
    with a status that says why (``PageCorrection``).
    """

    name: str

    def load(self) -> None: ...

    def correct(self, page: int, text: str) -> PageCorrection: ...

    def close(self) -> None: ...


class PassThroughCorrector:
    """Returns the OCR text as it is. Used when ``llm.enabled = false``."""

    name = "none"

    def load(self) -> None:
        return None

    def correct(self, page: int, text: str) -> PageCorrection:
        return PageCorrection(text, (), "off")

    def close(self) -> None:
        return None


class Scorer(Protocol):
    """Log-likelihood of a line of text under a language model (higher is more plausible)."""

    def score(self, text: str) -> float: ...


class ConfusionCorrector:
    """Fixes OCR confusions that a language model finds clearly more plausible.

    For each line, the suspicious tokens (``inbox_ocr.correct.confusion``) are tried one at a time: each
    alternative is scored in its line context, and the best one replaces the token only when it
    beats the line as read by at least ``margin`` nats. Well-formed numbers, amounts, dates and
    identifiers are never candidates. Runs on one thread (in the model process).
    """

    def __init__(self, scorer: Scorer, margin: float, name: str,
                 time_limit: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 known: Container[str] | None = None) -> None:
        self._scorer = scorer
        self._known = known
        self._margin = margin
        self.name = name
        self._time_limit = time_limit
        self._clock = clock

    def correct_line(self, page: int, number: int, line: str) -> tuple[str, list[Correction]]:
        corrections: list[Correction] = []
        suspects = find_suspects(line, self._known)
        if not suspects:
            return line, corrections
        baseline = self._scorer.score(line)
        # Right to left, so earlier suspects keep their offsets after a replacement.
        for suspect in reversed(suspects):
            scored = [(self._scorer.score(replace(line, suspect, alt)), alt)
                      for alt in suspect.alternatives]
            best_score, best = max(scored)
            margin = best_score - baseline
            if margin >= self._margin:
                line = replace(line, suspect, best)
                baseline = best_score
                corrections.append(Correction(page, number, suspect.token, best,
                                              round(margin, 2), f"ocr-confusion:{suspect.kind}"))
        corrections.reverse()
        return line, corrections

    def correct(self, page: int, text: str) -> PageCorrection:
        """Correct line by line; past ``time_limit`` seconds the rest of the page stays raw
        (status ``corrector_cut_short``)."""
        lines = text.split("\n")
        found: list[Correction] = []
        deadline = None if self._time_limit is None else self._clock() + self._time_limit
        for index, line in enumerate(lines):
            if deadline is not None and self._clock() >= deadline:
                return PageCorrection(
                    "\n".join(lines), tuple(found), "corrector_cut_short",
                    f"correction stopped after {self._time_limit:g} s "
                    f"(limits.llm_seconds_per_page) at line {index + 1} of {len(lines)}; "
                    "the rest of the page is raw OCR text")
            lines[index], corrections = self.correct_line(page, index + 1, line)
            found.extend(corrections)
        return PageCorrection("\n".join(lines), tuple(found))

