"""The watchdog adapter: file-system events become hints on the event loop.

The handler runs on watchdog's observer thread. It never blocks and never decides anything:
it hands the path to the event loop with ``loop.call_soon_threadsafe`` and returns. Events
are only hints; the intake re-reads the disk before admitting anything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from inbox_ocr.errors import StartupError

_INTERESTING = {"created", "modified", "moved", "closed"}


class _HintHandler(FileSystemEventHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, hint: Callable[[Path], None]) -> None:
        self._loop = loop
        self._hint = hint

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory or event.event_type not in _INTERESTING:
            return
        paths = [event.src_path]
        if event.event_type == "moved":
            paths = [event.dest_path]  # a rename from 'scan.pdf.part' to 'scan.pdf'
        for raw in paths:
            path = raw.decode() if isinstance(raw, bytes) else raw
            try:
                self._loop.call_soon_threadsafe(self._hint, Path(path))
            except RuntimeError:  # the loop is closed: we are shutting down
                return


def start_observer(
    inbox: Path,
    mode: str,
    recursive: bool,
    poll_seconds: float,
    hint: Callable[[Path], None],
) -> BaseObserver:
    """Start watching ``inbox``; ``hint`` is called on the running loop for each event.

    ``mode``: 'events' and 'auto' use the kernel's notifications (inotify); 'polling' uses
    watchdog's polling observer, for network shares that deliver no events.
    Raises StartupError when the observer cannot start (inotify limits, missing folder).
    """
    loop = asyncio.get_running_loop()
    observer: BaseObserver = (
        PollingObserver(timeout=poll_seconds) if mode == "polling" else Observer()
    )
    observer.schedule(_HintHandler(loop, hint), str(inbox), recursive=recursive)
    try:
        observer.start()
    except OSError as exc:
        raise StartupError(f"cannot watch {inbox}: {exc}") from exc
    return observer
