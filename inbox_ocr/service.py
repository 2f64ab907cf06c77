"""The lifecycle owner: start everything, announce ready, wait for a stop, drain, shut down.

``Service.serve()`` reads top to bottom. Signal handlers only call ``handle_exit``: the first
SIGTERM/SIGINT starts a graceful drain (intake stops, in-flight documents finish within
``pipeline.drain_timeout``), a second one cancels what is left at once. Unstarted documents stay
in the inbox for next time; the outbox never holds a partial file because every result is
written atomically and its commit is shielded from cancellation. SIGHUP only calls
``handle_reload``; the loop below re-reads the config between waits (inbox_ocr.reload says what
applies live). The supervisor (inbox_ocr.ops.reporter) reports to systemd while the daemon runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any

from inbox_ocr import reload
from inbox_ocr.config import Settings
from inbox_ocr.correct.corrector import Corrector
from inbox_ocr.correct.process import make_corrector
from inbox_ocr.document import engine_factory_for
from inbox_ocr.errors import ConfigError, ExitCode, StartupError, TransientError
from inbox_ocr.intake.documents import sha256_file
from inbox_ocr.intake.intake import Intake
from inbox_ocr.intake.watcher import start_observer
from inbox_ocr.ocr.pool import ProcessEnginePool, release_big_buffers
from inbox_ocr.ops import audit
from inbox_ocr.ops.notify import Notifier
from inbox_ocr.ops.reporter import Supervisor
from inbox_ocr.outbox.fieldcsv import CSV_NAME, restore_row
from inbox_ocr.outbox.files import Outbox
from inbox_ocr.outbox.journal import Journal
from inbox_ocr.pipeline import Engines, Pipeline
from inbox_ocr.records import Document, Outcome

log = audit.get_logger()

HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def prepare_folders(settings: Settings) -> None:
    """Create the folders and remove temporary files a crash may have left in the outbox."""
    paths = settings.paths
    for folder in (paths.inbox, paths.outbox, paths.archive, paths.failed, paths.state):
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StartupError(f"cannot create {folder}: {exc.strerror}") from exc
    for folder in (paths.outbox, paths.archive, paths.failed):
        for leftover in folder.glob(".*.tmp-*"):
            with contextlib.suppress(OSError):
                leftover.unlink()


def make_engines(settings: Settings) -> Engines:
    """The OCR pool: one engine per worker process (crash and hang isolation)."""
    release_big_buffers()  # page images pass through this process too
    # Checks the engine's settings before any process starts; each worker builds from it.
    factory = engine_factory_for(settings)
    return ProcessEnginePool(factory, settings.ocr.worker_count(),
                             settings.limits.ocr_seconds_per_page)


@dataclass
class Parts:
    """What a run is made of besides its pipeline and intake. ``build_parts`` is the
    composition root; tests hand ``Service(build=...)`` parts of their own."""

    engines: Engines
    corrector: Corrector
    journal: Journal


def build_parts(settings: Settings) -> Parts:
    """The OCR pool, the model process and the journal, as the settings say. Nothing starts
    here: ``Service`` starts them in order and closes them. Raises ConfigError."""
    # The packaged model is assembled inside the state folder (StateDirectory=), not in a home.
    corrector = make_corrector(settings, packaged_dir=settings.paths.state / "models")
    return Parts(make_engines(settings), corrector, Journal(settings.journal))


def recover(settings: Settings, journal: Journal) -> None:
    """Finish or roll back what a crash interrupted (see ``inbox_ocr.outbox.journal``), before intake."""
    paths = settings.paths
    outbox = Outbox(paths.outbox, paths.archive, paths.failed)

    def inbox_file(name: str, sha256: str) -> Path | None:
        path = paths.inbox / name
        try:
            return path if path.is_file() and sha256_file(path) == sha256 else None
        except OSError:
            return None

    def restore_csv_row(stem: str) -> bool:
        try:
            return restore_row(paths.outbox / CSV_NAME, paths.outbox / f"{stem}.json")
        except TransientError as exc:  # the .json holds the fields; the CSV is a copy
            log.warning(audit.INTERNAL_ERROR, stage="fields_csv", error=str(exc))
            return False

    done = journal.recover(paths.outbox, inbox_file, outbox.archive_input,
                           restore_csv_row if settings.fields.csv else None)
    if any(dataclasses.astuple(done)):
        log.warning(audit.JOURNAL_RECOVERED, **dataclasses.asdict(done))


class Service:
    """Runs the daemon until stopped (or, with ``oneshot``, until the inbox is drained).

    ``listener`` is called on the event loop with each document's outcome (tests await it).
    ``build`` makes the parts from the settings (``build_parts``; tests pass their own).
    ``ready`` is set once the engines, the corrector, the pipeline and the watcher are up.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        oneshot: bool = False,
        notifier: Notifier | None = None,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
        listener: Callable[[Document, Outcome], None] | None = None,
        build: Callable[[Settings], Parts] = build_parts,
    ) -> None:
        self.settings = settings
        self.build = build
        self.listener = listener
        self.oneshot = oneshot
        self.notifier = notifier or Notifier()
        self.clock = clock
        self.wallclock = wallclock
        self.pipeline: Pipeline | None = None
        self.intake: Intake | None = None
        self._should_exit: asyncio.Event | None = None
        self._force_exit: asyncio.Event | None = None
        self._reload_requested = asyncio.Event()
        self.supervisor = Supervisor(settings, self.notifier, clock=clock, wallclock=wallclock)
        self.ready = asyncio.Event()

    def handle_exit(self, sig: int | None = None) -> None:
        """Signal handler: first call drains, second call forces."""
        assert self._should_exit is not None and self._force_exit is not None
        if self._should_exit.is_set():
            self._force_exit.set()
        self._should_exit.set()

    def handle_reload(self, sig: int | None = None) -> None:
        """SIGHUP handler: the serve loop re-reads the config."""
        self._reload_requested.set()

    def install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in HANDLED_SIGNALS:
            loop.add_signal_handler(sig, self.handle_exit, sig)
        loop.add_signal_handler(signal.SIGHUP, self.handle_reload, signal.SIGHUP)

    async def serve(self) -> ExitCode:
        """Build, start, announce ready, serve until stopped, drain, stop. Returns the exit
        code; raises ConfigError/StartupError before READY when a part cannot start."""
        settings = self._settings_for_run()
        self._should_exit, self._force_exit = asyncio.Event(), asyncio.Event()
        log.info(audit.DAEMON_STARTING, config=str(settings.source), inbox=str(settings.paths.inbox),
                 oneshot=self.oneshot, engine=settings.ocr.engine,
                 workers=settings.ocr.worker_count())
        prepare_folders(settings)
        parts = self.build(settings)
        observer: Any = None
        try:
            await self._start(settings, parts)
            pipeline, intake = self._wire(settings, parts, lambda: _check_observer(observer))
            pipeline.start()
            if not self.oneshot:
                observer = start_observer(settings.paths.inbox, settings.watch.mode,
                                          settings.watch.recursive, settings.watch.poll_seconds,
                                          intake.hint)
            intake_task = asyncio.create_task(intake.run(), name="intake")
            self.supervisor.attach(
                depths=pipeline.depths, in_flight=lambda: intake.in_flight,
                healthy=lambda: not intake_task.done() and _alive(pipeline.tasks, observer),
                corrector=parts.corrector.name)
            self._announce_ready(settings, parts)

            await self._serve_until_stopped(pipeline, intake_task)

            await self.supervisor.stop()
            self.notifier.stopping()
            log.info(audit.DAEMON_STOPPING, signal=self._should_exit.is_set(),
                     in_flight=intake.in_flight, queues=pipeline.depths())
            failure = await self._stop_intake(intake, intake_task)
            failure = await self._drain(pipeline) or failure
        finally:
            await self._close(parts, observer)

        counters = pipeline.counters
        # What is really still there: a deferred input may have been moved away since.
        left = sorted(str(p.name) for p in intake.deferred if p.exists())
        log.info(audit.DAEMON_STOPPED, processed=counters.processed, failed=counters.failed,
                 deferred=counters.deferred, duplicates=counters.duplicates,
                 pages=counters.pages, left_in_inbox=left)
        # In oneshot mode a document left in the inbox (transient error) means "not drained".
        if failure or (self.oneshot and left):
            return ExitCode.FAILED
        return ExitCode.OK

    def _settings_for_run(self) -> Settings:
        if self.oneshot:
            # --oneshot takes the inbox as it is: what is there now is all there will be, so
            # nothing waits for a writer to finish.
            self.settings = dataclasses.replace(self.settings, watch=dataclasses.replace(
                self.settings.watch, unmarked_stable_seconds=0.0, unfinished_seconds=0.0))
        return self.settings

    async def _start(self, settings: Settings, parts: Parts) -> None:
        """Open the journal, finish what a crash interrupted, start reporting, the OCR
        workers and the model. Raises StartupError/ConfigError (the caller closes the parts)."""
        parts.journal.open()
        await asyncio.to_thread(recover, settings, parts.journal)
        self.supervisor.open()
        await parts.engines.start()
        await asyncio.to_thread(parts.corrector.load)

    def _wire(self, settings: Settings, parts: Parts, watcher_health: Callable[[], None]
              ) -> tuple[Pipeline, Intake]:
        """The pipeline and the intake that feeds it; each outcome goes back to the intake
        (and to the listener)."""
        intake: Intake

        def on_outcome(document: Document, outcome: Outcome) -> None:
            intake.on_outcome(document, outcome)
            if self.listener is not None:
                self.listener(document, outcome)

        pipeline = Pipeline(settings, parts.engines, parts.corrector, parts.journal, on_outcome,
                            clock=self.clock, wallclock=self.wallclock)
        watch = settings.watch
        intake = Intake(
            settings.paths.inbox,
            stable_seconds=watch.stable_seconds,
            unmarked_stable_seconds=watch.unmarked_stable_seconds,
            unfinished_seconds=watch.unfinished_seconds,
            rescan_seconds=watch.rescan_seconds if watch.mode != "events" else 0.0,
            recursive=watch.recursive,
            submit=pipeline.submit,
            reject=pipeline.reject,
            backoff_seconds=settings.retry.backoff_seconds,
            max_backoff_seconds=settings.retry.max_backoff_seconds,
            oneshot=self.oneshot,
            clock=self.clock,
            wallclock=self.wallclock,
            health=watcher_health,
        )
        self.pipeline, self.intake = pipeline, intake
        return pipeline, intake

    def _announce_ready(self, settings: Settings, parts: Parts) -> None:
        self.notifier.ready(f"watching {settings.paths.inbox}")
        log.info(audit.DAEMON_READY, ocr_workers=parts.engines.workers,
                 corrector=parts.corrector.name,
                 watch_mode="oneshot" if self.oneshot else settings.watch.mode)
        self.supervisor.start()
        self.ready.set()

    async def _serve_until_stopped(self, pipeline: Pipeline, intake_task: asyncio.Task[None]
                                   ) -> None:
        """Until a stop signal, the end of the intake (oneshot) or a stage's crash; reloads
        the config on SIGHUP in between."""
        assert self._should_exit is not None
        stop_task = asyncio.create_task(self._should_exit.wait(), name="stop")
        try:
            while True:
                reload_task = asyncio.create_task(self._reload_requested.wait(), name="reload")
                done, _ = await asyncio.wait({stop_task, reload_task, intake_task,
                                              *pipeline.tasks},
                                             return_when=asyncio.FIRST_COMPLETED)
                reload_task.cancel()
                if done != {reload_task}:
                    return
                self._reload_requested.clear()
                await self._reload(pipeline)
        finally:
            stop_task.cancel()

    async def _close(self, parts: Parts, observer: Any) -> None:
        if observer is not None:
            observer.stop()
            await asyncio.to_thread(observer.join, 10)
        if self.pipeline is not None:
            self.pipeline.shutdown_executors()
        parts.engines.close()
        parts.corrector.close()
        parts.journal.close()
        self.supervisor.close()
        _stop_resource_tracker()

    async def _reload(self, pipeline: Pipeline) -> None:
        """Re-read the config file; a bad one is rejected and the running settings kept."""
        self.notifier.reloading()
        try:
            settings, change = await asyncio.to_thread(reload.reload_settings, self.settings)
        except ConfigError as exc:
            log.error(audit.CONFIG_RELOAD_REJECTED, config=str(self.settings.source),
                      key=exc.key, error=str(exc))
            self.supervisor.note = f"reload rejected, old config kept: {exc}"
            self.notifier.ready(self.supervisor.note)
            return
        old_level, self.settings = self.settings.log.level, settings
        pipeline.reconfigure(settings)
        self.supervisor.reconfigure(settings)
        audit.set_level(audit.most_verbose(old_level, settings.log.level))  # the event shows
        log.info(audit.CONFIG_RELOADED, config=str(settings.source), applied=change.applied,
                 needs_restart=change.needs_restart)
        audit.set_level(settings.log.level)
        restart = f"; restart to apply {', '.join(change.needs_restart)}" \
            if change.needs_restart else ""
        self.supervisor.note = f"restart to apply {', '.join(change.needs_restart)}" \
            if change.needs_restart else ""
        self.notifier.ready(f"configuration reloaded{restart}")

    async def _stop_intake(self, intake: Intake, task: asyncio.Task[None]) -> bool:
        """Stop admitting files; True if the intake had crashed (the watcher died)."""
        intake.stop()
        if not task.done():
            task.cancel()  # it may be blocked on a full queue; nothing it holds is lost
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:
            log.exception(audit.INTERNAL_ERROR, stage="intake")
            return True
        return False

    async def _drain(self, pipeline: Pipeline) -> bool:
        """Let in-flight documents finish within the drain timeout; True if a stage crashed."""
        assert self.intake is not None and self._force_exit is not None
        crashed = [t for t in pipeline.tasks
                   if t.done() and not t.cancelled() and t.exception() is not None]
        if crashed:
            log.error(audit.INTERNAL_ERROR, stage=crashed[0].get_name(),
                      error=repr(crashed[0].exception()))
            await pipeline.cancel()
            return True
        self.intake.forget(pipeline.release_queued())
        await pipeline.close()
        waiter = asyncio.ensure_future(pipeline.wait())
        forced = asyncio.create_task(self._force_exit.wait())
        done, _ = await asyncio.wait({waiter, forced}, timeout=self.settings.pipeline.drain_timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        if waiter not in done:
            log.warning(audit.DAEMON_DRAIN_TIMEOUT, forced=self._force_exit.is_set(),
                        in_flight=self.intake.in_flight, queues=pipeline.depths())
            await pipeline.cancel()
            waiter.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await waiter
            return False
        try:
            waiter.result()
        except Exception:
            log.exception(audit.INTERNAL_ERROR, stage="pipeline")
            await pipeline.cancel()
            return True
        return False


def _stop_resource_tracker(timeout: float = 5.0) -> None:
    """multiprocessing's resource tracker outlives the last worker by design; stop it with the
    daemon, or systemd SIGKILLs it at every stop (KillMode=mixed).

    Only once no child of ours is left (a live child holds the tracker's pipe open, and the
    tracker would never see it close), and never waiting more than ``timeout`` seconds. Reads
    private attributes of CPython's tracker; where they are missing nothing happens.
    """
    if multiprocessing.active_children():
        return
    tracker = getattr(resource_tracker, "_resource_tracker", None)
    fd, pid = getattr(tracker, "_fd", None), getattr(tracker, "_pid", None)
    if tracker is None or fd is None or pid is None:
        return
    with contextlib.suppress(OSError):
        os.close(fd)  # end of its input: the tracker cleans up and exits
    tracker._fd = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            tracker._pid = None
            return
        time.sleep(0.05)  # a process exit has nothing to await; checked 20 times a second


def _alive(tasks: list[asyncio.Task[None]], observer: Any) -> bool:
    return all(not t.done() for t in tasks) and (observer is None or observer.is_alive())


def _check_observer(observer: Any) -> None:
    if observer is not None and not observer.is_alive():
        raise StartupError("the file-system watcher stopped")

