#!/usr/bin/env bash
# What the benchmark needs on a fresh Debian machine, beside the project's own venv:
# wrk and nginx from Debian's packages, matplotlib (the chart) from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
if ((${#missing[@]})); then
    apt-get update -q && apt-get install -y -q "${missing[@]}"
fi
python3 -m venv .venv && .venv/bin/pip install -q -e '.[test,bench]'
