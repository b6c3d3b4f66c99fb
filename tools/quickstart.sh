#!/usr/bin/env bash
# Installs the base package (no torch) into .venv, renders a small FractalDB dataset
# (2,000 images of 100 classes at 256x256), verifies it and writes a contact sheet.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e .
.venv/bin/synthgen render fractaldb --n 2000 --size 256 --param num_classes=100 --out out/fractaldb
.venv/bin/synthgen verify out/fractaldb
.venv/bin/synthgen preview out/fractaldb --count 100 --out out/fractaldb-preview.png
echo "done: shards in out/fractaldb, contact sheet out/fractaldb-preview.png"
