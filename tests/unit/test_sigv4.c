/*
 * test_sigv4.c - unit tests of common/sigv4.c and sigv4_canon.c: UriEncode, canonical URI (S3 and
 * non-S3), canonical query and headers, payload hash, session token in both forms, error cases, and
 * fixed vectors (the AWS S3 documentation examples, and an S3 key with spaces, '+', '%', '=',
 * '~' and UTF-8 whose expected signature was computed with botocore's S3SigV4Auth).
 */
#include <stdlib.h>
#include <string.h>

#include "sigv4.h"
#include "sl_test.h"

#define AKID "AKIDEXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define T20150830 ((time_t)1440938160) /* 20150830T123600Z */

/* Signs a request with the suite's key; returns 0/-1 like sl_sigv4_sign. */
static int sign(const char *method, const char *path, const char *query, const sl_http_header *h,
                size_t nh, const char *body, const char *payload_hash, const char *token,
                const char *service, int s3, int presign, sl_sigv4_result *out, char *err)
{
    sl_sigv4_request r = {method, path, query, h, nh, body, body ? strlen(body) : 0, payload_hash};
    sl_sigv4_keys k = {AKID, SECRET, token};
    sl_sigv4_params p = {"us-east-1", service, T20150830, s3, presign, 3600, 0, NULL};
    return sl_sigv4_sign(&r, &k, &p, out, err, SL_ERRLEN);
}

static const sl_http_header host_only[] = {{"Host", "example.amazonaws.com"}};

/* Copies line `n` (0-based) of a canonical request into buf. */
static const char *line_of(const char *text, int n, char *buf, size_t len)
{
    const char *p = text;
    size_t l;
    while (n-- > 0 && p) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    if (!p)
        return "(no such line)";
    l = strcspn(p, "\n");
    if (l >= len)
        l = len - 1;
    memcpy(buf, p, l);
    buf[l] = '\0';
    return buf;
}

static const char *last_line(const char *text)
{
    const char *p = strrchr(text, '\n');
    return p ? p + 1 : text;
}

/* ---------------------------------------------------------------------------------------- */

static void test_uri_encode_table(void)
{
    static const struct {
        const char *in;
        size_t len; /* 0 = strlen */
        int keep_slash;
        const char *want;
    } cases[] = {
        {"", 0, 0, ""},
        {" ", 0, 0, "%20"},
        {"+", 0, 0, "%2B"},
        {"%", 0, 0, "%25"},
        {"=", 0, 0, "%3D"},
        {"~", 0, 0, "~"},
        {"-._~AZaz09", 0, 0, "-._~AZaz09"},
        {"/", 0, 0, "%2F"},
        {"/", 0, 1, "/"},
        {"a b/c+d", 0, 1, "a%20b/c%2Bd"},
        {"\xc3\xa9", 0, 0, "%C3%A9"},               /* é */
        {"\xe6\x97\xa5", 0, 1, "%E6%97%A5"},        /* 日 */
        {"\xf0\x9f\x98\x80", 0, 1, "%F0%9F%98%80"}, /* emoji, 4 bytes */
        {"a\0b", 3, 0, "a%00b"},
        {"!*'();:@&$,?#[]", 0, 0, "%21%2A%27%28%29%3B%3A%40%26%24%2C%3F%23%5B%5D"},
        {"date=2024-01-01/part 0.parquet", 0, 1, "date%3D2024-01-01/part%200.parquet"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].in);
        char *got = sl_sigv4_uri_encode(cases[i].in, len, cases[i].keep_slash);
        int ok = got && strcmp(got, cases[i].want) == 0;
        if (!ok)
            fprintf(stderr, "case %zu: got \"%s\", want \"%s\"\n", i, got ? got : "(null)",
                    cases[i].want);
        free(got);
        CHECK(ok);
    }
}

static void test_sha256_hex(void)
{
    char out[65];
    sl_sigv4_sha256_hex("", 0, out);
    CHECK_STR(out, SL_SIGV4_EMPTY_SHA256);
    sl_sigv4_sha256_hex(NULL, 0, out);
    CHECK_STR(out, SL_SIGV4_EMPTY_SHA256);
    sl_sigv4_sha256_hex("abc", 3, out);
    CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* Non-S3: remove_dot_segments, "//" folded, then everything encoded again. */
static void test_canonical_uri_non_s3(void)
{
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"/", "/"},
        {"/a//b", "/a/b"},
        {"//", "/"},
        {"/a/./b/../c", "/a/c"},
        {"/a/b/", "/a/b/"},
        {"/..", "/"},
        {"/../../x/..", "/"},
        {"/a/..", "/"},
        {"/./", "/"},
        {"/example/$delete", "/example/%24delete"},
        {"/a%20b", "/a%2520b"},          /* encoded once on the wire -> twice here */
        {"/a b", "/a%20b"},              /* raw, as the test suites write it */
        {"/\xe1\x88\xb4", "/%E1%88%B4"}, /* raw UTF-8 */
        {"/k%2Bv%3D", "/k%252Bv%253D"},
        {"/a/b~c_d.e-f", "/a/b~c_d.e-f"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_sigv4_result r;
        char err[SL_ERRLEN], line[512];
        CHECK_INT(sign("GET", cases[i].path, NULL, host_only, 1, NULL, NULL, NULL, "service", 0, 0,
                       &r, err),
                  0);
        line_of(r.canonical_request, 1, line, sizeof(line));
        sl_sigv4_result_cleanup(&r);
        if (strcmp(line, cases[i].want) != 0)
            fprintf(stderr, "case %zu (%s)\n", i, cases[i].path);
        CHECK_STR(line, cases[i].want);
    }
}

/* S3: the path exactly as sent, encoded once, never normalised. */
static void test_canonical_uri_s3(void)
{
    static const char *paths[] = {
        "/bucket/a%20b/../c//d/./e",
        "/k%2Bv%3D%25~",
        "/db/t/date%3D2024-01-01/part-0.parquet",
        "/",
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(paths); i++) {
        sl_sigv4_result r;
        char err[SL_ERRLEN], line[512];
        CHECK_INT(sign("GET", paths[i], NULL, host_only, 1, NULL, NULL, NULL, "s3", 1, 0, &r, err),
                  0);
        line_of(r.canonical_request, 1, line, sizeof(line));
        sl_sigv4_result_cleanup(&r);
        CHECK_STR(line, paths[i]);
    }
}

static void test_no_normalize_flag(void)
{
    sl_sigv4_request req = {"GET", "/a//b/../c/./d", NULL, host_only, 1, NULL, 0, NULL};
    sl_sigv4_keys k = {AKID, SECRET, NULL};
    sl_sigv4_params p = {"us-east-1", "service", T20150830, 0, 0, 0, 0, NULL};
    sl_sigv4_result r;
    char err[SL_ERRLEN], line[256];

    CHECK_INT(sl_sigv4_sign_ex(&req, &k, &p, SL_SIGV4_NO_NORMALIZE, &r, err, sizeof(err)), 0);
    line_of(r.canonical_request, 1, line, sizeof(line));
    sl_sigv4_result_cleanup(&r);
    CHECK_STR(line, "/a//b/../c/./d");
}

/* Decode what came on the wire, encode per UriEncode, sort by key then value. */
static void test_canonical_query(void)
{
    static const struct {
        const char *query, *want;
    } cases[] = {
        {"", ""},
        {"b=2&a=1", "a=1&b=2"},
        {"a=b c", "a=b%20c"},
        {"a=b%20c", "a=b%20c"}, /* already encoded: not encoded twice */
        {"a=b+c", "a=b%2Bc"},   /* '+' is a plus, not a space */
        {"a=b%2Bc", "a=b%2Bc"},
        {"a=%2f", "a=%2F"},       /* escapes come out upper-case */
        {"x=%7E", "x=~"},         /* unreserved escapes are decoded */
        {"x=%zz%", "x=%25zz%25"}, /* a stray '%' is a literal percent */
        {"uploads", "uploads="},
        {"k=", "k="},
        {"a=2&a=1&A=3", "A=3&a=1&a=2"},
        {"&&a=1&", "a=1"},
        {"\xc3\xa9=\xc3\xbc", "%C3%A9=%C3%BC"},
        {"prefix=donn%C3%A9es%2F&list-type=2", "list-type=2&prefix=donn%C3%A9es%2F"},
        {"a=b=c", "a=b%3Dc"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_sigv4_result r;
        char err[SL_ERRLEN], line[512];
        CHECK_INT(sign("GET", "/", cases[i].query, host_only, 1, NULL, NULL, NULL, "service", 0, 0,
                       &r, err),
                  0);
        line_of(r.canonical_request, 2, line, sizeof(line));
        sl_sigv4_result_cleanup(&r);
        if (strcmp(line, cases[i].want) != 0)
            fprintf(stderr, "case %zu (%s)\n", i, cases[i].query);
        CHECK_STR(line, cases[i].want);
    }
}

static void test_canonical_headers(void)
{
    static const sl_http_header h[] = {
        {"Host", "example.amazonaws.com"},
        {"My-Header1", "  a   b \t c  "},
        {"my-header2", "value1\r\n  value2\n\tvalue3"}, /* obs-fold */
        {"X-Dup", "second"},
        {"x-dup", " first "},
        {"User-Agent", "curl/8"},           /* never signed */
        {"Expect", "100-continue"},         /* never signed */
        {"Authorization", "stale"},         /* never signed */
        {"X-Amz-Date", "19990101T000000Z"}, /* replaced by ours in header form */
    };
    sl_sigv4_result r;
    char err[SL_ERRLEN];

    CHECK_INT(
        sign("POST", "/", NULL, h, SL_ARRAY_LEN(h), NULL, NULL, NULL, "service", 0, 0, &r, err), 0);
    CHECK_STR(r.canonical_request,
              "POST\n/\n\n"
              "host:example.amazonaws.com\n"
              "my-header1:a b c\n"
              "my-header2:value1 value2 value3\n"
              "x-amz-date:20150830T123600Z\n"
              "x-dup:second,first\n"
              "\n"
              "host;my-header1;my-header2;x-amz-date;x-dup\n" SL_SIGV4_EMPTY_SHA256);
    CHECK_INT(r.nadd_headers, 1);
    CHECK_STR(r.add_headers[0].name, "x-amz-date");
    CHECK_STR(r.add_headers[0].value, "20150830T123600Z");
    CHECK_STR(r.amz_date, "20150830T123600Z");
    CHECK(r.presigned_query == NULL);
    sl_sigv4_result_cleanup(&r);
}

/* The get-vanilla vector of the AWS suite, end to end. */
static void test_vanilla_vector(void)
{
    static const sl_http_header h[] = {{"Host", "example.amazonaws.com"},
                                       {"X-Amz-Date", "20150830T123600Z"}};
    sl_sigv4_result r;
    char err[SL_ERRLEN];

    CHECK_INT(sign("GET", "/", NULL, h, 2, NULL, NULL, NULL, "service", 0, 0, &r, err), 0);
    CHECK_STR(r.string_to_sign, "AWS4-HMAC-SHA256\n20150830T123600Z\n"
                                "20150830/us-east-1/service/aws4_request\n"
                                "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
    CHECK_STR(r.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    CHECK_STR(r.authorization,
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=host;x-amz-date, "
              "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    sl_sigv4_result_cleanup(&r);
}

static void test_payload_hash(void)
{
    static const struct {
        const char *service;
        int s3, presign;
        const char *body, *given, *want;
    } cases[] = {
        {"service", 0, 0, NULL, NULL, SL_SIGV4_EMPTY_SHA256},
        {"service", 0, 0, "abc", NULL,
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"s3", 1, 0, "abc", "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"},
        {"s3", 1, 0, "abc", NULL,
         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"s3", 1, 1, "abc", NULL, "UNSIGNED-PAYLOAD"}, /* presigned S3: payload unknown */
        {"service", 0, 1, NULL, NULL, SL_SIGV4_EMPTY_SHA256},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_sigv4_result r;
        char err[SL_ERRLEN];
        CHECK_INT(sign("PUT", "/k", NULL, host_only, 1, cases[i].body, cases[i].given, NULL,
                       cases[i].service, cases[i].s3, cases[i].presign, &r, err),
                  0);
        if (strcmp(last_line(r.canonical_request), cases[i].want) != 0) {
            fprintf(stderr, "case %zu\n", i);
            sl_sigv4_result_cleanup(&r);
            CHECK(0);
        }
        /* S3 header form sends the same hash as x-amz-content-sha256, and signs it. */
        if (cases[i].s3 && !cases[i].presign) {
            int ok = r.nadd_headers == 2 &&
                     strcmp(r.add_headers[1].name, "x-amz-content-sha256") == 0 &&
                     strcmp(r.add_headers[1].value, cases[i].want) == 0 &&
                     strstr(r.canonical_request, "\nx-amz-content-sha256:") != NULL;
            sl_sigv4_result_cleanup(&r);
            CHECK(ok);
        } else {
            int ok = strstr(r.canonical_request, "x-amz-content-sha256") == NULL;
            sl_sigv4_result_cleanup(&r);
            CHECK(ok);
        }
    }
}

/* A caller's x-amz-content-sha256 header is the payload hash (botocore's canonical_request
   uses that header's value when present), for S3 and other services, in both forms. */
static void test_caller_content_sha256(void)
{
    static const struct {
        const char *service;
        int s3, presign;
        const char *value, *want; /* want NULL: an error */
    } cases[] = {
        {"s3", 1, 0, "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"},
        {"s3", 1, 0, " UNSIGNED-PAYLOAD ", "UNSIGNED-PAYLOAD"},
        {"s3", 1, 0, "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"},
        {"s3", 1, 0, "STREAMING-UNSIGNED-PAYLOAD-TRAILER", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"},
        {"s3", 1, 0, SL_SIGV4_EMPTY_SHA256, SL_SIGV4_EMPTY_SHA256},
        {"s3", 1, 1, "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"},
        {"service", 0, 0, "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"},
        {"service", 0, 1, "UNSIGNED-PAYLOAD", "UNSIGNED-PAYLOAD"},
        {"s3", 1, 0, "unsigned-payload", NULL},
        {"s3", 1, 0, "STREAMING-", NULL},
        {"s3", 1, 0, "STREAMING-bad value", NULL},
        {"s3", 1, 0, "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", NULL},
        {"s3", 1, 0, "abc", NULL},
        {"s3", 1, 0, "", NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        const sl_http_header h[] = {{"Host", "example.amazonaws.com"},
                                    {"X-Amz-Content-Sha256", cases[i].value}};
        sl_sigv4_result r;
        char err[SL_ERRLEN];
        int rc = sign("PUT", "/k", NULL, h, 2, "body", NULL, NULL, cases[i].service, cases[i].s3,
                      cases[i].presign, &r, err);
        fprintf(stderr, "caller sha256 case %zu\n", i);
        if (!cases[i].want) {
            CHECK_INT(rc, -1);
            CHECK(strstr(err, "x-amz-content-sha256") != NULL);
            continue;
        }
        CHECK_INT(rc, 0);
        {
            int ok = strcmp(last_line(r.canonical_request), cases[i].want) == 0;
            /* S3 header form sends (and signs) its own copy, the same value. */
            if (cases[i].s3 && !cases[i].presign)
                ok =
                    ok && r.nadd_headers == 2 && strcmp(r.add_headers[1].value, cases[i].want) == 0;
            sl_sigv4_result_cleanup(&r);
            CHECK(ok);
        }
    }
    /* Two copies that disagree cannot both be sent and signed. */
    {
        const sl_http_header h[] = {{"Host", "example.amazonaws.com"},
                                    {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"},
                                    {"x-amz-content-sha256", SL_SIGV4_EMPTY_SHA256}};
        sl_sigv4_result r;
        char err[SL_ERRLEN];
        CHECK_INT(sign("PUT", "/k", NULL, h, 3, NULL, NULL, NULL, "s3", 1, 0, &r, err), -1);
    }
    /* An explicit payload_hash still wins over the header. */
    {
        const sl_http_header h[] = {{"Host", "example.amazonaws.com"},
                                    {"x-amz-content-sha256", "UNSIGNED-PAYLOAD"}};
        sl_sigv4_result r;
        char err[SL_ERRLEN];
        CHECK_INT(
            sign("PUT", "/k", NULL, h, 2, NULL, SL_SIGV4_EMPTY_SHA256, NULL, "s3", 1, 0, &r, err),
            0);
        {
            int ok = strcmp(last_line(r.canonical_request), SL_SIGV4_EMPTY_SHA256) == 0;
            sl_sigv4_result_cleanup(&r);
            CHECK(ok);
        }
    }
}

static void test_session_token_header_form(void)
{
    static const sl_http_header h[] = {{"Host", "example.amazonaws.com"},
                                       {"X-Amz-Security-Token", "stale-token"}};
    sl_sigv4_result r;
    char err[SL_ERRLEN];

    CHECK_INT(sign("GET", "/", NULL, h, 2, NULL, NULL, "TOK/+=", "service", 0, 0, &r, err), 0);
    CHECK(strstr(r.canonical_request, "\nx-amz-security-token:TOK/+=\n") != NULL);
    CHECK(strstr(r.canonical_request, "stale-token") == NULL);
    CHECK(strstr(r.canonical_request, "\nhost;x-amz-date;x-amz-security-token\n") != NULL);
    CHECK(strstr(r.authorization, "SignedHeaders=host;x-amz-date;x-amz-security-token,") != NULL);
    CHECK_INT(r.nadd_headers, 2);
    CHECK_STR(r.add_headers[1].name, "x-amz-security-token");
    CHECK_STR(r.add_headers[1].value, "TOK/+=");
    sl_sigv4_result_cleanup(&r);

    /* An empty token is no token. */
    CHECK_INT(sign("GET", "/", NULL, host_only, 1, NULL, NULL, "", "service", 0, 0, &r, err), 0);
    CHECK(strstr(r.canonical_request, "security-token") == NULL);
    CHECK_INT(r.nadd_headers, 1);
    sl_sigv4_result_cleanup(&r);
}

static void test_session_token_query_form(void)
{
    sl_sigv4_request req = {"GET", "/", "Action=connect", host_only, 1, NULL, 0, NULL};
    sl_sigv4_keys k = {AKID, SECRET, "TOK/+="};
    sl_sigv4_params p = {"us-east-1", "service", T20150830, 0, 1, 900, 0, NULL};
    sl_sigv4_result r;
    char err[SL_ERRLEN], line[1024];

    CHECK_INT(sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err)), 0);
    CHECK_STR(line_of(r.canonical_request, 2, line, sizeof(line)),
              "Action=connect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F"
              "20150830%2Fus-east-1%2Fservice%2Faws4_request&X-Amz-Date=20150830T123600Z&X-Amz-"
              "Expires=900&X-Amz-Security-Token=TOK%2F%2B%3D&X-Amz-SignedHeaders=host");
    CHECK(r.authorization == NULL);
    CHECK_INT(r.nadd_headers, 0);
    CHECK(strncmp(r.presigned_query, "Action=connect&X-Amz-Algorithm=", 31) == 0);
    CHECK(strstr(r.presigned_query, "&X-Amz-Security-Token=TOK%2F%2B%3D&") != NULL);
    CHECK(strstr(r.presigned_query, "&X-Amz-Signature=") != NULL);
    CHECK_STR(strstr(r.presigned_query, "&X-Amz-Signature=") + 17, r.signature);
    sl_sigv4_result_cleanup(&r);

    /* omit_token_from_signature: sent in the URL, not signed. */
    p.omit_token_from_signature = 1;
    CHECK_INT(sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err)), 0);
    CHECK(strstr(r.canonical_request, "Security-Token") == NULL);
    CHECK(strstr(r.presigned_query, "X-Amz-Security-Token=TOK%2F%2B%3D") != NULL);
    sl_sigv4_result_cleanup(&r);
}

/* AWS S3 documentation examples ("Example: GET Object", "Example: presigned URL"). */
static void test_s3_doc_examples(void)
{
    static const sl_http_header h[] = {{"Host", "examplebucket.s3.amazonaws.com"},
                                       {"Range", "bytes=0-9"}};
    sl_sigv4_request req = {"GET", "/test.txt", NULL, h, 2, NULL, 0, NULL};
    sl_sigv4_keys k = {"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", NULL};
    sl_sigv4_params p = {"us-east-1", "s3", (time_t)1369353600, 1, 0, 0, 0, NULL};
    sl_sigv4_result r;
    char err[SL_ERRLEN];

    CHECK_INT(sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err)), 0);
    CHECK_STR(r.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
    sl_sigv4_result_cleanup(&r);

    req.nheaders = 1;
    p.presign = 1;
    p.expires = 86400;
    CHECK_INT(sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err)), 0);
    CHECK_STR(r.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    CHECK_STR(r.presigned_query,
              "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%"
              "2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-"
              "Amz-SignedHeaders=host&X-Amz-Signature="
              "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
    sl_sigv4_result_cleanup(&r);
}

/*
 * Our own S3 case: a key with a space, '+', '%', '=', '~' and UTF-8, PUT with a body and a
 * session token. Expected values from botocore 1.44 S3SigV4Auth at 2024-01-01T00:00:00Z.
 */
static void test_s3_own_key(void)
{
    const char *key = "/dir/my key+%=~\xc3\xa9 \xe6\x97\xa5.txt";
    char *path = sl_sigv4_uri_encode(key, strlen(key), 1);
    static const sl_http_header h[] = {{"host", "bkt.s3.us-east-1.amazonaws.com"}};
    sl_sigv4_keys k = {AKID, SECRET, "TOKEN/+="};
    sl_sigv4_params p = {"us-east-1", "s3", (time_t)1704067200, 1, 0, 0, 0, NULL};
    sl_sigv4_result r;
    char err[SL_ERRLEN];
    int rc;

    CHECK(path != NULL);
    {
        sl_sigv4_request req = {"PUT", path, NULL, h, 1, "hello", 5, NULL};
        rc = sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err));
    }
    free(path);
    CHECK_INT(rc, 0);
    CHECK_STR(r.canonical_request,
              "PUT\n/dir/my%20key%2B%25%3D~%C3%A9%20%E6%97%A5.txt\n\n"
              "host:bkt.s3.us-east-1.amazonaws.com\n"
              "x-amz-content-sha256:"
              "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\n"
              "x-amz-date:20240101T000000Z\n"
              "x-amz-security-token:TOKEN/+=\n\n"
              "host;x-amz-content-sha256;x-amz-date;x-amz-security-token\n"
              "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    CHECK_STR(r.signature, "40345a6f3061d14be0af41524af9f19a88e604373455afd1173478ff04af3cd3");
    CHECK_INT(r.nadd_headers, 3);
    CHECK_STR(r.add_headers[0].name, "x-amz-date");
    CHECK_STR(r.add_headers[1].name, "x-amz-security-token");
    CHECK_STR(r.add_headers[2].name, "x-amz-content-sha256");
    sl_sigv4_result_cleanup(&r);
}

/* The same encoded key, signed for a non-S3 service, is encoded a second time. */
static void test_s3_vs_non_s3_same_path(void)
{
    const char *path = "/my%20key%2Bv%3D~";
    sl_sigv4_result r;
    char err[SL_ERRLEN], line[256];

    CHECK_INT(sign("GET", path, NULL, host_only, 1, NULL, NULL, NULL, "s3", 1, 0, &r, err), 0);
    CHECK_STR(line_of(r.canonical_request, 1, line, sizeof(line)), path);
    sl_sigv4_result_cleanup(&r);
    CHECK_INT(sign("GET", path, NULL, host_only, 1, NULL, NULL, NULL, "glue", 0, 0, &r, err), 0);
    CHECK_STR(line_of(r.canonical_request, 1, line, sizeof(line)), "/my%2520key%252Bv%253D~");
    sl_sigv4_result_cleanup(&r);
}

static void test_errors(void)
{
    static const sl_http_header no_host[] = {{"X-Amz-Target", "AWSGlue.GetTable"}};
    static const sl_http_header bad_name[] = {{"Host", "h"}, {"Bad Name", "v"}};
    static const struct {
        const char *what, *method, *path, *query;
        const sl_http_header *h;
        size_t nh;
        int presign;
        long expires;
        const char *region, *akid, *secret;
        const char *errpart;
    } cases[] = {
        {"no host", "GET", "/", NULL, no_host, 1, 0, 0, "us-east-1", AKID, SECRET, "host"},
        {"no headers", "GET", "/", NULL, NULL, 0, 0, 0, "us-east-1", AKID, SECRET, "host"},
        {"empty path", "GET", "", NULL, host_only, 1, 0, 0, "us-east-1", AKID, SECRET, "path"},
        {"NULL path", "GET", NULL, NULL, host_only, 1, 0, 0, "us-east-1", AKID, SECRET, "path"},
        {"relative path", "GET", "a/b", NULL, host_only, 1, 0, 0, "us-east-1", AKID, SECRET,
         "path"},
        {"path with query", "GET", "/a?b=1", NULL, host_only, 1, 0, 0, "us-east-1", AKID, SECRET,
         "path"},
        {"path with CRLF", "GET", "/a\r\nX: y", NULL, host_only, 1, 0, 0, "us-east-1", AKID, SECRET,
         "path"},
        {"query with LF", "GET", "/", "a=1\nb", host_only, 1, 0, 0, "us-east-1", AKID, SECRET,
         "query"},
        {"lower-case method", "get", "/", NULL, host_only, 1, 0, 0, "us-east-1", AKID, SECRET,
         "method"},
        {"empty method", "", "/", NULL, host_only, 1, 0, 0, "us-east-1", AKID, SECRET, "method"},
        {"bad header name", "GET", "/", NULL, bad_name, 2, 0, 0, "us-east-1", AKID, SECRET,
         "header"},
        {"expires 0", "GET", "/", NULL, host_only, 1, 1, 0, "us-east-1", AKID, SECRET, "expires"},
        {"expires > 7 days", "GET", "/", NULL, host_only, 1, 1, 604801, "us-east-1", AKID, SECRET,
         "expires"},
        {"region with slash", "GET", "/", NULL, host_only, 1, 0, 0, "us/east", AKID, SECRET,
         "region"},
        {"no access key", "GET", "/", NULL, host_only, 1, 0, 0, "us-east-1", "", SECRET, "key"},
        {"no secret", "GET", "/", NULL, host_only, 1, 0, 0, "us-east-1", AKID, NULL, "key"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_sigv4_request req = {
            cases[i].method, cases[i].path, cases[i].query, cases[i].h, cases[i].nh, NULL, 0, NULL};
        sl_sigv4_keys k = {cases[i].akid, cases[i].secret, NULL};
        sl_sigv4_params p = {cases[i].region,  "service",        T20150830, 0,
                             cases[i].presign, cases[i].expires, 0,         NULL};
        sl_sigv4_result r;
        char err[SL_ERRLEN] = "";
        int rc;

        /* *out must be untouched on error. */
        memset(&r, 0x5a, sizeof(r));
        rc = sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err));
        if (rc != -1 || !strstr(err, cases[i].errpart))
            fprintf(stderr, "case %zu (%s): rc %d, err \"%s\"\n", i, cases[i].what, rc, err);
        CHECK_INT(rc, -1);
        CHECK(strstr(err, cases[i].errpart) != NULL);
        CHECK_INT(((unsigned char *)&r)[0], 0x5a);
        CHECK_INT(((unsigned char *)&r)[sizeof(r) - 1], 0x5a);
    }
}

static void test_body_len_without_body(void)
{
    sl_sigv4_request req = {"PUT", "/", NULL, host_only, 1, NULL, 5, NULL};
    sl_sigv4_keys k = {AKID, SECRET, NULL};
    sl_sigv4_params p = {"us-east-1", "service", T20150830, 0, 0, 0, 0, NULL};
    sl_sigv4_result r;
    char err[SL_ERRLEN];

    CHECK_INT(sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err)), -1);
    CHECK(strstr(err, "body") != NULL);
    CHECK_INT(sl_sigv4_sign(NULL, &k, &p, &r, err, sizeof(err)), -1);
    CHECK_INT(sl_sigv4_sign(&req, &k, &p, NULL, err, sizeof(err)), -1);
}

/* Limits on outside-sized input: header count and query parameter count. */
static void test_caps(void)
{
    sl_http_header *h = calloc(300, sizeof(*h));
    char *q = malloc(1100 * 4 + 1), *p;
    sl_sigv4_result r;
    char err[SL_ERRLEN];
    int rc_h, rc_q, rc_ok;

    CHECK(h && q);
    h[0].name = "Host";
    h[0].value = "h";
    for (size_t i = 1; i < 300; i++) {
        h[i].name = "x-a";
        h[i].value = "v";
    }
    p = q;
    for (int i = 0; i < 1100; i++)
        p += sprintf(p, "%sa=1", i ? "&" : "");
    rc_h = sign("GET", "/", NULL, h, 300, NULL, NULL, NULL, "service", 0, 0, &r, err);
    rc_q = sign("GET", "/", q, h, 1, NULL, NULL, NULL, "service", 0, 0, &r, err);
    /* 256 headers and 1000 parameters are fine. */
    q[1000 * 4 - 1] = '\0';
    rc_ok = sign("GET", "/", q, h, 256, NULL, NULL, NULL, "service", 0, 0, &r, err);
    if (rc_ok == 0)
        sl_sigv4_result_cleanup(&r);
    free(h);
    free(q);
    CHECK_INT(rc_h, -1);
    CHECK_INT(rc_q, -1);
    CHECK_INT(rc_ok, 0);
}

static void test_time_and_scope(void)
{
    sl_sigv4_request req = {"GET", "/", NULL, host_only, 1, NULL, 0, NULL};
    sl_sigv4_keys k = {AKID, SECRET, NULL};
    sl_sigv4_params p = {"eu-west-1", "glue", (time_t)0, 0, 0, 0, 0, NULL};
    sl_sigv4_result r;
    char err[SL_ERRLEN];

    CHECK_INT(sl_sigv4_sign(&req, &k, &p, &r, err, sizeof(err)), 0);
    CHECK_STR(r.amz_date, "19700101T000000Z");
    CHECK(strstr(r.string_to_sign, "\n19700101/eu-west-1/glue/aws4_request\n") != NULL);
    CHECK(strstr(r.authorization, "Credential=AKIDEXAMPLE/19700101/eu-west-1/glue/aws4_request,") !=
          NULL);
    sl_sigv4_result_cleanup(&r);
}

static void test_cleanup_is_safe(void)
{
    sl_sigv4_result r;
    char err[SL_ERRLEN];

    sl_sigv4_result_cleanup(NULL);
    memset(&r, 0, sizeof(r));
    sl_sigv4_result_cleanup(&r);
    CHECK_INT(sign("GET", "/", NULL, host_only, 1, NULL, NULL, "t", "service", 0, 0, &r, err), 0);
    sl_sigv4_result_cleanup(&r);
    CHECK(r.canonical_request == NULL && r.authorization == NULL && r.nadd_headers == 0);
    CHECK_INT(r.signature[0], 0);
    sl_sigv4_result_cleanup(&r); /* twice: still fine */
}

/* The key cache changes no signature: each (secret, day, region, service) signs as without a
   cache, a repeat is a hit, and any change of the four is a miss that derives the right key. */
static void test_keycache(void)
{
    static const struct {
        const char *secret, *region, *service;
        time_t when;
        int hit;
    } cases[] = {
        {SECRET, "us-east-1", "service", T20150830, 0},
        {SECRET, "us-east-1", "service", T20150830 + 3600, 1},  /* same UTC day */
        {SECRET, "us-east-1", "service", T20150830 + 86400, 0}, /* next day */
        {SECRET, "eu-west-1", "service", T20150830, 0},
        {SECRET, "us-east-1", "s3", T20150830, 0},
        {"another/secretKEY", "us-east-1", "service", T20150830, 0}, /* rotated credentials */
        {SECRET, "eu-west-1", "service", T20150830, 1}, /* still cached: 4 slots, oldest went */
        {SECRET, "us-east-1", "service", T20150830, 0}, /* the oldest, replaced by the 5th key */
        {SECRET, "a-region-name-longer-than-a-slot-holds", "service", T20150830, 0},
    };
    sl_sigv4_keycache kc;
    char err[SL_ERRLEN];

    memset(&kc, 0, sizeof(kc));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sl_sigv4_request r = {"GET", "/", NULL, host_only, 1, NULL, 0, NULL};
        sl_sigv4_keys k = {AKID, cases[i].secret, NULL};
        sl_sigv4_params p = {cases[i].region, cases[i].service, cases[i].when, 0, 0, 0, 0, NULL};
        sl_sigv4_result plain, cached;
        long long hits = kc.hits;

        CHECK_INT(sl_sigv4_sign(&r, &k, &p, &plain, err, sizeof(err)), 0);
        p.cache = &kc;
        CHECK_INT(sl_sigv4_sign(&r, &k, &p, &cached, err, sizeof(err)), 0);
        CHECK_STR(cached.signature, plain.signature);
        CHECK_INT(kc.hits - hits, cases[i].hit);
        sl_sigv4_result_cleanup(&plain);
        sl_sigv4_result_cleanup(&cached);
        /* Another message with the key just used: its slot's MAC starts afresh. */
        r.path = "/another";
        p.cache = NULL;
        CHECK_INT(sl_sigv4_sign(&r, &k, &p, &plain, err, sizeof(err)), 0);
        p.cache = &kc;
        CHECK_INT(sl_sigv4_sign(&r, &k, &p, &cached, err, sizeof(err)), 0);
        CHECK_STR(cached.signature, plain.signature);
        sl_sigv4_result_cleanup(&plain);
        sl_sigv4_result_cleanup(&cached);
    }
    /* A cached key signs the get-vanilla vector right, again and again. */
    for (int n = 0; n < 3; n++) {
        sl_sigv4_request r = {"GET", "/", NULL, host_only, 1, NULL, 0, NULL};
        sl_sigv4_keys k = {AKID, SECRET, NULL};
        sl_sigv4_params p = {"us-east-1", "service", T20150830, 0, 0, 0, 0, &kc};
        sl_sigv4_result res;
        CHECK_INT(sl_sigv4_sign(&r, &k, &p, &res, err, sizeof(err)), 0);
        CHECK_STR(res.signature,
                  "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
        sl_sigv4_result_cleanup(&res);
    }
    CHECK(kc.slot[0].mac != NULL || kc.slot[1].mac != NULL);
    sl_sigv4_keycache_cleanup(&kc);
    CHECK_INT(kc.slot[0].used, 0);
}

static const sl_test tests[] = {
    SL_TEST(test_uri_encode_table),
    SL_TEST(test_sha256_hex),
    SL_TEST(test_canonical_uri_non_s3),
    SL_TEST(test_canonical_uri_s3),
    SL_TEST(test_no_normalize_flag),
    SL_TEST(test_canonical_query),
    SL_TEST(test_canonical_headers),
    SL_TEST(test_vanilla_vector),
    SL_TEST(test_payload_hash),
    SL_TEST(test_caller_content_sha256),
    SL_TEST(test_session_token_header_form),
    SL_TEST(test_session_token_query_form),
    SL_TEST(test_s3_doc_examples),
    SL_TEST(test_s3_own_key),
    SL_TEST(test_s3_vs_non_s3_same_path),
    SL_TEST(test_errors),
    SL_TEST(test_body_len_without_body),
    SL_TEST(test_caps),
    SL_TEST(test_time_and_scope),
    SL_TEST(test_cleanup_is_safe),
    SL_TEST(test_keycache),
};

SL_TEST_MAIN(tests)
