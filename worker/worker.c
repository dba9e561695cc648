/*
 * worker.c - the worker runtime (see worker.h and stage.h).
 *
 * One thread. Each loop turn: feed held messages into free job slots, poll Kafka once (up to
 * 200 ms, less when a job is due sooner), turn the message into a job (or a dead letter),
 * drive every due job one step, and pause or resume the assignment so that at most
 * WORKER_MAX_JOBS jobs exist while the consumer keeps polling (staying in its group: a long
 * export never trips max.poll.interval.ms).
 *
 * At-least-once bookkeeping, in this order, each step retried with backoff until it is durable
 * and never skipped: (1) publish the output / failure / dead letter and await its delivery
 * report (the job waits "publishing" while the loop drives every other job; on_delivery
 * completes it), (2) record the outcome in the ledger, (3) tell the offset tracker, and store the
 * offset it allows (Kafka's committed offset means "everything before is done", so a job that
 * finishes before an earlier one of the same partition only advances the tracker). A crash
 * anywhere before (3) redelivers the message; every stage is idempotent, so the redo is
 * invisible.
 */
#include "worker.h"

#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "creds.h"
#include "endpoint.h"
#include "kafka.h"
#include "kstats.h"
#include "ledger.h"
#include "log.h"
#include "msg.h"
#include "offsets.h"
#include "pg.h"
#include "signals.h"
#include "worker_console.h"
#include "worker_metrics.h"

#define DEFAULT_MAX_JOBS 16
#define POLL_MAX_MS 200
#define AWS_SLEEP_BUDGET_MS 250
/* Longest consumer poll while a publish waits for its delivery report: the reports arrive on
 * the producer's queue, which the consumer's poll does not wake for. */
#define PUBLISH_POLL_MS 10
/* Longest wait on a stage's own sockets (stage.h io_fd) while they are busy: Kafka is polled
 * without waiting then, so a message or delivery report waits at most this long. */
#define IO_WAIT_MAX_MS 20
/* Longest wait on revoke and on stop for output already on its way (settle). */
#define SETTLE_MS 5000
#define TOPIC_LEN 256
/* librdkafka's statistics (group state, consumer lag) arrive this often at most: often
 * enough for /readyz's HEALTH_READY_TIMEOUT, rare enough to cost nothing. */
#define STATS_MAX_MS 5000

typedef enum wj_phase {
    WJ_BEGIN,   /* ledger stage_begin, then start() */
    WJ_ACTIVE,  /* start()ed: step() when due */
    WJ_BACKOFF, /* RETRY: waiting to begin again */
    WJ_FINISH,  /* DONE/FAILED: publish, record, store */
    WJ_DLQ      /* bad input: dead-letter, store */
} wj_phase;

/* A job and the runtime's bookkeeping around it. `job` must stay the first member:
 * sl_worker_job_status gets the sl_job pointer back to its wjob. */
typedef struct wjob {
    sl_job job;
    wj_phase phase;
    sl_step_result result;     /* DONE or FAILED in WJ_FINISH */
    int started;               /* start() called and job_cleanup() still owed */
    int published;             /* (1) done: the delivery report said durable */
    uint64_t pub_ticket;       /* (1) in flight ("publishing"): the message's ticket, else 0 */
    long long pub_deadline_ms; /* stop waiting for that report then (PUBLISH_TIMEOUT) */
    const char *pub_topic;     /* what is in flight, for the log (borrowed: w's topic names) */
    const char *pub_type;
    int recorded;     /* (2) done */
    long long due_ms; /* when BEGIN/BACKOFF/FINISH/DLQ may act next */
    int tries;        /* bookkeeping tries, for their backoff */
    char *topic;
    unsigned char *key;
    size_t keylen;
    char *raw; /* the input bytes, NUL-terminated */
    size_t rawlen;
    char reason[512]; /* WJ_DLQ */
    char ledger_status[16];
    char ledger_task_id[64];
    int fence;       /* the ledger attempt our begin got: every ledger write carries it */
    int fenced;      /* a later begin owns the ledger row: drop the job, publish nothing */
    long long t0_ms; /* accepted (snaplake_stage_duration_seconds) */
} wjob;

struct sl_worker {
    sl_worker_cfg cfg;
    const sl_stage *stage;
    void *ctx;
    int ctx_ready;
    long long default_max_jobs;
    long long max_jobs;
    sl_creds_provider *creds;
    sl_aws *aws;
    sl_pg_link pg; /* the ledger's connection; sl_worker_pg heals it */
    sl_kafka_producer *prod;
    sl_kafka_consumer *cons;
    sl_offsets *offsets;
    char group[TOPIC_LEN];
    char in_topic[TOPIC_LEN], out_topic[TOPIC_LEN], fail_topic[TOPIC_LEN], dlq_topic[TOPIC_LEN];
    char in_topic2[TOPIC_LEN]; /* stage->in_topic2, else "" */
    char app_name[64];
    wjob **jobs;
    size_t njobs, capjobs;
    rd_kafka_message_t **held; /* messages that arrived while full, in arrival order */
    size_t nheld, capheld;
    int paused;
    int fatal;
    char fatal_err[SL_ERRLEN];
    sl_endpoint *ep; /* METRICS_ADDR: /metrics, /healthz, /readyz */
    sl_wmetrics wm;
    long long pg_probe_ms; /* last PostgreSQL round trip for /readyz */
    sl_wconsole con;       /* owner, heartbeat, messages for the console (worker_console.h) */
    int con_ready;
};

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

/* A stage that reports the pipeline's reports (stage.h, SL_STAGE_REPORTER): no ledger rows, no
 * failure messages of its own, no dead letters of the dlq topic back into it. */
static int reporter(const sl_worker *w)
{
    return (w->stage->flags & SL_STAGE_REPORTER) != 0;
}

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
    return w->max_jobs;
}

void sl_worker_count_alert(sl_worker *w, const char *event, const char *label)
{
    sl_wmetrics_alert(&w->wm, event, label);
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

static long long bk_delay(const sl_worker *w, int tries)
{
    return sl_worker_backoff_ms(w->cfg.retry_base_ms,
                                w->cfg.retry_max_ms < 30000 ? w->cfg.retry_max_ms : 30000,
                                tries < 1 ? 1 : tries, sl_random_u64());
}

static void log_job(sl_log_level lvl, const wjob *j, const char *event, const char *fmt, ...)
    SL_PRINTF(4, 5);

static void log_job(sl_log_level lvl, const wjob *j, const char *event, const char *fmt, ...)
{
    char msg[1536], part[16], off[32], att[16];
    va_list ap;
    const char *kv[] = {"event",
                        event,
                        "topic",
                        j->topic,
                        "partition",
                        part,
                        "offset",
                        off,
                        "attempt",
                        att,
                        "export_task_id",
                        j->job.export_task_id[0] ? j->job.export_task_id : NULL,
                        NULL};

    if (!sl_log_enabled(lvl))
        return;
    snprintf(part, sizeof(part), "%d", (int)j->job.partition);
    snprintf(off, sizeof(off), "%lld", (long long)j->job.offset);
    snprintf(att, sizeof(att), "%d", j->job.attempt);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sl_log_kv(lvl, &j->job.log, kv, "%s", msg);
}

/* ---- jobs --------------------------------------------------------------------------------- */

static void wjob_free(sl_worker *w, wjob *j)
{
    if (!j)
        return;
    if (j->started && w->stage->job_cleanup)
        w->stage->job_cleanup(w, w->ctx, &j->job);
    j->started = 0;
    sl_msg_cleanup(&j->job.in);
    sl_msg_cleanup(&j->job.out);
    free(j->topic);
    free(j->key);
    free(j->raw);
    free(j);
}

static void job_remove_at(sl_worker *w, size_t i)
{
    wjob_free(w, w->jobs[i]);
    memmove(&w->jobs[i], &w->jobs[i + 1], (w->njobs - i - 1) * sizeof(*w->jobs));
    w->njobs--;
}

static void job_cleanup_once(sl_worker *w, wjob *j)
{
    if (j->started && w->stage->job_cleanup)
        w->stage->job_cleanup(w, w->ctx, &j->job);
    j->started = 0;
    j->job.state = NULL;
}

void sl_worker_job_status(sl_worker *w, sl_job *job, const char *status_in)
{
    wjob *j = (wjob *)job;
    char err[SL_ERRLEN], status[sizeof(j->ledger_status)];
    PGconn *pg;
    const char *tid = job->export_task_id[0] ? job->export_task_id : NULL;
    int rc = 0;

    /* A copy first: the runtime passes j->ledger_status itself to record the same status
     * again with a new task id, and snprintf onto its own source is undefined (glibc left the
     * remembered status empty and logged "event":""). */
    snprintf(status, sizeof(status), "%s", status_in);
    if (!job->in.run_id || j->fenced || reporter(w))
        return;
    if (strcmp(j->ledger_status, status) == 0 &&
        strcmp(j->ledger_task_id, job->export_task_id) == 0)
        return;
    char *ids = sl_wconsole_aws_ids(job);
    if (!(pg = sl_worker_pg(w)) ||
        (rc = sl_ledger_stage_update(pg, job->in.run_id, w->stage->name, j->fence, status, tid,
                                     job->export_generation, ids, NULL, err, sizeof(err)))) {
        free(ids);
        if (rc == SL_LEDGER_FENCED) {
            j->fenced = 1; /* run_jobs drops the job after this step */
            return;
        }
        log_job(SL_LOG_WARN, j, "ledger_error", "ledger status %s not recorded: %s", status,
                pg ? err : "no connection");
        return;
    }
    free(ids);
    snprintf(j->ledger_status, sizeof(j->ledger_status), "%s", status);
    snprintf(j->ledger_task_id, sizeof(j->ledger_task_id), "%s", job->export_task_id);
    log_job(SL_LOG_INFO, j, status, "stage %s", status);
}

/* The texts a finished job hands to the failure message and the ledger, made valid UTF-8
 * (see sl_worker_utf8_repair: a cut inside a character would make the ledger refuse the
 * final write on every retry). */
static void repair_texts(sl_job *job)
{
    (void)sl_worker_utf8_repair(job->error_code);
    (void)sl_worker_utf8_repair(job->error_message);
    (void)sl_worker_utf8_repair(job->aws_request_id);
    (void)sl_worker_utf8_repair(job->export_task_id);
}

/*
 * Non-zero when err (sl_pg_exec's text, which ends with "(SQLSTATE xxxxx)" when the server
 * answered) says the server refused the statement because of the data it was given: class 22
 * data exception (a date like 2024-02-30, bad UTF-8), 23 integrity constraint violation, 54
 * program limit exceeded (a value too large for a btree index row). PostgreSQL Appendix A.
 * Retrying such a write can never succeed; connection failures carry no SQLSTATE (or class
 * 08/57) and serialization failures class 40, so those are still retried.
 */
static int ledger_refused_data(const char *err)
{
    const char *p = strstr(err, "(SQLSTATE ");

    if (!p)
        return 0;
    p += strlen("(SQLSTATE ");
    return strncmp(p, "22", 2) == 0 || strncmp(p, "23", 2) == 0 || strncmp(p, "54", 2) == 0;
}

/* Interprets a start()/step() result. */
static void on_result(sl_worker *w, wjob *j, sl_step_result r)
{
    long long now = sl_mono_ms();

    switch (r) {
    case SL_STEP_PENDING:
        if (j->job.export_task_id[0] && strcmp(j->ledger_task_id, j->job.export_task_id) != 0)
            sl_worker_job_status(w, &j->job,
                                 j->ledger_status[0] ? j->ledger_status : SL_LEDGER_RUNNING);
        if (j->job.next_step_ms < now)
            j->job.next_step_ms = now;
        return;
    case SL_STEP_DONE:
    case SL_STEP_FAILED:
        job_cleanup_once(w, j);
        if (r == SL_STEP_FAILED && !j->job.error_code[0])
            snprintf(j->job.error_code, sizeof(j->job.error_code), "StageFailed");
        repair_texts(&j->job);
        j->phase = WJ_FINISH;
        j->result = r;
        j->due_ms = now;
        j->tries = 0;
        log_job(r == SL_STEP_DONE ? SL_LOG_INFO : SL_LOG_WARN, j,
                r == SL_STEP_DONE ? "done" : "failed", "%s%s%s",
                r == SL_STEP_DONE ? "stage done" : j->job.error_code, r == SL_STEP_DONE ? "" : ": ",
                r == SL_STEP_DONE ? "" : j->job.error_message);
        return;
    case SL_STEP_RETRY:
    default:
        job_cleanup_once(w, j);
        if (!j->job.error_code[0])
            snprintf(j->job.error_code, sizeof(j->job.error_code), "TransientError");
        if (j->job.attempt >= w->cfg.max_attempts) {
            size_t n = strlen(j->job.error_message);
            snprintf(j->job.error_message + n, sizeof(j->job.error_message) - n,
                     " (gave up after %d attempts)", j->job.attempt);
            repair_texts(&j->job);
            j->phase = WJ_FINISH;
            j->result = SL_STEP_FAILED;
            j->due_ms = now;
            j->tries = 0;
            log_job(SL_LOG_WARN, j, "failed", "%s: %s", j->job.error_code, j->job.error_message);
            return;
        }
        j->phase = WJ_BACKOFF;
        j->due_ms =
            now + sl_worker_retry_delay_ms(w->cfg.retry_base_ms, w->cfg.retry_max_ms,
                                           j->job.attempt, j->job.retry_after_ms, sl_random_u64());
        log_job(SL_LOG_WARN, j, "retry", "transient failure, retrying: %s: %s", j->job.error_code,
                j->job.error_message);
        return;
    }
}

static void begin(sl_worker *w, wjob *j)
{
    char err[SL_ERRLEN];
    int ledger_attempt = 0;

    PGconn *pg = reporter(w) ? NULL : sl_worker_pg(w);

    if (!reporter(w) && (!pg || sl_ledger_stage_begin(pg, &j->job.in, w->stage->name,
                                                      &ledger_attempt, err, sizeof(err)))) {
        if (pg && ledger_refused_data(err)) {
            /* A poison message: the ledger will refuse it on every retry, and an endless
             * retry would hold a job slot and the partition's committed offset forever. */
            snprintf(j->reason, sizeof(j->reason), "the run ledger refuses this message: %.440s",
                     err);
            (void)sl_worker_utf8_repair(j->reason);
            j->phase = WJ_DLQ;
            j->tries = 0;
            j->due_ms = sl_mono_ms();
            log_job(SL_LOG_WARN, j, "dead_letter", "%s", j->reason);
            return;
        }
        j->tries++;
        j->due_ms = sl_mono_ms() + bk_delay(w, j->tries);
        log_job(SL_LOG_WARN, j, "ledger_error", "ledger begin failed, will retry: %s",
                pg ? err : "no connection");
        return;
    }
    j->tries = 0;
    sl_wconsole_claim(&w->con, pg, &j->job, ledger_attempt, j->raw);
    j->fence = ledger_attempt; /* every later ledger write carries it (ledger.h, fencing) */
    j->fenced = 0;
    j->job.export_generation = 0;
    snprintf(j->ledger_status, sizeof(j->ledger_status), "%s", SL_LEDGER_RUNNING);
    j->ledger_task_id[0] = '\0';
    sl_msg_cleanup(&j->job.out);
    sl_msg_init(&j->job.out);
    j->job.error_code[0] = j->job.error_message[0] = j->job.aws_request_id[0] = '\0';
    j->job.retry_after_ms = 0;
    j->job.next_step_ms = sl_mono_ms();
    j->job.state = NULL;
    j->phase = WJ_ACTIVE;
    j->started = 1;
    {
        char la[16];
        const char *kv[] = {"event", "start", "ledger_attempt", la, NULL};
        snprintf(la, sizeof(la), "%d", ledger_attempt);
        sl_log_kv(SL_LOG_INFO, &j->job.log, kv, "stage started (attempt %d)", j->job.attempt);
    }
    on_result(w, j, w->stage->start(w, w->ctx, &j->job));
}

/* Builds the failure message of a FAILED job into *f. */
static int failure_msg(sl_worker *w, wjob *j, sl_msg *f, char *err, size_t errlen)
{
    char now[32];

    sl_msg_init(f);
    f->type = SL_MSG_FAILURE;
    if (sl_msg_format_time(sl_now_ms(), now, sizeof(now)))
        return sl_seterr(err, errlen, "failure message: clock out of range");
    f->run_id = sl_strdup0(j->job.in.run_id);
    f->cluster = sl_strdup0(j->job.in.cluster);
    f->stage = sl_strdup0(w->stage->name);
    f->error_code = sl_strdup0(j->job.error_code);
    f->error_message =
        sl_strdup0(j->job.error_message[0] ? j->job.error_message : j->job.error_code);
    f->aws_request_id = j->job.aws_request_id[0] ? sl_strdup0(j->job.aws_request_id) : NULL;
    /* Later stages know the export task from their input: the failure names it too. */
    f->export_task_id = j->job.export_task_id[0] ? sl_strdup0(j->job.export_task_id)
                                                 : sl_strdup0(j->job.in.export_task_id);
    f->attempt = j->job.attempt;
    f->failed_at = sl_strdup0(now);
    f->input_json = sl_strdup0(j->raw);
    if (!f->run_id || !f->cluster || !f->stage || !f->error_code || !f->error_message ||
        !f->failed_at || !f->input_json) {
        sl_msg_cleanup(f);
        return sl_seterr(err, errlen, "failure message: out of memory");
    }
    return 0;
}

static int dead_letter_msg(wjob *j, sl_msg *d, char *err, size_t errlen)
{
    /* A dead letter carries at most SL_MSG_MAX_BYTES / 2 of key and of payload
       (docs/messages.md): an oversize input (the very reason it is here) is cut, and the
       reason says so, or sl_msg_encode would refuse it and the input would vanish. */
    size_t cap = SL_MSG_MAX_BYTES / 2;
    size_t keep = j->rawlen < cap ? j->rawlen : cap, kkeep = j->keylen < cap ? j->keylen : cap;

    sl_msg_init(d);
    d->type = SL_MSG_DEAD_LETTER;
    if (keep < j->rawlen || (j->key && kkeep < j->keylen)) {
        const char *r = j->reason;
        size_t n = strlen(r) + 96;
        if ((d->reason = malloc(n)))
            snprintf(d->reason, n, "%s (key and payload cut to their first %zu bytes)", r, cap);
    } else {
        d->reason = sl_strdup0(j->reason);
    }
    d->topic = sl_strdup0(j->topic);
    d->partition = j->job.partition;
    d->offset = j->job.offset;
    if (j->key) {
        d->key = malloc(kkeep ? kkeep : 1);
        if (d->key) {
            memcpy(d->key, j->key, kkeep);
            d->key_len = kkeep;
        }
    }
    d->payload = malloc(keep ? keep : 1);
    if (d->payload) {
        memcpy(d->payload, j->raw, keep);
        d->payload_len = keep;
    }
    if (!d->reason || !d->topic || !d->payload || (j->key && !d->key)) {
        sl_msg_cleanup(d);
        return sl_seterr(err, errlen, "dead letter: out of memory");
    }
    return 0;
}

/* (1) of the bookkeeping. Returns 0 when there is nothing (more) to publish, 1 when the
 * message is enqueued and its delivery report is awaited (j->pub_ticket), -1 to retry later. */
static int publish(sl_worker *w, wjob *j)
{
    sl_msg fm;
    const sl_msg *m;
    const char *topic;
    char *text = NULL, err[SL_ERRLEN];
    size_t len = 0;
    const char *key = NULL;
    size_t keylen = 0;
    int rc = -1, enc, cut = 0;

    sl_msg_init(&fm);
    if (j->phase == WJ_DLQ) {
        if (dead_letter_msg(j, &fm, err, sizeof(err)))
            goto out;
        m = &fm;
        topic = w->dlq_topic;
        key = (const char *)j->key;
        keylen = j->keylen;
    } else if (j->result == SL_STEP_DONE && w->stage->out_topic && j->job.out.type != SL_MSG_NONE) {
        m = &j->job.out;
        topic = w->out_topic;
    } else if (j->result == SL_STEP_DONE || reporter(w)) {
        /* last stage, or an output of SL_MSG_NONE (stage.h), or a reporter's failure (its
         * stage logged and counted it): nothing to publish */
        rc = 0;
        goto out;
    } else {
        if (failure_msg(w, j, &fm, err, sizeof(err)))
            goto out;
        m = &fm;
        topic = w->fail_topic;
    }
    if (j->phase != WJ_DLQ && j->job.in.cluster) {
        key = j->job.in.cluster;
        keylen = strlen(key);
    }
    enc = sl_msg_encode(m, &text, &len, err, sizeof(err));
    /* A dead letter whose payload grows past SL_MSG_MAX_BYTES as JSON (control characters
       are written \u00XX, six bytes each) is cut further until it fits, and says so: the
       input must reach the dead-letter topic, not vanish. */
    while (enc && j->phase == WJ_DLQ && (fm.payload_len > 1 || fm.key_len > 1)) {
        if (!cut) {
            size_t n = strlen(fm.reason) + 64;
            char *r = malloc(n);
            if (r) {
                snprintf(r, n, "%s (payload cut to fit the dead-letter topic)", fm.reason);
                free(fm.reason);
                fm.reason = r;
            }
            cut = 1;
        }
        fm.payload_len /= 2;
        fm.key_len /= 2;
        enc = sl_msg_encode(m, &text, &len, err, sizeof(err));
    }
    if (enc) {
        if (j->phase == WJ_FINISH && j->result == SL_STEP_DONE) {
            /* The stage built an output the next stage could not read: a permanent fault of
             * this run, reported as a failure rather than retried forever. */
            j->result = SL_STEP_FAILED;
            snprintf(j->job.error_code, sizeof(j->job.error_code), "InvalidOutput");
            snprintf(j->job.error_message, sizeof(j->job.error_message), "%s", err);
            log_job(SL_LOG_ERROR, j, "failed", "output does not encode: %s", err);
        } else {
            /* A failure or dead letter that cannot be encoded cannot be published at all:
             * log everything and move on so one poison message cannot stall the partition. */
            log_job(SL_LOG_ERROR, j, "unpublishable", "cannot encode %s message: %s",
                    sl_msg_type_name(m->type), err);
            rc = 0;
        }
        goto out;
    }
    {
        rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
        uint64_t ticket = 0;
        /* Enqueued, not waited for: the delivery report arrives through on_delivery while
         * the loop keeps driving every other job. */
        if (sl_kafka_produce_async(w->prod, topic, RD_KAFKA_PARTITION_UA, key, keylen, text, len,
                                   NULL, 0, &ticket, &code, err, sizeof(err))) {
            log_job(SL_LOG_WARN, j, "publish_error", "publish to %s failed, will retry: %s", topic,
                    err);
            goto out;
        }
        j->pub_ticket = ticket;
        j->pub_deadline_ms = sl_mono_ms() + w->cfg.topics.publish_timeout_ms;
        j->pub_topic = topic;
        j->pub_type = sl_msg_type_name(m->type);
        log_job(SL_LOG_DEBUG, j, "publishing", "publishing %s to %s", j->pub_type, topic);
    }
    rc = 1;
out:
    free(text);
    sl_msg_cleanup(&fm);
    return rc;
}

/* (2) of the bookkeeping. */
static int record(sl_worker *w, wjob *j)
{
    char err[SL_ERRLEN];
    int ok = j->result == SL_STEP_DONE, rc = 0;
    char *ids = NULL, *details = NULL;
    PGconn *pg;

    if (j->phase == WJ_DLQ || reporter(w))
        return 0;
    ids = sl_wconsole_aws_ids(&j->job);
    details = sl_wconsole_details(&j->job, ok);
    if (!(pg = sl_worker_pg(w)) ||
        (rc =
             sl_ledger_stage_finish(pg, j->job.in.run_id, w->stage->name, j->fence,
                                    ok ? SL_LEDGER_SUCCEEDED : SL_LEDGER_FAILED,
                                    ok ? NULL : j->job.error_code, ok ? NULL : j->job.error_message,
                                    j->job.export_task_id[0] ? j->job.export_task_id : NULL,
                                    j->job.export_generation, ids, details, err, sizeof(err)))) {
        free(ids);
        free(details);
        if (rc == SL_LEDGER_FENCED) {
            j->fenced = 1;
            return -1;
        }
        log_job(SL_LOG_WARN, j, "ledger_error", "ledger finish failed, will retry: %s",
                pg ? err : "no connection");
        return -1;
    }
    free(ids);
    free(details);
    if (ok)
        sl_wconsole_output(pg, w->stage->name, &j->job, j->fence);
    return 0;
}

/*
 * A job whose ledger row a later begin took (ledger.h, fencing): the new owner does the run,
 * so this one stops without publishing or writing the ledger. Its offset is still marked done
 * in our tracker (the message is handled, by the fence holder): a worker that kept the
 * partition (the run was replayed in another group) must not stall every later offset of
 * it, and a zombie that lost the partition cannot store or commit it anyway.
 */
static void drop_fenced(sl_worker *w, wjob *j)
{
    char err[SL_ERRLEN];
    int64_t pos;

    job_cleanup_once(w, j);
    sl_wmetrics_finished(&w->wm, "fenced_out", (double)(sl_mono_ms() - j->t0_ms) / 1000.0);
    log_job(SL_LOG_WARN, j, "fenced_out",
            "another consumer began this stage again (ledger fence %d is stale): job dropped, "
            "nothing published",
            j->fence);
    pos = sl_offsets_done(w->offsets, j->topic, j->job.partition, j->job.offset);
    if (pos >= 0 && sl_kafka_consumer_store_offset(w->cons, j->topic, j->job.partition, pos - 1,
                                                   err, sizeof(err)))
        log_job(SL_LOG_INFO, j, "store_error", "offset %lld not stored: %s", (long long)pos, err);
}

/* The metrics of a job whose outcome is committed (README "Metrics and health"). */
static void count_finished(sl_worker *w, wjob *j)
{
    const char *const st[] = {w->stage->name, NULL};
    const char *outcome = j->phase == WJ_DLQ          ? "dead_letter"
                          : j->result == SL_STEP_DONE ? "done"
                                                      : "failed";

    sl_wmetrics_finished(&w->wm, outcome, (double)(sl_mono_ms() - j->t0_ms) / 1000.0);
    if (j->phase == WJ_DLQ)
        (void)sl_metrics_add(w->wm.dead_letters, st, 1);
    else if (j->result != SL_STEP_DONE && !reporter(w))
        (void)sl_metrics_add(w->wm.failures, st, 1);
    else if (j->job.out.type == SL_MSG_COPIED) {
        (void)sl_metrics_add(w->wm.copy_objects, NULL, (double)j->job.out.objects);
        (void)sl_metrics_add(w->wm.copy_bytes, NULL, (double)j->job.out.bytes);
    }
}

/* (3): returns 1 when the job is over and may be removed. */
static int finish(sl_worker *w, wjob *j)
{
    char err[SL_ERRLEN];
    int64_t pos;

    if (!j->published && j->pub_ticket) {
        if (sl_mono_ms() < j->pub_deadline_ms)
            return 0; /* publishing: on_delivery makes the job due again */
        log_job(SL_LOG_WARN, j, "publish_error",
                "publish to %s: no delivery report within %lld ms (not known durable), will "
                "retry",
                j->pub_topic, w->cfg.topics.publish_timeout_ms);
        j->pub_ticket = 0; /* a late report for it finds no job */
        goto later;
    }
    if (!j->published) {
        int rc;
        /* A stale owner must not publish over the new owner's result: check the fence first
         * (the final ledger write is fenced again, for the moment in between). */
        if (j->phase != WJ_DLQ && !j->fenced && !reporter(w)) {
            PGconn *pg = sl_worker_pg(w);
            int frc = pg ? sl_ledger_stage_check(pg, j->job.in.run_id, w->stage->name, j->fence,
                                                 err, sizeof(err))
                         : -1;
            if (frc == SL_LEDGER_FENCED)
                j->fenced = 1;
            else if (frc) {
                log_job(SL_LOG_WARN, j, "ledger_error", "ledger fence check failed, will retry: %s",
                        pg ? err : "no connection");
                goto later;
            }
        }
        if (j->fenced)
            goto fenced;
        rc = publish(w, j);
        if (rc < 0)
            goto later;
        if (rc == 1) {
            j->due_ms = j->pub_deadline_ms;
            return 0;
        }
        j->published = 1;
    }
    if (!j->recorded) {
        if (record(w, j)) {
            if (j->fenced)
                goto fenced;
            goto later;
        }
        j->recorded = 1;
    }
    pos = sl_offsets_done(w->offsets, j->topic, j->job.partition, j->job.offset);
    if (pos >= 0 && sl_kafka_consumer_store_offset(w->cons, j->topic, j->job.partition, pos - 1,
                                                   err, sizeof(err)))
        log_job(SL_LOG_WARN, j, "store_error", "offset %lld not stored: %s", (long long)pos, err);
    log_job(SL_LOG_INFO, j, "committed", "%s", j->phase == WJ_DLQ ? "dead-lettered" : "finished");
    count_finished(w, j);
    return 1;
fenced:
    drop_fenced(w, j);
    return 1;
later:
    j->tries++;
    j->due_ms = sl_mono_ms() + bk_delay(w, j->tries);
    return 0;
}

/*
 * Delivery-report hook (kafka.h), called from sl_kafka_producer_poll in the loop: completes (1)
 * of the job whose message it reports, so (2) and (3) follow on its next turn, in that order.
 * A report for a job that is gone (revoked, stopped, or its wait timed out) is dropped: that
 * input is redone, and redoing is idempotent.
 */
static void on_delivery(sl_kafka_producer *p, uint64_t ticket, rd_kafka_resp_err_t e, void *ud)
{
    sl_worker *w = ud;

    (void)p;
    for (size_t i = 0; i < w->njobs; i++) {
        wjob *j = w->jobs[i];
        if (j->pub_ticket != ticket)
            continue;
        j->pub_ticket = 0;
        if (e) {
            j->tries++;
            j->due_ms = sl_mono_ms() + bk_delay(w, j->tries);
            log_job(SL_LOG_WARN, j, "publish_error",
                    "publish to %s failed, will retry: delivery failed: %s (%s)", j->pub_topic,
                    rd_kafka_err2str(e), rd_kafka_err2name(e));
            return;
        }
        j->published = 1;
        j->due_ms = sl_mono_ms();
        log_job(SL_LOG_INFO, j, "published", "published %s to %s", j->pub_type, j->pub_topic);
        return;
    }
    sl_debug(NULL, "delivery report for a job no longer here (%s)", rd_kafka_err2name(e));
}

/*
 * Finishes, for up to budget_ms, the bookkeeping of the jobs whose output is already on its way
 * (publishing, or published and not yet recorded and stored), of topic/partition or of every
 * partition when topic is NULL: serves delivery reports and runs (2) and (3) as they become
 * due. On revoke and on stop: the message is out, and dropping the job now would make the
 * next owner publish it again. Jobs still unsettled at the deadline are left to the caller
 * (dropped: the redo is idempotent).
 */
static void settle(sl_worker *w, const char *topic, int32_t partition, long long budget_ms)
{
    long long deadline = sl_mono_ms() + budget_ms;

    for (;;) {
        int left = 0;

        (void)sl_kafka_producer_poll(w->prod, 0);
        for (size_t i = 0; i < w->njobs;) {
            wjob *j = w->jobs[i];
            int ours = !topic || (j->job.partition == partition && strcmp(j->topic, topic) == 0);

            if (!ours || !(j->pub_ticket || j->published)) {
                i++;
                continue;
            }
            if (sl_mono_ms() >= j->due_ms && finish(w, j)) {
                job_remove_at(w, i);
                continue;
            }
            left++;
            i++;
        }
        if (!left || sl_mono_ms() >= deadline)
            return;
        (void)sl_kafka_producer_poll(w->prod, 20);
    }
}

/* Non-zero while some job waits for a delivery report. */
static int publishing(const sl_worker *w)
{
    for (size_t i = 0; i < w->njobs; i++)
        if (w->jobs[i]->pub_ticket)
            return 1;
    return 0;
}

/* Drives every due job once. */
static void run_jobs(sl_worker *w)
{
    for (size_t i = 0; i < w->njobs && !sl_should_stop();) {
        wjob *j = w->jobs[i];
        long long now = sl_mono_ms();
        int over = 0;

        switch (j->phase) {
        case WJ_BEGIN:
        case WJ_BACKOFF:
            if (now >= j->due_ms) {
                if (j->phase == WJ_BACKOFF)
                    j->job.attempt++;
                j->phase = WJ_BEGIN;
                begin(w, j);
            }
            break;
        case WJ_ACTIVE:
            if (now >= j->job.next_step_ms)
                on_result(w, j, w->stage->step(w, w->ctx, &j->job));
            break;
        case WJ_FINISH:
        case WJ_DLQ:
            break;
        }
        if (j->fenced) { /* a ledger write of start()/step() was refused */
            drop_fenced(w, j);
            over = 1;
        }
        if (!over && (j->phase == WJ_FINISH || j->phase == WJ_DLQ) && sl_mono_ms() >= j->due_ms)
            over = finish(w, j);
        if (over)
            job_remove_at(w, i);
        else
            i++;
    }
}

static long long next_due(const sl_worker *w)
{
    long long due = sl_mono_ms() + POLL_MAX_MS;

    for (size_t i = 0; i < w->njobs; i++) {
        const wjob *j = w->jobs[i];
        long long d = j->phase == WJ_ACTIVE ? j->job.next_step_ms : j->due_ms;
        if (d < due)
            due = d;
    }
    return due;
}

/* Turns a consumed message into a job. Takes ownership of m. */
static void accept_message(sl_worker *w, rd_kafka_message_t *m)
{
    wjob *j = calloc(1, sizeof(*j));
    const char *topic = rd_kafka_topic_name(m->rkt);
    char err[SL_ERRLEN];
    void **grown;
    sl_msg_type want;

    if (!j)
        goto oom;
    sl_msg_init(&j->job.in);
    sl_msg_init(&j->job.out);
    j->topic = sl_strdup0(topic);
    j->raw = malloc(m->len + 1);
    if (!j->topic || !j->raw)
        goto oom;
    if (m->len)
        memcpy(j->raw, m->payload, m->len);
    j->raw[m->len] = '\0';
    j->rawlen = m->len;
    if (m->key) {
        j->key = malloc(m->key_len ? m->key_len : 1);
        if (!j->key)
            goto oom;
        memcpy(j->key, m->key, m->key_len);
        j->keylen = m->key_len;
    }
    j->t0_ms = sl_mono_ms();
    j->job.topic = j->topic;
    j->job.partition = m->partition;
    j->job.offset = m->offset;
    j->job.attempt = 1;
    j->job.log.stage = w->stage->name;
    if (w->njobs == w->capjobs) {
        size_t ncap = w->capjobs ? w->capjobs * 2 : 16;
        grown = realloc(w->jobs, ncap * sizeof(*w->jobs));
        if (!grown)
            goto oom;
        w->jobs = (wjob **)grown;
        w->capjobs = ncap;
    }
    if (sl_offsets_add(w->offsets, topic, m->partition, m->offset, err, sizeof(err))) {
        /* Offsets arrive in order per partition; refusing one means our tracking broke, and
         * going on could store an offset past unprocessed work. Stop and let the group
         * redeliver from the committed offset. */
        snprintf(w->fatal_err, sizeof(w->fatal_err), "offset tracker: %.480s", err);
        w->fatal = 1;
        wjob_free(w, j);
        rd_kafka_message_destroy(m);
        return;
    }
    want = w->in_topic2[0] && strcmp(topic, w->in_topic2) == 0 ? w->stage->in_type2
                                                               : w->stage->in_type;
    if (sl_msg_decode(j->raw, j->rawlen, &j->job.in, err, sizeof(err))) {
        snprintf(j->reason, sizeof(j->reason), "undecodable message: %.480s", err);
        j->phase = WJ_DLQ;
    } else if (j->job.in.type != want) {
        snprintf(j->reason, sizeof(j->reason),
                 "unexpected message type %s on %s (stage %s wants %s)",
                 sl_msg_type_name(j->job.in.type) ? sl_msg_type_name(j->job.in.type) : "?", topic,
                 w->stage->name, sl_msg_type_name(want));
        j->phase = WJ_DLQ;
    } else {
        j->job.log.run_id = j->job.in.run_id;
        j->job.log.cluster = j->job.in.cluster;
        j->phase = WJ_BEGIN;
    }
    if (j->phase == WJ_DLQ && reporter(w) && strcmp(topic, w->dlq_topic) == 0) {
        /* Dead-lettering a bad dead letter into dlq would read it back forever: the reporter
         * gets it as a job of its own (stage.h, SL_STAGE_REPORTER). */
        sl_msg_cleanup(&j->job.in);
        sl_msg_init(&j->job.in);
        j->job.bad_input = j->reason;
        j->job.raw = j->raw;
        j->job.rawlen = j->rawlen;
        j->phase = WJ_BEGIN;
        log_job(SL_LOG_WARN, j, "bad_input", "%s (handed to the stage, not dead-lettered)",
                j->reason);
    }
    j->due_ms = sl_mono_ms();
    w->jobs[w->njobs++] = j;
    if (j->phase == WJ_DLQ)
        log_job(SL_LOG_WARN, j, "dead_letter", "%s", j->reason);
    else
        log_job(SL_LOG_INFO, j, "received", "message received");
    rd_kafka_message_destroy(m);
    return;
oom:
    /* Not stored, not tracked: the message is simply redelivered after a restart. */
    snprintf(w->fatal_err, sizeof(w->fatal_err), "out of memory taking a message");
    w->fatal = 1;
    wjob_free(w, j);
    rd_kafka_message_destroy(m);
}

static int full(const sl_worker *w)
{
    return (long long)w->njobs >= w->max_jobs;
}

static void hold_message(sl_worker *w, rd_kafka_message_t *m)
{
    if (w->nheld == w->capheld) {
        size_t ncap = w->capheld ? w->capheld * 2 : 8;
        rd_kafka_message_t **p = realloc(w->held, ncap * sizeof(*p));
        if (!p) {
            snprintf(w->fatal_err, sizeof(w->fatal_err), "out of memory holding a message");
            w->fatal = 1;
            rd_kafka_message_destroy(m);
            return;
        }
        w->held = p;
        w->capheld = ncap;
    }
    w->held[w->nheld++] = m;
}

/* Pauses (or resumes) every assigned partition of the input topic. */
static void set_paused(sl_worker *w, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_resp_err_t e = rd_kafka_assignment(sl_kafka_consumer_handle(w->cons), &parts);
    char err[SL_ERRLEN];

    if (e) {
        sl_warn(NULL, "assignment query failed: %s", rd_kafka_err2str(e));
        return;
    }
    for (int i = 0; i < parts->cnt; i++) {
        const rd_kafka_topic_partition_t *p = &parts->elems[i];
        int rc = pause
                     ? sl_kafka_consumer_pause(w->cons, p->topic, p->partition, err, sizeof(err))
                     : sl_kafka_consumer_resume(w->cons, p->topic, p->partition, err, sizeof(err));
        if (rc)
            sl_warn(NULL, "%s %s[%d] failed: %s", pause ? "pause" : "resume", p->topic,
                    (int)p->partition, err);
    }
    if (parts->cnt)
        sl_debug(NULL, "%s %d partitions (%zu jobs, %zu held)", pause ? "paused" : "resumed",
                 parts->cnt, w->njobs, w->nheld);
    rd_kafka_topic_partition_list_destroy(parts);
    w->paused = pause;
}

static void update_pause(sl_worker *w)
{
    int want = full(w) || w->nheld > 0;

    if (want != w->paused)
        set_paused(w, want);
}

static void feed_held(sl_worker *w)
{
    while (w->nheld > 0 && !full(w) && !w->fatal) {
        rd_kafka_message_t *m = w->held[0];
        memmove(&w->held[0], &w->held[1], (w->nheld - 1) * sizeof(*w->held));
        w->nheld--;
        accept_message(w, m);
    }
}

/* Eager rebalance hook (kafka.h): re-pause after an assignment, drop revoked work. */
static void on_rebalance(sl_kafka_consumer *c, int assigned,
                         const rd_kafka_topic_partition_list_t *parts, void *ud)
{
    sl_worker *w = ud;
    char err[SL_ERRLEN];

    if (assigned) {
        int want = full(w) || w->nheld > 0;

        /* Every assigned partition is set explicitly to the state the worker wants, never left
         * to what the client kept from before the rebalance: a partition that came back paused
         * while w->paused said otherwise would never be fetched again (update_pause only acts
         * on a change of the wanted state). */
        sl_info(NULL, "assigned %d partitions", parts->cnt);
        sl_endpoint_kafka_ok(w->ep); /* the group is joined (/readyz) */
        for (int i = 0; i < parts->cnt; i++) {
            const char *t = parts->elems[i].topic;
            int32_t p = parts->elems[i].partition;
            if (want ? sl_kafka_consumer_pause(c, t, p, err, sizeof(err))
                     : sl_kafka_consumer_resume(c, t, p, err, sizeof(err)))
                sl_warn(NULL, "%s %s[%d] after assign failed: %s", want ? "pause" : "resume", t,
                        (int)p, err);
        }
        w->paused = want;
        return;
    }
    sl_info(NULL, "revoking %d partitions", parts->cnt);
    for (int k = 0; k < parts->cnt; k++) {
        const char *t = parts->elems[k].topic;
        int32_t p = parts->elems[k].partition;

        /* Output already on its way is settled first (stored offsets are committed right
         * after this hook); the next owner restarts from the committed offset and redoes the
         * other jobs; every stage is idempotent (an export adopts its task by id). */
        settle(w, t, p, SETTLE_MS);
        for (size_t i = 0; i < w->njobs;) {
            if (w->jobs[i]->job.partition == p && strcmp(w->jobs[i]->topic, t) == 0) {
                log_job(SL_LOG_INFO, w->jobs[i], "revoked", "partition revoked, job dropped");
                job_remove_at(w, i);
            } else {
                i++;
            }
        }
        for (size_t i = 0; i < w->nheld;) {
            rd_kafka_message_t *m = w->held[i];
            if (m->partition == p && strcmp(rd_kafka_topic_name(m->rkt), t) == 0) {
                rd_kafka_message_destroy(m);
                memmove(&w->held[i], &w->held[i + 1], (w->nheld - i - 1) * sizeof(*w->held));
                w->nheld--;
            } else {
                i++;
            }
        }
        sl_offsets_forget(w->offsets, t, p);
    }
    /* kafka.c resumes the revoked partitions once this returns (eager: the whole assignment
     * goes), so nothing stays paused and the next assign sets each partition explicitly. */
    w->paused = 0;
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

/* Validates a stage's table without knowing its struct: a scratch buffer big enough for the
 * largest field offset plus the widest field type. */
static int check_stage_cfg(const sl_stage *s, char *err, size_t errlen)
{
    size_t size = 0;
    void *scratch;
    int rc;

    for (size_t i = 0; i < s->ncfg_opts; i++)
        if (s->cfg_opts[i].offset + sizeof(long long) > size)
            size = s->cfg_opts[i].offset + sizeof(long long);
    if (size == 0)
        return 0;
    scratch = calloc(1, size);
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

static void append_err(char *err, size_t errlen, const char *more)
{
    size_t n = strlen(err);
    if (more[0])
        snprintf(err + n, errlen - n, "%s%s", n ? "\n" : "", more);
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
        append_err(err, errlen, e1);
    if (!stage_name)
        stage_name = w->cfg.stage ? w->cfg.stage : getenv("WORKER_STAGE");
    w->stage = sl_worker_find_stage(stage_name);
    if (!w->stage) {
        snprintf(e2, sizeof(e2), "unknown or missing stage \"%s\" (see --help)",
                 stage_name ? stage_name : "");
        append_err(err, errlen, e2);
        ok = 0;
    } else if (check_stage_cfg(w->stage, e2, sizeof(e2))) {
        append_err(err, errlen, e2);
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
    append_err(err, errlen, e1);
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
    snprintf(w->group, sizeof(w->group), "%s", w->cfg.group_id ? w->cfg.group_id : w->app_name);
    /* The endpoint first, so probes answer (not ready) while the rest connects. */
    if (sl_endpoint_new(&w->ep, &w->cfg.ep, 0, perr, sizeof(perr)) ||
        sl_wmetrics_init(&w->wm, sl_endpoint_metrics(w->ep), w->stage->name)) {
        sl_seterr(err, errlen, "metrics endpoint: %s", w->ep ? "out of memory" : perr);
        goto fail;
    }
    if (reporter(w))
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
    {
        sl_creds_opts co;
        memset(&co, 0, sizeof(co));
        w->creds = sl_creds_chain_new(&co, &w->cfg.aws, perr, sizeof(perr));
        if (!w->creds) {
            sl_seterr(err, errlen, "credentials: %s", perr);
            goto fail;
        }
        w->aws = sl_aws_new(&w->cfg.aws, sl_creds_signer(w->creds), perr, sizeof(perr));
        if (!w->aws) {
            sl_seterr(err, errlen, "aws client: %s", perr);
            goto fail;
        }
        sl_aws_set_observer(w->aws, sl_wmetrics_aws, &w->wm);
    }
    sl_pg_link_init(&w->pg, w->app_name, &w->cfg.pg);
    if (sl_pg_ensure(&w->pg, NULL, perr, sizeof(perr))) {
        sl_seterr(err, errlen, "postgres: %s", perr);
        goto fail;
    }
    if (sl_ledger_migrate(w->pg.conn, perr, sizeof(perr))) {
        sl_seterr(err, errlen, "ledger migrations: %s", perr);
        goto fail;
    }
    if (sl_wconsole_init(&w->con, w, w->pg.conn, w->cfg.heartbeat_ms, err, errlen))
        goto fail;
    w->con_ready = 1;
    sl_endpoint_pg_ok(w->ep);
    w->pg_probe_ms = sl_mono_ms();
    if (w->cfg.topics.create &&
        sl_kafka_create_pipeline_topics(&w->cfg.topics, NULL, perr, sizeof(perr))) {
        sl_seterr(err, errlen, "creating topics: %s", perr);
        goto fail;
    }
    {
        const char *props[] = {"client.id", w->app_name, NULL};
        const char *const topics[] = {w->in_topic, w->in_topic2};
        if (sl_kafka_producer_new(&w->prod, props, NULL, perr, sizeof(perr))) {
            sl_seterr(err, errlen, "kafka producer: %s", perr);
            goto fail;
        }
        sl_kafka_producer_set_report_hook(w->prod, on_delivery, w);
        if (w->stage->init(w, &w->ctx, perr, sizeof(perr))) {
            sl_seterr(err, errlen, "stage %s: %s", w->stage->name, perr);
            goto fail;
        }
        w->ctx_ready = 1;
        w->max_jobs = w->cfg.max_jobs > 0 ? w->cfg.max_jobs : w->default_max_jobs;
        w->offsets = sl_offsets_new((size_t)w->max_jobs + 1);
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
        sl_kafka_consumer_set_rebalance_hook(w->cons, on_rebalance, w);
        sl_kafka_consumer_set_stats_hook(w->cons, on_stats, w);
        if (sl_kafka_consumer_subscribe(w->cons, topics, w->in_topic2[0] ? 2 : 1, perr,
                                        sizeof(perr))) {
            sl_seterr(err, errlen, "subscribe %s %s: %s", w->in_topic, w->in_topic2, perr);
            goto fail;
        }
    }
    {
        char mj[24];
        const char *kv[] = {"in_topic",  w->in_topic,
                            "in_topic2", w->in_topic2[0] ? w->in_topic2 : NULL,
                            "out_topic", w->stage->out_topic ? w->out_topic : NULL,
                            "group",     w->group,
                            "max_jobs",  mj,
                            NULL};
        snprintf(mj, sizeof(mj), "%lld", w->max_jobs);
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
        feed_held(w);
        update_pause(w);
        if (w->stage->tick)
            w->stage->tick(w, w->ctx);
        wait = next_due(w) - sl_mono_ms();
        if (wait < 0)
            wait = 0;
        if (wait > POLL_MAX_MS)
            wait = POLL_MAX_MS;
        if (wait > PUBLISH_POLL_MS && publishing(w))
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
            if (full(w) || w->nheld > 0)
                hold_message(w, m);
            else
                accept_message(w, m);
        }
        (void)sl_kafka_producer_poll(w->prod, 0); /* delivery reports: on_delivery */
        if (w->stage->io)
            w->stage->io(w, w->ctx);
        run_jobs(w);
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
        settle(w, NULL, -1, SETTLE_MS);
    sl_info(NULL, "stopping: abandoning %zu jobs", w->njobs);
    while (w->njobs)
        job_remove_at(w, w->njobs - 1);
    for (size_t i = 0; i < w->nheld; i++)
        rd_kafka_message_destroy(w->held[i]);
    w->nheld = 0;
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
        job_remove_at(w, w->njobs - 1);
    free(w->jobs);
    for (size_t i = 0; i < w->nheld; i++)
        rd_kafka_message_destroy(w->held[i]);
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
