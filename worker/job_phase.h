/*
 * job_phase.h - the phases a job of the worker runtime goes through, their names, and which
 * moves between them are possible. Pure (no I/O): worker_job.c's sl_worker_job_set_phase is the
 * one place that changes a phase, and it asks sl_job_phase_allowed first; tests/unit/
 * test_job_phase.c checks the table.
 *
 *   NEW -> BEGIN -> RUNNING -> PUBLISH -> PUBLISHING -> RECORDING -> COMMITTING -> DONE
 *            ^        |          ^  |         |
 *            |        v          |  +---------|--> RECORDING (nothing to publish)
 *        RETRY_WAIT <-+          +------------+    (delivery failed or timed out: again)
 *
 *   NEW -> PUBLISH            an undecodable or unexpected input: a dead letter
 *   BEGIN -> PUBLISH          the ledger refuses the input's data: a dead letter
 *   any but DONE -> DROPPED   fenced out, partition revoked, worker stopping
 */
#ifndef SL_JOB_PHASE_H
#define SL_JOB_PHASE_H

typedef enum sl_job_phase {
    SL_JP_NEW = 0,    /* taken from Kafka, not yet classified */
    SL_JP_BEGIN,      /* due to write the ledger's begin, then call start() */
    SL_JP_RUNNING,    /* start()ed: step() when job.next_step_ms is due */
    SL_JP_RETRY_WAIT, /* a transient failure: waiting out the backoff to begin again */
    SL_JP_PUBLISH,    /* the outcome is known: fence check, then enqueue its message */
    SL_JP_PUBLISHING, /* enqueued: waiting for the delivery report */
    SL_JP_RECORDING,  /* published (or nothing to publish): the ledger's final write */
    SL_JP_COMMITTING, /* recorded: tell the offset tracker and store the offset */
    SL_JP_DONE,       /* committed; the job is removed */
    SL_JP_DROPPED,    /* left without an outcome (fenced, revoked, stopping): the next owner
                         or the fence holder does it */
    SL_JP_COUNT
} sl_job_phase;

/* How a job ended, decided when it leaves RUNNING (or when it becomes a dead letter). */
typedef enum sl_job_outcome {
    SL_JOB_UNDECIDED = 0,
    SL_JOB_SUCCEEDED,  /* step() said DONE: publish job.out */
    SL_JOB_FAILED,     /* FAILED, or RETRY past STAGE_MAX_ATTEMPTS: publish a failure */
    SL_JOB_DEAD_LETTER /* bad input: publish a dead letter, no ledger row */
} sl_job_outcome;

/* The phase's name ("running", ...); "?" for a value out of range. Never NULL. */
const char *sl_job_phase_name(sl_job_phase p);

/* Non-zero when a job may move from `from` to `to` (the diagram above). */
int sl_job_phase_allowed(sl_job_phase from, sl_job_phase to);

#endif /* SL_JOB_PHASE_H */
