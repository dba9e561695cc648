/*
 * copy_xfer.c - the copy stage's requests as units on the stage's xsched (copy_int.h): every
 * CopyObject, and every step of a multipart copy, is a non-blocking transfer; nothing here
 * waits.
 *
 * A unit is (object index << 16) | part: part 0 is the object itself (CopyObject up to
 * COPY_MULTIPART_THRESHOLD, else its CreateMultipartUpload), 1..10000 an UploadPartCopy,
 * UNIT_COMPLETE its CompleteMultipartUpload (S3 API: CopyObject copies at most 5 GiB). Transient
 * failures are retried by the scheduler up to COPY_OBJECT_ATTEMPTS per unit, each at its own
 * due time; a unit that fails for good fails the run with AWS's code and message and the key.
 *
 * Units are paced per destination prefix (copy_pace.h): each table's `date=` folder is a lane
 * with its own AIMD window, cut by S3's 503 SlowDown for that prefix, and the next unit comes
 * from the next lane round robin that has work and room, so the requests in flight spread
 * over every table instead of crowding one prefix at a time. The queue's cap
 * (COPY_CONCURRENCY) bounds the lanes together. Within a lane: parts and completions of its
 * open uploads first (so an upload's billed parts do not wait behind thousands of small
 * objects), then its next object; retries wait for room in their lane (ops->admit).
 * A multipart copy that does not finish is aborted: job cleanup and failures queue the
 * AbortMultipartUpload (S3 bills uploaded parts until then) on the stage's abort queue, which
 * sends them as units too (job cleanup also runs inside the rebalance callback, which must stay
 * short, so it only queues).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_int.h"
#include "log.h"
#include "worker.h"

#define UNIT_COMPLETE 0xFFFFu
#define UNIT(obj, part) (((uint64_t)(obj) << 16) | (uint64_t)(part))
#define UNIT_OBJ(u) ((size_t)((u) >> 16))
#define UNIT_PART(u) ((unsigned)((u)&0xFFFFu))
/* Progress line interval while copying. */
#define PROGRESS_MS 10000

static const sl_s3_write_opts *write_opts(const copy_cfg *cfg, sl_s3_write_opts *o)
{
    o->kms_key_id = cfg->kms_key;
    o->expected_owner = cfg->lake_owner;
    o->source_expected_owner = cfg->export_owner;
    return o;
}

static void local_error(sl_aws_error *e, const char *code, const char *msg)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->message, sizeof(e->message), "%s", msg);
}

void sl_copy_mpu_free(cp_mpu *m)
{
    if (!m)
        return;
    for (size_t i = 0; m->etags && i < m->nparts; i++)
        free(m->etags[i]);
    free(m->etags);
    free(m->ranges);
    free(m->upload_id);
    free(m);
}

/* Queues the abort of o's open upload on the stage (sent by the abort queue, never inline).
   Best effort: the run's error is what made us abort, not the abort's outcome. */
static void mpu_abort(copy_ctx *cx, const copy_job *cj, cp_obj *o)
{
    size_t oi = (size_t)(o - cj->objs);

    if (!o->mpu || !o->mpu->upload_id)
        return;
    if (sl_copy_abortq_push(&cx->aborts, cx->cfg.lake_bucket, cj->entries[oi].dest,
                            o->mpu->upload_id))
        sl_log_kv(SL_LOG_WARN, &cj->job->log,
                  (const char *const[]){"key", cj->entries[oi].dest, NULL},
                  "abort queue full; multipart upload left open");
    else if (cx->abortq)
        sl_xsched_queue_kick(cx->abortq);
    free(o->mpu->upload_id);
    o->mpu->upload_id = NULL;
}

/* Ends the job from inside a callback: the step returns r at once. */
static int job_end(copy_job *cj, sl_step_result r)
{
    cj->failed_result = (int)r;
    cj->job->next_step_ms = sl_mono_ms();
    return -1;
}

/* Object oi has multipart steps to hand out (parts, or its completion): on the list, and
   counted in its lane. */
static int mpu_ready(copy_job *cj, size_t oi)
{
    size_t *g = sl_copy_grow(cj->mpu_ready, &cj->capmpu, cj->nmpu_ready + 1, sizeof(*g));

    if (!g)
        return -1;
    cj->mpu_ready = g;
    cj->mpu_ready[cj->nmpu_ready++] = oi;
    sl_copy_pace_ready(&cj->pace, sl_copy_pace_lane_of(&cj->pace, oi), +1);
    sl_xsched_queue_kick(cj->q);
    return 0;
}

/* Entry k of the list is spent (li its object's lane). */
static void mpu_unready(copy_job *cj, size_t k, size_t li)
{
    cj->mpu_ready[k] = cj->mpu_ready[--cj->nmpu_ready];
    sl_copy_pace_ready(&cj->pace, li, -1);
}

/* ---- pacing per destination prefix (copy_pace.h) ------------------------------------------ */

/* A lane per run of objects with the same destination folder. The listing is sorted by
   source key and a table's keys share their `<db>/<schema.table>/` prefix, so a table is one
   run; an unsorted listing would only split a table into lanes paced apart. */
static int pace_plan(copy_job *cj)
{
    sl_copy_pace_init(&cj->pace, (size_t)cj->cx->cfg.concurrency);
    for (size_t i = 0, j; i < cj->nobjs; i = j) {
        for (j = i + 1; j < cj->nobjs; j++)
            if (strcmp(cj->entries[j].dest_dir, cj->entries[i].dest_dir) != 0)
                break;
        if (sl_copy_pace_add(&cj->pace, i, j, 1))
            return -1;
    }
    return 0;
}

static size_t unit_lane(const copy_job *cj, uint64_t unit)
{
    return sl_copy_pace_lane_of(&cj->pace, UNIT_OBJ(unit));
}

/* A window cut is the one state change of a lane worth a line: counted in the metrics
   (snaplake_copy_window_cuts_total), logged one by one up to CP_MAX_WARN_LINES per job, then
   only counted (the progress line carries the counts). */
static void log_cut(copy_job *cj, size_t li)
{
    const sl_copy_lane *l = &cj->pace.lanes[li];
    char w[32], f[32], n[32];

    sl_worker_count_copy_cut(cj->cx->w);
    if (cj->ncuts_logged++ >= CP_MAX_WARN_LINES)
        return;
    snprintf(w, sizeof(w), "%zu", sl_copy_pace_window(&cj->pace, li));
    snprintf(f, sizeof(f), "%zu", l->inflight);
    snprintf(n, sizeof(n), "%lld", l->slowdowns);
    sl_log_kv(SL_LOG_INFO, &cj->job->log,
              (const char *const[]){"prefix", cj->entries[l->first].dest_dir, "window", w,
                                    "in_flight", f, "slowdowns", n, NULL},
              "prefix throttled (SlowDown); its window cut");
}

static void unit_attempt_end(void *ud, uint64_t unit, int attempt, const sl_aws_error *e,
                             long long started_ms)
{
    copy_job *cj = ud;
    size_t li = unit_lane(cj, unit);
    sl_copy_pace_outcome out = !e                      ? SL_PACE_OK
                               : sl_xsched_slowdown(e) ? SL_PACE_SLOWDOWN
                                                       : SL_PACE_OTHER_FAIL;

    (void)attempt;
    if (sl_copy_pace_end(&cj->pace, li, out, started_ms, sl_mono_ms()))
        log_cut(cj, li);
}

static int unit_admit(void *ud, uint64_t unit)
{
    copy_job *cj = ud;

    return sl_copy_pace_room(&cj->pace, unit_lane(cj, unit)) ? 0 : -1;
}

/* ---- the job's units ---------------------------------------------------------------------- */

/* The next unit of lane li: its open uploads' parts and completions first, then its next
   object. 0 with *unit, or -1 when the lane has nothing to hand out. */
static int lane_next(copy_job *cj, size_t li, uint64_t *unit)
{
    sl_copy_lane *l = &cj->pace.lanes[li];
    size_t k = cj->nmpu_ready;

    while (l->ready && k--) {
        size_t oi = cj->mpu_ready[k];
        cp_mpu *m;

        if (oi < l->first || oi >= l->end)
            continue;
        m = cj->objs[oi].mpu;
        if (m && m->upload_id && m->next < m->nparts) {
            *unit = UNIT(oi, ++m->next);
            if (m->next == m->nparts)
                mpu_unready(cj, k, li);
            return 0;
        }
        mpu_unready(cj, k, li);
        if (m && m->upload_id && m->ndone == m->nparts && !m->completing) {
            m->completing = 1;
            *unit = UNIT(oi, UNIT_COMPLETE);
            return 0;
        }
    }
    l->ready = 0; /* every entry was seen: none of this lane is left */
    while (l->next < l->end && cj->objs[l->next].done)
        l->next++; /* already at its destination (restart) */
    if (l->next < l->end) {
        *unit = UNIT(l->next++, 0);
        return 0;
    }
    return -1;
}

static int unit_next(void *ud, uint64_t *unit)
{
    copy_job *cj = ud;
    size_t li;

    /* A lane that turns out empty is dropped by the next pick, so this ends. */
    while (sl_copy_pace_pick(&cj->pace, &li) == 0)
        if (lane_next(cj, li, unit) == 0)
            return 0;
    return -1;
}

/* A multipart copy's plan: ranges and ETag slots; the UploadId comes with the answer. */
static int mpu_plan(const copy_cfg *cfg, cp_obj *o, sl_aws_error *e)
{
    char msg[SL_ERRLEN];
    cp_mpu *m = calloc(1, sizeof(*m));

    if (!m ||
        sl_s3_part_ranges(o->size, cfg->part_size, &m->ranges, &m->nparts, msg, sizeof(msg))) {
        local_error(e, "InvalidRequest", m ? msg : "multipart: out of memory");
        sl_copy_mpu_free(m);
        return -1;
    }
    if (!(m->etags = calloc(m->nparts, sizeof(*m->etags)))) {
        local_error(e, "InternalFailure", "multipart: out of memory");
        sl_copy_mpu_free(m);
        return -1;
    }
    o->mpu = m;
    return 0;
}

static int unit_start(void *ud, uint64_t unit, int attempt, sl_aws_xfer **x, sl_aws_error *e)
{
    copy_job *cj = ud;
    const copy_cfg *cfg = &cj->cx->cfg;
    size_t oi = UNIT_OBJ(unit);
    unsigned part = UNIT_PART(unit);
    cp_obj *o = &cj->objs[oi];
    const sl_keymap_entry *ent = &cj->entries[oi];
    const char *sbucket = cj->job->in.s3_bucket;
    sl_s3_write_opts wo;
    sl_s3_req r;
    char err[SL_ERRLEN], marker[96];
    int rc;

    (void)attempt;
    write_opts(cfg, &wo);
    if (part == 0 && o->size > cfg->multipart_threshold) {
        sl_copy_mpu_free(o->mpu);
        o->mpu = NULL;
        if (mpu_plan(cfg, o, e))
            return -1;
        /* The marker lets a restarted copy recognise the finished object (sl_copy_plan_skip). */
        sl_copy_plan_etag_bare(cj->srcs[oi].etag, marker, sizeof(marker));
        rc = sl_s3_create_multipart_request(&r, cfg->lake_bucket, ent->dest, &wo, marker, err,
                                            sizeof(err));
    } else if (part == 0) {
        rc = sl_s3_copy_request(&r, sbucket, ent->src, cfg->lake_bucket, ent->dest, &wo, err,
                                sizeof(err));
    } else if (part == UNIT_COMPLETE) {
        rc = sl_s3_complete_multipart_request(&r, cfg->lake_bucket, ent->dest, o->mpu->upload_id,
                                              o->mpu->etags, o->mpu->nparts, cfg->lake_owner, err,
                                              sizeof(err));
    } else {
        rc = sl_s3_upload_part_copy_request(&r, sbucket, ent->src, cfg->lake_bucket, ent->dest,
                                            o->mpu->upload_id, (int)part, &o->mpu->ranges[part - 1],
                                            &wo, err, sizeof(err));
    }
    if (rc) {
        local_error(e, "InvalidRequest", err);
        return -1;
    }
    rc = sl_aws_xfer_new(cj->cx->aws, &r.req, x, e);
    sl_s3_req_cleanup(&r);
    if (rc == 0)
        sl_copy_pace_start(&cj->pace, unit_lane(cj, unit)); /* its unit_attempt_end follows */
    return rc;
}

static const char *unit_op(const copy_job *cj, uint64_t unit)
{
    unsigned part = UNIT_PART(unit);

    if (part == UNIT_COMPLETE)
        return "CompleteMultipartUpload";
    if (part)
        return "UploadPartCopy";
    return cj->objs[UNIT_OBJ(unit)].size > cj->cx->cfg.multipart_threshold ? "CreateMultipartUpload"
                                                                           : "CopyObject";
}

/* Fails the run for unit's object with AWS's error e. */
static int unit_fail(copy_job *cj, uint64_t unit, const sl_aws_error *e, int attempts)
{
    sl_job *job = cj->job;
    size_t oi = UNIT_OBJ(unit);
    const sl_keymap_entry *ent = &cj->entries[oi];

    if (cj->objs[oi].mpu)
        mpu_abort(cj->cx, cj, &cj->objs[oi]);
    snprintf(job->aws_request_id, sizeof(job->aws_request_id), "%s", e->request_id);
    return job_end(cj, sl_job_fail(job, e->code[0] ? e->code : "AwsError",
                                   "%s s3://%s/%s -> %s: %s (attempt %d)", unit_op(cj, unit),
                                   job->in.s3_bucket, ent->src, ent->dest, e->message, attempts));
}

static int unit_done(void *ud, uint64_t unit, sl_aws_xfer *x, const sl_aws_error *e, int attempts)
{
    copy_job *cj = ud;
    size_t oi = UNIT_OBJ(unit);
    unsigned part = UNIT_PART(unit);
    cp_obj *o = &cj->objs[oi];
    const sl_aws_response *resp;
    char msg[SL_ERRLEN], etag[128];
    sl_aws_error pe;

    if (attempts > 1)
        cj->nretries += attempts - 1;
    if (e)
        return unit_fail(cj, unit, e, attempts);
    resp = sl_aws_xfer_response(x);
    if (part == 0 && o->mpu) {
        if (sl_s3_parse_upload_id(resp->body.data, resp->body.len, &o->mpu->upload_id, msg,
                                  sizeof(msg))) {
            local_error(&pe, "ParseError", msg);
            return unit_fail(cj, unit, &pe, attempts);
        }
        return mpu_ready(cj, oi)
                   ? job_end(cj, sl_job_fail(cj->job, "ClientError", "copy: out of memory"))
                   : 0;
    }
    if (part == UNIT_COMPLETE) {
        sl_copy_mpu_free(o->mpu);
        o->mpu = NULL;
    } else if (part) {
        if (sl_s3_copy_result_etag(resp->body.data, resp->body.len, etag, sizeof(etag)) ||
            !(o->mpu->etags[part - 1] = strdup(etag))) {
            local_error(&pe, "ParseError", "UploadPartCopy answer has no ETag");
            return unit_fail(cj, unit, &pe, attempts);
        }
        if (++o->mpu->ndone == o->mpu->nparts && mpu_ready(cj, oi))
            return job_end(cj, sl_job_fail(cj->job, "ClientError", "copy: out of memory"));
        return 0;
    }
    sl_copy_object_done(cj, o);
    if (cj->objs_done == cj->nobjs)
        cj->job->next_step_ms = sl_mono_ms();
    return 0;
}

static const sl_xsched_ops unit_ops = {unit_next, unit_start, unit_done, unit_attempt_end,
                                       unit_admit};

int sl_copy_xfer_begin(copy_ctx *cx, copy_job *cj)
{
    /* A copy's answer is a few hundred bytes of XML: a 4 KiB receive buffer instead of curl's
       16 KiB is 12 KiB less per request in flight (12 MiB at 1,024). Paced: the lanes'
       windows answer SlowDown, the queue only holds the cap. */
    sl_xsched_queue_opts o = {.max_inflight = (size_t)cx->cfg.concurrency,
                              .max_attempts = (int)cx->cfg.object_attempts,
                              .request_timeout_ms = (long)cx->cfg.request_timeout_ms,
                              .aws = cx->aws,
                              .recv_buffer = 4096,
                              .paced = 1};

    if (pace_plan(cj) || !(cj->q = sl_xsched_queue_new(cx->xs, &unit_ops, cj, &o)))
        return -1;
    sl_xsched_queue_kick(cj->q);
    return 0;
}

/* Lanes listed by name in the progress line: the most throttled first. */
#define LANES_LISTED 8

/* The LANES_LISTED lanes with the smallest windows below the cap into shown[] (sorted by
   window), their number returned; *nlow counts every lane below the cap. */
static size_t lanes_throttled(const sl_copy_pace *p, size_t shown[LANES_LISTED], size_t *nlow)
{
    size_t nshown = 0;

    *nlow = 0;
    for (size_t i = 0; i < p->n; i++) {
        size_t w = sl_copy_pace_window(p, i), at = nshown;

        if (w >= p->max)
            continue;
        ++*nlow;
        while (at > 0 && sl_copy_pace_window(p, shown[at - 1]) > w)
            at--;
        if (at >= LANES_LISTED)
            continue;
        if (nshown < LANES_LISTED)
            nshown++;
        memmove(&shown[at + 1], &shown[at], (nshown - 1 - at) * sizeof(*shown));
        shown[at] = i;
    }
    return nshown;
}

/* The progress line: objects, bytes, in flight and the queue's cap, then the lanes: how
   many, how many are below the cap now, SlowDowns and cuts so far, and `prefix=window` of
   the most throttled (lane_windows). */
static void log_progress(copy_job *cj, const char *msg)
{
    const sl_copy_pace *p = &cj->pace;
    char a[32], b[32], c[32], d[32], w[32], ln[32], lo[32], sd[32], cu[32], list[1024];
    size_t shown[LANES_LISTED], nlow, nshown = lanes_throttled(p, shown, &nlow);
    long long slow = 0, cuts = 0;

    for (size_t i = 0; i < p->n; i++) {
        slow += p->lanes[i].slowdowns;
        cuts += p->lanes[i].cuts;
    }
    list[0] = '\0';
    for (size_t k = 0, len = 0; k < nshown && len < sizeof(list); k++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s=%zu", k ? " " : "",
                                cj->entries[p->lanes[shown[k]].first].dest_dir,
                                sl_copy_pace_window(p, shown[k]));
    snprintf(a, sizeof(a), "%zu", cj->objs_done);
    snprintf(b, sizeof(b), "%zu", cj->nobjs);
    snprintf(c, sizeof(c), "%lld", cj->bytes_done);
    snprintf(d, sizeof(d), "%zu", cj->q ? sl_xsched_queue_inflight(cj->q) : 0);
    snprintf(w, sizeof(w), "%zu", cj->q ? sl_xsched_queue_window(cj->q) : 0);
    snprintf(ln, sizeof(ln), "%zu", p->n);
    snprintf(lo, sizeof(lo), "%zu", nlow);
    snprintf(sd, sizeof(sd), "%lld", slow);
    snprintf(cu, sizeof(cu), "%lld", cuts);
    sl_log_kv(SL_LOG_INFO, &cj->job->log,
              (const char *const[]){"copied",          a,    "objects",   b,  "bytes",       c,
                                    "in_flight",       d,    "window",    w,  "lanes",       ln,
                                    "lanes_throttled", lo,   "slowdowns", sd, "window_cuts", cu,
                                    "lane_windows",    list, NULL},
              "%s", msg);
}

sl_step_result sl_copy_xfer_step(copy_job *cj)
{
    long long now = sl_mono_ms();

    if (cj->failed_result)
        return (sl_step_result)cj->failed_result;
    if (cj->objs_done == cj->nobjs) {
        cj->copy_ms = now - cj->copy_ms;
        log_progress(cj, "all copies done");
        return SL_STEP_DONE;
    }
    if (now - cj->last_progress >= PROGRESS_MS) {
        cj->last_progress = now;
        log_progress(cj, "copying");
    }
    /* The scheduler's callbacks bring the step forward (job_end, the last object). */
    cj->job->next_step_ms = cj->last_progress + PROGRESS_MS;
    return SL_STEP_PENDING;
}

void sl_copy_xfer_cleanup(copy_ctx *cx, copy_job *cj)
{
    sl_xsched_queue_free(cj->q);
    cj->q = NULL;
    sl_copy_pace_cleanup(&cj->pace);
    for (size_t i = 0; cj->objs && i < cj->nobjs; i++) {
        /* An abandoned (shutdown, revoke) or failed multipart copy must not leave billed
           parts behind; the next owner of the message starts a fresh upload. */
        if (cj->objs[i].mpu && !cj->objs[i].done)
            mpu_abort(cx, cj, &cj->objs[i]);
        sl_copy_mpu_free(cj->objs[i].mpu);
        cj->objs[i].mpu = NULL;
    }
}

/* ---- the stage's AbortMultipartUpload queue ------------------------------------------------ */

static int abort_next(void *ud, uint64_t *unit)
{
    copy_ctx *cx = ud;

    for (size_t i = 0; i < CP_ABORT_INFLIGHT; i++) {
        if (cx->asent[i].key)
            continue;
        if (sl_copy_abortq_pop(&cx->aborts, &cx->asent[i]))
            return -1;
        *unit = i;
        return 0;
    }
    return -1;
}

static int abort_start(void *ud, uint64_t unit, int attempt, sl_aws_xfer **x, sl_aws_error *e)
{
    copy_ctx *cx = ud;
    const sl_copy_abort *a = &cx->asent[unit];
    sl_s3_req r;
    char err[SL_ERRLEN];
    int rc;

    (void)attempt;
    if (sl_s3_abort_multipart_request(&r, a->bucket, a->key, a->upload_id, cx->cfg.lake_owner, err,
                                      sizeof(err))) {
        local_error(e, "InvalidRequest", err);
        return -1;
    }
    rc = sl_aws_xfer_new(cx->aws, &r.req, x, e);
    sl_s3_req_cleanup(&r);
    return rc;
}

static int abort_done(void *ud, uint64_t unit, sl_aws_xfer *x, const sl_aws_error *e, int attempts)
{
    copy_ctx *cx = ud;
    sl_copy_abort *a = &cx->asent[unit];

    (void)x;
    (void)attempts;
    if (e && strcmp(e->code, "NoSuchUpload") != 0)
        sl_log_kv(SL_LOG_WARN, NULL, (const char *const[]){"key", a->key, "error", e->code, NULL},
                  "AbortMultipartUpload failed: %s", e->message);
    else
        sl_log_kv(SL_LOG_INFO, NULL, (const char *const[]){"key", a->key, NULL},
                  "multipart upload aborted");
    sl_copy_abort_cleanup(a);
    memset(a, 0, sizeof(*a));
    return 0;
}

static const sl_xsched_ops abort_ops = {abort_next, abort_start, abort_done, NULL, NULL};

int sl_copy_aborts_init(copy_ctx *cx)
{
    sl_xsched_queue_opts o = {CP_ABORT_INFLIGHT, 3, 30000, cx->aws, 0, 0};

    sl_copy_abortq_init(&cx->aborts, CP_ABORT_QUEUE_MAX);
    cx->abortq = sl_xsched_queue_new(cx->xs, &abort_ops, cx, &o);
    return cx->abortq ? 0 : -1;
}

size_t sl_copy_aborts_owed(const copy_ctx *cx)
{
    size_t n = cx->aborts.n;

    for (size_t i = 0; i < CP_ABORT_INFLIGHT; i++)
        n += cx->asent[i].key != NULL;
    return n;
}

void sl_copy_aborts_cleanup(copy_ctx *cx)
{
    sl_xsched_queue_free(cx->abortq);
    cx->abortq = NULL;
    for (size_t i = 0; i < CP_ABORT_INFLIGHT; i++)
        sl_copy_abort_cleanup(&cx->asent[i]);
    sl_copy_abortq_cleanup(&cx->aborts);
}

/* ---- a step's single request ----------------------------------------------------------------- */

static int call_next(void *ud, uint64_t *unit)
{
    copy_job *cj = ud;

    if (cj->call_state != CALL_WANT)
        return -1;
    cj->call_state = CALL_INFLIGHT;
    *unit = 0;
    return 0;
}

static int call_start(void *ud, uint64_t unit, int attempt, sl_aws_xfer **x, sl_aws_error *e)
{
    copy_job *cj = ud;

    (void)unit;
    (void)attempt;
    /* Deep-copied and signed anew for each attempt; call_req stays until the call is over. */
    return sl_aws_xfer_new(cj->cx->aws, &cj->call_req.req, x, e);
}

static int call_done(void *ud, uint64_t unit, sl_aws_xfer *x, const sl_aws_error *e, int attempts)
{
    copy_job *cj = ud;

    (void)unit;
    (void)attempts;
    sl_s3_req_cleanup(&cj->call_req);
    if (e) {
        cj->call_err = *e;
        cj->call_state = CALL_FAILED;
    } else {
        const sl_aws_response *resp = sl_aws_xfer_response(x);
        cj->call_len = resp->body.len;
        cj->call_body = malloc(cj->call_len + 1);
        if (!cj->call_body) {
            local_error(&cj->call_err, "InternalFailure", "copy: out of memory");
            cj->call_state = CALL_FAILED;
        } else {
            if (cj->call_len)
                memcpy(cj->call_body, resp->body.data, cj->call_len);
            cj->call_body[cj->call_len] = '\0';
            cj->call_state = CALL_DONE;
        }
    }
    cj->job->next_step_ms = sl_mono_ms();
    return 0;
}

static const sl_xsched_ops call_ops = {call_next, call_start, call_done, NULL, NULL};

int sl_copy_call_init(copy_ctx *cx, copy_job *cj)
{
    sl_xsched_queue_opts o = {
        1, sl_aws_max_attempts(cx->aws), (long)cx->cfg.request_timeout_ms, cx->aws, 0, 0};

    cj->cq = sl_xsched_queue_new(cx->xs, &call_ops, cj, &o);
    return cj->cq ? 0 : -1;
}

/* Starts call_req (built by the caller). A step that is called again before the answer (its
   next_step_ms is a safety net) just waits. */
static void call_begin(copy_job *cj)
{
    cj->call_state = CALL_WANT;
    sl_xsched_queue_kick(cj->cq);
    cj->job->next_step_ms = sl_mono_ms() + 60000;
}

/* Sends call_req if its builder succeeded (built == 0): 1, else -1 with e from msg. */
static int call_send(copy_job *cj, int built, const char *msg, sl_aws_error *e)
{
    if (built) {
        local_error(e, "InvalidRequest", msg);
        return -1;
    }
    call_begin(cj);
    return 1;
}

/* 1 while in flight, 0 with the body, -1 with e; at 0/-1 the call is over (body: caller's). */
static int call_result(copy_job *cj, char **body, size_t *len, sl_aws_error *e)
{
    if (cj->call_state == CALL_WANT || cj->call_state == CALL_INFLIGHT) {
        cj->job->next_step_ms = sl_mono_ms() + 60000;
        return 1;
    }
    cj->call_state = CALL_IDLE;
    if (cj->call_body) {
        *body = cj->call_body;
        *len = cj->call_len;
        cj->call_body = NULL;
        return 0;
    }
    *e = cj->call_err;
    return -1;
}

void sl_copy_call_cleanup(copy_job *cj)
{
    sl_xsched_queue_free(cj->cq);
    cj->cq = NULL;
    sl_s3_req_cleanup(&cj->call_req);
    free(cj->call_body);
    cj->call_body = NULL;
    cj->call_state = CALL_IDLE;
}

int sl_copy_list_page(copy_job *cj, const char *bucket, const sl_s3_list_opts *lo,
                      sl_s3_list_page *page, sl_aws_error *e)
{
    char msg[SL_ERRLEN], *body = NULL;
    size_t len = 0;
    int rc;

    if (cj->call_state == CALL_IDLE)
        return call_send(cj, sl_s3_list_request(&cj->call_req, bucket, lo, msg, sizeof(msg)), msg,
                         e);
    if ((rc = call_result(cj, &body, &len, e)) != 0)
        return rc;
    rc = 0;
    if (sl_s3_list_parse(body, len, 1, page, msg, sizeof(msg))) {
        local_error(e, "ParseError", msg);
        rc = -1;
    }
    free(body);
    return rc;
}

int sl_copy_delete_call(copy_job *cj, const char *bucket, const char *const *keys, size_t n,
                        const char *owner, sl_s3_delete_failure **f, size_t *nf, sl_aws_error *e)
{
    char msg[SL_ERRLEN], *body = NULL;
    size_t len = 0;
    int rc;

    if (cj->call_state == CALL_IDLE)
        return call_send(
            cj, sl_s3_delete_request(&cj->call_req, bucket, keys, n, owner, msg, sizeof(msg)), msg,
            e);
    if ((rc = call_result(cj, &body, &len, e)) != 0)
        return rc;
    rc = 0;
    if (sl_s3_delete_result_parse(body, len, f, nf, msg, sizeof(msg))) {
        local_error(e, "ParseError", msg);
        rc = -1;
    }
    free(body);
    return rc;
}
