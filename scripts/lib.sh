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

# The Kubernetes manifests' validator (deploy/validate.sh, k8s-kubeconform) and its schemas,
# laid out by scripts/bootstrap.sh once into SL_K8S_TOOLS: kubeconform built from its Go
# module; the Kubernetes API schemas of the kubernetes-validate wheel (PyPI) for
# SL_K8S_VERSIONS; the CRDs of KEDA and the Prometheus Operator from their Go modules; the
# Compose Specification's JSON schema from compose-go (what `docker compose` parses with).
SL_KUBECONFORM_VERSION=v0.7.0
SL_KEDA_VERSION=v2.16.1
SL_PROM_OPERATOR_VERSION=v0.85.0
SL_K8S_VALIDATE_VERSION=1.37.0
SL_COMPOSE_GO_VERSION=v2.16.2
# promql-parser (PyPI: a port of Prometheus's own PromQL parser) parses the alert and dashboard
# expressions; installed into SL_K8S_TOOLS/py, not the project venv.
SL_PROMQL_PARSER_VERSION=0.11.0
SL_K8S_VERSIONS=1.29.0,1.33.0
SL_K8S_TOOLS="$SL_CACHE_DIR/k8s-tools-kubeconform-$SL_KUBECONFORM_VERSION-keda-$SL_KEDA_VERSION-promop-$SL_PROM_OPERATOR_VERSION-kv-$SL_K8S_VALIDATE_VERSION-compose-$SL_COMPOSE_GO_VERSION-promql-$SL_PROMQL_PARSER_VERSION"

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
