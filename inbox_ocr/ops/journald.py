"""journald: audit events as native journal entries, with their fields as journal fields.

``journalctl -u inbox-ocr DOCUMENT_SHA256=<sha256>`` lists one document's history, and
``journalctl -u inbox-ocr EVENT=document.failed REASON=corrupt_input`` the failures of a kind.
Field names: the event's keys upper-cased, with ``sha256`` -> ``DOCUMENT_SHA256``, ``event`` ->
``EVENT``, ``message`` -> ``ERROR_MESSAGE`` (MESSAGE is journald's own); the level becomes
``PRIORITY``. ``MESSAGE`` is the event name followed by its fields as ``key=value``, for people.

Entries go through ``systemd.journal.sendv`` (sd_journal_sendv(3), the native protocol over
/run/systemd/journal/socket). The handler is used when ``log.journal`` says so: ``auto`` means
"stdout is connected to the journal", which systemd announces in ``JOURNAL_STREAM``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

IDENTIFIER = "inbox-ocr"
_RENAMES = {"sha256": "DOCUMENT_SHA256", "event": "EVENT", "message": "ERROR_MESSAGE"}
_DROPPED = {"level", "timestamp"}
# Fields journald or libsystemd set themselves, or that mean something special to journald.
_RESERVED = {"MESSAGE", "MESSAGE_ID", "PRIORITY", "CODE_FILE", "CODE_LINE", "CODE_FUNC",
             "ERRNO", "SYSLOG_IDENTIFIER", "SYSLOG_FACILITY", "SYSLOG_PID", "TID",
             "INVOCATION_ID", "UNIT", "USER_UNIT", "COREDUMP_UNIT", "OBJECT_PID"}
_PRIORITIES = {"debug": 7, "info": 6, "warning": 4, "error": 3, "critical": 2, "exception": 3}


def stdout_is_journal(environ: Mapping[str, str] | None = None,
                      stream: TextIO | None = None) -> bool:
    """True when systemd connected our stdout to the journal (``JOURNAL_STREAM=dev:ino``)."""
    env = os.environ if environ is None else environ
    dev, _, ino = env.get("JOURNAL_STREAM", "").partition(":")
    if not (dev.isdigit() and ino.isdigit()):
        return False
    try:
        st = os.fstat((stream or sys.stdout).fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(dev), int(ino))


def wanted(setting: str, environ: Mapping[str, str] | None = None,
           stream: TextIO | None = None) -> bool:
    """Resolve ``log.journal`` ('auto', 'on', 'off') for this process."""
    if setting == "on":
        return True
    return setting == "auto" and stdout_is_journal(environ, stream)


def field_name(key: str) -> str:
    """A journal field name for an event key: [A-Z0-9_], not starting with '_' or a digit."""
    if key in _RENAMES:
        return _RENAMES[key]
    name = re.sub(r"[^A-Z0-9_]", "_", key.upper()).lstrip("_")
    if not name or name[0].isdigit() or name in _RESERVED:
        name = "F_" + name
    return name[:64]


def journal_fields(event: Mapping[str, Any]) -> list[str]:
    """``KEY=value`` strings for sd_journal_sendv: MESSAGE, PRIORITY, then the event's fields."""
    name = str(event.get("event", ""))
    rest = {k: v for k, v in event.items() if k not in _DROPPED and k != "event"}
    summary = " ".join(f"{k}={_text(v)}" for k, v in rest.items() if k != "exception")
    message = f"{name} {summary}".strip()
    if "exception" in event:
        message += "\n" + str(event["exception"])
    fields = [f"MESSAGE={message}",
              f"PRIORITY={_PRIORITIES.get(str(event.get('level', 'info')), 6)}",
              f"SYSLOG_IDENTIFIER={IDENTIFIER}",
              f"EVENT={name}"]
    # A missing value is no field at all (not the string "null").
    fields += [f"{field_name(k)}={_text(v)}" for k, v in rest.items() if v is not None]
    return fields


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _sendv(*fields: str) -> None:
    import systemd.journal

    systemd.journal.sendv(*fields)


class JournalHandler(logging.Handler):
    """A logging handler whose formatter renders JSON (structlog's ProcessorFormatter); the
    JSON is turned back into fields and sent to journald. Emits on the logging thread;
    a journal that cannot be reached is reported through logging's handleError, never raised.
    """

    def __init__(self, send: Callable[..., None] = _sendv) -> None:
        super().__init__()
        self._send = send

    def emit(self, record: logging.LogRecord) -> None:
        try:
            rendered = self.format(record)
            try:
                event = json.loads(rendered)
            except ValueError:
                event = {"event": rendered}
            if not isinstance(event, dict):
                event = {"event": rendered}
            event.setdefault("level", record.levelname.lower())
            try:
                self._send(*journal_fields(event))
            except OSError:  # no journald (log.journal = "on" outside systemd): keep the line
                sys.stderr.write(rendered + "\n")
        except Exception:
            self.handleError(record)
