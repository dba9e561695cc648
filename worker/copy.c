/*
 * copy.c - the copy stage: `exports` -> copy every exported parquet file into the lake's
 * `date=` partitions -> `copies`.
 *
 * Per job (one completed export), a non-blocking state machine; each step() returns within
 * about STEP_SLICE_MS so the worker keeps polling Kafka and stays in its group:
 *
 *   LIST     ListObjectsV2 of `<s3_prefix>/<export_task_id>/`, one page per step (an export
 *            can hold 10,000+ files). Every key is classified by sl_keymap_map: data files
 *            are kept with their size, export_tables_info files are remembered, `_SUCCESS`
 *            and export_info are skipped, other files are logged and skipped, and a key the
 *            mapper rejects fails the run (never silently dropped).
 *   INFO     GetObject (capped) of each export_tables_info file, one per step: tables whose
 *            export did not complete go into `failed_tables` and a warning (the issue's
 *            "reports tables whose export failed"; they do not fail the run). An export with
 *            no data file and no table info is a failure (EmptyExport). Then sl_keymap_plan
 *            settles destination collisions (or fails: nothing is overwritten by guess).
 *   COPY     (runs after LOCK and DEST, below) a curl multi handle owned by the job runs up
 *            to COPY_CONCURRENCY requests at once (one sl_aws_xfer each; the multi handle's
 * connection cache reuses the connections). CopyObject up to COPY_MULTIPART_THRESHOLD; above it a
 * multipart copy: CreateMultipartUpload and CompleteMultipartUpload are single short calls, the
 * UploadPartCopy parts run as xfers like the objects (S3 API: CopyObject copies at most 5 GiB).
 * Transient failures of an object or part are retried with sl_aws_backoff_ms up to
 * COPY_OBJECT_ATTEMPTS, each retry due at its own time (no sleeping); a permanent one fails the run
 * with AWS's code and message and the key. LOCK     replacement of one (cluster, date) runs one
 * export at a time across every worker: pg_try_advisory_lock (partlock.h) on a connection of the
 * job's own, tried again every LOCK_RETRY_MS (status `waiting`) up to COPY_LOCK_TIMEOUT. Under the
 * lock, snaplake_partitions says which export the partition holds; if that one is newer
 * (sl_copy_plan_superseded: snapshot time, then export id), this export writes nothing at all and
 * ends superseded (ledger succeeded with details.superseded_by, no `copied` message). DEST (under
 * the lock) one listing of each destination `date=` folder: objects already there with the source's
 * size and ETag (multipart copies: size and the source-ETag marker read with HeadObject) are not
 * copied again, so a restart resumes; keys that are not destinations of this export are the stale
 * set. COPY     as described above, under the lock; the copies overwrite same-named keys, which is
 * why no export may write into a partition before it holds the lock and has checked. DELETE   only
 * once every copy succeeded (a failed run must never delete the previous good data), the lock still
 * held: DeleteObjects (1,000 keys per call) of the stale set; keys failing with a transient per-key
 * error are sent again alone (bounded). Then the holder record names this export, and the lock goes
 * with job_cleanup. DONE     the `copied` message, drafted and bounded under SL_MSG_MAX_BYTES right
 * after INFO (before anything is written): counts, bytes, removed, skipped, tables.
 *
 * Idempotent: a redelivered message finds its objects in place (skipped) and, since the
 * stale set excludes this export's destinations, deletes nothing of its own. job_cleanup
 * frees every xfer and the multi handle whatever the phase, and queues the abort of any
 * multipart upload left open (S3 bills uploaded parts until the upload is aborted); the
 * stage's tick() sends the queued aborts without blocking (job_cleanup also runs inside the
 * rebalance callback, which must stay short).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "copy_plan.h"
#include "json.h"
#include "keymap.h"
#include "ledger.h"
#include "log.h"
#include "partlock.h"
#include "pg.h"
#include "s3.h"
#include "sigv4.h"
#include "stage.h"
#include "worker.h"

/* Upper bound of one step's curl slice; the runtime polls Kafka between steps. */
#define STEP_SLICE_MS 150
/* One curl_multi_poll wait inside a slice. */
#define POLL_WAIT_MS 50
/* Progress line interval while copying. */
#define PROGRESS_MS 10000
/* Cap on the keys one export may list (memory is sized by what S3 returns). */
#define MAX_EXPORT_KEYS 2000000
/* Cap on stale keys collected for deletion across the destination folders. */
#define MAX_STALE_KEYS 2000000
/* Warnings logged one by one (skipped files, failed tables) before only counting them. */
#define MAX_WARN_LINES 20
/* Caps on what the `copied` message lists (the counts are always whole). */
#define MSG_MAX_TABLES 2000
#define MSG_MAX_FAILED 500
#define MSG_MAX_REASON 512
/* Room left under SL_MSG_MAX_BYTES for what the runtime may add; counters are sized at their
   widest when the draft is bounded, so the final message is never longer than the draft. */
#define MSG_MARGIN 4096
/* Interval between tries of a partition lock another export holds. */
#define LOCK_RETRY_MS 1000
/* Aborts queued (bounded) and in flight at once; the shutdown's overall deadline for them. */
#define ABORT_QUEUE_MAX 4096
#define ABORT_INFLIGHT 8
#define ABORT_SHUTDOWN_MS 5000

typedef struct copy_cfg {
    char *lake_bucket;
    char *lake_prefix;
    long long concurrency;
    char *kms_key;
    char *lake_owner;
    char *export_owner;
    long long multipart_threshold;
    long long part_size;
    int replace_partition;
    long long object_attempts;
    long long request_timeout_ms;
    long long lock_timeout_ms;
} copy_cfg;

/* The stage context: settings, plus the AbortMultipartUpload calls owed (job_cleanup queues,
   tick sends; see sl_copy_abortq). */
typedef struct copy_ctx {
    copy_cfg cfg;
    sl_copy_abortq aborts;
    CURLM *amulti;
    sl_aws_xfer *ax[ABORT_INFLIGHT];
    char *akey[ABORT_INFLIGHT]; /* the key of ax[i], for the log */
    size_t nax;
} copy_ctx;

static const sl_cfg_opt copy_opts[] = {
    {"LAKE_BUCKET", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(copy_cfg, lake_bucket),
     "bucket of the data lake the crawler reads"},
    {"LAKE_PREFIX", SL_CFG_STRING, "", 0, -1, 0, offsetof(copy_cfg, lake_prefix),
     "key prefix of the lake (\"\" = bucket root): <prefix>/<cluster>/<db>/<table>/date=<d>/"},
    {"COPY_CONCURRENCY", SL_CFG_INT, "64", 1, 1024, 0, offsetof(copy_cfg, concurrency),
     "copy requests in flight per export"},
    {"COPY_KMS_KEY_ID", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(copy_cfg, kms_key),
     "optional SSE-KMS key id or ARN for the copies"},
    {"LAKE_EXPECTED_BUCKET_OWNER", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(copy_cfg, lake_owner),
     "optional account id that must own LAKE_BUCKET (x-amz-expected-bucket-owner)"},
    {"EXPORT_EXPECTED_BUCKET_OWNER", SL_CFG_STRING, NULL, 0, -1, 0,
     offsetof(copy_cfg, export_owner),
     "optional account id that must own the export bucket (x-amz-source-expected-bucket-owner)"},
    {"COPY_MULTIPART_THRESHOLD", SL_CFG_INT, "5368709120", 1, SL_S3_COPY_MAX, 0,
     offsetof(copy_cfg, multipart_threshold),
     "bytes: CopyObject up to this size, multipart UploadPartCopy above (max 5 GiB)"},
    {"COPY_PART_SIZE", SL_CFG_INT, "536870912", SL_S3_PART_MIN, SL_S3_PART_MAX, 0,
     offsetof(copy_cfg, part_size), "bytes per UploadPartCopy part (grows to fit 10,000 parts)"},
    {"COPY_REPLACE_PARTITION", SL_CFG_BOOL, "true", 0, -1, 0, offsetof(copy_cfg, replace_partition),
     "delete objects in the written date= folders that are not from this export"},
    {"COPY_OBJECT_ATTEMPTS", SL_CFG_INT, "5", 1, 50, 0, offsetof(copy_cfg, object_attempts),
     "attempts per object or part for transient errors (throttling, 5xx, network)"},
    {"COPY_REQUEST_TIMEOUT", SL_CFG_DURATION, "15m", 1000, 21600000, 0,
     offsetof(copy_cfg, request_timeout_ms),
     "timeout of one CopyObject/UploadPartCopy (S3 copies large objects server-side slowly)"},
    {"COPY_LOCK_TIMEOUT", SL_CFG_DURATION, "2h", 1000, 604800000, 0,
     offsetof(copy_cfg, lock_timeout_ms),
     "how long an export waits for another export of the same cluster and date to finish "
     "replacing the partition before the attempt is retried"},
};

typedef enum cp_phase {
    CP_LIST,
    CP_INFO,
    CP_LOCK,
    CP_DEST_LIST,
    CP_DEST_HEAD,
    CP_COPY,
    CP_DELETE
} cp_phase;

/* A source object as listed. */
typedef struct cp_src {
    long long size;
    char etag[80];
} cp_src;

/* A multipart copy in progress. */
typedef struct cp_mpu {
    char *upload_id;
    sl_s3_part_range *ranges;
    size_t nparts;
    size_t next;  /* parts handed out (first time) */
    size_t ndone; /* parts finished */
    char **etags; /* nparts entries */
    int *attempts;
} cp_mpu;

typedef struct cp_obj {
    size_t entry; /* index into copy_job.entries */
    long long size;
    int attempts; /* CopyObject / whole-multipart attempts made */
    int done;
    cp_mpu *mpu; /* NULL unless a multipart copy is under way */
} cp_obj;

/* A unit of work: a whole object (part 0) or part `part` (1-based) of a multipart copy. */
typedef struct cp_unit {
    size_t obj;
    int part;
    long long due; /* monotonic ms (retries) */
} cp_unit;

/* An in-flight request; the xfer's user pointer is its slot. */
typedef struct cp_slot {
    sl_aws_xfer *x;
    size_t obj;
    int part;
} cp_slot;

typedef struct copy_job {
    cp_phase phase;
    char *root;        /* <s3_prefix>/<export_task_id> */
    char *list_prefix; /* root + "/" */
    char *token;       /* continuation token of the listing in progress */
    long long t0;      /* monotonic start */

    /* LIST / INFO */
    sl_keymap_entry *entries; /* PARQUET entries only */
    cp_src *srcs;             /* parallel to entries */
    size_t nentries, capentries;
    char **info_keys;
    size_t ninfo, capinfo, info_next;
    sl_msg_table_failure *failed;
    size_t nfailed;
    size_t nskipped; /* SL_KEY_OTHER */
    size_t nlisted;

    /* COPY */
    CURLM *multi;
    cp_obj *objs;
    size_t nobjs, next_obj, objs_done;
    long long bytes_done;
    cp_slot *slots;
    size_t nslots, inflight;
    cp_unit *retry;
    size_t nretry, capretry;
    size_t *mpu_active; /* objects with parts not yet handed out */
    size_t nmpu_active, capmpu;
    long long last_progress;
    long long copy_ms;
    long long nretries;   /* transient failures retried (summary line) */
    size_t nskipped_dest; /* already at their destination (restart), not recopied */

    /* LOCK: the partition's replacement lock, on a connection of the job's own */
    PGconn *pg;
    int32_t lock_key;
    int locked;
    long long lock_deadline;
    int lock_logged;
    long long snap_ms; /* sl_copy_plan_snap_time of the input */

    /* DEST_LIST / DELETE */
    char **prefixes;
    size_t nprefixes, prefix_i;
    sl_copy_destset dests;
    char **stale;
    unsigned char *stale_tries; /* DeleteObjects attempts per stale key */
    size_t *heads;              /* multipart objects whose marker is to be read (HeadObject) */
    size_t nheads, capheads, head_next;
    size_t nstale, capstale, captries, stale_next;
    long long removed;
} copy_job;

/* ---- helpers ------------------------------------------------------------------------------ */

static char *join2(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

/* Array growth by doubling: returns p, or a larger block with *cap updated, or NULL when
   memory ran out (p is then untouched and still the caller's). need >= 1. */
static void *grow(void *p, size_t *cap, size_t need, size_t elem)
{
    size_t nc;
    void *g;

    if (p && need <= *cap)
        return p;
    nc = *cap ? *cap * 2 : 64;
    while (nc < need)
        nc *= 2;
    g = realloc(p, nc * elem);
    if (g)
        *cap = nc;
    return g;
}

static const sl_s3_write_opts *write_opts(const copy_cfg *cfg, sl_s3_write_opts *o)
{
    o->kms_key_id = cfg->kms_key;
    o->expected_owner = cfg->lake_owner;
    o->source_expected_owner = cfg->export_owner;
    return o;
}

/* ---- init / cleanup ----------------------------------------------------------------------- */

static int copy_init(struct sl_worker *w, void **ctx, char *err, size_t errlen)
{
    copy_ctx *cx = calloc(1, sizeof(*cx));
    char perr[SL_ERRLEN];

    if (!cx)
        return sl_seterr(err, errlen, "copy: out of memory");
    if (sl_config_load(copy_opts, SL_ARRAY_LEN(copy_opts), &cx->cfg, NULL, NULL, err, errlen) !=
        0) {
        free(cx);
        return -1;
    }
    /* The partition holder record (newest snapshot wins) lives next to the ledger. */
    if (!sl_worker_pg(w) || sl_partlock_migrate(sl_worker_pg(w), perr, sizeof(perr))) {
        sl_config_cleanup(copy_opts, SL_ARRAY_LEN(copy_opts), &cx->cfg);
        free(cx);
        return sl_seterr(err, errlen, "copy: partition table migration: %s",
                         sl_worker_pg(w) ? perr : "no PostgreSQL connection");
    }
    sl_copy_abortq_init(&cx->aborts, ABORT_QUEUE_MAX);
    /* A few exports at a time, each with COPY_CONCURRENCY requests of its own. */
    sl_worker_set_default_max_jobs(w, 4);
    sl_config_dump(copy_opts, SL_ARRAY_LEN(copy_opts), &cx->cfg);
    *ctx = cx;
    return 0;
}

/* ---- deferred AbortMultipartUpload --------------------------------------------------------- */

/* Starts queued aborts (up to ABORT_INFLIGHT at once) and reaps finished ones; never waits. */
static void abort_pump(copy_ctx *cx, sl_aws *aws)
{
    int running = 0, left = 0;
    CURLMsg *m;

    if (!cx->amulti && cx->aborts.n && !(cx->amulti = curl_multi_init()))
        return;
    while (cx->nax < ABORT_INFLIGHT && cx->aborts.n) {
        sl_copy_abort a;
        sl_aws_request req;
        sl_aws_error e;
        sl_http_header h[1];
        char *path, *enc, *q;
        size_t i;

        if (sl_copy_abortq_pop(&cx->aborts, &a))
            break;
        path = sl_s3_key_path(a.key);
        enc = sl_sigv4_uri_encode(a.upload_id, strlen(a.upload_id), 0);
        q = enc ? join2("uploadId=", "", enc) : NULL;
        memset(&req, 0, sizeof(req));
        req.service = "s3";
        req.method = "DELETE";
        req.bucket = a.bucket;
        req.path = path;
        req.query = q;
        if (cx->cfg.lake_owner && *cx->cfg.lake_owner) {
            h[0] = (sl_http_header){"x-amz-expected-bucket-owner", cx->cfg.lake_owner};
            req.headers = h;
            req.nheaders = 1;
        }
        for (i = 0; i < ABORT_INFLIGHT && cx->ax[i]; i++)
            ;
        if (!path || !q || i == ABORT_INFLIGHT || sl_aws_xfer_new(aws, &req, &cx->ax[i], &e) ||
            curl_multi_add_handle(cx->amulti, sl_aws_xfer_handle(cx->ax[i])) != CURLM_OK) {
            sl_log_kv(SL_LOG_WARN, NULL, (const char *const[]){"key", a.key, NULL},
                      "AbortMultipartUpload could not be sent; the upload stays open");
            if (i < ABORT_INFLIGHT && cx->ax[i]) {
                sl_aws_xfer_free(cx->ax[i]);
                cx->ax[i] = NULL;
            }
        } else {
            cx->akey[i] = a.key;
            a.key = NULL;
            cx->nax++;
        }
        free(path);
        free(enc);
        free(q);
        sl_copy_abort_cleanup(&a);
    }
    if (!cx->nax)
        return;
    curl_multi_perform(cx->amulti, &running);
    while ((m = curl_multi_info_read(cx->amulti, &left))) {
        sl_aws_error e;
        size_t i;
        if (m->msg != CURLMSG_DONE)
            continue;
        for (i = 0; i < ABORT_INFLIGHT; i++)
            if (cx->ax[i] && sl_aws_xfer_handle(cx->ax[i]) == m->easy_handle)
                break;
        if (i == ABORT_INFLIGHT)
            continue;
        if (sl_aws_xfer_finish(cx->ax[i], m->data.result, &e) && strcmp(e.code, "NoSuchUpload"))
            sl_log_kv(SL_LOG_WARN, NULL,
                      (const char *const[]){"key", cx->akey[i], "error", e.code, NULL},
                      "AbortMultipartUpload failed: %s", e.message);
        else
            sl_log_kv(SL_LOG_INFO, NULL, (const char *const[]){"key", cx->akey[i], NULL},
                      "multipart upload aborted");
        curl_multi_remove_handle(cx->amulti, m->easy_handle);
        sl_aws_xfer_free(cx->ax[i]);
        cx->ax[i] = NULL;
        free(cx->akey[i]);
        cx->akey[i] = NULL;
        cx->nax--;
    }
}

static void copy_tick(struct sl_worker *w, void *ctx)
{
    copy_ctx *cx = ctx;

    if (cx && (cx->aborts.n || cx->nax))
        abort_pump(cx, sl_worker_aws(w));
}

static void copy_cleanup(struct sl_worker *w, void *ctx)
{
    copy_ctx *cx = ctx;
    long long deadline = sl_mono_ms() + ABORT_SHUTDOWN_MS;
    char n[32];

    if (!cx)
        return;
    /* Final shutdown: the aborts still owed get a short overall deadline, then are left to
       the bucket's lifecycle rule. */
    while ((cx->aborts.n || cx->nax) && sl_mono_ms() < deadline) {
        abort_pump(cx, sl_worker_aws(w));
        if (cx->nax && cx->amulti)
            curl_multi_poll(cx->amulti, NULL, 0, 50, NULL);
    }
    if (cx->aborts.n || cx->nax || cx->aborts.dropped) {
        snprintf(n, sizeof(n), "%zu", cx->aborts.n + cx->nax + cx->aborts.dropped);
        sl_log_kv(SL_LOG_WARN, NULL, (const char *const[]){"uploads", n, NULL},
                  "multipart uploads left open (not aborted in time, or the queue was full)");
    }
    for (size_t i = 0; i < ABORT_INFLIGHT; i++) {
        if (cx->ax[i]) {
            curl_multi_remove_handle(cx->amulti, sl_aws_xfer_handle(cx->ax[i]));
            sl_aws_xfer_free(cx->ax[i]);
        }
        free(cx->akey[i]);
    }
    if (cx->amulti)
        curl_multi_cleanup(cx->amulti);
    sl_copy_abortq_cleanup(&cx->aborts);
    sl_config_cleanup(copy_opts, SL_ARRAY_LEN(copy_opts), &cx->cfg);
    free(cx);
}

static void mpu_free(cp_mpu *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->etags && i < m->nparts; i++)
        free(m->etags[i]);
    free(m->etags);
    free(m->attempts);
    free(m->ranges);
    free(m->upload_id);
    free(m);
}

/* ---- multipart: the two short synchronous calls and the abort ---------------------------- */

/* POST/DELETE on the destination key with a query; body may be NULL; marker (the source
   ETag, bare) is set as SL_S3_META_SOURCE_ETAG when non-NULL (CreateMultipartUpload). */
static int mpu_call(sl_aws *aws, const copy_cfg *cfg, const char *method, const char *key,
                    const char *query, const char *body, int sse, const char *marker,
                    sl_aws_response *resp, sl_aws_error *e)
{
    sl_http_header h[4];
    sl_aws_request req;
    char *path = sl_s3_key_path(key);
    size_t nh = 0;
    int rc;

    if (!path) {
        memset(e, 0, sizeof(*e));
        snprintf(e->code, sizeof(e->code), "InternalFailure");
        snprintf(e->message, sizeof(e->message), "multipart: out of memory");
        return -1;
    }
    if (sse && cfg->kms_key && *cfg->kms_key) {
        h[nh++] = (sl_http_header){"x-amz-server-side-encryption", "aws:kms"};
        h[nh++] = (sl_http_header){"x-amz-server-side-encryption-aws-kms-key-id", cfg->kms_key};
    }
    if (cfg->lake_owner && *cfg->lake_owner)
        h[nh++] = (sl_http_header){"x-amz-expected-bucket-owner", cfg->lake_owner};
    if (marker && *marker)
        h[nh++] = (sl_http_header){SL_S3_META_SOURCE_ETAG, marker};
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = method;
    req.bucket = cfg->lake_bucket;
    req.path = path;
    req.query = query;
    req.headers = h;
    req.nheaders = nh;
    req.body = body;
    req.body_len = body ? strlen(body) : 0;
    rc = sl_aws_call(aws, &req, resp, e);
    free(path);
    return rc;
}

static char *upload_query(const char *upload_id)
{
    char *enc = sl_sigv4_uri_encode(upload_id, strlen(upload_id), 0);
    char *q = enc ? join2("uploadId=", "", enc) : NULL;
    free(enc);
    return q;
}

/* Queues the abort of o's open upload on the stage context (sent by tick, never inline: this
   runs inside job_cleanup, i.e. the rebalance callback, too). Best effort: the run's error is
   what made us abort, not the abort's outcome. */
static void mpu_abort(copy_ctx *cx, const copy_job *cj, cp_obj *o, const sl_log_ctx *log)
{
    if (!o->mpu || !o->mpu->upload_id)
        return;
    if (sl_copy_abortq_push(&cx->aborts, cx->cfg.lake_bucket, cj->entries[o->entry].dest,
                            o->mpu->upload_id))
        sl_log_kv(SL_LOG_WARN, log, (const char *const[]){"key", cj->entries[o->entry].dest, NULL},
                  "abort queue full; multipart upload left open");
    free(o->mpu->upload_id);
    o->mpu->upload_id = NULL;
}

/* CreateMultipartUpload and the part plan. 0, or -1 with e. */
static int mpu_begin(sl_aws *aws, const copy_cfg *cfg, copy_job *cj, cp_obj *o, sl_aws_error *e)
{
    sl_aws_response resp;
    char msg[SL_ERRLEN], marker[96];
    cp_mpu *m = calloc(1, sizeof(*m));
    size_t *act;
    int rc = -1;

    memset(e, 0, sizeof(*e));
    sl_aws_response_init(&resp);
    if (!m ||
        sl_s3_part_ranges(o->size, cfg->part_size, &m->ranges, &m->nparts, msg, sizeof(msg))) {
        snprintf(e->code, sizeof(e->code), "InvalidRequest");
        snprintf(e->message, sizeof(e->message), "%s", m ? msg : "multipart: out of memory");
        goto out;
    }
    m->etags = calloc(m->nparts, sizeof(*m->etags));
    m->attempts = calloc(m->nparts, sizeof(*m->attempts));
    act = grow(cj->mpu_active, &cj->capmpu, cj->nmpu_active + 1, sizeof(*act));
    if (act)
        cj->mpu_active = act;
    if (!m->etags || !m->attempts || !act) {
        snprintf(e->code, sizeof(e->code), "InternalFailure");
        snprintf(e->message, sizeof(e->message), "multipart: out of memory");
        goto out;
    }
    /* The marker lets a restarted copy recognise the finished object (sl_copy_plan_skip). */
    sl_copy_plan_etag_bare(cj->srcs[o->entry].etag, marker, sizeof(marker));
    if (mpu_call(aws, cfg, "POST", cj->entries[o->entry].dest, "uploads=", NULL, 1, marker, &resp,
                 e))
        goto out;
    if (sl_s3_parse_upload_id(resp.body.data, resp.body.len, &m->upload_id, msg, sizeof(msg))) {
        snprintf(e->code, sizeof(e->code), "ParseError");
        snprintf(e->message, sizeof(e->message), "%s", msg);
        goto out;
    }
    o->mpu = m;
    m = NULL;
    cj->mpu_active[cj->nmpu_active++] = (size_t)(o - cj->objs);
    rc = 0;
out:
    mpu_free(m);
    sl_aws_response_cleanup(&resp);
    return rc;
}

/* CompleteMultipartUpload with every part's ETag. 0, or -1 with e. */
static int mpu_complete(sl_aws *aws, const copy_cfg *cfg, copy_job *cj, cp_obj *o, sl_aws_error *e)
{
    sl_aws_response resp;
    char *body = sl_s3_complete_body(o->mpu->etags, o->mpu->nparts);
    char *q = upload_query(o->mpu->upload_id);
    int rc = -1;

    sl_aws_response_init(&resp);
    if (!body || !q) {
        memset(e, 0, sizeof(*e));
        snprintf(e->code, sizeof(e->code), "InternalFailure");
        snprintf(e->message, sizeof(e->message), "multipart: cannot build the completion");
        goto out;
    }
    /* sl_aws_call treats S3's 200-with-<Error> answer to this POST as the error it is. */
    rc = mpu_call(aws, cfg, "POST", cj->entries[o->entry].dest, q, body, 0, NULL, &resp, e);
out:
    sl_aws_response_cleanup(&resp);
    free(body);
    free(q);
    return rc;
}

/* ---- job lifecycle ------------------------------------------------------------------------ */

static sl_step_result copy_start(struct sl_worker *w, void *ctx, sl_job *job)
{
    copy_cfg *cfg = &((copy_ctx *)ctx)->cfg;
    copy_job *cj;
    size_t plen;

    (void)w;
    cj = calloc(1, sizeof(*cj));
    if (!cj)
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    job->state = cj;
    snprintf(job->export_task_id, sizeof(job->export_task_id), "%s", job->in.export_task_id);
    /* RDS writes under `<S3Prefix>/<task id>/`; a prefix given with a trailing '/' must not
       make the listing look under `prefix//task`. */
    plen = job->in.s3_prefix ? strlen(job->in.s3_prefix) : 0;
    while (plen && job->in.s3_prefix[plen - 1] == '/')
        plen--;
    cj->root = malloc(plen + strlen(job->in.export_task_id) + 2);
    if (cj->root)
        snprintf(cj->root, plen + strlen(job->in.export_task_id) + 2, "%.*s%s%s", (int)plen,
                 plen ? job->in.s3_prefix : "", plen ? "/" : "", job->in.export_task_id);
    cj->list_prefix = cj->root ? join2(cj->root, "", "/") : NULL;
    cj->multi = curl_multi_init();
    cj->nslots = (size_t)cfg->concurrency;
    cj->slots = calloc(cj->nslots, sizeof(*cj->slots));
    if (!cj->root || !cj->list_prefix || !cj->multi || !cj->slots)
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    /* Keep as many connections as requests in flight, so each is reused, not reopened. */
    curl_multi_setopt(cj->multi, CURLMOPT_MAXCONNECTS, (long)cj->nslots);
    cj->t0 = sl_mono_ms();
    cj->phase = CP_LIST;
    job->next_step_ms = sl_mono_ms();
    sl_log_kv(SL_LOG_INFO, &job->log,
              (const char *const[]){"export_task", job->in.export_task_id, "bucket",
                                    job->in.s3_bucket, "prefix", cj->list_prefix, NULL},
              "listing the export");
    return SL_STEP_PENDING;
}

static void copy_job_cleanup(struct sl_worker *w, void *ctx, sl_job *job)
{
    copy_ctx *cx = ctx;
    copy_job *cj = job->state;
    char err[SL_ERRLEN];

    (void)w;
    if (!cj)
        return;
    if (cj->pg) {
        /* Closing the session frees the lock anyway; the unlock just says so at once. */
        if (cj->locked &&
            sl_pg_advisory_unlock(cj->pg, SL_PARTLOCK_NS, cj->lock_key, err, sizeof(err)))
            sl_log_kv(SL_LOG_DEBUG, &job->log, NULL, "partition unlock: %s", err);
        PQfinish(cj->pg);
        cj->pg = NULL;
    }
    for (size_t i = 0; cj->slots && i < cj->nslots; i++) {
        if (!cj->slots[i].x)
            continue;
        curl_multi_remove_handle(cj->multi, sl_aws_xfer_handle(cj->slots[i].x));
        sl_aws_xfer_free(cj->slots[i].x);
    }
    for (size_t i = 0; cj->objs && i < cj->nobjs; i++) {
        /* An abandoned (shutdown, revoke) or failed multipart copy must not leave billed
           parts behind; the next owner of the message starts a fresh upload. */
        if (cj->objs[i].mpu && !cj->objs[i].done)
            mpu_abort(cx, cj, &cj->objs[i], &job->log);
        mpu_free(cj->objs[i].mpu);
    }
    if (cj->multi)
        curl_multi_cleanup(cj->multi);
    free(cj->slots);
    free(cj->objs);
    free(cj->retry);
    free(cj->mpu_active);
    for (size_t i = 0; i < cj->nentries; i++)
        sl_keymap_entry_cleanup(&cj->entries[i]);
    free(cj->entries);
    free(cj->srcs);
    sl_keymap_strv_free(cj->info_keys, cj->ninfo);
    for (size_t i = 0; i < cj->nfailed; i++) {
        free(cj->failed[i].table);
        free(cj->failed[i].reason);
    }
    free(cj->failed);
    sl_keymap_strv_free(cj->prefixes, cj->nprefixes);
    sl_copy_destset_cleanup(&cj->dests);
    sl_keymap_strv_free(cj->stale, cj->nstale);
    free(cj->stale_tries);
    free(cj->heads);
    free(cj->token);
    free(cj->root);
    free(cj->list_prefix);
    free(cj);
    job->state = NULL;
}

/* ---- LIST --------------------------------------------------------------------------------- */

static sl_step_result list_step(sl_aws *aws, const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    sl_s3_list_opts lo = {0};
    sl_s3_list_page page = {0};
    sl_keymap_ctx kc = {cj->root, cfg->lake_prefix, job->in.cluster, job->in.date};
    sl_aws_error e;
    char err[SL_ERRLEN], what[256];
    sl_step_result r = SL_STEP_PENDING;

    lo.prefix = cj->list_prefix;
    lo.continuation_token = cj->token;
    lo.expected_owner = cfg->export_owner;
    if (sl_s3_list(aws, job->in.s3_bucket, &lo, &page, &e)) {
        snprintf(what, sizeof(what), "ListObjectsV2 s3://%s/%s", job->in.s3_bucket,
                 cj->list_prefix);
        return sl_job_fail_aws(job, what, &e);
    }
    if (cj->nlisted + page.count > MAX_EXPORT_KEYS) {
        r = sl_job_fail(job, "ExportTooLarge", "export %s lists more than %d keys",
                        job->in.export_task_id, MAX_EXPORT_KEYS);
        goto out;
    }
    cj->nlisted += page.count;
    for (size_t i = 0; i < page.count; i++) {
        sl_keymap_entry ent;
        const char *key = page.objects[i].key;

        if (sl_keymap_map(&kc, key, &ent, err, sizeof(err))) {
            r = sl_job_fail(job, "BadInput", "cannot map export keys: %s", err);
            goto out;
        }
        switch (ent.kind) {
        case SL_KEY_PARQUET: {
            size_t cap = cj->capentries;
            sl_keymap_entry *ge = grow(cj->entries, &cap, cj->nentries + 1, sizeof(*ge));
            cp_src *gs = ge ? grow(cj->srcs, &cj->capentries, cj->nentries + 1, sizeof(*gs)) : NULL;
            if (ge)
                cj->entries = ge;
            if (!gs) {
                sl_keymap_entry_cleanup(&ent);
                r = sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
                goto out;
            }
            cj->srcs = gs;
            cj->srcs[cj->nentries].size = page.objects[i].size;
            snprintf(cj->srcs[cj->nentries].etag, sizeof(cj->srcs[cj->nentries].etag), "%s",
                     page.objects[i].etag);
            cj->entries[cj->nentries++] = ent;
            continue;
        }
        case SL_KEY_TABLES_INFO: {
            char **gi = grow(cj->info_keys, &cj->capinfo, cj->ninfo + 1, sizeof(*gi));
            if (gi)
                cj->info_keys = gi;
            if (!gi || !(cj->info_keys[cj->ninfo] = strdup(key))) {
                sl_keymap_entry_cleanup(&ent);
                r = sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
                goto out;
            }
            cj->ninfo++;
            break;
        }
        case SL_KEY_SUCCESS:
        case SL_KEY_EXPORT_INFO:
            break;
        case SL_KEY_OTHER:
            if (cj->nskipped++ < MAX_WARN_LINES)
                sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"key", key, NULL},
                          "export file is neither data nor export metadata; not copied");
            break;
        case SL_KEY_REJECTED:
        default:
            r = sl_job_fail(job, "BadExportKey", "export key '%s' cannot be mapped to the lake: %s",
                            key, ent.reason);
            sl_keymap_entry_cleanup(&ent);
            goto out;
        }
        sl_keymap_entry_cleanup(&ent);
    }
    free(cj->token);
    cj->token = NULL;
    if (page.truncated && page.next_token) {
        cj->token = page.next_token;
        page.next_token = NULL;
    } else {
        cj->phase = CP_INFO;
    }
    job->next_step_ms = sl_mono_ms();
out:
    sl_s3_list_page_cleanup(&page);
    return r;
}

/* ---- INFO and the plan -------------------------------------------------------------------- */

static int add_failed(copy_job *cj, const char *table, const char *reason)
{
    sl_msg_table_failure *g = realloc(cj->failed, (cj->nfailed + 1) * sizeof(*g));
    if (!g)
        return -1;
    cj->failed = g;
    g[cj->nfailed].table = sl_copy_plan_table_name(table);
    g[cj->nfailed].reason = strdup(reason ? reason : "");
    cj->nfailed++;
    return g[cj->nfailed - 1].table && g[cj->nfailed - 1].reason ? 0 : -1;
}

static sl_step_result info_step(sl_aws *aws, sl_job *job, copy_job *cj)
{
    const char *key = cj->info_keys[cj->info_next];
    sl_tables_info ti;
    sl_aws_error e;
    sl_buf b;
    char err[SL_ERRLEN], what[256];
    sl_step_result r = SL_STEP_PENDING;

    sl_buf_init(&b, SL_KEYMAP_TABLES_INFO_MAX);
    if (sl_s3_get(aws, job->in.s3_bucket, key, &b, &e)) {
        snprintf(what, sizeof(what), "GetObject s3://%s/%s", job->in.s3_bucket, key);
        r = sl_job_fail_aws(job, what, &e);
        goto out;
    }
    if (sl_keymap_parse_tables_info(b.data ? b.data : "", b.len, &ti, err, sizeof(err))) {
        r = sl_job_fail(job, "BadTablesInfo", "s3://%s/%s: %s", job->in.s3_bucket, key, err);
        goto out;
    }
    for (size_t i = 0; i < ti.nfailed; i++) {
        const sl_table_status *t = &ti.failed[i];
        if (add_failed(cj, t->table, t->reason)) {
            sl_keymap_tables_info_cleanup(&ti);
            r = sl_job_fail(job, "ClientError", "copy: out of memory reading table info");
            goto out;
        }
        if (cj->nfailed <= MAX_WARN_LINES)
            sl_log_kv(SL_LOG_WARN, &job->log,
                      (const char *const[]){"table", t->table, "status", t->status, "reason",
                                            t->reason, NULL},
                      "table export did not complete");
    }
    for (size_t i = 0; i < ti.nwarnings && i < MAX_WARN_LINES; i++)
        sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"note", ti.warnings[i], NULL},
                  "export_tables_info warning");
    sl_keymap_tables_info_cleanup(&ti);
    cj->info_next++;
    job->next_step_ms = sl_mono_ms();
out:
    sl_buf_cleanup(&b);
    return r;
}

/* A transient failure of the job (the runtime backs off and starts it again). */
static sl_step_result job_retry(sl_job *job, const char *code, const char *fmt, ...)
    SL_PRINTF(3, 4);
static sl_step_result job_retry(sl_job *job, const char *code, const char *fmt, ...)
{
    va_list ap;

    snprintf(job->error_code, sizeof(job->error_code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(job->error_message, sizeof(job->error_message), fmt, ap);
    va_end(ap);
    return SL_STEP_RETRY;
}

/*
 * The `copied` message, built as soon as the tables are known and bounded to fit under
 * SL_MSG_MAX_BYTES before anything is written or deleted: an output that could not be
 * published must fail the run while the partition is still untouched. Counters hold their
 * widest values here (finish() writes the real ones), so the final message is never longer.
 */
static sl_step_result draft_out(const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    sl_msg *o = &job->out;
    char err[SL_ERRLEN], now[32], a[32], b[32];

    sl_msg_cleanup(o);
    if (sl_msg_copy(o, &job->in, err, sizeof(err)))
        return sl_job_fail(job, "ClientError", "%s", err);
    o->type = SL_MSG_COPIED;
    if (sl_msg_format_time(sl_now_ms(), now, sizeof(now)))
        return sl_job_fail(job, "ClientError", "copy: clock out of range");
    free(o->lake_bucket);
    free(o->lake_prefix);
    free(o->copied_at);
    o->lake_bucket = strdup(cfg->lake_bucket);
    o->lake_prefix = strdup(cfg->lake_prefix ? cfg->lake_prefix : "");
    o->copied_at = strdup(now);
    if (!o->lake_bucket || !o->lake_prefix || !o->copied_at)
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    o->objects = o->bytes = o->removed = o->skipped = SL_MSG_COUNT_MAX;
    /* An input that already carried copy fields (a replayed `copied`) must not mix. */
    sl_keymap_strv_free(o->tables, o->ntables);
    o->tables = NULL;
    o->ntables = 0;
    for (size_t i = 0; i < o->nfailed_tables; i++) {
        free(o->failed_tables[i].table);
        free(o->failed_tables[i].reason);
    }
    free(o->failed_tables);
    o->tables_total = o->failed_tables_total = 0;
    if (sl_copy_plan_tables(cj->entries, cj->nentries, &o->tables, &o->ntables, err, sizeof(err)))
        return sl_job_fail(job, "ClientError", "%s", err);
    o->failed_tables = cj->failed;
    o->nfailed_tables = cj->nfailed;
    cj->failed = NULL;
    cj->nfailed = 0;
    if (sl_copy_plan_bound_msg(o, MSG_MAX_TABLES, MSG_MAX_FAILED, MSG_MAX_REASON,
                               SL_MSG_MAX_BYTES - MSG_MARGIN, err, sizeof(err)))
        return sl_job_fail(job, "OutputTooLarge", "%s", err);
    if ((long long)o->ntables < o->tables_total ||
        (long long)o->nfailed_tables < o->failed_tables_total) {
        snprintf(a, sizeof(a), "%lld", o->tables_total);
        snprintf(b, sizeof(b), "%lld", o->failed_tables_total);
        sl_log_kv(SL_LOG_WARN, &job->log,
                  (const char *const[]){"tables", a, "failed_tables", b, NULL},
                  "the copied message lists only part of the tables (the counts are whole)");
    }
    return SL_STEP_PENDING;
}

/*
 * Leaves out the data files of tables export_tables_info reports as not COMPLETE (RDS keeps
 * what a failing table had already written): entries and srcs are compacted together.
 * Returns how many files were left out.
 */
static size_t drop_failed_tables(copy_job *cj)
{
    size_t kept = 0, n = cj->nentries;

    for (size_t i = 0; i < n; i++) {
        if (sl_copy_plan_in_failed_table(&cj->entries[i], cj->failed, cj->nfailed)) {
            sl_keymap_entry_cleanup(&cj->entries[i]);
            continue;
        }
        if (kept != i) {
            cj->entries[kept] = cj->entries[i];
            cj->srcs[kept] = cj->srcs[i];
        }
        kept++;
    }
    cj->nentries = kept;
    return n - kept;
}

static sl_step_result plan_copy(const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    char err[SL_ERRLEN], n1[32], n2[32], n3[32];
    sl_step_result r;
    size_t renamed = 0, dropped;

    if (cj->nentries == 0 && cj->ninfo == 0)
        return sl_job_fail(job, "EmptyExport",
                           "export %s has no data file and no export_tables_info under s3://%s/%s",
                           job->in.export_task_id, job->in.s3_bucket, cj->list_prefix);
    if ((dropped = drop_failed_tables(cj)) > 0) {
        snprintf(n1, sizeof(n1), "%zu", dropped);
        sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"files", n1, NULL},
                  "files of tables whose export did not complete are not copied");
    }
    if (sl_keymap_plan(cj->entries, cj->nentries, &renamed, err, sizeof(err)))
        return sl_job_fail(job, "KeyCollision", "%s", err);
    if (sl_copy_destset_init(&cj->dests, cj->entries, cj->nentries, err, sizeof(err)))
        return sl_job_fail(job, "ClientError", "%s", err);
    cj->nobjs = cj->nentries;
    if (cj->nobjs) {
        cj->objs = calloc(cj->nobjs, sizeof(*cj->objs));
        if (!cj->objs)
            return sl_job_fail(job, "ClientError", "copy: out of memory planning %zu copies",
                               cj->nobjs);
    }
    for (size_t i = 0; i < cj->nobjs; i++) {
        cj->objs[i].entry = i;
        cj->objs[i].size = cj->srcs[i].size;
    }
    snprintf(n1, sizeof(n1), "%zu", cj->nentries);
    snprintf(n2, sizeof(n2), "%zu", cj->nfailed);
    snprintf(n3, sizeof(n3), "%zu", renamed);
    if ((r = draft_out(cfg, job, cj)) != SL_STEP_PENDING)
        return r;
    sl_log_kv(SL_LOG_INFO, &job->log,
              (const char *const[]){"objects", n1, "failed_tables", n2, "renamed", n3, NULL},
              "export listed; copying");
    job->next_step_ms = sl_mono_ms();
    if (cj->nobjs == 0) {
        /* Nothing to write: no partition is touched, so no lock and no holder record. */
        cj->phase = CP_COPY;
        cj->copy_ms = sl_mono_ms();
        cj->last_progress = cj->copy_ms;
        return SL_STEP_PENDING;
    }
    if (sl_keymap_date_prefixes(cj->entries, cj->nentries, &cj->prefixes, &cj->nprefixes, err,
                                sizeof(err)))
        return sl_job_fail(job, "ClientError", "%s", err);
    cj->lock_key = sl_partlock_key(job->in.cluster, job->in.date);
    sl_copy_plan_snap_time(&job->in, &cj->snap_ms);
    cj->lock_deadline = sl_mono_ms() + cfg->lock_timeout_ms;
    cj->phase = CP_LOCK;
    return SL_STEP_PENDING;
}

/* ---- LOCK: one replacement of a (cluster, date) at a time, newest snapshot wins ---------- */

/* The partition holds a newer export's files: this one writes nothing and ends, recorded in
   the ledger as succeeded with details {"superseded_by": ...}, publishing no message. */
static sl_step_result superseded(sl_job *job, copy_job *cj, const sl_partlock_holder *h)
{
    cJSON *d = cJSON_CreateObject();
    cJSON *by = d ? cJSON_AddObjectToObject(d, "superseded_by") : NULL;
    char *text = NULL, err[SL_ERRLEN];
    sl_step_result r;

    if (!by || !cJSON_AddStringToObject(by, "export_task_id", h->export_task_id) ||
        !cJSON_AddStringToObject(by, "run_id", h->run_id ? h->run_id : "") ||
        !(text = cJSON_PrintUnformatted(d))) {
        r = sl_job_fail(job, "ClientError", "copy: out of memory");
        goto out;
    }
    if (sl_partlock_ledger_details(cj->pg, job->in.run_id, sl_stage_copy.name, text, err,
                                   sizeof(err))) {
        r = job_retry(job, "LedgerUnavailable", "recording the superseded copy: %s", err);
        goto out;
    }
    sl_log_kv(SL_LOG_WARN, &job->log,
              (const char *const[]){"superseded_by", h->export_task_id, "holder_run_id",
                                    h->run_id ? h->run_id : "", NULL},
              "the partition holds a newer snapshot's export; this older export is superseded "
              "and copies nothing");
    /* SL_MSG_NONE: done, nothing to publish (stage.h). */
    sl_msg_cleanup(&job->out);
    sl_msg_init(&job->out);
    r = SL_STEP_DONE;
out:
    cJSON_free(text);
    cJSON_Delete(d);
    return r;
}

static sl_step_result lock_step(struct sl_worker *w, const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    sl_partlock_holder h;
    sl_copy_snap mine, theirs;
    char err[SL_ERRLEN];
    int got = 0;
    long long now = sl_mono_ms();

    (void)cfg;
    if (!cj->pg && sl_worker_pg_connect(w, "partlock", &cj->pg, err, sizeof(err))) {
        cj->pg = NULL;
        return job_retry(job, "LedgerUnavailable", "partition lock connection: %s", err);
    }
    if (sl_pg_try_advisory_lock(cj->pg, SL_PARTLOCK_NS, cj->lock_key, &got, err, sizeof(err))) {
        PQfinish(cj->pg);
        cj->pg = NULL;
        return job_retry(job, "LedgerUnavailable", "partition lock: %s", err);
    }
    if (!got) {
        if (now >= cj->lock_deadline)
            return job_retry(job, "PartitionBusy",
                             "another export of cluster %s date %s held the partition for "
                             "longer than COPY_LOCK_TIMEOUT",
                             job->in.cluster, job->in.date);
        if (!cj->lock_logged++)
            sl_log_kv(SL_LOG_INFO, &job->log, NULL,
                      "waiting: another export of this cluster and date is replacing the "
                      "partition");
        sl_worker_job_status(w, job, SL_LEDGER_WAITING);
        job->next_step_ms = now + LOCK_RETRY_MS;
        return SL_STEP_PENDING;
    }
    cj->locked = 1;
    sl_worker_job_status(w, job, SL_LEDGER_RUNNING);
    /* The check is made under the lock, and so is everything that writes the partition. */
    if (sl_partlock_holder_get(cj->pg, job->in.cluster, job->in.date, &h, err, sizeof(err)))
        return job_retry(job, "LedgerUnavailable", "partition holder: %s", err);
    mine = (sl_copy_snap){cj->snap_ms, job->in.export_task_id};
    theirs = (sl_copy_snap){h.time_ms, h.export_task_id};
    if (h.found && sl_copy_plan_superseded(&mine, &theirs)) {
        sl_step_result r = superseded(job, cj, &h);
        sl_partlock_holder_cleanup(&h);
        return r;
    }
    sl_partlock_holder_cleanup(&h);
    cj->prefix_i = 0;
    cj->phase = CP_DEST_LIST;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

/* Before deleting, and before recording: a connection reset drops the lock silently. */
static sl_step_result check_lock(sl_job *job, copy_job *cj)
{
    char err[SL_ERRLEN];
    int held = 0;

    if (!cj->pg || sl_partlock_held(cj->pg, cj->lock_key, &held, err, sizeof(err)))
        return job_retry(job, "PartitionLockLost", "partition lock check: %s",
                         cj->pg ? err : "no connection");
    if (!held)
        return job_retry(job, "PartitionLockLost", "the partition lock was lost (reconnect)");
    return SL_STEP_PENDING;
}

/* Under the lock, after the replacement: the partition now holds this export's files. */
static sl_step_result record_holder(sl_job *job, copy_job *cj)
{
    char err[SL_ERRLEN];
    int written = 0;
    sl_step_result r;

    if ((r = check_lock(job, cj)) != SL_STEP_PENDING)
        return r;
    if (sl_partlock_holder_set(cj->pg, job->in.cluster, job->in.date, cj->snap_ms,
                               job->in.export_task_id, job->in.run_id, job->in.snapshot_id,
                               &written, err, sizeof(err)))
        return job_retry(job, "LedgerUnavailable", "recording the partition holder: %s", err);
    if (!written)
        return job_retry(job, "PartitionLockLost",
                         "a newer export recorded the partition meanwhile");
    return SL_STEP_PENDING;
}

/* ---- COPY --------------------------------------------------------------------------------- */

/* The next unit that may start now: a due retry, then a part of an open multipart copy,
   then the next object. 0 with *u, or -1 when nothing can start now. */
static int pick(copy_job *cj, long long now, cp_unit *u)
{
    for (size_t i = 0; i < cj->nretry; i++) {
        if (cj->retry[i].due <= now) {
            *u = cj->retry[i];
            cj->retry[i] = cj->retry[--cj->nretry];
            return 0;
        }
    }
    while (cj->nmpu_active) {
        size_t oi = cj->mpu_active[0];
        cp_mpu *m = cj->objs[oi].mpu;
        if (m && m->upload_id && m->next < m->nparts) {
            u->obj = oi;
            u->part = (int)++m->next;
            return 0;
        }
        cj->mpu_active[0] = cj->mpu_active[--cj->nmpu_active];
    }
    while (cj->next_obj < cj->nobjs && cj->objs[cj->next_obj].done)
        cj->next_obj++; /* already at its destination (restart) */
    if (cj->next_obj < cj->nobjs) {
        u->obj = cj->next_obj++;
        u->part = 0;
        return 0;
    }
    return -1;
}

static int schedule_retry(copy_job *cj, size_t obj, int part, long long due)
{
    cp_unit *g = grow(cj->retry, &cj->capretry, cj->nretry + 1, sizeof(*g));

    if (!g)
        return -1;
    cj->retry = g;
    cj->retry[cj->nretry++] = (cp_unit){obj, part, due};
    return 0;
}

/* Fails the run for object o with AWS's error e of `op`. */
static sl_step_result object_fail(sl_job *job, copy_job *cj, const cp_obj *o, const char *op,
                                  const sl_aws_error *e, int attempts)
{
    const sl_keymap_entry *ent = &cj->entries[o->entry];

    snprintf(job->aws_request_id, sizeof(job->aws_request_id), "%s", e->request_id);
    return sl_job_fail(job, e->code[0] ? e->code : "AwsError",
                       "%s s3://%s/%s -> %s: %s (attempt %d)", op, job->in.s3_bucket, ent->src,
                       ent->dest, e->message, attempts);
}

/* A unit failed with e: retry it later if transient and attempts remain, else fail. */
static sl_step_result unit_failed(sl_aws *aws, copy_ctx *cx, sl_job *job, copy_job *cj, size_t oi,
                                  int part, const char *op, const sl_aws_error *e)
{
    const copy_cfg *cfg = &cx->cfg;
    cp_obj *o = &cj->objs[oi];
    int *attempts = part ? &o->mpu->attempts[part - 1] : &o->attempts;

    ++*attempts;
    if (e->transient && *attempts < cfg->object_attempts) {
        long long due = sl_mono_ms() + sl_aws_backoff_ms(aws, *attempts);
        sl_log_kv(SL_LOG_DEBUG, &job->log,
                  (const char *const[]){"key", cj->entries[o->entry].src, "error", e->code, NULL},
                  "%s failed, retrying: %s", op, e->message);
        if (schedule_retry(cj, oi, part, due))
            return sl_job_fail(job, "ClientError", "copy: out of memory scheduling a retry");
        cj->nretries++;
        return SL_STEP_PENDING;
    }
    if (o->mpu)
        mpu_abort(cx, cj, o, &job->log);
    return object_fail(job, cj, o, op, e, *attempts);
}

static void object_done(copy_job *cj, cp_obj *o)
{
    o->done = 1;
    cj->objs_done++;
    cj->bytes_done += o->size;
}

/* Starts unit u: an xfer in a free slot, or (whole multipart object) the upload itself. */
static sl_step_result start_unit(sl_aws *aws, copy_ctx *cx, sl_job *job, copy_job *cj,
                                 const cp_unit *u)
{
    const copy_cfg *cfg = &cx->cfg;
    cp_obj *o = &cj->objs[u->obj];
    const sl_keymap_entry *ent = &cj->entries[o->entry];
    sl_s3_write_opts wo;
    sl_s3_req r;
    sl_aws_error e;
    cp_slot *slot = NULL;
    char err[SL_ERRLEN];
    int rc;

    write_opts(cfg, &wo);
    if (u->part == 0 && o->size > cfg->multipart_threshold) {
        mpu_free(o->mpu);
        o->mpu = NULL;
        if (mpu_begin(aws, cfg, cj, o, &e))
            return unit_failed(aws, cx, job, cj, u->obj, 0, "CreateMultipartUpload", &e);
        return SL_STEP_PENDING; /* its parts are picked next */
    }
    for (size_t i = 0; i < cj->nslots; i++)
        if (!cj->slots[i].x) {
            slot = &cj->slots[i];
            break;
        }
    if (!slot)
        return sl_job_fail(job, "ClientError", "copy: no free transfer slot (internal)");
    if (u->part == 0)
        rc = sl_s3_copy_request(&r, job->in.s3_bucket, ent->src, cfg->lake_bucket, ent->dest, &wo,
                                err, sizeof(err));
    else
        rc = sl_s3_upload_part_copy_request(&r, job->in.s3_bucket, ent->src, cfg->lake_bucket,
                                            ent->dest, o->mpu->upload_id, u->part,
                                            &o->mpu->ranges[u->part - 1], &wo, err, sizeof(err));
    if (rc)
        return sl_job_fail(job, "InvalidRequest", "copy of s3://%s/%s: %s", job->in.s3_bucket,
                           ent->src, err);
    rc = sl_aws_xfer_new(aws, &r.req, &slot->x, &e);
    sl_s3_req_cleanup(&r);
    if (rc) {
        slot->x = NULL;
        return unit_failed(aws, cx, job, cj, u->obj, u->part,
                           u->part ? "UploadPartCopy" : "CopyObject", &e);
    }
    slot->obj = u->obj;
    slot->part = u->part;
    sl_aws_xfer_set_user(slot->x, slot);
    curl_easy_setopt(sl_aws_xfer_handle(slot->x), CURLOPT_TIMEOUT_MS,
                     (long)cfg->request_timeout_ms);
    if (curl_multi_add_handle(cj->multi, sl_aws_xfer_handle(slot->x)) != CURLM_OK) {
        sl_aws_xfer_free(slot->x);
        slot->x = NULL;
        return sl_job_fail(job, "ClientError", "copy: curl_multi_add_handle failed");
    }
    cj->inflight++;
    return SL_STEP_PENDING;
}

/* A finished transfer. */
static sl_step_result on_done(sl_aws *aws, copy_ctx *cx, sl_job *job, copy_job *cj, cp_slot *slot,
                              CURLcode cc)
{
    const copy_cfg *cfg = &cx->cfg;
    size_t oi = slot->obj;
    int part = slot->part;
    cp_obj *o = &cj->objs[oi];
    const char *op = part ? "UploadPartCopy" : "CopyObject";
    sl_aws_error e;
    char etag[128];
    int rc;

    rc = sl_aws_xfer_finish(slot->x, cc, &e);
    if (rc == 0 && part) {
        const sl_aws_response *resp = sl_aws_xfer_response(slot->x);
        if (sl_s3_copy_result_etag(resp->body.data, resp->body.len, etag, sizeof(etag)) ||
            !(o->mpu->etags[part - 1] = strdup(etag))) {
            memset(&e, 0, sizeof(e));
            snprintf(e.code, sizeof(e.code), "ParseError");
            snprintf(e.message, sizeof(e.message), "UploadPartCopy answer has no ETag");
            rc = -1;
        }
    }
    curl_multi_remove_handle(cj->multi, sl_aws_xfer_handle(slot->x));
    sl_aws_xfer_free(slot->x);
    slot->x = NULL;
    cj->inflight--;
    if (rc)
        return unit_failed(aws, cx, job, cj, oi, part, op, &e);
    if (!part) {
        object_done(cj, o);
        return SL_STEP_PENDING;
    }
    if (++o->mpu->ndone < o->mpu->nparts)
        return SL_STEP_PENDING;
    if (mpu_complete(aws, cfg, cj, o, &e)) {
        /* The parts are gone with the abort; a transient failure redoes the whole object. */
        mpu_abort(cx, cj, o, &job->log);
        mpu_free(o->mpu);
        o->mpu = NULL;
        return unit_failed(aws, cx, job, cj, oi, 0, "CompleteMultipartUpload", &e);
    }
    mpu_free(o->mpu);
    o->mpu = NULL;
    object_done(cj, o);
    return SL_STEP_PENDING;
}

static void log_progress(sl_job *job, copy_job *cj, const char *msg)
{
    char a[32], b[32], c[32], d[32];

    snprintf(a, sizeof(a), "%zu", cj->objs_done);
    snprintf(b, sizeof(b), "%zu", cj->nobjs);
    snprintf(c, sizeof(c), "%lld", cj->bytes_done);
    snprintf(d, sizeof(d), "%zu", cj->inflight);
    sl_log_kv(SL_LOG_INFO, &job->log,
              (const char *const[]){"copied", a, "objects", b, "bytes", c, "in_flight", d, NULL},
              "%s", msg);
}

static sl_step_result copy_step_slice(sl_aws *aws, copy_ctx *cx, sl_job *job, copy_job *cj)
{
    long long deadline = sl_mono_ms() + STEP_SLICE_MS;
    sl_step_result r;

    for (;;) {
        long long now = sl_mono_ms();
        cp_unit u;
        CURLMsg *m;
        int running = 0, left = 0;

        while (cj->inflight < cj->nslots && pick(cj, now, &u) == 0) {
            r = start_unit(aws, cx, job, cj, &u);
            if (r != SL_STEP_PENDING)
                return r;
            if (sl_mono_ms() >= deadline)
                break; /* multipart calls are synchronous: keep the step short */
        }
        if (cj->inflight == 0)
            break;
        if (curl_multi_perform(cj->multi, &running) != CURLM_OK)
            return sl_job_fail(job, "ClientError", "copy: curl_multi_perform failed");
        while ((m = curl_multi_info_read(cj->multi, &left))) {
            char *priv = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            /* CURLINFO_PRIVATE is the xfer (aws_http.h); its user pointer is our slot. */
            if (curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv)
                return sl_job_fail(job, "ClientError",
                                   "copy: transfer without its xfer (internal)");
            r = on_done(aws, cx, job, cj, sl_aws_xfer_user((sl_aws_xfer *)(void *)priv),
                        m->data.result);
            if (r != SL_STEP_PENDING)
                return r;
        }
        now = sl_mono_ms();
        if (now >= deadline)
            break;
        if (cj->inflight) {
            long long wait = deadline - now < POLL_WAIT_MS ? deadline - now : POLL_WAIT_MS;
            if (curl_multi_poll(cj->multi, NULL, 0, (int)wait, NULL) != CURLM_OK)
                return sl_job_fail(job, "ClientError", "copy: curl_multi_poll failed");
        }
    }
    if (sl_mono_ms() - cj->last_progress >= PROGRESS_MS) {
        cj->last_progress = sl_mono_ms();
        log_progress(job, cj, "copying");
    }
    if (cj->objs_done == cj->nobjs) {
        cj->copy_ms = sl_mono_ms() - cj->copy_ms;
        return SL_STEP_DONE; /* to the caller: copies finished */
    }
    /* Work in flight or ready: come back at once; only delayed retries left: at the first. */
    job->next_step_ms = sl_mono_ms();
    if (cj->inflight == 0 && cj->next_obj >= cj->nobjs && cj->nmpu_active == 0 && cj->nretry) {
        long long due = cj->retry[0].due;
        for (size_t i = 1; i < cj->nretry; i++)
            if (cj->retry[i].due < due)
                due = cj->retry[i].due;
        job->next_step_ms = due;
    }
    return SL_STEP_PENDING;
}

/* ---- DEST_LIST and DELETE (under the lock) ------------------------------------------------ */

/* Appends key (copied) to the stale set with `tries` DeleteObjects attempts made. */
static int stale_add(copy_job *cj, const char *key, unsigned char tries)
{
    char **g = grow(cj->stale, &cj->capstale, cj->nstale + 1, sizeof(*g));
    unsigned char *t;

    if (!g)
        return -1;
    cj->stale = g;
    t = grow(cj->stale_tries, &cj->captries, cj->nstale + 1, sizeof(*t));
    if (!t)
        return -1;
    cj->stale_tries = t;
    if (!(cj->stale[cj->nstale] = strdup(key)))
        return -1;
    cj->stale_tries[cj->nstale++] = tries;
    return 0;
}

/*
 * One page of a destination `date=` folder, listed before anything is copied (the lock keeps
 * other exports out, so the listing stays true): keys that are destinations of this export
 * and already hold the source's bytes (sl_copy_plan_skip) are not copied again, so a restart
 * resumes instead of redoing a 100,000-file copy; keys that are not destinations of this
 * export are the stale set that replacement deletes once every copy succeeded.
 */
static sl_step_result dest_list_step(sl_aws *aws, const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    const char *prefix = cj->prefixes[cj->prefix_i];
    sl_s3_list_opts lo = {0};
    sl_s3_list_page page = {0};
    sl_aws_error e;
    const char **keys = NULL, **stale = NULL;
    size_t nstale = 0, ei;
    char err[SL_ERRLEN], what[256];
    sl_step_result r = SL_STEP_PENDING;

    lo.prefix = prefix;
    lo.continuation_token = cj->token;
    lo.expected_owner = cfg->lake_owner;
    if (sl_s3_list(aws, cfg->lake_bucket, &lo, &page, &e)) {
        snprintf(what, sizeof(what), "ListObjectsV2 s3://%s/%s", cfg->lake_bucket, prefix);
        return sl_job_fail_aws(job, what, &e);
    }
    if (page.count && !(keys = calloc(page.count, sizeof(*keys)))) {
        r = sl_job_fail(job, "ClientError", "copy: out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.count; i++) {
        const sl_s3_object *d = &page.objects[i];
        keys[i] = d->key;
        if (!sl_copy_destset_find(&cj->dests, d->key, &ei) || cj->objs[ei].done)
            continue;
        switch (sl_copy_plan_skip(cj->srcs[ei].size, cj->srcs[ei].etag, d->size, d->etag,
                                  cj->srcs[ei].size > cfg->multipart_threshold)) {
        case SL_COPY_SKIP:
            object_done(cj, &cj->objs[ei]);
            cj->nskipped_dest++;
            break;
        case SL_COPY_CHECK: {
            size_t *g = grow(cj->heads, &cj->capheads, cj->nheads + 1, sizeof(*g));
            if (!g) {
                r = sl_job_fail(job, "ClientError", "copy: out of memory");
                goto out;
            }
            cj->heads = g;
            cj->heads[cj->nheads++] = ei;
            break;
        }
        case SL_COPY_DO:
        default:
            break;
        }
    }
    if (cfg->replace_partition && sl_copy_plan_stale(&cj->dests, prefix, keys, page.count, &stale,
                                                     &nstale, err, sizeof(err))) {
        r = sl_job_fail(job, "ClientError", "%s", err);
        goto out;
    }
    if (cj->nstale + nstale > MAX_STALE_KEYS) {
        r = sl_job_fail(job, "TooManyStaleObjects",
                        "more than %d objects to remove under s3://%s/%s", MAX_STALE_KEYS,
                        cfg->lake_bucket, prefix);
        goto out;
    }
    for (size_t i = 0; i < nstale; i++)
        if (stale_add(cj, stale[i], 0)) {
            r = sl_job_fail(job, "ClientError", "copy: out of memory");
            goto out;
        }
    free(cj->token);
    cj->token = NULL;
    if (page.truncated && page.next_token) {
        cj->token = page.next_token;
        page.next_token = NULL;
    } else if (++cj->prefix_i >= cj->nprefixes) {
        cj->phase = CP_DEST_HEAD;
    }
    job->next_step_ms = sl_mono_ms();
out:
    free((void *)stale);
    free((void *)keys);
    sl_s3_list_page_cleanup(&page);
    return r;
}

/* Multipart objects already there with the right size: HeadObject (a few per step, as time
   allows) reads the marker their copy recorded; then the copy starts. Any error just means
   "copy it" (the copy itself reports what is really wrong). */
static sl_step_result dest_head_step(sl_aws *aws, const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    long long deadline = sl_mono_ms() + STEP_SLICE_MS;

    while (cj->head_next < cj->nheads && sl_mono_ms() < deadline) {
        size_t ei = cj->heads[cj->head_next++];
        sl_s3_head_result hr;
        sl_aws_error e;

        if (sl_s3_head(aws, cfg->lake_bucket, cj->entries[ei].dest, cfg->lake_owner, &hr, &e)) {
            sl_log_kv(SL_LOG_DEBUG, &job->log,
                      (const char *const[]){"key", cj->entries[ei].dest, "error", e.code, NULL},
                      "HeadObject failed; copying the object again: %s", e.message);
            continue;
        }
        if (hr.size == cj->srcs[ei].size &&
            sl_copy_plan_marker_matches(cj->srcs[ei].etag, hr.source_etag) && !cj->objs[ei].done) {
            object_done(cj, &cj->objs[ei]);
            cj->nskipped_dest++;
        }
    }
    if (cj->head_next >= cj->nheads) {
        char n1[32], n2[32];
        snprintf(n1, sizeof(n1), "%zu", cj->nskipped_dest);
        snprintf(n2, sizeof(n2), "%zu", cj->nstale);
        sl_log_kv(SL_LOG_INFO, &job->log,
                  (const char *const[]){"already_there", n1, "stale", n2, NULL},
                  "partition locked and listed; copying");
        cj->phase = CP_COPY;
        cj->copy_ms = sl_mono_ms();
        cj->last_progress = cj->copy_ms;
    }
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

static sl_step_result delete_step(sl_aws *aws, const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    size_t n = cj->nstale - cj->stale_next;
    sl_s3_delete_failure *f = NULL;
    size_t nf = 0;
    sl_aws_error e;
    char what[256];
    sl_step_result r = SL_STEP_PENDING;
    int again = 1, maxtries = 0;

    if (n > SL_S3_DELETE_MAX)
        n = SL_S3_DELETE_MAX;
    if (sl_s3_delete_objects(aws, cfg->lake_bucket, (const char *const *)cj->stale + cj->stale_next,
                             n, cfg->lake_owner, &f, &nf, &e)) {
        snprintf(what, sizeof(what), "DeleteObjects in s3://%s (%zu keys from %s)",
                 cfg->lake_bucket, n, cj->stale[cj->stale_next]);
        return sl_job_fail_aws(job, what, &e);
    }
    /* Keys S3 could not delete would leave old rows in the partition. Transient per-key errors
       (InternalError, SlowDown) retry only those keys, COPY_OBJECT_ATTEMPTS times each; any
       other error, or a key out of attempts, ends the batch as before (permanent: fail with
       S3's reason; transient: redo the job). */
    for (size_t k = 0; k < nf && again; k++) {
        size_t j;
        if (!sl_aws_is_transient(f[k].code, 0) || !f[k].key) {
            again = 0;
            break;
        }
        for (j = cj->stale_next; j < cj->stale_next + n; j++)
            if (strcmp(cj->stale[j], f[k].key) == 0)
                break;
        if (j == cj->stale_next + n || cj->stale_tries[j] + 1 >= cfg->object_attempts)
            again = 0;
        else if (cj->stale_tries[j] + 1 > maxtries)
            maxtries = cj->stale_tries[j] + 1;
    }
    if (nf && !again) {
        snprintf(job->error_code, sizeof(job->error_code), "%s", f[0].code);
        snprintf(job->error_message, sizeof(job->error_message),
                 "DeleteObjects could not delete %zu of %zu stale keys, first s3://%s/%s: %s", nf,
                 n, cfg->lake_bucket, f[0].key ? f[0].key : "", f[0].message);
        r = sl_aws_is_transient(f[0].code, 0) ? SL_STEP_RETRY : SL_STEP_FAILED;
        goto out;
    }
    for (size_t k = 0; k < nf; k++) {
        size_t j;
        for (j = cj->stale_next; j < cj->stale_next + n; j++)
            if (strcmp(cj->stale[j], f[k].key) == 0)
                break;
        if (stale_add(cj, f[k].key, (unsigned char)(cj->stale_tries[j] + 1))) {
            r = sl_job_fail(job, "ClientError", "copy: out of memory");
            goto out;
        }
    }
    if (nf) {
        char a[32];
        snprintf(a, sizeof(a), "%zu", nf);
        sl_log_kv(SL_LOG_WARN, &job->log,
                  (const char *const[]){"keys", a, "error", f[0].code, NULL},
                  "DeleteObjects failed for some keys; retrying only those");
        cj->nretries += (long long)nf;
    }
    cj->stale_next += n;
    cj->removed += (long long)(n - nf);
    job->next_step_ms = sl_mono_ms() + (nf ? sl_aws_backoff_ms(aws, maxtries) : 0);
out:
    sl_s3_delete_failures_free(f, nf);
    return r;
}

/* ---- DONE --------------------------------------------------------------------------------- */

static sl_step_result finish(sl_job *job, copy_job *cj)
{
    char now[32], a[32], b[32], c[32], d[32], e[32], f[32], g[32], k[32];
    long long ms = sl_mono_ms() - cj->t0;

    /* job->out is the draft of draft_out (bounded before anything was written). */
    if (sl_msg_format_time(sl_now_ms(), now, sizeof(now)))
        return sl_job_fail(job, "ClientError", "copy: clock out of range");
    free(job->out.copied_at);
    if (!(job->out.copied_at = strdup(now)))
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    job->out.objects = (long long)cj->objs_done;
    job->out.bytes = cj->bytes_done;
    job->out.removed = cj->removed;
    job->out.skipped = (long long)cj->nskipped_dest;

    snprintf(a, sizeof(a), "%zu", cj->objs_done);
    snprintf(b, sizeof(b), "%lld", cj->bytes_done);
    snprintf(c, sizeof(c), "%lld", cj->removed);
    snprintf(d, sizeof(d), "%.3f", (double)ms / 1000.0);
    snprintf(e, sizeof(e), "%.1f", sl_copy_plan_rate((long long)cj->objs_done, cj->copy_ms));
    snprintf(f, sizeof(f), "%.2f",
             sl_copy_plan_rate(cj->bytes_done, cj->copy_ms) / (1024.0 * 1024.0));
    snprintf(g, sizeof(g), "%lld", cj->nretries);
    snprintf(k, sizeof(k), "%zu", cj->nskipped_dest);
    sl_log_kv(SL_LOG_INFO, &job->log,
              (const char *const[]){"objects", a, "bytes", b, "removed", c, "seconds", d,
                                    "objects_per_s", e, "mib_per_s", f, "retries", g, "skipped", k,
                                    NULL},
              "copy finished");
    return SL_STEP_DONE;
}

/* ---- step --------------------------------------------------------------------------------- */

static sl_step_result copy_step(struct sl_worker *w, void *ctx, sl_job *job)
{
    copy_ctx *cx = ctx;
    copy_cfg *cfg = &cx->cfg;
    copy_job *cj = job->state;
    sl_aws *aws = sl_worker_aws(w);
    sl_step_result r;

    switch (cj->phase) {
    case CP_LIST:
        return list_step(aws, cfg, job, cj);
    case CP_INFO:
        if (cj->info_next < cj->ninfo)
            return info_step(aws, job, cj);
        return plan_copy(cfg, job, cj);
    case CP_LOCK:
        return lock_step(w, cfg, job, cj);
    case CP_DEST_LIST:
        return dest_list_step(aws, cfg, job, cj);
    case CP_DEST_HEAD:
        return dest_head_step(aws, cfg, job, cj);
    case CP_COPY:
        r = copy_step_slice(aws, cx, job, cj);
        if (r != SL_STEP_DONE)
            return r;
        log_progress(job, cj, "all copies done");
        if (cj->nobjs == 0)
            return finish(job, cj);
        if ((r = check_lock(job, cj)) != SL_STEP_PENDING)
            return r;
        cj->phase = CP_DELETE;
        job->next_step_ms = sl_mono_ms();
        return SL_STEP_PENDING;
    case CP_DELETE:
        if (cj->stale_next < cj->nstale)
            return delete_step(aws, cfg, job, cj);
        if ((r = record_holder(job, cj)) != SL_STEP_PENDING)
            return r;
        return finish(job, cj);
    }
    return sl_job_fail(job, "ClientError", "copy: unknown phase");
}

const sl_stage sl_stage_copy = {
    .name = "copy",
    .in_topic = "exports",
    .in_type = SL_MSG_EXPORTED,
    .out_topic = "copies",
    .cfg_opts = copy_opts,
    .ncfg_opts = SL_ARRAY_LEN(copy_opts),
    .cfg_size = sizeof(copy_cfg),
    .init = copy_init,
    .start = copy_start,
    .step = copy_step,
    .job_cleanup = copy_job_cleanup,
    .tick = copy_tick,
    .cleanup = copy_cleanup,
};
