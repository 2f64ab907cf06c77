"""Audit events as journal entries: field mapping, and real entries over the journal socket."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import shutil
import socket
import struct
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from inbox_ocr.ops import audit, journald

JOURNAL_SOCKET = Path("/run/systemd/journal/socket")


def journald_listens() -> bool:
    """A journald receives on its socket. A socket file that nobody listens on (left by a
    test run killed while it stood in for journald) is no journald."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(str(JOURNAL_SOCKET))
        except OSError:
            return False
    return True


def test_field_names() -> None:
    assert journald.field_name("sha256") == "DOCUMENT_SHA256"
    assert journald.field_name("stage") == "STAGE"
    assert journald.field_name("document_id") == "DOCUMENT_ID"
    assert journald.field_name("message") == "ERROR_MESSAGE"
    assert journald.field_name("split_s") == "SPLIT_S"
    assert journald.field_name("priority") == "F_PRIORITY"  # journald's own field
    assert journald.field_name("_private") == "PRIVATE"
    assert journald.field_name("2fa") == "F_2FA"
    assert journald.field_name("a-b.c") == "A_B_C"


def test_journal_fields_of_an_event() -> None:
    fields = journald.journal_fields({
        "event": "document.failed", "level": "error", "timestamp": "2026-01-01T00:00:00Z",
        "document_id": "abc-1", "stage": "outbox", "sha256": "f" * 64, "pages": 3,
        "message": "cannot be decoded", "queues": {"intake": 1},
    })
    assert fields[0] == ("MESSAGE=document.failed document_id=abc-1 stage=outbox "
                         f"sha256={'f' * 64} pages=3 message=cannot be decoded "
                         'queues={"intake": 1}')
    assert fields[1:] == ["PRIORITY=3", "SYSLOG_IDENTIFIER=inbox-ocr", "EVENT=document.failed",
                          "DOCUMENT_ID=abc-1", "STAGE=outbox", f"DOCUMENT_SHA256={'f' * 64}",
                          "PAGES=3", "ERROR_MESSAGE=cannot be decoded",
                          'QUEUES={"intake": 1}']


def test_auto_means_stdout_is_the_journal(tmp_path: Path) -> None:
    with (tmp_path / "out").open("w") as stream:
        st = os.fstat(stream.fileno())
        assert journald.wanted("auto", {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, stream)
        assert not journald.wanted("auto", {"JOURNAL_STREAM": f"{st.st_dev}:1"}, stream)
        assert not journald.wanted("auto", {}, stream)
        assert not journald.wanted("off", {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}, stream)
        assert journald.wanted("on", {}, stream)


def parse_native(datagram: bytes) -> dict[str, str]:
    """journald's native protocol: KEY=value lines, or KEY, 64-bit LE length, data, newline."""
    fields, rest = {}, datagram
    while rest:
        line, _, after = rest.partition(b"\n")
        if b"=" in line:
            key, _, value = line.partition(b"=")
            fields[key.decode()] = value.decode()
            rest = after
        else:
            (length,) = struct.unpack("<Q", after[:8])
            fields[line.decode()] = after[8:8 + length].decode()
            rest = after[8 + length + 1:]
    return fields


@pytest.fixture
def journal_socket() -> Iterator[socket.socket]:
    """Stand in for journald on its well-known socket (only where no journald runs)."""
    if journald_listens():
        pytest.skip("a real journald runs here: test_entries_reach_a_real_journald covers it")
    if os.geteuid() != 0:
        pytest.skip("binding /run/systemd/journal/socket needs root")
    JOURNAL_SOCKET.unlink(missing_ok=True)  # a stale socket that nobody listens on
    created = [p for p in (JOURNAL_SOCKET.parent.parent, JOURNAL_SOCKET.parent) if not p.exists()]
    JOURNAL_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(JOURNAL_SOCKET))
    sock.settimeout(30)
    try:
        yield sock
    finally:
        sock.close()
        JOURNAL_SOCKET.unlink()
        for folder in reversed(created):
            with contextlib.suppress(OSError):
                folder.rmdir()


def test_audit_events_go_to_the_journal_with_their_fields(
        journal_socket: socket.socket, tmp_path: Path) -> None:
    stdout = io.StringIO()
    audit.configure("info", "json", tmp_path / "audit.log", stdout, journal=True)
    log = audit.get_logger()
    log.info(audit.DOCUMENT_PROCESSED, document_id="d-1", stage="outbox", sha256="ab" * 32,
             pages=2, note="two\nlines")
    entry = parse_native(journal_socket.recv(65536))
    assert entry["EVENT"] == "document.processed" and entry["PRIORITY"] == "6"
    assert entry["DOCUMENT_SHA256"] == "ab" * 32 and entry["STAGE"] == "outbox"
    assert entry["DOCUMENT_ID"] == "d-1" and entry["PAGES"] == "2" and entry["NOTE"] == "two\nlines"
    assert entry["SYSLOG_IDENTIFIER"] == "inbox-ocr"
    assert entry["MESSAGE"].startswith("document.processed document_id=d-1")
    # The JSON file log is kept; stdout is not written (it would be the journal twice).
    [line] = (tmp_path / "audit.log").read_text().splitlines()
    assert json.loads(line)["sha256"] == "ab" * 32
    assert stdout.getvalue() == ""


@pytest.mark.skipif(not journald_listens() or shutil.which("journalctl") is None,
                    reason="no journald running here")
def test_entries_reach_a_real_journald(tmp_path: Path) -> None:
    marker = uuid.uuid4().hex
    audit.configure("info", "json", None, io.StringIO(), journal=True)
    audit.get_logger().info(audit.DOCUMENT_ADMITTED, sha256=marker, stage="intake")
    # Follow the journal and wait (with a deadline) for the entry to be indexed.
    follow = subprocess.Popen(["journalctl", "--follow", "--lines=all", "-o", "json",
                               f"DOCUMENT_SHA256={marker}"], stdout=subprocess.PIPE, text=True)
    try:
        assert follow.stdout is not None
        ready, _, _ = select.select([follow.stdout], [], [], 30)
        assert ready, "the entry did not reach the journal"
        out = follow.stdout.readline()
    finally:
        follow.kill()
        follow.wait(10)
        if follow.stdout is not None:
            follow.stdout.close()
    entry = json.loads(out)
    assert entry["STAGE"] == "intake" and entry["EVENT"] == "document.admitted"
