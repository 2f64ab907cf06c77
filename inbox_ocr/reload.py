"""SIGHUP: which settings a running daemon can take over, and the settings it then runs with.

``plan(old, new)`` lists the changed keys, split into those applied live and those that need a
restart; ``effective(old, new)`` builds the settings the daemon runs with after the reload:
the new value for a live key, the old one for every other. Pure functions.

Live (from the next document on; in-flight documents finish with the folders they started
with): ``paths.outbox``, ``paths.archive``, ``paths.failed``, ``limits.max_*``, ``log.level``,
``pipeline.drain_timeout``, ``pipeline.dedupe``, ``retry.max_attempts``, ``service.*``.
Everything else needs ``systemctl restart``: the
inbox and the state folder (the watcher, the intake and the audit log are bound to them), the
queue sizes, the OCR engine and its workers, the model (``llm.*``; reloading it would stall the
pipeline), ``watch.*``, ``log.format``/``log.file``/``log.journal`` and ``metrics.*``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from inbox_ocr.config import Settings, load_settings
from inbox_ocr.errors import ConfigError

LIVE_KEYS = frozenset({
    "paths.outbox", "paths.archive", "paths.failed",
    "limits.max_file_mb", "limits.max_pages", "limits.max_page_megapixels",
    "log.level", "pipeline.drain_timeout", "pipeline.dedupe", "retry.max_attempts",
    "service.status_seconds", "service.stall_seconds",
})


@dataclass(frozen=True)
class ReloadPlan:
    applied: tuple[str, ...]  # changed keys that take effect now
    needs_restart: tuple[str, ...]  # changed keys kept at their old value until a restart


def _sections(settings: Settings) -> dict[str, Any]:
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(settings)
            if f.name != "source"}


def changed_keys(old: Settings, new: Settings) -> list[str]:
    keys = []
    for name, section in _sections(old).items():
        other = getattr(new, name)
        for f in dataclasses.fields(section):
            if getattr(section, f.name) != getattr(other, f.name):
                keys.append(f"{name}.{f.name}")
    return keys


def plan(old: Settings, new: Settings) -> ReloadPlan:
    keys = changed_keys(old, new)
    return ReloadPlan(tuple(k for k in keys if k in LIVE_KEYS),
                      tuple(k for k in keys if k not in LIVE_KEYS))


def effective(old: Settings, new: Settings) -> Settings:
    """``old`` with the live keys taken from ``new``."""
    sections = {}
    for name, section in _sections(old).items():
        live = {f.name: getattr(getattr(new, name), f.name) for f in dataclasses.fields(section)
                if f"{name}.{f.name}" in LIVE_KEYS}
        sections[name] = dataclasses.replace(section, **live)
    return Settings(**sections, source=new.source or old.source)


def reload_settings(current: Settings) -> tuple[Settings, ReloadPlan]:
    """Read ``current.source`` again (with the environment's overrides) and return the settings
    to run with and what changed. Creates new output folders. Raises ConfigError, keeping
    nothing, when the file is bad or a new folder cannot be created (blocking: run it in a
    thread)."""
    if current.source is None:
        raise ConfigError("config", "the daemon was started without a config file")
    new = load_settings(current.source)
    change = plan(current, new)
    settings = effective(current, new)
    for key in change.applied:
        if key.startswith("paths."):
            folder = getattr(settings.paths, key.split(".", 1)[1])
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ConfigError(key, f"cannot create {folder}: {exc.strerror}") from exc
    return settings, change
