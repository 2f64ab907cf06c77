"""The resident model in its own supervised process: a native crash costs a page, not the daemon.

The daemon process never imports llama.cpp. ``ModelProcess`` starts one child (``spawn``: the
daemon has threads that ``fork`` must not copy). The child loads the GGUF file the parent
resolved, scores a fixed line as a self-test (the result must be finite), says ready, and then
corrects one page at a time (``inbox_ocr.correct.corrector.ConfusionCorrector``) until its pipe closes.
It stays resident between pages: it is the one model of the service.

``SupervisedCorrector`` is the ``Corrector`` the daemon and the CLI use. What each failure
costs, and what the reader of the outbox sees (``PageCorrection.status``, in the page's JSON,
the document's warnings and its canonical audit event)::

    the child dies (SIGSEGV, OOM kill, abort)   that page stays raw    corrector_crashed
    no answer within the page's time limit       child killed, raw      corrector_timeout
      (limits.llm_seconds_per_page + grace)
    the child raises                             that page stays raw    corrector_failed
    the child cannot start / is backing off      page raw               corrector_unavailable
    llm.crash_limit failures within              every page raw until   corrector_degraded
      llm.crash_window_seconds                   llm.degraded_retry_seconds, then one start

A failed page never fails or retries its document. After a failure the next page starts a new
child, after a back-off of 1, 2, 4 ... s (``RestartPolicy``, a pure core with an injected
clock). Each start, crash and state change is an audit event (``model.*``), which the status
file, systemd's STATUS= line and the metrics follow.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from inbox_ocr import faults
from inbox_ocr.child import ChildDied, ChildTimedOut, PipedChild
from inbox_ocr.config import LlmSettings, Settings
from inbox_ocr.correct.corrector import ConfusionCorrector, Corrector, PassThroughCorrector
from inbox_ocr.correct.model import Hub, resolve_model
from inbox_ocr.errors import ConfigError, StartupError
from inbox_ocr.ops import audit
from inbox_ocr.records import LineReading, PageCorrection

log = audit.get_logger()

#: The start-up self-test: scored once in the child before it says ready.
SELF_TEST_LINE = "Invoice No: 12345  Total: 10.00"
#: Seconds past limits.llm_seconds_per_page before a page's child is killed (the corrector
#: stops on its own at the limit, between lines; one line in flight may still finish).
HANG_GRACE_S = 10.0


# -- the child ------------------------------------------------------------------------------

def _child_main(settings: LlmSettings, model_path: str, time_limit: float | None,
                languages: str, conn: Connection) -> None:
    """Entry point of the model process: load, self-test, then answer pages until EOF.

    Messages in: ``(page, text)``. Out: ``("ready", info)`` or ``("error", exc)`` once, then
    ``("ok", PageCorrection)`` or ``("error", message)`` per page. SIGINT/SIGTERM are ignored:
    the daemon decides when its model stops (it closes the pipe after the drain).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from inbox_ocr.correct.lexicon import load_lexicon
    from inbox_ocr.correct.model import LlamaScorer

    scorer = LlamaScorer(settings)
    try:
        t0 = time.monotonic()
        faults.checkpoint("model.start.segv")
        scorer.load(Path(model_path))
        score = scorer.score(SELF_TEST_LINE)
        if not math.isfinite(score):
            raise StartupError(f"model self-test failed: the score of a fixed line is {score} "
                               "(a broken llama.cpp build or model file)")
        conn.send(("ready", {"model_file": scorer.model_file, "self_test_score": round(score, 3),
                             "load_s": round(time.monotonic() - t0, 3)}))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            conn.send(("error", exc if isinstance(exc, ConfigError | StartupError)
                       else StartupError(f"{type(exc).__name__}: {exc}")))
        return
    corrector = ConfusionCorrector(scorer, settings.margin, f"llm:{scorer.model_file}",
                                   time_limit, known=load_lexicon(languages))
    try:
        while True:
            try:
                page, text, second = conn.recv()
            except EOFError:
                return
            faults.checkpoint("model.page.segv")
            faults.checkpoint("model.page.hang")
            try:
                conn.send(("ok", corrector.correct(page, text, second)))
            except Exception as exc:  # a bug in scoring fails the page only
                conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        scorer.close()


# -- the parent's handle on one child -------------------------------------------------------

class ModelCrashed(Exception):
    """The child died while working (or while starting)."""


class ModelTimedOut(Exception):
    """The child did not answer in time; it has been killed."""


class ModelProcess(PipedChild):
    """One model child and our end of its pipe. Used by one thread at a time.

    ``__init__`` starts it and waits for "ready" (raises StartupError/ConfigError, or
    ModelCrashed when it dies starting); ``correct`` raises ModelCrashed/ModelTimedOut (the
    child is then dead) or RuntimeError (the child raised; it is still alive).
    """

    def __init__(self, settings: LlmSettings, model_path: Path, time_limit: float | None,
                 start_timeout: float, languages: str = "eng") -> None:
        super().__init__(_child_main, (settings, str(model_path), time_limit, languages),
                         "inbox-ocr-model")
        try:
            message = self.receive(start_timeout)
        except ChildTimedOut:
            raise StartupError(f"the model process did not start within {start_timeout:g} s "
                               "(llm.start_timeout_seconds)") from None
        except ChildDied:
            raise ModelCrashed(f"the model process died while starting "
                               f"({describe_exit(self.process.exitcode)})") from None
        if message[0] == "error":
            self.kill()
            raise message[1]
        self.info: dict[str, Any] = message[1]

    def correct(self, page: int, text: str, timeout: float | None,
                second: Sequence[LineReading] = ()) -> PageCorrection:
        try:
            status, value = self.ask((page, text, tuple(second)), timeout)
        except ChildTimedOut:
            raise ModelTimedOut(f"no answer within {timeout:g} s; the model process was "
                                "killed") from None
        except ChildDied as exc:
            raise ModelCrashed(f"the model process died ({describe_exit(self.process.exitcode)})"
                               ) from exc
        if status == "error":
            raise RuntimeError(value)
        result: PageCorrection = value
        return result

    def stop(self, grace: float = 10.0) -> None:
        """Ask the model to finish (EOF on its pipe); it frees the model, which takes longer
        than an OCR worker's engine."""
        super().stop(grace)


def describe_exit(code: int | None) -> str:
    """``-11`` -> ``"killed by SIGSEGV"``; ``1`` -> ``"exit code 1"``."""
    if code is None:
        return "still running"
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


# -- the restart policy (pure) --------------------------------------------------------------

@dataclass
class RestartPolicy:
    """When may the next model process start, and is the corrector degraded?

    Pure: every method takes ``now`` (monotonic seconds). ``failed`` records a crash, a timeout
    or a failed start; ``crash_limit`` of them within ``window`` seconds make the corrector
    degraded for ``retry_after`` seconds. Otherwise the next start waits 1, 2, 4 ... seconds
    (at most ``max_backoff``) after the latest failure. ``started`` ends degraded mode; the
    failures stay counted until they leave the window, so a model that crashes again at once is
    degraded again at once.
    """

    crash_limit: int
    window: float
    retry_after: float
    base_backoff: float = 1.0
    max_backoff: float = 60.0
    failures: deque[float] = field(default_factory=deque)
    degraded: bool = False
    next_start: float = 0.0

    def failed(self, now: float) -> bool:
        """Record a failure; True when it makes (or keeps) the corrector degraded."""
        self.failures.append(now)
        while self.failures and now - self.failures[0] > self.window:
            self.failures.popleft()
        if len(self.failures) >= self.crash_limit:
            self.degraded = True
            self.next_start = now + self.retry_after
        else:
            backoff = self.base_backoff * 2 ** (len(self.failures) - 1)
            self.next_start = now + min(self.max_backoff, backoff)
        return self.degraded

    def started(self) -> None:
        self.degraded = False

    def wait(self, now: float) -> float:
        """Seconds until a start is allowed (0: now)."""
        return max(0.0, self.next_start - now)


# -- the corrector the daemon uses ----------------------------------------------------------

class SupervisedCorrector:
    """``Corrector`` backed by one supervised model process (see the module docstring).

    ``load`` resolves the model (ConfigError naming the key, always fatal) and starts the
    child; a child that cannot start raises StartupError with ``llm.on_start_failure =
    "refuse"`` and leaves the corrector degraded with ``"degraded"``. ``correct`` runs on the
    pipeline's one correction thread and never raises; it may wait out a short back-off
    (at most the page's time limit) before starting a new child. ``close`` from any thread
    once the pipeline has drained.
    """

    def __init__(self, settings: LlmSettings, *, time_limit: float | None = None,
                 hub: Hub | None = None, packaged_dir: Path | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, languages: str = "eng") -> None:
        self._settings = settings
        self._languages = languages
        self._packaged_dir = packaged_dir
        self._time_limit = time_limit
        self._hub = hub
        self._clock = clock
        self._sleep = sleep
        self._policy = RestartPolicy(settings.crash_limit, settings.crash_window_seconds,
                                     settings.degraded_retry_seconds)
        self._process: ModelProcess | None = None
        self._path: Path | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.name = "llm"
        self.crashes = 0
        self.restarts = 0

    @property
    def degraded(self) -> bool:
        return self._policy.degraded

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.alive else None

    def load(self) -> None:
        self._path = resolve_model(self._settings, self._hub, self._packaged_dir)
        self.name = f"llm:{self._path.name}"
        try:
            self._start()
        except (StartupError, ModelCrashed) as exc:
            if self._settings.on_start_failure == "refuse":
                raise StartupError(f"the model could not start: {exc} "
                                   "(llm.on_start_failure = \"refuse\")") from exc
            log.error(audit.MODEL_DEGRADED, reason="start_failed", error=str(exc),
                      retry_in_s=round(self._policy.wait(self._clock()), 1),
                      hint="documents go on with raw OCR text and a corrector_degraded warning; "
                           "set llm.on_start_failure = \"refuse\" to stop start-up instead")

    def _start(self) -> None:
        """Start a child (correction thread, or start-up). Raises what ModelProcess raises,
        after recording the failure (ConfigError: the file is not a model, never retried)."""
        assert self._path is not None
        try:
            process = ModelProcess(self._settings, self._path, self._time_limit,
                                   self._settings.start_timeout_seconds, self._languages)
        except (StartupError, ModelCrashed) as exc:
            self._failed("start_failed", str(exc))
            raise
        with self._lock:
            if self._closed:
                process.stop()
                raise StartupError("the corrector was closed")
            restart = self.crashes > 0  # any earlier process failed, or never started
            self._process = process
        self._policy.started()
        log.info(audit.MODEL_LOADED, model=str(self._path), pid=process.pid, restart=restart,
                 gpu_layers=self._settings.gpu_layers, context_size=self._settings.context_size,
                 **process.info)
        if restart:
            self.restarts += 1

    def _failed(self, reason: str, error: str) -> None:
        self.crashes += 1
        was_degraded = self._policy.degraded
        degraded = self._policy.failed(self._clock())
        retry_in = round(self._policy.wait(self._clock()), 1)
        log.error(audit.MODEL_CRASHED, reason=reason, error=error, crashes=self.crashes,
                  retry_in_s=retry_in)
        if degraded and not was_degraded:
            log.error(audit.MODEL_DEGRADED, reason=reason, crashes=self.crashes,
                      retry_in_s=retry_in,
                      hint="documents go on with raw OCR text and a corrector_degraded warning")

    def correct(self, page: int, text: str,
                second: Sequence[LineReading] = ()) -> PageCorrection:
        process = self._ready_process(text)
        if isinstance(process, PageCorrection):
            return process
        timeout = None if self._time_limit is None else \
            self._time_limit + min(HANG_GRACE_S, self._time_limit)
        try:
            return process.correct(page, text, timeout, second)
        except ModelCrashed as exc:
            return self._lost(text, "corrector_crashed", "crashed", str(exc))
        except ModelTimedOut as exc:
            return self._lost(text, "corrector_timeout", "timeout", str(exc))
        except RuntimeError as exc:
            log.warning(audit.CORRECTION_FAILED, page=page, error=str(exc))
            return PageCorrection(text, (), "corrector_failed",
                                  f"the model process raised {exc}; the page keeps its raw OCR "
                                  "text")

    def _lost(self, text: str, status: str, reason: str, error: str) -> PageCorrection:
        with self._lock:
            self._process = None
        self._failed(reason, error)
        return PageCorrection(text, (), status, f"{error}; the page keeps its raw OCR text")

    def _ready_process(self, text: str) -> ModelProcess | PageCorrection:
        """A live child, or the raw-text answer that says why there is none."""
        process = self._process
        if process is not None and process.alive:
            return process
        if process is not None:  # died between pages
            code = describe_exit(process.process.exitcode)
            self._lost(text, "corrector_crashed", "crashed",
                       f"the model process died between pages ({code})")
        if self._closed or self._path is None:
            return PageCorrection(text, (), "corrector_unavailable", "the corrector is not running")
        wait = self._policy.wait(self._clock())
        if self._policy.degraded and wait > 0:
            return PageCorrection(text, (), "corrector_degraded",
                                  f"the model failed {self.crashes} time(s); it is retried in "
                                  f"{wait:.0f} s (llm.degraded_retry_seconds); the page keeps its "
                                  "raw OCR text")
        if wait > 0:
            if self._time_limit is not None and wait > self._time_limit:
                return PageCorrection(text, (), "corrector_unavailable",
                                      f"the model process restarts in {wait:.0f} s; the page "
                                      "keeps its raw OCR text")
            self._sleep(wait)
        try:
            self._start()
        except (ConfigError, StartupError, ModelCrashed) as exc:
            status = "corrector_degraded" if self._policy.degraded else "corrector_unavailable"
            return PageCorrection(text, (), status,
                                  f"the model process could not start: {exc}; the page keeps "
                                  "its raw OCR text")
        assert self._process is not None
        return self._process

    def close(self) -> None:
        with self._lock:
            self._closed = True
            process, self._process = self._process, None
        if process is not None:
            process.stop()


def make_corrector(settings: Settings | LlmSettings, time_limit: float | None = None,
                   packaged_dir: Path | None = None) -> Corrector:
    """The corrector the settings ask for: the supervised model process, or the pass-through.

    Given full ``Settings`` the model follows ``limits.llm_seconds_per_page``; given
    ``LlmSettings`` alone (CLI tools), ``time_limit`` (None: no limit per page).
    ``packaged_dir``: see ``resolve_model`` (the daemon passes its state folder).
    """
    llm = settings.llm if isinstance(settings, Settings) else settings
    if not llm.enabled:
        return PassThroughCorrector()
    languages = "eng"
    if isinstance(settings, Settings):
        time_limit = settings.limits.llm_seconds_per_page
        languages = settings.ocr.languages  # the lexicon's languages
    return SupervisedCorrector(llm, time_limit=time_limit, packaged_dir=packaged_dir,
                               languages=languages)

