"""Fault injection on the real daemon: kill -9 at every step, crashing and hanging OCR workers,
an outbox that disappears, duplicates, hostile file names and files. Each test asserts that
nothing was lost, nothing was produced twice, and the daemon still processes the next file."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import signal
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from pypdf import PdfWriter

from inbox_ocr.bench.samples import write_sample
from inbox_ocr.faults import CRASH_ENV
from inbox_ocr.ops import audit
from inbox_ocr.records import Outcome
from tests.integration.test_cli import Process, cli
from tests.support.harness import Harness, run
from tests.support.workspace import Workspace


@pytest.fixture(autouse=True)
def audit_to_file(workspace: Workspace) -> None:
    import io

    workspace.state.mkdir()
    audit.configure("debug", "json", workspace.state / "audit.log", io.StringIO())


FAST_RETRY = "[retry]\nbackoff_seconds = 0.05\nmax_backoff_seconds = 0.2\n"


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def oneshot(ws: Workspace, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    return cli("run", "--oneshot", "--config", str(ws.config),
               env={CRASH_ENV: crash_at} if crash_at else None)


def assert_exactly_once(ws: Workspace, inputs: dict[str, str]) -> None:
    """Every input has exactly one complete result, is archived, and nothing is left over."""
    results: dict[str, int] = {}
    for js in ws.outbox.glob("*.json"):
        result = json.loads(js.read_text())
        digest = result["source"]["sha256"]
        results[digest] = results.get(digest, 0) + 1
        assert (ws.outbox / result["outputs"]["text"]).exists()
    assert results == {digest: 1 for digest in inputs.values()}, (results, ws.outbox_files())
    assert len(list(ws.outbox.glob("*.txt"))) == len(inputs)  # no orphan .txt
    assert not [p for p in ws.outbox.iterdir() if p.name.startswith(".")]  # no temp files
    assert sorted(p.name for p in ws.archive.iterdir()) == sorted(inputs)
    assert list(ws.inbox.iterdir()) == []


def drop_inputs(ws: Workspace, count: int = 3) -> dict[str, str]:
    inputs = {}
    for n in range(count):
        path = ws.inbox / f"doc-{n}.png"
        write_sample(path, [[f"Invoice No: INV-{7000 + n}", f"Total: {n}.50"]])
        inputs[path.name] = sha(path)
    return inputs


@pytest.mark.slow
@pytest.mark.parametrize("point", ["outbox.after_txt", "outbox.committed", "outbox.archived"])
def test_kill_9_during_the_outbox_commit_then_restart(workspace: Workspace, point: str) -> None:
    workspace.write_config('[log]\nformat = "json"\n[fields]\ncsv = true\n')
    inputs = drop_inputs(workspace)
    flag = workspace.root / "crash-once"
    flag.touch()
    crashed = oneshot(workspace, f"{point}:{flag}")
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    assert not flag.exists()  # the crash point was reached
    again = oneshot(workspace)
    assert again.returncode == 0, again.stderr
    assert_exactly_once(workspace, inputs)
    if point != "outbox.archived":
        assert '"journal.recovered"' in again.stdout
    # fields.csv: one row per result, none missing (the crash after the commit came before
    # the row: recovery appended it), none twice
    with (workspace.outbox / "fields.csv").open(newline="", encoding="utf-8") as fh:
        documents = [row[0] for row in list(csv.reader(fh))[1:]]
    assert sorted(documents) == sorted(p.stem for p in workspace.outbox.glob("*.json"))
    assert ('"rows_restored": 1' in again.stdout) == (point == "outbox.committed")


@pytest.mark.slow
def test_kill_9_during_ocr_then_restart(workspace: Workspace) -> None:
    workspace.write_config('[log]\nformat = "json"\nlevel = "debug"\n')
    inputs = drop_inputs(workspace)
    daemon = Process("run", "--config", str(workspace.config))
    try:
        daemon.wait_event("page.split")
        daemon.proc.send_signal(signal.SIGKILL)
        assert daemon.finish() == -signal.SIGKILL
    finally:
        daemon.close()
    again = oneshot(workspace)
    assert again.returncode == 0, again.stderr
    assert_exactly_once(workspace, inputs)


@pytest.mark.parametrize(("point", "extra"), [
    ("ocr.worker.crash", ""),
    ("ocr.worker.hang", "[limits]\nocr_seconds_per_page = 1\n"),
])
def test_a_crashed_or_hung_ocr_worker_is_replaced_and_the_page_retried(
        workspace: Workspace, monkeypatch: pytest.MonkeyPatch, point: str, extra: str) -> None:
    workspace.write_config(FAST_RETRY + extra)
    flag = workspace.root / "once"
    flag.touch()
    monkeypatch.setenv(CRASH_ENV, f"{point}:{flag}")  # inherited by the worker processes

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        write_sample(workspace.inbox / "a.png", [["Invoice No: INV-1"]])
        first = await daemon.next()
        assert first[1] is Outcome.DEFERRED  # the worker died under this page
        second = await daemon.next()
        assert second[1] is Outcome.PROCESSED
        write_sample(workspace.inbox / "b.png", [["Invoice No: INV-2"]])
        assert (await daemon.next())[1] is Outcome.PROCESSED
        await daemon.stop()

    run(main)
    assert not flag.exists()
    assert "INV-1" in (workspace.outbox / "a.txt").read_text()
    events = [e["event"] for e in workspace.audit_events()]
    assert audit.OCR_WORKER_REPLACED in events


def test_same_content_twice_is_processed_once(workspace: Workspace) -> None:
    workspace.write_config(FAST_RETRY)

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        write_sample(workspace.inbox / "scan.png", [["Invoice No: INV-9"]])
        (workspace.inbox / "scan copy.png").write_bytes((workspace.inbox / "scan.png").read_bytes())
        outcomes = {}
        while len(outcomes) < 2:
            document, outcome = await daemon.next()
            outcomes[document.path.name] = outcome
        assert sorted(outcomes.values(), key=str) == [Outcome.DUPLICATE, Outcome.PROCESSED]
        # Dropped again later, after it was archived: still a duplicate.
        (workspace.inbox / "again.png").write_bytes((workspace.archive / "scan.png").read_bytes())
        document, outcome = await daemon.next()
        assert (document.path.name, outcome) == ("again.png", Outcome.DUPLICATE)
        await daemon.stop()

    run(main)
    assert len(list(workspace.outbox.glob("*.json"))) == 1
    assert sorted(p.name for p in workspace.archive.iterdir()) == [
        "again.png", "scan copy.png", "scan.png"]
    duplicates = [e for e in workspace.audit_events() if e["event"] == audit.DOCUMENT_DUPLICATE]
    assert len(duplicates) == 2 and all(d["outbox"] == duplicates[0]["outbox"] for d in duplicates)


def test_dedupe_off_processes_the_same_content_again(workspace: Workspace) -> None:
    workspace.write_config("dedupe = false\n")  # lands in [pipeline], the last section

    async def main() -> None:
        daemon = Harness(workspace.config, oneshot=True)
        write_sample(workspace.inbox / "a.png", [["Invoice No: INV-9"]])
        (workspace.inbox / "b.png").write_bytes((workspace.inbox / "a.png").read_bytes())
        await daemon.start()
        assert daemon.task is not None
        assert await asyncio.wait_for(daemon.task, 60) == 0

    run(main)
    assert sorted(p.name for p in workspace.outbox.glob("*.json")) == ["a.json", "b.json"]


def unmount_outbox(ws: Workspace) -> None:
    """The outbox share goes away: a file where the folder was (root ignores chmod)."""
    ws.outbox.rmdir()
    ws.outbox.write_text("not a folder")


def test_outbox_gone_then_back_keeps_the_input_and_retries(workspace: Workspace) -> None:
    workspace.write_config(FAST_RETRY.replace("max_backoff_seconds = 0.2", "max_backoff_seconds = 0.5")
                           + "max_attempts = 1000\n")

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        unmount_outbox(workspace)
        write_sample(workspace.inbox / "a.png", [["Invoice No: INV-5"]])
        _document, outcome = await daemon.next()
        assert outcome is Outcome.DEFERRED
        assert (workspace.inbox / "a.png").exists()
        workspace.outbox.unlink()
        workspace.outbox.mkdir()
        while outcome is not Outcome.PROCESSED:
            _document, outcome = await daemon.next()
        await daemon.stop()

    run(main)
    assert_exactly_once(workspace, {"a.png": sha(workspace.archive / "a.png")})
    deferred = [e for e in workspace.audit_events() if e["event"] == audit.DOCUMENT_DEFERRED]
    assert deferred and deferred[0]["reason"] == "outbox_unavailable"


def test_a_transient_error_that_persists_ends_in_failed_with_a_reason(
        workspace: Workspace) -> None:
    workspace.write_config(FAST_RETRY + "max_attempts = 2\n")

    async def main() -> None:
        daemon = Harness(workspace.config)
        await daemon.start()
        unmount_outbox(workspace)
        write_sample(workspace.inbox / "a.png", [["Invoice No: INV-5"]])
        outcomes = [(await daemon.next())[1], (await daemon.next())[1]]
        assert outcomes == [Outcome.DEFERRED, Outcome.FAILED]
        await daemon.stop()

    run(main)
    report = json.loads((workspace.failed / "a.png.error.json").read_text())
    assert report["reason"] == "retries_exhausted" and "outbox_unavailable" in report["message"]


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def test_hostile_files_are_quarantined_with_reasons_and_names_survive(
        workspace: Workspace, tmp_path_factory: pytest.TempPathFactory) -> None:
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    write_sample(outside, [["Not yours"]])
    inbox = workspace.inbox
    (inbox / "empty.pdf").write_bytes(b"")
    write_sample(inbox / "encrypted.pdf", [["Secret"]])
    protected = PdfWriter(clone_from=str(inbox / "encrypted.pdf"))
    protected.encrypt(user_password="secret", algorithm="RC4-128")
    protected.write(inbox / "encrypted.pdf")
    write_sample(inbox / "truncated.png", [["Cut short"]])
    (inbox / "truncated.png").write_bytes((inbox / "truncated.png").read_bytes()[:2000])
    write_sample(inbox / "mislabelled.pdf.png", [["Invoice No: INV-778"]])
    (inbox / "mislabelled.pdf.png").rename(inbox / "mislabelled.pdf")  # a PNG named .pdf
    (inbox / "bomb.png").write_bytes(_png_header_only(30000, 30000))
    (inbox / "link.png").symlink_to(outside)
    (inbox / "notes.docx").write_bytes(b"PK\x03\x04 not a scan")
    good_names = ["-leading dash.png", "ünïcødé façture.png", "new\nline.png"]
    for n, name in enumerate(good_names):
        write_sample(inbox / name, [[f"Invoice No: INV-77{n}"]])
    workspace.write_config("[limits]\nmax_page_megapixels = 100\n", stable_seconds=0.1)

    async def main() -> None:
        daemon = Harness(workspace.config, oneshot=True)
        await daemon.start()
        assert daemon.task is not None
        assert await asyncio.wait_for(daemon.task, 60) == 0

    run(main)
    reasons = {p.name.removesuffix(".error.json"): json.loads(p.read_text())["reason"]
               for p in workspace.failed.glob("*.error.json")}
    assert reasons == {
        "empty.pdf": "corrupt_input", "encrypted.pdf": "encrypted",
        "truncated.png": "corrupt_input",
        "bomb.png": "limit_exceeded", "link.png": "not_regular_file",
        "notes.docx": "unsupported_format",
    }
    assert (workspace.failed / "link.png").is_symlink()  # moved as a link, never followed
    assert outside.exists()
    # A newline in a name is not carried into the outbox or the archive (safe_name); the
    # JSON keeps the name as it was.
    safe = [name.replace("\n", "_") for name in good_names]
    for n, name in enumerate(safe):
        assert f"INV-77{n}" in (workspace.outbox / (Path(name).stem + ".txt")).read_text()
    assert json.loads((workspace.outbox / "new_line.json").read_text())["source"]["name"] == \
        "new\nline.png"
    assert "INV-778" in (workspace.outbox / "mislabelled.txt").read_text()
    assert sorted(p.name for p in workspace.archive.iterdir()) == sorted(
        [*safe, "mislabelled.pdf"])


def test_retry_failed_moves_quarantined_inputs_back(workspace: Workspace) -> None:
    workspace.write_config(FAST_RETRY + "max_attempts = 1\n")
    write_sample(workspace.inbox / "a.png", [["Invoice No: INV-3"]])
    first = oneshot(workspace, "ocr.worker.crash")  # every attempt crashes: quarantined at once
    assert first.returncode == 0, first.stderr
    assert (workspace.failed / "a.png").exists()
    listed = cli("retry-failed", "--config", str(workspace.config), "--reason",
                 "retries_exhausted", timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "retrying a.png (retries_exhausted)" in listed.stdout
    assert list(workspace.failed.iterdir()) == []
    again = oneshot(workspace)
    assert again.returncode == 0, again.stderr
    assert (workspace.outbox / "a.json").exists()


@pytest.mark.slow
def test_soak_with_random_kills_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    proc = cli("bench", "soak", "--files", "24", "--kill-every", "1.5", "--keep",
               str(tmp_path / "soak"), timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "inputs=24 results=24 duplicates=0 lost=0 orphans=0" in proc.stdout
