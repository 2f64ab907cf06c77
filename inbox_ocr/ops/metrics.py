"""Optional Prometheus endpoint (``[metrics] enabled = true``; loopback by default).

Metrics (all prefixed ``inbox_ocr_``)::

    queue_depth{queue}                    gauge: items waiting in each pipeline queue
    documents_in_flight                   gauge: admitted, not finished
    documents_total{outcome}              counter: processed / failed / deferred / duplicate
    pages_total                           counter: pages of processed documents
    failures_total{reason,outcome}        counter: failed and deferred documents by reason
    stage_seconds{stage}                  histogram: per document, seconds in split / ocr /
                                          correct / write, plus queued and total
    corrections_total                     counter: OCR corrections applied
    model_loaded                          gauge: 1 while a model process is up, 0 when it
                                          crashed, is degraded, or llm.enabled = false
    model_crashes_total                   counter: model process crashes, hangs, failed starts
    model_restarts_total                  counter: model processes started after a failure

Counters are fed by the audit events (an audit observer, any thread; prometheus-client is
thread-safe); gauges are read when scraped. The HTTP server runs on prometheus-client's own
daemon thread with a private registry, so several services in one process (tests) never clash.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from inbox_ocr.ops import audit

QUEUES = ("intake", "pages", "text", "done")
STAGES = audit.STAGES
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)
_OUTCOMES = audit.OUTCOME_EVENTS


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.queue_depth = Gauge("inbox_ocr_queue_depth", "Items waiting in a pipeline queue",
                                 ["queue"], registry=r)
        self.in_flight = Gauge("inbox_ocr_documents_in_flight",
                               "Documents admitted and not finished", registry=r)
        self.documents = Counter("inbox_ocr_documents", "Documents finished, by outcome",
                                 ["outcome"], registry=r)
        self.pages = Counter("inbox_ocr_pages", "Pages of processed documents", registry=r)
        self.failures = Counter("inbox_ocr_failures", "Failed or deferred documents by reason",
                                ["reason", "outcome"], registry=r)
        self.stage_seconds = Histogram("inbox_ocr_stage_seconds",
                                       "Seconds a document spent in a stage", ["stage"],
                                       buckets=_BUCKETS, registry=r)
        self.corrections = Counter("inbox_ocr_corrections", "OCR corrections applied",
                                   registry=r)
        self.model_loaded = Gauge("inbox_ocr_model_loaded",
                                  "1 when the correction model is loaded", registry=r)
        self.model_crashes = Counter("inbox_ocr_model_crashes",
                                     "Model process crashes, hangs and failed starts", registry=r)
        self.model_restarts = Counter("inbox_ocr_model_restarts",
                                      "Model processes started after a failure", registry=r)
        for outcome in _OUTCOMES.values():
            self.documents.labels(outcome=outcome)
        self._server: Any = None
        self._thread: Any = None
        self.port = 0

    def bind(self, depths: Callable[[], dict[str, int]], in_flight: Callable[[], int]) -> None:
        """Read the queues and the in-flight count at scrape time."""
        for queue in QUEUES:
            self.queue_depth.labels(queue=queue).set_function(_reader(depths, queue))
        self.in_flight.set_function(lambda: float(in_flight()))

    def __call__(self, name: str, event: Mapping[str, Any]) -> None:
        """Audit observer."""
        if name in _OUTCOMES:
            outcome = _OUTCOMES[name]
            self.documents.labels(outcome=outcome).inc()
            if name == audit.DOCUMENT_PROCESSED:
                self.pages.inc(_number(event.get(audit.PAGES)))
                self.corrections.inc(_number(event.get(audit.CORRECTIONS)))
                for stage in STAGES:
                    seconds = event.get(audit.seconds_key(stage))
                    if isinstance(seconds, int | float):
                        self.stage_seconds.labels(stage=stage).observe(float(seconds))
            elif name != audit.DOCUMENT_DUPLICATE:
                self.failures.labels(reason=str(event.get(audit.REASON, "unknown")),
                                     outcome=outcome).inc()
        elif name == audit.MODEL_LOADED:
            self.model_loaded.set(1)
            if event.get("restart"):
                self.model_restarts.inc()
        elif name == audit.MODEL_CRASHED:
            self.model_loaded.set(0)
            self.model_crashes.inc()
        elif name == audit.MODEL_DEGRADED:
            self.model_loaded.set(0)

    def start(self, address: str, port: int) -> int:
        """Serve /metrics; returns the port (useful with port 0). Raises OSError."""
        self._server, self._thread = start_http_server(port, addr=address, registry=self.registry)
        self.port = int(self._server.server_port)
        return self.port

    def close(self) -> None:
        self.model_loaded.set(0)
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(5)
            self._server = None


def _reader(depths: Callable[[], dict[str, int]], queue: str) -> Callable[[], float]:
    return lambda: float(depths().get(queue, 0))


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
