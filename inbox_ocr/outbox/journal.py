"""The durable journal: what happened to every input, so that a crash at any moment is undone.

One SQLite database in WAL mode under ``paths.state`` (``journal.sqlite3``), one row per input
attempt, keyed by the content hash and the file name. States::

    processing --(results being written)--> committing --(outbox pair complete)--> committed
         |                                                                              |
         +--> retrying (transient error, input left in the inbox)    (input archived) --> done
         +--> failed   (quarantined in failed/)
         +--> changed  (the file changed or vanished before use; a new row follows its content)
    duplicate: the content was already done; the input was archived without OCR.
    gone: a retrying input that was no longer in the inbox at start-up (removed by someone).

The commit protocol makes outbox results exactly-once visible (see ``inbox_ocr.pipeline``):

1. ``begin_commit`` records the outbox stem *before* anything is written;
2. the ``.txt`` then the ``.json`` are written atomically; the JSON carries the source hash;
3. ``mark_committed`` once both exist; 4. the input is archived; 5. ``mark_done``.

``recover`` runs at start-up, before the intake: a row left in ``committing`` whose JSON is
complete becomes ``committed``; one whose JSON is missing has its orphan ``.txt`` removed and
is forgotten (its input, still in the inbox, is processed again); a ``committed`` row whose
input is still in the inbox gets it archived. Rows left ``processing`` are forgotten the same
way: their input is still in the inbox.

Thread-safe: every method takes a lock; callers run it on a worker thread (each commit is an
fsync). Raises ``OutboxUnavailable`` (retryable) when the database cannot be written.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from inbox_ocr.errors import OutboxUnavailable, StartupError

FILE_NAME = "journal.sqlite3"

PROCESSING = "processing"
RETRYING = "retrying"
COMMITTING = "committing"
COMMITTED = "committed"
DONE = "done"
FAILED = "failed"
DUPLICATE = "duplicate"
CHANGED = "changed"
GONE = "gone"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS inputs (
    id           INTEGER PRIMARY KEY,
    sha256       TEXT NOT NULL,
    name         TEXT NOT NULL,
    size         INTEGER NOT NULL,
    state        TEXT NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    first_seen   REAL NOT NULL,
    updated_at   REAL NOT NULL,
    outbox_stem  TEXT,
    archived_as  TEXT,
    reason       TEXT,
    message      TEXT,
    duplicate_of INTEGER
);
CREATE INDEX IF NOT EXISTS inputs_sha ON inputs (sha256, state);
CREATE INDEX IF NOT EXISTS inputs_name ON inputs (name, state);
"""
_OPEN_STATES = (PROCESSING, RETRYING, COMMITTING)


@dataclass(frozen=True)
class Row:
    """One input attempt as the journal knows it."""

    id: int
    sha256: str
    name: str
    size: int
    state: str
    attempts: int
    outbox_stem: str | None
    archived_as: str | None
    reason: str | None


@dataclass(frozen=True)
class Recovery:
    """What ``recover`` did, for the start-up audit event."""

    completed: int = 0  # committing rows whose results were complete
    rolled_back: int = 0  # committing/processing rows redone from the inbox
    archived: int = 0  # committed rows whose input was still in the inbox
    orphans_removed: int = 0  # partial outbox files removed
    rows_restored: int = 0  # fields.csv rows appended from committed results


class Journal:
    """The journal database. ``open`` at start-up (raises StartupError), ``close`` at exit."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        try:
            db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None,
                                 timeout=30)
            db.execute("PRAGMA journal_mode=WAL")
            # FULL: a row marked done survives a power cut, not only a crash of this process.
            db.execute("PRAGMA synchronous=FULL")
            db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise StartupError(f"cannot open the journal {self.path}: {exc}") from exc
        self._db = db

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        assert self._db is not None, "journal is not open"
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise OutboxUnavailable(f"journal {self.path} cannot be written: {exc}") from exc

    # -- queries -----------------------------------------------------------------------------

    def get(self, row_id: int) -> Row | None:
        with self._tx() as db:
            found = db.execute(f"SELECT {_COLUMNS} FROM inputs WHERE id = ?", (row_id,)).fetchone()
        return Row(*found) if found else None

    def find_result(self, sha256: str) -> Row | None:
        """The earliest row whose results for this content are in the outbox, if any."""
        with self._tx() as db:
            found = db.execute(
                f"SELECT {_COLUMNS} FROM inputs WHERE sha256 = ? AND state IN (?, ?) "
                "ORDER BY id LIMIT 1", (sha256, COMMITTED, DONE)).fetchone()
        return Row(*found) if found else None

    def counts(self) -> dict[str, int]:
        with self._tx() as db:
            return dict(db.execute("SELECT state, COUNT(*) FROM inputs GROUP BY state").fetchall())

    def rows(self, state: str | None = None) -> list[Row]:
        with self._tx() as db:
            if state is None:
                found = db.execute(f"SELECT {_COLUMNS} FROM inputs ORDER BY id").fetchall()
            else:
                found = db.execute(f"SELECT {_COLUMNS} FROM inputs WHERE state = ? ORDER BY id",
                                   (state,)).fetchall()
        return [Row(*r) for r in found]

    # -- state changes -----------------------------------------------------------------------

    def start(self, sha256: str, name: str, size: int) -> Row:
        """An input enters the pipeline: reuse its open row (a retry) or create one.

        The returned row's ``attempts`` counts this attempt.
        """
        now = self._clock()
        with self._tx() as db:
            found = db.execute(
                f"SELECT {_COLUMNS} FROM inputs WHERE sha256 = ? AND name = ? AND state IN "
                "(?, ?, ?) ORDER BY id DESC LIMIT 1", (sha256, name, *_OPEN_STATES)).fetchone()
            if found:
                db.execute("UPDATE inputs SET state = ?, attempts = attempts + 1, updated_at = ? "
                           "WHERE id = ?", (PROCESSING, now, found[0]))
                row_id = found[0]
            else:
                row_id = db.execute(
                    "INSERT INTO inputs (sha256, name, size, state, attempts, first_seen, "
                    "updated_at) VALUES (?, ?, ?, ?, 1, ?, ?)",
                    (sha256, name, size, PROCESSING, now, now)).lastrowid
            found = db.execute(f"SELECT {_COLUMNS} FROM inputs WHERE id = ?", (row_id,)).fetchone()
        return Row(*found)

    def begin_commit(self, row_id: int, stem: str) -> None:
        self._set(row_id, state=COMMITTING, outbox_stem=stem)

    def mark_committed(self, row_id: int) -> None:
        self._set(row_id, state=COMMITTED)

    def mark_done(self, row_id: int, archived_as: str) -> None:
        self._set(row_id, state=DONE, archived_as=archived_as)

    def mark_retrying(self, row_id: int, reason: str, message: str) -> None:
        self._set(row_id, state=RETRYING, reason=reason, message=message)

    def mark_failed(self, row_id: int, reason: str, message: str) -> None:
        self._set(row_id, state=FAILED, reason=reason, message=message)

    def mark_changed(self, row_id: int, reason: str, message: str) -> None:
        self._set(row_id, state=CHANGED, reason=reason, message=message)

    def record_duplicate(self, sha256: str, name: str, size: int, original: int,
                         archived_as: str) -> int:
        now = self._clock()
        with self._tx() as db:
            row_id = db.execute(
                "INSERT INTO inputs (sha256, name, size, state, attempts, first_seen, updated_at, "
                "archived_as, duplicate_of) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?)",
                (sha256, name, size, DUPLICATE, now, now, archived_as, original)).lastrowid
        assert row_id is not None
        return row_id

    def reset_failed(self, name: str) -> int:
        """``retry-failed``: forget the quarantine of inputs with this name. Returns rows reset."""
        with self._tx() as db:
            return db.execute("UPDATE inputs SET state = ?, attempts = 0, updated_at = ? "
                              "WHERE name = ? AND state = ?",
                              (RETRYING, self._clock(), name, FAILED)).rowcount

    def _set(self, row_id: int, **values: str) -> None:
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self._tx() as db:
            db.execute(f"UPDATE inputs SET {assignments}, updated_at = ? WHERE id = ?",
                       (*values.values(), self._clock(), row_id))

    # -- crash recovery ----------------------------------------------------------------------

    def recover(self, outbox: Path, inbox_file: Callable[[str, str], Path | None],
                archive: Callable[[Path], Path],
                committed: Callable[[str], bool] | None = None) -> Recovery:
        """Finish or roll back what a crash interrupted. Runs once at start-up, before intake.

        ``inbox_file(name, sha256)``: the input's path if it is still in the inbox with that
        content, else None. ``archive(path)``: move an input to the archive, return its new path.
        ``committed(stem)``: called for each result committed but not yet done, before its
        input is archived, to finish what follows the commit (the ``fields.csv`` row); returns
        True when it had something to do.
        """
        completed = rolled_back = archived = orphans = restored = 0
        for row in self.rows(COMMITTING) + self.rows(PROCESSING):
            if row.state == COMMITTING and row.outbox_stem and _result_matches(
                    outbox / f"{row.outbox_stem}.json", row.sha256):
                self.mark_committed(row.id)
                completed += 1
                continue
            if row.outbox_stem:
                for suffix in (".txt", ".json"):
                    orphan = outbox / f"{row.outbox_stem}{suffix}"
                    if orphan.exists() and not (suffix == ".json" and _result_matches(
                            orphan, None)):
                        orphan.unlink()
                        orphans += 1
            # Back to "retrying": the input is still in the inbox and the scan will redo it.
            self._set(row.id, state=RETRYING, reason="interrupted",
                      message="the daemon stopped while this input was in progress")
            rolled_back += 1
        for row in self.rows(RETRYING):
            if inbox_file(row.name, row.sha256) is None:
                self._set(row.id, state=GONE)
        for row in self.rows(COMMITTED):
            if committed and row.outbox_stem:
                restored += committed(row.outbox_stem)
            path = inbox_file(row.name, row.sha256)
            if path is None:
                self.mark_done(row.id, "")
                continue
            self.mark_done(row.id, archive(path).name)
            archived += 1
        return Recovery(completed, rolled_back, archived, orphans, restored)


_COLUMNS = "id, sha256, name, size, state, attempts, outbox_stem, archived_as, reason"


def _result_matches(path: Path, sha256: str | None) -> bool:
    """True when ``path`` is a complete outbox JSON (for ``sha256`` when given)."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(result, dict) and (
        sha256 is None or result.get("source", {}).get("sha256") == sha256)
