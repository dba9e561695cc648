/*
 * sqs.c - SQS ReceiveMessage / DeleteMessageBatch / ChangeMessageVisibilityBatch on the JSON
 * 1.0 protocol (see sqs.h).
 */
#include "sqs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void sl_sqs_messages_cleanup(sl_sqs_messages *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n && i < SL_SQS_MAX_BATCH; i++) {
        free(m->items[i].id);
        free(m->items[i].receipt_handle);
        free(m->items[i].body);
    }
    memset(m, 0, sizeof(*m));
}

cJSON *sl_sqs_receive_request(const char *queue_url, int max_messages, int wait_s, int visibility_s)
{
    cJSON *b, *attrs, *name;

    if (!queue_url || max_messages < 1 || max_messages > SL_SQS_MAX_BATCH || wait_s < 0 ||
        wait_s > SL_SQS_MAX_WAIT_S || visibility_s > SL_SQS_MAX_VISIBILITY_S)
        return NULL;
    b = cJSON_CreateObject();
    if (!b)
        return NULL;
    attrs = cJSON_AddArrayToObject(b, "MessageSystemAttributeNames");
    name = cJSON_CreateString("ApproximateReceiveCount");
    if (!attrs || !name || !cJSON_AddItemToArray(attrs, name)) {
        cJSON_Delete(name);
        cJSON_Delete(b);
        return NULL;
    }
    if (!cJSON_AddStringToObject(b, "QueueUrl", queue_url) ||
        !cJSON_AddNumberToObject(b, "MaxNumberOfMessages", max_messages) ||
        !cJSON_AddNumberToObject(b, "WaitTimeSeconds", wait_s) ||
        (visibility_s >= 0 && !cJSON_AddNumberToObject(b, "VisibilityTimeout", visibility_s))) {
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

int sl_sqs_parse_receive(const cJSON *resp, sl_sqs_messages *out, char *err, size_t errlen)
{
    const cJSON *list, *m;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "ReceiveMessage: answer is not a JSON object");
    list = cJSON_GetObjectItemCaseSensitive(resp, "Messages");
    if (!list || cJSON_IsNull(list))
        return 0; /* an empty poll */
    if (!cJSON_IsArray(list))
        return sl_seterr(err, errlen, "ReceiveMessage: Messages is not an array");
    cJSON_ArrayForEach(m, list)
    {
        const char *id = sl_json_str(m, "MessageId"), *rh = sl_json_str(m, "ReceiptHandle");
        const char *body = sl_json_str(m, "Body"), *cnt = NULL;
        const cJSON *attrs = cJSON_GetObjectItemCaseSensitive(m, "Attributes");
        sl_sqs_message *it;

        if (out->n >= SL_SQS_MAX_BATCH) {
            sl_seterr(err, errlen, "ReceiveMessage: more than %d messages", SL_SQS_MAX_BATCH);
            goto fail;
        }
        if (!id || !rh || !*rh || !body) {
            sl_seterr(err, errlen,
                      "ReceiveMessage: message %zu lacks a MessageId, ReceiptHandle or Body "
                      "string",
                      out->n + 1);
            goto fail;
        }
        it = &out->items[out->n];
        it->id = strdup(id);
        it->receipt_handle = strdup(rh);
        it->body_len = strlen(body);
        it->body = strdup(body);
        out->n++; /* counted now so cleanup frees what was copied */
        if (!it->id || !it->receipt_handle || !it->body) {
            sl_seterr(err, errlen, "ReceiveMessage: out of memory");
            goto fail;
        }
        cnt = sl_json_str(attrs, "ApproximateReceiveCount");
        if (cnt) {
            char *end;
            long long v = strtoll(cnt, &end, 10);
            if (end != cnt && *end == '\0' && v > 0)
                it->receive_count = v;
        }
    }
    return 0;
fail:
    sl_sqs_messages_cleanup(out);
    return -1;
}

cJSON *sl_sqs_batch_request(const char *queue_url, const char *const *handles, size_t n,
                            int visibility_s)
{
    cJSON *b, *entries;

    if (!queue_url || !handles || n < 1 || n > SL_SQS_MAX_BATCH ||
        visibility_s > SL_SQS_MAX_VISIBILITY_S)
        return NULL;
    b = cJSON_CreateObject();
    if (!b)
        return NULL;
    entries = cJSON_AddArrayToObject(b, "Entries");
    if (!cJSON_AddStringToObject(b, "QueueUrl", queue_url) || !entries)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        char id[24];

        if (!e || !handles[i] || !cJSON_AddItemToArray(entries, e)) {
            cJSON_Delete(e); /* not in the tree: ours to free */
            goto fail;
        }
        snprintf(id, sizeof(id), "%zu", i);
        if (!cJSON_AddStringToObject(e, "Id", id) ||
            !cJSON_AddStringToObject(e, "ReceiptHandle", handles[i]) ||
            (visibility_s >= 0 && !cJSON_AddNumberToObject(e, "VisibilityTimeout", visibility_s)))
            goto fail;
    }
    return b;
fail:
    cJSON_Delete(b);
    return NULL;
}

/* The entry index an Id names, or -1 when it is not one of "0".."n-1". */
static int entry_index(const char *id, size_t n)
{
    if (!id || id[0] < '0' || id[0] > '9' || id[1] != '\0')
        return -1;
    return (size_t)(id[0] - '0') < n ? id[0] - '0' : -1;
}

int sl_sqs_parse_batch(const cJSON *resp, size_t n, sl_sqs_batch_result *out, char *err,
                       size_t errlen)
{
    const cJSON *ok, *bad, *e;
    int seen[SL_SQS_MAX_BATCH] = {0};

    memset(out, 0, sizeof(*out));
    if (n < 1 || n > SL_SQS_MAX_BATCH)
        return sl_seterr(err, errlen, "batch: %zu entries (1..%d)", n, SL_SQS_MAX_BATCH);
    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "batch: answer is not a JSON object");
    ok = cJSON_GetObjectItemCaseSensitive(resp, "Successful");
    bad = cJSON_GetObjectItemCaseSensitive(resp, "Failed");
    if ((ok && !cJSON_IsNull(ok) && !cJSON_IsArray(ok)) ||
        (bad && !cJSON_IsNull(bad) && !cJSON_IsArray(bad)))
        return sl_seterr(err, errlen, "batch: Successful or Failed is not an array");
    if (!cJSON_IsArray(ok))
        ok = NULL;
    if (!cJSON_IsArray(bad))
        bad = NULL;
    cJSON_ArrayForEach(e, ok)
    {
        int i = entry_index(sl_json_str(e, "Id"), n);
        if (i < 0)
            return sl_seterr(err, errlen, "batch: Successful names an unknown entry");
        seen[i] = 1;
    }
    cJSON_ArrayForEach(e, bad)
    {
        int i = entry_index(sl_json_str(e, "Id"), n);
        const char *code = sl_json_str(e, "Code");
        if (i < 0)
            return sl_seterr(err, errlen, "batch: Failed names an unknown entry");
        /* Failed wins over Successful: an entry in both is not known to be done. */
        seen[i] = 2;
        snprintf(out->code[i], sizeof(out->code[i]), "%s", code && *code ? code : "Unknown");
        out->sender_fault[i] = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "SenderFault"));
    }
    for (size_t i = 0; i < n; i++) {
        if (seen[i] == 1)
            continue;
        out->failed[i] = 1;
        out->nfailed++;
        if (seen[i] == 0)
            snprintf(out->code[i], sizeof(out->code[i]), "Missing");
    }
    return 0;
}

int sl_sqs_check_queue_url(const char *v, char *why, size_t whylen)
{
    const char *p, *acct, *name;
    size_t n;

    if (strncmp(v, "https://", 8) == 0)
        p = v + 8;
    else if (strncmp(v, "http://", 7) == 0)
        p = v + 7;
    else
        return sl_seterr(why, whylen, "is not an http(s) queue URL");
    n = strcspn(p, "/?#");
    if (n == 0 || p[n] != '/')
        return sl_seterr(why, whylen, "has no host, or no /<account>/<queue> path");
    acct = p + n + 1;
    n = strspn(acct, "0123456789");
    if (n != 12 || acct[n] != '/')
        return sl_seterr(why, whylen, "does not have a 12-digit account after the host");
    name = acct + 13;
    n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-");
    if (n == 0)
        return sl_seterr(why, whylen, "has an empty queue name");
    if (strcmp(name + n, ".fifo") == 0)
        n += 5;
    else if (name[n] != '\0')
        return sl_seterr(why, whylen,
                         "has a queue name that is not 1-80 letters, digits, - or _ (and .fifo)");
    if (n < 1 || n > 80)
        return sl_seterr(why, whylen, "has a queue name of %zu characters (1-80)", n);
    return 0;
}

/* ---- the calls ------------------------------------------------------------------------------ */

static int sqs_call(sl_aws *c, const char *action, const cJSON *body, cJSON **out,
                    sl_aws_error *err)
{
    char target[64];

    snprintf(target, sizeof(target), "AmazonSQS.%s", action);
    return sl_aws_json_version(c, "sqs", "1.0", target, body, out, err);
}

static void bad_answer(sl_aws_error *err, const char *what)
{
    int attempts = err->attempts;

    memset(err, 0, sizeof(*err));
    err->attempts = attempts;
    snprintf(err->code, sizeof(err->code), "ParseError");
    snprintf(err->message, sizeof(err->message), "%s", what);
}

/*
 * Clears err, then calls action with req, which it consumes. A NULL req (its builder ran out
 * of memory or range) is an InternalFailure named by what. On success *resp is the answer (the
 * caller deletes it); on failure it is NULL.
 */
static int sqs_run(sl_aws *c, const char *what, const char *action, cJSON *req, cJSON **resp,
                   sl_aws_error *err)
{
    int rc;

    *resp = NULL;
    memset(err, 0, sizeof(*err));
    if (!req) {
        char msg[128];

        snprintf(msg, sizeof(msg), "%s: cannot build the request (out of memory or range)", what);
        bad_answer(err, msg);
        snprintf(err->code, sizeof(err->code), "InternalFailure");
        return -1;
    }
    rc = sqs_call(c, action, req, resp, err);
    cJSON_Delete(req);
    if (rc) {
        cJSON_Delete(*resp);
        *resp = NULL;
    }
    return rc;
}

int sl_sqs_receive(sl_aws *c, const char *queue_url, int max_messages, int wait_s, int visibility_s,
                   sl_sqs_messages *out, sl_aws_error *err)
{
    char perr[SL_ERRLEN];
    cJSON *resp;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (sqs_run(c, "ReceiveMessage", "ReceiveMessage",
                sl_sqs_receive_request(queue_url, max_messages, wait_s, visibility_s), &resp, err))
        return -1;
    if (sl_sqs_parse_receive(resp, out, perr, sizeof(perr))) {
        bad_answer(err, perr);
        rc = -1;
    }
    cJSON_Delete(resp);
    return rc;
}

int sl_sqs_batch(sl_aws *c, const char *queue_url, const char *const *handles, size_t n,
                 int visibility_s, sl_sqs_batch_result *res, sl_aws_error *err)
{
    const char *action = visibility_s >= 0 ? "ChangeMessageVisibilityBatch" : "DeleteMessageBatch";
    char perr[SL_ERRLEN];
    cJSON *resp;
    int rc = 0;

    memset(res, 0, sizeof(*res));
    if (sqs_run(c, "batch", action, sl_sqs_batch_request(queue_url, handles, n, visibility_s),
                &resp, err))
        return -1;
    if (sl_sqs_parse_batch(resp, n, res, perr, sizeof(perr))) {
        bad_answer(err, perr);
        rc = -1;
    }
    cJSON_Delete(resp);
    return rc;
}
