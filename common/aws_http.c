/*
 * aws_http.c - see aws_http.h.
 *
 * S3 addressing rule (the header leaves it here):
 *   path style  https://<endpoint>/<bucket>/<key>  when AWS_S3_FORCE_PATH_STYLE is set, when
 *               any endpoint override (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL) is in force,
 *               or when the bucket name cannot be a DNS label under TLS
 *               (sl_aws_s3_bucket_virtual_ok: 3..63 of [a-z0-9-], no dots, since a dotted
 *               name breaks the *.s3.<region>.amazonaws.com wildcard certificate);
 *   virtual     https://<bucket>.s3.<region>.amazonaws.com/<key>  otherwise.
 * An override is a local stack (moto at http://127.0.0.1:15000), a proxy or a VPC interface
 * endpoint: none of them can resolve <bucket>.<host> names, and all of them accept path style,
 * so path style is the only choice that works everywhere an override is used.
 *
 * Transfers: one reused easy handle for sl_aws_call (curl_easy_reset keeps the connection
 * cache, so keep-alive connections survive between calls) and a fresh easy handle per
 * sl_aws_xfer for the caller's multi handle (which owns the connection cache for those).
 */
#include "aws_http.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>

#include "creds.h"
#include "json.h"
#include "log.h"
#include "xml.h"

#define AWS_HEADERS_LIMIT ((size_t)256 * 1024)
#define AWS_MAX_BACKOFF_MS 20000LL

struct sl_aws {
    sl_aws_opts o; /* deep copy; strings owned */
    struct sl_creds_provider *creds;
    CURL *easy;
    sl_aws_observer_fn observe; /* NULL = none (metrics.h is never included here) */
    void *observe_ud;
};

/* Where curl writes one response. overflow records that the body cap stopped the transfer. */
typedef struct aws_io {
    sl_aws_response *resp;
    int overflow;
} aws_io;

/* A resolved, signed request ready to hand to an easy handle. */
typedef struct aws_prepared {
    sl_aws_endpoint ep;
    struct curl_slist *hdrs;
} aws_prepared;

struct sl_aws_xfer {
    sl_aws *c;
    CURL *easy;
    aws_prepared p;
    char *service;
    char *method;
    char *body; /* our copy: CURLOPT_POSTFIELDS does not copy */
    size_t body_len;
    sl_aws_response resp;
    aws_io io;
    char curl_err[CURL_ERROR_SIZE];
    void *user;
    char operation[64]; /* for the observer */
};

/* --- small helpers -------------------------------------------------------------------------- */

static void copy_str(char *dst, size_t dstlen, const char *src, size_t srclen)
{
    size_t n;

    if (!dstlen)
        return;
    n = srclen < dstlen - 1 ? srclen : dstlen - 1;
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

static void set_error(sl_aws_error *e, long status, int transient, const char *code,
                      const char *fmt, ...) SL_PRINTF(5, 6);

static void set_error(sl_aws_error *e, long status, int transient, const char *code,
                      const char *fmt, ...)
{
    va_list ap;

    if (!e)
        return;
    e->http_status = status;
    e->transient = transient;
    copy_str(e->code, sizeof(e->code), code, strlen(code));
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}

static int str_eq_ci(const char *a, size_t alen, const char *b)
{
    return strlen(b) == alen && strncasecmp(a, b, alen) == 0;
}

/* Finds header `name` in a raw "Name: value\r\n" block of len bytes; trims the value. */
static int header_find(const char *block, size_t len, const char *name, char *out, size_t outlen)
{
    size_t i = 0;

    if (outlen)
        out[0] = '\0';
    if (!block)
        return -1;
    while (i < len) {
        size_t eol = i, colon;
        while (eol < len && block[eol] != '\n')
            eol++;
        for (colon = i; colon < eol && block[colon] != ':'; colon++)
            ;
        if (colon < eol && str_eq_ci(block + i, colon - i, name)) {
            size_t vs = colon + 1, ve = eol;
            while (vs < ve && (block[vs] == ' ' || block[vs] == '\t'))
                vs++;
            while (ve > vs && isspace((unsigned char)block[ve - 1]))
                ve--;
            copy_str(out, outlen, block + vs, ve - vs);
            return 0;
        }
        i = eol + 1;
    }
    return -1;
}

/* --- classification --------------------------------------------------------------------------- */

/* The SDKs' standard retry mode: throttling and transient error codes (botocore retryhandler,
   aws-sdk-java-v2 RetryUtils). "NetworkError" is ours, for curl transport failures. */
static const char *const transient_codes[] = {
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "ServiceUnavailable",
    "NetworkError",
};

int sl_aws_is_transient(const char *code, long http_status)
{
    if (http_status == 500 || http_status == 502 || http_status == 503 || http_status == 504)
        return 1;
    if (!code)
        return 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(transient_codes); i++)
        if (strcmp(code, transient_codes[i]) == 0)
            return 1;
    return 0;
}

/* curl failures worth another attempt: the network, not our request or the peer's identity. */
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

sl_aws_protocol sl_aws_service_protocol(const char *service)
{
    if (!service)
        return SL_AWS_PROTO_QUERY;
    if (strcmp(service, "s3") == 0)
        return SL_AWS_PROTO_REST_XML;
    if (strcmp(service, "glue") == 0 || strcmp(service, "sqs") == 0)
        return SL_AWS_PROTO_JSON;
    if (strcmp(service, "lakeformation") == 0 || strcmp(service, "ram") == 0)
        return SL_AWS_PROTO_REST_JSON;
    return SL_AWS_PROTO_QUERY;
}

static const char *status_code_name(long status)
{
    switch (status) {
    case 400:
        return "BadRequest";
    case 401:
        return "Unauthorized";
    case 403:
        return "AccessDenied";
    case 404:
        return "NotFound";
    case 405:
        return "MethodNotAllowed";
    case 409:
        return "Conflict";
    case 412:
        return "PreconditionFailed";
    case 416:
        return "InvalidRange";
    case 429:
        return "TooManyRequestsException";
    case 500:
        return "InternalError";
    case 502:
        return "BadGateway";
    case 503:
        return "ServiceUnavailable";
    case 504:
        return "GatewayTimeout";
    default:
        return NULL;
    }
}

/* --- scrubbing secrets out of AWS's error text --------------------------------------------- */

/*
 * What AWS echoes back on a signature failure, and how far each echo reaches. RDS, STS and
 * the JSON services append the canonical request and the string to sign to the message of a
 * SignatureDoesNotMatch / InvalidSignatureException ("The Canonical String for this request
 * should have been\n'POST\n/\n...x-amz-security-token:<token>\n...'\n\nThe String-to-Sign
 * should have been\n'AWS4-HMAC-SHA256\n...'"); S3 puts them in elements of its <Error>
 * (<StringToSign>, <CanonicalRequest>, their *Bytes hex forms, <SignatureProvided>).
 *   VALUE:    the marker is kept, the value after it (to a blank, quote, '&', ',', ';', '<',
 *             '>' or ')') becomes the marker text;
 *   SECTION:  everything after the marker goes, up to the next SECTION marker (the canonical
 *             request may hold quotes of its own), or for the string to sign up to its closing
 *             quote (it never holds one), or to the end of the text;
 *   ELEMENT:  the element's text, up to the next '<'.
 * Markers match case-insensitively ("X-Amz-Signature=" is found by "signature=").
 */
typedef enum scrub_kind { SCRUB_VALUE, SCRUB_SECTION, SCRUB_QUOTED, SCRUB_ELEMENT } scrub_kind;

static const struct {
    const char *marker;
    scrub_kind kind;
} scrub_rules[] = {
    {"x-amz-security-token:", SCRUB_VALUE},
    {"x-amz-security-token=", SCRUB_VALUE},
    {"signature=", SCRUB_VALUE},
    {"credential=", SCRUB_VALUE},
    {"The Canonical String for this request should have been", SCRUB_SECTION},
    {"The String-to-Sign should have been", SCRUB_QUOTED},
    {"<StringToSign>", SCRUB_ELEMENT},
    {"<StringToSignBytes>", SCRUB_ELEMENT},
    {"<CanonicalRequest>", SCRUB_ELEMENT},
    {"<CanonicalRequestBytes>", SCRUB_ELEMENT},
    {"<SignatureProvided>", SCRUB_ELEMENT},
};

#define SCRUB_MARK "[redacted]"

static int scrub_at(const char *in, size_t len, size_t i, const char *marker)
{
    size_t m = strlen(marker);
    return len - i >= m && strncasecmp(in + i, marker, m) == 0;
}

static int scrub_value_end(char ch)
{
    return isspace((unsigned char)ch) || strchr("'\"&,;<>)", ch) != NULL;
}

/* Where the secret after a marker of `kind` (text from `from`) ends. */
static size_t scrub_skip(const char *in, size_t len, size_t from, scrub_kind kind)
{
    size_t j = from;

    switch (kind) {
    case SCRUB_VALUE:
        while (j < len && (in[j] == ' ' || in[j] == '\t'))
            j++;
        while (j < len && !scrub_value_end(in[j]))
            j++;
        return j;
    case SCRUB_SECTION:
        for (; j < len; j++)
            for (size_t r = 0; r < SL_ARRAY_LEN(scrub_rules); r++)
                if (scrub_rules[r].kind == SCRUB_QUOTED &&
                    scrub_at(in, len, j, scrub_rules[r].marker))
                    return j;
        return len;
    case SCRUB_QUOTED:
        while (j < len && isspace((unsigned char)in[j]))
            j++;
        if (j < len && in[j] == '\'') {
            const char *q = memchr(in + j + 1, '\'', len - j - 1);
            return q ? (size_t)(q - in) + 1 : len;
        }
        return len;
    case SCRUB_ELEMENT:
        while (j < len && in[j] != '<')
            j++;
        return j;
    }
    return len;
}

size_t sl_aws_scrub(const char *in, size_t len, char *out, size_t outlen)
{
    size_t i = 0, o = 0;

    if (!outlen)
        return 0;
    if (!in)
        len = 0;
    /* The text ends at a NUL: out is a C string, and what follows it would be invisible. */
    if (len)
        len = strnlen(in, len);
#define SCRUB_PUT(p, n)                                                                            \
    do {                                                                                           \
        size_t n_ = (n);                                                                           \
        if (n_ > outlen - 1 - o)                                                                   \
            n_ = outlen - 1 - o;                                                                   \
        memcpy(out + o, (p), n_);                                                                  \
        o += n_;                                                                                   \
    } while (0)
    while (i < len && o < outlen - 1) {
        size_t r, m;
        for (r = 0; r < SL_ARRAY_LEN(scrub_rules); r++)
            if (scrub_at(in, len, i, scrub_rules[r].marker))
                break;
        if (r == SL_ARRAY_LEN(scrub_rules)) {
            out[o++] = in[i++];
            continue;
        }
        m = strlen(scrub_rules[r].marker);
        SCRUB_PUT(in + i, m);
        i = scrub_skip(in, len, i + m, scrub_rules[r].kind);
        if (scrub_rules[r].kind == SCRUB_SECTION || scrub_rules[r].kind == SCRUB_QUOTED)
            SCRUB_PUT(" ", 1);
        SCRUB_PUT(SCRUB_MARK, sizeof(SCRUB_MARK) - 1);
        if (scrub_rules[r].kind == SCRUB_SECTION && i < len)
            SCRUB_PUT(" ", 1);
    }
#undef SCRUB_PUT
    out[o] = '\0';
    return o;
}

/* "aws.protocoltests#ValidationException:http://internal/" -> "ValidationException". */
static void normalise_code(char *code)
{
    char *p = strchr(code, '#');
    char *colon;

    if (p)
        memmove(code, p + 1, strlen(p + 1) + 1);
    colon = strchr(code, ':');
    if (colon)
        *colon = '\0';
}

static size_t skip_blank(const char *body, size_t len)
{
    size_t i = 0;
    /* A UTF-8 byte order mark may precede an XML declaration. */
    if (len >= 3 && (unsigned char)body[0] == 0xEF && (unsigned char)body[1] == 0xBB &&
        (unsigned char)body[2] == 0xBF)
        i = 3;
    while (i < len && isspace((unsigned char)body[i]))
        i++;
    return i;
}

static void error_from_xml(const char *body, size_t len, sl_aws_error *out)
{
    char perr[128];
    xmlDoc *doc = sl_xml_parse(body, len, perr, sizeof(perr));
    xmlNode *root, *e, *rid;

    if (!doc)
        return;
    root = sl_xml_root(doc);
    /* <Error> is the root (S3), under <ErrorResponse> (query) or <Response><Errors> (EC2
       style, which RDS also uses on some paths): the first descendant covers all three. */
    e = sl_xml_find(root, "Error");
    if (e) {
        char *msg = sl_xml_child_text(e, "Message");
        (void)sl_xml_child_copy(e, "Code", out->code, sizeof(out->code));
        /* Scrubbed whole, before the cut to the buffer's size, so a cut cannot split a
           marker from the secret after it. */
        if (msg)
            (void)sl_aws_scrub(msg, strlen(msg), out->message, sizeof(out->message));
        free(msg);
    }
    rid = sl_xml_find(root, "RequestId");
    if (!rid)
        rid = sl_xml_find(root, "RequestID");
    if (rid && !out->request_id[0]) {
        char *t = sl_xml_text(rid);
        if (t)
            copy_str(out->request_id, sizeof(out->request_id), t, strlen(t));
        free(t);
    }
    xmlFreeDoc(doc);
}

static void copy_json_string(const cJSON *obj, const char *const *names, size_t n, char *out,
                             size_t outlen, int scrub)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = sl_json_str(obj, names[i]);
        if (v) {
            if (scrub)
                (void)sl_aws_scrub(v, strlen(v), out, outlen);
            else
                copy_str(out, outlen, v, strlen(v));
            return;
        }
    }
}

static void error_from_json(const char *body, size_t len, sl_aws_error *out)
{
    static const char *const code_names[] = {"__type", "code", "Code"};
    static const char *const msg_names[] = {"message", "Message", "errorMessage"};
    cJSON *j = cJSON_ParseWithLength(body, len);

    if (!j)
        return;
    if (cJSON_IsObject(j)) {
        copy_json_string(j, code_names, SL_ARRAY_LEN(code_names), out->code, sizeof(out->code), 0);
        copy_json_string(j, msg_names, SL_ARRAY_LEN(msg_names), out->message, sizeof(out->message),
                         1);
    }
    cJSON_Delete(j);
}

int sl_aws_parse_error(sl_aws_protocol proto, long http_status, const char *body, size_t len,
                       const char *headers, size_t hlen, sl_aws_error *out)
{
    char hcode[sizeof(out->code)];
    const char *fallback;
    int found;

    memset(out, 0, sizeof(*out));
    out->http_status = http_status;
    if (header_find(headers, hlen, "x-amzn-RequestId", out->request_id, sizeof(out->request_id)) !=
            0 &&
        header_find(headers, hlen, "x-amz-request-id", out->request_id, sizeof(out->request_id)) !=
            0)
        out->request_id[0] = '\0';

    if (body && len) {
        size_t i = skip_blank(body, len);
        if (i < len && body[i] == '<')
            error_from_xml(body + i, len - i, out);
        else if (i < len && body[i] == '{')
            error_from_json(body + i, len - i, out);
    }
    /* REST-JSON puts the authoritative code in x-amzn-ErrorType (botocore's
       RestJSONParser._inject_error_code); elsewhere it only fills a gap. */
    if (header_find(headers, hlen, "x-amzn-ErrorType", hcode, sizeof(hcode)) == 0 && hcode[0] &&
        (proto == SL_AWS_PROTO_REST_JSON || !out->code[0]))
        memcpy(out->code, hcode, sizeof(out->code));
    normalise_code(out->code);

    found = out->code[0] != '\0';
    if (!found) {
        fallback = status_code_name(http_status);
        if (fallback)
            copy_str(out->code, sizeof(out->code), fallback, strlen(fallback));
        else
            snprintf(out->code, sizeof(out->code), "HTTP%ld", http_status);
    }
    if (!out->message[0])
        snprintf(out->message, sizeof(out->message), "HTTP status %ld", http_status);
    out->transient = sl_aws_is_transient(out->code, http_status);
    return found ? 0 : -1;
}

/* S3 answers CopyObject, UploadPartCopy and CompleteMultipartUpload with HTTP 200 before the
   work is done; a failure then arrives as an <Error> document in that 200 body (S3 API
   reference, CopyObject "Important"). Only PUT/POST answers are checked, so a GetObject of
   a user's own XML file is never mistaken for an error. */
static int s3_body_is_error(const char *body, size_t len)
{
    size_t i;
    char perr[64];
    xmlDoc *doc;
    xmlNode *root;
    int is_err;

    if (!body || !len)
        return 0;
    i = skip_blank(body, len);
    if (i >= len || body[i] != '<')
        return 0;
    doc = sl_xml_parse(body + i, len - i, perr, sizeof(perr));
    if (!doc)
        return 0;
    root = sl_xml_root(doc);
    is_err = root && root->name && strcmp((const char *)root->name, "Error") == 0;
    xmlFreeDoc(doc);
    return is_err;
}

/* --- endpoints ------------------------------------------------------------------------------ */

int sl_aws_s3_bucket_virtual_ok(const char *bucket)
{
    size_t n;

    if (!bucket)
        return 0;
    n = strlen(bucket);
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = bucket[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
    }
    return bucket[0] != '-' && bucket[n - 1] != '-';
}

static const char *service_override(const sl_aws_opts *o, const char *service)
{
    const char *v = NULL;

    if (strcmp(service, "s3") == 0)
        v = o->endpoint_s3;
    else if (strcmp(service, "rds") == 0)
        v = o->endpoint_rds;
    else if (strcmp(service, "sts") == 0)
        v = o->endpoint_sts;
    else if (strcmp(service, "glue") == 0)
        v = o->endpoint_glue;
    else if (strcmp(service, "lakeformation") == 0)
        v = o->endpoint_lakeformation;
    else if (strcmp(service, "sqs") == 0)
        v = o->endpoint_sqs;
    else if (strcmp(service, "ram") == 0)
        v = o->endpoint_ram;
    if (v && *v)
        return v;
    return o->endpoint_url && *o->endpoint_url ? o->endpoint_url : NULL;
}

/* Splits an override URL into scheme, host[:port] and base path (no trailing '/'). */
static int parse_base(const char *url, char **scheme, char **hostport, char **basepath, char *err,
                      size_t errlen)
{
    CURLU *u = curl_url();
    char *s = NULL, *h = NULL, *port = NULL, *path = NULL;
    int rc = -1;
    size_t pl;

    if (!u)
        return sl_seterr(err, errlen, "endpoint: out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &s, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK) {
        sl_seterr(err, errlen, "endpoint: cannot parse URL \"%s\"", url);
        goto out;
    }
    if (strcmp(s, "http") != 0 && strcmp(s, "https") != 0) {
        sl_seterr(err, errlen, "endpoint: URL \"%s\" is not http or https", url);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
        port = NULL;
    if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK)
        path = NULL;
    /* The Host header we sign must be the one curl sends: curl omits the scheme's default
       port, so do we. */
    if (port && !((strcmp(s, "https") == 0 && strcmp(port, "443") == 0) ||
                  (strcmp(s, "http") == 0 && strcmp(port, "80") == 0))) {
        size_t n = strlen(h) + strlen(port) + 2;
        *hostport = malloc(n);
        if (*hostport)
            snprintf(*hostport, n, "%s:%s", h, port);
    } else {
        *hostport = strdup(h);
    }
    pl = path ? strlen(path) : 0;
    while (pl && path[pl - 1] == '/')
        pl--;
    *basepath = strndup(path ? path : "", pl);
    *scheme = strdup(s);
    if (!*hostport || !*basepath || !*scheme) {
        free(*hostport);
        free(*basepath);
        free(*scheme);
        *hostport = *basepath = *scheme = NULL;
        sl_seterr(err, errlen, "endpoint: out of memory");
        goto out;
    }
    rc = 0;
out:
    curl_free(s);
    curl_free(h);
    curl_free(port);
    curl_free(path);
    curl_url_cleanup(u);
    return rc;
}

static char *str_join(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + strlen(d) + strlen(e) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s%s%s", a, b, c, d, e);
    return s;
}

int sl_aws_endpoint_resolve(const sl_aws_opts *opts, const char *service, const char *bucket,
                            const char *path, const char *query, sl_aws_endpoint *out, char *err,
                            size_t errlen)
{
    const char *override;
    char *scheme = NULL, *hostport = NULL, *base = NULL, *ebucket = NULL;
    char *host = NULL, *fullpath = NULL, *url = NULL;
    int is_s3, path_style;
    int rc = -1;

    if (!opts || !service || !*service)
        return sl_seterr(err, errlen, "endpoint: no service");
    if (!opts->region || !*opts->region)
        return sl_seterr(err, errlen, "endpoint: no region (AWS_REGION)");
    if (!path || !*path)
        path = "/";
    if (path[0] != '/')
        return sl_seterr(err, errlen, "endpoint: path \"%s\" does not start with '/'", path);
    is_s3 = strcmp(service, "s3") == 0;
    if (bucket && (!is_s3 || !*bucket))
        return sl_seterr(err, errlen, "endpoint: bucket given for %s", service);

    override = service_override(opts, service);
    if (override) {
        if (parse_base(override, &scheme, &hostport, &base, err, errlen))
            goto out;
    } else {
        /* China partition regions live under amazonaws.com.cn. */
        const char *suffix =
            strncmp(opts->region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
        scheme = strdup("https");
        base = strdup("");
        hostport = str_join(service, ".", opts->region, ".", suffix);
        if (!scheme || !base || !hostport) {
            sl_seterr(err, errlen, "endpoint: out of memory");
            goto out;
        }
    }

    path_style = is_s3 && bucket &&
                 (opts->s3_path_style || override || !sl_aws_s3_bucket_virtual_ok(bucket));
    if (is_s3 && bucket && !path_style) {
        host = str_join(bucket, ".", hostport, "", "");
        fullpath = str_join(base, path, "", "", "");
    } else if (is_s3 && bucket) {
        ebucket = sl_sigv4_uri_encode(bucket, strlen(bucket), 0);
        host = strdup(hostport);
        /* "/bucket" for bucket-level calls, "/bucket/key" for objects. */
        if (ebucket)
            fullpath = str_join(base, "/", ebucket, strcmp(path, "/") == 0 ? "" : path, "");
    } else {
        host = strdup(hostport);
        fullpath = str_join(base, path, "", "", "");
    }
    if (!host || !fullpath) {
        sl_seterr(err, errlen, "endpoint: out of memory");
        goto out;
    }
    url = str_join(scheme, "://", host, fullpath, "");
    if (url && query && *query) {
        char *q = str_join(url, "?", query, "", "");
        free(url);
        url = q;
    }
    if (!url) {
        sl_seterr(err, errlen, "endpoint: out of memory");
        goto out;
    }
    out->url = url;
    out->host = host;
    out->path = fullpath;
    url = host = fullpath = NULL;
    rc = 0;
out:
    free(scheme);
    free(hostport);
    free(base);
    free(ebucket);
    free(host);
    free(fullpath);
    free(url);
    return rc;
}

void sl_aws_endpoint_cleanup(sl_aws_endpoint *e)
{
    if (!e)
        return;
    free(e->url);
    free(e->host);
    free(e->path);
    e->url = e->host = e->path = NULL;
}

/* --- client ----------------------------------------------------------------------------------- */

int sl_aws_opts_copy(sl_aws_opts *dst, const sl_aws_opts *src, char *err, size_t errlen)
{
    memset(dst, 0, sizeof(*dst));
    if (!src)
        return 0;
    *dst = *src;
    dst->region = sl_strdup0(src->region);
    dst->endpoint_url = sl_strdup0(src->endpoint_url);
    dst->endpoint_s3 = sl_strdup0(src->endpoint_s3);
    dst->endpoint_rds = sl_strdup0(src->endpoint_rds);
    dst->endpoint_sts = sl_strdup0(src->endpoint_sts);
    dst->endpoint_glue = sl_strdup0(src->endpoint_glue);
    dst->endpoint_lakeformation = sl_strdup0(src->endpoint_lakeformation);
    dst->endpoint_sqs = sl_strdup0(src->endpoint_sqs);
    dst->endpoint_ram = sl_strdup0(src->endpoint_ram);
    dst->ca_bundle = sl_strdup0(src->ca_bundle);
    if ((src->region && !dst->region) || (src->endpoint_url && !dst->endpoint_url) ||
        (src->endpoint_s3 && !dst->endpoint_s3) || (src->endpoint_rds && !dst->endpoint_rds) ||
        (src->endpoint_sts && !dst->endpoint_sts) || (src->endpoint_glue && !dst->endpoint_glue) ||
        (src->endpoint_lakeformation && !dst->endpoint_lakeformation) ||
        (src->endpoint_sqs && !dst->endpoint_sqs) || (src->endpoint_ram && !dst->endpoint_ram) ||
        (src->ca_bundle && !dst->ca_bundle)) {
        sl_aws_opts_cleanup(dst);
        return sl_seterr(err, errlen, "aws: out of memory");
    }
    return 0;
}

void sl_aws_opts_cleanup(sl_aws_opts *o)
{
    if (!o)
        return;
    free(o->region);
    free(o->endpoint_url);
    free(o->endpoint_s3);
    free(o->endpoint_rds);
    free(o->endpoint_sts);
    free(o->endpoint_glue);
    free(o->endpoint_lakeformation);
    free(o->endpoint_sqs);
    free(o->endpoint_ram);
    free(o->ca_bundle);
    memset(o, 0, sizeof(*o));
}

sl_aws *sl_aws_new(const sl_aws_opts *opts, struct sl_creds_provider *creds, char *err,
                   size_t errlen)
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
    if (sl_aws_opts_copy(&c->o, opts, err, errlen))
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
        for (size_t i = 0; i < SL_ARRAY_LEN(urls); i++) {
            char *s = NULL, *h = NULL, *b = NULL;
            if (!urls[i] || !*urls[i])
                continue;
            if (parse_base(urls[i], &s, &h, &b, err, errlen))
                goto fail;
            free(s);
            free(h);
            free(b);
        }
    }
    c->creds = creds;
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
    long long cap = c->o.retry_base_ms;

    /* Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"):
       random(0, min(20 s, base * 2^attempt)). */
    for (int i = 0; i < attempt && cap < AWS_MAX_BACKOFF_MS; i++)
        cap *= 2;
    if (cap > AWS_MAX_BACKOFF_MS)
        cap = AWS_MAX_BACKOFF_MS;
    return (long long)(sl_random_u64() % (unsigned long long)(cap + 1));
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
    return header_find(r->headers.data, r->headers.len, name, out, outlen);
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

static void prepared_cleanup(aws_prepared *p)
{
    sl_aws_endpoint_cleanup(&p->ep);
    slist_wipe_free(p->hdrs);
    p->hdrs = NULL;
}

static int is_expired_code(const char *code)
{
    return strcmp(code, "ExpiredToken") == 0 || strcmp(code, "ExpiredTokenException") == 0;
}

/* Resolves and signs req into p. On failure err is filled and p holds nothing. */
static int prepare(sl_aws *c, const sl_aws_request *req, aws_prepared *p, sl_aws_error *err)
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
        set_error(err, 0, 0, "InvalidRequest", "aws: request without service or method");
        return -1;
    }
    if (sl_aws_endpoint_resolve(&c->o, req->service, req->bucket, req->path, req->query, &p->ep,
                                msg, sizeof(msg))) {
        set_error(err, 0, 0, "InvalidRequest", "%s", msg);
        return -1;
    }
    sh = calloc(req->nheaders + 1, sizeof(*sh));
    if (!sh) {
        set_error(err, 0, 0, "InternalFailure", "aws: out of memory");
        goto out;
    }
    sh[0].name = "host";
    sh[0].value = p->ep.host;
    for (size_t i = 0; i < req->nheaders; i++) {
        const sl_http_header *h = &req->headers[i];
        if (!h->name || !h->value || !*h->name || has_crlf(h->name) || has_crlf(h->value) ||
            strchr(h->name, ':')) {
            set_error(err, 0, 0, "InvalidRequest", "aws: header %zu is malformed", i);
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

        if (!c->creds) {
            set_error(err, 0, 0, "CredentialsError", "aws: no credentials provider");
            goto out;
        }
        /* Fetched per attempt: a refresh between retries (or after ExpiredToken) is used. */
        if (sl_creds_get(c->creds, &cr, msg, sizeof(msg))) {
            set_error(err, 0, 0, "CredentialsError", "aws: credentials: %s", msg);
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
        keys.access_key = cr.access_key;
        keys.secret_key = cr.secret_key;
        keys.session_token = cr.session_token;
        if (sl_sigv4_sign(&sreq, &keys, &sp, &sr, msg, sizeof(msg))) {
            set_error(err, 0, 0, "SigningError", "aws: signing: %s", msg);
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
    set_error(err, 0, 0, "InternalFailure", "aws: out of memory building headers");
out:
    if (have_sig)
        sl_sigv4_result_cleanup(&sr);
    if (have_creds)
        sl_creds_cleanup(&cr);
    OPENSSL_cleanse(msg, sizeof(msg));
    free(sh);
    if (rc)
        prepared_cleanup(p);
    return rc;
}

/* Applies the prepared request and the client's transport settings to an easy handle. */
static int setup_easy(sl_aws *c, CURL *h, const aws_prepared *p, const char *method,
                      const void *body, size_t body_len, aws_io *io, char *curl_err)
{
    CURLcode cc = CURLE_OK;

#define SETOPT(opt, val)                                                                           \
    do {                                                                                           \
        if (cc == CURLE_OK)                                                                        \
            cc = curl_easy_setopt(h, opt, val);                                                    \
    } while (0)
    SETOPT(CURLOPT_URL, p->ep.url);
    SETOPT(CURLOPT_HTTPHEADER, p->hdrs);
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
    /* The path is already encoded exactly as signed: curl must not fold "/../" (S3 keys may
       contain it) or the signature would not match. */
    SETOPT(CURLOPT_PATH_AS_IS, 1L);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_SSL_VERIFYPEER, 1L);
    SETOPT(CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->o.ca_bundle && *c->o.ca_bundle)
        SETOPT(CURLOPT_CAINFO, c->o.ca_bundle);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)c->o.connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)c->o.request_timeout_ms);
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

/* Turns a finished transfer into success (0) or a classified error (-1). */
static int classify(CURL *h, CURLcode cc, const aws_io *io, const char *service, const char *method,
                    const char *curl_err, sl_aws_error *err)
{
    sl_aws_response *r = io->resp;
    long status = 0;

    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    r->status = status;
    if (cc != CURLE_OK) {
        if (io->overflow) {
            set_error(err, status, 0, "ResponseTooLarge",
                      "aws: response body exceeds the %zu-byte cap", r->body.limit);
            return -1;
        }
        set_error(err, status, curl_transient(cc), "NetworkError", "curl: %s%s%s",
                  curl_easy_strerror(cc), curl_err && curl_err[0] ? ": " : "",
                  curl_err ? curl_err : "");
        return -1;
    }
    if (status >= 200 && status < 300) {
        if (strcmp(service, "s3") == 0 &&
            (strcmp(method, "PUT") == 0 || strcmp(method, "POST") == 0) &&
            s3_body_is_error(r->body.data, r->body.len)) {
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

/* The value of header `name` among req's extra headers, or NULL. */
static const char *req_header_value(const sl_aws_request *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name && strcasecmp(req->headers[i].name, name) == 0)
            return req->headers[i].value;
    return NULL;
}

void sl_aws_operation_name(const sl_aws_request *req, char *out, size_t outlen)
{
    const char *v, *m = req->method ? req->method : "";
    size_t n;

    if ((v = req_header_value(req, "X-Amz-Target")) && *v) {
        const char *dot = strrchr(v, '.');
        snprintf(out, outlen, "%s", dot ? dot + 1 : v);
    } else if (req->body && req->body_len > 7 && memcmp(req->body, "Action=", 7) == 0) {
        /* The query protocol's first form field (sl_aws_query writes it first). */
        const char *b = (const char *)req->body + 7;
        for (n = 0; n < req->body_len - 7 && b[n] != '&'; n++)
            ;
        snprintf(out, outlen, "%.*s", (int)(n < 63 ? n : 63), b);
    } else if (req->service && strcmp(req->service, "s3") == 0) {
        const char *q = req->query ? req->query : "";
        int object = req->path && strcmp(req->path, "/") != 0 && *req->path;
        const char *op = !req->bucket                                       ? "ListBuckets"
                         : req_header_value(req, "x-amz-copy-source-range") ? "UploadPartCopy"
                         : req_header_value(req, "x-amz-copy-source")       ? "CopyObject"
                         : strstr(q, "uploads=")                        ? "CreateMultipartUpload"
                         : strstr(q, "uploadId=") && !strcmp(m, "POST") ? "CompleteMultipartUpload"
                         : strstr(q, "uploadId=") && !strcmp(m, "DELETE") ? "AbortMultipartUpload"
                         : strstr(q, "uploadId=")                         ? "UploadPart"
                         : strstr(q, "delete=")                           ? "DeleteObjects"
                         : !object && !strcmp(m, "GET")                   ? "ListObjectsV2"
                         : !object && !strcmp(m, "HEAD")                  ? "HeadBucket"
                         : !strcmp(m, "GET")                              ? "GetObject"
                         : !strcmp(m, "PUT")                              ? "PutObject"
                         : !strcmp(m, "HEAD")                             ? "HeadObject"
                         : !strcmp(m, "DELETE")                           ? "DeleteObject"
                                                                          : m;
        snprintf(out, outlen, "%s", op);
    } else if (req->path && req->path[0] == '/' && req->path[1]) {
        /* REST-JSON (Lake Formation): the operation is the path, "/GrantPermissions". */
        const char *p = req->path + 1;
        for (n = 0; p[n] && p[n] != '/' && p[n] != '?'; n++)
            ;
        snprintf(out, outlen, "%.*s", (int)(n < 63 ? n : 63), p);
    } else {
        snprintf(out, outlen, "%s", m);
    }
}

static void observe(const sl_aws *c, const char *service, const char *operation, int ok,
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
    if (prepare(c, req, &p, err))
        return -1;
    response_reset(resp);
    io.resp = resp;
    io.overflow = 0;
    curl_easy_reset(c->easy);
    if (setup_easy(c, c->easy, &p, req->method, req->body, req->body_len, &io, curl_err)) {
        set_error(err, 0, 0, "InternalFailure", "aws: curl_easy_setopt failed");
        prepared_cleanup(&p);
        return -1;
    }
    cc = curl_easy_perform(c->easy);
    rc = classify(c->easy, cc, &io, req->service, req->method, curl_err, err);
    if (rc == 0) {
        char rid[128];
        if (sl_aws_response_header(resp, "x-amzn-RequestId", rid, sizeof(rid)) &&
            sl_aws_response_header(resp, "x-amz-request-id", rid, sizeof(rid)))
            rid[0] = '\0';
        log_attempt(req, &p, resp->status, rid, attempt, NULL);
    } else if (err->transient || is_expired_code(err->code)) {
        log_attempt(req, &p, err->http_status, err->request_id, attempt, err->code);
        *retry_logged = 1;
    }
    /* Drop the reference to our header list before it is freed. */
    curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, NULL);
    prepared_cleanup(&p);
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
            observe(c, req->service, op, 1, err, 0);
            return 0;
        }
        err->attempts = tries;
        observe(c, req->service, op, 0, err, 0);
        /* Temporary credentials can expire between our check and AWS's: drop the cache and
           try once more with fresh ones (not counted against the retry budget). */
        if (is_expired_code(err->code) && c->creds && !refreshed && !req->anonymous) {
            sl_creds_invalidate(c->creds);
            refreshed = 1;
            observe(c, req->service, op, 0, err, 1);
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
        observe(c, req->service, op, 0, err, 1);
    }
}

/* --- protocols -------------------------------------------------------------------------------- */

static int form_add(sl_buf *b, const char *k, const char *v)
{
    char *ek = sl_sigv4_uri_encode(k, strlen(k), 0);
    char *ev = sl_sigv4_uri_encode(v, strlen(v), 0);
    int rc = -1;

    if (ek && ev && sl_buf_appendf(b, "%s%s=%s", b->len ? "&" : "", ek, ev) == 0)
        rc = 0;
    free(ek);
    free(ev);
    return rc;
}

int sl_aws_query(sl_aws *c, const char *service, const char *action, const char *version,
                 const char *const *params, xmlDoc **doc, sl_aws_error *err)
{
    static const sl_http_header hdrs[] = {
        {"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}};
    sl_buf form;
    sl_aws_request req;
    sl_aws_response resp;
    char perr[SL_ERRLEN];
    xmlDoc *d = NULL;
    int rc = -1;

    memset(err, 0, sizeof(*err));
    sl_buf_init(&form, 0);
    sl_aws_response_init(&resp);
    if (!action || !version || form_add(&form, "Action", action) ||
        form_add(&form, "Version", version)) {
        set_error(err, 0, 0, "InvalidRequest", "aws query: bad action/version or out of memory");
        goto out;
    }
    for (size_t i = 0; params && params[i]; i += 2) {
        if (!params[i + 1]) {
            set_error(err, 0, 0, "InvalidRequest", "aws query: parameter %s has no value",
                      params[i]);
            goto out;
        }
        if (form_add(&form, params[i], params[i + 1])) {
            set_error(err, 0, 0, "InternalFailure", "aws query: out of memory");
            goto out;
        }
    }
    memset(&req, 0, sizeof(req));
    req.service = service;
    req.method = "POST";
    req.path = "/";
    req.headers = hdrs;
    req.nheaders = SL_ARRAY_LEN(hdrs);
    req.body = form.data;
    req.body_len = form.len;
    if (sl_aws_call(c, &req, &resp, err))
        goto out;
    d = sl_xml_parse(resp.body.data, resp.body.len, perr, sizeof(perr));
    if (!d) {
        int attempts = err->attempts;
        set_error(err, resp.status, 0, "ParseError", "%s %s: %s", service, action, perr);
        err->attempts = attempts;
        goto out;
    }
    *doc = d;
    rc = 0;
out:
    sl_buf_cleanup(&form);
    sl_aws_response_cleanup(&resp);
    return rc;
}

static int json_call(sl_aws *c, const char *service, const char *method, const char *path,
                     const sl_http_header *hdrs, size_t nhdrs, const cJSON *body, cJSON **out,
                     sl_aws_error *err)
{
    sl_aws_request req;
    sl_aws_response resp;
    char *text = NULL;
    cJSON *j = NULL;
    int rc = -1;

    memset(err, 0, sizeof(*err));
    sl_aws_response_init(&resp);
    text = body ? cJSON_PrintUnformatted(body) : strdup("{}");
    if (!text) {
        set_error(err, 0, 0, "InternalFailure", "aws json: cannot serialise the request");
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.service = service;
    req.method = method;
    req.path = path;
    req.headers = hdrs;
    req.nheaders = nhdrs;
    /* GET/DELETE REST-JSON calls carry no body. */
    if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0 &&
        strcmp(method, "HEAD") != 0) {
        req.body = text;
        req.body_len = strlen(text);
    }
    if (sl_aws_call(c, &req, &resp, err))
        goto out;
    if (resp.body.len == 0) {
        j = cJSON_CreateObject();
    } else {
        j = cJSON_ParseWithLength(resp.body.data, resp.body.len);
    }
    if (!j) {
        int attempts = err->attempts;
        set_error(err, resp.status, 0, "ParseError", "%s %s: response is not JSON", service, path);
        err->attempts = attempts;
        goto out;
    }
    *out = j;
    rc = 0;
out:
    free(text);
    sl_aws_response_cleanup(&resp);
    return rc;
}

int sl_aws_json(sl_aws *c, const char *service, const char *target, const cJSON *body, cJSON **out,
                sl_aws_error *err)
{
    return sl_aws_json_version(c, service, "1.1", target, body, out, err);
}

int sl_aws_json_version(sl_aws *c, const char *service, const char *version, const char *target,
                        const cJSON *body, cJSON **out, sl_aws_error *err)
{
    sl_http_header hdrs[2];

    hdrs[0].name = "Content-Type";
    /* The two versions differ on the wire only in this header (and SQS answers 1.0 alone). */
    hdrs[0].value = version && strcmp(version, "1.0") == 0 ? "application/x-amz-json-1.0"
                                                           : "application/x-amz-json-1.1";
    hdrs[1].name = "X-Amz-Target";
    hdrs[1].value = target ? target : "";
    return json_call(c, service, "POST", "/", hdrs, 2, body, out, err);
}

int sl_aws_rest_json(sl_aws *c, const char *service, const char *method, const char *path,
                     const cJSON *body, cJSON **out, sl_aws_error *err)
{
    static const sl_http_header hdrs[] = {{"Content-Type", "application/json"}};
    return json_call(c, service, method ? method : "POST", path, hdrs, 1, body, out, err);
}

/* --- transfers on a caller's multi handle ---------------------------------------------------- */

int sl_aws_xfer_new(sl_aws *c, const sl_aws_request *req, sl_aws_xfer **out, sl_aws_error *err)
{
    sl_aws_xfer *x;
    sl_aws_request copy;

    memset(err, 0, sizeof(*err));
    x = calloc(1, sizeof(*x));
    if (!x) {
        set_error(err, 0, 0, "InternalFailure", "aws xfer: out of memory");
        return -1;
    }
    x->c = c;
    sl_aws_response_init(&x->resp);
    x->io.resp = &x->resp;
    x->service = sl_strdup0(req->service);
    x->method = sl_strdup0(req->method);
    sl_aws_operation_name(req, x->operation, sizeof(x->operation));
    x->body_len = req->body ? req->body_len : 0;
    x->body = malloc(x->body_len + 1);
    if (!x->service || !x->method || !x->body) {
        set_error(err, 0, 0, "InternalFailure", "aws xfer: out of memory");
        goto fail;
    }
    if (x->body_len)
        memcpy(x->body, req->body, x->body_len);
    x->body[x->body_len] = '\0';
    copy = *req;
    copy.body = x->body;
    copy.body_len = x->body_len;
    if (prepare(c, &copy, &x->p, err))
        goto fail;
    x->easy = curl_easy_init();
    if (!x->easy) {
        set_error(err, 0, 0, "InternalFailure", "aws xfer: curl_easy_init failed");
        goto fail;
    }
    if (setup_easy(c, x->easy, &x->p, x->method, x->body, x->body_len, &x->io, x->curl_err) ||
        curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x) != CURLE_OK) {
        set_error(err, 0, 0, "InternalFailure", "aws xfer: curl_easy_setopt failed");
        goto fail;
    }
    err->attempts = 0;
    *out = x;
    return 0;
fail:
    sl_aws_xfer_free(x);
    return -1;
}

CURL *sl_aws_xfer_handle(sl_aws_xfer *x)
{
    return x->easy;
}

void sl_aws_xfer_set_user(sl_aws_xfer *x, void *user)
{
    x->user = user;
}

void *sl_aws_xfer_user(const sl_aws_xfer *x)
{
    return x->user;
}

int sl_aws_xfer_finish(sl_aws_xfer *x, CURLcode cc, sl_aws_error *err)
{
    memset(err, 0, sizeof(*err));
    err->attempts = 1;
    if (classify(x->easy, cc, &x->io, x->service, x->method, x->curl_err, err) == 0) {
        observe(x->c, x->service, x->operation, 1, err, 0);
        return 0;
    }
    err->attempts = 1;
    observe(x->c, x->service, x->operation, 0, err, 0);
    return -1;
}

const sl_aws_response *sl_aws_xfer_response(const sl_aws_xfer *x)
{
    return &x->resp;
}

void sl_aws_xfer_free(sl_aws_xfer *x)
{
    if (!x)
        return;
    if (x->easy)
        curl_easy_cleanup(x->easy);
    prepared_cleanup(&x->p);
    sl_aws_response_cleanup(&x->resp);
    free(x->service);
    free(x->method);
    free(x->body);
    free(x);
}
