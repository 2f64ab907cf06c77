#!/usr/bin/env bash
# A minimal Debian 12 root in which a real systemd boots (systemd-nspawn), for the tests of
# tests/systemd/. Built once per machine and cached, keyed by its package list; prints its path.
#   scripts/systemd-root.sh            build (or reuse) the root, print its path
#   scripts/systemd-root.sh --check    exit 0 when this machine can build and boot one, else
#                                      print what is missing and exit 1
# Needs root, debootstrap and systemd-nspawn (scripts/setup.sh installs them when run as root).
set -euo pipefail

# What the service needs at run time and what scripts/setup.sh checks for, plus systemd itself,
# procps (/bin/kill for ExecReload) and ca-certificates (pip reaches PyPI over HTTPS).
packages=(systemd systemd-sysv dbus procps ca-certificates python3 python3-venv python3-dev
  gcc g++ pkg-config libsystemd-dev tesseract-ocr tesseract-ocr-eng poppler-utils libgl1
  libglib2.0-0 libgomp1)
cache=${INBOX_OCR_SYSTEMD_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/inbox-ocr/systemd-root}
key=$(printf '%s\n' bookworm "${packages[@]}" | sha256sum | cut -c1-16)
root=$cache/bookworm-$key

missing=()
[[ $(id -u) -eq 0 ]] || missing+=("root (run as root)")
command -v debootstrap >/dev/null || missing+=("debootstrap (apt-get install debootstrap)")
command -v systemd-nspawn >/dev/null || missing+=("systemd-nspawn (apt-get install systemd-container)")
if [[ ${1:-} == --check ]]; then
  if ((${#missing[@]})); then printf 'missing: %s\n' "${missing[*]}"; exit 1; fi
  exit 0
fi
if ((${#missing[@]})); then
  echo "systemd-root: missing: ${missing[*]}" >&2
  exit 1
fi

if [[ ! -f $root/.complete ]]; then
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
  mirror=${mirror:-http://deb.debian.org/debian}
  rm -rf "$root.tmp"
  mkdir -p "$cache"
  echo "systemd-root: debootstrap bookworm into $root (once per machine)" >&2
  include=$(IFS=,; echo "${packages[*]}")
  debootstrap --variant=minbase --include="$include" bookworm "$root.tmp" "$mirror" >&2
  # A test user that drops files into the inbox, as a scanner would (its group comes from the
  # project's sysusers.d snippet, installed by the tests).
  chroot "$root.tmp" useradd --create-home --shell /bin/sh scanner
  rm -rf "$root" && mv "$root.tmp" "$root"
  touch "$root/.complete"
fi
echo "$root"
