/*
 * aws_http.h - the AWS client core: endpoints, signing, libcurl transport, retries, and the
 * three wire protocols snaplake speaks (query/XML for RDS and STS, REST-XML for S3, JSON for
 * Glue and SQS, REST-JSON for Lake Formation and RAM).
 *
 * One sl_aws per worker, single-threaded. It keeps one CURL easy handle for sl_aws_call() so
 * connections are reused, and hands out sl_aws_xfer objects (a signed easy handle each) for
 * callers that drive many requests at once on their own curl multi handle (the copy worker).
 *
 * Endpoints: AWS_ENDPOINT_URL_<SERVICE> (S3, RDS, STS, GLUE, LAKEFORMATION, SQS, RAM), else
 * AWS_ENDPOINT_URL, else https://<service>.<region>.amazonaws.com (S3: virtual-hosted
 * https://<bucket>.s3.<region>.amazonaws.com unless path style is set or an endpoint override
 * is in force without path style ... see aws_http.c). TLS verification is always on;
 * AWS_CA_BUNDLE only replaces the CA file.
 *
 * Retries (the SDKs' "standard" mode): up to max_attempts attempts in all, sleeping
 * random(0, min(20 s, base * 2^attempt)) between them (full jitter). Retried: throttling codes
 * (Throttling, ThrottlingException, ThrottledException, RequestThrottledException,
 * TooManyRequestsException, ProvisionedThroughputExceededException, TransactionInProgress
 * Exception, RequestLimitExceeded, BandwidthLimitExceeded, LimitExceededException,
 * RequestThrottled, SlowDown, PriorRequestNotComplete, EC2ThrottledException), transient codes
 * (RequestTimeout, RequestTimeoutException, InternalError, ServiceUnavailable), HTTP 500, 502,
 * 503, 504, curl transport errors and timeouts, and S3's HTTP 200 whose body is an <Error>.
 * Anything else returns at once with AWS's own code and message. With opts.max_sleep_ms set,
 * a call whose next sleep would take its sleeping past that budget returns the transient
 * error at once instead, with the sleep it skipped in sl_aws_error.retry_after_ms, so the
 * caller retries later from its own loop (a job's next_step_ms or its RETRY backoff).
 */
#ifndef SL_AWS_HTTP_H
#define SL_AWS_HTTP_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/tree.h>

#include "config.h"
#include "sigv4.h"
#include "util.h"

struct sl_creds_provider;

/* Client options; strings owned by whoever owns the struct (a binary's config struct). */
typedef struct sl_aws_opts {
    char *region;                 /* AWS_REGION (required) */
    char *endpoint_url;           /* AWS_ENDPOINT_URL */
    char *endpoint_s3;            /* AWS_ENDPOINT_URL_S3 */
    char *endpoint_rds;           /* AWS_ENDPOINT_URL_RDS */
    char *endpoint_sts;           /* AWS_ENDPOINT_URL_STS */
    char *endpoint_glue;          /* AWS_ENDPOINT_URL_GLUE */
    char *endpoint_lakeformation; /* AWS_ENDPOINT_URL_LAKEFORMATION */
    /* AWS_ENDPOINT_URL_SQS: not in SL_AWS_CFG_OPTS, only the producer's sqs mode calls SQS and
     * its table has the row. */
    char *endpoint_sqs;
    /* AWS_ENDPOINT_URL_RAM: likewise only in the tables of the binaries that call RAM (the share
     * consumer side, common/share_consumer.h). */
    char *endpoint_ram;
    int s3_path_style;            /* AWS_S3_FORCE_PATH_STYLE */
    char *ca_bundle;              /* AWS_CA_BUNDLE */
    long long max_attempts;       /* AWS_MAX_ATTEMPTS (1..20, default 3) */
    long long connect_timeout_ms; /* AWS_CONNECT_TIMEOUT (default 5s) */
    long long request_timeout_ms; /* AWS_REQUEST_TIMEOUT (default 60s) */
    long long retry_base_ms;      /* AWS_RETRY_BASE_DELAY (default 100ms) */
    /* The most one call may sleep between its attempts, in ms; 0 = no bound (the producer's and
     * snaplakectl's blocking retries). Not a config row: the worker sets it, because its
     * steps must return within a few hundred ms (stage.h) and a retry there is a deadline
     * of the job, not a sleep of every job. */
    long long max_sleep_ms;
} sl_aws_opts;

/*
 * Deep-copies src into dst: the numbers as they are, each string with strdup (NULL stays NULL).
 * src NULL gives a zeroed dst. dst is overwritten, not freed first; the copy is dst's owner's
 * to release with sl_aws_opts_cleanup. Returns 0, or -1 with err ("out of memory"), dst then
 * zeroed (nothing to free).
 */
int sl_aws_opts_copy(sl_aws_opts *dst, const sl_aws_opts *src, char *err,
                     size_t errlen) SL_MUST_CHECK;
/* Frees the strings of an sl_aws_opts (as made by sl_aws_opts_copy) and zeroes it. NULL: no-op. */
void sl_aws_opts_cleanup(sl_aws_opts *o);

/*
 * Rows for a binary's config table: SL_AWS_CFG_OPTS(struct my_cfg, aws) expands to the
 * sl_cfg_opt rows above, with offsets into the embedded sl_aws_opts member.
 */
/* clang-format off */
#define SL_AWS_CFG_OPTS(type, member)                                                             \
    {"AWS_REGION", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(type, member.region),                  \
     "AWS region of every call"},                                                                 \
        {"AWS_ENDPOINT_URL", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(type, member.endpoint_url),  \
         "endpoint for every service (local stacks)"},                                            \
        {"AWS_ENDPOINT_URL_S3", SL_CFG_STRING, NULL, 0, -1, 0,                                    \
         offsetof(type, member.endpoint_s3), "S3 endpoint override"},                             \
        {"AWS_ENDPOINT_URL_RDS", SL_CFG_STRING, NULL, 0, -1, 0,                                   \
         offsetof(type, member.endpoint_rds), "RDS endpoint override"},                           \
        {"AWS_ENDPOINT_URL_STS", SL_CFG_STRING, NULL, 0, -1, 0,                                   \
         offsetof(type, member.endpoint_sts), "STS endpoint override"},                           \
        {"AWS_ENDPOINT_URL_GLUE", SL_CFG_STRING, NULL, 0, -1, 0,                                  \
         offsetof(type, member.endpoint_glue), "Glue endpoint override"},                         \
        {"AWS_ENDPOINT_URL_LAKEFORMATION", SL_CFG_STRING, NULL, 0, -1, 0,                         \
         offsetof(type, member.endpoint_lakeformation), "Lake Formation endpoint override"},      \
        {"AWS_S3_FORCE_PATH_STYLE", SL_CFG_BOOL, "false", 0, -1, 0,                               \
         offsetof(type, member.s3_path_style), "address S3 buckets in the path, not the host"},   \
        {"AWS_CA_BUNDLE", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(type, member.ca_bundle),        \
         "CA file for TLS verification (verification is always on)"},                            \
        {"AWS_MAX_ATTEMPTS", SL_CFG_INT, "3", 1, 20, 0, offsetof(type, member.max_attempts),      \
         "attempts per AWS call, first one included"},                                            \
        {"AWS_CONNECT_TIMEOUT", SL_CFG_DURATION, "5s", 100, 600000, 0,                            \
         offsetof(type, member.connect_timeout_ms), "TCP+TLS connect timeout"},                   \
        {"AWS_REQUEST_TIMEOUT", SL_CFG_DURATION, "60s", 1000, 3600000, 0,                         \
         offsetof(type, member.request_timeout_ms), "whole-request timeout"},                     \
    {                                                                                             \
        "AWS_RETRY_BASE_DELAY", SL_CFG_DURATION, "100ms", 1, 60000, 0,                            \
            offsetof(type, member.retry_base_ms), "base of the full-jitter exponential backoff"   \
    }
/* clang-format on */

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

/* One request. Everything borrowed for the duration of the call. */
typedef struct sl_aws_request {
    const char *service; /* signing name: "s3", "rds", "sts", "glue", "lakeformation" */
    const char *method;  /* "GET", "PUT", "POST", "DELETE", "HEAD" */
    const char *bucket;  /* S3 only; NULL for ListBuckets-style calls */
    const char *path;    /* encoded once (sl_sigv4_uri_encode); for S3 the key part
                            "/my%20key", without the bucket; NULL = "/" */
    const char *query;   /* encoded query without '?', or NULL */
    const sl_http_header
        *headers; /* extra headers (Content-Type, X-Amz-Target, x-amz-copy-source) */
    size_t nheaders;
    const void *body;
    size_t body_len;
    int unsigned_payload; /* S3: sign "UNSIGNED-PAYLOAD" instead of hashing the body */
    int anonymous;        /* do not sign (STS AssumeRoleWithWebIdentity) */
} sl_aws_request;

typedef struct sl_aws_response {
    long status;
    sl_buf body;    /* capped at 64 MiB */
    sl_buf headers; /* raw header block of the final response */
} sl_aws_response;

typedef struct sl_aws sl_aws;

/*
 * Creates a client. `creds` is borrowed and must outlive the client; NULL means the client
 * can only send anonymous requests. Returns NULL with err set (no region, bad endpoint URL,
 * curl init failure).
 */
sl_aws *sl_aws_new(const sl_aws_opts *opts, struct sl_creds_provider *creds, char *err,
                   size_t errlen);
void sl_aws_free(sl_aws *c);

/*
 * An observer of every attempt (sl_aws_call's and sl_aws_xfer_finish's), for metrics: service
 * ("s3"), operation ("CopyObject", sl_aws_operation_name), code ("OK" or AWS's error code /
 * "NetworkError"), retry 1 when the call goes on to another attempt after this one (the
 * attempt itself was reported before with retry 0). Strings are borrowed for the call. The
 * transport knows nothing of what the observer does with it (layers point one way).
 */
typedef void (*sl_aws_observer_fn)(void *ud, const char *service, const char *operation,
                                   const char *code, int retry);

/* Registers (or with fn NULL, removes) the observer. */
void sl_aws_set_observer(sl_aws *c, sl_aws_observer_fn fn, void *ud);

void sl_aws_response_init(sl_aws_response *r);
void sl_aws_response_cleanup(sl_aws_response *r);
/* Copies the value of response header `name` (case-insensitive) into out. 0, or -1 absent. */
int sl_aws_response_header(const sl_aws_response *r, const char *name, char *out, size_t outlen);

/*
 * Sends req with retries. resp must have been set up with sl_aws_response_init (its body limit
 * may be lowered first to cap a download). Returns 0 with *resp filled (2xx), or -1 with *err
 * filled; resp may hold the last error body either way and is always the caller's to clean
 * up. Credentials are fetched and the request re-signed on every attempt; an ExpiredToken /
 * ExpiredTokenException answer invalidates the provider's cache and is retried once more,
 * outside the attempt budget. For S3 PUT/POST a 200 whose body is an <Error> is an error.
 */
int sl_aws_call(sl_aws *c, const sl_aws_request *req, sl_aws_response *resp,
                sl_aws_error *err) SL_MUST_CHECK;

/*
 * The AWS operation name of req into out[outlen], for metrics: X-Amz-Target's part after the
 * dot (JSON protocol), the query protocol's Action, S3's operation from method, bucket, path,
 * query and copy headers, a REST-JSON path's first segment, else the method. Pure.
 */
void sl_aws_operation_name(const sl_aws_request *req, char *out, size_t outlen);

/*
 * Query protocol (RDS, STS): POST Action=..&Version=..&<params>. params is NULL or a
 * NULL-terminated list of raw key, value strings (encoded here). On success *doc is the parsed
 * response, owned by the caller (xmlFreeDoc). Errors: <ErrorResponse><Error><Code>.
 */
int sl_aws_query(sl_aws *c, const char *service, const char *action, const char *version,
                 const char *const *params, xmlDoc **doc, sl_aws_error *err) SL_MUST_CHECK;

/*
 * JSON 1.1 protocol (Glue: target "AWSGlue.GetCrawler"). body may be NULL ({}). On success *out
 * is the parsed response (cJSON_Delete). Errors: "__type" (after '#') and "message"/"Message".
 */
int sl_aws_json(sl_aws *c, const char *service, const char *target, const cJSON *body, cJSON **out,
                sl_aws_error *err) SL_MUST_CHECK;

/*
 * The same on a chosen JSON protocol version: "1.0" (SQS: target "AmazonSQS.ReceiveMessage",
 * Content-Type application/x-amz-json-1.0) or "1.1" (anything else means 1.1).
 */
int sl_aws_json_version(sl_aws *c, const char *service, const char *version, const char *target,
                        const cJSON *body, cJSON **out, sl_aws_error *err) SL_MUST_CHECK;

/* REST-JSON (Lake Formation: POST /GrantPermissions; RAM: POST /getresourceshareinvitations).
   Errors as above, plus x-amzn-ErrorType. */
int sl_aws_rest_json(sl_aws *c, const char *service, const char *method, const char *path,
                     const cJSON *body, cJSON **out, sl_aws_error *err) SL_MUST_CHECK;

/* --- many requests at once on a caller-driven curl multi handle --------------------------- */

typedef struct sl_aws_xfer sl_aws_xfer;

/*
 * Builds a signed easy handle for req (deep-copied, body included). 0, or -1 with err. The
 * signature is made now, so a retry is a new xfer (re-signed), not a re-add of this one.
 * CURLINFO_PRIVATE of the handle is the sl_aws_xfer. Remove the handle from the multi handle
 * before sl_aws_xfer_free.
 */
int sl_aws_xfer_new(sl_aws *c, const sl_aws_request *req, sl_aws_xfer **out,
                    sl_aws_error *err) SL_MUST_CHECK;
CURL *sl_aws_xfer_handle(sl_aws_xfer *x);
/* Opaque pointer the caller may attach (the job the transfer belongs to). */
void sl_aws_xfer_set_user(sl_aws_xfer *x, void *user);
void *sl_aws_xfer_user(const sl_aws_xfer *x);
/*
 * After curl_multi_info_read reported the handle done with `cc`: classifies the outcome.
 * 0 on success, else -1 with err (err->transient says whether to retry, after
 * sl_aws_backoff_ms). The response stays owned by x.
 */
int sl_aws_xfer_finish(sl_aws_xfer *x, CURLcode cc, sl_aws_error *err) SL_MUST_CHECK;
const sl_aws_response *sl_aws_xfer_response(const sl_aws_xfer *x);
void sl_aws_xfer_free(sl_aws_xfer *x);

/* Full-jitter backoff before attempt number `attempt` (1 = first retry), in ms. */
long long sl_aws_backoff_ms(const sl_aws *c, int attempt);
int sl_aws_max_attempts(const sl_aws *c);
const char *sl_aws_region(const sl_aws *c);

/* Classifies an AWS error code / HTTP status as transient (1) or not (0). Pure; unit-tested. */
int sl_aws_is_transient(const char *code, long http_status);

/* --- pure pieces, exported so unit tests and fuzzers reach them ---------------------------- */

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
 * Where a request goes. All strings heap-owned; sl_aws_endpoint_cleanup frees them.
 *   url:  what curl is given ("http://127.0.0.1:15000/bucket/key?x=y");
 *   host: the Host header, signed and sent, with ":port" unless the port is the scheme's
 *         default (curl would otherwise send a different Host than we signed);
 *   path: the path as sent and signed (endpoint base path + "/bucket" for path style + key).
 */
typedef struct sl_aws_endpoint {
    char *url;
    char *host;
    char *path;
} sl_aws_endpoint;

/*
 * Resolves service/bucket/path/query (as in sl_aws_request) against opts: per-service
 * override, then AWS_ENDPOINT_URL, then the AWS default host, with the S3 addressing rule
 * described in aws_http.c. Returns 0 with *out filled (caller cleans up), or -1 with err
 * (bad override URL, path not starting with '/', no region, OOM).
 */
int sl_aws_endpoint_resolve(const sl_aws_opts *opts, const char *service, const char *bucket,
                            const char *path, const char *query, sl_aws_endpoint *out, char *err,
                            size_t errlen) SL_MUST_CHECK;
void sl_aws_endpoint_cleanup(sl_aws_endpoint *e);

/* Non-zero when an S3 bucket name can be put in the host (virtual-hosted style over TLS). */
int sl_aws_s3_bucket_virtual_ok(const char *bucket);

#endif /* SL_AWS_HTTP_H */
