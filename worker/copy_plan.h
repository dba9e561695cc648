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
#include "msg.h"
#include "util.h"

/*
 * The set of destination keys one export writes, for membership tests while the destination
 * `date=` folders are listed. The strings are borrowed (the keymap entries own them) and
 * must outlive the set; only the pointer array is owned.
 */
typedef struct sl_copy_destset {
    const char **keys; /* sorted bytewise (strcmp), duplicates kept */
    size_t *idx;       /* idx[i]: index into the entries of keys[i] */
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

/* Non-zero when key is in the set, with *entry the index of (one) entry writing it. */
int sl_copy_destset_find(const sl_copy_destset *s, const char *key, size_t *entry);

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

/*
 * Whether a data file belongs to a table that export_tables_info reports as not COMPLETE:
 * e is a PARQUET entry (db + `schema.table`), failed/nfailed the tables in the `db/schema.table`
 * form of sl_copy_plan_table_name. RDS leaves the files a table had written before it failed
 * (a partial table); copying them would put half a table into the lake, so such files are
 * left out and the table is only reported. Returns 1 or 0; e and failed are only read.
 */
int sl_copy_plan_in_failed_table(const sl_keymap_entry *e, const sl_msg_table_failure *failed,
                                 size_t nfailed);

/* amount per second over elapsed_ms (amount * 1000 / elapsed_ms); 0 when elapsed_ms <= 0. */
double sl_copy_plan_rate(long long amount, long long elapsed_ms);

/*
 * Restart skip rule, for a destination object listed with dst_size / dst_etag where the
 * source object is src_size / src_etag, so a restarted copy (rebalance, deploy, transient
 * failure) need not copy it again:
 *   SL_COPY_SKIP   CopyObject gives the copy the source's ETag (the MD5 of the bytes for a
 *                  non-KMS object), so equal sizes and equal, non-empty ETags mean the same
 *                  bytes;
 *   SL_COPY_CHECK  a multipart copy (`multipart` non-zero: the object is above
 *                  COPY_MULTIPART_THRESHOLD) gets an ETag of its own ("<md5 of part
 *                  md5s>-<parts>"): with the same size, the caller reads the marker the copy
 *                  put on it (HeadObject, SL_S3_META_SOURCE_ETAG) and skips only when
 *                  sl_copy_plan_marker_matches;
 *   SL_COPY_DO     anything else: copy (never skipped by guess). With SSE-KMS the ETags of
 *                  single copies differ, so they are recopied: slower, never wrong.
 */
typedef enum sl_copy_skip { SL_COPY_DO = 0, SL_COPY_SKIP = 1, SL_COPY_CHECK = 2 } sl_copy_skip;

sl_copy_skip sl_copy_plan_skip(long long src_size, const char *src_etag, long long dst_size,
                               const char *dst_etag, int multipart);

/* Non-zero when the marker (the source ETag a multipart copy recorded, quotes stripped) names
   src_etag (as listed, with quotes). Empty values never match. */
int sl_copy_plan_marker_matches(const char *src_etag, const char *marker);

/* src_etag without its surrounding quotes into out (outlen bytes). */
void sl_copy_plan_etag_bare(const char *etag, char *out, size_t outlen);

/*
 * RFC 3339 time ("2024-03-05T03:04:00Z", fractions and +hh:mm offsets allowed) as epoch
 * milliseconds. Returns 0 with *ms, or -1 for NULL or anything else.
 */
int sl_copy_plan_time_ms(const char *s, long long *ms);

/*
 * The time a message's data is from, which orders exports of one (cluster, date): the
 * snapshot's creation time, else (cluster mode without it) the export's start, else the
 * snapshot message's produced_at. *ms is -1 when none parses (oldest of all).
 */
void sl_copy_plan_snap_time(const sl_msg *m, long long *ms);

/* Which export's files a (cluster, date) partition holds, as the order key of exports. */
typedef struct sl_copy_snap {
    long long time_ms;          /* sl_copy_plan_snap_time; -1 = unknown */
    const char *export_task_id; /* deterministic tie-break between equal times */
} sl_copy_snap;

/* <0, 0, >0 as a is older than, the same as, newer than b (time, then export id bytewise). */
int sl_copy_plan_snap_cmp(const sl_copy_snap *a, const sl_copy_snap *b);

/*
 * The newest-wins rule of partition replacement: non-zero when `holder` (the export whose
 * files the partition holds; NULL = none recorded) is newer than `mine`, so mine must not
 * write into the partition at all and ends as superseded. The same export (a redelivery)
 * is not superseded: it redoes its own copy.
 */
int sl_copy_plan_superseded(const sl_copy_snap *mine, const sl_copy_snap *holder);

/*
 * Bounds a `copied` message so that it encodes within `limit` bytes (SL_MSG_MAX_BYTES, less a
 * margin), before the copy does anything destructive: sets tables_total and
 * failed_tables_total to the full counts, keeps at most max_tables / max_failed entries
 * (lists are sorted, so the first ones are kept), cuts each failure reason to max_reason
 * bytes (on a UTF-8 boundary), then halves the longer list until the encoded message fits.
 * Returns 0, or -1 with err when it cannot fit even with empty lists, or is invalid.
 */
int sl_copy_plan_bound_msg(sl_msg *m, size_t max_tables, size_t max_failed, size_t max_reason,
                           size_t limit, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Packed key text: strings are appended to blocks that grow from 512 bytes to 64 KiB, and are
 * freed all at once. The copy stage keeps each table's keys in one (instead of several heap
 * strings per object: that was most of its ~1 KB per object) and the stale set in another.
 * Strings stay where they are until cleanup.
 */
typedef struct sl_copy_arena_blk sl_copy_arena_blk;
typedef struct sl_copy_arena {
    sl_copy_arena_blk *head; /* the block being filled; older ones behind it */
    size_t bytes;            /* bytes of all blocks (memory held) */
} sl_copy_arena;

void sl_copy_arena_init(sl_copy_arena *a);
/* The concatenation a1 a2 (a2 may be NULL) as one NUL-terminated string in the arena, or NULL
   when memory ran out. */
const char *sl_copy_arena_put(sl_copy_arena *a, const char *a1, const char *a2);
/* Frees every block; a stays usable (empty). NULL is a no-op. */
void sl_copy_arena_cleanup(sl_copy_arena *a);

/*
 * The `tables` list of a `copied` message, built as tables are completed: adds a copy of name
 * to the bytewise-sorted, distinct list *v / *n (capacity *cap, realloc'd), which keeps only the
 * first `max` names in that order (a name sorting after a full list's last is not kept; one
 * sorting before it pushes the last out). Returns 1 when kept, 0 when already there or not
 * kept, -1 when memory ran out (the list unchanged). Free with sl_keymap_strv_free.
 */
int sl_copy_plan_tables_add(char ***v, size_t *n, size_t *cap, size_t max,
                            const char *name) SL_MUST_CHECK;

/*
 * The queue of AbortMultipartUpload calls the stage owes: job_cleanup (which runs inside the
 * rebalance callback) only queues, and the stage's tick() sends them without blocking. Bounded:
 * a full queue drops the request and counts it (an upload left open is then for the bucket's
 * AbortIncompleteMultipartUpload lifecycle rule). Strings are owned by the queue.
 */
typedef struct sl_copy_abort {
    char *bucket;
    char *key;
    char *upload_id;
} sl_copy_abort;

typedef struct sl_copy_abortq {
    sl_copy_abort *v;
    size_t n, cap, max;
    size_t dropped;
} sl_copy_abortq;

/* An empty queue holding at most max (>= 1) requests. */
void sl_copy_abortq_init(sl_copy_abortq *q, size_t max);

/* Appends a copy of the request: 0 queued, 1 dropped (full), -1 out of memory (dropped). */
int sl_copy_abortq_push(sl_copy_abortq *q, const char *bucket, const char *key,
                        const char *upload_id);

/* Takes the oldest request into *out (the caller's; sl_copy_abort_cleanup): 0, or -1 empty. */
int sl_copy_abortq_pop(sl_copy_abortq *q, sl_copy_abort *out);

void sl_copy_abort_cleanup(sl_copy_abort *a);

/* Frees every queued request. */
void sl_copy_abortq_cleanup(sl_copy_abortq *q);

#endif /* SL_COPY_PLAN_H */
