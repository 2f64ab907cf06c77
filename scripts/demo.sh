#!/usr/bin/env bash
# Command 1 of the README: set up, then run the daemon once over the shipped samples
# (plus a deliberately broken file) and print what lands in the outbox.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"

work=${INBOX_OCR_DEMO_DIR:-$root/demo}
# The daemon reads INBOX_OCR_<SECTION>_<KEY> as config overrides: do not hand it the scripts' own.
unset INBOX_OCR_DEMO_DIR INBOX_OCR_VENV INBOX_OCR_EXTRAS
rm -rf "$work"
mkdir -p "$work/inbox"
cp "$root"/samples/*.png "$root"/samples/*.jpg "$root"/samples/*.pdf "$root"/samples/*.tiff "$work/inbox/"
printf 'this is not a PDF\n' > "$work/inbox/broken-scan.pdf"
cat > "$work/inbox-ocr.toml" <<TOML
[paths]
inbox = "inbox"
outbox = "outbox"
archive = "archive"
failed = "failed"
state = "state"
[watch]
stable_seconds = 0.5
[log]
format = "json"
TOML

echo "demo: processing $(ls "$work/inbox" | wc -l) files from $work/inbox"
"$root/.venv/bin/inbox-ocr" run --config "$work/inbox-ocr.toml" --oneshot > "$work/run.log"
echo "demo: audit events:"
"$root/.venv/bin/python" - "$work/run.log" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    if e["event"] in ("document.processed", "document.failed"):
        extra = f"pages={e['pages']} ocr={e.get('ocr_s', 0)}s" if e["event"] == "document.processed" else f"reason={e['reason']}: {e['message']}"
        print(f"  {e['event']:<20} {e['source']:<26} {extra}")
PY
for txt in "$work"/outbox/*.txt; do
  echo
  echo "===== outbox/$(basename "$txt") ====="
  sed 's/\f/\n---- next page ----\n/g' "$txt"
  "$root/.venv/bin/python" - "${txt%.txt}.json" <<'PY'
import json, sys
fields = json.load(open(sys.argv[1])).get("fields") or {}
found = [f"{k}={v['value']}{'' if v['valid'] else ' (flagged: ' + str(v['reason']) + ')'}"
         for k, v in fields.items() if v]
print("---- fields: " + ("; ".join(found) or "none found"))
PY
done
echo
echo "===== failed/ ====="
ls "$work/failed"
echo
echo "demo: outbox=$work/outbox archive=$work/archive failed=$work/failed audit=$work/state/audit.log"
