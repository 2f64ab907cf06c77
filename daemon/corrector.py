"""The correction stage's protocol, and the pass-through used when no model is configured.

The LLM corrector (a resident GGUF model) implements the same protocol; until it is enabled,
``PassThroughCorrector`` keeps the raw OCR text and records that nothing was corrected.
"""

from __future__ import annotations

from typing import Protocol

from daemon.records import Correction


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
