"""``inbox-ocr bench soak``: drop hundreds of files while killing the daemon at random moments.

The real daemon runs as a subprocess (``python -m inbox_ocr run``) on a scratch folder. Files are
dropped in bursts, some written in two chunks like a slow scanner, one PDF per ten files; every
few seconds the daemon gets SIGKILL at a random moment and is started again. At the end a
``--oneshot`` run drains the inbox and the outbox is checked against the inputs:

    inputs=N results=N duplicates=0 lost=0 orphans=0 kills=K seconds=S

``results``: inputs with a result in the outbox; ``duplicates``: extra results for an input;
``lost``: inputs with no result; ``orphans``: temp files or a ``.txt`` without its ``.json``.
Exit status 1 when any of duplicates, lost, orphans is not 0.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from inbox_ocr.bench import scratch
from inbox_ocr.bench.samples import write_sample

# Tesseract: the soak is about crashes, not OCR quality, and it is the fastest engine.
CONFIG = """
[ocr]
engine = "tesseract"
[watch]
stable_seconds = 0.3
rescan_seconds = 2
[llm]
enabled = {llm}
[retry]
backoff_seconds = 0.2
max_backoff_seconds = 2
"""


def _daemon(config: Path, *extra: str) -> subprocess.Popen[str]:
    return scratch.start(config, *extra)


def _drop(rng: random.Random, inbox: Path, staging: Path, n: int) -> str:
    """Write input ``n`` into the inbox (unique content); return its sha256."""
    lines = [f"Soak invoice No: SOAK-{n:05d}", f"Total: {n}.{n % 100:02d}"]
    suffix = ".pdf" if n % 10 == 0 else ".png"
    made = write_sample(staging / f"soak-{n:05d}{suffix}", [lines] * (2 if suffix == ".pdf" else 1))
    data = made.read_bytes()
    made.unlink()
    target = inbox / made.name
    if rng.random() < 0.3:  # a slow scanner: half now, the rest a moment later
        with target.open("wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(0.05)
            fh.write(data[len(data) // 2:])
    else:
        target.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def soak(files: int, kill_every: float, seed: int, llm: bool, keep: Path | None) -> int:
    rng = random.Random(seed)
    root = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="inbox-ocr-soak-"))
    root.mkdir(parents=True, exist_ok=True)
    (root / "inbox").mkdir(exist_ok=True)
    staging = root / "staging"
    staging.mkdir(exist_ok=True)
    config = scratch.write_config(root, CONFIG.format(llm="true" if llm else "false"))
    inputs: dict[str, str] = {}
    kills = 0
    started = time.monotonic()
    proc = _daemon(config)
    next_kill = time.monotonic() + rng.uniform(0.3, kill_every)
    n = 0
    try:
        while n < files:
            for _ in range(min(files - n, rng.randint(1, 8))):
                inputs[f"{n}"] = _drop(rng, root / "inbox", staging, n)
                n += 1
            if time.monotonic() >= next_kill:
                proc.send_signal(signal.SIGKILL)
                proc.wait(30)
                kills += 1
                proc = _daemon(config)
                next_kill = time.monotonic() + rng.uniform(0.3, kill_every)
            time.sleep(rng.uniform(0.0, 0.3))
        # Keep killing while the backlog is worked off, then let a clean run drain it.
        for _ in range(3):
            time.sleep(rng.uniform(0.5, kill_every))
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            kills += 1
            proc = _daemon(config)
        proc.send_signal(signal.SIGTERM)
        proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    drain = _daemon(config, "--oneshot")
    drain.wait(1800)
    seconds = time.monotonic() - started

    outbox = root / "outbox"
    counts: dict[str, int] = {}
    for js in outbox.glob("*.json"):
        digest = json.loads(js.read_text(encoding="utf-8"))["source"]["sha256"]
        counts[digest] = counts.get(digest, 0) + 1
    wanted = set(inputs.values())
    results = sum(1 for d in wanted if counts.get(d))
    duplicates = sum(c - 1 for c in counts.values() if c > 1)
    lost = len(wanted) - results
    orphans = [p.name for p in outbox.iterdir() if p.name.startswith(".")]
    orphans += [p.name for p in outbox.glob("*.txt") if not p.with_suffix(".json").exists()]
    left = sorted(p.name for p in (root / "inbox").iterdir())
    print(f"inputs={len(wanted)} results={results} duplicates={duplicates} lost={lost} "
          f"orphans={len(orphans)} kills={kills} seconds={seconds:.1f}")
    if left:
        print(f"left in inbox: {', '.join(left[:10])}")
    if keep is None and not (duplicates or lost or orphans):
        shutil.rmtree(root, ignore_errors=True)
    else:
        print(f"workspace kept: {root}")
    return 1 if (duplicates or lost or orphans or drain.returncode) else 0
