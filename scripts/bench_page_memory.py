"""Peak memory of the default OCR engine (rapidocr) per page size, with and without the cap on
the pixels it reads (``inbox_ocr.ocr.rapidocr.MAX_READ_PIXELS``), measured in one run.

    .venv/bin/python scripts/bench_page_memory.py [MEGAPIXELS ...]

Each page is a generated invoice page (black text on white) scaled to the size, read once by
the engine in a fresh process, as the daemon's OCR workers do; the figure is that process's
peak resident memory (``ru_maxrss``), start-up included. Prints a markdown table.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = """
import json, resource, sys, time
from PIL import Image
from inbox_ocr.bench.samples import render_page
from inbox_ocr.config import OcrSettings
from inbox_ocr.ocr import rapidocr
from inbox_ocr.ocr.registry import engine_factory
megapixels, capped = float(sys.argv[1]), sys.argv[2] == "capped"
if not capped:
    rapidocr.MAX_READ_PIXELS = 10**12
page = render_page(["ACME Supplies Ltd", "Invoice No: INV-2024-0042", "Date: 07/11/2024",
                    "Printer paper A4 x 10  45.00", "Total due: GBP 161.88"], font_size=40)
scale = (megapixels * 1e6 / (page.width * page.height)) ** 0.5
page = page.resize((int(page.width * scale), int(page.height * scale)))
engine = engine_factory(OcrSettings(), max_pixels=10**12, workers=1)()
t0 = time.perf_counter()
result = engine.recognize(page)
seconds = time.perf_counter() - t0
print(json.dumps({"rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": seconds, "found": "INV-2024-0042" in result.text,
                  "size": f"{page.width}x{page.height}"}))
"""


def measure(megapixels: float, capped: bool) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(megapixels),
                          "capped" if capped else "uncapped"], cwd=REPO, capture_output=True,
                         text=True, timeout=900, check=True,
                         env={"PATH": "/usr/bin:/bin", "OMP_THREAD_LIMIT": "1"})
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> int:
    sizes = [float(a) for a in sys.argv[1:]] or [8.7, 33.7, 81.0]
    print("bench page memory: default engine (rapidocr), one page per fresh process")
    print("| page | MP | peak MB uncapped | peak MB capped | s uncapped | s capped | "
          "invoice number read (uncapped / capped) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for mp in sizes:
        raw, capped = measure(mp, False), measure(mp, True)
        print(f"| {raw['size']} | {mp:g} | {raw['rss_mb']:.0f} | {capped['rss_mb']:.0f} | "
              f"{raw['seconds']:.1f} | {capped['seconds']:.1f} | "
              f"{raw['found']} / {capped['found']} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
