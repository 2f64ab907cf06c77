"""Decide when a file in the inbox is complete enough to process. Pure: no I/O, injected clock.

Scanners and network copies write files page by page, so an event only says "look again".
A file is admitted when it has been seen with the same size and mtime for ``stable_seconds``,
is a non-empty regular file, and has a name that is not a temporary one. The caller stats the
file and feeds ``FileState`` values; the tracker only remembers and decides. A file the caller
finds not finished yet (``inbox_ocr.intake.completeness``) is put back with ``hold`` and a longer window;
any change to it starts over with the default one.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePath
from typing import NamedTuple

SUPPORTED_SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
TEMPORARY_PATTERNS = ("*.part", "*.tmp", "*.crdownload", "*.partial", "*.swp", "~$*", ".*")


def is_temporary_name(name: str) -> bool:
    """True for names a writer uses before the final rename (``.part``, ``~$x``, dot files)."""
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, pattern) for pattern in TEMPORARY_PATTERNS)


def is_candidate_name(name: str) -> bool:
    """True when a file with this name should be looked at at all.

    Unsupported suffixes are candidates too: they go to failed/ with a reason instead of
    lying in the inbox unexplained. Only temporary names are ignored (until renamed).
    """
    return bool(name) and not is_temporary_name(name)


@dataclass(frozen=True)
class FileState:
    """What one ``lstat`` saw. ``regular`` is False for symlinks, folders, fifos, sockets."""

    size: int
    mtime_ns: int
    regular: bool


class Ready(NamedTuple):
    """A file that has been quiet long enough: its state, and for how long (seconds)."""

    path: PurePath
    state: FileState
    quiet: float


@dataclass
class _Watch:
    state: FileState
    since: float
    window: float | None = None  # None: stable_seconds (or the empty-file window)


class StabilityTracker:
    """Remembers candidate files until they have been quiet for ``stable_seconds``.

    Not thread-safe: owned by the event loop's intake task.
    """

    def __init__(
        self, stable_seconds: float, clock: Callable[[], float], empty_factor: float = 5.0
    ) -> None:
        self._stable = stable_seconds
        # Scanners create the file before writing to it, so an empty file must stay empty
        # for much longer before it is admitted (and then rejected as empty).
        self._stable_empty = stable_seconds * empty_factor
        self._clock = clock
        self._watched: dict[PurePath, _Watch] = {}

    def __len__(self) -> int:
        return len(self._watched)

    def __contains__(self, path: object) -> bool:
        return path in self._watched

    def pending(self) -> list[PurePath]:
        return list(self._watched)

    def observe(self, path: PurePath, state: FileState | None) -> None:
        """Record what the file looks like now. ``None`` means it is gone."""
        if state is None or not state.regular:
            self._watched.pop(path, None)
            return
        watch = self._watched.get(path)
        if watch is None or watch.state != state:
            self._watched[path] = _Watch(state, self._clock())

    def forget(self, path: PurePath) -> None:
        self._watched.pop(path, None)

    def hold(self, ready: Ready, window: float) -> None:
        """Put a file that ``ready`` returned back, to be ready once quiet for ``window``
        seconds in all (counted from when it last changed). A change starts over."""
        self._watched[ready.path] = _Watch(ready.state, self._clock() - ready.quiet, window)

    def ready(self) -> list[Ready]:
        """Files unchanged for at least ``stable_seconds`` (or the window they are held for);
        they are removed from the tracker. A zero-byte file needs ``empty_factor`` times as
        long.
        """
        now = self._clock()
        admitted = [
            Ready(path, watch.state, now - watch.since)
            for path, watch in self._watched.items()
            if now >= self._deadline(watch)
        ]
        for item in admitted:
            del self._watched[item.path]
        return admitted

    def next_deadline(self) -> float | None:
        """Clock time at which the earliest watched file may become ready, None if none."""
        return min((self._deadline(w) for w in self._watched.values()), default=None)

    def _deadline(self, watch: _Watch) -> float:
        if watch.window is not None:
            return watch.since + watch.window
        return watch.since + (self._stable if watch.state.size else self._stable_empty)
