/* test_share_tables.c - Glue GetTables pages as the share stage reads them (share_tables.h),
 * the history the drift guard compares with, and the policy file reader (share_run.h). */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "share_run.h"
#include "share_tables.h"

static int add(sl_share_tables *t, const char *json, char *next, char *err)
{
    return sl_share_tables_parse_bytes(t, json, strlen(json), next, 64, err, SL_ERRLEN);
}

/* Columns are the storage columns then the partition keys; pages append; NextToken copied. */
static void test_pages_append_columns_and_keys(void)
{
    sl_share_tables t = {0};
    char next[64], err[SL_ERRLEN];

    CHECK_INT(add(&t,
                  "{\"TableList\":[{\"Name\":\"orders\",\"StorageDescriptor\":{\"Columns\":"
                  "[{\"Name\":\"id\",\"Type\":\"bigint\"},{\"Name\":\"email\"}]},"
                  "\"PartitionKeys\":[{\"Name\":\"date\"}]}],\"NextToken\":\"t2\"}",
                  next, err),
              0);
    CHECK_STR(next, "t2");
    CHECK_INT(add(&t, "{\"TableList\":[{\"Name\":\"bare\"}]}", next, err), 0);
    CHECK_STR(next, "");
    CHECK_INT((int)t.n, 2);
    CHECK_STR(t.v[0].name, "orders");
    CHECK_INT((int)t.v[0].ncolumns, 3);
    CHECK_STR(t.v[0].columns[0], "id");
    CHECK_STR(t.v[0].columns[1], "email");
    CHECK_STR(t.v[0].columns[2], "date");
    CHECK_INT((int)t.v[1].ncolumns, 0);
    CHECK_INT(add(&t, "{}", next, err), 0); /* an empty database's answer */
    CHECK_INT((int)t.n, 2);
    sl_share_tables_cleanup(&t);
    sl_share_tables_cleanup(&t);
}

/* A bad page adds nothing, and says why. */
static void test_bad_pages_add_nothing(void)
{
    static const char *const bad[] = {
        "[]",
        "{\"TableList\":{}}",
        "{\"TableList\":[{\"Name\":\"a\"},{\"StorageDescriptor\":{}}]}",
        "{\"TableList\":[{\"Name\":\"a\",\"StorageDescriptor\":{\"Columns\":[{\"Type\":\"x\"}]}}]}",
        "{\"TableList\":[{\"Name\":\"a\",\"PartitionKeys\":{}}]}",
        "{\"TableList\":[{\"Name\":\"\"}]}",
        "{\"TableList\":[{\"Name\":\"a\"},{\"Name\":\"a\"}]}",
        "{\"TableList\":[],\"NextToken\":7}",
        "not json",
    };
    sl_share_tables t = {0};
    char next[64], err[SL_ERRLEN];

    CHECK_INT(add(&t, "{\"TableList\":[{\"Name\":\"kept\"}]}", next, err), 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        CHECK_INT(add(&t, bad[i], next, err), -1);
        CHECK(strstr(err, "GetTables") != NULL);
        CHECK_INT((int)t.n, 1);
        CHECK_STR(t.v[0].name, "kept");
    }
    /* A NextToken that does not fit is refused, not cut. */
    {
        char small[4];
        CHECK_INT(sl_share_tables_parse_bytes(&t, "{\"NextToken\":\"abcdef\"}", 22, small,
                                              sizeof(small), err, sizeof(err)),
                  -1);
    }
    sl_share_tables_cleanup(&t);
}

/* attach points each table at its record, by name; tables without one have none. */
static void test_attach_history(void)
{
    static const char *const cols[] = {"id", "kind"};
    sl_share_history h;
    sl_share_tables t = {0};
    char next[64], err[SL_ERRLEN];

    memset(&h, 0, sizeof(h));
    CHECK_INT(sl_share_history_add(&h, "events", cols, 2), 0);
    CHECK_INT(add(&t, "{\"TableList\":[{\"Name\":\"new\"},{\"Name\":\"events\"}]}", next, err), 0);
    sl_share_tables_attach(&t, &h);
    CHECK_INT(t.v[0].has_prev, 0);
    CHECK_INT(t.v[1].has_prev, 1);
    CHECK_INT((int)t.v[1].nprev, 2);
    CHECK_STR(t.v[1].prev_columns[1], "kind");
    sl_share_tables_attach(&t, NULL);
    CHECK_INT(t.v[1].has_prev, 0);
    sl_share_tables_cleanup(&t);
    sl_share_history_cleanup(&h);
    sl_share_history_cleanup(&h);
}

/* The policy file: every error of the document at once, named by path; a missing file. */
static void test_policy_file(void)
{
    static const char bad[] = "{\"version\":1,\"tags\":{\"Confidential\":[\"x\"]},"
                              "\"database\":{\"name\":\"db_{cluster}\",\"tags\":{}},"
                              "\"grants\":[{\"principal\":\"12\",\"tags\":{},"
                              "\"permissions\":[\"SELECT\"]}]}";
    char path[] = "/tmp/sl-share-policy-XXXXXX", err[16384], db[256];
    sl_lfpolicy p;
    FILE *f;
    int fd = mkstemp(path);

    CHECK(fd >= 0);
    f = fdopen(fd, "w");
    CHECK(f != NULL);
    fputs(bad, f);
    fclose(f);
    CHECK_INT(sl_lfpolicy_load_file(path, &p, err, sizeof(err)), -1);
    CHECK(strstr(err, path) != NULL);
    CHECK(strstr(err, "$.tags.Confidential") != NULL);
    CHECK(strstr(err, "$.grants[0].principal") != NULL);
    f = fopen(path, "w");
    CHECK(f != NULL);
    fputs("{\"version\":1,\"tags\":{\"c\":[\"public\",\"private\"]},\"database\":{\"name\":"
          "\"db_{cluster}\",\"tags\":{\"c\":\"private\"}},\"grants\":[{\"principal\":"
          "\"444455556666\",\"tags\":{\"c\":\"public\"},\"permissions\":[\"SELECT\"]}]}",
          f);
    fclose(f);
    CHECK_INT(sl_lfpolicy_load_file(path, &p, err, sizeof(err)), 0);
    CHECK_INT(sl_share_database(&p, "orders", db, sizeof(db), err, sizeof(err)), 0);
    CHECK_STR(db, "db_orders");
    /* A hyphenated cluster id: the name the crawl stage gives (sl_catalog_name), so direct
       mode's glue_database matches. */
    CHECK_INT(sl_share_database(&p, "orders-prod", db, sizeof(db), err, sizeof(err)), 0);
    CHECK_STR(db, "db_orders_prod");
    {
        sl_cat_name_vars v = {.cluster = "orders-prod"};
        char crawl_db[256];
        CHECK_INT(sl_catalog_name("db_{cluster}", &v, crawl_db, sizeof(crawl_db), err, sizeof(err)),
                  0);
        CHECK_STR(db, crawl_db);
    }
    sl_lfpolicy_cleanup(&p);
    unlink(path);
    CHECK_INT(sl_lfpolicy_load_file(path, &p, err, sizeof(err)), -1);
    CHECK(strstr(err, "cannot open") != NULL);
}

static const sl_test tests[] = {
    SL_TEST(test_pages_append_columns_and_keys),
    SL_TEST(test_bad_pages_add_nothing),
    SL_TEST(test_attach_history),
    SL_TEST(test_policy_file),
};
SL_TEST_MAIN(tests)
