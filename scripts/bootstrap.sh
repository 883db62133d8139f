#!/usr/bin/env bash
# Creates (or refreshes) the project's virtual environment from uv.lock. Safe to run again: uv only installs what
# changed. Needs nothing but Python 3.11; uv itself is installed into .tools/ at a pinned version.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

UV_VERSION="0.13.8"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

if [ ! -x .tools/bin/uv ] || [ "$(.tools/bin/uv --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  echo "bootstrap: installing uv $UV_VERSION into .tools/" >&2
  "$PYTHON" -m venv .tools
  .tools/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi

# --frozen: install exactly what uv.lock pins; never re-resolve on a user's machine.
.tools/bin/uv sync --frozen --python "$PYTHON" --quiet --compile-bytecode
