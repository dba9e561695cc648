/* test_catalog.c - direct catalog registration, the pure half: types, export_tables_info,
 * names, schema decisions, Glue request bodies and BatchCreatePartition's Errors. */
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_req.h"
#include "sl_test.h"

/* --- types -------------------------------------------------------------------------------- */

static void test_glue_types(void)
{
    /* expectedExportedType as RDS writes it (parquet-mr's printing) -> Glue type. */
    static const struct {
        const char *exp, *orig;
        long long prec, scale;
        const char *want;
    } cases[] = {
        {"int64", "bigint", -1, -1, "bigint"},
        {"int32", "integer", -1, -1, "int"},
        {"INT32", "int", -1, -1, "int"},
        {"int32 (INT_16)", "smallint", -1, -1, "smallint"},
        {"int32 (INT_8)", "tinyint", -1, -1, "tinyint"},
        {"int32 (INTEGER(16,true))", "smallint", -1, -1, "smallint"},
        {"int32 (UINT_8)", "tinyint unsigned", -1, -1, "smallint"},
        {"int64 (UINT_32)", "int unsigned", -1, -1, NULL}, /* UINT_32 on int64: not a thing */
        {"int32 (UINT_32)", "int unsigned", -1, -1, "bigint"},
        {"int64 (UINT_64)", "bigint unsigned", -1, -1, "decimal(20,0)"},
        {"double", "double precision", -1, -1, "double"},
        {"float", "real", -1, -1, "float"},
        {"boolean", "boolean", -1, -1, "boolean"},
        {"binary (UTF8)", "character varying", -1, -1, "string"},
        {"binary (STRING)", "text", -1, -1, "string"},
        {"binary (JSON)", "jsonb", -1, -1, "string"},
        {"binary (ENUM)", "enum", -1, -1, "string"},
        {"binary", "bytea", -1, -1, "binary"},
        {"  binary  ", "blob", -1, -1, "binary"},
        {"fixed_len_byte_array(16)", "binary(16)", -1, -1, "binary"},
        {"int32 (DATE)", "date", -1, -1, "date"},
        {"int64 (TIMESTAMP_MICROS)", "timestamp without time zone", -1, -1, "timestamp"},
        {"int64 (TIMESTAMP_MILLIS)", "datetime", -1, -1, "timestamp"},
        {"int64 (TIMESTAMP(MICROS,true))", "timestamp with time zone", -1, -1, "timestamp"},
        {"int96", "timestamp", -1, -1, "timestamp"},
        /* decimals: (p,s) from the annotation, else from the precision fields */
        {"int32 (DECIMAL(9,2))", "numeric(9,2)", 9, 2, "decimal(9,2)"},
        {"int64 (DECIMAL(18, 4))", "decimal(18,4)", -1, -1, "decimal(18,4)"},
        {"fixed_len_byte_array(9) (DECIMAL(20,0))", "bigint unsigned", -1, -1, "decimal(20,0)"},
        {"fixed_len_byte_array(16) (DECIMAL(38,10))", "numeric(38,10)", -1, -1, "decimal(38,10)"},
        {"int64 (DECIMAL)", "numeric", 12, 3, "decimal(12,3)"},
        {"int64 (DECIMAL)", "numeric", 12, -1, NULL}, /* scale unknown: no guess */
        {"int64 (DECIMAL)", "numeric", -1, -1, NULL}, /* precision unknown */
        {"fixed_len_byte_array(20) (DECIMAL(40,2))", "numeric(40,2)", -1, -1, NULL}, /* > 38 */
        {"int32 (DECIMAL(5,6))", "numeric", -1, -1, NULL}, /* scale > precision */
        {"int32 (DECIMAL(0,0))", "numeric", -1, -1, NULL},
        {"double (DECIMAL(9,2))", "numeric", -1, -1, NULL},
        /* unknown: an error, never a guess */
        {"", "x", -1, -1, NULL},
        {"int128", "hugeint", -1, -1, NULL},
        {"binary (UUID)", "uuid", -1, -1, NULL},
        {"int64 (TIME_MICROS)", "time", -1, -1, NULL},
        {"int32 (TIMESTAMP_MICROS)", "timestamp", -1, -1, NULL},
        {"boolean (UTF8)", "bool", -1, -1, NULL},
        {"int64 (TIMESTAMP_MICROS", "timestamp", -1, -1, NULL},
        {"int64 (TIMESTAMP_MICROS) x", "timestamp", -1, -1, NULL},
        {"int64 x", "bigint", -1, -1, NULL},
        {"fixed_len_byte_array(0)", "binary", -1, -1, NULL},
        {"fixed_len_byte_array(", "binary", -1, -1, NULL},
        {"string", "text", -1, -1, NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char out[64] = "", err[SL_ERRLEN] = "";
        int rc = sl_catalog_glue_type(cases[i].exp, cases[i].orig, cases[i].prec, cases[i].scale,
                                      out, sizeof(out), err, sizeof(err));
        if (cases[i].want) {
            if (rc != 0)
                fprintf(stderr, "case %zu (%s): %s\n", i, cases[i].exp, err);
            CHECK_INT(rc, 0);
            CHECK_STR(out, cases[i].want);
        } else {
            if (rc == 0)
                fprintf(stderr, "case %zu (%s): accepted as %s\n", i, cases[i].exp, out);
            CHECK(rc != 0);
            CHECK(err[0] != '\0');
        }
    }
    /* The error names the type and the source type. */
    {
        char out[64], err[SL_ERRLEN];
        CHECK(sl_catalog_glue_type("int128", "hugeint", -1, -1, out, sizeof(out), err,
                                   sizeof(err)) != 0);
        CHECK(strstr(err, "int128") && strstr(err, "hugeint"));
        CHECK(sl_catalog_glue_type(NULL, NULL, -1, -1, out, sizeof(out), err, sizeof(err)) != 0);
    }
}

/* --- export_tables_info ------------------------------------------------------------------- */

static const char info[] =
    "{\"perTableStatus\":["
    "{\"tableStatistics\":{\"extractionStartTime\":\"2024-01-02T03:10:00Z\"},"
    " \"schemaMetadata\":{\"originalTypeMappings\":["
    "  {\"columnName\":\"id\",\"originalType\":\"bigint\",\"expectedExportedType\":\"int64\","
    "   \"originalCharMaxLength\":0,\"originalNumPrecision\":64,\"originalDateTimePrecision\":0},"
    "  {\"columnName\":\"Total\",\"originalType\":\"numeric\",\"expectedExportedType\":"
    "   \"int64 (DECIMAL)\",\"originalNumPrecision\":12,\"originalNumScale\":2},"
    "  {\"columnName\":\"placed_at\",\"originalType\":\"timestamp with time zone\","
    "   \"expectedExportedType\":\"int64 (TIMESTAMP_MICROS)\",\"originalDateTimePrecision\":6},"
    "  {\"columnName\":\"note\",\"originalType\":\"text\",\"expectedExportedType\":"
    "   \"binary (UTF8)\"}]},"
    " \"status\":\"COMPLETE\",\"sizeGB\":0.1,\"target\":\"shop.public.orders\"},"
    "{\"status\":\"FAILED\",\"target\":\"shop.public.items\",\"warningMessage\":\"out of space\"},"
    "{\"target\":\"shop\",\"warningMessage\":\"PERMISSIONS_DO_NOT_EXIST: skipped 2 tables\"},"
    "{\"status\":\"COMPLETE\",\"target\":\"shop.public.weird\",\"schemaMetadata\":"
    " {\"originalTypeMappings\":[{\"columnName\":\"g\",\"originalType\":\"geometry\","
    "  \"expectedExportedType\":\"int128\"}]}},"
    "{\"status\":\"COMPLETE\",\"target\":\"shop.public.dup\",\"schemaMetadata\":"
    " {\"originalTypeMappings\":[{\"columnName\":\"a\",\"expectedExportedType\":\"int32\"},"
    "  {\"columnName\":\"A\",\"expectedExportedType\":\"int32\"}]}},"
    "{\"status\":\"COMPLETE\",\"target\":\"mysqldb.customers\",\"schemaMetadata\":"
    " {\"originalTypeMappings\":[{\"columnName\":\"id\",\"expectedExportedType\":\"int32\"}]}},"
    "{\"status\":\"COMPLETE\",\"target\":\"shop.public.nocols\"},"
    "{\"status\":\"COMPLETE\",\"target\":\"shop.public.events\",\"schemaMetadata\":"
    " {\"originalTypeMappings\":[{\"columnName\":\"id\",\"expectedExportedType\":\"int32\"},"
    "  {\"columnName\":\"Date\",\"originalType\":\"date\","
    "   \"expectedExportedType\":\"int32 (DATE)\"}]}}"
    "],\"unknown\":1}";

static void test_parse_tables_info(void)
{
    sl_cat_export e;
    char err[SL_ERRLEN];
    const sl_cat_table *t;

    CHECK_INT(sl_catalog_parse_tables_info(info, strlen(info), &e, err, sizeof(err)), 0);
    CHECK_INT(e.ntables, 7); /* the database-level warning is not a table */
    t = &e.tables[0];
    CHECK_STR(t->target, "shop.public.orders");
    CHECK_STR(t->database, "shop");
    CHECK_STR(t->schema, "public");
    CHECK_STR(t->table, "orders");
    CHECK_INT(t->complete, 1);
    CHECK(t->error == NULL && t->reason == NULL);
    CHECK_INT(t->ncols, 4);
    CHECK_STR(t->cols[0].name, "id");
    CHECK_STR(t->cols[0].type, "bigint");
    CHECK_STR(t->cols[1].name, "total"); /* lower-cased, as Glue keeps it */
    CHECK_STR(t->cols[1].type, "decimal(12,2)");
    CHECK_STR(t->cols[2].type, "timestamp");
    CHECK_STR(t->cols[3].type, "string");

    t = &e.tables[1];
    CHECK_INT(t->complete, 0);
    CHECK_STR(t->status, "FAILED");
    CHECK_STR(t->reason, "out of space");
    CHECK(t->cols == NULL);

    t = &e.tables[2]; /* unknown type: that table only, with the column named */
    CHECK_INT(t->complete, 1);
    CHECK(t->error && strstr(t->error, "column g") && strstr(t->error, "int128"));
    CHECK(t->cols == NULL && t->ncols == 0);

    t = &e.tables[3];
    CHECK(t->error && strstr(t->error, "both named a"));
    CHECK(t->cols == NULL);

    t = &e.tables[4]; /* MySQL: database.table */
    CHECK_STR(t->database, "mysqldb");
    CHECK_STR(t->schema, "");
    CHECK_STR(t->table, "customers");
    CHECK(t->error == NULL);
    CHECK_INT(t->ncols, 1);

    t = &e.tables[5];
    CHECK(t->error && strstr(t->error, "originalTypeMappings"));

    t = &e.tables[6]; /* a `date` column (any case) meets the partition key */
    CHECK(t->error && strstr(t->error, "column 2 is named date") &&
          strstr(t->error, "partition key"));
    CHECK(t->cols == NULL && t->ncols == 0);
    sl_catalog_export_cleanup(&e);
    sl_catalog_export_cleanup(&e); /* twice is harmless */
}

static void test_parse_tables_info_rejects(void)
{
    static const char *bad[] = {
        "",
        "[]",
        "{}",
        "{\"perTableStatus\":{}}",
        "{\"perTableStatus\":[]} x",
        "{\"perTableStatus\":[",
        "null",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        sl_cat_export e;
        char err[SL_ERRLEN] = "";
        CHECK(sl_catalog_parse_tables_info(bad[i], strlen(bad[i]), &e, err, sizeof(err)) != 0);
        CHECK(err[0] != '\0');
        CHECK(e.tables == NULL && e.ntables == 0);
    }
    {
        sl_cat_export e;
        char err[SL_ERRLEN];
        const char *empty = "{\"perTableStatus\":[]}";
        CHECK_INT(sl_catalog_parse_tables_info(empty, strlen(empty), &e, err, sizeof(err)), 0);
        CHECK_INT(e.ntables, 0);
        sl_catalog_export_cleanup(&e);
    }
}

/* --- names -------------------------------------------------------------------------------- */

static void test_names(void)
{
    static const struct {
        const char *tmpl, *cluster, *db, *schema, *table, *want;
    } cases[] = {
        {"snaplake_{cluster}", "orders", NULL, NULL, NULL, "snaplake_orders"},
        {"snaplake_{cluster}", "Orders-Prod.1", NULL, NULL, NULL, "snaplake_orders_prod_1"},
        {"{database}_{schema}_{table}", "c", "shop", "public", "Order Items",
         "shop_public_order_items"},
        {"{database}_{schema}_{table}", "c", "mysqldb", "", "t", "mysqldb__t"},
        {"{table}", "c", "d", "s", "b\xc3\xa9t\xc3\xa9", "b_t_"}, /* one '_' per UTF-8 char */
        {"{table}", "c", "d", "s", "\xe2\x82\xac", "_"},
        {"x{table}", "c", "d", "s", "A$B", "xa_b"},
        {"{cluster}{cluster}", "a", NULL, NULL, NULL, "aa"},
    };
    char out[SL_CATALOG_NAME_MAX + 1], err[SL_ERRLEN];

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_cat_name_vars v = {cases[i].cluster, cases[i].db, cases[i].schema, cases[i].table, NULL};
        CHECK_INT(sl_catalog_name(cases[i].tmpl, &v, out, sizeof(out), err, sizeof(err)), 0);
        CHECK_STR(out, cases[i].want);
        for (const char *p = out; *p; p++)
            CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_');
    }
    {
        static const char *bad[] = {"", "{table", "{nope}", "{}", "{cluster}"};
        sl_cat_name_vars v = {"", "d", "s", "t", NULL};
        for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
            err[0] = '\0';
            CHECK(sl_catalog_name(bad[i], &v, out, sizeof(out), err, sizeof(err)) != 0);
            CHECK(err[0] != '\0');
        }
    }
    {
        /* 255 characters fit, 256 do not (Glue's NameString). */
        char t255[256], t256[257];
        memset(t255, 'a', 255);
        t255[255] = '\0';
        memset(t256, 'a', 256);
        t256[256] = '\0';
        sl_cat_name_vars v = {"c", "d", "s", t255, NULL};
        CHECK_INT(sl_catalog_name("{table}", &v, out, sizeof(out), err, sizeof(err)), 0);
        CHECK_INT(strlen(out), 255);
        v.table = t256;
        CHECK(sl_catalog_name("{table}", &v, out, sizeof(out), err, sizeof(err)) != 0);
        CHECK(strstr(err, "255"));
        /* A small out buffer is an error, never a cut name. */
        v.table = "abcdef";
        CHECK(sl_catalog_name("{table}", &v, out, 4, err, sizeof(err)) != 0);
    }
}

static const char collide[] =
    "{\"perTableStatus\":["
    "{\"status\":\"COMPLETE\",\"target\":\"shop.public.a_b\",\"schemaMetadata\":"
    " {\"originalTypeMappings\":[{\"columnName\":\"id\",\"expectedExportedType\":\"int32\"}]}},"
    "{\"status\":\"COMPLETE\",\"target\":\"shop.public.other\",\"schemaMetadata\":"
    " {\"originalTypeMappings\":[{\"columnName\":\"id\",\"expectedExportedType\":\"int32\"}]}},"
    "{\"status\":\"COMPLETE\",\"target\":\"shop.public.A-B\",\"schemaMetadata\":"
    " {\"originalTypeMappings\":[{\"columnName\":\"id\",\"expectedExportedType\":\"int32\"}]}}"
    "]}";

static void test_name_collisions(void)
{
    sl_cat_export e;
    char err[SL_ERRLEN];

    CHECK_INT(sl_catalog_parse_tables_info(collide, strlen(collide), &e, err, sizeof(err)), 0);
    /* {table} alone: a_b and A-B both become a_b. */
    CHECK(sl_catalog_name_tables(&e, "{table}", "c", err, sizeof(err)) != 0);
    CHECK(strstr(err, "shop.public.a_b") && strstr(err, "shop.public.A-B") && strstr(err, "a_b"));
    /* {schema}_{table} does not help here: still the same name. */
    CHECK(sl_catalog_name_tables(&e, "{schema}_{table}", "c", err, sizeof(err)) != 0);
    sl_catalog_export_cleanup(&e);

    /* Distinct names pass and are set. */
    CHECK_INT(sl_catalog_parse_tables_info(info, strlen(info), &e, err, sizeof(err)), 0);
    CHECK_INT(sl_catalog_name_tables(&e, "{database}_{schema}_{table}", "c", err, sizeof(err)), 0);
    CHECK_STR(e.tables[0].glue_name, "shop_public_orders");
    CHECK_STR(e.tables[4].glue_name, "mysqldb__customers");
    /* {folder}: the crawler's name, the table folder without a '_' for a missing schema. */
    CHECK_INT(sl_catalog_name_tables(&e, "{folder}", "c", err, sizeof(err)), 0);
    CHECK_STR(e.tables[0].glue_name, "public_orders");
    CHECK_STR(e.tables[4].glue_name, "customers");
    /* A bad template names the table. */
    CHECK(sl_catalog_name_tables(&e, "{tabel}", "c", err, sizeof(err)) != 0);
    CHECK(strstr(err, "shop.public.orders") && strstr(err, "tabel"));
    sl_catalog_export_cleanup(&e);
}

/* --- schema decision ---------------------------------------------------------------------- */

static void test_schema_decide(void)
{
    static sl_cat_column cur[] = {{"id", "bigint"}, {"total", "decimal(12,2)"}};
    static sl_cat_column same[] = {{"total", "DECIMAL(12, 2)"}, {"ID", "bigint"}};
    static sl_cat_column more[] = {
        {"id", "bigint"}, {"total", "decimal(12,2)"}, {"note", "string"}, {"at", "timestamp"}};
    static sl_cat_column changed[] = {{"id", "int"}, {"total", "decimal(12,2)"}};
    static sl_cat_column removed[] = {{"id", "bigint"}, {"note", "string"}};
    static const struct {
        const sl_cat_column *exp;
        size_t n;
        sl_cat_schema_verdict want;
        size_t added;
        const char *cause[3];
    } cases[] = {
        {same, 2, SL_CAT_SCHEMA_UNCHANGED, 0, {NULL}},
        {more, 4, SL_CAT_SCHEMA_APPEND, 2, {NULL}},
        {changed, 2, SL_CAT_SCHEMA_INCOMPATIBLE, 0, {"column id", "from bigint", "to int"}},
        {removed, 2, SL_CAT_SCHEMA_INCOMPATIBLE, 0, {"column total", "not in the export", NULL}},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char cause[SL_ERRLEN];
        size_t added = 99;
        sl_cat_schema_verdict v = sl_catalog_schema_decide(
            "orders", cur, 2, cases[i].exp, cases[i].n, &added, cause, sizeof(cause));
        CHECK_INT(v, cases[i].want);
        CHECK_INT(added, cases[i].added);
        if (v == SL_CAT_SCHEMA_INCOMPATIBLE)
            CHECK(strstr(cause, "table orders"));
        for (size_t k = 0; k < 3 && cases[i].cause[k]; k++)
            CHECK(strstr(cause, cases[i].cause[k]));
    }
    {
        /* An empty catalog table takes every export column as added. */
        size_t added;
        char cause[64];
        CHECK_INT(sl_catalog_schema_decide("t", NULL, 0, more, 4, &added, cause, sizeof(cause)),
                  SL_CAT_SCHEMA_APPEND);
        CHECK_INT(added, 4);
    }
}

static void test_table_columns(void)
{
    const char *j = "{\"Name\":\"t\",\"StorageDescriptor\":{\"Columns\":[{\"Name\":\"id\","
                    "\"Type\":\"bigint\"},{\"Name\":\"x\"}]}}";
    cJSON *t = cJSON_Parse(j);
    sl_cat_column *c;
    size_t n;
    char err[SL_ERRLEN];

    CHECK(t);
    CHECK_INT(sl_catalog_table_columns(t, &c, &n, err, sizeof(err)), 0);
    CHECK_INT(n, 2);
    CHECK_STR(c[0].name, "id");
    CHECK_STR(c[0].type, "bigint");
    CHECK_STR(c[1].type, "");
    sl_catalog_columns_free(c, n);
    cJSON_Delete(t);
    t = cJSON_Parse("{\"StorageDescriptor\":{\"Columns\":{}}}");
    CHECK(sl_catalog_table_columns(t, &c, &n, err, sizeof(err)) != 0);
    cJSON_Delete(t);
    t = cJSON_Parse("{\"StorageDescriptor\":{\"Columns\":[{\"Type\":\"int\"}]}}");
    CHECK(sl_catalog_table_columns(t, &c, &n, err, sizeof(err)) != 0);
    cJSON_Delete(t);
    t = cJSON_Parse("{\"Name\":\"v\"}");
    CHECK_INT(sl_catalog_table_columns(t, &c, &n, err, sizeof(err)), 0);
    CHECK_INT(n, 0);
    CHECK(c == NULL);
    cJSON_Delete(t);
}

/* --- request bodies ----------------------------------------------------------------------- */

static const sl_cat_column cols[] = {{"id", "bigint"}, {"total", "decimal(12,2)"}};

/* The string at a path of object keys (and "#n" array indexes), or NULL. */
static const char *at(const cJSON *j, const char *path)
{
    char buf[256], *save = NULL;

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *k = strtok_r(buf, ".", &save); k && j; k = strtok_r(NULL, ".", &save))
        j = k[0] == '#' ? cJSON_GetArrayItem(j, atoi(k + 1))
                        : cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static int sd_ok(const cJSON *sd, const char *location)
{

    return at(sd, "Location") && strcmp(at(sd, "Location"), location) == 0 &&
           at(sd, "InputFormat") &&
           strcmp(at(sd, "InputFormat"),
                  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat") == 0 &&
           at(sd, "OutputFormat") &&
           strcmp(at(sd, "OutputFormat"),
                  "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat") == 0 &&
           at(sd, "SerdeInfo.SerializationLibrary") &&
           strcmp(at(sd, "SerdeInfo.SerializationLibrary"),
                  "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe") == 0 &&
           cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(sd, "Columns")) == 2 &&
           at(sd, "Columns.#0.Name") && strcmp(at(sd, "Columns.#0.Name"), "id") == 0 &&
           strcmp(at(sd, "Columns.#0.Type"), "bigint") == 0 &&
           strcmp(at(sd, "Columns.#1.Name"), "total") == 0 &&
           strcmp(at(sd, "Columns.#1.Type"), "decimal(12,2)") == 0;
}

static void test_create_table_body(void)
{
    cJSON *b = sl_catalog_create_table_req("snaplake_orders", "shop_public_orders",
                                           "s3://lake/orders/shop/public.orders/", cols, 2);
    const cJSON *ti;

    CHECK(b);
    CHECK_STR(at(b, "DatabaseName"), "snaplake_orders");
    ti = cJSON_GetObjectItemCaseSensitive(b, "TableInput");
    CHECK_STR(at(ti, "Name"), "shop_public_orders");
    CHECK_STR(at(ti, "TableType"), "EXTERNAL_TABLE");
    CHECK_STR(at(ti, "Parameters.classification"), "parquet");
    CHECK_STR(at(ti, "Parameters.EXTERNAL"), "TRUE");
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ti, "PartitionKeys")), 1);
    CHECK_STR(at(ti, "PartitionKeys.#0.Name"), "date");
    CHECK_STR(at(ti, "PartitionKeys.#0.Type"), "string");
    CHECK(sd_ok(cJSON_GetObjectItemCaseSensitive(ti, "StorageDescriptor"),
                "s3://lake/orders/shop/public.orders/"));
    /* Only model fields at the top: DatabaseName and TableInput. */
    CHECK_INT(cJSON_GetArraySize(b), 2);
    cJSON_Delete(b);

    b = sl_catalog_update_table_req("db", "t", "s3://l/t/", cols, 2);
    CHECK(b);
    CHECK_STR(at(b, "DatabaseName"), "db");
    CHECK_STR(at(b, "TableInput.Name"), "t");
    CHECK(sd_ok(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "TableInput"),
                                                 "StorageDescriptor"),
                "s3://l/t/"));
    cJSON_Delete(b);
}

static void test_partition_bodies(void)
{
    sl_cat_partition p[250];
    char locs[250][80], vals[250][32];
    cJSON *b;
    const cJSON *list;

    for (int i = 0; i < 250; i++) {
        snprintf(vals[i], sizeof(vals[i]), "2024-%02d-%02d", i / 28 + 1, i % 28 + 1);
        snprintf(locs[i], sizeof(locs[i]), "s3://l/t/date=2024-%02d-%02d/", i / 28 + 1, i % 28 + 1);
        p[i].value = vals[i];
        p[i].location = locs[i];
    }
    b = sl_catalog_batch_create_partition_req("db", "t", p, 2, cols, 2);
    CHECK(b);
    CHECK_STR(at(b, "DatabaseName"), "db");
    CHECK_STR(at(b, "TableName"), "t");
    list = cJSON_GetObjectItemCaseSensitive(b, "PartitionInputList");
    CHECK_INT(cJSON_GetArraySize(list), 2);
    CHECK_STR(at(list, "#1.Values.#0"), "2024-01-02");
    CHECK_INT(
        cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 1), "Values")),
        1);
    CHECK(sd_ok(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(list, 1), "StorageDescriptor"),
                "s3://l/t/date=2024-01-02/"));
    cJSON_Delete(b);
    /* At most 100 per call. */
    CHECK(sl_catalog_batch_create_partition_req("db", "t", p, 101, cols, 2) == NULL);
    CHECK(sl_catalog_batch_create_partition_req("db", "t", p, 0, cols, 2) == NULL);
    b = sl_catalog_batch_create_partition_req("db", "t", p, 100, cols, 2);
    CHECK(b);
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(b, "PartitionInputList")), 100);
    cJSON_Delete(b);

    b = sl_catalog_update_partition_req("db", "t", &p[0], cols, 2);
    CHECK(b);
    CHECK_STR(at(b, "DatabaseName"), "db");
    CHECK_STR(at(b, "TableName"), "t");
    CHECK_STR(at(b, "PartitionValueList.#0"), "2024-01-01");
    CHECK_STR(at(b, "PartitionInput.Values.#0"), "2024-01-01");
    CHECK(sd_ok(cJSON_GetObjectItemCaseSensitive(
                    cJSON_GetObjectItemCaseSensitive(b, "PartitionInput"), "StorageDescriptor"),
                "s3://l/t/date=2024-01-01/"));
    cJSON_Delete(b);
}

static void test_batch_chunks(void)
{
    static const struct {
        size_t n, calls;
        size_t last_off, last_cnt;
    } cases[] = {{0, 0, 0, 0},     {1, 1, 0, 1},      {100, 1, 0, 100},
                 {101, 2, 100, 1}, {250, 3, 200, 50}, {300, 3, 200, 100}};
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        size_t off = 9, cnt = 9, total = 0, k;
        CHECK_INT(sl_catalog_batch_count(cases[i].n), cases[i].calls);
        for (k = 0; sl_catalog_batch_at(cases[i].n, k, &off, &cnt) == 0; k++) {
            CHECK(cnt >= 1 && cnt <= SL_CATALOG_PARTITION_BATCH);
            CHECK_INT(off, total);
            total += cnt;
        }
        CHECK_INT(k, cases[i].calls);
        CHECK_INT(total, cases[i].n);
        if (cases[i].calls) {
            CHECK_INT(off, cases[i].last_off);
            CHECK_INT(cnt, cases[i].last_cnt);
        }
    }
}

/* --- BatchCreatePartition's Errors -------------------------------------------------------- */

static void test_partition_errors(void)
{
    const char *j = "{\"Errors\":["
                    "{\"PartitionValues\":[\"2024-01-01\"],\"ErrorDetail\":{\"ErrorCode\":"
                    "\"AlreadyExistsException\",\"ErrorMessage\":\"Partition already exists.\"}},"
                    "{\"PartitionValues\":[\"2024-01-02\"],\"ErrorDetail\":{\"ErrorCode\":"
                    "\"InternalServiceException\",\"ErrorMessage\":\"try later\"}},"
                    "{\"PartitionValues\":[\"2024-01-03\"],\"ErrorDetail\":{\"ErrorCode\":"
                    "\"InvalidInputException\",\"ErrorMessage\":\"bad\"}},"
                    "{\"ErrorDetail\":{}}"
                    "]}";
    sl_cat_part_error *e;
    size_t n;
    char err[SL_ERRLEN];

    CHECK_INT(sl_catalog_parse_partition_errors_bytes(j, strlen(j), &e, &n, err, sizeof(err)), 0);
    CHECK_INT(n, 4);
    CHECK_STR(e[0].value, "2024-01-01");
    CHECK_STR(e[0].code, "AlreadyExistsException");
    CHECK_STR(e[0].message, "Partition already exists.");
    CHECK_INT(e[0].kind, SL_CAT_PERR_EXISTS);
    CHECK_INT(e[1].kind, SL_CAT_PERR_TRANSIENT);
    CHECK_INT(e[2].kind, SL_CAT_PERR_PERMANENT);
    CHECK_STR(e[2].message, "bad");
    CHECK_STR(e[3].value, "");
    CHECK_STR(e[3].code, "UnknownError");
    CHECK_INT(e[3].kind, SL_CAT_PERR_PERMANENT);
    sl_catalog_part_errors_free(e, n);

    {
        static const char *none[] = {"{}", "{\"Errors\":[]}", "{\"Errors\":null}"};
        for (size_t i = 0; i < SL_ARRAY_LEN(none); i++) {
            CHECK_INT(sl_catalog_parse_partition_errors_bytes(none[i], strlen(none[i]), &e, &n, err,
                                                              sizeof(err)),
                      0);
            CHECK_INT(n, 0);
            CHECK(e == NULL);
        }
    }
    {
        static const char *bad[] = {"", "[]", "{\"Errors\":{}}", "{\"Errors\":[1]}",
                                    "{\"Errors\":[]} {}"};
        for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
            err[0] = '\0';
            CHECK(sl_catalog_parse_partition_errors_bytes(bad[i], strlen(bad[i]), &e, &n, err,
                                                          sizeof(err)) != 0);
            CHECK(err[0] != '\0');
            CHECK(e == NULL && n == 0);
        }
    }
    {
        static const struct {
            const char *code;
            sl_cat_perr_kind kind;
        } kinds[] = {{"AlreadyExistsException", SL_CAT_PERR_EXISTS},
                     {"OperationTimeoutException", SL_CAT_PERR_TRANSIENT},
                     {"ConcurrentModificationException", SL_CAT_PERR_TRANSIENT},
                     {"ThrottlingException", SL_CAT_PERR_TRANSIENT},
                     {"EntityNotFoundException", SL_CAT_PERR_PERMANENT},
                     {"ResourceNumberLimitExceededException", SL_CAT_PERR_PERMANENT},
                     {"GlueEncryptionException", SL_CAT_PERR_PERMANENT},
                     {NULL, SL_CAT_PERR_PERMANENT}};
        for (size_t i = 0; i < SL_ARRAY_LEN(kinds); i++)
            CHECK_INT(sl_catalog_perr_kind(kinds[i].code), kinds[i].kind);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_glue_types),
    SL_TEST(test_parse_tables_info),
    SL_TEST(test_parse_tables_info_rejects),
    SL_TEST(test_names),
    SL_TEST(test_name_collisions),
    SL_TEST(test_schema_decide),
    SL_TEST(test_table_columns),
    SL_TEST(test_create_table_body),
    SL_TEST(test_partition_bodies),
    SL_TEST(test_batch_chunks),
    SL_TEST(test_partition_errors),
};

SL_TEST_MAIN(tests)
