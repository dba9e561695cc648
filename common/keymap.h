/*
 * keymap.h - export object key -> lake key mapping, collision planning, and the
 * export_tables_info reader (pure logic, no I/O).
 *
 * An RDS export writes under `<s3 prefix>/<export task id>/`:
 *   current convention   <db>/<schema.table>/<n>/part-00000-<uuid>.gz.parquet  (n = partition
 *                        index folder, digits)
 *   previous convention  <db>/<schema.table>/part-00000-<uuid>.gz.parquet
 *   metadata             export_info_<id>.json, export_tables_info_<id>_from_<a>_to_<b>.json,
 *                        _SUCCESS markers in the table/partition folders.
 * Every `*.gz.parquet` maps to
 *   [<LAKE_PREFIX>/]<cluster>/<db>/<schema.table>/date=<YYYY-MM-DD>/<file>
 * so that Glue sees a `date` partition (the seed's layout). Everything else is classified,
 * never mapped. Keys are raw bytes (UTF-8, spaces, `+`, `%`, `=`, `~`, ...) and are copied
 * byte for byte: nothing is decoded, normalised or re-encoded here (S3 URL-encoding belongs
 * to the HTTP layer).
 */
#ifndef SL_KEYMAP_H
#define SL_KEYMAP_H

#include <stddef.h>

#include "util.h"

/* Longest S3 key (1024 bytes of UTF-8); longer inputs are rejected. */
#define SL_KEYMAP_KEY_MAX 1024
/* Cap on an export_tables_info file handed to sl_keymap_parse_tables_info. */
#define SL_KEYMAP_TABLES_INFO_MAX ((size_t)64 * 1024 * 1024)

typedef enum sl_key_kind {
    SL_KEY_PARQUET = 0, /* a data file: mapped, dest set */
    SL_KEY_SUCCESS,     /* a `_SUCCESS` marker */
    SL_KEY_EXPORT_INFO, /* export_info_<id>.json at the export root */
    SL_KEY_TABLES_INFO, /* export_tables_info_<id>_from_<a>_to_<b>.json at the export root */
    SL_KEY_OTHER,       /* anything else inside the export: not copied */
    SL_KEY_REJECTED     /* unusable key: reason set, nothing else */
} sl_key_kind;

/* Where mapping happens. All borrowed; the caller keeps them alive during the call. */
typedef struct sl_keymap_ctx {
    const char *export_root; /* `<s3 prefix>/<export task id>` (a trailing `/` is optional) */
    const char *lake_prefix; /* LAKE_PREFIX; NULL or "" = none (no leading slash) */
    const char *cluster;     /* cluster id */
    const char *date;        /* YYYY-MM-DD */
} sl_keymap_ctx;

/* One classified key. Strings are heap-owned by the struct; sl_keymap_entry_cleanup. */
typedef struct sl_keymap_entry {
    sl_key_kind kind;
    char *src;        /* the source key, verbatim (set for every kind but REJECTED) */
    char *db;         /* PARQUET, and SUCCESS below a db folder; else NULL */
    char *table;      /* `schema.table` folder (PARQUET, SUCCESS in a table folder) */
    char *partition;  /* `<n>` folder (current convention) or NULL (previous convention) */
    char *file;       /* base name (PARQUET) */
    char *dest_dir;   /* PARQUET: `[<lake>/]<cluster>/<db>/<table>/date=<date>/` */
    char *dest;       /* PARQUET: dest_dir + file (or + `<n>-` + file after collision plan) */
    char reason[128]; /* REJECTED: why */
} sl_keymap_entry;

/*
 * Classifies one source key and, for a data file, computes its destination. Rejected (kind
 * SL_KEY_REJECTED, reason set): keys not under ctx->export_root, empty keys below the root,
 * empty segments (`//`, trailing `/`), `.` or `..` segments, keys over SL_KEYMAP_KEY_MAX, data
 * files shallower than `<db>/<table>/<file>` or deeper than `<db>/<table>/<n>/<file>`, a
 * non-numeric `<n>` folder, and any key deeper than 4 segments. Rejection is a normal
 * outcome (return 0): the caller counts and reports it.
 * *out is initialised here (the caller need not) and must be cleaned up after a 0 return.
 * Returns 0, or -1 with err when ctx is incomplete (cluster/date invalid) or memory ran out;
 * on -1 *out holds nothing to free.
 */
int sl_keymap_map(const sl_keymap_ctx *ctx, const char *key, sl_keymap_entry *out, char *err,
                  size_t errlen) SL_MUST_CHECK;

/* Frees the strings of e and zeroes it. NULL is a no-op. */
void sl_keymap_entry_cleanup(sl_keymap_entry *e);

/*
 * Collision plan for all entries of one export (any kinds; only PARQUET ones are looked at).
 * In the current convention the same file name can appear in several partition folders of
 * one table, which would land on the same destination and overwrite each other. Rule: every
 * PARQUET entry whose dest is shared with another entry, and that has a partition folder,
 * gets its dest rewritten to dest_dir + `<n>-` + file (e.g. `1-part-00000-<uuid>.gz.parquet`);
 * entries whose dest is unique keep the plain file name. The result depends only on the set
 * of keys, not on their order. If any destination is still shared afterwards (e.g. a
 * previous-convention key colliding with another, or a renamed name hitting an existing
 * one), nothing is guessed: returns -1 with err naming the destination, so no data is
 * silently overwritten. *renamed (may be NULL) gets the number of rewritten entries.
 * Returns 0, or -1 (collision left, or out of memory); on -1 no entry was changed and the
 * caller treats the export's copy as a permanent failure.
 */
int sl_keymap_plan(sl_keymap_entry *entries, size_t n, size_t *renamed, char *err,
                   size_t errlen) SL_MUST_CHECK;

/*
 * The same plan without touching the entries (whose strings may then be borrowed, e.g. from
 * an arena): newdest (n slots, the caller's) gets, for each entry to be renamed, its new
 * destination as a heap string (the caller frees it), and NULL for the others. The copy stage
 * plans one table at a time this way (a destination holds its table's folder, so collisions
 * never cross tables). Returns 0, or -1 with err as sl_keymap_plan (every slot then NULL).
 */
int sl_keymap_plan_names(const sl_keymap_entry *entries, size_t n, char **newdest, size_t *renamed,
                         char *err, size_t errlen) SL_MUST_CHECK;

/*
 * The distinct destination `date=` folders the PARQUET entries touch,
 * `[<lake>/]<cluster>/<db>/<table>/date=<date>/`, sorted bytewise. These are the prefixes the
 * copy worker lists afterwards to delete objects that are not from this export (partition
 * replacement). *out is a heap array of heap strings (free with sl_keymap_strv_free); *nout
 * may be 0 (then *out is NULL). Returns 0, or -1 with err when memory ran out.
 */
int sl_keymap_date_prefixes(const sl_keymap_entry *entries, size_t n, char ***out, size_t *nout,
                            char *err, size_t errlen) SL_MUST_CHECK;

/* Frees an array of n heap strings and the array. NULL is a no-op. */
void sl_keymap_strv_free(char **v, size_t n);

/* A table whose export did not complete, from export_tables_info. Heap strings. */
typedef struct sl_table_status {
    char *table;  /* `target`, e.g. "mydb.public.orders"; "(unknown)" when absent */
    char *status; /* `status` as written, e.g. "FAILED"; "(missing)" when absent */
    char *reason; /* `warningMessage`/`failureCause`/`errorMessage` when given, else a note */
} sl_table_status;

typedef struct sl_tables_info {
    size_t ntables;          /* table entries seen (entries with a status) */
    size_t ncomplete;        /* of which status == "COMPLETE" */
    sl_table_status *failed; /* the others, in file order */
    size_t nfailed;
    char **warnings; /* entries with a warningMessage but no status (db-level notes) */
    size_t nwarnings;
} sl_tables_info;

/*
 * Parses one export_tables_info_<id>_from_<a>_to_<b>.json (len bytes, need not be
 * NUL-terminated, at most SL_KEYMAP_TABLES_INFO_MAX). AWS's layout:
 *   {"perTableStatus": [{"target": "<db>.<schema>.<table>", "status": "COMPLETE",
 *                        "sizeGB": ..., "tableStatistics": {...}, "schemaMetadata": {...}},
 *                       {"target": "<db>", "warningMessage": "..."} ...]}
 * Entries with a status other than COMPLETE become `failed`; entries with only a
 * warningMessage become `warnings`. Unknown fields are ignored. Initialises *out; on 0 the
 * caller calls sl_keymap_tables_info_cleanup. Returns 0, or -1 with err for oversize input,
 * invalid JSON, a missing/non-array perTableStatus, a non-object entry or out of memory
 * (*out then holds nothing).
 */
int sl_keymap_parse_tables_info(const char *buf, size_t len, sl_tables_info *out, char *err,
                                size_t errlen) SL_MUST_CHECK;

/* Frees what sl_keymap_parse_tables_info filled. NULL is a no-op. */
void sl_keymap_tables_info_cleanup(sl_tables_info *ti);

#endif /* SL_KEYMAP_H */
