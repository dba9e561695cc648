/*
 * share.c - the share stage: makes Lake Formation show what the share policy says for the
 * run's cluster (input `crawls`, output `shares`). The policy (SHARE_POLICY_FILE) is read and
 * validated at start, every error at once (a configuration error: exit 2).
 *
 * A job moves through these phases, each a short step:
 *
 *   LOAD      the ledger's record for the cluster's database: the grant keys snaplake made and
 *             each shared table's columns (share_store.h)
 *   RUN       common/share_run.c, one AWS call a step: Glue tables, live state, plan, apply,
 *             read back, re-plan until nothing is left to do
 *   SAVE      the grant keys made (and those gone), the shared tables' columns
 *   CONSUMER  with SHARE_CONSUMER_ROLE_ARN set, the analytics account's side
 *             (common/share_consumer.h, one AWS call a step): accept the RAM invitations the
 *             service account sent, make the database's resource link; unset, it passes on
 *   OUT       `shared` (counts, tables shared, the first plan's lines), or, when the drift
 *             guard held tables back, a failure naming each table and its columns
 *
 * The Glue database comes from the policy's `database.name` template (crawler mode's `crawled`
 * carries none); a direct-mode `crawled` that names another database fails the run, since the
 * policy would describe tables that are not where the crawl put them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "creds.h"
#include "kafka.h"
#include "lfpolicy.h"
#include "lfpolicy_file.h"
#include "log.h"
#include "share.h"
#include "share_consumer.h"
#include "share_run.h"
#include "share_store.h"
#include "stage.h"
#include "worker.h"

/* Bounds of the `shared` message's lists (the counts stay exact). */
#define MSG_MAX_SHARED_TABLES 500
#define MSG_MAX_CHANGES 200

typedef struct share_cfg {
    char *policy_file;
    char *account_id;
    long long retry_base_ms;
    long long retry_max_ms;
    long long max_retries;
    long long max_rounds;
    sl_share_consumer_cfg consumer; /* role_arn NULL: no consumer side */
} share_cfg;

typedef struct share_ctx {
    share_cfg cfg;
    sl_lfpolicy policy;
    int migrated;
    sl_creds_provider *analytics_creds; /* the consumer side's, when configured */
    sl_aws *analytics;
} share_ctx;

static const sl_cfg_opt share_opts[] = {
    {"SHARE_POLICY_FILE", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(share_cfg, policy_file),
     "the share policy (JSON, docs/share-policy.md), validated at start"},
    {"SHARE_ACCOUNT_ID", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(share_cfg, account_id),
     "the Data Catalog's account when the policy names no catalog_id; unset: STS "
     "GetCallerIdentity"},
    {"SHARE_RETRY_BASE", SL_CFG_DURATION, "200ms", 1, 60000, 0, offsetof(share_cfg, retry_base_ms),
     "backoff base after ConcurrentModificationException or a transient per-entry failure"},
    {"SHARE_RETRY_MAX", SL_CFG_DURATION, "10s", 1, 600000, 0, offsetof(share_cfg, retry_max_ms),
     "backoff cap of those retries"},
    {"SHARE_MAX_RETRIES", SL_CFG_INT, "8", 1, 100, 0, offsetof(share_cfg, max_retries),
     "transient failures in a row before the job is retried from the start (STAGE_MAX_ATTEMPTS)"},
    {"SHARE_MAX_ROUNDS", SL_CFG_INT, "8", 1, 100, 0, offsetof(share_cfg, max_rounds),
     "apply + read-back rounds before the run fails as not converging"},
    SL_SHARE_CONSUMER_CFG_OPTS(share_cfg, consumer, 0),
};

enum share_phase { PH_LOAD, PH_RUN, PH_SAVE, PH_CONSUMER, PH_OUT };

typedef struct share_job {
    enum share_phase phase;
    char database[SL_LF_NAME_MAX + 1];
    sl_share_history hist;
    sl_share_run *run;
    sl_share_consumer *consumer;
    int invitations_accepted, links_created; /* the consumer side's, for `shared` */
} share_job;

static int share_check(const void *cfg, char *err, size_t errlen)
{
    const share_cfg *c = cfg;
    sl_lfpolicy p;
    char *e = malloc(20000), why[SL_ERRLEN];
    size_t n = strlen(err);
    int rc = 0;

    if (!e)
        return -1;
    if (c->account_id && sl_cfg_check_account_id(c->account_id, why, sizeof(why)) != 0) {
        snprintf(err + n, errlen - n, "%sSHARE_ACCOUNT_ID: %s", n ? "\n" : "", why);
        n = strlen(err);
        rc = -1;
    }
    if (sl_lfpolicy_load_file(c->policy_file, &p, e, 20000) != 0) {
        snprintf(err + n, errlen - n, "%sSHARE_POLICY_FILE %s", n ? "\n" : "", e);
        rc = -1;
    } else {
        sl_lfpolicy_cleanup(&p);
    }
    free(e);
    return rc;
}

static int share_init(struct sl_worker *w, void **ctx, char *err, size_t errlen)
{
    share_ctx *c = calloc(1, sizeof(*c));
    char e[16384];

    (void)w;
    if (!c)
        return sl_seterr(err, errlen, "share: out of memory");
    if (sl_config_load(share_opts, SL_ARRAY_LEN(share_opts), &c->cfg, NULL, NULL, err, errlen) !=
        0) {
        free(c);
        return -1;
    }
    if (sl_lfpolicy_load_file(c->cfg.policy_file, &c->policy, e, sizeof(e)) != 0) {
        sl_config_cleanup(share_opts, SL_ARRAY_LEN(share_opts), &c->cfg);
        free(c);
        return sl_seterr(err, errlen, "SHARE_POLICY_FILE %s", e);
    }
    if (c->cfg.consumer.role_arn &&
        !(c->analytics = sl_share_consumer_aws_new(&c->cfg.consumer, &sl_worker_config(w)->aws,
                                                   &c->analytics_creds, e, sizeof(e)))) {
        sl_lfpolicy_cleanup(&c->policy);
        sl_config_cleanup(share_opts, SL_ARRAY_LEN(share_opts), &c->cfg);
        free(c);
        return sl_seterr(err, errlen, "share consumer side: %s", e);
    }
    /* Never more than a few jobs at once: each writes to one Lake Formation catalog. */
    sl_worker_set_default_max_jobs(w, 4);
    *ctx = c;
    return 0;
}

static void share_cleanup(struct sl_worker *w, void *ctx)
{
    share_ctx *c = ctx;

    (void)w;
    if (!c)
        return;
    sl_aws_free(c->analytics);
    sl_creds_provider_free(c->analytics_creds);
    sl_lfpolicy_cleanup(&c->policy);
    sl_config_cleanup(share_opts, SL_ARRAY_LEN(share_opts), &c->cfg);
    free(c);
}

static sl_step_result share_start(struct sl_worker *w, void *ctx, sl_job *job)
{
    share_ctx *c = ctx;
    share_job *sj = calloc(1, sizeof(*sj));
    char err[SL_ERRLEN];

    (void)w;
    if (!sj)
        return sl_job_fail(job, "ClientError", "share: out of memory");
    job->state = sj;
    if (sl_share_database(&c->policy, job->in.cluster, sj->database, sizeof(sj->database), err,
                          sizeof(err)) != 0)
        return sl_job_fail(job, "BadConfig", "%s", err);
    if (job->in.glue_database && strcmp(job->in.glue_database, sj->database) != 0)
        return sl_job_fail(job, "BadConfig",
                           "the crawl registered the tables in Glue database %s, and the share "
                           "policy's database.name gives %s for cluster %s",
                           job->in.glue_database, sj->database, job->in.cluster);
    sj->phase = PH_LOAD;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

static sl_step_result step_load(struct sl_worker *w, share_ctx *c, sl_job *job, share_job *sj)
{
    PGconn *pg = sl_worker_pg(w);
    sl_share_run_opts o;
    char err[SL_ERRLEN];

    if (!pg) {
        job->next_step_ms = sl_mono_ms() + 1000; /* PostgreSQL unreachable: try again */
        return SL_STEP_PENDING;
    }
    if ((!c->migrated && sl_share_store_migrate(pg, err, sizeof(err)) != 0) ||
        sl_share_store_load(pg, sj->database, 0, &sj->hist, err, sizeof(err)) != 0) {
        sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"error", err, NULL},
                  "share ledger not read; trying again");
        job->next_step_ms = sl_mono_ms() + 1000;
        return SL_STEP_PENDING;
    }
    c->migrated = 1;
    memset(&o, 0, sizeof(o));
    o.policy = &c->policy;
    o.cluster = job->in.cluster;
    o.account_id = c->cfg.account_id;
    o.history = &sj->hist;
    o.retry_base_ms = c->cfg.retry_base_ms;
    o.retry_max_ms = c->cfg.retry_max_ms;
    o.max_retries = (int)c->cfg.max_retries;
    o.max_rounds = (int)c->cfg.max_rounds;
    o.log = &job->log;
    if (!(sj->run = sl_share_run_new(sl_worker_aws(w), &o, err, sizeof(err))))
        return sl_job_fail(job, "BadConfig", "%s", err);
    sj->phase = PH_RUN;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

/*
 * After a failed run: records the grants it made before failing, so they are ours when the
 * policy later drops them (the redo of the job finds them live and makes nothing). Best
 * effort: when the ledger cannot be written they stay unrecorded, as before.
 */
static void save_made_after_failure(struct sl_worker *w, sl_job *job, share_job *sj)
{
    const sl_lf_strv *made = sl_share_run_made(sj->run);
    PGconn *pg = sl_worker_pg(w);
    char err[SL_ERRLEN];

    if (!made || made->n == 0)
        return;
    if (!pg || sl_share_store_save(pg, sl_share_run_desired(sj->run), NULL, 0, made, NULL, err,
                                   sizeof(err)) != 0)
        sl_log_kv(SL_LOG_WARN, &job->log,
                  (const char *const[]){"error", pg ? err : "PostgreSQL unreachable", NULL},
                  "share: the grants made before the failure are not recorded");
}

static sl_step_result step_run(struct sl_worker *w, sl_job *job, share_job *sj)
{
    long long now = sl_mono_ms(), next = now;
    const sl_share_run_error *e;

    switch (sl_share_run_step(sj->run, now, &next)) {
    case SL_SHARE_RUN_PENDING:
        job->next_step_ms = next;
        return SL_STEP_PENDING;
    case SL_SHARE_RUN_DONE:
        sj->phase = PH_SAVE;
        job->next_step_ms = now;
        return SL_STEP_PENDING;
    case SL_SHARE_RUN_FAILED:
        break;
    }
    save_made_after_failure(w, job, sj);
    e = sl_share_run_error_get(sj->run);
    snprintf(job->error_code, sizeof(job->error_code), "%s", e->code);
    snprintf(job->error_message, sizeof(job->error_message), "%.1023s", e->message);
    snprintf(job->aws_request_id, sizeof(job->aws_request_id), "%s", e->request_id);
    job->retry_after_ms = e->retry_after_ms;
    return e->transient ? SL_STEP_RETRY : SL_STEP_FAILED;
}

static sl_step_result step_save(struct sl_worker *w, sl_job *job, share_job *sj)
{
    PGconn *pg = sl_worker_pg(w);
    const sl_share_table_in *tables;
    size_t ntables;
    char err[SL_ERRLEN];

    tables = sl_share_run_tables(sj->run, &ntables);
    if (!pg || sl_share_store_save(pg, sl_share_run_desired(sj->run), tables, ntables,
                                   sl_share_run_made(sj->run), sl_share_run_gone(sj->run), err,
                                   sizeof(err)) != 0) {
        sl_log_kv(SL_LOG_WARN, &job->log,
                  (const char *const[]){"error", pg ? err : "PostgreSQL unreachable", NULL},
                  "share ledger not written; trying again");
        job->next_step_ms = sl_mono_ms() + 1000;
        return SL_STEP_PENDING;
    }
    sj->phase = PH_CONSUMER;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

/*
 * The analytics account's side, once Lake Formation shows the grants (their RAM invitations
 * exist only then). Transient failures go back to the runtime, whose new start() redoes the
 * job idempotently: the plan is then empty and the consumer skips what is done.
 */
static sl_step_result step_consumer(share_ctx *c, sl_job *job, share_job *sj)
{
    long long due = sl_mono_ms();
    const sl_share_consumer_result *r;
    char err[SL_ERRLEN];

    if (!c->analytics) {
        sj->phase = PH_OUT;
        job->next_step_ms = due;
        return SL_STEP_PENDING;
    }
    if (!sj->consumer) {
        const char *const dbs[] = {sj->database};
        const char *catalog = sl_share_run_desired(sj->run)->catalog_id;
        sl_share_consumer_opts o = {.service_account = catalog,
                                    .source_catalog = catalog,
                                    .databases = dbs,
                                    .ndatabases = 1,
                                    .link_template = c->cfg.consumer.link_tmpl};

        if (!(sj->consumer = sl_share_consumer_new(&o, c->analytics, &job->log, err, sizeof(err))))
            return sl_job_fail(job, "BadConfig", "share consumer side: %s", err);
    }
    switch (sl_share_consumer_step(sj->consumer, &due)) {
    case SL_SHARE_CONSUMER_PENDING:
        job->next_step_ms = due;
        return SL_STEP_PENDING;
    case SL_SHARE_CONSUMER_DONE:
        r = sl_share_consumer_result_get(sj->consumer);
        sj->invitations_accepted = r->invitations_accepted;
        sj->links_created = r->links_created;
        sj->phase = PH_OUT;
        job->next_step_ms = sl_mono_ms();
        return SL_STEP_PENDING;
    case SL_SHARE_CONSUMER_RETRY:
    case SL_SHARE_CONSUMER_FAILED:
        break;
    }
    return sl_job_fail_aws(job, "share consumer side", sl_share_consumer_error(sj->consumer));
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Appends s (copied) to *v / *n. 0 or -1. */
static int push(char ***v, size_t *n, const char *s)
{
    char **g = realloc(*v, (*n + 1) * sizeof(*g));

    if (!g)
        return -1;
    *v = g;
    if (!(g[*n] = strdup(s)))
        return -1;
    (*n)++;
    return 0;
}

/* The first plan's lines into o->share_changes (without the summary line). */
static int plan_lines(const sl_share_plan *p, sl_msg *o)
{
    sl_buf b;
    char *line, *save = NULL;
    int rc = 0;

    sl_buf_init(&b, 0);
    if (sl_share_plan_format(p, &b) != 0) {
        sl_buf_cleanup(&b);
        return -1;
    }
    for (line = strtok_r(b.data, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save))
        if (strncmp(line, "Plan:", 5) != 0 && strcmp(line, "No changes.") != 0 &&
            o->nshare_changes < MSG_MAX_CHANGES)
            rc = push(&o->share_changes, &o->nshare_changes, line);
    sl_buf_cleanup(&b);
    return rc;
}

static void log_summary(sl_job *job, const share_job *sj)
{
    sl_buf b;
    const sl_share_plan *p = sl_share_run_first_plan(sj->run);

    sl_buf_init(&b, 0);
    if (p && sl_share_plan_format(p, &b) == 0)
        sl_log_kv(SL_LOG_INFO, &job->log,
                  (const char *const[]){"event", "share_summary", "database", sj->database, "plan",
                                        b.data, NULL},
                  "share converged");
    sl_buf_cleanup(&b);
}

static sl_step_result step_out(sl_job *job, share_job *sj)
{
    const sl_share_desired *d = sl_share_run_desired(sj->run);
    const sl_share_plan *first = sl_share_run_first_plan(sj->run);
    const sl_share_plan *last = sl_share_run_last_plan(sj->run);
    sl_share_counts fc = sl_share_plan_counts(first), lc = sl_share_plan_counts(last);
    char msg[SL_ERRLEN], at[32];
    sl_msg *o = &job->out;

    log_summary(job, sj);
    if (d->nheld) {
        /* The runtime's failure message: each held table with its columns. */
        size_t n = 0;
        job->error_message[0] = '\0';
        for (size_t i = 0; i < d->ntables; i++)
            if (d->tables[i].held && d->tables[i].cause) {
                size_t used = strlen(job->error_message);
                snprintf(job->error_message + used, sizeof(job->error_message) - used, "%s%s",
                         n++ ? "; " : "", d->tables[i].cause);
            }
        snprintf(job->error_code, sizeof(job->error_code), "SchemaDriftHeld");
        return SL_STEP_FAILED;
    }
    if (sl_msg_format_time(sl_now_ms(), at, sizeof(at)) != 0)
        return sl_job_fail(job, "ClientError", "share: clock out of range");
    if (sl_msg_copy(o, &job->in, msg, sizeof(msg)) != 0)
        return sl_job_fail(job, "ClientError", "%s", msg);
    o->type = SL_MSG_SHARED;
    free(o->glue_database);
    o->glue_database = strdup(d->database);
    o->shared_at = strdup(at);
    if (!o->glue_database || !o->shared_at)
        return sl_job_fail(job, "ClientError", "share: out of memory");
    o->share_created = (long long)fc.create;
    o->share_updated = (long long)fc.update;
    o->share_removed = (long long)fc.remove;
    o->share_drift = (long long)lc.drift;
    o->share_invitations_accepted = sj->invitations_accepted;
    o->share_links_created = sj->links_created;
    for (size_t i = 0; i < d->ntables; i++) {
        if (d->tables[i].cls == SL_SHARE_UNSHARED) {
            o->tables_private++;
            continue;
        }
        o->tables_shared++;
        if (o->nshared_tables < MSG_MAX_SHARED_TABLES &&
            push(&o->shared_tables, &o->nshared_tables, d->tables[i].name) != 0)
            return sl_job_fail(job, "ClientError", "share: out of memory");
    }
    if (o->nshared_tables)
        qsort(o->shared_tables, o->nshared_tables, sizeof(char *), cmp_str);
    if (plan_lines(first, o) != 0)
        return sl_job_fail(job, "ClientError", "share: out of memory");
    /* Keep the message under the cap: halve the lists until it fits. */
    for (;;) {
        char *enc = NULL;
        if (sl_msg_encode(o, &enc, NULL, msg, sizeof(msg)) == 0) {
            free(enc);
            break;
        }
        if (!o->nshare_changes && !o->nshared_tables)
            return sl_job_fail(job, "MessageTooLarge", "shared message: %s", msg);
        for (size_t i = o->nshare_changes / 2; i < o->nshare_changes; i++)
            free(o->share_changes[i]);
        o->nshare_changes /= 2;
        for (size_t i = o->nshared_tables / 2; i < o->nshared_tables; i++)
            free(o->shared_tables[i]);
        o->nshared_tables /= 2;
    }
    return SL_STEP_DONE;
}

static sl_step_result share_step(struct sl_worker *w, void *ctx, sl_job *job)
{
    share_ctx *c = ctx;
    share_job *sj = job->state;

    switch (sj->phase) {
    case PH_LOAD:
        return step_load(w, c, job, sj);
    case PH_RUN:
        return step_run(w, job, sj);
    case PH_SAVE:
        return step_save(w, job, sj);
    case PH_CONSUMER:
        return step_consumer(c, job, sj);
    case PH_OUT:
        return step_out(job, sj);
    }
    return sl_job_fail(job, "ClientError", "share: bad phase %d", (int)sj->phase);
}

static void share_job_cleanup(struct sl_worker *w, void *ctx, sl_job *job)
{
    share_job *sj = job->state;

    (void)w;
    (void)ctx;
    if (!sj)
        return;
    sl_share_consumer_free(sj->consumer);
    sl_share_run_free(sj->run);
    sl_share_history_cleanup(&sj->hist);
    free(sj);
    job->state = NULL;
}

const sl_stage sl_stage_share = {
    .name = "share",
    .in_topic = SL_KAFKA_TOPIC_CRAWLS,
    .in_type = SL_MSG_CRAWLED,
    .out_topic = SL_KAFKA_TOPIC_SHARES,
    .cfg_opts = share_opts,
    .ncfg_opts = SL_ARRAY_LEN(share_opts),
    .cfg_size = sizeof(share_cfg),
    .init = share_init,
    .start = share_start,
    .step = share_step,
    .job_cleanup = share_job_cleanup,
    .tick = NULL,
    .cleanup = share_cleanup,
    .check = share_check,
};
