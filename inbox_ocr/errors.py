"""Exceptions that carry their own policy.

Every error raised on purpose by inbox-ocr derives from :class:`InboxOcrError`. The class says
what the boundary that catches it must do; nothing else decides::

    InboxOcrError                 exit_code  retryable  what the daemon does
    +-- ConfigError                   2         -       refuse to start (message names the key)
    +-- StartupError                  3         -       refuse to start (engine/model missing)
    +-- DocumentError                 -         no      quarantine the input in failed/
    |   +-- UnsupportedFormat
    |   +-- CorruptInput
    |   +-- EncryptedInput                             (password-protected PDF)
    |   +-- LimitExceeded
    |   +-- EngineFailed
    |   +-- NotRegularFile                             (symlink, fifo, socket in the inbox)
    |   +-- RetriesExhausted                           (a TransientError, retry.max_attempts times)
    +-- TransientError                -         yes     leave the input in the inbox, retry later
        +-- OutboxUnavailable                          (disk full, read-only, permission)
        +-- EngineCrashed                              (OCR worker died or hung; it is replaced)
        +-- InputChanged                               (does not count as an attempt)

A ``DocumentError`` never stops the daemon; a ``ConfigError`` or ``StartupError`` stops it
before it tells systemd it is ready.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the ``inbox-ocr`` command."""

    OK = 0
    FAILED = 1
    BAD_CONFIG = 2
    STARTUP_FAILED = 3
    INTERRUPTED = 130


class InboxOcrError(Exception):
    """Base class. ``reason`` is a short machine-readable slug used in logs and error files."""

    exit_code: ExitCode = ExitCode.FAILED
    retryable: bool = False
    reason: str = "error"
    #: True when a half-written file fails this way too: before such an error quarantines a
    #: document, the pipeline looks again whether the file is still being written
    #: (inbox_ocr.intake.completeness), and if so defers it as InputChanged instead.
    may_be_unfinished: bool = False
    #: Pipeline stage where it happened ("split", "ocr", "correct", "outbox"); set by the
    #: stage that catches it, so the quarantine report can say where a document failed.
    stage: str = ""


class ConfigError(InboxOcrError):
    """The configuration is invalid. ``key`` is the dotted name of the offending key."""

    exit_code = ExitCode.BAD_CONFIG
    reason = "bad_config"

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key
        self.message = message

    def __reduce__(self) -> tuple[type[ConfigError], tuple[str, str]]:
        # Raised in a worker or model process and sent to the daemon over a pipe.
        return type(self), (self.key, self.message)


class StartupError(InboxOcrError):
    """A component (OCR engine, model, folder) could not be brought up."""

    exit_code = ExitCode.STARTUP_FAILED
    reason = "startup_failed"


class DocumentError(InboxOcrError):
    """This one input cannot be processed, now or later: it goes to ``failed/``."""

    reason = "document_error"


class UnsupportedFormat(DocumentError):
    reason = "unsupported_format"
    may_be_unfinished = True  # a file re-created with a hole at its start has no magic bytes


class CorruptInput(DocumentError):
    reason = "corrupt_input"
    may_be_unfinished = True


class EncryptedInput(DocumentError):
    reason = "encrypted"


class LimitExceeded(DocumentError):
    reason = "limit_exceeded"


class EngineFailed(DocumentError):
    reason = "engine_failed"
    may_be_unfinished = True


class NotRegularFile(DocumentError):
    """A symlink, fifo or socket in the inbox: never followed or read, moved aside."""

    reason = "not_regular_file"


class RetriesExhausted(DocumentError):
    """A transient error repeated ``retry.max_attempts`` times: give up and quarantine."""

    reason = "retries_exhausted"


class TransientError(InboxOcrError):
    """Processing may succeed later: the input stays in the inbox and is retried."""

    retryable = True
    reason = "transient"
    #: False when the error says nothing about the document (it changed under us).
    counts_as_attempt = True


class OutboxUnavailable(TransientError):
    reason = "outbox_unavailable"


class EngineCrashed(TransientError):
    """The OCR worker process died or exceeded limits.ocr_seconds_per_page; it was replaced."""

    reason = "engine_crashed"


class InputChanged(TransientError):
    """The file changed or vanished between admission and processing: look at it again."""

    reason = "input_changed"
    counts_as_attempt = False
