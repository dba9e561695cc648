/* test_msg.c - pipeline message encode/decode: round trips per type, version and field
 * rejection, dead-letter payload encodings. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

static void fill_run(sl_msg *m, sl_msg_type t)
{
    sl_msg_init(m);
    m->type = t;
    m->run_id = strdup("orders-2024-01-02-03-04");
    m->cluster = strdup("orders");
    m->mode = strdup("snapshot");
    m->snapshot_id = strdup("rds:orders-2024-01-02-03-04");
    m->source_arn = strdup("arn:aws:rds:us-east-1:1:cluster-snapshot:rds:orders-2024-01-02-03-04");
    m->date = strdup("2024-01-02");
    m->snapshot_time = strdup("2024-01-02T03:04:00.000Z");
    m->source = strdup("event");
    m->produced_at = strdup("2024-01-02T03:10:00.000Z");
    if (t == SL_MSG_SNAPSHOT)
        return;
    m->export_task_id = strdup("sl-orders-2024-01-02-03-04");
    m->s3_bucket = strdup("export-bucket");
    m->s3_prefix = strdup("s3-export/orders/2024-01-02");
    m->export_started_at = strdup("2024-01-02T03:10:01.000Z");
    m->export_ended_at = strdup("2024-01-02T03:40:00.000Z");
    if (t == SL_MSG_EXPORTED)
        return;
    m->lake_bucket = strdup("lake-bucket");
    m->lake_prefix = strdup("");
    m->objects = 2500;
    m->bytes = 9007199254740992LL; /* 2^53: the largest exact count */
    m->removed = 3;
    m->ntables = 2;
    m->tables = calloc(2, sizeof(char *));
    m->tables[0] = strdup("mydb/public.users");
    m->tables[1] = strdup("mydb/sch\xc3\xa9ma.t \"q\"");
    m->nfailed_tables = 1;
    m->failed_tables = calloc(1, sizeof(*m->failed_tables));
    m->failed_tables[0].table = strdup("mydb/public.orders");
    m->failed_tables[0].reason = strdup("FAILED: out of space");
    m->copied_at = strdup("2024-01-02T03:46:00.000Z");
    if (t == SL_MSG_COPIED)
        return;
    m->crawler = strdup("lake-orders");
    m->crawl_started_at = strdup("2024-01-02T03:46:01.000Z");
    m->crawl_status = strdup("SUCCEEDED");
}

static int roundtrip(const sl_msg *m, sl_msg *back, char **json)
{
    char err[SL_ERRLEN];
    size_t len;

    if (sl_msg_encode(m, json, &len, err, sizeof(err))) {
        fprintf(stderr, "encode: %s\n", err);
        return -1;
    }
    if (strlen(*json) != len || sl_msg_decode(*json, len, back, err, sizeof(err))) {
        fprintf(stderr, "decode: %s\n", err);
        return -1;
    }
    return 0;
}

static void test_stage_round_trips(void)
{
    static const sl_msg_type types[] = {SL_MSG_SNAPSHOT, SL_MSG_EXPORTED, SL_MSG_COPIED,
                                        SL_MSG_CRAWLED};
    for (size_t i = 0; i < SL_ARRAY_LEN(types); i++) {
        sl_msg m, back, copy;
        char *json = NULL, err[SL_ERRLEN];
        fill_run(&m, types[i]);
        CHECK_INT(roundtrip(&m, &back, &json), 0);
        if (!sl_msg_equal(&m, &back))
            fprintf(stderr, "type %d: %s\n", (int)types[i], json);
        CHECK(sl_msg_equal(&m, &back));
        CHECK(strstr(json, "\"v\":1") != NULL);
        CHECK(strstr(json, sl_msg_type_name(types[i])) != NULL);
        CHECK_INT(sl_msg_copy(&copy, &m, err, sizeof(err)), 0);
        CHECK(sl_msg_equal(&copy, &m));
        sl_msg_cleanup(&copy);
        free(json);
        sl_msg_cleanup(&m);
        sl_msg_cleanup(&back);
    }
}

static void test_snapshot_wire_format(void)
{
    /* A hand-written message, as another implementation would send it: extra fields and a
     * null optional are accepted. */
    const char *wire = "{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"c-2024-01-02-03-04\","
                       "\"cluster\":\"c\",\"mode\":\"cluster\",\"source_arn\":\"arn:aws:rds:"
                       "us-east-1:1:cluster:c\",\"date\":\"2024-01-02\",\"source\":\"cluster\","
                       "\"produced_at\":\"2024-01-02T03:04:00.000Z\",\"snapshot_time\":null,"
                       "\"future_field\":{\"x\":[1,2]}}";
    sl_msg m;
    char err[SL_ERRLEN];

    CHECK_INT(sl_msg_decode(wire, strlen(wire), &m, err, sizeof(err)), 0);
    CHECK_INT(m.type, SL_MSG_SNAPSHOT);
    CHECK_STR(m.mode, "cluster");
    CHECK(m.snapshot_id == NULL && m.snapshot_time == NULL);
    CHECK_STR(sl_msg_default_topic(m.type), "snapshots");
    sl_msg_cleanup(&m);
}

typedef struct bad_case {
    const char *json;
    const char *err_has;
} bad_case;

static const bad_case bad_cases[] = {
    {"", "empty"},
    {"nope", "not valid JSON"},
    {"[]", "not a JSON object"},
    {"{\"type\":\"snapshot\"}", "missing version"},
    {"{\"v\":\"1\",\"type\":\"snapshot\"}", "missing version"},
    {"{\"v\":2,\"type\":\"snapshot\"}", "unsupported version 2"},
    {"{\"v\":0,\"type\":\"snapshot\"}", "unsupported version 0"},
    {"{\"v\":1}", "missing type"},
    {"{\"v\":1,\"type\":\"exploded\"}", "unknown type \"exploded\""},
    {"{\"v\":1,\"type\":\"snapshot\"}", "missing run_id"},
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":5}", "run_id is not a string"},
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"r\",\"cluster\":\"c\",\"mode\":\"x\","
     "\"source_arn\":\"a\",\"date\":\"d\",\"source\":\"event\",\"produced_at\":\"t\"}",
     "mode must be"},
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"r\",\"cluster\":\"c\",\"mode\":\"snapshot\","
     "\"source_arn\":\"a\",\"date\":\"d\",\"source\":\"event\",\"produced_at\":\"t\"}",
     "missing snapshot_id"},
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"r\",\"cluster\":\"c\",\"mode\":\"cluster\","
     "\"source_arn\":\"a\",\"date\":\"d\",\"source\":\"cron\",\"produced_at\":\"t\"}",
     "source must be"},
    {"{\"v\":1,\"type\":\"failure\",\"stage\":\"export\",\"error_message\":\"m\","
     "\"failed_at\":\"t\",\"attempt\":1.5}",
     "attempt is not an integer"},
    {"{\"v\":1,\"type\":\"failure\",\"stage\":\"export\",\"error_message\":\"m\","
     "\"failed_at\":\"t\",\"attempt\":-1}",
     "attempt is not an integer"},
    {"{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\",\"partition\":0,"
     "\"offset\":1}",
     "missing payload"},
    {"{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\",\"partition\":0,"
     "\"offset\":1,\"payload\":\"abc\",\"payload_encoding\":\"base64\"}",
     "not base64"},
    {"{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\",\"partition\":0,"
     "\"offset\":1,\"payload\":\"a\",\"payload_encoding\":\"rot13\"}",
     "unknown payload_encoding"},
    {"{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\",\"partition\":-2,"
     "\"offset\":1,\"payload\":\"a\"}",
     "partition"},
    {"{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\",\"partition\":0,"
     "\"offset\":1e300,\"payload\":\"a\"}",
     "offset is not an integer"},
    {"{\"v\":1,\"type\":\"failure\"} extra", "not valid JSON"},
    /* Not UTF-8 (PostgreSQL would refuse these bytes in the ledger): a lone continuation
       byte, an overlong '/', a UTF-16 surrogate, and a truncated sequence at the end. */
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"\xff\xfe\"}", "not valid UTF-8"},
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"\xc0\xaf\"}", "not valid UTF-8"},
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"\xed\xa0\x80\"}", "not valid UTF-8"},
    {"{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"r\"}\xe6\x97", "not valid UTF-8"},
};

static void test_decode_rejects_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_cases); i++) {
        sl_msg m;
        char err[SL_ERRLEN] = "";
        int rc = sl_msg_decode(bad_cases[i].json, strlen(bad_cases[i].json), &m, err, sizeof(err));
        if (rc != -1 || !strstr(err, bad_cases[i].err_has))
            fprintf(stderr, "case %zu: rc %d err \"%s\"\n", i, rc, err);
        CHECK_INT(rc, -1);
        CHECK(strstr(err, bad_cases[i].err_has) != NULL);
        CHECK(m.run_id == NULL && m.type == SL_MSG_NONE);
    }
}

static void test_copied_field_types(void)
{
    sl_msg m, back;
    char *json = NULL, *p, err[SL_ERRLEN];

    fill_run(&m, SL_MSG_COPIED);
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), 0);
    /* Corrupt the tables array into an object: decode must say which field is wrong. */
    p = strstr(json, "\"tables\":[");
    CHECK(p != NULL);
    p[9] = '{';
    CHECK_INT(sl_msg_decode(json, strlen(json), &back, err, sizeof(err)), -1);
    free(json);
    m.objects = -1;
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "objects") != NULL);
    m.objects = 1;
    free(m.crawler); /* not part of copied: ignored */
    m.crawler = NULL;
    free(m.lake_bucket);
    m.lake_bucket = NULL;
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "missing lake_bucket") != NULL);
    sl_msg_cleanup(&m);
}

static void test_failure_embeds_input(void)
{
    static const struct {
        const char *input, *want_back, *wire_has;
    } cases[] = {
        {"{\"v\":1,\"type\":\"exported\",\"cluster\":\"c\"}",
         "{\"v\":1,\"type\":\"exported\",\"cluster\":\"c\"}", "\"input\":{\"v\":1"},
        {"{ \"a\" : [1, 2] }", "{\"a\":[1,2]}", "\"input\":{\"a\":[1,2]}"},
        {"not json {", "not json {", "\"input\":\"not json {\""},
        {"123", "123", "\"input\":\"123\""},
        {NULL, NULL, NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_msg m, back, again;
        char *json = NULL, *json2 = NULL;
        sl_msg_init(&m);
        m.type = SL_MSG_FAILURE;
        m.run_id = strdup("r");
        m.cluster = strdup("c");
        m.stage = strdup("export");
        m.error_code = strdup("ExportTaskLimitReachedFault");
        m.error_message = strdup("limit \"reached\"\n");
        m.aws_request_id = strdup("4f0b-11");
        m.export_task_id = strdup("sl-c-2024-01-02-03-04");
        m.attempt = 3;
        m.failed_at = strdup("2024-01-02T03:04:05.006Z");
        m.input_json = sl_strdup0(cases[i].input);
        CHECK_INT(roundtrip(&m, &back, &json), 0);
        if (cases[i].input) {
            CHECK_STR(back.input_json, cases[i].want_back);
            CHECK(strstr(json, cases[i].wire_has) != NULL);
        } else {
            CHECK(back.input_json == NULL);
            CHECK(strstr(json, "\"input\"") == NULL);
        }
        /* The decoded form is canonical: it round-trips exactly. */
        CHECK_INT(roundtrip(&back, &again, &json2), 0);
        CHECK(sl_msg_equal(&back, &again));
        CHECK_STR(json2, json);
        CHECK_STR(sl_msg_default_topic(SL_MSG_FAILURE), "failures");
        free(json);
        free(json2);
        sl_msg_cleanup(&m);
        sl_msg_cleanup(&back);
        sl_msg_cleanup(&again);
    }
}

static void test_dead_letter_encodings(void)
{
    static const struct {
        const char *payload;
        size_t len;
        const char *key;
        size_t key_len;
        const char *enc;
    } cases[] = {
        {"{\"source\":\"aws.ec2\"}", 20, "orders", 6, "\"payload_encoding\":\"utf8\""},
        {"caf\xc3\xa9 \xe6\x97\xa5", 9, NULL, 0, "\"payload_encoding\":\"utf8\""},
        {"", 0, "", 0, "\"payload_encoding\":\"utf8\""},
        {"\xff\xfe\x00\x01", 4, "\x00k", 2, "\"payload_encoding\":\"base64\""},
        {"a\x00"
         "b",
         3, NULL, 0, "\"payload_encoding\":\"base64\""},                     /* NUL byte */
        {"\xc0\xaf", 2, NULL, 0, "\"payload_encoding\":\"base64\""},         /* overlong */
        {"\xed\xa0\x80", 3, NULL, 0, "\"payload_encoding\":\"base64\""},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, NULL, 0, "\"payload_encoding\":\"base64\""}, /* > U+10FFFF */
        {"ab\xe6\x97", 4, NULL, 0, "\"payload_encoding\":\"base64\""},       /* truncated */
        {"\x01\x02", 2, NULL, 0, "\"payload\":\"\\u0001\\u0002\""}, /* control bytes are text */
        {"\xff\x01\x02\x03\x04", 5, NULL, 0, "\"payload\":\"/wECAwQ=\""}, /* 1 pad */
        {"\xff\x01\x02\x03", 4, NULL, 0, "\"payload\":\"/wECAw==\""},     /* 2 pads */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_msg m, back;
        char *json = NULL;
        sl_msg_init(&m);
        m.type = SL_MSG_DEAD_LETTER;
        m.reason = strdup("not matching: source \"aws.ec2\" is not \"aws.rds\"");
        m.topic = strdup("events");
        m.partition = 2;
        m.offset = 77;
        m.payload = malloc(cases[i].len + 1);
        memcpy(m.payload, cases[i].payload, cases[i].len);
        m.payload_len = cases[i].len;
        if (cases[i].key) {
            m.key = malloc(cases[i].key_len + 1);
            memcpy(m.key, cases[i].key, cases[i].key_len);
            m.key_len = cases[i].key_len;
        }
        CHECK_INT(roundtrip(&m, &back, &json), 0);
        if (!strstr(json, cases[i].enc))
            fprintf(stderr, "case %zu: %s\n", i, json);
        CHECK(strstr(json, cases[i].enc) != NULL);
        CHECK(sl_msg_equal(&m, &back));
        CHECK_INT(back.payload_len, cases[i].len);
        CHECK(memcmp(back.payload, cases[i].payload, cases[i].len) == 0);
        free(json);
        sl_msg_cleanup(&m);
        sl_msg_cleanup(&back);
    }
}

/* Base64 dead-letter bytes are read strictly (RFC 4648 section 3.5 lets a decoder refuse
 * non-zero pad bits; we also refuse '=' anywhere but the last one or two characters): a lenient
 * decoder turns a corrupt record into other bytes that replay without an error. */
static void test_dead_letter_base64_strict(void)
{
    static const struct {
        const char *b64;
        const char *bytes; /* NULL: refused */
        size_t len;
    } cases[] = {
        {"", "", 0},
        {"AA==", "\x00", 1},
        {"AAA=", "\x00\x00", 2},
        {"AAAA", "\x00\x00\x00", 3},
        {"/wECAw==", "\xff\x01\x02\x03", 4},
        {"/wECAwQ=", "\xff\x01\x02\x03\x04", 5},
        {"AA==AAAA", NULL, 0}, /* padding in the middle */
        {"====", NULL, 0},
        {"A===", NULL, 0},
        {"=AAA", NULL, 0},
        {"AA=A", NULL, 0},
        {"AB==", NULL, 0}, /* pad bits not zero */
        {"AAB=", NULL, 0},
        {"AAA", NULL, 0}, /* not a multiple of 4 */
        {"AAA*", NULL, 0},
        {"AA\\nA", NULL, 0},
        {" AAAAAA ", NULL, 0},
        {"AAAA    ", NULL, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char wire[256], err[SL_ERRLEN] = "";
        sl_msg m;
        int rc;
        snprintf(wire, sizeof(wire),
                 "{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\","
                 "\"partition\":0,\"offset\":1,\"payload\":\"%s\",\"payload_encoding\":\"base64\","
                 "\"key\":\"%s\",\"key_encoding\":\"base64\"}",
                 cases[i].b64, cases[i].b64);
        rc = sl_msg_decode(wire, strlen(wire), &m, err, sizeof(err));
        if (rc != (cases[i].bytes ? 0 : -1))
            fprintf(stderr, "case %zu (%s): rc %d err \"%s\" len %zu\n", i, cases[i].b64, rc, err,
                    m.payload_len);
        if (!cases[i].bytes) {
            CHECK_INT(rc, -1);
            CHECK(strstr(err, "is not base64") != NULL);
            continue;
        }
        CHECK_INT(rc, 0);
        CHECK_INT(m.payload_len, cases[i].len);
        CHECK(memcmp(m.payload, cases[i].bytes, cases[i].len) == 0);
        CHECK_INT(m.key_len, cases[i].len);
        CHECK(memcmp(m.key, cases[i].bytes, cases[i].len) == 0);
        sl_msg_cleanup(&m);
    }
}

/* cJSON decodes "\u0000" into a NUL inside the C string, which every reader would see cut
 * there: {"s3_bucket":"lake\u0000evil"} must not decode as bucket "lake". */
static void test_decode_rejects_escaped_nul(void)
{
    static const char *const cases[] = {
        "{\"v\":1,\"type\":\"snapshot\",\"run_id\":\"r\\u0000x\",\"cluster\":\"c\","
        "\"mode\":\"cluster\",\"source_arn\":\"a\",\"date\":\"d\",\"source\":\"event\","
        "\"produced_at\":\"t\"}",
        "{\"v\":1,\"type\":\"exported\",\"run_id\":\"r\",\"cluster\":\"c\",\"mode\":\"cluster\","
        "\"source_arn\":\"a\",\"date\":\"d\",\"source\":\"event\",\"produced_at\":\"t\","
        "\"export_task_id\":\"e\",\"s3_bucket\":\"lake\\u0000evil\",\"s3_prefix\":\"\"}",
        "{\"v\":1,\"type\":\"shared\",\"run_id\":\"r\",\"shared_tables\":[\"a\\u0000b\"]}",
        "{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\",\"partition\":0,"
        "\"offset\":1,\"payload\":\"ab\\u0000cd\"}",
        "{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\",\"partition\":0,"
        "\"offset\":1,\"payload\":\"ab\",\"key\":\"\\\\\\u0000\"}",
        "{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\\u0000\",\"topic\":\"t\",\"partition\":0,"
        "\"offset\":1,\"payload\":\"ab\"}",
    };
    /* An escaped backslash followed by "u0000" is text, not a NUL. */
    static const char ok[] = "{\"v\":1,\"type\":\"dead_letter\",\"reason\":\"r\",\"topic\":\"t\","
                             "\"partition\":0,\"offset\":1,\"payload\":\"a\\\\u0000b\"}";
    sl_msg m;
    char err[SL_ERRLEN];

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        int rc = sl_msg_decode(cases[i], strlen(cases[i]), &m, err, sizeof(err));
        if (rc != -1 || !strstr(err, "NUL"))
            fprintf(stderr, "case %zu: rc %d err \"%s\"\n", i, rc, rc ? err : "");
        CHECK_INT(rc, -1);
        CHECK(strstr(err, "NUL") != NULL);
        CHECK(m.type == SL_MSG_NONE);
    }
    CHECK_INT(sl_msg_decode(ok, sizeof(ok) - 1, &m, err, sizeof(err)), 0);
    CHECK_INT(m.payload_len, 8);
    CHECK(memcmp(m.payload, "a\\u0000b", 8) == 0);
    sl_msg_cleanup(&m);
}

static void test_dead_letter_unknown_position_and_cap(void)
{
    sl_msg m, back;
    char *json = NULL, err[SL_ERRLEN];

    sl_msg_init(&m);
    m.type = SL_MSG_DEAD_LETTER;
    m.reason = strdup("malformed: not valid JSON");
    m.topic = strdup("");
    m.payload = (unsigned char *)strdup("x");
    m.payload_len = 1;
    CHECK_INT(roundtrip(&m, &back, &json), 0);
    CHECK_INT(back.partition, -1);
    CHECK_INT(back.offset, -1);
    CHECK(back.key == NULL);
    free(json);
    sl_msg_cleanup(&back);
    free(m.payload);
    m.payload_len = SL_MSG_MAX_BYTES;
    m.payload = calloc(1, m.payload_len);
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "truncate") != NULL);
    sl_msg_cleanup(&m);
    {
        char *big = malloc(SL_MSG_MAX_BYTES + 1);
        memset(big, ' ', SL_MSG_MAX_BYTES + 1);
        big[0] = '{';
        big[SL_MSG_MAX_BYTES] = '}';
        CHECK_INT(sl_msg_decode(big, SL_MSG_MAX_BYTES + 1, &back, err, sizeof(err)), -1);
        CHECK(strstr(err, "exceeds") != NULL);
        free(big);
    }
}

static void test_encode_rejects_bad_structs(void)
{
    sl_msg m;
    char *json = NULL, err[SL_ERRLEN];

    sl_msg_init(&m);
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    m.type = (sl_msg_type)42;
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(sl_msg_type_name((sl_msg_type)42) == NULL);
    fill_run(&m, SL_MSG_CRAWLED);
    free(m.crawl_status);
    m.crawl_status = NULL;
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "crawled message: missing crawl_status") != NULL);
    CHECK(json == NULL);
    sl_msg_cleanup(&m);
    sl_msg_cleanup(NULL);
}

static void test_format_time(void)
{
    static const struct {
        long long ms;
        const char *want;
    } cases[] = {
        {0, "1970-01-01T00:00:00.000Z"},
        {1709175959123LL, "2024-02-29T03:05:59.123Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
        {253402300799999LL, "9999-12-31T23:59:59.999Z"},
    };
    char out[32];

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        CHECK_INT(sl_msg_format_time(cases[i].ms, out, sizeof(out)), 0);
        CHECK_STR(out, cases[i].want);
    }
    CHECK_INT(sl_msg_format_time(253402300800000LL, out, sizeof(out)), -1);
    CHECK_INT(sl_msg_format_time(0, out, 10), -1);
}

/* crawled: catalog_mode direct carries the Glue database and tables and needs no crawler;
 * crawler mode (or a message from before catalog_mode) still needs one. */
static void test_crawled_catalog_mode(void)
{
    sl_msg m, back;
    char *json = NULL, err[SL_ERRLEN];

    fill_run(&m, SL_MSG_CRAWLED);
    free(m.crawler);
    m.crawler = NULL;
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "missing crawler") != NULL);
    m.catalog_mode = strdup("direct");
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "missing glue_database") != NULL);
    m.glue_database = strdup("snaplake_orders");
    m.nglue_tables = 2;
    m.glue_tables = calloc(2, sizeof(char *));
    m.glue_tables[0] = strdup("public_orders");
    m.glue_tables[1] = strdup("public_users");
    m.glue_tables_total = 3;
    CHECK_INT(roundtrip(&m, &back, &json), 0);
    CHECK(sl_msg_equal(&m, &back));
    CHECK(strstr(json, "\"catalog_mode\":\"direct\"") != NULL);
    CHECK(strstr(json, "\"glue_tables\":[\"public_orders\",\"public_users\"]") != NULL);
    CHECK(strstr(json, "\"crawler\"") == NULL);
    sl_msg_cleanup(&back);
    free(json);
    json = NULL;
    free(m.catalog_mode);
    m.catalog_mode = strdup("glue");
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "catalog_mode must be") != NULL);
    sl_msg_cleanup(&m);
    /* glue_tables of the wrong shape is refused on decode. */
    {
        static const char bad[] = "{\"v\":1,\"type\":\"crawled\",\"glue_tables\":\"x\"}";
        CHECK_INT(sl_msg_decode(bad, sizeof(bad) - 1, &back, err, sizeof(err)), -1);
    }
}

/* shared: the crawled fields plus the share stage's counts and lists; a round trip keeps the
   lists, glue_database and the counts are required, a list of the wrong shape is refused. */
static void test_shared_message(void)
{
    sl_msg m, back, copy;
    char *json = NULL, err[SL_ERRLEN];

    fill_run(&m, SL_MSG_SHARED);
    m.glue_database = strdup("snaplake_orders");
    m.shared_at = strdup("2024-01-02T03:50:00.000Z");
    m.share_created = 3;
    m.share_updated = 2;
    m.tables_shared = 2;
    m.tables_private = 1;
    m.nshared_tables = 2;
    m.shared_tables = calloc(2, sizeof(char *));
    m.shared_tables[0] = strdup("public_orders");
    m.shared_tables[1] = strdup("public_users");
    m.nshare_changes = 1;
    m.share_changes = calloc(1, sizeof(char *));
    m.share_changes[0] = strdup("+ grant 444455556666 SELECT on LFTagPolicy TABLE (c=public)");
    CHECK_INT(roundtrip(&m, &back, &json), 0);
    CHECK(sl_msg_equal(&m, &back));
    CHECK(strstr(json, "\"type\":\"shared\"") != NULL);
    CHECK(strstr(json, "\"shared_tables\":[\"public_orders\",\"public_users\"]") != NULL);
    CHECK(strstr(json, "\"crawl_status\":\"SUCCEEDED\"") != NULL);
    CHECK_STR(sl_msg_default_topic(SL_MSG_SHARED), "shares");
    CHECK_INT(sl_msg_copy(&copy, &m, err, sizeof(err)), 0);
    CHECK(sl_msg_equal(&copy, &m));
    free(copy.shared_tables[1]);
    copy.shared_tables[1] = strdup("other");
    CHECK(!sl_msg_equal(&copy, &m));
    sl_msg_cleanup(&copy);
    sl_msg_cleanup(&back);
    free(json);
    json = NULL;
    free(m.glue_database);
    m.glue_database = NULL;
    CHECK_INT(sl_msg_encode(&m, &json, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "missing glue_database") != NULL);
    sl_msg_cleanup(&m);
    {
        static const char bad[] =
            "{\"v\":1,\"type\":\"shared\",\"run_id\":\"r\",\"shared_tables\":[1]}";
        CHECK_INT(sl_msg_decode(bad, sizeof(bad) - 1, &back, err, sizeof(err)), -1);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_shared_message),
    SL_TEST(test_crawled_catalog_mode),
    SL_TEST(test_stage_round_trips),
    SL_TEST(test_snapshot_wire_format),
    SL_TEST(test_decode_rejects_table),
    SL_TEST(test_copied_field_types),
    SL_TEST(test_failure_embeds_input),
    SL_TEST(test_dead_letter_encodings),
    SL_TEST(test_dead_letter_base64_strict),
    SL_TEST(test_decode_rejects_escaped_nul),
    SL_TEST(test_dead_letter_unknown_position_and_cap),
    SL_TEST(test_encode_rejects_bad_structs),
    SL_TEST(test_format_time),
};
SL_TEST_MAIN(tests)
