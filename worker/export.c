/*
 * export.c - the export stage: `snapshots` -> StartExportTask -> `exports`.
 *
 * Per job (one snapshot, or one cluster in cluster mode):
 *   DESCRIBE  DescribeExportTasks(id) for generation 1, 2, ... in order, one per step, where
 *             id is derived deterministically from the snapshot (ids.h: generation 1 is the
 *             snapshot's id, generation g >= 2 is `<id>-g<g>`). AWS keeps a FAILED or
 *             CANCELED task's id for good, so a redo of such a run (a replay of its snapshot
 *             message) must use a new id; and generation g+1 only ever exists once g ended
 *             FAILED/CANCELED, so the walk stops at the first id that does not exist. The
 *             highest existing generation decides: STARTING/IN_PROGRESS is adopted and polled,
 *             COMPLETE is adopted and published at once, FAILED/CANCELED moves on to the next
 *             generation, which is then started. This is what makes a redelivered message (or
 *             a worker killed mid-export) never start a second export of one generation, and
 *             a failed export redoable at all.
 *   SLOT      one of EXPORT_TASK_LIMIT slots: pg_try_advisory_lock(SL_PG_LOCK_NS_EXPORT_SLOT,
 *             k) on a connection of the job's own, held for the export's whole life, so a
 *             worker that dies frees its slots when the server drops its connections. No slot:
 *             stay PENDING (ledger `waiting`) while the consumer keeps polling; a slot freed
 *             by any worker wakes every waiting job at once (NOTIFY after the unlock, one
 *             LISTEN connection per worker: export_wake.h), and EXPORT_SLOT_RETRY is the
 *             fallback for what sends no NOTIFY (a worker that died, foreign exports ending).
 *   START     StartExportTask, right after checking that the slot's connection is alive (a
 *             slot whose connection dropped, e.g. during an hours-long wait below, no longer
 *             holds its lock and is invisible to the other workers' counts, which may already
 *             have given it to another job: then take a slot again). ExportTaskAlreadyExists
 *             -> adopt. ExportTaskLimitReachedFault -> the account is full (someone else's
 *             export): keep the slot, wait, retry.
 *   POLL      DescribeExportTasks every EXPORT_POLL_INTERVAL until COMPLETE (publish) or
 *             FAILED/CANCELED (fail fast with AWS's FailureCause). A transient error polls
 *             again after a backoff; only STAGE_MAX_ATTEMPTS failures in a row fail the run
 *             (sl_stage_retry_note), since an export may run for hours.
 *
 * PostgreSQL connections. The account view reads the worker's main connection through
 * sl_worker_pg, which heals it whoever asks (a job that only waits for a slot writes nothing
 * to the ledger, so it must not depend on a ledger write to repair it after a server
 * restart). Slot connections are replaced when a lock call on them fails.
 *
 * Exports started elsewhere. RDS caps concurrent exports per account (the seed: 5), whoever
 * started them. The slot rule: let R be the account's running tasks (STARTING, IN_PROGRESS,
 * CANCELING) and L the task ids held by live slots of any snaplake worker. Each slot
 * connection advertises its task id in its application_name ("sl:<id>"; ids are at most 60
 * chars, so it fits PostgreSQL's 63), which every worker reads from pg_stat_activity; a slot
 * of a dead worker vanishes with its connection. The foreign count is F = |R \ L|: exports of
 * other tools, and exports of dead snaplake workers that no one has adopted yet (they do run,
 * so they must count). A job may only take a slot when |L| + F < EXPORT_TASK_LIMIT, and only
 * slot k < EXPORT_TASK_LIMIT - F (sl_export_admit, export_admit.h, table-tested). Snaplake's
 * own exports are bounded by the slots, the others by F, so together they stay within the limit;
 * the rare race in between (a foreign export started after we looked) is answered by AWS's
 * ExportTaskLimitReachedFault, which we treat as "wait", never as a failure.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admission.h"
#include "config.h"
#include "export_admit.h"
#include "export_wake.h"
#include "ids.h"
#include "kafka.h"
#include "ledger.h"
#include "log.h"
#include "pg.h"
#include "rds.h"
#include "stage.h"
#include "worker.h"

/* How fresh the account view (R and L) must be when deciding on a slot. */
#define VIEW_TTL_MS 250
#define MAX_EXPORT_ONLY 64
/* How long the liveness round trip on a slot's connection may take before StartExportTask. */
#define SLOT_PING_MS 2000

typedef struct export_cfg {
    long long task_limit;
    char *bucket;
    char *prefix_root;
    char *iam_role;
    char *kms_key;
    char *task_prefix;
    char *export_only;
    long long poll_ms;
    long long slot_retry_ms;
} export_cfg;

static const sl_cfg_opt export_opts[] = {
    {"EXPORT_TASK_LIMIT", SL_CFG_INT, "5", 1, 1000, 0, offsetof(export_cfg, task_limit),
     "concurrent exports allowed in the account (RDS quota), all tools together"},
    {"EXPORT_S3_BUCKET", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(export_cfg, bucket),
     "bucket the exports are written to"},
    {"EXPORT_S3_PREFIX", SL_CFG_STRING, SL_IDS_DEFAULT_EXPORT_ROOT, 0, -1, 0,
     offsetof(export_cfg, prefix_root), "root of <root>/<cluster>/<date> (\"\" = none)"},
    {"EXPORT_IAM_ROLE_ARN", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(export_cfg, iam_role),
     "IAM role RDS assumes to write the export"},
    {"EXPORT_KMS_KEY_ID", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(export_cfg, kms_key),
     "KMS key that encrypts the export (required by AWS)"},
    {"EXPORT_TASK_PREFIX", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(export_cfg, task_prefix),
     "optional prefix of export task ids (letters, digits, '-', max 16)"},
    {"EXPORT_ONLY", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(export_cfg, export_only),
     "optional comma list of database[.schema[.table]] to export"},
    {"EXPORT_POLL_INTERVAL", SL_CFG_DURATION, "30s", 100, 3600000, 0, offsetof(export_cfg, poll_ms),
     "DescribeExportTasks interval while an export runs"},
    {"EXPORT_SLOT_RETRY", SL_CFG_DURATION, "2s", 50, 600000, 0, offsetof(export_cfg, slot_retry_ms),
     "retry interval while no export slot is free (a slot freed by a snaplake worker wakes "
     "the waiting jobs at once)"},
};

typedef struct export_ctx {
    export_cfg cfg;
    long long max_attempts; /* STAGE_MAX_ATTEMPTS, STAGE_RETRY_BASE/MAX (runtime settings) */
    long long retry_base_ms, retry_max_ms;
    char *only_buf; /* EXPORT_ONLY split in place */
    const char *only[MAX_EXPORT_ONLY];
    size_t nonly;
    /* The account view, shared by all jobs of this worker. */
    sl_rds_export_tasks running;
    char **live;
    size_t nlive;
    long long view_ms;      /* monotonic time of the last refresh; 0 = never */
    sl_admission admission; /* what the last decision saw, for `snaplakectl slots` */
    /* Jobs waiting for a slot (EX_SLOT, not holding one), made due at once when a slot is
       freed here or, through wake, in another worker. Borrowed: each job leaves the list
       when it takes a slot or is cleaned up. */
    struct ex_job **waiters;
    size_t nwaiters, capwaiters;
    sl_export_wake wake;
} export_ctx;

typedef enum ex_phase { EX_DESCRIBE, EX_SLOT, EX_START, EX_POLL } ex_phase;

typedef struct ex_job {
    ex_phase phase;
    sl_job *job; /* back pointer, for a wake-up from the stage's io hook */
    int waiting; /* on export_ctx.waiters */
    char base_id[SL_IDS_EXPORT_ID_MAX + 1]; /* generation 1's id */
    int gen;                                /* generation of task_id, 1.. */
    int poll_failures;                      /* transient poll errors in a row */
    int view_failures; /* account views AWS refused for good (not transient) in a row */
    char task_id[SL_IDS_EXPORT_ID_MAX + 1];
    char s3_prefix[512];
    PGconn *slot_conn;
    int slot; /* -1 = none */
} ex_job;

/* ---- helpers ------------------------------------------------------------------------------ */

static int set_str(char **dst, const char *v)
{
    char *c = sl_strdup0(v);
    if (v && !c)
        return -1;
    free(*dst);
    *dst = c;
    return 0;
}

/* ---- the jobs waiting for a slot (export_wake.h) ------------------------------------------ */

/* x waits for a slot: on the list once. -1 only when memory ran out (it then still retries on
   EXPORT_SLOT_RETRY, just without the early wake-up). */
static int waiter_add(export_ctx *c, ex_job *x)
{
    if (x->waiting)
        return 0;
    if (c->nwaiters == c->capwaiters) {
        size_t nc = c->capwaiters ? c->capwaiters * 2 : 16;
        ex_job **g = realloc(c->waiters, nc * sizeof(*g));
        if (!g)
            return -1;
        c->waiters = g;
        c->capwaiters = nc;
    }
    c->waiters[c->nwaiters++] = x;
    x->waiting = 1;
    return 0;
}

static void waiter_remove(export_ctx *c, ex_job *x)
{
    if (!x->waiting)
        return;
    for (size_t i = 0; i < c->nwaiters; i++)
        if (c->waiters[i] == x) {
            c->waiters[i] = c->waiters[--c->nwaiters];
            break;
        }
    x->waiting = 0;
}

/* A slot may be free now: every waiting job looks again at once, on a fresh account view. */
static void waiters_wake(export_ctx *c, const char *why)
{
    long long now = sl_mono_ms();

    if (!c->nwaiters)
        return;
    c->view_ms = 0;
    for (size_t i = 0; i < c->nwaiters; i++)
        if (c->waiters[i]->job->next_step_ms > now)
            c->waiters[i]->job->next_step_ms = now;
    sl_debug(NULL, "export: %zu waiting jobs look for a slot again (%s)", c->nwaiters, why);
}

/* "Wait for a slot" refusals: ExportTaskLimitReachedFault (the seed's), and the generic quota
 * codes AWS uses elsewhere for the same condition. */
static int is_limit_error(const char *code)
{
    return strcmp(code, SL_RDS_ERR_TASK_LIMIT) == 0 ||
           strcmp(code, "ExportTaskLimitReached") == 0 || strcmp(code, "QuotaExceeded") == 0 ||
           strcmp(code, "QuotaExceededException") == 0 ||
           strcmp(code, "LimitExceededException") == 0;
}

/*
 * Non-zero when the slot's connection still answers a round trip within timeout_ms (and so
 * still holds its session advisory lock). A connection that the server dropped (a restart,
 * pg_terminate_backend, a pooler) lost its lock with it; PQstatus alone only notices that
 * after a statement failed, hence the SELECT 1. Asynchronous with poll() so a connection
 * whose peer vanished cannot block the loop past timeout_ms. Result cleared on every path.
 */
static int slot_alive(PGconn *conn, long long timeout_ms)
{
    long long deadline = sl_mono_ms() + timeout_ms;
    PGresult *res;
    int ok = 0;

    if (!conn || PQstatus(conn) != CONNECTION_OK || !PQsendQuery(conn, "SELECT 1"))
        return 0;
    while (PQisBusy(conn)) {
        struct pollfd pfd = {PQsocket(conn), POLLIN, 0};
        long long left = deadline - sl_mono_ms();
        if (pfd.fd < 0 || left <= 0 || poll(&pfd, 1, (int)left) <= 0 || !PQconsumeInput(conn))
            return 0; /* the caller drops the connection: its state is unknown now */
    }
    while ((res = PQgetResult(conn)) != NULL) {
        ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
    }
    return ok && PQstatus(conn) == CONNECTION_OK;
}

static void view_clear(export_ctx *c)
{
    sl_rds_export_tasks_cleanup(&c->running);
    for (size_t i = 0; i < c->nlive; i++)
        free(c->live[i]);
    free(c->live);
    c->live = NULL;
    c->nlive = 0;
}

/*
 * Refreshes R (running exports in the account) and L (task ids of live slots). Returns 0; -1
 * on a failure that may heal by itself (a transient AWS error, PostgreSQL); -2 when AWS
 * refused the listing for a reason a retry does not change (AccessDenied, an answer that does
 * not parse), with AWS's error in *e.
 */
static int view_refresh(sl_worker *w, export_ctx *c, const sl_log_ctx *log, sl_aws_error *ve)
{
    static const char *const statuses[] = {"starting", "in_progress", "canceling"};
    sl_rds_export_tasks r = {NULL, 0};
    sl_aws_error e;
    PGresult *res = NULL;
    char err[SL_ERRLEN];
    PGconn *pg;
    char **live = NULL;
    int n;

    if (c->view_ms && sl_mono_ms() - c->view_ms < VIEW_TTL_MS)
        return 0;
    pg = sl_worker_pg(w); /* healed first when it broke (rate-limited), NULL while down */
    if (sl_rds_list_export_tasks(sl_worker_aws(w), statuses, SL_ARRAY_LEN(statuses), &r, &e)) {
        sl_warn(log, "listing running exports failed: %s: %s", e.code, e.message);
        if (e.transient)
            return -1;
        *ve = e;
        return -2;
    }
    if (!pg || sl_pg_exec(pg,
                          "SELECT substr(application_name, 4) FROM pg_stat_activity "
                          "WHERE application_name LIKE 'sl:%' AND datname = current_database()",
                          0, NULL, &res, err, sizeof(err))) {
        sl_warn(log, "reading live export slots failed: %s", pg ? err : "no connection");
        sl_rds_export_tasks_cleanup(&r);
        return -1;
    }
    n = PQntuples(res);
    live = calloc((size_t)n + 1, sizeof(*live));
    for (int i = 0; live && i < n; i++)
        live[i] = sl_strdup0(PQgetvalue(res, i, 0));
    PQclear(res);
    if (!live) {
        sl_rds_export_tasks_cleanup(&r);
        return -1;
    }
    view_clear(c);
    c->running = r;
    c->live = live;
    c->nlive = (size_t)n;
    c->view_ms = sl_mono_ms();
    return 0;
}

/*
 * Tries to take a slot for job's task (see the rule at the top). Returns 1 when held, 0 when
 * none is free now, -1 on a database or transient AWS error (treated as "none free",
 * retried), -2 when AWS refused the account view for good (view_refresh; its error in *ve).
 */
static int take_slot(sl_worker *w, export_ctx *c, sl_job *job, ex_job *x, sl_aws_error *ve)
{
    char err[SL_ERRLEN], app[80];
    size_t foreign;
    long long usable;
    const char **own;
    int rc;

    if (x->slot_conn && x->slot >= 0)
        return 1;
    if ((rc = view_refresh(w, c, &job->log, ve)) != 0)
        return rc;
    own = calloc(c->nlive + 1, sizeof(*own));
    if (!own)
        return -1;
    for (size_t i = 0; i < c->nlive; i++)
        own[i] = c->live[i];
    own[c->nlive] = x->task_id; /* an adopted task of ours is not foreign to itself */
    foreign = sl_rds_count_foreign_running(&c->running, own, c->nlive + 1);
    if (sl_worker_pg(w) &&
        sl_admission_note(&c->admission, sl_worker_pg(w), c->cfg.task_limit, (long long)c->nlive,
                          &c->running, own, c->nlive + 1, err, sizeof(err)))
        sl_warn(&job->log, "recording the export admission failed: %s", err);
    free(own);
    sl_worker_set_export_slots(w, (long long)c->nlive, c->cfg.task_limit, (long long)foreign);
    usable = sl_export_admit(c->cfg.task_limit, (long long)c->nlive, (long long)foreign);
    if (usable == 0)
        return 0;
    if (!x->slot_conn && sl_worker_pg_connect(w, "slot", &x->slot_conn, err, sizeof(err))) {
        sl_warn(&job->log, "export slot connection failed: %s", err);
        if (x->slot_conn) {
            PQfinish(x->slot_conn);
            x->slot_conn = NULL;
        }
        return -1;
    }
    for (long long k = 0; k < usable; k++) {
        int got = 0;
        if (sl_pg_try_advisory_lock(x->slot_conn, SL_PG_LOCK_NS_EXPORT_SLOT, (int32_t)k, &got, err,
                                    sizeof(err))) {
            sl_warn(&job->log, "export slot lock failed: %s", err);
            PQfinish(x->slot_conn);
            x->slot_conn = NULL;
            return -1;
        }
        if (!got)
            continue;
        /* Advertise which task this slot holds (read by view_refresh of every worker). */
        snprintf(app, sizeof(app), "sl:%s", x->task_id);
        {
            const char *params[] = {app};
            if (sl_pg_exec(x->slot_conn, "SELECT set_config('application_name', $1, false)", 1,
                           params, NULL, err, sizeof(err))) {
                sl_warn(&job->log, "export slot naming failed: %s", err);
                PQfinish(x->slot_conn); /* frees the lock too */
                x->slot_conn = NULL;
                return -1;
            }
        }
        x->slot = (int)k;
        c->view_ms = 0; /* our own view changed */
        {
            char ks[16];
            const char *kv[] = {"event", "slot", "slot", ks, "export_task_id", x->task_id, NULL};
            snprintf(ks, sizeof(ks), "%d", x->slot);
            sl_log_kv(SL_LOG_INFO, &job->log, kv, "export slot %d taken (%zu foreign exports)",
                      x->slot, foreign);
        }
        return 1;
    }
    return 0;
}

/* The slot's connection is gone (and its lock with it): close what is left, hold no slot. */
static void drop_slot(ex_job *x, const sl_log_ctx *log)
{
    if (!x->slot_conn)
        return;
    sl_warn(log, "export slot %d lost its connection (its lock is gone); taking a slot again",
            x->slot);
    PQfinish(x->slot_conn);
    x->slot_conn = NULL;
    x->slot = -1;
}

static void release_slot(ex_job *x, const sl_log_ctx *log)
{
    char err[SL_ERRLEN];

    if (!x->slot_conn)
        return;
    if (x->slot >= 0 &&
        sl_pg_advisory_unlock(x->slot_conn, SL_PG_LOCK_NS_EXPORT_SLOT, x->slot, err, sizeof(err)))
        sl_warn(log, "export slot unlock: %s (closing the connection frees it)", err);
    else if (x->slot >= 0)
        /* After the unlock, so a woken waiter in any worker finds the lock free. */
        sl_export_wake_notify(x->slot_conn, log);
    PQfinish(x->slot_conn);
    x->slot_conn = NULL;
    if (x->slot >= 0)
        sl_info(log, "export slot %d released", x->slot);
    x->slot = -1;
}

/* COMPLETE: the next stage's message. */
static sl_step_result done(sl_job *job, export_ctx *c, ex_job *x, const sl_rds_export_task *t)
{
    char err[SL_ERRLEN], ts[32];
    sl_msg *o = &job->out;
    /* The files are where the task was told to write them: an adopted task may have been
     * started under an earlier EXPORT_S3_PREFIX (a worker redeployed during an hours-long
     * export), so AWS's S3Bucket and S3Prefix win; ours only stand in when AWS gave none. */
    const char *prefix = t->s3_prefix[0] ? t->s3_prefix : x->s3_prefix;

    if (sl_msg_copy(o, &job->in, err, sizeof(err)))
        return sl_job_fail(job, "OutOfMemory", "%s", err);
    o->type = SL_MSG_EXPORTED;
    o->export_generation = x->gen;
    if (set_str(&o->export_task_id, x->task_id) ||
        set_str(&o->s3_bucket, t->s3_bucket[0] ? t->s3_bucket : c->cfg.bucket) ||
        set_str(&o->s3_prefix, prefix))
        return sl_job_fail(job, "OutOfMemory", "building the exported message");
    if (t->start_ms && sl_msg_format_time(t->start_ms, ts, sizeof(ts)) == 0 &&
        set_str(&o->export_started_at, ts))
        return sl_job_fail(job, "OutOfMemory", "building the exported message");
    if (t->end_ms && sl_msg_format_time(t->end_ms, ts, sizeof(ts)) == 0 &&
        set_str(&o->export_ended_at, ts))
        return sl_job_fail(job, "OutOfMemory", "building the exported message");
    {
        const char *kv[] = {"event", "exported", "export_task_id", x->task_id, "s3_prefix",
                            prefix,  NULL};
        sl_log_kv(SL_LOG_INFO, &job->log, kv, "export complete");
    }
    return SL_STEP_DONE;
}

/* Acts on a task's status: DONE, FAILED, or PENDING (next poll scheduled). */
static sl_step_result on_status(sl_worker *w, sl_job *job, export_ctx *c, ex_job *x,
                                const sl_rds_export_task *t)
{
    char msg[1200];

    (void)w;
    if (sl_rds_export_complete(t->status))
        return done(job, c, x, t);
    if (sl_rds_export_failed(t->status) || sl_rds_export_canceled(t->status)) {
        int failed = sl_rds_export_failed(t->status);
        snprintf(msg, sizeof(msg), "export %s %s: %s", x->task_id, failed ? "failed" : "canceled",
                 t->failure_cause[0] ? t->failure_cause : "(no FailureCause given)");
        return sl_job_fail(job, failed ? "ExportFailed" : "ExportCanceled", "%s",
                           t->failure_cause[0] ? t->failure_cause : msg);
    }
    x->phase = EX_POLL;
    job->next_step_ms = sl_mono_ms() + c->cfg.poll_ms;
    if (sl_log_enabled(SL_LOG_DEBUG)) {
        char pct[16];
        const char *kv[] = {"export_task_id", x->task_id, "status", t->status,
                            "percent",        pct,        NULL};
        snprintf(pct, sizeof(pct), "%d", t->percent_progress);
        sl_log_kv(SL_LOG_DEBUG, &job->log, kv, "export running");
    }
    return SL_STEP_PENDING;
}

/* ---- stage hooks -------------------------------------------------------------------------- */

static int export_init(sl_worker *w, void **ctxp, char *err, size_t errlen)
{
    export_ctx *c = calloc(1, sizeof(*c));

    if (!c)
        return sl_seterr(err, errlen, "out of memory");
    if (sl_config_load(export_opts, SL_ARRAY_LEN(export_opts), &c->cfg, NULL, NULL, err, errlen)) {
        free(c);
        return -1;
    }
    c->max_attempts = sl_worker_config(w)->max_attempts;
    c->retry_base_ms = sl_worker_config(w)->retry_base_ms;
    c->retry_max_ms = sl_worker_config(w)->retry_max_ms;
    if (c->cfg.export_only && c->cfg.export_only[0]) {
        char *save = NULL, *tok;
        c->only_buf = sl_strdup0(c->cfg.export_only);
        if (!c->only_buf)
            goto oom;
        for (tok = strtok_r(c->only_buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            while (*tok == ' ')
                tok++;
            if (!*tok)
                continue;
            if (c->nonly == MAX_EXPORT_ONLY) {
                sl_seterr(err, errlen, "EXPORT_ONLY: at most %d entries", MAX_EXPORT_ONLY);
                goto fail;
            }
            c->only[c->nonly++] = tok;
        }
    }
    if (c->cfg.task_prefix && c->cfg.task_prefix[0]) {
        /* Validate the prefix once, with a sample id, so a bad Deployment fails at start. */
        sl_snapshot_id id;
        char tid[SL_IDS_EXPORT_ID_MAX + 1], e2[SL_ERRLEN];
        if (sl_ids_parse_snapshot("rds:a-2024-01-01-00-00", &id, e2, sizeof(e2)) ||
            sl_ids_export_task_id(&id, c->cfg.task_prefix, tid, sizeof(tid), e2, sizeof(e2))) {
            sl_seterr(err, errlen, "EXPORT_TASK_PREFIX: %s", e2);
            goto fail;
        }
    }
    /* The record `snaplakectl slots` reads (admission.h) lives next to the ledger. */
    sl_admission_init(&c->admission);
    if (!sl_worker_pg(w) || sl_admission_migrate(sl_worker_pg(w), err, errlen)) {
        if (!sl_worker_pg(w))
            sl_seterr(err, errlen, "export: admission table migration: no PostgreSQL connection");
        goto fail;
    }
    /* Queued exports wait (and poll) inside the worker: twice the limit in flight. */
    sl_worker_set_default_max_jobs(w, c->cfg.task_limit * 2);
    {
        /* The freed-slot listener connects on the first io turn (export_wake.h). */
        sl_pg_link link;
        sl_worker_pg_link_init(w, "wake", &link);
        sl_export_wake_init(&c->wake, &link);
    }
    sl_config_dump(export_opts, SL_ARRAY_LEN(export_opts), &c->cfg);
    *ctxp = c;
    return 0;
oom:
    sl_seterr(err, errlen, "out of memory");
fail:
    free(c->only_buf);
    sl_config_cleanup(export_opts, SL_ARRAY_LEN(export_opts), &c->cfg);
    free(c);
    return -1;
}

/* A DescribeExportTasks error that outlasted STAGE_MAX_ATTEMPTS in a row: the job fails with
   AWS's code, its message saying what it gave up ("... (gave up after 5 failed polls in a
   row)"). */
static sl_step_result gave_up(sl_job *job, const sl_aws_error *e, const char *doing, int n,
                              const char *what)
{
    size_t len;

    (void)sl_job_fail_aws(job, "DescribeExportTasks", e);
    len = strlen(job->error_message);
    snprintf(job->error_message + len, sizeof(job->error_message) - len,
             " (gave up %s %d %s in a row)", doing, n, what);
    return SL_STEP_FAILED;
}
static sl_step_result export_step(sl_worker *w, void *ctx, sl_job *job);

/* Makes generation gen the job's task (x->task_id, and the ids the ledger records). */
static int set_generation(sl_job *job, ex_job *x, int gen, char *err, size_t errlen)
{
    if (sl_ids_export_task_id_gen(x->base_id, gen, x->task_id, sizeof(x->task_id), err, errlen))
        return -1;
    x->gen = gen;
    snprintf(job->export_task_id, sizeof(job->export_task_id), "%s", x->task_id);
    job->export_generation = gen;
    return 0;
}

static sl_step_result export_start(sl_worker *w, void *ctx, sl_job *job)
{
    export_ctx *c = ctx;
    ex_job *x;
    sl_snapshot_id id;
    char err[SL_ERRLEN];

    if (!job->in.mode || !job->in.source_arn || !job->in.date)
        return sl_job_fail(job, "InvalidInput", "snapshot message lacks mode, source_arn or date");
    if (strcmp(job->in.mode, "cluster") == 0) {
        /* Cluster mode: the cluster is the message's, the date and time are the run id's.
         * Not the run id parsed as a snapshot id: for a cluster id over 43 chars it holds the
         * cluster cut and a hash (ids.h), which is no snapshot id, and every such run failed. */
        if (sl_ids_parse_cluster_run(job->in.cluster, job->in.run_id, &id, err, sizeof(err)))
            return sl_job_fail(job, "InvalidInput", "%s", err);
    } else if (sl_ids_parse_snapshot(job->in.snapshot_id ? job->in.snapshot_id : job->in.source_arn,
                                     &id, err, sizeof(err))) {
        return sl_job_fail(job, "InvalidInput", "%s", err);
    }
    x = calloc(1, sizeof(*x));
    if (!x)
        return sl_job_fail(job, "OutOfMemory", "export job state");
    x->slot = -1;
    x->job = job;
    job->state = x;
    if (sl_ids_export_task_id(&id, c->cfg.task_prefix, x->base_id, sizeof(x->base_id), err,
                              sizeof(err)) ||
        set_generation(job, x, 1, err, sizeof(err)) ||
        sl_ids_export_s3_prefix(c->cfg.prefix_root, id.cluster, id.date, x->s3_prefix,
                                sizeof(x->s3_prefix), err, sizeof(err)))
        return sl_job_fail(job, "InvalidInput", "%s", err);
    x->phase = EX_DESCRIBE;
    return export_step(w, ctx, job);
}

static sl_step_result export_step(sl_worker *w, void *ctx, sl_job *job)
{
    export_ctx *c = ctx;
    ex_job *x = job->state;
    sl_rds_export_task t;
    sl_aws_error e;
    int found = 0, got;

    switch (x->phase) {
    case EX_DESCRIBE:
        if (sl_rds_describe_export_task(sl_worker_aws(w), x->task_id, &t, &found, &e))
            return sl_job_fail_aws(job, "DescribeExportTasks", &e);
        if (found && (sl_rds_export_failed(t.status) || sl_rds_export_canceled(t.status))) {
            /* This generation is over for good: the redo is the next one (looked up next
             * step: a redelivery of an earlier redo finds it there and adopts it). */
            char err[SL_ERRLEN], gs[16];
            const char *kv[] = {"event",  "next_generation", "export_task_id", x->task_id,
                                "status", t.status,          "generation",     gs,
                                NULL};
            snprintf(gs, sizeof(gs), "%d", x->gen + 1);
            if (x->gen >= SL_IDS_EXPORT_GEN_MAX)
                return sl_job_fail(job, "ExportGenerationsExhausted",
                                   "export %s is generation %d, the last one allowed", x->task_id,
                                   x->gen);
            sl_log_kv(SL_LOG_INFO, &job->log, kv, "export task %s ended %s, redo is generation %d",
                      x->task_id, t.status, x->gen + 1);
            if (set_generation(job, x, x->gen + 1, err, sizeof(err)))
                return sl_job_fail(job, "InvalidInput", "%s", err);
            job->next_step_ms = sl_mono_ms();
            return SL_STEP_PENDING;
        }
        if (found) {
            const char *kv[] = {"event",  "adopt", "export_task_id", x->task_id, "status",
                                t.status, NULL};
            sl_log_kv(SL_LOG_INFO, &job->log, kv, "export task exists, adopting it");
            if (sl_rds_export_running(t.status))
                (void)take_slot(w, c, job, x, &e); /* count it as ours if a slot is free */
            return on_status(w, job, c, x, &t);
        }
        x->phase = EX_SLOT;
        /* fall through */
    case EX_SLOT:
        got = take_slot(w, c, job, x, &e);
        /* Waiting is for "no slot free" and for errors that heal. A view AWS keeps refusing
         * (a role without DescribeExportTasks, an answer we cannot parse) would keep the job
         * waiting forever: STAGE_MAX_ATTEMPTS such refusals in a row fail it with AWS's code. */
        if (sl_stage_retry_note(&x->view_failures, got == -2, c->max_attempts))
            return gave_up(job, &e, "waiting for a slot after", x->view_failures,
                           "refused account views");
        if (got != 1) {
            sl_worker_job_status(w, job, SL_LEDGER_WAITING);
            /* A freed slot wakes it earlier (waiters_wake); this is the fallback. */
            if (waiter_add(c, x))
                sl_warn(&job->log, "export: out of memory for the waiting list; the job looks "
                                   "for a slot every EXPORT_SLOT_RETRY only");
            job->next_step_ms = sl_mono_ms() + c->cfg.slot_retry_ms;
            return SL_STEP_PENDING;
        }
        waiter_remove(c, x);
        x->phase = EX_START;
        /* fall through */
    case EX_START: {
        sl_rds_export_params p;
        if (!slot_alive(x->slot_conn, SLOT_PING_MS)) {
            drop_slot(x, &job->log);
            x->phase = EX_SLOT;
            c->view_ms = 0;
            sl_worker_job_status(w, job, SL_LEDGER_WAITING);
            job->next_step_ms = sl_mono_ms();
            return SL_STEP_PENDING;
        }
        memset(&p, 0, sizeof(p));
        p.task_id = x->task_id;
        p.source_arn = job->in.source_arn;
        p.s3_bucket = c->cfg.bucket;
        p.s3_prefix = x->s3_prefix;
        p.iam_role = c->cfg.iam_role;
        p.kms_key = c->cfg.kms_key;
        p.export_only = c->nonly ? c->only : NULL;
        p.n_export_only = c->nonly;
        if (sl_rds_start_export_task(sl_worker_aws(w), &p, &t, &e)) {
            if (strcmp(e.code, SL_RDS_ERR_TASK_EXISTS) == 0 ||
                strcmp(e.code, "ExportTaskAlreadyExistsFault") == 0) {
                sl_info(&job->log, "export task %s already exists, adopting it", x->task_id);
                x->phase = EX_POLL;
                job->next_step_ms = sl_mono_ms();
                return SL_STEP_PENDING;
            }
            if (is_limit_error(e.code)) {
                /* The account is at its cap with exports we did not count (started in the
                 * moment since we looked): keep the slot, wait, try again. */
                sl_info(&job->log, "export refused (%s), waiting: %s", e.code, e.message);
                sl_worker_job_status(w, job, SL_LEDGER_WAITING);
                c->view_ms = 0;
                job->next_step_ms = sl_mono_ms() + c->cfg.slot_retry_ms;
                return SL_STEP_PENDING;
            }
            return sl_job_fail_aws(job, "StartExportTask", &e);
        }
        {
            const char *kv[] = {"event",     "export_started", "export_task_id",
                                x->task_id,  "source_arn",     job->in.source_arn,
                                "s3_prefix", x->s3_prefix,     NULL};
            sl_log_kv(SL_LOG_INFO, &job->log, kv, "export started");
        }
        sl_worker_job_status(w, job, SL_LEDGER_RUNNING);
        c->view_ms = 0;
        return on_status(w, job, c, x, &t);
    }
    case EX_POLL:
    default:
        if (x->slot_conn && PQstatus(x->slot_conn) != CONNECTION_OK)
            drop_slot(x, &job->log); /* the running export counts as foreign until re-taken */
        if (!x->slot_conn)
            (void)take_slot(w, c, job, x, &e);
        if (sl_rds_describe_export_task(sl_worker_aws(w), x->task_id, &t, &found, &e)) {
            if (!e.transient)
                return sl_job_fail_aws(job, "DescribeExportTasks", &e);
            if (sl_stage_retry_note(&x->poll_failures, 1, c->max_attempts))
                return gave_up(job, &e, "after", x->poll_failures, "failed polls");
            /* The export goes on at AWS: poll again (keeping the slot) after a backoff, never
             * sooner than the shorter of the poll interval and the retry base (full jitter
             * may draw 0, and a throttled endpoint needs no burst of polls). */
            {
                long long d = sl_backoff_ms(c->retry_base_ms, c->retry_max_ms, x->poll_failures,
                                            sl_random_u64());
                long long floor_ms =
                    c->cfg.poll_ms < c->retry_base_ms ? c->cfg.poll_ms : c->retry_base_ms;
                sl_warn(&job->log, "polling export %s failed (%d in a row), polling again: %s: %s",
                        x->task_id, x->poll_failures, e.code, e.message);
                job->next_step_ms = sl_mono_ms() + (d > floor_ms ? d : floor_ms);
            }
            return SL_STEP_PENDING;
        }
        (void)sl_stage_retry_note(&x->poll_failures, 0, c->max_attempts);
        if (!found) {
            /* Just started and not yet listed (eventual consistency): look again later. */
            job->next_step_ms = sl_mono_ms() + c->cfg.poll_ms;
            return SL_STEP_PENDING;
        }
        sl_worker_job_status(w, job, SL_LEDGER_RUNNING);
        return on_status(w, job, c, x, &t);
    }
}

static void export_job_cleanup(sl_worker *w, void *ctx, sl_job *job)
{
    export_ctx *c = ctx;
    ex_job *x = job->state;
    int held;

    (void)w;
    if (!x)
        return;
    waiter_remove(c, x);
    held = x->slot >= 0;
    release_slot(x, &job->log);
    free(x);
    job->state = NULL;
    if (held) /* this worker's own waiters need not wait for the NOTIFY's round trip */
        waiters_wake(c, "a slot freed here");
}

/* The listening connection's socket while a job waits for a slot (the loop then wakes on a
   NOTIFY at once); nothing to wait on otherwise (io still drains it every turn). */
static int export_io_fd(void *ctx, long long *due_ms)
{
    export_ctx *c = ctx;

    *due_ms = -1;
    return c->nwaiters ? sl_export_wake_fd(&c->wake) : -1;
}

static void export_io(sl_worker *w, void *ctx)
{
    export_ctx *c = ctx;

    (void)w;
    if (sl_export_wake_poll(&c->wake))
        waiters_wake(c, "a slot freed in a worker");
}

static void export_cleanup(sl_worker *w, void *ctx)
{
    export_ctx *c = ctx;

    if (!c)
        return;
    if (c->admission.written_ms && sl_worker_pg(w)) {
        char err[SL_ERRLEN];
        if (sl_admission_forget(&c->admission, sl_worker_pg(w), err, sizeof(err)))
            sl_warn(NULL, "export: forgetting the admission record: %s", err);
    }
    view_clear(c);
    sl_export_wake_cleanup(&c->wake);
    free(c->waiters);
    free(c->only_buf);
    sl_config_cleanup(export_opts, SL_ARRAY_LEN(export_opts), &c->cfg);
    free(c);
}

const sl_stage sl_stage_export = {
    .name = "export",
    .in_topic = SL_KAFKA_TOPIC_SNAPSHOTS,
    .in_type = SL_MSG_SNAPSHOT,
    .out_topic = SL_KAFKA_TOPIC_EXPORTS,
    .cfg_opts = export_opts,
    .ncfg_opts = SL_ARRAY_LEN(export_opts),
    .cfg_size = sizeof(export_cfg),
    .init = export_init,
    .start = export_start,
    .step = export_step,
    .job_cleanup = export_job_cleanup,
    .tick = NULL,
    .io_fd = export_io_fd,
    .io = export_io,
    .cleanup = export_cleanup,
};
