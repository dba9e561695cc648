/* test_copy_plan.c - the copy stage's pure logic: destination set, stale set of partition
 * replacement, reported tables and table names, multipart completion body and UploadId,
 * rates. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/copy_plan.h"
#include "keymap.h"
#include "msg.h"

#define ROOT "s3-export/orders/2024-01-02/orders-2024-01-02-03-04"
#define DIR_U "lake/orders/mydb/public.users/date=2024-01-02/"
#define DIR_O "lake/orders/mydb/public.orders/date=2024-01-02/"

static const sl_keymap_ctx ctx = {ROOT, "lake", "orders", "2024-01-02"};

/* Maps and plans keys as copy.c does; returns the number of entries filled. */
static size_t map_all(const char *const *keys, size_t n, sl_keymap_entry *out)
{
    char err[SL_ERRLEN];
    size_t k = 0;

    for (size_t i = 0; i < n; i++) {
        if (sl_keymap_map(&ctx, keys[i], &out[k], err, sizeof(err)) != 0)
            return 0;
        k++;
    }
    if (sl_keymap_plan(out, k, NULL, err, sizeof(err)) != 0)
        return 0;
    return k;
}

static void cleanup_all(sl_keymap_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_keymap_entry_cleanup(&e[i]);
}

/* The export every stale-set case runs against: two tables, current convention with a name
 * shared by two partitions (renamed by the plan), plus metadata that is never a destination. */
static const char *const export_keys[] = {
    ROOT "/mydb/public.users/1/part-00000-a.gz.parquet",
    ROOT "/mydb/public.users/2/part-00000-a.gz.parquet",
    ROOT "/mydb/public.users/2/part-00001-b.gz.parquet",
    ROOT "/mydb/public.orders/part-00000-c.gz.parquet",
    ROOT "/mydb/public.orders/_SUCCESS",
    ROOT "/export_info_orders-2024-01-02-03-04.json",
    ROOT "/export_tables_info_orders-2024-01-02-03-04_from_1_to_2.json",
};

static void test_destset_holds_planned_destinations(void)
{
    sl_keymap_entry e[SL_ARRAY_LEN(export_keys)];
    sl_copy_destset s;
    char err[SL_ERRLEN];
    size_t n = map_all(export_keys, SL_ARRAY_LEN(export_keys), e);

    CHECK_INT(n, SL_ARRAY_LEN(export_keys));
    CHECK(sl_copy_destset_init(&s, e, n, err, sizeof(err)) == 0);
    CHECK_INT(s.n, 4);
    /* The plan renamed the shared name; the plain name is no destination any more. */
    CHECK(sl_copy_destset_has(&s, DIR_U "1-part-00000-a.gz.parquet"));
    CHECK(sl_copy_destset_has(&s, DIR_U "2-part-00000-a.gz.parquet"));
    CHECK(sl_copy_destset_has(&s, DIR_U "part-00001-b.gz.parquet"));
    CHECK(sl_copy_destset_has(&s, DIR_O "part-00000-c.gz.parquet"));
    CHECK(!sl_copy_destset_has(&s, DIR_U "part-00000-a.gz.parquet"));
    CHECK(!sl_copy_destset_has(&s, ROOT "/mydb/public.orders/_SUCCESS"));
    CHECK(!sl_copy_destset_has(&s, ""));
    CHECK(!sl_copy_destset_has(&s, NULL));
    for (size_t i = 1; i < s.n; i++)
        CHECK(strcmp(s.keys[i - 1], s.keys[i]) <= 0);
    sl_copy_destset_cleanup(&s);
    CHECK(s.keys == NULL && s.n == 0);
    sl_copy_destset_cleanup(&s);
    sl_copy_destset_cleanup(NULL);
    cleanup_all(e, n);
}

/* Files of a table export_tables_info reports as not COMPLETE are left out, by db and table. */
static void test_in_failed_table(void)
{
    sl_msg_table_failure failed[] = {{"appdb/audit.log", "FAILED"}, {"shop/orders", "CANCELED"}};
    static const struct {
        const char *db, *table;
        int want;
    } rows[] = {
        {"appdb", "audit.log", 1},   {"appdb", "public.users", 0}, {"shop", "orders", 1},
        {"appdb2", "audit.log", 0},  {"app", "db/audit.log", 0},   {"appdb", "audit.lo", 0},
        {"appdb", "audit.log.x", 0}, {"shop", "orders2", 0},       {NULL, "orders", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        sl_keymap_entry e;
        memset(&e, 0, sizeof(e));
        e.db = (char *)rows[i].db;
        e.table = (char *)rows[i].table;
        CHECK_INT(sl_copy_plan_in_failed_table(&e, failed, 2), rows[i].want);
        CHECK_INT(sl_copy_plan_in_failed_table(&e, failed, 0), 0);
    }
}

static void test_destset_empty(void)
{
    sl_copy_destset s;
    char err[SL_ERRLEN];

    CHECK(sl_copy_destset_init(&s, NULL, 0, err, sizeof(err)) == 0);
    CHECK_INT(s.n, 0);
    CHECK(!sl_copy_destset_has(&s, DIR_U "x"));
    sl_copy_destset_cleanup(&s);
}

typedef struct stale_case {
    const char *name;
    const char *prefix;
    const char *listed[8];
    const char *stale[8]; /* expected, in listing order */
} stale_case;

static const stale_case stale_cases[] = {
    {"only this export's files",
     DIR_U,
     {DIR_U "1-part-00000-a.gz.parquet", DIR_U "2-part-00000-a.gz.parquet",
      DIR_U "part-00001-b.gz.parquet"},
     {NULL}},
    {"an older export's files are stale",
     DIR_U,
     {DIR_U "1-part-00000-a.gz.parquet", DIR_U "part-00000-a.gz.parquet",
      DIR_U "part-00009-old.gz.parquet", DIR_U "part-00001-b.gz.parquet"},
     {DIR_U "part-00000-a.gz.parquet", DIR_U "part-00009-old.gz.parquet"}},
    {"anything in the folder that is not ours, subfolders too",
     DIR_U,
     {DIR_U "notes.txt", DIR_U "sub/part-00000-a.gz.parquet", DIR_U "2-part-00000-a.gz.parquet"},
     {DIR_U "notes.txt", DIR_U "sub/part-00000-a.gz.parquet"}},
    {"another table's destination is stale in this folder",
     DIR_U,
     {DIR_U "part-00000-c.gz.parquet"},
     {DIR_U "part-00000-c.gz.parquet"}},
    {"keys outside the folder are never stale",
     DIR_U,
     {DIR_O "part-00009-old.gz.parquet", "lake/orders/mydb/public.users/date=2024-01-01/x",
      "lake/orders/mydb/public.users/date=2024-01-02", DIR_U, "elsewhere", "", DIR_U "zzz"},
     {DIR_U "zzz"}},
    {"a prefix that is a string prefix but another folder",
     "lake/orders/mydb/public.users/date=2024-01-0",
     {"lake/orders/mydb/public.users/date=2024-01-03/x"},
     {"lake/orders/mydb/public.users/date=2024-01-03/x"}},
    {"empty prefix deletes nothing", "", {DIR_U "notes.txt", "other"}, {NULL}},
    {"NULL prefix deletes nothing", NULL, {DIR_U "notes.txt"}, {NULL}},
    {"empty listing", DIR_O, {NULL}, {NULL}},
};

static size_t count(const char *const *v, size_t max)
{
    size_t n = 0;
    while (n < max && v[n])
        n++;
    return n;
}

static void test_stale_table(void)
{
    sl_keymap_entry e[SL_ARRAY_LEN(export_keys)];
    sl_copy_destset s;
    char err[SL_ERRLEN];
    size_t n = map_all(export_keys, SL_ARRAY_LEN(export_keys), e);
    int bad = 0;

    CHECK_INT(n, SL_ARRAY_LEN(export_keys));
    CHECK(sl_copy_destset_init(&s, e, n, err, sizeof(err)) == 0);
    for (size_t c = 0; c < SL_ARRAY_LEN(stale_cases); c++) {
        const stale_case *tc = &stale_cases[c];
        const char **out = NULL;
        size_t nout = 0, nl = count(tc->listed, 8), ns = count(tc->stale, 8);

        if (sl_copy_plan_stale(&s, tc->prefix, tc->listed, nl, &out, &nout, err, sizeof(err))) {
            fprintf(stderr, "case '%s': %s\n", tc->name, err);
            bad = 1;
        } else if (nout != ns) {
            fprintf(stderr, "case '%s': %zu stale, expected %zu\n", tc->name, nout, ns);
            bad = 1;
        } else {
            for (size_t i = 0; i < ns; i++)
                if (strcmp(out[i], tc->stale[i]) != 0) {
                    fprintf(stderr, "case '%s': stale[%zu] = '%s', expected '%s'\n", tc->name, i,
                            out[i], tc->stale[i]);
                    bad = 1;
                }
        }
        free((void *)out);
    }
    sl_copy_destset_cleanup(&s);
    cleanup_all(e, n);
    CHECK(!bad);
}

/* Several listing pages append to the same result. */
static void test_stale_appends_across_pages(void)
{
    sl_keymap_entry e[SL_ARRAY_LEN(export_keys)];
    sl_copy_destset s;
    char err[SL_ERRLEN];
    size_t n = map_all(export_keys, SL_ARRAY_LEN(export_keys), e);
    const char *page1[] = {DIR_U "old-1", DIR_U "part-00001-b.gz.parquet"};
    const char *page2[] = {DIR_U "2-part-00000-a.gz.parquet", DIR_U "old-2"};
    const char *page3[] = {DIR_O "old-3", DIR_O "part-00000-c.gz.parquet"};
    const char **out = NULL;
    size_t nout = 0;

    CHECK(sl_copy_destset_init(&s, e, n, err, sizeof(err)) == 0);
    CHECK(sl_copy_plan_stale(&s, DIR_U, page1, 2, &out, &nout, err, sizeof(err)) == 0);
    CHECK(sl_copy_plan_stale(&s, DIR_U, page2, 2, &out, &nout, err, sizeof(err)) == 0);
    CHECK(sl_copy_plan_stale(&s, DIR_O, page3, 2, &out, &nout, err, sizeof(err)) == 0);
    CHECK_INT(nout, 3);
    CHECK_STR(out[0], DIR_U "old-1");
    CHECK_STR(out[1], DIR_U "old-2");
    CHECK_STR(out[2], DIR_O "old-3");
    free((void *)out);
    sl_copy_destset_cleanup(&s);
    cleanup_all(e, n);
}

/* A re-export of the same day with other file names: every old file is stale, none of the
 * new ones is. This is the property that keeps a re-export from doubling rows. */
static void test_stale_reexport_replaces_day(void)
{
    static const char *const a_keys[] = {
        ROOT "/mydb/public.users/part-00000-aaaa.gz.parquet",
        ROOT "/mydb/public.users/part-00001-aaaa.gz.parquet",
    };
    static const char *const b_keys[] = {
        "s3-export/orders/2024-01-02/orders-2024-01-02-03-04/mydb/public.users/"
        "part-00000-bbbb.gz.parquet",
    };
    sl_keymap_entry ea[2], eb[1];
    sl_copy_destset sb;
    const char *listed[3];
    const char **out = NULL;
    size_t nout = 0;
    char err[SL_ERRLEN];

    CHECK_INT(map_all(a_keys, 2, ea), 2);
    CHECK_INT(map_all(b_keys, 1, eb), 1);
    CHECK(sl_copy_destset_init(&sb, eb, 1, err, sizeof(err)) == 0);
    listed[0] = ea[0].dest;
    listed[1] = ea[1].dest;
    listed[2] = eb[0].dest;
    CHECK(sl_copy_plan_stale(&sb, eb[0].dest_dir, listed, 3, &out, &nout, err, sizeof(err)) == 0);
    CHECK_INT(nout, 2);
    CHECK_STR(out[0], DIR_U "part-00000-aaaa.gz.parquet");
    CHECK_STR(out[1], DIR_U "part-00001-aaaa.gz.parquet");
    free((void *)out);
    /* Run again (redelivery): B's own files are still not stale. */
    out = NULL;
    nout = 0;
    CHECK(sl_copy_plan_stale(&sb, eb[0].dest_dir, &listed[2], 1, &out, &nout, err, sizeof(err)) ==
          0);
    CHECK_INT(nout, 0);
    CHECK(out == NULL);
    sl_copy_destset_cleanup(&sb);
    cleanup_all(ea, 2);
    cleanup_all(eb, 1);
}

static void test_tables_sorted_distinct(void)
{
    static const char *const keys[] = {
        ROOT "/mydb/public.users/1/part-00000-a.gz.parquet",
        ROOT "/zdb/s.t/part-00000-z.gz.parquet",
        ROOT "/mydb/public.orders/part-00000-c.gz.parquet",
        ROOT "/mydb/public.users/2/part-00001-b.gz.parquet",
        ROOT "/mydb/public.users/_SUCCESS",
        ROOT "/export_info_orders-2024-01-02-03-04.json",
    };
    sl_keymap_entry e[SL_ARRAY_LEN(keys)];
    char **t = NULL;
    size_t nt = 0, n = map_all(keys, SL_ARRAY_LEN(keys), e);
    char err[SL_ERRLEN];

    CHECK_INT(n, SL_ARRAY_LEN(keys));
    CHECK(sl_copy_plan_tables(e, n, &t, &nt, err, sizeof(err)) == 0);
    CHECK_INT(nt, 3);
    CHECK_STR(t[0], "mydb/public.orders");
    CHECK_STR(t[1], "mydb/public.users");
    CHECK_STR(t[2], "zdb/s.t");
    sl_keymap_strv_free(t, nt);
    /* Only metadata: no tables. */
    CHECK(sl_copy_plan_tables(e + 4, 2, &t, &nt, err, sizeof(err)) == 0);
    CHECK_INT(nt, 0);
    CHECK(t == NULL);
    cleanup_all(e, n);
}

static void test_table_name_table(void)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"mydb.public.orders", "mydb/public.orders"},
        {"mydb.public.odd.name", "mydb/public.odd.name"},
        {"mydb", "mydb"},
        {"", ""},
        {".x", "/x"},
        {"caf\xc3\xa9.s.t", "caf\xc3\xa9/s.t"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char *s = sl_copy_plan_table_name(cases[i].in);
        int ok = s && strcmp(s, cases[i].out) == 0;
        if (!ok)
            fprintf(stderr, "table_name('%s') = '%s'\n", cases[i].in, s ? s : "(null)");
        free(s);
        CHECK(ok);
    }
    CHECK(sl_copy_plan_table_name(NULL) == NULL);
}

static void test_rate_table(void)
{
    static const struct {
        long long amount, ms;
        double want;
    } cases[] = {
        {0, 1000, 0.0},
        {1000, 1000, 1000.0},
        {9000, 360000, 25.0},
        {5, 0, 0.0},
        {5, -3, 0.0},
        {1, 4, 250.0},
        {3LL << 40, 1000, (double)(3LL << 40)},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        double r = sl_copy_plan_rate(cases[i].amount, cases[i].ms);
        double d = r - cases[i].want;
        if (d < 0)
            d = -d;
        CHECK(d < 1e-9 * (cases[i].want > 1 ? cases[i].want : 1));
    }
}

static void test_destset_find_gives_entry(void)
{
    sl_keymap_entry e[SL_ARRAY_LEN(export_keys)];
    size_t n = map_all(export_keys, SL_ARRAY_LEN(export_keys), e), idx = 99;
    sl_copy_destset s;
    char err[SL_ERRLEN];

    CHECK(n == SL_ARRAY_LEN(export_keys));
    CHECK(sl_copy_destset_init(&s, e, n, err, sizeof(err)) == 0);
    for (size_t i = 0; i < n; i++) {
        if (e[i].kind != SL_KEY_PARQUET)
            continue;
        CHECK(sl_copy_destset_find(&s, e[i].dest, &idx));
        CHECK(idx == i);
    }
    CHECK(!sl_copy_destset_find(&s, DIR_U "nope.parquet", &idx));
    sl_copy_destset_cleanup(&s);
    cleanup_all(e, n);
}

/* The restart rule: skip only what provably holds the source's bytes already. */
static void test_skip_table(void)
{
    static const struct {
        long long ssize;
        const char *setag;
        long long dsize;
        const char *detag;
        int multipart;
        sl_copy_skip want;
    } cases[] = {
        {100, "\"abc\"", 100, "\"abc\"", 0, SL_COPY_SKIP},  /* CopyObject: same size, ETag */
        {100, "\"abc\"", 101, "\"abc\"", 0, SL_COPY_DO},    /* size differs (partial/other) */
        {100, "\"abc\"", 100, "\"abd\"", 0, SL_COPY_DO},    /* other bytes (or SSE-KMS ETag) */
        {100, "\"abc\"", 100, "\"x-3\"", 1, SL_COPY_CHECK}, /* multipart: read the marker */
        {100, "\"abc\"", 99, "\"x-3\"", 1, SL_COPY_DO},     /* multipart, other size */
        {100, "\"a-2\"", 100, "\"a-2\"", 0, SL_COPY_SKIP},  /* multipart source copied whole */
        {100, "", 100, "", 0, SL_COPY_DO},                  /* no ETag listed: never guess */
        {100, NULL, 100, "\"abc\"", 0, SL_COPY_DO},
        {100, "\"abc\"", 100, NULL, 0, SL_COPY_DO},
        {100, "\"abc\"", 100, "", 1, SL_COPY_DO},
        {0, "\"d41d8cd98f00b204e9800998ecf8427e\"", 0, "\"d41d8cd98f00b204e9800998ecf8427e\"", 0,
         SL_COPY_SKIP}, /* empty object */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK(sl_copy_plan_skip(cases[i].ssize, cases[i].setag, cases[i].dsize, cases[i].detag,
                                cases[i].multipart) == cases[i].want);
}

static void test_marker_table(void)
{
    static const struct {
        const char *src, *marker;
        int want;
    } cases[] = {
        {"\"abc\"", "abc", 1},     /* the marker is stored without quotes */
        {"\"abc\"", "\"abc\"", 1}, /* tolerated with them */
        {"\"abc-4\"", "abc-4", 1}, /* a multipart source */
        {"\"abc\"", "abd", 0},
        {"\"abc\"", "", 0}, /* no marker (copied by an older version, or by hand) */
        {"", "", 0},
        {"\"\"", "", 0},
        {NULL, "abc", 0},
        {"\"abc\"", NULL, 0},
    };
    char bare[8];

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK(sl_copy_plan_marker_matches(cases[i].src, cases[i].marker) == cases[i].want);
    sl_copy_plan_etag_bare("\"0123456789\"", bare, sizeof(bare));
    CHECK(strcmp(bare, "0123456") == 0); /* truncated, never overrun */
}

static void test_time_ms_table(void)
{
    static const struct {
        const char *in;
        int rc;
        long long ms;
    } cases[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2024-03-05T03:04:00.000Z", 0, 1709607840000LL},
        {"2024-03-05T03:04:00.5Z", 0, 1709607840500LL},
        {"2024-03-05T03:04:00.123456Z", 0, 1709607840123LL},
        {"2024-03-05T04:04:00+01:00", 0, 1709607840000LL},
        {"2024-03-04T22:04:00-05:00", 0, 1709607840000LL},
        {"2024-03-05 03:04:00Z", 0, 1709607840000LL},
        {"2024-03-05T03:04:00", -1, 0},
        {"2024-03-05T03:04:00Zx", -1, 0},
        {"2024-13-05T03:04:00Z", -1, 0},
        {"2024-03-05T03:04:00.Z", -1, 0},
        {"yesterday", -1, 0},
        {"", -1, 0},
        {NULL, -1, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        long long ms = -7;
        CHECK(sl_copy_plan_time_ms(cases[i].in, &ms) == cases[i].rc);
        if (cases[i].rc == 0)
            CHECK(ms == cases[i].ms);
    }
}

static void test_snap_time_fallbacks(void)
{
    sl_msg m;
    long long ms;

    sl_msg_init(&m);
    m.produced_at = "2024-03-05T10:00:00.000Z";
    m.export_started_at = "2024-03-05T09:00:00.000Z";
    m.snapshot_time = "2024-03-05T03:00:00.000Z";
    sl_copy_plan_snap_time(&m, &ms);
    CHECK(ms == 1709607600000LL); /* the snapshot's own time first */
    m.snapshot_time = NULL;
    sl_copy_plan_snap_time(&m, &ms);
    CHECK(ms == 1709629200000LL); /* cluster mode: the export's start */
    m.export_started_at = "garbage";
    sl_copy_plan_snap_time(&m, &ms);
    CHECK(ms == 1709632800000LL);
    m.produced_at = NULL;
    sl_copy_plan_snap_time(&m, &ms);
    CHECK(ms == -1);
}

/* Newest wins: an older export never replaces the partition of a newer one. */
static void test_superseded_table(void)
{
    static const struct {
        long long mine_t;
        const char *mine_id;
        int has_holder;
        long long hold_t;
        const char *hold_id;
        int want;
    } cases[] = {
        {100, "exp-a", 0, 0, NULL, 0},      /* nothing recorded: take it */
        {100, "exp-a", 1, 200, "exp-b", 1}, /* holder newer: superseded */
        {200, "exp-b", 1, 100, "exp-a", 0}, /* holder older: replace it */
        {100, "exp-a", 1, 100, "exp-a", 0}, /* same export (redelivery): redo own copy */
        {100, "exp-a", 1, 100, "exp-b", 1}, /* same time: export id decides, bytewise */
        {100, "exp-b", 1, 100, "exp-a", 0},
        {-1, "exp-z", 1, 0, "exp-a", 1}, /* unknown time is the oldest */
        {0, "exp-a", 1, -1, "exp-z", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_copy_snap mine = {cases[i].mine_t, cases[i].mine_id};
        sl_copy_snap hold = {cases[i].hold_t, cases[i].hold_id};
        CHECK(sl_copy_plan_superseded(&mine, cases[i].has_holder ? &hold : NULL) == cases[i].want);
    }
    {
        sl_copy_snap a = {5, "x"}, b = {5, "y"};
        CHECK(sl_copy_plan_snap_cmp(&a, &b) < 0 && sl_copy_plan_snap_cmp(&b, &a) > 0);
        CHECK(sl_copy_plan_snap_cmp(&a, &a) == 0);
    }
}

/* A `copied` message of an export with thousands of tables (and failed tables with long
   reasons) is cut to fit SL_MSG_MAX_BYTES with whole counts, where the unbounded one does
   not encode within the limit at all. */
static void test_bound_msg_thousands_of_tables(void)
{
    enum { NT = 6000, NF = 3000 };
    sl_msg m;
    char err[SL_ERRLEN], *text = NULL, name[300], reason[2100];
    size_t len = 0;

    sl_msg_init(&m);
    m.type = SL_MSG_COPIED;
    m.run_id = strdup("c-2024-03-05-03-04");
    m.cluster = strdup("c");
    m.mode = strdup("snapshot");
    m.snapshot_id = strdup("rds:c-2024-03-05-03-04");
    m.source_arn = strdup("arn:aws:rds:us-east-1:123456789012:cluster-snapshot:x");
    m.date = strdup("2024-03-05");
    m.source = strdup("event");
    m.produced_at = strdup("2024-03-05T03:04:00.000Z");
    m.export_task_id = strdup("exp-1");
    m.s3_bucket = strdup("b");
    m.s3_prefix = strdup("");
    m.lake_bucket = strdup("lake");
    m.lake_prefix = strdup("");
    m.copied_at = strdup("2024-03-05T03:04:00.000Z");
    m.objects = m.bytes = m.removed = m.skipped = SL_MSG_COUNT_MAX;
    m.tables = calloc(NT, sizeof(*m.tables));
    m.failed_tables = calloc(NF, sizeof(*m.failed_tables));
    CHECK(m.tables && m.failed_tables);
    memset(name, 'n', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    for (int i = 0; i < NT; i++) {
        snprintf(name, sizeof(name), "db/schema_%05d.%0250d", i, 0);
        CHECK((m.tables[m.ntables++] = strdup(name)) != NULL);
    }
    /* Reasons of 2,000 bytes ending in a 3-byte UTF-8 character, cut on its boundary. */
    memset(reason, 'r', sizeof(reason));
    for (int i = 0; i < NF; i++) {
        snprintf(name, sizeof(name), "db/failed_%05d.t", i);
        memcpy(reason + 510, "\xe6\x97\xa5", 3); /* bytes 510..512 */
        reason[2000] = '\0';
        m.failed_tables[m.nfailed_tables].table = strdup(name);
        m.failed_tables[m.nfailed_tables].reason = strdup(reason);
        CHECK(m.failed_tables[m.nfailed_tables].table && m.failed_tables[m.nfailed_tables].reason);
        m.nfailed_tables++;
    }
    /* What the copy used to build, after deleting: too large to encode for the next stage
       (the runtime then turned the finished copy into a permanent failure). */
    if (sl_msg_encode(&m, &text, &len, err, sizeof(err)) == 0)
        CHECK(len > SL_MSG_MAX_BYTES);
    free(text);
    text = NULL;

    CHECK(sl_copy_plan_bound_msg(&m, 2000, 500, 512, SL_MSG_MAX_BYTES - 4096, err, sizeof(err)) ==
          0);
    CHECK(m.tables_total == NT && m.failed_tables_total == NF);
    CHECK(m.ntables > 0 && m.ntables <= 2000 && m.nfailed_tables <= 500);
    CHECK(strcmp(m.tables[0], "db/schema_00000.") > 0); /* the first ones are kept */
    for (size_t i = 0; i < m.nfailed_tables; i++)
        CHECK(strlen(m.failed_tables[i].reason) == 510); /* not inside the character */
    CHECK(sl_msg_encode(&m, &text, &len, err, sizeof(err)) == 0);
    CHECK(len <= SL_MSG_MAX_BYTES - 4096);
    {
        sl_msg back;
        CHECK(sl_msg_decode(text, len, &back, err, sizeof(err)) == 0);
        CHECK(back.tables_total == NT && back.failed_tables_total == NF);
        CHECK(sl_msg_equal(&m, &back));
        sl_msg_cleanup(&back);
    }
    free(text);

    /* A limit nothing can meet fails (before anything destructive), it does not loop. */
    CHECK(sl_copy_plan_bound_msg(&m, 2000, 500, 512, 100, err, sizeof(err)) == -1);
    CHECK(strstr(err, "even without") != NULL);
    sl_msg_cleanup(&m);
}

static void test_bound_msg_small_untouched(void)
{
    sl_msg m;
    char err[SL_ERRLEN];

    sl_msg_init(&m);
    m.type = SL_MSG_COPIED;
    m.run_id = strdup("r");
    m.cluster = strdup("c");
    m.mode = strdup("cluster");
    m.source_arn = strdup("arn:aws:rds:us-east-1:123456789012:cluster:c");
    m.date = strdup("2024-03-05");
    m.source = strdup("cluster");
    m.produced_at = strdup("2024-03-05T03:04:00.000Z");
    m.export_task_id = strdup("exp-1");
    m.s3_bucket = strdup("b");
    m.s3_prefix = strdup("");
    m.lake_bucket = strdup("lake");
    m.lake_prefix = strdup("");
    m.copied_at = strdup("2024-03-05T03:04:00.000Z");
    m.tables = calloc(2, sizeof(*m.tables));
    CHECK(m.tables);
    m.tables[m.ntables++] = strdup("db/a.b");
    m.tables[m.ntables++] = strdup("db/a.c");
    CHECK(sl_copy_plan_bound_msg(&m, 2000, 500, 512, SL_MSG_MAX_BYTES, err, sizeof(err)) == 0);
    CHECK(m.ntables == 2 && m.tables_total == 2 && m.failed_tables_total == 0);
    sl_msg_cleanup(&m);
}

/* job_cleanup only queues aborts (bounded); tick pops them oldest first. */
/* Strings of any length land whole and stay put while later ones are added (the blocks grow,
   nothing moves); cleanup leaves the arena usable. */
static void test_arena_keeps_strings(void)
{
    sl_copy_arena a;
    const char *p[300];
    char big[3000], want[64];

    sl_copy_arena_init(&a);
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    for (int i = 0; i < 300; i++) {
        snprintf(want, sizeof(want), "key-%03d", i);
        p[i] = i == 150 ? sl_copy_arena_put(&a, big, NULL) : sl_copy_arena_put(&a, want, "/x");
        CHECK(p[i] != NULL);
    }
    for (int i = 0; i < 300; i++) {
        snprintf(want, sizeof(want), "key-%03d/x", i);
        if (i == 150)
            CHECK_INT((long long)strlen(p[i]), (long long)sizeof(big) - 1);
        else
            CHECK_STR(p[i], want);
    }
    CHECK(a.bytes >= 300 * 10 + sizeof(big));
    CHECK(a.bytes < 300 * 10 + sizeof(big) + 128 * 1024); /* packed, not a block per string */
    CHECK_STR(sl_copy_arena_put(&a, "", NULL), "");
    sl_copy_arena_cleanup(&a);
    CHECK_INT((long long)a.bytes, 0);
    CHECK_STR(sl_copy_arena_put(&a, "again", NULL), "again");
    sl_copy_arena_cleanup(&a);
    sl_copy_arena_cleanup(NULL);
}

/* The tables list keeps the first `max` names in bytewise order whatever order they come in
   (the listing's order of `db/table/` folders is not the order of `db/table` names), once. */
static void test_tables_add_keeps_first_sorted(void)
{
    static const char *const in[] = {"a/t.x", "a/t", "b/u", "a/s", "a/t", "c/v", "a/r"};
    static const int kept[] = {1, 1, 1, 1, 0, 0, 1};
    static const char *const want[] = {"a/r", "a/s", "a/t", "a/t.x"};
    char **v = NULL;
    size_t n = 0, cap = 0;

    for (size_t i = 0; i < SL_ARRAY_LEN(in); i++)
        CHECK_INT(sl_copy_plan_tables_add(&v, &n, &cap, 4, in[i]), kept[i]);
    CHECK_INT((long long)n, 4);
    for (size_t i = 0; i < n; i++)
        CHECK_STR(v[i], want[i]);
    sl_keymap_strv_free(v, n);
    v = NULL;
    n = cap = 0;
    CHECK_INT(sl_copy_plan_tables_add(&v, &n, &cap, 0, "a/t"), 0);
    CHECK_INT((long long)n, 0);
    free(v);
}

static void test_abort_queue(void)
{
    sl_copy_abortq q;
    sl_copy_abort a;
    char key[32];

    sl_copy_abortq_init(&q, 3);
    CHECK(sl_copy_abortq_pop(&q, &a) == -1);
    for (int i = 0; i < 5; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        CHECK(sl_copy_abortq_push(&q, "lake", key, "up") == (i < 3 ? 0 : 1));
    }
    CHECK(q.n == 3 && q.dropped == 2);
    CHECK(sl_copy_abortq_pop(&q, &a) == 0);
    CHECK(strcmp(a.key, "k0") == 0 && strcmp(a.bucket, "lake") == 0 &&
          strcmp(a.upload_id, "up") == 0);
    sl_copy_abort_cleanup(&a);
    CHECK(sl_copy_abortq_push(&q, "lake", "k9", "up2") == 0); /* room again */
    CHECK(sl_copy_abortq_pop(&q, &a) == 0 && strcmp(a.key, "k1") == 0);
    sl_copy_abort_cleanup(&a);
    sl_copy_abortq_cleanup(&q); /* frees k2 and k9 */
    CHECK(q.n == 0 && q.v == NULL);
}

static const sl_test tests[] = {
    SL_TEST(test_destset_holds_planned_destinations),
    SL_TEST(test_destset_empty),
    SL_TEST(test_in_failed_table),
    SL_TEST(test_stale_table),
    SL_TEST(test_stale_appends_across_pages),
    SL_TEST(test_stale_reexport_replaces_day),
    SL_TEST(test_tables_sorted_distinct),
    SL_TEST(test_table_name_table),
    SL_TEST(test_rate_table),
    SL_TEST(test_destset_find_gives_entry),
    SL_TEST(test_skip_table),
    SL_TEST(test_marker_table),
    SL_TEST(test_time_ms_table),
    SL_TEST(test_snap_time_fallbacks),
    SL_TEST(test_superseded_table),
    SL_TEST(test_bound_msg_thousands_of_tables),
    SL_TEST(test_bound_msg_small_untouched),
    SL_TEST(test_abort_queue),
    SL_TEST(test_arena_keeps_strings),
    SL_TEST(test_tables_add_keeps_first_sorted),
};

SL_TEST_MAIN(tests)
