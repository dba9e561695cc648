/*
 * catalog_type.h - the Glue (Hive) type of an exported column, for direct catalog
 * registration (catalog.h). Pure.
 *
 * Types follow RDS's "Data conversion when exporting to an Amazon S3 bucket": every column of
 * export_tables_info's schemaMetadata.originalTypeMappings names its Parquet type in
 * expectedExportedType, written as parquet-mr prints a column: the primitive type, then the
 * logical annotation in parentheses ("int64", "binary (UTF8)", "int32 (DATE)",
 * "int64 (TIMESTAMP_MICROS)", "fixed_len_byte_array(9) (DECIMAL(20,0))"). The Glue (Hive) type
 * is read from that, never guessed: an unknown primitive or annotation is an error naming the
 * column, so a table is never registered with a type Athena would misread. Decimals of
 * precision over 38 are written by RDS as strings ("binary (UTF8)"), so a DECIMAL over 38 here
 * is an error too.
 */
#ifndef SL_CATALOG_TYPE_H
#define SL_CATALOG_TYPE_H

#include <stddef.h>

#include "util.h"

/*
 * The Glue type of one exported column into out ("bigint", "decimal(12,2)", "timestamp"...).
 * expected is expectedExportedType; original is originalType (may be NULL; used only in the
 * error text); num_precision / num_scale are originalNumPrecision / originalNumScale (-1
 * when absent), used for a DECIMAL annotation written without (p,s). Returns 0, or -1 with err
 * naming the type when it is unknown, when a decimal has no usable precision, or when
 * precision is over Glue's 38.
 */
int sl_catalog_glue_type(const char *expected, const char *original, long long num_precision,
                         long long num_scale, char *out, size_t outlen, char *err,
                         size_t errlen) SL_MUST_CHECK;

#endif /* SL_CATALOG_TYPE_H */
