/*
 * worker_job.c - a job's phases (job_phase.h) and how a job runs up to its outcome: the
 * ledger's begin, the stage's start() and step(), retries after a backoff. What happens once
 * the outcome is known (publish, record, store the offset) is worker_outcome.c's; how a job
 * comes to exist is worker_intake.c's.
 */
#include "worker_int.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "log.h"
#include "outcome_msg.h"
#include "signals.h"

void sl_worker_job_set_phase(sl_worker *w, wjob *j, sl_job_phase to)
{
    sl_job_phase from = j->phase;

    if (!sl_job_phase_allowed(from, to)) {
        const char *const st[] = {w->stage->name, NULL};
        sl_worker_log_job(SL_LOG_ERROR, j, "phase_error",
                          "bug: impossible job phase change %s -> %s", sl_job_phase_name(from),
                          sl_job_phase_name(to));
        (void)sl_metrics_add(w->wm.phase_errors, st, 1);
    } else if (sl_log_enabled(SL_LOG_DEBUG)) {
        sl_worker_log_job(SL_LOG_DEBUG, j, "phase", "phase %s -> %s", sl_job_phase_name(from),
                          sl_job_phase_name(to));
    }
    {
        long long now = sl_mono_us();
        if (from == SL_JP_RUNNING && to != SL_JP_RUNNING) {
            j->run_us += now - j->phase_us;
            j->run_last_us = now;
        }
        if (to == SL_JP_RUNNING && from != SL_JP_RUNNING && !j->run_first_us)
            j->run_first_us = now;
        j->phase_us = now;
    }
    j->phase = to;
}

long long sl_worker_bk_delay(const sl_worker *w, int tries)
{
    return sl_backoff_ms(w->cfg.retry_base_ms,
                         w->cfg.retry_max_ms < 30000 ? w->cfg.retry_max_ms : 30000,
                         tries < 1 ? 1 : tries, sl_random_u64());
}

/* sl_worker_log_job with extra (NULL, or name, value pairs ending in NULL) after its fields. */
static void log_job_va(sl_log_level lvl, const wjob *j, const char *event, const char *const *extra,
                       const char *fmt, va_list ap) SL_PRINTF(5, 0);
static void log_job_va(sl_log_level lvl, const wjob *j, const char *event, const char *const *extra,
                       const char *fmt, va_list ap)
{
    char msg[1536], part[16], off[32], att[16];
    const char *kv[24] = {"event",     event, "topic",          j->topic,
                          "partition", part,  "offset",         off,
                          "attempt",   att,   "export_task_id", j->job.export_task_id};
    size_t n = 12;

    if (!sl_log_enabled(lvl))
        return;
    /* A NULL value ends sl_log_kv's list: an absent task id is left out instead. */
    if (!j->job.export_task_id[0])
        n = 10;
    for (size_t i = 0; extra && extra[i] && n + 2 < SL_ARRAY_LEN(kv); i += 2) {
        kv[n++] = extra[i];
        kv[n++] = extra[i + 1];
    }
    kv[n] = NULL;
    snprintf(part, sizeof(part), "%d", (int)j->job.partition);
    snprintf(off, sizeof(off), "%lld", (long long)j->job.offset);
    snprintf(att, sizeof(att), "%d", j->job.attempt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    sl_log_kv(lvl, &j->job.log, kv, "%s", msg);
}

void sl_worker_log_job(sl_log_level lvl, const wjob *j, const char *event, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_job_va(lvl, j, event, NULL, fmt, ap);
    va_end(ap);
}

static void log_published(const wjob *j, const char *const *extra, const char *fmt, ...)
    SL_PRINTF(3, 4);
static void log_published(const wjob *j, const char *const *extra, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_job_va(SL_LOG_INFO, j, "published", extra, fmt, ap);
    va_end(ap);
}

void sl_worker_log_hop(const wjob *j)
{
    long long now = sl_mono_us();
    char hop[32], stage[32], over[32], before[32], after[32];
    const char *const kv[] = {"hop_ms",    hop,    "stage_ms", stage, "overhead_ms", over,
                              "before_ms", before, "after_ms", after, NULL};

    if (!sl_log_enabled(SL_LOG_INFO))
        return;
    snprintf(hop, sizeof(hop), "%.3f", (double)(now - j->t0_us) / 1000.0);
    snprintf(stage, sizeof(stage), "%.3f", (double)j->run_us / 1000.0);
    snprintf(over, sizeof(over), "%.3f", (double)(now - j->t0_us - j->run_us) / 1000.0);
    snprintf(before, sizeof(before), "%.3f",
             j->run_first_us ? (double)(j->run_first_us - j->t0_us) / 1000.0 : 0.0);
    snprintf(after, sizeof(after), "%.3f",
             j->run_last_us ? (double)(now - j->run_last_us) / 1000.0 : 0.0);
    log_published(j, kv, "published %s to %s", j->pub_type, j->pub_topic);
}

void sl_worker_job_free(sl_worker *w, wjob *j)
{
    if (!j)
        return;
    sl_worker_job_cleanup_once(w, j);
    sl_msg_cleanup(&j->job.in);
    sl_msg_cleanup(&j->job.out);
    free(j->topic);
    free(j->key);
    free(j->raw);
    free(j);
}

void sl_worker_job_remove_at(sl_worker *w, size_t i)
{
    sl_worker_job_free(w, w->jobs[i]);
    memmove(&w->jobs[i], &w->jobs[i + 1], (w->njobs - i - 1) * sizeof(*w->jobs));
    w->njobs--;
    /* The last job gone: hand its freed heap back to the kernel. glibc trims only a free top
       of the heap, and a few long-lived allocations made during the job (librdkafka's,
       curl's connection cache) pin it, so a 10,000-object copy plan stayed resident, ~10 MB,
       until the next job reused it. malloc_trim also releases free pages inside the heap; it
       costs a walk of the free lists, once per idle transition. */
    if (w->njobs == 0)
        (void)malloc_trim(0);
}

void sl_worker_job_cleanup_once(sl_worker *w, wjob *j)
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
    if (!job->in.run_id || j->fenced || sl_worker_reporter(w))
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
        sl_worker_log_job(SL_LOG_WARN, j, "ledger_error", "ledger status %s not recorded: %s",
                          status, pg ? err : "no connection");
        return;
    }
    free(ids);
    snprintf(j->ledger_status, sizeof(j->ledger_status), "%s", status);
    snprintf(j->ledger_task_id, sizeof(j->ledger_task_id), "%s", job->export_task_id);
    sl_worker_log_job(SL_LOG_INFO, j, status, "stage %s", status);
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

/* RUNNING -> PUBLISH with outcome o, due now. */
static void to_outcome(sl_worker *w, wjob *j, sl_job_outcome o, long long now)
{
    repair_texts(&j->job);
    j->outcome = o;
    j->due_ms = now;
    j->tries = 0;
    sl_worker_job_set_phase(w, j, SL_JP_PUBLISH);
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
        sl_worker_job_cleanup_once(w, j);
        if (r == SL_STEP_FAILED && !j->job.error_code[0])
            snprintf(j->job.error_code, sizeof(j->job.error_code), "StageFailed");
        to_outcome(w, j, r == SL_STEP_DONE ? SL_JOB_SUCCEEDED : SL_JOB_FAILED, now);
        sl_worker_log_job(
            r == SL_STEP_DONE ? SL_LOG_INFO : SL_LOG_WARN, j, r == SL_STEP_DONE ? "done" : "failed",
            "%s%s%s", r == SL_STEP_DONE ? "stage done" : j->job.error_code,
            r == SL_STEP_DONE ? "" : ": ", r == SL_STEP_DONE ? "" : j->job.error_message);
        return;
    case SL_STEP_RETRY:
    default:
        sl_worker_job_cleanup_once(w, j);
        if (!j->job.error_code[0])
            snprintf(j->job.error_code, sizeof(j->job.error_code), "TransientError");
        if (j->job.attempt >= w->cfg.max_attempts) {
            size_t n = strlen(j->job.error_message);
            snprintf(j->job.error_message + n, sizeof(j->job.error_message) - n,
                     " (gave up after %d attempts)", j->job.attempt);
            to_outcome(w, j, SL_JOB_FAILED, now);
            sl_worker_log_job(SL_LOG_WARN, j, "failed", "%s: %s", j->job.error_code,
                              j->job.error_message);
            return;
        }
        sl_worker_job_set_phase(w, j, SL_JP_RETRY_WAIT);
        j->due_ms =
            now + sl_worker_retry_delay_ms(w->cfg.retry_base_ms, w->cfg.retry_max_ms,
                                           j->job.attempt, j->job.retry_after_ms, sl_random_u64());
        sl_worker_log_job(SL_LOG_WARN, j, "retry", "transient failure, retrying: %s: %s",
                          j->job.error_code, j->job.error_message);
        return;
    }
}

/* BEGIN: the ledger's begin (fenced attempt), then start(). */
static void begin(sl_worker *w, wjob *j)
{
    char err[SL_ERRLEN];
    int ledger_attempt = 0;
    PGconn *pg = sl_worker_reporter(w) ? NULL : sl_worker_pg(w);

    if (!sl_worker_reporter(w) &&
        (!pg || sl_ledger_stage_begin(pg, &j->job.in, w->stage->name, &ledger_attempt, err,
                                      sizeof(err)))) {
        if (pg && sl_outcome_ledger_refused_data(err)) {
            /* A poison message: the ledger will refuse it on every retry, and an endless
             * retry would hold a job slot and the partition's committed offset forever. */
            snprintf(j->reason, sizeof(j->reason), "the run ledger refuses this message: %.440s",
                     err);
            (void)sl_worker_utf8_repair(j->reason);
            j->outcome = SL_JOB_DEAD_LETTER;
            j->tries = 0;
            j->due_ms = sl_mono_ms();
            sl_worker_job_set_phase(w, j, SL_JP_PUBLISH);
            sl_worker_log_job(SL_LOG_WARN, j, "dead_letter", "%s", j->reason);
            return;
        }
        j->tries++;
        j->due_ms = sl_mono_ms() + sl_worker_bk_delay(w, j->tries);
        sl_worker_log_job(SL_LOG_WARN, j, "ledger_error", "ledger begin failed, will retry: %s",
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
    sl_worker_job_set_phase(w, j, SL_JP_RUNNING);
    j->started = 1;
    {
        char la[16];
        const char *kv[] = {"event", "start", "ledger_attempt", la, NULL};
        snprintf(la, sizeof(la), "%d", ledger_attempt);
        sl_log_kv(SL_LOG_INFO, &j->job.log, kv, "stage started (attempt %d)", j->job.attempt);
    }
    on_result(w, j, w->stage->start(w, w->ctx, &j->job));
}

/* The outcome phases: worker_outcome.c drives them. */
static int in_outcome(const wjob *j)
{
    return j->phase == SL_JP_PUBLISH || j->phase == SL_JP_PUBLISHING ||
           j->phase == SL_JP_RECORDING || j->phase == SL_JP_COMMITTING;
}

void sl_worker_run_jobs(sl_worker *w)
{
    for (size_t i = 0; i < w->njobs && !sl_should_stop();) {
        wjob *j = w->jobs[i];
        long long now = sl_mono_ms();
        int over = 0;

        switch (j->phase) {
        case SL_JP_BEGIN:
            if (now >= j->due_ms)
                begin(w, j);
            break;
        case SL_JP_RETRY_WAIT:
            if (now >= j->due_ms) {
                j->job.attempt++;
                sl_worker_job_set_phase(w, j, SL_JP_BEGIN);
                begin(w, j);
            }
            break;
        case SL_JP_RUNNING:
            if (now >= j->job.next_step_ms)
                on_result(w, j, w->stage->step(w, w->ctx, &j->job));
            break;
        default:
            break;
        }
        if (j->fenced) { /* a ledger write of start()/step() was refused */
            sl_worker_drop_fenced(w, j);
            over = 1;
        }
        if (!over && in_outcome(j) && sl_mono_ms() >= j->due_ms)
            over = sl_worker_outcome_advance(w, j);
        if (over)
            sl_worker_job_remove_at(w, i);
        else
            i++;
    }
}

long long sl_worker_next_due(const sl_worker *w)
{
    long long due = sl_mono_ms() + POLL_MAX_MS;

    for (size_t i = 0; i < w->njobs; i++) {
        const wjob *j = w->jobs[i];
        long long d = j->phase == SL_JP_RUNNING ? j->job.next_step_ms : j->due_ms;
        if (d < due)
            due = d;
    }
    return due;
}
