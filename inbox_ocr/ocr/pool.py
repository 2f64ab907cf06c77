"""The OCR pools: worker processes (the daemon's), and worker threads (tests, tools).

OCR in worker processes: a crash or hang in native engine code costs one page, not the daemon.

``ProcessEnginePool`` keeps ``ocr.workers`` child processes, each holding one engine built by
the factory it is given (``inbox_ocr.document.engine_factory_for``), so the engine stays loaded
between pages. A page goes to an idle child over a pipe as raw pixels; the text comes back.
When a child dies (segfault, OOM kill) or does not answer within
``limits.ocr_seconds_per_page``, it is killed and replaced and the page raises
``EngineCrashed`` (retryable: the document is tried again later, up to
``retry.max_attempts``); the other children and documents go on.

``EnginePool`` has the same interface with worker threads in this process (tests of the
pipeline that bring engines of their own). Children are started with the ``spawn`` method:
the daemon has threads (watchdog, the model's supervisor), which ``fork`` must not copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import TypeVar

from PIL import Image

from inbox_ocr import faults
from inbox_ocr.child import ChildDied, ChildTimedOut, PipedChild
from inbox_ocr.errors import EngineCrashed, InboxOcrError, StartupError
from inbox_ocr.ocr.api import OcrEngine, OcrResult
from inbox_ocr.ops import audit
from inbox_ocr.threads import run_in

log = audit.get_logger()
T = TypeVar("T")

START_TIMEOUT_S = 120.0
M_MMAP_THRESHOLD = -3  # glibc mallopt parameter
PAGE_BUFFER_THRESHOLD = 1 << 20
#: An OCR worker trims its heap (``trim_heap``) when no page has come this long after its
#: last one: between the pages of a batch it keeps its memory, and an idle daemon's workers
#: give it back.
IDLE_TRIM_S = 1.0


def release_big_buffers() -> None:
    """Make glibc return page-sized buffers to the system when they are freed (daemon process).

    A page image is 4-25 MB and is copied a few times on its way to an OCR worker. glibc's
    malloc raises its mmap threshold after such blocks are freed, so later ones come from the
    heap, which fragments across the pool's thread arenas and never shrinks: measured here,
    the daemon's memory grew from 190 to 350 MiB over a 100-page PDF. A fixed 1 MiB threshold
    keeps every page buffer in its own mapping, unmapped on free (118 MiB for the same PDF).
    Not for the OCR workers (see ``trim_heap``). No-op where the C library is not glibc.
    """
    try:
        libc = ctypes.CDLL(None)
        libc.mallopt(M_MMAP_THRESHOLD, PAGE_BUFFER_THRESHOLD)
    except (OSError, AttributeError):
        pass


def trim_heap() -> None:
    """Give the memory freed while reading pages back to the system (an idle OCR worker).

    The workers keep glibc's dynamic mmap threshold: RapidOCR's ONNX Runtime sessions run
    without a memory arena and allocate and free tens of MB per layer, and with the fixed 1 MiB
    threshold each of those became a fresh mapping: 5.6 s per SROIE receipt instead of 1.8 s
    (sys time 5.5 s per page). Trimming brings a RapidOCR worker back to about 180 MiB (about
    600 MiB without, flat over 40 receipts; peak about 1.1 GB on the largest receipts either
    way), but the next page faults those pages in again: trimmed after every page, 12
    sroie-dev receipts took 2.12 s each instead of 1.56 s (``IDLE_TRIM_S``). No-op where the
    C library is not glibc.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).malloc_trim(0)


@dataclass(frozen=True)
class _Page:
    """What travels to a child: the pixels, not a pickled PIL object."""

    mode: str
    size: tuple[int, int]
    data: bytes


def _child_main(factory: Callable[[], OcrEngine], conn: Connection) -> None:
    """Entry point of a worker process: build the engine, then answer pages until EOF.

    SIGINT/SIGTERM are ignored: systemd (KillMode=control-group) and a terminal's Ctrl-C
    signal the whole group, but only the daemon decides when its workers stop (it closes the
    pipe after the drain), so a graceful shutdown still finishes the pages in flight.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        engine = factory()
    except BaseException as exc:
        conn.send(("error", exc if isinstance(exc, InboxOcrError) else StartupError(repr(exc))))
        return
    conn.send(("ready", engine.name, engine.version))
    try:
        serve(engine, conn)
    finally:
        engine.close()


def serve(engine: OcrEngine, conn: Connection, idle: float = IDLE_TRIM_S,
          trim: Callable[[], None] = trim_heap) -> None:
    """Answer pages from ``conn`` until EOF (a worker's loop): each page's ``OcrResult``, or
    the error that fails it. ``trim`` runs once the worker has been idle ``idle`` seconds
    after a page."""
    while True:
        if not conn.poll(idle):
            trim()
        try:
            page: _Page = conn.recv()
        except EOFError:
            return
        faults.checkpoint("ocr.worker.crash")
        faults.checkpoint("ocr.worker.hang")
        image = Image.frombytes(page.mode, page.size, page.data)
        try:
            conn.send(("ok", engine.recognize(image)))
        except InboxOcrError as exc:
            conn.send(("error", exc))
        except Exception as exc:  # an engine raising something odd fails the page only
            conn.send(("error", EngineCrashed(f"{type(exc).__name__}: {exc}")))
        finally:
            image.close()


class _Child(PipedChild):
    """One worker process and our end of its pipe. Used by one thread at a time."""

    def __init__(self, factory: Callable[[], OcrEngine]) -> None:
        super().__init__(_child_main, (factory,), "inbox-ocr-ocr")
        try:
            message = self.receive(START_TIMEOUT_S)
        except ChildTimedOut:
            raise StartupError(f"OCR worker did not start within {START_TIMEOUT_S:g} s"
                               ) from None
        except ChildDied:
            raise StartupError(f"OCR worker exited at start (code {self.process.exitcode})"
                               ) from None
        if message[0] == "error":
            self.kill()
            raise message[1]
        self.name, self.version = message[1], message[2]

    def recognize(self, page: _Page, timeout: float) -> OcrResult:
        """Raises EngineCrashed if the child dies or hangs (it is then dead: replace it)."""
        try:
            status, value = self.ask(page, timeout)
        except ChildTimedOut:
            raise EngineCrashed(f"OCR took longer than limits.ocr_seconds_per_page "
                                f"({timeout:g} s); the worker was replaced") from None
        except ChildDied as exc:
            raise EngineCrashed(f"OCR worker died (exit code {self.process.exitcode}); "
                                "it was replaced") from exc
        if status == "error":
            raise value
        result: OcrResult = value
        return result


class ProcessEnginePool:
    """``workers`` OCR processes. ``start`` (raises StartupError/ConfigError), ``recognize``
    from the event loop, ``close`` at shutdown. Dead children are replaced lazily."""

    def __init__(self, factory: Callable[[], OcrEngine], workers: int, page_timeout: float
                 ) -> None:
        self._factory = factory
        self._workers = workers
        self._timeout = page_timeout
        self._idle: asyncio.Queue[_Child | None] = asyncio.Queue()
        self._children: list[_Child] = []
        # One thread per child waits on its pipe, so the event loop never blocks.
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ocr")
        # Tesseract's own OpenMP threads fight with our processes; one each is fastest.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.name = ""
        self.version = ""
        self.replaced = 0

    @property
    def workers(self) -> int:
        return self._workers

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        results = await asyncio.gather(
            *(loop.run_in_executor(self._executor, _Child, self._factory)
              for _ in range(self._workers)),
            return_exceptions=True)
        children = [r for r in results if isinstance(r, _Child)]
        self._children = children
        for result in results:
            if isinstance(result, BaseException):
                raise result
        for child in children:
            self._idle.put_nowait(child)
        self.name, self.version = children[0].name, children[0].version

    async def recognize(self, image: Image.Image) -> OcrResult:
        page = _Page(image.mode, image.size, image.tobytes())
        child = await self._idle.get()
        if child is None or not child.alive:
            child = await self._replace(child)
        try:
            if child is None:
                raise EngineCrashed("no OCR worker could be started; will retry")
            return await run_in(self._executor, child.recognize, page, self._timeout)
        except EngineCrashed as exc:
            log.warning(audit.OCR_WORKER_REPLACED, error=str(exc))
            child = await self._replace(child)
            raise
        finally:
            self._idle.put_nowait(child)

    async def _replace(self, dead: _Child | None) -> _Child | None:
        """A fresh child in place of ``dead``; None (retried on next use) if it cannot start."""
        if dead is not None:
            with contextlib.suppress(ValueError):
                self._children.remove(dead)
        try:
            child = await run_in(self._executor, _Child, self._factory)
        except InboxOcrError as exc:
            log.error(audit.OCR_WORKER_REPLACED, error=f"replacement failed: {exc}")
            return None
        self._children.append(child)
        self.replaced += 1
        return child

    def close(self) -> None:
        for child in self._children:
            child.stop()
        self._children = []
        self._executor.shutdown(wait=True, cancel_futures=True)


class EnginePool:
    """A fixed set of worker threads, each with its own engine instance.

    ``start()`` builds every engine (so a broken engine fails start-up, not the first page);
    ``recognize`` runs on a worker thread and returns to the event loop; ``close`` frees them.
    """

    def __init__(self, factory: Callable[[], OcrEngine], workers: int) -> None:
        self._factory = factory
        self._workers = workers
        self._local = threading.local()
        self._engines: list[OcrEngine] = []
        self._lock = threading.Lock()
        # Tesseract's own OpenMP threads fight with ours; one each is fastest in parallel.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="ocr")
        self.name = ""
        self.version = ""

    @property
    def workers(self) -> int:
        return self._workers

    def _engine(self) -> OcrEngine:
        engine: OcrEngine | None = getattr(self._local, "engine", None)
        if engine is None:
            engine = self._factory()
            self._local.engine = engine
            with self._lock:
                self._engines.append(engine)
        return engine

    async def start(self) -> None:
        barrier = threading.Barrier(self._workers, timeout=120)

        def warm() -> OcrEngine:
            engine = self._engine()
            barrier.wait()  # make sure every thread builds its own engine
            return engine

        loop = asyncio.get_running_loop()
        engines = await asyncio.gather(
            *(loop.run_in_executor(self._executor, warm) for _ in range(self._workers))
        )
        self.name, self.version = engines[0].name, engines[0].version

    async def recognize(self, image: Image.Image) -> OcrResult:
        return await self.run(lambda: self._engine().recognize(image))

    async def run(self, fn: Callable[[], T]) -> T:
        return await run_in(self._executor, fn)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            engines, self._engines = self._engines, []
        for engine in engines:
            engine.close()
