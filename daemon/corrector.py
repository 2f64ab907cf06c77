"""The correction stage: its protocol, the pass-through, and the model-backed corrector.

``LlmCorrector`` holds one resident GGUF model (llama.cpp) and corrects only OCR confusions it
is sure of (``ConfusionCorrector``); ``PassThroughCorrector`` is used with ``llm.enabled =
false``. Both keep the text unchanged rather than guess.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from daemon import audit
from daemon.config import LlmSettings
from daemon.confusion import find_suspects, replace
from daemon.model import Hub, LlamaScorer, resolve_model
from daemon.records import Correction

log = audit.get_logger()


class Corrector(Protocol):
    """Corrects one page of OCR text.

    Lifecycle: ``load`` once at start-up, before READY (raises StartupError); ``correct``
    for one page at a time, called on a worker thread; ``close`` once at shutdown.
    ``correct`` must return the text unchanged rather than raise when it cannot decide.
    """

    name: str

    def load(self) -> None: ...

    def correct(self, page: int, text: str) -> tuple[str, tuple[Correction, ...]]: ...

    def close(self) -> None: ...


class PassThroughCorrector:
    """Returns the OCR text as it is. Used when ``llm.enabled = false``."""

    name = "none"

    def load(self) -> None:
        return None

    def correct(self, page: int, text: str) -> tuple[str, tuple[Correction, ...]]:
        return text, ()

    def close(self) -> None:
        return None


class Scorer(Protocol):
    """Log-likelihood of a line of text under a language model (higher is more plausible)."""

    def score(self, text: str) -> float: ...


class ConfusionCorrector:
    """Fixes OCR confusions that a language model finds clearly more plausible.

    For each line, the suspicious tokens (``daemon.confusion``) are tried one at a time: each
    alternative is scored in its line context, and the best one replaces the token only when it
    beats the line as read by at least ``margin`` nats. Well-formed numbers, amounts, dates and
    identifiers are never candidates. Runs on the correction thread.
    """

    def __init__(self, scorer: Scorer, margin: float, name: str,
                 time_limit: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._scorer = scorer
        self._margin = margin
        self.name = name
        self._time_limit = time_limit
        self._clock = clock

    def correct_line(self, page: int, number: int, line: str) -> tuple[str, list[Correction]]:
        corrections: list[Correction] = []
        suspects = find_suspects(line)
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

    def correct(self, page: int, text: str) -> tuple[str, tuple[Correction, ...]]:
        """Correct line by line; past ``time_limit`` seconds the rest of the page stays raw."""
        lines = text.split("\n")
        found: list[Correction] = []
        deadline = None if self._time_limit is None else self._clock() + self._time_limit
        for index, line in enumerate(lines):
            if deadline is not None and self._clock() >= deadline:
                log.warning(audit.CORRECTION_TIMEOUT, page=page, lines_done=index,
                            lines=len(lines), limit_s=self._time_limit)
                break
            lines[index], corrections = self.correct_line(page, index + 1, line)
            found.extend(corrections)
        return "\n".join(lines), tuple(found)


class LlmCorrector:
    """The resident model: resolved and loaded once at start-up, freed at shutdown.

    ``load`` raises ConfigError/StartupError (the daemon then refuses to start). A failure while
    correcting a page is logged and the page keeps its raw OCR text.
    """

    name = "llm"

    def __init__(self, settings: LlmSettings, hub: Hub | None = None,
                 time_limit: float | None = None) -> None:
        self._settings = settings
        self._hub = hub
        self._scorer = LlamaScorer(settings)
        self._confusions = ConfusionCorrector(self._scorer, settings.margin, self.name,
                                              time_limit)

    def load(self) -> None:
        path = resolve_model(self._settings, self._hub)
        self._scorer.load(path)
        self.name = f"llm:{self._scorer.model_file}"
        log.info(audit.MODEL_LOADED, model=str(path), gpu_layers=self._settings.gpu_layers,
                 context_size=self._settings.context_size)

    def correct(self, page: int, text: str) -> tuple[str, tuple[Correction, ...]]:
        try:
            return self._confusions.correct(page, text)
        except Exception as exc:  # a model failure must not lose the page: keep raw text
            log.warning(audit.CORRECTION_FAILED, page=page, error=f"{type(exc).__name__}: {exc}")
            return text, ()

    def close(self) -> None:
        self._scorer.close()


def make_corrector(settings: LlmSettings, time_limit: float | None = None) -> Corrector:
    """``time_limit``: seconds of correction per page (limits.llm_seconds_per_page)."""
    return LlmCorrector(settings, time_limit=time_limit) if settings.enabled \
        else PassThroughCorrector()
