#!/usr/bin/env bash
# bench/peers/install.sh - installs the copy benchmark's peers, pinned, into the cache outside
# the checkout: versitygw (the storing S3-compatible server, Apache-2.0) and s5cmd (the
# fastest S3 copier, MIT), both built from their Go modules downloaded through the Go module
# proxy. `make bench` runs it (scripts/bench.sh), `make test` never does.
#
# `go install mod@ver` fails on the proxy's version lookup for s5cmd's /v2 module (the
# proxy answers 403 on @v/list), so both are built the same way: `go mod download -json
# mod@ver`, then `go build` in the downloaded module's directory. Each licence is checked
# before the binary is published: the benchmark must only run permissively licensed code.
#
# Prints the bin directory on stdout (everything else goes to stderr). Idempotent: a second
# run finds the .complete stamp and only prints the directory.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

SL_VERSITYGW_VERSION=v1.8.0
SL_S5CMD_VERSION=v2.3.0
dest="$SL_CACHE_DIR/bench-peers-versitygw-$SL_VERSITYGW_VERSION-s5cmd-$SL_S5CMD_VERSION"

if [[ -f "$dest/.complete" ]]; then
    printf '%s\n' "$dest/bin"
    exit 0
fi
command -v go >/dev/null 2>&1 || sl_die "no go toolchain: it builds versitygw and s5cmd (make bench)"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log="$work/go.log"
mkdir -p "$work/bin"

# module_dir MODULE@VERSION: the module's directory in the module cache (downloaded if needed).
module_dir() {
    go mod download -json "$1" | python3 -c \
        'import json,sys; d=json.load(sys.stdin); sys.exit(d.get("Error")) if d.get("Error") else print(d["Dir"])'
}

# build MODULE VERSION PKG BINARY LICENCE_RE: downloads, checks the licence's first lines
# against LICENCE_RE, builds PKG of the module into $work/bin/BINARY.
build() {
    local mod="$1" ver="$2" pkg="$3" bin="$4" licence="$5" dir
    sl_warn "building $bin $ver from $mod (Go module proxy)"
    dir="$(module_dir "$mod@$ver" 2>>"$log")" || { cat "$log" >&2; sl_die "cannot download $mod@$ver"; }
    head -5 "$dir/LICENSE" | grep -Eq "$licence" ||
        sl_die "$mod@$ver: LICENSE is not the expected permissive licence ($licence)"
    # A module's own directory is read-only in the cache; build from it with its go.sum, the
    # output outside it. -mod=mod: a module zip keeps vendor/modules.txt but not the vendored
    # code (s5cmd's), so the dependencies come from the proxy, checked against go.sum. CGO
    # off: neither needs C, and it keeps the build independent of -dev packages.
    (cd "$dir" && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags '-s -w' \
        -o "$work/bin/$bin" "$pkg") \
        >>"$log" 2>&1 || { cat "$log" >&2; sl_die "cannot build $bin"; }
    cp "$dir/LICENSE" "$work/bin/LICENSE.$bin"
}

build github.com/versity/versitygw "$SL_VERSITYGW_VERSION" ./cmd/versitygw versitygw 'Apache License'
build github.com/peak/s5cmd/v2 "$SL_S5CMD_VERSION" . s5cmd '^MIT License'

# Publish whole or not at all, like the Kafka jars (scripts/bootstrap.sh).
rm -rf "$dest"
mkdir -p "$dest"
mv "$work/bin" "$dest/"
touch "$dest/.complete"
printf '%s\n' "$dest/bin"
