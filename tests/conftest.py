"""Shared fixtures: a workspace of real folders and a config file pointing at them."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from inbox_ocr.ops import audit
from tests.support.workspace import Workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(tmp_path)


@pytest.fixture(autouse=True)
def _quiet_logging(tmp_path: Path) -> Iterator[None]:
    """Each test starts with logging into memory; tests that need a file configure it."""
    audit.configure("debug", "json", None, io.StringIO())
    yield
    audit.configure("info", "json", None, io.StringIO())


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in list(os.environ):
        if var.startswith("INBOX_OCR_"):
            monkeypatch.delenv(var)
