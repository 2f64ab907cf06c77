"""The real daemon on a scratch folder, as the benchmarks run it (``bench soak``, ``bench
throughput``): one root holding inbox/outbox/archive/failed/state and a config file, and
``python -m inbox_ocr run`` as a subprocess with no ``INBOX_OCR_*`` overrides from the caller."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

PATHS = """
[paths]
inbox = "inbox"
outbox = "outbox"
archive = "archive"
failed = "failed"
state = "state"
[log]
format = "json"
"""


def write_config(root: Path, sections: str) -> Path:
    """``root/inbox-ocr.toml``: the scratch folders, JSON logs, plus ``sections`` (TOML)."""
    config = root / "inbox-ocr.toml"
    config.write_text(PATHS + sections, encoding="utf-8")
    return config


def start(config: Path, *args: str, stdout: int | IO[Any] | None = subprocess.DEVNULL,
          ) -> subprocess.Popen[str]:
    """``python -m inbox_ocr run --config CONFIG [args]``; stdout as asked (JSON events)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_OCR_")}
    return subprocess.Popen([sys.executable, "-m", "inbox_ocr", "run", "--config", str(config),
                             *args], env=env, stdout=stdout, stderr=subprocess.DEVNULL, text=True)
