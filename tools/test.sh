#!/usr/bin/env bash
# Installs everything the tests need and runs the test suite (extra arguments go to pytest).
#  - Debian packages for headless OpenGL through Mesa llvmpipe (EGL, no X server), when root;
#  - .venv with the package and its [train,dev] extras (torch, timm, ...);
#  - pytest over tests/ (fast tests; add `-m slow` or `-m ''` for the slow ones).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        libegl1 libgl1 libgl1-mesa-dri >/dev/null
else
    echo "not root: skipping apt-get; shader tests need libegl1 libgl1 libgl1-mesa-dri" >&2
fi
# The [train] extras take about 6.1 GiB in .venv (torch 2.14.1 is a CUDA build, with its NVIDIA
# libraries); say so up front rather than fail half-way through pip with ENOSPC.
need_mib=6300
if ! compgen -G '.venv/lib/python3*/site-packages/torch' >/dev/null; then
    read -r free_kib mount < <(df -Pk . | awk 'NR == 2 {print $4, $6}')
    if [ "$free_kib" -lt $((need_mib * 1024)) ]; then
        echo "tools/test.sh: installing the [train,dev] extras needs about $need_mib MiB free here;" \
             "$((free_kib / 1024)) MiB free on $mount" >&2
        exit 1
    fi
fi
python3 -m venv .venv
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e '.[train,dev]'
# The HEAR 2021 validator, without its declared tensorflow dependency (tests/finetune/test_hear.py).
.venv/bin/pip install --quiet --no-deps 'hearvalidator==2021.0.2'
set +e
.venv/bin/python -m pytest "$@"
status=$?
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests: failing" >&2
    exit 1
fi
exit "$status"
