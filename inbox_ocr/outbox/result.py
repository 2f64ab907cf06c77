"""The outbox's content: the ``<stem>.json`` document (schema version 1, docs/outbox.md) and
the ``<stem>.txt`` text, assembled from a document's pages. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from inbox_ocr.records import Document, PageText

SCHEMA_VERSION = 1
PAGE_SEPARATOR = "\f"


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z"
    )


def build_result(
    document: Document,
    pages: Iterable[PageText],
    *,
    engine: dict[str, str],
    corrector: str,
    started_at: float,
    finished_at: float,
    stage_seconds: dict[str, float],
    warnings: list[str],
    outputs: dict[str, str],
    fields: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``<stem>.json`` document (schema version 1, see docs/outbox.md). ``fields``: the
    key fields (``inbox_ocr.fields.extract.Fields.as_json``), ``{}`` when not given."""
    page_list = sorted(pages, key=lambda p: p.number)
    return {
        "schema_version": SCHEMA_VERSION,
        "source": {
            "name": document.path.name,
            "sha256": document.sha256,
            "size": document.size,
            "mtime": iso(document.mtime_ns / 1e9),
        },
        "document_id": document.id,
        "engine": engine,
        "corrector": corrector,
        "page_count": len(page_list),
        "pages": [
            {
                "number": page.number,
                "width": page.width,
                "height": page.height,
                "dpi": page.dpi,
                "engine": page.engine,
                "turned": page.turned,
                "raw_text": page.raw_text,
                "text": page.text,
                "words": [[w.text, w.confidence, list(w.box) if w.box else None]
                          for w in page.words],
                "timings": {k: round(v, 4) for k, v in page.timings.items()},
                "evaluation_truncated": page.evaluation_truncated,
                "correction": page.correction,
            }
            for page in page_list
        ],
        "corrections": [
            {
                "page": c.page,
                "line": c.line,
                "before": c.before,
                "after": c.after,
                "margin": c.margin,
                "reason": c.reason,
            }
            for page in page_list
            for c in page.corrections
        ],
        "fields": dict(fields) if fields is not None else {},
        "warnings": warnings,
        "timings": {k: round(v, 4) for k, v in stage_seconds.items()},
        "received_at": iso(document.received_at),
        "started_at": iso(started_at),
        "finished_at": iso(finished_at),
        "outputs": outputs,
    }


def page_warnings(pages: Iterable[PageText]) -> list[str]:
    """What a reader of these pages must know: each page's own warnings, and pages an
    unlicensed engine cut short (never presented as complete)."""
    warnings: list[str] = []
    for page in sorted(pages, key=lambda p: p.number):
        warnings += page.warnings
        if page.evaluation_truncated:
            warnings.append(f"page {page.number}: OCR engine in evaluation mode, text truncated")
    return warnings


def warning_codes(warnings: Iterable[str]) -> list[str]:
    """The codes of the page warnings (``"page 2: no_text: ..."`` -> ``no_text``), sorted and
    each once: what the canonical event carries, so a reviewer can search for them."""
    codes = set()
    for warning in warnings:
        head, _, rest = warning.partition(": ")
        code = rest.partition(":")[0]
        if head.startswith("page ") and code.isidentifier():
            codes.add(code)
    return sorted(codes)


def page_text(pages: Iterable[PageText]) -> str:
    """The ``<stem>.txt`` content: corrected text, pages separated by a form feed."""
    return PAGE_SEPARATOR.join(p.text for p in sorted(pages, key=lambda p: p.number)) + "\n"
