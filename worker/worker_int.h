/*
 * worker_int.h - what the runtime's own files share (worker.c: config, bring-up, loop and
 * shutdown; worker_job.c: a job's phases and its start/step; worker_intake.c: accept, hold,
 * pause, rebalance; worker_outcome.c: publish, record, store the offset). Private to the
 * runtime: stages see worker.h and stage.h only.
 *
 * Ownership: the sl_worker owns every wjob in w->jobs (freed with job_remove_at) and every
 * message in w->held (rd_kafka_message_destroy). A wjob owns its copies of the input's
 * topic, key and bytes, and job.in / job.out.
 */
#ifndef SL_WORKER_INT_H
#define SL_WORKER_INT_H

#include "creds.h"
#include "job_phase.h"
#include "offsets.h"
#include "worker.h"
#include "worker_console.h"
#include "worker_metrics.h"

#define DEFAULT_MAX_JOBS 16
#define POLL_MAX_MS 200
#define AWS_SLEEP_BUDGET_MS 250
/* Longest consumer poll while a publish waits for its delivery report: the reports arrive on
 * the producer's queue, which the consumer's poll does not wake for. */
#define PUBLISH_POLL_MS 10
/* Longest wait on revoke and on stop for output already on its way (settle). */
#define SETTLE_MS 5000
#define TOPIC_LEN 256
/* librdkafka's statistics (group state, consumer lag) arrive this often at most: often
 * enough for /readyz's HEALTH_READY_TIMEOUT, rare enough to cost nothing. */
#define STATS_MAX_MS 5000

/* A job and the runtime's bookkeeping around it. `job` must stay the first member:
 * sl_worker_job_status gets the sl_job pointer back to its wjob. */
typedef struct wjob {
    sl_job job;
    sl_job_phase phase;        /* changed only by sl_worker_job_set_phase (worker_job.c) */
    sl_job_outcome outcome;    /* set when the job leaves SL_JP_RUNNING (or on a dead letter) */
    int started;               /* start() called and job_cleanup() still owed */
    uint64_t pub_ticket;       /* SL_JP_PUBLISHING: the message's ticket, else 0 */
    long long pub_deadline_ms; /* stop waiting for that report then (PUBLISH_TIMEOUT) */
    const char *pub_topic;     /* what is in flight, for the log (borrowed: w's topic names) */
    const char *pub_type;
    long long due_ms; /* when a phase other than RUNNING may act next */
    int tries;        /* bookkeeping tries, for their backoff */
    char *topic;
    unsigned char *key;
    size_t keylen;
    char *raw; /* the input bytes, NUL-terminated */
    size_t rawlen;
    char reason[512]; /* SL_JOB_DEAD_LETTER: why */
    char ledger_status[16];
    char ledger_task_id[64];
    int fence;       /* the ledger attempt our begin got: every ledger write carries it */
    int fenced;      /* a later begin owns the ledger row: drop the job, publish nothing */
    long long t0_ms; /* accepted (snaplake_stage_duration_seconds) */
    /* The hop's timing, in monotonic us (set_phase keeps them): accepted, the current phase's
     * start, the first entry into RUNNING and the last exit from it, and the sum of the time
     * spent in RUNNING (the stage's own work: its AWS calls and waits). The "published" log
     * line reports them (sl_worker_log_hop). */
    long long t0_us, phase_us, run_first_us, run_last_us, run_us;
} wjob;

struct sl_worker {
    sl_worker_cfg cfg;
    const sl_stage *stage;
    void *ctx;
    int ctx_ready;
    long long default_max_jobs;
    long long open_files; /* RLIMIT_NOFILE after sl_nofile_raise at start; -1 unknown */
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

/* ---- worker_job.c: phases, logging, start/step ------------------------------------------ */

/* A stage that reports the pipeline's reports (stage.h, SL_STAGE_REPORTER): no ledger rows, no
 * failure messages of its own, no dead letters of the dlq topic back into it. */
static inline int sl_worker_reporter(const sl_worker *w)
{
    return (w->stage->flags & SL_STAGE_REPORTER) != 0;
}

/*
 * The one place a job's phase changes (curl's multistate(), PgBouncer's
 * change_client_state()): logs the old and the new phase by name at debug level. A move that
 * job_phase.c's table does not allow is a bug of the runtime: it is logged as an error and
 * counted (snaplake_job_phase_errors_total), then made anyway, since refusing it would leave
 * the job half moved.
 */
void sl_worker_job_set_phase(sl_worker *w, wjob *j, sl_job_phase to);

/* One log line about j (its topic, partition, offset, attempt, export task id). */
void sl_worker_log_job(sl_log_level lvl, const wjob *j, const char *event, const char *fmt, ...)
    SL_PRINTF(4, 5);

/*
 * The "published" line (event "published", info): its message is on the broker now. It also
 * gives the hop's timing in ms: hop_ms from the job's acceptance (its input consumed) to this
 * delivery report, stage_ms spent in RUNNING (the stage's own work, AWS calls included),
 * overhead_ms = hop_ms - stage_ms (the runtime's share: ledger, Kafka, the loop), and its two
 * parts before_ms (accepted -> first RUNNING) and after_ms (last RUNNING -> delivered).
 */
void sl_worker_log_hop(const wjob *j);

/* Removes w->jobs[i] (job_cleanup if owed), freeing it. */
void sl_worker_job_remove_at(sl_worker *w, size_t i);

/* Calls the stage's job_cleanup if start() ran and it is still owed. */
void sl_worker_job_cleanup_once(sl_worker *w, wjob *j);

/* Frees j (job_cleanup if owed). NULL is a no-op. */
void sl_worker_job_free(sl_worker *w, wjob *j);

/* The bookkeeping backoff (ledger, publish): full jitter from STAGE_RETRY_BASE, at most 30 s. */
long long sl_worker_bk_delay(const sl_worker *w, int tries);

/* Drives every due job once (begin, start, step, then the outcome path). */
void sl_worker_run_jobs(sl_worker *w);

/* The earliest monotonic ms some job is due (at most POLL_MAX_MS from now). */
long long sl_worker_next_due(const sl_worker *w);

/* ---- worker_intake.c: accept, hold, pause, rebalance ------------------------------------ */

/* Non-zero when WORKER_MAX_JOBS jobs exist. */
int sl_worker_full(const sl_worker *w);

/* A consumed message: a job now, or held while full (or while older messages wait). Takes
 * ownership of m. */
void sl_worker_intake(sl_worker *w, rd_kafka_message_t *m);

/* Once a turn: held messages into free job slots, then pause or resume the assignment. */
void sl_worker_intake_turn(sl_worker *w);

/* Destroys every held message. */
void sl_worker_intake_drop_held(sl_worker *w);

/* Eager rebalance hook (kafka.h): re-pause after an assignment, settle and drop revoked work. */
void sl_worker_on_rebalance(sl_kafka_consumer *c, int assigned,
                            const rd_kafka_topic_partition_list_t *parts, void *ud);

/* ---- worker_outcome.c: publish, record, store the offset -------------------------------- */

/*
 * Advances a job in the outcome phases (PUBLISH, PUBLISHING, RECORDING, COMMITTING) by what is
 * due now. Returns 1 when the job is over (committed or dropped) and may be removed, else 0
 * (j->due_ms says when to come back).
 */
int sl_worker_outcome_advance(sl_worker *w, wjob *j);

/* Drops a job whose ledger row a later begin took (ledger.h fencing): nothing published. */
void sl_worker_drop_fenced(sl_worker *w, wjob *j);

/* Delivery-report hook (kafka.h) for the worker's producer (ud = the worker). */
void sl_worker_on_delivery(sl_kafka_producer *p, uint64_t ticket, rd_kafka_resp_err_t e, void *ud);

/* Finishes, for up to budget_ms, the outcome of the jobs whose output is already on its way,
 * of topic/partition (topic NULL = every partition). */
void sl_worker_settle(sl_worker *w, const char *topic, int32_t partition, long long budget_ms);

/* Non-zero while some job waits for a delivery report. */
int sl_worker_publishing(const sl_worker *w);

#endif /* SL_WORKER_INT_H */
