"""The real daemon in-process: real watchdog events, pdf2image, Tesseract, files on disk."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from inbox_ocr.bench.samples import write_sample
from inbox_ocr.errors import ExitCode
from inbox_ocr.ops import audit
from inbox_ocr.records import Outcome
from tests.support.harness import Harness, first_outcome, run
from tests.support.workspace import Workspace

INVOICE = ["Invoice No: INV-1001", "Total: 99.50"]


@pytest.fixture(autouse=True)
def audit_to_file(workspace: Workspace) -> None:
    workspace.state.mkdir()
    import io

    audit.configure("debug", "json", workspace.state / "audit.log", io.StringIO())


def results(ws: Workspace, stem: str) -> tuple[str, dict[str, object]]:
    text = (ws.outbox / f"{stem}.txt").read_text()
    return text, json.loads((ws.outbox / f"{stem}.json").read_text())


def test_png_dropped_into_running_daemon(workspace: Workspace) -> None:
    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        write_sample(workspace.inbox / "scan 1.png", [INVOICE])
        document, outcome = await daemon.next()
        assert outcome is Outcome.PROCESSED and document.path.name == "scan 1.png"
        assert await daemon.stop() == ExitCode.OK

    run(main)
    text, result = results(workspace, "scan 1")
    assert "Invoice No: INV-1001" in text and "Total: 99.50" in text
    assert result["source"]["name"] == "scan 1.png"  # type: ignore[index]
    assert result["page_count"] == 1
    assert result["engine"]["name"] == "tesseract"  # type: ignore[index]
    page = result["pages"][0]  # type: ignore[index]
    assert page["raw_text"] == page["text"] and "INV-1001" in page["raw_text"]
    assert {"split", "ocr", "correct"} <= set(page["timings"])
    assert (workspace.archive / "scan 1.png").exists()
    assert list(workspace.inbox.iterdir()) == []

    events = workspace.audit_events()
    canonical = [e for e in events if e["event"] == audit.DOCUMENT_PROCESSED]
    assert len(canonical) == 1
    assert canonical[0]["sha256"] == result["source"]["sha256"]  # type: ignore[index]
    assert {"split_s", "ocr_s", "correct_s", "write_s", "total_s"} <= set(canonical[0])
    # Every event between admission and the canonical one carries the document and its stage.
    steps = [e for e in events if e["event"] in (audit.PAGE_SPLIT, audit.PAGE_OCR)]
    assert {e["stage"] for e in steps} == {"split", "ocr"}
    assert all(e["document_id"] == canonical[0]["document_id"] for e in steps)


def test_three_page_pdf_and_file_present_before_start(workspace: Workspace) -> None:
    pages = [["Page one INV-7"], ["Page two of three"], ["Page three Total 12.00"]]
    write_sample(workspace.inbox / "statement.pdf", pages)

    assert first_outcome(workspace.config) is Outcome.PROCESSED
    text, result = results(workspace, "statement")
    assert text.count("\f") == 2
    assert [p.split()[:2] for p in text.split("\f")] == [["Page", "one"], ["Page", "two"],
                                                         ["Page", "three"]]
    assert [p["number"] for p in result["pages"]] == [1, 2, 3]  # type: ignore[index]


def test_file_written_slowly_is_processed_once_and_complete(workspace: Workspace) -> None:
    source = write_sample(workspace.root / "slow.pdf", [["Slow page one"], ["Slow page two"],
                                                        ["Slow page three"]])
    data = source.read_bytes()
    workspace.write_config(stable_seconds=0.6)

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        target = workspace.inbox / "slow.pdf"
        chunk = len(data) // 6 + 1
        with target.open("wb") as fh:  # a network scanner writing page by page
            for start in range(0, len(data), chunk):
                fh.write(data[start:start + chunk])
                fh.flush()
                await asyncio.sleep(0.25)  # pacing of the simulated writer, not a wait
        _document, outcome = await daemon.next()
        assert outcome is Outcome.PROCESSED
        await daemon.stop()
        assert daemon.seen == [("slow.pdf", Outcome.PROCESSED)]

    run(main)
    text, _ = results(workspace, "slow")
    assert text.count("\f") == 2 and "Slow page three" in text
    assert not any(e["event"] == audit.DOCUMENT_FAILED for e in workspace.audit_events())


def test_corrupt_pdf_is_quarantined_and_the_daemon_goes_on(workspace: Workspace) -> None:
    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        good = write_sample(workspace.root / "x.pdf", [["fine"]]).read_bytes()
        (workspace.inbox / "corrupt.pdf").write_bytes(good[: len(good) // 3])
        document, outcome = await daemon.next()
        assert (document.path.name, outcome) == ("corrupt.pdf", Outcome.FAILED)
        write_sample(workspace.inbox / "after.png", [INVOICE])
        document, outcome = await daemon.next()
        assert (document.path.name, outcome) == ("after.png", Outcome.PROCESSED)
        assert await daemon.stop() == ExitCode.OK

    run(main)
    report = json.loads((workspace.failed / "corrupt.pdf.error.json").read_text())
    assert report["reason"] == "corrupt_input" and report["stage"] == "split"
    assert (workspace.failed / "corrupt.pdf").exists()
    assert workspace.outbox_files() == ["after.json", "after.txt"]
    failed = [e for e in workspace.audit_events() if e["event"] == audit.DOCUMENT_FAILED]
    assert len(failed) == 1 and failed[0]["reason"] == "corrupt_input"


def test_temporary_name_waits_for_the_rename(workspace: Workspace) -> None:
    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        part = write_sample(workspace.inbox / "scan.pdf.part", [INVOICE])
        part.rename(workspace.inbox / "scan.pdf")
        document, outcome = await daemon.next()
        assert (document.path.name, outcome) == ("scan.pdf", Outcome.PROCESSED)
        await daemon.stop()
        assert daemon.seen == [("scan.pdf", Outcome.PROCESSED)]

    run(main)
    assert workspace.outbox_files() == ["scan.json", "scan.txt"]


def test_same_stem_inputs_never_overwrite(workspace: Workspace) -> None:
    write_sample(workspace.inbox / "invoice.png", [["First invoice"]])
    write_sample(workspace.inbox / "invoice.pdf", [["Second invoice"]])

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        await daemon.next()
        await daemon.next()
        await daemon.stop()

    run(main)
    assert workspace.outbox_files() == ["invoice-2.json", "invoice-2.txt", "invoice.json",
                                        "invoice.txt"]
    texts = {(workspace.outbox / n).read_text().strip() for n in ("invoice.txt", "invoice-2.txt")}
    assert texts == {"First invoice", "Second invoice"}


def test_polling_mode_finds_files_without_events(workspace: Workspace) -> None:
    workspace.config.write_text(workspace.config.read_text().replace(
        "rescan_seconds = 5", 'rescan_seconds = 5\nmode = "polling"\npoll_seconds = 0.2'))

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        write_sample(workspace.inbox / "polled.jpg", [INVOICE])
        document, outcome = await daemon.next()
        assert (document.path.name, outcome) == ("polled.jpg", Outcome.PROCESSED)
        await daemon.stop()

    run(main)


def test_stop_drains_in_flight_work_and_leaves_the_rest_in_the_inbox(workspace: Workspace) -> None:
    workspace.write_config("page_queue = 1\nintake_queue = 1\n")  # appended to [pipeline]
    for n in range(4):
        write_sample(workspace.inbox / f"batch-{n}.pdf", [[f"Batch {n} page {p}"] for p in range(3)])

    async def main() -> None:
        daemon = Harness(workspace.config)
        daemon.callbacks.append(lambda d, o: daemon.service.handle_exit())  # stop after first
        await daemon.start()
        assert daemon.task is not None
        assert await asyncio.wait_for(daemon.task, 60) == ExitCode.OK

    run(main)
    archived = sorted(p.name for p in workspace.archive.iterdir())
    left = sorted(p.name for p in workspace.inbox.iterdir())
    assert 1 <= len(archived) < 4
    assert sorted(archived + left) == [f"batch-{n}.pdf" for n in range(4)]
    # Exactly one complete result per archived input, no temporary files.
    assert workspace.outbox_files() == sorted(
        f"{Path(name).stem}.{ext}" for name in archived for ext in ("json", "txt"))
    for name in archived:
        assert (workspace.outbox / f"{Path(name).stem}.txt").read_text().count("\f") == 2
    stopped = [e for e in workspace.audit_events() if e["event"] == audit.DAEMON_STOPPED]
    assert stopped and stopped[0]["processed"] == len(archived)


def test_second_signal_forces_exit_without_partial_results(workspace: Workspace) -> None:
    write_sample(workspace.inbox / "long.pdf", [[f"Long document page {p}"] for p in range(12)])

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        daemon.service.handle_exit()
        daemon.service.handle_exit()
        assert await daemon.stop(timeout=30) == ExitCode.OK

    run(main)
    assert (workspace.inbox / "long.pdf").exists() or (workspace.archive / "long.pdf").exists()
    if (workspace.inbox / "long.pdf").exists():
        assert workspace.outbox_files() == []
    assert not [p for p in os.listdir(workspace.outbox) if ".tmp-" in p]


def test_oneshot_processes_everything_then_exits(workspace: Workspace) -> None:
    write_sample(workspace.inbox / "a.png", [INVOICE])
    write_sample(workspace.inbox / "b.tiff", [["Tiff page one"], ["Tiff page two"]])
    (workspace.inbox / "c.pdf").write_bytes(b"%PDF-1.4 broken")

    async def main() -> ExitCode:
        daemon = Harness(workspace.config, oneshot=True)
        await daemon.start()
        assert daemon.task is not None
        return await asyncio.wait_for(daemon.task, 60)

    assert run(main) == ExitCode.OK
    assert workspace.outbox_files() == ["a.json", "a.txt", "b.json", "b.txt"]
    assert sorted(os.listdir(workspace.failed)) == ["c.pdf", "c.pdf.error.json"]
    assert list(workspace.inbox.iterdir()) == []
