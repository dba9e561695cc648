/*
 * ids.h - snapshot ids, export task ids, run ids and export S3 prefixes (pure logic, no I/O).
 *
 * An automated Aurora cluster snapshot is named by RDS `rds:<cluster>-YYYY-MM-DD-HH-MM`; the
 * `rds:` prefix is what marks it automated (manual snapshots cannot use it). Everything the
 * pipeline derives from a snapshot comes from that name, deterministically, so that the same
 * snapshot seen twice (a redelivered message, a replayed topic, event + discovery) maps onto
 * the same run and the same export task:
 *
 *   snapshot id      rds:prod-db-2024-02-29-03-05
 *   seed id          prod-db-2024-02-29-03-05          (the seed's export id: no `rds:`)
 *   export task id   [<prefix>]prod-db-2024-02-29-03-05 (shortened when over 60, see below)
 *   run id           prod-db-2024-02-29-03-05          (the export task id without prefix)
 *   export S3 prefix s3-export/prod-db/2024-02-29       (<root>/<cluster>/<date>)
 *
 * Cluster mode (export straight from a cluster, no snapshot) builds the same parts from the
 * cluster id and a caller-given UTC time at minute resolution, so its ids look alike. Note:
 * a cluster-mode run and an automated snapshot of the same cluster at the very same minute
 * would get the same ids; automated snapshots are taken in the backup window, cluster mode is
 * an operator's choice, and AWS answers ExportTaskAlreadyExists rather than exporting twice.
 *
 * All output buffers are caller-owned; nothing here allocates except OpenSSL's SHA-256.
 */
#ifndef SL_IDS_H
#define SL_IDS_H

#include <stddef.h>

#include "util.h"

/* RDS DBClusterIdentifier: 1-63 chars. */
#define SL_IDS_CLUSTER_MAX 63
/* StartExportTask ExportTaskIdentifier: at most 60 chars. */
#define SL_IDS_EXPORT_ID_MAX 60
/* A configurable export id prefix may use at most this many chars, so that a shortened id
 * still keeps at least 18 chars of the cluster id. */
#define SL_IDS_PREFIX_MAX 16
/* Big enough for any id this module writes (snapshot id with `rds:`: 4 + 63 + 17 = 84). */
#define SL_IDS_BUFLEN 96
/* Default root of the export's S3 prefix (the seed's `s3-export`). */
#define SL_IDS_DEFAULT_EXPORT_ROOT "s3-export"

/* A parsed snapshot id (or the same parts built for cluster mode). Plain value, no heap. */
typedef struct sl_snapshot_id {
    char cluster[SL_IDS_CLUSTER_MAX + 1]; /* lowercase cluster identifier */
    char date[11];                        /* YYYY-MM-DD, a real calendar date */
    char time[6];                         /* HH-MM, 00-00..23-59 (UTC) */
    char snapshot_id[SL_IDS_BUFLEN];      /* "rds:<cluster>-YYYY-MM-DD-HH-MM"; "" in cluster mode */
} sl_snapshot_id;

/*
 * Parses an automated cluster snapshot id `rds:<cluster>-YYYY-MM-DD-HH-MM`, or a snapshot ARN
 * `arn:<partition>:rds:<region>:<account>:cluster-snapshot:rds:...` whose id is taken from the
 * part after `cluster-snapshot:`. Checks: the `rds:` prefix, the cluster id rules
 * (sl_ids_cluster_id_valid), a real calendar date (leap years included) and a valid time.
 * Fills *out only on success. Returns 0, or -1 with the reason in err.
 */
int sl_ids_parse_snapshot(const char *id_or_arn, sl_snapshot_id *out, char *err,
                          size_t errlen) SL_MUST_CHECK;

/*
 * Builds the parts for cluster mode from a cluster id and a UTC time in seconds since the
 * epoch (truncated to the minute). snapshot_id is left "". Returns 0, or -1 with err when the
 * cluster id is invalid or the time is out of range (years 1970..9999).
 */
int sl_ids_from_cluster(const char *cluster, long long epoch_s, sl_snapshot_id *out, char *err,
                        size_t errlen) SL_MUST_CHECK;

/*
 * The parts of a cluster-mode run back from its cluster id and run id (what the producer made
 * with sl_ids_from_cluster and sl_ids_run_id). The run id alone cannot give them: over 60
 * chars it holds a cut cluster id and a hash (sl_ids_export_task_id), so the cluster comes from
 * the caller (the message's `cluster`) and only the date and time from the run id's
 * `-YYYY-MM-DD-HH-MM`, followed or not by the hash's `-<8 hex>`. The parts are checked by
 * deriving the run id again, which must equal run_id. snapshot_id is left "". Fills *out only
 * on success. Returns 0, or -1 with err (invalid cluster id, no date and time, a run id that
 * is not this cluster's).
 */
int sl_ids_parse_cluster_run(const char *cluster, const char *run_id, sl_snapshot_id *out,
                             char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Non-zero when s is a valid RDS DB cluster identifier as this pipeline uses it: 1-63 chars,
 * lowercase ASCII letters, digits and hyphens, first a letter, no trailing hyphen, no two
 * consecutive hyphens. (RDS stores identifiers lowercase; uppercase is rejected here so that
 * the same cluster never yields two different ids.)
 */
int sl_ids_cluster_id_valid(const char *s);

/* Non-zero when s is exactly `YYYY-MM-DD` naming a real Gregorian calendar date. */
int sl_ids_date_valid(const char *s);

/*
 * Non-zero when s satisfies AWS's ExportTaskIdentifier rules: 1-60 chars, first an ASCII
 * letter, only ASCII letters, digits and hyphens, no two consecutive hyphens, no trailing
 * hyphen. Every id this module derives passes it (tests and fuzzers assert that).
 */
int sl_ids_export_task_id_valid(const char *s);

/*
 * Derives the export task id of a snapshot (or cluster-mode parts) into out (outlen >=
 * SL_IDS_EXPORT_ID_MAX + 1). The id is prefix + `<cluster>-YYYY-MM-DD-HH-MM`. When that is
 * longer than 60, it becomes prefix + `<cluster cut>-YYYY-MM-DD-HH-MM-<h>`, where h is the
 * first 8 lowercase hex chars of SHA-256 over the unprefixed full id `<cluster>-YYYY-...-MM`
 * and the cluster is cut so the whole is exactly 60 chars (a hyphen left at the cut is
 * dropped). Two clusters that share their first 18+ chars thus still get distinct ids.
 * prefix may be NULL or ""; otherwise 1..SL_IDS_PREFIX_MAX chars of letters, digits and
 * hyphens starting with a letter (e.g. "sl-"). The result is checked with
 * sl_ids_export_task_id_valid. Returns 0, or -1 with err (bad prefix, bad parts, small out).
 */
int sl_ids_export_task_id(const sl_snapshot_id *id, const char *prefix, char *out, size_t outlen,
                          char *err, size_t errlen) SL_MUST_CHECK;

/* Highest export generation sl_ids_export_task_id_gen derives (a run redone this many times
 * wants an operator, not another export). */
#define SL_IDS_EXPORT_GEN_MAX 999

/*
 * The export task id of generation `gen` of a run whose generation-1 id is `base` (what
 * sl_ids_export_task_id derived). AWS never forgets an export id, and a FAILED or CANCELED task
 * keeps its id, so a redo of such a run needs a new id, derived deterministically so that a
 * redelivery of the same redo adopts it instead of starting a third:
 *   gen 1    base itself;
 *   gen >= 2 `<base>-g<gen>` when that fits in 60 chars, else
 *            `<base cut>-<h>-g<gen>`, h = the first 8 lowercase hex chars of SHA-256 over base,
 *            the cut (a hyphen left at it dropped) making the whole at most 60 chars, so two
 *            bases that differ only past the cut still get distinct ids.
 * A derived base ends with a digit or a hex digit, never with `-g<digits>`, so a generation id
 * never equals another run's base. base must pass sl_ids_export_task_id_valid; gen is
 * 1..SL_IDS_EXPORT_GEN_MAX; outlen >= SL_IDS_EXPORT_ID_MAX + 1. Returns 0, or -1 with err.
 */
int sl_ids_export_task_id_gen(const char *base, int gen, char *out, size_t outlen, char *err,
                              size_t errlen) SL_MUST_CHECK;

/*
 * The run id of a snapshot: its export task id derived with no prefix. It depends only on
 * the snapshot (not on configuration), so the same snapshot always makes the same run, also
 * after EXPORT_TASK_PREFIX changes. Same buffer rules and errors as sl_ids_export_task_id.
 */
int sl_ids_run_id(const sl_snapshot_id *id, char *out, size_t outlen, char *err,
                  size_t errlen) SL_MUST_CHECK;

/*
 * The export's S3 prefix, `<root>/<cluster>/<date>` (the seed's s3-export/<cluster>/<date>).
 * root NULL means SL_IDS_DEFAULT_EXPORT_ROOT; "" means no root (`<cluster>/<date>`); trailing
 * slashes of root are ignored. The files of the export then live under
 * `<prefix>/<export task id>/`. Returns 0, or -1 with err when out is too small or
 * cluster/date are invalid.
 */
int sl_ids_export_s3_prefix(const char *root, const char *cluster, const char *date, char *out,
                            size_t outlen, char *err, size_t errlen) SL_MUST_CHECK;

#endif /* SL_IDS_H */
