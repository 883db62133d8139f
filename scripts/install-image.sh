#!/usr/bin/env bash
# Installs the code location into APP_DIR/.venv for the container image (the Dockerfile's only build step):
# the locked runtime dependencies from uv.lock (no dev group), dagster-k8s among them, and the project itself
# as a regular (non-editable) package, with bytecode compiled so run pods start faster.
#
#   bash scripts/install-image.sh APP_DIR [--user NAME]
#
# APP_DIR holds what the Dockerfile copies: pyproject.toml, uv.lock, README.md, genesys_assets/ and this
# script. --user NAME also creates that non-root user (uid 10001) and gives it nothing but read access.
# Uses `uv` from $UV, else from PATH, else installs the pinned uv into a throwaway folder first.
# COMPILE_BYTECODE=0 skips compiling (the test suite does, to stay fast).
set -euo pipefail

APP_DIR="${1:?usage: install-image.sh APP_DIR [--user NAME]}"
USER_NAME=""
if [ "${2:-}" = "--user" ]; then USER_NAME="${3:?--user needs a name}"; fi
UV_VERSION="0.13.8"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
cd "$APP_DIR"

UV_BIN="${UV:-$(command -v uv || true)}"
TOOLS=""
if [ -z "$UV_BIN" ]; then
  TOOLS="$(mktemp -d)"
  "$PYTHON" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  UV_BIN="$TOOLS/bin/uv"
fi

compile=(--compile-bytecode)
[ "${COMPILE_BYTECODE:-1}" = "0" ] && compile=()
# --frozen: exactly uv.lock; --no-dev: no test tools; --no-editable: the project is copied into the venv.
UV_PYTHON_DOWNLOADS=never "$UV_BIN" sync --frozen --no-dev --no-editable --python "$PYTHON" --quiet "${compile[@]}"
"$APP_DIR/.venv/bin/python" -c "import dagster_k8s, genesys_assets" # fail the build, not the first pod

[ -n "$TOOLS" ] && rm -rf "$TOOLS"
if [ -n "$USER_NAME" ]; then
  useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin "$USER_NAME"
  chmod -R a+rX,go-w "$APP_DIR"
fi
