/* test_retention.c - the pure decisions of `snaplakectl retention` (common/retention.h). */
#include "retention.h"

#include "sl_test.h"

static long day(const char *ymd)
{
    long d = -1;

    if (sl_retention_date_days(ymd, &d) != 0)
        return -1;
    return d;
}

static void test_date_days_strict(void)
{
    static const struct {
        const char *in;
        long want; /* -1 = refused */
    } cases[] = {
        {"1970-01-01", 0},
        {"1970-01-02", 1},
        {"2000-03-01", 11017},
        {"2024-02-29", 19782},
        {"2026-12-02", 20789},
        {"2023-02-29", -1},
        {"2026-02-30", -1},
        {"2026-13-01", -1},
        {"2026-00-10", -1},
        {"2026-1-05", -1},
        {"2026-01-05x", -1},
        {"2026/01/05", -1},
        {"", -1},
        {"0999-12-31", -1},
        {"2026-01-00", -1},
        {"+026-01-01", -1},
        {"2026-04-31", -1},
        {"1900-02-29", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long d = -7;
        int rc = sl_retention_date_days(cases[i].in, &d);
        if (cases[i].want < 0) {
            CHECK(rc == -1);
        } else {
            CHECK(rc == 0);
            CHECK(d == cases[i].want);
        }
    }
    CHECK(sl_retention_date_days(NULL, &(long){0}) == -1);
}

static void test_days_date_round_trip(void)
{
    char out[11];

    for (long d = day("1999-12-25"); d < day("2030-01-10"); d += 13) {
        long back = -1;
        sl_retention_days_date(d, out);
        CHECK(sl_retention_date_days(out, &back) == 0);
        CHECK(back == d);
    }
    sl_retention_days_date(day("2024-02-29"), out);
    CHECK(strcmp(out, "2024-02-29") == 0);
}

static void test_parse_key_kinds(void)
{
    static const struct {
        const char *prefix, *key;
        sl_retention_kind want;
        const char *table, *folder, *date;
    } cases[] = {
        {"lake/", "lake/c1/db/s.t/date=2026-11-01/part-0.gz.parquet", SL_RETENTION_PARTITION,
         "lake/c1/db/s.t", "lake/c1/db/s.t/date=2026-11-01/", "2026-11-01"},
        {"", "c1/db/t/date=2026-11-01/f", SL_RETENTION_PARTITION, "c1/db/t",
         "c1/db/t/date=2026-11-01/", "2026-11-01"},
        /* a folder marker object is the folder's too */
        {"lake/", "lake/c1/db/t/date=2026-11-01/", SL_RETENTION_PARTITION, "lake/c1/db/t",
         "lake/c1/db/t/date=2026-11-01/", "2026-11-01"},
        {"lake/", "other/c1/db/t/date=2026-11-01/f", SL_RETENTION_OUTSIDE, NULL, NULL, NULL},
        /* "lake-old/" shares the characters but not the folder */
        {"lake/", "lake-old/c1/db/t/date=2026-11-01/f", SL_RETENTION_OUTSIDE, NULL, NULL, NULL},
        {"lake/", "lake/", SL_RETENTION_OUTSIDE, NULL, NULL, NULL},
        {"lake/", "lake/c1/db/t/readme.txt", SL_RETENTION_OTHER, NULL, NULL, NULL},
        {"lake/", "lake/c1/db/t/other=1/f", SL_RETENTION_OTHER, NULL, NULL, NULL},
        {"lake/", "lake/c1//t/date=2026-11-01/f", SL_RETENTION_OTHER, NULL, NULL, NULL},
        {"lake/", "lake/c1/db", SL_RETENTION_OTHER, NULL, NULL, NULL},
        {"lake/", "lake/c1/db/t/date=2026-13-01/f", SL_RETENTION_MALFORMED, NULL, NULL, NULL},
        {"lake/", "lake/c1/db/t/date=yesterday/f", SL_RETENTION_MALFORMED, NULL, NULL, NULL},
        {"lake/", "lake/c1/db/t/date=2026-11-01", SL_RETENTION_MALFORMED, NULL, NULL, NULL},
        {"lake/", "lake/c1/db/t/date=2026-11-011/f", SL_RETENTION_MALFORMED, NULL, NULL, NULL},
        {"lake/", "lake/c1/db/t/date=/f", SL_RETENTION_MALFORMED, NULL, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_retention_key k;
        sl_retention_kind got = sl_retention_parse_key(cases[i].prefix, cases[i].key, &k);
        if (got != cases[i].want)
            fprintf(stderr, "case %zu: %s -> %d\n", i, cases[i].key, (int)got);
        CHECK(got == cases[i].want);
        if (got != SL_RETENTION_PARTITION)
            continue;
        CHECK(k.table_len == strlen(cases[i].table));
        CHECK(strncmp(cases[i].key, cases[i].table, k.table_len) == 0);
        CHECK(k.folder_len == strlen(cases[i].folder));
        CHECK(strncmp(cases[i].key, cases[i].folder, k.folder_len) == 0);
        CHECK(strcmp(k.date, cases[i].date) == 0);
        CHECK(k.cluster_len == 2 && strncmp(cases[i].key + k.cluster_off, "c1", 2) == 0);
    }
}

static void test_key_allowed_refuses_outside_the_folder(void)
{
    const char *f = "lake/c1/db/t/date=2026-11-01/";
    static const struct {
        const char *key;
        int want;
    } cases[] = {
        {"lake/c1/db/t/date=2026-11-01/part-0.parquet", 0},
        {"lake/c1/db/t/date=2026-11-01/", 0},
        {"lake/c1/db/t/date=2026-11-02/part-0.parquet", -1}, /* another partition */
        {"lake/c1/db/t2/date=2026-11-01/part-0.parquet", -1},
        {"other/c1/db/t/date=2026-11-01/part-0.parquet", -1}, /* outside the prefix */
        {"lake/c1/db/t/readme", -1},
        {"lake/c1/db/t/date=2026-11-01", -1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        CHECK(sl_retention_key_allowed("lake/", f, cases[i].key) == cases[i].want);
    /* the folder itself must be a partition folder under the prefix */
    CHECK(sl_retention_key_allowed("lake/", "lake/c1/db/", "lake/c1/db/t/date=2026-11-01/x") == -1);
    CHECK(sl_retention_key_allowed("lake/", "other/c1/db/t/date=2026-11-01/",
                                   "other/c1/db/t/date=2026-11-01/x") == -1);
    CHECK(sl_retention_key_allowed("lake/", "lake/c1/db/t/date=2026-11-01/x",
                                   "lake/c1/db/t/date=2026-11-01/x") == -1);
}

static void test_expired_boundary_and_unset(void)
{
    long today = day("2026-12-02");

    CHECK(sl_retention_expired(day("2026-11-24"), today, 7) == 1);
    CHECK(sl_retention_expired(day("2026-11-25"), today, 7) == 0); /* exactly 7 days: stays */
    CHECK(sl_retention_expired(day("2026-12-02"), today, 7) == 0);
    CHECK(sl_retention_expired(day("2027-01-01"), today, 7) == 0); /* future: stays */
    CHECK(sl_retention_expired(day("2026-12-01"), today, 1) == 0);
    CHECK(sl_retention_expired(day("2026-11-30"), today, 1) == 1);
    /* unset (0) keeps everything */
    CHECK(sl_retention_expired(day("1999-01-01"), today, 0) == 0);
    /* across a leap day */
    CHECK(sl_retention_expired(day("2024-02-28"), day("2024-03-01"), 1) == 1);
    CHECK(sl_retention_expired(day("2024-02-29"), day("2024-03-01"), 1) == 0);
}

static void test_plan_table(void)
{
    static const struct {
        const char *name;
        const char *dates[6];
        unsigned char data[6];
        int days;
        const char *want; /* one char per date: 'd' drop, '.' keep */
    } cases[] = {
        {"old ones go, recent stay",
         {"2026-11-01", "2026-11-20", "2026-11-30", "2026-12-01"},
         {1, 1, 1, 1},
         7,
         "dd.."},
        {"all old: the newest stays",
         {"2026-01-03", "2026-01-01", "2026-01-02"},
         {1, 1, 1},
         7,
         ".dd"},
        {"a single old partition stays", {"2020-05-05"}, {1}, 30, "."},
        {"newest is newest with data: a newer catalog-only date does not count",
         {"2026-01-01", "2026-01-02", "2026-01-03"},
         {1, 1, 0},
         7,
         "d.d"},
        {"unset: nothing", {"2000-01-01", "2001-01-01"}, {1, 1}, 0, ".."},
        {"no data at all: every expired one goes", {"2000-01-01", "2000-01-02"}, {0, 0}, 7, "dd"},
        {"boundary", {"2026-11-24", "2026-11-25", "2026-12-02"}, {1, 1, 1}, 7, "d.."},
    };
    long today = day("2026-12-02");

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        long dates[6];
        unsigned char drop[6];
        size_t n = 0, want = 0, got;

        while (n < 6 && cases[i].dates[n])
            n++;
        for (size_t j = 0; j < n; j++)
            dates[j] = day(cases[i].dates[j]);
        got = sl_retention_plan(dates, cases[i].data, n, today, cases[i].days, drop);
        for (size_t j = 0; j < n; j++) {
            int w = cases[i].want[j] == 'd';
            want += (size_t)w;
            if (drop[j] != w)
                fprintf(stderr, "%s: %s\n", cases[i].name, cases[i].dates[j]);
            CHECK(drop[j] == w);
        }
        CHECK(got == want);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_date_days_strict),
    SL_TEST(test_days_date_round_trip),
    SL_TEST(test_parse_key_kinds),
    SL_TEST(test_key_allowed_refuses_outside_the_folder),
    SL_TEST(test_expired_boundary_and_unset),
    SL_TEST(test_plan_table),
};
SL_TEST_MAIN(tests)
