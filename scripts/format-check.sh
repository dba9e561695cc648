#!/usr/bin/env bash
# scripts/format-check.sh - check every C source against .clang-format, change nothing.
#
# Lists the *.c/*.h files (tracked by git, or every one outside build/ and .venv/ when this is not
# a git checkout) that clang-format would change, and exits 1 if there are any. Fix one with
# `clang-format -i FILE`. Without clang-format installed it says so and exits 1 (bootstrap
# installs it): the suite never passes a check it could not make.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$SL_ROOT"

if ! command -v clang-format >/dev/null 2>&1; then
    sl_say "format-check: clang-format not installed (scripts/bootstrap.sh installs it)"
    exit 1
fi
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -- '*.c' '*.h')
else
    mapfile -t files < <(find . \( -path ./build -o -path ./.venv -o -path ./.stack \) -prune -o \
        -type f \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
fi
present=()
for f in "${files[@]}"; do
    [[ -f "$f" ]] && present+=("$f")
done
# One clang-format for every file (a process per file cost ~30 s of start-ups on a busy
# machine): it reports each violation as "FILE:LINE:COL: error: code should be
# clang-formatted", for every file, not only the first.
bad=()
if ((${#present[@]})); then
    out="$(clang-format --dry-run -Werror "${present[@]}" 2>&1)" && rc=0 || rc=$?
    mapfile -t bad < <(sed -nE 's/^(.*):[0-9]+:[0-9]+: error: code should be clang-formatted.*/\1/p' \
        <<<"$out" | sort -u)
    if ((rc != 0 && ${#bad[@]} == 0)); then
        # Failed without naming a file (a bad .clang-format, a crash): never a pass.
        sl_say "format-check: clang-format failed (exit $rc):"
        printf '%s\n' "$out" | head -n 20
        exit 1
    fi
fi
if ((${#bad[@]})); then
    sl_say "format-check: ${#bad[@]} of ${#files[@]} files differ from .clang-format:"
    printf '  %s\n' "${bad[@]}"
    exit 1
fi
sl_say "format-check: ${#files[@]} files clean"
