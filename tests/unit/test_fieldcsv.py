"""outbox/fields.csv rows: header once, one append per document, no formulas."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from inbox_ocr.errors import OutboxUnavailable
from inbox_ocr.fields import FIELD_NAMES
from inbox_ocr.outbox.fieldcsv import append_row, csv_header, csv_row, restore_row


def test_header_once_then_rows(tmp_path: Path) -> None:
    path = tmp_path / "fields.csv"
    fields = dict.fromkeys(FIELD_NAMES)
    fields["total"] = {"value": "12.50", "valid": True}
    fields["vendor"] = {"value": "=HYPERLINK(\"x\")", "valid": False}
    fields["tax"] = {"value": "-1.00", "valid": False}
    append_row(path, csv_row("a", "a.pdf", "ab" * 32, fields))
    append_row(path, csv_row("b, \"quoted\"", "b.png", "cd" * 32, dict.fromkeys(FIELD_NAMES)))
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == csv_header() and len(rows) == 3
    first = dict(zip(rows[0], rows[1], strict=True))
    assert (first["total"], first["total_valid"]) == ("12.50", "true")
    assert first["vendor"] == "'=HYPERLINK(\"x\")"  # a spreadsheet must not run it
    assert first["tax"] == "-1.00"  # amounts stay numbers
    assert rows[2][0] == "b, \"quoted\"" and rows[2][3:] == [""] * (2 * len(FIELD_NAMES))


def test_unwritable_csv_is_a_transient_outbox_error(tmp_path: Path) -> None:
    (tmp_path / "fields.csv").mkdir()
    with pytest.raises(OutboxUnavailable):
        append_row(tmp_path / "fields.csv", csv_row("a", "a.pdf", "00", {}))


def test_restore_row_appends_a_missing_row_once_from_the_result(tmp_path: Path) -> None:
    path = tmp_path / "fields.csv"
    result = tmp_path / "-b.json"  # a name a spreadsheet would take for a formula
    result.write_text(json.dumps({"source": {"name": "b.png", "sha256": "cd" * 32},
                                  "fields": {"total": {"value": "9.90", "valid": True}}}))
    append_row(path, csv_row("a", "a.pdf", "ab" * 32, {}))
    assert restore_row(path, result) is True
    assert restore_row(path, result) is False  # already there: never twice
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert [row[0] for row in rows[1:]] == ["a", "'-b"]
    restored = dict(zip(rows[0], rows[2], strict=True))
    assert (restored["source"], restored["total"], restored["total_valid"]) == (
        "b.png", "9.90", "true")
    assert restore_row(tmp_path / "new.csv", result) is True  # no CSV yet: created, header first
    with pytest.raises(OutboxUnavailable):
        restore_row(path, tmp_path / "gone.json")


def test_fields_config_section(tmp_path: Path) -> None:
    from inbox_ocr.config import load_settings
    from inbox_ocr.errors import ConfigError

    assert load_settings(None, {}, check_paths=False).fields.csv is False
    config = tmp_path / "c.toml"
    config.write_text("[fields]\ncsv = true\n")
    assert load_settings(config, {}, check_paths=False).fields.csv is True
    env = {"INBOX_OCR_FIELDS_CSV": "false"}
    assert load_settings(config, env, check_paths=False).fields.csv is False
    config.write_text("[fields]\ncsv = \"yes\"\n")
    with pytest.raises(ConfigError, match=r"fields\.csv"):
        load_settings(config, {}, check_paths=False)
    config.write_text("[fields]\nexport = true\n")
    with pytest.raises(ConfigError, match=r"fields\.export"):
        load_settings(config, {}, check_paths=False)
