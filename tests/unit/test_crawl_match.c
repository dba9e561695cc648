/* test_crawl_match.c - the crawl stage's run-matching rule (sl_crawl_match): a run that began
 * before the copy finished is never trusted, whatever CRAWL_CLOCK_SKEW; the skew only moves the
 * threshold later. */
#include "sl_test.h"

#include "../../worker/crawl_match.h"
#include "util.h"

#define S 1000LL
#define MIN (60 * S)
#define T0 1700000000000LL /* the copy finished at T0 */

static void test_match_table(void)
{
    static const struct {
        int ours;
        long long last_start, started, skew;
        sl_crawl_verdict want;
    } cases[] = {
        /* Someone else's run: from copied + skew on. */
        {0, T0 + 3 * S, 0, 2 * S, SL_CRAWL_TRUST},
        {0, T0 + 2 * S, 0, 2 * S, SL_CRAWL_TRUST},
        {0, T0 + 1 * S, 0, 2 * S, SL_CRAWL_RESTART},
        {0, T0, 0, 0, SL_CRAWL_TRUST},
        {0, T0 - 1, 0, 0, SL_CRAWL_RESTART},
        {0, T0 - 5 * MIN, 0, 10 * MIN, SL_CRAWL_RESTART},
        /* Our run, started 1 s after the copy: Glue's clock a little behind is fine. */
        {1, T0 + 1 * S, T0 + 1 * S, 2 * S, SL_CRAWL_TRUST},
        {1, T0 + 500, T0 + 1 * S, 2 * S, SL_CRAWL_TRUST},
        {1, T0, T0 + 1 * S, 2 * S, SL_CRAWL_TRUST},
        /* ...but never below the copy's end: may be ours, may be older, so crawl again. */
        {1, T0 - 1, T0 + 1 * S, 2 * S, SL_CRAWL_RESTART},
        /* The defect: a 10-minute skew took a run 5 minutes before the copy for ours. */
        {1, T0 - 5 * MIN, T0 + 30 * S, 10 * MIN, SL_CRAWL_RESTART},
        {1, T0 - 9 * MIN, T0 + 30 * S, 10 * MIN, SL_CRAWL_RESTART},
        /* Older than started - skew: the previous run still shown; wait for ours. */
        {1, T0 - 11 * MIN, T0 + 30 * S, 10 * MIN, SL_CRAWL_WAIT},
        {1, T0 - 1 * MIN, T0 + 1 * MIN, 2 * S, SL_CRAWL_WAIT},
        /* Started long after the copy: a run after the copy but before started - skew is a
           previous one (not ours yet). */
        {1, T0 + 1 * MIN, T0 + 10 * MIN, 2 * S, SL_CRAWL_WAIT},
        {1, T0 + 10 * MIN - 2 * S, T0 + 10 * MIN, 2 * S, SL_CRAWL_TRUST},
        /* A negative skew is none. */
        {0, T0, 0, -5 * S, SL_CRAWL_TRUST},
        {1, T0 + 1 * S - 1, T0 + 1 * S, -5 * S, SL_CRAWL_WAIT},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        fprintf(stderr, "match case %zu\n", i);
        CHECK_INT(
            sl_crawl_match(cases[i].ours, cases[i].last_start, T0, cases[i].started, cases[i].skew),
            cases[i].want);
    }
}

/* The invariant over a sweep: before the copy's end, never TRUST, for any skew up to the
   config bound (600 s), ours or not, however late we started. */
static void test_never_trust_before_copy(void)
{
    for (long long skew = 0; skew <= 10 * MIN; skew += 250)
        for (long long before = 1; before <= 20 * MIN; before = before * 3 + 7)
            for (long long after = 0; after <= 20 * MIN; after = after * 4 + 1000) {
                CHECK(sl_crawl_match(0, T0 - before, T0, 0, skew) != SL_CRAWL_TRUST);
                CHECK(sl_crawl_match(1, T0 - before, T0, T0 + after, skew) != SL_CRAWL_TRUST);
            }
}

/* The skew only pushes later: anything trusted with skew k is trusted with skew 0 for another
   run, and a larger skew never trusts a run before the copy. */
static void test_skew_only_later_for_others(void)
{
    for (long long skew = 0; skew <= 10 * MIN; skew += 999)
        for (long long d = -20 * MIN; d <= 20 * MIN; d += 777)
            if (sl_crawl_match(0, T0 + d, T0, 0, skew) == SL_CRAWL_TRUST)
                CHECK(sl_crawl_match(0, T0 + d, T0, 0, 0) == SL_CRAWL_TRUST);
}

static const sl_test tests[] = {
    SL_TEST(test_match_table),
    SL_TEST(test_never_trust_before_copy),
    SL_TEST(test_skew_only_later_for_others),
};
SL_TEST_MAIN(tests)
