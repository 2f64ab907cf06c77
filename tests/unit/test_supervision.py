"""Pure parts of the service layer: stall detection, reload planning, telemetry, config keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from inbox_ocr import reload
from inbox_ocr.config import load_settings
from inbox_ocr.errors import ConfigError
from inbox_ocr.ops import audit
from inbox_ocr.ops.reporter import StallDetector
from inbox_ocr.ops.telemetry import Telemetry


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_stall_detector() -> None:
    clock = FakeClock()
    detector = StallDetector(10.0, clock)
    clock.now += 3600
    assert not detector.stalled(False, 0)  # idle for an hour: healthy
    assert not detector.stalled(True, 0)  # work appears: the stall clock starts now
    clock.now += 9
    assert not detector.stalled(True, 0)
    clock.now += 2
    assert detector.stalled(True, 0)  # 11 s busy without progress
    assert not detector.stalled(True, 1)  # a page finished
    clock.now += 10.5
    assert detector.stalled(True, 1)
    assert not detector.stalled(False, 1)  # the work went away


def test_telemetry_follows_a_document() -> None:
    clock = FakeClock()
    telemetry = Telemetry(clock, lambda: 1_700_000_000.0)
    telemetry(audit.DOCUMENT_ADMITTED, {"document_id": "d1", "source": "big.pdf"})
    telemetry(audit.PAGE_SPLIT, {"document_id": "d1", "page": 1, "pages": 40})
    telemetry(audit.PAGE_SPLIT, {"document_id": "d1", "page": 2, "pages": 40})
    telemetry(audit.PAGE_OCR, {"document_id": "d1"})
    snapshot = telemetry.snapshot()
    assert snapshot["documents"] == [{"id": "d1", "source": "big.pdf",
                                      "started_at": 1_700_000_000.0, "pages_total": 40,
                                      "pages_split": 2, "pages_ocr": 1}]
    assert telemetry.marks == 3
    clock.now += 60
    telemetry(audit.DOCUMENT_PROCESSED, {"document_id": "d1", "pages": 40, "corrections": 3})
    telemetry(audit.DOCUMENT_FAILED, {"document_id": "d2", "reason": "corrupt_input"})
    telemetry(audit.MODEL_LOADED, {"model": "/models/m.gguf"})
    snapshot = telemetry.snapshot()
    assert snapshot["documents"] == []
    assert snapshot["counts"] == {"processed": 1, "failed": 1, "deferred": 0, "duplicates": 0, "pages": 40,
                                  "corrections": 3}
    assert snapshot["failures"] == {"corrupt_input": 1}
    assert snapshot["throughput"] == {"window_seconds": 60.0, "documents_per_minute": 1.0,
                                      "pages_per_minute": 40.0}
    assert snapshot["model"] == "/models/m.gguf"
    clock.now += 3600  # the window moves on
    assert telemetry.snapshot()["throughput"]["documents_per_minute"] == 0.0


def write(path: Path, text: str) -> Path:
    path.write_text("[paths]\ninbox = \"in\"\noutbox = \"out\"\narchive = \"arc\"\n"
                    "failed = \"bad\"\nstate = \"state\"\n" + text)
    return path


def test_reload_plan_and_effective_settings(tmp_path: Path) -> None:
    old = load_settings(write(tmp_path / "a.toml", ""), {})
    new = load_settings(write(tmp_path / "b.toml", "[limits]\nmax_pages = 3\n[ocr]\npsm = 4\n"
                              "[log]\nlevel = \"debug\"\n[service]\nstall_seconds = 60\n"), {})
    change = reload.plan(old, new)
    assert change.applied == ("limits.max_pages", "log.level", "service.stall_seconds")
    assert change.needs_restart == ("ocr.psm",)
    settings = reload.effective(old, new)
    assert settings.limits.max_pages == 3 and settings.log.level == "debug"
    assert settings.ocr.psm == old.ocr.psm and settings.source == tmp_path / "b.toml"
    assert reload.plan(old, old) == reload.ReloadPlan((), ())


def test_reload_settings_rejects_a_bad_file_and_creates_new_folders(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", "")
    current = load_settings(config, {})
    write(config, "[metrics]\naddress = \"localhost\"\n")
    with pytest.raises(ConfigError, match=r"^metrics\.address: must be an IP address"):
        reload.reload_settings(current)
    config.write_text(config.read_text().replace('outbox = "out"', 'outbox = "out2/new"'))
    config.write_text(config.read_text().replace('address = "localhost"', 'port = 9999'))
    settings, change = reload.reload_settings(current)
    assert change.applied == ("paths.outbox",) and change.needs_restart == ("metrics.port",)
    assert (tmp_path / "out2" / "new").is_dir() and settings.metrics.port == current.metrics.port


@pytest.mark.parametrize(("text", "message"), [
    ("[service]\nstatus_seconds = 0\n", "service.status_seconds: must be >= 0.01"),
    ("[service]\nstall_seconds = \"soon\"\n", "service.stall_seconds: must be a number"),
    ("[metrics]\nport = 70000\n", "metrics.port: must be <= 65535"),
    ("[metrics]\nenabled = 1\n", "metrics.enabled: must be true or false"),
    ("[metrics]\naddress = \"0.0.0.0.0\"\n", "metrics.address: must be an IP address"),
    ("[log]\njournal = \"yes\"\n", "log.journal: must be one of 'auto', 'on', 'off'"),
])
def test_new_keys_are_validated(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings(write(tmp_path / "x.toml", text), {})
    assert str(err.value).startswith(message)


def test_new_keys_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path / "x.toml", ""), {
        "INBOX_OCR_METRICS_ENABLED": "true", "INBOX_OCR_METRICS_ADDRESS": "::1",
        "INBOX_OCR_SERVICE_STALL_SECONDS": "30"})
    assert settings.metrics.enabled and settings.metrics.address == "::1"
    assert settings.service.stall_seconds == 30.0
