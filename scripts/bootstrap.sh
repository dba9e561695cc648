#!/usr/bin/env bash
# scripts/bootstrap.sh - install what this machine lacks to build snaplake and run its suite.
#
# Idempotent and quiet when everything is there (a second run takes about a second):
#   1. Debian packages: toolchain, the six libraries, PostgreSQL 15 server, clang + libFuzzer,
#      valgrind, clang-format, gettext-base (envsubst, for deploy/render.sh in make test), a
#      Java 17 runtime and Maven (only to fetch the Kafka jars).
#      `apt-get update` runs once, and only when something is missing.
#   2. The project venv .venv with tests/requirements.txt (moto server, boto3, pytest,
#      confluent-kafka); re-installed when that file changes (stamp holds its sha256).
#   3. The Kafka broker jars (org.apache.kafka:kafka_2.13, pinned in scripts/lib.sh) copied once
#      from Maven Central into ${SL_CACHE_DIR:-$HOME/.cache/snaplake}/kafka-<version>/libs,
#      outside the checkout so fresh clones reuse them.
# Runs as root on Debian (CI does); as another user it uses `sudo -n` for apt if it can.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ---------------------------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------------------------
deb_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

want=(build-essential pkg-config librdkafka-dev libcurl4-openssl-dev libssl-dev libcjson-dev
      libpq-dev libxml2-dev libmicrohttpd-dev clang libclang-rt-14-dev valgrind clang-format
      gettext-base chromium)
missing=()
for p in "${want[@]}"; do
    deb_installed "$p" || missing+=("$p")
done
# The server binaries, not just the client: initdb/pg_ctl/postgres of major version 15.
[[ -x /usr/lib/postgresql/15/bin/initdb ]] || missing+=(postgresql)
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
# Debian splits venv/ensurepip out of python3; a pyenv or other python3 already has them.
if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    sl_say "bootstrap: installing Debian packages: ${missing[*]}"
    if [[ "$(id -u)" -eq 0 ]]; then
        asroot=()
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        asroot=(sudo -n)
    else
        sl_die "missing packages (${missing[*]}) and not root; install them or run as root"
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${asroot[@]}" apt-get update -qq
    aptlog="$(mktemp)"
    if ! "${asroot[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" \
        >"$aptlog" 2>&1; then
        cat "$aptlog" >&2
        rm -f "$aptlog"
        sl_die "apt-get install failed"
    fi
    rm -f "$aptlog"
fi

# ---------------------------------------------------------------------------------------------
# 2. Python venv for moto, boto3, pytest and confluent-kafka
# ---------------------------------------------------------------------------------------------
req="$SL_ROOT/tests/requirements.txt"
stamp="$SL_VENV/.requirements.sha256"
req_sum="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$SL_VENV/bin/python" ]]; then
    sl_say "bootstrap: creating venv $SL_VENV"
    python3 -m venv "$SL_VENV"
fi
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$req_sum" ]]; then
    sl_say "bootstrap: pip installing tests/requirements.txt into .venv"
    "$SL_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    printf '%s\n' "$req_sum" >"$stamp"
fi

# ---------------------------------------------------------------------------------------------
# 3. Kafka broker jars
# ---------------------------------------------------------------------------------------------
# A throwaway pom whose only job is dependency:copy-dependencies. kafka_2.13 carries the broker
# (kafka.Kafka), the KRaft StorageTool and BrokerApiVersionsCommand; slf4j-reload4j binds the
# broker's slf4j logging to reload4j so it writes a log (without a binding it logs nothing).
if [[ ! -f "$SL_KAFKA_LIBS/.complete" ]]; then
    sl_say "bootstrap: fetching Kafka $SL_KAFKA_VERSION jars into $SL_KAFKA_LIBS"
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    cat >"$work/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>snaplake.local</groupId>
  <artifactId>kafka-broker-libs</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>$SL_KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>1.7.36</version>
    </dependency>
  </dependencies>
</project>
EOF
    if ! (cd "$work" && mvn -B -q -Dstyle.color=never dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$work/libs") >"$work/mvn.log" 2>&1; then
        cat "$work/mvn.log" >&2
        sl_die "mvn could not fetch the Kafka jars"
    fi
    ls "$work/libs/kafka_2.13-$SL_KAFKA_VERSION.jar" >/dev/null
    # Publish whole or not at all: a half-copied cache must not look complete to stack.sh.
    mkdir -p "$(dirname "$SL_KAFKA_LIBS")"
    rm -rf "$SL_KAFKA_LIBS"
    mv "$work/libs" "$SL_KAFKA_LIBS"
    touch "$SL_KAFKA_LIBS/.complete"
fi
