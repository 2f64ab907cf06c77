"""Intake: decide which files in the inbox to process, and hand them to the pipeline once.

Events are hints, the disk is the truth. The intake scans the inbox at start-up and every
``watch.rescan_seconds``, takes hints from the watcher, re-stats what it tracks, and admits a
file through the stability gate: quiet for ``watch.stable_seconds`` with its end in place (PDF,
JPEG, PNG; ``inbox_ocr.intake.completeness``), or quiet for ``watch.unmarked_stable_seconds`` where the
format cannot show its end (TIFF). A file without its end waits, once announced by a
``document.waiting`` event, until it is complete or unchanged for ``watch.unfinished_seconds``.
An in-flight set makes sure a file that is touched while it is
being processed is not queued twice; a file left in the inbox after a transient error is looked
at again after a growing delay (``retry.backoff_seconds``, doubling up to
``retry.max_backoff_seconds``). Symlinks, fifos and sockets are never followed or read: they are
moved to failed/ with the reason ``not_regular_file``.

Runs as one task on the event loop; the only blocking work (hashing) goes to a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path, PurePath

from inbox_ocr.errors import InboxOcrError, NotRegularFile
from inbox_ocr.intake.completeness import Ending, judge_file
from inbox_ocr.intake.documents import make_document
from inbox_ocr.intake.stability import FileState, Ready, StabilityTracker, is_candidate_name
from inbox_ocr.ops import audit
from inbox_ocr.records import Document, Outcome

log = audit.get_logger()


def file_state(path: Path) -> FileState | None:
    """``lstat`` without following links; None when the file is gone."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    return FileState(st.st_size, st.st_mtime_ns, stat.S_ISREG(st.st_mode))


class Intake:
    """Feeds admitted documents to ``submit``.

    ``hint(path)`` must be called on the event loop (the watcher uses call_soon_threadsafe).
    ``run()`` returns when ``stop()`` is called, or, in oneshot mode, when the inbox holds
    nothing more to process and everything admitted has finished.
    """

    def __init__(
        self,
        inbox: Path,
        *,
        stable_seconds: float,
        unmarked_stable_seconds: float | None = None,
        unfinished_seconds: float = 0.0,
        rescan_seconds: float,
        recursive: bool,
        submit: Callable[[Document], Awaitable[None]],
        reject: Callable[[Document, InboxOcrError], Awaitable[None]] | None = None,
        backoff_seconds: float = 5.0,
        max_backoff_seconds: float = 300.0,
        oneshot: bool = False,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        health: Callable[[], None] = lambda: None,
    ) -> None:
        self._inbox = inbox
        self._rescan = rescan_seconds
        self._recursive = recursive
        self._submit = submit
        self._reject = reject
        self._backoff = backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._oneshot = oneshot
        self._clock = clock
        self._wallclock = wallclock
        self._health = health
        self._stable = stable_seconds
        self._windows = {
            Ending.COMPLETE: stable_seconds,
            Ending.UNMARKED: max(stable_seconds, unmarked_stable_seconds or 0.0),
            Ending.UNFINISHED: max(stable_seconds, unfinished_seconds),
        }
        self._waiting: set[Path] = set()  # announced as unfinished (document.waiting) once
        self._tracker = StabilityTracker(stable_seconds, clock)
        self._hints: set[Path] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._in_flight: dict[Path, Document] = {}
        self._retry_at: dict[Path, float] = {}
        self._attempts: dict[Path, int] = {}
        self._irregular: set[Path] = set()  # rejected already; forgotten once gone
        self.deferred: set[Path] = set()

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def hint(self, path: Path) -> None:
        self._hints.add(path)
        self._wake.set()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()

    def on_outcome(self, document: Document, outcome: Outcome) -> None:
        """Called by the pipeline once a document is finished (on the event loop)."""
        self._in_flight.pop(document.path, None)
        if outcome is Outcome.DEFERRED:
            attempts = self._attempts.get(document.path, 0) + 1
            self._attempts[document.path] = attempts
            delay = min(self._max_backoff, self._backoff * 2 ** (attempts - 1))
            self._retry_at[document.path] = self._clock() + delay
            self.deferred.add(document.path)
        else:
            self._attempts.pop(document.path, None)
            self._retry_at.pop(document.path, None)
            self.deferred.discard(document.path)
        self._wake.set()

    def forget(self, documents: list[Document]) -> None:
        """Documents handed back by the pipeline unstarted (shutdown): no longer in flight."""
        for document in documents:
            self._in_flight.pop(document.path, None)

    async def run(self) -> None:
        self._scan()
        next_rescan = self._clock() + self._rescan
        while not self._stopping:
            self._health()
            now = self._clock()
            if self._rescan and now >= next_rescan:
                self._scan()
                next_rescan = now + self._rescan
            self._observe(self._take_hints())
            self._observe(self._tracker.pending())
            for ready in self._tracker.ready():
                await self._admit(ready)
            for path in self._take_irregular():
                await self._refuse(path)
            if self._oneshot and self._drained():
                self._scan()
                if self._drained():
                    return
                continue
            await self._sleep(next_rescan)

    def _drained(self) -> bool:
        return not (len(self._tracker) or self._in_flight or self._hints)

    async def _sleep(self, next_rescan: float) -> None:
        deadlines = [self._tracker.next_deadline(), *self._retry_at.values()]
        if self._rescan:
            deadlines.append(next_rescan)
        now = self._clock()
        # Wake at least once a second to check health and re-stat files that are growing.
        timeout = min([d - now for d in deadlines if d is not None] + [1.0])
        self._wake.clear()
        if self._hints or self._stopping:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=max(0.01, timeout))

    def _take_hints(self) -> list[Path]:
        hints, self._hints = self._hints, set()
        return [p for p in hints if self._wanted(p)]

    def _wanted(self, path: Path) -> bool:
        if path in self._in_flight or not is_candidate_name(path.name):
            return False
        if not self._recursive and path.parent != self._inbox:
            return False
        retry = self._retry_at.get(path)
        if retry is not None:
            if self._oneshot or self._clock() < retry:
                return False
            del self._retry_at[path]
        return True

    def _observe(self, paths: Iterable[PurePath]) -> None:
        for path in paths:
            state = file_state(Path(path))
            self._tracker.observe(path, state)
            if state is None:
                self._irregular.discard(Path(path))
                self._waiting.discard(Path(path))
            elif not state.regular and _is_special(Path(path)):
                self._irregular.add(Path(path))

    def _take_irregular(self) -> list[Path]:
        """Special files not refused yet (each is refused once; it then leaves the inbox)."""
        return [p for p in self._irregular if p not in self._in_flight]

    async def _refuse(self, path: Path) -> None:
        if self._reject is None:
            return
        document = Document(id=f"special-{abs(hash(path)) % 10**8}", path=path, sha256="",
                            size=0, mtime_ns=0, received_at=self._wallclock())
        self._in_flight[path] = document
        await self._reject(document, NotRegularFile(
            "a symlink, fifo, socket or device file; inbox-ocr never follows or reads those"))
        self._irregular.discard(path)

    def _scan(self) -> None:
        """Look at every file in the inbox: events may have been missed (network shares)."""
        for path in self._list_inbox():
            if path not in self._tracker and self._wanted(path):
                self._observe([path])

    def _list_inbox(self) -> list[Path]:
        found: list[Path] = []
        stack = [self._inbox]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError as exc:
                log.warning(audit.WATCHER_ERROR, folder=str(folder), error=str(exc))
                continue
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if self._recursive and is_candidate_name(entry.name):
                        stack.append(Path(entry.path))
                else:
                    found.append(Path(entry.path))
        return found

    async def _admit(self, ready: Ready) -> None:
        path, state = Path(ready.path), ready.state
        try:
            verdict = await asyncio.to_thread(judge_file, path)
        except OSError:
            return  # vanished or unreadable right now; a later scan will see it again
        window = self._windows[verdict.ending]
        if ready.quiet < window:
            if verdict.ending is Ending.UNFINISHED and path not in self._waiting:
                self._waiting.add(path)
                log.info(audit.DOCUMENT_WAITING, source=path.name, reason=verdict.reason,
                         wait_s=round(window - ready.quiet, 1),
                         hint="looks unfinished: waiting for the writer (watch.unfinished_seconds)")
            self._tracker.hold(ready, window)
            return
        self._waiting.discard(path)
        try:
            document = await asyncio.to_thread(
                make_document, path, state.size, state.mtime_ns, self._wallclock()
            )
        except OSError:
            return  # vanished or unreadable right now; a later scan will see it again
        now = file_state(path)
        if now != state:
            self._tracker.observe(path, now)  # changed while hashing
            return
        self._in_flight[path] = document
        log.info(audit.DOCUMENT_ADMITTED, document_id=document.id, stage="intake",
                 source=path.name, sha256=document.sha256, size=document.size)
        await self._submit(document)


def _is_special(path: Path) -> bool:
    """A symlink, fifo, socket or device (not a folder, which the scan handles)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return not (stat.S_ISDIR(mode) or stat.S_ISREG(mode))
