"""Is a file in the inbox finished? Cheap signs from its first and last bytes. Pure, but for
``read_ends``.

Scanners and network copies write a file in chunks and may pause between them for longer than
any stability window, so "size and mtime unchanged for a while" is necessary, not enough. Three
of the inbox's formats say where they end:

- PDF: ``%%EOF`` in the last 1024 bytes (where readers look for it);
- JPEG: the end-of-image marker ``FF D9`` at the end (NUL padding allowed);
- PNG: the ``IEND`` chunk at the end.

A file of one of those formats that lacks its end is *unfinished*: the intake waits for it
(``watch.unfinished_seconds``) and a read error on it is "not finished yet"
(``InputChanged``), never "corrupt". TIFF and anything else cannot be told this way: they are
*unmarked* and wait for the longer quiet window ``watch.unmarked_stable_seconds`` instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

HEAD_BYTES = 8
TAIL_BYTES = 1024


class Ending(Enum):
    COMPLETE = "complete"  # the format's end marker is there
    UNFINISHED = "unfinished"  # a format with an end marker, and the marker is missing
    UNMARKED = "unmarked"  # a format (TIFF, unknown) whose end cannot be seen


@dataclass(frozen=True)
class Verdict:
    ending: Ending
    reason: str = ""  # for UNFINISHED: what is missing, e.g. "no %%EOF trailer"


def judge(head: bytes, tail: bytes) -> Verdict:
    """What the first ``HEAD_BYTES`` and the last ``TAIL_BYTES`` of a file say about its end."""
    if head.startswith(b"%PDF"):
        if b"%%EOF" in tail:
            return Verdict(Ending.COMPLETE)
        return Verdict(Ending.UNFINISHED, "a PDF without its %%EOF trailer")
    if head.startswith(b"\xff\xd8\xff"):
        if tail.rstrip(b"\x00").endswith(b"\xff\xd9"):
            return Verdict(Ending.COMPLETE)
        return Verdict(Ending.UNFINISHED, "a JPEG without its end-of-image marker")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if b"IEND" in tail[-64:]:
            return Verdict(Ending.COMPLETE)
        return Verdict(Ending.UNFINISHED, "a PNG without its IEND chunk")
    return Verdict(Ending.UNMARKED)


def read_ends(path: Path) -> tuple[bytes, bytes]:
    """The first and last bytes of ``path`` (a worker thread; raises OSError)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        head = os.pread(fd, HEAD_BYTES, 0)
        size = os.fstat(fd).st_size
        tail = os.pread(fd, TAIL_BYTES, max(0, size - TAIL_BYTES))
    finally:
        os.close(fd)
    return head, tail


def judge_file(path: Path) -> Verdict:
    """``judge`` on the file at ``path`` (a worker thread; raises OSError)."""
    return judge(*read_ends(path))
