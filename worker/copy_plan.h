/*
 * copy_plan.h - the copy stage's pure logic (no I/O), apart from copy.c so it can be tested
 * with tables: the destination set and the stale set of partition replacement, the tables a
 * copy reports, and rates for the summary line.
 *
 * Key mapping and collision planning themselves are keymap.h's; multipart part ranges, the
 * completion body and the UploadId are s3.h's.
 */
#ifndef SL_COPY_PLAN_H
#define SL_COPY_PLAN_H

#include <stddef.h>

#include "keymap.h"
#include "util.h"

/*
 * The set of destination keys one export writes, for membership tests while the destination
 * `date=` folders are listed. The strings are borrowed (the keymap entries own them) and
 * must outlive the set; only the pointer array is owned.
 */
typedef struct sl_copy_destset {
    const char **keys; /* sorted bytewise (strcmp), duplicates kept */
    size_t n;
} sl_copy_destset;

/*
 * Builds the set from the `dest` of every SL_KEY_PARQUET entry (others are ignored). Call
 * after sl_keymap_plan, since the plan may rename destinations. Initialises *s; on 0 the
 * caller calls sl_copy_destset_cleanup. Returns 0, or -1 with err when memory ran out (*s
 * then holds nothing).
 */
int sl_copy_destset_init(sl_copy_destset *s, const sl_keymap_entry *entries, size_t n, char *err,
                         size_t errlen) SL_MUST_CHECK;

/* Non-zero when key is in the set (binary search). */
int sl_copy_destset_has(const sl_copy_destset *s, const char *key);

/* Frees the pointer array and zeroes s. NULL is a no-op. */
void sl_copy_destset_cleanup(sl_copy_destset *s);

/*
 * Partition replacement: of the keys listed under the destination folder `prefix` (one of
 * sl_keymap_date_prefixes, ending in '/'), the ones to delete are those that are not a
 * destination of this export. As a guard against a listing that is not what was asked for,
 * a key that does not start with `prefix` (or equals it) is never stale: nothing outside
 * the folders this export writes can be deleted. Appends pointers to the stale keys
 * (borrowed from `listed`) to *out / *nout (realloc'd; *out may start NULL with *nout 0;
 * free(*out) when done). Returns 0, or -1 with err when memory ran out (*out / *nout
 * unchanged).
 */
int sl_copy_plan_stale(const sl_copy_destset *dests, const char *prefix, const char *const *listed,
                       size_t nlisted, const char ***out, size_t *nout, char *err,
                       size_t errlen) SL_MUST_CHECK;

/*
 * The distinct tables the PARQUET entries belong to, as `db/schema.table` (the form of the
 * `tables` field of a `copied` message), sorted bytewise. *out is a heap array of heap
 * strings (sl_keymap_strv_free), NULL when *nout is 0. Returns 0, or -1 with err (OOM).
 */
int sl_copy_plan_tables(const sl_keymap_entry *entries, size_t n, char ***out, size_t *nout,
                        char *err, size_t errlen) SL_MUST_CHECK;

/*
 * An export_tables_info `target` ("db.schema.table", the database name never holds a dot in
 * PostgreSQL/MySQL identifiers RDS exports) in the `db/schema.table` form the messages use:
 * the first '.' becomes '/'. A target without a dot (a database-level entry) is copied as
 * is. Heap string (free()), NULL on OOM or NULL input.
 */
char *sl_copy_plan_table_name(const char *target);

/* amount per second over elapsed_ms (amount * 1000 / elapsed_ms); 0 when elapsed_ms <= 0. */
double sl_copy_plan_rate(long long amount, long long elapsed_ms);

#endif /* SL_COPY_PLAN_H */
