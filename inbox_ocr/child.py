"""A spawned child process and our end of its pipe: what the OCR workers
(``inbox_ocr.ocr.pool``) and the model process (``inbox_ocr.correct.process``) are built on.

Children start with the ``spawn`` method: the daemon has threads (watchdog, the model's
supervisor), which ``fork`` must not copy. One thread at a time uses a ``PipedChild``.
``receive``/``ask`` kill the child when it does not answer in time (``ChildTimedOut``) and
when its pipe breaks (``ChildDied``); callers turn these into their own errors.
"""

from __future__ import annotations

import contextlib
import multiprocessing
from collections.abc import Callable
from typing import Any


class ChildTimedOut(Exception):
    """No answer in time; the child has been killed."""


class ChildDied(Exception):
    """The child's pipe broke: it exited, crashed or was killed."""


class PipedChild:
    """Starts ``target(*args, conn)`` in a new process named ``name``."""

    def __init__(self, target: Callable[..., None], args: tuple[Any, ...], name: str) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=target, args=(*args, child_conn), name=name,
                                   daemon=True)
        self.process.start()
        child_conn.close()
        self.pid = self.process.pid or 0

    def receive(self, timeout: float | None) -> Any:
        """The child's next message (``timeout`` None: wait as long as it takes)."""
        try:
            if not self.conn.poll(timeout):
                self.kill()
                raise ChildTimedOut(timeout)
            return self.conn.recv()
        except (EOFError, OSError) as exc:
            self.kill()
            raise ChildDied(self.process.exitcode) from exc

    def ask(self, message: Any, timeout: float | None) -> Any:
        """Send ``message``, return the answer (see ``receive``)."""
        try:
            self.conn.send(message)
        except OSError as exc:
            self.kill()
            raise ChildDied(self.process.exitcode) from exc
        return self.receive(timeout)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join(10)

    def stop(self, grace: float = 5.0) -> None:
        """Ask the child to finish (EOF on its pipe), wait ``grace`` seconds, then make sure
        it is gone."""
        with contextlib.suppress(OSError):
            self.conn.close()
        self.process.join(grace)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(5)
