#!/bin/sh
# Install what the browser tests (tests/web) need: Debian's Chromium and the Python
# `playwright` package in the project's venv. Playwright's own browser download is never used
# (`playwright install` is not run); the tests drive /usr/bin/chromium.
# Run as root (or with sudo available) from anywhere: scripts/install-browser.sh
set -eu

ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd)
VENV_PY="${IMGHOST_VENV_PYTHON:-$ROOT/.venv/bin/python}"

if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -eq 0 ]; then
        SUDO=""
    else
        SUDO="sudo"
    fi
    echo "installing chromium from the Debian archive" >&2
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends chromium
else
    echo "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)" >&2
fi

if ! "$VENV_PY" -c "import playwright" 2>/dev/null; then
    echo "installing the playwright Python package into $VENV_PY" >&2
    "$VENV_PY" -m pip install -q playwright
else
    echo "playwright already installed in the venv" >&2
fi
