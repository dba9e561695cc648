# shellcheck shell=bash
# scripts/lib.sh - helpers shared by bootstrap.sh, stack.sh and tests/run.sh. Sourced, not run.
#
# Everything here is a function or a variable with an SL_ prefix; sourcing it changes nothing else.

# The checkout this file belongs to, whatever the caller's working directory.
SL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Pinned broker version. Debian's librdkafka 2.0.2 joins groups with JoinGroup v0, which Kafka
# 4.0.0 dropped (KIP-896); the 3.9 line still accepts it (issue 2), so pin 3.9.1.
SL_KAFKA_VERSION=3.9.1
SL_CACHE_DIR="${SL_CACHE_DIR:-${HOME:-/root}/.cache/snaplake}"
SL_KAFKA_LIBS="$SL_CACHE_DIR/kafka-$SL_KAFKA_VERSION/libs"
SL_VENV="$SL_ROOT/.venv"

sl_say() { printf '%s\n' "$*"; }
sl_warn() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
sl_die() {
    printf '%s: error: %s\n' "${0##*/}" "$*" >&2
    exit 1
}

# sl_now_ms: wall clock in milliseconds, for step timings.
sl_now_ms() { date +%s%3N; }

# sl_pid_alive PID [MARKER]: true when PID runs and, if MARKER is given, its command line contains
# MARKER. The marker guards against a pid file that outlived its process and a recycled pid now
# belonging to someone else's program: we must never signal that one.
sl_pid_alive() {
    local pid="$1" marker="${2:-}" cmdline
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ -z "$marker" ]] && return 0
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    [[ "$cmdline" == *"$marker"* ]]
}

# sl_stop_pid PID MARKER NAME [GRACE_S]: SIGTERM one process we started, wait for it to exit,
# SIGKILL it after GRACE_S seconds (default 30). Only ever the given pid, never a name match.
sl_stop_pid() {
    local pid="$1" marker="$2" name="$3" grace="${4:-30}" i
    sl_pid_alive "$pid" "$marker" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < grace * 10; i++)); do
        sl_pid_alive "$pid" "$marker" || return 0
        sleep 0.1
    done
    sl_warn "$name (pid $pid) did not exit in ${grace}s after SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        sl_pid_alive "$pid" "$marker" || return 0
        sleep 0.1
    done
    sl_warn "$name (pid $pid) is still running"
    return 1
}
