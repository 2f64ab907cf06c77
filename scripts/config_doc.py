"""Regenerate docs/config.md from etc/inbox-ocr.toml (the comments) and inbox_ocr.config (the keys).

    .venv/bin/python scripts/config_doc.py > docs/config.md
"""

from __future__ import annotations

import dataclasses
import re
import typing
from pathlib import Path

from inbox_ocr.config import Settings

HEADER = """\
# Configuration reference

One TOML file (default `/etc/inbox-ocr/inbox-ocr.toml`, or `--config`, or `$INBOX_OCR_CONFIG`).
Every key is optional. Unknown sections and keys, wrong types and out-of-range values stop
start-up with exit code 2 and a message that begins with the dotted key, e.g.
`watch.stable_seconds: must be >= 0.0, got -1.0`. `inbox-ocr check-config` runs the same checks
(plus: the OCR languages are installed).

Environment overrides: `INBOX_OCR_<SECTION>_<KEY>`, e.g. `INBOX_OCR_PATHS_INBOX=/mnt/scans`,
`INBOX_OCR_LLM_ENABLED=false`. An unknown `INBOX_OCR_...` variable is an error too.

Cross-field checks: `outbox`, `archive`, `failed` and `state` are not the inbox or inside it, are
five different folders, and each is a writable directory or can be created. Relative paths are
relative to the config file's folder. Missing folders are created at start-up.

Reload: `systemctl reload inbox-ocr` (SIGHUP) re-reads the file with the same checks. A bad file
is rejected (event `config.reload_rejected` naming the key, `STATUS=reload rejected...`) and the
running config kept. Applied live, from the next document on: `paths.outbox`, `paths.archive`,
`paths.failed`, `limits.max_*`, `log.level`, `pipeline.drain_timeout`, `pipeline.dedupe`,
`retry.max_attempts`, `service.*`. Every other key
needs `systemctl restart inbox-ocr`: `paths.inbox` and `paths.state` (the watcher, the intake and
the audit log are bound to them), the queue sizes, `watch.*`, `ocr.*`, `llm.*` (the model stays
loaded), `log.format`, `log.file`, `log.journal` and `metrics.*`. The `config.reloaded` event
lists the keys it applied (`applied`) and those waiting for a restart (`needs_restart`).
"""


def main() -> None:
    text = (Path(__file__).resolve().parents[1] / "etc" / "inbox-ocr.toml").read_text()
    docs: dict[tuple[str, str], tuple[str, str]] = {}
    section, comment = "", []
    for line in text.splitlines():
        if m := re.match(r"\[(\w+)\]", line):
            section, comment = m.group(1), []
        elif line.startswith("#"):
            comment.append(line.lstrip("# ").rstrip())
        elif (m := re.match(r"(\w+)\s*=\s*(.*)", line)) and section:
            docs[(section, m.group(1))] = (m.group(2), " ".join(comment))
            comment = []
        elif not line.strip():
            comment = []
    print(HEADER)
    hints = typing.get_type_hints(Settings)
    for field in dataclasses.fields(Settings):
        if field.name == "source":
            continue
        print(f"## [{field.name}]\n\n| key | default | meaning |\n| --- | --- | --- |")
        for key in dataclasses.fields(hints[field.name]):
            default, doc = docs[(field.name, key.name)]
            print(f"| `{key.name}` | `{default}` | {doc} |")
        print()


if __name__ == "__main__":
    main()
