/*
 * copy.c - the copy stage: `exports` -> copy every exported parquet file into the lake's
 * `date=` partitions -> `copies`. This file is the stage's state machine; the requests are
 * copy_xfer.c's (units on the stage's xsched) and partition replacement is copy_replace.c's.
 *
 * Per job (one completed export), a non-blocking state machine; each step() returns quickly so
 * the worker keeps polling Kafka and stays in its group:
 *
 *   INFO_LIST  ListObjectsV2 of `<root>/` with delimiter `/`: the files at the root (the table
 *            info files among them) and the database folders, so the failed tables are known
 *            before any data file is looked at.
 *   INFO     GetObject (capped) of each: tables whose export did not complete go into
 *            `failed_tables` and a warning (they do not fail the run; their files are left
 *            out). Then the `copied` message is drafted and bounded (below).
 *   STREAM   Each database folder is listed with the delimiter too, which gives the table
 *            folders `<root>/<db>/<schema.table>/`; those are listed in parallel, up to
 *            COPY_LIST_CONCURRENCY at once (the listers), each page by page, while the copies
 *            run. Together the listings see every key under the root exactly once, and every
 *            key is classified by sl_keymap_map: data files join their folder's table
 *            (copy_table.c), `_SUCCESS`, export_info and the table info files are skipped,
 *            other files are logged and skipped, and a key the mapper rejects fails the run
 *            (never silently dropped). A table is complete when its folder's listing ends: it
 *            is planned (sl_keymap_plan_names settles its destination collisions, or fails the
 *            run: nothing is overwritten by guess; collisions never cross tables, since each
 *            table has a destination folder of its own). Its destination folder is then listed
 *            (copy_replace.c: under the partition lock, taken before the first folder; what is
 *            already there is skipped, what is not this export's is stale) on a request queue
 *            of its own, and its copies join the scheduler (copy_xfer.c: up to
 *            COPY_CONCURRENCY requests of the job in flight, paced per destination folder,
 *            driven by socket events from the worker loop through the stage's io_fd / io
 *            hooks, retries per object or part). A table is freed once its copies are done.
 *            The listings wait while COPY_PLAN_AHEAD objects are planned and not copied yet
 *            or being listed (lister_may), so memory is bounded by that window, or two tables,
 *            plus the tables being listed, whatever the export's size. An export with no data
 *            file and no table info is a failure (EmptyExport), known when the listing ends.
 *   DELETE   copy_replace.c, only once every copy of every table landed: DeleteObjects of the
 *            stale set, then the holder record.
 *   DONE     the `copied` message. Drafted and bounded under SL_MSG_MAX_BYTES after INFO (before
 *            anything is written) with the failed tables and the widest counters and
 *            tables_total; the tables copied are only known table by table, so they are added
 *            at the end and the message bounded again, which cannot fail where the draft did
 *            not (bounding only drops list entries).
 *
 * Idempotent: a redelivered message finds its objects in place (skipped) and, since the stale
 * set excludes this export's destinations, deletes nothing of its own. job_cleanup cancels the
 * job's requests whatever the phase, and queues the abort of any multipart upload left open.
 */
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "copy_int.h"
#include "copy_plan.h"
#include "json.h"
#include "kafka.h"
#include "keymap.h"
#include "ledger.h"
#include "log.h"
#include "partlock.h"
#include "pg.h"
#include "s3.h"
#include "stage.h"
#include "worker.h"

/* Cap on the keys one export may list (memory is sized by what S3 returns). */
#define MAX_EXPORT_KEYS 2000000
/* The shutdown's overall deadline for the aborts still owed. */
#define ABORT_SHUTDOWN_MS 5000
/* Connections kept by the scheduler: enough for a few jobs at full concurrency. */
#define MAX_CONNECTS 4096
/* Open files the rest of the worker may hold: Kafka (a few sockets per broker), PostgreSQL,
   the HTTP endpoint's connections, the epoll fds, the multipart aborts in flight. */
#define FD_RESERVE 128
/* Safety net of a step whose request is on its way (the answer brings it forward). */
#define CALL_WAIT_MS 60000

static const sl_cfg_opt copy_opts[] = {
    {"LAKE_BUCKET", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(copy_cfg, lake_bucket),
     "bucket of the data lake the crawler reads"},
    {"LAKE_PREFIX", SL_CFG_STRING, "", 0, -1, 0, offsetof(copy_cfg, lake_prefix),
     "key prefix of the lake (\"\" = bucket root): <prefix>/<cluster>/<db>/<table>/date=<d>/"},
    {"COPY_CONCURRENCY", SL_CFG_INT, "1024", 1, 1024, 0, offsetof(copy_cfg, concurrency),
     "copy requests in flight per export, at most"},
    {"COPY_CONCURRENCY_MIN", SL_CFG_INT, "64", 1, 1024, 0, offsetof(copy_cfg, concurrency_min),
     "the fewest copy requests in flight per export the worker sizes down to: between this and "
     "COPY_CONCURRENCY it keeps what the path needs (twice the least round trip over its CPU "
     "per request; a SlowDown still cuts a prefix below it)"},
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
    {"COPY_PLAN_AHEAD", SL_CFG_INT, "8192", 1, 2000000, 0, offsetof(copy_cfg, plan_ahead),
     "objects listed and planned ahead of the copies (about 250 bytes each; a page being "
     "listed counts as 1,000): the export listings wait while more are not yet copied and a "
     "second table is planned (a table is always listed whole)"},
    {"COPY_LIST_CONCURRENCY", SL_CFG_INT, "8", 1, 64, 0, offsetof(copy_cfg, list_concurrency),
     "folders of one export listed at once: its table folders (within COPY_PLAN_AHEAD), and "
     "the destination folders of its planned tables"},
};

/* ---- helpers ------------------------------------------------------------------------------ */

static char *join2(const char *a, const char *sep, const char *b)
{
    size_t n = strlen(a) + strlen(sep) + strlen(b) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, sep, b);
    return s;
}

void *sl_copy_grow(void *p, size_t *cap, size_t need, size_t elem)
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

sl_step_result sl_copy_job_retry(sl_job *job, const char *code, const char *fmt, ...)
{
    va_list ap;

    snprintf(job->error_code, sizeof(job->error_code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(job->error_message, sizeof(job->error_message), fmt, ap);
    va_end(ap);
    return SL_STEP_RETRY;
}

/* ---- init / cleanup ----------------------------------------------------------------------- */

/*
 * Each request in flight is a socket, and a connect past the open files limit fails (EMFILE),
 * so the jobs' requests fit in it: COPY_CONCURRENCY (and its MIN) are lowered, with a warning,
 * to a job's share of what the limit leaves less its listings and deletes (two calls a lister,
 * and the job's own). Returns the connections the scheduler keeps: MAX_CONNECTS, or fewer
 * where the limit leaves fewer.
 */
static long long fit_open_files(copy_cfg *cfg, long long open_files, long long jobs)
{
    long long fds = open_files - FD_RESERVE, per_job;

    if (open_files < 0) /* unknown: nothing to fit */
        return MAX_CONNECTS;
    per_job = (fds > 0 ? fds : 0) / (jobs > 0 ? jobs : 1) - 2 * cfg->list_concurrency - 2;
    if (per_job < 1)
        per_job = 1;
    if (cfg->concurrency > per_job) {
        sl_warn(NULL,
                "COPY_CONCURRENCY %lld lowered to %lld: %lld jobs at once (WORKER_MAX_JOBS) must "
                "fit the open files limit (%lld); raise its hard limit (the container runtime's "
                "nofile ulimit) or lower WORKER_MAX_JOBS",
                cfg->concurrency, per_job, jobs, open_files);
        cfg->concurrency = per_job;
    }
    if (cfg->concurrency_min > cfg->concurrency)
        cfg->concurrency_min = cfg->concurrency;
    return fds < 1 ? 1 : fds < MAX_CONNECTS ? fds : MAX_CONNECTS;
}

static int copy_init(struct sl_worker *w, void **ctx, char *err, size_t errlen)
{
    copy_ctx *cx = calloc(1, sizeof(*cx));
    char perr[SL_ERRLEN];
    long long conns;

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
    cx->aws = sl_worker_aws(w);
    cx->w = w;
    /* A few exports at a time, each with COPY_CONCURRENCY requests of its own. */
    sl_worker_set_default_max_jobs(w, 4);
    conns = fit_open_files(&cx->cfg, sl_worker_open_files(w), sl_worker_max_jobs(w));
    if (!(cx->xs = sl_xsched_new((long)conns, perr, sizeof(perr))) || sl_copy_aborts_init(cx)) {
        if (cx->xs)
            snprintf(perr, sizeof(perr), "out of memory");
        sl_copy_aborts_cleanup(cx);
        sl_xsched_free(cx->xs);
        sl_config_cleanup(copy_opts, SL_ARRAY_LEN(copy_opts), &cx->cfg);
        free(cx);
        return sl_seterr(err, errlen, "copy: %s", perr);
    }
    sl_config_dump(copy_opts, SL_ARRAY_LEN(copy_opts), &cx->cfg);
    *ctx = cx;
    return 0;
}

/* The worker loop waits on the scheduler's epoll fd while requests are in flight, and runs
   io() by *due_ms at the latest (curl's timer, a retry, a refill). */
static int copy_io_fd(void *ctx, long long *due_ms)
{
    copy_ctx *cx = ctx;

    *due_ms = sl_xsched_due(cx->xs);
    return sl_xsched_inflight(cx->xs) ? sl_xsched_fd(cx->xs) : -1;
}

/* After the loop's wait: sockets that are ready, curl's timer, finished requests, refills. */
static void copy_io(struct sl_worker *w, void *ctx)
{
    (void)w;
    sl_xsched_run(((copy_ctx *)ctx)->xs);
}

static void copy_cleanup(struct sl_worker *w, void *ctx)
{
    copy_ctx *cx = ctx;
    long long deadline = sl_mono_ms() + ABORT_SHUTDOWN_MS;
    char n[32];
    size_t owed;

    (void)w;
    if (!cx)
        return;
    /* Final shutdown: the aborts still owed get a short overall deadline, then are left to
       the bucket's lifecycle rule. */
    sl_xsched_queue_kick(cx->abortq);
    while (sl_copy_aborts_owed(cx) && sl_mono_ms() < deadline) {
        struct pollfd p = {sl_xsched_fd(cx->xs), POLLIN, 0};
        sl_xsched_run(cx->xs);
        if (sl_copy_aborts_owed(cx))
            (void)poll(&p, 1, 20);
    }
    owed = sl_copy_aborts_owed(cx);
    if (owed || cx->aborts.dropped) {
        snprintf(n, sizeof(n), "%zu", owed + cx->aborts.dropped);
        sl_log_kv(SL_LOG_WARN, NULL, (const char *const[]){"uploads", n, NULL},
                  "multipart uploads left open (not aborted in time, or the queue was full)");
    }
    sl_copy_aborts_cleanup(cx);
    sl_xsched_free(cx->xs);
    sl_config_cleanup(copy_opts, SL_ARRAY_LEN(copy_opts), &cx->cfg);
    free(cx);
}

/* ---- job lifecycle ------------------------------------------------------------------------ */

static sl_step_result copy_start(struct sl_worker *w, void *ctx, sl_job *job)
{
    copy_ctx *cx = ctx;
    copy_job *cj;
    size_t plen;

    (void)w;
    cj = calloc(1, sizeof(*cj));
    if (!cj)
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    job->state = cj;
    cj->job = job;
    cj->cx = cx;
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
    cj->copy_t0 = -1;
    cj->resume_at = SIZE_MAX;
    sl_copy_arena_init(&cj->stale_arena);
    if (!cj->root || !cj->list_prefix || sl_copy_call_init(cx, cj, &cj->lcall) ||
        sl_copy_call_init(cx, cj, &cj->dcall) ||
        !(cj->listers = calloc((size_t)cx->cfg.list_concurrency, sizeof(*cj->listers))))
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    cj->nlisters = (size_t)cx->cfg.list_concurrency;
    for (size_t i = 0; i < cj->nlisters; i++)
        if (sl_copy_call_init(cx, cj, &cj->listers[i].call))
            return sl_job_fail(job, "ClientError", "copy: out of memory");
    cj->t0 = sl_mono_ms();
    cj->phase = CP_INFO_LIST;
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

    (void)w;
    if (!cj)
        return;
    sl_copy_replace_cleanup(cj);
    sl_copy_call_cleanup(&cj->lcall);
    sl_copy_call_cleanup(&cj->dcall);
    for (size_t i = 0; i < cj->nlisters; i++) {
        cp_lister *l = &cj->listers[i];
        sl_copy_call_cleanup(&l->call);
        free(l->prefix);
        free(l->token);
        free(l->last_key);
    }
    free(cj->listers);
    cj->listers = NULL;
    cj->nlisters = 0;
    sl_copy_xfer_cleanup(cx, cj);
    sl_copy_tables_cleanup(cj);
    sl_keymap_strv_free(cj->dirs, cj->ndirs);
    sl_keymap_strv_free(cj->tdirs, cj->ntdirs);
    free(cj->mpu_ready);
    sl_keymap_strv_free(cj->info_keys, cj->ninfo);
    for (size_t i = 0; i < cj->nfailed; i++) {
        free(cj->failed[i].table);
        free(cj->failed[i].reason);
    }
    free(cj->failed);
    free(cj->token);
    free(cj->root);
    free(cj->list_prefix);
    free(cj);
    job->state = NULL;
}

/* ---- the export's folders, and INFO_LIST --------------------------------------------------- */

/*
 * One ListObjectsV2 page of the export bucket on call c: prefix, from *token, with delimiter
 * (or NULL). 1 while it is on its way, 0 with *page (the caller's to clean up), or -1 with the
 * job failed (*r).
 */
static int export_page(const copy_cfg *cfg, sl_job *job, cp_call *c, const char *prefix,
                       const char *token, const char *delimiter, sl_s3_list_page *page,
                       sl_step_result *r)
{
    sl_s3_list_opts lo = {0};
    sl_aws_error e;
    char what[256];
    int rc;

    lo.prefix = prefix;
    lo.continuation_token = token;
    lo.expected_owner = cfg->export_owner;
    lo.delimiter = delimiter;
    if ((rc = sl_copy_list_page(c, job->in.s3_bucket, &lo, page, &e)) < 0) {
        snprintf(what, sizeof(what), "ListObjectsV2 s3://%s/%s", job->in.s3_bucket, prefix);
        *r = sl_job_fail_aws(job, what, &e);
    }
    return rc;
}

int sl_copy_page_next(char **token, sl_s3_list_page *page)
{
    free(*token);
    *token = NULL;
    if (!page->truncated || !page->next_token)
        return 0;
    *token = page->next_token;
    page->next_token = NULL;
    return 1;
}

/* Appends a copy of s to the string list *v (n entries, cap). 0, or -1 out of memory. */
static int strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
    char **g = sl_copy_grow(*v, cap, *n + 1, sizeof(*g));

    if (!g)
        return -1;
    *v = g;
    if (!(g[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

/*
 * One key of the export, wherever it was listed: sl_keymap_map classifies it. Data files join
 * *cur (copy_table.c); the table info files (only ever at the root, listed first) are kept to
 * be read before any data file; `_SUCCESS` and export_info are skipped; other files are logged
 * and skipped; and a key the mapper rejects fails the run (never silently dropped).
 */
static sl_step_result export_key(const copy_cfg *cfg, sl_job *job, copy_job *cj, cp_table **cur,
                                 const sl_s3_object *ob)
{
    sl_keymap_ctx kc = {cj->root, cfg->lake_prefix, job->in.cluster, job->in.date};
    sl_keymap_entry ent;
    char err[SL_ERRLEN];
    sl_step_result r = SL_STEP_PENDING;

    if (sl_keymap_map(&kc, ob->key, &ent, err, sizeof(err)))
        return sl_job_fail(job, "BadInput", "cannot map export keys: %s", err);
    switch (ent.kind) {
    case SL_KEY_PARQUET:
        cj->ndata++;
        r = sl_copy_table_add(cj, cur, &ent, ob->size, ob->etag);
        break;
    case SL_KEY_TABLES_INFO:
        if (strv_push(&cj->info_keys, &cj->ninfo, &cj->capinfo, ob->key))
            r = sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
        break;
    case SL_KEY_SUCCESS:
    case SL_KEY_EXPORT_INFO:
        break;
    case SL_KEY_OTHER:
        if (cj->nskipped++ < CP_MAX_WARN_LINES)
            sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"key", ob->key, NULL},
                      "export file is neither data nor export metadata; not copied");
        break;
    case SL_KEY_REJECTED:
    default:
        r = sl_job_fail(job, "BadExportKey", "export key '%s' cannot be mapped to the lake: %s",
                        ob->key, ent.reason);
        break;
    }
    sl_keymap_entry_cleanup(&ent);
    return r;
}

/* Counts a page's keys against the export's cap. PENDING or the failure. */
static sl_step_result count_keys(sl_job *job, copy_job *cj, size_t n)
{
    if (cj->nlisted + n > MAX_EXPORT_KEYS)
        return sl_job_fail(job, "ExportTooLarge", "export %s lists more than %d keys",
                           job->in.export_task_id, MAX_EXPORT_KEYS);
    cj->nlisted += n;
    return SL_STEP_PENDING;
}

/*
 * A page of a folder listed with delimiter `/` (the root, then each database): its files are
 * classified here (none can be a data file, which lies two folders deeper: the mapper rejects
 * one here; were it to take one, its table would be planned with the page), and its folders
 * are queued: the root's as databases, a database's as table folders.
 */
static sl_step_result folder_page(const copy_cfg *cfg, sl_job *job, copy_job *cj,
                                  sl_s3_list_page *page, int tables)
{
    sl_step_result r;
    cp_table *loose = NULL;

    if ((r = count_keys(job, cj, page->count)) != SL_STEP_PENDING)
        return r;
    for (size_t i = 0; i < page->count && r == SL_STEP_PENDING; i++)
        r = export_key(cfg, job, cj, &loose, &page->objects[i]);
    if (r == SL_STEP_PENDING)
        r = sl_copy_table_end(cj, &loose);
    for (size_t i = 0; i < page->nprefixes && r == SL_STEP_PENDING; i++)
        if (tables ? strv_push(&cj->tdirs, &cj->ntdirs, &cj->captdirs, page->prefixes[i])
                   : strv_push(&cj->dirs, &cj->ndirs, &cj->capdirs, page->prefixes[i]))
            r = sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
    cj->woke = 1;
    return r;
}

/* INFO_LIST: the root `<root>/`, one folder level: the table info files (and the export's
   other files), and the database folders. */
static sl_step_result info_list_step(const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    sl_s3_list_page page = {0};
    sl_step_result r = SL_STEP_PENDING;
    int rc;

    if ((rc = export_page(cfg, job, &cj->lcall, cj->list_prefix, cj->token, "/", &page, &r))) {
        if (rc > 0)
            job->next_step_ms = sl_mono_ms() + CALL_WAIT_MS; /* the answer brings it forward */
        return r;
    }
    if ((r = folder_page(cfg, job, cj, &page, 0)) == SL_STEP_PENDING) {
        if (!sl_copy_page_next(&cj->token, &page))
            cj->phase = CP_INFO;
        job->next_step_ms = sl_mono_ms();
    }
    sl_s3_list_page_cleanup(&page);
    return r;
}

/* ---- STREAM: the export listings ----------------------------------------------------------- */

/* Every folder is listed: the last tables are planned, and what the export held is settled. */
static sl_step_result list_over(sl_job *job, copy_job *cj)
{
    char n1[32], n2[32], n3[32], n4[32], n5[32], n6[32];

    cj->list_done = 1;
    if (cj->ndata == 0 && cj->ninfo == 0)
        return sl_job_fail(job, "EmptyExport",
                           "export %s has no data file and no export_tables_info under s3://%s/%s",
                           job->in.export_task_id, job->in.s3_bucket, cj->list_prefix);
    if (cj->ndropped > 0) {
        snprintf(n1, sizeof(n1), "%zu", cj->ndropped);
        sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"files", n1, NULL},
                  "files of tables whose export did not complete are not copied");
    }
    snprintf(n1, sizeof(n1), "%zu", cj->nobjs);
    snprintf(n2, sizeof(n2), "%zu", cj->nfailed);
    snprintf(n3, sizeof(n3), "%zu", cj->nrenamed);
    snprintf(n4, sizeof(n4), "%lld", cj->tables_total);
    snprintf(n5, sizeof(n5), "%zu", cj->objs_done);
    snprintf(n6, sizeof(n6), "%zu", cj->max_listing);
    /* `copied`: how many objects were already in place when the listing ended (copies start
       table by table while it goes on); `listed_at_once`: the most table folders that were
       being listed together. */
    sl_log_kv(SL_LOG_INFO, &job->log,
              (const char *const[]){"objects", n1, "failed_tables", n2, "renamed", n3, "tables", n4,
                                    "copied", n5, "listed_at_once", n6, NULL},
              "export listed; copying");
    return SL_STEP_PENDING;
}

/* Lister l is done with its folder: free for the next one. */
static void lister_free(cp_lister *l)
{
    free(l->prefix);
    free(l->last_key);
    l->prefix = l->last_key = NULL;
    l->db = 0;
}

/*
 * One page of lister l's folder. A database folder is listed with the delimiter (folder_page:
 * its table folders are queued). A table folder's keys go into its table; they must come in
 * ascending order (ListObjectsV2 lists in UTF-8 binary order): a listing out of order fails
 * the run instead of resuming somewhere the service did not mean. When the folder's last page
 * is in, its table is planned and the lister is free for the next folder.
 */
static sl_step_result lister_step(const copy_cfg *cfg, sl_job *job, copy_job *cj, cp_lister *l)
{
    sl_s3_list_page page = {0};
    const char *prev = l->last_key;
    sl_step_result r = SL_STEP_PENDING;

    if (export_page(cfg, job, &l->call, l->prefix, l->token, l->db ? "/" : NULL, &page, &r) != 0)
        return r; /* on its way (the answer brings the step forward), or failed */
    if (l->db) {
        if ((r = folder_page(cfg, job, cj, &page, 1)) == SL_STEP_PENDING &&
            !sl_copy_page_next(&l->token, &page))
            lister_free(l);
        goto out;
    }
    if ((r = count_keys(job, cj, page.count)) != SL_STEP_PENDING)
        goto out;
    cj->woke = 1;
    for (size_t i = 0; i < page.count; i++) {
        const char *key = page.objects[i].key;

        if (prev && strcmp(prev, key) >= 0) {
            r = sl_job_fail(job, "ListingOutOfOrder",
                            "ListObjectsV2 s3://%s/%s returned '%.300s' after '%.300s'",
                            job->in.s3_bucket, l->prefix, key, prev);
            goto out;
        }
        prev = key;
        if ((r = export_key(cfg, job, cj, &l->cur, &page.objects[i])) != SL_STEP_PENDING)
            goto out;
    }
    if (page.count) {
        free(l->last_key);
        if (!(l->last_key = strdup(page.objects[page.count - 1].key))) {
            r = sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
            goto out;
        }
    }
    if (!sl_copy_page_next(&l->token, &page)) {
        if ((r = sl_copy_table_end(cj, &l->cur)) != SL_STEP_PENDING)
            goto out;
        lister_free(l);
    }
out:
    sl_s3_list_page_cleanup(&page);
    return r;
}

/* What the table listings hold or will: the objects of their tables, and a full page for each
   request on its way. *active: listers with a table folder; *filling: with a table. */
static size_t listings_ahead(const copy_job *cj, size_t *active, size_t *filling, long long *oldest)
{
    size_t n = 0;

    *active = *filling = 0;
    *oldest = -1;
    for (size_t i = 0; i < cj->nlisters; i++) {
        const cp_lister *o = &cj->listers[i];
        if (!o->prefix || o->db)
            continue;
        (*active)++;
        if (o->cur) {
            (*filling)++;
            n += o->cur->nobjs;
        }
        if (o->call.state != CALL_IDLE) /* on its way, or answered and not yet read */
            n += 1000;
        if (*oldest < 0 || o->seq < *oldest)
            *oldest = o->seq;
    }
    return n;
}

/*
 * Whether lister l may ask for a page now (its next one, or the first of a new folder when
 * fresh). Within COPY_PLAN_AHEAD, counting the objects planned and not yet copied and what the
 * listings hold or will (listings_ahead): so the listings never run far ahead of the copies.
 * Beyond it, only the oldest listing goes on, and only while at most one table is planned: a
 * table copies only once listed whole, so the next one is listed while it copies, or a table
 * bigger than the window would wait for its predecessor's last copies before its next page
 * was asked for. A lister held back sets resume_at, the count of planned objects at which
 * sl_copy_object_done wakes the step again.
 */
static int lister_may(copy_job *cj, const cp_lister *l, int fresh)
{
    size_t active, filling, other, window = (size_t)cj->cx->cfg.plan_ahead;
    long long oldest;

    other = listings_ahead(cj, &active, &filling, &oldest);
    if (cj->nplanned + other < window)
        return 1;
    if (other < window && (cj->resume_at == SIZE_MAX || window - other - 1 > cj->resume_at))
        cj->resume_at = window - other - 1;
    if (fresh)
        return active == 0 && cj->ntabs <= 1;
    return l->seq == oldest && cj->ntabs - filling <= 1;
}

/*
 * The listings of one step, on the listers: each free one takes the next database folder
 * (first: they hold no objects, and they find the table folders), else, with tables set, the
 * next table folder found, within lister_may. During INFO (tables 0) only the database folders
 * are listed: no data file is looked at before the failed tables are known. Sets list_done
 * once everything is listed.
 */
static sl_step_result listings_step(const copy_cfg *cfg, sl_job *job, copy_job *cj, int tables)
{
    sl_step_result r;
    int busy = 0;
    size_t active, filling;
    long long oldest;

    cj->resume_at = SIZE_MAX;
    for (size_t i = 0; i < cj->nlisters; i++) {
        cp_lister *l = &cj->listers[i];
        int fresh = !l->prefix;

        if (fresh && cj->dir_next < cj->ndirs) {
            l->prefix = cj->dirs[cj->dir_next];
            cj->dirs[cj->dir_next++] = NULL;
            l->db = 1;
        } else if (fresh && (!tables || cj->tdir_next == cj->ntdirs)) {
            continue;
        } else if (l->call.state == CALL_IDLE && !l->db && !lister_may(cj, l, fresh)) {
            busy |= !fresh;
            continue;
        } else if (fresh) {
            l->prefix = cj->tdirs[cj->tdir_next];
            cj->tdirs[cj->tdir_next++] = NULL;
            l->seq = cj->lister_seq++;
        }
        if ((r = lister_step(cfg, job, cj, l)) != SL_STEP_PENDING)
            return r;
        busy |= l->prefix != NULL;
    }
    (void)listings_ahead(cj, &active, &filling, &oldest);
    if (active > cj->max_listing)
        cj->max_listing = active;
    if (tables && !busy && cj->dir_next == cj->ndirs && cj->tdir_next == cj->ntdirs)
        return list_over(job, cj);
    return SL_STEP_PENDING;
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

/* One table info file, GetObject on lcall without blocking (the answer brings the step
   forward), then its failed tables and warnings. */
static sl_step_result info_step(const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    const char *key = cj->info_keys[cj->info_next];
    sl_tables_info ti;
    sl_aws_error e;
    char *body = NULL, err[SL_ERRLEN], what[256];
    size_t len = 0;
    int rc;
    sl_step_result r = SL_STEP_PENDING;

    if ((rc = sl_copy_get_call(&cj->lcall, job->in.s3_bucket, key, cfg->export_owner, &body, &len,
                               &e)) > 0) {
        job->next_step_ms = sl_mono_ms() + CALL_WAIT_MS;
        return SL_STEP_PENDING;
    }
    if (rc < 0) {
        snprintf(what, sizeof(what), "GetObject s3://%s/%s", job->in.s3_bucket, key);
        return sl_job_fail_aws(job, what, &e);
    }
    if (len > SL_KEYMAP_TABLES_INFO_MAX) {
        r = sl_job_fail(job, "BadTablesInfo", "s3://%s/%s: larger than %zu bytes",
                        job->in.s3_bucket, key, SL_KEYMAP_TABLES_INFO_MAX);
        goto out;
    }
    if (sl_keymap_parse_tables_info(body, len, &ti, err, sizeof(err))) {
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
        if (cj->nfailed <= CP_MAX_WARN_LINES)
            sl_log_kv(SL_LOG_WARN, &job->log,
                      (const char *const[]){"table", t->table, "status", t->status, "reason",
                                            t->reason, NULL},
                      "table export did not complete");
    }
    for (size_t i = 0; i < ti.nwarnings && i < CP_MAX_WARN_LINES; i++)
        sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"note", ti.warnings[i], NULL},
                  "export_tables_info warning");
    sl_keymap_tables_info_cleanup(&ti);
    cj->info_next++;
    job->next_step_ms = sl_mono_ms();
out:
    free(body);
    return r;
}

/* INFO is over: the draft, then the stream. */
static sl_step_result stream_begin(const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    sl_step_result r;

    if ((r = sl_copy_out_draft(cfg, job, cj)) != SL_STEP_PENDING)
        return r;
    /* The lock depends only on the message; it is taken before the first folder listing. */
    cj->lock_key = sl_partlock_key(job->in.cluster, job->in.date);
    sl_copy_plan_snap_time(&job->in, &cj->snap_ms);
    cj->lock_deadline = sl_mono_ms() + cfg->lock_timeout_ms;
    cj->phase = CP_STREAM;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

/*
 * One step of the stream: free the finished tables, the export's listings (listings_step,
 * within COPY_PLAN_AHEAD), take the lock once a table is planned, list the planned tables'
 * folders (COPY_LIST_CONCURRENCY at once), and hand ready tables to the copies. Each listing has a
 * request queue of its own, so they are all on their way at once while copies run.
 */
static sl_step_result stream_step(struct sl_worker *w, copy_ctx *cx, sl_job *job, copy_job *cj)
{
    const copy_cfg *cfg = &cx->cfg;
    long long now = sl_mono_ms(), next;
    size_t ndest = 0;
    sl_step_result r;

    if (cj->failed_result)
        return (sl_step_result)cj->failed_result;
    cj->woke = 0;
    sl_copy_tables_sweep(cj);
    if (!cj->list_done && (r = listings_step(cfg, job, cj, 1)) != SL_STEP_PENDING)
        return r;
    if (cj->dest_q.head && !cj->locked && now >= cj->lock_next_ms &&
        (r = sl_copy_lock_step(w, cj)) != SL_STEP_PENDING)
        return r;
    /* The first COPY_LIST_CONCURRENCY planned tables list their folders (and send their
       HeadObject calls) at once, each on its own queue. */
    for (cp_table *t = cj->locked ? cj->dest_q.head : NULL, *tn;
         t && ndest < (size_t)cfg->list_concurrency; t = tn, ndest++) {
        int over = 0;
        tn = t->next;
        if ((r = sl_copy_dest_step(cfg, cj, t, &over)) != SL_STEP_PENDING)
            return r;
        if (over) {
            if (!cj->q && sl_copy_xfer_begin(cx, cj))
                return sl_job_fail(job, "ClientError", "copy: out of memory");
            sl_copy_table_state(cj, t, T_READY);
            cj->woke = 1;
        }
        if (cj->failed_result)
            break;
    }
    if (cj->failed_result)
        return (sl_step_result)cj->failed_result;
    now = sl_mono_ms();
    if (cj->copy_t0 >= 0)
        sl_copy_xfer_progress(cj, now, 0);
    if (cj->list_done && cj->ntabs == 0) {
        cj->copy_ms = cj->copy_t0 >= 0 ? now - cj->copy_t0 : 0;
        if (cj->nobjs == 0) /* nothing to write: no partition touched, no lock, no holder */
            return sl_copy_out_finish(job, cj);
        sl_copy_xfer_progress(cj, now, 1);
        if ((r = sl_copy_check_lock(cj)) != SL_STEP_PENDING)
            return r;
        cj->phase = CP_DELETE;
        job->next_step_ms = now;
        return SL_STEP_PENDING;
    }
    /* Answers and finished tables bring the step forward; these are its own deadlines. */
    next = cj->woke ? now : now + CALL_WAIT_MS;
    if (cj->dest_q.head && !cj->locked && cj->lock_next_ms < next)
        next = cj->lock_next_ms;
    if (cj->copy_t0 >= 0 && cj->last_progress + CP_PROGRESS_MS < next)
        next = cj->last_progress + CP_PROGRESS_MS;
    job->next_step_ms = next;
    return SL_STEP_PENDING;
}

/* ---- step --------------------------------------------------------------------------------- */

static sl_step_result copy_step(struct sl_worker *w, void *ctx, sl_job *job)
{
    copy_ctx *cx = ctx;
    copy_cfg *cfg = &cx->cfg;
    copy_job *cj = job->state;
    sl_step_result r;

    switch (cj->phase) {
    case CP_INFO_LIST:
        return info_list_step(cfg, job, cj);
    case CP_INFO:
        /* The database folders' listings are sent first: they are on their way meanwhile. */
        if ((r = listings_step(cfg, job, cj, 0)) != SL_STEP_PENDING)
            return r;
        if (cj->info_next < cj->ninfo)
            return info_step(cfg, job, cj);
        return stream_begin(cfg, job, cj);
    case CP_STREAM:
        return stream_step(w, cx, job, cj);
    case CP_DELETE:
        if (cj->stale_next < cj->nstale)
            return sl_copy_delete_step(cfg, cj);
        if ((r = sl_copy_record_holder(cj)) != SL_STEP_PENDING)
            return r;
        return sl_copy_out_finish(job, cj);
    }
    return sl_job_fail(job, "ClientError", "copy: unknown phase");
}

const sl_stage sl_stage_copy = {
    .name = "copy",
    .in_topic = SL_KAFKA_TOPIC_EXPORTS,
    .in_type = SL_MSG_EXPORTED,
    .out_topic = SL_KAFKA_TOPIC_COPIES,
    .cfg_opts = copy_opts,
    .ncfg_opts = SL_ARRAY_LEN(copy_opts),
    .cfg_size = sizeof(copy_cfg),
    .init = copy_init,
    .start = copy_start,
    .step = copy_step,
    .job_cleanup = copy_job_cleanup,
    .io_fd = copy_io_fd,
    .io = copy_io,
    .cleanup = copy_cleanup,
};
