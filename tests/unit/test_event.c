/* test_event.c - EventBridge snapshot event parsing, reasons, allowlist and line framing. */
#include "sl_test.h"

#include <stdio.h>
#include <string.h>

#include "event.h"

#define GOOD                                                                                       \
    "{\"version\":\"0\",\"id\":\"844e2571-85d4-695f-b930-0153b71dcb42\","                          \
    "\"detail-type\":\"RDS DB Cluster Snapshot Event\",\"source\":\"aws.rds\","                    \
    "\"account\":\"123456789012\",\"time\":\"2024-02-29T03:10:11Z\",\"region\":\"us-east-1\","     \
    "\"resources\":[\"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:orders-db-2024-"     \
    "02-29-03-05\"],\"detail\":{\"EventCategories\":[\"backup\"],"                                 \
    "\"SourceType\":\"CLUSTER_SNAPSHOT\",\"SourceArn\":\"arn:aws:rds:us-east-1:123456789012:"      \
    "cluster-snapshot:rds:orders-db-2024-02-29-03-05\",\"Date\":\"2024-02-29T03:10:11.123Z\","     \
    "\"Message\":\"Automated cluster snapshot created\","                                          \
    "\"SourceIdentifier\":\"rds:orders-db-2024-02-29-03-05\",\"EventID\":\"RDS-EVENT-0169\"}}"

static void test_good_event(void)
{
    sl_event ev;
    char reason[SL_ERRLEN] = "";

    CHECK_INT(sl_event_parse(GOOD, strlen(GOOD), NULL, 0, &ev, reason, sizeof(reason)),
              SL_EVENT_OK);
    CHECK_STR(ev.cluster, "orders-db");
    CHECK_STR(ev.snapshot_id, "rds:orders-db-2024-02-29-03-05");
    CHECK_STR(ev.snapshot_arn,
              "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:orders-db-2024-02-29-03-05");
    CHECK_STR(ev.date, "2024-02-29");
    CHECK_STR(ev.time, "03-05");
    CHECK_STR(ev.account, "123456789012");
    CHECK_STR(ev.region, "us-east-1");
    CHECK_STR(ev.event_time, "2024-02-29T03:10:11Z");
    CHECK_STR(ev.event_id, "844e2571-85d4-695f-b930-0153b71dcb42");
    sl_event_cleanup(&ev);
    CHECK(ev.cluster == NULL);
    sl_event_cleanup(NULL);
}

/* Blanks after the object are the framer's (\f and \v included); anything else is junk. */
static void test_trailing_blanks(void)
{
    static const struct {
        const char *tail;
        int rc;
    } cases[] = {
        {" \t\r\n", SL_EVENT_OK},
        {"\f\v \n", SL_EVENT_OK},
        {"\v x", SL_EVENT_MALFORMED},
        {"{}", SL_EVENT_MALFORMED},
    };
    char buf[2048], reason[SL_ERRLEN];
    sl_event ev;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(buf, sizeof(buf), "%s%s", GOOD, cases[i].tail);
        CHECK_INT(sl_event_parse(buf, strlen(buf), NULL, 0, &ev, reason, sizeof(reason)),
                  cases[i].rc);
        if (cases[i].rc == SL_EVENT_OK)
            CHECK_STR(ev.cluster, "orders-db");
        sl_event_cleanup(&ev);
    }
}

/* Replaces the first occurrence of `from` in GOOD by `to`. */
static void variant(char *out, size_t outlen, const char *from, const char *to)
{
    const char *p = strstr(GOOD, from);
    if (!p) {
        snprintf(out, outlen, "%s", "(variant not found)");
        return;
    }
    snprintf(out, outlen, "%.*s%s%s", (int)(p - GOOD), GOOD, to, p + strlen(from));
}

typedef struct ev_case {
    const char *from, *to; /* edit applied to GOOD; from NULL = use `to` as the whole input */
    int rc;
    const char *reason_has;
} ev_case;

static const ev_case ev_cases[] = {
    {NULL, "", SL_EVENT_MALFORMED, "malformed: empty"},
    {NULL, "not json", SL_EVENT_MALFORMED, "malformed: not valid JSON"},
    /* cJSON would read the cluster as "orders" (cut at the NUL): refused, not cut */
    {"rds:orders-db-2024-02-29-03-05\",\"EventID",
     "rds:orders\\u0000-db-2024-02-29-03-05\",\"EventID", SL_EVENT_MALFORMED, "holds a NUL"},
    {NULL, "{\"source\":\"aws.rds\"", SL_EVENT_MALFORMED, "not valid JSON"},
    {NULL, "[1,2]", SL_EVENT_MALFORMED, "not a JSON object"},
    {NULL, "{} trailing", SL_EVENT_MALFORMED, "not valid JSON"},
    {NULL, "{}", SL_EVENT_MALFORMED, "missing source"},
    {"\"source\":\"aws.rds\"", "\"source\":7", SL_EVENT_MALFORMED, "source is not a string"},
    {"\"detail-type\":\"RDS DB Cluster Snapshot Event\",", "", SL_EVENT_MALFORMED,
     "missing detail-type"},
    {"\"source\":\"aws.rds\"", "\"source\":\"aws.ec2\"", SL_EVENT_NOT_MATCHING,
     "not matching: source \"aws.ec2\""},
    {"RDS DB Cluster Snapshot Event", "RDS DB Instance Event", SL_EVENT_NOT_MATCHING,
     "not matching: detail-type"},
    {"Automated cluster snapshot created", "Manual cluster snapshot created", SL_EVENT_NOT_MATCHING,
     "not matching: detail.Message"},
    {"Automated cluster snapshot created", "Creating automated cluster snapshot",
     SL_EVENT_NOT_MATCHING, "not matching: detail.Message"},
    {"\"detail\":{", "\"detail\":[{", SL_EVENT_MALFORMED, "not valid JSON"},
    {"\"detail\":{", "\"detail\":7,\"x\":{", SL_EVENT_MALFORMED, "detail is not an object"},
    {"\"detail\":{", "\"detaiX\":{", SL_EVENT_MALFORMED, "missing detail"},
    {"\"Message\":\"Automated cluster snapshot created\",", "", SL_EVENT_MALFORMED,
     "missing detail.Message"},
    {"\"Message\":\"Automated cluster snapshot created\"", "\"Message\":null", SL_EVENT_MALFORMED,
     "detail.Message is not a string"},
    {"\"SourceIdentifier\":\"rds:orders-db-2024-02-29-03-05\",", "", SL_EVENT_MALFORMED,
     "missing detail.SourceIdentifier"},
    {"\"SourceIdentifier\":\"rds:orders-db-2024-02-29-03-05\"", "\"SourceIdentifier\":[]",
     SL_EVENT_MALFORMED, "detail.SourceIdentifier is not a string"},
    {"\"SourceIdentifier\":\"rds:orders-db-2024-02-29-03-05\"",
     "\"SourceIdentifier\":\"rds:orders-db-2023-02-29-03-05\"", SL_EVENT_MALFORMED, "invalid date"},
    {"\"SourceIdentifier\":\"rds:orders-db-2024-02-29-03-05\"",
     "\"SourceIdentifier\":\"orders-db-2024-02-29-03-05\"", SL_EVENT_MALFORMED, "rds:"},
    {"\"SourceIdentifier\":\"rds:orders-db-2024-02-29-03-05\"",
     "\"SourceIdentifier\":\"rds:orders--db-2024-02-29-03-05\"", SL_EVENT_MALFORMED,
     "invalid cluster id"},
    {"\"SourceArn\":\"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:orders-db-2024-02-29-"
     "03-05\",",
     "", SL_EVENT_MALFORMED, "missing detail.SourceArn"},
    {"cluster-snapshot:rds:orders-db-2024-02-29-03-05\",\"Date\"",
     "cluster-snapshot:rds:other-2024-02-29-03-05\",\"Date\"", SL_EVENT_MALFORMED,
     "does not name snapshot"},
    {"\"account\":\"123456789012\"", "\"account\":123456789012", SL_EVENT_MALFORMED,
     "account is not a string"},
};

static void test_bad_events_table(void)
{
    char buf[4096];

    for (size_t i = 0; i < SL_ARRAY_LEN(ev_cases); i++) {
        const ev_case *c = &ev_cases[i];
        sl_event ev;
        char reason[SL_ERRLEN] = "";
        int rc;
        if (c->from)
            variant(buf, sizeof(buf), c->from, c->to);
        else
            snprintf(buf, sizeof(buf), "%s", c->to);
        rc = sl_event_parse(buf, strlen(buf), NULL, 0, &ev, reason, sizeof(reason));
        if (rc != c->rc || !strstr(reason, c->reason_has))
            fprintf(stderr, "case %zu: rc %d reason \"%s\"\n", i, rc, reason);
        CHECK_INT(rc, c->rc);
        CHECK(strstr(reason, c->reason_has) != NULL);
        CHECK(ev.cluster == NULL);
    }
}

static void test_optional_envelope_fields(void)
{
    const char *min = "{\"source\":\"aws.rds\",\"detail-type\":\"RDS DB Cluster Snapshot Event\","
                      "\"detail\":{\"Message\":\"Automated cluster snapshot created\","
                      "\"SourceIdentifier\":\"rds:a-2024-01-01-00-00\",\"SourceArn\":"
                      "\"arn:aws:rds:eu-west-1:1:cluster-snapshot:rds:a-2024-01-01-00-00\"}}";
    sl_event ev;
    char reason[SL_ERRLEN];

    CHECK_INT(sl_event_parse(min, strlen(min), NULL, 0, &ev, reason, sizeof(reason)), SL_EVENT_OK);
    CHECK_STR(ev.cluster, "a");
    CHECK(ev.account == NULL && ev.region == NULL && ev.event_time == NULL && ev.event_id == NULL);
    sl_event_cleanup(&ev);
}

static void test_allowlist_prefix_rule(void)
{
    static const char *const allow_orders[] = {"orders"};
    static const char *const allow_other[] = {"billing", "users"};
    static const char *const allow_exact[] = {"billing", "orders-db"};
    sl_event ev;
    char reason[SL_ERRLEN];

    /* `orders` admits `orders-db`, as the seed's `rds:<cluster>` prefix rule does. */
    CHECK_INT(sl_event_parse(GOOD, strlen(GOOD), allow_orders, 1, &ev, reason, sizeof(reason)),
              SL_EVENT_OK);
    sl_event_cleanup(&ev);
    CHECK_INT(sl_event_parse(GOOD, strlen(GOOD), allow_exact, 2, &ev, reason, sizeof(reason)),
              SL_EVENT_OK);
    sl_event_cleanup(&ev);
    CHECK_INT(sl_event_parse(GOOD, strlen(GOOD), allow_other, 2, &ev, reason, sizeof(reason)),
              SL_EVENT_NOT_MATCHING);
    CHECK(strstr(reason, "not matching: cluster orders-db is not in the allowlist") != NULL);
}

static void test_size_cap_and_unterminated_input(void)
{
    static char big[SL_EVENT_MAX_BYTES + 2];
    char copy[sizeof(GOOD) + 8];
    sl_event ev;
    char reason[SL_ERRLEN];

    memset(big, ' ', sizeof(big));
    big[0] = '{';
    big[sizeof(big) - 1] = '}';
    CHECK_INT(sl_event_parse(big, sizeof(big), NULL, 0, &ev, reason, sizeof(reason)),
              SL_EVENT_MALFORMED);
    CHECK(strstr(reason, "exceeds") != NULL);
    /* Input need not be NUL-terminated: bytes after len are never read as part of it. */
    memcpy(copy, GOOD, strlen(GOOD));
    memcpy(copy + strlen(GOOD), "XXXXXXX", 8);
    CHECK_INT(sl_event_parse(copy, strlen(GOOD), NULL, 0, &ev, reason, sizeof(reason)),
              SL_EVENT_OK);
    sl_event_cleanup(&ev);
}

static void test_reason_is_clipped_and_clean(void)
{
    char buf[2048], src[1200];
    sl_event ev;
    char reason[SL_ERRLEN];

    memset(src, 'x', sizeof(src) - 1);
    src[sizeof(src) - 1] = '\0';
    snprintf(buf, sizeof(buf), "{\"source\":\"%s\\n\",\"detail-type\":\"y\"}", src);
    CHECK_INT(sl_event_parse(buf, strlen(buf), NULL, 0, &ev, reason, sizeof(reason)),
              SL_EVENT_NOT_MATCHING);
    CHECK(strlen(reason) < 300);
    CHECK(strchr(reason, '\n') == NULL);
}

static void test_json_lines_framing(void)
{
    const char *buf = "\n  {\"a\":1}\r\n\n\t\r\n{\"b\":2}  \n{\"c\":3}";
    const char *want[] = {"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"};
    size_t pos = 0, n = 0, len;
    const char *line;

    while (sl_event_next_line(buf, strlen(buf), &pos, &line, &len)) {
        CHECK(n < 3);
        CHECK_INT(len, strlen(want[n]));
        CHECK(memcmp(line, want[n], len) == 0);
        n++;
    }
    CHECK_INT(n, 3);
    CHECK_INT(pos, strlen(buf));
    pos = 0;
    CHECK_INT(sl_event_next_line("", 0, &pos, &line, &len), 0);
    CHECK_INT(sl_event_next_line(" \n\r\n ", 5, &pos, &line, &len), 0);
}

static const sl_test tests[] = {
    SL_TEST(test_good_event),
    SL_TEST(test_trailing_blanks),
    SL_TEST(test_bad_events_table),
    SL_TEST(test_optional_envelope_fields),
    SL_TEST(test_allowlist_prefix_rule),
    SL_TEST(test_size_cap_and_unterminated_input),
    SL_TEST(test_reason_is_clipped_and_clean),
    SL_TEST(test_json_lines_framing),
};
SL_TEST_MAIN(tests)
