#!/usr/bin/env bash
# tests/run.sh [--unit-only] - snaplake's whole test suite; `make test` runs it after bootstrap.
#
#   a. build      ASan+UBSan build of everything (make BUILD=build/asan SAN=1 all)
#   b. unit       every build/asan/tests/unit/test_* (sl_test.h: last line "<file>: N passed, M failed")
#   c. sigv4      tests/sigv4-suite over tests/sigv4-vectors' two suites ("sigv4: N passed, M failed, K skipped")
#   d. valgrind   plain build of the unit tests (make BUILD=build/plain unit), each under valgrind,
#                 leaks are errors
#   e. fuzz       make fuzz; each build/fuzz/fuzz_* for SL_FUZZ_SECONDS (5) on a copy of its corpus
#   f. integration  scripts/stack.sh start; every build/asan/tests/integration/it_*; pytest over
#                 tests/integration/test_*.py from .venv
#   g. deploy     deploy/validate.sh --fast: the ECS/Scheduler/EventBridge/SQS/Auto Scaling inputs
#                 against botocore's models and our rules, deploy/k8s through kubeconform
#                 (Kubernetes, KEDA, Prometheus Operator schemas) and our rules, the image pin,
#                 docker-compose.yml, and the self-test (planted errors);
#                 "deploy: N passed, M failed" (the linters and the release build of a full
#                 deploy/validate.sh stay out: PyPI and minutes)
#   fmt  scripts/format-check.sh: every tracked *.c/*.h as .clang-format has it (one case)
# The stack starts in the background as the run begins (step f waits for it), and in a whole
# run d, e and g run at nice 19 alongside fmt and f (the integration tests mostly wait; the
# CPU they leave idle does the valgrind, fuzz and deploy work); their output follows f's.
# --unit-only runs a-e, g and fmt, one after another. Prints a table per step and, last, exactly
#   tests: N passed, M failed[, K skipped]
# where N and M sum every test case of every step. Exits non-zero when anything failed, when a step
# could not run, or when nothing ran at all. A test binary that crashes, times out or exits non-zero
# without reporting a failure counts as one failed case on top of what it printed.
#
# Environment: SL_JOBS (2),
# SL_FUZZ_SECONDS (5), SL_TEST_TIMEOUT (300 s per binary), SL_STACK_STOP=1 (stop the stack on
# exit; CI=true implies it). Per-test output: build/test-logs/.
set -uo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$SL_ROOT" || exit 2

UNIT_ONLY=0
for arg in "$@"; do
    case "$arg" in
    --unit-only) UNIT_ONLY=1 ;;
    -h | --help)
        sed -n '2,/^set -uo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
        exit 0
        ;;
    *)
        sl_warn "unknown argument: $arg"
        exit 2
        ;;
    esac
done

JOBS="${SL_JOBS:-2}"
FUZZ_SECONDS="${SL_FUZZ_SECONDS:-5}"
TEST_TIMEOUT="${SL_TEST_TIMEOUT:-300}"
VECTORS="$SL_ROOT/tests/sigv4-vectors"
LOGDIR="$SL_ROOT/build/test-logs"
STACK_STOP="${SL_STACK_STOP:-0}"
[[ "${CI:-}" == true ]] && STACK_STOP=1

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

rm -rf "$LOGDIR"
mkdir -p "$LOGDIR"

# ---------------------------------------------------------------------------------------------
# bookkeeping: one row per step
# ---------------------------------------------------------------------------------------------
STEPS=() S_PASS=() S_FAIL=() S_SKIP=() S_STATE=() S_SECS=()
CUR_P=0 CUR_F=0 CUR_S=0 CUR_STATE=ok CUR_T0=0

step_begin() {
    CUR_P=0 CUR_F=0 CUR_S=0 CUR_STATE=ok
    CUR_T0="$(sl_now_ms)"
    printf '\n== [%s] %s\n' "$1" "$2"
    STEPS+=("$1")
}

# step_error MSG: the step could not do its job (build failed, service down, suite missing).
step_error() {
    CUR_STATE=ERROR
    printf '   ERROR: %s\n' "$*"
}

step_end() {
    local ms=$(($(sl_now_ms) - CUR_T0))
    S_PASS+=("$CUR_P") S_FAIL+=("$CUR_F") S_SKIP+=("$CUR_S") S_STATE+=("$CUR_STATE")
    S_SECS+=("$(printf '%d.%d' $((ms / 1000)) $((ms % 1000 / 100)))")
    [[ "$CUR_STATE" == ok && "$CUR_F" -gt 0 ]] && S_STATE[-1]=FAILED
    printf '   -> %s passed, %s failed%s  (%ss)\n' "$CUR_P" "$CUR_F" \
        "$([[ "$CUR_S" -gt 0 ]] && printf ', %s skipped' "$CUR_S")" "${S_SECS[-1]}"
}

step_skip() {
    STEPS+=("$1") S_PASS+=(0) S_FAIL+=(0) S_SKIP+=(0) S_STATE+=("skipped: $2") S_SECS+=(0.0)
    printf '\n== [%s] skipped: %s\n' "$1" "$2"
}

# show_tail LOG: the end of a failing test's output, indented.
show_tail() {
    tail -n "${2:-25}" "$1" | sed 's/^/      | /'
    printf '      (full output: %s)\n' "${1#"$SL_ROOT"/}"
}

# counts LOG REGEX-PREFIX: "P F S" from the last "N passed, M failed[, K skipped]" line.
counts() {
    local line
    line="$(grep -aEo "${2:-}[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?" "$1" | tail -n 1)"
    [[ -z "$line" ]] && return 1
    local p f s=0
    p="$(grep -Eo '[0-9]+ passed' <<<"$line" | cut -d' ' -f1)"
    f="$(grep -Eo '[0-9]+ failed' <<<"$line" | cut -d' ' -f1)"
    s="$(grep -Eo '[0-9]+ skipped' <<<"$line" | cut -d' ' -f1)"
    printf '%s %s %s\n' "$p" "$f" "${s:-0}"
}

# run_one NAME LOG CMD...: run a test binary with a timeout; writes "rc secs" to LOG.rc.
run_one() {
    local name="$1" log="$2" t0 rc
    shift 2
    t0="$(sl_now_ms)"
    timeout -k 10 "$TEST_TIMEOUT" "$@" </dev/null >"$log" 2>&1
    rc=$?
    printf '%s %s\n' "$rc" "$(($(sl_now_ms) - t0))" >"$log.rc"
}

# judge NAME LOG: fold one binary's result into the step, print its row.
judge() {
    local name="$1" log="$2" rc ms c p f s note=""
    read -r rc ms <"$log.rc"
    if c="$(counts "$log")"; then
        read -r p f s <<<"$c"
    else
        p=0 f=0 s=0
        note="no summary line"
    fi
    if [[ "$rc" -ne 0 && "$f" -eq 0 ]]; then
        # Crashed, timed out, leaked (ASan/valgrind exit code) or failed without saying so.
        f=1
        case "$rc" in
        124 | 137) note="timed out after ${TEST_TIMEOUT}s" ;;
        *) note="${note:+$note, }exit status $rc" ;;
        esac
    fi
    CUR_P=$((CUR_P + p)) CUR_F=$((CUR_F + f)) CUR_S=$((CUR_S + s))
    printf '   %-4s %-28s %4s passed, %s failed%s  %d.%ds%s\n' \
        "$([[ "$f" -eq 0 ]] && echo ok || echo FAIL)" "$name" "$p" "$f" \
        "$([[ "$s" -gt 0 ]] && printf ', %s skipped' "$s")" $((ms / 1000)) $((ms % 1000 / 100)) \
        "${note:+  ($note)}"
    [[ "$f" -ne 0 ]] && show_tail "$log"
    return 0
}

# run_pool DIR PREFIX BIN...: run binaries JOBS at a time (each under PREFIX, e.g. valgrind),
# then judge them in order.
run_pool() {
    local dir="$1" prefix="$2"
    shift 2
    mkdir -p "$dir"
    # Waits name the pool's own jobs: the stack's start-up may be running in the background.
    local bin name done_pid pid left
    local -a pids=()
    for bin in "$@"; do
        name="${bin##*/}" name="${name%.sh}"
        # shellcheck disable=SC2086
        run_one "$name" "$dir/$name.log" $prefix "$bin" &
        pids+=($!)
        if ((${#pids[@]} >= JOBS)); then
            wait -n -p done_pid "${pids[@]}"
            left=()
            for pid in "${pids[@]}"; do [[ "$pid" == "$done_pid" ]] || left+=("$pid"); done
            pids=("${left[@]}")
        fi
    done
    ((${#pids[@]} == 0)) || wait "${pids[@]}"
    for bin in "$@"; do
        name="${bin##*/}" name="${name%.sh}"
        judge "$name" "$dir/$name.log"
    done
}

# bins_for GLOB BUILDDIR SUBDIR: the binaries whose sources exist now (a stale binary of a deleted
# test is not run).
bins_for() {
    local src
    for src in $1; do
        [[ -e "$src" ]] || continue
        src="${src##*/}"
        printf '%s\n' "$2/$3/${src%.c}"
    done
}

# make_step LOG ARGS...: run make quietly into LOG; on failure show its end.
make_step() {
    local log="$1"
    shift
    if make "$@" >"$log" 2>&1; then
        return 0
    fi
    step_error "make $* failed"
    show_tail "$log" 40
    return 1
}

# ---------------------------------------------------------------------------------------------
# the steps
# ---------------------------------------------------------------------------------------------
mapfile -t UNIT_ASAN < <(bins_for 'tests/unit/test_*.c' build/asan tests/unit)
mapfile -t UNIT_PLAIN < <(bins_for 'tests/unit/test_*.c' build/plain tests/unit)
mapfile -t IT_BINS < <(bins_for 'tests/integration/it_*.c' build/asan tests/integration)
mapfile -t FUZZ_SRCS < <(compgen -G 'tests/fuzz/fuzz_*.c' || true)

# The local stack starts in the background now and step f waits for it: its ~20 s (mostly
# the Kafka JVM and moto coming up, waiting more than computing) pass under the builds instead
# of before the integration tests. Its output goes to stack-start.log, shown at step f.
STACK_STARTED=0 STACK_PID=""
stop_stack() {
    if [[ -n "$STACK_PID" ]]; then
        wait "$STACK_PID" 2>/dev/null
        STACK_PID=""
    fi
    if [[ "$STACK_STOP" == 1 && "$STACK_STARTED" == 1 ]]; then
        STACK_STARTED=0
        printf '\n== stopping the local stack (SL_STACK_STOP=1)\n'
        scripts/stack.sh stop || true
    fi
}
if ((UNIT_ONLY == 0)); then
    # On an interrupted run too; a normal run stops it before the summary, which must end the
    # output.
    STACK_STARTED=1
    trap stop_stack EXIT
    scripts/stack.sh start </dev/null >"$LOGDIR/stack-start.log" 2>&1 &
    STACK_PID=$!
fi

BUILD_OK=1
step_begin a "build: make -j$JOBS BUILD=build/asan SAN=1 all"
if make_step "$LOGDIR/build-asan.log" -j"$JOBS" BUILD=build/asan SAN=1 all; then
    printf '   built\n'
else
    BUILD_OK=0
fi
step_end

if ((BUILD_OK == 0)); then
    step_skip b "the ASan build failed"
elif ((${#UNIT_ASAN[@]} == 0)); then
    step_skip b "no tests/unit/test_*.c"
else
    step_begin b "unit tests (ASan+UBSan), ${#UNIT_ASAN[@]} binaries"
    run_pool "$LOGDIR/unit" "" "${UNIT_ASAN[@]}"
    step_end
fi

if [[ ! -f tests/sigv4_suite.c ]]; then
    step_skip c "no tests/sigv4_suite.c"
elif ((BUILD_OK == 0)); then
    step_skip c "the ASan build failed"
else
    step_begin c "sigv4 suites: tests/sigv4-suite (vectors in ${VECTORS#"$SL_ROOT"/})"
    suites=("$VECTORS/botocore-aws4_testsuite" "$VECTORS/aws-c-auth-v4")
    # Our own vectors (botocore-generated: caller-given payload hashes), when present.
    [[ -d "$VECTORS/snaplake" ]] && suites+=("$VECTORS/snaplake")
    if [[ ! -d "${suites[0]}" || ! -d "${suites[1]}" ]]; then
        step_error "suite folders missing under $VECTORS"
    else
        mkdir -p "$LOGDIR/sigv4"
        run_one sigv4-suite "$LOGDIR/sigv4/sigv4-suite.log" tests/sigv4-suite "${suites[@]}"
        judge sigv4-suite "$LOGDIR/sigv4/sigv4-suite.log"
        grep -aE '^sigv4: ' "$LOGDIR/sigv4/sigv4-suite.log" | tail -n 1 | sed 's/^/      /'
    fi
    step_end
fi

# Steps d, e and g need neither the stack nor each other's results. In a whole run they go
# alongside step f (side_steps below); alone (--unit-only) they run in turn.
valgrind_and_fuzz_steps() {
    if ((${#UNIT_PLAIN[@]} == 0)); then
        step_skip d "no tests/unit/test_*.c"
    elif ! command -v valgrind >/dev/null 2>&1; then
        step_begin d "valgrind"
        step_error "valgrind is not installed (run scripts/bootstrap.sh)"
        step_end
    else
        step_begin d "valgrind over the unit tests (plain build: make BUILD=build/plain unit)"
        if make_step "$LOGDIR/build-plain.log" -j"$JOBS" BUILD=build/plain unit; then
            run_pool "$LOGDIR/valgrind" \
                "valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect" \
                "${UNIT_PLAIN[@]}"
        fi
        step_end
    fi

    if ((${#FUZZ_SRCS[@]} == 0)); then
        step_skip e "no tests/fuzz/fuzz_*.c"
    else
        step_begin e "fuzz smoke: make fuzz, ${FUZZ_SECONDS}s per harness"
        if make_step "$LOGDIR/build-fuzz.log" -j"$JOBS" fuzz; then
            fuzz_bins=()
            for src in "${FUZZ_SRCS[@]}"; do
                name="$(basename "$src" .c)"
                fuzz_bins+=("$LOGDIR/fuzz/$name.sh")
                # Each harness works on a throwaway copy of its corpus (libFuzzer adds what it finds
                # to the folder it is given), and writes crash files next to its log, not into the
                # working tree.
                mkdir -p "$LOGDIR/fuzz/$name.corpus" "$LOGDIR/fuzz/$name.artifacts"
                [[ -d "tests/fuzz/corpus/$name" ]] &&
                    cp -R "tests/fuzz/corpus/$name/." "$LOGDIR/fuzz/$name.corpus/"
                cat >"$LOGDIR/fuzz/$name.sh" <<EOF
#!/usr/bin/env bash
"$SL_ROOT/build/fuzz/$name" -max_total_time=$FUZZ_SECONDS -timeout=10 -rss_limit_mb=2048 \\
    -artifact_prefix="$LOGDIR/fuzz/$name.artifacts/" "$LOGDIR/fuzz/$name.corpus" 2>&1
rc=\$?
[[ \$rc -eq 0 ]] && echo "$name: 1 passed, 0 failed" || echo "$name: 0 passed, 1 failed"
exit \$rc
EOF
                chmod +x "$LOGDIR/fuzz/$name.sh"
            done
            run_pool "$LOGDIR/fuzz" "" "${fuzz_bins[@]}"
        fi
        step_end
    fi
}

deploy_step() {
    if [[ ! -x deploy/validate.sh ]]; then
        step_skip g "no deploy/validate.sh"
    elif ((BUILD_OK == 0)); then
        step_skip g "the ASan build failed (the checks read the binaries' --help)"
    else
        step_begin g "deploy: deploy/validate.sh --fast (AWS inputs vs botocore, k8s via kubeconform, compose, self-test)"
        mkdir -p "$LOGDIR/deploy"
        run_one deploy-validate "$LOGDIR/deploy/validate.log" \
            env SL_DEPLOY_BIN="$SL_ROOT/build/asan/bin" deploy/validate.sh --fast
        judge deploy-validate "$LOGDIR/deploy/validate.log"
        step_end
    fi
}

side_steps() {
    valgrind_and_fuzz_steps
    deploy_step
}

# side_steps in the background for a whole run, at the lowest CPU priority: the integration
# tests wait on Kafka, the stand-in's export and crawl times and polls far more than they
# compute (test_export.py: ~15 CPU seconds in 100 s of wall time, stack included), so
# valgrind, the fuzzers and the deploy checks take the idle CPU, and whenever the
# integration tests want a core they get it first (nice 19 weighs 15 against nice 0's
# 1024). Its output and its steps' rows come back after step f (side_collect).
SIDE_PID="" SIDE_N0=0 SIDE_OUT="$LOGDIR/side-steps.out" SIDE_STATE="$LOGDIR/side-steps.state"
side_start() {
    SIDE_N0=${#STEPS[@]}
    (
        trap - EXIT
        renice -n 19 -p "$BASHPID" >/dev/null 2>&1 || true
        side_steps
        declare -p STEPS S_PASS S_FAIL S_SKIP S_STATE S_SECS | sed 's/^declare -a /declare -ga SIDE_/' >"$SIDE_STATE"
    ) >"$SIDE_OUT" 2>&1 </dev/null &
    SIDE_PID=$!
}

side_collect() {
    [[ -n "$SIDE_PID" ]] || return 0
    printf '\n== waiting for steps d, e and g (run alongside f)\n'
    wait "$SIDE_PID"
    SIDE_PID=""
    cat "$SIDE_OUT"
    if [[ ! -s "$SIDE_STATE" ]]; then
        STEPS+=(d/e/g) S_PASS+=(0) S_FAIL+=(1) S_SKIP+=(0) S_STATE+=(ERROR) S_SECS+=(0.0)
        printf '   ERROR: steps d, e and g ended without their results (%s)\n' "${SIDE_OUT#"$SL_ROOT"/}"
        return 0
    fi
    # shellcheck disable=SC1090
    source "$SIDE_STATE"
    local i
    for ((i = SIDE_N0; i < ${#SIDE_STEPS[@]}; i++)); do
        STEPS+=("${SIDE_STEPS[$i]}") S_PASS+=("${SIDE_S_PASS[$i]}") S_FAIL+=("${SIDE_S_FAIL[$i]}")
        S_SKIP+=("${SIDE_S_SKIP[$i]}") S_STATE+=("${SIDE_S_STATE[$i]}") S_SECS+=("${SIDE_S_SECS[$i]}")
    done
}

if ((UNIT_ONLY)); then
    side_steps
else
    side_start
fi

# The formatter is the rule: a file that differs from .clang-format is one failed case.
step_begin fmt "format: scripts/format-check.sh against .clang-format"
if scripts/format-check.sh >"$LOGDIR/format.log" 2>&1; then
    CUR_P=$((CUR_P + 1))
    printf '   ok   %s\n' "$(tail -n 1 "$LOGDIR/format.log")"
else
    CUR_F=$((CUR_F + 1))
    sed 's/^/   /' "$LOGDIR/format.log" | head -n 20
    printf '   (fix with: clang-format -i FILE)\n'
fi
step_end

if ((UNIT_ONLY)); then
    step_skip f "--unit-only"
else
    step_begin f "integration against the local stack"
    wait "$STACK_PID"
    stack_rc=$?
    STACK_PID=""
    if ((stack_rc != 0)); then
        step_error "scripts/stack.sh start failed"
        show_tail "$LOGDIR/stack-start.log" 40
    else
        sed 's/^/   /' "$LOGDIR/stack-start.log"
        set -a
        # shellcheck disable=SC1091
        . "${SL_STACK_DIR:-$SL_ROOT/.stack}/env"
        set +a
        mkdir -p "$LOGDIR/integration"
        if ((BUILD_OK == 0)); then
            step_error "the ASan build failed; C integration tests not run"
        else
            for bin in "${IT_BINS[@]}"; do
                name="${bin##*/}"
                run_one "$name" "$LOGDIR/integration/$name.log" "$bin"
                judge "$name" "$LOGDIR/integration/$name.log"
            done
        fi
        if compgen -G 'tests/integration/test_*.py' >/dev/null; then
            log="$LOGDIR/integration/pytest.log"
            t0="$(sl_now_ms)"
            # No .pytest_cache in the tree; -rfEs lists what failed, errored or was skipped.
            timeout -k 10 1800 "$SL_VENV/bin/python" -m pytest -q -rfEs -p no:cacheprovider \
                tests/integration </dev/null >"$log" 2>&1
            rc=$?
            ms=$(($(sl_now_ms) - t0))
            summary="$(grep -aE '^(=+ )?[0-9]+ (passed|failed|skipped|errors?|deselected|xfailed|xpassed|warnings?)|no tests ran' "$log" | tail -n 1)"
            p="$(grep -Eo '[0-9]+ passed' <<<"$summary" | cut -d' ' -f1)"
            f="$(grep -Eo '[0-9]+ failed' <<<"$summary" | cut -d' ' -f1)"
            e="$(grep -Eo '[0-9]+ errors?' <<<"$summary" | cut -d' ' -f1)"
            s="$(grep -Eo '[0-9]+ skipped' <<<"$summary" | cut -d' ' -f1)"
            p="${p:-0}" f=$((${f:-0} + ${e:-0})) s="${s:-0}"
            # 5 = nothing collected: not a failure. Any other non-zero with no failure counted
            # (an import error, an internal error, a timeout) is one.
            [[ "$rc" -ne 0 && "$rc" -ne 5 && "$f" -eq 0 ]] && f=1
            CUR_P=$((CUR_P + p)) CUR_F=$((CUR_F + f)) CUR_S=$((CUR_S + s))
            printf '   %-4s %-28s %4s passed, %s failed%s  %d.%ds  (%s)\n' \
                "$([[ "$f" -eq 0 ]] && echo ok || echo FAIL)" "pytest tests/integration" "$p" "$f" \
                "$([[ "$s" -gt 0 ]] && printf ', %s skipped' "$s")" $((ms / 1000)) \
                $((ms % 1000 / 100)) "${summary:-pytest exit $rc}"
            if [[ "$f" -ne 0 ]]; then
                show_tail "$log" 60
            elif [[ "$s" -gt 0 ]]; then
                grep -aE '^SKIPPED' "$log" | sed 's/^/      /' | head -n 20
            fi
        fi
    fi
    step_end
fi

stop_stack
side_collect

# ---------------------------------------------------------------------------------------------
# summary
# ---------------------------------------------------------------------------------------------
TP=0 TF=0 TS=0 BAD=0
printf '\n%-6s %-22s %8s %8s %8s %8s\n' step state passed failed skipped seconds
for i in "${!STEPS[@]}"; do
    printf '%-6s %-22s %8s %8s %8s %8s\n' "${STEPS[$i]}" "${S_STATE[$i]}" "${S_PASS[$i]}" \
        "${S_FAIL[$i]}" "${S_SKIP[$i]}" "${S_SECS[$i]}"
    TP=$((TP + S_PASS[i])) TF=$((TF + S_FAIL[i])) TS=$((TS + S_SKIP[i]))
    case "${S_STATE[$i]}" in ok | skipped:*) ;; *) BAD=1 ;; esac
done
if ((TP + TF == 0)); then
    printf 'no test ran\n'
    BAD=1
fi
# CI must not pass on what it did not run: a skipped case or step is a failure there.
if [[ "${CI:-}" == true ]] && ((TS > 0)) || [[ "${CI:-}" == true && " ${S_STATE[*]} " == *" skipped:"* ]]; then
    printf 'CI=true: skipped tests or steps count as a failure\n'
    BAD=1
fi
printf '\n'
if ((TS > 0)); then
    printf 'tests: %d passed, %d failed, %d skipped\n' "$TP" "$TF" "$TS"
else
    printf 'tests: %d passed, %d failed\n' "$TP" "$TF"
fi
((BAD == 0 && TF == 0))
