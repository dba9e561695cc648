#!/bin/sh
# deploy/build-release.sh OUTDIR - the release build of the image's build stage, kept in one
# script so that deploy/validate.sh runs exactly what deploy/Dockerfile runs.
#
#   1. `make` with Debian's own hardening flags (dpkg-buildflags with hardening=+all; on
#      bookworm: -O2 -g, -fstack-protector-strong, -Werror=format-security,
#      -D_FORTIFY_SOURCE=2, PIE, full RELRO + BIND_NOW), no sanitizers. The flags go in through
#      the environment; the Makefile adds them after its own `-std=c11 -Wall ... -Werror`,
#      so every warning stays an error in the release build too.
#   2. The unit tests, built with the same flags and run: a release binary is only shipped
#      when its pure logic passes at -O2 too.
#   3. The three binaries installed into OUTDIR.
# Needs: build-essential (gcc, make, dpkg-dev), pkg-config and the six -dev packages.
# Run from the top of the source tree. SL_RELEASE_BUILD sets the build directory
# (default build/release).
set -eu

out="${1:?usage: deploy/build-release.sh OUTDIR}"
build="${SL_RELEASE_BUILD:-build/release}"
jobs="$(nproc 2>/dev/null || echo 2)"

DEB_BUILD_MAINT_OPTIONS="hardening=+all"
export DEB_BUILD_MAINT_OPTIONS
CFLAGS="$(dpkg-buildflags --get CFLAGS)"
CPPFLAGS="$(dpkg-buildflags --get CPPFLAGS)"
LDFLAGS="$(dpkg-buildflags --get LDFLAGS)"
export CFLAGS CPPFLAGS LDFLAGS
echo "build-release: CFLAGS=$CFLAGS"
echo "build-release: CPPFLAGS=$CPPFLAGS LDFLAGS=$LDFLAGS"

units=""
for src in tests/unit/test_*.c; do
    [ -e "$src" ] || continue
    name="$(basename "$src" .c)"
    # bench/latproxy's test needs bench/, a benchmark tool the image neither ships nor copies.
    if [ "$name" = test_latproxy ] && [ ! -e bench/latproxy.c ]; then
        continue
    fi
    units="$units $build/tests/unit/$name"
done

# shellcheck disable=SC2086 # $units is a list of make targets
make -j"$jobs" BUILD="$build" SAN=0 bins $units

n=0
for t in $units; do
    "$t" >/dev/null 2>&1 || { echo "build-release: unit test $t failed:" >&2; "$t" >&2 || true; exit 1; }
    n=$((n + 1))
done
echo "build-release: $n unit test programs passed"

mkdir -p "$out"
for b in snaplake-producer snaplake-worker snaplakectl; do
    install -m 0755 "$build/bin/$b" "$out/$b"
done
echo "build-release: installed into $out:" && ls -l "$out"
