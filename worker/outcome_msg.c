/* outcome_msg.c - see outcome_msg.h. */
#include "outcome_msg.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

sl_outcome_pub sl_outcome_pick(sl_job_outcome o, int has_out_topic, sl_msg_type out_type,
                               int reporter)
{
    if (o == SL_JOB_DEAD_LETTER)
        return SL_PUB_DEAD_LETTER;
    if (o == SL_JOB_SUCCEEDED)
        return has_out_topic && out_type != SL_MSG_NONE ? SL_PUB_OUTPUT : SL_PUB_NOTHING;
    return reporter ? SL_PUB_NOTHING : SL_PUB_FAILURE;
}

int sl_outcome_failure_msg(const sl_job *job, const char *stage, const char *raw, long long now_ms,
                           sl_msg *f, char *err, size_t errlen)
{
    char now[32];

    sl_msg_init(f);
    f->type = SL_MSG_FAILURE;
    if (sl_msg_format_time(now_ms, now, sizeof(now)))
        return sl_seterr(err, errlen, "failure message: clock out of range");
    f->run_id = sl_strdup0(job->in.run_id);
    f->cluster = sl_strdup0(job->in.cluster);
    f->stage = sl_strdup0(stage);
    f->error_code = sl_strdup0(job->error_code);
    f->error_message = sl_strdup0(job->error_message[0] ? job->error_message : job->error_code);
    f->aws_request_id = job->aws_request_id[0] ? sl_strdup0(job->aws_request_id) : NULL;
    /* Later stages know the export task from their input: the failure names it too. */
    f->export_task_id = job->export_task_id[0] ? sl_strdup0(job->export_task_id)
                                               : sl_strdup0(job->in.export_task_id);
    f->attempt = job->attempt;
    f->failed_at = sl_strdup0(now);
    f->input_json = sl_strdup0(raw);
    if (!f->run_id || !f->cluster || !f->stage || !f->error_code || !f->error_message ||
        !f->failed_at || !f->input_json) {
        sl_msg_cleanup(f);
        return sl_seterr(err, errlen, "failure message: out of memory");
    }
    return 0;
}

int sl_outcome_dead_letter_msg(const sl_dead_letter_src *s, sl_msg *d, char *err, size_t errlen)
{
    /* A dead letter carries at most SL_MSG_MAX_BYTES / 2 of key and of payload
       (docs/messages.md): an oversize input (the very reason it is here) is cut, and the
       reason says so, or sl_msg_encode would refuse it and the input would vanish. */
    size_t cap = SL_MSG_MAX_BYTES / 2;
    size_t keep = s->rawlen < cap ? s->rawlen : cap, kkeep = s->keylen < cap ? s->keylen : cap;

    sl_msg_init(d);
    d->type = SL_MSG_DEAD_LETTER;
    if (keep < s->rawlen || (s->key && kkeep < s->keylen)) {
        size_t n = strlen(s->reason) + 96;
        if ((d->reason = malloc(n)))
            snprintf(d->reason, n, "%s (key and payload cut to their first %zu bytes)", s->reason,
                     cap);
    } else {
        d->reason = sl_strdup0(s->reason);
    }
    d->topic = sl_strdup0(s->topic);
    d->partition = s->partition;
    d->offset = s->offset;
    if (s->key) {
        d->key = malloc(kkeep ? kkeep : 1);
        if (d->key) {
            memcpy(d->key, s->key, kkeep);
            d->key_len = kkeep;
        }
    }
    d->payload = malloc(keep ? keep : 1);
    if (d->payload) {
        memcpy(d->payload, s->raw, keep);
        d->payload_len = keep;
    }
    if (!d->reason || !d->topic || !d->payload || (s->key && !d->key)) {
        sl_msg_cleanup(d);
        return sl_seterr(err, errlen, "dead letter: out of memory");
    }
    return 0;
}

int sl_outcome_encode(sl_msg *m, int dead_letter, char **text, size_t *len, char *err,
                      size_t errlen)
{
    int enc = sl_msg_encode(m, text, len, err, errlen), cut = 0;

    while (enc && dead_letter && (m->payload_len > 1 || m->key_len > 1)) {
        if (!cut) {
            size_t n = strlen(m->reason) + 64;
            char *r = malloc(n);
            if (r) {
                snprintf(r, n, "%s (payload cut to fit the dead-letter topic)", m->reason);
                free(m->reason);
                m->reason = r;
            }
            cut = 1;
        }
        m->payload_len /= 2;
        m->key_len /= 2;
        enc = sl_msg_encode(m, text, len, err, errlen);
    }
    return enc;
}

int sl_outcome_ledger_refused_data(const char *err)
{
    const char *p = strstr(err, "(SQLSTATE ");

    if (!p)
        return 0;
    p += strlen("(SQLSTATE ");
    return strncmp(p, "22", 2) == 0 || strncmp(p, "23", 2) == 0 || strncmp(p, "54", 2) == 0;
}
