/*
 * aws_http.c - see aws_http.h. The transport: the client, request signing, the libcurl easy
 * handle set-up every request goes through, the classification of answers, and sl_aws_call's
 * retries. The wire protocols are built on sl_aws_call in aws_query.c, aws_json.c and
 * aws_rest_json.c; the caller-driven transfers are aws_xfer.c.
 *
 * Transfers: one reused easy handle for sl_aws_call (curl_easy_reset keeps the connection
 * cache, so keep-alive connections survive between calls), a fresh easy handle per sl_aws_xfer
 * for the caller's multi handle (which owns the connection cache for those), and a fresh one
 * per sl_aws_plain_call (the metadata endpoints are asked rarely, once per refresh).
 */
#include "aws_http.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "aws_http_int.h"
#include "backoff.h"
#include "log.h"

#define AWS_HEADERS_LIMIT ((size_t)256 * 1024)
#define AWS_MAX_BACKOFF_MS 20000LL

/* --- client ----------------------------------------------------------------------------------- */

sl_aws *sl_aws_new(const sl_aws_opts *opts, const sl_aws_creds *creds, char *err, size_t errlen)
{
    sl_aws *c;

    if (!opts || !opts->region || !*opts->region) {
        sl_seterr(err, errlen, "aws: AWS_REGION is not set");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        sl_seterr(err, errlen, "aws: out of memory");
        return NULL;
    }
    if (sl_aws_opts_copy(&c->o, opts, err, errlen) ||
        sl_tls_trust_init(&c->trust, c->o.ca_bundle, err, errlen))
        goto fail;
    if (c->o.max_attempts <= 0)
        c->o.max_attempts = 3;
    if (c->o.max_attempts > 20)
        c->o.max_attempts = 20;
    if (c->o.connect_timeout_ms <= 0)
        c->o.connect_timeout_ms = 5000;
    if (c->o.request_timeout_ms <= 0)
        c->o.request_timeout_ms = 60000;
    if (c->o.retry_base_ms <= 0)
        c->o.retry_base_ms = 100;

    /* Validate every override now, so a typo fails at start and not on the first call. */
    {
        const char *urls[] = {c->o.endpoint_url, c->o.endpoint_s3,   c->o.endpoint_rds,
                              c->o.endpoint_sts, c->o.endpoint_glue, c->o.endpoint_lakeformation,
                              c->o.endpoint_sqs, c->o.endpoint_ram};
        for (size_t i = 0; i < SL_ARRAY_LEN(urls); i++)
            if (urls[i] && *urls[i] && sl_aws_endpoint_check(urls[i], err, errlen))
                goto fail;
    }
    if (creds && creds->get)
        c->creds = *creds;
    c->easy = curl_easy_init();
    if (!c->easy) {
        sl_seterr(err, errlen, "aws: curl_easy_init failed");
        goto fail;
    }
    return c;
fail:
    sl_aws_free(c);
    return NULL;
}

void sl_aws_free(sl_aws *c)
{
    if (!c)
        return;
    if (c->easy)
        curl_easy_cleanup(c->easy);
    sl_aws_opts_cleanup(&c->o);
    sl_sigv4_keycache_cleanup(&c->keys);
    sl_tls_trust_cleanup(&c->trust);
    for (size_t i = 0; i < c->nbases; i++)
        sl_aws_endpoint_base_cleanup(&c->bases[i]);
    for (size_t i = 0; i < c->nidle; i++)
        curl_easy_cleanup(c->idle[i]);
    free(c);
}

int sl_aws_max_attempts(const sl_aws *c)
{
    return (int)c->o.max_attempts;
}

const char *sl_aws_region(const sl_aws *c)
{
    return c->o.region;
}

long long sl_aws_backoff_ms(const sl_aws *c, int attempt)
{
    /* Full jitter (backoff.h): random(0, min(20 s, base * 2^attempt)); AWS's attempt 0 is the
       first retry, backoff.h's attempt 1. */
    return sl_backoff_ms(c->o.retry_base_ms, AWS_MAX_BACKOFF_MS, attempt + 1, sl_random_u64());
}

void sl_aws_response_init(sl_aws_response *r)
{
    r->status = 0;
    sl_buf_init(&r->body, SL_BUF_DEFAULT_LIMIT);
    sl_buf_init(&r->headers, AWS_HEADERS_LIMIT);
}

void sl_aws_response_cleanup(sl_aws_response *r)
{
    if (!r)
        return;
    sl_buf_cleanup(&r->body);
    sl_buf_cleanup(&r->headers);
    r->status = 0;
}

static void response_reset(sl_aws_response *r)
{
    r->status = 0;
    r->body.len = 0;
    if (r->body.data)
        r->body.data[0] = '\0';
    r->headers.len = 0;
    if (r->headers.data)
        r->headers.data[0] = '\0';
}

int sl_aws_response_header(const sl_aws_response *r, const char *name, char *out, size_t outlen)
{
    return sl_aws_header_find(r->headers.data, r->headers.len, name, out, outlen);
}

/* --- request preparation ------------------------------------------------------------------- */

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    aws_io *io = ud;
    size_t n = size * nmemb;

    if (sl_buf_append(&io->resp->body, ptr, n)) {
        io->overflow = 1;
        return 0; /* curl aborts with CURLE_WRITE_ERROR */
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
    aws_io *io = ud;
    size_t n = size * nmemb;

    /* A new status line (after 100 Continue) starts the block of the final response. */
    if (n >= 5 && memcmp(ptr, "HTTP/", 5) == 0) {
        io->resp->headers.len = 0;
        if (io->resp->headers.data)
            io->resp->headers.data[0] = '\0';
        return n;
    }
    if (sl_buf_append(&io->resp->headers, ptr, n))
        return 0;
    return n;
}

static int has_crlf(const char *s)
{
    return s && (strchr(s, '\r') || strchr(s, '\n'));
}

static void slist_wipe_free(struct curl_slist *l)
{
    /* The Authorization and security-token lines are credentials; wipe before freeing. */
    for (struct curl_slist *p = l; p; p = p->next)
        OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(l);
}

static int slist_add(struct curl_slist **l, const char *name, const char *value)
{
    size_t n = strlen(name) + strlen(value) + 3;
    char *line = malloc(n);
    struct curl_slist *nl;

    if (!line)
        return -1;
    /* "Name;" is curl's way of sending a header with an empty value. */
    if (*value)
        snprintf(line, n, "%s: %s", name, value);
    else
        snprintf(line, n, "%s;", name);
    nl = curl_slist_append(*l, line);
    OPENSSL_cleanse(line, strlen(line));
    free(line);
    if (!nl)
        return -1;
    *l = nl;
    return 0;
}

void sl_aws_prepared_cleanup(aws_prepared *p)
{
    sl_aws_endpoint_cleanup(&p->ep);
    slist_wipe_free(p->hdrs);
    p->hdrs = NULL;
}

int sl_aws_expired_code(const char *code)
{
    return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0;
}

void sl_aws_creds_expired(sl_aws *c)
{
    if (c->creds.invalidate)
        c->creds.invalidate(c->creds.ud);
    c->creds_gen++;
}

/*
 * The endpoint of req, from its service's base as remembered (resolved at the service's first
 * request: parsing an override URL for every CopyObject was 4% of a copy worker's CPU). A
 * service beyond AWS_BASES_MAX is resolved whole each time.
 */
static int resolve(sl_aws *c, const sl_aws_request *req, sl_aws_endpoint *ep, char *msg,
                   size_t msglen)
{
    sl_aws_endpoint_base *b = NULL;

    for (size_t i = 0; i < c->nbases && !b; i++)
        if (strcmp(c->bases[i].service, req->service) == 0)
            b = &c->bases[i];
    if (!b && c->nbases == AWS_BASES_MAX)
        return sl_aws_endpoint_resolve(&c->o, req->service, req->bucket, req->path, req->query, ep,
                                       msg, msglen);
    if (!b) {
        if (sl_aws_endpoint_base_init(&c->o, req->service, &c->bases[c->nbases], msg, msglen))
            return -1;
        b = &c->bases[c->nbases++];
    }
    return sl_aws_endpoint_resolve_at(b, req->bucket, req->path, req->query, ep, msg, msglen);
}

/* Resolves and signs req into p. On failure err is filled and p holds nothing. */
int sl_aws_prepare(sl_aws *c, const sl_aws_request *req, aws_prepared *p, sl_aws_error *err)
{
    char msg[SL_ERRLEN];
    sl_http_header *sh = NULL;
    sl_sigv4_result sr;
    sl_creds cr;
    int have_creds = 0, have_sig = 0, has_ctype = 0;
    int rc = -1;

    memset(p, 0, sizeof(*p));
    memset(&cr, 0, sizeof(cr));
    if (!req->service || !req->method) {
        sl_aws_error_set(err, 0, 0, "InvalidRequest", "aws: request without service or method");
        return -1;
    }
    if (resolve(c, req, &p->ep, msg, sizeof(msg))) {
        sl_aws_error_set(err, 0, 0, "InvalidRequest", "%s", msg);
        return -1;
    }
    sh = calloc(req->nheaders + 1, sizeof(*sh));
    if (!sh) {
        sl_aws_error_set(err, 0, 0, "InternalFailure", "aws: out of memory");
        goto out;
    }
    sh[0].name = "host";
    sh[0].value = p->ep.host;
    for (size_t i = 0; i < req->nheaders; i++) {
        const sl_http_header *h = &req->headers[i];
        if (!h->name || !h->value || !*h->name || has_crlf(h->name) || has_crlf(h->value) ||
            strchr(h->name, ':')) {
            sl_aws_error_set(err, 0, 0, "InvalidRequest", "aws: header %zu is malformed", i);
            goto out;
        }
        if (strcasecmp(h->name, "content-type") == 0)
            has_ctype = 1;
        sh[i + 1] = *h;
    }

    if (!req->anonymous) {
        sl_sigv4_request sreq;
        sl_sigv4_params sp;
        sl_sigv4_keys keys;

        if (!c->creds.get) {
            sl_aws_error_set(err, 0, 0, "CredentialsError", "aws: no credentials provider");
            goto out;
        }
        /* Fetched per attempt: a refresh between retries (or after ExpiredToken) is used. */
        if (c->creds.get(c->creds.ud, &cr, msg, sizeof(msg))) {
            sl_aws_error_set(err, 0, 0, "CredentialsError", "aws: credentials: %s", msg);
            goto out;
        }
        have_creds = 1;
        memset(&sreq, 0, sizeof(sreq));
        sreq.method = req->method;
        sreq.path = p->ep.path;
        sreq.query = req->query;
        sreq.headers = sh;
        sreq.nheaders = req->nheaders + 1;
        sreq.body = req->body;
        sreq.body_len = req->body_len;
        sreq.payload_hash = req->unsigned_payload ? "UNSIGNED-PAYLOAD" : NULL;
        memset(&sp, 0, sizeof(sp));
        sp.region = c->o.region;
        sp.service = req->service;
        sp.when = time(NULL);
        sp.s3 = strcmp(req->service, "s3") == 0;
        sp.cache = &c->keys;
        keys.access_key = cr.access_key;
        keys.secret_key = cr.secret_key;
        keys.session_token = cr.session_token;
        if (sl_sigv4_sign(&sreq, &keys, &sp, &sr, msg, sizeof(msg))) {
            sl_aws_error_set(err, 0, 0, "SigningError", "aws: signing: %s", msg);
            goto out;
        }
        have_sig = 1;
    }

    /* Headers sent are exactly the headers signed (host included, set by us, so curl's own
       Host line, which would carry the same value, is replaced). "Expect:" stops curl's
       100-continue round trip; "Content-Type:" stops curl adding form-urlencoded to bodies
       that are not forms. */
    if (slist_add(&p->hdrs, "Host", p->ep.host))
        goto oom;
    for (size_t i = 0; i < req->nheaders; i++)
        if (slist_add(&p->hdrs, req->headers[i].name, req->headers[i].value))
            goto oom;
    if (have_sig) {
        for (size_t i = 0; i < sr.nadd_headers; i++)
            if (slist_add(&p->hdrs, sr.add_headers[i].name, sr.add_headers[i].value))
                goto oom;
        if (slist_add(&p->hdrs, "Authorization", sr.authorization))
            goto oom;
    }
    {
        struct curl_slist *nl = curl_slist_append(p->hdrs, "Expect:");
        if (!nl)
            goto oom;
        p->hdrs = nl;
        if (!has_ctype) {
            nl = curl_slist_append(p->hdrs, "Content-Type:");
            if (!nl)
                goto oom;
            p->hdrs = nl;
        }
    }
    rc = 0;
    goto out;
oom:
    sl_aws_error_set(err, 0, 0, "InternalFailure", "aws: out of memory building headers");
out:
    if (have_sig)
        sl_sigv4_result_cleanup(&sr);
    if (have_creds)
        sl_creds_cleanup(&cr);
    OPENSSL_cleanse(msg, sizeof(msg));
    free(sh);
    if (rc)
        sl_aws_prepared_cleanup(p);
    return rc;
}

/*
 * The one place an easy handle is set up, for signed calls, transfers and plain requests
 * alike: URL, headers, TLS (verification always on; trust: the client's one CA store, NULL =
 * curl's own CA handling with its built-in CA file),
 * timeouts, the capped body and header sinks in io, and the method's body rules.
 */
static int easy_setup(CURL *h, const char *url, struct curl_slist *hdrs, sl_tls_trust *trust,
                      long connect_ms, long total_ms, const char *method, const void *body,
                      size_t body_len, aws_io *io, char *curl_err)
{
    CURLcode cc = CURLE_OK;

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (cc == CURLE_OK)                                                                        \
            cc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SETOPT(CURLOPT_URL, url);
    SETOPT(CURLOPT_HTTPHEADER, hdrs);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    /* The path is already encoded exactly as signed: curl must not fold "/../" (S3 keys may
       contain it) or the signature would not match. */
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (cc == CURLE_OK && trust && sl_tls_trust_setup(trust, h, url))
        cc = CURLE_FAILED_INIT;
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, total_ms);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_FOLLOWLOCATION, 0L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, io);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, io);
    SETOPT(CURLOPT_ERRORBUFFER, curl_err);
    if (strcmp(method, "GET") == 0) {
        SETOPT(CURLOPT_HTTPGET, 1L);
    } else if (strcmp(method, "HEAD") == 0) {
        SETOPT(CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "DELETE") == 0 && !body_len) {
        SETOPT(CURLOPT_CUSTOMREQUEST, "DELETE");
    } else {
        /* PUT and POST always carry a Content-Length (S3 refuses a PUT without one). */
        SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        SETOPT(CURLOPT_POSTFIELDS, body_len ? body : "");
        if (strcmp(method, "POST") != 0)
            SETOPT(CURLOPT_CUSTOMREQUEST, method);
    }
#undef SETOPT
    if (curl_err)
        curl_err[0] = '\0';
    return cc == CURLE_OK ? 0 : -1;
}

int sl_aws_setup_easy(sl_aws *c, CURL *h, const aws_prepared *p, const char *method,
                      const void *body, size_t body_len, aws_io *io, char *curl_err)
{
    return easy_setup(h, p->ep.url, p->hdrs, &c->trust, (long)c->o.connect_timeout_ms,
                      (long)c->o.request_timeout_ms, method, body, body_len, io, curl_err);
}

static int curl_transient(CURLcode cc)
{
    switch (cc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return 1;
    default:
        return 0;
    }
}

/* Turns a finished transfer into success (0) or a classified error (-1). */
int sl_aws_classify(CURL *h, CURLcode cc, const aws_io *io, const char *service, const char *method,
                    const char *curl_err, sl_aws_error *err)
{
    sl_aws_response *r = io->resp;
    long status = 0;

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    if (cc != CURLE_OK) {
        if (io->overflow) {
            sl_aws_error_set(err, status, 0, "ResponseTooLarge",
                             "aws: response body exceeds the %zu-byte cap", r->body.limit);
            return -1;
        }
        sl_aws_error_set(err, status, curl_transient(cc), "NetworkError", "curl: %s%s%s",
                         curl_easy_strerror(cc), curl_err && curl_err[0] ? ": " : "",
                         curl_err ? curl_err : "");
        return -1;
    }
    if (status >= 200 && status < 300) {
        if (strcmp(service, "s3") == 0 &&
            (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) &&
            sl_aws_s3_body_is_error(r->body.data, r->body.len)) {
            (void)sl_aws_parse_error(SL_AWS_PROTO_REST_XML, status, r->body.data, r->body.len,
                                     r->headers.data, r->headers.len, err);
            /* botocore (handlers.check_for_200_error) turns these into a 500, which the
               standard retry mode retries whatever the code. */
            err->transient = 1;
            return -1;
        }
        return 0;
    }
    (void)sl_aws_parse_error(sl_aws_service_protocol(service), status, r->body.data, r->body.len,
                             r->headers.data, r->headers.len, err);
    return -1;
}

static void log_attempt(const sl_aws_request *req, const aws_prepared *p, long status,
                        const char *request_id, int attempt, const char *code)
{
    char st[24], at[16];
    const char *kv[17];
    size_t k = 0;

    if (!sl_log_enabled(code ? SL_LOG_WARN : SL_LOG_DEBUG))
        return;
    snprintf(st, sizeof(st), "%ld", status);
    snprintf(at, sizeof(at), "%d", attempt);
    kv[k++] = "method";
    kv[k++] = req->method;
    kv[k++] = "host";
    kv[k++] = p->ep.host;
    kv[k++] = "path";
    kv[k++] = p->ep.path;
    kv[k++] = "status";
    kv[k++] = st;
    kv[k++] = "request_id";
    kv[k++] = request_id && *request_id ? request_id : NULL;
    kv[k++] = "attempt";
    kv[k++] = at;
    kv[k++] = "error_code";
    kv[k++] = code;
    kv[k] = NULL;
    sl_log_kv(code ? SL_LOG_WARN : SL_LOG_DEBUG, NULL, kv,
              code ? "aws call attempt failed" : "aws call");
}

static void sleep_ms(long long ms)
{
    struct timespec ts;

    ts.tv_sec = (time_t)(ms / 1000);
    ts.tv_nsec = (long)(ms % 1000) * 1000000L;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

void sl_aws_set_observer(sl_aws *c, sl_aws_observer_fn fn, void *ud)
{
    c->observe = fn;
    c->observe_ud = ud;
}

void sl_aws_observe(const sl_aws *c, const char *service, const char *operation, int ok,
                    const sl_aws_error *err, int retry)
{
    if (c->observe)
        c->observe(c->observe_ud, service ? service : "", operation,
                   ok             ? "OK"
                   : err->code[0] ? err->code
                                  : "Unknown",
                   retry);
}

static int attempt_once(sl_aws *c, const sl_aws_request *req, sl_aws_response *resp,
                        sl_aws_error *err, int attempt, int *retry_logged)
{
    aws_prepared p;
    aws_io io;
    char curl_err[CURL_ERROR_SIZE];
    CURLcode cc;
    int rc;

    *retry_logged = 0;
    if (sl_aws_prepare(c, req, &p, err))
        return -1;
    response_reset(resp);
    io.resp = resp;
    io.overflow = 0;
    curl_easy_reset(c->easy);
    if (sl_aws_setup_easy(c, c->easy, &p, req->method, req->body, req->body_len, &io, curl_err)) {
        sl_aws_error_set(err, 0, 0, "InternalFailure", "aws: curl_easy_setopt failed");
        sl_aws_prepared_cleanup(&p);
        return -1;
    }
    cc = curl_easy_perform(c->easy);
    rc = sl_aws_classify(c->easy, cc, &io, req->service, req->method, curl_err, err);
    if (rc == 0) {
        char rid[128];
        if (sl_aws_response_header(resp, "x-amzn-RequestId", rid, sizeof(rid)) &&
            sl_aws_response_header(resp, "x-amz-request-id", rid, sizeof(rid)))
            rid[0] = '\0';
        log_attempt(req, &p, resp->status, rid, attempt, NULL);
    } else if (err->transient || sl_aws_expired_code(err->code)) {
        log_attempt(req, &p, err->http_status, err->request_id, attempt, err->code);
        *retry_logged = 1;
    }
    /* Drop the reference to our header list before it is freed. */
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
    sl_aws_prepared_cleanup(&p);
    return rc;
}

int sl_aws_call(sl_aws *c, const sl_aws_request *req, sl_aws_response *resp, sl_aws_error *err)
{
    int attempt = 1, tries = 0, refreshed = 0;
    int logged;
    long long slept = 0, delay;
    char op[64] = "";

    memset(err, 0, sizeof(*err));
    if (c->observe)
        sl_aws_operation_name(req, op, sizeof(op));
    for (;;) {
        tries++;
        if (attempt_once(c, req, resp, err, tries, &logged) == 0) {
            err->attempts = tries;
            sl_aws_observe(c, req->service, op, 1, err, 0);
            return 0;
        }
        err->attempts = tries;
        sl_aws_observe(c, req->service, op, 0, err, 0);
        /* Temporary credentials can expire between our check and AWS's: drop the cache and
           try once more with fresh ones (not counted against the retry budget). */
        if (sl_aws_expired_code(err->code) && c->creds.get && !refreshed && !req->anonymous) {
            sl_aws_creds_expired(c);
            refreshed = 1;
            sl_aws_observe(c, req->service, op, 0, err, 1);
            continue;
        }
        if (!err->transient || attempt >= c->o.max_attempts)
            return -1;
        delay = sl_aws_backoff_ms(c, attempt);
        /* The budget bounds the whole call's sleeping: a worker's loop must not stall every
         * job for the sum of the backoffs. The skipped sleep becomes the caller's deadline. */
        if (c->o.max_sleep_ms > 0 && slept + delay > c->o.max_sleep_ms) {
            err->retry_after_ms = delay > 0 ? delay : 1;
            return -1;
        }
        sleep_ms(delay);
        slept += delay;
        attempt++;
        sl_aws_observe(c, req->service, op, 0, err, 1);
    }
}

/* --- plain HTTP ------------------------------------------------------------------------------- */

int sl_aws_plain_call(const sl_aws_plain_request *req, sl_aws_response *resp, char *err,
                      size_t errlen)
{
    struct curl_slist *hdrs = NULL;
    char ebuf[CURL_ERROR_SIZE] = "";
    aws_io io;
    CURL *h;
    CURLcode cc;
    int rc = -1;

    if (!req || !req->method || !req->url || !resp)
        return sl_seterr(err, errlen, "plain http: NULL argument");
    for (size_t i = 0; i < req->nheaders; i++) {
        const sl_http_header *hd = &req->headers[i];
        if (!hd->name || !hd->value || !*hd->name || has_crlf(hd->name) || has_crlf(hd->value) ||
            strchr(hd->name, ':')) {
            sl_seterr(err, errlen, "%s %s: header %zu is malformed", req->method, req->url, i);
            goto out;
        }
        if (slist_add(&hdrs, hd->name, hd->value)) {
            sl_seterr(err, errlen, "%s %s: out of memory", req->method, req->url);
            goto out;
        }
    }
    response_reset(resp);
    io.resp = resp;
    io.overflow = 0;
    if (!(h = curl_easy_init())) {
        sl_seterr(err, errlen, "curl_easy_init failed");
        goto out;
    }
    if (easy_setup(h, req->url, hdrs, NULL, req->connect_timeout_ms, req->timeout_ms, req->method,
                   NULL, 0, &io, ebuf) ||
        curl_easy_setopt(h, CURLOPT_NOPROXY, "*") != CURLE_OK ||
        curl_easy_setopt(h, CURLOPT_USERAGENT, "snaplake") != CURLE_OK) {
        sl_seterr(err, errlen, "%s %s: curl_easy_setopt failed", req->method, req->url);
        curl_easy_cleanup(h);
        goto out;
    }
    cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    curl_easy_cleanup(h);
    if (cc != CURLE_OK) {
        if (io.overflow)
            sl_seterr(err, errlen, "%s %s: response body over %zu bytes", req->method, req->url,
                      resp->body.limit);
        else
            sl_seterr(err, errlen, "%s %s: %s", req->method, req->url,
                      ebuf[0] ? ebuf : curl_easy_strerror(cc));
        goto out;
    }
    rc = 0;
out:
    slist_wipe_free(hdrs);
    return rc;
}
