/* event.c - see event.h. */
#include "event.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ids.h"
#include "json.h"

#define EV_SOURCE "aws.rds"
#define EV_DETAIL_TYPE "RDS DB Cluster Snapshot Event"
#define EV_MESSAGE "Automated cluster snapshot created"

void sl_event_cleanup(sl_event *ev)
{
    if (!ev)
        return;
    free(ev->cluster);
    free(ev->snapshot_id);
    free(ev->snapshot_arn);
    free(ev->date);
    free(ev->time);
    free(ev->account);
    free(ev->region);
    free(ev->event_time);
    free(ev->event_id);
    memset(ev, 0, sizeof(*ev));
}

/* Required string member: 0 and *out set, or -1 with a "malformed" reason. */
static int req_str(const cJSON *obj, const char *path, const char *name, const char **out,
                   char *reason, size_t reasonlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    if (!v)
        return sl_seterr(reason, reasonlen, "malformed: missing %s", path);
    if (!cJSON_IsString(v) || !v->valuestring)
        return sl_seterr(reason, reasonlen, "malformed: %s is not a string", path);
    *out = v->valuestring;
    return 0;
}

/* Optional string member: 0 (*out NULL when absent), or -1 when present but not a string. */
static int opt_str(const cJSON *obj, const char *name, const char **out, char *reason,
                   size_t reasonlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return sl_seterr(reason, reasonlen, "malformed: %s is not a string", name);
    *out = v->valuestring;
    return 0;
}

/* Copies at most 200 bytes of a field into a reason, replacing control bytes, so a hostile
 * value cannot flood the DLQ record or break a log line. */
static void clip(const char *s, char *out, size_t outlen)
{
    size_t i, n = 0;

    for (i = 0; s[i] && n + 1 < outlen && i < 200; i++)
        out[n++] = ((unsigned char)s[i] < 0x20) ? '?' : s[i];
    out[n] = '\0';
}

static int allowed(const char *source_id, const char *const *allow, size_t nallow)
{
    size_t i, n;

    if (!allow || nallow == 0)
        return 1;
    /* The seed's EventBridge rule: SourceIdentifier prefix "rds:<cluster>". */
    for (i = 0; i < nallow; i++) {
        if (!allow[i])
            continue;
        n = strlen(allow[i]);
        if (strncmp(source_id + 4, allow[i], n) == 0)
            return 1;
    }
    return 0;
}

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

int sl_event_parse(const char *buf, size_t len, const char *const *allow, size_t nallow,
                   sl_event *out, char *reason, size_t reasonlen)
{
    cJSON *root = NULL;
    const cJSON *detail;
    const char *source, *dtype, *message, *source_id, *arn, *acct, *region, *etime, *eid;
    const char *tail;
    char ierr[SL_ERRLEN], shown[256];
    sl_snapshot_id sid;
    sl_event ev;
    int rc = SL_EVENT_MALFORMED;

    memset(out, 0, sizeof(*out));
    memset(&ev, 0, sizeof(ev));
    if (!buf || len == 0) {
        sl_seterr(reason, reasonlen, "malformed: empty event");
        goto out;
    }
    if (len > SL_EVENT_MAX_BYTES) {
        sl_seterr(reason, reasonlen, "malformed: event of %zu bytes exceeds %zu", len,
                  SL_EVENT_MAX_BYTES);
        goto out;
    }
    /* One JSON value and nothing but blanks after it: `{...} junk` is not an event. The
       blanks are evframe's (\f and \v too, beyond JSON's whitespace), so trim those first;
       no JSON value ends in a blank, so this never cuts into the value. */
    while (len > 0 && blank(buf[len - 1]))
        len--;
    root = sl_json_parse_exact(buf, len);
    if (!root) {
        sl_seterr(reason, reasonlen, "%s",
                  sl_json_has_nul(buf, len) ? "malformed: a string holds a NUL (\\u0000)"
                                            : "malformed: not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        sl_seterr(reason, reasonlen, "malformed: not a JSON object");
        goto out;
    }
    if (req_str(root, "source", "source", &source, reason, reasonlen) ||
        req_str(root, "detail-type", "detail-type", &dtype, reason, reasonlen))
        goto out;
    /* Another kind of event is well-formed for our purposes: it is simply not ours. */
    if (strcmp(source, EV_SOURCE) != 0) {
        clip(source, shown, sizeof(shown));
        sl_seterr(reason, reasonlen, "not matching: source \"%s\" is not \"" EV_SOURCE "\"", shown);
        rc = SL_EVENT_NOT_MATCHING;
        goto out;
    }
    if (strcmp(dtype, EV_DETAIL_TYPE) != 0) {
        clip(dtype, shown, sizeof(shown));
        sl_seterr(reason, reasonlen,
                  "not matching: detail-type \"%s\" is not \"" EV_DETAIL_TYPE "\"", shown);
        rc = SL_EVENT_NOT_MATCHING;
        goto out;
    }
    detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    if (!detail) {
        sl_seterr(reason, reasonlen, "malformed: missing detail");
        goto out;
    }
    if (!cJSON_IsObject(detail)) {
        sl_seterr(reason, reasonlen, "malformed: detail is not an object");
        goto out;
    }
    if (req_str(detail, "detail.Message", "Message", &message, reason, reasonlen))
        goto out;
    if (strcmp(message, EV_MESSAGE) != 0) {
        clip(message, shown, sizeof(shown));
        sl_seterr(reason, reasonlen,
                  "not matching: detail.Message \"%s\" is not \"" EV_MESSAGE "\"", shown);
        rc = SL_EVENT_NOT_MATCHING;
        goto out;
    }
    if (req_str(detail, "detail.SourceIdentifier", "SourceIdentifier", &source_id, reason,
                reasonlen) ||
        req_str(detail, "detail.SourceArn", "SourceArn", &arn, reason, reasonlen))
        goto out;
    if (sl_ids_parse_snapshot(source_id, &sid, ierr, sizeof(ierr))) {
        clip(source_id, shown, sizeof(shown));
        sl_seterr(reason, reasonlen, "malformed: detail.SourceIdentifier \"%s\": %s", shown, ierr);
        goto out;
    }
    /* The ARN must name this very snapshot, or the export would read another one:
     * arn:<partition>:rds:<region>:<account>:cluster-snapshot:<SourceIdentifier>. */
    tail = strstr(arn, ":cluster-snapshot:");
    if (strncmp(arn, "arn:", 4) != 0 || !tail ||
        strcmp(tail + strlen(":cluster-snapshot:"), source_id) != 0) {
        clip(arn, shown, sizeof(shown));
        sl_seterr(reason, reasonlen, "malformed: detail.SourceArn \"%s\" does not name snapshot %s",
                  shown, sid.snapshot_id);
        goto out;
    }
    if (opt_str(root, "account", &acct, reason, reasonlen) ||
        opt_str(root, "region", &region, reason, reasonlen) ||
        opt_str(root, "time", &etime, reason, reasonlen) ||
        opt_str(root, "id", &eid, reason, reasonlen))
        goto out;
    if (!allowed(sid.snapshot_id, allow, nallow)) {
        sl_seterr(reason, reasonlen, "not matching: cluster %s is not in the allowlist",
                  sid.cluster);
        rc = SL_EVENT_NOT_MATCHING;
        goto out;
    }
    ev.cluster = strdup(sid.cluster);
    ev.snapshot_id = strdup(sid.snapshot_id);
    ev.snapshot_arn = strdup(arn);
    ev.date = strdup(sid.date);
    ev.time = strdup(sid.time);
    ev.account = sl_strdup0(acct);
    ev.region = sl_strdup0(region);
    ev.event_time = sl_strdup0(etime);
    ev.event_id = sl_strdup0(eid);
    if (!ev.cluster || !ev.snapshot_id || !ev.snapshot_arn || !ev.date || !ev.time ||
        (acct && !ev.account) || (region && !ev.region) || (etime && !ev.event_time) ||
        (eid && !ev.event_id)) {
        sl_seterr(reason, reasonlen, "event: out of memory");
        rc = -1;
        goto out;
    }
    *out = ev;
    memset(&ev, 0, sizeof(ev));
    rc = SL_EVENT_OK;
out:
    sl_event_cleanup(&ev);
    cJSON_Delete(root);
    return rc;
}

int sl_event_next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *linelen)
{
    size_t i = *pos, start, end;

    while (i < len) {
        start = i;
        while (i < len && buf[i] != '\n')
            i++;
        end = i;
        if (i < len)
            i++; /* past the newline */
        while (start < end && blank(buf[start]))
            start++;
        while (end > start && blank(buf[end - 1]))
            end--;
        if (end > start) {
            *pos = i;
            *line = buf + start;
            *linelen = end - start;
            return 1;
        }
    }
    *pos = len;
    return 0;
}
