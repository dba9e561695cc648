/* test_keymap.c - export key classification and mapping, collision plan, date prefixes and
 * the export_tables_info reader. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.h"

#define ROOT "s3-export/orders/2024-01-02/orders-2024-01-02-03-04"
#define LAKE "lake/orders/mydb"

static const sl_keymap_ctx ctx = {ROOT "/", "lake", "orders", "2024-01-02"};

typedef struct map_case {
    const char *key;
    sl_key_kind kind;
    const char *dest;      /* PARQUET */
    const char *partition; /* PARQUET */
    const char *reason;    /* REJECTED: substring */
} map_case;

static const map_case map_cases[] = {
    /* Current convention. */
    {ROOT "/mydb/public.users/1/part-00000-7d1f.gz.parquet", SL_KEY_PARQUET,
     LAKE "/public.users/date=2024-01-02/part-00000-7d1f.gz.parquet", "1", NULL},
    {ROOT "/mydb/public.users/12/part-00003-aa.gz.parquet", SL_KEY_PARQUET,
     LAKE "/public.users/date=2024-01-02/part-00003-aa.gz.parquet", "12", NULL},
    /* Previous convention. */
    {ROOT "/mydb/public.users/part-00000-7d1f.gz.parquet", SL_KEY_PARQUET,
     LAKE "/public.users/date=2024-01-02/part-00000-7d1f.gz.parquet", NULL, NULL},
    /* Raw bytes survive: spaces, + % = ~ and UTF-8, never decoded or re-encoded. */
    {ROOT "/my db/sch\xc3\xa9ma.t a+b%20c=d~e/3/part 0+%2B=~\xe6\x97\xa5.gz.parquet",
     SL_KEY_PARQUET,
     "lake/orders/my db/sch\xc3\xa9ma.t a+b%20c=d~e/date=2024-01-02/part "
     "0+%2B=~\xe6\x97\xa5.gz.parquet",
     "3", NULL},
    {ROOT "/mydb/public.users/1/_SUCCESS", SL_KEY_SUCCESS, NULL, NULL, NULL},
    {ROOT "/mydb/public.users/_SUCCESS", SL_KEY_SUCCESS, NULL, NULL, NULL},
    {ROOT "/export_info_orders-2024-01-02-03-04.json", SL_KEY_EXPORT_INFO, NULL, NULL, NULL},
    {ROOT "/export_tables_info_orders-2024-01-02-03-04_from_1_to_3.json", SL_KEY_TABLES_INFO, NULL,
     NULL, NULL},
    {ROOT "/mydb/export_info_x.json", SL_KEY_OTHER, NULL, NULL, NULL},
    {ROOT "/mydb/public.users/1/part-00000.parquet", SL_KEY_OTHER, NULL, NULL, NULL},
    {ROOT "/mydb/public.users/1/part-00000.gz.parquet.tmp", SL_KEY_OTHER, NULL, NULL, NULL},
    {ROOT "/notes.txt", SL_KEY_OTHER, NULL, NULL, NULL},
    /* Rejected. */
    {"s3-export/orders/2024-01-02/orders-2024-01-02-03-05/mydb/t/p.gz.parquet", SL_KEY_REJECTED,
     NULL, NULL, "outside"},
    {ROOT "x/mydb/t/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "outside"},
    {"other/" ROOT "/mydb/t/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "outside"},
    {ROOT, SL_KEY_REJECTED, NULL, NULL, "outside"},
    {ROOT "/", SL_KEY_REJECTED, NULL, NULL, "export folder itself"},
    {ROOT "//mydb/t/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "empty path segment"},
    {ROOT "/mydb//t/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "empty path segment"},
    {ROOT "/mydb/t/1/", SL_KEY_REJECTED, NULL, NULL, "empty path segment"},
    {ROOT "/mydb/../t/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "`..`"},
    {ROOT "/./t/x/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "`..`"},
    {ROOT "/mydb/t/1/2/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "too deep"},
    {ROOT "/a/b/c/d/_SUCCESS", SL_KEY_REJECTED, NULL, NULL, "too deep"},
    {ROOT "/mydb/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "too shallow"},
    {ROOT "/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "too shallow"},
    {ROOT "/mydb/t/x1/p.gz.parquet", SL_KEY_REJECTED, NULL, NULL, "not a number"},
};

static void test_map_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(map_cases); i++) {
        const map_case *c = &map_cases[i];
        sl_keymap_entry e;
        char err[SL_ERRLEN];
        CHECK_INT(sl_keymap_map(&ctx, c->key, &e, err, sizeof(err)), 0);
        if (e.kind != c->kind)
            fprintf(stderr, "case %zu (%s): kind %d reason %s\n", i, c->key, (int)e.kind, e.reason);
        CHECK_INT(e.kind, c->kind);
        if (c->kind == SL_KEY_REJECTED) {
            CHECK(strstr(e.reason, c->reason) != NULL);
            CHECK(e.src == NULL && e.dest == NULL);
            continue;
        }
        CHECK_STR(e.src, c->key);
        if (c->kind == SL_KEY_PARQUET) {
            CHECK_STR(e.dest, c->dest);
            CHECK(strncmp(e.dest, e.dest_dir, strlen(e.dest_dir)) == 0);
            CHECK_STR(e.dest + strlen(e.dest_dir), e.file);
            if (c->partition)
                CHECK_STR(e.partition, c->partition);
            else
                CHECK(e.partition == NULL);
        } else {
            CHECK(e.dest == NULL);
        }
        sl_keymap_entry_cleanup(&e);
    }
    sl_keymap_entry_cleanup(NULL);
}

static void test_lake_prefix_forms(void)
{
    static const struct {
        const char *lake, *dest;
    } cases[] = {
        {NULL, "orders/d/s.t/date=2024-01-02/p.gz.parquet"},
        {"", "orders/d/s.t/date=2024-01-02/p.gz.parquet"},
        {"/", "orders/d/s.t/date=2024-01-02/p.gz.parquet"},
        {"/lake/", "lake/orders/d/s.t/date=2024-01-02/p.gz.parquet"},
        {"a/b", "a/b/orders/d/s.t/date=2024-01-02/p.gz.parquet"},
    };
    char err[SL_ERRLEN];

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_keymap_ctx c = {ROOT, cases[i].lake, "orders", "2024-01-02"};
        sl_keymap_entry e;
        CHECK_INT(sl_keymap_map(&c, ROOT "/d/s.t/p.gz.parquet", &e, err, sizeof(err)), 0);
        CHECK_STR(e.dest, cases[i].dest);
        sl_keymap_entry_cleanup(&e);
    }
    {
        sl_keymap_ctx bad = {ROOT, "a//b", "orders", "2024-01-02"};
        sl_keymap_entry e;
        CHECK_INT(sl_keymap_map(&bad, ROOT "/d/s.t/p.gz.parquet", &e, err, sizeof(err)), -1);
        bad.lake_prefix = "a/../b";
        CHECK_INT(sl_keymap_map(&bad, ROOT "/d/s.t/p.gz.parquet", &e, err, sizeof(err)), -1);
        bad.lake_prefix = NULL;
        bad.date = "2024-02-30";
        CHECK_INT(sl_keymap_map(&bad, ROOT "/d/s.t/p.gz.parquet", &e, err, sizeof(err)), -1);
        bad.date = "2024-02-29";
        bad.cluster = "Orders";
        CHECK_INT(sl_keymap_map(&bad, ROOT "/d/s.t/p.gz.parquet", &e, err, sizeof(err)), -1);
    }
}

static void test_key_length_cap(void)
{
    char key[SL_KEYMAP_KEY_MAX + 16], err[SL_ERRLEN];
    sl_keymap_entry e;
    size_t n = strlen(ROOT "/d/t/");

    memcpy(key, ROOT "/d/t/", n);
    memset(key + n, 'x', sizeof(key) - n - 1);
    key[sizeof(key) - 1] = '\0';
    memcpy(key + sizeof(key) - 1 - strlen(".gz.parquet"), ".gz.parquet", strlen(".gz.parquet"));
    CHECK_INT(sl_keymap_map(&ctx, key, &e, err, sizeof(err)), 0);
    CHECK_INT(e.kind, SL_KEY_REJECTED);
    CHECK(strstr(e.reason, "1024") != NULL);
}

static int map_all(const char *const *keys, size_t n, sl_keymap_entry *out)
{
    char err[SL_ERRLEN];
    for (size_t i = 0; i < n; i++)
        if (sl_keymap_map(&ctx, keys[i], &out[i], err, sizeof(err)))
            return -1;
    return 0;
}

static void cleanup_all(sl_keymap_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sl_keymap_entry_cleanup(&e[i]);
}

static const char *dest_of(const sl_keymap_entry *e, size_t n, const char *src)
{
    for (size_t i = 0; i < n; i++)
        if (e[i].src && strcmp(e[i].src, src) == 0)
            return e[i].dest;
    return NULL;
}

static void test_plan_collisions(void)
{
    static const char *const keys[] = {
        ROOT "/mydb/public.t/1/part-00000-a.gz.parquet",
        ROOT "/mydb/public.t/2/part-00000-a.gz.parquet",
        ROOT "/mydb/public.t/3/part-00001-b.gz.parquet",
        ROOT "/mydb/public.u/1/part-00000-a.gz.parquet", /* other table: no collision */
        ROOT "/mydb/public.t/1/_SUCCESS",
        ROOT "/export_info_x.json",
    };
    enum { N = SL_ARRAY_LEN(keys) };
    sl_keymap_entry e[N], r[N];
    size_t renamed = 99;
    char err[SL_ERRLEN];

    CHECK_INT(map_all(keys, N, e), 0);
    CHECK_INT(sl_keymap_plan(e, N, &renamed, err, sizeof(err)), 0);
    CHECK_INT(renamed, 2);
    CHECK_STR(dest_of(e, N, keys[0]), LAKE "/public.t/date=2024-01-02/1-part-00000-a.gz.parquet");
    CHECK_STR(dest_of(e, N, keys[1]), LAKE "/public.t/date=2024-01-02/2-part-00000-a.gz.parquet");
    CHECK_STR(dest_of(e, N, keys[2]), LAKE "/public.t/date=2024-01-02/part-00001-b.gz.parquet");
    CHECK_STR(dest_of(e, N, keys[3]), LAKE "/public.u/date=2024-01-02/part-00000-a.gz.parquet");
    /* Order does not matter: the reversed input plans to the same destinations. */
    {
        const char *rk[N];
        for (size_t i = 0; i < N; i++)
            rk[i] = keys[N - 1 - i];
        CHECK_INT(map_all(rk, N, r), 0);
        CHECK_INT(sl_keymap_plan(r, N, NULL, err, sizeof(err)), 0);
        for (size_t i = 0; i < N; i++) {
            if (e[i].kind == SL_KEY_PARQUET)
                CHECK_STR(dest_of(r, N, e[i].src), e[i].dest);
        }
        cleanup_all(r, N);
    }
    /* Planning again changes nothing (all dests are unique now). */
    CHECK_INT(sl_keymap_plan(e, N, &renamed, err, sizeof(err)), 0);
    CHECK_INT(renamed, 0);
    cleanup_all(e, N);
}

static void test_plan_mixed_conventions(void)
{
    static const char *const keys[] = {
        ROOT "/mydb/public.t/part-00000-a.gz.parquet",
        ROOT "/mydb/public.t/4/part-00000-a.gz.parquet",
    };
    sl_keymap_entry e[2];
    size_t renamed;
    char err[SL_ERRLEN];

    CHECK_INT(map_all(keys, 2, e), 0);
    CHECK_INT(sl_keymap_plan(e, 2, &renamed, err, sizeof(err)), 0);
    CHECK_INT(renamed, 1);
    CHECK_STR(e[0].dest, LAKE "/public.t/date=2024-01-02/part-00000-a.gz.parquet");
    CHECK_STR(e[1].dest, LAKE "/public.t/date=2024-01-02/4-part-00000-a.gz.parquet");
    cleanup_all(e, 2);
}

static void test_plan_refuses_unresolvable(void)
{
    /* Renaming 1/p would produce 1-p, which another file already is: refuse, change nothing. */
    static const char *const keys[] = {
        ROOT "/mydb/public.t/1/p.gz.parquet",
        ROOT "/mydb/public.t/2/p.gz.parquet",
        ROOT "/mydb/public.t/3/1-p.gz.parquet",
    };
    static const char *const dup[] = {
        ROOT "/mydb/public.t/1/p.gz.parquet",
        ROOT "/mydb/public.t/1/p.gz.parquet",
    };
    sl_keymap_entry e[3];
    char err[SL_ERRLEN] = "";

    CHECK_INT(map_all(keys, 3, e), 0);
    CHECK_INT(sl_keymap_plan(e, 3, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "refusing to overwrite") != NULL);
    CHECK_STR(e[0].dest, LAKE "/public.t/date=2024-01-02/p.gz.parquet");
    CHECK_STR(e[1].dest, LAKE "/public.t/date=2024-01-02/p.gz.parquet");
    cleanup_all(e, 3);
    CHECK_INT(map_all(dup, 2, e), 0);
    CHECK_INT(sl_keymap_plan(e, 2, NULL, err, sizeof(err)), -1);
    cleanup_all(e, 2);
    CHECK_INT(sl_keymap_plan(NULL, 0, NULL, err, sizeof(err)), 0);
}

/* The plan without touching the entries (the copy stage's per-table plan over borrowed
   strings): the new names come back in newdest, the entries keep theirs; a refusal leaves
   every slot NULL. */
static void test_plan_names_leaves_entries(void)
{
    static const char *const keys[] = {
        ROOT "/mydb/public.t/1/part-00000-a.gz.parquet",
        ROOT "/mydb/public.t/2/part-00000-a.gz.parquet",
        ROOT "/mydb/public.t/2/part-00001-b.gz.parquet",
    };
    static const char *const bad[] = {
        ROOT "/mydb/public.t/1/p.gz.parquet",
        ROOT "/mydb/public.t/2/p.gz.parquet",
        ROOT "/mydb/public.t/3/1-p.gz.parquet",
    };
    sl_keymap_entry e[3];
    char *nd[3] = {(char *)"x", (char *)"x", (char *)"x"}, err[SL_ERRLEN] = "";
    size_t renamed = 99;

    CHECK_INT(map_all(keys, 3, e), 0);
    CHECK_INT(sl_keymap_plan_names(e, 3, nd, &renamed, err, sizeof(err)), 0);
    CHECK_INT(renamed, 2);
    CHECK_STR(nd[0], LAKE "/public.t/date=2024-01-02/1-part-00000-a.gz.parquet");
    CHECK_STR(nd[1], LAKE "/public.t/date=2024-01-02/2-part-00000-a.gz.parquet");
    CHECK(nd[2] == NULL);
    CHECK_STR(e[0].dest, LAKE "/public.t/date=2024-01-02/part-00000-a.gz.parquet");
    free(nd[0]);
    free(nd[1]);
    cleanup_all(e, 3);
    CHECK_INT(map_all(bad, 3, e), 0);
    CHECK_INT(sl_keymap_plan_names(e, 3, nd, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "refusing to overwrite") != NULL);
    CHECK(nd[0] == NULL && nd[1] == NULL && nd[2] == NULL);
    cleanup_all(e, 3);
}

static void test_date_prefixes(void)
{
    static const char *const keys[] = {
        ROOT "/mydb/public.u/1/a.gz.parquet", ROOT "/mydb/public.t/1/a.gz.parquet",
        ROOT "/mydb/public.t/2/b.gz.parquet", ROOT "/mydb/public.t/_SUCCESS",
        ROOT "/other/x.y/c.gz.parquet",
    };
    enum { N = SL_ARRAY_LEN(keys) };
    sl_keymap_entry e[N];
    char **v = NULL, err[SL_ERRLEN];
    size_t n = 0;

    CHECK_INT(map_all(keys, N, e), 0);
    CHECK_INT(sl_keymap_date_prefixes(e, N, &v, &n, err, sizeof(err)), 0);
    CHECK_INT(n, 3);
    CHECK_STR(v[0], "lake/orders/mydb/public.t/date=2024-01-02/");
    CHECK_STR(v[1], "lake/orders/mydb/public.u/date=2024-01-02/");
    CHECK_STR(v[2], "lake/orders/other/x.y/date=2024-01-02/");
    sl_keymap_strv_free(v, n);
    CHECK_INT(sl_keymap_date_prefixes(e + 3, 1, &v, &n, err, sizeof(err)), 0);
    CHECK_INT(n, 0);
    CHECK(v == NULL);
    cleanup_all(e, N);
}

static const char tables_info[] =
    "{\"perTableStatus\":["
    "{\"tableStatistics\":{\"extractionStartTime\":\"2024-01-02T03:10:00Z\","
    "\"extractionEndTime\":\"2024-01-02T03:12:00Z\",\"partitioningInfo\":{\"numberOfPartitions\":2}"
    "},"
    "\"schemaMetadata\":{\"originalTypeMappings\":[{\"columnName\":\"id\",\"originalType\":"
    "\"bigint\","
    "\"expectedExportedType\":\"int64\"}]},\"status\":\"COMPLETE\",\"sizeGB\":0.1,"
    "\"target\":\"mydb.public.users\"},"
    "{\"status\":\"FAILED\",\"target\":\"mydb.public.orders\",\"warningMessage\":\"Export failed: "
    "out of space\"},"
    "{\"status\":\"FAILED\",\"target\":\"mydb.public.items\"},"
    "{\"status\":\"COMPLETE\",\"target\":\"mydb.public.b\\u00e9\"},"
    "{\"target\":\"mydb\",\"warningMessage\":\"PERMISSIONS_DO_NOT_EXIST: skipped 2 tables\"},"
    "{\"status\":7,\"target\":\"mydb.public.z\"},"
    "{\"target\":\"mydb.public.nostatus\"}"
    "],\"unknownField\":1}";

static void test_tables_info(void)
{
    sl_tables_info ti;
    char err[SL_ERRLEN];

    CHECK_INT(sl_keymap_parse_tables_info(tables_info, strlen(tables_info), &ti, err, sizeof(err)),
              0);
    CHECK_INT(ti.ntables, 6);
    CHECK_INT(ti.ncomplete, 2);
    CHECK_INT(ti.nfailed, 4);
    CHECK_STR(ti.failed[0].table, "mydb.public.orders");
    CHECK_STR(ti.failed[0].status, "FAILED");
    CHECK_STR(ti.failed[0].reason, "Export failed: out of space");
    CHECK_STR(ti.failed[1].table, "mydb.public.items");
    CHECK_STR(ti.failed[1].reason, "table export did not complete");
    CHECK_STR(ti.failed[2].status, "(invalid)");
    CHECK_STR(ti.failed[3].table, "mydb.public.nostatus");
    CHECK_STR(ti.failed[3].status, "(missing)");
    CHECK_INT(ti.nwarnings, 1);
    CHECK_STR(ti.warnings[0], "mydb: PERMISSIONS_DO_NOT_EXIST: skipped 2 tables");
    sl_keymap_tables_info_cleanup(&ti);
    sl_keymap_tables_info_cleanup(NULL);
}

static void test_tables_info_errors(void)
{
    static const char *const bad[] = {
        "",
        "nope",
        "[]",
        "{}",
        "{\"perTableStatus\":{}}",
        "{\"perTableStatus\":[1]}",
        "{\"perTableStatus\":[]} x",
    };
    sl_tables_info ti;
    char err[SL_ERRLEN];

    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        CHECK_INT(sl_keymap_parse_tables_info(bad[i], strlen(bad[i]), &ti, err, sizeof(err)), -1);
        CHECK(strstr(err, "export_tables_info") != NULL);
        CHECK(ti.failed == NULL && ti.nfailed == 0);
    }
    CHECK_INT(sl_keymap_parse_tables_info("{\"perTableStatus\":[]}", 21, &ti, err, sizeof(err)), 0);
    CHECK_INT(ti.ntables, 0);
    sl_keymap_tables_info_cleanup(&ti);
    CHECK_INT(
        sl_keymap_parse_tables_info("{}", SL_KEYMAP_TABLES_INFO_MAX + 1, &ti, err, sizeof(err)),
        -1);
    CHECK(strstr(err, "cap") != NULL);
}

static const sl_test tests[] = {
    SL_TEST(test_map_table),
    SL_TEST(test_lake_prefix_forms),
    SL_TEST(test_key_length_cap),
    SL_TEST(test_plan_collisions),
    SL_TEST(test_plan_mixed_conventions),
    SL_TEST(test_plan_refuses_unresolvable),
    SL_TEST(test_plan_names_leaves_entries),
    SL_TEST(test_date_prefixes),
    SL_TEST(test_tables_info),
    SL_TEST(test_tables_info_errors),
};
SL_TEST_MAIN(tests)
