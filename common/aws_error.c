/*
 * aws_error.c - see aws_error.h. Reading AWS's error answers: codes, messages and request ids
 * out of XML and JSON bodies and headers, the transient classification, and the scrubbing of
 * echoed secrets. Pure: the transport hands it bytes.
 */
#define _GNU_SOURCE /* memmem */
#include "aws_error.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <libxml/tree.h>

#include "json.h"
#include "xml.h"

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

void sl_aws_error_set(sl_aws_error *e, long status, int transient, const char *code,
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
int sl_aws_header_find(const char *block, size_t len, const char *name, char *out, size_t outlen)
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
    if (sl_aws_header_find(headers, hlen, "x-amzn-RequestId", out->request_id,
                           sizeof(out->request_id)) != 0 &&
        sl_aws_header_find(headers, hlen, "x-amz-request-id", out->request_id,
                           sizeof(out->request_id)) != 0)
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
    if (sl_aws_header_find(headers, hlen, "x-amzn-ErrorType", hcode, sizeof(hcode)) == 0 &&
        hcode[0] && (proto == SL_AWS_PROTO_REST_JSON || !out->code[0]))
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
   reference, CopyObject "Important"). The transport checks only PUT/POST answers, so a
   GetObject of a user's own XML file is never mistaken for an error. */
int sl_aws_s3_body_is_error(const char *body, size_t len)
{
    size_t i;
    char perr[64];
    sl_xml_reader xr;
    const xmlChar *name;
    int rc, is_err = 0;

    if (!body || !len)
        return 0;
    i = skip_blank(body, len);
    if (i >= len || body[i] != '<')
        return 0;
    /* A root element named Error needs the bytes "Error" in the body: libxml2 reads it as
       UTF-8 whatever it declares (xml.c, IGNORE_ENC), and only NUL bytes could make it take
       the text for UTF-16. So a body without them is not an error, and is not parsed: that
       is every CopyObject answer that succeeded. */
    if (!memchr(body + i, '\0', len - i) && !memmem(body + i, len - i, "Error", 5))
        return 0;
    /* Only the root element's name decides, so the reader stops at it instead of building
       the whole tree: this runs on every CopyObject answer (a DOM parse of each was 6% of a
       copy worker's CPU). A body that breaks off after "<Error>" is an error too: the copy
       did not report success. */
    if (sl_xml_reader_open(&xr, body + i, len - i, perr, sizeof(perr)))
        return 0;
    while ((rc = xmlTextReaderRead(xr.r)) == 1) {
        if (xmlTextReaderNodeType(xr.r) != XML_READER_TYPE_ELEMENT)
            continue;
        name = xmlTextReaderConstLocalName(xr.r);
        is_err = name && strcmp((const char *)name, "Error") == 0;
        break;
    }
    sl_xml_reader_close(&xr);
    return is_err;
}
