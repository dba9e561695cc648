/*
 * worker.h - the worker runtime: one binary, `snaplake-worker <stage>`, that runs any pipeline
 * stage (stage.h) on a Kafka group consumer, with the run ledger in PostgreSQL.
 *
 * main() reads the runtime's config table and the stage's (sl_worker_new), runs the loop until
 * SIGTERM/SIGINT (sl_worker_run), and tears down (sl_worker_free). The runtime does for every
 * stage what stage.h lists: decode (bad input -> `dlq`), in-order offsets, ledger writes before
 * offsets are stored, publishing output / failure messages, retries with backoff, pausing
 * partitions while WORKER_MAX_JOBS jobs are in flight, rebalances and shutdown.
 *
 * The accessors below are what a stage may use from its init/start/step/job_cleanup hooks.
 * Everything they return is borrowed from the worker and lives until sl_worker_free.
 */
#ifndef SL_WORKER_H
#define SL_WORKER_H

#include <stddef.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "aws_http.h"
#include "backoff.h"
#include "config.h"
#include "endpoint.h"
#include "kafka.h"
#include "pg.h"
#include "stage.h"
#include "util.h"

/* The runtime's own settings (its config table; --help prints it). */
typedef struct sl_worker_cfg {
    char *log_level;            /* LOG_LEVEL */
    char *stage;                /* WORKER_STAGE (the command-line argument wins) */
    char *group_id;             /* KAFKA_GROUP_ID; NULL = "snaplake-<stage>" */
    long long max_jobs;         /* WORKER_MAX_JOBS; 0 = the stage's default */
    long long max_attempts;     /* STAGE_MAX_ATTEMPTS */
    long long retry_base_ms;    /* STAGE_RETRY_BASE */
    long long retry_max_ms;     /* STAGE_RETRY_MAX */
    sl_kafka_topic_opts topics; /* KAFKA_TOPIC_PREFIX, SL_CREATE_TOPICS, TOPIC_*, PUBLISH_TIMEOUT */
    char *database_url;         /* DATABASE_URL (else libpq's PG* environment) */
    sl_pg_opts pg;              /* PG_STATEMENT_TIMEOUT, PG_LOCK_TIMEOUT */
    sl_aws_opts aws;            /* AWS_* rows (SL_AWS_CFG_OPTS) */
    sl_endpoint_opts ep;        /* METRICS_ADDR, HEALTH_* (SL_ENDPOINT_CFG_OPTS) */
    long long heartbeat_ms;     /* WORKER_HEARTBEAT (worker_console.h) */
} sl_worker_cfg;

typedef struct sl_worker sl_worker;

/* The stages this binary knows (worker/stages.c): NULL-terminated. Each stage's file adds
 * itself there. */
extern const sl_stage *const sl_worker_stages[];

/* The stage named `name` from sl_worker_stages, or NULL. */
const sl_stage *sl_worker_find_stage(const char *name);

/* Prints usage, the runtime's config table, then every known stage's table. */
void sl_worker_help(FILE *out, const char *prog);

/*
 * Builds a worker for `stage_name` (NULL = WORKER_STAGE from the environment): loads and
 * validates both config tables (all errors at once), initialises logging, builds the
 * credentials chain and AWS client, connects to PostgreSQL and applies the ledger migrations,
 * creates the topics when SL_CREATE_TOPICS is set, creates the producer and the consumer
 * (subscribed to <prefix><in_topic>), and calls the stage's init(). Returns the worker (free
 * with sl_worker_free), or NULL with err saying everything that was wrong.
 */
sl_worker *sl_worker_new(const char *stage_name, char *err, size_t errlen);

/*
 * What sl_worker_new checks of the configuration, alone: both tables, the value checks and
 * the KAFKA_* properties, before anything connects. Returns 0, or -1 with every error in err
 * (main exits 2 on it: a configuration error, not a failure to start).
 */
int sl_worker_config_check(const char *stage_name, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Runs the loop until the stop flag (signals.h) is set or the consumer reports a fatal error,
 * then shuts down cleanly: abandons in-flight jobs (job_cleanup; their offsets stay unstored so
 * the next owner redoes them), commits stored offsets, closes the consumer, flushes the
 * producer. Returns 0 on a clean stop, -1 with err on a fatal error.
 */
int sl_worker_run(sl_worker *w, char *err, size_t errlen) SL_MUST_CHECK;

/* Calls the stage's cleanup, closes everything, frees. NULL is a no-op. */
void sl_worker_free(sl_worker *w);

/* ---- accessors for stages --------------------------------------------------------------- */

/* The AWS client (one per worker, single-threaded). */
sl_aws *sl_worker_aws(sl_worker *w);

/* The runtime's config (read-only). */
const sl_worker_cfg *sl_worker_config(const sl_worker *w);

/* The running stage's name ("export", ...). */
const char *sl_worker_stage_name(const sl_worker *w);

/*
 * The worker's main PostgreSQL connection (the ledger's), healed first (sl_pg_ensure) when it
 * broke, whoever asks. Stages may run short queries on it between steps; they must not leave
 * a transaction open or hold session locks on it (use sl_worker_pg_connect for those). NULL
 * while the server is unreachable (reconnects are rate-limited): retry the work later.
 */
PGconn *sl_worker_pg(sl_worker *w);

/*
 * Opens a new PostgreSQL connection with the worker's settings (DATABASE_URL or PG*, the
 * PG_STATEMENT_TIMEOUT / PG_LOCK_TIMEOUT bounds), e.g. an export slot that must hold a session
 * advisory lock for the export's whole life. *out is the caller's (PQfinish). application_name
 * is "snaplake-<stage>-<suffix>" (suffix may be NULL). Returns 0 or -1 with libpq's text.
 */
int sl_worker_pg_connect(sl_worker *w, const char *suffix, PGconn **out, char *err,
                         size_t errlen) SL_MUST_CHECK;

/*
 * Sets up *l (see pg.h's sl_pg_link) with the worker's settings and application_name
 * "snaplake-<stage>-<suffix>", without connecting: a stage's long-lived connection that heals
 * itself when the stage calls sl_pg_ensure(l, ...) before each use. The caller owns *l
 * (sl_pg_link_cleanup).
 */
void sl_worker_pg_link_init(sl_worker *w, const char *suffix, sl_pg_link *l);

/*
 * Lets a stage's init() set its default WORKER_MAX_JOBS (used only when WORKER_MAX_JOBS is
 * not set). n >= 1. The runtime's own default is 16.
 */
void sl_worker_set_default_max_jobs(sl_worker *w, long long n);

/* The effective WORKER_MAX_JOBS: WORKER_MAX_JOBS, else the stage's default (set in its init). */
long long sl_worker_max_jobs(const sl_worker *w);

/*
 * The worker's limit on open files, raised to the hard limit at start (util.h's
 * sl_nofile_raise), or -1 if unknown. Each request in flight is a socket.
 */
long long sl_worker_open_files(const sl_worker *w);

/*
 * Records a job's interim status in the ledger (SL_LEDGER_RUNNING or SL_LEDGER_WAITING) with
 * job->export_task_id when set, if it differs from the last one recorded. Failures are logged
 * and retried on the next call (an interim status is informational; the final one is not).
 */
void sl_worker_job_status(sl_worker *w, sl_job *job, const char *status);

/*
 * The export stage's view of the account's export slots, for the metrics (README "Metrics and
 * health"): slots held by every snaplake worker, EXPORT_TASK_LIMIT, foreign running exports.
 */
void sl_worker_set_export_slots(sl_worker *w, long long held, long long limit, long long foreign);

/* The copy stage cut a destination prefix's window of requests in flight (a SlowDown). */
void sl_worker_count_copy_cut(sl_worker *w);

/*
 * The notify stage's counters (README "Metrics and health"): event "posted" or "failed" with
 * label = the alert's kind ("failure", "dead_letter"), or "retry" with label = the cause
 * ("http_429", "http_5xx", "http_408", "webhook_refused", "network").
 */
void sl_worker_count_alert(sl_worker *w, const char *event, const char *label);

/* ---- pure helpers (unit-tested) --------------------------------------------------------- */

/*
 * The wait before a job's next attempt: the full-jitter backoff (backoff.h), but never shorter than
 * retry_after_ms (the backoff an AWS call skipped instead of sleeping in the loop), both capped
 * at max_ms. Pure.
 */
static inline long long sl_worker_retry_delay_ms(long long base_ms, long long max_ms, int attempt,
                                                 long long retry_after_ms, unsigned long long r)
{
    long long d = sl_backoff_ms(base_ms, max_ms, attempt, r);

    if (retry_after_ms > d)
        d = retry_after_ms;
    return max_ms > 0 && d > max_ms ? max_ms : d;
}

/*
 * Makes s (NUL-terminated, edited in place) valid UTF-8 by replacing every byte that is not
 * part of a well-formed sequence (RFC 3629: no overlongs, no surrogates, <= U+10FFFF) with '?'.
 * Why: error texts are cut to the fixed fields of sl_job (and AWS's FailureCause to its own),
 * and a cut can split a multi-byte character; PostgreSQL refuses such text (SQLSTATE 22021),
 * which would wedge the job's final ledger write, and JSON readers refuse it too. The length
 * never changes. Returns the number of bytes replaced.
 */
static inline size_t sl_worker_utf8_repair(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t fixed = 0;

    while (*p) {
        unsigned c = p[0];
        size_t n = c < 0x80                   ? 1
                   : (c >= 0xC2 && c <= 0xDF) ? 2
                   : (c >= 0xE0 && c <= 0xEF) ? 3
                   : (c >= 0xF0 && c <= 0xF4) ? 4
                                              : 0;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        size_t k;

        if (c == 0xE0)
            lo = 0xA0; /* no overlong 3-byte forms */
        else if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
        else if (c == 0xF0)
            lo = 0x90; /* no overlong 4-byte forms */
        else if (c == 0xF4)
            hi = 0x8F; /* nothing above U+10FFFF */
        for (k = 1; k < n; k++) {
            unsigned b = p[k];
            if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF))
                break; /* also stops at the terminating NUL */
        }
        if (n == 0 || k < n) {
            *p++ = '?';
            fixed++;
            continue;
        }
        p += n;
    }
    return fixed;
}

#endif /* SL_WORKER_H */
