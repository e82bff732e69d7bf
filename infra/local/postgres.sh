#!/usr/bin/env bash
# Start, stop or report a PostgreSQL server from the operating system's
# packages on 127.0.0.1:5432, with a database and role named heals.
#
# Usage: postgres.sh up | down | status
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PG_PORT="${HEALS_POSTGRES_PORT:-5432}"
STATE="$HEALS_STATE_DIR/postgres"
DATA="$STATE/data"
LOG="$STATE/postgres.log"

find_bin() {
    # Debian keeps the server binaries out of PATH, under /usr/lib/postgresql/<major>/bin.
    local candidate
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x "$candidate/pg_ctl" ]] && { echo "$candidate"; return 0; }
    done
    command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return 0; }
    fail "PostgreSQL server not found: install it (Debian: apt-get install postgresql)"
}

BIN="$(find_bin)"

as_owner() {
    # initdb and postgres refuse to run as root, so root runs them as the postgres user.
    if [[ "$(id -u)" == 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

init_cluster() {
    [[ -f "$DATA/PG_VERSION" ]] && return 0
    mkdir -p "$DATA"
    [[ "$(id -u)" == 0 ]] && chown -R postgres:postgres "$STATE"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$STATE/initdb.log" 2>&1 \
        || fail "initdb failed; see $STATE/initdb.log"
}

create_database() {
    local psql=("$BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qtA)
    if [[ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_roles WHERE rolname = 'heals'")" ]]; then
        "${psql[@]}" -c "CREATE ROLE heals LOGIN SUPERUSER" >/dev/null
    fi
    if [[ -z "$("${psql[@]}" -c "SELECT 1 FROM pg_database WHERE datname = 'heals'")" ]]; then
        "${psql[@]}" -c "CREATE DATABASE heals OWNER heals" >/dev/null
    fi
}

is_ours_running() {
    as_owner "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

up() {
    if [[ -f "$DATA/PG_VERSION" ]] && is_ours_running; then
        echo "postgres: already running on 127.0.0.1:$PG_PORT"
        return 0
    fi
    port_open "$PG_PORT" && fail "127.0.0.1:$PG_PORT is in use by another process; stop it or set HEALS_DATABASE_URL to use it"
    init_cluster
    mkdir -p "$STATE/socket"
    [[ "$(id -u)" == 0 ]] && chown -R postgres:postgres "$STATE"
    as_owner "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 \
        -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $STATE/socket -c max_connections=200 -c fsync=on" \
        start >/dev/null || fail "PostgreSQL did not start; see $LOG"
    create_database
    echo "postgres: up on 127.0.0.1:$PG_PORT, database heals (log $LOG)"
}

down() {
    if [[ -f "$DATA/PG_VERSION" ]] && is_ours_running; then
        as_owner "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        echo "postgres: stopped"
    else
        echo "postgres: not started by heals, nothing to stop"
    fi
}

status() {
    if [[ -f "$DATA/PG_VERSION" ]] && is_ours_running && port_open "$PG_PORT"; then
        echo "postgres: up on 127.0.0.1:$PG_PORT, data $DATA, log $LOG"
    else
        echo "postgres: down (log $LOG)"
        return 1
    fi
}

case "${1:-}" in
    up) up ;;
    down) down ;;
    status) status ;;
    *) fail "usage: $0 up | down | status" ;;
esac
