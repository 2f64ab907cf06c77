"""The journal on its own: state changes, and recovery from every point a crash can hit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from inbox_ocr.outbox import journal as j
from inbox_ocr.outbox.journal import Journal


class Folders:
    def __init__(self, root: Path) -> None:
        self.inbox, self.outbox, self.archive = root / "inbox", root / "outbox", root / "archive"
        for folder in (self.inbox, self.outbox, self.archive):
            folder.mkdir()
        self.journal = Journal(root / "journal.sqlite3", clock=lambda: 1000.0)
        self.journal.open()

    def inbox_file(self, name: str, sha256: str) -> Path | None:
        path = self.inbox / name
        return path if path.exists() and path.read_text() == sha256 else None

    def archive_it(self, path: Path) -> Path:
        return path.rename(self.archive / path.name)

    def recover(self) -> j.Recovery:
        return self.journal.recover(self.outbox, self.inbox_file, self.archive_it)

    def result(self, stem: str, sha256: str) -> None:
        (self.outbox / f"{stem}.txt").write_text("text")
        (self.outbox / f"{stem}.json").write_text(json.dumps({"source": {"sha256": sha256}}))


@pytest.fixture
def f(tmp_path: Path) -> Folders:
    folders = Folders(tmp_path)
    yield folders  # type: ignore[misc]
    folders.journal.close()


def test_a_retry_reuses_the_row_and_counts_attempts(f: Folders) -> None:
    first = f.journal.start("aaa", "a.png", 10)
    f.journal.mark_retrying(first.id, "outbox_unavailable", "disk full")
    again = f.journal.start("aaa", "a.png", 10)
    assert (again.id, again.attempts, again.state) == (first.id, 2, j.PROCESSING)
    # Same content under another name is another input.
    assert f.journal.start("aaa", "b.png", 10).id != first.id


def test_done_content_is_found_for_dedupe_and_duplicates_point_to_it(f: Folders) -> None:
    row = f.journal.start("aaa", "a.png", 10)
    assert f.journal.find_result("aaa") is None
    f.journal.begin_commit(row.id, "a")
    assert f.journal.find_result("aaa") is None  # not visible until committed
    f.journal.mark_committed(row.id)
    f.journal.mark_done(row.id, "a.png")
    found = f.journal.find_result("aaa")
    assert found is not None and found.outbox_stem == "a" and found.state == j.DONE
    f.journal.record_duplicate("aaa", "copy.png", 10, row.id, "copy.png")
    assert f.journal.counts() == {j.DONE: 1, j.DUPLICATE: 1}


def test_crash_before_any_result_file_rolls_back(f: Folders) -> None:
    (f.inbox / "a.png").write_text("aaa")
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.begin_commit(row.id, "a")
    assert f.recover() == j.Recovery(rolled_back=1)
    assert f.journal.get(row.id).state == j.RETRYING  # type: ignore[union-attr]
    assert (f.inbox / "a.png").exists()


def test_crash_between_txt_and_json_removes_the_orphan_txt(f: Folders) -> None:
    (f.inbox / "a.png").write_text("aaa")
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.begin_commit(row.id, "a")
    (f.outbox / "a.txt").write_text("half of a result")
    assert f.recover() == j.Recovery(rolled_back=1, orphans_removed=1)
    assert list(f.outbox.iterdir()) == []
    # Redone from scratch: same row, second attempt.
    assert f.journal.start("aaa", "a.png", 3).attempts == 2


def test_crash_after_the_json_completes_the_commit_and_archives(f: Folders) -> None:
    (f.inbox / "a.png").write_text("aaa")
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.begin_commit(row.id, "a")
    f.result("a", "aaa")
    assert f.recover() == j.Recovery(completed=1, archived=1)
    assert f.journal.get(row.id).state == j.DONE  # type: ignore[union-attr]
    assert sorted(p.name for p in f.outbox.iterdir()) == ["a.json", "a.txt"]
    assert (f.archive / "a.png").exists() and not (f.inbox / "a.png").exists()


def test_crash_after_the_archive_move_just_marks_done(f: Folders) -> None:
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.begin_commit(row.id, "a")
    f.result("a", "aaa")
    f.journal.mark_committed(row.id)
    (f.archive / "a.png").write_text("aaa")  # moved, then the crash
    assert f.recover() == j.Recovery()
    assert f.journal.get(row.id).state == j.DONE  # type: ignore[union-attr]


def test_committed_results_get_the_after_commit_hook_before_archiving(f: Folders) -> None:
    (f.inbox / "a.png").write_text("aaa")
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.begin_commit(row.id, "a")
    f.result("a", "aaa")  # committing, results complete: completed, then the hook
    other = f.journal.start("bbb", "b.png", 3)
    f.journal.begin_commit(other.id, "b")
    f.result("b", "bbb")
    f.journal.mark_committed(other.id)  # committed, input already archived
    (f.archive / "b.png").write_text("bbb")
    seen: list[tuple[str, bool]] = []

    def hook(stem: str) -> bool:
        seen.append((stem, (f.inbox / f"{stem}.png").exists()))
        return stem == "a"

    recovery = f.journal.recover(f.outbox, f.inbox_file, f.archive_it, hook)
    assert recovery == j.Recovery(completed=1, archived=1, rows_restored=1)
    assert sorted(seen) == [("a", True), ("b", False)]  # "a" still in the inbox when called
    assert f.journal.get(row.id).state == f.journal.get(other.id).state == j.DONE  # type: ignore[union-attr]


def test_a_json_of_another_content_is_never_taken_for_ours(f: Folders) -> None:
    (f.inbox / "a.png").write_text("aaa")
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.begin_commit(row.id, "a")
    f.result("a", "bbb")
    recovery = f.recover()
    assert recovery.completed == 0 and recovery.rolled_back == 1


def test_reset_failed_lets_an_input_start_over(f: Folders) -> None:
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.mark_failed(row.id, "retries_exhausted", "gave up")
    assert f.journal.reset_failed("a.png") == 1
    assert f.journal.start("aaa", "a.png", 3).attempts == 1


def test_an_unwritable_journal_is_a_start_up_error(tmp_path: Path) -> None:
    from inbox_ocr.errors import StartupError

    (tmp_path / "journal.sqlite3").mkdir()  # a folder where the database should be
    with pytest.raises(StartupError, match="journal"):
        Journal(tmp_path / "journal.sqlite3").open()


def test_a_retrying_input_removed_from_the_inbox_is_gone_after_a_restart(f: Folders) -> None:
    (f.inbox / "kept.png").write_text("aaa")
    kept = f.journal.start("aaa", "kept.png", 3)
    removed = f.journal.start("bbb", "removed.png", 3)
    for row in (kept, removed):
        f.journal.mark_retrying(row.id, "outbox_unavailable", "disk full")
    f.recover()
    assert f.journal.get(kept.id).state == j.RETRYING  # type: ignore[union-attr]
    assert f.journal.get(removed.id).state == j.GONE  # type: ignore[union-attr]


def test_a_changed_input_closes_its_row(f: Folders) -> None:
    row = f.journal.start("aaa", "a.png", 3)
    f.journal.mark_changed(row.id, "input_changed", "file changed after it was admitted")
    assert f.journal.start("aaa", "a.png", 3).id != row.id
