/*
 * catalog_req.h - the Glue request bodies of direct catalog registration (CreateTable,
 * UpdateTable, BatchCreatePartition in calls of at most 100, UpdatePartition) and the reading
 * of BatchCreatePartition's per-partition Errors. Pure: cJSON in, cJSON out. Field names are
 * botocore's glue 2017-03-31 service model's.
 */
#ifndef SL_CATALOG_REQ_H
#define SL_CATALOG_REQ_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "catalog.h"
#include "util.h"

/* BatchCreatePartition's PartitionInputList holds at most 100 entries. */
#define SL_CATALOG_PARTITION_BATCH 100

/* --- request bodies -------------------------------------------------------------------------- */

/*
 * A Glue TableInput for an external Parquet table: Name, TableType EXTERNAL_TABLE, Parameters
 * {classification: parquet, EXTERNAL: TRUE}, PartitionKeys [{Name: date, Type: string}], and a
 * StorageDescriptor with Columns, Location, the Hive Parquet InputFormat / OutputFormat and
 * SerdeInfo {SerializationLibrary: ParquetHiveSerDe}. Returns a new object (cJSON_Delete) or
 * NULL on out of memory. Strings are copied.
 */
cJSON *sl_catalog_table_input(const char *name, const char *location, const sl_cat_column *cols,
                              size_t ncols);

/* CreateTable / UpdateTable: {DatabaseName, TableInput}. New object or NULL (OOM). */
cJSON *sl_catalog_create_table_req(const char *database, const char *name, const char *location,
                                   const sl_cat_column *cols, size_t ncols);
cJSON *sl_catalog_update_table_req(const char *database, const char *name, const char *location,
                                   const sl_cat_column *cols, size_t ncols);

/* One partition to register: its date value and its folder (s3://.../date=<value>/). */
typedef struct sl_cat_partition {
    const char *value;
    const char *location;
} sl_cat_partition;

/*
 * A PartitionInput: Values [value], StorageDescriptor (Columns, Location, formats, SerDe as in
 * the table). New object or NULL (OOM).
 */
cJSON *sl_catalog_partition_input(const sl_cat_partition *p, const sl_cat_column *cols,
                                  size_t ncols);

/*
 * BatchCreatePartition {DatabaseName, TableName, PartitionInputList} of parts[0..n). NULL when
 * n is 0 or over SL_CATALOG_PARTITION_BATCH (use sl_catalog_batch_count / _at), or on OOM.
 */
cJSON *sl_catalog_batch_create_partition_req(const char *database, const char *table,
                                             const sl_cat_partition *parts, size_t n,
                                             const sl_cat_column *cols, size_t ncols);

/* How many BatchCreatePartition calls n partitions take (0 for 0). */
size_t sl_catalog_batch_count(size_t n);
/* Call number i (0-based) of those: *off and *cnt into the partitions. -1 when i is past. */
int sl_catalog_batch_at(size_t n, size_t i, size_t *off, size_t *cnt);

/*
 * UpdatePartition {DatabaseName, TableName, PartitionValueList [value], PartitionInput}. New
 * object or NULL (OOM).
 */
cJSON *sl_catalog_update_partition_req(const char *database, const char *table,
                                       const sl_cat_partition *p, const sl_cat_column *cols,
                                       size_t ncols);

/* --- BatchCreatePartition's Errors ----------------------------------------------------------- */

typedef enum sl_cat_perr_kind {
    SL_CAT_PERR_EXISTS,    /* AlreadyExistsException: update that partition instead */
    SL_CAT_PERR_TRANSIENT, /* throttling, InternalServiceException, timeouts: retry it */
    SL_CAT_PERR_PERMANENT  /* anything else: the partition failed */
} sl_cat_perr_kind;

typedef struct sl_cat_part_error {
    char *value; /* PartitionValues[0] (heap); "" when absent */
    char code[128];
    char *message; /* ErrorDetail.ErrorMessage (heap); "" when absent */
    sl_cat_perr_kind kind;
} sl_cat_part_error;

/* Classifies a per-partition ErrorCode. Pure. */
sl_cat_perr_kind sl_catalog_perr_kind(const char *code);

/*
 * Reads BatchCreatePartition's response {"Errors": [{"PartitionValues": [...], "ErrorDetail":
 * {"ErrorCode", "ErrorMessage"}}]}. No Errors (or an empty list) is success with *n = 0. On 0
 * *out (NULL when none) is the caller's to free with sl_catalog_part_errors_free. -1 with err
 * when Errors is not a list of objects, or on out of memory.
 */
int sl_catalog_parse_partition_errors(const cJSON *resp, sl_cat_part_error **out, size_t *n,
                                      char *err, size_t errlen) SL_MUST_CHECK;
/* As above over raw bytes (at most 1 MiB): the fuzzer's entry point. */
int sl_catalog_parse_partition_errors_bytes(const char *buf, size_t len, sl_cat_part_error **out,
                                            size_t *n, char *err, size_t errlen) SL_MUST_CHECK;
void sl_catalog_part_errors_free(sl_cat_part_error *e, size_t n);

#endif /* SL_CATALOG_REQ_H */
