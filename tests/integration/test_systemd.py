"""sd_notify over a real unix datagram socket, the watchdog, SIGHUP reload, status, metrics."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import os
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from inbox_ocr import cli
from inbox_ocr.bench.samples import write_sample
from inbox_ocr.config import Settings
from inbox_ocr.errors import ExitCode
from inbox_ocr.ocr.api import OcrResult
from inbox_ocr.ocr.pool import EnginePool
from inbox_ocr.ops import audit
from inbox_ocr.ops.notify import Notifier, watchdog_period
from inbox_ocr.records import Outcome
from inbox_ocr.service import Parts, build_parts
from tests.support.harness import Harness, run
from tests.support.notify_socket import NotifySocket
from tests.support.workspace import Workspace

INVOICE = ["Invoice No: INV-1001", "Total: 99.50"]


@pytest.fixture(autouse=True)
def audit_to_file(workspace: Workspace) -> None:
    workspace.state.mkdir()
    audit.configure("debug", "json", workspace.state / "audit.log", io.StringIO())


@pytest.fixture
def systemd_env(monkeypatch: pytest.MonkeyPatch) -> Callable[[NotifySocket], None]:
    """Point the daemon at a notify socket with a 200 ms watchdog (pings every 100 ms)."""

    def point(sock: NotifySocket) -> None:
        monkeypatch.setenv("NOTIFY_SOCKET", str(sock.path))
        monkeypatch.setenv("WATCHDOG_USEC", "200000")
        monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))

    return point


def service_config(ws: Workspace, extra: str = "") -> None:
    ws.write_config(f"[service]\nstatus_seconds = 0.05\nstall_seconds = 0.5\n{extra}")


def test_notify_sequence_ready_status_watchdog_stopping(
        workspace: Workspace, systemd_env: Callable[[NotifySocket], None]) -> None:
    service_config(workspace)

    async def main() -> list[dict[str, str]]:
        sock = NotifySocket()
        systemd_env(sock)
        try:
            daemon = Harness(workspace.config)
            await daemon.start()
            write_sample(workspace.inbox / "a.png", [INVOICE])
            _document, outcome = await daemon.next()
            assert outcome is Outcome.PROCESSED
            await sock.until("STATUS", contains="done 1")
            await sock.until("WATCHDOG", "1")
            assert await daemon.stop() == ExitCode.OK
            await sock.until("STOPPING", "1")
            return list(sock.messages)
        finally:
            sock.close()

    messages = run(main)
    first, middle, last = messages[0], messages[1:-1], messages[-1]
    assert first["READY"] == "1" and first["STATUS"].startswith("watching ")
    assert middle and all(set(m) <= {"STATUS", "WATCHDOG"} for m in middle)
    assert any(m.get("WATCHDOG") == "1" for m in middle)
    assert any("done 1, failed 0" in m["STATUS"] for m in middle)
    assert last == {"STOPPING": "1", "STATUS": "draining"}


class BlockingEngine:
    """An OCR engine that hangs on every page until released (a wedged native call)."""

    name = "blocking"
    version = "0"
    release = threading.Event()

    def recognize(self, image: Image.Image) -> OcrResult:
        self.release.wait(60)
        return OcrResult("released", ())

    def close(self) -> None:
        pass


def blocking_parts(settings: Settings) -> Parts:
    """The real parts, but OCR by ``BlockingEngine`` on in-process threads."""
    return dataclasses.replace(build_parts(settings), engines=EnginePool(BlockingEngine, 1))


def test_a_wedged_stage_stops_the_watchdog_pings(
        workspace: Workspace, systemd_env: Callable[[NotifySocket], None]) -> None:
    service_config(workspace)
    BlockingEngine.release.clear()


    async def main() -> None:
        sock = NotifySocket()
        systemd_env(sock)
        try:
            daemon = Harness(workspace.config, build=blocking_parts)
            await daemon.start()
            await sock.until("WATCHDOG", "1")  # idle and healthy: pings
            write_sample(workspace.inbox / "stuck.png", [INVOICE])
            await sock.until("STATUS", contains="WEDGED")
            after = [await sock.next() for _ in range(5)]
            assert all("WATCHDOG" not in m and "WEDGED" in m["STATUS"] for m in after)
            assert daemon.service.supervisor.stalled
            BlockingEngine.release.set()  # the stage comes back: pings resume
            document, outcome = await daemon.next()
            assert (document.path.name, outcome) == ("stuck.png", Outcome.PROCESSED)
            await sock.until("WATCHDOG", "1")
            assert await daemon.stop() == ExitCode.OK
        finally:
            BlockingEngine.release.set()
            sock.close()

    run(main)
    events = [e["event"] for e in workspace.audit_events()]
    assert audit.WATCHDOG_STALLED in events and audit.WATCHDOG_RECOVERED in events


def test_reload_applies_live_keys_and_keeps_the_rest(
        workspace: Workspace, systemd_env: Callable[[NotifySocket], None]) -> None:
    service_config(workspace)

    async def main() -> None:
        sock = NotifySocket()
        systemd_env(sock)
        try:
            daemon = Harness(workspace.config)
            await daemon.start()
            workspace.config.write_text(workspace.config.read_text()
                                        .replace('outbox = "outbox"', 'outbox = "outbox2"')
                                        .replace("workers = 2", "workers = 1")
                                        + "[limits]\nmax_pages = 7\n[log]\nlevel = \"warning\"\n")
            daemon.service.handle_reload()
            reloading = await sock.until("RELOADING", "1")
            assert "MONOTONIC_USEC" in reloading[-1]
            done = await sock.until("READY", "1")
            assert done[-1]["STATUS"] == "configuration reloaded; restart to apply ocr.workers"
            settings = daemon.service.settings
            assert settings.limits.max_pages == 7 and settings.ocr.workers == 2
            assert settings.paths.outbox == workspace.root / "outbox2"
            write_sample(workspace.inbox / "after.png", [INVOICE])
            _document, outcome = await daemon.next()
            assert outcome is Outcome.PROCESSED
            assert await daemon.stop() == ExitCode.OK
        finally:
            sock.close()

    run(main)
    assert sorted(os.listdir(workspace.root / "outbox2")) == ["after.json", "after.txt"]
    events = workspace.audit_events()
    reloaded = [e for e in events if e["event"] == audit.CONFIG_RELOADED]
    assert reloaded[0]["applied"] == ["paths.outbox", "limits.max_pages", "log.level"]
    assert reloaded[0]["needs_restart"] == ["ocr.workers"]
    # log.level = "warning" applied live: no info events after the reload.
    after = events[events.index(reloaded[0]) + 1:]
    assert not [e for e in after if e["event"] == audit.DOCUMENT_PROCESSED]


def test_bad_config_on_reload_is_rejected_and_the_old_one_kept(
        workspace: Workspace, systemd_env: Callable[[NotifySocket], None]) -> None:
    service_config(workspace)

    async def main() -> None:
        sock = NotifySocket()
        systemd_env(sock)
        try:
            daemon = Harness(workspace.config)
            await daemon.start()
            before = daemon.service.settings
            good = workspace.config.read_text()
            workspace.config.write_text(good + "[limits]\nmax_pages = -3\n")
            daemon.service.handle_reload()
            await sock.until("RELOADING", "1")
            done = await sock.until("READY", "1")
            assert done[-1]["STATUS"].startswith("reload rejected, old config kept: "
                                                 "limits.max_pages: must be >= 1")
            assert daemon.service.settings is before
            workspace.config.write_text(good + "[watch]\nbogus = 1\n")  # duplicate table: bad TOML
            daemon.service.handle_reload()
            done = await sock.until("READY", "1")
            assert "not valid TOML" in done[-1]["STATUS"]
            # The rejection stays on the STATUS= line of the ticks that follow.
            later = await sock.until("STATUS", contains="queues split=")
            assert "reload rejected, old config kept" in later[-1]["STATUS"]
            workspace.config.write_text(good)
            daemon.service.handle_reload()
            await sock.until("READY", "1")
            cleared = await sock.until("STATUS", contains="queues split=")
            assert "reload rejected" not in cleared[-1]["STATUS"]
            write_sample(workspace.inbox / "still.png", [INVOICE])
            _document, outcome = await daemon.next()
            assert outcome is Outcome.PROCESSED
            assert await daemon.stop() == ExitCode.OK
        finally:
            sock.close()

    run(main)
    rejected = [e for e in workspace.audit_events() if e["event"] == audit.CONFIG_RELOAD_REJECTED]
    assert [e["key"] for e in rejected] == ["limits.max_pages", "config"]


def test_status_file_and_status_command(
        workspace: Workspace, capsys: pytest.CaptureFixture[str],
        systemd_env: Callable[[NotifySocket], None]) -> None:
    service_config(workspace)
    write_sample(workspace.inbox / "long.pdf", [[f"Page {n}"] for n in range(3)])
    (workspace.inbox / "broken.pdf").write_bytes(b"%PDF-1.4 broken")

    async def main() -> None:
        sock = NotifySocket()
        systemd_env(sock)
        try:
            daemon = Harness(workspace.config)
            await daemon.start()
            outcomes = {(await daemon.next())[1], (await daemon.next())[1]}
            assert outcomes == {Outcome.PROCESSED, Outcome.FAILED}
            # The status file is rewritten in the tick that sent this STATUS=.
            await sock.until("STATUS", contains="in flight 0; done 1, failed 1")
            assert await asyncio.to_thread(cli.main, ["status", "--config",
                                                      str(workspace.config)]) == ExitCode.OK
            assert await daemon.stop() == ExitCode.OK
        finally:
            sock.close()

    run(main)
    running = capsys.readouterr().out
    assert running.startswith("daemon: running (pid ")
    assert "queues (waiting for): split 0, ocr 0, correct 0, outbox 0" in running
    assert "today: processed 1, failed 1, deferred 0" in running
    assert "journal (all time): done 1, failed 1, waiting for a retry 0, duplicates 0" in running
    assert cli.main(["status", "--config", str(workspace.config), "--json"]) == ExitCode.FAILED
    report = json.loads(capsys.readouterr().out)
    assert report["running"] is False and report["today"]["processed"] == 1
    assert report["journal"] == {"done": 1, "failed": 1}
    status = report["status"]
    assert status["state"] == "stopped"
    assert status["counts"] == {"processed": 1, "failed": 1, "deferred": 0, "duplicates": 0, "pages": 3,
                                "corrections": 0}
    assert status["failures"] == {"corrupt_input": 1}
    assert status["model"] == {"loaded": False, "file": "", "corrector": "none", "state": "off",
                               "pid": None, "crashes": 0, "restarts": 0}
    assert status["documents"] == [] and status["queues"]["intake"] == 0


def test_page_progress_of_a_document_in_flight(workspace: Workspace) -> None:
    service_config(workspace)
    BlockingEngine.release.clear()
    write_sample(workspace.inbox / "big.pdf", [[f"Page {n}"] for n in range(4)])

    async def main() -> dict[str, object]:
        daemon = Harness(workspace.config, build=blocking_parts)
        await daemon.start()
        telemetry = daemon.service.supervisor.telemetry
        try:
            seen = asyncio.Event()
            loop = asyncio.get_running_loop()

            def on_event(name: str, event: object) -> None:
                if name == audit.PAGE_SPLIT:
                    loop.call_soon_threadsafe(seen.set)

            audit.add_observer(on_event)
            await asyncio.wait_for(seen.wait(), 60)
            audit.remove_observer(on_event)
            return telemetry.snapshot()
        finally:
            BlockingEngine.release.set()
            await daemon.next()
            await daemon.stop()

    snapshot = run(main)
    [doc] = snapshot["documents"]  # type: ignore[misc]
    assert doc["source"] == "big.pdf" and doc["pages_total"] == 4 and doc["pages_split"] >= 1


def test_metrics_endpoint(workspace: Workspace) -> None:
    service_config(workspace, "[metrics]\nenabled = true\nport = 0\n")

    def scrape(port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            return str(response.read().decode())

    async def main() -> str:
        daemon = Harness(workspace.config)
        await daemon.start()
        metrics = daemon.service.supervisor.metrics
        assert metrics is not None
        write_sample(workspace.inbox / "m.png", [INVOICE])
        (workspace.inbox / "bad.png").write_bytes(b"not a png")
        await daemon.next()
        await daemon.next()
        text = await asyncio.to_thread(scrape, metrics.port)
        await daemon.stop()
        return text

    text = run(main)
    assert 'inbox_ocr_documents_total{outcome="processed"} 1.0' in text
    assert 'inbox_ocr_documents_total{outcome="failed"} 1.0' in text
    assert 'inbox_ocr_failures_total{outcome="failed",reason="unsupported_format"} 1.0' in text \
        or 'inbox_ocr_failures_total{outcome="failed",reason="corrupt_input"} 1.0' in text
    assert "inbox_ocr_pages_total 1.0" in text
    assert 'inbox_ocr_queue_depth{queue="pages"} 0.0' in text
    assert 'inbox_ocr_stage_seconds_count{stage="ocr"} 1.0' in text
    assert "inbox_ocr_model_loaded 0.0" in text  # llm disabled in tests


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled and notifier.watchdog_period is None
    assert notifier.send("READY=1") is False


def test_watchdog_period_follows_sd_watchdog_enabled() -> None:
    assert watchdog_period({}) is None
    assert watchdog_period({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    assert watchdog_period({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period({"WATCHDOG_USEC": "0"}) is None


def test_today_counts_reads_the_audit_log(tmp_path: Path) -> None:
    from datetime import date

    from inbox_ocr.ops.status import today_counts

    log = tmp_path / "audit.log"
    log.write_text("\n".join([
        json.dumps({"event": "document.processed", "timestamp": "2026-03-01T10:00:00+00:00"}),
        json.dumps({"event": "document.failed", "timestamp": "2026-03-01T11:00:00+00:00"}),
        json.dumps({"event": "document.processed", "timestamp": "2026-02-28T11:00:00+00:00"}),
        "not json \"document.processed\"",
    ]))
    counts = today_counts(log, date(2026, 3, 1))
    assert counts["failed"] == 1 and counts["processed"] in (1, 2)  # local time zone may shift
    assert today_counts(tmp_path / "missing.log") == {"processed": 0, "failed": 0, "deferred": 0}
