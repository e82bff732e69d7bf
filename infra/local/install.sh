#!/usr/bin/env bash
# Install what HEALS needs on a fresh Debian machine: Java, Maven, PostgreSQL
# and Redis from apt when missing, and a virtual environment in .venv with
# HEALS and its test extras. Safe to run again: it skips what is there.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$HEALS_REPO_ROOT"

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || missing+=(postgresql)
if ((${#missing[@]})); then
    [[ "$(id -u)" == 0 ]] || fail "missing ${missing[*]}: install them with apt-get (needs root)"
    echo "install: apt-get install ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The broker jars come from Maven Central once; fetching them here lets the
# services start later on a machine without registry access.
bash infra/local/kafka.sh resolve

if [[ ! -x .venv/bin/python ]]; then
    echo "install: creating .venv"
    python3 -m venv .venv
fi
if ! .venv/bin/python -c "import heals, pytest, avro" >/dev/null 2>&1 || [[ pyproject.toml -nt .venv/.installed ]]; then
    echo "install: installing HEALS and its test extras into .venv"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".[test]"
    touch .venv/.installed
fi
