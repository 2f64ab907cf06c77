"""The model in its own supervised process: a crash, a hang or a failed start costs at most the
pages being corrected, never a document, never the daemon.

The restart policy is a pure core (tested with a clock of our own); everything else runs the
real packaged GGUF model with llama.cpp in a real child process, and the end-to-end tests run
the real daemon as a subprocess and send SIGSEGV to its model process."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inbox_ocr.bench.samples import write_sample
from inbox_ocr.config import LlmSettings
from inbox_ocr.correct.process import RestartPolicy, SupervisedCorrector, describe_exit
from inbox_ocr.errors import StartupError
from inbox_ocr.faults import CRASH_ENV
from inbox_ocr.ops import audit
from tests.support.notify_socket import NotifySocket
from tests.support.workspace import Workspace

REPO = Path(__file__).resolve().parents[2]
CONFUSED = "Tota1 due: GBP 161.88\nCASH 1O.00"
FIXED = "Total due: GBP 161.88\nCASH 10.00"
TIMEOUT = 120.0


# -- the restart policy (pure) ---------------------------------------------------------------

def test_backoff_doubles_then_too_many_failures_degrade() -> None:
    policy = RestartPolicy(crash_limit=3, window=600.0, retry_after=300.0)
    assert policy.wait(0.0) == 0.0
    assert policy.failed(10.0) is False
    assert policy.wait(10.0) == 1.0 and policy.wait(11.0) == 0.0
    assert policy.failed(20.0) is False
    assert policy.wait(20.0) == 2.0
    assert policy.failed(30.0) is True  # third failure within the window
    assert policy.degraded and policy.wait(30.0) == 300.0
    policy.started()  # the retry worked
    assert not policy.degraded
    assert policy.failed(331.0) is True  # the old failures are still in the window


def test_failures_outside_the_window_are_forgotten() -> None:
    policy = RestartPolicy(crash_limit=2, window=60.0, retry_after=300.0)
    policy.failed(0.0)
    assert policy.failed(100.0) is False  # the first one left the window
    assert policy.wait(100.0) == 1.0


def test_backoff_is_capped() -> None:
    policy = RestartPolicy(crash_limit=100, window=1e9, retry_after=1.0, max_backoff=60.0)
    for n in range(20):
        policy.failed(float(n))
    assert policy.wait(19.0) == 60.0


def test_exit_codes_are_described() -> None:
    assert describe_exit(-signal.SIGSEGV) == "killed by SIGSEGV"
    assert describe_exit(1) == "exit code 1"


# -- the real model in a real child process --------------------------------------------------

class Events:
    """Audit events seen while a test runs (the observer hook the status file uses)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, object]]] = []

    def __call__(self, name: str, event: object) -> None:
        assert isinstance(event, dict)
        self.seen.append((name, dict(event)))

    def named(self, name: str) -> list[dict[str, object]]:
        return [e for n, e in self.seen if n == name]


@pytest.fixture
def events() -> Iterator[Events]:
    observer = Events()
    audit.add_observer(observer)
    yield observer
    audit.remove_observer(observer)


def supervised(monkeypatch: pytest.MonkeyPatch, fault: str = "", time_limit: float = 60.0,
               **settings: object) -> SupervisedCorrector:
    """A corrector whose children inherit the fault point ``fault`` (none when empty)."""
    if fault:
        monkeypatch.setenv(CRASH_ENV, fault)
    else:
        monkeypatch.delenv(CRASH_ENV, raising=False)
    return SupervisedCorrector(LlmSettings(**settings), time_limit=time_limit)  # type: ignore[arg-type]


def test_the_daemon_side_never_loads_llama_cpp(monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import sys; from inbox_ocr.config import LlmSettings; "
            "from inbox_ocr.correct.process import SupervisedCorrector; "
            "c = SupervisedCorrector(LlmSettings()); c.load(); r = c.correct(1, 'Tota1 5.00'); "
            "maps = open('/proc/self/maps').read(); c.close(); "
            "print(r.text, 'llama_cpp' in sys.modules, 'libllama' in maps or 'libggml' in maps)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[-1].split() == ["Total", "5.00", "False", "False"]


def test_a_crash_costs_the_page_and_a_new_process_takes_over(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, events: Events) -> None:
    flag = tmp_path / "crash-once"
    flag.touch()
    corrector = supervised(monkeypatch, f"model.page.segv:{flag}")
    corrector.load()
    try:
        first = corrector.pid
        assert first is not None
        lost = corrector.correct(1, CONFUSED)
        assert (lost.text, lost.corrections, lost.status) == (CONFUSED, (), "corrector_crashed")
        assert "killed by SIGSEGV" in lost.detail and "raw OCR text" in lost.detail
        again = corrector.correct(2, CONFUSED)
        assert (again.text, again.status) == (FIXED, "ok")
        assert corrector.pid not in (None, first)
        assert (corrector.crashes, corrector.restarts, corrector.degraded) == (1, 1, False)
    finally:
        corrector.close()
    assert [e["reason"] for e in events.named(audit.MODEL_CRASHED)] == ["crashed"]
    assert [e["restart"] for e in events.named(audit.MODEL_LOADED)] == [False, True]
    assert all(isinstance(e["self_test_score"], float) for e in events.named(audit.MODEL_LOADED))


def test_a_hung_model_is_killed_and_the_page_keeps_its_raw_text(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    flag = tmp_path / "hang-once"
    flag.touch()
    corrector = supervised(monkeypatch, f"model.page.hang:{flag}", time_limit=1.0)
    corrector.load()
    try:
        hung = corrector.pid
        result = corrector.correct(1, CONFUSED)
        assert (result.text, result.status) == (CONFUSED, "corrector_timeout")
        assert "no answer within 2 s" in result.detail
        assert hung is not None and not _alive(hung)
        assert corrector.correct(2, CONFUSED).text == FIXED
    finally:
        corrector.close()


def test_repeated_crashes_degrade_the_corrector(monkeypatch: pytest.MonkeyPatch,
                                                events: Events) -> None:
    corrector = supervised(monkeypatch, "model.page.segv", crash_limit=2,
                           degraded_retry_seconds=3600.0)
    corrector.load()
    try:
        assert corrector.correct(1, CONFUSED).status == "corrector_crashed"
        assert corrector.correct(2, CONFUSED).status == "corrector_crashed"  # after 1 s back-off
        assert corrector.degraded
        degraded = corrector.correct(3, CONFUSED)
        assert (degraded.text, degraded.status) == (CONFUSED, "corrector_degraded")
        assert "llm.degraded_retry_seconds" in degraded.detail
        assert corrector.pid is None  # no process is started while degraded
    finally:
        corrector.close()
    assert len(events.named(audit.MODEL_DEGRADED)) == 1


def test_a_model_that_cannot_start_refuses_or_degrades_as_configured(
        monkeypatch: pytest.MonkeyPatch) -> None:
    refuse = supervised(monkeypatch, "model.start.segv", on_start_failure="refuse")
    with pytest.raises(StartupError, match=r"died while starting \(killed by SIGSEGV\).*refuse"):
        refuse.load()
    degrade = supervised(monkeypatch, "model.start.segv", crash_limit=1)
    degrade.load()  # starts anyway, loudly (model.degraded at error level)
    try:
        assert degrade.degraded
        assert degrade.correct(1, CONFUSED).status == "corrector_degraded"
    finally:
        degrade.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purpose.
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


# -- the real daemon, as a subprocess -------------------------------------------------------

class Daemon:
    """``python -m inbox_ocr run`` in watch mode, with a real sd_notify socket; audit events are
    read from its JSON audit log."""

    def __init__(self, ws: Workspace, env: dict[str, str] | None = None) -> None:
        self.ws = ws
        self.sock = NotifySocket()
        environ = {k: v for k, v in os.environ.items() if not k.startswith("INBOX_OCR_")}
        environ.pop(CRASH_ENV, None)
        environ.update(env or {})
        environ.update({"NOTIFY_SOCKET": str(self.sock.path), "INBOX_OCR_LOG_FORMAT": "json"})
        self.proc = subprocess.Popen([sys.executable, "-m", "inbox_ocr", "run", "--config",
                                      str(ws.config)], cwd=REPO, env=environ,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.sock.wait_for("READY", "1", timeout=TIMEOUT)

    def events(self, name: str) -> list[dict[str, object]]:
        return [e for e in self.ws.audit_events() if e.get("event") == name]

    def until(self, name: str, count: int = 1,
              where: Callable[[dict[str, object]], bool] = lambda e: True,
              timeout: float = TIMEOUT) -> list[dict[str, object]]:
        """Wait until the audit log holds ``count`` events ``name`` matching ``where``."""
        deadline = time.monotonic() + timeout
        while True:
            found = [e for e in self.events(name) if where(e)]
            if len(found) >= count:
                return found
            assert self.proc.poll() is None, f"daemon exited: {self.proc.stderr.read()}"  # type: ignore[union-attr]
            assert time.monotonic() < deadline, f"no {count} x {name} in {timeout} s"
            with contextlib.suppress(queue.Empty):
                self.sock.wait_for("STATUS", timeout=0.5)  # the next tick, or half a second

    def status_containing(self, text: str, timeout: float = TIMEOUT) -> str:
        """The first STATUS= line from now on that contains ``text``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(queue.Empty):
                status = self.sock.wait_for("STATUS", timeout=0.5)["STATUS"]
                if text in status:
                    return status
        raise AssertionError(f"no STATUS= with {text!r} in {timeout} s")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        _out, err = self.proc.communicate(timeout=TIMEOUT)
        self.stderr = err
        self.sock.close()
        return self.proc.returncode


def model_config(ws: Workspace, extra: str = "") -> None:
    ws.write_config(llm=True, extra=f"[log]\nfile = \"audit.log\"\nformat = \"json\"\n"
                                    f"[service]\nstatus_seconds = 0.2\n{extra}")


def drop_receipts(ws: Workspace, count: int) -> None:
    # Tesseract reads the printed "Tota1" as it is: every page asks the model something.
    for n in range(count):
        write_sample(ws.inbox / f"receipt-{n:02}.png",
                     [[f"Tota1 due {n}.50", f"Receipt {4100 + n}"]])


@pytest.mark.slow
def test_sigsegv_to_the_model_process_leaves_the_daemon_running(workspace: Workspace) -> None:
    model_config(workspace)
    daemon = Daemon(workspace)
    try:
        first = daemon.until(audit.MODEL_LOADED)[0]["pid"]
        assert isinstance(first, int)
        maps = Path(f"/proc/{daemon.proc.pid}/maps").read_text()
        assert "libllama" not in maps and "libggml" not in maps  # llama.cpp lives elsewhere
        drop_receipts(workspace, 12)
        daemon.until(audit.PAGE_CORRECTED, 2)
        os.kill(first, signal.SIGSEGV)
        processed = daemon.until(audit.DOCUMENT_PROCESSED, 12)
        assert daemon.proc.poll() is None
        loaded = daemon.events(audit.MODEL_LOADED)
        assert len(loaded) == 2 and loaded[1]["pid"] != first and loaded[1]["restart"] is True
        assert daemon.events(audit.MODEL_CRASHED)[0]["reason"] == "crashed"
        status = json.loads((workspace.state / "status.json").read_text())
        assert status["model"]["pid"] == loaded[1]["pid"] and status["model"]["crashes"] == 1
    finally:
        code = daemon.stop()
    assert code == 0, daemon.stderr
    assert len(processed) == 12
    assert sorted(p.name for p in workspace.outbox.glob("*.json")) == [
        f"receipt-{n:02}.json" for n in range(12)]
    assert not workspace.failed.exists() or not list(workspace.failed.iterdir())
    results = [json.loads(p.read_text()) for p in workspace.outbox.glob("*.json")]
    lost = [r for r in results if r["pages"][0]["correction"] == "corrector_crashed"]
    assert len(lost) <= 1  # at most the page being corrected when the signal came
    for result in lost:
        assert result["pages"][0]["text"] == result["pages"][0]["raw_text"]
        assert any("corrector_crashed" in w for w in result["warnings"])
    assert all(r["pages"][0]["text"].startswith("Total due") for r in results if r not in lost)


@pytest.mark.slow
def test_repeated_crashes_degrade_visibly_and_lose_nothing(workspace: Workspace) -> None:
    model_config(workspace)
    config = workspace.config.read_text().replace(
        "[llm]\nenabled = true", "[llm]\nenabled = true\ncrash_limit = 2\n"
        "degraded_retry_seconds = 3600")
    workspace.config.write_text(config)
    daemon = Daemon(workspace, env={CRASH_ENV: "model.page.segv"})
    try:
        drop_receipts(workspace, 4)
        processed = daemon.until(audit.DOCUMENT_PROCESSED, 4)
        daemon.until(audit.MODEL_DEGRADED)
        assert "model DEGRADED (2 crashes" in daemon.status_containing("model DEGRADED")
        report = subprocess.run([sys.executable, "-m", "inbox_ocr", "status", "--config",
                                 str(workspace.config)], cwd=REPO, capture_output=True,
                                text=True, timeout=TIMEOUT)
        assert "model: degraded" in report.stdout and "2 crashes" in report.stdout, report.stdout
        assert "WARNING: the correction model is degraded" in report.stdout
    finally:
        code = daemon.stop()
    assert code == 0, daemon.stderr
    assert len(processed) == 4 and not (workspace.failed.exists() and
                                        list(workspace.failed.iterdir()))
    statuses = sorted(e["corrector_warnings"][0] for e in processed)  # type: ignore[index]
    assert statuses == ["corrector_crashed", "corrector_crashed", "corrector_degraded",
                        "corrector_degraded"]
    for path in workspace.outbox.glob("*.json"):
        page = json.loads(path.read_text())["pages"][0]
        assert page["text"] == page["raw_text"]


@pytest.mark.slow
def test_a_hung_model_in_the_daemon_times_out_and_keeps_raw_text(workspace: Workspace,
                                                                  tmp_path: Path) -> None:
    model_config(workspace, "[limits]\nllm_seconds_per_page = 1\n")
    flag = tmp_path / "hang-once"
    flag.touch()
    drop_receipts(workspace, 2)
    proc = subprocess.run([sys.executable, "-m", "inbox_ocr", "run", "--oneshot", "--config",
                           str(workspace.config)], cwd=REPO, capture_output=True, text=True,
                          timeout=TIMEOUT,
                          env={**os.environ, CRASH_ENV: f"model.page.hang:{flag}"})
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(p.read_text()) for p in sorted(workspace.outbox.glob("*.json"))]
    assert sorted(r["pages"][0]["correction"] for r in results) == ["corrector_timeout", "ok"]
    timed_out = next(r for r in results if r["pages"][0]["correction"] == "corrector_timeout")
    assert timed_out["pages"][0]["text"] == timed_out["pages"][0]["raw_text"]
    assert any(w.startswith("page 1: corrector_timeout:") for w in timed_out["warnings"])


def test_metrics_and_telemetry_follow_the_model_events() -> None:
    from inbox_ocr.ops.metrics import Metrics
    from inbox_ocr.ops.telemetry import Telemetry

    metrics, telemetry = Metrics(), Telemetry()
    events = [(audit.MODEL_LOADED, {"model": "/m.gguf", "pid": 11, "restart": False}),
              (audit.MODEL_CRASHED, {"reason": "crashed"}),
              (audit.MODEL_LOADED, {"model": "/m.gguf", "pid": 12, "restart": True}),
              (audit.MODEL_CRASHED, {"reason": "timeout"}),
              (audit.MODEL_DEGRADED, {"reason": "timeout"})]
    for name, event in events:
        metrics(name, event)
        telemetry(name, event)
    value = metrics.registry.get_sample_value
    assert value("inbox_ocr_model_loaded") == 0
    assert value("inbox_ocr_model_crashes_total") == 2
    assert value("inbox_ocr_model_restarts_total") == 1
    assert telemetry.snapshot()["model_process"] == {"state": "degraded", "pid": None,
                                                     "crashes": 2, "restarts": 1}
