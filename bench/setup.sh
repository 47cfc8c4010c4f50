#!/usr/bin/env bash
# What the benchmark needs on a fresh Debian machine, beside the project's own venv.
set -euo pipefail
if ! command -v wrk >/dev/null; then
    apt-get update -q && apt-get install -y -q wrk
fi
