/*
 * worker_outcome.c - the outcome path of a job whose outcome is known (job_phase.h: PUBLISH
 * -> PUBLISHING -> RECORDING -> COMMITTING -> DONE), in this order, each step retried with
 * backoff until it is durable and never skipped: (1) publish the output / failure / dead
 * letter and await its delivery report (the job waits PUBLISHING while the loop drives every
 * other job; on_delivery completes it), (2) record the outcome in the ledger, (3) tell the
 * offset tracker, and store the offset it allows (Kafka's committed offset means "everything
 * before is done", so a job that finishes before an earlier one of the same partition only
 * advances the tracker). A crash anywhere before (3) redelivers the message; every stage is
 * idempotent, so the redo is invisible. The messages themselves are built by outcome_msg.c.
 */
#include "worker_int.h"

#include <stdlib.h>
#include <string.h>

#include "ledger.h"
#include "log.h"
#include "outcome_msg.h"

/* Back to the same phase after a backoff (a bookkeeping step that did not go through). */
static int later(sl_worker *w, wjob *j)
{
    j->tries++;
    j->due_ms = sl_mono_ms() + sl_worker_bk_delay(w, j->tries);
    return 0;
}

/* (1) of the bookkeeping. Returns 0 when there is nothing (more) to publish, 1 when the
 * message is enqueued and its delivery report is awaited (j->pub_ticket), -1 to retry later. */
static int publish(sl_worker *w, wjob *j)
{
    sl_msg fm, *m;
    const char *topic;
    char *text = NULL, err[SL_ERRLEN];
    size_t len = 0;
    const char *key = NULL;
    size_t keylen = 0;
    int rc = -1;
    int dead = j->outcome == SL_JOB_DEAD_LETTER;

    sl_msg_init(&fm);
    switch (sl_outcome_pick(j->outcome, w->stage->out_topic != NULL, j->job.out.type,
                            sl_worker_reporter(w))) {
    case SL_PUB_DEAD_LETTER: {
        sl_dead_letter_src s = {j->topic,  j->job.partition, j->job.offset, j->key,
                                j->keylen, j->raw,           j->rawlen,     j->reason};
        if (sl_outcome_dead_letter_msg(&s, &fm, err, sizeof(err)))
            goto out;
        m = &fm;
        topic = w->dlq_topic;
        key = (const char *)j->key;
        keylen = j->keylen;
        break;
    }
    case SL_PUB_OUTPUT:
        m = &j->job.out;
        topic = w->out_topic;
        break;
    case SL_PUB_FAILURE:
        if (sl_outcome_failure_msg(&j->job, w->stage->name, j->raw, sl_now_ms(), &fm, err,
                                   sizeof(err)))
            goto out;
        m = &fm;
        topic = w->fail_topic;
        break;
    case SL_PUB_NOTHING:
    default:
        /* last stage, or an output of SL_MSG_NONE (stage.h), or a reporter's failure (its
         * stage logged and counted it): nothing to publish */
        rc = 0;
        goto out;
    }
    if (!dead && j->job.in.cluster) {
        key = j->job.in.cluster;
        keylen = strlen(key);
    }
    if (sl_outcome_encode(m, dead, &text, &len, err, sizeof(err))) {
        if (j->outcome == SL_JOB_SUCCEEDED) {
            /* The stage built an output the next stage could not read: a permanent fault of
             * this run, reported as a failure rather than retried forever. */
            j->outcome = SL_JOB_FAILED;
            snprintf(j->job.error_code, sizeof(j->job.error_code), "InvalidOutput");
            snprintf(j->job.error_message, sizeof(j->job.error_message), "%s", err);
            sl_worker_log_job(SL_LOG_ERROR, j, "failed", "output does not encode: %s", err);
        } else {
            /* A failure or dead letter that cannot be encoded cannot be published at all:
             * log everything and move on so one poison message cannot stall the partition. */
            sl_worker_log_job(SL_LOG_ERROR, j, "unpublishable", "cannot encode %s message: %s",
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
            sl_worker_log_job(SL_LOG_WARN, j, "publish_error",
                              "publish to %s failed, will retry: %s", topic, err);
            goto out;
        }
        j->pub_ticket = ticket;
        j->pub_deadline_ms = sl_mono_ms() + w->cfg.topics.publish_timeout_ms;
        j->pub_topic = topic;
        j->pub_type = sl_msg_type_name(m->type);
        sl_worker_log_job(SL_LOG_DEBUG, j, "publishing", "publishing %s to %s", j->pub_type, topic);
    }
    rc = 1;
out:
    free(text);
    sl_msg_cleanup(&fm);
    return rc;
}

/* (2) of the bookkeeping: 0 when recorded (or nothing to record), -1 to retry or fenced. */
static int record(sl_worker *w, wjob *j)
{
    char err[SL_ERRLEN];
    int ok = j->outcome == SL_JOB_SUCCEEDED, rc = 0;
    char *ids = NULL, *details = NULL;
    PGconn *pg;

    if (j->outcome == SL_JOB_DEAD_LETTER || sl_worker_reporter(w))
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
        sl_worker_log_job(SL_LOG_WARN, j, "ledger_error", "ledger finish failed, will retry: %s",
                          pg ? err : "no connection");
        return -1;
    }
    free(ids);
    free(details);
    if (ok)
        sl_wconsole_output(pg, w->stage->name, &j->job, j->fence);
    return 0;
}

/* Marks j's offset done in the tracker and stores what the tracker allows. */
static void store_offset(sl_worker *w, wjob *j, sl_log_level lvl)
{
    char err[SL_ERRLEN];
    int64_t pos = sl_offsets_done(w->offsets, j->topic, j->job.partition, j->job.offset);

    if (pos >= 0 && sl_kafka_consumer_store_offset(w->cons, j->topic, j->job.partition, pos - 1,
                                                   err, sizeof(err)))
        sl_worker_log_job(lvl, j, "store_error", "offset %lld not stored: %s", (long long)pos, err);
}

/*
 * A job whose ledger row a later begin took (ledger.h, fencing): the new owner does the run,
 * so this one stops without publishing or writing the ledger. Its offset is still marked done
 * in our tracker (the message is handled, by the fence holder): a worker that kept the
 * partition (the run was replayed in another group) must not stall every later offset of
 * it, and a zombie that lost the partition cannot store or commit it anyway.
 */
void sl_worker_drop_fenced(sl_worker *w, wjob *j)
{
    sl_worker_job_cleanup_once(w, j);
    sl_worker_job_set_phase(w, j, SL_JP_DROPPED);
    sl_wmetrics_finished(&w->wm, "fenced_out", (double)(sl_mono_ms() - j->t0_ms) / 1000.0);
    sl_worker_log_job(SL_LOG_WARN, j, "fenced_out",
                      "another consumer began this stage again (ledger fence %d is stale): job "
                      "dropped, nothing published",
                      j->fence);
    store_offset(w, j, SL_LOG_INFO);
}

/* The metrics of a job whose outcome is committed (README "Metrics and health"). */
static void count_committed(sl_worker *w, wjob *j)
{
    const char *const st[] = {w->stage->name, NULL};
    const char *outcome = j->outcome == SL_JOB_DEAD_LETTER ? "dead_letter"
                          : j->outcome == SL_JOB_SUCCEEDED ? "done"
                                                           : "failed";

    sl_wmetrics_finished(&w->wm, outcome, (double)(sl_mono_ms() - j->t0_ms) / 1000.0);
    if (j->outcome == SL_JOB_DEAD_LETTER)
        (void)sl_metrics_add(w->wm.dead_letters, st, 1);
    else if (j->outcome != SL_JOB_SUCCEEDED && !sl_worker_reporter(w))
        (void)sl_metrics_add(w->wm.failures, st, 1);
    else if (j->job.out.type == SL_MSG_COPIED) {
        (void)sl_metrics_add(w->wm.copy_objects, NULL, (double)j->job.out.objects);
        (void)sl_metrics_add(w->wm.copy_bytes, NULL, (double)j->job.out.bytes);
    }
}

/* PUBLISH: the fence check, then enqueue. Returns 1 when the job was dropped (fenced). */
static int step_publish(sl_worker *w, wjob *j)
{
    char err[SL_ERRLEN];
    int rc;

    /* A stale owner must not publish over the new owner's result: check the fence first
     * (the final ledger write is fenced again, for the moment in between). */
    if (j->outcome != SL_JOB_DEAD_LETTER && !j->fenced && !sl_worker_reporter(w)) {
        PGconn *pg = sl_worker_pg(w);
        int frc = pg ? sl_ledger_stage_check(pg, j->job.in.run_id, w->stage->name, j->fence, err,
                                             sizeof(err))
                     : -1;
        if (frc == SL_LEDGER_FENCED) {
            j->fenced = 1;
        } else if (frc) {
            sl_worker_log_job(SL_LOG_WARN, j, "ledger_error",
                              "ledger fence check failed, will retry: %s",
                              pg ? err : "no connection");
            return later(w, j);
        }
    }
    if (j->fenced) {
        sl_worker_drop_fenced(w, j);
        return 1;
    }
    rc = publish(w, j);
    if (rc < 0)
        return later(w, j);
    if (rc == 1) {
        sl_worker_job_set_phase(w, j, SL_JP_PUBLISHING);
        j->due_ms = j->pub_deadline_ms;
        return 0;
    }
    sl_worker_job_set_phase(w, j, SL_JP_RECORDING);
    return 0;
}

int sl_worker_outcome_advance(sl_worker *w, wjob *j)
{
    if (j->phase == SL_JP_PUBLISHING) {
        if (sl_mono_ms() < j->pub_deadline_ms)
            return 0; /* on_delivery makes the job due again */
        sl_worker_log_job(SL_LOG_WARN, j, "publish_error",
                          "publish to %s: no delivery report within %lld ms (not known "
                          "durable), will retry",
                          j->pub_topic, w->cfg.topics.publish_timeout_ms);
        j->pub_ticket = 0; /* a late report for it finds no job */
        sl_worker_job_set_phase(w, j, SL_JP_PUBLISH);
        return later(w, j);
    }
    if (j->phase == SL_JP_PUBLISH) {
        if (step_publish(w, j))
            return 1;
        if (j->phase != SL_JP_RECORDING)
            return 0;
    }
    if (j->phase == SL_JP_RECORDING) {
        if (record(w, j)) {
            if (j->fenced) {
                sl_worker_drop_fenced(w, j);
                return 1;
            }
            return later(w, j);
        }
        sl_worker_job_set_phase(w, j, SL_JP_COMMITTING);
    }
    if (j->phase != SL_JP_COMMITTING)
        return 0;
    store_offset(w, j, SL_LOG_WARN);
    sl_worker_log_job(SL_LOG_INFO, j, "committed", "%s",
                      j->outcome == SL_JOB_DEAD_LETTER ? "dead-lettered" : "finished");
    count_committed(w, j);
    sl_worker_job_set_phase(w, j, SL_JP_DONE);
    return 1;
}

/*
 * Delivery-report hook (kafka.h), called from sl_kafka_producer_poll in the loop: completes (1)
 * of the job whose message it reports, so (2) and (3) follow on its next turn, in that order.
 * A report for a job that is gone (revoked, stopped, or its wait timed out) is dropped: that
 * input is redone, and redoing is idempotent.
 */
void sl_worker_on_delivery(sl_kafka_producer *p, uint64_t ticket, rd_kafka_resp_err_t e, void *ud)
{
    sl_worker *w = ud;

    (void)p;
    for (size_t i = 0; i < w->njobs; i++) {
        wjob *j = w->jobs[i];
        if (j->pub_ticket != ticket)
            continue;
        j->pub_ticket = 0;
        if (e) {
            sl_worker_job_set_phase(w, j, SL_JP_PUBLISH);
            (void)later(w, j);
            sl_worker_log_job(SL_LOG_WARN, j, "publish_error",
                              "publish to %s failed, will retry: delivery failed: %s (%s)",
                              j->pub_topic, rd_kafka_err2str(e), rd_kafka_err2name(e));
            return;
        }
        sl_worker_job_set_phase(w, j, SL_JP_RECORDING);
        j->due_ms = sl_mono_ms();
        sl_worker_log_hop(j);
        return;
    }
    sl_debug(NULL, "delivery report for a job no longer here (%s)", rd_kafka_err2name(e));
}

/*
 * Finishes, for up to budget_ms, the bookkeeping of the jobs whose output is already on its way
 * (PUBLISHING, RECORDING, COMMITTING), of topic/partition or of every partition when topic is
 * NULL: serves delivery reports and runs (2) and (3) as they become due. On revoke and on
 * stop: the message is out, and dropping the job now would make the next owner publish it
 * again. Jobs still unsettled at the deadline are left to the caller (dropped: the redo is
 * idempotent).
 */
void sl_worker_settle(sl_worker *w, const char *topic, int32_t partition, long long budget_ms)
{
    long long deadline = sl_mono_ms() + budget_ms;

    for (;;) {
        int left = 0;

        (void)sl_kafka_producer_poll(w->prod, 0);
        for (size_t i = 0; i < w->njobs;) {
            wjob *j = w->jobs[i];
            int ours = !topic || (j->job.partition == partition && strcmp(j->topic, topic) == 0);
            int on_its_way = j->phase == SL_JP_PUBLISHING || j->phase == SL_JP_RECORDING ||
                             j->phase == SL_JP_COMMITTING;

            if (!ours || !on_its_way) {
                i++;
                continue;
            }
            if (sl_mono_ms() >= j->due_ms && sl_worker_outcome_advance(w, j)) {
                sl_worker_job_remove_at(w, i);
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

int sl_worker_publishing(const sl_worker *w)
{
    for (size_t i = 0; i < w->njobs; i++)
        if (w->jobs[i]->pub_ticket)
            return 1;
    return 0;
}
