/*
 * copy_out.c - the copy stage's `copied` message (copy_int.h): drafted once the failed tables
 * are known, before anything is written, and completed when the job is done.
 *
 * The draft is bounded under SL_MSG_MAX_BYTES with the widest counters and tables_total, so an
 * output that could not be published fails the run while the partition is untouched. The
 * tables copied are only known table by table while the copies run (copy_table.c keeps the
 * first MSG_MAX_TABLES in order); the final message adds them and is bounded again, which
 * cannot fail where the draft did not: bounding only drops list entries, and the draft fitted
 * with none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_int.h"
#include "log.h"

/* Caps on what the `copied` message lists (the counts are always whole; MSG_MAX_TABLES is in
   copy_int.h). */
#define MSG_MAX_FAILED 500
#define MSG_MAX_REASON 512
/* Room left under SL_MSG_MAX_BYTES for what the runtime may add; counters are sized at their
   widest when the draft is bounded, so the final message is never longer than the draft. */
#define MSG_MARGIN 4096

/*
 * The `copied` message, built once the failed tables are known (before the data listing) and
 * bounded to fit under SL_MSG_MAX_BYTES before anything is written or deleted: an output that
 * could not be published must fail the run while the partition is still untouched. Counters
 * hold their widest values here (finish() writes the real ones), so the final message is never
 * longer.
 */
sl_step_result sl_copy_out_draft(const copy_cfg *cfg, sl_job *job, copy_job *cj)
{
    sl_msg *o = &job->out;
    char err[SL_ERRLEN], now[32];

    sl_msg_cleanup(o);
    if (sl_msg_copy(o, &job->in, err, sizeof(err)))
        return sl_job_fail(job, "ClientError", "%s", err);
    o->type = SL_MSG_COPIED;
    if (sl_msg_format_time(sl_now_ms(), now, sizeof(now)))
        return sl_job_fail(job, "ClientError", "copy: clock out of range");
    free(o->lake_bucket);
    free(o->lake_prefix);
    free(o->copied_at);
    o->lake_bucket = strdup(cfg->lake_bucket);
    o->lake_prefix = strdup(cfg->lake_prefix ? cfg->lake_prefix : "");
    o->copied_at = strdup(now);
    if (!o->lake_bucket || !o->lake_prefix || !o->copied_at)
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    o->objects = o->bytes = o->removed = o->skipped = SL_MSG_COUNT_MAX;
    /* An input that already carried copy fields (a replayed `copied`) must not mix. */
    sl_keymap_strv_free(o->tables, o->ntables);
    o->tables = NULL;
    o->ntables = 0;
    for (size_t i = 0; i < o->nfailed_tables; i++) {
        free(o->failed_tables[i].table);
        free(o->failed_tables[i].reason);
    }
    free(o->failed_tables);
    o->failed_tables = NULL;
    o->nfailed_tables = 0;
    o->failed_tables_total = 0;
    /* The tables copied are known table by table while the copies run: the draft has none
       and reserves the widest total, and since the final message only adds entries that
       bounding may drop again, it always fits when the draft does (finish()). */
    o->tables_total = SL_MSG_COUNT_MAX;
    /* The failed tables are all known (INFO came first); the job keeps its own list, which
       decides which files are left out. */
    if (cj->nfailed && !(o->failed_tables = calloc(cj->nfailed, sizeof(*o->failed_tables))))
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    for (size_t i = 0; i < cj->nfailed; i++) {
        o->failed_tables[i].table = strdup(cj->failed[i].table);
        o->failed_tables[i].reason = strdup(cj->failed[i].reason);
        o->nfailed_tables++;
        if (!o->failed_tables[i].table || !o->failed_tables[i].reason)
            return sl_job_fail(job, "ClientError", "copy: out of memory");
    }
    if (sl_copy_plan_bound_msg(o, MSG_MAX_TABLES, MSG_MAX_FAILED, MSG_MAX_REASON,
                               SL_MSG_MAX_BYTES - MSG_MARGIN, err, sizeof(err)))
        return sl_job_fail(job, "OutputTooLarge", "%s", err);
    return SL_STEP_PENDING;
}

/* The tables copied go into the draft, which is bounded again (it cannot grow past the
   draft: see draft_out). */
static sl_step_result final_tables(sl_job *job, copy_job *cj)
{
    sl_msg *o = &job->out;
    char err[SL_ERRLEN], a[32], b[32];

    o->tables = cj->tables;
    o->ntables = cj->ntables;
    o->tables_total = cj->tables_total;
    cj->tables = NULL;
    cj->ntables = cj->captables = 0;
    if (sl_copy_plan_bound_msg(o, MSG_MAX_TABLES, MSG_MAX_FAILED, MSG_MAX_REASON,
                               SL_MSG_MAX_BYTES - MSG_MARGIN, err, sizeof(err)))
        return sl_job_fail(job, "OutputTooLarge", "%s", err);
    if ((long long)o->ntables < o->tables_total ||
        (long long)o->nfailed_tables < o->failed_tables_total) {
        snprintf(a, sizeof(a), "%lld", o->tables_total);
        snprintf(b, sizeof(b), "%lld", o->failed_tables_total);
        sl_log_kv(SL_LOG_WARN, &job->log,
                  (const char *const[]){"tables", a, "failed_tables", b, NULL},
                  "the copied message lists only part of the tables (the counts are whole)");
    }
    return SL_STEP_PENDING;
}

sl_step_result sl_copy_out_finish(sl_job *job, copy_job *cj)
{
    char now[32], a[32], b[32], c[32], d[32], e[32], f[32], g[32], k[32];
    long long ms = sl_mono_ms() - cj->t0;

    sl_step_result r;

    /* job->out is the draft of draft_out (bounded before anything was written). */
    if ((r = final_tables(job, cj)) != SL_STEP_PENDING)
        return r;
    if (sl_msg_format_time(sl_now_ms(), now, sizeof(now)))
        return sl_job_fail(job, "ClientError", "copy: clock out of range");
    free(job->out.copied_at);
    if (!(job->out.copied_at = strdup(now)))
        return sl_job_fail(job, "ClientError", "copy: out of memory");
    job->out.objects = (long long)cj->objs_done;
    job->out.bytes = cj->bytes_done;
    job->out.removed = cj->removed;
    job->out.skipped = (long long)cj->nskipped_dest;

    snprintf(a, sizeof(a), "%zu", cj->objs_done);
    snprintf(b, sizeof(b), "%lld", cj->bytes_done);
    snprintf(c, sizeof(c), "%lld", cj->removed);
    snprintf(d, sizeof(d), "%.3f", (double)ms / 1000.0);
    snprintf(e, sizeof(e), "%.1f", sl_copy_plan_rate((long long)cj->objs_done, cj->copy_ms));
    snprintf(f, sizeof(f), "%.2f",
             sl_copy_plan_rate(cj->bytes_done, cj->copy_ms) / (1024.0 * 1024.0));
    snprintf(g, sizeof(g), "%lld", cj->nretries);
    snprintf(k, sizeof(k), "%zu", cj->nskipped_dest);
    sl_log_kv(SL_LOG_INFO, &job->log,
              (const char *const[]){"objects", a, "bytes", b, "removed", c, "seconds", d,
                                    "objects_per_s", e, "mib_per_s", f, "retries", g, "skipped", k,
                                    NULL},
              "copy finished");
    return SL_STEP_DONE;
}
