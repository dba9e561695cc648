/*
 * test_creds.c - the credentials chain's pure parts (JSON, STS XML, ISO 8601, FULL_URI host
 * rules, refresh arithmetic, source selection) and the chain's behaviour that needs no network
 * (env source, caching, errors that name the configured source). Network providers are
 * covered by tests/integration/it_creds.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds.h"
#include "sl_test.h"

/* --- a fake environment ------------------------------------------------------------------ */

typedef struct fake_env {
    const char *kv[32]; /* name, value, ..., NULL */
} fake_env;

static sl_aws_opts test_aws_opts(void)
{
    sl_aws_opts o;
    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    /* Nothing listens here: a test that reached the network would fail, not hang. */
    o.endpoint_url = "http://127.0.0.1:9";
    o.max_attempts = 1;
    o.connect_timeout_ms = 200;
    o.request_timeout_ms = 500;
    return o;
}

static sl_creds_provider *chain(fake_env *e, long long margin_ms, char *err, size_t errlen)
{
    sl_creds_opts o;
    sl_aws_opts a = test_aws_opts();
    memset(&o, 0, sizeof(o));
    o.getenv_fn = sl_test_env_get;
    o.getenv_ud = e;
    o.refresh_margin_ms = margin_ms;
    return sl_creds_chain_new(&o, &a, err, errlen);
}

/* --- ISO 8601 ---------------------------------------------------------------------------- */

static void test_iso8601_table(void)
{
    static const struct {
        const char *in;
        int rc;
        long long ms;
    } t[] = {
        {"1970-01-01T00:00:00Z", 0, 0},
        {"2019-11-09T13:34:41Z", 0, 1573306481000LL},
        {"2019-11-09T13:34:41.123Z", 0, 1573306481123LL},
        {"2019-11-09T13:34:41.1Z", 0, 1573306481100LL},
        {"2019-11-09T13:34:41.123456789Z", 0, 1573306481123LL},
        {"2019-11-09T13:34:41+00:00", 0, 1573306481000LL},
        {"2019-11-09T15:34:41+02:00", 0, 1573306481000LL},
        {"2019-11-09T15:34:41+0200", 0, 1573306481000LL},
        {"2019-11-09T08:04:41-05:30", 0, 1573306481000LL},
        {"2019-11-09t13:34:41z", 0, 1573306481000LL},
        {"2024-02-29T00:00:00Z", 0, 1709164800000LL},
        {"2000-02-29T00:00:00Z", 0, 951782400000LL},
        {"9999-12-31T23:59:59Z", 0, 253402300799000LL},
        {"2023-02-29T00:00:00Z", -1, 0}, /* not a leap year */
        {"1900-02-29T00:00:00Z", -1, 0}, /* century, not leap */
        {"2019-13-01T00:00:00Z", -1, 0},
        {"2019-00-01T00:00:00Z", -1, 0},
        {"2019-04-31T00:00:00Z", -1, 0},
        {"2019-11-09T24:00:00Z", -1, 0},
        {"2019-11-09T13:60:00Z", -1, 0},
        {"2019-11-09T13:34:41", -1, 0}, /* no zone: ambiguous */
        {"2019-11-09 13:34:41Z", -1, 0},
        {"2019-11-09T13:34:41.Z", -1, 0},
        {"2019-11-09T13:34:41.1234567890Z", -1, 0},
        {"2019-11-09T13:34:41Zjunk", -1, 0},
        {"2019-11-09T13:34:41+24:00", -1, 0},
        {"2019-11-09T13:34:41+02", -1, 0},
        {"1969-12-31T23:59:59Z", -1, 0},
        {"1970-01-01T00:30:00+01:00", -1, 0}, /* before the epoch after the offset */
        {"20191109T133441Z", -1, 0},
        {"", -1, 0},
        {"2019-1-09T13:34:41Z", -1, 0},
        {"+019-11-09T13:34:41Z", -1, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        long long ms = -7;
        int rc = sl_creds_parse_iso8601(t[i].in, &ms);
        if (rc != t[i].rc || (rc == 0 && ms != t[i].ms))
            fprintf(stderr, "case %zu: \"%s\" -> rc %d ms %lld\n", i, t[i].in, rc, ms);
        CHECK_INT(rc, t[i].rc);
        if (rc == 0)
            CHECK_INT(ms, t[i].ms);
        else
            CHECK_INT(ms, -7); /* untouched on failure */
    }
    CHECK_INT(sl_creds_parse_iso8601(NULL, NULL), -1);
}

/* --- container / IMDS JSON --------------------------------------------------------------- */

static void test_parse_json_table(void)
{
    static const struct {
        const char *body;
        int rc;
        const char *ak, *tok;
        long long exp;
        const char *errpart;
    } t[] = {
        {"{\"AccessKeyId\":\"ASIA1\",\"SecretAccessKey\":\"s1\",\"Token\":\"t1\","
         "\"Expiration\":\"2019-11-09T13:34:41Z\"}",
         0, "ASIA1", "t1", 1573306481000LL, NULL},
        /* IMDS shape */
        {"{\"Code\":\"Success\",\"LastUpdated\":\"2019-11-09T07:34:41Z\",\"Type\":\"AWS-HMAC\","
         "\"AccessKeyId\":\"ASIA2\",\"SecretAccessKey\":\"s2\",\"Token\":\"t2\","
         "\"Expiration\":\"2019-11-09T13:34:41Z\"}",
         0, "ASIA2", "t2", 1573306481000LL, NULL},
        /* EKS Pod Identity adds AccountId; no Token/Expiration means long-term keys */
        {"{\"AccessKeyId\":\"AKIA3\",\"SecretAccessKey\":\"s3\",\"AccountId\":\"1\"}", 0, "AKIA3",
         NULL, 0, NULL},
        {"{\"Code\":\"Failure\",\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}", -1, NULL, NULL,
         0, "Code"},
        {"{\"Code\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}", -1, NULL, NULL, 0, "Code"},
        {"{\"SecretAccessKey\":\"s\"}", -1, NULL, NULL, 0, "AccessKeyId"},
        {"{\"AccessKeyId\":\"A\"}", -1, NULL, NULL, 0, "SecretAccessKey"},
        {"{\"AccessKeyId\":5,\"SecretAccessKey\":\"s\"}", -1, NULL, NULL, 0, "AccessKeyId"},
        {"{\"AccessKeyId\":\"\",\"SecretAccessKey\":\"s\"}", -1, NULL, NULL, 0, "AccessKeyId"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Token\":7}", -1, NULL, NULL, 0,
         "Token"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":\"tomorrow\"}", -1, NULL,
         NULL, 0, "Expiration"},
        {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\",\"Expiration\":1573306481}", -1, NULL,
         NULL, 0, "Expiration"},
        {"[\"AccessKeyId\"]", -1, NULL, NULL, 0, "object"},
        {"{\"AccessKeyId\":\"A\",", -1, NULL, NULL, 0, "object"},
        {"<html>proxy</html>", -1, NULL, NULL, 0, "object"},
        {"", -1, NULL, NULL, 0, "empty"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        sl_creds c;
        char err[SL_ERRLEN] = "";
        int rc;

        memset(&c, 0, sizeof(c));
        rc = sl_creds_parse_json(t[i].body, strlen(t[i].body), &c, err, sizeof(err));
        if (rc != t[i].rc)
            fprintf(stderr, "case %zu: rc %d err %s\n", i, rc, err);
        CHECK_INT(rc, t[i].rc);
        if (rc == 0) {
            CHECK_STR(c.access_key, t[i].ak);
            CHECK(c.secret_key[0] == 's');
            if (t[i].tok)
                CHECK_STR(c.session_token, t[i].tok);
            else
                CHECK(c.session_token == NULL);
            CHECK_INT(c.expires_ms, t[i].exp);
            sl_creds_cleanup(&c);
            CHECK(c.session_token == NULL);
            CHECK_INT(c.access_key[0], 0);
            CHECK_INT(c.secret_key[0], 0);
        } else {
            CHECK(strstr(err, t[i].errpart) != NULL);
            /* The secret never appears in an error. */
            CHECK(strstr(err, "\"s\"") == NULL);
            CHECK(c.session_token == NULL && c.access_key[0] == 0);
        }
    }
}

static void test_parse_json_limits(void)
{
    char err[SL_ERRLEN];
    sl_creds c;
    size_t big = 70 * 1024;
    char *body = malloc(big + 1);
    char longkey[200];

    CHECK(body != NULL);
    /* Over the 64 KiB cap: refused before parsing, even though it is valid JSON. */
    memset(body, ' ', big);
    memcpy(body, "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}",
           strlen("{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}"));
    body[big] = '\0';
    memset(&c, 0, sizeof(c));
    if (sl_creds_parse_json(body, big, &c, err, sizeof(err)) != -1) {
        free(body);
        CHECK(!"oversized body accepted");
    }
    free(body);
    CHECK(strstr(err, "cap") != NULL);
    /* An access key that does not fit sl_creds is refused, not truncated. */
    memset(longkey, 'A', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    {
        char j[400];
        snprintf(j, sizeof(j), "{\"AccessKeyId\":\"%s\",\"SecretAccessKey\":\"s\"}", longkey);
        CHECK_INT(sl_creds_parse_json(j, strlen(j), &c, err, sizeof(err)), -1);
        CHECK(strstr(err, "AccessKeyId") != NULL);
    }
    /* Length is honoured: the NUL-less prefix of a valid object is not valid. */
    {
        const char *j = "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"s\"}";
        CHECK_INT(sl_creds_parse_json(j, strlen(j) - 1, &c, err, sizeof(err)), -1);
        CHECK_INT(sl_creds_parse_json(j, strlen(j), &c, err, sizeof(err)), 0);
        sl_creds_cleanup(&c);
    }
    CHECK_INT(sl_creds_parse_json(NULL, 0, &c, err, sizeof(err)), -1);
}

/* --- STS XML ----------------------------------------------------------------------------- */

#define STS_OK                                                                                     \
    "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"      \
    "<AssumeRoleWithWebIdentityResult><Credentials>"                                               \
    "<SessionToken>FQoGZXIvYXdzE</SessionToken>"                                                   \
    "<SecretAccessKey>wJalrXUtnFEMI</SecretAccessKey>"                                             \
    "<Expiration>2019-11-09T13:34:41Z</Expiration>"                                                \
    "<AccessKeyId>ASIAWEB</AccessKeyId>"                                                           \
    "</Credentials><AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"                    \
    "</AssumedRoleUser></AssumeRoleWithWebIdentityResult>"                                         \
    "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"                                \
    "</AssumeRoleWithWebIdentityResponse>"

static void test_parse_sts_xml_table(void)
{
    static const struct {
        const char *body;
        int rc;
        const char *errpart;
    } t[] = {
        {STS_OK, 0, NULL},
        /* AssumeRole shape, whitespace around values, no namespace */
        {"<AssumeRoleResponse><AssumeRoleResult><Credentials>\n"
         "  <AccessKeyId> ASIAWEB </AccessKeyId>\n  <SecretAccessKey>wJalrXUtnFEMI"
         "</SecretAccessKey>\n  <SessionToken>FQoGZXIvYXdzE</SessionToken>\n"
         "  <Expiration>2019-11-09T13:34:41.000Z</Expiration>\n"
         "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
         0, NULL},
        {"<R><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
         "<Expiration>2019-11-09T13:34:41Z</Expiration></Credentials></R>",
         -1, "SessionToken"},
        /* Blank token (found by fuzz_creds_json): STS keys are useless without one. */
        {"<R><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
         "<SessionToken> \r\n</SessionToken><Expiration>2019-11-09T13:34:41Z</Expiration>"
         "</Credentials></R>",
         -1, "SessionToken"},
        {"<R><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
         "<SessionToken>t</SessionToken></Credentials></R>",
         -1, "Expiration"},
        {"<R><Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>soon</Expiration></Credentials></R>",
         -1, "ISO 8601"},
        {"<R><Creds><AccessKeyId>A</AccessKeyId></Creds></R>", -1, "no <Credentials>"},
        {"<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>", -1,
         "no <Credentials>"},
        {"<R><Credentials>", -1, "XML"},
        {"not xml at all", -1, "XML"},
        /* An external entity must not be fetched or expanded into a key. */
        {"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><R><Credentials>"
         "<AccessKeyId>&x;</AccessKeyId><SecretAccessKey>s</SecretAccessKey>"
         "<SessionToken>t</SessionToken><Expiration>2019-11-09T13:34:41Z</Expiration>"
         "</Credentials></R>",
         -1, "AccessKeyId"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        sl_creds c;
        char err[SL_ERRLEN] = "";
        int rc;

        memset(&c, 0, sizeof(c));
        rc = sl_creds_parse_sts_xml(t[i].body, strlen(t[i].body), &c, err, sizeof(err));
        if (rc != t[i].rc || (rc && !strstr(err, t[i].errpart)))
            fprintf(stderr, "case %zu: rc %d err %s\n", i, rc, err);
        CHECK_INT(rc, t[i].rc);
        if (rc == 0) {
            CHECK_STR(c.access_key, "ASIAWEB");
            CHECK_STR(c.secret_key, "wJalrXUtnFEMI");
            CHECK_STR(c.session_token, "FQoGZXIvYXdzE");
            CHECK_INT(c.expires_ms, 1573306481000LL);
            sl_creds_cleanup(&c);
        } else {
            CHECK(strstr(err, t[i].errpart) != NULL);
        }
    }
}

/* --- FULL_URI host rules ----------------------------------------------------------------- */

static void test_full_uri_rules(void)
{
    static const struct {
        const char *url;
        int ok;
    } t[] = {
        {"http://127.0.0.1:8080/creds", 1},
        {"http://127.1.2.3/creds", 1},
        {"http://localhost/creds", 1},
        {"http://LOCALHOST:99/creds", 1},
        {"http://[::1]:8080/creds", 1},
        {"http://169.254.170.2/v2/credentials/x", 1},
        {"http://169.254.170.23/v1/credentials", 1},
        {"http://[fd00:ec2::23]/v1/credentials", 1},
        {"https://example.com/creds", 1},
        {"HTTPS://creds.internal:8443/x", 1},
        {"http://example.com/creds", 0},
        {"http://169.254.169.254/latest", 0},
        {"http://169.254.170.3/creds", 0},
        {"http://10.0.0.1/creds", 0},
        {"http://[fd00:ec2::24]/creds", 0},
        {"http://127.0.0.1.evil.com/creds", 0},
        {"http://localhost.evil.com/creds", 0},
        {"ftp://127.0.0.1/creds", 0},
        {"file:///etc/passwd", 0},
        {"127.0.0.1/creds", 0}, /* no scheme */
        {"", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        int ok = sl_creds_full_uri_allowed(t[i].url);
        if (ok != t[i].ok)
            fprintf(stderr, "case %zu: %s -> %d\n", i, t[i].url, ok);
        CHECK_INT(ok, t[i].ok);
    }
    CHECK_INT(sl_creds_full_uri_allowed(NULL), 0);
}

/* --- refresh arithmetic ------------------------------------------------------------------ */

static void test_refresh_margin(void)
{
    static const struct {
        long long expires, now, margin;
        int refresh, expired;
    } t[] = {
        {0, 1000, 300000, 0, 0},         /* never expires */
        {1000000, 0, 300000, 0, 0},      /* 1000 s left, margin 300 s */
        {1000000, 700000, 300000, 0, 0}, /* exactly the margin left: still fine */
        {1000000, 700001, 300000, 1, 0}, /* 1 ms inside the margin */
        {1000000, 999999, 300000, 1, 0},
        {1000000, 1000000, 300000, 1, 1}, /* at expiry */
        {1000000, 2000000, 300000, 1, 1},
        {1000000, 0, 9000000000000000000LL, 1, 0}, /* huge margin: no overflow */
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        sl_creds c;
        memset(&c, 0, sizeof(c));
        c.expires_ms = t[i].expires;
        CHECK_INT(sl_creds_needs_refresh(&c, t[i].now, t[i].margin), t[i].refresh);
        CHECK_INT(sl_creds_expired(&c, t[i].now), t[i].expired);
    }
    CHECK_INT(sl_creds_needs_refresh(NULL, 0, 0), 0);
    CHECK_INT(sl_creds_expired(NULL, 0), 0);
}

/* --- source selection -------------------------------------------------------------------- */

static void test_select_order(void)
{
    static const struct {
        fake_env env;
        sl_creds_kind want;
    } t[] = {
        {{{NULL}}, SL_CREDS_IMDS},
        {{{"AWS_EC2_METADATA_DISABLED", "true", NULL}}, SL_CREDS_NONE},
        {{{"AWS_EC2_METADATA_DISABLED", "TRUE", NULL}}, SL_CREDS_NONE},
        {{{"AWS_EC2_METADATA_DISABLED", "false", NULL}}, SL_CREDS_IMDS},
        {{{"AWS_ACCESS_KEY_ID", "AKIA", "AWS_SECRET_ACCESS_KEY", "s", "AWS_WEB_IDENTITY_TOKEN_FILE",
           "/t", "AWS_ROLE_ARN", "arn", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/",
           NULL}},
         SL_CREDS_ENV},
        /* a key without its secret still selects env (and then fails there) */
        {{{"AWS_ACCESS_KEY_ID", "AKIA", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://x/", NULL}},
         SL_CREDS_ENV},
        {{{"AWS_ACCESS_KEY_ID", "", "AWS_WEB_IDENTITY_TOKEN_FILE", "/t", NULL}},
         SL_CREDS_WEB_IDENTITY},
        {{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/t", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2",
           NULL}},
         SL_CREDS_WEB_IDENTITY},
        /* a role ARN alone does not configure web identity (botocore needs the token file) */
        {{{"AWS_ROLE_ARN", "arn", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2", NULL}},
         SL_CREDS_CONTAINER},
        {{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/", "AWS_EC2_METADATA_DISABLED",
           "true", NULL}},
         SL_CREDS_CONTAINER},
        {{{"AWS_SECRET_ACCESS_KEY", "s", NULL}}, SL_CREDS_IMDS},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        sl_creds_kind k = sl_creds_select(sl_test_env_get, (void *)&t[i].env);
        if (k != t[i].want)
            fprintf(stderr, "case %zu: %s, want %s\n", i, sl_creds_kind_name(k),
                    sl_creds_kind_name(t[i].want));
        CHECK_INT(k, t[i].want);
    }
    CHECK_STR(sl_creds_kind_name(SL_CREDS_WEB_IDENTITY), "web-identity");
    CHECK_STR(sl_creds_kind_name(SL_CREDS_NONE), "none");
}

/* --- the chain without network ----------------------------------------------------------- */

static void test_chain_env_cached(void)
{
    fake_env e = {{"AWS_ACCESS_KEY_ID", "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY", "secret1",
                   "AWS_SESSION_TOKEN", "tok1", NULL}};
    char err[SL_ERRLEN] = "";
    sl_creds a, b;
    sl_creds_provider *p = chain(&e, 0, err, sizeof(err));

    CHECK(p != NULL);
    CHECK_STR(sl_creds_source(p), "none"); /* nothing resolved before the first get */
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    if (sl_creds_get(p, &a, err, sizeof(err))) {
        sl_creds_provider_free(p);
        CHECK(!"get failed");
    }
    CHECK_STR(sl_creds_source(p), "env");
    /* Env keys are read once and cached: changing the environment does not change them. */
    e.kv[3] = "secret2";
    if (sl_creds_get(p, &b, err, sizeof(err))) {
        sl_creds_cleanup(&a);
        sl_creds_provider_free(p);
        CHECK(!"second get failed");
    }
    {
        int same = strcmp(a.secret_key, b.secret_key) == 0 && a.session_token != b.session_token;
        int ok = strcmp(a.access_key, "AKIDEXAMPLE") == 0 && a.session_token &&
                 strcmp(a.session_token, "tok1") == 0 && a.expires_ms == 0;
        sl_creds_cleanup(&b);
        memset(&b, 0, sizeof(b));
        /* invalidate drops the cache: the next get reads the environment again */
        sl_creds_invalidate(p);
        if (sl_creds_get(p, &b, err, sizeof(err)))
            ok = 0;
        ok = ok && strcmp(b.secret_key, "secret2") == 0;
        sl_creds_cleanup(&a);
        sl_creds_cleanup(&b);
        sl_creds_provider_free(p);
        CHECK(same); /* cached copy, but each caller owns its own token string */
        CHECK(ok);
    }
}

/* A configured source that fails is an error naming it; no fall-through, no network. */
static void test_chain_configured_failures(void)
{
    char tokfile[] = "/tmp/test_creds_tokXXXXXX";
    int fd = mkstemp(tokfile);
    struct {
        fake_env env;
        const char *errpart1, *errpart2;
    } t[] = {
        {{{"AWS_ACCESS_KEY_ID", "AKIA", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/",
           NULL}},
         "env:",
         "AWS_SECRET_ACCESS_KEY"},
        {{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", "AWS_ROLE_ARN",
           "arn:aws:iam::1:role/r", NULL}},
         "web-identity:",
         "/nonexistent/token"},
        {{{"AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", NULL}},
         "web-identity:",
         "AWS_ROLE_ARN"},
        {{{"AWS_WEB_IDENTITY_TOKEN_FILE", tokfile, "AWS_ROLE_ARN", "arn:aws:iam::1:role/r",
           "AWS_ROLE_SESSION_NAME", "bad name!", NULL}},
         "web-identity:",
         "AWS_ROLE_SESSION_NAME"},
        {{{"AWS_WEB_IDENTITY_TOKEN_FILE", tokfile, "AWS_ROLE_ARN", "arn:aws:iam::1:role/r", NULL}},
         "web-identity:",
         "is empty"},
        {{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://example.com/creds", NULL}},
         "container:",
         "FULL_URI"},
        {{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN", "a\r\nX-Evil: 1", NULL}},
         "container:",
         "CR or LF"},
        {{{"AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:9/creds",
           "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/tok", NULL}},
         "container:",
         "/nonexistent/tok"},
        {{{"AWS_EC2_METADATA_DISABLED", "true", NULL}}, "no AWS credentials", "imds: disabled"},
    };

    CHECK(fd >= 0);
    close(fd); /* empty token file */
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        char err[SL_ERRLEN] = "";
        sl_creds c;
        sl_creds_provider *p;
        int rc;

        p = chain(&t[i].env, 0, err, sizeof(err));
        if (!p) {
            unlink(tokfile);
            CHECK(!"chain_new failed");
        }
        memset(&c, 0, sizeof(c));
        rc = sl_creds_get(p, &c, err, sizeof(err));
        sl_creds_provider_free(p);
        if (rc != -1 || !strstr(err, t[i].errpart1) || !strstr(err, t[i].errpart2))
            fprintf(stderr, "case %zu: rc %d err %s\n", i, rc, err);
        if (rc != -1) {
            sl_creds_cleanup(&c);
            unlink(tokfile);
            CHECK(!"get succeeded");
        }
        if (!strstr(err, t[i].errpart1) || !strstr(err, t[i].errpart2)) {
            unlink(tokfile);
            CHECK(!"error does not name the source and the cause");
        }
        CHECK(strstr(err, "X-Evil") == NULL); /* tokens never echoed */
    }
    unlink(tokfile);
}

static void test_chain_bad_settings(void)
{
    static const struct {
        fake_env env;
        const char *errpart;
    } t[] = {
        {{{"ASSUME_ROLE_ARN", "arn:aws:iam::1:role/x", "ASSUME_ROLE_DURATION", "60", NULL}},
         "ASSUME_ROLE_DURATION"},
        {{{"ASSUME_ROLE_ARN", "arn:aws:iam::1:role/x", "ASSUME_ROLE_DURATION", "13h", NULL}},
         "ASSUME_ROLE_DURATION"},
        {{{"ASSUME_ROLE_ARN", "arn:aws:iam::1:role/x", "ASSUME_ROLE_DURATION", "soon", NULL}},
         "ASSUME_ROLE_DURATION"},
        {{{"ASSUME_ROLE_ARN", "arn:aws:iam::1:role/x", "ASSUME_ROLE_SESSION_NAME", "a b", NULL}},
         "ASSUME_ROLE_SESSION_NAME"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        char err[SL_ERRLEN] = "";
        sl_creds_provider *p = chain((fake_env *)&t[i].env, 0, err, sizeof(err));
        if (p) {
            sl_creds_provider_free(p);
            CHECK(!"bad settings accepted");
        }
        CHECK(strstr(err, t[i].errpart) != NULL);
    }
    {
        /* Good settings build; the source name shows the assume-role layer once resolved. */
        fake_env e = {{"ASSUME_ROLE_ARN", "arn:aws:iam::1:role/x", "ASSUME_ROLE_DURATION", "1h",
                       "ASSUME_ROLE_EXTERNAL_ID", "ext", NULL}};
        char err[SL_ERRLEN] = "";
        sl_creds_provider *p = chain(&e, 0, err, sizeof(err));
        CHECK(p != NULL);
        sl_creds_provider_free(p);
    }
    {
        fake_env e = {{NULL}};
        char err[SL_ERRLEN] = "";
        CHECK(chain(&e, -1, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "refresh_margin_ms") != NULL);
    }
    sl_creds_provider_free(NULL);
    sl_creds_invalidate(NULL);
    sl_creds_cleanup(NULL);
    CHECK_STR(sl_creds_source(NULL), "none");
}

static const sl_test tests[] = {
    SL_TEST(test_iso8601_table),
    SL_TEST(test_parse_json_table),
    SL_TEST(test_parse_json_limits),
    SL_TEST(test_parse_sts_xml_table),
    SL_TEST(test_full_uri_rules),
    SL_TEST(test_refresh_margin),
    SL_TEST(test_select_order),
    SL_TEST(test_chain_env_cached),
    SL_TEST(test_chain_configured_failures),
    SL_TEST(test_chain_bad_settings),
};

SL_TEST_MAIN(tests)
