/* test_glue.c - GetCrawler parsing and crawler name templates. */
#include <stdlib.h>
#include <string.h>

#include "glue.h"
#include "sl_test.h"

static void test_parse_ready_succeeded(void)
{
    const char *j = "{\"Crawler\":{\"Name\":\"c1\",\"State\":\"READY\",\"CrawlElapsedTime\":0,"
                    "\"LastCrawl\":{\"Status\":\"SUCCEEDED\",\"StartTime\":1709175900.25,"
                    "\"LogGroup\":\"/aws-glue/crawlers\",\"LogStream\":\"c1\"}}}";
    sl_glue_crawler c;
    char err[SL_ERRLEN];

    CHECK(sl_glue_parse_crawler_bytes(j, strlen(j), &c, err, sizeof(err)) == 0);
    CHECK_STR(c.name, "c1");
    CHECK_STR(c.state, "READY");
    CHECK_INT(c.has_last_crawl, 1);
    CHECK_STR(c.last_status, "SUCCEEDED");
    CHECK_INT(c.last_start_ms, 1709175900250LL);
    CHECK(c.last_error == NULL);
    CHECK_STR(c.last_log_group, "/aws-glue/crawlers");
    sl_glue_crawler_cleanup(&c);
}

static void test_parse_failed_with_message(void)
{
    const char *j = "{\"Crawler\":{\"Name\":\"c1\",\"State\":\"READY\",\"LastCrawl\":{"
                    "\"Status\":\"FAILED\",\"ErrorMessage\":\"Internal \\\"service\\\" error\","
                    "\"StartTime\":\"2024-02-29T03:05:00.5Z\"}}}";
    sl_glue_crawler c;
    char err[SL_ERRLEN];

    CHECK(sl_glue_parse_crawler_bytes(j, strlen(j), &c, err, sizeof(err)) == 0);
    CHECK_STR(c.last_status, "FAILED");
    CHECK_STR(c.last_error, "Internal \"service\" error");
    CHECK_INT(c.last_start_ms, 1709175900500LL);
    sl_glue_crawler_cleanup(&c);
}

static void test_parse_running_without_last_crawl(void)
{
    const char *j = "{\"Crawler\":{\"Name\":\"new\",\"State\":\"RUNNING\"}}";
    sl_glue_crawler c;
    char err[SL_ERRLEN];

    CHECK(sl_glue_parse_crawler_bytes(j, strlen(j), &c, err, sizeof(err)) == 0);
    CHECK_STR(c.state, "RUNNING");
    CHECK_INT(c.has_last_crawl, 0);
    CHECK_INT(c.last_start_ms, 0);
    sl_glue_crawler_cleanup(&c);
}

static void test_parse_rejects(void)
{
    static const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"Crawler\":[]}",
        "{\"Crawler\":{\"State\":\"READY\"}}",
        "{\"Crawler\":{\"Name\":\"x\"}}",
        "{\"Crawler\":{\"Name\":7,\"State\":\"READY\"}}",
        "{\"Crawler\":{\"Name\":\"\",\"State\":\"READY\"}}",
        "{\"Crawler\":{\"Name\":\"x\",\"State\":\"\\u0000\"}}",
        "{\"Crawler\":{\"Name\":\"x\",\"State\":\"READY\"",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_glue_crawler c;
        char err[SL_ERRLEN] = "";
        CHECK(sl_glue_parse_crawler_bytes(bad[i], strlen(bad[i]), &c, err, sizeof(err)) != 0);
        CHECK(err[0] != '\0');
    }
}

static void test_parse_ignores_absurd_start_times(void)
{
    static const char *cases[] = {
        "{\"Crawler\":{\"Name\":\"x\",\"State\":\"READY\",\"LastCrawl\":{\"StartTime\":-5}}}",
        "{\"Crawler\":{\"Name\":\"x\",\"State\":\"READY\",\"LastCrawl\":{\"StartTime\":1e300}}}",
        "{\"Crawler\":{\"Name\":\"x\",\"State\":\"READY\",\"LastCrawl\":{\"StartTime\":\"soon\"}}}",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_glue_crawler c;
        char err[SL_ERRLEN];
        CHECK(sl_glue_parse_crawler_bytes(cases[i], strlen(cases[i]), &c, err, sizeof(err)) == 0);
        CHECK_INT(c.last_start_ms, 0);
        sl_glue_crawler_cleanup(&c);
    }
}

static void test_crawler_name_template(void)
{
    static const struct {
        const char *tmpl, *cluster, *want;
    } cases[] = {
        {"snaplake-{cluster}", "orders", "snaplake-orders"},
        {"shared-crawler", "orders", "shared-crawler"},
        {"{cluster}-{cluster}", "a", "a-a"},
        {"{clus", "a", "{clus"},
    };
    char out[64];

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        CHECK(sl_glue_crawler_name(cases[i].tmpl, cases[i].cluster, out, sizeof(out)) == 0);
        CHECK_STR(out, cases[i].want);
    }
    CHECK(sl_glue_crawler_name("", "a", out, sizeof(out)) != 0);
    CHECK(sl_glue_crawler_name("{cluster}", "", out, sizeof(out)) != 0);
    CHECK(sl_glue_crawler_name("0123456789{cluster}", "0123456789", out, 20) != 0);
}

static const sl_test tests[] = {
    SL_TEST(test_parse_ready_succeeded),
    SL_TEST(test_parse_failed_with_message),
    SL_TEST(test_parse_running_without_last_crawl),
    SL_TEST(test_parse_rejects),
    SL_TEST(test_parse_ignores_absurd_start_times),
    SL_TEST(test_crawler_name_template),
};

SL_TEST_MAIN(tests)
