"""``inbox-ocr bench fields``: field extraction accuracy against labelled datasets.

Datasets (read in place, never copied):
- SROIE (``key/NNN.json`` with ``company``, ``date``, ``total``; images ``img/NNN.jpg``);
- invoice2data (``NAME.json``: a list with one object: ``issuer``, ``amount``, ``date``,
  ``invoice_number``; the invoice ``NAME.pdf``, rasterised through the scan path).

Each document goes through the product's own path: ``inbox_ocr.split.open_pages`` (PDFs are
rasterised at ``ocr.dpi``), the configured OCR engine, optionally the corrector (``--llm``),
then ``inbox_ocr.fields.extract.extract_fields``. Scores are exact match after normalisation
(:func:`normalise`): dates to ISO 8601 (SROIE dates are printed day first, Malaysian style),
amounts to two-decimal strings with currency signs dropped, invoice numbers upper case without
spaces or a leading ``#``, names upper case with punctuation collapsed to single spaces.
Per field it prints accuracy, how many values were reported, how many ``valid``, and how many
were ``valid`` but wrong (the figure that must stay 0).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from pathlib import Path

from inbox_ocr.bench.invoices import MANIFEST
from inbox_ocr.config import Settings
from inbox_ocr.correct.process import make_corrector
from inbox_ocr.document import engine_factory_for, field_inputs, read_document
from inbox_ocr.errors import ConfigError
from inbox_ocr.fields import Fields, PageInput, extract_fields, find_dates, money, parse_amount
from inbox_ocr.intake.documents import make_document

# dataset key -> our field name
SROIE_FIELDS = {"date": "invoice_date", "total": "total", "company": "vendor"}
GENERATED_FIELDS = ("invoice_number", "invoice_date", "due_date", "total")
INVOICE2DATA_FIELDS = {"amount": "total", "date": "invoice_date",
                       "invoice_number": "invoice_number", "issuer": "vendor"}


@dataclass(frozen=True)
class Case:
    """One labelled document: ``truth`` maps our field names to normalised values."""

    name: str
    path: Path
    truth: dict[str, str]


@dataclass
class Tally:
    expected: int = 0
    correct: int = 0
    reported: int = 0
    valid: int = 0
    valid_wrong: int = 0
    misses: list[str] = field(default_factory=list)


def normalise(name: str, value: object) -> str | None:
    """Both sides of a comparison go through this (see the module docstring)."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None  # SROIE's key files leave some fields empty: nothing to score
    if name in {"invoice_date", "due_date"}:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return text
        readings = find_dates(text, True, date(2100, 1, 1))
        return readings[0].value.isoformat() if readings and readings[0].value else text
    if name in {"total", "subtotal", "tax"}:
        if isinstance(value, int | float):
            return money(Decimal(str(value)))
        digits = re.sub(r"[^\d.,]", "", text)
        try:
            return money(parse_amount(digits, "."))
        except ValueError:
            return text
    if name == "invoice_number":
        return re.sub(r"\s", "", text).lstrip("#").upper()
    return " ".join(re.sub(r"[^\w]+", " ", text.upper()).split())


def sroie_cases(dataset: Path) -> list[Case]:
    cases = []
    for key in sorted((dataset / "key").glob("*.json")):
        raw = json.loads(key.read_text(encoding="utf-8"))
        truth = {ours: n for k, ours in SROIE_FIELDS.items()
                 if (n := normalise(ours, raw.get(k))) is not None}
        cases.append(Case(key.stem, dataset / "img" / f"{key.stem}.jpg", truth))
    return cases


def invoice2data_cases(dataset: Path) -> list[Case]:
    cases = []
    for js in sorted(dataset.glob("*.json")):
        raw = json.loads(js.read_text(encoding="utf-8"))
        item = raw[0] if isinstance(raw, list) and raw else raw
        if not isinstance(item, dict) or not js.with_suffix(".pdf").exists():
            continue
        truth = {ours: n for k, ours in INVOICE2DATA_FIELDS.items()
                 if (n := normalise(ours, item.get(k))) is not None}
        cases.append(Case(js.stem, js.with_suffix(".pdf"), truth))
    return cases


def generated_cases(dataset: Path) -> list[Case]:
    """A set written by ``inbox-ocr bench invoices`` (``inbox_ocr.bench.invoices``)."""
    cases = []
    for js in sorted(dataset.glob("[0-9]*.json")):
        raw = json.loads(js.read_text(encoding="utf-8"))
        scan = next((p for p in (js.with_suffix(".png"), js.with_suffix(".pdf")) if p.exists()),
                    None)
        if scan is None:
            continue
        truth = {name: n for name in GENERATED_FIELDS
                 if (n := normalise(name, raw.get(name))) is not None}
        cases.append(Case(f"{js.stem} ({raw['language']}, {raw['layout']})", scan, truth))
    return cases


def cases_for(dataset: Path) -> tuple[str, list[Case]]:
    """The dataset's kind (``sroie``, ``generated`` or ``invoice2data``) and its cases."""
    if (dataset / "key").is_dir():
        return "sroie", sroie_cases(dataset)
    if (dataset / MANIFEST).is_file():
        return "generated", generated_cases(dataset)
    return "invoice2data", invoice2data_cases(dataset)


def score(cases: Sequence[Case], read: Callable[[Case], Fields]) -> dict[str, Tally]:
    tallies: dict[str, Tally] = {}
    for case in cases:
        fields = read(case)
        for name, want in case.truth.items():
            tally = tallies.setdefault(name, Tally())
            tally.expected += 1
            got = fields.get(name)
            if got is None:
                tally.misses.append(f"{case.name}: {name} not found (want {want})")
                continue
            tally.reported += 1
            ok = normalise(name, got.value) == want
            tally.correct += ok
            tally.valid += got.valid
            if got.valid and not ok:
                tally.valid_wrong += 1
            if not ok:
                tally.misses.append(f"{case.name}: {name} {got.value!r} "
                                    f"(valid={got.valid}) want {want!r}")
    return tallies


def report(kind: str, dataset: Path, tallies: dict[str, Tally], verbose: bool) -> str:
    lines = [f"bench fields: {kind} {dataset}",
             "| field | accuracy | reported | valid | valid but wrong |",
             "| --- | --- | --- | --- | --- |"]
    for name, t in tallies.items():
        lines.append(f"| {name} | {t.correct}/{t.expected} = {t.correct / max(1, t.expected):.1%}"
                     f" | {t.reported} | {t.valid} | {t.valid_wrong} |")
    if verbose:
        for t in tallies.values():
            lines.extend(f"  miss {m}" for m in t.misses)
    return "\n".join(lines)


def bench_fields(dataset: Path, read_pages: Callable[[Path], list[PageInput]], today: date,
                 limit: int | None = None, verbose: bool = False) -> str:
    """Score every labelled document in ``dataset``; ``read_pages`` OCRs one file."""
    kind, cases = cases_for(dataset)
    cases = cases[:limit] if limit else cases
    tallies = score(cases, lambda c: extract_fields(read_pages(c.path), today=today))
    return report(kind, dataset, tallies, verbose)


def run(dataset: Path, settings: Settings, *, limit: int | None, llm: bool,
        verbose: bool) -> str:
    """``inbox-ocr bench fields``: OCR (and with ``llm`` correct) each labelled document the
    way the daemon does, extract its fields, print the scores.

    Raises ConfigError (naming ``--dataset``) when the folder holds no labelled documents."""
    if not dataset.is_dir() or not cases_for(dataset)[1]:
        raise ConfigError("--dataset", f"{dataset}: no SROIE key/*.json, no generated set "
                          "(inbox-ocr bench invoices) nor invoice2data *.json beside its *.pdf")
    engine = engine_factory_for(settings, workers=1)()
    corrector = make_corrector(settings if llm else replace(
        settings, llm=replace(settings.llm, enabled=False)))
    corrector.load()

    def read_pages(path: Path) -> list[PageInput]:
        st = path.stat()
        document = make_document(path, st.st_size, st.st_mtime_ns, time.time())
        reading = read_document(document, settings, engine, corrector, with_fields=False)
        return field_inputs(reading.pages)

    t0 = time.perf_counter()
    try:
        table = bench_fields(dataset, read_pages, date.today(), limit, verbose)
    finally:
        engine.close()
        corrector.close()
    return (f"{table}\n(engine {engine.name} {engine.version}, psm {settings.ocr.psm}, "
            f"dpi {settings.ocr.dpi}, corrector {corrector.name}, "
            f"{time.perf_counter() - t0:.1f} s)")
