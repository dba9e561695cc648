/* test_worker.c - the worker runtime's pure helpers: the retry delay (over backoff.h's
 * full-jitter backoff), UTF-8 repair of error texts. */
#include <string.h>

#include "../../worker/worker.h"
#include "sl_test.h"

static void test_utf8_repair_table(void)
{
    static const struct {
        const char *in, *want;
        size_t fixed;
    } cases[] = {
        {"", "", 0},
        {"plain ASCII: ok", "plain ASCII: ok", 0},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
         0},                              /* 2-, 3- and 4-byte characters kept */
        {"\xc3\xa9\xc3", "\xc3\xa9?", 1}, /* cut after a lead byte (the bug) */
        {"x\xe2\x82", "x??", 2},          /* cut inside a 3-byte character */
        {"x\xf0\x9f\x98", "x???", 3},     /* cut inside a 4-byte character */
        {"\xc0\xaf", "??", 2},            /* overlong '/' */
        {"\xe0\x80\xaf", "???", 3},       /* overlong 3-byte */
        {"\xed\xa0\x80", "???", 3},       /* UTF-16 surrogate */
        {"\xf4\x90\x80\x80", "????", 4},  /* above U+10FFFF */
        {"\xf5\x80", "??", 2},            /* lead byte never valid */
        {"a\x80"
         "b",
         "a?b", 1},         /* stray continuation byte */
        {"\xc3(", "?(", 1}, /* lead byte then ASCII */
        {"\xef\xbf\xbf\xf4\x8f\xbf\xbf", "\xef\xbf\xbf\xf4\x8f\xbf\xbf", 0}, /* edges kept */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", cases[i].in);
        CHECK_INT((long long)sl_worker_utf8_repair(buf), (long long)cases[i].fixed);
        CHECK(strcmp(buf, cases[i].want) == 0);
        CHECK_INT((long long)strlen(buf), (long long)strlen(cases[i].in));
    }
}

/* The case from the review: a 1,023-byte cut of 2-byte characters, as sl_job's fields do. */
static void test_utf8_repair_after_field_cut(void)
{
    char msg[1024], big[1500];
    size_t n = 0;

    while (n + 2 < sizeof(big)) {
        big[n++] = (char)0xc3;
        big[n++] = (char)0xa9;
    }
    big[n] = '\0';
    /* What snprintf into a 1,024-byte field does to it. */
    memcpy(msg, big, sizeof(msg) - 1);
    msg[sizeof(msg) - 1] = '\0';
    CHECK_INT((long long)strlen(msg), 1023);
    CHECK_INT((long long)sl_worker_utf8_repair(msg), 1);
    CHECK(msg[1022] == '?' && msg[1021] == (char)0xa9);
    CHECK_INT((long long)sl_worker_utf8_repair(msg), 0); /* idempotent */
}

/* The wait before the next attempt never undercuts what an AWS call skipped, and is capped. */
static void test_retry_delay_honours_retry_after(void)
{
    static const struct {
        long long base, max;
        int attempt;
        long long after;
        unsigned long long r;
        long long want;
    } cases[] = {
        {1000, 60000, 1, 0, 500, 500},     /* no hint: the jitter backoff */
        {1000, 60000, 1, 8000, 500, 8000}, /* a longer skipped sleep wins */
        {1000, 60000, 1, 200, 500, 500},   /* a shorter one does not shorten it */
        {1000, 60000, 3, 90000, 7, 60000}, /* capped at max */
        {1000, 60000, 1, -5, 300, 300},    /* a negative hint is ignored */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK_INT(sl_worker_retry_delay_ms(cases[i].base, cases[i].max, cases[i].attempt,
                                           cases[i].after, cases[i].r),
                  cases[i].want);
}

static const sl_test tests[] = {
    SL_TEST(test_retry_delay_honours_retry_after),
    SL_TEST(test_utf8_repair_table),
    SL_TEST(test_utf8_repair_after_field_cut),
};
SL_TEST_MAIN(tests)
