#!/usr/bin/env bash
# Run the whole test suite: install what is missing, start Kafka, PostgreSQL
# and Redis when they are not running, create the topics, then run pytest
# with any arguments given (for example tests/unit, or -k merge).
set -euo pipefail
cd "$(dirname "$0")/.."

bash infra/local/install.sh
.venv/bin/heals infra up
.venv/bin/heals topics apply

exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
