/*
 * test_producer.c - the producer's pure logic: input framing (evframe.h) in every shape, fed
 * whole, in chunks and a byte at a time; over-long frames; and the discovery rule
 * (discover.h): newest usable snapshot per cluster.
 */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "discover.h"
#include "evframe.h"

/* ---- framing ------------------------------------------------------------------------------ */

#define MAXF 16

/* The frames of one input, as NUL-terminated strings, with their flags. */
typedef struct frames {
    char *text[MAXF];
    size_t total[MAXF];
    int oversize[MAXF];
    const char *reason[MAXF];
    unsigned long long line[MAXF];
    size_t n;
    int rc; /* 0, or -1 when the framer failed */
} frames;

static void frames_free(frames *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->text[i]);
    memset(f, 0, sizeof(*f));
}

static void drain(sl_evframe *fr, frames *out)
{
    sl_evframe_item it;
    int r;

    while ((r = sl_evframe_next(fr, &it)) == 1) {
        if (out->n == MAXF) {
            out->rc = -1;
            return;
        }
        out->text[out->n] = malloc(it.len + 1);
        memcpy(out->text[out->n], it.data, it.len);
        out->text[out->n][it.len] = '\0';
        out->total[out->n] = it.total;
        out->oversize[out->n] = it.oversize;
        out->reason[out->n] = it.reason;
        out->line[out->n] = it.line;
        out->n++;
    }
    if (r < 0)
        out->rc = -1;
}

/* Frames `in` fed in chunks of `chunk` bytes (0 = all at once), with the given cap. */
static frames frame_all(const char *in, size_t chunk, size_t max)
{
    frames out;
    sl_evframe *fr = sl_evframe_new(max);
    size_t len = strlen(in), pos = 0;

    memset(&out, 0, sizeof(out));
    if (!fr) {
        out.rc = -1;
        return out;
    }
    if (chunk == 0)
        chunk = len ? len : 1;
    while (pos < len) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        if (sl_evframe_feed(fr, in + pos, n)) {
            out.rc = -1;
            break;
        }
        drain(fr, &out);
        pos += n;
    }
    sl_evframe_finish(fr);
    drain(fr, &out);
    sl_evframe_free(fr);
    return out;
}

typedef struct frame_case {
    const char *name;
    const char *in;
    size_t n;
    const char *want[6];
    unsigned long long lines[6];
} frame_case;

static const frame_case frame_cases[] = {
    {"empty", "", 0, {NULL}, {0}},
    {"blank lines only", "\n \r\n\t\n", 0, {NULL}, {0}},
    {"one line, no newline", "{\"a\":1}", 1, {"{\"a\":1}"}, {1}},
    {"json lines with blanks and CRLF",
     "{\"a\":1}\r\n\n  {\"b\":2}  \n\n{\"c\":3}\n",
     3,
     {"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"},
     {1, 3, 5}},
    {"malformed line costs only itself",
     "{\"a\":1\n{\"b\":2}\nnot json\n{\"c\":\"}\"}\n",
     4,
     {"{\"a\":1", "{\"b\":2}", "not json", "{\"c\":\"}\"}"},
     {1, 2, 3, 4}},
    {"junk after a line's object stays in that line",
     "{\"a\":1} junk\n{\"b\":2}\n",
     2,
     {"{\"a\":1} junk", "{\"b\":2}"},
     {1, 2}},
    {"pretty object",
     "{\n  \"a\": {\n    \"b\": \"}\"\n  }\n}\n",
     1,
     {"{\n  \"a\": {\n    \"b\": \"}\"\n  }\n}"},
     {1}},
    {"two pretty objects back to back",
     "{\n \"a\": 1\n}\n{\n \"b\": [1, {\"c\": 2}]\n}",
     2,
     {"{\n \"a\": 1\n}", "{\n \"b\": [1, {\"c\": 2}]\n}"},
     {1, 4}},
    {"pretty object with escaped quote and brace in strings",
     "{\n \"a\": \"x\\\"}\",\n \"b\": \"\\\\\"\n}\n{\"c\":3}\n",
     2,
     {"{\n \"a\": \"x\\\"}\",\n \"b\": \"\\\\\"\n}", "{\"c\":3}"},
     {1, 5}},
    {"unclosed string in a pretty object ends at the newline",
     "{\n \"a\": \"oops\n}\n{\"b\":2}\n",
     3,
     {"{\n \"a\": \"oops", "}", "{\"b\":2}"},
     {1, 3, 4}},
    {"compact array",
     "[{\"a\":1},{\"b\":[2,3]}, {\"c\":\"],\"}]\n",
     3,
     {"{\"a\":1}", "{\"b\":[2,3]}", "{\"c\":\"],\"}"},
     {1, 1, 1}},
    {"pretty array",
     "[\n  {\n    \"a\": 1\n  },\n  {\n    \"b\": 2\n  }\n]\n",
     2,
     {"{\n    \"a\": 1\n  }", "{\n    \"b\": 2\n  }"},
     {2, 5}},
    {"array of scalars and junk",
     "[1, \"two\", nope ,{\"x\":1}]",
     4,
     {"1", "\"two\"", "nope", "{\"x\":1}"},
     {1, 1, 1, 1}},
    {"empty array", "[]\n[ ]\n", 0, {NULL}, {0}},
    {"array then lines", "[{\"a\":1}]\n{\"b\":2}\n", 2, {"{\"a\":1}", "{\"b\":2}"}, {1, 2}},
    {"stray closing brace in an array", "[}, {\"a\":1}]", 2, {"}", "{\"a\":1}"}, {1, 1}},
    {"lone brace at EOF", "{", 1, {"{"}, {1}},
    {"truncated pretty object at EOF", "{\n \"a\": [1,\n", 1, {"{\n \"a\": [1,"}, {1}},
};

static void check_case(const frame_case *c, size_t chunk)
{
    frames f = frame_all(c->in, chunk, 0);

    if (f.rc != 0 || f.n != c->n)
        fprintf(stderr, "case \"%s\" chunk %zu: rc %d, %zu frames (want %zu)\n", c->name, chunk,
                f.rc, f.n, c->n);
    CHECK_INT(f.rc, 0);
    CHECK_INT(f.n, c->n);
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(f.text[i], c->want[i]) != 0 || f.line[i] != c->lines[i])
            fprintf(stderr, "case \"%s\" chunk %zu frame %zu: got [%s] line %llu\n", c->name, chunk,
                    i, f.text[i], f.line[i]);
        CHECK_STR(f.text[i], c->want[i]);
        CHECK_INT(f.line[i], c->lines[i]);
        CHECK(!f.oversize[i]);
        CHECK(f.reason[i] == NULL);
        CHECK_INT(f.total[i], strlen(c->want[i]));
    }
    frames_free(&f);
}

static void test_frame_shapes_whole(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(frame_cases); i++) {
        check_case(&frame_cases[i], 0);
        if (sl_test_failed_)
            return;
    }
}

/* The same frames whatever the read sizes: a pipe delivers arbitrary pieces. */
static void test_frame_shapes_chunked(void)
{
    const size_t chunks[] = {1, 2, 3, 7, 64};

    for (size_t k = 0; k < SL_ARRAY_LEN(chunks); k++)
        for (size_t i = 0; i < SL_ARRAY_LEN(frame_cases); i++) {
            check_case(&frame_cases[i], chunks[k]);
            if (sl_test_failed_)
                return;
        }
}

/* A frame is handed out as soon as it is complete, before any later input arrives. */
static void test_frame_incremental(void)
{
    sl_evframe *fr = sl_evframe_new(0);
    sl_evframe_item it;
    const char *l1 = "{\"a\":1}\n", *l2 = "{\"b\":", *l3 = "2}\n";

    CHECK(fr != NULL);
    CHECK_INT(sl_evframe_feed(fr, l1, strlen(l1)), 0);
    CHECK_INT(sl_evframe_next(fr, &it), 1);
    CHECK_INT(it.len, 7);
    CHECK(memcmp(it.data, "{\"a\":1}", 7) == 0);
    CHECK_INT(it.index, 1);
    CHECK_INT(sl_evframe_next(fr, &it), 0);
    CHECK_INT(sl_evframe_pending(fr), 0);
    CHECK_INT(sl_evframe_feed(fr, l2, strlen(l2)), 0);
    CHECK_INT(sl_evframe_next(fr, &it), 0); /* incomplete line: nothing yet */
    CHECK_INT(sl_evframe_pending(fr), 5);
    CHECK_INT(sl_evframe_feed(fr, l3, strlen(l3)), 0);
    CHECK_INT(sl_evframe_next(fr, &it), 1);
    CHECK_INT(it.len, 7);
    CHECK(memcmp(it.data, "{\"b\":2}", 7) == 0);
    CHECK_INT(it.line, 2);
    CHECK_INT(it.index, 2);
    CHECK_INT(sl_evframe_next(fr, &it), 0);
    CHECK_INT(sl_evframe_lines(fr), 3);
    sl_evframe_finish(fr);
    CHECK_INT(sl_evframe_next(fr, &it), 0);
    sl_evframe_free(fr);
    sl_evframe_free(NULL);
}

static void test_frame_feed_contract(void)
{
    sl_evframe *fr = sl_evframe_new(0);
    sl_evframe_item it;

    CHECK(fr != NULL);
    CHECK_INT(sl_evframe_feed(fr, "a\nb\n", 4), 0);
    /* input still pending: feeding again is refused */
    CHECK_INT(sl_evframe_feed(fr, "c\n", 2), -1);
    CHECK_INT(sl_evframe_next(fr, &it), 1);
    CHECK_INT(sl_evframe_next(fr, &it), 1);
    CHECK_INT(sl_evframe_next(fr, &it), 0);
    sl_evframe_finish(fr);
    CHECK_INT(sl_evframe_feed(fr, "c\n", 2), -1);
    CHECK_INT(sl_evframe_feed(fr, NULL, 0), -1);
    sl_evframe_free(fr);
}

/* Over-long frames: the first max bytes are kept, the full length reported, and framing goes
 * on with the next frame, in each shape. */
static void test_frame_oversize(void)
{
    char in[512];
    frames f;
    size_t chunks[] = {0, 1, 5};

    for (size_t k = 0; k < SL_ARRAY_LEN(chunks); k++) {
        /* a 40-byte line with a 16-byte cap, between two short ones */
        snprintf(in, sizeof(in), "{\"a\":1}\n{\"long\":\"%s\"}\n{\"b\":2}\n",
                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
        f = frame_all(in, chunks[k], 16);
        CHECK_INT(f.rc, 0);
        CHECK_INT(f.n, 3);
        CHECK_STR(f.text[0], "{\"a\":1}");
        CHECK(!f.oversize[0]);
        CHECK(f.oversize[1]);
        CHECK_INT(strlen(f.text[1]), 16);
        CHECK(strncmp(f.text[1], "{\"long\":\"xxxxxxx", 16) == 0);
        CHECK_INT(f.total[1], strlen("{\"long\":\"\"}") + 29);
        CHECK_INT(f.line[1], 2);
        CHECK_STR(f.text[2], "{\"b\":2}");
        CHECK_INT(f.line[2], 3);
        frames_free(&f);

        /* an over-long pretty object is skipped to where its braces balance */
        snprintf(in, sizeof(in), "{\n \"k\": \"%s\",\n \"n\": {\"m\": 1}\n}\n{\"c\":3}\n",
                 "yyyyyyyyyyyyyyyyyyyy");
        f = frame_all(in, chunks[k], 16);
        CHECK_INT(f.rc, 0);
        CHECK_INT(f.n, 2);
        CHECK(f.oversize[0]);
        CHECK_INT(f.total[0], strlen(in) - strlen("\n{\"c\":3}\n"));
        CHECK_STR(f.text[1], "{\"c\":3}");
        CHECK(!f.oversize[1]);
        frames_free(&f);

        /* an oversize frame keeps its first bytes as they were, blanks included */
        f = frame_all("ab                              c\n", chunks[k], 16);
        CHECK_INT(f.n, 1);
        CHECK(f.oversize[0]);
        CHECK_STR(f.text[0], "ab              ");
        CHECK_INT(f.total[0], 33);
        frames_free(&f);

        /* an over-long array element */
        f = frame_all("[{\"a\":\"zzzzzzzzzzzzzzzzzzzzzzzzzzzz\"},{\"b\":1}]", chunks[k], 16);
        CHECK_INT(f.rc, 0);
        CHECK_INT(f.n, 2);
        CHECK(f.oversize[0]);
        CHECK_INT(f.total[0], 36);
        CHECK_STR(f.text[1], "{\"b\":1}");
        frames_free(&f);
    }
}

static void test_frame_unterminated_array(void)
{
    frames f = frame_all("[{\"a\":1},\n{\"b\":", 3, 0);

    CHECK_INT(f.rc, 0);
    CHECK_INT(f.n, 3);
    CHECK_STR(f.text[0], "{\"a\":1}");
    CHECK_STR(f.text[1], "{\"b\":");
    CHECK(f.reason[1] == NULL);
    CHECK_STR(f.text[2], "");
    CHECK(f.reason[2] != NULL);
    CHECK(strstr(f.reason[2], "unterminated JSON array") != NULL);
    frames_free(&f);

    f = frame_all("[\n", 0, 0);
    CHECK_INT(f.n, 1);
    CHECK(f.reason[0] != NULL);
    frames_free(&f);
}

/* The cap is raised to the minimum; 0 means the default. */
static void test_frame_cap_bounds(void)
{
    char in[SL_EVFRAME_MIN_MAX + 8];
    frames f;

    memset(in, 'q', SL_EVFRAME_MIN_MAX);
    in[SL_EVFRAME_MIN_MAX] = '\0';
    f = frame_all(in, 0, 1);
    CHECK_INT(f.n, 1);
    CHECK(!f.oversize[0]);
    CHECK_INT(strlen(f.text[0]), SL_EVFRAME_MIN_MAX);
    frames_free(&f);
}

/* ---- discovery ---------------------------------------------------------------------------- */

static sl_rds_snapshot snap(const char *id, const char *cluster, const char *status,
                            const char *type, long long create_ms)
{
    sl_rds_snapshot s;

    memset(&s, 0, sizeof(s));
    snprintf(s.id, sizeof(s.id), "%s", id);
    snprintf(s.cluster, sizeof(s.cluster), "%s", cluster);
    snprintf(s.arn, sizeof(s.arn), "arn:aws:rds:us-east-1:123456789012:cluster-snapshot:%s", id);
    snprintf(s.status, sizeof(s.status), "%s", status);
    snprintf(s.snapshot_type, sizeof(s.snapshot_type), "%s", type);
    s.create_ms = create_ms;
    return s;
}

static void test_discover_newest_per_cluster(void)
{
    sl_rds_snapshot in[] = {
        snap("rds:orders-2024-02-27-03-05", "orders", "available", "automated", 1709003100000),
        snap("rds:orders-2024-02-29-03-05", "orders", "available", "automated", 1709175900000),
        snap("rds:orders-2024-02-28-03-05", "orders", "available", "automated", 1709089500000),
        snap("rds:users-2024-02-29-04-00", "users", "available", "automated", 1709179200000),
        snap("rds:users-2024-03-01-04-00", "users", "creating", "automated", 1709265600000),
        snap("rds:users-2024-02-28-04-00", "users", "AVAILABLE", "Automated", 1709092800000),
        snap("orders-manual-2024-03-01", "orders", "available", "manual", 1709300000000),
        snap("rds:orders-2024-03-05-03-05", "orders", "available", "manual", 1709607900000),
    };
    sl_discover_result r;
    char err[SL_ERRLEN];

    CHECK_INT(sl_discover_select(in, SL_ARRAY_LEN(in), NULL, 0, &r, err, sizeof(err)), 0);
    CHECK_INT(r.npicks, 2);
    /* sorted by cluster id */
    CHECK_STR(r.picks[0].id.cluster, "orders");
    CHECK_INT(r.picks[0].index, 1);
    CHECK_STR(r.picks[0].id.date, "2024-02-29");
    CHECK_STR(r.picks[0].id.snapshot_id, "rds:orders-2024-02-29-03-05");
    CHECK_STR(r.picks[1].id.cluster, "users");
    CHECK_INT(r.picks[1].index, 3); /* the newer one is still creating */
    CHECK_INT(r.verdicts[0], SL_DISCOVER_OLDER);
    CHECK_INT(r.verdicts[1], SL_DISCOVER_PICKED);
    CHECK_INT(r.verdicts[2], SL_DISCOVER_OLDER);
    CHECK_INT(r.verdicts[3], SL_DISCOVER_PICKED);
    CHECK_INT(r.verdicts[4], SL_DISCOVER_NOT_AVAILABLE);
    CHECK_INT(r.verdicts[5], SL_DISCOVER_OLDER); /* case-insensitive status and type */
    CHECK_INT(r.verdicts[6], SL_DISCOVER_NOT_AUTOMATED);
    CHECK_INT(r.verdicts[7], SL_DISCOVER_NOT_AUTOMATED);
    sl_discover_result_cleanup(&r);
    CHECK(r.picks == NULL && r.verdicts == NULL && r.npicks == 0);
    sl_discover_result_cleanup(NULL);
}

/* The pick never depends on listing order: every rotation of the input picks the same. */
static void test_discover_order_independent(void)
{
    sl_rds_snapshot base[] = {
        snap("rds:a-2024-01-01-00-00", "a", "available", "automated", 0),
        snap("rds:a-2024-01-02-00-00", "a", "available", "automated", 0),
        snap("rds:a-2024-01-02-00-01", "a", "available", "automated", 0),
        snap("rds:a-2023-12-31-23-59", "a", "available", "automated", 0),
        snap("rds:b-2024-01-01-10-00", "b", "available", "automated", 0),
    };
    sl_rds_snapshot in[SL_ARRAY_LEN(base)];
    size_t n = SL_ARRAY_LEN(base);
    char err[SL_ERRLEN];

    for (size_t rot = 0; rot < n; rot++) {
        sl_discover_result r;
        for (size_t i = 0; i < n; i++)
            in[i] = base[(i + rot) % n];
        CHECK_INT(sl_discover_select(in, n, NULL, 0, &r, err, sizeof(err)), 0);
        CHECK_INT(r.npicks, 2);
        CHECK_STR(in[r.picks[0].index].id, "rds:a-2024-01-02-00-01");
        CHECK_STR(in[r.picks[1].index].id, "rds:b-2024-01-01-10-00");
        sl_discover_result_cleanup(&r);
    }
}

typedef struct newer_case {
    const char *a_id;
    long long a_ms;
    const char *b_id;
    long long b_ms;
    int a_newer;
} newer_case;

static const newer_case newer_cases[] = {
    /* create time decides when both have one and they differ */
    {"rds:c-2024-01-01-00-00", 2000, "rds:c-2024-01-02-00-00", 1000, 1},
    {"rds:c-2024-01-02-00-00", 1000, "rds:c-2024-01-01-00-00", 2000, 0},
    /* else the name's date, then time */
    {"rds:c-2024-01-02-00-00", 0, "rds:c-2024-01-01-23-59", 5000, 1},
    {"rds:c-2024-01-01-10-00", 7, "rds:c-2024-01-01-09-59", 7, 1},
    {"rds:c-2024-01-01-09-59", 7, "rds:c-2024-01-01-10-00", 7, 0},
    {"rds:c-2023-12-31-23-59", 0, "rds:c-2024-01-01-00-00", 0, 0},
    /* same everything: not newer (strict) */
    {"rds:c-2024-01-01-00-00", 0, "rds:c-2024-01-01-00-00", 0, 0},
};

static void test_discover_newer_rule(void)
{
    char err[SL_ERRLEN];

    for (size_t i = 0; i < SL_ARRAY_LEN(newer_cases); i++) {
        const newer_case *c = &newer_cases[i];
        sl_rds_snapshot a = snap(c->a_id, "c", "available", "automated", c->a_ms);
        sl_rds_snapshot b = snap(c->b_id, "c", "available", "automated", c->b_ms);
        sl_snapshot_id ia, ib;

        CHECK_INT(sl_ids_parse_snapshot(a.id, &ia, err, sizeof(err)), 0);
        CHECK_INT(sl_ids_parse_snapshot(b.id, &ib, err, sizeof(err)), 0);
        if (sl_discover_newer(&a, &ia, &b, &ib) != c->a_newer)
            fprintf(stderr, "newer case %zu\n", i);
        CHECK_INT(sl_discover_newer(&a, &ia, &b, &ib), c->a_newer);
    }
}

static void test_discover_cluster_list_and_bad_ids(void)
{
    sl_rds_snapshot in[] = {
        snap("rds:prod-2024-02-29-03-05", "prod", "available", "automated", 0),
        /* `prod` must not admit `prod-2` here (exact match, unlike the event allowlist) */
        snap("rds:prod-2-2024-02-29-03-05", "prod-2", "available", "automated", 0),
        snap("rds:prod-2024-02-30-03-05", "prod", "available", "automated", 0),  /* no such day */
        snap("rds:other-2024-02-29-03-05", "prod", "available", "automated", 0), /* mismatch */
        snap("rds:stage-2024-02-28-03-05", "stage", "available", "automated", 0),
        snap("rds:stage-2024-02-29-25-05", "stage", "available", "automated", 0), /* bad hour */
    };
    const char *clusters[] = {"prod", NULL, "stage", "absent"};
    sl_discover_result r;
    char err[SL_ERRLEN];

    CHECK_INT(sl_discover_select(in, SL_ARRAY_LEN(in), clusters, SL_ARRAY_LEN(clusters), &r, err,
                                 sizeof(err)),
              0);
    CHECK_INT(r.npicks, 2);
    CHECK_STR(r.picks[0].id.cluster, "prod");
    CHECK_INT(r.picks[0].index, 0);
    CHECK_STR(r.picks[1].id.cluster, "stage");
    CHECK_INT(r.picks[1].index, 4);
    CHECK_INT(r.verdicts[1], SL_DISCOVER_NOT_LISTED);
    CHECK_INT(r.verdicts[2], SL_DISCOVER_BAD_ID);
    CHECK_INT(r.verdicts[3], SL_DISCOVER_CLUSTER_MISMATCH);
    CHECK_INT(r.verdicts[5], SL_DISCOVER_BAD_ID);
    sl_discover_result_cleanup(&r);
}

static void test_discover_empty_and_names(void)
{
    sl_discover_result r;
    char err[SL_ERRLEN];
    sl_rds_snapshot one = snap("rds:x-2024-01-01-00-00", "x", "creating", "automated", 0);

    CHECK_INT(sl_discover_select(NULL, 0, NULL, 0, &r, err, sizeof(err)), 0);
    CHECK_INT(r.npicks, 0);
    CHECK(r.verdicts == NULL);
    sl_discover_result_cleanup(&r);
    CHECK_INT(sl_discover_select(&one, 1, NULL, 0, &r, err, sizeof(err)), 0);
    CHECK_INT(r.npicks, 0);
    CHECK_INT(r.verdicts[0], SL_DISCOVER_NOT_AVAILABLE);
    sl_discover_result_cleanup(&r);
    CHECK_STR(sl_discover_verdict_name(SL_DISCOVER_PICKED), "picked");
    CHECK_STR(sl_discover_verdict_name(SL_DISCOVER_NOT_LISTED), "cluster not listed");
    CHECK_STR(sl_discover_verdict_name((sl_discover_verdict)99), "?");
}

static const sl_test tests[] = {
    SL_TEST(test_frame_shapes_whole),
    SL_TEST(test_frame_shapes_chunked),
    SL_TEST(test_frame_incremental),
    SL_TEST(test_frame_feed_contract),
    SL_TEST(test_frame_oversize),
    SL_TEST(test_frame_unterminated_array),
    SL_TEST(test_frame_cap_bounds),
    SL_TEST(test_discover_newest_per_cluster),
    SL_TEST(test_discover_order_independent),
    SL_TEST(test_discover_newer_rule),
    SL_TEST(test_discover_cluster_list_and_bad_ids),
    SL_TEST(test_discover_empty_and_names),
};

SL_TEST_MAIN(tests)
