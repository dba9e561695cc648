/* discover.c - see discover.h. */
#include "discover.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const verdict_names[] = {"picked",
                                            "older",
                                            "not available",
                                            "not automated",
                                            "bad snapshot id",
                                            "snapshot id names another cluster",
                                            "cluster not listed"};

const char *sl_discover_verdict_name(sl_discover_verdict v)
{
    return (unsigned)v < SL_ARRAY_LEN(verdict_names) ? verdict_names[v] : "?";
}

void sl_discover_result_cleanup(sl_discover_result *r)
{
    if (!r)
        return;
    free(r->picks);
    free(r->verdicts);
    memset(r, 0, sizeof(*r));
}

int sl_discover_newer(const sl_rds_snapshot *a, const sl_snapshot_id *ia, const sl_rds_snapshot *b,
                      const sl_snapshot_id *ib)
{
    int c;

    if (a->create_ms && b->create_ms && a->create_ms != b->create_ms)
        return a->create_ms > b->create_ms;
    /* YYYY-MM-DD and HH-MM compare chronologically as strings. */
    c = strcmp(ia->date, ib->date);
    if (c == 0)
        c = strcmp(ia->time, ib->time);
    if (c == 0)
        c = strcmp(a->id, b->id);
    return c > 0;
}

static int listed(const char *cluster, const char *const *clusters, size_t n)
{
    if (!clusters || n == 0)
        return 1;
    for (size_t i = 0; i < n; i++)
        if (clusters[i] && strcmp(clusters[i], cluster) == 0)
            return 1;
    return 0;
}

static int pick_cmp(const void *a, const void *b)
{
    return strcmp(((const sl_discover_pick *)a)->id.cluster,
                  ((const sl_discover_pick *)b)->id.cluster);
}

int sl_discover_select(const sl_rds_snapshot *items, size_t n, const char *const *clusters,
                       size_t nclusters, sl_discover_result *out, char *err, size_t errlen)
{
    sl_discover_result r;
    char ierr[SL_ERRLEN];

    memset(out, 0, sizeof(*out));
    memset(&r, 0, sizeof(r));
    if (n == 0)
        return 0;
    r.verdicts = calloc(n, sizeof(*r.verdicts));
    r.picks = calloc(n, sizeof(*r.picks));
    if (!r.verdicts || !r.picks) {
        sl_discover_result_cleanup(&r);
        return sl_seterr(err, errlen, "discover: out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const sl_rds_snapshot *s = &items[i];
        sl_snapshot_id id;
        size_t k;

        if (strcasecmp(s->snapshot_type, "automated") != 0) {
            r.verdicts[i] = SL_DISCOVER_NOT_AUTOMATED;
            continue;
        }
        if (strcasecmp(s->status, "available") != 0) {
            r.verdicts[i] = SL_DISCOVER_NOT_AVAILABLE;
            continue;
        }
        if (sl_ids_parse_snapshot(s->id, &id, ierr, sizeof(ierr))) {
            r.verdicts[i] = SL_DISCOVER_BAD_ID;
            continue;
        }
        /* RDS stores identifiers lowercase; compare the same way. */
        if (strcasecmp(id.cluster, s->cluster) != 0) {
            r.verdicts[i] = SL_DISCOVER_CLUSTER_MISMATCH;
            continue;
        }
        if (!listed(id.cluster, clusters, nclusters)) {
            r.verdicts[i] = SL_DISCOVER_NOT_LISTED;
            continue;
        }
        for (k = 0; k < r.npicks; k++)
            if (strcmp(r.picks[k].id.cluster, id.cluster) == 0)
                break;
        if (k == r.npicks) {
            r.picks[r.npicks].index = i;
            r.picks[r.npicks].id = id;
            r.npicks++;
            r.verdicts[i] = SL_DISCOVER_PICKED;
        } else if (sl_discover_newer(s, &id, &items[r.picks[k].index], &r.picks[k].id)) {
            r.verdicts[r.picks[k].index] = SL_DISCOVER_OLDER;
            r.picks[k].index = i;
            r.picks[k].id = id;
            r.verdicts[i] = SL_DISCOVER_PICKED;
        } else {
            r.verdicts[i] = SL_DISCOVER_OLDER;
        }
    }
    qsort(r.picks, r.npicks, sizeof(*r.picks), pick_cmp);
    *out = r;
    return 0;
}
