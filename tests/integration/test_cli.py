"""The installed command as a user runs it: a real process, real signals, real stdout."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from inbox_ocr.bench.samples import SAMPLES, write_sample
from tests.support.workspace import SHARED_DATASETS, Workspace

REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, timeout: float = 120, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    """``python -m inbox_ocr ARGS`` to completion, output captured. ``env`` adds variables (the
    autouse fixture has already removed every ``INBOX_OCR_*`` override from ours)."""
    return subprocess.run([sys.executable, "-m", "inbox_ocr", *args], cwd=REPO,
                          env={**os.environ, **(env or {})}, capture_output=True, text=True,
                          timeout=timeout)


class Process:
    """``python -m inbox_ocr ...`` with stdout read line by line on a thread."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_OCR_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "inbox_ocr", *args], cwd=REPO, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        assert self.proc.stdout is not None
        self._pump_thread = threading.Thread(target=self._pump, args=(self.proc.stdout,),
                                             daemon=True)
        self._pump_thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line)
        self.lines.put(None)

    def wait_event(self, name: str, timeout: float = 60, **match: Any) -> dict[str, Any]:
        while True:
            line = self.lines.get(timeout=timeout)
            if line is None:
                raise AssertionError(f"process exited before {name}: {self.proc.stderr.read()}")  # type: ignore[union-attr]
            event = json.loads(line)
            if event["event"] == name and all(event.get(k) == v for k, v in match.items()):
                return event

    def finish(self, timeout: float = 60) -> int:
        return self.proc.wait(timeout)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(10)
        self._pump_thread.join(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def test_daemon_process_handles_sigterm(workspace: Workspace) -> None:
    workspace.write_config('[log]\nformat = "json"\nlevel = "debug"\n')
    daemon = Process("run", "--config", str(workspace.config))
    try:
        daemon.wait_event("daemon.ready")
        write_sample(workspace.inbox / "one.png", [["Invoice No: 42"]])
        processed = daemon.wait_event("document.processed", source="one.png")
        assert processed["pages"] == 1
        # A long document, and SIGTERM as soon as its first page is being worked on.
        write_sample(workspace.inbox / "long.pdf", [[f"Page {n}"] for n in range(8)])
        daemon.wait_event("page.split", page=1)
        daemon.proc.send_signal(signal.SIGTERM)
        daemon.wait_event("daemon.stopping")
        stopped = daemon.wait_event("daemon.stopped")
        assert daemon.finish() == 0
    finally:
        daemon.close()
    # The in-flight document was finished within the drain timeout, complete.
    assert stopped["processed"] == 2
    assert (workspace.outbox / "long.txt").read_text().count("\f") == 7
    assert sorted(os.listdir(workspace.archive)) == ["long.pdf", "one.png"]


def test_bad_config_stops_start_up_naming_the_key(workspace: Workspace) -> None:
    workspace.write_config("[limits]\nmax_pages = -1\n")
    proc = subprocess.run([sys.executable, "-m", "inbox_ocr", "run", "--config",
                           str(workspace.config)], capture_output=True, text=True, timeout=60,
                          cwd=REPO)
    assert proc.returncode == 2
    assert "limits.max_pages" in proc.stderr


def test_ocr_command_prints_raw_and_corrected_text(tmp_path: Path) -> None:
    good = REPO / "samples" / "invoice-acme.png"
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"nothing")
    proc = subprocess.run([sys.executable, "-m", "inbox_ocr", "ocr", str(good), str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode == 1  # one file failed
    assert "page 1: raw" in proc.stdout and "page 1: corrected" in proc.stdout
    assert "Invoice No: INV-2024-0042" in proc.stdout
    assert "bad.pdf: unsupported_format" in proc.stderr


def test_oneshot_on_the_shipped_samples(workspace: Workspace) -> None:
    for name in SAMPLES:
        (workspace.inbox / name).write_bytes((REPO / "samples" / name).read_bytes())
    proc = subprocess.run([sys.executable, "-m", "inbox_ocr", "run", "--oneshot", "--config",
                           str(workspace.config)], capture_output=True, text=True, timeout=120,
                          cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    stems = sorted(Path(n).stem for n in SAMPLES)
    assert workspace.outbox_files() == sorted(f"{s}.{e}" for s in stems for e in ("json", "txt"))
    text = (workspace.outbox / "invoice-acme.txt").read_text()
    assert "Total due: GBP 161.88" in text


@pytest.mark.skipif(not (SHARED_DATASETS / "invoice2data").is_dir(),
                    reason="../shared/datasets/invoice2data is not present")
def test_oneshot_on_invoice2data_pdfs(workspace: Workspace) -> None:
    """Issue 2's acceptance run: six real invoices in, six results out, all archived, each
    invoice number in the text. With the default engine (the other pipeline tests pin
    Tesseract, which drops Flipkart's number, printed inside a dashed box)."""
    folder = SHARED_DATASETS / "invoice2data"
    pdfs = sorted(folder.glob("*.pdf"))
    for pdf in pdfs:
        (workspace.inbox / pdf.name).write_bytes(pdf.read_bytes())
    proc = subprocess.run([sys.executable, "-m", "inbox_ocr", "run", "--oneshot", "--config",
                           str(workspace.config)], capture_output=True, text=True, timeout=300,
                          cwd=REPO, env={**os.environ, "INBOX_OCR_OCR_ENGINE": "rapidocr"})
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(workspace.archive)) == [p.name for p in pdfs]
    found = {}
    for pdf in pdfs:
        expected = str(json.loads(pdf.with_suffix(".json").read_text())[0]["invoice_number"])
        text = (workspace.outbox / f"{pdf.stem}.txt").read_text()
        found[pdf.stem] = expected.replace(" ", "") in text.replace(" ", "")
        assert json.loads((workspace.outbox / f"{pdf.stem}.json").read_text())[
            "engine"]["name"] == "rapidocr"
    assert found == {p.stem: True for p in pdfs}


def test_daemon_process_under_a_notify_socket(workspace: Workspace,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """What systemd sees: READY=1, STATUS=/WATCHDOG=1, RELOADING=1 + READY=1 on SIGHUP,
    STOPPING=1 on SIGTERM; all over a real datagram socket, from the real process."""
    from tests.support.notify_socket import NotifySocket

    workspace.write_config('[log]\nformat = "json"\n[service]\nstatus_seconds = 0.05\n')
    sock = NotifySocket()
    monkeypatch.setenv("NOTIFY_SOCKET", str(sock.path))
    monkeypatch.setenv("WATCHDOG_USEC", "2000000")
    daemon = Process("run", "--config", str(workspace.config))
    try:
        ready = sock.wait_for("READY", "1")
        assert ready["STATUS"] == f"watching {workspace.inbox}"
        write_sample(workspace.inbox / "one.png", [["Invoice No: 42"]])
        sock.wait_for("WATCHDOG", "1", contains="done 1")
        workspace.config.write_text(workspace.config.read_text() + "[limits]\nmax_pages = 9\n")
        daemon.proc.send_signal(signal.SIGHUP)
        sock.wait_for("RELOADING", "1")
        assert sock.wait_for("READY", "1")["STATUS"] == "configuration reloaded"
        reloaded = daemon.wait_event("config.reloaded")
        assert reloaded["applied"] == ["limits.max_pages"] and reloaded["needs_restart"] == []
        daemon.proc.send_signal(signal.SIGTERM)
        sock.wait_for("STOPPING", "1")
        assert daemon.finish() == 0
    finally:
        daemon.close()
        sock.close()
    messages = sock.messages
    assert messages[0]["READY"] == "1" and messages[-1] == {"STOPPING": "1", "STATUS": "draining"}
    kinds = [next(k for k in ("READY", "RELOADING", "WATCHDOG", "STATUS") if k in m)
             for m in messages[:-1]]
    collapsed = [k for i, k in enumerate(kinds) if i == 0 or k != kinds[i - 1]]
    assert collapsed[0] == "READY" and collapsed[1] == "WATCHDOG"
    assert collapsed[collapsed.index("RELOADING") + 1] == "READY"
    assert set(collapsed[2:]) <= {"WATCHDOG", "RELOADING", "READY"}
