"""Fault-injection points for the crash-recovery tests (the real daemon, killed on purpose).

``checkpoint("outbox.after_txt")`` does nothing unless the environment variable
``INBOXOCR_CRASH_AT`` names that point. Its value is ``NAME`` (crash every time) or
``NAME:FLAG`` (crash only while the file FLAG exists; it is removed first, so the crash happens
once). The action is SIGKILL of the current process (``*.hang`` points sleep instead, ``*.segv``
points raise SIGSEGV as a crash in native code does), which is what a power cut, the OOM killer
or a segfault in native code looks like to the next start.

Not a config key on purpose: it is not for users, and the variable's prefix is not
``INBOX_OCR_`` so the config loader does not see it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

CRASH_ENV = "INBOXOCR_CRASH_AT"


def checkpoint(name: str) -> None:
    spec = os.environ.get(CRASH_ENV)
    if not spec:
        return
    point, _, flag = spec.partition(":")
    if point != name:
        return
    if flag:
        try:
            Path(flag).unlink()
        except FileNotFoundError:
            return
    if name.endswith(".hang"):
        time.sleep(3600)
        return
    if name.endswith(".segv"):
        signal.signal(signal.SIGSEGV, signal.SIG_DFL)  # past faulthandler: die as native code does
        os.kill(os.getpid(), signal.SIGSEGV)
    os.kill(os.getpid(), signal.SIGKILL)
