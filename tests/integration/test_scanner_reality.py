"""Scanner reality (issue 16): twins in flight, honest accounting, a clean audit log, safe
names. The real service in-process, real files, real watchdog events."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import os
import threading
import urllib.request
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from inbox_ocr import cli
from inbox_ocr.bench.samples import write_sample
from inbox_ocr.config import Settings
from inbox_ocr.errors import ExitCode
from inbox_ocr.ocr.api import OcrResult
from inbox_ocr.ocr.pool import EnginePool
from inbox_ocr.ops import audit
from inbox_ocr.outbox.files import safe_name
from inbox_ocr.outbox.journal import Journal
from inbox_ocr.records import Outcome, Word
from inbox_ocr.service import Parts, build_parts
from tests.support.harness import AuditEvents, Harness, run
from tests.support.workspace import Workspace


class GatedEngine:
    """Reads one fixed line, but only once ``gate`` is open: keeps a document in flight."""

    gate = threading.Event()
    name, version = "gated", "1"

    def recognize(self, image: Image.Image) -> OcrResult:
        assert self.gate.wait(60)
        return OcrResult("Invoice No: INV-1", (Word("Invoice", 99.0),))

    def close(self) -> None:
        pass


def gated_parts(settings: Settings) -> Parts:
    return dataclasses.replace(build_parts(settings), engines=EnginePool(GatedEngine, 1))


def scrape_metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        return str(response.read().decode())


def audit_file(workspace: Workspace, extra: str = "") -> None:
    workspace.write_config(f"[log]\nfile = \"audit.log\"\n{extra}")
    workspace.state.mkdir(exist_ok=True)
    audit.configure("info", "json", workspace.state / "audit.log", io.StringIO())


def test_a_twin_of_an_in_flight_document_waits_once_and_becomes_a_duplicate(
        workspace: Workspace) -> None:
    audit_file(workspace)
    GatedEngine.gate.clear()
    write_sample(workspace.inbox / "first.png", [["Invoice No: INV-1"]])

    async def main() -> None:
        with AuditEvents() as events:
            daemon = Harness(workspace.config, build=gated_parts)
            await daemon.start()
            try:
                await events.until(audit.DOCUMENT_ADMITTED)
                (workspace.inbox / "twin.png").write_bytes(
                    (workspace.inbox / "first.png").read_bytes())
                await events.until(audit.DOCUMENT_TWIN_WAITING)
                GatedEngine.gate.set()
                outcomes = {(await daemon.next())[1], (await daemon.next())[1]}
                assert outcomes == {Outcome.PROCESSED, Outcome.DUPLICATE}
            finally:
                GatedEngine.gate.set()
                assert await daemon.stop() == ExitCode.OK

    run(main)
    events = workspace.audit_events()
    admitted = [e["source"] for e in events if e["event"] == audit.DOCUMENT_ADMITTED]
    assert sorted(admitted) == ["first.png", "twin.png"]  # the twin admitted once
    assert [e["source"] for e in events if e["event"] == audit.DOCUMENT_DUPLICATE] == ["twin.png"]
    assert workspace.outbox_files() == ["first.json", "first.txt"]
    status = json.loads((workspace.state / "status.json").read_text())
    assert status["documents"] == [] and status["in_flight"] == 0
    assert status["counts"]["duplicates"] == 1


def test_after_a_mixed_run_every_count_agrees(workspace: Workspace) -> None:
    audit_file(workspace, "[metrics]\nenabled = true\nport = 0\n[retry]\nbackoff_seconds = 60\n")
    inbox = workspace.inbox
    write_sample(inbox / "good.png", [["Invoice No: INV-2", "Total: 5.00"]])
    good = (inbox / "good.png").read_bytes()
    (inbox / "broken.pdf").write_bytes(b"%PDF-1.4 broken beyond repair\n%%EOF\n")
    (inbox / "notes.txt").write_text("not a scan")
    (inbox / "link.png").symlink_to(inbox / "good.png")
    os.mkfifo(inbox / "pipe.pdf")
    scrape: dict[str, float] = {}

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        seen = sorted([(await daemon.next())[1].value for _ in range(5)])
        assert seen == ["failed"] * 4 + ["processed"]
        (inbox / "again.png").write_bytes(good)  # the same content under another name
        assert (await daemon.next())[1] is Outcome.DUPLICATE
        workspace.outbox.rename(workspace.root / "outbox-away")  # the share goes away
        write_sample(inbox / "moved.png", [["Invoice No: INV-3"]])
        assert (await daemon.next())[1] is Outcome.DEFERRED
        (inbox / "moved.png").rename(workspace.root / "moved.png")  # someone takes it back
        metrics = daemon.service.supervisor.metrics
        body = await asyncio.to_thread(scrape_metrics, metrics.port)
        for line in body.splitlines():
            if line.startswith("inbox_ocr_documents_total{"):
                scrape[line.split('"')[1]] = float(line.rsplit(" ", 1)[1])
        assert await daemon.stop() == ExitCode.OK

    run(main)
    stopped = next(e for e in workspace.audit_events() if e["event"] == audit.DAEMON_STOPPED)
    status = json.loads((workspace.state / "status.json").read_text())
    journal = Journal(workspace.state / "journal.sqlite3")
    journal.open()
    try:
        rows = journal.counts()
    finally:
        journal.close()
    counts = status["counts"]
    assert (stopped["processed"], stopped["failed"], stopped["duplicates"],
            stopped["deferred"]) == (1, 4, 1, 1)
    assert (counts["processed"], counts["failed"], counts["duplicates"],
            counts["deferred"]) == (1, 4, 1, 1)
    assert (rows.get("done"), rows.get("failed"), rows.get("duplicate")) == (1, 4, 1)
    assert scrape == {"processed": 1.0, "failed": 4.0, "deferred": 1.0, "duplicate": 1.0}
    assert stopped["left_in_inbox"] == [] and list(inbox.iterdir()) == []
    assert status["failures"] == {"not_regular_file": 2, "corrupt_input": 1,
                                  "unsupported_format": 1}
    assert status["deferrals"] == {"outbox_unavailable": 1}


def test_deferrals_are_not_counted_as_failures(workspace: Workspace) -> None:
    from inbox_ocr.ops.telemetry import Telemetry

    telemetry = Telemetry()
    telemetry(audit.DOCUMENT_DEFERRED, {"reason": "input_changed"})
    telemetry(audit.DOCUMENT_FAILED, {"reason": "corrupt_input"})
    snapshot = telemetry.snapshot()
    assert snapshot["failures"] == {"corrupt_input": 1}
    assert snapshot["deferrals"] == {"input_changed": 1}


def test_debug_level_keeps_library_chatter_out_of_the_audit_log(tmp_path: Path) -> None:
    log_file = tmp_path / "audit.log"
    stream = io.StringIO()
    audit.configure("debug", "json", log_file, stream)
    try:
        logging.getLogger("watchdog.observers.inotify").debug("in-event %s", "IN_OPEN")
        logging.getLogger("PIL.PngImagePlugin").debug("STREAM b'IHDR'")
        logging.getLogger("asyncio").debug("Using selector: EpollSelector")
        audit.get_logger().info(audit.DOCUMENT_ADMITTED, source="a.png")
    finally:
        audit.configure("info", "json", None, io.StringIO())
    lines = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert [line["event"] for line in lines] == [audit.DOCUMENT_ADMITTED]
    assert "IHDR" not in stream.getvalue() and "in-event" not in stream.getvalue()


def test_safe_names_keep_the_original_in_the_json() -> None:
    assert safe_name("new\nline.pdf") == "new_line.pdf"
    assert safe_name("tab\there\x7f.png") == "tab_here_.png"
    assert safe_name("evil\u202egnp.pdf") == "evil_gnp.pdf"  # right-to-left override
    assert safe_name("plain name (1).pdf") == "plain name (1).pdf"
    assert len(safe_name("é" * 300 + ".pdf").encode()) <= 200
    assert safe_name("é" * 300 + ".pdf").endswith(".pdf")
    assert safe_name("\n") == "document"


def test_a_name_with_a_newline_gets_a_safe_stem(workspace: Workspace) -> None:
    workspace.write_config()
    write_sample(workspace.inbox / "new\nline.png", [["Invoice No: INV-9"]])
    assert cli.main(["run", "--oneshot", "--config", str(workspace.config)]) == ExitCode.OK
    assert workspace.outbox_files() == ["new_line.json", "new_line.txt"]
    assert [p.name for p in workspace.archive.iterdir()] == ["new_line.png"]
    result = json.loads((workspace.outbox / "new_line.json").read_text())
    assert result["source"]["name"] == "new\nline.png"


def ocr_config(workspace: Workspace, engine: str, *settings: str) -> None:
    """The test config with ``ocr.engine`` and more ``[ocr]`` settings (``key = value``)."""
    workspace.write_config()
    workspace.config.write_text(workspace.config.read_text().replace(
        'engine = "tesseract"', "\n".join([f'engine = "{engine}"', *settings])))


def dotted_page(path: Path) -> None:
    """A page of dots and no text: Tesseract's word iterator says "No text returned"."""
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    for x in range(100, 1600, 30):
        for y in range(100, 2100, 30):
            draw.ellipse((x, y, x + 8, y + 8), fill=0)
    image.save(path, dpi=(200, 200))


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_a_page_an_engine_cannot_read_is_a_result_with_a_warning(workspace: Workspace,
                                                                  engine: str) -> None:
    ocr_config(workspace, engine, 'fallback_engine = "none"')
    dotted_page(workspace.inbox / "dots.png")
    Image.new("L", (1700, 2200), 255).save(workspace.inbox / "blank.png", dpi=(200, 200))
    assert cli.main(["run", "--oneshot", "--config", str(workspace.config)]) == ExitCode.OK
    assert not workspace.failed.exists() or list(workspace.failed.iterdir()) == []
    blank = json.loads((workspace.outbox / "blank.json").read_text())
    assert any(": no_text:" in w for w in blank["warnings"]), blank["warnings"]
    assert blank["pages"][0]["engine"] == engine
    dots = json.loads((workspace.outbox / "dots.json").read_text())  # a result, not failed/
    if engine == "tesseract":  # reads nothing there (RapidOCR reads dots as characters)
        assert any(": no_text:" in w for w in dots["warnings"]), dots["warnings"]


def small_print(path: Path) -> None:
    """Two lines in 9-pixel print: Tesseract reads nothing there, RapidOCR reads them."""
    image = Image.new("L", (1200, 600), 255)
    ImageDraw.Draw(image).multiline_text((50, 50), "INVOICE 2024-0042\nTotal 123.45 EUR",
                                         fill=0, font=ImageFont.load_default(size=9), spacing=20)
    image.save(path, dpi=(300, 300))


def test_the_fallback_engine_reads_a_page_the_configured_one_reads_nothing_on(
        workspace: Workspace) -> None:
    audit_file(workspace)  # ocr.engine = "tesseract", ocr.fallback_engine = "auto": RapidOCR
    small_print(workspace.inbox / "small.png")
    Image.new("L", (1700, 2200), 255).save(workspace.inbox / "blank.png", dpi=(200, 200))
    assert cli.main(["run", "--oneshot", "--config", str(workspace.config)]) == ExitCode.OK
    small = json.loads((workspace.outbox / "small.json").read_text())
    assert small["engine"]["name"] == "tesseract"
    assert small["pages"][0]["engine"] == "rapidocr"
    assert "2024-0042" in small["pages"][0]["raw_text"]
    assert any(w.startswith("page 1: read_by_fallback: tesseract read no text") and
               w.endswith("read by rapidocr") for w in small["warnings"]), small["warnings"]
    # Neither engine reads a blank page: the first engine's empty reading, with no_text.
    blank = json.loads((workspace.outbox / "blank.json").read_text())
    assert blank["pages"][0]["engine"] == "tesseract"
    assert [w.split(":")[1].strip() for w in blank["warnings"]] == ["no_text"]
    events = {e["source"]: e for e in map(json.loads, (workspace.state / "audit.log")
                                          .read_text().splitlines())
              if e["event"] == audit.DOCUMENT_PROCESSED}
    assert events["small.png"]["read_by"] == ["rapidocr"]
    assert events["small.png"]["page_warnings"] == ["read_by_fallback"]
    assert events["blank.png"]["page_warnings"] == ["no_text"]


def turned_scans(workspace: Workspace) -> None:
    write_sample(workspace.inbox / "upright.png", [["Invoice No: INV-4411", "Total due: 25.00",
                                                    "Thank you for your business"]])
    with Image.open(workspace.inbox / "upright.png") as page:
        for degrees in (90, 180, 270):
            page.rotate(degrees, expand=True).save(workspace.inbox / f"turned-{degrees}.png",
                                                   dpi=(300, 300))


@pytest.mark.parametrize("engine", ["tesseract", "rapidocr"])
def test_pages_scanned_sideways_or_upside_down_are_read_upright(workspace: Workspace,
                                                                 engine: str) -> None:
    ocr_config(workspace, engine)
    turned_scans(workspace)
    assert cli.main(["run", "--oneshot", "--config", str(workspace.config)]) == ExitCode.OK
    upright = json.loads((workspace.outbox / "upright.json").read_text())
    assert upright["pages"][0]["turned"] == 0
    for degrees in (90, 180, 270):
        result = json.loads((workspace.outbox / f"turned-{degrees}.json").read_text())
        page = result["pages"][0]
        assert page["turned"] == 360 - degrees, (degrees, page["raw_text"])
        assert "INV-4411" in page["raw_text"]
        assert (page["width"], page["height"]) == ((upright["pages"][0]["height"],
                                                    upright["pages"][0]["width"])
                                                   if degrees != 180 else
                                                   (upright["pages"][0]["width"],
                                                    upright["pages"][0]["height"]))
        assert not any("low_ocr_confidence" in w for w in result["warnings"])


def test_a_turned_page_read_as_scanned_gets_a_low_confidence_warning(
        workspace: Workspace) -> None:
    ocr_config(workspace, "tesseract", "orientation = false")
    turned_scans(workspace)
    assert cli.main(["run", "--oneshot", "--config", str(workspace.config)]) == ExitCode.OK
    upright = json.loads((workspace.outbox / "upright.json").read_text())
    sideways = json.loads((workspace.outbox / "turned-90.json").read_text())
    assert not any("low_ocr_confidence" in w for w in upright["warnings"])
    assert sideways["pages"][0]["turned"] == 0
    assert any(": low_ocr_confidence:" in w or ": no_text:" in w
               for w in sideways["warnings"]), sideways["warnings"]


def test_the_canonical_events_carry_every_key_the_counters_read(workspace: Workspace) -> None:
    audit_file(workspace)
    write_sample(workspace.inbox / "good.png", [["Invoice No: INV-5", "Total: 1.00"]])
    (workspace.inbox / "broken.pdf").write_bytes(b"%PDF-1.4 nothing here\n%%EOF\n")
    assert cli.main(["run", "--oneshot", "--config", str(workspace.config)]) == ExitCode.OK
    events = workspace.audit_events()
    for name in (audit.DOCUMENT_PROCESSED, audit.DOCUMENT_FAILED):
        (event,) = [e for e in events if e["event"] == name]
        missing = set(audit.CANONICAL_KEYS[name]) - set(event)
        assert not missing, (name, missing)
