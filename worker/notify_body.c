/* notify_body.c - see notify_body.h. */
#include "notify_body.h"

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json.h"
#include "worker.h"

/* Slack's limits (Block Kit reference: header, section, context). */
#define SLACK_HEADER_MAX 150
#define SLACK_SECTION_MAX 3000
#define SLACK_FIELD_MAX 2000
#define SLACK_FIELDS_MAX 10

int sl_notify_format_parse(const char *s, sl_notify_format *out)
{
    if (s && strcmp(s, "slack") == 0)
        *out = SL_NOTIFY_SLACK;
    else if (s && strcmp(s, "json") == 0)
        *out = SL_NOTIFY_JSON;
    else
        return -1;
    return 0;
}

/* ---- text ---------------------------------------------------------------------------------- */

/* A word a shell reads as itself, unquoted. */
static int shell_plain(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '_' || *s == ':' || *s == '-'))
            return 0;
    return 1;
}

/* Appends s as one shell word: as is, or single-quoted with each ' written '\''. */
static int shell_word(sl_buf *b, const char *s)
{
    if (shell_plain(s))
        return sl_buf_append(b, s, strlen(s));
    if (sl_buf_append(b, "'", 1))
        return -1;
    for (; *s; s++)
        if (*s == '\'' ? sl_buf_append(b, "'\\''", 4) : sl_buf_append(b, s, 1))
            return -1;
    return sl_buf_append(b, "'", 1);
}

int sl_notify_redo_command(const char *run_id, const char *stage, char *out, size_t outlen)
{
    sl_buf b;
    int rc = -1;

    if (outlen)
        out[0] = '\0';
    if (!run_id || !*run_id || !stage || !*stage || strcmp(stage, "producer") == 0)
        return -1;
    sl_buf_init(&b, outlen ? outlen - 1 : 1);
    if (sl_buf_append(&b, "snaplakectl redo ", 17) || shell_word(&b, run_id) ||
        sl_buf_append(&b, " --stage ", 9) || shell_word(&b, stage))
        goto out;
    memcpy(out, b.data, b.len + 1);
    rc = 0;
out:
    sl_buf_cleanup(&b);
    return rc;
}

/*
 * Copies at most max bytes of src[len] into a new string, cut at a character boundary, with NUL
 * bytes written '?' and any other invalid UTF-8 repaired (sl_worker_utf8_repair): a dead
 * letter's payload may be binary, and a webhook refuses a body that is not UTF-8. "..." marks
 * a cut. Returns the string (caller frees) or NULL (out of memory).
 */
static char *excerpt(const char *src, size_t len, size_t max)
{
    size_t n = len < max ? len : max;
    char *s;

    if (n < len)
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--; /* src[n] starts the first character left out */
    if (!(s = malloc(n + 4)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        s[i] = src[i] ? src[i] : '?';
    s[n] = '\0';
    (void)sl_worker_utf8_repair(s);
    if (n < len)
        memcpy(s + n, "...", 4);
    return s;
}

/* Appends s to b escaped for Slack mrkdwn (&, <, > as entities; ` as ' so that a code span
 * stays one span), cut to at most max bytes of s. */
static int mrkdwn(sl_buf *b, const char *s, size_t max)
{
    char *t = excerpt(s ? s : "", s ? strlen(s) : 0, max);
    int rc = t ? 0 : -1;

    for (const char *p = t; rc == 0 && *p; p++) {
        switch (*p) {
        case '&':
            rc = sl_buf_append(b, "&amp;", 5);
            break;
        case '<':
            rc = sl_buf_append(b, "&lt;", 4);
            break;
        case '>':
            rc = sl_buf_append(b, "&gt;", 4);
            break;
        case '`':
            rc = sl_buf_append(b, "'", 1);
            break;
        default:
            rc = sl_buf_append(b, p, 1);
        }
    }
    free(t);
    return rc;
}

/* ---- facts --------------------------------------------------------------------------------- */

/* What one alert says, gathered from the message once, for both formats. Strings borrowed from
 * the message or from f->input, except the owned excerpts. */
typedef struct facts {
    int dead; /* a dead letter, else a failure */
    const char *cluster, *stage, *run_id, *code, *request_id, *task_id, *snapshot_id, *at;
    char *message; /* owned excerpt */
    long long attempt;
    char redo[512]; /* "" when there is no run to redo */
    const char *reason, *dl_topic;
    int32_t dl_partition;
    long long dl_offset;
    char *payload, *key; /* owned excerpts (key NULL when none) */
    size_t payload_len;
    cJSON *input; /* the failure's input message, parsed; owned */
} facts;

static const char *nz(const char *s)
{
    return s && *s ? s : NULL;
}

static int facts_init(facts *f, const sl_msg *m, char *err, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    if (m->type == SL_MSG_FAILURE) {
        f->cluster = nz(m->cluster);
        f->stage = nz(m->stage);
        f->run_id = nz(m->run_id);
        f->code = nz(m->error_code);
        f->request_id = nz(m->aws_request_id);
        f->task_id = nz(m->export_task_id);
        f->at = nz(m->failed_at);
        f->attempt = m->attempt;
        if (m->input_json &&
            (f->input = sl_json_parse_exact(m->input_json, strlen(m->input_json)))) {
            f->snapshot_id = nz(sl_json_str(f->input, "snapshot_id"));
            if (!f->task_id)
                f->task_id = nz(sl_json_str(f->input, "export_task_id"));
            if (!f->cluster)
                f->cluster = nz(sl_json_str(f->input, "cluster"));
            if (!f->run_id)
                f->run_id = nz(sl_json_str(f->input, "run_id"));
        }
        (void)sl_notify_redo_command(f->run_id, f->stage, f->redo, sizeof(f->redo));
        f->message =
            excerpt(m->error_message ? m->error_message : "",
                    m->error_message ? strlen(m->error_message) : 0, SL_NOTIFY_MESSAGE_MAX);
        if (!f->message)
            return sl_seterr(err, errlen, "alert body: out of memory");
        return 0;
    }
    if (m->type != SL_MSG_DEAD_LETTER)
        return sl_seterr(err, errlen, "alert body: a %s message is not an alert",
                         sl_msg_type_name(m->type) ? sl_msg_type_name(m->type) : "typeless");
    f->dead = 1;
    f->reason = m->reason ? m->reason : "";
    f->dl_topic = m->topic ? m->topic : "";
    f->dl_partition = m->partition;
    f->dl_offset = m->offset;
    f->payload_len = m->payload_len;
    f->payload = excerpt(m->payload ? (const char *)m->payload : "",
                         m->payload ? m->payload_len : 0, SL_NOTIFY_PAYLOAD_EXCERPT);
    if (m->key)
        f->key = excerpt((const char *)m->key, m->key_len, 256);
    if (!f->payload || (m->key && !f->key))
        return sl_seterr(err, errlen, "alert body: out of memory");
    return 0;
}

static void facts_cleanup(facts *f)
{
    free(f->message);
    free(f->payload);
    free(f->key);
    cJSON_Delete(f->input);
}

/* ---- json ---------------------------------------------------------------------------------- */

static int add_str(cJSON *o, const char *name, const char *v)
{
    return cJSON_AddItemToObject(o, name, v ? cJSON_CreateString(v) : cJSON_CreateNull()) ? 0 : -1;
}

static int add_num(cJSON *o, const char *name, double v)
{
    return cJSON_AddNumberToObject(o, name, v) ? 0 : -1;
}

static cJSON *json_body(const facts *f, const sl_notify_src *src)
{
    cJSON *o = cJSON_CreateObject(), *rec = cJSON_CreateObject();
    int bad = !o || !rec;

    if (!bad && f->dead) {
        bad = add_str(o, "source", "snaplake") || add_str(o, "kind", "dead_letter") ||
              add_str(o, "reason", f->reason) || add_str(o, "topic", f->dl_topic) ||
              add_num(o, "partition", f->dl_partition) ||
              add_num(o, "offset", (double)f->dl_offset) || add_str(o, "key", f->key) ||
              add_str(o, "payload", f->payload) ||
              add_num(o, "payload_bytes", (double)f->payload_len);
    } else if (!bad) {
        bad = add_str(o, "source", "snaplake") || add_str(o, "kind", "failure") ||
              add_str(o, "cluster", f->cluster) || add_str(o, "stage", f->stage) ||
              add_str(o, "run_id", f->run_id) || add_str(o, "error_code", f->code) ||
              add_str(o, "error_message", f->message) ||
              add_str(o, "aws_request_id", f->request_id) ||
              add_str(o, "export_task_id", f->task_id) ||
              add_str(o, "snapshot_id", f->snapshot_id) ||
              add_num(o, "attempt", (double)f->attempt) || add_str(o, "failed_at", f->at) ||
              add_str(o, "redo", f->redo[0] ? f->redo : NULL);
    }
    if (!bad)
        bad = add_str(rec, "topic", src->topic) || add_num(rec, "partition", src->partition) ||
              add_num(rec, "offset", (double)src->offset) ||
              !cJSON_AddItemToObject(o, "record", rec);
    else
        cJSON_Delete(rec);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- slack --------------------------------------------------------------------------------- */

/* {"type": type, "text": text} */
static cJSON *text_obj(const char *type, const char *text)
{
    cJSON *t = cJSON_CreateObject();

    if (!t || !cJSON_AddStringToObject(t, "type", type) ||
        !cJSON_AddStringToObject(t, "text", text)) {
        cJSON_Delete(t);
        return NULL;
    }
    return t;
}

/* Appends a block {"type": type, key: item} to blocks; takes item. */
static int add_block(cJSON *blocks, const char *type, const char *key, cJSON *item)
{
    cJSON *b = cJSON_CreateObject();

    if (!item || !b || !cJSON_AddStringToObject(b, "type", type) ||
        !cJSON_AddItemToObject(b, key, item)) {
        cJSON_Delete(item);
        cJSON_Delete(b);
        return -1;
    }
    if (!cJSON_AddItemToArray(blocks, b)) {
        cJSON_Delete(b);
        return -1;
    }
    return 0;
}

/* [item], taking item; NULL (item freed) when out of memory. */
static cJSON *one_elem(cJSON *item)
{
    cJSON *a = item ? cJSON_CreateArray() : NULL;

    if (!a || !cJSON_AddItemToArray(a, item)) {
        cJSON_Delete(a);
        cJSON_Delete(item);
        return NULL;
    }
    return a;
}

/* A section field "*label*\nvalue" (value as code) into fields; skipped when value is NULL. */
static int add_field(cJSON *fields, const char *label, const char *value)
{
    sl_buf b;
    cJSON *t;
    int rc;

    if (!value || cJSON_GetArraySize(fields) >= SLACK_FIELDS_MAX)
        return 0;
    sl_buf_init(&b, 4 * SLACK_FIELD_MAX);
    rc = sl_buf_appendf(&b, "*%s*\n`", label) || mrkdwn(&b, value, SLACK_FIELD_MAX / 8) ||
         sl_buf_append(&b, "`", 1);
    t = rc ? NULL : text_obj("mrkdwn", b.data);
    sl_buf_cleanup(&b);
    return t && cJSON_AddItemToArray(fields, t) ? 0 : -1;
}

/* The plain-text title: Slack's header and the start of the notification line. */
static void title(const facts *f, char *out, size_t outlen)
{
    if (f->dead)
        snprintf(out, outlen, "snaplake: dead letter from %.120s",
                 f->dl_topic[0] ? f->dl_topic : "producer input");
    else
        snprintf(out, outlen, "snaplake: %.20s failed for %.63s", f->stage ? f->stage : "a stage",
                 f->cluster ? f->cluster : "an unknown cluster");
}

static cJSON *slack_body(const facts *f, const sl_notify_src *src)
{
    cJSON *o = cJSON_CreateObject(), *blocks = cJSON_CreateArray(), *fields = cJSON_CreateArray();
    char head[SLACK_HEADER_MAX + 1], part[24], off[32], att[24];
    sl_buf text, sec, ctx;
    int bad = !o || !blocks || !fields;

    sl_buf_init(&text, 64 * 1024);
    sl_buf_init(&sec, 4 * SLACK_SECTION_MAX);
    sl_buf_init(&ctx, 4096);
    title(f, head, sizeof(head));
    snprintf(part, sizeof(part), "%d", (int)(f->dead ? f->dl_partition : 0));
    snprintf(off, sizeof(off), "%lld", f->dead ? f->dl_offset : 0);
    snprintf(att, sizeof(att), "%lld", f->attempt);
    /* The notification line: what a phone shows, and all a text-only receiver reads. */
    bad = bad || mrkdwn(&text, head, SLACK_HEADER_MAX) || sl_buf_append(&text, ": ", 2);
    if (f->dead) {
        bad =
            bad || mrkdwn(&text, f->reason, 500) ||
            sl_buf_appendf(&text, " (%s[%s]@%s)", f->dl_topic, part, off) ||
            add_field(fields, "source topic", f->dl_topic[0] ? f->dl_topic : "(producer input)") ||
            add_field(fields, "partition", part) || add_field(fields, "offset", off) ||
            add_field(fields, "key", f->key) || sl_buf_append(&sec, "*Reason*\n", 9) ||
            mrkdwn(&sec, f->reason, 1000) || sl_buf_append(&sec, "\n*Payload*\n```", 14) ||
            mrkdwn(&sec, f->payload, 1200) || sl_buf_append(&sec, "```", 3);
    } else {
        bad = bad || mrkdwn(&text, f->code ? f->code : "error", 128) ||
              sl_buf_append(&text, ": ", 2) || mrkdwn(&text, f->message, 500) ||
              add_field(fields, "cluster", f->cluster) || add_field(fields, "stage", f->stage) ||
              add_field(fields, "run id", f->run_id) ||
              add_field(fields, "export task id", f->task_id) ||
              add_field(fields, "snapshot id", f->snapshot_id) ||
              add_field(fields, "aws request id", f->request_id) ||
              add_field(fields, "attempt", f->attempt > 0 ? att : NULL) ||
              add_field(fields, "failed at", f->at) || sl_buf_append(&sec, "*Error* `", 9) ||
              mrkdwn(&sec, f->code ? f->code : "error", 128) || sl_buf_append(&sec, "`\n", 2) ||
              mrkdwn(&sec, f->message, SL_NOTIFY_MESSAGE_MAX) ||
              sl_buf_append(&sec, "\n*Redo*\n", 8);
        if (f->redo[0])
            bad = bad || sl_buf_append(&sec, "```", 3) || mrkdwn(&sec, f->redo, 512) ||
                  sl_buf_append(&sec, "```", 3) || sl_buf_append(&text, "\nredo: ", 7) ||
                  mrkdwn(&text, f->redo, 512);
        else
            bad = bad || sl_buf_append(&sec, "no run to redo (the failure names no run)", 41);
    }
    bad = bad || sl_buf_appendf(&ctx, "alert read from %s[%d]@%lld", src->topic ? src->topic : "?",
                                (int)src->partition, src->offset);
    if (!bad)
        bad = !cJSON_AddStringToObject(o, "text", text.data) ||
              add_block(blocks, "header", "text", text_obj("plain_text", head));
    if (!bad && cJSON_GetArraySize(fields) > 0) {
        bad = add_block(blocks, "section", "fields", fields); /* takes fields either way */
        fields = NULL;
    }
    if (!bad)
        bad = add_block(blocks, "section", "text", text_obj("mrkdwn", sec.data)) ||
              add_block(blocks, "context", "elements", one_elem(text_obj("mrkdwn", ctx.data)));
    if (!bad && !(bad = !cJSON_AddItemToObject(o, "blocks", blocks)))
        blocks = NULL;
    sl_buf_cleanup(&text);
    sl_buf_cleanup(&sec);
    sl_buf_cleanup(&ctx);
    cJSON_Delete(fields);
    cJSON_Delete(blocks);
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

int sl_notify_body(const sl_msg *m, const sl_notify_src *src, sl_notify_format fmt, char **out,
                   size_t *outlen, char *err, size_t errlen)
{
    facts f;
    cJSON *o;
    char *s;

    if (facts_init(&f, m, err, errlen)) {
        facts_cleanup(&f);
        return -1;
    }
    o = fmt == SL_NOTIFY_JSON ? json_body(&f, src) : slack_body(&f, src);
    if (o && fmt == SL_NOTIFY_SLACK_TEXT)
        cJSON_DeleteItemFromObjectCaseSensitive(o, "blocks");
    facts_cleanup(&f);
    s = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s)
        return sl_seterr(err, errlen, "alert body: out of memory");
    *out = s;
    *outlen = strlen(s);
    return 0;
}
