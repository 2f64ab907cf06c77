"""Slow writers: files written in chunks, with pauses longer than the stability window, are
processed once complete and never quarantined half-written (issue 16, defect 1)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path

import pytest

from inbox_ocr.bench.samples import write_sample
from inbox_ocr.config import WatchSettings
from inbox_ocr.errors import CorruptInput, InputChanged
from inbox_ocr.intake.completeness import Ending, judge
from inbox_ocr.intake.documents import make_document
from inbox_ocr.ops import audit
from inbox_ocr.pipeline import still_arriving
from inbox_ocr.records import Outcome
from tests.support.harness import Harness, run
from tests.support.workspace import Workspace

LINES = [["Invoice No: INV-5501", "Total: 12.50"], ["Page two", "Thank you"]]


def sample(tmp_path: Path, name: str) -> bytes:
    """A real file of the format the suffix names, its text unique to ``name``."""
    pages = [[f"{name}: {line}" for line in page] for page in LINES]
    path = write_sample(tmp_path / name, pages if name.endswith((".pdf", ".tiff")) else pages[:1])
    return path.read_bytes()


# -- what a file's ends say (pure) ------------------------------------------------------------

@pytest.mark.parametrize(("name", "ending"), [("a.pdf", Ending.COMPLETE),
                                              ("a.jpg", Ending.COMPLETE),
                                              ("a.png", Ending.COMPLETE),
                                              ("a.tiff", Ending.UNMARKED)])
def test_complete_files_show_their_end(tmp_path: Path, name: str, ending: Ending) -> None:
    data = sample(tmp_path, name)
    assert judge(data[:8], data[-1024:]).ending is ending


@pytest.mark.parametrize(("name", "missing"), [("a.pdf", "%%EOF"), ("a.jpg", "end-of-image"),
                                               ("a.png", "IEND")])
def test_a_cut_file_is_unfinished_not_corrupt(tmp_path: Path, name: str, missing: str) -> None:
    data = sample(tmp_path, name)
    for cut in (len(data) // 4, len(data) // 2, len(data) - 10):
        verdict = judge(data[:8], data[:cut][-1024:])
        assert verdict.ending is Ending.UNFINISHED and missing in verdict.reason


def test_a_file_with_a_hole_at_its_start_is_unmarked() -> None:
    # What a resumed upload re-creates after the first part was moved away.
    assert judge(b"\x00" * 8, b"\x00" * 1024).ending is Ending.UNMARKED


def test_a_read_error_on_a_file_still_being_written_is_input_changed(tmp_path: Path) -> None:
    data = sample(tmp_path, "a.pdf")
    path = tmp_path / "inbox.pdf"
    path.write_bytes(data[: len(data) // 2])
    st = path.stat()
    document = make_document(path, st.st_size, st.st_mtime_ns, time.time())
    assert "without its %%EOF trailer, last written 0 s ago" in str(
        still_arriving(document, 600.0, time.time()))
    assert still_arriving(document, 600.0, time.time() + 601) is None  # old: really broken
    with path.open("ab") as fh:
        fh.write(b"more")
    assert "changed after it was admitted" in str(still_arriving(document, 0.0, time.time()))
    complete = tmp_path / "complete.pdf"
    complete.write_bytes(data)
    st = complete.stat()
    assert still_arriving(make_document(complete, st.st_size, st.st_mtime_ns, time.time()),
                          600.0, time.time()) is None
    assert CorruptInput.may_be_unfinished and not InputChanged.may_be_unfinished


def test_the_defaults_fit_network_writers() -> None:
    watch = WatchSettings()
    assert watch.unmarked_stable_seconds > 30  # SMB/NFS writers pause 10-30 s
    assert watch.unfinished_seconds >= 300


# -- the real daemon, a real slow writer ------------------------------------------------------

def write_slowly(path: Path, data: bytes, chunks: int, pause: float, reopen: bool) -> None:
    """Write ``data`` in ``chunks`` parts with ``pause`` seconds between them; ``reopen``: open
    the path again for each part, as a resumed upload does; else keep it open, as a scanner."""
    size = -(-len(data) // chunks)
    parts = [data[i:i + size] for i in range(0, len(data), size)]
    if reopen:
        for n, part in enumerate(parts):
            with path.open("ab" if n else "wb") as fh:
                fh.write(part)
            if n < len(parts) - 1:
                time.sleep(pause)
        return
    with path.open("wb") as fh:
        for n, part in enumerate(parts):
            fh.write(part)
            fh.flush()
            if n < len(parts) - 1:
                time.sleep(pause)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["events", "polling"])
def test_files_written_in_chunks_with_long_pauses_all_get_results(workspace: Workspace,
                                                                   tmp_path: Path,
                                                                   mode: str) -> None:
    # Pauses of 1 s against a 0.3 s window; TIFF, whose end cannot be seen, waits 2.5 s.
    workspace.write_config("", stable_seconds=0.3)
    config = workspace.config.read_text().replace(
        "unmarked_stable_seconds = 0.3\nunfinished_seconds = 1.0",
        f"unmarked_stable_seconds = 2.5\nunfinished_seconds = 60\nmode = \"{mode}\"\n"
        "poll_seconds = 0.2")
    workspace.config.write_text(config)
    staging = tmp_path / "staging"
    staging.mkdir()
    files = {"scan.pdf": (True,), "receipt.jpg": (True,), "fax.tiff": (False,),
             "statement.pdf": (False,), "photo.jpg": (False,)}
    data = {name: sample(staging, name) for name in files}
    digests = {hashlib.sha256(d).hexdigest(): name for name, d in data.items()}
    events: list[str] = []

    def observe(name: str, _event: object) -> None:
        events.append(name)

    async def main() -> list[Outcome]:
        daemon = Harness(workspace.config)
        await daemon.start()
        audit.add_observer(observe)
        writers = [threading.Thread(target=write_slowly,
                                    args=(workspace.inbox / name, data[name], 4, 1.0, reopen))
                   for name, (reopen,) in files.items()]
        for writer in writers:
            writer.start()
        outcomes = []
        while len(outcomes) < len(files):
            outcomes.append((await daemon.next(timeout=60))[1])
        for writer in writers:
            writer.join()
        await daemon.stop()
        return outcomes

    try:
        outcomes = run(main)
    finally:
        audit.remove_observer(observe)
    assert outcomes == [Outcome.PROCESSED] * len(files)
    assert not workspace.failed.exists() or list(workspace.failed.iterdir()) == []
    results = [json.loads(p.read_text()) for p in workspace.outbox.glob("*.json")]
    # Each result is of the complete file, and there is exactly one per input.
    assert sorted(digests[r["source"]["sha256"]] for r in results) == sorted(files)
    assert sorted(p.name for p in workspace.archive.iterdir()) == sorted(files)
    assert audit.DOCUMENT_WAITING in events  # a PDF or JPEG was seen without its end
