"""The correction stage: its protocol, the pass-through, and the confusion corrector.

``ConfusionCorrector`` corrects only OCR confusions that a language model is sure of; it runs
inside the model process (``inbox_ocr.correct.process``), next to the llama.cpp model that scores
its candidates. The daemon itself talks to that process through
``inbox_ocr.correct.process.SupervisedCorrector``; ``PassThroughCorrector`` is used with
``llm.enabled = false``. All of them keep the text unchanged rather than guess.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from typing import Protocol

from inbox_ocr.correct.confusion import (
    TOKEN,
    Suspect,
    document_words,
    find_suspects,
    page_words,
    replace,
)
from inbox_ocr.correct.fusion import (
    agreed_misreads,
    agreeing,
    disagreements,
    pairs,
    regrouped,
    variants,
)
from inbox_ocr.records import Correction, LineReading, PageCorrection


class Corrector(Protocol):
    """Corrects one page of OCR text.

    Lifecycle: ``load`` once at start-up, before READY (raises ConfigError/StartupError);
    ``correct`` for one page at a time, called on one worker thread; ``close`` once at
    shutdown. ``correct`` never raises: when it cannot decide it returns the text unchanged,
    with a status that says why (``PageCorrection``).
    """

    name: str

    def load(self) -> None: ...

    def correct(self, page: int, text: str,
                second: Sequence[LineReading] = ()) -> PageCorrection: ...

    def close(self) -> None: ...


class PassThroughCorrector:
    """Returns the OCR text as it is. Used when ``llm.enabled = false``."""

    name = "none"

    def load(self) -> None:
        return None

    def correct(self, page: int, text: str,
                second: Sequence[LineReading] = ()) -> PageCorrection:
        return PageCorrection(text, (), "off")

    def close(self) -> None:
        return None


class Scorer(Protocol):
    """Log-likelihood of a line of text under a language model (higher is more plausible).

    ``compare_all`` scores groups of texts (a page's lines, each with its variants) in as few
    model batches as fit, lazily, group by group in order; within a group each score is
    minus the same constant (the log-likelihood of the tokens the group's texts begin with),
    so only differences within a group mean anything, and they are those of ``score``."""

    def score(self, text: str) -> float: ...

    def compare_all(self, groups: Iterable[Sequence[str]]) -> Iterator[list[float]]: ...


#: An alternative is scored on the line up to this many words after it: what follows further
#: barely changes which alternative wins, and costs a model evaluation per token.
WINDOW_WORDS = 1


def window_end(line: str, end: int, words: int | None = None) -> int:
    """Where the scored part of ``line`` ends for a suspect ending at ``end``: after the
    ``WINDOW_WORDS``-th word that follows it (the line's end when fewer follow)."""
    count = WINDOW_WORDS if words is None else words
    for index, match in enumerate(TOKEN.finditer(line, end)):
        if index + 1 >= count:
            return match.end()
    return len(line)


# The ``corrections[].reason`` of each kind of suspect that is no OCR confusion class.
_REASONS = {"second-reading": "second-reading", "regrouped": "second-reading:regrouped"}


class ConfusionCorrector:
    """Fixes OCR confusions, and takes a second reading's words, that a language model finds
    clearly more plausible.

    For each line, the suspicious tokens (``inbox_ocr.correct.confusion``) and the words a
    second engine read otherwise (``inbox_ocr.correct.fusion``) become alternatives; all of
    a page's are scored together (``Scorer.compare_all``), each in its line up to the word
    after it and against the line as read, plus its prior (the engines' confidences). The
    best one of a token replaces it only when it beats the line as read by at least
    ``margin`` nats. Well-formed numbers, amounts, dates and identifiers are never candidates,
    and a second reading never changes a digit. Runs on one thread (in the model process).
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

    def _alternatives(self, line: str, reading: LineReading | None,
                      vocabulary: Counter[str],
                      ) -> tuple[list[str], list[list[tuple[Suspect, str]]]]:
        """The texts to score for ``line`` (for each suspect's span: the line up to the word
        after it, then each alternative there) and the alternatives, span by span.
        ``vocabulary``: the page's words (``confusion.page_words``)."""
        suspects = find_suspects(line, self._known)
        if reading is not None:
            found = pairs(line, reading)
            suspects = (agreeing(suspects, found) + disagreements(found, self._known)
                        + variants(found, self._known) + regrouped(line, reading)
                        + agreed_misreads(line, found, self._known))
        suspects += document_words(line, vocabulary, self._known)
        by_span: dict[tuple[int, int], list[Suspect]] = {}
        for suspect in suspects:
            by_span.setdefault((suspect.start, suspect.end), []).append(suspect)
        texts: list[str] = []
        options: list[list[tuple[Suspect, str]]] = []
        for span in sorted(by_span):
            cut = window_end(line, span[1])
            options.append([(suspect, alt) for suspect in by_span[span]
                            for alt in suspect.alternatives])
            texts.append(line[:cut])
            texts += [replace(line[:cut], suspect, alt) for suspect, alt in options[-1]]
        return texts, options

    def _decide(self, page: int, number: int, line: str,
                options: list[list[tuple[Suspect, str]]], scored: list[float],
                ) -> tuple[str, list[Correction]]:
        """Apply the alternatives that beat the line as read by the margin (``scored``: the
        scores of ``_alternatives``' texts, comparable with each other)."""
        corrections: list[Correction] = []
        scores = iter(scored)
        decided = []
        for choices in options:
            baseline = next(scores)
            score, best, suspect = max(
                ((next(scores) + suspect.prior, alt, suspect) for suspect, alt in choices),
                key=lambda option: option[0])
            decided.append((score - baseline, best, suspect))
        # The winners, the clearest first where spans overlap (a run of words taken whole
        # and a word inside it), then applied right to left so that earlier ones keep their
        # offsets.
        taken: list[tuple[float, str, Suspect]] = []
        for margin, best, suspect in sorted(decided, key=lambda d: -d[0]):
            if margin >= self._margin and not any(
                    suspect.start < other.end and other.start < suspect.end
                    for _m, _b, other in taken):
                taken.append((margin, best, suspect))
        for margin, best, suspect in sorted(taken, key=lambda d: -d[2].start):
            line = replace(line, suspect, best)
            corrections.append(Correction(page, number, suspect.token, best, round(margin, 2),
                                          _REASONS.get(suspect.kind,
                                                       f"ocr-confusion:{suspect.kind}")))
        corrections.reverse()
        return line, corrections

    def correct(self, page: int, text: str,
                second: Sequence[LineReading] = ()) -> PageCorrection:
        """Correct line by line (``second``: another engine's reading of each line, or none);
        past ``time_limit`` seconds the rest of the page stays raw (status
        ``corrector_cut_short``)."""
        lines = text.split("\n")
        readings: Sequence[LineReading | None] = second if len(second) == len(lines) \
            else [None] * len(lines)
        found: list[Correction] = []
        deadline = None if self._time_limit is None else self._clock() + self._time_limit
        vocabulary = page_words(text)
        plans = [(index, *self._alternatives(line, readings[index], vocabulary))
                 for index, line in enumerate(lines)]
        plans = [plan for plan in plans if plan[1]]  # lines with something to decide
        # The whole page in as few model batches as fit, scored as the lines are decided.
        scores = self._scorer.compare_all(texts for _index, texts, _options in plans)
        for index, _texts, options in plans:
            if deadline is not None and self._clock() >= deadline:
                return PageCorrection(
                    "\n".join(lines), tuple(found), "corrector_cut_short",
                    f"correction stopped after {self._time_limit:g} s "
                    f"(limits.llm_seconds_per_page) at line {index + 1} of {len(lines)}; "
                    "the rest of the page is raw OCR text")
            lines[index], corrections = self._decide(page, index + 1, lines[index], options,
                                                     next(scores))
            found.extend(corrections)
        return PageCorrection("\n".join(lines), tuple(found))
