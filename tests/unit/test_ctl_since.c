/* test_ctl_since.c - snaplakectl's --since / --from-time argument (ctl/ctl_db.c). */
#include "sl_test.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "../../ctl/ctl_db.h"

typedef struct since_case {
    const char *in;
    long long want; /* epoch s; -1 = refused; 0 = a span (checked against the clock) */
    long long span;
} since_case;

static const since_case cases[] = {
    {"2024-01-02", 1704153600, 0},
    {"2024-01-02T03:04", 1704164640, 0},
    {"2024-01-02T03:04:05", 1704164645, 0},
    {"2024-01-02T03:04:05Z", 1704164645, 0},
    {"2024-01-02 03:04:05", 1704164645, 0},
    {"2024-02-29", 1709164800, 0}, /* a leap day */
    {"90s", 0, 90},
    {"30m", 0, 1800},
    {"24h", 0, 86400},
    {"7d", 0, 7 * 86400},
    {"2024-02-30", -1, 0}, /* no such day */
    {"2023-02-29", -1, 0},
    {"2024-13-01", -1, 0},
    {"2024-01-02T25:00", -1, 0},
    {"2024-01-02X", -1, 0},
    {"2024-01-02T03:04:05+02:00", -1, 0}, /* UTC only */
    {"1969-12-31", -1, 0},
    {"", -1, 0},
    {"5", -1, 0}, /* a span needs its unit */
    {"5x", -1, 0},
    {"0h", -1, 0},
    {"-3h", -1, 0},
    {"3hh", -1, 0},
    {"99999999999d", -1, 0},
    {"yesterday", -1, 0},
};

static void test_since_table(void)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long long got = -7;
        long long now = (long long)time(NULL);
        int rc = ctl_parse_since(cases[i].in, &got);

        if (cases[i].want < 0) {
            if (rc != -1)
                fprintf(stderr, "accepted \"%s\"\n", cases[i].in);
            CHECK(rc == -1);
            CHECK(got == -7);
        } else if (cases[i].want == 0) {
            CHECK(rc == 0);
            /* now - span, give or take the second the clock may turn in between */
            CHECK(got >= now - cases[i].span - 1 && got <= now - cases[i].span + 1);
        } else {
            if (rc != 0 || got != cases[i].want)
                fprintf(stderr, "\"%s\": rc %d, got %lld\n", cases[i].in, rc, got);
            CHECK(rc == 0 && got == cases[i].want);
        }
    }
}

static const sl_test tests[] = {
    SL_TEST(test_since_table),
};
SL_TEST_MAIN(tests)
