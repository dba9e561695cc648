#!/usr/bin/env bash
# scripts/stack.sh start|stop|status|env|clean - the local services the integration tests use.
#
# All on loopback, all state under .stack/ in this checkout (gitignored):
#   Kafka 3.9.1 (KRaft, one node)  SL_KAFKA_PORT (19092), controller SL_KAFKA_CONTROLLER_PORT (19093)
#   PostgreSQL 15 (initdb cluster) SL_PG_PORT (15432), user/database snaplake, trust on 127.0.0.1
#   moto server, auth checking ON  SL_MOTO_PORT (15000) after tests/aws_setup.py's setup calls
#   moto server, auth checking OFF SL_MOTO_NOAUTH_PORT (15002); SL_MOTO_NOAUTH=0 skips it. moto's
#                                  signature check rejects valid signatures for S3 keys with '+',
#                                  '%' or non-ASCII characters, so those tests run against this one
#   AWS stand-in over moto         SL_STANDIN_PORT (15001), when tests/standin/standin.py exists
#
# start   starts whatever is not already up (pid file + readiness probe), waits until each one
#         really answers, then writes .stack/env. Running it again is a no-op.
# stop    stops only the processes this script started, by their recorded pids, and waits.
# status  one line per service; exit 0 when all are up, 3 otherwise.
# env     prints .stack/env (source it: `. .stack/env`, or `eval "$(scripts/stack.sh env)"`).
# clean   stop, then delete .stack/ (Kafka topics, the PostgreSQL cluster, keys, logs).
#
# Logs: .stack/logs/<service>.log. Pids: .stack/pids/<service>.pid. Needs scripts/bootstrap.sh.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STACK="${SL_STACK_DIR:-$SL_ROOT/.stack}"
KAFKA_PORT="${SL_KAFKA_PORT:-19092}"
KAFKA_CONTROLLER_PORT="${SL_KAFKA_CONTROLLER_PORT:-19093}"
PG_PORT="${SL_PG_PORT:-15432}"
MOTO_PORT="${SL_MOTO_PORT:-15000}"
STANDIN_PORT="${SL_STANDIN_PORT:-15001}"
MOTO_NOAUTH_PORT="${SL_MOTO_NOAUTH_PORT:-15002}"
MOTO_NOAUTH="${SL_MOTO_NOAUTH:-1}"
REGION=us-east-1
PG_BIN=/usr/lib/postgresql/15/bin
PY="$SL_VENV/bin/python"
STANDIN_PY="$SL_ROOT/tests/standin/standin.py"
LOGS="$STACK/logs"
PIDS="$STACK/pids"
START_TIMEOUT="${SL_STACK_START_TIMEOUT:-120}"
MOTO_RESTARTED=0

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
pidfile() { printf '%s/%s.pid' "$PIDS" "$1"; }
readpid() { cat "$(pidfile "$1")" 2>/dev/null || true; }

# port_busy PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# spawn NAME LOG CMD...: run CMD detached in its own session (so a Ctrl-C aimed at `make test`
# does not reach the services), stdin from /dev/null, output to LOG, without fd 9 (the start/stop
# lock: a service holding it would block every later start). The child writes its own pid before
# exec'ing, so the pid file names the service itself and not a wrapper.
spawn() {
    local name="$1" log="$2"
    shift 2
    rm -f "$(pidfile "$name")"
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$(pidfile "$name")" "$@" \
        </dev/null >>"$log" 2>&1 9>&- &
    local i
    for ((i = 0; i < 50; i++)); do
        [[ -s "$(pidfile "$name")" ]] && return 0
        sleep 0.1
    done
    sl_die "$name did not start (see $log)"
}

# wait_ready NAME MARKER LOG PROBE...: poll PROBE until it succeeds; fail early if the process
# died, and show the end of its log either way.
wait_ready() {
    local name="$1" marker="$2" log="$3"
    shift 3
    local deadline=$((SECONDS + START_TIMEOUT))
    while ((SECONDS < deadline)); do
        if ! sl_pid_alive "$(readpid "$name")" "$marker"; then
            tail -n 30 "$log" >&2 || true
            sl_die "$name exited during start (log: $log)"
        fi
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    tail -n 30 "$log" >&2 || true
    sl_die "$name did not answer within ${START_TIMEOUT}s (log: $log)"
}

http_ok() { "$PY" -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=2)' "$1"; }

need_venv() {
    [[ -x "$PY" ]] || sl_die "no venv at $SL_VENV: run scripts/bootstrap.sh (or make bootstrap)"
}

ensure_port_free() {
    local name="$1" port="$2"
    if port_busy "$port"; then
        sl_die "$name: port $port is taken by a process this stack did not start (set the" \
            "SL_*_PORT variables to free ports, see scripts/stack.sh)"
    fi
}

# ---------------------------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------------------------
# The server refuses to run as root, and CI runs as root: then the cluster belongs to the
# unprivileged `postgres` user (Debian's package creates it) and every pg command runs through
# runuser. That user must reach the data directory; a checkout under /root (mode 700) is out of
# its reach, and a long checkout path would overflow the 107-byte Unix socket path, so in those
# cases the cluster lives in a private /tmp directory and .stack/pg is a symlink to it.
PG_AS=()
if [[ "$(id -u)" -eq 0 ]]; then
    PG_AS=(runuser -u "${SL_PG_OSUSER:-postgres}" --)
fi

pg_root() {
    if [[ -L "$STACK/pg" ]]; then
        readlink -f "$STACK/pg"
    else
        printf '%s' "$STACK/pg"
    fi
}

pg_prepare_root() {
    [[ -e "$STACK/pg" ]] && return 0
    local root="$STACK/pg"
    if ((${#PG_AS[@]})); then
        if ! "${PG_AS[@]}" test -x "$STACK" 2>/dev/null || ((${#root} > 80)); then
            root="$(mktemp -d "${TMPDIR:-/tmp}/snaplake-pg.XXXXXX")"
            ln -s "$root" "$STACK/pg"
        else
            mkdir -p "$root"
        fi
        chown "${SL_PG_OSUSER:-postgres}:" "$root"
    else
        mkdir -p "$root"
    fi
    chmod 700 "$root"
}

pg_up() {
    local root
    root="$(pg_root)"
    sl_pid_alive "$(readpid postgres)" "$root/data" &&
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U snaplake -d postgres
}

pg_start() {
    if pg_up; then
        sl_say "postgres: already up on 127.0.0.1:$PG_PORT"
        return 0
    fi
    [[ -x "$PG_BIN/initdb" ]] || sl_die "PostgreSQL 15 server missing: run scripts/bootstrap.sh"
    ensure_port_free postgres "$PG_PORT"
    pg_prepare_root
    local root
    root="$(pg_root)"
    if [[ ! -f "$root/data/PG_VERSION" ]]; then
        # -U snaplake: the bootstrap superuser is the role the tests connect as.
        if ! "${PG_AS[@]}" "$PG_BIN/initdb" -D "$root/data" -U snaplake -A trust -E UTF8 \
            --no-locale >"$root/initdb.log" 2>&1; then
            cat "$root/initdb.log" >&2
            sl_die "initdb failed"
        fi
        # Trust, but only over the socket and 127.0.0.1; nothing listens anywhere else.
        printf '%s\n' 'local all all trust' 'host all all 127.0.0.1/32 trust' \
            >"$root/data/pg_hba.conf"
    fi
    "${PG_AS[@]}" mkdir -p "$root/sock"
    ln -sfn "$root/postgres.log" "$LOGS/postgres.log"
    # A throwaway cluster: fsync off makes the migrations and lock tests fast, and nothing here
    # must survive a machine crash.
    local opts="-p $PG_PORT -k '$root/sock' -c listen_addresses=127.0.0.1 -c fsync=off"
    opts+=" -c synchronous_commit=off -c full_page_writes=off"
    if ! setsid -w "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$root/data" -l "$root/postgres.log" -w \
        -t "$START_TIMEOUT" -o "$opts" start </dev/null >"$LOGS/pg_ctl.log" 2>&1 9>&-; then
        cat "$LOGS/pg_ctl.log" >&2
        tail -n 30 "$root/postgres.log" >&2 || true
        sl_die "postgres did not start"
    fi
    head -n 1 "$root/data/postmaster.pid" >"$(pidfile postgres)"
    local i
    for ((i = 0; i < 100; i++)); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -U snaplake -d postgres && break
        sleep 0.2
    done
    if ! "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U snaplake -d postgres -tAqc \
        "SELECT 1 FROM pg_database WHERE datname = 'snaplake'" | grep -q 1; then
        "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U snaplake snaplake
    fi
    pg_up || sl_die "postgres started but does not answer (log: $LOGS/postgres.log)"
    sl_say "postgres: up on 127.0.0.1:$PG_PORT (pid $(readpid postgres))"
}

pg_stop() {
    local root pid
    root="$(pg_root)"
    pid="$(readpid postgres)"
    if sl_pid_alive "$pid" "$root/data"; then
        # pg_ctl signals the postmaster named in the data directory's postmaster.pid: ours.
        "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$root/data" -m fast -w -t 60 stop >/dev/null 2>&1 ||
            sl_stop_pid "$pid" "$root/data" postgres 30
        sl_say "postgres: stopped"
    fi
    rm -f "$(pidfile postgres)"
}

# ---------------------------------------------------------------------------------------------
# Kafka (KRaft, single node acting as broker and controller)
# ---------------------------------------------------------------------------------------------
KAFKA_DIR="$STACK/kafka"
KAFKA_MARKER="kafka.Kafka $KAFKA_DIR/server.properties"

kafka_probe() {
    "$PY" - "127.0.0.1:$KAFKA_PORT" 2>/dev/null <<'EOF'
import sys
from confluent_kafka.admin import AdminClient
# A metadata request that names at least one broker: the listener answers the Kafka protocol.
md = AdminClient({"bootstrap.servers": sys.argv[1], "socket.timeout.ms": 2000}).list_topics(timeout=2)
sys.exit(0 if md.brokers else 1)
EOF
}

kafka_up() { sl_pid_alive "$(readpid kafka)" "$KAFKA_MARKER" && kafka_probe; }

kafka_write_config() {
    mkdir -p "$KAFKA_DIR" "$STACK/kafka-data"
    cat >"$KAFKA_DIR/server.properties" <<EOF
# written by scripts/stack.sh
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT,CONTROLLER://127.0.0.1:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://127.0.0.1:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$STACK/kafka-data
num.partitions=3
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
# Tests SIGSTOP the broker for a few seconds (a broker that stops answering). With the default
# 9 s, its own controller fenced it on SIGCONT, and reloading every group's offsets then kept
# consumers from rejoining for about a minute on a loaded machine.
broker.session.timeout.ms=120000
EOF
    cat >"$KAFKA_DIR/log4j.properties" <<'EOF'
# written by scripts/stack.sh: the broker's slf4j -> reload4j output, to stdout (the log file)
log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.state.change.logger=WARN
log4j.logger.org.apache.kafka.clients=WARN
EOF
    cat >"$KAFKA_DIR/tools-log4j.properties" <<'EOF'
log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
EOF
}

kafka_start() {
    if kafka_up; then
        sl_say "kafka: already up on 127.0.0.1:$KAFKA_PORT"
        return 0
    fi
    [[ -f "$SL_KAFKA_LIBS/.complete" ]] || sl_die "no Kafka jars in $SL_KAFKA_LIBS: run scripts/bootstrap.sh"
    command -v java >/dev/null 2>&1 || sl_die "no java: run scripts/bootstrap.sh"
    ensure_port_free kafka "$KAFKA_PORT"
    ensure_port_free kafka-controller "$KAFKA_CONTROLLER_PORT"
    kafka_write_config
    local cp="$SL_KAFKA_LIBS/*"
    if [[ ! -f "$STACK/kafka-data/meta.properties" ]]; then
        # KRaft log dirs must be formatted with a cluster id before the first start.
        local cid
        [[ -s "$KAFKA_DIR/cluster-id" ]] ||
            java -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" -cp "$cp" \
                kafka.tools.StorageTool random-uuid >"$KAFKA_DIR/cluster-id"
        cid="$(tr -d '[:space:]' <"$KAFKA_DIR/cluster-id")"
        java -Dlog4j.configuration="file:$KAFKA_DIR/tools-log4j.properties" -cp "$cp" \
            kafka.tools.StorageTool format -t "$cid" -c "$KAFKA_DIR/server.properties" \
            --ignore-formatted >>"$LOGS/kafka-format.log" 2>&1 ||
            {
                cat "$LOGS/kafka-format.log" >&2
                sl_die "kafka storage format failed"
            }
    fi
    spawn kafka "$LOGS/kafka.log" java -Xms256m -Xmx512m -XX:+UseG1GC -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$KAFKA_DIR/log4j.properties" -cp "$cp" \
        kafka.Kafka "$KAFKA_DIR/server.properties"
    wait_ready kafka "$KAFKA_MARKER" "$LOGS/kafka.log" kafka_probe
    sl_say "kafka: up on 127.0.0.1:$KAFKA_PORT (pid $(readpid kafka))"
}

kafka_stop() {
    local pid
    pid="$(readpid kafka)"
    if sl_pid_alive "$pid" "$KAFKA_MARKER"; then
        sl_stop_pid "$pid" "$KAFKA_MARKER" kafka 60
        sl_say "kafka: stopped"
    fi
    rm -f "$(pidfile kafka)"
}

# ---------------------------------------------------------------------------------------------
# moto (checked), moto (unchecked), AWS stand-in
# ---------------------------------------------------------------------------------------------
moto_marker() { printf 'moto_server -H 127.0.0.1 -p %s' "$1"; }

moto_up() {
    local name="$1" port="$2"
    sl_pid_alive "$(readpid "$name")" "$(moto_marker "$port")" &&
        http_ok "http://127.0.0.1:$port/moto-api/config"
}

# moto_start NAME PORT NOAUTH_COUNT: NOAUTH_COUNT empty = never check signatures.
moto_start() {
    local name="$1" port="$2" count="$3"
    ensure_port_free "$name" "$port"
    local envs=(env -u INITIAL_NO_AUTH_ACTION_COUNT)
    [[ -n "$count" ]] && envs+=("INITIAL_NO_AUTH_ACTION_COUNT=$count")
    spawn "$name" "$LOGS/$name.log" "${envs[@]}" "$SL_VENV/bin/moto_server" -H 127.0.0.1 -p "$port"
    # The probe is a /moto-api/ path: moto does not count those against the no-auth budget.
    wait_ready "$name" "$(moto_marker "$port")" "$LOGS/$name.log" \
        http_ok "http://127.0.0.1:$port/moto-api/config"
}

moto_checked_start() {
    if moto_up moto "$MOTO_PORT"; then
        if [[ -s "$STACK/aws-keys.env" ]]; then
            sl_say "moto: already up on 127.0.0.1:$MOTO_PORT (signature checking on)"
            return 0
        fi
        # Up but never set up: its no-auth budget may be partly spent, so only a fresh
        # process can be trusted to take the setup calls.
        sl_stop_pid "$(readpid moto)" "$(moto_marker "$MOTO_PORT")" moto 15
    fi
    rm -f "$STACK/aws-keys.env"
    MOTO_RESTARTED=1
    local count
    count="$("$PY" "$SL_ROOT/tests/aws_setup.py" --count)"
    moto_start moto "$MOTO_PORT" "$count"
    "$PY" "$SL_ROOT/tests/aws_setup.py" --endpoint "http://127.0.0.1:$MOTO_PORT" \
        --region "$REGION" --out "$STACK/aws-keys.env" >>"$LOGS/aws_setup.log" 2>&1 ||
        {
            cat "$LOGS/aws_setup.log" >&2
            sl_die "moto setup failed (log: $LOGS/aws_setup.log)"
        }
    sl_say "moto: up on 127.0.0.1:$MOTO_PORT (pid $(readpid moto)), signature checking verified"
}

moto_noauth_start() {
    [[ "$MOTO_NOAUTH" == 1 ]] || return 0
    if moto_up moto-noauth "$MOTO_NOAUTH_PORT"; then
        sl_say "moto-noauth: already up on 127.0.0.1:$MOTO_NOAUTH_PORT"
        return 0
    fi
    moto_start moto-noauth "$MOTO_NOAUTH_PORT" ""
    sl_say "moto-noauth: up on 127.0.0.1:$MOTO_NOAUTH_PORT (pid $(readpid moto-noauth)), no signature checking"
}

standin_marker() { printf 'standin.py --port %s' "$STANDIN_PORT"; }

standin_up() {
    sl_pid_alive "$(readpid standin)" "$(standin_marker)" &&
        http_ok "http://127.0.0.1:$STANDIN_PORT/_standin/health"
}

standin_start() {
    [[ -f "$STANDIN_PY" ]] || return 0
    if standin_up; then
        if ((MOTO_RESTARTED == 0)); then
            sl_say "standin: already up on 127.0.0.1:$STANDIN_PORT"
            return 0
        fi
        # A new moto has a new IAM user: the running stand-in still holds the old keys.
        stop_simple standin "$(standin_marker)"
    fi
    ensure_port_free standin "$STANDIN_PORT"
    mkdir -p "$STACK/standin"
    # The stand-in writes export files into moto's S3 and steers moto's crawlers with its own
    # calls, which moto's signature checking only accepts with the IAM keys aws_setup issued.
    # They go in its environment, never on a command line where ps would show them.
    (
        set -a
        # shellcheck source=/dev/null
        . "$STACK/aws-keys.env"
        set +a
        spawn standin "$LOGS/standin.log" "$PY" "$STANDIN_PY" --port "$STANDIN_PORT" \
            --upstream "http://127.0.0.1:$MOTO_PORT" --state-dir "$STACK/standin"
    ) || exit 1
    wait_ready standin "$(standin_marker)" "$LOGS/standin.log" \
        http_ok "http://127.0.0.1:$STANDIN_PORT/_standin/health"
    sl_say "standin: up on 127.0.0.1:$STANDIN_PORT (pid $(readpid standin)) over moto"
}

stop_simple() {
    local name="$1" marker="$2" pid
    pid="$(readpid "$name")"
    if sl_pid_alive "$pid" "$marker"; then
        sl_stop_pid "$pid" "$marker" "$name" 15
        sl_say "$name: stopped"
    elif [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
        # Alive but not what this stack started there (pid reused, or another port): leave it
        # and say so, rather than forget a process that may still be ours.
        sl_warn "$name: pid $pid is not \"$marker\"; not stopped"
        return 0
    fi
    rm -f "$(pidfile "$name")"
}

# ---------------------------------------------------------------------------------------------
# env file, status, commands
# ---------------------------------------------------------------------------------------------
write_env() {
    local tmp="$STACK/env.tmp"
    {
        printf '# written by scripts/stack.sh start; source it: . %s/env\n' "$STACK"
        printf 'export SL_STACK_DIR=%q\n' "$STACK"
        printf 'export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:%s\n' "$KAFKA_PORT"
        printf 'export PGHOST=127.0.0.1 PGPORT=%s PGUSER=snaplake PGDATABASE=snaplake\n' "$PG_PORT"
        printf 'export MOTO_ENDPOINT=http://127.0.0.1:%s\n' "$MOTO_PORT"
        if [[ "$MOTO_NOAUTH" == 1 ]]; then
            printf 'export MOTO_NOAUTH_ENDPOINT=http://127.0.0.1:%s\n' "$MOTO_NOAUTH_PORT"
        fi
        if [[ -f "$STANDIN_PY" ]]; then
            printf 'export STANDIN_ENDPOINT=http://127.0.0.1:%s\n' "$STANDIN_PORT"
        fi
        printf 'export AWS_REGION=%s AWS_DEFAULT_REGION=%s\n' "$REGION" "$REGION"
        printf '[ -f %q ] && . %q\n' "$STACK/aws-keys.env" "$STACK/aws-keys.env"
        printf 'true\n'
    } >"$tmp"
    mv "$tmp" "$STACK/env"
}

status() {
    local all=0
    read_ports
    line() { printf '%-12s %-5s %s\n' "$1" "$2" "$3"; }
    if pg_up; then line postgres up "127.0.0.1:$PG_PORT pid $(readpid postgres)"; else
        line postgres down ""
        all=3
    fi
    if kafka_up; then line kafka up "127.0.0.1:$KAFKA_PORT pid $(readpid kafka)"; else
        line kafka down ""
        all=3
    fi
    if moto_up moto "$MOTO_PORT"; then line moto up "127.0.0.1:$MOTO_PORT pid $(readpid moto)"; else
        line moto down ""
        all=3
    fi
    if [[ "$MOTO_NOAUTH" == 1 ]]; then
        if moto_up moto-noauth "$MOTO_NOAUTH_PORT"; then
            line moto-noauth up "127.0.0.1:$MOTO_NOAUTH_PORT pid $(readpid moto-noauth)"
        else
            line moto-noauth down ""
            all=3
        fi
    fi
    if [[ -f "$STANDIN_PY" ]]; then
        if standin_up; then line standin up "127.0.0.1:$STANDIN_PORT pid $(readpid standin)"; else
            line standin down ""
            all=3
        fi
    fi
    return "$all"
}

# The ports this stack was started with, so that `stop` (and `status`) find its processes
# whatever SL_*_PORT the caller's shell has now: the markers below name the ports.
write_ports() {
    mkdir -p "$STACK"
    printf 'KAFKA_PORT=%q KAFKA_CONTROLLER_PORT=%q PG_PORT=%q MOTO_PORT=%q STANDIN_PORT=%q MOTO_NOAUTH_PORT=%q\n' \
        "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT" "$PG_PORT" "$MOTO_PORT" "$STANDIN_PORT" \
        "$MOTO_NOAUTH_PORT" >"$STACK/ports"
}

read_ports() {
    # shellcheck source=/dev/null
    [[ -f "$STACK/ports" ]] && . "$STACK/ports"
    return 0
}

cmd_start() {
    need_venv
    write_ports
    pg_start
    kafka_start
    moto_checked_start
    moto_noauth_start
    standin_start
    write_env
    sl_say "stack: ready; environment in $STACK/env"
}

cmd_stop() {
    read_ports
    stop_simple standin "$(standin_marker)"
    stop_simple moto-noauth "$(moto_marker "$MOTO_NOAUTH_PORT")"
    stop_simple moto "$(moto_marker "$MOTO_PORT")"
    # moto's state died with it; its keys name a user that no longer exists.
    rm -f "$STACK/aws-keys.env"
    kafka_stop
    pg_stop
}

main() {
    local cmd="${1:-}"
    case "$cmd" in
    start | stop | clean | status | env) ;;
    *)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
        ;;
    esac
    if [[ "$cmd" == env ]]; then
        [[ -f "$STACK/env" ]] || sl_die "no $STACK/env: run scripts/stack.sh start"
        cat "$STACK/env"
        return 0
    fi
    if [[ "$cmd" == status && ! -d "$STACK" ]]; then
        status
        return
    fi
    mkdir -p "$STACK" "$LOGS" "$PIDS"
    # One start/stop at a time per checkout: several engineers share this tree.
    exec 9>"$STACK/start.lock"
    flock 9
    case "$cmd" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) status ;;
    clean)
        cmd_stop
        local root
        root="$(pg_root)"
        [[ -L "$STACK/pg" ]] && rm -rf "$root"
        rm -rf "$STACK"
        sl_say "stack: removed $STACK"
        ;;
    esac
}

main "$@"
