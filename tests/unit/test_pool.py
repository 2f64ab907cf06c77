"""An OCR worker's loop (``inbox_ocr.ocr.pool.serve``): pages answered in order, and the heap
trimmed only once the worker is idle, never between the pages of a batch.

The worker processes themselves, with the real engines, are tested in
tests/integration/test_split_ocr.py and test_faults.py; here the loop runs on a thread over a
real pipe, with an engine that reports the size of each page."""

from __future__ import annotations

import threading
from multiprocessing import Pipe
from multiprocessing.connection import Connection

from PIL import Image

from inbox_ocr.errors import EngineFailed
from inbox_ocr.ocr.api import OcrResult
from inbox_ocr.ocr.pool import _Page, serve


class SizeEngine:
    name = "size"
    version = "1"

    def recognize(self, image: Image.Image) -> OcrResult:
        if image.size == (1, 1):
            raise EngineFailed("a one-pixel page")
        return OcrResult(text=f"{image.size[0]}x{image.size[1]}", words=())

    def close(self) -> None:
        pass


def page(width: int, height: int = 10) -> _Page:
    return _Page("L", (width, height), bytes(width * height))


class Trims:
    def __init__(self) -> None:
        self.count = 0
        self.happened = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self.happened.set()


def start(idle: float, trims: Trims) -> tuple[Connection, threading.Thread]:
    ours, theirs = Pipe()
    worker = threading.Thread(target=serve, args=(SizeEngine(), theirs, idle, trims))
    worker.start()
    return ours, worker


def test_a_batch_is_answered_in_order_without_trimming_between_pages() -> None:
    trims = Trims()
    conn, worker = start(3600.0, trims)
    for width in (20, 30, 40):
        conn.send(page(width))
    assert [conn.recv()[1].text for _ in range(3)] == ["20x10", "30x10", "40x10"]
    conn.send(page(1, 1))
    status, error = conn.recv()
    assert status == "error" and isinstance(error, EngineFailed)
    conn.close()  # EOF: the loop ends
    worker.join(10)
    assert not worker.is_alive()
    assert trims.count == 0


def test_an_idle_worker_trims_its_heap_once_then_waits_for_the_next_page() -> None:
    trims = Trims()
    conn, worker = start(0.01, trims)
    conn.send(page(20))
    assert conn.recv() == ("ok", OcrResult(text="20x10", words=()))
    assert trims.happened.wait(10)
    trims.happened.clear()
    conn.send(page(30))  # still answered after the trim
    assert conn.recv()[1].text == "30x10"
    assert trims.happened.wait(10)  # idle again after it
    conn.close()
    worker.join(10)
    assert not worker.is_alive()
    assert trims.count >= 2
