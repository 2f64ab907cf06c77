"""The processing pipeline: split -> OCR -> correct -> outbox, joined by bounded queues.

::

    intake_q: Document          (Intake puts, split stage gets)
    page_q:   PageImage | End   (split puts, N OCR workers get)       page images live only here
    text_q:   PageText | End    (OCR workers put, corrector gets)
    done_q:   PageText | End    (corrector puts, outbox stage gets)

``None`` is end-of-stream: the split stage sends one per OCR worker, the corrector waits for
all of them and sends one to the outbox stage. Each stage finishes the item it holds and exits,
so closing the intake drains the whole pipeline. A full queue blocks the stage above it: nothing
is dropped and memory stays bounded by the queue sizes.

Every stage runs on the event loop; CPU and disk work goes to thread pools (OCR to the
EnginePool, correction to one thread for the resident model, file work to a small I/O pool).
A document's fate is decided in one place, ``_finish``: outbox + archive, quarantine in
failed/, or left in the inbox for a retry. The final commit is shielded from cancellation.

Every state change is written to the durable journal (``inbox_ocr.outbox.journal``) first, so a crash at
any point is finished or rolled back at the next start: results are exactly-once visible, inputs
are processed at least once. Content already done is not OCR'd again (``pipeline.dedupe``).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog

from inbox_ocr import document as steps
from inbox_ocr import faults
from inbox_ocr.config import Settings
from inbox_ocr.correct.corrector import Corrector
from inbox_ocr.errors import (
    CorruptInput,
    DocumentError,
    EngineFailed,
    InboxOcrError,
    InputChanged,
    RetriesExhausted,
    TransientError,
)
from inbox_ocr.intake.completeness import Ending, judge_file
from inbox_ocr.ocr.api import OcrResult
from inbox_ocr.ops import audit
from inbox_ocr.outbox.fieldcsv import CSV_NAME, append_row, csv_row
from inbox_ocr.outbox.files import Outbox
from inbox_ocr.outbox.journal import COMMITTED, Journal, Row
from inbox_ocr.outbox.result import build_result, page_text, page_warnings, warning_codes
from inbox_ocr.records import (
    CORRECTOR_WARNINGS,
    Document,
    DocumentEnd,
    Outcome,
    PageImage,
    PageText,
)
from inbox_ocr.threads import run_in

log = audit.get_logger()

#: Seconds to wait before looking once more whether a file that failed to read is still
#: growing (at most watch.stable_seconds).
RECHECK_SECONDS = 1.0


class Engines(Protocol):
    """What the pipeline needs from an OCR pool (``inbox_ocr.ocr.pool.ProcessEnginePool``, or
    ``inbox_ocr.ocr.pool.EnginePool`` in-process). ``recognize`` raises InboxOcrError subclasses."""

    name: str
    version: str

    @property
    def workers(self) -> int: ...

    async def start(self) -> None: ...

    async def recognize(self, image: Any) -> OcrResult: ...

    def close(self) -> None: ...


@dataclass
class Counters:
    processed: int = 0
    failed: int = 0
    deferred: int = 0
    duplicates: int = 0
    pages: int = 0


@dataclass
class _Pending:
    """Pages of one document collected by the outbox stage until its DocumentEnd has come."""

    started: float
    pages: list[PageText] = field(default_factory=list)
    end: DocumentEnd | None = None


class Pipeline:
    """Owns the queues and stage tasks. ``start`` creates the tasks, ``submit`` feeds a document
    (waits while the intake queue is full), ``close`` sends end-of-stream, ``wait`` returns when
    every stage has exited. ``on_outcome`` is called on the event loop once per document."""

    def __init__(
        self,
        settings: Settings,
        engines: Engines,
        corrector: Corrector,
        journal: Journal,
        on_outcome: Callable[[Document, Outcome], None],
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._engines = engines
        self._corrector = corrector
        self._journal = journal
        self._on_outcome = on_outcome
        self._clock = clock
        self._wallclock = wallclock
        p = settings.pipeline
        self.intake_q: asyncio.Queue[Document | None] = asyncio.Queue(p.intake_queue)
        self.page_q: asyncio.Queue[PageImage | DocumentEnd | None] = asyncio.Queue(p.page_queue)
        self.text_q: asyncio.Queue[PageText | DocumentEnd | None] = asyncio.Queue(p.text_queue)
        self.done_q: asyncio.Queue[PageText | DocumentEnd | None] = asyncio.Queue(p.text_queue)
        self._io = ThreadPoolExecutor(2, thread_name_prefix="io")
        self._correct_pool = ThreadPoolExecutor(1, thread_name_prefix="correct")
        self._outbox = Outbox(settings.paths.outbox, settings.paths.archive, settings.paths.failed)
        self._started: dict[str, float] = {}
        self._rows: dict[str, Row] = {}  # document id -> its journal row
        self._active: dict[str, int] = {}  # sha256 -> documents with that content in flight
        self._twins: dict[str, list[Document]] = {}  # sha256 -> admitted, waiting for the above
        self._tasks: list[asyncio.Task[None]] = []
        self._commits: set[asyncio.Future[Any]] = set()
        self.counters = Counters()
        self.closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._split_stage(), name="split"),
            *(
                asyncio.create_task(self._ocr_stage(), name=f"ocr-{n}")
                for n in range(self._engines.workers)
            ),
            asyncio.create_task(self._correct_stage(), name="correct"),
            asyncio.create_task(self._outbox_stage(), name="outbox"),
        ]

    def reconfigure(self, settings: Settings) -> None:
        """SIGHUP: new folders and limits apply to documents from now on (inbox_ocr.reload)."""
        self._settings = settings
        self._outbox = Outbox(settings.paths.outbox, settings.paths.archive, settings.paths.failed)

    @property
    def tasks(self) -> list[asyncio.Task[None]]:
        return self._tasks

    async def submit(self, document: Document) -> None:
        """Admit a document: a duplicate is archived at once, anything else is queued
        (waits while the intake queue is full)."""
        if self.closed:
            return  # a twin let go during the drain: it stays in the inbox for the next start
        dedupe = self._settings.pipeline.dedupe
        if dedupe and self._active.get(document.sha256):
            # The same content is in flight under another name: wait for it, once and quietly,
            # then become its duplicate (``_settle`` submits the twin again).
            self._twins.setdefault(document.sha256, []).append(document)
            log.info(audit.DOCUMENT_TWIN_WAITING, document_id=document.id,
                     source=document.path.name, sha256=document.sha256)
            return
        earlier = await run_in(self._io, self._journal.find_result, document.sha256)
        if earlier is not None and (dedupe or (
                earlier.state == COMMITTED and earlier.name == self._name(document))):
            await self._duplicate(document, earlier)
            return
        row = await run_in(self._io, self._journal.start, document.sha256,
                           self._name(document), document.size)
        self._rows[document.id] = row
        self._active[document.sha256] = self._active.get(document.sha256, 0) + 1
        await self.intake_q.put(document)

    async def reject(self, document: Document, error: InboxOcrError) -> None:
        """Quarantine an input without processing it (e.g. a symlink in the inbox)."""
        with structlog.contextvars.bound_contextvars(document_id=document.id, stage="intake"):
            error.stage = "intake"
            # Journaled like every input that gets an outcome, so the counts agree.
            try:
                self._rows[document.id] = await run_in(
                    self._io, self._journal.start, document.sha256, self._name(document), 0)
            except TransientError as exc:
                log.warning(audit.INTERNAL_ERROR, stage="journal", error=str(exc))
            await self._fail(document, error, 0, {})

    def _name(self, document: Document) -> str:
        try:
            return str(document.path.relative_to(self._settings.paths.inbox))
        except ValueError:
            return document.path.name

    def release_queued(self) -> list[Document]:
        """Take back documents that have not started yet, twins waiting for their first
        included (they stay in the inbox)."""
        released = [twin for twins in self._twins.values() for twin in twins]
        self._twins.clear()
        while not self.intake_q.empty():
            item = self.intake_q.get_nowait()
            if item is not None:
                released.append(item)
                self._settle(item)
        return released

    def _settle(self, document: Document) -> Row | None:
        """Forget a document's in-flight bookkeeping; return its journal row. The last of
        its content lets the twins that waited for it go on (as duplicates, if it made a
        result)."""
        left = self._active.get(document.sha256, 0) - 1
        if left > 0:
            self._active[document.sha256] = left
        else:
            self._active.pop(document.sha256, None)
            for twin in self._twins.pop(document.sha256, []):
                task = asyncio.ensure_future(self.submit(twin))
                self._commits.add(task)
                task.add_done_callback(self._commits.discard)
        return self._rows.pop(document.id, None)

    async def close(self) -> None:
        """End-of-stream: stages finish what they hold, then exit in order."""
        if not self.closed:
            self.closed = True
            await self.intake_q.put(None)

    async def wait(self) -> None:
        """Return when every stage has exited; re-raise the first stage crash."""
        await asyncio.gather(*self._tasks)
        await self.wait_commits()

    async def cancel(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.wait_commits()

    async def wait_commits(self) -> None:
        """Shielded commits finish even when their stage was cancelled; wait for them."""
        if self._commits:
            await asyncio.gather(*self._commits, return_exceptions=True)

    def depths(self) -> dict[str, int]:
        return {
            "intake": self.intake_q.qsize(),
            "pages": self.page_q.qsize(),
            "text": self.text_q.qsize(),
            "done": self.done_q.qsize(),
        }

    def shutdown_executors(self) -> None:
        self._io.shutdown(wait=True, cancel_futures=True)
        self._correct_pool.shutdown(wait=True, cancel_futures=True)

    # -- stages ------------------------------------------------------------------------------

    async def _split_stage(self) -> None:
        while (document := await self.intake_q.get()) is not None:
            self._started[document.id] = self._clock()
            with structlog.contextvars.bound_contextvars(document_id=document.id, stage="split"):
                pages, error = await self._split(document)
            await self.page_q.put(DocumentEnd(document, pages, error))
        for _ in range(self._engines.workers):
            await self.page_q.put(None)

    async def _split(self, document: Document) -> tuple[int, InboxOcrError | None]:
        emitted = 0
        try:
            await run_in(self._io, _recheck, document)
            count, pages = await run_in(self._io, steps.split, document.path, self._settings)
            while True:
                t0 = self._clock()
                item = await run_in(self._io, next, pages, None)
                if item is None:
                    break
                number, image, dpi = item
                seconds = self._clock() - t0
                log.debug(audit.PAGE_SPLIT, page=number, pages=count, width=image.width,
                          height=image.height, seconds=round(seconds, 3))
                await self.page_q.put(PageImage(document, number, image, dpi, seconds))
                emitted += 1
        except InboxOcrError as exc:
            exc.stage = "split"
            return emitted, exc
        except Exception as exc:  # a decoder choking on odd input must not stop the daemon
            log.exception(audit.INTERNAL_ERROR, error_class=type(exc).__name__)
            error = CorruptInput(f"cannot be decoded ({type(exc).__name__}: {exc})")
            error.stage = "split"
            return emitted, error
        return emitted, None

    async def _ocr_stage(self) -> None:
        while (item := await self.page_q.get()) is not None:
            if isinstance(item, DocumentEnd):
                await self.text_q.put(item)
                continue
            with structlog.contextvars.bound_contextvars(document_id=item.document.id,
                                                         stage="ocr", page=item.number):
                await self.text_q.put(await self._ocr(item))
        await self.text_q.put(None)

    async def _ocr(self, page: PageImage) -> PageText:
        t0 = self._clock()
        width, height = page.image.size
        timings = {"split": page.split_seconds}
        try:
            result = await self._engines.recognize(page.image)
        except Exception as exc:  # native engine code can raise anything on odd pages
            error = exc if isinstance(exc, InboxOcrError) else EngineFailed(
                f"{type(exc).__name__}: {exc}")
            error.stage = "ocr"
            return PageText(page.document, page.number, width, height, page.dpi, "", "", (),
                            timings, error=error)
        finally:
            page.image.close()  # the page image is not needed past this point
        timings["ocr"] = self._clock() - t0
        log.debug(audit.PAGE_OCR, words=len(result.words), seconds=round(timings["ocr"], 3))
        return steps.page_text(page.document, page.number, (width, height), page.dpi, result,
                               timings)

    async def _correct_stage(self) -> None:
        open_workers = self._engines.workers
        while open_workers:
            item = await self.text_q.get()
            if item is None:
                open_workers -= 1
                continue
            if isinstance(item, PageText) and item.error is None:
                with structlog.contextvars.bound_contextvars(document_id=item.document.id,
                                                             stage="correct", page=item.number):
                    item = await self._correct(item)
            await self.done_q.put(item)
        await self.done_q.put(None)

    async def _correct(self, page: PageText) -> PageText:
        return await run_in(self._correct_pool, steps.correct, self._corrector, page, self._clock)

    async def _outbox_stage(self) -> None:
        pending: dict[str, _Pending] = {}
        while (item := await self.done_q.get()) is not None:
            doc = item.document
            entry = pending.setdefault(doc.id, _Pending(self._started.get(doc.id, self._clock())))
            if isinstance(item, DocumentEnd):
                entry.end = item
            else:
                entry.pages.append(item)
            if entry.end is not None and len(entry.pages) == entry.end.pages:
                del pending[doc.id]
                self._started.pop(doc.id, None)
                with structlog.contextvars.bound_contextvars(document_id=doc.id, stage="outbox"):
                    commit = asyncio.ensure_future(self._finish(doc, entry))
                    self._commits.add(commit)
                    commit.add_done_callback(self._commits.discard)
                    await asyncio.shield(commit)

    # -- a document's fate -------------------------------------------------------------------

    async def _finish(self, document: Document, entry: _Pending) -> None:
        assert entry.end is not None
        errors = [entry.end.error] if entry.end.error else []
        errors += [page.error for page in entry.pages if page.error is not None]
        stage_seconds = _sum_timings(entry.pages)
        if not errors:
            try:
                await self._commit(document, entry, stage_seconds)
                return
            except InboxOcrError as exc:
                exc.stage = exc.stage or "outbox"
                errors = [exc]
        await self._fail(document, errors[0], len(entry.pages), stage_seconds)

    async def _commit(self, document: Document, entry: _Pending,
                      stage_seconds: dict[str, float]) -> None:
        t0 = self._clock()
        pages = sorted(entry.pages, key=lambda p: p.number)
        outbox = self._outbox  # a reload may swap it: one document, one set of folders
        row = self._rows[document.id]
        await run_in(self._io, _recheck, document, "its results were written")
        stem = outbox.reserve_stem(document.path.name)
        # Journal first: after a crash from here on, the next start knows which files are ours.
        await run_in(self._io, self._journal.begin_commit, row.id, stem)
        warnings = page_warnings(pages)
        finished_at = self._wallclock()
        fields, field_warnings = await run_in(self._io, steps.fields, pages, finished_at)
        warnings += field_warnings
        started_wall = finished_at - (self._clock() - entry.started)
        engine = {"name": self._engines.name, "version": self._engines.version,
                  # ocr.languages configures Tesseract only; the other engines bring their own.
                  "languages": self._settings.ocr.languages
                  if self._engines.name == "tesseract" else ""}
        result = build_result(
            document, pages, engine=engine, corrector=self._corrector.name,
            started_at=started_wall, finished_at=finished_at,
            stage_seconds=stage_seconds, warnings=warnings,
            outputs={"text": f"{stem}.txt", "json": f"{stem}.json"}, fields=fields,
        )
        try:
            await run_in(self._io, outbox.commit, stem, page_text(pages), result)
        except TransientError:
            await run_in(self._io, outbox.discard, stem)
            raise
        await run_in(self._io, self._journal.mark_committed, row.id)
        faults.checkpoint("outbox.committed")
        if self._settings.fields.csv:
            try:
                await run_in(self._io, append_row, outbox.outbox / CSV_NAME,
                             csv_row(stem, document.path.name, document.sha256, fields))
            except TransientError as exc:  # the .json holds the fields; the CSV is a copy
                log.warning(audit.INTERNAL_ERROR, stage="fields_csv", error=str(exc))
        # The results are visible from here on: whatever happens next must not redo them.
        outcome, archive_error, archived_as = Outcome.PROCESSED, None, None
        try:
            archived = await run_in(self._io, outbox.archive_input, document.path)
            archived_as = archived.name
            faults.checkpoint("outbox.archived")
            await run_in(self._io, self._journal.mark_done, row.id, archived.name)
        except TransientError as exc:
            # The row stays "committed": the next look at this input only archives it.
            outcome, archive_error = Outcome.DEFERRED, str(exc)
        self._settle(document)
        stage_seconds["write"] = self._clock() - t0
        self.counters.processed += 1
        self.counters.pages += len(pages)
        log.info(
            audit.DOCUMENT_PROCESSED,
            source=document.path.name, sha256=document.sha256, size=document.size,
            pages=len(pages), engine=self._engines.name, corrector=self._corrector.name,
            corrections=sum(len(p.corrections) for p in pages), warnings=len(warnings),
            corrector_warnings=sorted({p.correction for p in pages
                                       if p.correction in CORRECTOR_WARNINGS}),
            page_warnings=warning_codes(warnings),
            read_by=sorted({p.engine for p in pages if p.engine}),
            outbox=stem, archived_as=archived_as, archive_error=archive_error,
            attempt=row.attempts,
            queued_s=round(max(0.0, started_wall - document.received_at), 3),
            total_s=round(self._clock() - entry.started, 3),
            **{f"{k}_s": round(v, 3) for k, v in stage_seconds.items()},
        )
        self._on_outcome(document, outcome)

    async def _fail(self, document: Document, error: InboxOcrError, pages: int,
                    stage_seconds: dict[str, float]) -> None:
        if error.may_be_unfinished:
            error = await self._unless_unfinished(document, error)
        fields = {
            "source": document.path.name, "sha256": document.sha256, "pages": pages,
            "error_class": type(error).__name__, "reason": error.reason,
            "message": str(error), "failed_stage": error.stage,
            **{f"{k}_s": round(v, 3) for k, v in stage_seconds.items()},
        }
        row = self._rows.get(document.id)
        attempts = row.attempts if row else 0
        retry = self._settings.retry
        if isinstance(error, TransientError) or not isinstance(error, DocumentError):
            counts = getattr(error, "counts_as_attempt", True)
            if counts and attempts >= retry.max_attempts:
                cause = error
                error = RetriesExhausted(
                    f"gave up after {attempts} attempts (retry.max_attempts); last error: "
                    f"{cause.reason}: {cause}")
                error.stage = cause.stage
                fields.update(error_class="RetriesExhausted", reason=error.reason,
                              message=str(error))
            else:
                await self._defer(document, row, error, fields)
                return
        try:
            target = await run_in(self._io, self._outbox.quarantine, document.path, error,
                                    error.stage, document.id)
        except TransientError as exc:
            await self._defer(document, row, exc, {**fields, "quarantine_error": str(exc)})
            return
        if row is not None:
            await self._journal_quietly(self._journal.mark_failed, row.id, error.reason,
                                        str(error))
        self._settle(document)
        self.counters.failed += 1
        log.error(audit.DOCUMENT_FAILED, quarantined_as=target.name, attempt=attempts, **fields)
        self._on_outcome(document, Outcome.FAILED)

    async def _unless_unfinished(self, document: Document, error: InboxOcrError
                                 ) -> InboxOcrError:
        """``error``, or InputChanged when the file is still being written: it changed since
        admission, or changes within a short re-check, or lacks its end marker and was written
        less than ``watch.unfinished_seconds`` ago. A half-written file is never corrupt."""
        watch = self._settings.watch
        reason = await run_in(self._io, still_arriving, document, watch.unfinished_seconds,
                              self._wallclock())
        if reason is None and watch.stable_seconds > 0:
            await asyncio.sleep(min(RECHECK_SECONDS, watch.stable_seconds))
            reason = await run_in(self._io, still_arriving, document, 0.0, self._wallclock())
        if reason is None:
            return error
        changed = InputChanged(f"{reason}: not finished yet, it will be looked at again "
                               f"(the read failed with {error.reason}: {error})")
        changed.stage = error.stage
        return changed

    async def _defer(self, document: Document, row: Row | None, error: InboxOcrError,
                     fields: dict[str, Any]) -> None:
        if row is not None:
            # A file that changed under us is a new input next time: this row is finished.
            mark = self._journal.mark_retrying if getattr(error, "counts_as_attempt", True) \
                else self._journal.mark_changed
            await self._journal_quietly(mark, row.id, error.reason, str(error))
        self._settle(document)
        self.counters.deferred += 1
        log.warning(audit.DOCUMENT_DEFERRED, retryable=True, attempt=row.attempts if row else 0,
                    max_attempts=self._settings.retry.max_attempts, **fields)
        self._on_outcome(document, Outcome.DEFERRED)

    async def _journal_quietly(self, fn: Callable[..., None], *args: Any) -> None:
        """A journal write whose failure must not lose the document's outcome: the row stays
        in its previous state and the next start sorts it out."""
        try:
            await run_in(self._io, fn, *args)
        except TransientError as exc:
            log.warning(audit.INTERNAL_ERROR, stage="journal", error=str(exc))

    async def _duplicate(self, document: Document, earlier: Row) -> None:
        """Content already processed: archive the input and point to the earlier result.

        The same input whose results are committed but which was not archived yet (the
        archive move failed) is finished instead: its row becomes ``done``."""
        finishing = earlier.state == COMMITTED and earlier.name == self._name(document)
        with structlog.contextvars.bound_contextvars(document_id=document.id, stage="dedupe"):
            try:
                archived = await run_in(self._io, self._outbox.archive_input, document.path)
                if finishing:
                    await run_in(self._io, self._journal.mark_done, earlier.id, archived.name)
                    self._on_outcome(document, Outcome.PROCESSED)
                    return
                await run_in(self._io, self._journal.record_duplicate, document.sha256,
                             self._name(document), document.size, earlier.id, archived.name)
            except TransientError as exc:
                log.warning(audit.DOCUMENT_DEFERRED, retryable=True, source=document.path.name,
                            reason=exc.reason, message=str(exc))
                self.counters.deferred += 1
                self._on_outcome(document, Outcome.DEFERRED)
                return
            self.counters.duplicates += 1
            log.info(audit.DOCUMENT_DUPLICATE, source=document.path.name,
                     sha256=document.sha256, size=document.size, archived_as=archived.name,
                     duplicate_of=earlier.name, outbox=earlier.outbox_stem)
            self._on_outcome(document, Outcome.DUPLICATE)


def _recheck(document: Document, before: str = "processing") -> None:
    """Right before use: is the file still the regular file that was admitted?"""
    try:
        st = os.lstat(document.path)
    except FileNotFoundError:
        raise InputChanged(f"file vanished from the inbox before {before}") from None
    if (st.st_size, st.st_mtime_ns) != (document.size, document.mtime_ns):
        raise InputChanged("file changed after it was admitted; it will be looked at again")


def still_arriving(document: Document, unfinished_seconds: float, now: float) -> str | None:
    """Why the admitted file looks like it is still being written, or None (I/O thread).

    Its size or mtime differ from admission; or, last written less than
    ``unfinished_seconds`` before ``now``, it lacks its format's end marker."""
    try:
        st = os.lstat(document.path)
    except FileNotFoundError:
        return None  # gone: the quarantine move will say so
    if (st.st_size, st.st_mtime_ns) != (document.size, document.mtime_ns):
        return (f"the file changed after it was admitted (size {document.size} -> "
                f"{st.st_size})")
    age = now - st.st_mtime_ns / 1e9
    if age >= unfinished_seconds:
        return None
    try:
        verdict = judge_file(document.path)
    except OSError:
        return None
    if verdict.ending is Ending.UNFINISHED:
        return f"{verdict.reason}, last written {age:.0f} s ago"
    return None


def _sum_timings(pages: list[PageText]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for page in pages:
        for stage, seconds in page.timings.items():
            totals[stage] = totals.get(stage, 0.0) + seconds
    return totals
