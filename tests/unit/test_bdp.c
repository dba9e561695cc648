/*
 * test_bdp.c - the in-flight limit from the bandwidth-delay product (common/bdp.h): twice the
 * least round trip over the CPU per request, clamped to [floor, max]; the round trip is a
 * windowed minimum and the CPU an average of samples.
 */
#include "sl_test.h"

#include "bdp.h"
#include "util.h"

/* n requests finished, the thread's CPU clock advanced by per_ns for each. */
static void finish(sl_bdp *b, long long *cpu, int n, long long per_ns)
{
    for (int i = 0; i < n; i++) {
        *cpu += per_ns;
        if (sl_bdp_finished(b))
            sl_bdp_cpu(b, *cpu);
    }
}

static void test_nothing_measured_is_the_floor(void)
{
    sl_bdp b;

    sl_bdp_init(&b);
    CHECK_INT(sl_bdp_limit(&b, 64, 1024), 64);
    CHECK_INT(sl_bdp_rtt_min_us(&b), -1);
    CHECK(sl_bdp_cpu_ns(&b) == 0);
    /* Degenerate bounds: a floor above max is max, a max or floor of 0 is 1. */
    CHECK_INT(sl_bdp_limit(&b, 2048, 1024), 1024);
    CHECK_INT(sl_bdp_limit(&b, 0, 0), 1);
    CHECK_INT(sl_bdp_limit(&b, 0, 1024), 1);
}

static void test_round_trip_without_cpu_uses_the_guess(void)
{
    sl_bdp b;

    sl_bdp_init(&b);
    sl_bdp_rtt(&b, 1000, 0); /* 1 ms: 2 * 1e6 ns / 20,000 ns = 100 */
    CHECK_INT(sl_bdp_limit(&b, 8, 1024), 100);
    sl_bdp_rtt(&b, 100000, 1); /* a longer one does not raise the least */
    CHECK_INT(sl_bdp_rtt_min_us(&b), 1000);
    sl_bdp_rtt(&b, -5, 2); /* ignored */
    CHECK_INT(sl_bdp_rtt_min_us(&b), 1000);
}

static void test_limit_follows_rtt_over_cpu(void)
{
    static const struct {
        long long rtt_us, cpu_ns;
        size_t floor, max, want;
    } rows[] = {
        {200, 100000, 64, 1024, 64},      /* loopback: 4 would do, the floor holds */
        {100000, 100000, 64, 1024, 1024}, /* 100 ms away: 2,000 wanted, max holds */
        {20000, 100000, 64, 1024, 400},   /* 20 ms */
        {20001, 100000, 64, 1024, 401},   /* rounded up */
        {20000, 100000, 64, 256, 256},
        {5000, 1000000, 1, 1024, 10}, /* a slow client needs fewer */
        {0, 100000, 16, 1024, 16},
    };
    for (size_t r = 0; r < SL_ARRAY_LEN(rows); r++) {
        sl_bdp b;
        long long cpu = 1;

        sl_bdp_init(&b);
        sl_bdp_rtt(&b, rows[r].rtt_us, 0);
        finish(&b, &cpu, 1 + BDP_CPU_EVERY, rows[r].cpu_ns);
        CHECK(sl_bdp_cpu_ns(&b) == (double)rows[r].cpu_ns);
        CHECK_INT(sl_bdp_limit(&b, rows[r].floor, rows[r].max), rows[r].want);
    }
}

static void test_cpu_is_an_average_of_samples(void)
{
    sl_bdp b;
    long long cpu = 0;

    sl_bdp_init(&b);
    finish(&b, &cpu, 1, 0); /* the first request only sets the mark */
    CHECK(sl_bdp_cpu_ns(&b) == 0);
    finish(&b, &cpu, BDP_CPU_EVERY - 1, 1000);
    CHECK(sl_bdp_cpu_ns(&b) == 0); /* not a whole sample yet */
    finish(&b, &cpu, 1, 1000);
    CHECK(sl_bdp_cpu_ns(&b) == 1000);
    finish(&b, &cpu, BDP_CPU_EVERY, 5000); /* a quarter of the way to 5,000 */
    CHECK(sl_bdp_cpu_ns(&b) == 2000);
    /* A clock that went back (another thread's figure, say) is no sample. */
    sl_bdp_cpu(&b, 0);
    CHECK(sl_bdp_cpu_ns(&b) == 2000);
}

static void test_rtt_window_forgets_an_old_minimum(void)
{
    sl_bdp b;

    sl_bdp_init(&b);
    sl_bdp_rtt(&b, 1000, 0);
    sl_bdp_rtt(&b, 50000, BDP_RTT_WINDOW_MS); /* a new window: the old one still counts */
    CHECK_INT(sl_bdp_rtt_min_us(&b), 1000);
    sl_bdp_rtt(&b, 60000, 2 * BDP_RTT_WINDOW_MS); /* the 1 ms window is now two behind */
    CHECK_INT(sl_bdp_rtt_min_us(&b), 50000);
    sl_bdp_rtt(&b, 70000, 5 * BDP_RTT_WINDOW_MS); /* a long silence: start over */
    CHECK_INT(sl_bdp_rtt_min_us(&b), 70000);
}

static const sl_test tests[] = {
    SL_TEST(test_nothing_measured_is_the_floor),
    SL_TEST(test_round_trip_without_cpu_uses_the_guess),
    SL_TEST(test_limit_follows_rtt_over_cpu),
    SL_TEST(test_cpu_is_an_average_of_samples),
    SL_TEST(test_rtt_window_forgets_an_old_minimum),
};
SL_TEST_MAIN(tests)
