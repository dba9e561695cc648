/*
 * copy_replace.c - partition replacement for the copy stage (copy_int.h): one export at a time
 * replaces a (cluster, date) across every worker, and the newest snapshot wins.
 *
 *   LOCK       taken before the first table's folder is listed (an export with nothing to copy
 *              never takes it): pg_try_advisory_lock (partlock.h) on a connection of the
 *              job's own, tried again
 *              every LOCK_RETRY_MS (status `waiting`) up to COPY_LOCK_TIMEOUT. Under the lock,
 *              snaplake_partitions says which export the partition holds; if that one is newer
 *              (sl_copy_plan_superseded: snapshot time, then export id), this export writes
 *              nothing at all and ends superseded (ledger succeeded with
 *              details.superseded_by, no `copied` message).
 *   DEST       (under the lock) one listing of each table's destination `date=` folder, as soon
 *              as the table is planned (while the export listing goes on, each table on a
 *              request queue of its own, so the folders are listed in parallel): objects already
 * there with the source's size and ETag (multipart copies: size and the source-ETag marker read
 * with HeadObject) are not copied again, so a restart resumes; keys that are not destinations of
 * this export are the stale set. The copies overwrite same-named keys, which is why no table's
 *              copies start before the lock is held and its folder checked.
 *   DELETE     only once every copy succeeded (a failed run must never delete the previous good
 *              data), the lock still held: DeleteObjects (1,000 keys per call) of the stale set;
 *              keys failing with a transient per-key error are sent again alone (bounded). Then
 *              the holder record names this export, and the lock goes with job_cleanup.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_int.h"
#include "json.h"
#include "ledger.h"
#include "log.h"
#include "partlock.h"
#include "pg.h"
#include "worker.h"

/* Interval between tries of a partition lock another export holds. */
#define LOCK_RETRY_MS 1000
/* Cap on stale keys collected for deletion across the destination folders. */
#define MAX_STALE_KEYS 2000000

/* ---- LOCK: one replacement of a (cluster, date) at a time, newest snapshot wins ---------- */

/* The partition holds a newer export's files: this one writes nothing and ends, recorded in
   the ledger as succeeded with details {"superseded_by": ...}, publishing no message. */
static sl_step_result superseded(copy_job *cj, const sl_partlock_holder *h)
{
    sl_job *job = cj->job;
    cJSON *d = cJSON_CreateObject();
    cJSON *by = d ? cJSON_AddObjectToObject(d, "superseded_by") : NULL;
    char *text = NULL, err[SL_ERRLEN];
    sl_step_result r;

    if (!by || !cJSON_AddStringToObject(by, "export_task_id", h->export_task_id) ||
        !cJSON_AddStringToObject(by, "run_id", h->run_id ? h->run_id : "") ||
        !(text = cJSON_PrintUnformatted(d))) {
        r = sl_job_fail(job, "ClientError", "copy: out of memory");
        goto out;
    }
    if (sl_partlock_ledger_details(cj->pg, job->in.run_id, sl_stage_copy.name, text, err,
                                   sizeof(err))) {
        r = sl_copy_job_retry(job, "LedgerUnavailable", "recording the superseded copy: %s", err);
        goto out;
    }
    sl_log_kv(SL_LOG_WARN, &job->log,
              (const char *const[]){"superseded_by", h->export_task_id, "holder_run_id",
                                    h->run_id ? h->run_id : "", NULL},
              "the partition holds a newer snapshot's export; this older export is superseded "
              "and copies nothing");
    /* SL_MSG_NONE: done, nothing to publish (stage.h). */
    sl_msg_cleanup(&job->out);
    sl_msg_init(&job->out);
    r = SL_STEP_DONE;
out:
    cJSON_free(text);
    cJSON_Delete(d);
    return r;
}

sl_step_result sl_copy_lock_step(struct sl_worker *w, copy_job *cj)
{
    sl_job *job = cj->job;
    sl_partlock_holder h;
    sl_copy_snap mine, theirs;
    char err[SL_ERRLEN];
    int got = 0;
    long long now = sl_mono_ms();

    if (!cj->pg && sl_worker_pg_connect(w, "partlock", &cj->pg, err, sizeof(err))) {
        cj->pg = NULL;
        return sl_copy_job_retry(job, "LedgerUnavailable", "partition lock connection: %s", err);
    }
    if (sl_pg_try_advisory_lock(cj->pg, SL_PARTLOCK_NS, cj->lock_key, &got, err, sizeof(err))) {
        PQfinish(cj->pg);
        cj->pg = NULL;
        return sl_copy_job_retry(job, "LedgerUnavailable", "partition lock: %s", err);
    }
    if (!got) {
        if (now >= cj->lock_deadline)
            return sl_copy_job_retry(job, "PartitionBusy",
                                     "another export of cluster %s date %s held the partition for "
                                     "longer than COPY_LOCK_TIMEOUT",
                                     job->in.cluster, job->in.date);
        if (!cj->lock_logged++)
            sl_log_kv(SL_LOG_INFO, &job->log, NULL,
                      "waiting: another export of this cluster and date is replacing the "
                      "partition");
        sl_worker_job_status(w, job, SL_LEDGER_WAITING);
        cj->lock_next_ms = now + LOCK_RETRY_MS;
        return SL_STEP_PENDING;
    }
    cj->locked = 1;
    sl_worker_job_status(w, job, SL_LEDGER_RUNNING);
    /* The check is made under the lock, and so is everything that writes the partition. */
    if (sl_partlock_holder_get(cj->pg, job->in.cluster, job->in.date, &h, err, sizeof(err)))
        return sl_copy_job_retry(job, "LedgerUnavailable", "partition holder: %s", err);
    mine = (sl_copy_snap){cj->snap_ms, job->in.export_task_id};
    theirs = (sl_copy_snap){h.time_ms, h.export_task_id};
    if (h.found && sl_copy_plan_superseded(&mine, &theirs)) {
        sl_step_result r = superseded(cj, &h);
        sl_partlock_holder_cleanup(&h);
        return r;
    }
    sl_partlock_holder_cleanup(&h);
    cj->woke = 1;
    return SL_STEP_PENDING;
}

/* Before deleting, and before recording: a connection reset drops the lock silently. */
sl_step_result sl_copy_check_lock(copy_job *cj)
{
    sl_job *job = cj->job;
    char err[SL_ERRLEN];
    int held = 0;

    if (!cj->pg || sl_partlock_held(cj->pg, cj->lock_key, &held, err, sizeof(err)))
        return sl_copy_job_retry(job, "PartitionLockLost", "partition lock check: %s",
                                 cj->pg ? err : "no connection");
    if (!held)
        return sl_copy_job_retry(job, "PartitionLockLost",
                                 "the partition lock was lost (reconnect)");
    return SL_STEP_PENDING;
}

/* Under the lock, after the replacement: the partition now holds this export's files. */
sl_step_result sl_copy_record_holder(copy_job *cj)
{
    sl_job *job = cj->job;
    char err[SL_ERRLEN];
    int written = 0;
    sl_step_result r;

    if ((r = sl_copy_check_lock(cj)) != SL_STEP_PENDING)
        return r;
    if (sl_partlock_holder_set(cj->pg, job->in.cluster, job->in.date, cj->snap_ms,
                               job->in.export_task_id, job->in.run_id, job->in.snapshot_id,
                               &written, err, sizeof(err)))
        return sl_copy_job_retry(job, "LedgerUnavailable", "recording the partition holder: %s",
                                 err);
    if (!written)
        return sl_copy_job_retry(job, "PartitionLockLost",
                                 "a newer export recorded the partition meanwhile");
    return SL_STEP_PENDING;
}

/* ---- DEST_LIST and DELETE (under the lock) ------------------------------------------------ */

/* Appends key (copied) to the stale set with `tries` DeleteObjects attempts made. */
static int stale_add(copy_job *cj, const char *key, unsigned char tries)
{
    const char **g = sl_copy_grow((void *)cj->stale, &cj->capstale, cj->nstale + 1, sizeof(*g));
    unsigned char *t;

    if (!g)
        return -1;
    cj->stale = g;
    t = sl_copy_grow(cj->stale_tries, &cj->captries, cj->nstale + 1, sizeof(*t));
    if (!t)
        return -1;
    cj->stale_tries = t;
    if (!(cj->stale[cj->nstale] = sl_copy_arena_put(&cj->stale_arena, key, NULL)))
        return -1;
    cj->stale_tries[cj->nstale++] = tries;
    return 0;
}

/*
 * One page of table t's destination `date=` folder, listed before any of its objects is
 * copied (the lock keeps other exports out, so the listing stays true): keys that are
 * destinations of this export and already hold the source's bytes (sl_copy_plan_skip) are not
 * copied again, so a restart resumes instead of redoing a 100,000-file copy; keys that are not
 * destinations of this export are the stale set that replacement deletes once every copy
 * succeeded. A folder holds exactly one table's destinations, so the table's own set decides.
 */
static sl_step_result dest_list_step(const copy_cfg *cfg, copy_job *cj, cp_table *t)
{
    sl_job *job = cj->job;
    int rc;
    const char *prefix = t->dest_dir;
    sl_s3_list_opts lo = {0};
    sl_s3_list_page page = {0};
    sl_aws_error e;
    const char **keys = NULL, **stale = NULL;
    size_t nstale = 0, ei;
    char err[SL_ERRLEN], what[256];
    sl_step_result r = SL_STEP_PENDING;

    lo.prefix = prefix;
    lo.continuation_token = t->dtoken;
    lo.expected_owner = cfg->lake_owner;
    if ((rc = sl_copy_list_page(&t->dcall, cfg->lake_bucket, &lo, &page, &e)) > 0)
        return SL_STEP_PENDING; /* on its way; the answer brings the step forward */
    if (rc < 0) {
        snprintf(what, sizeof(what), "ListObjectsV2 s3://%s/%s", cfg->lake_bucket, prefix);
        return sl_job_fail_aws(job, what, &e);
    }
    if (page.count && !(keys = calloc(page.count, sizeof(*keys)))) {
        r = sl_job_fail(job, "ClientError", "copy: out of memory");
        goto out;
    }
    for (size_t i = 0; i < page.count; i++) {
        const sl_s3_object *d = &page.objects[i];
        cp_obj *o;
        keys[i] = d->key;
        if (!sl_copy_destset_find(&t->dests, d->key, &ei) || t->objs[ei].done)
            continue;
        o = &t->objs[ei];
        switch (sl_copy_plan_skip(o->size, o->etag, d->size, d->etag,
                                  o->size > cfg->multipart_threshold)) {
        case SL_COPY_SKIP:
            sl_copy_object_done(cj, t, o);
            cj->nskipped_dest++;
            break;
        case SL_COPY_CHECK: {
            size_t *g = sl_copy_grow(t->heads, &t->capheads, t->nheads + 1, sizeof(*g));
            if (!g) {
                r = sl_job_fail(job, "ClientError", "copy: out of memory");
                goto out;
            }
            t->heads = g;
            t->heads[t->nheads++] = ei;
            break;
        }
        case SL_COPY_DO:
        default:
            break;
        }
    }
    if (cfg->replace_partition && sl_copy_plan_stale(&t->dests, prefix, keys, page.count, &stale,
                                                     &nstale, err, sizeof(err))) {
        r = sl_job_fail(job, "ClientError", "%s", err);
        goto out;
    }
    if (cj->nstale + nstale > MAX_STALE_KEYS) {
        r = sl_job_fail(job, "TooManyStaleObjects",
                        "more than %d objects to remove under s3://%s/%s", MAX_STALE_KEYS,
                        cfg->lake_bucket, prefix);
        goto out;
    }
    for (size_t i = 0; i < nstale; i++)
        if (stale_add(cj, stale[i], 0)) {
            r = sl_job_fail(job, "ClientError", "copy: out of memory");
            goto out;
        }
    if (!sl_copy_page_next(&t->dtoken, &page))
        t->listed = 1;
    cj->woke = 1;
out:
    free((void *)stale);
    free((void *)keys);
    sl_s3_list_page_cleanup(&page);
    return r;
}

/* Multipart objects already there with the right size: HeadObject reads the marker their
   copy recorded; then the copy starts. One at a time on the table's own queue, never a
   blocking call: a slow answer must not stop the worker loop (Kafka polls, other copies).
   Any error just means "copy it" (the copy itself reports what is really wrong). */
static void dest_head_step(const copy_cfg *cfg, copy_job *cj, cp_table *t)
{
    sl_job *job = cj->job;

    while (t->head_next < t->nheads) {
        cp_obj *o = &t->objs[t->heads[t->head_next]];
        sl_s3_head_result hr;
        sl_aws_error e;
        char kb[CP_KEY_BUF];
        const char *dest = sl_copy_obj_dest(t, o, kb);
        int rc = sl_copy_head_call(&t->dcall, cfg->lake_bucket, dest, cfg->lake_owner, &hr, &e);

        if (rc > 0)
            return; /* on its way; the answer brings the step forward */
        t->head_next++;
        if (rc < 0) {
            sl_log_kv(SL_LOG_DEBUG, &job->log,
                      (const char *const[]){"key", dest, "error", e.code, NULL},
                      "HeadObject failed; copying the object again: %s", e.message);
            continue;
        }
        if (hr.size == o->size && sl_copy_plan_marker_matches(o->etag, hr.source_etag) &&
            !o->done) {
            sl_copy_object_done(cj, t, o);
            cj->nskipped_dest++;
        }
    }
    cj->woke = 1;
}

sl_step_result sl_copy_dest_step(const copy_cfg *cfg, copy_job *cj, cp_table *t, int *over)
{
    sl_step_result r;

    *over = 0;
    if (!t->listed) {
        if ((r = dest_list_step(cfg, cj, t)) != SL_STEP_PENDING || !t->listed)
            return r;
    }
    if (t->head_next < t->nheads)
        dest_head_step(cfg, cj, t);
    *over = t->head_next >= t->nheads;
    return SL_STEP_PENDING;
}

sl_step_result sl_copy_delete_step(const copy_cfg *cfg, copy_job *cj)
{
    sl_job *job = cj->job;
    int rc;
    size_t n = cj->nstale - cj->stale_next;
    sl_s3_delete_failure *f = NULL;
    size_t nf = 0;
    sl_aws_error e;
    char what[256];
    sl_step_result r = SL_STEP_PENDING;
    int again = 1, maxtries = 0;

    if (n > SL_S3_DELETE_MAX)
        n = SL_S3_DELETE_MAX;
    if ((rc = sl_copy_delete_call(&cj->dcall, cfg->lake_bucket, cj->stale + cj->stale_next, n,
                                  cfg->lake_owner, &f, &nf, &e)) > 0) {
        job->next_step_ms = sl_mono_ms() + 60000; /* the answer brings the step forward */
        return SL_STEP_PENDING;
    }
    if (rc < 0) {
        snprintf(what, sizeof(what), "DeleteObjects in s3://%s (%zu keys from %s)",
                 cfg->lake_bucket, n, cj->stale[cj->stale_next]);
        return sl_job_fail_aws(job, what, &e);
    }
    /* Keys S3 could not delete would leave old rows in the partition. Transient per-key errors
       (InternalError, SlowDown) retry only those keys, COPY_OBJECT_ATTEMPTS times each; any
       other error, or a key out of attempts, ends the batch as before (permanent: fail with
       S3's reason; transient: redo the job). */
    for (size_t k = 0; k < nf && again; k++) {
        size_t j;
        if (!sl_aws_is_transient(f[k].code, 0) || !f[k].key) {
            again = 0;
            break;
        }
        for (j = cj->stale_next; j < cj->stale_next + n; j++)
            if (strcmp(cj->stale[j], f[k].key) == 0)
                break;
        if (j == cj->stale_next + n || cj->stale_tries[j] + 1 >= cfg->object_attempts)
            again = 0;
        else if (cj->stale_tries[j] + 1 > maxtries)
            maxtries = cj->stale_tries[j] + 1;
    }
    if (nf && !again) {
        snprintf(job->error_code, sizeof(job->error_code), "%s", f[0].code);
        snprintf(job->error_message, sizeof(job->error_message),
                 "DeleteObjects could not delete %zu of %zu stale keys, first s3://%s/%s: %s", nf,
                 n, cfg->lake_bucket, f[0].key ? f[0].key : "", f[0].message);
        r = sl_aws_is_transient(f[0].code, 0) ? SL_STEP_RETRY : SL_STEP_FAILED;
        goto out;
    }
    for (size_t k = 0; k < nf; k++) {
        size_t j;
        for (j = cj->stale_next; j < cj->stale_next + n; j++)
            if (strcmp(cj->stale[j], f[k].key) == 0)
                break;
        if (stale_add(cj, f[k].key, (unsigned char)(cj->stale_tries[j] + 1))) {
            r = sl_job_fail(job, "ClientError", "copy: out of memory");
            goto out;
        }
    }
    if (nf) {
        char a[32];
        snprintf(a, sizeof(a), "%zu", nf);
        sl_log_kv(SL_LOG_WARN, &job->log,
                  (const char *const[]){"keys", a, "error", f[0].code, NULL},
                  "DeleteObjects failed for some keys; retrying only those");
        cj->nretries += (long long)nf;
    }
    cj->stale_next += n;
    cj->removed += (long long)(n - nf);
    job->next_step_ms = sl_mono_ms() + (nf ? sl_aws_backoff_ms(cj->cx->aws, maxtries) : 0);
out:
    sl_s3_delete_failures_free(f, nf);
    return r;
}

void sl_copy_replace_cleanup(copy_job *cj)
{
    char err[SL_ERRLEN];

    free((void *)cj->stale);
    cj->stale = NULL;
    free(cj->stale_tries);
    cj->stale_tries = NULL;
    cj->nstale = cj->capstale = cj->captries = 0;
    sl_copy_arena_cleanup(&cj->stale_arena);
    if (!cj->pg)
        return;
    /* Closing the session frees the lock anyway; the unlock just says so at once. */
    if (cj->locked && sl_pg_advisory_unlock(cj->pg, SL_PARTLOCK_NS, cj->lock_key, err, sizeof(err)))
        sl_log_kv(SL_LOG_DEBUG, &cj->job->log, NULL, "partition unlock: %s", err);
    PQfinish(cj->pg);
    cj->pg = NULL;
    cj->locked = 0;
}
