"""Structured audit log: structlog configured once, JSON lines to a file and to stdout.

Every event carries the context bound with ``structlog.contextvars`` (document id, stage),
a UTC timestamp and a level. stdout is rendered for humans on a terminal and as JSON
otherwise. Under systemd (``log.journal``) the stdout handler is replaced by one that sends
each event to journald with its fields as journal fields (inbox_ocr.ops.journald). Event names are the
constants below; values are keyword arguments.

Observers (``add_observer``) see every structlog event dict, whatever the log level, on the
thread that logged it: status, watchdog progress and metrics are derived from the same events
the audit log records, so they cannot disagree with it.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

import structlog

# Canonical events: exactly one of these per document.
DOCUMENT_PROCESSED = "document.processed"
DOCUMENT_FAILED = "document.failed"
DOCUMENT_DEFERRED = "document.deferred"
DOCUMENT_DUPLICATE = "document.duplicate"
# Steps in between.
DOCUMENT_ADMITTED = "document.admitted"
DOCUMENT_TWIN_WAITING = "document.twin_waiting"  # same content in flight: waits for it, once
DOCUMENT_WAITING = "document.waiting"  # stable but without its end marker: not finished yet
PAGE_SPLIT = "page.split"
PAGE_OCR = "page.ocr"
PAGE_CORRECTED = "page.corrected"
OCR_EVALUATION_MODE = "ocr.evaluation_mode"
OCR_EVALUATION_TRUNCATED = "ocr.evaluation_truncated"
# Daemon lifecycle.
DAEMON_STARTING = "daemon.starting"
DAEMON_READY = "daemon.ready"
DAEMON_STOPPING = "daemon.stopping"
DAEMON_STOPPED = "daemon.stopped"
DAEMON_DRAIN_TIMEOUT = "daemon.drain_timeout"
WATCHER_STARTED = "watcher.started"
WATCHER_ERROR = "watcher.error"
CONFIG_INVALID = "config.invalid"
CONFIG_RELOADED = "config.reloaded"
CONFIG_RELOAD_REJECTED = "config.reload_rejected"
WATCHDOG_STALLED = "watchdog.stalled"
WATCHDOG_RECOVERED = "watchdog.recovered"
METRICS_STARTED = "metrics.started"
MODEL_LOADED = "model.loaded"
# The model process (inbox_ocr.correct.process): died/hung/failed to start; too many: degraded.
MODEL_CRASHED = "model.crashed"
MODEL_DEGRADED = "model.degraded"
CORRECTION_FAILED = "correction.failed"
INTERNAL_ERROR = "internal.error"
JOURNAL_RECOVERED = "journal.recovered"
OCR_WORKER_REPLACED = "ocr.worker_replaced"

#: The events that end a document's visit, and the outcome each stands for. Telemetry, the
#: metrics and the status file all count from this one table.
OUTCOME_EVENTS = {DOCUMENT_PROCESSED: "processed", DOCUMENT_FAILED: "failed",
                  DOCUMENT_DEFERRED: "deferred", DOCUMENT_DUPLICATE: "duplicate"}

#: The keys of the canonical events that telemetry, the metrics and the status file read,
#: defined here once: the pipeline writes them, ``tests/integration/test_scanner_reality.py``
#: checks that a real run's events carry every one, so a rename cannot silently zero a metric.
PAGES = "pages"
CORRECTIONS = "corrections"
REASON = "reason"
STAGES = ("queued", "split", "ocr", "correct", "write", "total")


def seconds_key(stage: str) -> str:
    """``document.processed``'s key for the seconds a document spent in ``stage``."""
    return f"{stage}_s"


CANONICAL_KEYS = {
    DOCUMENT_PROCESSED: (PAGES, CORRECTIONS, *map(seconds_key, STAGES)),
    DOCUMENT_FAILED: (REASON,),
    DOCUMENT_DEFERRED: (REASON,),
}

LOGGER = "inbox_ocr"

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


Observer = Callable[[str, Mapping[str, Any]], None]
_observers: list[Observer] = []


def add_observer(observer: Observer) -> None:
    """Call ``observer(event_name, event_dict)`` for every event from now on (any thread)."""
    _observers.append(observer)


def remove_observer(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def _notify_observers(_logger: Any, method: str, event_dict: Any) -> Any:
    for observer in tuple(_observers):
        try:
            observer(str(event_dict.get("event", "")), event_dict)
        except Exception:  # an observer must never break logging
            logging.getLogger(__name__).exception("audit observer failed")
    return event_dict


def configure(
    level: str = "info",
    fmt: str = "auto",
    file: Path | None = None,
    stream: TextIO | None = None,
    journal: bool = False,
) -> None:
    """Configure structlog and the stdlib root logger. Call once per process (again in tests).

    ``file``: JSON-lines audit log (parent folder must exist). ``stream``: stdout by default.
    ``fmt``: 'json', 'console', or 'auto' (console on a terminal). ``journal``: send events to
    journald with their fields instead of writing them to ``stream`` (which, under systemd, is
    the journal too: this avoids every event appearing twice).
    """
    stream = stream or sys.stdout
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    console = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: Any = structlog.dev.ConsoleRenderer() if console else _json_renderer()
    if journal:
        from inbox_ocr.ops.journald import JournalHandler

        first: logging.Handler = _handler(JournalHandler(), _json_renderer(), shared)
    else:
        first = _handler(logging.StreamHandler(stream), renderer, shared)
    handlers: list[logging.Handler] = [first]
    if file is not None:
        handlers.append(_handler(logging.FileHandler(file, encoding="utf-8"), _json_renderer(),
                                 shared))
    for handler in handlers:  # the audit log holds the project's own events only
        handler.addFilter(_ours)
    # Libraries' own records (watchdog, PIL, asyncio...) go to stderr, from warnings up.
    chatter = logging.StreamHandler(sys.stderr)
    chatter.setLevel(logging.WARNING)
    chatter.addFilter(lambda record: not _ours(record))
    chatter.setFormatter(logging.Formatter("%(name)s: %(levelname)s: %(message)s"))
    handlers.append(chatter)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(_LEVELS[level])
    structlog.configure(
        processors=[*shared, _notify_observers,
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def _ours(record: logging.LogRecord) -> bool:
    return record.name == LOGGER or record.name.startswith(LOGGER + ".")


def set_level(level: str) -> None:
    """Change the log level of a configured process (SIGHUP reload)."""
    logging.getLogger().setLevel(_LEVELS[level])


def most_verbose(*levels: str) -> str:
    return min(levels, key=_LEVELS.__getitem__)


def _json_renderer() -> Any:
    return structlog.processors.JSONRenderer(ensure_ascii=False, default=str)


def _handler(handler: logging.Handler, renderer: Any, shared: list[Any]) -> logging.Handler:
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    return handler


def get_logger(name: str = "inbox_ocr") -> Any:
    """A structlog logger; ``name`` must be ``inbox_ocr`` or below it to reach the audit log."""
    return structlog.stdlib.get_logger(name)
