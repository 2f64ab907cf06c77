"""The daemon's self-report: STATUS=, watchdog pings, the status file.

Runs as one task on the event loop from READY until shutdown begins. Every tick (the shorter
of ``service.status_seconds`` and half of systemd's WatchdogSec) it looks at the queues, the
documents in flight, the stage tasks and the progress marks counted by inbox_ocr.ops.telemetry, then:

- sends ``STATUS=`` with queue depths and documents done;
- sends ``WATCHDOG=1`` only when the daemon is healthy (every stage task, the intake and the
  watcher alive) and either idle or making progress. Busy with no stage finishing a page or a
  document for ``service.stall_seconds`` means wedged: the pings stop and systemd restarts the
  service after WatchdogSec (``Restart=on-failure``);
- rewrites ``<paths.state>/status.json`` for ``inbox-ocr status`` (after the STATUS=, in the
  same tick: whoever saw the message can read the file).

The decision is the pure :class:`StallDetector` with an injected clock. The supervisor also
owns what feeds it: the audit observers (inbox_ocr.ops.telemetry, and inbox_ocr.ops.metrics when
``metrics.enabled``) and the metrics HTTP server.

Lifecycle (the service calls these in order): ``open()`` before the engines and the model start
(so ``model.loaded`` is seen), ``attach(...)`` once the pipeline exists, ``start()`` right after
READY=1, ``await stop()`` before STOPPING=1, ``close()`` at the very end (final status file).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from inbox_ocr.config import Settings
from inbox_ocr.errors import StartupError
from inbox_ocr.ops import audit
from inbox_ocr.ops.notify import Notifier
from inbox_ocr.ops.status import FORMAT_VERSION, status_path, write_status
from inbox_ocr.ops.telemetry import Telemetry

log = audit.get_logger()


class StallDetector:
    """Busy without a new progress mark for more than ``stall_seconds`` is a stall.

    The stall clock starts when work appears (idle -> busy) or at the last progress mark,
    whichever is later, so a document dropped into an idle daemon is not a stall.
    """

    def __init__(self, stall_seconds: float, clock: Callable[[], float]) -> None:
        self.stall_seconds = stall_seconds
        self._clock = clock
        self._marks = -1
        self._since = clock()

    def stalled(self, busy: bool, marks: int) -> bool:
        now = self._clock()
        if not busy or marks != self._marks:
            self._marks = marks
            self._since = now
        return busy and now - self._since > self.stall_seconds

    def seconds_without_progress(self) -> float:
        return self._clock() - self._since


class Supervisor:
    """See the module docstring. Runs on the event loop; observers run on logging threads."""

    def __init__(
        self,
        settings: Settings,
        notifier: Notifier,
        *,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self._notifier = notifier
        self.telemetry = Telemetry(clock, wallclock)
        self.metrics: Any = None
        self._depths: Callable[[], dict[str, int]] = dict
        self._in_flight: Callable[[], int] = int
        self._healthy: Callable[[], bool] = lambda: True
        self._corrector = ""
        self._clock = clock
        self._wallclock = wallclock
        self._detector = StallDetector(settings.service.stall_seconds, clock)
        self._started_at = wallclock()
        self._file_error = False
        self._task: asyncio.Task[None] | None = None
        self.state = "starting"
        #: Kept at the end of every STATUS= line until replaced (a rejected reload stays
        #: visible until a good one or a restart).
        self.note = ""
        self.stalled = False
        self.pings = 0

    def open(self) -> None:
        """Start observing audit events; start the metrics server. Raises StartupError."""
        audit.add_observer(self.telemetry)
        if self.settings.metrics.enabled:
            from inbox_ocr.ops.metrics import Metrics

            self.metrics = Metrics()
            audit.add_observer(self.metrics)
            address, port = self.settings.metrics.address, self.settings.metrics.port
            try:
                port = self.metrics.start(address, port)
            except OSError as exc:
                raise StartupError(f"metrics: cannot listen on {address}:{port}: "
                                   f"{exc.strerror or exc}") from exc
            log.info(audit.METRICS_STARTED, url=f"http://{_host(address)}:{port}/metrics")

    def attach(self, *, depths: Callable[[], dict[str, int]], in_flight: Callable[[], int],
               healthy: Callable[[], bool], corrector: str) -> None:
        """``depths``/``in_flight`` read the pipeline and the intake; ``healthy`` says whether
        every long-running task is alive; ``corrector`` names the correction in use."""
        self._depths, self._in_flight, self._healthy = depths, in_flight, healthy
        self._corrector = corrector
        if self.metrics is not None:
            self.metrics.bind(depths, in_flight)

    def start(self) -> None:
        self.state = "running"
        self._task = asyncio.create_task(self.run(), name="supervisor")

    async def stop(self) -> None:
        """No more STATUS=/WATCHDOG=1 (shutdown is systemd's TimeoutStopSec's business)."""
        self.state = "stopping"
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def close(self) -> None:
        """Final status file (state 'stopped'), observers off, metrics server down."""
        if self.state != "starting":
            self.state = "stopped"
            self.write_file(self._depths(), self._in_flight(), self.telemetry.snapshot(), True)
        audit.remove_observer(self.telemetry)
        if self.metrics is not None:
            audit.remove_observer(self.metrics)
            self.metrics.close()

    def reconfigure(self, settings: Settings) -> None:
        self.settings = settings
        self._detector.stall_seconds = settings.service.stall_seconds

    def period(self) -> float:
        period = self.settings.service.status_seconds
        if self._notifier.watchdog_period is not None:
            period = min(period, self._notifier.watchdog_period)
        return period

    async def run(self) -> None:
        try:
            while True:
                self.tick()
                await asyncio.sleep(self.period())
        except Exception:  # a bug here must not stop the daemon; without pings systemd restarts it
            log.exception(audit.INTERNAL_ERROR, stage="supervisor")

    def tick(self) -> None:
        """One look: decide the ping, send STATUS= (+ WATCHDOG=1), maybe write the file."""
        depths = self._depths()
        in_flight = self._in_flight()
        busy = in_flight > 0 or any(depths.values())
        healthy = self._healthy()
        stalled = self._detector.stalled(busy, self.telemetry.marks)
        if stalled and not self.stalled:
            log.error(audit.WATCHDOG_STALLED, in_flight=in_flight, queues=depths,
                      seconds_without_progress=round(self._detector.seconds_without_progress(), 1))
        elif self.stalled and not stalled:
            log.info(audit.WATCHDOG_RECOVERED)
        self.stalled = stalled
        ping = healthy and not stalled and self._notifier.watchdog_period is not None
        snapshot = self.telemetry.snapshot()
        self._notifier.status(self.summary(depths, in_flight, snapshot, healthy), watchdog=ping)
        self.pings += ping
        self.write_file(depths, in_flight, snapshot, healthy)

    def summary(self, depths: dict[str, int], in_flight: int, snapshot: dict[str, Any],
                healthy: bool) -> str:
        counts = snapshot["counts"]
        head = "WEDGED: no progress" if self.stalled else (
            "UNHEALTHY" if not healthy else ("busy" if in_flight else "idle"))
        return (f"{head}; queues split={depths.get('intake', 0)} ocr={depths.get('pages', 0)} "
                f"correct={depths.get('text', 0)} outbox={depths.get('done', 0)}; "
                f"in flight {in_flight}; done {counts['processed']}, failed {counts['failed']}, "
                f"deferred {counts['deferred']}{_model_summary(snapshot['model_process'])}"
                + (f"; {self.note}" if self.note else ""))

    def write_file(self, depths: dict[str, int], in_flight: int, snapshot: dict[str, Any],
                   healthy: bool) -> None:
        now = self._wallclock()
        status = {
            "version": FORMAT_VERSION,
            "pid": os.getpid(),
            "state": self.state,
            "config": str(self.settings.source) if self.settings.source else None,
            "started_at": _iso(self._started_at),
            "updated_at": _iso(now),
            "updated_epoch": now,
            "status_seconds": self.settings.service.status_seconds,
            "queues": depths,
            "in_flight": in_flight,
            **{k: v for k, v in snapshot.items() if k != "model_process"},
            "model": {"loaded": snapshot["model_process"]["state"] == "loaded"
                      and self.state != "stopped",
                      "file": snapshot["model"], "corrector": self._corrector,
                      **snapshot["model_process"],
                      # A stopped daemon has no model process, whatever its last state was.
                      **({"state": "stopped", "pid": None} if self.state == "stopped"
                         and snapshot["model_process"]["state"] != "off" else {})},
            "watchdog": {"enabled": self._notifier.watchdog_period is not None,
                         "healthy": healthy, "stalled": self.stalled, "pings": self.pings},
        }
        try:
            write_status(status_path(self.settings.paths.state), status)
            self._file_error = False
        except OSError as exc:
            if not self._file_error:  # once per outage, not every few seconds
                log.warning(audit.INTERNAL_ERROR, stage="status", error=str(exc))
            self._file_error = True

def _model_summary(model: dict[str, Any]) -> str:
    """The model's part of STATUS=: nothing while all is well or it is off."""
    if model["state"] in ("off", "loaded") and not model["crashes"]:
        return ""
    return (f"; model {model['state'].upper() if model['state'] == 'degraded' else model['state']}"
            f" ({model['crashes']} crashes, {model['restarts']} restarts)")


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")
