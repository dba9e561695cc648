/*
 * worker_intake.c - how a Kafka message becomes a job: accept (decode, classify: a job, a dead
 * letter, or a reporter's bad input), hold (messages that arrive while WORKER_MAX_JOBS jobs
 * exist wait here, in arrival order), pause (the assignment is paused while full or while
 * anything is held, so the consumer keeps polling and stays in its group), and rebalance
 * (assigned partitions are set to the wanted pause state; revoked ones settle their output
 * and drop the rest of their work).
 */
#include "worker_int.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

/* Turns a consumed message into a job. Takes ownership of m. */
static void accept_message(sl_worker *w, rd_kafka_message_t *m)
{
    wjob *j = calloc(1, sizeof(*j));
    const char *topic = rd_kafka_topic_name(m->rkt);
    char err[SL_ERRLEN];
    void **grown;
    sl_msg_type want;
    int dead;

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
    j->t0_us = j->phase_us = sl_mono_us();
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
        sl_worker_job_free(w, j);
        rd_kafka_message_destroy(m);
        return;
    }
    want = w->in_topic2[0] && strcmp(topic, w->in_topic2) == 0 ? w->stage->in_type2
                                                               : w->stage->in_type;
    dead = 1;
    if (sl_msg_decode(j->raw, j->rawlen, &j->job.in, err, sizeof(err))) {
        snprintf(j->reason, sizeof(j->reason), "undecodable message: %.480s", err);
    } else if (j->job.in.type != want) {
        snprintf(j->reason, sizeof(j->reason),
                 "unexpected message type %s on %s (stage %s wants %s)",
                 sl_msg_type_name(j->job.in.type) ? sl_msg_type_name(j->job.in.type) : "?", topic,
                 w->stage->name, sl_msg_type_name(want));
    } else {
        j->job.log.run_id = j->job.in.run_id;
        j->job.log.cluster = j->job.in.cluster;
        dead = 0;
    }
    if (dead && sl_worker_reporter(w) && strcmp(topic, w->dlq_topic) == 0) {
        /* Dead-lettering a bad dead letter into dlq would read it back forever: the reporter
         * gets it as a job of its own (stage.h, SL_STAGE_REPORTER). */
        sl_msg_cleanup(&j->job.in);
        sl_msg_init(&j->job.in);
        j->job.bad_input = j->reason;
        j->job.raw = j->raw;
        j->job.rawlen = j->rawlen;
        dead = 0;
        sl_worker_log_job(SL_LOG_WARN, j, "bad_input",
                          "%s (handed to the stage, not dead-lettered)", j->reason);
    }
    j->due_ms = sl_mono_ms();
    if (dead)
        j->outcome = SL_JOB_DEAD_LETTER;
    sl_worker_job_set_phase(w, j, dead ? SL_JP_PUBLISH : SL_JP_BEGIN);
    w->jobs[w->njobs++] = j;
    if (dead)
        sl_worker_log_job(SL_LOG_WARN, j, "dead_letter", "%s", j->reason);
    else
        sl_worker_log_job(SL_LOG_INFO, j, "received", "message received");
    rd_kafka_message_destroy(m);
    return;
oom:
    /* Not stored, not tracked: the message is simply redelivered after a restart. */
    snprintf(w->fatal_err, sizeof(w->fatal_err), "out of memory taking a message");
    w->fatal = 1;
    sl_worker_job_free(w, j);
    rd_kafka_message_destroy(m);
}

int sl_worker_full(const sl_worker *w)
{
    return (long long)w->njobs >= sl_worker_max_jobs(w);
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

void sl_worker_intake(sl_worker *w, rd_kafka_message_t *m)
{
    if (sl_worker_full(w) || w->nheld > 0)
        hold_message(w, m);
    else
        accept_message(w, m);
}

void sl_worker_intake_drop_held(sl_worker *w)
{
    for (size_t i = 0; i < w->nheld; i++)
        rd_kafka_message_destroy(w->held[i]);
    w->nheld = 0;
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

void sl_worker_intake_turn(sl_worker *w)
{
    int want;

    while (w->nheld > 0 && !sl_worker_full(w) && !w->fatal) {
        rd_kafka_message_t *m = w->held[0];
        memmove(&w->held[0], &w->held[1], (w->nheld - 1) * sizeof(*w->held));
        w->nheld--;
        accept_message(w, m);
    }
    want = sl_worker_full(w) || w->nheld > 0;
    if (want != w->paused)
        set_paused(w, want);
}

void sl_worker_on_rebalance(sl_kafka_consumer *c, int assigned,
                            const rd_kafka_topic_partition_list_t *parts, void *ud)
{
    sl_worker *w = ud;
    char err[SL_ERRLEN];

    if (assigned) {
        int want = sl_worker_full(w) || w->nheld > 0;

        /* Every assigned partition is set explicitly to the state the worker wants, never left
         * to what the client kept from before the rebalance: a partition that came back paused
         * while w->paused said otherwise would never be fetched again (the intake turn only
         * acts on a change of the wanted state). */
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
        sl_worker_settle(w, t, p, SETTLE_MS);
        for (size_t i = 0; i < w->njobs;) {
            wjob *j = w->jobs[i];
            if (j->job.partition == p && strcmp(j->topic, t) == 0) {
                sl_worker_job_set_phase(w, j, SL_JP_DROPPED);
                sl_worker_log_job(SL_LOG_INFO, j, "revoked", "partition revoked, job dropped");
                sl_worker_job_remove_at(w, i);
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
