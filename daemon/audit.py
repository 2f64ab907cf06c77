"""Structured audit log: structlog configured once, JSON lines to a file and to stdout.

Every event carries the context bound with ``structlog.contextvars`` (document id, stage),
a UTC timestamp and a level. stdout is rendered for humans on a terminal and as JSON
otherwise (under systemd stdout goes to the journal). Event names are the constants below;
values are keyword arguments.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

# Canonical events: exactly one of these per document.
DOCUMENT_PROCESSED = "document.processed"
DOCUMENT_FAILED = "document.failed"
DOCUMENT_DEFERRED = "document.deferred"
# Steps in between.
DOCUMENT_ADMITTED = "document.admitted"
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
MODEL_LOADED = "model.loaded"
CORRECTION_FAILED = "correction.failed"
INTERNAL_ERROR = "internal.error"

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
           "error": logging.ERROR}


def configure(
    level: str = "info",
    fmt: str = "auto",
    file: Path | None = None,
    stream: TextIO | None = None,
) -> None:
    """Configure structlog and the stdlib root logger. Call once per process (again in tests).

    ``file``: JSON-lines audit log (parent folder must exist). ``stream``: stdout by default.
    ``fmt``: 'json', 'console', or 'auto' (console on a terminal).
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
    handlers: list[logging.Handler] = [_handler(logging.StreamHandler(stream), renderer, shared)]
    if file is not None:
        handlers.append(_handler(logging.FileHandler(file, encoding="utf-8"), _json_renderer(),
                                 shared))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(_LEVELS[level])
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


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
    return structlog.stdlib.get_logger(name)
