#!/usr/bin/env bash
# Installs everything the platform and its tests need, idempotently and quickly when done:
# Debian packages (as root), then a virtualenv in .venv with the project and its dev tools.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do command -v "$cand" >/dev/null 2>&1 && { PY=$cand; break; }; done
fi

# command:package pairs; fonts are checked separately.
wanted=(mvn:maven java:openjdk-17-jre-headless restic:restic tshark:tshark chromium:chromium
        pdftotext:poppler-utils ssh-keygen:openssh-client sshd:openssh-server fc-list:fontconfig)
missing=()
for pair in "${wanted[@]}"; do
  cmd=${pair%%:*}; pkg=${pair#*:}
  if ! command -v "$cmd" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$cmd" ]; then missing+=("$pkg"); fi
done
if ! (command -v fc-list >/dev/null 2>&1 && fc-list 2>/dev/null | grep -i 'CJK' >/dev/null); then missing+=(fonts-noto-cjk); fi
# pg_dump backups are tested against a throwaway PostgreSQL cluster (initdb is not on PATH).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then missing+=(postgresql); fi
# WeasyPrint (compliance PDF reports) loads pango through ctypes: no command to look for.
if ! (ldconfig -p 2>/dev/null | grep 'libpangoft2-1.0.so.0' >/dev/null); then missing+=(libpango-1.0-0 libpangoft2-1.0-0); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "bootstrap: installing Debian packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing packages (${missing[*]}); install them with your package manager (needs root)." >&2
  fi
fi

stamp=".venv/.bootstrap-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
  rm -f .venv/.bootstrap-*
  touch "$stamp"
fi
