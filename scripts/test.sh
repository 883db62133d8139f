#!/usr/bin/env bash
# Runs every test. Installs what the tests need first: the locked virtual environment and the Debian packages
# behind the Postgres and browser tests (PostgreSQL server, Chromium). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/bootstrap.sh
bash scripts/system-packages.sh

set +e
.venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "test.sh: pytest collected no tests; that is a failure, not a pass." >&2
  exit 1
fi
exit "$status"
