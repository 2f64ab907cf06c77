"""What the daemon has done and is doing, derived from its audit events.

``Telemetry`` is an audit observer (inbox_ocr.ops.audit.add_observer): every event passes through it
on the thread that logged it. It keeps counts since start, failures by reason, the documents in
progress with their page progress, a count of progress marks (any stage finishing a page or a
document: the watchdog's sign of life) and a window of recent completions for throughput.
``snapshot()`` copies it for the supervisor (status file, STATUS=) under a lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

from inbox_ocr.ops import audit

THROUGHPUT_WINDOW = 300.0
_PROGRESS = {audit.PAGE_SPLIT, audit.PAGE_OCR, audit.PAGE_CORRECTED, audit.DOCUMENT_PROCESSED,
             audit.DOCUMENT_FAILED, audit.DOCUMENT_DEFERRED, audit.DOCUMENT_DUPLICATE}
_OUTCOMES = audit.OUTCOME_EVENTS


@dataclass
class DocumentProgress:
    """One admitted document. ``pages_total`` is 0 until the split stage has opened it."""

    id: str
    source: str
    started_at: float  # wall clock
    pages_total: int = 0
    pages_split: int = 0
    pages_ocr: int = 0


class Telemetry:
    """Audit observer; thread-safe. ``clock`` is monotonic (throughput window)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 wallclock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._wallclock = wallclock
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()  # quarantined documents, by reason
        self.deferrals: Counter[str] = Counter()  # left in the inbox for a retry, by reason
        self.pages = 0
        self.corrections = 0
        self.marks = 0
        self.model = ""
        self.model_state = "off"  # off | loaded | down (crashed, restarts on the next page) | degraded
        self.model_pid: int | None = None
        self.model_crashes = 0
        self.model_restarts = 0
        self._documents: dict[str, DocumentProgress] = {}
        self._recent: deque[tuple[float, int]] = deque()
        self._since = clock()

    def __call__(self, name: str, event: Mapping[str, Any]) -> None:
        doc_id = str(event.get("document_id", ""))
        with self._lock:
            if name in _PROGRESS:
                self.marks += 1
            if name == audit.DOCUMENT_ADMITTED and doc_id:
                self._documents[doc_id] = DocumentProgress(doc_id, str(event.get("source", "")),
                                                           self._wallclock())
            elif name == audit.PAGE_SPLIT and doc_id in self._documents:
                doc = self._documents[doc_id]
                doc.pages_split = max(doc.pages_split, _int(event.get("page")))
                doc.pages_total = _int(event.get(audit.PAGES)) or doc.pages_total
            elif name == audit.PAGE_OCR and doc_id in self._documents:
                self._documents[doc_id].pages_ocr += 1
            elif name in _OUTCOMES:
                self._documents.pop(doc_id, None)
                self.counts[_OUTCOMES[name]] += 1
                if name == audit.DOCUMENT_PROCESSED:
                    pages = _int(event.get(audit.PAGES))
                    self.pages += pages
                    self.corrections += _int(event.get(audit.CORRECTIONS))
                    self._recent.append((self._clock(), pages))
                elif name == audit.DOCUMENT_FAILED:
                    self.failures[str(event.get(audit.REASON, "unknown"))] += 1
                elif name == audit.DOCUMENT_DEFERRED:
                    self.deferrals[str(event.get(audit.REASON, "unknown"))] += 1
            elif name == audit.MODEL_LOADED:
                self.model = str(event.get("model", ""))
                self.model_state = "loaded"
                self.model_pid = _int(event.get("pid")) or None
                self.model_restarts += bool(event.get("restart"))
            elif name == audit.MODEL_CRASHED:
                self.model_crashes += 1
                self.model_pid = None
                if self.model_state != "degraded":
                    self.model_state = "down"
            elif name == audit.MODEL_DEGRADED:
                self.model_state = "degraded"
                self.model_pid = None

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: counts, failures, documents in progress, throughput, model."""
        now = self._clock()
        with self._lock:
            while self._recent and now - self._recent[0][0] > THROUGHPUT_WINDOW:
                self._recent.popleft()
            docs = len(self._recent)
            pages = sum(p for _, p in self._recent)
            window = max(1.0, min(THROUGHPUT_WINDOW, now - self._since))
            return {
                "counts": {"processed": self.counts["processed"], "failed": self.counts["failed"],
                           "deferred": self.counts["deferred"],
                           "duplicates": self.counts["duplicate"], "pages": self.pages,
                           "corrections": self.corrections},
                "failures": dict(self.failures),
                "deferrals": dict(self.deferrals),
                "documents": [asdict(d) for d in self._documents.values()],
                "throughput": {"window_seconds": round(window, 1),
                               "documents_per_minute": round(docs * 60 / window, 2),
                               "pages_per_minute": round(pages * 60 / window, 2)},
                "model": self.model,
                "model_process": {"state": self.model_state, "pid": self.model_pid,
                                  "crashes": self.model_crashes,
                                  "restarts": self.model_restarts},
            }


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
