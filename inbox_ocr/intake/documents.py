"""A file admitted from the inbox becomes a ``Document``: its content hash and its id."""

from __future__ import annotations

import hashlib
import itertools
from pathlib import Path

from inbox_ocr.records import Document

_SEQUENCE = itertools.count(1)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def make_document(path: Path, size: int, mtime_ns: int, received_at: float) -> Document:
    """Hash the file and build its record (worker thread). Raises OSError if unreadable."""
    sha = sha256_file(path)
    return Document(
        id=f"{sha[:12]}-{next(_SEQUENCE)}",
        path=path,
        sha256=sha,
        size=size,
        mtime_ns=mtime_ns,
        received_at=received_at,
    )
