"""A workspace of real folders (inbox, outbox, archive, failed, state) and a config file."""

from __future__ import annotations

from pathlib import Path

SHARED_DATASETS = Path(__file__).resolve().parents[3] / "shared" / "datasets"


class Workspace:
    """inbox/outbox/archive/failed/state under one temporary folder, plus a config file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inbox = root / "inbox"
        self.outbox = root / "outbox"
        self.archive = root / "archive"
        self.failed = root / "failed"
        self.state = root / "state"
        self.inbox.mkdir()
        self.config = root / "inbox-ocr.toml"
        self.write_config()

    def write_config(self, extra: str = "", stable_seconds: float = 0.2, llm: bool = False) -> Path:
        """Most tests run without the model (faster); tests/test_corrector.py runs it."""
        self.config.write_text(
            f"""
[paths]
inbox = "inbox"
outbox = "outbox"
archive = "archive"
failed = "failed"
state = "state"
[watch]
stable_seconds = {stable_seconds}
# Tests drop complete files: TIFFs need not wait for slow writers, and a broken PDF (no
# %%EOF) is taken for finished after a second. tests/test_slow_writers.py tests the defaults.
unmarked_stable_seconds = {stable_seconds}
unfinished_seconds = 1.0
rescan_seconds = 5
[ocr]
workers = 2
# The pipeline tests pin the fastest engine; tests/test_engines.py covers every engine.
engine = "tesseract"
[llm]
enabled = {"true" if llm else "false"}
[pipeline]
drain_timeout = 30
{extra}
""",
            encoding="utf-8",
        )
        return self.config

    def outbox_files(self) -> list[str]:
        return sorted(p.name for p in self.outbox.iterdir()) if self.outbox.exists() else []

    def audit_events(self) -> list[dict[str, object]]:
        import json

        log = self.state / "audit.log"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
