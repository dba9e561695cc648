/* test_notify_policy.c - what each webhook answer means for an alert (sl_notify_classify):
 * only a 2xx stores the offset; 429/408/5xx/transport errors and a gone webhook wait; any
 * other 4xx is a refusal of that body. */
#include "sl_test.h"

#include <string.h>

#include "../../worker/notify_policy.h"

static void test_classify_table(void)
{
    static const struct {
        int ok;
        long status;
        sl_notify_verdict want;
        const char *cause;
    } cases[] = {
        {1, 200, SL_NOTIFY_POSTED, ""},
        {1, 204, SL_NOTIFY_POSTED, ""},
        {1, 299, SL_NOTIFY_POSTED, ""},
        {0, 0, SL_NOTIFY_RETRY, "network"},
        {0, 200, SL_NOTIFY_RETRY, "network"}, /* a transfer cut after the status line */
        {1, 429, SL_NOTIFY_RETRY, "http_429"},
        {1, 408, SL_NOTIFY_RETRY, "http_408"},
        {1, 500, SL_NOTIFY_RETRY, "http_5xx"},
        {1, 503, SL_NOTIFY_RETRY, "http_5xx"},
        {1, 599, SL_NOTIFY_RETRY, "http_5xx"},
        {1, 301, SL_NOTIFY_RETRY, "http_5xx"}, /* no redirect is followed */
        {1, 100, SL_NOTIFY_RETRY, "http_5xx"},
        {1, 401, SL_NOTIFY_RETRY, "webhook_refused"},
        {1, 403, SL_NOTIFY_RETRY, "webhook_refused"},
        {1, 404, SL_NOTIFY_RETRY, "webhook_refused"},
        {1, 410, SL_NOTIFY_RETRY, "webhook_refused"},
        {1, 400, SL_NOTIFY_REFUSED, "http_4xx"},
        {1, 413, SL_NOTIFY_REFUSED, "http_4xx"},
        {1, 422, SL_NOTIFY_REFUSED, "http_4xx"},
        {1, 499, SL_NOTIFY_REFUSED, "http_4xx"},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *cause = NULL;
        sl_notify_verdict v = sl_notify_classify(cases[i].ok, cases[i].status, &cause);
        CHECK_INT((int)v, (int)cases[i].want);
        CHECK_STR(cause, cases[i].cause);
    }
}

/* Every status: a 2xx is the only way to POSTED, so no answer stores an offset early. */
static void test_only_2xx_posts(void)
{
    for (long s = 0; s < 1000; s++) {
        const char *cause;
        int posted = sl_notify_classify(1, s, &cause) == SL_NOTIFY_POSTED;
        CHECK_INT(posted, s >= 200 && s < 300);
        CHECK(sl_notify_classify(0, s, &cause) == SL_NOTIFY_RETRY);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_classify_table),
    SL_TEST(test_only_2xx_posts),
};
SL_TEST_MAIN(tests)
