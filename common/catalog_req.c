/* catalog_req.c - see catalog_req.h. */
#include "catalog_req.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define PARQUET_IN "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
#define PARQUET_OUT "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
#define PARQUET_SERDE "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
#define PERR_MAX_BYTES ((size_t)1024 * 1024)

/* ============================================================================================
 * request bodies
 * ========================================================================================== */

static cJSON *columns_json(const sl_cat_column *cols, size_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a && i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddStringToObject(c, "Name", cols[i].name) ||
            !cJSON_AddStringToObject(c, "Type", cols[i].type) || !cJSON_AddItemToArray(a, c)) {
            cJSON_Delete(c);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* The StorageDescriptor shared by tables and partitions. */
static cJSON *storage_descriptor(const char *location, const sl_cat_column *cols, size_t ncols)
{
    cJSON *sd = cJSON_CreateObject(), *serde, *cl = columns_json(cols, ncols);

    if (!sd || !cl || !cJSON_AddItemToObject(sd, "Columns", cl)) {
        cJSON_Delete(cl);
        cJSON_Delete(sd);
        return NULL;
    }
    serde = cJSON_AddObjectToObject(sd, "SerdeInfo");
    if (!cJSON_AddStringToObject(sd, "Location", location) ||
        !cJSON_AddStringToObject(sd, "InputFormat", PARQUET_IN) ||
        !cJSON_AddStringToObject(sd, "OutputFormat", PARQUET_OUT) || !serde ||
        !cJSON_AddStringToObject(serde, "SerializationLibrary", PARQUET_SERDE) ||
        !cJSON_AddFalseToObject(sd, "Compressed")) {
        cJSON_Delete(sd);
        return NULL;
    }
    return sd;
}

cJSON *sl_catalog_table_input(const char *name, const char *location, const sl_cat_column *cols,
                              size_t ncols)
{
    static const sl_cat_column date_key = {SL_CATALOG_PARTITION_KEY, "string"};
    cJSON *ti = cJSON_CreateObject(), *sd = storage_descriptor(location, cols, ncols), *pk, *par;

    if (!ti || !sd || !cJSON_AddStringToObject(ti, "Name", name) ||
        !cJSON_AddItemToObject(ti, "StorageDescriptor", sd)) {
        cJSON_Delete(sd);
        cJSON_Delete(ti);
        return NULL;
    }
    pk = columns_json(&date_key, 1);
    if (!pk || !cJSON_AddItemToObject(ti, "PartitionKeys", pk)) {
        cJSON_Delete(pk);
        cJSON_Delete(ti);
        return NULL;
    }
    par = cJSON_AddObjectToObject(ti, "Parameters");
    /* classification is what Athena and Glue jobs read the format from; EXTERNAL keeps a
     * DROP TABLE from deleting the lake's files. */
    if (!cJSON_AddStringToObject(ti, "TableType", "EXTERNAL_TABLE") || !par ||
        !cJSON_AddStringToObject(par, "classification", "parquet") ||
        !cJSON_AddStringToObject(par, "EXTERNAL", "TRUE")) {
        cJSON_Delete(ti);
        return NULL;
    }
    return ti;
}

static cJSON *table_req(const char *database, const char *name, const char *location,
                        const sl_cat_column *cols, size_t ncols)
{
    cJSON *b = cJSON_CreateObject(), *ti = sl_catalog_table_input(name, location, cols, ncols);

    if (!b || !ti || !cJSON_AddStringToObject(b, "DatabaseName", database) ||
        !cJSON_AddItemToObject(b, "TableInput", ti)) {
        cJSON_Delete(ti);
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

cJSON *sl_catalog_create_table_req(const char *database, const char *name, const char *location,
                                   const sl_cat_column *cols, size_t ncols)
{
    return table_req(database, name, location, cols, ncols);
}

cJSON *sl_catalog_update_table_req(const char *database, const char *name, const char *location,
                                   const sl_cat_column *cols, size_t ncols)
{
    /* UpdateTable replaces the whole TableInput: the same body as CreateTable. */
    return table_req(database, name, location, cols, ncols);
}

static cJSON *values_json(const char *value)
{
    cJSON *v = cJSON_CreateArray(), *s = cJSON_CreateString(value);

    if (!v || !s || !cJSON_AddItemToArray(v, s)) {
        cJSON_Delete(s);
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

cJSON *sl_catalog_partition_input(const sl_cat_partition *p, const sl_cat_column *cols,
                                  size_t ncols)
{
    cJSON *pi = cJSON_CreateObject(), *v = values_json(p->value),
          *sd = storage_descriptor(p->location, cols, ncols);

    if (!pi || !v || !sd || !cJSON_AddItemToObject(pi, "Values", v)) {
        cJSON_Delete(pi);
        cJSON_Delete(v);
        cJSON_Delete(sd);
        return NULL;
    }
    if (!cJSON_AddItemToObject(pi, "StorageDescriptor", sd)) {
        cJSON_Delete(sd);
        cJSON_Delete(pi);
        return NULL;
    }
    return pi;
}

cJSON *sl_catalog_batch_create_partition_req(const char *database, const char *table,
                                             const sl_cat_partition *parts, size_t n,
                                             const sl_cat_column *cols, size_t ncols)
{
    cJSON *b, *list;

    if (n == 0 || n > SL_CATALOG_PARTITION_BATCH)
        return NULL;
    b = cJSON_CreateObject();
    if (!b || !cJSON_AddStringToObject(b, "DatabaseName", database) ||
        !cJSON_AddStringToObject(b, "TableName", table) ||
        !(list = cJSON_AddArrayToObject(b, "PartitionInputList"))) {
        cJSON_Delete(b);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *pi = sl_catalog_partition_input(&parts[i], cols, ncols);
        if (!pi || !cJSON_AddItemToArray(list, pi)) {
            cJSON_Delete(pi);
            cJSON_Delete(b);
            return NULL;
        }
    }
    return b;
}

size_t sl_catalog_batch_count(size_t n)
{
    return (n + SL_CATALOG_PARTITION_BATCH - 1) / SL_CATALOG_PARTITION_BATCH;
}

int sl_catalog_batch_at(size_t n, size_t i, size_t *off, size_t *cnt)
{
    if (i >= sl_catalog_batch_count(n))
        return -1;
    *off = i * SL_CATALOG_PARTITION_BATCH;
    *cnt = n - *off < SL_CATALOG_PARTITION_BATCH ? n - *off : SL_CATALOG_PARTITION_BATCH;
    return 0;
}

cJSON *sl_catalog_update_partition_req(const char *database, const char *table,
                                       const sl_cat_partition *p, const sl_cat_column *cols,
                                       size_t ncols)
{
    cJSON *b = cJSON_CreateObject(), *v = values_json(p->value),
          *pi = sl_catalog_partition_input(p, cols, ncols);

    if (!b || !v || !pi || !cJSON_AddStringToObject(b, "DatabaseName", database) ||
        !cJSON_AddStringToObject(b, "TableName", table) ||
        !cJSON_AddItemToObject(b, "PartitionValueList", v)) {
        cJSON_Delete(b);
        cJSON_Delete(v);
        cJSON_Delete(pi);
        return NULL;
    }
    if (!cJSON_AddItemToObject(b, "PartitionInput", pi)) {
        cJSON_Delete(pi);
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

/* ============================================================================================
 * BatchCreatePartition's Errors
 * ========================================================================================== */

sl_cat_perr_kind sl_catalog_perr_kind(const char *code)
{
    /* Glue's own retryable errors of BatchCreatePartition (botocore model), plus the SDKs'
     * throttling codes. */
    static const char *const transient[] = {"InternalServiceException",
                                            "OperationTimeoutException",
                                            "ConcurrentModificationException",
                                            "ThrottlingException",
                                            "Throttling",
                                            "ServiceUnavailable",
                                            "ServiceUnavailableException"};

    if (!code)
        return SL_CAT_PERR_PERMANENT;
    if (strcmp(code, "AlreadyExistsException") == 0)
        return SL_CAT_PERR_EXISTS;
    for (size_t i = 0; i < SL_ARRAY_LEN(transient); i++)
        if (strcmp(code, transient[i]) == 0)
            return SL_CAT_PERR_TRANSIENT;
    return SL_CAT_PERR_PERMANENT;
}

void sl_catalog_part_errors_free(sl_cat_part_error *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].value);
        free(e[i].message);
    }
    free(e);
}

int sl_catalog_parse_partition_errors(const cJSON *resp, sl_cat_part_error **out, size_t *n,
                                      char *err, size_t errlen)
{
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(resp, "Errors"), *e;
    sl_cat_part_error *v;
    size_t k = 0, cap;

    *out = NULL;
    *n = 0;
    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "BatchCreatePartition: response is not an object");
    if (!errs || cJSON_IsNull(errs))
        return 0;
    if (!cJSON_IsArray(errs))
        return sl_seterr(err, errlen, "BatchCreatePartition: Errors is not a list");
    cap = (size_t)cJSON_GetArraySize(errs);
    if (!cap)
        return 0;
    v = calloc(cap, sizeof(*v));
    if (!v)
        return sl_seterr(err, errlen, "BatchCreatePartition: out of memory");
    cJSON_ArrayForEach(e, errs)
    {
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "PartitionValues");
        const cJSON *det = cJSON_GetObjectItemCaseSensitive(e, "ErrorDetail");
        const cJSON *v0 = cJSON_IsArray(vals) ? cJSON_GetArrayItem(vals, 0) : NULL;
        const char *code = sl_json_str(det, "ErrorCode"), *msg = sl_json_str(det, "ErrorMessage");
        if (!cJSON_IsObject(e)) {
            sl_catalog_part_errors_free(v, k);
            return sl_seterr(err, errlen, "BatchCreatePartition: Errors[%zu] is not an object", k);
        }
        v[k].value = strdup(cJSON_IsString(v0) && v0->valuestring ? v0->valuestring : "");
        v[k].message = strdup(msg ? msg : "");
        snprintf(v[k].code, sizeof(v[k].code), "%s", code && code[0] ? code : "UnknownError");
        v[k].kind = sl_catalog_perr_kind(code);
        k++;
        if (!v[k - 1].value || !v[k - 1].message) {
            sl_catalog_part_errors_free(v, k);
            return sl_seterr(err, errlen, "BatchCreatePartition: out of memory");
        }
    }
    *out = v;
    *n = k;
    return 0;
}

int sl_catalog_parse_partition_errors_bytes(const char *buf, size_t len, sl_cat_part_error **out,
                                            size_t *n, char *err, size_t errlen)
{
    cJSON *j;
    int rc;

    *out = NULL;
    *n = 0;
    if (len > PERR_MAX_BYTES)
        return sl_seterr(err, errlen, "BatchCreatePartition: response of %zu bytes is over the cap",
                         len);
    j = sl_json_parse_exact(buf, len);
    if (!j)
        return sl_seterr(err, errlen, "BatchCreatePartition: response is not JSON");
    rc = sl_catalog_parse_partition_errors(j, out, n, err, errlen);
    cJSON_Delete(j);
    return rc;
}
