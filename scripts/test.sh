#!/usr/bin/env bash
# Command 2 of the README (and CI): set up, lint, type-check, run the whole test suite.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/setup.sh"
cd "$root"
.venv/bin/ruff check inbox_ocr tests
.venv/bin/mypy inbox_ocr
# Branch coverage of the package, subprocesses included (the figure is printed at the end).
.venv/bin/python -m pytest --cov --cov-report=term "$@"
