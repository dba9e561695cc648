/* test_offsets.c - the in-order commit tracker, with every completion order for small N. */
#include "sl_test.h"

#include <stdint.h>
#include <stdlib.h>

#include "offsets.h"

/* Reference model: the position to store is the lowest added offset not yet done, or the
 * highest added + 1 when all are done. */
static int64_t model_pos(const int64_t *offs, const int *done, int n)
{
    for (int i = 0; i < n; i++)
        if (!done[i])
            return offs[i];
    return offs[n - 1] + 1;
}

static int next_perm(int *a, int n)
{
    int i = n - 2, j, t;
    while (i >= 0 && a[i] >= a[i + 1])
        i--;
    if (i < 0)
        return 0;
    j = n - 1;
    while (a[j] <= a[i])
        j--;
    t = a[i], a[i] = a[j], a[j] = t;
    for (int l = i + 1, r = n - 1; l < r; l++, r--)
        t = a[l], a[l] = a[r], a[r] = t;
    return 1;
}

/* Offsets with gaps (skipped messages never become jobs). */
static const int64_t gaps[] = {100, 101, 103, 104, 110, 111, 200};

static void test_every_completion_order(void)
{
    long long checked = 0;

    for (int n = 1; n <= 7; n++) {
        int perm[7];
        for (int i = 0; i < n; i++)
            perm[i] = i;
        do {
            sl_offsets *o = sl_offsets_new(16);
            int done[7] = {0};
            int64_t last = gaps[0]; /* storing the first offset is a no-op */
            char err[SL_ERRLEN];
            CHECK(o != NULL);
            for (int i = 0; i < n; i++)
                CHECK_INT(sl_offsets_add(o, "t", 0, gaps[i], err, sizeof(err)), 0);
            CHECK_INT(sl_offsets_inflight(o, "t", 0), n);
            for (int k = 0; k < n; k++) {
                int64_t got, want;
                done[perm[k]] = 1;
                got = sl_offsets_done(o, "t", 0, gaps[perm[k]]);
                want = model_pos(gaps, done, n);
                if (want > last) {
                    CHECK_INT(got, want);
                    last = want;
                } else {
                    CHECK_INT(got, SL_OFFSETS_NONE);
                }
                CHECK_INT(sl_offsets_inflight(o, "t", 0), n - k - 1);
                checked++;
            }
            CHECK_INT(last, gaps[n - 1] + 1);
            sl_offsets_free(o);
        } while (next_perm(perm, n));
    }
    CHECK(checked == 1 + 4 + 18 + 96 + 600 + 4320 + 35280); /* sum of n * n! */
}

/* Interleaved adds and completions: jobs start while others finish. Every order of 4
 * events "done(i)" mixed with the adds that must precede them. */
static void test_interleaved_add_done(void)
{
    /* Sequences over 5 offsets: at each step either add the next offset (if any left and
     * under the cap of 3 in flight) or finish any in-flight offset; explored by DFS with an
     * explicit stack of choices. */
    enum { N = 5, CAP = 3 };
    int choice[2 * N], depth = 0;
    long long runs = 0;
    for (int i = 0; i < 2 * N; i++)
        choice[i] = 0;
    for (;;) {
        /* Replay the choice vector; choice 0 = add, c>0 = done the c-th in-flight. */
        sl_offsets *o = sl_offsets_new(CAP);
        int64_t inflight[N];
        int nin = 0, added = 0, donev[N] = {0}, valid = 1, steps = 0;
        int64_t last = 0;
        char err[SL_ERRLEN];
        CHECK(o != NULL);
        for (steps = 0; steps < 2 * N; steps++) {
            int c = choice[steps];
            if (c == 0) {
                if (added == N || nin == CAP) {
                    valid = 0;
                    break;
                }
                CHECK_INT(sl_offsets_add(o, "t", 3, added, err, sizeof(err)), 0);
                inflight[nin++] = added++;
            } else {
                int64_t off, got, want;
                if (c > nin) {
                    valid = 0;
                    break;
                }
                off = inflight[c - 1];
                for (int j = c - 1; j < nin - 1; j++)
                    inflight[j] = inflight[j + 1];
                nin--;
                donev[off] = 1;
                got = sl_offsets_done(o, "t", 3, off);
                /* Model: lowest added-not-done, else highest added + 1. */
                want = added;
                for (int j = 0; j < added; j++)
                    if (!donev[j]) {
                        want = j;
                        break;
                    }
                if (want > last) {
                    CHECK_INT(got, want);
                    last = want;
                } else {
                    CHECK_INT(got, SL_OFFSETS_NONE);
                }
            }
            CHECK_INT(sl_offsets_inflight(o, "t", 3), nin);
        }
        if (valid) {
            CHECK_INT(last, N);
            runs++;
        }
        sl_offsets_free(o);
        /* Next choice vector (odometer over 0..CAP). */
        depth = 2 * N - 1;
        while (depth >= 0 && choice[depth] == CAP) {
            choice[depth] = 0;
            depth--;
        }
        if (depth < 0)
            break;
        choice[depth]++;
    }
    CHECK(runs > 100);
}

static void test_errors_and_bounds(void)
{
    sl_offsets *o = sl_offsets_new(2);
    char err[SL_ERRLEN];

    CHECK(o != NULL);
    CHECK(sl_offsets_new(0) == NULL);
    CHECK_INT(sl_offsets_add(o, "t", 0, -1, err, sizeof(err)), -1);
    CHECK_INT(sl_offsets_add(o, "t", 0, 5, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_add(o, "t", 0, 5, err, sizeof(err)), -1); /* duplicate */
    CHECK_INT(sl_offsets_add(o, "t", 0, 4, err, sizeof(err)), -1); /* backwards */
    CHECK_INT(sl_offsets_add(o, "t", 0, 6, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_add(o, "t", 0, 7, err, sizeof(err)), -1); /* cap of 2 */
    CHECK(strstr(err, "in flight") != NULL);
    CHECK_INT(sl_offsets_inflight(o, "t", 0), 2);
    CHECK_INT(sl_offsets_done(o, "t", 0, 9), SL_OFFSETS_UNKNOWN);
    CHECK_INT(sl_offsets_done(o, "t", 1, 5), SL_OFFSETS_UNKNOWN);
    CHECK_INT(sl_offsets_done(o, "u", 0, 5), SL_OFFSETS_UNKNOWN);
    CHECK_INT(sl_offsets_done(o, "t", 0, 6), SL_OFFSETS_NONE);
    CHECK_INT(sl_offsets_done(o, "t", 0, 6), SL_OFFSETS_UNKNOWN); /* twice */
    CHECK_INT(sl_offsets_done(o, "t", 0, 5), 7);
    /* Offsets added after everything finished continue from there. */
    CHECK_INT(sl_offsets_add(o, "t", 0, 8, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_done(o, "t", 0, 8), 9);
    CHECK_INT(sl_offsets_add(o, "t", 0, 8, err, sizeof(err)), -1);
    sl_offsets_free(o);
    sl_offsets_free(NULL);
}

static void test_partitions_are_independent_and_forget(void)
{
    sl_offsets *o = sl_offsets_new(8);
    char err[SL_ERRLEN];

    CHECK(o != NULL);
    CHECK_INT(sl_offsets_add(o, "snapshots", 0, 10, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_add(o, "snapshots", 1, 3, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_add(o, "exports", 0, 50, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_add(o, "snapshots", 0, 11, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_inflight(o, "snapshots", 0), 2);
    CHECK_INT(sl_offsets_inflight(o, "snapshots", 1), 1);
    CHECK_INT(sl_offsets_inflight(o, "exports", 0), 1);
    CHECK_INT(sl_offsets_inflight(o, "exports", 7), 0);
    CHECK_INT(sl_offsets_done(o, "snapshots", 1, 3), 4);
    CHECK_INT(sl_offsets_done(o, "exports", 0, 50), 51);
    CHECK_INT(sl_offsets_done(o, "snapshots", 0, 11), SL_OFFSETS_NONE);
    /* Revoke: partition 0 is dropped; a new owner may restart below the old position. */
    sl_offsets_forget(o, "snapshots", 0);
    sl_offsets_forget(o, "snapshots", 99); /* unknown: no-op */
    CHECK_INT(sl_offsets_inflight(o, "snapshots", 0), 0);
    CHECK_INT(sl_offsets_done(o, "snapshots", 0, 10), SL_OFFSETS_UNKNOWN);
    CHECK_INT(sl_offsets_add(o, "snapshots", 0, 10, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_done(o, "snapshots", 0, 10), 11);
    CHECK_INT(sl_offsets_inflight(o, "snapshots", 1), 0);
    CHECK_INT(sl_offsets_inflight(o, "exports", 0), 0);
    sl_offsets_free(o);
}

static void test_many_partitions(void)
{
    sl_offsets *o = sl_offsets_new(1);
    char err[SL_ERRLEN];
    int32_t p;

    CHECK(o != NULL);
    for (p = 0; p < SL_OFFSETS_MAX_PARTITIONS; p++)
        CHECK_INT(sl_offsets_add(o, "t", p, p, err, sizeof(err)), 0);
    CHECK_INT(sl_offsets_add(o, "t", p, 0, err, sizeof(err)), -1); /* table full */
    for (p = 0; p < SL_OFFSETS_MAX_PARTITIONS; p++)
        CHECK_INT(sl_offsets_done(o, "t", p, p), p + 1);
    sl_offsets_free(o);
}

static const sl_test tests[] = {
    SL_TEST(test_every_completion_order), SL_TEST(test_interleaved_add_done),
    SL_TEST(test_errors_and_bounds),      SL_TEST(test_partitions_are_independent_and_forget),
    SL_TEST(test_many_partitions),
};
SL_TEST_MAIN(tests)
