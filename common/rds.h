/*
 * rds.h - the Amazon RDS calls snaplake makes, over the query protocol (API version
 * 2014-10-31, sl_aws_query), and the pure parsers of their XML answers.
 *
 *   DescribeDBClusterSnapshots  automated snapshots of one cluster or of all (producer's
 *                               discovery mode), following Marker pages
 *   DescribeDBClusters          a cluster's ARN (cluster mode exports from the cluster)
 *   StartExportTask             snapshot or cluster export to S3 (the export stage)
 *   DescribeExportTasks         one task by id, or every task with a status filter (slot
 *                               accounting), following Marker pages
 *   CancelExportTask            operators and tests
 *
 * Answers are read with libxml2 through xml.h (namespaces ignored: moto and AWS differ on
 * them). Every string field is copied into a fixed buffer sized by the AWS limits of that
 * field; a value that does not fit makes the parse fail ("field too long") rather than be
 * silently truncated, except FailureCause/WarningMessage, which are human text and are cut.
 * Lists are capped (SL_RDS_MAX_ITEMS per call, all pages together) so a hostile or broken
 * endpoint cannot make us allocate without bound.
 *
 * Times: AWS writes ISO 8601 ("2024-02-29T03:05:00.123Z"); they are kept as epoch ms
 * (0 = absent or unparsable).
 * Statuses are kept as AWS wrote them; compare with strcasecmp (moto writes "complete",
 * AWS "COMPLETE").
 */
#ifndef SL_RDS_H
#define SL_RDS_H

#include <stddef.h>

#include <libxml/tree.h>

#include "aws_http.h"
#include "util.h"

#define SL_RDS_API_VERSION "2014-10-31"
/* Most items one listing call returns, all pages together. */
#define SL_RDS_MAX_ITEMS 10000
/* Most pages one listing call follows (a Marker loop guard). */
#define SL_RDS_MAX_PAGES 1000

/* Error codes the export stage acts on. */
#define SL_RDS_ERR_TASK_EXISTS "ExportTaskAlreadyExists"
#define SL_RDS_ERR_TASK_NOT_FOUND "ExportTaskNotFound"
#define SL_RDS_ERR_TASK_LIMIT "ExportTaskLimitReachedFault"

/* One DB cluster snapshot (DBClusterSnapshot element). Plain value. */
typedef struct sl_rds_snapshot {
    char id[256];           /* DBClusterSnapshotIdentifier, "rds:..." for automated */
    char cluster[64];       /* DBClusterIdentifier */
    char arn[512];          /* DBClusterSnapshotArn */
    char status[32];        /* "available", "creating", ... */
    char snapshot_type[32]; /* "automated", "manual", ... */
    long long create_ms;    /* SnapshotCreateTime, epoch ms; 0 = absent */
} sl_rds_snapshot;

typedef struct sl_rds_snapshots {
    sl_rds_snapshot *items; /* heap, n entries */
    size_t n;
} sl_rds_snapshots;

/* One export task (ExportTask element, or the StartExportTaskResult/CancelExportTaskResult
 * body, which carry the same fields). Plain value. */
typedef struct sl_rds_export_task {
    char id[64];              /* ExportTaskIdentifier (AWS: at most 60) */
    char source_arn[512];     /* SourceArn: snapshot or cluster ARN */
    char status[32];          /* STARTING, IN_PROGRESS, COMPLETE, CANCELING, CANCELED, FAILED */
    int percent_progress;     /* PercentProgress, 0..100; -1 absent */
    long long start_ms;       /* TaskStartTime; 0 = absent */
    long long end_ms;         /* TaskEndTime; 0 = absent */
    long long snapshot_ms;    /* SnapshotTime; 0 = absent */
    char s3_bucket[256];      /* S3Bucket */
    char s3_prefix[1024];     /* S3Prefix */
    char source_type[32];     /* SNAPSHOT | CLUSTER */
    char failure_cause[1024]; /* FailureCause (cut when longer) */
    char warning[512];        /* WarningMessage (cut when longer) */
} sl_rds_export_task;

typedef struct sl_rds_export_tasks {
    sl_rds_export_task *items; /* heap, n entries */
    size_t n;
} sl_rds_export_tasks;

/* StartExportTask parameters; everything borrowed. */
typedef struct sl_rds_export_params {
    const char *task_id;            /* ExportTaskIdentifier (required) */
    const char *source_arn;         /* snapshot ARN, or cluster ARN (required) */
    const char *s3_bucket;          /* S3BucketName (required) */
    const char *s3_prefix;          /* S3Prefix, NULL or "" = bucket root */
    const char *iam_role;           /* IamRoleArn (required) */
    const char *kms_key;            /* KmsKeyId (required) */
    const char *const *export_only; /* ExportOnly.member.N; NULL or n_export_only entries */
    size_t n_export_only;
} sl_rds_export_params;

/* Frees the list's items and zeroes it. NULL is a no-op. */
void sl_rds_snapshots_cleanup(sl_rds_snapshots *l);
void sl_rds_export_tasks_cleanup(sl_rds_export_tasks *l);

/* Export task status predicates (case-insensitive). running: STARTING, IN_PROGRESS or
 * CANCELING (a canceling task still holds one of the account's export slots). */
int sl_rds_export_running(const char *status);
int sl_rds_export_complete(const char *status);
int sl_rds_export_failed(const char *status);   /* FAILED */
int sl_rds_export_canceled(const char *status); /* CANCELED */

/*
 * The export slot rule's pure part: how many tasks of `tasks` are running
 * (sl_rds_export_running) and are not one of own_ids[0..nown) (the ids snaplake's live slots
 * hold; NULL entries ignored). Those count against EXPORT_TASK_LIMIT besides snaplake's slots.
 */
size_t sl_rds_count_foreign_running(const sl_rds_export_tasks *tasks, const char *const *own_ids,
                                    size_t nown);

/* ---- pure parsers (unit-tested and fuzzed) -------------------------------------------- */

/*
 * DescribeDBClusterSnapshots response -> appends each DBClusterSnapshot to *out (which the
 * caller initialised, possibly holding earlier pages; items stay the caller's), and copies
 * the page's Marker into marker[markerlen] ("" when this was the last page). doc borrowed.
 * Returns 0, or -1 with err (not that response, field too long, SL_RDS_MAX_ITEMS passed, out
 * of memory); *out keeps what it had before the call on -1.
 */
int sl_rds_parse_snapshots(const xmlDoc *doc, sl_rds_snapshots *out, char *marker, size_t markerlen,
                           char *err, size_t errlen) SL_MUST_CHECK;

/* DescribeExportTasks response: as sl_rds_parse_snapshots for ExportTask elements. */
int sl_rds_parse_export_tasks(const xmlDoc *doc, sl_rds_export_tasks *out, char *marker,
                              size_t markerlen, char *err, size_t errlen) SL_MUST_CHECK;

/* StartExportTask / CancelExportTask response (the task fields sit directly in
 * <StartExportTaskResult>/<CancelExportTaskResult>): fills *out. Returns 0 or -1 with err. */
int sl_rds_parse_export_result(const xmlDoc *doc, sl_rds_export_task *out, char *err,
                               size_t errlen) SL_MUST_CHECK;

/* DescribeDBClusters response: the DBClusterArn of the DBCluster whose DBClusterIdentifier is
 * `cluster` (case-insensitive), into arn[arnlen]. Returns 0, or -1 (absent, too long). */
int sl_rds_parse_cluster_arn(const xmlDoc *doc, const char *cluster, char *arn, size_t arnlen,
                             char *err, size_t errlen) SL_MUST_CHECK;

/* The RequestId of <ResponseMetadata> into out ("" when absent). Never fails. */
void sl_rds_request_id(const xmlDoc *doc, char *out, size_t outlen);

/* ---- calls ------------------------------------------------------------------------------ */

/*
 * Every automated DB cluster snapshot (SnapshotType=automated) of `cluster`, or of every
 * cluster when cluster is NULL, across all Marker pages. *out is initialised here and owned by
 * the caller on success (sl_rds_snapshots_cleanup). Returns 0, or -1 with *err (AWS's code,
 * or "ParseError" for an answer we cannot read).
 */
int sl_rds_describe_cluster_snapshots(sl_aws *c, const char *cluster, sl_rds_snapshots *out,
                                      sl_aws_error *err) SL_MUST_CHECK;

/* The ARN of DB cluster `cluster` into arn[arnlen]. Returns 0, or -1 with *err
 * (DBClusterNotFoundFault, ...). */
int sl_rds_cluster_arn(sl_aws *c, const char *cluster, char *arn, size_t arnlen,
                       sl_aws_error *err) SL_MUST_CHECK;

/*
 * StartExportTask. On success *out (may be NULL) gets the task as AWS echoed it. Returns 0,
 * or -1 with *err: SL_RDS_ERR_TASK_EXISTS when the id is taken (adopt it),
 * SL_RDS_ERR_TASK_LIMIT when the account's concurrent exports are at the cap (wait), or any
 * other AWS code.
 */
int sl_rds_start_export_task(sl_aws *c, const sl_rds_export_params *p, sl_rds_export_task *out,
                             sl_aws_error *err) SL_MUST_CHECK;

/*
 * DescribeExportTasks for one id. Returns 0 with *found 1 and *out filled, or 0 with *found
 * 0 when there is no such task (AWS answers either ExportTaskNotFound or an empty list; both
 * mean "not found"), or -1 with *err. *out is written only when found.
 */
int sl_rds_describe_export_task(sl_aws *c, const char *task_id, sl_rds_export_task *out, int *found,
                                sl_aws_error *err) SL_MUST_CHECK;

/*
 * Every export task whose status is one of statuses[0..nstatuses) (lowercase AWS filter
 * values: "starting", "in_progress", ...; nstatuses 0 = any), across all pages. The filter is
 * also applied here (case-insensitively), since some endpoints ignore Filters. *out is
 * initialised here and the caller's on success. Returns 0, or -1 with *err.
 */
int sl_rds_list_export_tasks(sl_aws *c, const char *const *statuses, size_t nstatuses,
                             sl_rds_export_tasks *out, sl_aws_error *err) SL_MUST_CHECK;

/* CancelExportTask. *out (may be NULL) gets the task. Returns 0, or -1 with *err. */
int sl_rds_cancel_export_task(sl_aws *c, const char *task_id, sl_rds_export_task *out,
                              sl_aws_error *err) SL_MUST_CHECK;

#endif /* SL_RDS_H */
