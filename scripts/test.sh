#!/usr/bin/env bash
# Runs every test. Installs what the tests need first: the locked virtual environment and the Debian packages
# behind the Postgres and browser tests (PostgreSQL server, Chromium). Extra arguments go to pytest, e.g.
# `bash scripts/test.sh -m "not e2e"` for the unit tier (no servers, no Dagster runs; well under a minute).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
bash scripts/system-packages.sh

# Two workers (this machine has two cores; many end-to-end tests mostly wait on servers), one test module per
# worker at a time so module-scoped servers are started once.
set +e
.venv/bin/python -m pytest -n "${PYTEST_WORKERS:-2}" --dist loadfile "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure, not a pass." >&2
  exit 1
fi
exit "$status"
