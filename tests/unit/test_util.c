/* test_util.c - util.h's error helpers: sl_seterr, sl_err_append (every config error at once),
 * and sl_nofile_raise. */
#include <string.h>
#include <sys/resource.h>

#include "sl_test.h"
#include "util.h"

static void test_err_append_lines_and_cut(void)
{
    char err[16] = "";

    sl_err_append(err, sizeof(err), "");
    CHECK_STR(err, ""); /* nothing to add: no blank line */
    sl_err_append(err, sizeof(err), "A: bad");
    CHECK_STR(err, "A: bad");
    sl_err_append(err, sizeof(err), "B: bad");
    CHECK_STR(err, "A: bad\nB: bad");
    sl_err_append(err, sizeof(err), "C: a long one");
    CHECK_STR(err, "A: bad\nB: bad\nC"); /* cut to the buffer, still terminated */
    sl_err_append(err, sizeof(err), "D");
    CHECK_STR(err, "A: bad\nB: bad\nC"); /* full: unchanged */
}

static void test_seterr_returns_minus_one(void)
{
    char err[32];

    CHECK_INT(sl_seterr(err, sizeof(err), "x %d", 7), -1);
    CHECK_STR(err, "x 7");
    CHECK_INT(sl_seterr(NULL, 0, "ignored"), -1);
}

/* A soft limit below the hard one is raised to it (capped at SL_NOFILE_MAX), and raising again
   changes nothing; the hard limit is left as it was. */
static void test_nofile_raise_to_hard(void)
{
    struct rlimit was, low, now;
    long long want, got;

    CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
    want = was.rlim_max == RLIM_INFINITY || was.rlim_max > SL_NOFILE_MAX ? SL_NOFILE_MAX
                                                                         : (long long)was.rlim_max;
    low.rlim_cur = want > 64 ? 64 : (rlim_t)want;
    low.rlim_max = was.rlim_max;
    CHECK(setrlimit(RLIMIT_NOFILE, &low) == 0);
    got = sl_nofile_raise();
    CHECK(getrlimit(RLIMIT_NOFILE, &now) == 0);
    setrlimit(RLIMIT_NOFILE, &was);
    CHECK(got == want);
    CHECK((long long)now.rlim_cur == want);
    CHECK(now.rlim_max == was.rlim_max);
    CHECK(sl_nofile_raise() == want);
}

static const sl_test tests[] = {
    SL_TEST(test_err_append_lines_and_cut),
    SL_TEST(test_nofile_raise_to_hard),
    SL_TEST(test_seterr_returns_minus_one),
};
SL_TEST_MAIN(tests)
