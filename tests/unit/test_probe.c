/* test_probe.c - the URL the health probe calls (probe.h). */
#include <string.h>

#include "probe.h"
#include "sl_test.h"
#include "util.h"

static void test_probe_url_table(void)
{
    static const struct {
        const char *addr, *path, *want; /* want NULL: refused */
    } rows[] = {
        {":9464", "/healthz", "http://127.0.0.1:9464/healthz"},
        {"0.0.0.0:9464", "/readyz", "http://127.0.0.1:9464/readyz"},
        {"127.0.0.1:80", "/healthz", "http://127.0.0.1:80/healthz"},
        {"[::]:9464", "/healthz", "http://[::1]:9464/healthz"},
        {"[::1]:9464", "/healthz", "http://[::1]:9464/healthz"},
        {"worker.local:9464", "/healthz", "http://worker.local:9464/healthz"},
        {":0", "/healthz", NULL},
        {":70000", "/healthz", NULL},
        {"9464", "/healthz", NULL},
        {":9464", "healthz", NULL},
        {":9464", NULL, NULL},
        {NULL, "/healthz", NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char url[128] = "", err[SL_ERRLEN] = "";
        int rc = sl_probe_url(rows[i].addr, rows[i].path, url, sizeof(url), err, sizeof(err));
        if (rows[i].want) {
            CHECK_INT(rc, 0);
            CHECK_STR(url, rows[i].want);
        } else {
            CHECK_INT(rc, -1);
            CHECK(err[0] != '\0');
        }
    }
}

/* A URL that does not fit is refused, never cut. */
static void test_probe_url_too_long(void)
{
    char url[16], err[SL_ERRLEN] = "";
    CHECK_INT(sl_probe_url(":9464", "/healthz", url, sizeof(url), err, sizeof(err)), -1);
    CHECK(strstr(err, "too long") != NULL);
}

static const sl_test tests[] = {
    SL_TEST(test_probe_url_table),
    SL_TEST(test_probe_url_too_long),
};
SL_TEST_MAIN(tests)
