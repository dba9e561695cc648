/*
 * aws_error.h - what went wrong with an AWS call, read from the answer. Pure: no network, no
 * client. The error shapes of the four wire protocols (query/XML, REST-XML, JSON, REST-JSON),
 * the standard retry mode's transient codes, and the scrubbing of the secrets AWS echoes back
 * on a signature failure. The transport (aws_http.c) classifies every answer with it; the
 * unit tests and tests/fuzz/fuzz_aws_error.c reach it without a client.
 */
#ifndef SL_AWS_ERROR_H
#define SL_AWS_ERROR_H

#include <stddef.h>

#include "util.h"

/* What went wrong with an AWS call. Plain data, no heap. */
typedef struct sl_aws_error {
    long http_status;     /* 0 when no HTTP response arrived */
    int transient;        /* non-zero: a later retry may succeed (throttling, 5xx, network) */
    int attempts;         /* attempts made */
    char code[128];       /* AWS error code ("NoSuchBucket"), or "NetworkError"/"ParseError" */
    char message[512];    /* AWS's message, or curl's/libxml2's text */
    char request_id[128]; /* x-amzn-RequestId / x-amz-request-id when present */
    /* > 0: transient, and the call gave up its retries to stay within max_sleep_ms: wait
     * this long before trying again. */
    long long retry_after_ms;
} sl_aws_error;

/* Fills e (NULL: no-op): http_status, transient, code (cut to fit) and the formatted message.
   attempts, request_id and retry_after_ms are left as they are. */
void sl_aws_error_set(sl_aws_error *e, long status, int transient, const char *code,
                      const char *fmt, ...) SL_PRINTF(5, 6);

/* Classifies an AWS error code / HTTP status as transient (1) or not (0). Pure; unit-tested. */
int sl_aws_is_transient(const char *code, long http_status);

/* Wire protocol of a service: decides which error shapes take precedence. */
typedef enum sl_aws_protocol {
    SL_AWS_PROTO_QUERY,    /* RDS, STS: <ErrorResponse><Error><Code>, <Response><Errors> */
    SL_AWS_PROTO_REST_XML, /* S3: <Error><Code>, HEAD answers have no body */
    SL_AWS_PROTO_JSON,     /* Glue: {"__type": "...#Code", "message": ...} */
    SL_AWS_PROTO_REST_JSON /* Lake Formation: x-amzn-ErrorType header first, then body */
} sl_aws_protocol;

/* Protocol of a signing name ("s3" -> REST_XML, "glue" -> JSON, ...); QUERY when unknown. */
sl_aws_protocol sl_aws_service_protocol(const char *service);

/*
 * Fills *out from an error answer: code, message and request id from the XML or JSON body
 * (shape sniffed from the first non-blank byte, so a proxy's HTML or an empty HEAD body is
 * fine), from the x-amzn-ErrorType / x-amzn-RequestId / x-amz-request-id headers (`headers`
 * is the raw header block, hlen bytes, may be NULL), and failing those from the HTTP status
 * ("NotFound" for 404, "AccessDenied" for 403, ...). JSON codes lose any "prefix#" and
 * ":suffix". out->transient is set with sl_aws_is_transient. Never reads past len/hlen;
 * body need not be NUL-terminated. Returns 0 when the body or headers carried an AWS code,
 * -1 when the code was derived from the status alone (*out is filled either way). The message
 * is scrubbed of tokens, signatures and canonical requests (sl_aws_scrub) before it is cut.
 */
int sl_aws_parse_error(sl_aws_protocol proto, long http_status, const char *body, size_t len,
                       const char *headers, size_t hlen, sl_aws_error *out);

/*
 * Copies AWS error text (len bytes, need not be NUL-terminated; it ends at a NUL) into out
 * (outlen bytes, always NUL-terminated, cut to fit) with every secret AWS echoes on a signature
 * failure replaced by "[redacted]": x-amz-security-token header and X-Amz-Security-Token query
 * values, Signature= / X-Amz-Signature= and Credential= values, the canonical request ("The
 * Canonical String for this request should have been '...'") and the string to sign ("The
 * String-to-Sign should have been '...'"), and S3's <StringToSign>, <StringToSignBytes>,
 * <CanonicalRequest>, <CanonicalRequestBytes> and <SignatureProvided> texts. sl_aws_parse_error
 * runs every message through it, so AWS text never enters the program unscrubbed. Pure; returns
 * the length written. outlen 0: nothing written, returns 0.
 */
size_t sl_aws_scrub(const char *in, size_t len, char *out, size_t outlen);

/*
 * Copies the value of header `name` (case-insensitive) out of a raw "Name: value\r\n" block
 * of len bytes (block may be NULL) into out, trimmed and cut to fit. 0, or -1 when absent
 * (out is then ""). Never reads past len.
 */
int sl_aws_header_find(const char *block, size_t len, const char *name, char *out, size_t outlen);

/*
 * Non-zero when an S3 answer body (len bytes) is an <Error> document. S3 answers CopyObject,
 * UploadPartCopy and CompleteMultipartUpload with HTTP 200 before the work is done, and a
 * failure then arrives in that 200 body.
 */
int sl_aws_s3_body_is_error(const char *body, size_t len);

#endif /* SL_AWS_ERROR_H */
