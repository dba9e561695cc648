/*
 * retention.h - the pure decisions of `snaplakectl retention`: which lake keys are partition
 * objects, which partitions are past LAKE_RETENTION_DAYS, and which key may be deleted.
 *
 * The lake layout is `<prefix><cluster>/<db>/<table>/date=<YYYY-MM-DD>/<file>` (keymap.h),
 * where <prefix> is LAKE_PREFIX normalised to "" or "something/". Nothing here does I/O; the
 * command (ctl/retention.c) lists, asks Glue, deletes, and calls these to decide.
 */
#ifndef SL_RETENTION_H
#define SL_RETENTION_H

#include <stddef.h>

#include "util.h"

/* LAKE_RETENTION_DAYS bounds: a day to a hundred years. */
#define SL_RETENTION_DAYS_MIN 1
#define SL_RETENTION_DAYS_MAX 36500

/* What a lake key is, as sl_retention_parse_key sees it. */
typedef enum sl_retention_kind {
    SL_RETENTION_OUTSIDE = -1,  /* not under the prefix: never touched */
    SL_RETENTION_PARTITION = 0, /* an object of a date= partition folder */
    SL_RETENTION_OTHER = 1,     /* under the prefix, but not <c>/<d>/<t>/date=<...>/ */
    SL_RETENTION_MALFORMED = 2  /* a date= folder whose value is not a calendar YYYY-MM-DD */
} sl_retention_kind;

typedef struct sl_retention_key {
    size_t table_len;  /* key[0..table_len) = "<prefix><cluster>/<db>/<table>" */
    size_t folder_len; /* key[0..folder_len) = "<prefix><cluster>/<db>/<table>/date=<d>/" */
    size_t cluster_off, cluster_len; /* the <cluster> segment */
    char date[11];                   /* "YYYY-MM-DD" (PARTITION only) */
} sl_retention_key;

/*
 * Days since 1970-01-01 of a strict "YYYY-MM-DD" (years 1000..9999, a real calendar day:
 * "2026-02-30", "2026-1-05", "2026-01-05x" are refused). 0 with *days, or -1. Pure.
 */
int sl_retention_date_days(const char *ymd, long *days) SL_MUST_CHECK;

/* The "YYYY-MM-DD" of a day number (inverse of the above) into out[11]. Pure. */
void sl_retention_days_date(long days, char out[11]);

/*
 * Classifies `key` against the normalised `prefix` ("" or ending in '/'). For PARTITION *out
 * has the offsets and the date; every segment (cluster, db, table) must be non-empty. A key
 * equal to its folder (a "folder marker" object) is a PARTITION object too. Pure.
 */
sl_retention_kind sl_retention_parse_key(const char *prefix, const char *key,
                                         sl_retention_key *out);

/*
 * The last check before a delete: 0 when `key` is an object of exactly the partition folder
 * `folder` ("<prefix><c>/<d>/<t>/date=<d>/", itself a valid partition folder under prefix),
 * -1 otherwise. Pure.
 */
int sl_retention_key_allowed(const char *prefix, const char *folder, const char *key) SL_MUST_CHECK;

/*
 * Whether a partition dated `date_days` is past retention on day `today`: it is when it is
 * more than `days` days old (date < today - days; a partition exactly `days` old stays).
 * days <= 0 means retention is off: nothing expires. Pure.
 */
int sl_retention_expired(long date_days, long today, int days);

/*
 * The plan for one table: dates[0..n) are its partitions' day numbers (any order, may repeat),
 * has_data[i] says partition i has objects in the lake. drop[i] is set to 1 for a partition
 * to remove: expired, and not the table's newest partition with data (kept even when it is
 * past retention, so a table never disappears from the lake). Returns how many are dropped.
 * Pure.
 */
size_t sl_retention_plan(const long *dates, const unsigned char *has_data, size_t n, long today,
                         int days, unsigned char *drop);

#endif /* SL_RETENTION_H */
