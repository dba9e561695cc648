/*
 * test_xsched.c - the scheduler's pure part: the AIMD window of adaptive concurrency (cut in
 * half by a throttling answer at most once per hold, grown back by successes, kept in
 * 1..max), and a scheduler and queue made and freed without a request (valgrind-clean).
 */
#include "sl_test.h"

#include "xsched.h"

static void test_aimd_starts_at_max_and_halves(void)
{
    sl_xsched_aimd a;

    sl_xsched_aimd_init(&a, 64);
    CHECK_INT(sl_xsched_aimd_window(&a), 64);
    CHECK_INT(sl_xsched_aimd_throttled(&a, 1000, 1000), 1);
    CHECK_INT(sl_xsched_aimd_window(&a), 32);
    /* The other 503s of the same burst (within the hold) do not cut again. */
    CHECK_INT(sl_xsched_aimd_throttled(&a, 1500, 1000), 0);
    CHECK_INT(sl_xsched_aimd_window(&a), 32);
    CHECK_INT(sl_xsched_aimd_throttled(&a, 2000, 1000), 1);
    CHECK_INT(sl_xsched_aimd_window(&a), 16);
}

static void test_aimd_floor_is_one(void)
{
    sl_xsched_aimd a;
    long long t = 0;

    sl_xsched_aimd_init(&a, 8);
    for (int i = 0; i < 10; i++, t += 1000)
        (void)sl_xsched_aimd_throttled(&a, t, 1000);
    CHECK_INT(sl_xsched_aimd_window(&a), 1);
    sl_xsched_aimd_init(&a, 0); /* a zero max means one at a time */
    CHECK_INT(sl_xsched_aimd_window(&a), 1);
}

static void test_aimd_grows_about_one_per_round(void)
{
    static const struct {
        size_t max;
        int cuts;
        int successes;
        size_t want;
    } rows[] = {
        {64, 1, 33, 33},   /* a round of answers at a window of 32 (33: it grows meanwhile) */
        {64, 1, 200, 37},  /* rounds of a growing window: about +1 per round */
        {64, 0, 1000, 64}, /* never above max */
        {4, 2, 1, 2},      /* 4 -> 2 -> 1, then +1/1 */
    };
    for (size_t r = 0; r < SL_ARRAY_LEN(rows); r++) {
        sl_xsched_aimd a;
        sl_xsched_aimd_init(&a, rows[r].max);
        for (int c = 0; c < rows[r].cuts; c++)
            (void)sl_xsched_aimd_throttled(&a, 10000LL * (c + 1), 1000);
        for (int i = 0; i < rows[r].successes; i++)
            sl_xsched_aimd_ok(&a);
        CHECK_INT(sl_xsched_aimd_window(&a), rows[r].want);
    }
}

static int no_next(void *ud, uint64_t *unit)
{
    (void)ud;
    (void)unit;
    return -1;
}

static int no_start(void *ud, uint64_t unit, int attempt, sl_aws_xfer **x, sl_aws_error *e)
{
    (void)ud;
    (void)unit;
    (void)attempt;
    (void)x;
    (void)e;
    return -1;
}

static int no_done(void *ud, uint64_t unit, sl_aws_xfer *x, const sl_aws_error *e, int attempts)
{
    (void)ud;
    (void)unit;
    (void)x;
    (void)e;
    (void)attempts;
    return 0;
}

/* What counts as S3 throttling, for the queue's AIMD and a pacing caller alike. */
static void test_slowdown_classification(void)
{
    static const struct {
        long status;
        const char *code;
        int want;
    } cases[] = {
        {503, "SlowDown", 1},
        {503, "ServiceUnavailable", 1},
        {0, "SlowDown", 1},
        {500, "InternalError", 0},
        {400, "ThrottlingException", 0},
        {0, "NetworkError", 0},
        {200, "", 0},
    };

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_aws_error e;
        memset(&e, 0, sizeof(e));
        e.http_status = cases[i].status;
        snprintf(e.code, sizeof(e.code), "%s", cases[i].code);
        CHECK_INT(sl_xsched_slowdown(&e), cases[i].want);
    }
}

static void test_idle_scheduler(void)
{
    static const sl_xsched_ops ops = {no_next, no_start, no_done, NULL, NULL};
    sl_xsched_queue_opts o = {16, 3, 0, NULL, 0, 0, 0};
    char err[SL_ERRLEN];
    sl_xsched *s = sl_xsched_new(16, err, sizeof(err));
    sl_xsched_queue *q;

    CHECK(s != NULL);
    CHECK(sl_xsched_fd(s) >= 0);
    CHECK_INT(sl_xsched_due(s), -1);
    q = sl_xsched_queue_new(s, &ops, NULL, &o);
    CHECK(q != NULL);
    CHECK_INT(sl_xsched_queue_window(q), 16);
    sl_xsched_queue_kick(q);
    CHECK(sl_xsched_due(s) >= 0); /* a kicked queue is due at once */
    sl_xsched_run(s);             /* next() has nothing: no request, nothing in flight */
    CHECK_INT(sl_xsched_inflight(s), 0);
    CHECK_INT(sl_xsched_queue_inflight(q), 0);
    CHECK_INT(sl_xsched_due(s), -1);
    sl_xsched_queue_free(q);
    sl_xsched_free(s);
    sl_xsched_free(NULL);
    sl_xsched_queue_free(NULL);
}

static const sl_test tests[] = {
    SL_TEST(test_aimd_starts_at_max_and_halves),
    SL_TEST(test_aimd_floor_is_one),
    SL_TEST(test_aimd_grows_about_one_per_round),
    SL_TEST(test_slowdown_classification),
    SL_TEST(test_idle_scheduler),
};
SL_TEST_MAIN(tests)
