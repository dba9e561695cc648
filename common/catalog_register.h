/*
 * catalog_register.h - registers one exported table and its new date partitions in the Glue
 * Data Catalog without a crawler (CATALOG_MODE=direct): the I/O half of catalog.h.
 *
 * For one table: GetTable; CreateTable when it is missing (a CreateTable that loses a race to
 * another worker, AlreadyExistsException, is read again and treated as existing); when it
 * exists, sl_catalog_schema_decide against the export's columns: unchanged -> nothing,
 * added columns -> UpdateTable with the catalog's columns followed by the new ones, a changed
 * type or a removed column -> a permanent failure naming table, column and types (the catalog
 * is left as it was). Then BatchCreatePartition in calls of at most 100; a partition whose
 * ErrorCode is AlreadyExistsException (a re-export of that date) is replaced with
 * UpdatePartition; transient per-partition errors make the whole call transient (a retry is
 * safe: what was created is then updated); any other is permanent. Idempotent: running it
 * twice leaves one table and one partition per date.
 */
#ifndef SL_CATALOG_REGISTER_H
#define SL_CATALOG_REGISTER_H

#include <stddef.h>

#include "aws_http.h"
#include "catalog.h"
#include "catalog_req.h"

/* What one registration did. Plain data. */
typedef struct sl_cat_register_result {
    int table_created;         /* CreateTable made the table */
    int table_updated;         /* UpdateTable appended columns */
    size_t columns_added;      /* how many */
    size_t ncolumns;           /* columns of the table after the call (the schema version's) */
    size_t partitions_created; /* by BatchCreatePartition */
    size_t partitions_updated; /* AlreadyExists -> UpdatePartition */
    int calls;                 /* Glue calls made (benchmarks, logs) */
} sl_cat_register_result;

/*
 * Registers table t (complete, registrable, glue_name set: see sl_catalog_name_tables) in
 * `database`, located at `location` (s3://bucket/prefix/ of the table, its date= folders
 * below), with partitions parts[0..nparts) (nparts may be 0). Everything borrowed. Returns 0
 * with *res filled, or -1 with *err: AWS's error (err->transient as classified), or code
 * "SchemaIncompatible" (permanent; message as sl_catalog_schema_decide's cause),
 * "PartitionFailed" (a per-partition error; transient when it was), "ParseError", or
 * "InvalidInput" for a table that is not registrable. *res says what was done before a
 * failure.
 */
int sl_catalog_register_table(sl_aws *aws, const char *database, const sl_cat_table *t,
                              const char *location, const sl_cat_partition *parts, size_t nparts,
                              sl_cat_register_result *res, sl_aws_error *err) SL_MUST_CHECK;

#endif /* SL_CATALOG_REGISTER_H */
