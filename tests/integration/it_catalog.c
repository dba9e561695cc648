/*
 * it_catalog.c - direct catalog registration (catalog.h, catalog_register.h, glue.h's Data
 * Catalog calls) against moto's Glue with signature checking on (MOTO_ENDPOINT from
 * .stack/env; the keys are a moto IAM user's, so moto verifies our SigV4).
 *
 * One Glue database per run (snaplake_it_<pid>_<time>), so runs never see each other's
 * tables. Read back with GetTable / GetPartitions / GetTables: one table, one partition per
 * date, the expected columns; a re-added partition is updated, not duplicated; an added
 * column is appended; a changed type fails and leaves the table as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws_http.h"
#include "catalog.h"
#include "catalog_req.h"
#include "catalog_register.h"
#include "creds.h"
#include "glue.h"
#include "../unit/sl_test.h"

static sl_creds_provider *creds;
static sl_aws *aws;
static char db[128];

static const char export_v1[] =
    "{\"perTableStatus\":["
    "{\"schemaMetadata\":{\"originalTypeMappings\":["
    " {\"columnName\":\"id\",\"originalType\":\"bigint\",\"expectedExportedType\":\"int64\","
    "  \"originalCharMaxLength\":0,\"originalNumPrecision\":64,\"originalDateTimePrecision\":0},"
    " {\"columnName\":\"total\",\"originalType\":\"numeric\",\"expectedExportedType\":"
    "  \"int64 (DECIMAL(12,2))\",\"originalNumPrecision\":12},"
    " {\"columnName\":\"placed_at\",\"originalType\":\"timestamp without time zone\","
    "  \"expectedExportedType\":\"int64 (TIMESTAMP_MICROS)\"},"
    " {\"columnName\":\"note\",\"originalType\":\"text\",\"expectedExportedType\":"
    "  \"binary (UTF8)\"}]},"
    " \"status\":\"COMPLETE\",\"target\":\"shop.public.orders\"},"
    "{\"status\":\"FAILED\",\"target\":\"shop.public.items\",\"warningMessage\":\"injected\"}"
    "]}";

/* v1 plus a column: appended. */
static const char export_v2[] =
    "{\"perTableStatus\":[{\"schemaMetadata\":{\"originalTypeMappings\":["
    " {\"columnName\":\"id\",\"originalType\":\"bigint\",\"expectedExportedType\":\"int64\"},"
    " {\"columnName\":\"total\",\"originalType\":\"numeric\",\"expectedExportedType\":"
    "  \"int64 (DECIMAL(12,2))\"},"
    " {\"columnName\":\"placed_at\",\"originalType\":\"timestamp without time zone\","
    "  \"expectedExportedType\":\"int64 (TIMESTAMP_MICROS)\"},"
    " {\"columnName\":\"note\",\"originalType\":\"text\",\"expectedExportedType\":"
    "  \"binary (UTF8)\"},"
    " {\"columnName\":\"Paid\",\"originalType\":\"boolean\",\"expectedExportedType\":"
    "  \"boolean\"}]},"
    " \"status\":\"COMPLETE\",\"target\":\"shop.public.orders\"}]}";

/* id changed from bigint to int: refused. */
static const char export_v3[] =
    "{\"perTableStatus\":[{\"schemaMetadata\":{\"originalTypeMappings\":["
    " {\"columnName\":\"id\",\"originalType\":\"integer\",\"expectedExportedType\":\"int32\"},"
    " {\"columnName\":\"total\",\"expectedExportedType\":\"int64 (DECIMAL(12,2))\"},"
    " {\"columnName\":\"placed_at\",\"expectedExportedType\":\"int64 (TIMESTAMP_MICROS)\"},"
    " {\"columnName\":\"note\",\"expectedExportedType\":\"binary (UTF8)\"},"
    " {\"columnName\":\"paid\",\"expectedExportedType\":\"boolean\"}]},"
    " \"status\":\"COMPLETE\",\"target\":\"shop.public.orders\"}]}";

#define LOCATION "s3://it-lake/lake/orders/shop/public.orders/"

static int setup(void)
{
    sl_aws_opts o;
    sl_creds_opts co;
    sl_aws_error e;
    char err[SL_ERRLEN];
    int created;

    memset(&o, 0, sizeof(o));
    memset(&co, 0, sizeof(co));
    o.region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    o.endpoint_url = getenv("MOTO_ENDPOINT");
    o.max_attempts = 3;
    o.retry_base_ms = 50;
    o.connect_timeout_ms = 5000;
    o.request_timeout_ms = 60000;
    creds = sl_creds_chain_new(&co, &o, err, sizeof(err));
    if (!creds) {
        fprintf(stderr, "creds: %s\n", err);
        return -1;
    }
    aws = sl_aws_new(&o, sl_creds_signer(creds), err, sizeof(err));
    if (!aws) {
        fprintf(stderr, "aws: %s\n", err);
        return -1;
    }
    snprintf(db, sizeof(db), "snaplake_it_%ld_%ld", (long)getpid(), (long)time(NULL));
    if (sl_glue_create_database(aws, db, &created, &e) != 0 || !created) {
        fprintf(stderr, "CreateDatabase %s: %s: %s\n", db, e.code, e.message);
        return -1;
    }
    /* A second create is success, not an error (another worker got there first). */
    if (sl_glue_create_database(aws, db, &created, &e) != 0 || created) {
        fprintf(stderr, "CreateDatabase again: %s: %s\n", e.code, e.message);
        return -1;
    }
    return 0;
}

static void teardown(void)
{
    sl_aws_free(aws);
    sl_creds_provider_free(creds);
}

/* Parses an export and names its tables; the first table is returned in *t (borrowed). */
static int load(const char *json, sl_cat_export *e)
{
    char err[SL_ERRLEN];

    if (sl_catalog_parse_tables_info(json, strlen(json), e, err, sizeof(err)) != 0 ||
        sl_catalog_name_tables(e, "{database}_{schema}_{table}", "orders", err, sizeof(err)) != 0) {
        fprintf(stderr, "load: %s\n", err);
        return -1;
    }
    return 0;
}

static int reg(const sl_cat_table *t, const char *date, sl_cat_register_result *r, sl_aws_error *e)
{
    char loc[256];
    sl_cat_partition p = {date, loc};

    snprintf(loc, sizeof(loc), LOCATION "date=%s/", date);
    return sl_catalog_register_table(aws, db, t, LOCATION, &p, 1, r, e);
}

/* "name:type,name:type" of the catalog's table, or "" when missing. */
static void table_shape(char *out, size_t outlen)
{
    cJSON *t = NULL;
    sl_aws_error e;
    sl_cat_column *c = NULL;
    size_t n = 0, o = 0;
    char err[SL_ERRLEN];

    out[0] = '\0';
    if (sl_glue_get_table(aws, db, "shop_public_orders", &t, &e) != 0 || !t) {
        fprintf(stderr, "GetTable: %s %s\n", e.code, e.message);
        cJSON_Delete(t);
        return;
    }
    if (sl_catalog_table_columns(t, &c, &n, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < n; i++)
            o += (size_t)snprintf(out + o, outlen > o ? outlen - o : 0, "%s%s:%s", i ? "," : "",
                                  c[i].name, c[i].type);
        sl_catalog_columns_free(c, n);
    }
    cJSON_Delete(t);
}

/* The partition values of the table, sorted by Glue, joined with ','; -1 on error. */
static int partitions(char *out, size_t outlen)
{
    cJSON *ps = NULL, *p;
    sl_aws_error e;
    size_t o = 0;

    out[0] = '\0';
    if (sl_glue_get_partitions(aws, db, "shop_public_orders", &ps, &e) != 0) {
        fprintf(stderr, "GetPartitions: %s %s\n", e.code, e.message);
        return -1;
    }
    cJSON_ArrayForEach(p, ps)
    {
        const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(p, "Values"), 0);
        o += (size_t)snprintf(out + o, outlen > o ? outlen - o : 0, "%s%s", o ? "," : "",
                              cJSON_IsString(v) ? v->valuestring : "?");
    }
    cJSON_Delete(ps);
    return 0;
}

static const char v1_shape[] = "id:bigint,total:decimal(12,2),placed_at:timestamp,note:string";

static void test_create_table_and_partition(void)
{
    sl_cat_export ex;
    sl_cat_register_result r;
    sl_aws_error e;
    char shape[1024], parts[1024];
    cJSON *t = NULL;

    CHECK(load(export_v1, &ex) == 0);
    CHECK_INT(ex.ntables, 2);
    /* The failed table is not registrable: refused without a call. */
    CHECK(sl_catalog_register_table(aws, db, &ex.tables[1], LOCATION, NULL, 0, &r, &e) != 0);
    CHECK_STR(e.code, "InvalidInput");
    CHECK_INT(r.calls, 0);

    CHECK_INT(sl_glue_get_table(aws, db, "shop_public_orders", &t, &e), 0);
    CHECK(t == NULL); /* EntityNotFound is "absent", not an error */
    if (reg(&ex.tables[0], "2024-01-01", &r, &e) != 0)
        fprintf(stderr, "register: %s: %s\n", e.code, e.message);
    CHECK_INT(r.table_created, 1);
    CHECK_INT(r.table_updated, 0);
    CHECK_INT(r.partitions_created, 1);
    CHECK_INT(r.partitions_updated, 0);
    CHECK_INT(r.ncolumns, 4);
    sl_catalog_export_cleanup(&ex);

    table_shape(shape, sizeof(shape));
    CHECK_STR(shape, v1_shape);
    CHECK_INT(sl_glue_get_table(aws, db, "shop_public_orders", &t, &e), 0);
    CHECK(t);
    {
        const cJSON *sd = cJSON_GetObjectItemCaseSensitive(t, "StorageDescriptor");
        const cJSON *pk = cJSON_GetObjectItemCaseSensitive(t, "PartitionKeys");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sd, "Location")), LOCATION);
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                      cJSON_GetObjectItemCaseSensitive(sd, "SerdeInfo"), "SerializationLibrary")),
                  "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe");
        CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "TableType")),
                  "EXTERNAL_TABLE");
        CHECK_INT(cJSON_GetArraySize(pk), 1);
        CHECK_STR(cJSON_GetStringValue(
                      cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(pk, 0), "Name")),
                  "date");
    }
    cJSON_Delete(t);
    CHECK_INT(partitions(parts, sizeof(parts)), 0);
    CHECK_STR(parts, "2024-01-01");
}

static void test_readd_partition_updates_it(void)
{
    sl_cat_export ex;
    sl_cat_register_result r;
    sl_aws_error e;
    char parts[1024], shape[1024];
    cJSON *p = NULL;

    CHECK(load(export_v1, &ex) == 0);
    /* A re-export of the same date: BatchCreatePartition says AlreadyExists -> update. */
    if (reg(&ex.tables[0], "2024-01-01", &r, &e) != 0)
        fprintf(stderr, "register: %s: %s\n", e.code, e.message);
    sl_catalog_export_cleanup(&ex);
    CHECK_INT(r.table_created, 0);
    CHECK_INT(r.table_updated, 0);
    CHECK_INT(r.partitions_created, 0);
    CHECK_INT(r.partitions_updated, 1);
    CHECK_INT(partitions(parts, sizeof(parts)), 0);
    CHECK_STR(parts, "2024-01-01");
    table_shape(shape, sizeof(shape));
    CHECK_STR(shape, v1_shape);
    CHECK_INT(sl_glue_get_partition(aws, db, "shop_public_orders", "2024-01-01", &p, &e), 0);
    CHECK(p);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetObjectItemCaseSensitive(p, "StorageDescriptor"), "Location")),
              LOCATION "date=2024-01-01/");
    cJSON_Delete(p);
    CHECK_INT(sl_glue_get_partition(aws, db, "shop_public_orders", "1999-01-01", &p, &e), 0);
    CHECK(p == NULL);
}

static void test_append_column(void)
{
    sl_cat_export ex;
    sl_cat_register_result r;
    sl_aws_error e;
    char parts[1024], shape[1024];

    CHECK(load(export_v2, &ex) == 0);
    if (reg(&ex.tables[0], "2024-01-02", &r, &e) != 0)
        fprintf(stderr, "register: %s: %s\n", e.code, e.message);
    sl_catalog_export_cleanup(&ex);
    CHECK_INT(r.table_created, 0);
    CHECK_INT(r.table_updated, 1);
    CHECK_INT(r.columns_added, 1);
    CHECK_INT(r.ncolumns, 5);
    CHECK_INT(r.partitions_created, 1);
    table_shape(shape, sizeof(shape));
    CHECK_STR(shape, "id:bigint,total:decimal(12,2),placed_at:timestamp,note:string,"
                     "paid:boolean");
    CHECK_INT(partitions(parts, sizeof(parts)), 0);
    CHECK_STR(parts, "2024-01-01,2024-01-02");
}

static void test_changed_type_fails(void)
{
    sl_cat_export ex;
    sl_cat_register_result r;
    sl_aws_error e;
    char parts[1024], shape[1024];

    CHECK(load(export_v3, &ex) == 0);
    CHECK(reg(&ex.tables[0], "2024-01-03", &r, &e) != 0);
    sl_catalog_export_cleanup(&ex);
    CHECK_STR(e.code, "SchemaIncompatible");
    CHECK_INT(e.transient, 0);
    CHECK(strstr(e.message, "shop_public_orders") && strstr(e.message, "column id") &&
          strstr(e.message, "bigint") && strstr(e.message, "int"));
    CHECK_INT(r.partitions_created, 0);
    table_shape(shape, sizeof(shape));
    CHECK_STR(shape, "id:bigint,total:decimal(12,2),placed_at:timestamp,note:string,"
                     "paid:boolean");
    CHECK_INT(partitions(parts, sizeof(parts)), 0);
    CHECK_STR(parts, "2024-01-01,2024-01-02"); /* no partition for the refused export */
}

static void test_many_partitions_in_batches(void)
{
    sl_cat_export ex;
    sl_cat_register_result r;
    sl_aws_error e;
    enum { N = 150 };
    static char vals[N][16], locs[N][128];
    sl_cat_partition p[N];
    cJSON *ps = NULL;

    /* 150 dates (two BatchCreatePartition calls), two of them already registered. */
    for (int i = 0; i < N; i++) {
        snprintf(vals[i], sizeof(vals[i]), "2024-%02d-%02d", (i / 28) % 12 + 1, i % 28 + 1);
        snprintf(locs[i], sizeof(locs[i]), LOCATION "date=%s/", vals[i]);
        p[i].value = vals[i];
        p[i].location = locs[i];
    }
    CHECK(load(export_v2, &ex) == 0);
    if (sl_catalog_register_table(aws, db, &ex.tables[0], LOCATION, p, N, &r, &e) != 0)
        fprintf(stderr, "register: %s: %s\n", e.code, e.message);
    sl_catalog_export_cleanup(&ex);
    CHECK_INT(r.partitions_created + r.partitions_updated, N);
    CHECK_INT(r.partitions_updated, 2); /* 2024-01-01 and 2024-01-02 */
    CHECK_INT(sl_glue_get_partitions(aws, db, "shop_public_orders", &ps, &e), 0);
    CHECK_INT(cJSON_GetArraySize(ps), N); /* one per date, no duplicates */
    cJSON_Delete(ps);
}

static void test_get_tables_no_duplicates(void)
{
    cJSON *ts = NULL;
    sl_aws_error e;

    CHECK_INT(sl_glue_get_tables(aws, db, &ts, &e), 0);
    CHECK_INT(cJSON_GetArraySize(ts), 1);
    CHECK_STR(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(ts, 0), "Name")),
        "shop_public_orders");
    cJSON_Delete(ts);
    /* A database that does not exist is an error with AWS's code. */
    CHECK(sl_glue_get_tables(aws, "snaplake_it_no_such_db", &ts, &e) != 0);
    CHECK_STR(e.code, "EntityNotFoundException");
    CHECK(ts == NULL);
}

static const sl_test tests[] = {
    SL_TEST(test_create_table_and_partition),
    SL_TEST(test_readd_partition_updates_it),
    SL_TEST(test_append_column),
    SL_TEST(test_changed_type_fails),
    SL_TEST(test_many_partitions_in_batches),
    SL_TEST(test_get_tables_no_duplicates),
};

SL_TEST_MAIN_REQUIRE(tests, setup, teardown, "MOTO_ENDPOINT")
