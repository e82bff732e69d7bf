#!/usr/bin/env bash
# Run the whole test suite against the services that `heals infra up` started.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
