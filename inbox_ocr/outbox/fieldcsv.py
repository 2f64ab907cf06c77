"""``outbox/fields.csv``: one row of key fields per document, for spreadsheet users.

Written only with ``[fields] csv = true``. The row is built by pure functions (``csv_header``,
``csv_row``); ``append_row`` does the I/O: the file is created with its header and first row in
one write (``O_EXCL``), later rows are appended each with a single ``write`` on an ``O_APPEND``
descriptor and fsynced, so a reader never sees half a row from this writer (the outbox stage is
the only one). Raises OutboxUnavailable when the disk refuses. The ``.json`` stays the
reference: after a crash between the ``.json`` and this append, start-up recovery calls
``restore_row``, which appends the row from the ``.json`` unless the file already has it.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from inbox_ocr.errors import OutboxUnavailable
from inbox_ocr.fields import FIELD_NAMES

CSV_NAME = "fields.csv"
# Cells a spreadsheet would run as a formula; such text cells get a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_header() -> list[str]:
    columns = ["document", "source", "sha256"]
    for name in FIELD_NAMES:
        columns += [name, f"{name}_valid"]
    return columns


def csv_row(stem: str, source: str, sha256: str,
            fields: Mapping[str, Mapping[str, Any] | None]) -> list[str]:
    """One document's row: its outbox stem, input name, hash, then value and valid per field
    (empty when the field was not found)."""
    row = [_text(stem), _text(source), sha256]
    for name in FIELD_NAMES:
        item = fields.get(name)
        if item is None:
            row += ["", ""]
        else:
            value = str(item.get("value", ""))
            numeric = name in {"total", "subtotal", "tax"}
            row += [value if numeric else _text(value), "true" if item.get("valid") else "false"]
    return row


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def _encode(*rows: list[str]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8")


def append_row(path: Path, row: list[str]) -> None:
    """Append ``row`` to the CSV at ``path``, creating it with the header. Raises
    OutboxUnavailable."""
    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
            data = _encode(csv_header(), row)
        except FileExistsError:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
            data = _encode(row)
        try:
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write to {path} ({written} of {len(data)} bytes)")
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        raise OutboxUnavailable(f"cannot append to {path}: {exc.strerror or exc}") from exc


def restore_row(path: Path, result: Path) -> bool:
    """Append the row of the outbox result ``result`` (a ``.json``) to the CSV at ``path``
    unless a row for that document is there already. Returns True when it appended one.

    For start-up recovery (a crash after the result's commit, before or after its row).
    Raises OutboxUnavailable when either file cannot be read or the CSV cannot be written.
    """
    stem = result.stem
    try:
        data = json.loads(result.read_text(encoding="utf-8"))
        if path.exists():
            with path.open(encoding="utf-8", newline="") as existing:
                if any(row and row[0] == _text(stem) for row in csv.reader(existing)):
                    return False
    except (OSError, ValueError) as exc:
        raise OutboxUnavailable(f"cannot restore the {path.name} row of {stem}: {exc}") from exc
    source = data.get("source", {})
    append_row(path, csv_row(stem, str(source.get("name", "")), str(source.get("sha256", "")),
                             data.get("fields") or {}))
    return True
