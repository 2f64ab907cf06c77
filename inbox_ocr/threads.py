"""Running blocking work off the event loop with the caller's log context."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")


async def run_in(executor: Executor, fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` on ``executor`` with the caller's contextvars (its log context)."""
    loop = asyncio.get_running_loop()
    ctx = contextvars.copy_context()
    return await loop.run_in_executor(executor, ctx.run, fn, *args)
