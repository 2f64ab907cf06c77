"""systemd notifications (sd_notify) through systemd-python; a no-op outside systemd.

The messages, in the order the daemon sends them::

    READY=1 + STATUS=...        once the watcher, the OCR workers and the model are up
    STATUS=... [+ WATCHDOG=1]   every few seconds (see inbox_ocr.ops.reporter for when it pings)
    RELOADING=1 + MONOTONIC_USEC=...   a SIGHUP reload starts; READY=1 when it is over
    STOPPING=1 + STATUS=draining       shutdown begins

``NOTIFY_SOCKET`` unset (not under systemd): nothing is sent. ``WATCHDOG_USEC`` (and
``WATCHDOG_PID``, when set, naming this process) says how often systemd wants a ping; the
supervisor pings at half that period, as sd_watchdog_enabled(3) recommends.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping


def watchdog_period(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between WATCHDOG=1 pings, or None when systemd's watchdog is off for us."""
    env = os.environ if environ is None else environ
    usec = env.get("WATCHDOG_USEC", "")
    pid = env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0:
        return None
    if pid and (not pid.isdigit() or int(pid) != os.getpid()):
        return None  # the watchdog is meant for another process (e.g. our parent)
    return int(usec) / 2 / 1_000_000


class Notifier:
    """Sends sd_notify messages with ``systemd.inbox_ocr.ops.notify`` when ``NOTIFY_SOCKET`` is set.

    Called on the event loop only. ``send`` never raises: a notification that cannot be
    delivered must not take the daemon down (systemd will notice through its own timeouts).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self.enabled = bool(env.get("NOTIFY_SOCKET"))
        self.watchdog_period = watchdog_period(env) if self.enabled else None
        self._notify = None
        if self.enabled:
            import systemd.daemon

            self._notify = systemd.daemon.notify

    def send(self, *fields: str) -> bool:
        if self._notify is None:
            return False
        try:
            return bool(self._notify("\n".join(fields)))
        except OSError:
            return False

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str, *, watchdog: bool = False) -> None:
        fields = [f"STATUS={status}"]
        if watchdog:
            fields.append("WATCHDOG=1")
        self.send(*fields)

    def reloading(self) -> None:
        # systemd >= 253 wants the CLOCK_MONOTONIC time of the reload request with RELOADING=1.
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        self.send("RELOADING=1", f"MONOTONIC_USEC={usec}", "STATUS=reloading configuration")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=draining")
