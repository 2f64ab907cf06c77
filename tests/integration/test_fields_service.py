"""Fields end to end: the real daemon reads rendered invoices; the outbox JSON carries the fields.

Also the field benchmark's scoring on the shared datasets (skipped when they are absent).
"""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import date
from pathlib import Path

import pytest

from inbox_ocr.bench.fields import Case, invoice2data_cases, normalise, report, score, sroie_cases
from inbox_ocr.bench.samples import SAMPLES, write_sample
from inbox_ocr.errors import ExitCode
from inbox_ocr.fields import FIELD_NAMES, PageInput, extract_fields
from inbox_ocr.outbox.fieldcsv import CSV_NAME, csv_header
from tests.support.harness import Harness, run
from tests.support.workspace import SHARED_DATASETS, Workspace

GERMAN_INVOICE = [
    "Northwind Traders GmbH",
    "Rechnungsnummer: NW-2024-118",
    "Rechnungsdatum: 05.03.2024",
    "Nettobetrag 1.200,00 EUR",
    "USt. 19% 228,00 EUR",
    "Rechnungsbetrag 1.428,00 EUR",
    "IBAN DE89 3704 0044 0532 0130 00",
    "Northwind Traders GmbH, Hamburg",
]
BROKEN_SUM = ["Invoice No: INV-9", "Subtotal: 100.00", "Tax: 20.00", "Total: 125.00"]


def oneshot(workspace: Workspace) -> ExitCode:
    async def main() -> ExitCode:
        daemon = Harness(workspace.config, oneshot=True)
        await daemon.start()
        assert daemon.task is not None
        return await asyncio.wait_for(daemon.task, 60)

    return run(main)


def result(workspace: Workspace, stem: str) -> dict[str, object]:
    loaded = json.loads((workspace.outbox / f"{stem}.json").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_fields_in_the_outbox_json(workspace: Workspace) -> None:
    write_sample(workspace.inbox / "invoice-acme.png", SAMPLES["invoice-acme.png"])
    write_sample(workspace.inbox / "rechnung.pdf", [GERMAN_INVOICE])
    write_sample(workspace.inbox / "broken.png", [BROKEN_SUM])
    assert oneshot(workspace) == ExitCode.OK

    acme = result(workspace, "invoice-acme")
    fields = acme["fields"]
    assert isinstance(fields, dict) and list(fields) == list(FIELD_NAMES)
    values = {name: (f["value"] if f else None) for name, f in fields.items()}
    assert values["invoice_number"] == "INV-2024-0042"
    assert values["invoice_date"] == "2024-03-15"
    assert (values["subtotal"], values["tax"], values["total"]) == ("134.90", "26.98", "161.88")
    assert values["currency"] == "GBP"
    total = fields["total"]
    assert total["valid"] is True and total["reason"] is None  # 134.90 + 26.98 = 161.88
    assert total["page"] == 1 and "161.88" in total["source"]
    assert 0 < total["confidence"] <= 1

    de = result(workspace, "rechnung")["fields"]
    assert isinstance(de, dict)
    assert de["invoice_number"]["value"] == "NW-2024-118"
    assert de["invoice_date"]["value"] == "2024-03-05"
    assert (de["total"]["value"], de["total"]["valid"]) == ("1428.00", True)
    assert (de["iban"]["value"], de["iban"]["valid"]) == ("DE89370400440532013000", True)
    assert de["currency"]["value"] == "EUR"

    broken = result(workspace, "broken")
    bf = broken["fields"]
    assert isinstance(bf, dict)
    assert (bf["total"]["value"], bf["total"]["valid"]) == ("125.00", False)
    assert bf["total"]["reason"].startswith("sum-mismatch")
    warnings = broken["warnings"]
    assert isinstance(warnings, list) and any("sum-mismatch" in w for w in warnings)
    # Off by default: no CSV.
    assert not (workspace.outbox / CSV_NAME).exists()


def test_fields_csv_when_enabled(workspace: Workspace) -> None:
    workspace.write_config("[fields]\ncsv = true\n")
    write_sample(workspace.inbox / "invoice-acme.png", SAMPLES["invoice-acme.png"])
    write_sample(workspace.inbox / "receipt.png", [BROKEN_SUM])
    assert oneshot(workspace) == ExitCode.OK
    with (workspace.outbox / CSV_NAME).open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == csv_header()
    assert len(rows) == 3  # the header once, one row per document
    by_source = {row[1]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    acme = by_source["invoice-acme.png"]
    assert (acme["document"], acme["total"], acme["total_valid"]) == ("invoice-acme", "161.88",
                                                                    "true")
    assert by_source["receipt.png"]["total_valid"] == "false"


def test_normalise_for_scoring() -> None:
    assert normalise("invoice_date", "25/12/2018") == "2018-12-25"
    assert normalise("invoice_date", "06/03/2018") == "2018-03-06"  # SROIE: day first
    assert normalise("invoice_date", "22 MAR 2018") == "2018-03-22"
    assert normalise("total", "RM 3.90") == "3.90"
    assert normalise("total", "$7.60") == "7.60"
    assert normalise("total", 319.0) == "319.00"
    assert normalise("invoice_number", "#BLR_WFLD 2015") == "BLR_WFLD2015"
    assert normalise("vendor", "AEON CO. (M) BHD") == "AEON CO M BHD"


def test_bench_scores_valid_but_wrong() -> None:
    """The scoring itself, on text (no OCR): one date right, one valid but wrong."""
    pages = {
        "a": "ACME Ltd\nInvoice No: 1\nDate: 25/12/2018\nSubtotal: 9.00\nTax: 1.00\n"
             "Total: 10.00",
        "b": "ACME Ltd\nDate: 26/12/2018\nSubtotal: 9.00\nTax: 2.00\nTotal: 11.00",
    }
    cases = [Case(name, Path(f"{name}.jpg"), {"invoice_date": "2018-12-25", "total": total})
             for name, total in (("a", "10.00"), ("b", "11.00"))]
    tallies = score(cases, lambda c: extract_fields([PageInput(1, pages[c.name])],
                                                    today=date(2026, 1, 1)))
    table = report("test", Path(), tallies, verbose=True)
    assert "| invoice_date | 1/2 = 50.0% | 2 | 2 | 1 |" in table
    assert "| total | 2/2 = 100.0% | 2 | 2 | 0 |" in table
    assert "b: invoice_date '2018-12-26' (valid=True) want '2018-12-25'" in table


@pytest.mark.skipif(not (SHARED_DATASETS / "sroie-dev" / "key").is_dir(),
                    reason="../shared/datasets/sroie-dev is not present")
def test_sroie_ground_truth_normalises() -> None:
    cases = sroie_cases(SHARED_DATASETS / "sroie-dev")
    assert len(cases) == 63
    for case in cases:
        assert len(case.truth["invoice_date"]) == 10, case  # every date became ISO 8601
        assert case.truth["total"].replace(".", "").isdigit(), case


@pytest.mark.skipif(not (SHARED_DATASETS / "invoice2data").is_dir(),
                    reason="../shared/datasets/invoice2data is not present")
def test_invoice2data_ground_truth() -> None:
    cases = {c.name: c for c in invoice2data_cases(SHARED_DATASETS / "invoice2data")}
    assert cases["oyo"].truth == {"total": "1939.00", "invoice_date": "2017-12-31",
                                  "invoice_number": "IBZY2087", "vendor": "OYO"}
    assert "total" not in cases["SammyMaystoneLinesTest"].truth


def test_a_bug_in_field_extraction_never_costs_the_result(workspace: Workspace,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import inbox_ocr.document

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(inbox_ocr.document, "extract_fields", broken)
    write_sample(workspace.inbox / "invoice-acme.png", SAMPLES["invoice-acme.png"])
    assert oneshot(workspace) == ExitCode.OK
    acme = result(workspace, "invoice-acme")
    assert acme["fields"] == dict.fromkeys(FIELD_NAMES)
    assert "fields: extraction failed (RuntimeError)" in acme["warnings"]  # type: ignore[operator]


def test_bench_fields_command_refuses_a_folder_without_labels(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from inbox_ocr.cli import main

    assert main(["bench", "fields", "--dataset", str(tmp_path)]) == ExitCode.BAD_CONFIG
    assert "--dataset" in capsys.readouterr().err


@pytest.mark.skipif(not (SHARED_DATASETS / "invoice2data").is_dir(),
                    reason="../shared/datasets/invoice2data is not present")
def test_bench_fields_command_on_invoice2data(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from inbox_ocr.cli import main

    folder = SHARED_DATASETS / "invoice2data"
    config = tmp_path / "tesseract.toml"
    config.write_text('[ocr]\nengine = "tesseract"\n')
    assert main(["bench", "fields", "--dataset", str(folder), "--limit", "1",
                 "--config", str(config)]) == ExitCode.OK
    out = capsys.readouterr().out
    # AmazonWebServices.pdf, rasterised and OCR'd by Tesseract: its date and total are read right.
    assert "| invoice_date | 1/1 = 100.0% |" in out and "| total | 1/1 = 100.0% |" in out
    assert "corrector none" in out
