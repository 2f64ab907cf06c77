"""``inbox-ocr bench throughput``: pages per minute against the raw engine, memory, latency.

In one run, on one generated batch (PNGs and multi-page PDFs of invoice-like pages):

- **floor**: every page rasterised first (as the daemon does: pdf2image at ``ocr.dpi``,
  grayscale), then the raw ``tesseract`` CLI on all cores in parallel (``OMP_THREAD_LIMIT=1``,
  same language and page-segmentation mode). Rasterising is not counted: the floor is the
  engine alone.
- **inbox-ocr**, corrector off and on: the real daemon with the Tesseract engine (the engine
  the floor runs; ``bench quality`` compares engines) (``run --oneshot``, a subprocess) on the
  same files. Counted from ``daemon.ready`` to ``daemon.stopped`` (start-up, i.e. spawning the
  OCR workers and loading the model, is printed apart); the daemon also rasterises the PDFs.
- **peak memory** (summed PSS) of the daemon and all its children (OCR workers, pdftoppm),
  sampled from /proc every 50 ms, for a 20-page and a 200-page PDF (corrector off).
- **latency**: one page dropped into an idle daemon, until its ``.json`` is in the outbox,
  against ``stable_seconds`` + one page's OCR time + 0.5 s.
- **OCRmyPDF** (``ocrmypdf --sidecar``, text only) on the same files, when it is installed.
- **seconds per receipt** (``--receipts DIR``, in place of everything else): the real daemon
  in its default configuration (default engine, the packaged model correcting with both
  readings) on a folder's ``img/`` receipts, against the same daemon with the corrector off
  (``--repeat N``: the two alternate N times; the medians are printed last, and every run the
  share of CPU time that the virtual machine's host stole meanwhile).
- **memory per page size** with the default engine (rapidocr): one OCR worker reading one
  page of each size (``--page-megapixels``) in a fresh process, peak resident memory
  (``ru_maxrss``, start-up included), with and without the cap that reads pages above 16 MP
  at a reduced size (``inbox_ocr.ocr.rapidocr.MAX_READ_PIXELS``), the baseline in the same run.

Prints figures and ratios; never passes or fails.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pdf2image

from inbox_ocr.bench import scratch
from inbox_ocr.bench.samples import write_sample

CONFIG = """
[watch]
stable_seconds = {stable}
[ocr]
engine = "tesseract"
workers = {workers}
dpi = {dpi}
psm = {psm}
languages = "{languages}"
[llm]
enabled = {llm}
"""


def invoice_lines(n: int) -> list[str]:
    """An invoice-like page: header, 18 item lines with amounts, totals."""
    lines = [f"Northwind Supplies Ltd - Invoice No: INV-{2024_0000 + n}",
             f"Invoice Date: 2024-{1 + n % 12:02d}-{1 + n % 28:02d}   Customer: C-{4000 + n}",
             "Description                          Qty     Amount"]
    for item in range(18):
        qty = 1 + (n + item) % 9
        lines.append(f"Item {item + 1:02d} office supplies part {n * 31 + item:05d}   {qty}"
                     f"     {qty * (12.5 + item):.2f}")
    lines += [f"Subtotal: {100 + n * 3.5:.2f}", f"VAT 20%: {(100 + n * 3.5) * 0.2:.2f}",
              f"Total due: GBP {(100 + n * 3.5) * 1.2:.2f}"]
    return lines


def make_batch(folder: Path, pages: int) -> list[Path]:
    """About ``pages`` pages: a quarter as single-page PNGs, the rest in 5-page PDFs."""
    folder.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []
    n = 0
    pngs = pages // 4
    for _ in range(pngs):
        made.append(write_sample(folder / f"scan-{n:03d}.png", [invoice_lines(n)]))
        n += 1
    while n < pages:
        count = min(5, pages - n)
        made.append(write_sample(folder / f"batch-{n:03d}.pdf",
                                 [invoice_lines(n + k) for k in range(count)]))
        n += count
    return made


def rasterise(files: list[Path], folder: Path, dpi: int) -> list[Path]:
    """Every page as a PNG, the way the daemon's split stage produces it."""
    folder.mkdir(parents=True, exist_ok=True)
    out: list[Path] = []
    for path in files:
        if path.suffix == ".pdf":
            for number, image in enumerate(pdf2image.convert_from_path(
                    str(path), dpi=dpi, grayscale=True), start=1):
                target = folder / f"{path.stem}-{number}.png"
                image.save(target)
                out.append(target)
        else:
            out.append(Path(shutil.copy(path, folder / path.name)))
    return out


def floor(images: list[Path], workers: int, languages: str, psm: int) -> tuple[float, list[float]]:
    """Wall seconds for the raw tesseract CLI on all images, ``workers`` at a time."""
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}

    def one(image: Path) -> float:
        t0 = time.monotonic()
        subprocess.run(["tesseract", str(image), "stdout", "-l", languages, "--psm", str(psm)],
                       env=env, check=True, capture_output=True, timeout=600)
        return time.monotonic() - t0

    t0 = time.monotonic()
    with ThreadPoolExecutor(workers) as pool:
        each = list(pool.map(one, images))
    return time.monotonic() - t0, each


class TreeMemory:
    """Peak summed PSS of a process and its descendants, sampled on a thread."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_memory(self.pid))
            self._stop.wait(interval)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def tree_memory(root: int) -> int:
    """Bytes of memory used by ``root`` and every process below it.

    Summed PSS (proportional set size, /proc/PID/smaps_rollup): pages shared between processes
    are split between them, so a child that was just forked (before it execs pdftoppm) does
    not count the daemon's memory twice, as summed RSS would.
    """
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text(encoding="ascii", errors="replace")
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(_pss(pid) for pid in tree)


def _pss(pid: int) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="ascii", errors="replace")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    return 0


def run_daemon(root: Path, files: list[Path], *, llm: bool, workers: int, dpi: int, psm: int,
               languages: str, stable: float = 0.0) -> dict[str, float]:
    """The real daemon, ``--oneshot``, on copies of ``files``. Returns timings and peak memory."""
    return run_daemon_with(root, files, CONFIG.format(
        stable=stable, workers=workers, dpi=dpi, psm=psm, languages=languages,
        llm="true" if llm else "false"))


def run_daemon_with(root: Path, files: list[Path], settings: str,
                    memory_interval: float = 0.05) -> dict[str, float]:
    """``run_daemon`` with these config file contents (paths are added); the memory is
    sampled every ``memory_interval`` seconds."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "inbox").mkdir(parents=True)
    for path in files:
        shutil.copy(path, root / "inbox" / path.name)
    config = scratch.write_config(root, settings)
    t0 = time.monotonic()
    proc = scratch.start(config, "--oneshot", stdout=subprocess.PIPE)
    sampler = TreeMemory(proc.pid, memory_interval)
    ready = stopped = None
    pages = 0
    assert proc.stdout is not None
    for line in proc.stdout:
        event = json.loads(line)
        if event["event"] == "daemon.ready":
            ready = time.monotonic()
        elif event["event"] == "daemon.stopped":
            stopped = time.monotonic()
            pages = int(event.get("pages", 0))
    proc.wait(3600)
    peak = sampler.stop()
    if ready is None or stopped is None or proc.returncode != 0:
        raise RuntimeError(f"the daemon failed (exit {proc.returncode}) in {root}")
    return {"startup": ready - t0, "seconds": stopped - ready, "pages": pages, "rss": peak}


def latency(root: Path, sample: Path, *, workers: int, dpi: int, psm: int, languages: str,
            stable: float) -> float:
    """Seconds from one page landing in an idle daemon's inbox to its JSON in the outbox."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "inbox").mkdir(parents=True)
    config = scratch.write_config(root, CONFIG.format(
        stable=stable, workers=workers, dpi=dpi, psm=psm, languages=languages, llm="false"))
    proc = scratch.start(config, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if json.loads(line)["event"] == "daemon.ready":
                break
        staged = root / sample.name
        shutil.copy(sample, staged)
        target = root / "outbox" / f"{sample.stem}.json"
        t0 = time.monotonic()
        staged.rename(root / "inbox" / sample.name)  # arrives whole, as a scanner's rename does
        while not target.exists():
            if time.monotonic() - t0 > 120:
                raise RuntimeError("no result within 120 s")
            time.sleep(0.01)
        return time.monotonic() - t0
    finally:
        proc.terminate()
        proc.wait(60)


def ocrmypdf_seconds(files: list[Path], folder: Path, workers: int, languages: str,
                     dpi: int) -> float | None:
    """OCRmyPDF on the same files, text only (--sidecar), one file after the other with
    ``workers`` jobs each, as its watcher would. None when it is not installed."""
    exe = shutil.which("ocrmypdf") or str(Path(sys.executable).with_name("ocrmypdf"))
    if not Path(exe).exists():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    for path in files:
        args = [exe, "--sidecar", str(folder / f"{path.stem}.txt"), "--force-ocr",
                "--output-type", "pdf", "--optimize", "0", "-l", languages, "--jobs",
                str(workers), "--quiet"]
        if path.suffix != ".pdf":
            args += ["--image-dpi", str(dpi)]
        result = subprocess.run([*args, str(path), str(folder / f"{path.stem}.pdf")],
                                capture_output=True, text=True, timeout=1800)
        if result.returncode != 0:
            print(f"ocrmypdf failed on {path.name}: {result.stderr.strip()[-300:]}")
            return None
    return time.monotonic() - t0


def memory(root: Path, big_pages: int, workers: int, dpi: int, psm: int, languages: str,
           say: Callable[[str], None]) -> None:
    """Peak memory for a 20-page PDF and a ``big_pages``-page one (corrector off)."""
    root.mkdir(parents=True, exist_ok=True)
    small = write_sample(root / "pdf-20.pdf", [invoice_lines(k) for k in range(20)])
    big = root / f"pdf-{big_pages}.pdf"
    subprocess.run(["pdfunite", *([str(small)] * (big_pages // 20)), str(big)], check=True)
    rss = {}
    for label, pdf in (("20", small), (str(big_pages), big)):
        r = run_daemon(root / f"run-{label}", [pdf], llm=False, workers=workers, dpi=dpi,
                       psm=psm, languages=languages)
        rss[label] = r["rss"]
        say(f"peak memory, one {label}-page PDF: {r['rss'] / 2**20:7.0f} MiB  "
            f"({r['pages']} pages in {r['seconds']:.1f} s)")
    say(f"peak memory ratio {big_pages}/20 pages: {rss[str(big_pages)] / rss['20']:.2f}")


def page_memory_child(megapixels: float, capped: bool) -> None:
    """In a fresh process: read one page of ``megapixels`` with the default engine and print
    the peak resident memory, the seconds and whether the invoice number was read (JSON)."""
    import resource

    from inbox_ocr.bench.samples import render_page
    from inbox_ocr.config import OcrSettings
    from inbox_ocr.ocr import rapidocr
    from inbox_ocr.ocr.registry import engine_factory

    if not capped:
        rapidocr.MAX_READ_PIXELS = 10**12
    page = render_page(["ACME Supplies Ltd", "Invoice No: INV-2024-0042", "Date: 07/11/2024",
                        "Printer paper A4 x 10  45.00", "Total due: GBP 161.88"], font_size=40)
    scale = (megapixels * 1e6 / (page.width * page.height)) ** 0.5
    page = page.resize((int(page.width * scale), int(page.height * scale)))
    engine = engine_factory(OcrSettings(fallback_engine="none"), max_pixels=10**12, workers=1)()
    t0 = time.perf_counter()
    result = engine.recognize(page)
    print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "seconds": time.perf_counter() - t0,
                      "found": "INV-2024-0042" in result.text,
                      "size": f"{page.width}x{page.height}"}))


def page_memory(sizes: list[float], say: Callable[[str], None]) -> None:
    """The memory-per-page-size table (markdown), capped against uncapped, in this run."""
    def measure(megapixels: float, capped: bool) -> dict[str, Any]:
        code = ("from inbox_ocr.bench.throughput import page_memory_child; "
                f"page_memory_child({megapixels!r}, {capped!r})")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=900, check=True,
                             env={**os.environ, "OMP_THREAD_LIMIT": "1"})
        result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
        return result

    say("memory per page size, default engine (rapidocr), one page per fresh OCR worker:")
    say("| page | MP | peak MB uncapped | peak MB capped | ratio | s uncapped | s capped | "
        "invoice number read (uncapped / capped) |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for mp in sizes:
        raw, capped = measure(mp, False), measure(mp, True)
        say(f"| {raw['size']} | {mp:g} | {raw['rss_mb']:.0f} | {capped['rss_mb']:.0f} | "
            f"{capped['rss_mb'] / raw['rss_mb']:.2f} | {raw['seconds']:.1f} | "
            f"{capped['seconds']:.1f} | {raw['found']} / {capped['found']} |")


# The daemon's default configuration, but for the inbox's settle time (the files are there).
#: How often the receipts' daemon has its memory sampled: reading a process's PSS walks its page
#: tables under its memory lock, and at 20 samples a second that made the daemon with the
#: corrector 13% slower (63 sroie-dev receipts: 147.4 s unsampled, 166.1 s every 0.05 s,
#: 151.5 s every 0.5 s).
RECEIPT_MEMORY_INTERVAL = 0.5

RECEIPT_CONFIG = """
[watch]
stable_seconds = 0.0
[llm]
enabled = {llm}
"""


def cpu_times() -> tuple[int, int]:
    """The machine's CPU time since boot as (all, stolen) clock ticks, from ``/proc/stat``:
    on a virtual machine, time stolen by the host slows a run without any change in the code."""
    first = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0]
    fields = [int(x) for x in first.split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user)
    return sum(fields[:8]), fields[7] if len(fields) > 7 else 0


def receipts(root: Path, dataset: Path, limit: int | None,
             say: Callable[[str], None], repeat: int = 1) -> None:
    """Seconds per receipt of the real daemon in its default configuration (the default
    engine, the packaged model correcting with both readings) on a folder of receipt images,
    against the same daemon with the corrector off, in the same run. With ``repeat`` > 1 the
    two alternate that many times and the medians are printed last. Each run prints the share
    of CPU time the host stole from this machine meanwhile (a virtual machine's noise)."""
    files = sorted(p for p in (dataset / "img").iterdir()
                   if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff"))
    files = files[:limit] if limit else files
    say(f"receipts: {len(files)} images from {dataset}, default configuration")
    each: dict[bool, list[float]] = {False: [], True: []}
    for run in range(1, repeat + 1):
        for llm in (False, True):
            all0, stolen0 = cpu_times()
            r = run_daemon_with(root / f"receipts-{'on' if llm else 'off'}", files,
                                RECEIPT_CONFIG.format(llm="true" if llm else "false"),
                                RECEIPT_MEMORY_INTERVAL)
            all1, stolen1 = cpu_times()
            steal = (stolen1 - stolen0) / max(1, all1 - all0)
            each[llm].append(r["seconds"] / len(files))
            baseline = each[False][-1]
            tag = f" (run {run}/{repeat})" if repeat > 1 else ""
            say(f"inbox-ocr corrector {'on ' if llm else 'off'}: {r['seconds']:7.1f} s  "
                f"{each[llm][-1]:.2f} s per receipt  ratio {each[llm][-1] / baseline:.2f} x "
                f"corrector off  (start-up {r['startup']:.1f} s apart, peak memory "
                f"{r['rss'] / 2**20:.0f} MiB, CPU steal {steal:.1%}){tag}")
    if repeat > 1:
        off, on = statistics.median(each[False]), statistics.median(each[True])
        say(f"median of {repeat}: corrector off {off:.2f} s, on {on:.2f} s per receipt "
            f"(on: {min(each[True]):.2f}-{max(each[True]):.2f} s), ratio {on / off:.2f} x")


def bench_throughput(pages: int, workers: int, dpi: int, psm: int, languages: str,
                     big_pages: int, keep: Path | None,
                     page_megapixels: list[float] | None = None,
                     receipt_folder: Path | None = None, limit: int | None = None,
                     repeat: int = 1) -> str:
    root = keep or Path(tempfile.mkdtemp(prefix="inbox-ocr-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    out: list[str] = []

    def say(text: str) -> None:
        out.append(text)
        print(text, flush=True)

    if receipt_folder is not None:
        receipts(root, receipt_folder, limit, say, repeat)
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)
        return "\n".join(out)

    files = make_batch(root / "batch", pages)
    images = rasterise(files, root / "pages", dpi)
    say(f"batch: {len(files)} files, {len(images)} pages (A4; PNGs at 200 dpi, PDFs rasterised at "
        f"{dpi} dpi), {workers} workers, "
        f"psm {psm}, {languages}")
    floor_s, each = floor(images, workers, languages, psm)
    floor_ppm = len(images) / floor_s * 60
    say(f"floor  tesseract CLI x{workers}: {floor_s:7.1f} s  {floor_ppm:6.1f} pages/min "
        f"(median {statistics.median(each):.2f} s per page)")
    runs = {}
    for llm in (False, True):
        name = "corrector on " if llm else "corrector off"
        r = run_daemon(root / f"run-{'on' if llm else 'off'}", files, llm=llm, workers=workers,
                       dpi=dpi, psm=psm, languages=languages)
        ppm = r["pages"] / r["seconds"] * 60
        runs[llm] = r
        say(f"inbox-ocr {name}:  {r['seconds']:7.1f} s  {ppm:6.1f} pages/min  "
            f"ratio {ppm / floor_ppm:.2f} x floor  (start-up {r['startup']:.1f} s apart, "
            f"peak memory {r['rss'] / 2**20:.0f} MiB)")
    if big_pages >= 20:
        memory(root / "rss", big_pages, workers, dpi, psm, languages, say)
    stable = 0.5
    seconds = latency(root / "latency", files[0], workers=workers, dpi=dpi, psm=psm,
                      languages=languages, stable=stable)
    budget = stable + statistics.median(each) + 0.5
    say(f"latency, one page into an idle daemon: {seconds:.2f} s "
        f"(budget stable {stable} + page {statistics.median(each):.2f} + 0.5 = {budget:.2f} s)")
    peer = ocrmypdf_seconds(files, root / "ocrmypdf", workers, languages, dpi)
    if peer is None:
        say("ocrmypdf: not installed (pip install ocrmypdf to compare)")
    else:
        peer_ppm = len(images) / peer * 60
        ours = runs[False]["pages"] / (runs[False]["seconds"] + runs[False]["startup"]) * 60
        say(f"ocrmypdf --sidecar:          {peer:7.1f} s  {peer_ppm:6.1f} pages/min; inbox-ocr "
            f"(corrector off, start-up included) is {ours / peer_ppm:.2f} x as fast")
    if page_megapixels:
        page_memory(page_megapixels, say)
    if keep is None:
        shutil.rmtree(root, ignore_errors=True)
    return "\n".join(out)
