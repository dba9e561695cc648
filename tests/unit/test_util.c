/* test_util.c - util.h's error helpers: sl_seterr, sl_err_append (every config error at once). */
#include <string.h>

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

static const sl_test tests[] = {
    SL_TEST(test_err_append_lines_and_cut),
    SL_TEST(test_seterr_returns_minus_one),
};
SL_TEST_MAIN(tests)
