/*
 * worker.c - the worker runtime (see worker.h and stage.h): its config table, the accessors
 * stages use, bring-up, the loop and shutdown.
 *
 * One thread. Each loop turn: feed held messages into free job slots and pause or resume the
 * assignment so that at most WORKER_MAX_JOBS jobs exist while the consumer keeps polling
 * (staying in its group: a long export never trips max.poll.interval.ms; worker_intake.c),
 * poll Kafka once (up to 200 ms, less when a job is due sooner), turn the message into a job
 * (or a dead letter), and drive every due job one step (worker_job.c) and, once its outcome is
 * known, through publish, record and store the offset (worker_outcome.c, which says why in
 * that order).
 */
#include "worker_int.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "bringup.h"
#include "endpoint.h"
#include "kafka.h"
#include "kstats.h"
#include "ledger.h"
#include "log.h"
#include "msg.h"
#include "pg.h"
#include "signals.h"

/* Longest wait on a stage's own sockets (stage.h io_fd) while they are busy: Kafka is polled
 * without waiting then, so a message or delivery report waits at most this long. */
#define IO_WAIT_MAX_MS 20

static const sl_cfg_opt worker_opts[] = {
    {"LOG_LEVEL", SL_CFG_STRING, "info", 0, -1, 0, offsetof(sl_worker_cfg, log_level),
     "debug|info|warn|error"},
    {"WORKER_STAGE", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(sl_worker_cfg, stage),
     "stage to run when no argument is given (export, copy, crawl, ...)"},
    {"KAFKA_GROUP_ID", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(sl_worker_cfg, group_id),
     "consumer group (default snaplake-<stage>)"},
    {"WORKER_MAX_JOBS", SL_CFG_INT, "0", 0, 100000, 0, offsetof(sl_worker_cfg, max_jobs),
     "jobs in flight before partitions are paused (0 = the stage's default)"},
    {"STAGE_MAX_ATTEMPTS", SL_CFG_INT, "5", 1, 100, 0, offsetof(sl_worker_cfg, max_attempts),
     "attempts of a job on transient failures before it fails"},
    {"STAGE_RETRY_BASE", SL_CFG_DURATION, "1s", 1, 3600000, 0,
     offsetof(sl_worker_cfg, retry_base_ms), "base of the full-jitter backoff between attempts"},
    {"STAGE_RETRY_MAX", SL_CFG_DURATION, "5m", 1, 86400000, 0,
     offsetof(sl_worker_cfg, retry_max_ms), "longest backoff between attempts"},
    SL_KAFKA_TOPIC_CFG_OPTS(sl_worker_cfg, topics),
    {"DATABASE_URL", SL_CFG_SECRET, NULL, 0, -1, 0, offsetof(sl_worker_cfg, database_url),
     "PostgreSQL URL or conninfo (else libpq's PG* variables)"},
    SL_PG_CFG_OPTS(sl_worker_cfg, pg),
    SL_AWS_CFG_OPTS(sl_worker_cfg, aws),
    SL_ENDPOINT_CFG_OPTS(sl_worker_cfg, ep),
    {"WORKER_HEARTBEAT", SL_CFG_DURATION, "10s", 100, 600000, 0,
     offsetof(sl_worker_cfg, heartbeat_ms),
     "how often the worker proves in the ledger that it is alive (stale runs)"},
};

/* ---- small helpers ------------------------------------------------------------------------ */

const sl_stage *sl_worker_find_stage(const char *name)
{
    for (size_t i = 0; name && sl_worker_stages[i]; i++)
        if (strcmp(sl_worker_stages[i]->name, name) == 0)
            return sl_worker_stages[i];
    return NULL;
}

void sl_worker_help(FILE *out, const char *prog)
{
    char names[256] = "";

    for (size_t i = 0; sl_worker_stages[i]; i++) {
        size_t n = strlen(names);
        snprintf(names + n, sizeof(names) - n, "%s%s", n ? "|" : "", sl_worker_stages[i]->name);
    }
    fprintf(out, "usage: %s <%s>   (or WORKER_STAGE)\n\n", prog, names);
    sl_config_help(out, prog, "runtime settings (every stage)", worker_opts,
                   SL_ARRAY_LEN(worker_opts));
    for (size_t i = 0; sl_worker_stages[i]; i++) {
        char title[128];
        snprintf(title, sizeof(title), "stage %s: %s%s%s -> %s", sl_worker_stages[i]->name,
                 sl_worker_stages[i]->in_topic, sl_worker_stages[i]->in_topic2 ? " + " : "",
                 sl_worker_stages[i]->in_topic2 ? sl_worker_stages[i]->in_topic2 : "",
                 sl_worker_stages[i]->out_topic ? sl_worker_stages[i]->out_topic : "(none)");
        fprintf(out, "\n");
        sl_config_help(out, prog, title, sl_worker_stages[i]->cfg_opts,
                       sl_worker_stages[i]->ncfg_opts);
    }
}

sl_aws *sl_worker_aws(sl_worker *w)
{
    return w->aws;
}

const sl_worker_cfg *sl_worker_config(const sl_worker *w)
{
    return &w->cfg;
}

const char *sl_worker_stage_name(const sl_worker *w)
{
    return w->stage->name;
}

PGconn *sl_worker_pg(sl_worker *w)
{
    char err[SL_ERRLEN];

    /* The failure is logged by sl_pg_ensure (once per try); callers log their own work. */
    if (sl_pg_ensure(&w->pg, NULL, err, sizeof(err)))
        return NULL;
    return w->pg.conn;
}

void sl_worker_set_default_max_jobs(sl_worker *w, long long n)
{
    if (n >= 1)
        w->default_max_jobs = n;
}

long long sl_worker_max_jobs(const sl_worker *w)
{
    return w->cfg.max_jobs > 0 ? w->cfg.max_jobs : w->default_max_jobs;
}

long long sl_worker_open_files(const sl_worker *w)
{
    return w->open_files;
}

void sl_worker_count_alert(sl_worker *w, const char *event, const char *label)
{
    sl_wmetrics_alert(&w->wm, event, label);
}

void sl_worker_count_copy_cut(sl_worker *w)
{
    (void)sl_metrics_add(w->wm.copy_cuts, NULL, 1);
}

void sl_worker_set_export_slots(sl_worker *w, long long held, long long limit, long long foreign)
{
    (void)sl_metrics_set(w->wm.slots_held, NULL, (double)held);
    (void)sl_metrics_set(w->wm.slot_limit, NULL, (double)limit);
    (void)sl_metrics_set(w->wm.foreign, NULL, (double)foreign);
}

/* application_name "snaplake-<stage>[-<suffix>]" into app[applen]. */
static void app_name_for(const sl_worker *w, const char *suffix, char *app, size_t applen)
{
    /* PostgreSQL keeps 63 bytes of application_name; longer names are cut, which is fine. */
    snprintf(app, applen, "%.40s%s%.20s", w->app_name, suffix ? "-" : "", suffix ? suffix : "");
}

int sl_worker_pg_connect(sl_worker *w, const char *suffix, PGconn **out, char *err, size_t errlen)
{
    char app[64];

    app_name_for(w, suffix, app, sizeof(app));
    return sl_pg_connect_opts(out, app, &w->cfg.pg, err, errlen);
}

void sl_worker_pg_link_init(sl_worker *w, const char *suffix, sl_pg_link *l)
{
    char app[64];

    app_name_for(w, suffix, app, sizeof(app));
    sl_pg_link_init(l, app, &w->cfg.pg);
}

/*
 * Statistics hook (kafka.h), from inside the consumer's poll: the group's state for /readyz and
 * /healthz (joined and a broker up = Kafka seen working now) and the consumer lag gauges.
 */
static void on_stats(sl_kafka_consumer *c, const char *json, size_t len, void *ud)
{
    sl_worker *w = ud;
    sl_kstats *ks = malloc(sizeof(*ks)); /* ~40 KB: not on the stack */
    char err[SL_ERRLEN];

    (void)c;
    if (!ks)
        return;
    if (sl_kstats_parse(json, len, ks, err, sizeof(err)) == 0) {
        if (ks->group_up && ks->brokers_up > 0)
            sl_endpoint_kafka_ok(w->ep);
        sl_wmetrics_lag(&w->wm, ks);
    } else {
        sl_debug(NULL, "%s", err);
    }
    free(ks);
}

/*
 * Once a turn: marks the loop alive, serves the endpoint, and every so often proves
 * PostgreSQL reachable with a round trip (an idle connection's status says nothing about a
 * server that went away since its last statement).
 */
static void health_turn(sl_worker *w)
{
    long long now = sl_mono_ms(), every = w->cfg.ep.ready_timeout_ms / 3, oldest = now;

    if (every > 10000)
        every = 10000;
    if (now - w->pg_probe_ms >= every) {
        PGconn *pg = sl_worker_pg(w);
        w->pg_probe_ms = now;
        if (pg) {
            PGresult *r = PQexec(pg, "SELECT 1");
            if (PQresultStatus(r) == PGRES_TUPLES_OK)
                sl_endpoint_pg_ok(w->ep);
            PQclear(r);
        }
    }
    for (size_t i = 0; i < w->njobs; i++)
        oldest = w->jobs[i]->t0_ms < oldest ? w->jobs[i]->t0_ms : oldest;
    sl_wmetrics_jobs(&w->wm, w->njobs, now - oldest);
    sl_endpoint_turn(w->ep);
    sl_wconsole_turn(&w->con);
}

/* ---- life cycle --------------------------------------------------------------------------- */

/* Validates a stage's table alone, loaded into a scratch struct of the size the stage
 * declares (stage.h cfg_size); a row past that size is the stage's bug, refused here. */
static int check_stage_cfg(const sl_stage *s, char *err, size_t errlen)
{
    void *scratch;
    int rc;

    if (s->ncfg_opts == 0)
        return 0;
    for (size_t i = 0; i < s->ncfg_opts; i++)
        if (s->cfg_opts[i].offset >= s->cfg_size)
            return sl_seterr(err, errlen, "stage %s: %s lies outside its cfg_size (%zu bytes)",
                             s->name, s->cfg_opts[i].name, s->cfg_size);
    scratch = calloc(1, s->cfg_size);
    if (!scratch)
        return sl_seterr(err, errlen, "out of memory");
    rc = sl_config_load(s->cfg_opts, s->ncfg_opts, scratch, NULL, NULL, err, errlen);
    if (rc == 0) {
        if (s->check)
            rc = s->check(scratch, err, errlen);
        sl_config_cleanup(s->cfg_opts, s->ncfg_opts, scratch);
    }
    free(scratch);
    return rc;
}

/*
 * Loads and validates everything configuration says, before anything connects, and reports
 * every error at once: both tables (types, bounds, required), the value checks of every
 * binary (config.h: LOG_LEVEL, AWS_REGION, AWS_CA_BUNDLE, bucket names, bucket owners,
 * EXPORT_ONLY, CRAWLER_NAME, EXPORT_TASK_PREFIX) and each KAFKA_* property against
 * librdkafka. Fills w->cfg and w->stage and *lvl; returns 0, or -1 with err.
 */
static int load_config(sl_worker *w, const char *stage_name, sl_log_level *lvl, char *err,
                       size_t errlen)
{
    char e1[4096] = "", e2[4096] = "";
    int ok;

    err[0] = '\0';
    ok = sl_config_load(worker_opts, SL_ARRAY_LEN(worker_opts), &w->cfg, NULL, NULL, e1,
                        sizeof(e1)) == 0;
    if (!ok)
        sl_err_append(err, errlen, e1);
    if (!stage_name)
        stage_name = w->cfg.stage ? w->cfg.stage : getenv("WORKER_STAGE");
    w->stage = sl_worker_find_stage(stage_name);
    if (!w->stage) {
        snprintf(e2, sizeof(e2), "unknown or missing stage \"%s\" (see --help)",
                 stage_name ? stage_name : "");
        sl_err_append(err, errlen, e2);
        ok = 0;
    } else if (check_stage_cfg(w->stage, e2, sizeof(e2))) {
        sl_err_append(err, errlen, e2);
        ok = 0;
    }
    e1[0] = '\0';
    if (sl_config_check(worker_opts, SL_ARRAY_LEN(worker_opts), sl_config_std_checks,
                        sl_config_nstd_checks, NULL, NULL, e1, sizeof(e1)) != 0 ||
        sl_config_check(worker_opts, SL_ARRAY_LEN(worker_opts), sl_endpoint_checks,
                        sl_endpoint_nchecks, NULL, NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    if (w->stage && sl_config_check(w->stage->cfg_opts, w->stage->ncfg_opts, sl_config_std_checks,
                                    sl_config_nstd_checks, NULL, NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    if (sl_kafka_conf_check_env(NULL, e1, sizeof(e1)) != 0)
        ok = 0;
    sl_err_append(err, errlen, e1);
    if (ok && sl_log_level_parse(w->cfg.log_level, lvl))
        ok = 0; /* sl_cfg_check_log_level said so already */
    return ok ? 0 : -1;
}

int sl_worker_config_check(const char *stage_name, char *err, size_t errlen)
{
    sl_worker *w = calloc(1, sizeof(*w));
    sl_log_level lvl = SL_LOG_INFO;
    int rc;

    if (!w)
        return sl_seterr(err, errlen, "out of memory");
    rc = load_config(w, stage_name, &lvl, err, errlen);
    sl_config_cleanup(worker_opts, SL_ARRAY_LEN(worker_opts), &w->cfg);
    free(w);
    return rc;
}

sl_worker *sl_worker_new(const char *stage_name, char *err, size_t errlen)
{
    sl_worker *w = calloc(1, sizeof(*w));
    char perr[SL_ERRLEN];
    sl_log_level lvl = SL_LOG_INFO;

    if (!w) {
        sl_seterr(err, errlen, "out of memory");
        return NULL;
    }
    w->default_max_jobs = DEFAULT_MAX_JOBS;
    if (load_config(w, stage_name, &lvl, err, errlen) != 0)
        goto fail;
    snprintf(w->app_name, sizeof(w->app_name), "snaplake-%s", w->stage->name);
    sl_log_init(w->app_name, lvl);
    sl_config_dump(worker_opts, SL_ARRAY_LEN(worker_opts), &w->cfg);
    w->open_files = sl_nofile_raise();
    snprintf(w->group, sizeof(w->group), "%s", w->cfg.group_id ? w->cfg.group_id : w->app_name);
    /* The endpoint first, so probes answer (not ready) while the rest connects. */
    if (sl_endpoint_new(&w->ep, &w->cfg.ep, 0, perr, sizeof(perr)) ||
        sl_wmetrics_init(&w->wm, sl_endpoint_metrics(w->ep), w->stage->name)) {
        sl_seterr(err, errlen, "metrics endpoint: %s", w->ep ? "out of memory" : perr);
        goto fail;
    }
    if (sl_worker_reporter(w))
        sl_wmetrics_alerts_zero(&w->wm);
    if (sl_kafka_topic_name(w->in_topic, TOPIC_LEN, w->cfg.topics.prefix, w->stage->in_topic) ||
        sl_kafka_topic_name(w->fail_topic, TOPIC_LEN, w->cfg.topics.prefix,
                            SL_KAFKA_TOPIC_FAILURES) ||
        sl_kafka_topic_name(w->dlq_topic, TOPIC_LEN, w->cfg.topics.prefix, SL_KAFKA_TOPIC_DLQ) ||
        (w->stage->out_topic &&
         sl_kafka_topic_name(w->out_topic, TOPIC_LEN, w->cfg.topics.prefix, w->stage->out_topic)) ||
        (w->stage->in_topic2 &&
         sl_kafka_topic_name(w->in_topic2, TOPIC_LEN, w->cfg.topics.prefix, w->stage->in_topic2))) {
        sl_seterr(err, errlen, "KAFKA_TOPIC_PREFIX \"%s\" makes an invalid topic name",
                  w->cfg.topics.prefix);
        goto fail;
    }
    /* In-call AWS retries may sleep this long in all; beyond it the call returns the
     * transient error (with retry_after_ms) and the job retries from the loop (stage.h: a
     * step returns within a few hundred ms). */
    w->cfg.aws.max_sleep_ms = AWS_SLEEP_BUDGET_MS;
    if (sl_bringup_aws(&w->cfg.aws, &w->creds, &w->aws, err, errlen))
        goto fail;
    sl_aws_set_observer(w->aws, sl_wmetrics_aws, &w->wm);
    if (sl_bringup_ledger(&w->pg, w->app_name, &w->cfg.pg, 1, w->cfg.retry_base_ms, NULL, NULL, err,
                          errlen))
        goto fail;
    {
        char app[64];

        app_name_for(w, "heartbeat", app, sizeof(app));
        if (sl_wconsole_init(&w->con, sl_worker_stage_name(w), app, &w->cfg.pg, w->pg.conn,
                             w->cfg.heartbeat_ms, err, errlen))
            goto fail;
    }
    w->con_ready = 1;
    sl_endpoint_pg_ok(w->ep);
    w->pg_probe_ms = sl_mono_ms();
    if (sl_bringup_kafka(&w->cfg.topics, w->app_name, &w->prod, err, errlen))
        goto fail;
    {
        const char *const out[] = {w->stage->out_topic ? w->out_topic : NULL, w->fail_topic,
                                   w->dlq_topic};
        sl_kafka_producer_warm(w->prod, out, SL_ARRAY_LEN(out));
    }
    {
        const char *const topics[] = {w->in_topic, w->in_topic2};
        sl_kafka_producer_set_report_hook(w->prod, sl_worker_on_delivery, w);
        if (w->stage->init(w, &w->ctx, perr, sizeof(perr))) {
            sl_seterr(err, errlen, "stage %s: %s", w->stage->name, perr);
            goto fail;
        }
        w->ctx_ready = 1;
        w->offsets = sl_offsets_new((size_t)sl_worker_max_jobs(w) + 1);
        if (!w->offsets) {
            sl_seterr(err, errlen, "out of memory");
            goto fail;
        }
        char stats_ms[24];
        const char *cprops[] = {"client.id", w->app_name, "statistics.interval.ms", stats_ms, NULL};
        long long sms = w->cfg.ep.ready_timeout_ms / 3;
        snprintf(stats_ms, sizeof(stats_ms), "%lld", sms > STATS_MAX_MS ? STATS_MAX_MS : sms);
        if (sl_kafka_consumer_new(&w->cons, w->group, cprops, NULL, perr, sizeof(perr))) {
            sl_seterr(err, errlen, "kafka consumer: %.480s", perr);
            goto fail;
        }
        sl_kafka_consumer_set_rebalance_hook(w->cons, sl_worker_on_rebalance, w);
        sl_kafka_consumer_set_stats_hook(w->cons, on_stats, w);
        if (sl_kafka_consumer_subscribe(w->cons, topics, w->in_topic2[0] ? 2 : 1, perr,
                                        sizeof(perr))) {
            sl_seterr(err, errlen, "subscribe %s %s: %s", w->in_topic, w->in_topic2, perr);
            goto fail;
        }
    }
    {
        char mj[24], nf[24];
        const char *kv[] = {"in_topic",   w->in_topic,
                            "in_topic2",  w->in_topic2[0] ? w->in_topic2 : NULL,
                            "out_topic",  w->stage->out_topic ? w->out_topic : NULL,
                            "group",      w->group,
                            "max_jobs",   mj,
                            "open_files", nf,
                            NULL};
        snprintf(mj, sizeof(mj), "%lld", sl_worker_max_jobs(w));
        snprintf(nf, sizeof(nf), "%lld", w->open_files);
        sl_log_kv(SL_LOG_INFO, NULL, kv, "worker ready");
    }
    return w;
fail:
    sl_worker_free(w);
    return NULL;
}

/*
 * The loop's wait when the stage has sockets of its own (stage.h io_fd): while they are busy
 * the loop sleeps in poll() on the stage's fd (its sockets wake it at once: a finished copy's
 * slot is refilled without waiting for a Kafka timeout) and the consumer is then polled without
 * waiting; otherwise the consumer's poll waits, no longer than the stage's due time. Returns
 * the consumer poll's timeout.
 */
static long long io_wait(sl_worker *w, long long wait)
{
    long long due = -1;
    int fd = w->stage->io_fd(w->ctx, &due);
    struct pollfd p;

    if (due >= 0) {
        long long d = due - sl_mono_ms();
        if (d < wait)
            wait = d < 0 ? 0 : d;
    }
    if (fd < 0 || wait == 0)
        return wait;
    if (wait > IO_WAIT_MAX_MS)
        wait = IO_WAIT_MAX_MS;
    p.fd = fd;
    p.events = POLLIN;
    p.revents = 0;
    (void)poll(&p, 1, (int)wait);
    return 0;
}

int sl_worker_run(sl_worker *w, char *err, size_t errlen)
{
    int rc = 0;
    char perr[SL_ERRLEN];

    while (!sl_should_stop() && !w->fatal) {
        rd_kafka_message_t *m = NULL;
        long long wait;

        health_turn(w);
        sl_worker_intake_turn(w);
        if (w->stage->tick)
            w->stage->tick(w, w->ctx);
        wait = sl_worker_next_due(w) - sl_mono_ms();
        if (wait < 0)
            wait = 0;
        if (wait > POLL_MAX_MS)
            wait = POLL_MAX_MS;
        if (wait > PUBLISH_POLL_MS && sl_worker_publishing(w))
            wait = PUBLISH_POLL_MS;
        if (w->stage->io_fd)
            wait = io_wait(w, wait);
        if (sl_kafka_consumer_poll(w->cons, (int)wait, &m, NULL, perr, sizeof(perr))) {
            if (sl_kafka_consumer_fatal(w->cons)) {
                snprintf(w->fatal_err, sizeof(w->fatal_err), "kafka consumer: %.480s", perr);
                w->fatal = 1;
                sl_endpoint_kafka_fatal(w->ep);
                break;
            }
            sl_warn(NULL, "kafka consumer: %.480s", perr);
        } else if (m) {
            sl_worker_intake(w, m);
        }
        (void)sl_kafka_producer_poll(w->prod, 0); /* delivery reports: on_delivery */
        if (w->stage->io)
            w->stage->io(w, w->ctx);
        sl_worker_run_jobs(w);
    }
    if (w->fatal) {
        sl_error(NULL, "stopping on a fatal error: %s", w->fatal_err);
        sl_seterr(err, errlen, "%s", w->fatal_err);
        rc = -1;
    }
    /* Shutdown (SIGTERM): settle output already on its way, abandon the other in-flight jobs
     * without storing their offsets (the next owner redoes them idempotently), commit what
     * is stored, leave the group, flush. After a fatal error nothing more is stored. */
    if (!w->fatal)
        sl_worker_settle(w, NULL, -1, SETTLE_MS);
    sl_info(NULL, "stopping: abandoning %zu jobs", w->njobs);
    while (w->njobs) {
        sl_worker_job_set_phase(w, w->jobs[w->njobs - 1], SL_JP_DROPPED);
        sl_worker_job_remove_at(w, w->njobs - 1);
    }
    sl_worker_intake_drop_held(w);
    if (sl_kafka_consumer_close(w->cons, perr, sizeof(perr)))
        sl_warn(NULL, "consumer close: %s", perr);
    if (sl_kafka_producer_flush(w->prod, 10000, perr, sizeof(perr)))
        sl_warn(NULL, "producer flush: %s", perr);
    sl_info(NULL, "stopped");
    return rc;
}

void sl_worker_free(sl_worker *w)
{
    if (!w)
        return;
    while (w->njobs)
        sl_worker_job_remove_at(w, w->njobs - 1);
    free(w->jobs);
    sl_worker_intake_drop_held(w);
    free(w->held);
    sl_kafka_consumer_free(w->cons);
    if (w->ctx_ready && w->stage->cleanup)
        w->stage->cleanup(w, w->ctx);
    if (w->prod)
        sl_kafka_producer_set_report_hook(w->prod, NULL, NULL); /* no job is left to report to */
    sl_kafka_producer_free(w->prod);
    if (w->con_ready)
        sl_wconsole_cleanup(&w->con, w->pg.conn);
    sl_pg_link_cleanup(&w->pg);
    sl_offsets_free(w->offsets);
    sl_aws_free(w->aws);
    sl_creds_provider_free(w->creds);
    sl_endpoint_free(w->ep);
    sl_config_cleanup(worker_opts, SL_ARRAY_LEN(worker_opts), &w->cfg);
    OPENSSL_cleanse(w, sizeof(*w));
    free(w);
}
