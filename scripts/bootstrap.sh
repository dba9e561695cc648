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
#   4. kubeconform and the JSON schemas it validates deploy/k8s against (pins in scripts/lib.sh),
#      into $SL_K8S_TOOLS, also outside the checkout; deploy/validate.sh --fast then needs no
#      network. kubeconform is built from its Go module (`go install`, or, when the proxy's
#      version lookup fails, `go mod download` + `go build` in the downloaded module); the
#      CRD YAMLs come from the KEDA and Prometheus Operator Go modules; the Kubernetes schemas
#      from the kubernetes-validate wheel (downloaded, not installed). scripts/k8s_schemas.py
#      makes their refs local and converts the CRDs. Also the Compose Specification's schema
#      (compose-go module) for the docker-compose.yml check, and promql-parser (PyPI, into
#      $SL_K8S_TOOLS/py) for the alerts' and the dashboard's expressions.
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

# ---------------------------------------------------------------------------------------------
# 4. kubeconform and its schemas (deploy/validate.sh, k8s-kubeconform)
# ---------------------------------------------------------------------------------------------
# go_module_dir MODULE@VERSION: the module's directory in the module cache, downloading it
# through the Go module proxy if needed.
go_module_dir() {
    go mod download -json "$1" | "$SL_VENV/bin/python" -c \
        'import json,sys; d=json.load(sys.stdin); sys.exit(d.get("Error")) if d.get("Error") else print(d["Dir"])'
}

if [[ ! -f "$SL_K8S_TOOLS/.complete" ]]; then
    command -v go >/dev/null 2>&1 || sl_die "no go toolchain: it builds kubeconform (deploy/validate.sh)"
    sl_say "bootstrap: kubeconform $SL_KUBECONFORM_VERSION and the Kubernetes/KEDA/Prometheus Operator schemas into $SL_K8S_TOOLS"
    k8stmp="$(mktemp -d)"
    kclog="$k8stmp/go.log"
    mkdir -p "$k8stmp/bin"
    if ! GOBIN="$k8stmp/bin" go install \
        "github.com/yannh/kubeconform/cmd/kubeconform@$SL_KUBECONFORM_VERSION" >"$kclog" 2>&1; then
        kcdir="$(go_module_dir "github.com/yannh/kubeconform@$SL_KUBECONFORM_VERSION" 2>>"$kclog")" &&
            (cd "$kcdir" && go mod download && go build -o "$k8stmp/bin/kubeconform" ./cmd/kubeconform) \
            >>"$kclog" 2>&1 || { cat "$kclog" >&2; sl_die "cannot build kubeconform"; }
    fi
    kedadir="$(go_module_dir "github.com/kedacore/keda/v2@$SL_KEDA_VERSION")" ||
        sl_die "cannot download the KEDA module (its CRDs)"
    promdir="$(go_module_dir "github.com/prometheus-operator/prometheus-operator@$SL_PROM_OPERATOR_VERSION")" ||
        sl_die "cannot download the Prometheus Operator module (its CRDs)"
    "$SL_VENV/bin/python" -m pip download -q --disable-pip-version-check --no-deps \
        -d "$k8stmp/wheel" "kubernetes-validate==$SL_K8S_VALIDATE_VERSION" >"$k8stmp/pip.log" 2>&1 ||
        { cat "$k8stmp/pip.log" >&2; sl_die "cannot download the kubernetes-validate wheel"; }
    "$SL_VENV/bin/python" "$SL_ROOT/scripts/k8s_schemas.py" "$k8stmp/schemas" \
        "$(ls "$k8stmp"/wheel/kubernetes_validate-*.whl)" "$SL_K8S_VERSIONS" \
        "$kedadir/config/crd/bases/keda.sh_scaledobjects.yaml" \
        "$kedadir/config/crd/bases/keda.sh_triggerauthentications.yaml" \
        "$promdir/example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml" \
        "$promdir/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" \
        "$promdir/example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml" ||
        sl_die "scripts/k8s_schemas.py failed"
    composedir="$(go_module_dir "github.com/compose-spec/compose-go/v2@$SL_COMPOSE_GO_VERSION")" ||
        sl_die "cannot download the compose-go module (the Compose Specification schema)"
    cp "$composedir/schema/compose-spec.json" "$k8stmp/schemas/compose-spec.json"
    "$SL_VENV/bin/python" -m pip install -q --disable-pip-version-check --no-deps \
        --target "$k8stmp/py" "promql-parser==$SL_PROMQL_PARSER_VERSION" >"$k8stmp/pip.log" 2>&1 ||
        { cat "$k8stmp/pip.log" >&2; sl_die "cannot install promql-parser"; }
    # Publish whole or not at all, like the Kafka jars.
    rm -rf "$SL_K8S_TOOLS"
    mkdir -p "$SL_K8S_TOOLS"
    mv "$k8stmp/bin" "$k8stmp/schemas" "$k8stmp/py" "$SL_K8S_TOOLS/"
    touch "$SL_K8S_TOOLS/.complete"
    rm -rf "$k8stmp"
fi
