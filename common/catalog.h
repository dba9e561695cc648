/*
 * catalog.h - direct Glue catalog registration (CATALOG_MODE=direct), the pure half: what the
 * export says about its tables, the Glue names made from it and the schema decision against
 * the catalog. No I/O. Column types: catalog_type.h; request bodies and BatchCreatePartition's
 * Errors: catalog_req.h; the calls: glue.h; one table's registration: catalog_register.h.
 */
#ifndef SL_CATALOG_H
#define SL_CATALOG_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "catalog_type.h"
#include "util.h"

/* Cap on an export_tables_info file handed to sl_catalog_parse_tables_info. */
#define SL_CATALOG_INFO_MAX ((size_t)64 * 1024 * 1024)
/* Glue's NameString: 1..255 characters (database, table, column names). */
#define SL_CATALOG_NAME_MAX 255
/* The partition key of every lake table: the copy stage's `date=YYYY-MM-DD` folders. */
#define SL_CATALOG_PARTITION_KEY "date"

/* --- export_tables_info ---------------------------------------------------------------------- */

/* A column as registered: Glue name (lower case) and Glue type. Heap strings. */
typedef struct sl_cat_column {
    char *name;
    char *type;
} sl_cat_column;

/* One table entry of export_tables_info. All strings heap; owned by the sl_cat_export. */
typedef struct sl_cat_table {
    char *target;        /* "<db>.<schema>.<table>" (PostgreSQL) or "<db>.<table>" (MySQL) */
    char *database;      /* split of target */
    char *schema;        /* "" for a two-part target */
    char *table;         /* last part of target */
    char *status;        /* `status` as written ("COMPLETE", "FAILED", ...) */
    int complete;        /* status == "COMPLETE" */
    char *reason;        /* failed: warningMessage / failureCause / a note; else NULL */
    char *error;         /* complete but not registrable (unknown type...): why; else NULL */
    sl_cat_column *cols; /* complete and registrable: in file order; else NULL */
    size_t ncols;
    char glue_name[SL_CATALOG_NAME_MAX + 1]; /* set by sl_catalog_name_tables; "" before */
} sl_cat_table;

typedef struct sl_cat_export {
    sl_cat_table *tables; /* entries that carry a target and a status, in file order */
    size_t ntables;
} sl_cat_export;

/*
 * Parses export_tables_info_<id>_from_<a>_to_<b>.json (len bytes, need not be
 * NUL-terminated, at most SL_CATALOG_INFO_MAX):
 *   {"perTableStatus": [{"target": "db.public.t", "status": "COMPLETE",
 *     "schemaMetadata": {"originalTypeMappings": [{"columnName", "originalType",
 *       "expectedExportedType", "originalCharMaxLength", "originalNumPrecision",
 *       "originalNumScale", "originalDateTimePrecision"}]}, ...}, ...]}
 * Entries without a target or status (database-level warnings) are skipped. A COMPLETE entry
 * whose columns cannot be typed, whose column names repeat (case-insensitively) or that has no
 * columns gets `error` and no cols: one bad table never hides the others. Initialises *out;
 * on 0 the caller frees it with sl_catalog_export_cleanup. Returns -1 with err when the bytes
 * are not one JSON object with a perTableStatus array, or on out of memory.
 */
int sl_catalog_parse_tables_info(const char *buf, size_t len, sl_cat_export *out, char *err,
                                 size_t errlen) SL_MUST_CHECK;
void sl_catalog_export_cleanup(sl_cat_export *e);

/* --- names ----------------------------------------------------------------------------------- */

/* Values of a name template's placeholders; NULL reads as "". Borrowed. */
typedef struct sl_cat_name_vars {
    const char *cluster;  /* {cluster} */
    const char *database; /* {database}: the source database */
    const char *schema;   /* {schema} */
    const char *table;    /* {table} */
    const char *folder;   /* {folder}: the export's table folder, "schema.table" or, for a
                             two-part (MySQL) target, "table": the name a crawler gives */
} sl_cat_name_vars;

/*
 * Expands tmpl ("snaplake_{cluster}", "{database}_{schema}_{table}") and makes the result a
 * valid Glue name that Athena can query unquoted: ASCII letters lower-cased, every other
 * character outside [a-z0-9_] (one UTF-8 sequence at a time) becomes '_'. Returns 0 with out
 * filled, or -1 with err on an unknown or unclosed placeholder, an empty result, or a result
 * over 255 characters (an error, not a truncation: two long names cut short could meet).
 */
int sl_catalog_name(const char *tmpl, const sl_cat_name_vars *v, char *out, size_t outlen,
                    char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Sets glue_name of every table of e from table_tmpl (cluster from `cluster`, the rest from
 * the table's target; {folder} is the target after its database), then checks that no two tables
 * share a name. Returns 0, or -1 with err naming the name and both targets ("tables a.b.c and a.b_c
 * both map to a_b_c"): never an overwrite.
 */
int sl_catalog_name_tables(sl_cat_export *e, const char *table_tmpl, const char *cluster, char *err,
                           size_t errlen) SL_MUST_CHECK;

/* --- schema decision ------------------------------------------------------------------------- */

typedef enum sl_cat_schema_verdict {
    SL_CAT_SCHEMA_UNCHANGED,   /* same columns and types (order aside: Parquet reads by name) */
    SL_CAT_SCHEMA_APPEND,      /* the export adds columns: append them, in export order */
    SL_CAT_SCHEMA_INCOMPATIBLE /* a column changed type or disappeared: a failure */
} sl_cat_schema_verdict;

/*
 * Compares the catalog's columns (cur, from GetTable) with the export's (exp). Names compare
 * case-insensitively, types ignoring case and blanks ("decimal(10, 2)" == "DECIMAL(10,2)").
 * For APPEND, *nadded is the number of export columns the catalog lacks. For INCOMPATIBLE,
 * cause says which: "table t: column c changed type from int to bigint" or "table t: column c
 * is in the catalog but not in the export". Pure; never fails.
 */
sl_cat_schema_verdict sl_catalog_schema_decide(const char *table, const sl_cat_column *cur,
                                               size_t ncur, const sl_cat_column *exp, size_t nexp,
                                               size_t *nadded, char *cause, size_t causelen);

/*
 * The columns of a Glue Table object (GetTable's "Table", or one of GetTables' TableList):
 * StorageDescriptor.Columns as sl_cat_column (names as Glue has them). On 0 *cols (NULL when
 * there are none) and *n are the caller's to free with sl_catalog_columns_free. -1 with err
 * when the shape is wrong or on out of memory.
 */
int sl_catalog_table_columns(const cJSON *table, sl_cat_column **cols, size_t *n, char *err,
                             size_t errlen) SL_MUST_CHECK;
void sl_catalog_columns_free(sl_cat_column *cols, size_t n);

#endif /* SL_CATALOG_H */
