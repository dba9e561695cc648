/*
 * event.h - EventBridge "RDS DB Cluster Snapshot Event" parsing (pure logic, no I/O).
 *
 * The producer's event mode takes the seed's EventBridge rule as its filter:
 *   source        == "aws.rds"
 *   detail-type   == "RDS DB Cluster Snapshot Event"
 *   detail.Message == "Automated cluster snapshot created"
 *   detail.SourceIdentifier starts with "rds:<cluster>" (an optional allowlist)
 * An event that passes yields the snapshot's parts; one that does not yields a precise reason
 * for the dead-letter topic. Two outcomes are kept apart:
 *   malformed     - not JSON, not an object, too big, a required field missing or of the
 *                   wrong type, a SourceIdentifier that is not `rds:<cluster>-YYYY-MM-DD-HH-MM`,
 *                   a SourceArn that does not name that snapshot;
 *   not matching  - well-formed, but another source / detail-type / message, or a cluster
 *                   outside the allowlist.
 * Reasons start with "malformed: " or "not matching: " so a reader of the DLQ sees which.
 */
#ifndef SL_EVENT_H
#define SL_EVENT_H

#include <stddef.h>

#include "util.h"

/* EventBridge's own limit on an event entry is 256 KB; bigger input is malformed. */
#define SL_EVENT_MAX_BYTES ((size_t)256 * 1024)

#define SL_EVENT_OK 0
#define SL_EVENT_MALFORMED 1
#define SL_EVENT_NOT_MATCHING 2

/* A matching event. Every string heap-owned by the struct; sl_event_cleanup frees them. */
typedef struct sl_event {
    char *cluster;      /* cluster id from SourceIdentifier */
    char *snapshot_id;  /* "rds:<cluster>-YYYY-MM-DD-HH-MM" */
    char *snapshot_arn; /* detail.SourceArn */
    char *date;         /* YYYY-MM-DD */
    char *time;         /* HH-MM */
    char *account;      /* top-level "account"; NULL when absent */
    char *region;       /* top-level "region"; NULL when absent */
    char *event_time;   /* top-level "time" (RFC 3339 as sent); NULL when absent */
    char *event_id;     /* top-level "id"; NULL when absent */
} sl_event;

/*
 * Parses one event of len bytes (need not be NUL-terminated). allow/nallow: optional cluster
 * allowlist (NULL/0 = every cluster); an entry `c` admits SourceIdentifiers starting with
 * `rds:c`, exactly the seed's EventBridge prefix rule (so `prod` also admits `prod-2`).
 * id/time/account/region are optional, but must be strings when present.
 * *out is initialised here. Returns SL_EVENT_OK (fill *out; caller calls sl_event_cleanup),
 * SL_EVENT_MALFORMED or SL_EVENT_NOT_MATCHING (reason written, *out holds nothing), or -1
 * when memory ran out (reason written).
 */
int sl_event_parse(const char *buf, size_t len, const char *const *allow, size_t nallow,
                   sl_event *out, char *reason, size_t reasonlen) SL_MUST_CHECK;

/* Frees the strings of ev and zeroes it. NULL is a no-op. */
void sl_event_cleanup(sl_event *ev);

/*
 * JSON-lines framing helper. Iterates the non-blank lines of buf[0..len): start with
 * *pos = 0; each call returning 1 sets *line and *linelen to the next line (without its `\n` or
 * `\r\n`, leading and trailing blanks trimmed) and advances *pos; returns 0 at the end. A last
 * line without a newline counts. No allocation; *line points into buf.
 */
int sl_event_next_line(const char *buf, size_t len, size_t *pos, const char **line,
                       size_t *linelen);

#endif /* SL_EVENT_H */
