/*
 * copy_xfer.c - the copy stage's requests as units on the stage's xsched (copy_int.h): every
 * CopyObject, and every step of a multipart copy, is a non-blocking transfer; nothing here
 * waits.
 *
 * A unit is (table slot << 40) | (object index << 16) | part: the slot is the object's lane (its
 * table, so its destination prefix), part 0 the object itself (CopyObject up to
 * COPY_MULTIPART_THRESHOLD, else its CreateMultipartUpload), 1..10000 an UploadPartCopy,
 * UNIT_COMPLETE its CompleteMultipartUpload (S3 API: CopyObject copies at most 5 GiB). Transient
 * failures are retried by the scheduler up to COPY_OBJECT_ATTEMPTS per unit, each at its own
 * due time; a unit out of attempts ends the job with AWS's code and message and the key: a
 * transient error as the job's RETRY, any other as the run's failure.
 *
 * Units are paced per destination prefix (copy_pace.h): each table's `date=` folder is a lane
 * with its own AIMD window, cut by S3's 503 SlowDown for that prefix, and the next unit comes
 * from the next lane round robin that has work and room, so the requests in flight spread
 * over every ready table instead of crowding one prefix at a time. A table becomes a lane
 * when it becomes T_READY (tables do, one by one, while the export is still listed). The
 * queue's cap (COPY_CONCURRENCY) bounds the lanes together. Within a lane: parts and
 * completions of its open uploads first (so an upload's billed parts do not wait behind
 * thousands of small objects), then its next object; retries wait for room in their lane
 * (ops->admit).
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
#define UNIT(slot, obj, part)                                                                      \
    (((uint64_t)(slot) << 40) | ((uint64_t)(obj) << 16) | (uint64_t)(part))
#define UNIT_SLOT(u) ((size_t)((u) >> 40))
#define UNIT_OBJ(u) ((size_t)(((u) >> 16) & 0xFFFFFFu))
#define UNIT_PART(u) ((unsigned)((u)&0xFFFFu))
#define UNIT_TAB(cj, u) ((cj)->tabs[UNIT_SLOT(u)])

/*
 * The lake's files are Parquet and say so, and carry none of the export's metadata: a copy
 * replaces it (x-amz-metadata-directive REPLACE, as s5cmd copies). On S3 that costs nothing
 * either way; an S3-compatible store on a file system reads and rewrites the source's
 * metadata on each COPY (versitygw's posix backend: 10.0 s of CPU per 10,000 small copies
 * with COPY, 8.2-8.7 s with REPLACE).
 */
#define LAKE_CONTENT_TYPE "application/vnd.apache.parquet"

static const sl_s3_write_opts *write_opts(const copy_cfg *cfg, sl_s3_write_opts *o)
{
    o->kms_key_id = cfg->kms_key;
    o->expected_owner = cfg->lake_owner;
    o->source_expected_owner = cfg->export_owner;
    o->content_type = LAKE_CONTENT_TYPE;
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
static void mpu_abort(copy_ctx *cx, const copy_job *cj, const cp_table *t, cp_obj *o)
{
    char kb[CP_KEY_BUF];
    const char *dest;

    if (!o->mpu || !o->mpu->upload_id)
        return;
    dest = sl_copy_obj_dest(t, o, kb);
    if (sl_copy_abortq_push(&cx->aborts, cx->cfg.lake_bucket, dest, o->mpu->upload_id))
        sl_log_kv(SL_LOG_WARN, &cj->job->log, (const char *const[]){"key", dest, NULL},
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

/* unit: the object's (part 0). On the list, and counted in its table's lane. */
static int mpu_ready(copy_job *cj, uint64_t unit)
{
    uint64_t *g = sl_copy_grow(cj->mpu_ready, &cj->capmpu, cj->nmpu_ready + 1, sizeof(*g));

    if (!g)
        return -1;
    cj->mpu_ready = g;
    cj->mpu_ready[cj->nmpu_ready++] = unit & ~(uint64_t)0xFFFFu;
    sl_copy_pace_ready(&cj->pace, UNIT_TAB(cj, unit)->lane, +1);
    sl_xsched_queue_kick(cj->q);
    return 0;
}

/* Entry k of the list is spent (li its table's lane). */
static void mpu_unready(copy_job *cj, size_t k, size_t li)
{
    cj->mpu_ready[k] = cj->mpu_ready[--cj->nmpu_ready];
    sl_copy_pace_ready(&cj->pace, li, -1);
}

/* ---- pacing per destination prefix (copy_pace.h) ------------------------------------------ */

int sl_copy_xfer_table_ready(copy_job *cj, cp_table *t)
{
    size_t first = cj->pace.n ? cj->pace.lanes[cj->pace.n - 1].end : 0;
    cp_table **g;

    if (t->nobjs) {
        g = sl_copy_grow(cj->lane_tab, &cj->caplane_tab, cj->pace.n + 1, sizeof(*g));
        if (!g)
            return job_end(cj, sl_job_fail(cj->job, "ClientError", "copy: out of memory"));
        cj->lane_tab = g;
        if (sl_copy_pace_add(&cj->pace, first, first + t->nobjs, 1))
            return job_end(cj, sl_job_fail(cj->job, "ClientError", "copy: out of memory"));
        t->lane = cj->pace.n - 1;
        cj->lane_tab[t->lane] = t;
    }
    if (cj->q)
        sl_xsched_queue_kick(cj->q);
    return 0;
}

void sl_copy_xfer_table_gone(copy_job *cj, cp_table *t)
{
    if (t->lane != CP_NO_LANE && t->lane < cj->caplane_tab && cj->lane_tab)
        cj->lane_tab[t->lane] = NULL;
    t->lane = CP_NO_LANE;
}

/* A window cut is the one state change of a lane worth a line: counted in the metrics
   (snaplake_copy_window_cuts_total), logged one by one up to CP_MAX_WARN_LINES per job, then
   only counted (the progress line carries the counts). */
static void log_cut(copy_job *cj, size_t li)
{
    const sl_copy_lane *l = &cj->pace.lanes[li];
    const cp_table *t = cj->lane_tab[li];
    char w[32], f[32], n[32];

    sl_worker_count_copy_cut(cj->cx->w);
    if (cj->ncuts_logged++ >= CP_MAX_WARN_LINES || !t)
        return;
    snprintf(w, sizeof(w), "%zu", sl_copy_pace_window(&cj->pace, li));
    snprintf(f, sizeof(f), "%zu", l->inflight);
    snprintf(n, sizeof(n), "%lld", l->slowdowns);
    sl_log_kv(SL_LOG_INFO, &cj->job->log,
              (const char *const[]){"prefix", t->dest_dir, "window", w, "in_flight", f, "slowdowns",
                                    n, NULL},
              "prefix throttled (SlowDown); its window cut");
}

static void unit_attempt_end(void *ud, uint64_t unit, int attempt, const sl_aws_error *e,
                             long long started_ms)
{
    copy_job *cj = ud;
    size_t li = UNIT_TAB(cj, unit)->lane;
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

    return sl_copy_pace_room(&cj->pace, UNIT_TAB(cj, unit)->lane) ? 0 : -1;
}

/* ---- the job's units ---------------------------------------------------------------------- */

/* The next unit of lane li: its open uploads' parts and completions first, then its next
   object. 0 with *unit, or -1 when the lane has nothing to hand out. */
static int lane_next(copy_job *cj, size_t li, uint64_t *unit)
{
    sl_copy_lane *l = &cj->pace.lanes[li];
    cp_table *t = cj->lane_tab[li];
    size_t k = cj->nmpu_ready;

    if (!t) { /* freed: every object of it is done */
        l->ready = 0;
        l->next = l->end;
        return -1;
    }
    while (l->ready && k--) {
        uint64_t u = cj->mpu_ready[k];
        cp_mpu *m;

        if (UNIT_TAB(cj, u) != t)
            continue;
        m = t->objs[UNIT_OBJ(u)].mpu;
        if (m && m->upload_id && m->next < m->nparts) {
            *unit = u | ++m->next;
            if (m->next == m->nparts)
                mpu_unready(cj, k, li);
            return 0;
        }
        mpu_unready(cj, k, li);
        if (m && m->upload_id && m->ndone == m->nparts && !m->completing) {
            m->completing = 1;
            *unit = u | UNIT_COMPLETE;
            return 0;
        }
    }
    l->ready = 0; /* every entry was seen: none of this lane is left */
    while (l->next < l->end && t->objs[l->next - l->first].done)
        l->next++; /* already at its destination (restart) */
    if (l->next < l->end) {
        *unit = UNIT(t->slot, l->next++ - l->first, 0);
        if (cj->copy_t0 < 0)
            cj->copy_t0 = cj->last_progress = sl_mono_ms();
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
    unsigned part = UNIT_PART(unit);
    cp_obj *o = &UNIT_TAB(cj, unit)->objs[UNIT_OBJ(unit)];
    const char *sbucket = cj->job->in.s3_bucket, *dest;
    sl_s3_write_opts wo;
    sl_s3_req r;
    char err[SL_ERRLEN], marker[96], kb[CP_KEY_BUF];
    int rc;

    (void)attempt;
    write_opts(cfg, &wo);
    dest = sl_copy_obj_dest(UNIT_TAB(cj, unit), o, kb);
    if (part == 0 && o->size > cfg->multipart_threshold) {
        sl_copy_mpu_free(o->mpu);
        o->mpu = NULL;
        if (mpu_plan(cfg, o, e))
            return -1;
        /* The marker lets a restarted copy recognise the finished object (sl_copy_plan_skip). */
        sl_copy_plan_etag_bare(o->etag, marker, sizeof(marker));
        rc = sl_s3_create_multipart_request(&r, cfg->lake_bucket, dest, &wo, marker, err,
                                            sizeof(err));
    } else if (part == 0) {
        rc = sl_s3_copy_request(&r, sbucket, o->src, cfg->lake_bucket, dest, &wo, err, sizeof(err));
    } else if (part == UNIT_COMPLETE) {
        rc = sl_s3_complete_multipart_request(&r, cfg->lake_bucket, dest, o->mpu->upload_id,
                                              o->mpu->etags, o->mpu->nparts, cfg->lake_owner, err,
                                              sizeof(err));
    } else {
        rc = sl_s3_upload_part_copy_request(&r, sbucket, o->src, cfg->lake_bucket, dest,
                                            o->mpu->upload_id, (int)part, &o->mpu->ranges[part - 1],
                                            &wo, err, sizeof(err));
    }
    if (rc) {
        local_error(e, "InvalidRequest", err);
        return -1;
    }
    rc = sl_aws_xfer_new(cj->cx->aws, &r.req, x, e);
    sl_s3_req_cleanup(&r);
    if (rc == 0) /* its unit_attempt_end follows */
        sl_copy_pace_start(&cj->pace, UNIT_TAB(cj, unit)->lane);
    return rc;
}

static const char *unit_op(const copy_job *cj, uint64_t unit)
{
    unsigned part = UNIT_PART(unit);

    if (part == UNIT_COMPLETE)
        return "CompleteMultipartUpload";
    if (part)
        return "UploadPartCopy";
    return UNIT_TAB(cj, unit)->objs[UNIT_OBJ(unit)].size > cj->cx->cfg.multipart_threshold
               ? "CreateMultipartUpload"
               : "CopyObject";
}

/*
 * Ends the job for unit's object with AWS's error e, as sl_job_fail_aws does for the stage's
 * other requests: a transient e (SlowDown, 5xx, a timeout) that outlasted the unit's
 * COPY_OBJECT_ATTEMPTS is the job's RETRY (the runtime backs off and starts it again, up to
 * STAGE_MAX_ATTEMPTS; the restart skips what landed), anything else fails the run.
 */
static int unit_fail(copy_job *cj, uint64_t unit, const sl_aws_error *e, int attempts)
{
    sl_job *job = cj->job;
    cp_table *t = UNIT_TAB(cj, unit);
    cp_obj *o = &t->objs[UNIT_OBJ(unit)];
    char kb[CP_KEY_BUF], what[496]; /* with AWS's message (512), within error_message */
    sl_step_result r;
    size_t n;

    if (o->mpu)
        mpu_abort(cj->cx, cj, t, o);
    snprintf(what, sizeof(what), "%s s3://%s/%s -> %s", unit_op(cj, unit), job->in.s3_bucket,
             o->src, sl_copy_obj_dest(t, o, kb));
    r = sl_job_fail_aws(job, what, e);
    n = strlen(job->error_message);
    snprintf(job->error_message + n, sizeof(job->error_message) - n, " (attempt %d)", attempts);
    return job_end(cj, r);
}

static int unit_done(void *ud, uint64_t unit, sl_aws_xfer *x, const sl_aws_error *e, int attempts)
{
    copy_job *cj = ud;
    cp_table *t = UNIT_TAB(cj, unit);
    unsigned part = UNIT_PART(unit);
    cp_obj *o = &t->objs[UNIT_OBJ(unit)];
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
        return mpu_ready(cj, unit)
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
        if (++o->mpu->ndone == o->mpu->nparts && mpu_ready(cj, unit))
            return job_end(cj, sl_job_fail(cj->job, "ClientError", "copy: out of memory"));
        return 0;
    }
    sl_copy_object_done(cj, t, o);
    return 0;
}

static const sl_xsched_ops unit_ops = {unit_next, unit_start, unit_done, unit_attempt_end,
                                       unit_admit};

int sl_copy_xfer_begin(copy_ctx *cx, copy_job *cj)
{
    /* A copy's answer is a few hundred bytes of XML: curl's least receive buffer (1 KiB, one
       read for a whole answer) instead of its 16 KiB is 15 KiB less per request in flight
       (15 MiB at 1,024; a 4 KiB one kept 3 MiB more). Paced: the lanes'
       windows answer SlowDown, the queue only holds the cap. Sized: no more in flight than
       the path needs (bdp.h), never fewer than COPY_CONCURRENCY_MIN. */
    size_t lo = (size_t)(cx->cfg.concurrency_min < cx->cfg.concurrency ? cx->cfg.concurrency_min
                                                                       : cx->cfg.concurrency);
    sl_xsched_queue_opts o = {.max_inflight = (size_t)cx->cfg.concurrency,
                              .max_attempts = (int)cx->cfg.object_attempts,
                              .request_timeout_ms = (long)cx->cfg.request_timeout_ms,
                              .aws = cx->aws,
                              .recv_buffer = 1024,
                              .paced = 1,
                              .min_inflight = lo};

    sl_copy_pace_init(&cj->pace, (size_t)cx->cfg.concurrency);
    if (!(cj->q = sl_xsched_queue_new(cx->xs, &unit_ops, cj, &o)))
        return -1;
    sl_xsched_queue_kick(cj->q);
    return 0;
}

/* Lanes listed by name in the progress line: the most throttled first. */
#define LANES_LISTED 8

/* The LANES_LISTED lanes (of live tables) with the smallest windows below the cap into
   shown[] (sorted by window), their number returned; *nlow counts every such lane. */
static size_t lanes_throttled(const copy_job *cj, size_t shown[LANES_LISTED], size_t *nlow)
{
    const sl_copy_pace *p = &cj->pace;
    size_t nshown = 0;

    *nlow = 0;
    for (size_t i = 0; i < p->n; i++) {
        size_t w = sl_copy_pace_window(p, i), at = nshown;

        if (w >= p->max || !cj->lane_tab[i])
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

/* The progress line: objects, bytes, in flight and the queue's limit, then the lanes: how
   many, how many are below the cap now, SlowDowns and cuts so far, and `prefix=window` of
   the most throttled (lane_windows), then what sized the limit (rtt_min_ms, cpu_us). */
void sl_copy_xfer_progress(copy_job *cj, long long now, int final)
{
    const sl_copy_pace *p = &cj->pace;
    const sl_bdp *bdp = sl_xsched_bdp(cj->cx->xs);
    char a[32], b[32], c[32], d[32], w[32], ln[32], lo[32], sd[32], cu[32], rt[32], cpu[32];
    char list[1024];
    size_t shown[LANES_LISTED], nlow = 0, nshown;
    long long slow = 0, cuts = 0;

    if (!final && now - cj->last_progress < CP_PROGRESS_MS)
        return;
    cj->last_progress = now;
    nshown = lanes_throttled(cj, shown, &nlow);
    for (size_t i = 0; i < p->n; i++) {
        slow += p->lanes[i].slowdowns;
        cuts += p->lanes[i].cuts;
    }
    list[0] = '\0';
    for (size_t k = 0, len = 0; k < nshown && len < sizeof(list); k++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s=%zu", k ? " " : "",
                                cj->lane_tab[shown[k]]->dest_dir, sl_copy_pace_window(p, shown[k]));
    snprintf(a, sizeof(a), "%zu", cj->objs_done);
    snprintf(b, sizeof(b), "%zu", cj->nobjs);
    snprintf(c, sizeof(c), "%lld", cj->bytes_done);
    snprintf(d, sizeof(d), "%zu", cj->q ? sl_xsched_queue_inflight(cj->q) : 0);
    snprintf(w, sizeof(w), "%zu", cj->q ? sl_xsched_queue_window(cj->q) : 0);
    snprintf(ln, sizeof(ln), "%zu", p->n);
    snprintf(lo, sizeof(lo), "%zu", nlow);
    snprintf(sd, sizeof(sd), "%lld", slow);
    snprintf(cu, sizeof(cu), "%lld", cuts);
    /* What sized the window (bdp.h): the least round trip and the CPU per request. */
    snprintf(rt, sizeof(rt), "%.3f", (double)sl_bdp_rtt_min_us(bdp) / 1000.0);
    snprintf(cpu, sizeof(cpu), "%.1f", sl_bdp_cpu_ns(bdp) / 1000.0);
    sl_log_kv(SL_LOG_INFO, &cj->job->log,
              (const char *const[]){
                  "copied",      a,  "objects",      b,    "bytes",           c,  "in_flight", d,
                  "window",      w,  "lanes",        ln,   "lanes_throttled", lo, "slowdowns", sd,
                  "window_cuts", cu, "lane_windows", list, "rtt_min_ms",      rt, "cpu_us",    cpu,
                  NULL},
              "%s", final ? "all copies done" : "copying");
}

void sl_copy_xfer_cleanup(copy_ctx *cx, copy_job *cj)
{
    sl_xsched_queue_free(cj->q);
    cj->q = NULL;
    sl_copy_pace_cleanup(&cj->pace);
    free(cj->lane_tab);
    cj->lane_tab = NULL;
    cj->caplane_tab = 0;
    for (size_t s = 0; s < cj->captabs; s++) {
        cp_table *t = cj->tabs ? cj->tabs[s] : NULL;
        for (size_t i = 0; t && i < t->nobjs; i++) {
            /* An abandoned (shutdown, revoke) or failed multipart copy must not leave billed
               parts behind; the next owner of the message starts a fresh upload. */
            if (t->objs[i].mpu && !t->objs[i].done)
                mpu_abort(cx, cj, t, &t->objs[i]);
            sl_copy_mpu_free(t->objs[i].mpu);
            t->objs[i].mpu = NULL;
        }
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
    sl_xsched_queue_opts o = {CP_ABORT_INFLIGHT, 3, 30000, cx->aws, 0, 0, 0};

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
    cp_call *c = ud;

    if (c->state != CALL_WANT)
        return -1;
    c->state = CALL_INFLIGHT;
    *unit = 0;
    return 0;
}

static int call_start(void *ud, uint64_t unit, int attempt, sl_aws_xfer **x, sl_aws_error *e)
{
    cp_call *c = ud;

    (void)unit;
    (void)attempt;
    /* Deep-copied and signed anew for each attempt; req stays until the call is over. */
    return sl_aws_xfer_new(c->cj->cx->aws, &c->req.req, x, e);
}

static int call_done(void *ud, uint64_t unit, sl_aws_xfer *x, const sl_aws_error *e, int attempts)
{
    cp_call *c = ud;

    (void)unit;
    (void)attempts;
    sl_s3_req_cleanup(&c->req);
    if (e) {
        c->err = *e;
        c->state = CALL_FAILED;
    } else {
        const sl_aws_response *resp = sl_aws_xfer_response(x);
        char msg[SL_ERRLEN];
        /* A HEAD answer is its headers; the empty body only says the call is over. */
        c->len = c->head ? 0 : resp->body.len;
        c->body = malloc(c->len + 1);
        if (c->body && c->head && sl_s3_head_parse(resp, &c->hr, msg, sizeof(msg))) {
            free(c->body);
            c->body = NULL;
            local_error(&c->err, "ParseError", msg);
            c->state = CALL_FAILED;
        } else if (!c->body) {
            local_error(&c->err, "InternalFailure", "copy: out of memory");
            c->state = CALL_FAILED;
        } else {
            if (c->len)
                memcpy(c->body, resp->body.data, c->len);
            c->body[c->len] = '\0';
            c->state = CALL_DONE;
        }
    }
    c->cj->job->next_step_ms = sl_mono_ms();
    return 0;
}

static const sl_xsched_ops call_ops = {call_next, call_start, call_done, NULL, NULL};

int sl_copy_call_init(copy_ctx *cx, copy_job *cj, cp_call *c)
{
    sl_xsched_queue_opts o = {
        1, sl_aws_max_attempts(cx->aws), (long)cx->cfg.request_timeout_ms, cx->aws, 0, 0, 0};

    c->cj = cj;
    c->q = sl_xsched_queue_new(cx->xs, &call_ops, c, &o);
    return c->q ? 0 : -1;
}

int sl_copy_call_busy(const cp_call *c)
{
    return c->state == CALL_WANT || c->state == CALL_INFLIGHT;
}

/* Sends req if its builder succeeded (built == 0): 1, else -1 with e from msg. */
static int call_send(cp_call *c, int built, const char *msg, sl_aws_error *e)
{
    if (built) {
        local_error(e, "InvalidRequest", msg);
        return -1;
    }
    c->state = CALL_WANT;
    sl_xsched_queue_kick(c->q);
    return 1;
}

/* 1 while in flight, 0 with the body, -1 with e; at 0/-1 the call is over (body: caller's). */
static int call_result(cp_call *c, char **body, size_t *len, sl_aws_error *e)
{
    if (sl_copy_call_busy(c))
        return 1;
    c->state = CALL_IDLE;
    if (c->body) {
        *body = c->body;
        *len = c->len;
        c->body = NULL;
        return 0;
    }
    *e = c->err;
    return -1;
}

void sl_copy_call_cleanup(cp_call *c)
{
    sl_xsched_queue_free(c->q);
    c->q = NULL;
    sl_s3_req_cleanup(&c->req);
    free(c->body);
    c->body = NULL;
    c->state = CALL_IDLE;
}

int sl_copy_list_page(cp_call *c, const char *bucket, const sl_s3_list_opts *lo,
                      sl_s3_list_page *page, sl_aws_error *e)
{
    char msg[SL_ERRLEN], *body = NULL;
    size_t len = 0;
    int rc;

    if (c->state == CALL_IDLE)
        return call_send(c, sl_s3_list_request(&c->req, bucket, lo, msg, sizeof(msg)), msg, e);
    if ((rc = call_result(c, &body, &len, e)) != 0)
        return rc;
    rc = 0;
    if (sl_s3_list_parse(body, len, 1, page, msg, sizeof(msg))) {
        local_error(e, "ParseError", msg);
        rc = -1;
    }
    free(body);
    return rc;
}

int sl_copy_get_call(cp_call *c, const char *bucket, const char *key, const char *owner,
                     char **body, size_t *len, sl_aws_error *e)
{
    char msg[SL_ERRLEN];

    if (c->state == CALL_IDLE)
        return call_send(c, sl_s3_get_request(&c->req, bucket, key, owner, msg, sizeof(msg)), msg,
                         e);
    return call_result(c, body, len, e);
}

int sl_copy_head_call(cp_call *c, const char *bucket, const char *key, const char *owner,
                      sl_s3_head_result *hr, sl_aws_error *e)
{
    char msg[SL_ERRLEN], *body = NULL;
    size_t len = 0;
    int rc;

    if (c->state == CALL_IDLE) {
        rc =
            call_send(c, sl_s3_head_request(&c->req, bucket, key, owner, msg, sizeof(msg)), msg, e);
        c->head = rc > 0; /* only a HEAD on its way reads headers, not a body */
        return rc;
    }
    if ((rc = call_result(c, &body, &len, e)) > 0)
        return 1;
    c->head = 0;
    free(body);
    if (rc == 0)
        *hr = c->hr;
    return rc;
}

int sl_copy_delete_call(cp_call *c, const char *bucket, const char *const *keys, size_t n,
                        const char *owner, sl_s3_delete_failure **f, size_t *nf, sl_aws_error *e)
{
    char msg[SL_ERRLEN], *body = NULL;
    size_t len = 0;
    int rc;

    if (c->state == CALL_IDLE)
        return call_send(c, sl_s3_delete_request(&c->req, bucket, keys, n, owner, msg, sizeof(msg)),
                         msg, e);
    if ((rc = call_result(c, &body, &len, e)) != 0)
        return rc;
    rc = 0;
    if (sl_s3_delete_result_parse(body, len, f, nf, msg, sizeof(msg))) {
        local_error(e, "ParseError", msg);
        rc = -1;
    }
    free(body);
    return rc;
}
