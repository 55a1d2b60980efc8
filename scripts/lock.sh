#!/usr/bin/env bash
# Refreshes the lock files that scripts/install.sh installs from (requirements/*.txt: every package pinned,
# with the SHA-256 of each of its files) from pyproject.toml. Run it after changing a dependency:
#   bash scripts/lock.sh             # keeps every locked version that still fits pyproject.toml
#   bash scripts/lock.sh --upgrade   # moves everything to the newest versions pyproject.toml allows
# Needs uv (.venv/bin/python -m pip install uv). Locked for CPython 3.11 on Linux x86-64 (CI's platform).
#
# Left out of the locks: llama-cpp-python, which install.sh builds from source into a wheel cache (its own
# dependencies are locked). torch is locked as its CPU build (torch==2.13.0+cpu), found on PyTorch's CPU
# wheel page or where CAUSERIE_TORCH_WHEELS (else pip's PIP_FIND_LINKS) points.
set -euo pipefail
cd "$(dirname "$0")/.."

UV="${UV:-$(command -v uv || echo "$PWD/.venv/bin/uv")}"
[ -x "$UV" ] || { echo "uv not found: .venv/bin/python -m pip install uv" >&2; exit 1; }
torch_wheels=()
for link in ${CAUSERIE_TORCH_WHEELS:-${PIP_FIND_LINKS:-https://download.pytorch.org/whl/cpu/torch/}}; do
  torch_wheels+=(--find-links "$link")
done
upgrade=()
[ "${1:-}" = "--upgrade" ] && upgrade=(--upgrade)

lock() {  # lock OUTPUT [--extra NAME]...: pyproject.toml's dependencies (and those extras) into OUTPUT
  local output=$1
  shift
  "$UV" pip compile pyproject.toml "$@" --quiet --generate-hashes --python-version 3.11 \
    --python-platform x86_64-manylinux_2_28 --no-emit-package llama-cpp-python \
    --constraint requirements/torch-cpu.in "${torch_wheels[@]}" \
    --custom-compile-command "bash scripts/lock.sh" "${upgrade[@]}" --output-file "$output"
}

# The test lock holds everything; the others are resolved within it, so every lock pins the same versions.
lock requirements/test.txt --extra test
upgrade=()
for extra in eval localize; do
  lock "requirements/$extra.txt" --extra "$extra" --constraint requirements/test.txt
done
lock requirements/base.txt --constraint requirements/test.txt
echo "requirements/{base,eval,localize,test}.txt written" >&2
