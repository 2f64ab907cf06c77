"""The throughput benchmark's parts (its figures are printed, never asserted)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from inbox_ocr.bench.throughput import make_batch, tree_memory
from tests.integration.test_cli import cli


def test_tree_memory_counts_children(tmp_path: Path) -> None:
    alone = tree_memory(os.getpid())
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                             stdin=subprocess.PIPE)
    try:
        # The child's interpreter is resident too, so the tree weighs more than this process.
        assert alone > 0 and tree_memory(os.getpid()) > alone
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(10)


def test_batch_mixes_pngs_and_multipage_pdfs(tmp_path: Path) -> None:
    files = make_batch(tmp_path, 8)
    assert sorted(p.suffix for p in files) == [".pdf", ".pdf", ".png", ".png"]


@pytest.mark.slow
def test_bench_throughput_prints_every_figure(tmp_path: Path) -> None:
    proc = cli("bench", "throughput", "--pages", "2", "--big-pages", "0", "--keep",
               str(tmp_path / "bench"), "--page-megapixels", "20", timeout=300)
    assert proc.returncode == 0, proc.stderr
    for figure in ("floor  tesseract CLI", "inbox-ocr corrector off", "inbox-ocr corrector on",
                   "latency, one page", "ocrmypdf", "memory per page size"):
        assert figure in proc.stdout, proc.stdout
    # The page-size row: 20 MP is read at a reduced size, and the number is still read.
    row = next(line for line in proc.stdout.splitlines() if line.startswith("| ") and
               "| 20 |" in line)
    assert row.endswith("| True / True |"), row


@pytest.mark.slow
def test_bench_throughput_times_the_default_daemon_on_receipts(tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parents[2]
    (tmp_path / "set" / "img").mkdir(parents=True)
    for name in ("receipt-cafe.jpg", "invoice-acme.png"):
        (tmp_path / "set" / "img" / name).write_bytes((repo / "samples" / name).read_bytes())
    proc = cli("bench", "throughput", "--receipts", str(tmp_path / "set"), "--keep",
               str(tmp_path / "bench"), "--repeat", "2", timeout=400)
    assert proc.returncode == 0, proc.stderr
    assert "receipts: 2 images" in proc.stdout
    for figure in ("inbox-ocr corrector off", "inbox-ocr corrector on "):
        rows = [row for row in proc.stdout.splitlines() if row.startswith(figure)]
        assert [row.endswith(f"(run {n}/2)") for n, row in enumerate(rows, 1)] == [True, True]
        assert all("s per receipt" in row and "x corrector off" in row and "CPU steal" in row
                   for row in rows), proc.stdout
    median = next(row for row in proc.stdout.splitlines() if row.startswith("median of 2:"))
    assert "corrector off" in median and "per receipt" in median, proc.stdout
    assert "floor" not in proc.stdout  # only the receipts' figure
    # The corrector really ran: the packaged model corrected the pages.
    outbox = tmp_path / "bench" / "receipts-on" / "outbox"
    assert sorted(p.name for p in outbox.glob("*.json")) == ["invoice-acme.json",
                                                             "receipt-cafe.json"]
    assert '"llm:' in (outbox / "receipt-cafe.json").read_text()
