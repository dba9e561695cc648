/*
 * stage.h - the contract between the worker runtime (worker.c) and a pipeline stage
 * (export.c, copy.c, crawl.c, ...).
 *
 * The runtime owns everything that is the same for every stage: the Kafka consumer and
 * producer, decoding the input (bad input -> dead-letter topic with the reason), the in-order
 * offset tracker, the run ledger writes, publishing the output or the failure message,
 * retries with backoff for transient errors, pausing partitions when the stage is full, and
 * shutdown. A stage only says how one job moves forward.
 *
 * A job is one input message. Jobs are driven as small non-blocking steps from the single
 * worker thread, so one worker runs many jobs at once (several exports, thousands of copies)
 * while it keeps polling Kafka and stays in its consumer group:
 *
 *   start(job)  once, after the runtime wrote "running" to the ledger;
 *   step(job)   again whenever sl_mono_ms() >= job->next_step_ms, until it returns DONE or
 *               FAILED (or RETRY, after which the runtime calls start() again later).
 *
 * Each call should return within a few hundred milliseconds (an AWS call or two, or one turn
 * of a curl multi loop); waiting is expressed by setting job->next_step_ms, never by sleeping.
 *
 * Results:
 *   SL_STEP_PENDING  not finished; call step() again at job->next_step_ms.
 *   SL_STEP_DONE     job->out holds the output message (the stage filled it, usually
 *                    sl_msg_copy of job->in plus its own fields); the runtime publishes it,
 *                    records success in the ledger, then stores the offset. An output left
 *                    of type SL_MSG_NONE is not published (the job succeeded with nothing
 *                    to hand on, e.g. a superseded copy).
 *   SL_STEP_FAILED   permanent failure: job->error_code / job->error_message (and
 *                    job->aws_request_id when AWS answered) say why; the runtime publishes a
 *                    failure message, records it, stores the offset (the run is over until an
 *                    operator redoes it by replaying).
 *   SL_STEP_RETRY    transient failure (throttling beyond the client's own retries, a
 *                    network outage): the runtime calls job_cleanup, waits a backoff with
 *                    jitter and calls start() again with job->attempt + 1; after
 *                    STAGE_MAX_ATTEMPTS attempts it turns into FAILED.
 */
#ifndef SL_STAGE_H
#define SL_STAGE_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "aws_http.h"
#include "config.h"
#include "log.h"
#include "msg.h"
#include "util.h"

struct sl_worker;

typedef enum sl_step_result {
    SL_STEP_PENDING = 0,
    SL_STEP_DONE,
    SL_STEP_FAILED,
    SL_STEP_RETRY
} sl_step_result;

typedef struct sl_job {
    /* Set by the runtime before start(); read-only for the stage. */
    sl_msg in;         /* decoded input; owned by the job */
    const char *topic; /* input topic (borrowed from the runtime) */
    int32_t partition;
    int64_t offset;
    int attempt;    /* 1 on the first start() */
    sl_log_ctx log; /* run_id, cluster, stage: pass to sl_log_kv */
    /* SL_STAGE_REPORTER only: why the runtime could not take this input (an undecodable
       message on the dlq topic itself), with the raw bytes; NULL/0 otherwise. job->in is then
       of type SL_MSG_NONE. Borrowed from the runtime for the job's life. */
    const char *bad_input;
    const char *raw;
    size_t rawlen;

    /* Filled by the stage. */
    sl_msg out;             /* output message on DONE (initialised by the runtime) */
    long long next_step_ms; /* monotonic ms when step() is due; the runtime clamps to >= now */
    char error_code[128];   /* on FAILED/RETRY: AWS's code or our own (e.g. "ExportFailed") */
    char error_message[1024];
    char aws_request_id[128];
    long long retry_after_ms; /* on RETRY: wait at least this long (AWS's skipped backoff) */
    char export_task_id[64];  /* AWS id the ledger should record as soon as it is known */
    int export_generation;    /* its generation (ids.h), recorded with it; 0 = none/unknown */
    void *state;              /* stage-private; freed by job_cleanup */
} sl_job;

#define SL_STAGE_REPORTER 1u

typedef struct sl_stage {
    const char *name;      /* "export", "copy", "crawl": ledger stage, log stage, group */
    const char *in_topic;  /* SL_KAFKA_TOPIC_* stage name, prefixed by the runtime */
    sl_msg_type in_type;   /* other message types on the input topic go to the dead letters */
    const char *out_topic; /* NULL for the last stage */
    /* Optional second input topic and the type read there (the notify stage reads both
       failures and dlq); NULL = the stage has one input topic. */
    const char *in_topic2;
    sl_msg_type in_type2;
    /*
     * SL_STAGE_REPORTER: the stage reports the pipeline's own reports (failures, dead letters)
     * and owns no run, so the runtime (1) writes no ledger row for its jobs (the run's row is
     * the failed stage's), (2) publishes nothing when a job FAILS (a failure message about a
     * failed alert would come back as an alert, and fail again), and (3) hands a bad input on
     * the dlq topic itself to start() as job->bad_input instead of dead-lettering it into dlq
     * again (a loop). A bad input on its other topic is dead-lettered as usual, and comes back
     * through dlq. Stored offsets follow the usual rule: only after DONE or FAILED.
     */
    unsigned flags;

    /* The stage's own settings (e.g. EXPORT_TASK_LIMIT), loaded by init() into a struct of
       its own with sl_config_load; the runtime prints them with --help after its own. */
    const sl_cfg_opt *cfg_opts;
    size_t ncfg_opts;
    /* sizeof that struct: the configuration check (before anything connects) loads the
       table into a scratch struct of this size. Required when ncfg_opts > 0. */
    size_t cfg_size;

    /* Creates the stage context from the worker (config, AWS client, PG conninfo). */
    int (*init)(struct sl_worker *w, void **ctx, char *err, size_t errlen);
    sl_step_result (*start)(struct sl_worker *w, void *ctx, sl_job *job);
    sl_step_result (*step)(struct sl_worker *w, void *ctx, sl_job *job);
    /* Frees job->state (and releases anything the job holds, such as an export slot).
       Called exactly once per start(), whatever the outcome, also on shutdown/revoke. */
    void (*job_cleanup)(struct sl_worker *w, void *ctx, sl_job *job);
    /* Optional: called once per loop turn (e.g. to refresh shared state). May be NULL. */
    void (*tick)(struct sl_worker *w, void *ctx);
    /* Optional (both or neither): a stage that drives its own sockets (copy's xsched) gives
       the loop an fd to wait on for reading beside Kafka, and *due_ms, the monotonic ms by
       which io() must run (-1 = none); io() runs after each wait of the loop, never blocks,
       and brings a job's next_step_ms forward when it has something for step(). */
    int (*io_fd)(void *ctx, long long *due_ms);
    void (*io)(struct sl_worker *w, void *ctx);
    void (*cleanup)(struct sl_worker *w, void *ctx);
    /* Optional: checks what the table cannot (the share policy file), given the stage's table
       loaded into a scratch struct; appends every error to err and returns -1, else 0. Runs
       with the configuration checks, so a bad value exits 2 before anything connects. */
    int (*check)(const void *cfg, char *err, size_t errlen);
} sl_stage;

/*
 * The failure helpers every stage uses. static inline (like sl_worker_retry_delay_ms) so a unit
 * test reaches them without linking the worker's objects.
 */

/*
 * Permanent failure: sets job->error_code to `code` and job->error_message to the printf-style
 * message (both truncated to their fields), leaves job->aws_request_id alone, and returns
 * SL_STEP_FAILED so a stage can `return sl_job_fail(job, "BadInput", "...", ...);`.
 */
static inline sl_step_result sl_job_fail(sl_job *job, const char *code, const char *fmt, ...)
    SL_PRINTF(3, 4);
static inline sl_step_result sl_job_fail(sl_job *job, const char *code, const char *fmt, ...)
{
    va_list ap;

    snprintf(job->error_code, sizeof(job->error_code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(job->error_message, sizeof(job->error_message), fmt, ap);
    va_end(ap);
    return SL_STEP_FAILED;
}

/*
 * An AWS error the job cannot work around: job->error_code is AWS's code ("AwsError" if
 * empty), job->error_message is "<what>: <AWS's message>" (just the message when what is
 * NULL), job->aws_request_id is AWS's request id. Returns SL_STEP_RETRY when e->transient
 * (the runtime backs off and counts attempts), else SL_STEP_FAILED. e is only read.
 * job->retry_after_ms takes e->retry_after_ms: a worker's AWS call that stopped short of its
 * own retries rather than sleep in the loop (aws_http.h max_sleep_ms) hands the sleep it
 * skipped to the runtime, whose backoff is then never shorter than what AWS was owed.
 */
static inline sl_step_result sl_job_fail_aws(sl_job *job, const char *what, const sl_aws_error *e)
{
    snprintf(job->error_code, sizeof(job->error_code), "%s", e->code[0] ? e->code : "AwsError");
    if (what)
        snprintf(job->error_message, sizeof(job->error_message), "%s: %s", what, e->message);
    else
        snprintf(job->error_message, sizeof(job->error_message), "%s", e->message);
    snprintf(job->aws_request_id, sizeof(job->aws_request_id), "%s", e->request_id);
    job->retry_after_ms = e->retry_after_ms;
    return e->transient ? SL_STEP_RETRY : SL_STEP_FAILED;
}

/*
 * The retry budget of one step that a job repeats (a poll): counts CONSECUTIVE transient
 * failures, and progress (a success) resets it. A budget counted over the job's whole life
 * would fail an eight-hour export that AWS is still completing after five unrelated blips.
 * Call with failed = 0 after a success, 1 after a transient failure; returns 1 when the
 * failures in a row reached max_attempts (give up), else 0 (try again; *consecutive is the
 * retry number to back off by). Pure.
 */
static inline int sl_stage_retry_note(int *consecutive, int failed, long long max_attempts)
{
    if (!failed) {
        *consecutive = 0;
        return 0;
    }
    if (*consecutive < 1000000)
        (*consecutive)++;
    return (long long)*consecutive >= max_attempts;
}

/* The stages, each defined in its own file. */
extern const sl_stage sl_stage_export;
extern const sl_stage sl_stage_copy;
extern const sl_stage sl_stage_crawl;
extern const sl_stage sl_stage_share;
extern const sl_stage sl_stage_notify;

#endif /* SL_STAGE_H */
