"""systemd notifications (sd_notify) through systemd-python; a no-op outside systemd."""

from __future__ import annotations

import os


class Notifier:
    """Sends ``READY=1``, ``STATUS=...``, ``STOPPING=1`` when ``NOTIFY_SOCKET`` is set."""

    def __init__(self) -> None:
        self.enabled = bool(os.environ.get("NOTIFY_SOCKET"))
        self._notify = None
        if self.enabled:
            import systemd.daemon

            self._notify = systemd.daemon.notify

    def send(self, *fields: str) -> None:
        if self._notify is not None:
            self._notify("\n".join(fields))

    def ready(self, status: str) -> None:
        self.send("READY=1", f"STATUS={status}")

    def status(self, status: str) -> None:
        self.send(f"STATUS={status}")

    def stopping(self) -> None:
        self.send("STOPPING=1", "STATUS=draining")
