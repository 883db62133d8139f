#!/usr/bin/env bash
# Runs the demo: the sandbox Genesys org, a local S3 (moto on 127.0.0.1) and the Dagster UI with the last days
# already materialized. `bash scripts/demo.sh --headless` materializes, prints the S3 objects and figures, and exits.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python -m genesys_assets.demo "$@"
