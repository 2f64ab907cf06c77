"""A real sd_notify receiver: a unix datagram socket, like the one systemd gives a service.

A reader thread receives the datagrams (so a daemon sending from the event loop can never
block on a full socket buffer while the test awaits on the same loop) and hands each message,
parsed into its fields, to an asyncio queue when created on a running loop (``until``), else to
a thread-safe queue (``wait_for``, for a daemon running as a separate process).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import socket
import tempfile
import threading
from pathlib import Path

TIMEOUT = 60.0


class NotifySocket:
    def __init__(self) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="notify-")  # short: sun_path is 108 bytes
        self.path = Path(self._dir.name) / "notify.sock"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(str(self.path))
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self._sync: queue.Queue[dict[str, str]] = queue.Queue()
        self.messages: list[dict[str, str]] = []
        self._thread = threading.Thread(target=self._read, name="notify-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while True:
            try:
                data = self._sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            fields = dict(line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
            if self._loop is not None:
                self._loop.call_soon_threadsafe(self._deliver, fields)
            else:
                self.messages.append(fields)
                self._sync.put(fields)

    def _deliver(self, fields: dict[str, str]) -> None:
        self.messages.append(fields)
        self._queue.put_nowait(fields)

    async def next(self, timeout: float = TIMEOUT) -> dict[str, str]:
        return await asyncio.wait_for(self._queue.get(), timeout)

    async def until(self, key: str, value: str | None = None, contains: str = "",
                    timeout: float = TIMEOUT) -> list[dict[str, str]]:
        """Messages up to and including the first with ``key`` (= ``value``, if given) whose
        STATUS contains ``contains``."""
        seen = []

        async def wait() -> None:
            while True:
                message = await self._queue.get()
                seen.append(message)
                if key in message and (value is None or message[key] == value) \
                        and contains in message.get("STATUS", ""):
                    return

        await asyncio.wait_for(wait(), timeout)
        return seen

    def wait_for(self, key: str, value: str | None = None, contains: str = "",
                 timeout: float = TIMEOUT) -> dict[str, str]:
        """Blocking: the first message from now on with ``key`` (= ``value``) and a STATUS
        containing ``contains``."""
        while True:
            message = self._sync.get(timeout=timeout)
            if key in message and (value is None or message[key] == value) \
                    and contains in message.get("STATUS", ""):
                return message

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)
        self._dir.cleanup()
