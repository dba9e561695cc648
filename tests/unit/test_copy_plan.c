/* test_copy_plan.c - the copy stage's pure logic: destination set, stale set of partition
 * replacement, reported tables and table names, multipart completion body and UploadId,
 * rates. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../worker/copy_plan.h"
#include "keymap.h"

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

static const sl_test tests[] = {
    SL_TEST(test_destset_holds_planned_destinations),
    SL_TEST(test_destset_empty),
    SL_TEST(test_stale_table),
    SL_TEST(test_stale_appends_across_pages),
    SL_TEST(test_stale_reexport_replaces_day),
    SL_TEST(test_tables_sorted_distinct),
    SL_TEST(test_table_name_table),
    SL_TEST(test_rate_table),
};

SL_TEST_MAIN(tests)
