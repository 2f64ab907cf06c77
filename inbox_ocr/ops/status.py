"""The status file and ``inbox-ocr status``.

The running daemon rewrites ``<paths.state>/status.json`` atomically every
``service.status_seconds`` (inbox_ocr.ops.reporter) and once more when it stops. ``inbox-ocr status``
reads it (no connection to the daemon is needed, so it works for any user who can read the
state folder) and adds today's done/failed counts from the audit log.

``today_counts`` counts today's canonical events in the audit log; ``journal_counts`` reads the
durable journal (read-only) for the all-time picture: inputs done, failed, waiting for a retry,
duplicates.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from inbox_ocr.ops import audit

STATUS_FILE = "status.json"
FORMAT_VERSION = 1


def status_path(state: Path) -> Path:
    return state / STATUS_FILE


def write_status(path: Path, status: dict[str, Any]) -> None:
    """Replace ``path`` atomically (temporary file in the same folder, then rename).

    Raises OSError. No fsync: the file is a live view, rewritten every few seconds.
    """
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(status, fh, ensure_ascii=False, indent=1, default=str)
            fh.write("\n")
        tmp.chmod(0o644)
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def read_status(path: Path) -> dict[str, Any] | None:
    """The last status the daemon wrote, or None when there is none (never ran here)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def today_counts(audit_log: Path, today: date | None = None) -> dict[str, int]:
    """Documents processed / failed / deferred today (local date) according to the audit log."""
    today = today or datetime.now().astimezone().date()
    wanted = {audit.DOCUMENT_PROCESSED: "processed", audit.DOCUMENT_FAILED: "failed",
              audit.DOCUMENT_DEFERRED: "deferred"}
    counts = dict.fromkeys(wanted.values(), 0)
    try:
        fh = audit_log.open(encoding="utf-8", errors="replace")
    except OSError:
        return counts
    with fh:
        for event in _canonical_events(fh, wanted):
            stamp = event.get("timestamp")
            try:
                day = datetime.fromisoformat(str(stamp)).astimezone().date()
            except ValueError:
                continue
            if day == today:
                counts[wanted[str(event["event"])]] += 1
    return counts


def journal_counts(journal: Path) -> dict[str, int] | None:
    """Rows per state in the journal (inbox_ocr.outbox.journal), opened read-only; None if absent."""
    if not journal.exists():
        return None
    try:
        db = sqlite3.connect(f"{journal.resolve().as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute("SELECT state, COUNT(*) FROM inputs GROUP BY state").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None
    return {str(state): int(count) for state, count in rows}


def _canonical_events(lines: Iterable[str], names: Mapping[str, str]) -> Iterable[dict[str, Any]]:
    quoted = [f'"{n}"' for n in names]
    for line in lines:
        if not any(q in line for q in quoted):  # cheap filter before parsing
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict) and event.get("event") in names:
            yield event


def pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _model_line(model: dict[str, Any]) -> str:
    state = model.get("state") or ("loaded" if model.get("loaded") else "not loaded")
    state = {"off": "off", "down": "down (restarts on the next page)"}.get(state, state)
    line = f"model: {state} ({model.get('corrector') or 'none'})"
    if model.get("pid"):
        line += f", process {model['pid']}"
    if model.get("crashes") or model.get("restarts"):
        line += f", {model.get('crashes', 0)} crashes, {model.get('restarts', 0)} restarts"
    return line


def render(status: dict[str, Any] | None, today: dict[str, int], now: float,
           journal: dict[str, int] | None = None) -> str:
    """The human-readable report printed by ``inbox-ocr status``."""
    lines: list[str] = []
    if status is None:
        lines.append("daemon: no status file (not started with this config yet)")
    else:
        state = str(status.get("state", "?"))
        age = now - float(status.get("updated_epoch", 0.0))
        if state != "stopped" and not pid_alive(status.get("pid")):
            state = "not running (stale status file)"
        lines.append(f"daemon: {state} (pid {status.get('pid')}, status written "
                     f"{age:.0f}s ago, since {status.get('started_at', '?')})")
        if status.get("watchdog", {}).get("stalled"):
            lines.append("WARNING: the pipeline has made no progress; watchdog pings stopped")
        model = status.get("model") or {}
        lines.append(_model_line(model))
        if model.get("state") == "degraded":
            lines.append("WARNING: the correction model is degraded (it crashed repeatedly or "
                         "cannot start); documents get raw OCR text with a corrector_degraded "
                         "warning until it is retried")
        queues = status.get("queues", {})
        lines.append("queues (waiting for): "
                     + ", ".join(f"{stage} {queues.get(key, 0)}" for key, stage in
                                 (("intake", "split"), ("pages", "ocr"), ("text", "correct"),
                                  ("done", "outbox"))))
        docs = status.get("documents", [])
        lines.append(f"in progress: {status.get('in_flight', len(docs))} document(s)")
        for doc in docs:
            total = doc.get("pages_total") or "?"
            lines.append(f"  {doc.get('source')}: split {doc.get('pages_split', 0)}/{total}, "
                         f"ocr {doc.get('pages_ocr', 0)}/{total}")
        counts = status.get("counts", {})
        lines.append(f"since start: processed {counts.get('processed', 0)}, failed "
                     f"{counts.get('failed', 0)}, deferred {counts.get('deferred', 0)}, "
                     f"duplicates {counts.get('duplicates', 0)}, "
                     f"pages {counts.get('pages', 0)}, corrections {counts.get('corrections', 0)}")
        for key, title in (("failures", "failures by reason"),
                           ("deferrals", "deferred by reason (left in the inbox)")):
            found = status.get(key) or {}
            if found:
                lines.append(f"{title}: "
                             + ", ".join(f"{k} {v}" for k, v in sorted(found.items())))
        rate = status.get("throughput", {})
        lines.append(f"throughput: {rate.get('documents_per_minute', 0)} documents/min, "
                     f"{rate.get('pages_per_minute', 0)} pages/min "
                     f"(last {rate.get('window_seconds', 0):.0f}s)")
    lines.append(f"today: processed {today['processed']}, failed {today['failed']}, "
                 f"deferred {today['deferred']}")
    if journal is not None:
        lines.append(f"journal (all time): done {journal.get('done', 0)}, failed "
                     f"{journal.get('failed', 0)}, waiting for a retry "
                     f"{journal.get('retrying', 0)}, duplicates {journal.get('duplicate', 0)}")
    return "\n".join(lines)
