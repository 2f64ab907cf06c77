"""Run the real Service in-process and await its outcomes (no fixed sleeps)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from inbox_ocr.config import Settings, load_settings
from inbox_ocr.errors import ExitCode
from inbox_ocr.ops import audit
from inbox_ocr.records import Document, Outcome
from inbox_ocr.service import Parts, Service, build_parts

T = TypeVar("T")
TIMEOUT = 60.0


class Harness:
    def __init__(self, config: Path, oneshot: bool = False,
                 build: Callable[[Settings], Parts] = build_parts) -> None:
        self.outcomes: asyncio.Queue[tuple[Document, Outcome]] = asyncio.Queue()
        self.seen: list[tuple[str, Outcome]] = []
        self.callbacks: list[Callable[[Document, Outcome], None]] = []
        self.service = Service(load_settings(config, {}), oneshot=oneshot, listener=self._on,
                               build=build)
        self.task: asyncio.Task[ExitCode] | None = None

    def _on(self, document: Document, outcome: Outcome) -> None:
        self.seen.append((document.path.name, outcome))
        self.outcomes.put_nowait((document, outcome))
        for callback in self.callbacks:
            callback(document, outcome)

    async def start(self) -> None:
        self.task = asyncio.create_task(self.service.serve())
        ready = asyncio.create_task(self.service.ready.wait())
        await asyncio.wait({ready, self.task}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        if self.task.done():
            self.task.result()  # start-up failed: raise it here
        assert self.service.ready.is_set(), "daemon did not become ready"

    async def next(self, timeout: float = TIMEOUT) -> tuple[Document, Outcome]:
        return await asyncio.wait_for(self.outcomes.get(), timeout)

    async def stop(self, timeout: float = TIMEOUT) -> ExitCode:
        assert self.task is not None
        if not self.task.done():
            self.service.handle_exit()
        return await asyncio.wait_for(self.task, timeout)


def run(main: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(main())  # type: ignore[arg-type]


def first_outcome(config: Path) -> Outcome:
    """Start the daemon, wait for the outcome of the first document, stop it."""
    async def main() -> Outcome:
        daemon = Harness(config)
        await daemon.start()
        _document, outcome = await daemon.next()
        await daemon.stop()
        return outcome

    return run(main)


class AuditEvents:
    """Audit events as they happen (an audit observer), awaitable from the event loop."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[str, dict[str, object]]] = asyncio.Queue()

    def __enter__(self) -> AuditEvents:
        audit.add_observer(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        audit.remove_observer(self)

    def __call__(self, name: str, event: object) -> None:
        fields = dict(event) if isinstance(event, dict) else {}
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (name, fields))

    async def until(self, name: str, timeout: float = TIMEOUT) -> dict[str, object]:
        """The next event called ``name``."""
        async def wait() -> dict[str, object]:
            while True:
                seen, fields = await self._queue.get()
                if seen == name:
                    return fields

        return await asyncio.wait_for(wait(), timeout)
