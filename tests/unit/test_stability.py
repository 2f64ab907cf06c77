"""The stability gate decides with an injected clock: no sleeping."""

from __future__ import annotations

from pathlib import PurePath

import pytest

from inbox_ocr.intake.stability import FileState, StabilityTracker, is_candidate_name, is_temporary_name


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


P = PurePath("/inbox/scan.pdf")


def test_file_is_admitted_only_after_quiet_period() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(2.0, clock)
    tracker.observe(P, FileState(100, 1, True))
    clock.now += 1.9
    tracker.observe(P, FileState(100, 1, True))
    assert tracker.ready() == []
    clock.now += 0.1
    assert tracker.ready() == [(P, FileState(100, 1, True), pytest.approx(2.0))]
    assert P not in tracker  # admitted once, then forgotten


def test_growing_file_restarts_the_clock() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(2.0, clock)
    tracker.observe(P, FileState(100, 1, True))
    clock.now += 1.5
    tracker.observe(P, FileState(200, 2, True))  # scanner wrote page 2
    clock.now += 1.5
    assert tracker.ready() == []
    assert tracker.next_deadline() == pytest.approx(clock.now + 0.5)
    clock.now += 0.5
    assert [r.path for r in tracker.ready()] == [P]


def test_mtime_change_with_same_size_restarts_the_clock() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(1.0, clock)
    tracker.observe(P, FileState(100, 1, True))
    clock.now += 0.9
    tracker.observe(P, FileState(100, 2, True))
    clock.now += 0.9
    assert tracker.ready() == []


def test_vanished_or_irregular_file_is_dropped() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(1.0, clock)
    tracker.observe(P, FileState(100, 1, True))
    tracker.observe(P, None)
    assert P not in tracker
    tracker.observe(P, FileState(100, 1, False))  # became a symlink or a fifo
    clock.now += 5
    assert tracker.ready() == []


def test_empty_file_waits_longer() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(1.0, clock, empty_factor=5)
    tracker.observe(P, FileState(0, 1, True))
    clock.now += 4.9
    assert tracker.ready() == []
    clock.now += 0.1
    assert [r.path for r in tracker.ready()] == [P]


@pytest.mark.parametrize(
    "name",
    ["scan.pdf.part", "scan.tmp", "x.crdownload", "~$invoice.pdf", ".hidden.pdf", "SCAN.PART"],
)
def test_temporary_names_are_ignored(name: str) -> None:
    assert is_temporary_name(name)
    assert not is_candidate_name(name)


@pytest.mark.parametrize("name", ["scan.pdf", "invoice 2024.png", "-dash.jpg", "rechnung-ü.tiff"])
def test_final_names_are_candidates(name: str) -> None:
    assert is_candidate_name(name)


def test_a_held_file_waits_for_its_own_window_and_a_change_starts_over() -> None:
    clock = FakeClock()
    tracker = StabilityTracker(1.0, clock)
    tracker.observe(P, FileState(100, 1, True))
    clock.now += 1.0
    (ready,) = tracker.ready()
    tracker.hold(ready, 30.0)  # e.g. a TIFF, whose end cannot be seen
    assert P in tracker and tracker.next_deadline() == pytest.approx(clock.now + 29.0)
    clock.now += 28.0
    tracker.observe(P, FileState(100, 1, True))  # unchanged: still held
    assert tracker.ready() == []
    clock.now += 1.0
    assert tracker.ready() == [(P, FileState(100, 1, True), pytest.approx(30.0))]
    tracker.observe(P, FileState(100, 1, True))
    clock.now += 1.0
    (ready,) = tracker.ready()
    tracker.hold(ready, 30.0)
    clock.now += 5.0
    tracker.observe(P, FileState(200, 2, True))  # the writer went on: default window again
    clock.now += 1.0
    assert [r.path for r in tracker.ready()] == [P]
