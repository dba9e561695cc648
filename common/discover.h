/*
 * discover.h - the producer's discovery rule (pure logic, no I/O): from the automated DB
 * cluster snapshots DescribeDBClusterSnapshots listed, pick the newest usable one per cluster.
 *
 * A snapshot is usable when
 *   - its SnapshotType is "automated" (the call filters on it, but an endpoint that ignores
 *     the filter must not make us export a manual snapshot),
 *   - its Status is "available" (a "creating" snapshot cannot be exported yet; the next
 *     CronJob run will see it),
 *   - its identifier parses as `rds:<cluster>-YYYY-MM-DD-HH-MM` (sl_ids_parse_snapshot), and
 *     the cluster in it is the snapshot's DBClusterIdentifier (else the ids derived from the
 *     name would belong to another cluster),
 *   - and, when a cluster list is given, its cluster is in it (exact match: discovery asks
 *     RDS per cluster id, unlike the event allowlist's prefix rule).
 * Among the usable snapshots of a cluster the newest wins: the later SnapshotCreateTime when
 * both have one and they differ, else the later date and time in the name, else the greater
 * identifier, so the choice never depends on the order AWS listed them in.
 *
 * Whether the winner already has a run is for the caller to check in the ledger: the rule is
 * "publish the newest snapshot unless its run exists", never "the newest without a run", which
 * would re-export older days once today's run exists.
 */
#ifndef SL_DISCOVER_H
#define SL_DISCOVER_H

#include <stddef.h>

#include "ids.h"
#include "rds.h"
#include "util.h"

/* What the rule made of one listed snapshot. */
typedef enum sl_discover_verdict {
    SL_DISCOVER_PICKED = 0,       /* newest usable snapshot of its cluster */
    SL_DISCOVER_OLDER,            /* usable, but its cluster has a newer one */
    SL_DISCOVER_NOT_AVAILABLE,    /* Status is not "available" */
    SL_DISCOVER_NOT_AUTOMATED,    /* SnapshotType is not "automated" */
    SL_DISCOVER_BAD_ID,           /* the identifier is not rds:<cluster>-YYYY-MM-DD-HH-MM */
    SL_DISCOVER_CLUSTER_MISMATCH, /* the identifier names another cluster */
    SL_DISCOVER_NOT_LISTED        /* its cluster is not in the cluster list */
} sl_discover_verdict;

/* One pick: the index of the snapshot in the input and its parsed id. */
typedef struct sl_discover_pick {
    size_t index;
    sl_snapshot_id id;
} sl_discover_pick;

typedef struct sl_discover_result {
    sl_discover_pick *picks; /* heap; npicks entries, sorted by cluster id */
    size_t npicks;
    sl_discover_verdict *verdicts; /* heap; one per input snapshot (NULL when n was 0) */
} sl_discover_result;

/*
 * Applies the rule to items[0..n). clusters/nclusters: the cluster list (NULL/0 = every
 * cluster; NULL entries ignored). *out is initialised here and filled on success (caller
 * calls sl_discover_result_cleanup). Returns 0, or -1 with err when memory ran out (*out then
 * holds nothing).
 */
int sl_discover_select(const sl_rds_snapshot *items, size_t n, const char *const *clusters,
                       size_t nclusters, sl_discover_result *out, char *err,
                       size_t errlen) SL_MUST_CHECK;

/* Frees the result's arrays and zeroes it. NULL is a no-op. */
void sl_discover_result_cleanup(sl_discover_result *r);

/* "picked", "older", "not available", ... (static strings; "?" for an unknown value). */
const char *sl_discover_verdict_name(sl_discover_verdict v);

/*
 * Non-zero when snapshot a is newer than b by the rule above (both already usable, ids parsed
 * into ia and ib). Exposed for the unit tests.
 */
int sl_discover_newer(const sl_rds_snapshot *a, const sl_snapshot_id *ia, const sl_rds_snapshot *b,
                      const sl_snapshot_id *ib);

#endif /* SL_DISCOVER_H */
