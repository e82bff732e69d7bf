# Helpers shared by the local service scripts. Sourced, not run.
#
# Every script keeps its data, log and pid file under $HEALS_STATE_DIR/<service>,
# so `down` stops only processes that `up` started and `status` can print
# where the logs are.

set -euo pipefail

HEALS_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
HEALS_STATE_DIR="${HEALS_STATE_DIR:-$HEALS_REPO_ROOT/.heals}"
HEALS_CACHE_DIR="${HEALS_CACHE_DIR:-$HOME/.cache/heals}"

fail() {
    echo "error: $*" >&2
    exit 1
}

require_command() {
    # require_command COMMAND WHAT-TO-INSTALL
    command -v "$1" >/dev/null 2>&1 || fail "$1 not found: install $2"
}

pid_alive() {
    # pid_alive PIDFILE: true when the file names a running process.
    [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

port_open() {
    # port_open PORT: true when something accepts TCP connections on 127.0.0.1:PORT.
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_for_port() {
    # wait_for_port PORT SECONDS NAME LOGFILE
    local port="$1" seconds="$2" name="$3" log="$4"
    for ((i = 0; i < seconds * 4; i++)); do
        port_open "$port" && return 0
        sleep 0.25
    done
    echo "error: $name did not accept connections on 127.0.0.1:$port within ${seconds}s; last lines of $log:" >&2
    tail -n 20 "$log" >&2 || true
    exit 1
}

stop_pidfile() {
    # stop_pidfile PIDFILE NAME: SIGTERM, wait up to 30 s, then SIGKILL.
    local pidfile="$1" name="$2"
    if ! pid_alive "$pidfile"; then
        rm -f "$pidfile"
        echo "$name: not started by heals, nothing to stop"
        return 0
    fi
    local pid
    pid="$(cat "$pidfile")"
    kill "$pid"
    for ((i = 0; i < 120; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.25
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    rm -f "$pidfile"
    echo "$name: stopped"
}
