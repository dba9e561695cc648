/* rds.c - see rds.h. Query protocol reference: RDS API Reference, "Making query requests";
 * list parameters are serialised as <Name>.member.N (ExportOnly) or with the shape's
 * locationName (Filters.Filter.N.Name, Filters.Filter.N.Values.Value.M). */
#include "rds.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "creds.h"
#include "xml.h"

/* ---- helpers ------------------------------------------------------------------------------ */

/* Copies the text of child `name` into out. Absent -> "" and 0. Longer than out -> -1 unless
 * `cut` (human text), so an id is never silently shortened. */
static int field(const xmlNode *parent, const char *name, char *out, size_t outlen, int cut,
                 char *err, size_t errlen)
{
    char *t = sl_xml_child_text(parent, name);
    size_t n;

    out[0] = '\0';
    if (!t)
        return 0; /* absent (or out of memory on a tiny string: treated as absent) */
    n = strlen(t);
    if (n >= outlen) {
        if (!cut) {
            free(t);
            return sl_seterr(err, errlen, "rds: field %s too long (%zu bytes, max %zu)", name, n,
                             outlen - 1);
        }
        n = outlen - 1;
    }
    memcpy(out, t, n);
    out[n] = '\0';
    free(t);
    return 0;
}

/* ISO 8601 time of child `name` as epoch ms; 0 when absent or unreadable (times are
 * informational: a bad one must not fail a whole listing). Accepts a missing zone as UTC. */
static long long time_field(const xmlNode *parent, const char *name)
{
    char buf[64], z[72];
    long long ms = 0;

    if (field(parent, name, buf, sizeof(buf), 0, NULL, 0) || !buf[0])
        return 0;
    if (sl_creds_parse_iso8601(buf, &ms) == 0)
        return ms;
    snprintf(z, sizeof(z), "%sZ", buf);
    if (sl_creds_parse_iso8601(z, &ms) == 0)
        return ms;
    return 0;
}

/* The *Result element of an action's response (e.g. DescribeExportTasksResult), or the root
 * itself when an endpoint leaves the wrapper out. NULL when the root is not <action>Response. */
static xmlNode *result_node(const xmlDoc *doc, const char *action, char *err, size_t errlen)
{
    char name[96];
    xmlNode *root = sl_xml_root(doc), *res;

    snprintf(name, sizeof(name), "%sResponse", action);
    if (!root || xmlStrcmp(root->name, (const xmlChar *)name) != 0) {
        sl_seterr(err, errlen, "rds: expected <%s>, got <%s>", name,
                  root ? (const char *)root->name : "(none)");
        return NULL;
    }
    snprintf(name, sizeof(name), "%sResult", action);
    res = sl_xml_child(root, name);
    return res ? res : root;
}

/* Opens one page of a paged Describe* answer: the result node of `action`, with its Marker
 * copied into mk (mklen bytes; "" on the last page). The Marker must also fit the caller's
 * markerlen. NULL with err for a wrong root element or an oversized Marker. */
static xmlNode *page_result(const xmlDoc *doc, const char *action, char *mk, size_t mklen,
                            size_t markerlen, char *err, size_t errlen)
{
    xmlNode *res = result_node(doc, action, err, errlen);

    if (!res)
        return NULL;
    if (field(res, "Marker", mk, mklen, 0, err, errlen))
        return NULL;
    if (strlen(mk) >= markerlen) {
        sl_seterr(err, errlen, "rds: Marker too long");
        return NULL;
    }
    return res;
}

/* A private copy of the n items a list already holds, so the list is untouched when a later
 * page fails. NULL when n is 0 or memory ran out (the caller tells the two apart by n). */
static void *items_dup(const void *items, size_t n, size_t item_size)
{
    void *p;

    if (!n)
        return NULL;
    p = malloc(n * item_size);
    if (p)
        memcpy(p, items, n * item_size);
    return p;
}

/* Grows a heap array of item_size items so it can hold n + 1 (doubling), capped at
 * SL_RDS_MAX_ITEMS. Returns the array (maybe moved), or NULL with err ("more than N <what>",
 * or out of memory) and items unchanged. */
static void *grow(void *items, size_t n, size_t *cap, size_t item_size, const char *what, char *err,
                  size_t errlen)
{
    size_t ncap;
    void *p;

    if (n >= SL_RDS_MAX_ITEMS) {
        sl_seterr(err, errlen, "rds: more than %d %s", SL_RDS_MAX_ITEMS, what);
        return NULL;
    }
    if (n < *cap)
        return items;
    ncap = *cap ? *cap * 2 : 8;
    if (ncap > SL_RDS_MAX_ITEMS)
        ncap = SL_RDS_MAX_ITEMS;
    p = realloc(items, ncap * item_size);
    if (!p) {
        sl_seterr(err, errlen, "rds: out of memory");
        return NULL;
    }
    *cap = ncap;
    return p;
}

static int parse_task(const xmlNode *t, sl_rds_export_task *out, char *err, size_t errlen)
{
    sl_rds_export_task v;
    char pct[32];

    memset(&v, 0, sizeof(v));
    if (field(t, "ExportTaskIdentifier", v.id, sizeof(v.id), 0, err, errlen) ||
        field(t, "SourceArn", v.source_arn, sizeof(v.source_arn), 0, err, errlen) ||
        field(t, "Status", v.status, sizeof(v.status), 0, err, errlen) ||
        field(t, "S3Bucket", v.s3_bucket, sizeof(v.s3_bucket), 0, err, errlen) ||
        field(t, "S3Prefix", v.s3_prefix, sizeof(v.s3_prefix), 0, err, errlen) ||
        field(t, "SourceType", v.source_type, sizeof(v.source_type), 0, err, errlen) ||
        field(t, "FailureCause", v.failure_cause, sizeof(v.failure_cause), 1, err, errlen) ||
        field(t, "WarningMessage", v.warning, sizeof(v.warning), 1, err, errlen))
        return -1;
    if (!v.id[0])
        return sl_seterr(err, errlen, "rds: export task without ExportTaskIdentifier");
    v.percent_progress = -1;
    if (field(t, "PercentProgress", pct, sizeof(pct), 0, NULL, 0) == 0 && pct[0]) {
        char *end;
        long p = strtol(pct, &end, 10);
        if (*end == '\0' && p >= 0 && p <= 100)
            v.percent_progress = (int)p;
    }
    v.start_ms = time_field(t, "TaskStartTime");
    v.end_ms = time_field(t, "TaskEndTime");
    v.snapshot_ms = time_field(t, "SnapshotTime");
    *out = v;
    return 0;
}

/* ---- pure parsers ------------------------------------------------------------------------- */

void sl_rds_snapshots_cleanup(sl_rds_snapshots *l)
{
    if (!l)
        return;
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

void sl_rds_export_tasks_cleanup(sl_rds_export_tasks *l)
{
    if (!l)
        return;
    free(l->items);
    l->items = NULL;
    l->n = 0;
}

int sl_rds_export_running(const char *s)
{
    return s && (strcasecmp(s, "STARTING") == 0 || strcasecmp(s, "IN_PROGRESS") == 0 ||
                 strcasecmp(s, "CANCELING") == 0);
}

int sl_rds_export_complete(const char *s)
{
    return s && strcasecmp(s, "COMPLETE") == 0;
}

int sl_rds_export_failed(const char *s)
{
    return s && strcasecmp(s, "FAILED") == 0;
}

int sl_rds_export_canceled(const char *s)
{
    return s && strcasecmp(s, "CANCELED") == 0;
}

size_t sl_rds_count_foreign_running(const sl_rds_export_tasks *tasks, const char *const *own_ids,
                                    size_t nown)
{
    size_t n = 0;

    for (size_t i = 0; tasks && i < tasks->n; i++) {
        int own = 0;
        if (!sl_rds_export_running(tasks->items[i].status))
            continue;
        for (size_t k = 0; k < nown && !own; k++)
            own = own_ids[k] && strcmp(own_ids[k], tasks->items[i].id) == 0;
        if (!own)
            n++;
    }
    return n;
}

static int parse_snapshot(const xmlNode *s, void *out, char *err, size_t errlen)
{
    sl_rds_snapshot v;

    memset(&v, 0, sizeof(v));
    if (field(s, "DBClusterSnapshotIdentifier", v.id, sizeof(v.id), 0, err, errlen) ||
        field(s, "DBClusterIdentifier", v.cluster, sizeof(v.cluster), 0, err, errlen) ||
        field(s, "DBClusterSnapshotArn", v.arn, sizeof(v.arn), 0, err, errlen) ||
        field(s, "Status", v.status, sizeof(v.status), 0, err, errlen) ||
        field(s, "SnapshotType", v.snapshot_type, sizeof(v.snapshot_type), 0, err, errlen))
        return -1;
    if (!v.id[0])
        return sl_seterr(err, errlen, "rds: snapshot without DBClusterSnapshotIdentifier");
    v.create_ms = time_field(s, "SnapshotCreateTime");
    memcpy(out, &v, sizeof(v));
    return 0;
}

static int parse_task_item(const xmlNode *t, void *out, char *err, size_t errlen)
{
    return parse_task(t, out, err, errlen);
}

/* One paged Describe* list: the result element of action, the list element holding the item
 * elements, the items' parser (0, or -1 with err) and size, and what the limit message says. */
typedef struct page_kind {
    const char *action, *list, *item, *what;
    int (*parse)(const xmlNode *node, void *out, char *err, size_t errlen);
    size_t size;
} page_kind;

static const page_kind snapshot_pages = {"DescribeDBClusterSnapshots",
                                         "DBClusterSnapshots",
                                         "DBClusterSnapshot",
                                         "snapshots",
                                         parse_snapshot,
                                         sizeof(sl_rds_snapshot)};
static const page_kind task_pages = {"DescribeExportTasks", "ExportTasks",
                                     "ExportTask",          "export tasks",
                                     parse_task_item,       sizeof(sl_rds_export_task)};

/*
 * Appends one page of k's items to the *n items at *items, copying the next Marker ("" when
 * last) into marker. The work is on a private copy: on failure *items, *n and marker are
 * untouched; on success the old array is freed and replaced.
 */
static int parse_page(const xmlDoc *doc, const page_kind *k, void **items_io, size_t *n_io,
                      char *marker, size_t markerlen, char *err, size_t errlen)
{
    union {
        sl_rds_snapshot s;
        sl_rds_export_task t;
    } v;
    xmlNode *res, *list, *node;
    void *items;
    size_t n = *n_io, cap = *n_io;
    char mk[1024];

    if (k->size > sizeof(v))
        return sl_seterr(err, errlen, "rds: %s item too large", k->what);
    res = page_result(doc, k->action, mk, sizeof(mk), markerlen, err, errlen);
    if (!res)
        return -1;
    items = items_dup(*items_io, *n_io, k->size);
    if (*n_io && !items)
        return sl_seterr(err, errlen, "rds: out of memory");
    list = sl_xml_child(res, k->list);
    for (node = list ? sl_xml_child(list, k->item) : NULL; node;
         node = sl_xml_next(node, k->item)) {
        void *p;

        if (k->parse(node, &v, err, errlen))
            goto fail;
        p = grow(items, n, &cap, k->size, k->what, err, errlen);
        if (!p)
            goto fail;
        items = p;
        memcpy((char *)items + n * k->size, &v, k->size);
        n++;
    }
    free(*items_io);
    *items_io = items;
    *n_io = n;
    memcpy(marker, mk, strlen(mk) + 1);
    return 0;
fail:
    free(items);
    return -1;
}

int sl_rds_parse_snapshots(const xmlDoc *doc, sl_rds_snapshots *out, char *marker, size_t markerlen,
                           char *err, size_t errlen)
{
    void *items = out->items;

    if (parse_page(doc, &snapshot_pages, &items, &out->n, marker, markerlen, err, errlen))
        return -1;
    out->items = items;
    return 0;
}

int sl_rds_parse_export_tasks(const xmlDoc *doc, sl_rds_export_tasks *out, char *marker,
                              size_t markerlen, char *err, size_t errlen)
{
    void *items = out->items;

    if (parse_page(doc, &task_pages, &items, &out->n, marker, markerlen, err, errlen))
        return -1;
    out->items = items;
    return 0;
}

int sl_rds_parse_export_result(const xmlDoc *doc, sl_rds_export_task *out, char *err, size_t errlen)
{
    xmlNode *root = sl_xml_root(doc), *res;
    const char *name = root ? (const char *)root->name : "";

    if (strcmp(name, "StartExportTaskResponse") == 0)
        res = result_node(doc, "StartExportTask", err, errlen);
    else if (strcmp(name, "CancelExportTaskResponse") == 0)
        res = result_node(doc, "CancelExportTask", err, errlen);
    else
        return sl_seterr(err, errlen, "rds: expected an export task result, got <%s>",
                         name[0] ? name : "(none)");
    if (!res)
        return -1;
    return parse_task(res, out, err, errlen);
}

int sl_rds_parse_cluster_arn(const xmlDoc *doc, const char *cluster, char *arn, size_t arnlen,
                             char *err, size_t errlen)
{
    xmlNode *res, *list, *c;
    char id[128], a[512];

    res = result_node(doc, "DescribeDBClusters", err, errlen);
    if (!res)
        return -1;
    list = sl_xml_child(res, "DBClusters");
    for (c = list ? sl_xml_child(list, "DBCluster") : NULL; c; c = sl_xml_next(c, "DBCluster")) {
        if (field(c, "DBClusterIdentifier", id, sizeof(id), 0, err, errlen) ||
            field(c, "DBClusterArn", a, sizeof(a), 0, err, errlen))
            return -1;
        if (strcasecmp(id, cluster) != 0)
            continue;
        if (!a[0])
            return sl_seterr(err, errlen, "rds: cluster %s has no DBClusterArn", cluster);
        if (strlen(a) >= arnlen)
            return sl_seterr(err, errlen, "rds: cluster ARN too long");
        memcpy(arn, a, strlen(a) + 1);
        return 0;
    }
    return sl_seterr(err, errlen, "rds: cluster %s not in the DescribeDBClusters answer", cluster);
}

void sl_rds_request_id(const xmlDoc *doc, char *out, size_t outlen)
{
    xmlNode *md = sl_xml_find(sl_xml_root(doc), "ResponseMetadata");

    if (outlen == 0)
        return;
    out[0] = '\0';
    if (md)
        (void)sl_xml_child_copy(md, "RequestId", out, outlen);
}

/* ---- calls -------------------------------------------------------------------------------- */

static void parse_error(sl_aws_error *err, const char *action, const char *why)
{
    int attempts = err->attempts;

    memset(err, 0, sizeof(*err));
    err->attempts = attempts;
    snprintf(err->code, sizeof(err->code), "ParseError");
    /* Cut to the field on purpose (why can be a whole parser message). */
    (void)sl_seterr(err->message, sizeof(err->message), "rds %s: %s", action, why);
}

/* After one page of action was queried and parsed (rc, perr): a parse failure, or a page past
 * SL_RDS_MAX_PAGES with more to come, is a ParseError in err and -1; otherwise 0. */
static int page_check(sl_aws_error *err, const char *action, int rc, const char *perr, int *pages,
                      const char *marker)
{
    if (rc) {
        parse_error(err, action, perr);
        return -1;
    }
    if (++*pages >= SL_RDS_MAX_PAGES && marker[0]) {
        parse_error(err, action, "too many pages");
        return -1;
    }
    return 0;
}

int sl_rds_describe_cluster_snapshots(sl_aws *c, const char *cluster, sl_rds_snapshots *out,
                                      sl_aws_error *err)
{
    sl_rds_snapshots l = {NULL, 0};
    char marker[1024] = "", perr[SL_ERRLEN];
    int pages = 0;

    do {
        const char *params[9];
        size_t k = 0;
        xmlDoc *doc = NULL;
        int rc;

        params[k++] = "SnapshotType";
        params[k++] = "automated";
        if (cluster) {
            params[k++] = "DBClusterIdentifier";
            params[k++] = cluster;
        }
        if (marker[0]) {
            params[k++] = "Marker";
            params[k++] = marker;
        }
        params[k] = NULL;
        if (sl_aws_query(c, "rds", "DescribeDBClusterSnapshots", SL_RDS_API_VERSION, params, &doc,
                         err))
            goto fail;
        rc = sl_rds_parse_snapshots(doc, &l, marker, sizeof(marker), perr, sizeof(perr));
        xmlFreeDoc(doc);
        if (page_check(err, "DescribeDBClusterSnapshots", rc, perr, &pages, marker))
            goto fail;
    } while (marker[0]);
    *out = l;
    return 0;
fail:
    sl_rds_snapshots_cleanup(&l);
    return -1;
}

int sl_rds_cluster_arn(sl_aws *c, const char *cluster, char *arn, size_t arnlen, sl_aws_error *err)
{
    const char *params[] = {"DBClusterIdentifier", cluster, NULL};
    xmlDoc *doc = NULL;
    char perr[SL_ERRLEN];
    int rc;

    if (sl_aws_query(c, "rds", "DescribeDBClusters", SL_RDS_API_VERSION, params, &doc, err))
        return -1;
    rc = sl_rds_parse_cluster_arn(doc, cluster, arn, arnlen, perr, sizeof(perr));
    xmlFreeDoc(doc);
    if (rc)
        parse_error(err, "DescribeDBClusters", perr);
    return rc;
}

/* Start/CancelExportTask: one call whose answer is the task; *out (if non-NULL) on success. */
static int export_call(sl_aws *c, const char *action, const char *const *params,
                       sl_rds_export_task *out, sl_aws_error *err)
{
    xmlDoc *doc = NULL;
    char perr[SL_ERRLEN];
    sl_rds_export_task t;
    int rc = -1;

    if (sl_aws_query(c, "rds", action, SL_RDS_API_VERSION, params, &doc, err))
        goto out;
    if (sl_rds_parse_export_result(doc, &t, perr, sizeof(perr))) {
        parse_error(err, action, perr);
        goto out;
    }
    if (out)
        *out = t;
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}

int sl_rds_start_export_task(sl_aws *c, const sl_rds_export_params *p, sl_rds_export_task *out,
                             sl_aws_error *err)
{
    /* 6 fixed pairs + up to 64 ExportOnly members + NULL. */
    enum { MAX_ONLY = 64 };
    const char *params[2 * (6 + MAX_ONLY) + 1];
    char names[MAX_ONLY][48];
    size_t k = 0;

    memset(err, 0, sizeof(*err));
    if (!p->task_id || !p->source_arn || !p->s3_bucket || !p->iam_role || !p->kms_key ||
        p->n_export_only > MAX_ONLY) {
        snprintf(err->code, sizeof(err->code), "InvalidParameterCombination");
        snprintf(err->message, sizeof(err->message),
                 "rds StartExportTask: id, source ARN, bucket, IAM role and KMS key are "
                 "required; at most %d ExportOnly entries",
                 MAX_ONLY);
        return -1;
    }
    params[k++] = "ExportTaskIdentifier";
    params[k++] = p->task_id;
    params[k++] = "SourceArn";
    params[k++] = p->source_arn;
    params[k++] = "S3BucketName";
    params[k++] = p->s3_bucket;
    params[k++] = "IamRoleArn";
    params[k++] = p->iam_role;
    params[k++] = "KmsKeyId";
    params[k++] = p->kms_key;
    if (p->s3_prefix && p->s3_prefix[0]) {
        params[k++] = "S3Prefix";
        params[k++] = p->s3_prefix;
    }
    for (size_t i = 0; i < p->n_export_only; i++) {
        snprintf(names[i], sizeof(names[i]), "ExportOnly.member.%zu", i + 1);
        params[k++] = names[i];
        params[k++] = p->export_only[i];
    }
    params[k] = NULL;
    return export_call(c, "StartExportTask", params, out, err);
}

int sl_rds_describe_export_task(sl_aws *c, const char *task_id, sl_rds_export_task *out, int *found,
                                sl_aws_error *err)
{
    const char *params[] = {"ExportTaskIdentifier", task_id, NULL};
    sl_rds_export_tasks l = {NULL, 0};
    xmlDoc *doc = NULL;
    char marker[1024], perr[SL_ERRLEN];
    int rc = -1;

    if (sl_aws_query(c, "rds", "DescribeExportTasks", SL_RDS_API_VERSION, params, &doc, err)) {
        /* The API reference lists ExportTaskNotFound (404) for an unknown id. */
        if (strcmp(err->code, SL_RDS_ERR_TASK_NOT_FOUND) == 0 ||
            strcmp(err->code, "ExportTaskNotFoundFault") == 0) {
            *found = 0;
            rc = 0;
        }
        goto out;
    }
    if (sl_rds_parse_export_tasks(doc, &l, marker, sizeof(marker), perr, sizeof(perr))) {
        parse_error(err, "DescribeExportTasks", perr);
        goto out;
    }
    *found = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (strcmp(l.items[i].id, task_id) == 0) {
            *out = l.items[i];
            *found = 1;
            break;
        }
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    sl_rds_export_tasks_cleanup(&l);
    return rc;
}

int sl_rds_list_export_tasks(sl_aws *c, const char *const *statuses, size_t nstatuses,
                             sl_rds_export_tasks *out, sl_aws_error *err)
{
    enum { MAX_STATUS = 8 };
    sl_rds_export_tasks l = {NULL, 0};
    char marker[1024] = "", perr[SL_ERRLEN];
    char names[MAX_STATUS][48];
    int pages = 0;
    size_t keep = 0;

    memset(err, 0, sizeof(*err));
    if (nstatuses > MAX_STATUS) {
        snprintf(err->code, sizeof(err->code), "InvalidParameterValue");
        snprintf(err->message, sizeof(err->message), "rds: at most %d status filters", MAX_STATUS);
        return -1;
    }
    for (size_t i = 0; i < nstatuses; i++)
        snprintf(names[i], sizeof(names[i]), "Filters.Filter.1.Values.Value.%zu", i + 1);
    do {
        const char *params[2 * (MAX_STATUS + 2) + 1];
        size_t k = 0;
        xmlDoc *doc = NULL;
        int rc;

        if (nstatuses) {
            params[k++] = "Filters.Filter.1.Name";
            params[k++] = "status";
            for (size_t i = 0; i < nstatuses; i++) {
                params[k++] = names[i];
                params[k++] = statuses[i];
            }
        }
        if (marker[0]) {
            params[k++] = "Marker";
            params[k++] = marker;
        }
        params[k] = NULL;
        if (sl_aws_query(c, "rds", "DescribeExportTasks", SL_RDS_API_VERSION, params, &doc, err))
            goto fail;
        rc = sl_rds_parse_export_tasks(doc, &l, marker, sizeof(marker), perr, sizeof(perr));
        xmlFreeDoc(doc);
        if (page_check(err, "DescribeExportTasks", rc, perr, &pages, marker))
            goto fail;
    } while (marker[0]);
    /* Apply the filter ourselves too (moto ignores Filters). */
    for (size_t i = 0; i < l.n; i++) {
        int match = nstatuses == 0;
        for (size_t j = 0; j < nstatuses && !match; j++)
            match = strcasecmp(l.items[i].status, statuses[j]) == 0;
        if (match)
            l.items[keep++] = l.items[i];
    }
    l.n = keep;
    *out = l;
    return 0;
fail:
    sl_rds_export_tasks_cleanup(&l);
    return -1;
}

int sl_rds_cancel_export_task(sl_aws *c, const char *task_id, sl_rds_export_task *out,
                              sl_aws_error *err)
{
    const char *params[] = {"ExportTaskIdentifier", task_id, NULL};

    return export_call(c, "CancelExportTask", params, out, err);
}
