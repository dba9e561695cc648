/*
 * test_aws_http.c - the AWS client core: retry classification, error parsing of every
 * protocol, endpoint resolution and S3 addressing, backoff bounds, header lookup, and the
 * retry loop end to end against a scripted local HTTP server (a forked child process).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws_http.h"
#include "aws_http_int.h"
#include "sl_test.h"

static void test_is_transient(void)
{
    static const struct {
        const char *code;
        long status;
        int want;
    } cases[] = {
        {"Throttling", 400, 1},
        {"ThrottlingException", 400, 1},
        {"SlowDown", 503, 1},
        {"RequestLimitExceeded", 400, 1},
        {"TooManyRequestsException", 429, 1},
        {"InternalError", 200, 1},
        {"RequestTimeout", 400, 1},
        {"ServiceUnavailable", 503, 1},
        {"PriorRequestNotComplete", 400, 1},
        {"EC2ThrottledException", 400, 1},
        {"NetworkError", 0, 1},
        {"Whatever", 500, 1},
        {"Whatever", 502, 1},
        {"Whatever", 504, 1},
        {NULL, 503, 1},
        {"NoSuchBucket", 404, 0},
        {"AccessDenied", 403, 0},
        {"ValidationException", 400, 0},
        {"ExportTaskLimitReachedFault", 400, 0},
        {"throttling", 400, 0}, /* codes are case-sensitive */
        {NULL, 400, 0},
        {"", 501, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        if (sl_aws_is_transient(cases[i].code, cases[i].status) != cases[i].want)
            fprintf(stderr, "case %zu (%s, %ld)\n", i, cases[i].code ? cases[i].code : "NULL",
                    cases[i].status);
        CHECK_INT(sl_aws_is_transient(cases[i].code, cases[i].status), cases[i].want);
    }
}

static void test_parse_error(void)
{
    static const struct {
        sl_aws_protocol proto;
        long status;
        const char *body;
        const char *headers;
        int rc;
        const char *code, *message, *request_id;
        int transient;
    } cases[] = {
        {SL_AWS_PROTO_QUERY, 404,
         "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender"
         "</Type><Code>DBClusterNotFoundFault</Code><Message>DBCluster x not found.</Message>"
         "</Error><RequestId>rid-1</RequestId></ErrorResponse>",
         NULL, 0, "DBClusterNotFoundFault", "DBCluster x not found.", "rid-1", 0},
        {SL_AWS_PROTO_QUERY, 400,
         "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow</Message>"
         "</Error></Errors><RequestID>rid-2</RequestID></Response>",
         NULL, 0, "RequestLimitExceeded", "slow", "rid-2", 1},
        {SL_AWS_PROTO_REST_XML, 404,
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
         "<Message>The specified bucket does not exist</Message><BucketName>b</BucketName>"
         "<RequestId>rid-3</RequestId></Error>",
         "x-amz-request-id: hdr-3\r\n", 0, "NoSuchBucket", "The specified bucket does not exist",
         "hdr-3", 0},
        {SL_AWS_PROTO_REST_XML, 404, "", "x-amz-request-id: h4\r\nContent-Length: 0\r\n", -1,
         "NotFound", "HTTP status 404", "h4", 0},
        {SL_AWS_PROTO_REST_XML, 403, NULL, NULL, -1, "AccessDenied", "HTTP status 403", "", 0},
        {SL_AWS_PROTO_REST_XML, 503, "  ", NULL, -1, "ServiceUnavailable", "HTTP status 503", "",
         1},
        {SL_AWS_PROTO_JSON, 400,
         "{\"__type\":\"com.amazonaws.glue#EntityNotFoundException\",\"message\":\"no crawler\"}",
         "x-amzn-RequestId: j1\r\n", 0, "EntityNotFoundException", "no crawler", "j1", 0},
        {SL_AWS_PROTO_JSON, 400,
         "{\"__type\":\"ThrottlingException:http://internal.amazon.com/\",\"Message\":\"Rate\"}",
         NULL, 0, "ThrottlingException", "Rate", "", 1},
        {SL_AWS_PROTO_REST_JSON, 400, "{\"message\":\"bad principal\",\"code\":\"Other\"}",
         "X-Amzn-ErrorType: InvalidInputException:http://internal.amazon.com/\r\n", 0,
         "InvalidInputException", "bad principal", "", 0},
        {SL_AWS_PROTO_JSON, 400, "{\"message\":\"only a message\"}",
         "x-amzn-errortype: ValidationException\r\n", 0, "ValidationException", "only a message",
         "", 0},
        {SL_AWS_PROTO_QUERY, 502, "<html><body>Bad gateway</body></html>", NULL, -1, "BadGateway",
         "HTTP status 502", "", 1},
        {SL_AWS_PROTO_JSON, 418, "{not json", NULL, -1, "HTTP418", "HTTP status 418", "", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_aws_error e;
        const char *b = cases[i].body, *h = cases[i].headers;
        int rc = sl_aws_parse_error(cases[i].proto, cases[i].status, b, b ? strlen(b) : 0, h,
                                    h ? strlen(h) : 0, &e);
        fprintf(stderr, "parse_error case %zu\n", i);
        CHECK_INT(rc, cases[i].rc);
        CHECK_STR(e.code, cases[i].code);
        CHECK_STR(e.message, cases[i].message);
        CHECK_STR(e.request_id, cases[i].request_id);
        CHECK_INT(e.transient, cases[i].transient);
        CHECK_INT(e.http_status, cases[i].status);
    }
}

/* Secrets planted in the real error shapes below; none may survive a parse. */
#define TOK "FQoGZXIvYXdzEJr//////////wEaDPLANTEDTOKEN+abc/def=="
#define SIG "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
#define AKID "ASIAPLANTEDKEYID0001"
#define SDNM_TEXT                                                                                  \
    "The request signature we calculated does not match the signature you provided. Check "        \
    "your AWS Secret Access Key and signing method. Consult the service documentation for "        \
    "details."
/* What RDS, STS and the JSON services append (the shape quoted in aws-sdk-cpp#17,
   selling-partner-api-models#1900): the canonical request, token included, then the string
   to sign. */
#define CANONICAL_TAIL                                                                             \
    "\n\nThe Canonical String for this request should have been\n'POST\n/\n\n"                     \
    "content-type:application/x-www-form-urlencoded; charset=utf-8\nhost:rds.us-east-1."           \
    "amazonaws.com\nx-amz-date:20240101T000000Z\nx-amz-security-token:" TOK "\n\n"                 \
    "content-type;host;x-amz-date;x-amz-security-token\n"                                          \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'\n\n"                        \
    "The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n20240101T000000Z\n"                   \
    "20240101/us-east-1/rds/aws4_request\n"                                                        \
    "9d4e5a5f7c0d8b5f5a3e2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e'\n"
#define CANONICAL_SCRUBBED                                                                         \
    SDNM_TEXT "\n\nThe Canonical String for this request should have been [redacted] "             \
              "The String-to-Sign should have been [redacted]\n"

static void test_parse_error_scrubs_secrets(void)
{
    static const struct {
        const char *what;
        sl_aws_protocol proto;
        const char *body;
        const char *code, *message;
    } cases[] = {
        {"rds query xml", SL_AWS_PROTO_QUERY,
         "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\">\n  <Error>\n"
         "    <Type>Sender</Type>\n    <Code>SignatureDoesNotMatch</Code>\n    <Message>" SDNM_TEXT
             CANONICAL_TAIL "</Message>\n  </Error>\n  <RequestId>r-1</RequestId>\n"
         "</ErrorResponse>\n",
         "SignatureDoesNotMatch", CANONICAL_SCRUBBED},
        {"sts query xml", SL_AWS_PROTO_QUERY,
         "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
         "</Type><Code>SignatureDoesNotMatch</Code><Message>" SDNM_TEXT CANONICAL_TAIL
         "</Message></Error><RequestId>r-2</RequestId></ErrorResponse>",
         "SignatureDoesNotMatch", CANONICAL_SCRUBBED},
        {"glue json", SL_AWS_PROTO_JSON,
         "{\"__type\":\"InvalidSignatureException\",\"message\":\"" SDNM_TEXT
         "\\n\\nThe Canonical String for this request should have been\\n'POST\\n/\\n\\n"
         "content-type:application/x-amz-json-1.1\\nhost:glue.us-east-1.amazonaws.com\\n"
         "x-amz-date:20240101T000000Z\\nx-amz-security-token:" TOK "\\nx-amz-target:AWSGlue."
         "GetCrawler\\n\\ncontent-type;host;x-amz-date;x-amz-security-token;x-amz-target\\n"
         "abc'\\n\\nThe String-to-Sign should have been\\n'AWS4-HMAC-SHA256\\n20240101T000000Z"
         "\\n20240101/us-east-1/glue/aws4_request\\n0123abcd'\\n\"}",
         "InvalidSignatureException", CANONICAL_SCRUBBED},
        /* S3: the message itself is clean; the echoes are sibling elements. */
        {"s3 rest xml", SL_AWS_PROTO_REST_XML,
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch</Code>"
         "<Message>The request signature we calculated does not match the signature you "
         "provided. Check your key and signing method.</Message><AWSAccessKeyId>" AKID
         "</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256\n20240101T000000Z\n20240101/us-east-1/"
         "s3/aws4_request\nabcd</StringToSign><SignatureProvided>" SIG "</SignatureProvided>"
         "<StringToSignBytes>41 57 53 34</StringToSignBytes><CanonicalRequest>GET\n/key\n\nhost:"
         "b.s3.amazonaws.com\nx-amz-security-token:" TOK "\n\nhost;x-amz-security-token\n"
         "UNSIGNED-PAYLOAD</CanonicalRequest><CanonicalRequestBytes>47 45 54</CanonicalRequest"
         "Bytes><RequestId>r-3</RequestId><HostId>h</HostId></Error>",
         "SignatureDoesNotMatch",
         "The request signature we calculated does not match the signature you provided. Check "
         "your key and signing method."},
        /* A message that quotes an Authorization header or a presigned query. */
        {"echoed authorization", SL_AWS_PROTO_JSON,
         "{\"__type\":\"IncompleteSignatureException\",\"message\":\"Authorization header "
         "requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=AWS4-"
         "HMAC-SHA256 Credential=" AKID "/20240101/us-east-1/glue/aws4_request, SignedHeaders="
         "host;x-amz-date, Signature=" SIG "\"}",
         "IncompleteSignatureException",
         "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
         "Authorization=AWS4-HMAC-SHA256 Credential=[redacted], SignedHeaders=host;x-amz-date, "
         "Signature=[redacted]"},
        {"presigned query", SL_AWS_PROTO_REST_XML,
         "<Error><Code>AccessDenied</Code><Message>Request has expired: /k?X-Amz-Credential=" AKID
         "%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&amp;X-Amz-Security-Token=" TOK
         "&amp;X-Amz-Signature=" SIG "&amp;X-Amz-Expires=60</Message></Error>",
         "AccessDenied",
         "Request has expired: /k?X-Amz-Credential=[redacted]&X-Amz-Security-Token=[redacted]&"
         "X-Amz-Signature=[redacted]&X-Amz-Expires=60"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_aws_error e;
        const char *b = cases[i].body;
        fprintf(stderr, "scrub case %s\n", cases[i].what);
        CHECK_INT(sl_aws_parse_error(cases[i].proto, 403, b, strlen(b), NULL, 0, &e), 0);
        CHECK_STR(e.code, cases[i].code);
        CHECK(strstr(e.message, "FQoGZXIvYXdz") == NULL);
        CHECK(strstr(e.message, SIG) == NULL);
        CHECK(strstr(e.message, AKID) == NULL);
        CHECK(strstr(e.message, "AWS4-HMAC-SHA256\n") == NULL);
        CHECK_STR(e.message, cases[i].message);
    }
}

/* The scrubber alone: its edges (case, spacing, unterminated sections, cuts, NULs). */
static void test_scrub(void)
{
    static const struct {
        const char *in;
        size_t outlen;
        const char *want;
    } cases[] = {
        {"", 64, ""},
        {"nothing secret here", 64, "nothing secret here"},
        {"X-AMZ-SECURITY-TOKEN: " TOK "\nnext", 128, "X-AMZ-SECURITY-TOKEN:[redacted]\nnext"},
        {"x-amz-security-token:" TOK, 128, "x-amz-security-token:[redacted]"},
        {"signature=abc,rest", 64, "signature=[redacted],rest"},
        {"credential=AKID/2024/x 'q'", 64, "credential=[redacted] 'q'"},
        /* No string to sign after it: the canonical request runs to the end. */
        {"a The Canonical String for this request should have been\n'GET\n/\nx-amz-security-"
         "token:" TOK,
         128, "a The Canonical String for this request should have been [redacted]"},
        /* An unterminated string to sign runs to the end too. */
        {"The String-to-Sign should have been\n'AWS4-HMAC-SHA256\n2024", 128,
         "The String-to-Sign should have been [redacted]"},
        {"The String-to-Sign should have been\n'AWS4'\ntail", 128,
         "The String-to-Sign should have been [redacted]\ntail"},
        {"<SignatureProvided>" SIG "</SignatureProvided>", 128,
         "<SignatureProvided>[redacted]</SignatureProvided>"},
        /* Cut: the output stays a C string of outlen - 1 bytes at most. */
        {"0123456789", 5, "0123"},
        {"Signature=" SIG, 14, "Signature=[re"},
        /* "Signature" without '=' and a token name without a value are names, not secrets. */
        {"SignatureDoesNotMatch; signed x-amz-security-token", 128,
         "SignatureDoesNotMatch; signed x-amz-security-token"},
    };
    char out[256];
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        size_t n = sl_aws_scrub(cases[i].in, strlen(cases[i].in), out, cases[i].outlen);
        fprintf(stderr, "scrub case %zu\n", i);
        CHECK_STR(out, cases[i].want);
        CHECK_INT(n, strlen(cases[i].want));
    }
    /* Not NUL-terminated input is read to len only; a NUL ends the text. */
    CHECK_INT(sl_aws_scrub("abcdef", 3, out, sizeof(out)), 3);
    CHECK_STR(out, "abc");
    CHECK_INT(sl_aws_scrub("ab\0signature=x", 14, out, sizeof(out)), 2);
    CHECK_STR(out, "ab");
    CHECK_INT(sl_aws_scrub(NULL, 5, out, sizeof(out)), 0);
    CHECK_STR(out, "");
    CHECK_INT(sl_aws_scrub("x", 1, out, 0), 0);
}

static void test_endpoint_resolve(void)
{
    static const struct {
        const char *region, *url, *url_s3, *url_rds;
        int path_style;
        const char *service, *bucket, *path, *query;
        const char *want_url, *want_host, *want_path;
    } cases[] = {
        {"us-east-1", NULL, NULL, NULL, 0, "rds", NULL, NULL, NULL,
         "https://rds.us-east-1.amazonaws.com/", "rds.us-east-1.amazonaws.com", "/"},
        {"eu-west-1", NULL, NULL, NULL, 0, "s3", "my-bucket", "/a%20b", "x=1",
         "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b?x=1",
         "my-bucket.s3.eu-west-1.amazonaws.com", "/a%20b"},
        /* Dotted names would break the wildcard TLS certificate: path style. */
        {"eu-west-1", NULL, NULL, NULL, 0, "s3", "my.bucket", "/k", NULL,
         "https://s3.eu-west-1.amazonaws.com/my.bucket/k", "s3.eu-west-1.amazonaws.com",
         "/my.bucket/k"},
        {"eu-west-1", NULL, NULL, NULL, 1, "s3", "bkt", "/", "list-type=2",
         "https://s3.eu-west-1.amazonaws.com/bkt?list-type=2", "s3.eu-west-1.amazonaws.com",
         "/bkt"},
        /* An override means path style, and a non-default port is part of Host. */
        {"us-east-1", "http://127.0.0.1:15000", NULL, NULL, 0, "s3", "bkt", "/k%2B1", NULL,
         "http://127.0.0.1:15000/bkt/k%2B1", "127.0.0.1:15000", "/bkt/k%2B1"},
        {"us-east-1", "http://127.0.0.1:15000/", NULL, NULL, 0, "glue", NULL, NULL, NULL,
         "http://127.0.0.1:15000/", "127.0.0.1:15000", "/"},
        /* The per-service override beats AWS_ENDPOINT_URL; default ports are dropped. */
        {"us-east-1", "http://127.0.0.1:15000", "https://s3.local:443/base/", NULL, 0, "s3", "bkt",
         "/k", NULL, "https://s3.local/base/bkt/k", "s3.local", "/base/bkt/k"},
        {"us-east-1", "http://127.0.0.1:15000", NULL, "http://rds.local:80", 0, "rds", NULL, NULL,
         NULL, "http://rds.local/", "rds.local", "/"},
        {"us-east-1", "http://127.0.0.1:15000", NULL, "http://rds.local:80", 0, "sts", NULL, NULL,
         NULL, "http://127.0.0.1:15000/", "127.0.0.1:15000", "/"},
        {"cn-north-1", NULL, NULL, NULL, 0, "glue", NULL, NULL, NULL,
         "https://glue.cn-north-1.amazonaws.com.cn/", "glue.cn-north-1.amazonaws.com.cn", "/"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_aws_opts o;
        sl_aws_endpoint ep;
        char err[SL_ERRLEN];
        int rc;

        memset(&o, 0, sizeof(o));
        o.region = (char *)cases[i].region;
        o.endpoint_url = (char *)cases[i].url;
        o.endpoint_s3 = (char *)cases[i].url_s3;
        o.endpoint_rds = (char *)cases[i].url_rds;
        o.s3_path_style = cases[i].path_style;
        rc = sl_aws_endpoint_resolve(&o, cases[i].service, cases[i].bucket, cases[i].path,
                                     cases[i].query, &ep, err, sizeof(err));
        fprintf(stderr, "endpoint case %zu\n", i);
        CHECK_INT(rc, 0);
        rc = strcmp(ep.url, cases[i].want_url) || strcmp(ep.host, cases[i].want_host) ||
             strcmp(ep.path, cases[i].want_path);
        if (rc)
            fprintf(stderr, "got %s | %s | %s\n", ep.url, ep.host, ep.path);
        sl_aws_endpoint_cleanup(&ep);
        CHECK_INT(rc, 0);
    }
}

/* A client resolves each service's base once and keeps it: every request of each service, the
   first and the later ones, goes where the whole resolution says. */
static void test_client_endpoint_bases(void)
{
    static const struct {
        const char *service, *bucket, *path, *query;
    } reqs[] = {
        {"s3", "lake", "/k/date=2024-03-05/part-0.gz.parquet", NULL},
        {"rds", NULL, "/", NULL},
        {"s3", "exports", "/a%20b", "list-type=2"},
        {"glue", NULL, "/", NULL},
        {"s3", "Not_Virtual", "/", NULL},
        {"rds", NULL, "/", NULL},
    };
    sl_aws_opts o;
    sl_aws *c;
    char err[SL_ERRLEN];

    memset(&o, 0, sizeof(o));
    o.region = "eu-west-1";
    o.endpoint_s3 = "http://127.0.0.1:15000/base/";
    CHECK((c = sl_aws_new(&o, NULL, err, sizeof(err))) != NULL);
    for (int round = 0; round < 2; round++)
        for (size_t i = 0; i < SL_ARRAY_LEN(reqs); i++) {
            sl_aws_request req;
            aws_prepared p;
            sl_aws_endpoint want;
            sl_aws_error e;

            memset(&req, 0, sizeof(req));
            req.service = reqs[i].service;
            req.method = "GET";
            req.bucket = reqs[i].bucket;
            req.path = reqs[i].path;
            req.query = reqs[i].query;
            req.anonymous = 1;
            CHECK_INT(sl_aws_endpoint_resolve(&o, req.service, req.bucket, req.path, req.query,
                                              &want, err, sizeof(err)),
                      0);
            CHECK_INT(sl_aws_prepare(c, &req, &p, &e), 0);
            CHECK_STR(p.ep.url, want.url);
            CHECK_STR(p.ep.host, want.host);
            CHECK_STR(p.ep.path, want.path);
            sl_aws_prepared_cleanup(&p);
            sl_aws_endpoint_cleanup(&want);
        }
    CHECK_INT((int)c->nbases, 3);
    sl_aws_free(c);
}

static void test_endpoint_errors(void)
{
    sl_aws_opts o;
    sl_aws_endpoint ep;
    char err[SL_ERRLEN];

    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    CHECK_INT(sl_aws_endpoint_resolve(&o, "s3", "b", "no-slash", NULL, &ep, err, sizeof(err)), -1);
    CHECK(strstr(err, "does not start") != NULL);
    o.endpoint_url = "ftp://example.com";
    CHECK_INT(sl_aws_endpoint_resolve(&o, "rds", NULL, "/", NULL, &ep, err, sizeof(err)), -1);
    o.endpoint_url = NULL;
    o.region = NULL;
    CHECK_INT(sl_aws_endpoint_resolve(&o, "rds", NULL, "/", NULL, &ep, err, sizeof(err)), -1);
    CHECK(strstr(err, "AWS_REGION") != NULL);
    /* sl_aws_new refuses a bad override at start. */
    o.region = "us-east-1";
    o.endpoint_glue = "not a url";
    CHECK(sl_aws_new(&o, NULL, err, sizeof(err)) == NULL);
}

static void test_bucket_virtual_ok(void)
{
    static const struct {
        const char *b;
        int want;
    } cases[] = {
        {"abc", 1},   {"my-bucket-1", 1},
        {"ab", 0},    {"My-Bucket", 0},
        {"a.b.c", 0}, {"-abc", 0},
        {"abc-", 0},  {"a_bc", 0},
        {NULL, 0},    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_aws_s3_bucket_virtual_ok(cases[i].b), cases[i].want);
}

/* The deep copy owns its own strings: the source may be freed first; cleanup zeroes. */
static void test_opts_copy_cleanup(void)
{
    char region[] = "eu-west-1", ep[] = "http://127.0.0.1:1", err[SL_ERRLEN];
    sl_aws_opts src, dst;

    memset(&src, 0, sizeof(src));
    src.region = region;
    src.endpoint_s3 = ep;
    src.s3_path_style = 1;
    src.max_attempts = 7;
    CHECK_INT(sl_aws_opts_copy(&dst, &src, err, sizeof(err)), 0);
    CHECK(dst.region != region && dst.endpoint_s3 != ep);
    memset(region, 'x', sizeof(region) - 1);
    CHECK_STR(dst.region, "eu-west-1");
    CHECK_STR(dst.endpoint_s3, "http://127.0.0.1:1");
    CHECK(dst.endpoint_url == NULL && dst.ca_bundle == NULL && dst.endpoint_glue == NULL);
    CHECK_INT(dst.s3_path_style, 1);
    CHECK_INT(dst.max_attempts, 7);
    sl_aws_opts_cleanup(&dst);
    CHECK(dst.region == NULL && dst.endpoint_s3 == NULL && dst.max_attempts == 0);
    sl_aws_opts_cleanup(NULL);

    /* A NULL source gives zeroed options. */
    dst.max_attempts = 5;
    CHECK_INT(sl_aws_opts_copy(&dst, NULL, err, sizeof(err)), 0);
    CHECK(dst.region == NULL && dst.max_attempts == 0);
}

static void test_backoff_bounds(void)
{
    sl_aws_opts o;
    char err[SL_ERRLEN];
    sl_aws *c;
    int over = 0, nonzero = 0;

    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    o.retry_base_ms = 100;
    c = sl_aws_new(&o, NULL, err, sizeof(err));
    CHECK(c != NULL);
    for (int a = 1; a <= 12; a++) {
        long long cap = 100LL << a;
        if (cap > 20000)
            cap = 20000;
        for (int k = 0; k < 200; k++) {
            long long v = sl_aws_backoff_ms(c, a);
            if (v < 0 || v > cap)
                over++;
            if (v > 0)
                nonzero++;
        }
    }
    CHECK_INT(sl_aws_max_attempts(c), 3);
    CHECK_STR(sl_aws_region(c), "us-east-1");
    sl_aws_free(c);
    sl_aws_free(NULL);
    CHECK_INT(over, 0);
    CHECK(nonzero > 0);
}

static void test_response_header(void)
{
    sl_aws_response r;
    char v[64];
    const char *block = "Content-Type: text/xml\r\nx-amz-request-id:  ABC123 \r\n"
                        "ETag: \"e1\"\r\n\r\n";

    sl_aws_response_init(&r);
    CHECK_INT(sl_buf_append(&r.headers, block, strlen(block)), 0);
    CHECK_INT(sl_aws_response_header(&r, "X-Amz-Request-Id", v, sizeof(v)), 0);
    CHECK_STR(v, "ABC123");
    CHECK_INT(sl_aws_response_header(&r, "etag", v, sizeof(v)), 0);
    CHECK_STR(v, "\"e1\"");
    CHECK_INT(sl_aws_response_header(&r, "x-amz", v, sizeof(v)), -1);
    sl_aws_response_cleanup(&r);
}

/* --- the retry loop against a scripted server -------------------------------------------- */

typedef struct canned {
    int status;
    const char *body; /* NULL: echo the request head back as the body */
} canned;

static void serve(int lfd, const canned *script, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char req[8192], resp[16384];
        size_t got = 0;
        const char *body;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            _exit(2);
        while (got < sizeof(req) - 1) {
            ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[got] = '\0';
        body = script[i].body ? script[i].body : req;
        int len = snprintf(resp, sizeof(resp),
                           "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n"
                           "x-amz-request-id: req-%zu\r\n\r\n%s",
                           script[i].status, strlen(body), i, body);
        if (write(fd, resp, (size_t)len) < 0)
            _exit(3);
        close(fd);
    }
    _exit(0);
}

static pid_t start_server(const canned *script, size_t n, int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 8) ||
        getsockname(lfd, (struct sockaddr *)&a, &al))
        return -1;
    *port = ntohs(a.sin_port);
    pid = fork();
    if (pid == 0)
        serve(lfd, script, n);
    close(lfd);
    return pid;
}

static int wait_server(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static sl_aws *local_client_with(int port, const sl_aws_creds *creds)
{
    sl_aws_opts o;
    char url[64], err[SL_ERRLEN];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    o.endpoint_url = url;
    o.max_attempts = 3;
    o.retry_base_ms = 1;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 5000;
    return sl_aws_new(&o, creds, err, sizeof(err));
}

static sl_aws *local_client(int port)
{
    return local_client_with(port, NULL);
}

static void test_call_retries_then_succeeds(void)
{
    static const canned script[] = {
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {500, ""},
        {200, NULL},
    };
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    char host[64], rid[32];
    int port = 0, rc, srv;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "GET";
    req.bucket = "bkt";
    req.path = "/a%20b/..%2Fc";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    rc = sl_aws_call(c, &req, &resp, &e);
    srv = wait_server(pid);
    snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", port);
    CHECK_INT(srv, 0);
    CHECK_INT(rc, 0);
    CHECK_INT(e.attempts, 3);
    CHECK_INT(resp.status, 200);
    /* The echoed request: exact path (not normalised) and the Host we would sign. */
    CHECK(strstr(resp.body.data, "GET /bkt/a%20b/..%2Fc HTTP/1.1\r\n") == resp.body.data);
    CHECK(strstr(resp.body.data, host) != NULL);
    CHECK(strstr(resp.body.data, "Expect:") == NULL);
    CHECK_INT(sl_aws_response_header(&resp, "x-amz-request-id", rid, sizeof(rid)), 0);
    CHECK_STR(rid, "req-2");
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
}

static void test_call_permanent_error_no_retry(void)
{
    static const canned script[] = {
        {404, "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist"
              "</Message></Error>"},
    };
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0, rc, srv;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.bucket = "nope";
    req.anonymous = 1;
    req.method = "GET";
    sl_aws_response_init(&resp);
    rc = sl_aws_call(c, &req, &resp, &e);
    srv = wait_server(pid);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    CHECK_INT(srv, 0);
    CHECK_INT(rc, -1);
    CHECK_INT(e.attempts, 1);
    CHECK_STR(e.code, "NoSuchBucket");
    CHECK_STR(e.message, "The specified bucket does not exist");
    CHECK_STR(e.request_id, "req-0");
    CHECK_INT(e.transient, 0);
}

static void test_s3_body_is_error(void)
{
    /* Only the root element's name decides; the rest of the body is not read. */
    static const struct {
        const char *body;
        int want;
    } cases[] = {
        {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>InternalError</Code>"
         "<Message>We encountered an internal error.</Message></Error>",
         1},
        {"\r\n  <Error><Code>SlowDown</Code></Error>", 1},
        {"<Error><Code>InternalError</Code><Mess", 1}, /* broke off: not a success */
        {"<Error xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>", 1},
        {"<?xml version=\"1.0\"?><!-- c --><Error><Code>X</Code></Error>", 1},
        {"<?xml version=\"1.0\"?>\n<CopyObjectResult xmlns=\"http://s3.amazonaws.com/doc/"
         "2006-03-01/\"><ETag>\"e\"</ETag></CopyObjectResult>",
         0},
        {"<CopyObjectResult><Error>in a child</Error></CopyObjectResult>", 0},
        {"<CopyPartResult><ETag>\"e\"</ETag></CopyPartResult>", 0},
        {"<ErrorX/>", 0},
        {"{\"Error\": 1}", 0},
        {"", 0},
        {"   ", 0},
        {"<", 0},
        {"<<Error>", 0},
        {"<s3:Error xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\"/>", 1},
        /* A declared encoding is not obeyed (xml.c): the body is read as UTF-8. */
        {"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><Error><Code>X</Code></Error>", 1},
        {"<?xml version=\"1.0\" encoding=\"UTF-7\"?><+AEU-rror/>", 0},
    };
    static const char u16[] = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><Error><Code>X</Code>"
                              "</Error>";
    char wide[2 * sizeof(u16)];

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        int got = sl_aws_s3_body_is_error(cases[i].body, strlen(cases[i].body));
        if (got != cases[i].want)
            fprintf(stderr, "case %zu: %s\n", i, cases[i].body);
        CHECK_INT(got, cases[i].want);
    }
    CHECK_INT(sl_aws_s3_body_is_error(NULL, 0), 0);
    /* UTF-16LE without a byte order mark (libxml2 knows it by "<\0?\0"): "Error" is not in its
       bytes, but its NUL bytes send it to the reader, which finds the root. */
    for (size_t i = 0; i + 1 < sizeof(u16); i++) {
        wide[2 * i] = u16[i];
        wide[2 * i + 1] = '\0';
    }
    CHECK_INT(sl_aws_s3_body_is_error(wide, 2 * (sizeof(u16) - 1)), 1);
    CHECK_INT(sl_aws_s3_body_is_error(wide, 2 * 6), 0); /* the declaration cut short */
}

static void test_s3_200_error_is_retried(void)
{
    /* CopyObject's 200 carrying <Error>: an error, retried; then a real success. */
    static const canned script[] = {
        {200, "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>We "
              "encountered an internal error.</Message></Error>"},
        {200, "<CopyObjectResult><ETag>\"abc\"</ETag></CopyObjectResult>"},
    };
    static const sl_http_header h[] = {{"x-amz-copy-source", "src/k"}};
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0, rc, srv;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "PUT";
    req.bucket = "dst";
    req.path = "/k";
    req.headers = h;
    req.nheaders = 1;
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    rc = sl_aws_call(c, &req, &resp, &e);
    srv = wait_server(pid);
    CHECK_INT(srv, 0);
    CHECK_INT(rc, 0);
    CHECK_INT(e.attempts, 2);
    CHECK(strstr(resp.body.data, "CopyObjectResult") != NULL);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
}

/* One xfer through a multi handle of its own, to its end: 0, or -1 with e (sl_aws_xfer_finish). */
static int run_xfer(sl_aws_xfer *x, sl_aws_error *e)
{
    CURLM *m = curl_multi_init();
    CURLMsg *msg;
    CURLcode cc = CURLE_FAILED_INIT;
    int still = 1, left;

    curl_multi_add_handle(m, sl_aws_xfer_handle(x));
    while (still) {
        curl_multi_perform(m, &still);
        if (still)
            curl_multi_poll(m, NULL, 0, 1000, NULL);
    }
    while ((msg = curl_multi_info_read(m, &left)))
        if (msg->msg == CURLMSG_DONE)
            cc = msg->data.result;
    curl_multi_remove_handle(m, sl_aws_xfer_handle(x));
    curl_multi_cleanup(m);
    return sl_aws_xfer_finish(x, cc, e);
}

/* A freed xfer's easy handle is reset and kept by the client for the next xfer, which then
   carries nothing of the one before (its method, body, headers), and the client keeps at most
   AWS_IDLE_EASY of them. */
static void test_xfer_handles_reused(void)
{
    static const canned script[] = {{200, NULL}, {200, NULL}};
    static const sl_http_header h[] = {{"x-amz-copy-source", "src/k"}};
    sl_aws_xfer *x = NULL, *many[AWS_IDLE_EASY + 4];
    sl_aws_request req;
    sl_aws_error e;
    CURL *first;
    int port = 0;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;
    const char *head;

    CHECK(pid > 0);
    CHECK((c = local_client(port)) != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "PUT";
    req.bucket = "dst";
    req.path = "/k1";
    req.headers = h;
    req.nheaders = 1;
    req.body = "abc";
    req.body_len = 3;
    req.anonymous = 1;
    CHECK_INT(sl_aws_xfer_new(c, &req, &x, &e), 0);
    first = sl_aws_xfer_handle(x);
    CHECK_INT(run_xfer(x, &e), 0);
    head = sl_aws_xfer_response(x)->body.data;
    CHECK(strncmp(head, "PUT /dst/k1 ", 12) == 0);
    CHECK(strstr(head, "x-amz-copy-source: src/k") != NULL);
    CHECK(strstr(head, "Content-Length: 3") != NULL);
    sl_aws_xfer_free(x);
    CHECK_INT((int)c->nidle, 1);

    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "GET";
    req.bucket = "dst";
    req.path = "/k2";
    req.anonymous = 1;
    CHECK_INT(sl_aws_xfer_new(c, &req, &x, &e), 0);
    CHECK(sl_aws_xfer_handle(x) == first);
    CHECK_INT((int)c->nidle, 0);
    CHECK_INT(run_xfer(x, &e), 0);
    head = sl_aws_xfer_response(x)->body.data;
    CHECK(strncmp(head, "GET /dst/k2 ", 12) == 0);
    CHECK(strstr(head, "x-amz-copy-source") == NULL);
    CHECK(strstr(head, "Content-Length") == NULL);
    sl_aws_xfer_free(x);
    CHECK_INT(wait_server(pid), 0);

    for (size_t i = 0; i < SL_ARRAY_LEN(many); i++)
        CHECK_INT(sl_aws_xfer_new(c, &req, &many[i], &e), 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(many); i++)
        sl_aws_xfer_free(many[i]);
    CHECK_INT((int)c->nidle, AWS_IDLE_EASY);
    sl_aws_free(c);
}

static void test_network_error_is_transient(void)
{
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0, srv;
    /* A server that answers nothing and exits: the port is then closed. */
    pid_t pid = start_server(NULL, 0, &port);
    sl_aws *c;

    CHECK(pid > 0);
    srv = wait_server(pid);
    CHECK_INT(srv, 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "rds";
    req.method = "POST";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    CHECK_STR(e.code, "NetworkError");
    CHECK_INT(e.transient, 1);
    CHECK_INT(e.attempts, 3);
    CHECK_INT(e.http_status, 0);
}

static void test_call_sleep_budget_returns_retry_after(void)
{
    static const canned script[] = {
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
    };
    sl_aws_opts o;
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    char url[64], err[SL_ERRLEN];
    int port = 0, st = 0;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    o.endpoint_url = url;
    o.max_attempts = 5;
    /* Backoffs drawn from [0, 20 s]: five attempts would sleep seconds; a 250 ms budget
     * allows the rare short draw and nothing more. */
    o.retry_base_ms = 60000;
    o.max_sleep_ms = 250;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 5000;
    c = sl_aws_new(&o, NULL, err, sizeof(err));
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "GET";
    req.bucket = "bkt";
    req.path = "/k";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    /* The server waits for connections that will not come. */
    kill(pid, SIGTERM);
    (void)waitpid(pid, &st, 0);
    CHECK_STR(e.code, "SlowDown");
    CHECK_INT(e.transient, 1);
    CHECK(e.attempts >= 1 && e.attempts < 5);
    CHECK(e.retry_after_ms > 0);
    CHECK(e.retry_after_ms <= 20000);
}

static void test_call_without_budget_has_no_retry_after(void)
{
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0;
    pid_t pid = start_server(NULL, 0, &port); /* exits at once: the port is then closed */
    sl_aws *c;

    CHECK(pid > 0);
    CHECK_INT(wait_server(pid), 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "rds";
    req.method = "POST";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    CHECK_INT(e.attempts, 3); /* every attempt made */
    CHECK(e.retry_after_ms == 0);
}

/* --- the credentials interface: the transport signs with whatever fills it -------------- */

typedef struct fake_creds {
    int gets, invalidates;
    const char *fail; /* non-NULL: get fails with this text */
} fake_creds;

static int fake_get(void *ud, sl_creds *out, char *err, size_t errlen)
{
    fake_creds *f = ud;

    f->gets++;
    if (f->fail)
        return sl_seterr(err, errlen, "%s", f->fail);
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key, sizeof(out->access_key), "AKIDFAKE");
    snprintf(out->secret_key, sizeof(out->secret_key), "secret-%d", f->gets);
    out->session_token = strdup("token-fake");
    return out->session_token ? 0 : -1;
}

static void fake_invalidate(void *ud)
{
    ((fake_creds *)ud)->invalidates++;
}

static void test_call_signs_through_interface(void)
{
    static const canned script[] = {
        {400, "<Error><Code>ExpiredToken</Code><Message>The token has expired.</Message></Error>"},
        {200, NULL},
    };
    fake_creds f = {0, 0, NULL};
    sl_aws_creds ci = {fake_get, fake_invalidate, &f};
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0, rc;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    c = local_client_with(port, &ci);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "GET";
    req.bucket = "bkt";
    req.path = "/k";
    sl_aws_response_init(&resp);
    rc = sl_aws_call(c, &req, &resp, &e);
    CHECK_INT(wait_server(pid), 0);
    CHECK_INT(rc, 0);
    /* ExpiredToken: invalidated once, fetched again and re-signed, outside the budget. */
    CHECK_INT(f.gets, 2);
    CHECK_INT(f.invalidates, 1);
    CHECK_INT(e.attempts, 2);
    CHECK(strstr(resp.body.data, "Authorization: AWS4-HMAC-SHA256 Credential=AKIDFAKE/") != NULL);
    CHECK(strstr(resp.body.data, "x-amz-security-token: token-fake\r\n") != NULL);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
}

/* A transfer signed with expired credentials: its ExpiredToken answer is transient and drops
   the credentials' cache once for all the transfers signed with them (two here); the next
   transfer signs with fresh ones. */
static void test_xfer_expired_token_refreshes(void)
{
    static const canned script[] = {
        {400, "<Error><Code>ExpiredToken</Code><Message>The token has expired.</Message></Error>"},
        {400, "<Error><Code>ExpiredToken</Code><Message>The token has expired.</Message></Error>"},
        {200, NULL},
    };
    fake_creds f = {0, 0, NULL};
    sl_aws_creds ci = {fake_get, fake_invalidate, &f};
    sl_aws_xfer *a = NULL, *b = NULL, *x = NULL;
    sl_aws_request req;
    sl_aws_error e;
    int port = 0, ra = 0, rb = 0, rx = -1, ta = 0, tb = 0, inv_after_both = -1, srv;
    char code_a[sizeof(e.code)] = "";
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c = NULL;

    CHECK(pid > 0);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "GET";
    req.bucket = "bkt";
    req.path = "/k";
    /* No CHECK before the server is reaped: a return would leave it waiting for requests. */
    if ((c = local_client_with(port, &ci)) && sl_aws_xfer_new(c, &req, &a, &e) == 0 &&
        sl_aws_xfer_new(c, &req, &b, &e) == 0) {
        ra = run_xfer(a, &e);
        ta = e.transient;
        snprintf(code_a, sizeof(code_a), "%s", e.code);
        rb = run_xfer(b, &e);
        tb = e.transient;
        inv_after_both = f.invalidates;
        if (sl_aws_xfer_new(c, &req, &x, &e) == 0)
            rx = run_xfer(x, &e);
    }
    srv = wait_server(pid);
    CHECK_INT(srv, 0);
    CHECK(c != NULL && a != NULL && b != NULL && x != NULL);
    CHECK_INT(ra, -1);
    CHECK_STR(code_a, "ExpiredToken");
    CHECK_INT(ta, 1);
    CHECK_INT(rb, -1);
    CHECK_INT(tb, 1);
    CHECK_INT(inv_after_both, 1); /* once for both */
    CHECK_INT(rx, 0);
    CHECK_INT(f.invalidates, 1);
    CHECK(strstr(sl_aws_xfer_response(x)->body.data, "x-amz-security-token: token-fake") != NULL);
    sl_aws_xfer_free(a);
    sl_aws_xfer_free(b);
    sl_aws_xfer_free(x);
    sl_aws_free(c);
}

static void test_call_credentials_failure(void)
{
    fake_creds f = {0, 0, "no keys here"};
    sl_aws_creds ci = {fake_get, NULL, &f};
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    /* Port 9 (discard) is never reached: the credentials fail before the request is sent. */
    sl_aws *c = local_client_with(9, &ci);

    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "sts";
    req.method = "POST";
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    CHECK_STR(e.code, "CredentialsError");
    CHECK(strstr(e.message, "no keys here") != NULL);
    CHECK_INT(e.transient, 0);
    CHECK_INT(f.gets, 1);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
}

static void test_anonymous_client_refuses_signed_request(void)
{
    sl_aws *c = local_client(9);
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;

    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "sts";
    req.method = "POST";
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    CHECK_STR(e.code, "CredentialsError");
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
}

/* --- the plain path the metadata endpoints use ------------------------------------------- */

static void test_plain_call(void)
{
    static const canned script[] = {{200, NULL}, {200, NULL}};
    const sl_http_header hdr = {"X-aws-ec2-metadata-token-ttl-seconds", "21600"};
    sl_aws_plain_request req;
    sl_aws_response resp;
    char url[96], err[SL_ERRLEN];
    int port = 0;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);

    CHECK(pid > 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/latest/api/token", port);
    memset(&req, 0, sizeof(req));
    req.method = "PUT";
    req.url = url;
    req.headers = &hdr;
    req.nheaders = 1;
    req.connect_timeout_ms = 2000;
    req.timeout_ms = 5000;
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_plain_call(&req, &resp, err, sizeof(err)), 0);
    CHECK_INT(resp.status, 200);
    CHECK(strstr(resp.body.data, "PUT /latest/api/token HTTP/1.1\r\n") == resp.body.data);
    CHECK(strstr(resp.body.data, "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n") != NULL);
    CHECK(strstr(resp.body.data, "User-Agent: snaplake\r\n") != NULL);
    CHECK(strstr(resp.body.data, "Authorization") == NULL);
    /* The body cap is the caller's: over it, the call fails and says so. */
    resp.body.limit = 16;
    req.method = "GET";
    CHECK_INT(sl_aws_plain_call(&req, &resp, err, sizeof(err)), -1);
    CHECK(strstr(err, "response body over 16 bytes") != NULL);
    CHECK_INT(wait_server(pid), 0);
    /* A header that could inject others is refused before anything is sent. */
    {
        const sl_http_header bad = {"Authorization", "x\r\nEvil: 1"};
        req.headers = &bad;
        CHECK_INT(sl_aws_plain_call(&req, &resp, err, sizeof(err)), -1);
        CHECK(strstr(err, "malformed") != NULL);
    }
    sl_aws_response_cleanup(&resp);
}

static const sl_test tests[] = {
    SL_TEST(test_is_transient),
    SL_TEST(test_parse_error),
    SL_TEST(test_parse_error_scrubs_secrets),
    SL_TEST(test_scrub),
    SL_TEST(test_endpoint_resolve),
    SL_TEST(test_endpoint_errors),
    SL_TEST(test_bucket_virtual_ok),
    SL_TEST(test_opts_copy_cleanup),
    SL_TEST(test_backoff_bounds),
    SL_TEST(test_response_header),
    SL_TEST(test_call_retries_then_succeeds),
    SL_TEST(test_call_permanent_error_no_retry),
    SL_TEST(test_s3_body_is_error),
    SL_TEST(test_client_endpoint_bases),
    SL_TEST(test_s3_200_error_is_retried),
    SL_TEST(test_xfer_handles_reused),
    SL_TEST(test_network_error_is_transient),
    SL_TEST(test_call_sleep_budget_returns_retry_after),
    SL_TEST(test_call_without_budget_has_no_retry_after),
    SL_TEST(test_call_signs_through_interface),
    SL_TEST(test_xfer_expired_token_refreshes),
    SL_TEST(test_call_credentials_failure),
    SL_TEST(test_anonymous_client_refuses_signed_request),
    SL_TEST(test_plain_call),
};
SL_TEST_MAIN(tests)
