#!/usr/bin/env bash
# Start, stop or report a Redis server from the operating system's packages
# on 127.0.0.1:6379.
#
# Usage: redis.sh up | down | status
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

REDIS_PORT="${HEALS_REDIS_PORT:-6379}"
STATE="$HEALS_STATE_DIR/redis"
PIDFILE="$STATE/redis.pid"
LOG="$STATE/redis.log"

up() {
    if pid_alive "$PIDFILE"; then
        echo "redis: already running (pid $(cat "$PIDFILE")) on 127.0.0.1:$REDIS_PORT"
        return 0
    fi
    port_open "$REDIS_PORT" && fail "127.0.0.1:$REDIS_PORT is in use by another process; stop it or set HEALS_REDIS_URL to use it"
    require_command redis-server "Redis (Debian: apt-get install redis-server)"
    mkdir -p "$STATE"
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$STATE" --daemonize yes \
        --pidfile "$PIDFILE" --logfile "$LOG" --save "" --appendonly no >/dev/null
    wait_for_port "$REDIS_PORT" 30 redis "$LOG"
    for ((i = 0; i < 40; i++)); do [[ -f "$PIDFILE" ]] && break; sleep 0.25; done
    echo "redis: up on 127.0.0.1:$REDIS_PORT (log $LOG)"
}

status() {
    if pid_alive "$PIDFILE" && port_open "$REDIS_PORT"; then
        echo "redis: up on 127.0.0.1:$REDIS_PORT, pid $(cat "$PIDFILE"), log $LOG"
    else
        echo "redis: down (log $LOG)"
        return 1
    fi
}

case "${1:-}" in
    up) up ;;
    down) stop_pidfile "$PIDFILE" redis ;;
    status) status ;;
    *) fail "usage: $0 up | down | status" ;;
esac
