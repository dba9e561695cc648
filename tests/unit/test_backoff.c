/* test_backoff.c - the one full-jitter backoff (backoff.h): bounds, doubling, the cap, no
 * overflow. */
#include <limits.h>

#include "backoff.h"
#include "sl_test.h"
#include "util.h"

static void test_backoff_bounds_table(void)
{
    static const struct {
        long long base, max;
        int attempt;
        unsigned long long r;
        long long want;
    } cases[] = {
        {1000, 300000, 1, 0, 0},       /* r = 0 -> 0 */
        {1000, 300000, 1, 1000, 1000}, /* cap 1000: r % 1001 */
        {1000, 300000, 1, 1001, 0},
        {1000, 300000, 2, 2000, 2000}, /* cap doubles */
        {1000, 300000, 3, 4000, 4000},
        {1000, 300000, 3, 4001, 0},
        {1000, 5000, 10, 5000, 5000}, /* capped at max */
        {1000, 5000, 10, 5001, 0},
        {1000, 300000, 0, 1000, 1000},         /* attempt < 1 treated as 1 */
        {0, 300000, 3, 12345, 0},              /* no base -> no wait */
        {LLONG_MAX / 2, LLONG_MAX, 200, 7, 7}, /* no overflow on huge values */
        {500, 100, 1, 100, 100},               /* base above max -> max */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_backoff_ms(cases[i].base, cases[i].max, cases[i].attempt, cases[i].r),
                  cases[i].want);
}

static void test_backoff_never_exceeds_cap(void)
{
    for (int attempt = 1; attempt < 80; attempt++) {
        long long cap = 1000;
        for (int i = 1; i < attempt && cap < 60000; i++)
            cap = cap * 2 > 60000 ? 60000 : cap * 2;
        for (unsigned long long r = 0; r < 200000; r += 997) {
            long long d = sl_backoff_ms(1000, 60000, attempt, r * 0x9E3779B97F4A7C15ULL);
            CHECK(d >= 0 && d <= cap);
        }
    }
}

/* Doubling the same way as AWS's client: attempt n+1 here is its attempt n (aws_http.c). */
static void test_backoff_attempt_zero_is_first(void)
{
    CHECK_INT(sl_backoff_ms(200, 20000, 0, 200), 200);
    CHECK_INT(sl_backoff_ms(200, 20000, 1, 200), 200);
    CHECK_INT(sl_backoff_ms(200, 20000, 2, 400), 400);
    CHECK_INT(sl_backoff_ms(200, 20000, 2, 401), 0);
}

static const sl_test tests[] = {
    SL_TEST(test_backoff_bounds_table),
    SL_TEST(test_backoff_never_exceeds_cap),
    SL_TEST(test_backoff_attempt_zero_is_first),
};
SL_TEST_MAIN(tests)
