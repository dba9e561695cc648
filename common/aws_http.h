/*
 * aws_http.h - the AWS client core: endpoints, signing, libcurl transport, retries, and the
 * three wire protocols snaplake speaks (query/XML for RDS and STS, REST-XML for S3, JSON for
 * Glue and SQS, REST-JSON for Lake Formation and RAM).
 *
 * One sl_aws per worker, single-threaded. It keeps one CURL easy handle for sl_aws_call() so
 * connections are reused, and hands out sl_aws_xfer objects (a signed easy handle each) for
 * callers that drive many requests at once on their own curl multi handle (the copy worker).
 *
 * Endpoints: aws_endpoint.h. Error shapes and transient codes: aws_error.h. TLS verification is
 * always on; AWS_CA_BUNDLE only replaces the CA file. Credentials come through the interface
 * of aws_creds.h, so this header knows nothing of the chain that fills it (creds.h, which calls
 * STS through this client: layers point one way).
 *
 * This is the one public header of the client: the transport (aws_http.c, aws_xfer.c, and
 * aws_operation.c, which names requests for the metrics observer) and the three wire protocols
 * built on sl_aws_call (aws_query.c, aws_json.c, aws_rest_json.c) are declared here, so a
 * caller includes one header whatever protocol its service speaks. The pure pieces have
 * headers of their own (aws_endpoint.h, aws_error.h), included below because their types are
 * in this API.
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

#include "aws_creds.h"
#include "aws_endpoint.h"
#include "aws_error.h"
#include "sigv4.h"
#include "util.h"

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
 * Creates a client. *creds (the get/invalidate pair, aws_creds.h) is copied; its ud is borrowed
 * and must outlive the client (for the chain: sl_creds_signer(provider), creds.h). creds NULL,
 * or one whose get is NULL, means the client can only send anonymous requests. opts is
 * deep-copied. Returns NULL with err set (no region, bad endpoint URL, curl init failure).
 */
sl_aws *sl_aws_new(const sl_aws_opts *opts, const sl_aws_creds *creds, char *err, size_t errlen);
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
 * ExpiredTokenException answer invalidates the credentials' cache (creds->invalidate) and is
 * retried once more, outside the attempt budget. For S3 PUT/POST a 200 whose body is an <Error> is
 * an error.
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
 * The query protocol's request without the parse: sends the same form (anonymous non-zero:
 * unsigned, for STS AssumeRoleWithWebIdentity) and leaves the raw answer in resp (set up with
 * sl_aws_response_init; the caller's to clean up). The form, which may carry secrets, is wiped
 * before return. 0 on a 2xx answer, else -1 with err.
 */
int sl_aws_query_send(sl_aws *c, const char *service, const char *action, const char *version,
                      const char *const *params, int anonymous, sl_aws_response *resp,
                      sl_aws_error *err) SL_MUST_CHECK;

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

/*
 * The JSON call both protocols share: POST (or method) of body (NULL: {}) serialised, with the
 * caller's headers (Content-Type, X-Amz-Target), no body on GET/DELETE/HEAD; an empty answer
 * body reads as {}. On success *out is the parsed response (cJSON_Delete).
 */
int sl_aws_json_call(sl_aws *c, const char *service, const char *method, const char *path,
                     const sl_http_header *hdrs, size_t nhdrs, const cJSON *body, cJSON **out,
                     sl_aws_error *err) SL_MUST_CHECK;

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
 * before sl_aws_xfer_free, and free every xfer before its client (the client takes the freed
 * handle back for a later xfer).
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
 * sl_aws_backoff_ms). An ExpiredToken answer to a signed transfer is transient, and the
 * first such answer of the transfers signed with the same credentials drops their cache
 * (creds->invalidate), so the retry, a new xfer, signs with fresh ones. The response stays
 * owned by x.
 */
int sl_aws_xfer_finish(sl_aws_xfer *x, CURLcode cc, sl_aws_error *err) SL_MUST_CHECK;
const sl_aws_response *sl_aws_xfer_response(const sl_aws_xfer *x);
void sl_aws_xfer_free(sl_aws_xfer *x);

/* Full-jitter backoff before attempt number `attempt` (1 = first retry), in ms. */
long long sl_aws_backoff_ms(const sl_aws *c, int attempt);
int sl_aws_max_attempts(const sl_aws *c);
const char *sl_aws_region(const sl_aws *c);

/* --- plain HTTP: the credentials chain's metadata endpoints ------------------------------- */

/* One unsigned request to a fixed URL. Everything borrowed for the call. */
typedef struct sl_aws_plain_request {
    const char *method;            /* "GET", or "PUT" with an empty body */
    const char *url;               /* http or https, as it is sent */
    const sl_http_header *headers; /* may hold secrets: the transport's copies are wiped */
    size_t nheaders;
    long connect_timeout_ms;
    long timeout_ms;
} sl_aws_plain_request;

/*
 * Sends req once, with no signing, no retries, no proxy (the container agent and IMDS are
 * link-local or loopback: the answer must come from them, not from whatever HTTP_PROXY names)
 * and no redirects, on a fresh easy handle. resp must have been set up with
 * sl_aws_response_init (lower resp->body.limit to cap the body). Returns 0 when an HTTP answer
 * arrived, whatever its status (resp->status), or -1 with err ("<method> <url>: <why>") on a
 * transport failure or a body over its cap. resp is the caller's to clean up either way.
 */
int sl_aws_plain_call(const sl_aws_plain_request *req, sl_aws_response *resp, char *err,
                      size_t errlen) SL_MUST_CHECK;

#endif /* SL_AWS_HTTP_H */
