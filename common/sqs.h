/*
 * sqs.h - the few SQS calls the producer's sqs mode makes (ReceiveMessage, DeleteMessageBatch,
 * ChangeMessageVisibilityBatch), on the AWS client's JSON 1.0 protocol
 * (X-Amz-Target: AmazonSQS.<Action>, Content-Type application/x-amz-json-1.0, POST / of the
 * SQS endpoint with the QueueUrl in the body; botocore's model speaks it since 1.31).
 *
 * Request building and response parsing are pure functions on cJSON, apart from the calls,
 * so unit tests and tests/fuzz/fuzz_sqs.c reach them without a network.
 */
#ifndef SL_SQS_H
#define SL_SQS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "aws_http.h"
#include "util.h"

/* SQS's own limits: a batch of at most 10 entries, long polls of at most 20 s, a visibility
 * timeout of at most 12 hours. */
#define SL_SQS_MAX_BATCH 10
#define SL_SQS_MAX_WAIT_S 20
#define SL_SQS_MAX_VISIBILITY_S 43200

/* One received message. Strings heap-owned by the struct. */
typedef struct sl_sqs_message {
    char *id;             /* MessageId */
    char *receipt_handle; /* ReceiptHandle: what delete and change-visibility name */
    char *body;           /* Body, NUL-terminated, body_len bytes */
    size_t body_len;
    long long receive_count; /* Attributes.ApproximateReceiveCount; 0 when absent */
} sl_sqs_message;

typedef struct sl_sqs_messages {
    sl_sqs_message items[SL_SQS_MAX_BATCH];
    size_t n;
} sl_sqs_messages;

/* Frees every message's strings and zeroes *m. NULL is a no-op. */
void sl_sqs_messages_cleanup(sl_sqs_messages *m);

/*
 * The ReceiveMessage request body: QueueUrl, MaxNumberOfMessages (1..10), WaitTimeSeconds
 * (0..20), VisibilityTimeout (0..43200; < 0 leaves it out, the queue's default) and
 * MessageSystemAttributeNames ["ApproximateReceiveCount"]. NULL when out of memory or a
 * number is out of range. Caller owns the result (cJSON_Delete).
 */
cJSON *sl_sqs_receive_request(const char *queue_url, int max_messages, int wait_s,
                              int visibility_s);

/*
 * Reads a ReceiveMessage answer ({"Messages": [...]}, or {} when the poll found nothing) into
 * *out (initialised here). A message without a MessageId, ReceiptHandle or Body string is an
 * error: without its handle it cannot be deleted, so ignoring it would loop on it forever.
 * More than SL_SQS_MAX_BATCH messages is an error too. Returns 0, or -1 with err and *out
 * empty.
 */
int sl_sqs_parse_receive(const cJSON *resp, sl_sqs_messages *out, char *err,
                         size_t errlen) SL_MUST_CHECK;

/*
 * The DeleteMessageBatch body for handles[0..n) (n 1..10), or with visibility_s >= 0 the
 * ChangeMessageVisibilityBatch body (each entry's VisibilityTimeout). Entry ids are the
 * indexes "0".."9", which sl_sqs_parse_batch maps back. NULL when out of memory or n is out
 * of range. Caller owns the result.
 */
cJSON *sl_sqs_batch_request(const char *queue_url, const char *const *handles, size_t n,
                            int visibility_s);

/* The per-entry outcome of a batch call. */
typedef struct sl_sqs_batch_result {
    int failed[SL_SQS_MAX_BATCH];    /* non-zero: entry i is in Failed (or missing from both) */
    char code[SL_SQS_MAX_BATCH][64]; /* its Code ("ReceiptHandleIsInvalid"), or "Missing" */
    int sender_fault[SL_SQS_MAX_BATCH];
    size_t nfailed;
} sl_sqs_batch_result;

/*
 * Reads a batch answer ({"Successful": [{"Id"}], "Failed": [{"Id", "Code", "SenderFault",
 * "Message"}]}) for a request of n entries. An entry named in neither list counts as failed
 * ("Missing"): SQS redelivers what was not deleted, so the safe reading is "not done". Ids
 * that are not "0".."n-1" are an error. Returns 0 with *out filled, or -1 with err.
 */
int sl_sqs_parse_batch(const cJSON *resp, size_t n, sl_sqs_batch_result *out, char *err,
                       size_t errlen) SL_MUST_CHECK;

/*
 * A config check (config.h's sl_cfg_check_fn) for SQS_QUEUE_URL: http(s)://<host>/<account>/
 * <name>, the account 12 digits, the name 1..80 of [A-Za-z0-9_-] with an optional ".fifo"
 * suffix inside the 80, nothing after it. The producer runs it with the standard checks.
 */
int sl_sqs_check_queue_url(const char *v, char *why, size_t whylen);

/* ---- the calls (service "sqs", retries in aws_http.c) ------------------------------------ */

/* ReceiveMessage. 0 with *out filled (caller cleans up), or -1 with *err. */
int sl_sqs_receive(sl_aws *c, const char *queue_url, int max_messages, int wait_s, int visibility_s,
                   sl_sqs_messages *out, sl_aws_error *err) SL_MUST_CHECK;

/* DeleteMessageBatch (visibility_s < 0) or ChangeMessageVisibilityBatch (>= 0) of handles.
 * 0 with *res saying which entries failed, or -1 with *err when the call itself failed. */
int sl_sqs_batch(sl_aws *c, const char *queue_url, const char *const *handles, size_t n,
                 int visibility_s, sl_sqs_batch_result *res, sl_aws_error *err) SL_MUST_CHECK;

#endif /* SL_SQS_H */
