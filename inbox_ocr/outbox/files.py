"""Results on disk: the outbox pair, the archive move, and the quarantine with its reason.

Readers of the outbox never see half a file: every file is written to a temporary name that
readers ignore (``.<name>.tmp-<pid>``), fsynced, then renamed into place, and the folder is
fsynced. The ``.json`` is renamed last, so a reader that waits for ``<stem>.json`` finds its
``<stem>.txt`` already complete.

Naming is pure (``unique_stem``, ``unique_name``); the writing functions do the I/O and raise
``OutboxUnavailable`` (retryable) when the disk refuses.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import time
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from inbox_ocr import faults
from inbox_ocr.errors import InboxOcrError, OutboxUnavailable
from inbox_ocr.outbox.result import SCHEMA_VERSION, iso

#: Longest file name (UTF-8 bytes) inbox-ocr gives a file, leaving room within the usual 255
#: for ``-NN`` and ``.error.json``.
MAX_NAME_BYTES = 200


def safe_name(name: str) -> str:
    """``name`` fit to be a file name in the outbox, archive or failed/ (pure).

    Control characters (newline, tab, DEL, ...) and invisible format characters (such as the
    right-to-left override that disguises ``evil\u202egnp.pdf`` as ``evilfdp.png``) become
    ``_``; a name longer than ``MAX_NAME_BYTES`` is shortened before its suffix. The original
    name stays in the result's JSON (``source.name``).
    """
    cleaned = "".join("_" if unicodedata.category(c) in ("Cc", "Cf") else c for c in name)
    if not cleaned.strip("_ ."):
        return "document"
    if len(cleaned.encode()) <= MAX_NAME_BYTES:
        return cleaned
    suffix = Path(cleaned).suffix if len(Path(cleaned).suffix) <= 16 else ""
    stem = cleaned[: len(cleaned) - len(suffix)]
    while len((stem + suffix).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    return stem + suffix


def unique_stem(stem: str, taken: Callable[[str], bool]) -> str:
    """``stem``, or ``stem-2``, ``stem-3``... : the first for which ``taken`` is False."""
    if not taken(stem):
        return stem
    n = 2
    while taken(f"{stem}-{n}"):
        n += 1
    return f"{stem}-{n}"


def unique_name(name: str, taken: Callable[[str], bool]) -> str:
    """A file name like ``name`` (``a.pdf`` -> ``a-2.pdf``) for which ``taken`` is False."""
    path = Path(name)
    suffix = "".join(path.suffixes[-1:])
    stem = name[: len(name) - len(suffix)] if suffix else name
    return unique_stem(stem, lambda s: taken(s + suffix)) + suffix


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that no reader ever sees a partial file.

    Raises OutboxUnavailable when the disk refuses (full, read-only, permission).
    """
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
        fsync_dir(path.parent)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutboxUnavailable(f"cannot write {path}: {exc.strerror or exc}") from exc


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Outbox:
    """The folders a document ends up in. Used from one task at a time (the outbox stage)."""

    def __init__(self, outbox: Path, archive: Path, failed: Path) -> None:
        self.outbox = outbox
        self.archive = archive
        self.failed = failed

    def reserve_stem(self, source_name: str) -> str:
        """A stem whose ``.txt`` and ``.json`` do not exist yet in the outbox."""
        stem = Path(safe_name(source_name)).stem or "document"
        return unique_stem(
            stem,
            lambda s: (self.outbox / f"{s}.txt").exists() or (self.outbox / f"{s}.json").exists(),
        )

    def commit(self, stem: str, text: str, result: dict[str, Any]) -> tuple[Path, Path]:
        """Write the pair; the JSON last. Raises OutboxUnavailable."""
        txt = self.outbox / f"{stem}.txt"
        js = self.outbox / f"{stem}.json"
        write_atomic(txt, text.encode("utf-8"))
        faults.checkpoint("outbox.after_txt")
        write_atomic(js, (json.dumps(result, ensure_ascii=False, indent=2) + "\n").encode())
        return txt, js

    def discard(self, stem: str) -> None:
        """Remove what a failed ``commit`` left under ``stem`` (best effort)."""
        for suffix in (".json", ".txt"):
            with contextlib.suppress(OSError):
                (self.outbox / f"{stem}{suffix}").unlink()

    def archive_input(self, source: Path) -> Path:
        """Move a processed input into the archive under a name that does not clash."""
        return _move_unique(source, self.archive)

    def quarantine(self, source: Path, error: InboxOcrError, stage: str, document_id: str) -> Path:
        """Move an input to ``failed/`` and write ``<name>.error.json`` beside it."""
        target = _move_unique(source, self.failed)
        report = {
            "schema_version": SCHEMA_VERSION,
            "source": source.name,
            "document_id": document_id,
            "stage": stage,
            "error_class": type(error).__name__,
            "reason": error.reason,
            "retryable": error.retryable,
            "message": str(error),
            "failed_at": iso(time.time()),
        }
        write_atomic(
            target.with_name(target.name + ".error.json"),
            (json.dumps(report, ensure_ascii=False, indent=2) + "\n").encode(),
        )
        return target


def quarantined(failed: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Inputs in ``failed/`` with their error report (``{}`` when it is missing or unreadable)."""
    found = []
    for path in sorted(failed.iterdir()):
        if path.name.endswith(".error.json") or path.name.startswith("."):
            continue
        try:
            report = json.loads(path.with_name(path.name + ".error.json").read_text("utf-8"))
        except (OSError, ValueError):
            report = {}
        found.append((path, report if isinstance(report, dict) else {}))
    return found


def release(path: Path, inbox: Path) -> Path:
    """Move a quarantined input back into the inbox (``retry-failed``); drop its report."""
    target = _move_unique(path, inbox)
    with contextlib.suppress(FileNotFoundError):
        path.with_name(path.name + ".error.json").unlink()
    return target


def _move_unique(source: Path, folder: Path) -> Path:
    name = unique_name(
        safe_name(source.name),
        lambda n: (folder / n).exists() or (folder / (n + ".error.json")).exists(),
    )
    target = folder / name
    try:
        # The name was checked free just above and this process is the folder's only writer.
        source.rename(target)
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise OutboxUnavailable(f"cannot move {source} to {folder}: {exc.strerror}") from exc
        _copy_across_devices(source, target)
    fsync_dir(folder)
    return target


def _copy_across_devices(source: Path, target: Path) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with source.open("rb") as src, tmp.open("wb") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
            dst.flush()
            os.fsync(dst.fileno())
        tmp.replace(target)
        source.unlink()
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OutboxUnavailable(f"cannot move {source} to {target.parent}: {exc.strerror}") from exc
