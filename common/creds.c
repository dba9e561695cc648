/*
 * creds.c - the AWS credentials chain. See creds.h for the order and the contract.
 *
 * Behaviour follows botocore's credential resolver (botocore/credentials.py) and the AWS SDKs
 * reference guide ("Standardized credential providers"):
 *   - a source is tried only when it is *configured*; once one is configured, a failure to
 *     fetch from it is an error naming that source, not a fall-through to the next one
 *     (botocore raises PartialCredentialsError / CredentialRetrievalError from the chosen
 *     provider). Only IMDS, the last link, is "configured" by default, and its failure ends the
 *     chain with "no credentials", listing why each source was passed over;
 *   - the source is chosen at the first fetch and kept for the provider's life (botocore binds
 *     the session's credentials to the provider that answered);
 *   - temporary credentials are served from the cache until less than the refresh margin is
 *     left; a refresh that fails while the cached ones are still valid keeps them in service
 *     (botocore's advisory refresh window) and the failure is reported only once they expired.
 *
 * Container and IMDS are tiny GET/PUT exchanges through the transport's plain request
 * (sl_aws_plain_call: no signing, no retry policy of the AWS client, no proxy), with capped
 * bodies and short timeouts so that a machine outside AWS passes through the chain quickly.
 * The STS calls of the web-identity and assume-role sources are sts.c's. Tokens and keys never
 * reach the log.
 */
#include "creds.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>

#include "aws_http.h"
#include "json.h"
#include "log.h"
#include "sts.h"
#include "xml.h"

#define CREDS_DEFAULT_MARGIN_MS (5LL * 60 * 1000)
/* After a failed refresh while the cached credentials are still valid, wait this long before
   trying again, so a dead metadata endpoint does not add its timeout to every AWS call. */
#define CREDS_RETRY_AFTER_FAIL_MS 5000LL
#define CREDS_BODY_CAP ((size_t)64 * 1024)
#define CREDS_TOKEN_FILE_CAP ((size_t)16 * 1024)
#define CREDS_SESSION_TOKEN_CAP ((size_t)16 * 1024)

/* ECS task role endpoint: RELATIVE_URI is appended to this (AWS ECS developer guide). */
#define CREDS_ECS_HOST "http://169.254.170.2"
#define CREDS_IMDS_DEFAULT "http://169.254.169.254"
/* IMDSv2 session token lifetime asked for: 6 hours, the SDKs' default and IMDS's maximum. */
#define CREDS_IMDS_TOKEN_TTL "21600"

struct sl_creds_provider {
    sl_cfg_getter getenv_fn;
    void *getenv_ud;
    long long margin_ms;
    long long (*wall_ms)(void *); /* never NULL after chain_new */
    long long (*mono_ms)(void *);
    void *clock_ud;
    sl_aws_opts aws;     /* deep copy: the caller's opts are only borrowed for chain_new */
    sl_aws_creds signer; /* this provider as the transport's interface (sl_creds_signer) */

    int resolved;
    sl_creds_kind kind;
    char source[48];
    int imds_ok; /* IMDS answered once: later failures are refresh failures */

    sl_creds cached;
    int have_cached;
    long long retry_after_mono_ms; /* 0 = refresh may be tried now */

    /* AssumeRole on top: base is the chain without it, sts signs with base. */
    char *assume_arn;
    char *assume_external_id;
    char *assume_session;
    long long assume_duration_s; /* 0 = STS default */
    sl_creds_provider *base;
    sl_aws *sts; /* signed (assume role) or anonymous (web identity); created lazily */
};

/* --- small helpers ----------------------------------------------------------------------- */

static const char *env_get(sl_cfg_getter g, void *ud, const char *name)
{
    const char *v = g ? g(name, ud) : getenv(name);
    /* An empty variable counts as unset, as botocore does for the access key. */
    return (v && *v) ? v : NULL;
}

static const char *penv(const sl_creds_provider *p, const char *name)
{
    return env_get(p->getenv_fn, p->getenv_ud, name);
}

static void wipe_free(char *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen(s));
    free(s);
}

/* Deep copy; dst must be clean. Returns 0 or -1 (OOM). */
static int creds_copy(sl_creds *dst, const sl_creds *src)
{
    char *tok = NULL;

    if (src->session_token && !(tok = strdup(src->session_token)))
        return -1;
    memcpy(dst->access_key, src->access_key, sizeof(dst->access_key));
    memcpy(dst->secret_key, src->secret_key, sizeof(dst->secret_key));
    dst->session_token = tok;
    dst->expires_ms = src->expires_ms;
    return 0;
}

/* Fills a fresh sl_creds from strings; lengths checked. Secrets are never echoed in err. */
static int creds_fill(sl_creds *out, const char *ak, const char *sk, const char *tok,
                      long long expires_ms, char *err, size_t errlen)
{
    sl_creds c;
    size_t akl = strlen(ak), skl = strlen(sk);

    if (akl == 0 || akl >= sizeof(c.access_key))
        return sl_seterr(err, errlen, "AccessKeyId is empty or longer than %zu bytes",
                         sizeof(c.access_key) - 1);
    if (skl == 0 || skl >= sizeof(c.secret_key))
        return sl_seterr(err, errlen, "SecretAccessKey is empty or longer than %zu bytes",
                         sizeof(c.secret_key) - 1);
    if (tok && strlen(tok) > CREDS_SESSION_TOKEN_CAP)
        return sl_seterr(err, errlen, "session token longer than %zu bytes",
                         CREDS_SESSION_TOKEN_CAP);
    memset(&c, 0, sizeof(c));
    memcpy(c.access_key, ak, akl);
    memcpy(c.secret_key, sk, skl);
    if (tok && *tok && !(c.session_token = strdup(tok))) {
        OPENSSL_cleanse(&c, sizeof(c));
        return sl_seterr(err, errlen, "out of memory");
    }
    c.expires_ms = expires_ms;
    *out = c;
    OPENSSL_cleanse(&c, sizeof(c));
    return 0;
}

int sl_creds_needs_refresh(const sl_creds *c, long long now_ms, long long margin_ms)
{
    if (!c || c->expires_ms == 0)
        return 0;
    /* Written as a comparison of differences so huge margins cannot overflow. */
    return c->expires_ms - now_ms < margin_ms;
}

int sl_creds_expired(const sl_creds *c, long long now_ms)
{
    return c && c->expires_ms != 0 && now_ms >= c->expires_ms;
}

/* --- ISO 8601 ---------------------------------------------------------------------------- */

static int take_digits(const char **s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*s)[i]))
            return -1;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static long long days_from_civil(int y, int m, int d)
{
    long long yy = y - (m <= 2);
    long long era = (yy >= 0 ? yy : yy - 399) / 400;
    long long yoe = yy - era * 400;
    long long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dim[m - 1];
}

int sl_creds_parse_iso8601(const char *s, long long *epoch_ms)
{
    int y, mo, d, h, mi, sec, ms = 0, oh = 0, om = 0, sign = 0;
    const char *p = s;

    if (!s || !epoch_ms)
        return -1;
    if (take_digits(&p, 4, &y) || *p++ != '-' || take_digits(&p, 2, &mo) || *p++ != '-' ||
        take_digits(&p, 2, &d))
        return -1;
    if (*p != 'T' && *p != 't')
        return -1;
    p++;
    if (take_digits(&p, 2, &h) || *p++ != ':' || take_digits(&p, 2, &mi) || *p++ != ':' ||
        take_digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        /* Fractions of any length; milliseconds kept, the rest dropped. */
        int n = 0;
        p++;
        while (isdigit((unsigned char)*p)) {
            if (n < 3)
                ms = ms * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0 || n > 9)
            return -1;
        for (; n < 3; n++)
            ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        sign = *p == '+' ? 1 : -1;
        p++;
        if (take_digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (take_digits(&p, 2, &om))
            return -1;
        if (oh > 23 || om > 59)
            return -1;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
        sec > 60)
        return -1;
    /* A leap second (:60) is read as the first instant of the next minute. */
    {
        long long t = days_from_civil(y, mo, d) * 86400LL + h * 3600LL + mi * 60LL + sec;
        t -= (long long)sign * (oh * 3600LL + om * 60LL);
        if (t < 0)
            return -1;
        *epoch_ms = t * 1000 + ms;
    }
    return 0;
}

/* --- JSON (container agent, IMDS) -------------------------------------------------------- */

int sl_creds_parse_json(const char *body, size_t len, sl_creds *out, char *err, size_t errlen)
{
    cJSON *root = NULL;
    const char *ak, *sk, *tok, *exp, *code;
    long long exp_ms = 0;
    int rc = -1;

    if (!body || len == 0) {
        sl_seterr(err, errlen, "credentials JSON: empty body");
        goto out;
    }
    if (len > CREDS_BODY_CAP) {
        sl_seterr(err, errlen, "credentials JSON: body of %zu bytes exceeds the %zu-byte cap", len,
                  CREDS_BODY_CAP);
        goto out;
    }
    root = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(root)) {
        sl_seterr(err, errlen, "credentials JSON: not a JSON object");
        goto out;
    }
    /* IMDS adds "Code": "Success"; anything else means the role has no usable credentials. */
    code = sl_json_str(root, "Code");
    if (cJSON_GetObjectItemCaseSensitive(root, "Code") && (!code || strcmp(code, "Success"))) {
        sl_seterr(err, errlen, "credentials JSON: Code is \"%.64s\", not Success",
                  code ? code : "(not a string)");
        goto out;
    }
    ak = sl_json_str(root, "AccessKeyId");
    sk = sl_json_str(root, "SecretAccessKey");
    if (!ak || !sk) {
        sl_seterr(err, errlen, "credentials JSON: %s missing or not a string",
                  !ak ? "AccessKeyId" : "SecretAccessKey");
        goto out;
    }
    if (cJSON_GetObjectItemCaseSensitive(root, "Token") && !(tok = sl_json_str(root, "Token"))) {
        sl_seterr(err, errlen, "credentials JSON: Token is not a string");
        goto out;
    }
    tok = sl_json_str(root, "Token");
    if (cJSON_GetObjectItemCaseSensitive(root, "Expiration")) {
        exp = sl_json_str(root, "Expiration");
        if (!exp || sl_creds_parse_iso8601(exp, &exp_ms)) {
            sl_seterr(err, errlen, "credentials JSON: Expiration is not an ISO 8601 timestamp");
            goto out;
        }
    }
    if (creds_fill(out, ak, sk, tok, exp_ms, err, errlen))
        goto out;
    rc = 0;
out:
    if (root) {
        /* The parsed tree holds the secret and the token: wipe them before freeing. */
        const char *wipe[] = {"SecretAccessKey", "Token", "AccessKeyId"};
        for (size_t i = 0; i < SL_ARRAY_LEN(wipe); i++) {
            cJSON *it = cJSON_GetObjectItemCaseSensitive(root, wipe[i]);
            if (cJSON_IsString(it) && it->valuestring)
                OPENSSL_cleanse(it->valuestring, strlen(it->valuestring));
        }
        cJSON_Delete(root);
    }
    return rc;
}

/* --- STS XML ----------------------------------------------------------------------------- */

/* Text of a child element, heap (xmlFree via wipe_xml), or NULL when absent. */
static xmlChar *child_text(const xmlNode *parent, const char *name)
{
    const xmlNode *c = sl_xml_child(parent, name);
    return c ? xmlNodeGetContent(c) : NULL;
}

static void wipe_xml(xmlChar *s)
{
    if (!s)
        return;
    OPENSSL_cleanse(s, strlen((const char *)s));
    xmlFree(s);
}

static char *trim_ws(char *s)
{
    size_t n;
    while (*s && isspace((unsigned char)*s))
        s++;
    n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int sl_creds_from_sts_doc(const xmlDoc *doc, sl_creds *out, char *err, size_t errlen)
{
    const xmlNode *root, *cr;
    xmlChar *ak = NULL, *sk = NULL, *tok = NULL, *exp = NULL;
    long long exp_ms;
    int rc = -1;

    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        sl_seterr(err, errlen, "STS response: empty document");
        goto out;
    }
    /* sl_xml_find only reads the tree; it takes a non-const node like libxml2's own API. */
    cr = sl_xml_find((xmlNode *)root, "Credentials");
    if (!cr) {
        sl_seterr(err, errlen, "STS response: no <Credentials> element");
        goto out;
    }
    ak = child_text(cr, "AccessKeyId");
    sk = child_text(cr, "SecretAccessKey");
    tok = child_text(cr, "SessionToken");
    exp = child_text(cr, "Expiration");
    if (!ak || !sk || !tok || !exp) {
        sl_seterr(err, errlen, "STS response: <Credentials> lacks <%s>",
                  !ak    ? "AccessKeyId"
                  : !sk  ? "SecretAccessKey"
                  : !tok ? "SessionToken"
                         : "Expiration");
        goto out;
    }
    /* STS credentials are temporary: without their token every signed call would fail
       (InvalidClientTokenId), so a blank SessionToken is a bad answer, not long-term keys. */
    if (!*trim_ws((char *)tok)) {
        sl_seterr(err, errlen, "STS response: <SessionToken> is empty");
        goto out;
    }
    if (sl_creds_parse_iso8601(trim_ws((char *)exp), &exp_ms)) {
        sl_seterr(err, errlen, "STS response: Expiration is not an ISO 8601 timestamp");
        goto out;
    }
    if (creds_fill(out, trim_ws((char *)ak), trim_ws((char *)sk), trim_ws((char *)tok), exp_ms, err,
                   errlen))
        goto out;
    rc = 0;
out:
    wipe_xml(ak);
    wipe_xml(sk);
    wipe_xml(tok);
    wipe_xml(exp);
    return rc;
}

int sl_creds_parse_sts_xml(const char *body, size_t len, sl_creds *out, char *err, size_t errlen)
{
    xmlDoc *doc = NULL;
    int rc = -1;

    if (!body || len == 0 || len > CREDS_BODY_CAP) {
        sl_seterr(err, errlen, "STS response: body empty or over the %zu-byte cap", CREDS_BODY_CAP);
        goto out;
    }
    if (len > (size_t)0x7fffffff)
        goto out;
    /* No network, no entity expansion, no DTD loading: the body comes from outside. */
    doc = xmlReadMemory(body, (int)len, "sts.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        sl_seterr(err, errlen, "STS response: not well-formed XML");
        goto out;
    }
    rc = sl_creds_from_sts_doc(doc, out, err, errlen);
out:
    xmlFreeDoc(doc);
    return rc;
}

/* --- source selection and FULL_URI rules ------------------------------------------------- */

const char *sl_creds_kind_name(sl_creds_kind k)
{
    switch (k) {
    case SL_CREDS_ENV:
        return "env";
    case SL_CREDS_WEB_IDENTITY:
        return "web-identity";
    case SL_CREDS_CONTAINER:
        return "container";
    case SL_CREDS_IMDS:
        return "imds";
    case SL_CREDS_NONE:
        break;
    }
    return "none";
}

static int imds_disabled(sl_cfg_getter g, void *ud)
{
    const char *v = env_get(g, ud, "AWS_EC2_METADATA_DISABLED");
    return v && strcasecmp(v, "true") == 0;
}

sl_creds_kind sl_creds_select(sl_cfg_getter g, void *ud)
{
    if (env_get(g, ud, "AWS_ACCESS_KEY_ID"))
        return SL_CREDS_ENV;
    if (env_get(g, ud, "AWS_WEB_IDENTITY_TOKEN_FILE"))
        return SL_CREDS_WEB_IDENTITY;
    if (env_get(g, ud, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") ||
        env_get(g, ud, "AWS_CONTAINER_CREDENTIALS_FULL_URI"))
        return SL_CREDS_CONTAINER;
    if (!imds_disabled(g, ud))
        return SL_CREDS_IMDS;
    return SL_CREDS_NONE;
}

static int host_allowed(const char *host)
{
    unsigned char a4[4], a6[16], want6[16];
    char h[64];
    size_t n = strlen(host);

    /* IPv6 literals come bracketed from the URL parser on some curl versions. */
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    if (n == 0 || n >= sizeof(h))
        return 0;
    memcpy(h, host, n);
    h[n] = '\0';
    if (strcasecmp(h, "localhost") == 0)
        return 1;
    if (inet_pton(AF_INET, h, a4) == 1)
        return a4[0] == 127 || strcmp(h, "169.254.170.2") == 0 || strcmp(h, "169.254.170.23") == 0;
    if (inet_pton(AF_INET6, h, a6) == 1) {
        if (inet_pton(AF_INET6, "::1", want6) == 1 && memcmp(a6, want6, 16) == 0)
            return 1;
        if (inet_pton(AF_INET6, "fd00:ec2::23", want6) == 1 && memcmp(a6, want6, 16) == 0)
            return 1;
    }
    return 0;
}

int sl_creds_full_uri_allowed(const char *url)
{
    CURLU *u = NULL;
    char *scheme = NULL, *host = NULL;
    int ok = 0;

    if (!url || !*url)
        return 0;
    u = curl_url();
    if (!u)
        return 0;
    /* Parsed by libcurl itself, the same parser that will send the request. */
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
        goto out;
    if (strcasecmp(scheme, "https") == 0)
        ok = 1;
    else if (strcasecmp(scheme, "http") == 0)
        ok = host_allowed(host);
out:
    curl_free(scheme);
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

/* --- metadata requests (container agent, IMDS) ------------------------------------------ */

/* Wipes a response that may hold credentials, and releases it. */
static void wipe_resp(sl_aws_response *r)
{
    if (r->body.data)
        OPENSSL_cleanse(r->body.data, r->body.cap);
    sl_aws_response_cleanup(r);
}

/*
 * One metadata request through the transport's plain path, into a fresh *resp whose body is
 * capped at cap. 0 with resp->status when an HTTP answer arrived (any status), -1 with err on
 * transport failure. Proxies are bypassed (sl_aws_plain_call): these endpoints are link-local
 * or loopback and the answer must come from them.
 */
static int meta_http(const char *method, const char *url, const sl_http_header *hdrs, size_t nhdrs,
                     long connect_ms, long total_ms, size_t cap, sl_aws_response *resp, char *err,
                     size_t errlen)
{
    const sl_aws_plain_request req = {method, url, hdrs, nhdrs, connect_ms, total_ms};

    wipe_resp(resp);
    sl_aws_response_init(resp);
    resp->body.limit = cap;
    return sl_aws_plain_call(&req, resp, err, errlen);
}

/* Reads a small secret file (token), trailing whitespace trimmed. Heap, wipe_free it. */
static char *read_secret_file(const char *path, const char *what, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    sl_buf b;
    char chunk[1024];
    size_t n;
    char *s = NULL;

    sl_buf_init(&b, CREDS_TOKEN_FILE_CAP);
    if (!f) {
        sl_seterr(err, errlen, "cannot open %s %s: %s", what, path, strerror(errno));
        goto out;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (sl_buf_append(&b, chunk, n)) {
            sl_seterr(err, errlen, "%s %s is larger than %zu bytes", what, path,
                      CREDS_TOKEN_FILE_CAP);
            goto out;
        }
    }
    if (ferror(f)) {
        sl_seterr(err, errlen, "cannot read %s %s", what, path);
        goto out;
    }
    while (b.len && isspace((unsigned char)b.data[b.len - 1]))
        b.data[--b.len] = '\0';
    if (b.len == 0) {
        sl_seterr(err, errlen, "%s %s is empty", what, path);
        goto out;
    }
    s = sl_buf_steal(&b);
out:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    if (b.data)
        OPENSSL_cleanse(b.data, b.cap);
    sl_buf_cleanup(&b);
    if (f)
        fclose(f);
    return s;
}

/* --- providers --------------------------------------------------------------------------- */

static int fetch_env(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *ak = penv(p, "AWS_ACCESS_KEY_ID");
    const char *sk = penv(p, "AWS_SECRET_ACCESS_KEY");

    if (!ak)
        return sl_seterr(err, errlen, "env: AWS_ACCESS_KEY_ID is not set");
    /* botocore raises PartialCredentialsError here rather than trying the next source. */
    if (!sk)
        return sl_seterr(err, errlen,
                         "env: AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
    {
        char why[SL_ERRLEN] = "";
        if (creds_fill(out, ak, sk, penv(p, "AWS_SESSION_TOKEN"), 0, why, sizeof(why)))
            return sl_seterr(err, errlen, "env: %s", why);
    }
    return 0;
}

/* botocore names unnamed sessions "botocore-session-<epoch>"; ours add randomness so two
   workers started in the same second do not share a session name in CloudTrail. */
static void gen_session_name(char *buf, size_t n)
{
    snprintf(buf, n, "snaplake-%lld-%08llx", sl_now_ms() / 1000, sl_random_u64() & 0xffffffffULL);
}

/* Role session names: 2..64 of [\w+=,.@-] (STS API reference). */
static int session_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 2 || n > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_+=,.@-", *s))
            return 0;
    return 1;
}

/* The provider's STS client, made on first use; signer NULL = anonymous only. */
static int sts_client(sl_creds_provider *p, sl_creds_provider *signer, char *err, size_t errlen)
{
    if (p->sts)
        return 0;
    p->sts = sl_aws_new(&p->aws, sl_creds_signer(signer), err, errlen);
    return p->sts ? 0 : -1;
}

static void aws_err_text(const sl_aws_error *ae, char *buf, size_t n)
{
    snprintf(buf, n, "%s: %s (HTTP %ld)", ae->code[0] ? ae->code : "Error", ae->message,
             ae->http_status);
}

static int fetch_web_identity(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *role = penv(p, "AWS_ROLE_ARN");
    const char *file = penv(p, "AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *sess = penv(p, "AWS_ROLE_SESSION_NAME");
    char gen[64], why[SL_ERRLEN] = "", aetext[800];
    char *token = NULL;
    sl_aws_response resp;
    sl_aws_error ae;
    int rc = -1;

    memset(&ae, 0, sizeof(ae));
    sl_aws_response_init(&resp);
    if (!role) {
        sl_seterr(err, errlen,
                  "web-identity: AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
        goto out;
    }
    if (!sess) {
        gen_session_name(gen, sizeof(gen));
        sess = gen;
    } else if (!session_name_ok(sess)) {
        sl_seterr(err, errlen, "web-identity: AWS_ROLE_SESSION_NAME must be 2-64 of [\\w+=,.@-]");
        goto out;
    }
    /* Read on every refresh: EKS rotates the projected token file (hourly by default). */
    token = read_secret_file(file, "web identity token file", why, sizeof(why));
    if (!token) {
        sl_seterr(err, errlen, "web-identity: %s", why);
        goto out;
    }
    /* AssumeRoleWithWebIdentity is not signed: the token is the proof (STS API reference).
       It goes on a client that has no credentials at all, so nothing can sign it by
       accident. */
    if (sts_client(p, NULL, why, sizeof(why))) {
        sl_seterr(err, errlen, "web-identity: STS client: %s", why);
        goto out;
    }
    if (sl_sts_assume_role_with_web_identity(p->sts, role, sess, token, &resp, &ae)) {
        aws_err_text(&ae, aetext, sizeof(aetext));
        sl_seterr(err, errlen, "web-identity: STS AssumeRoleWithWebIdentity for %s: %s", role,
                  aetext);
        goto out;
    }
    if (sl_creds_parse_sts_xml(resp.body.data, resp.body.len, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "web-identity: %s", why);
        goto out;
    }
    rc = 0;
out:
    wipe_free(token);
    wipe_resp(&resp);
    return rc;
}

static int token_has_crlf(const char *t)
{
    return strchr(t, '\r') || strchr(t, '\n');
}

static int fetch_container(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *rel = penv(p, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = penv(p, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
    const char *tokfile = penv(p, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *tokenv = penv(p, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
    char *url = NULL, *token = NULL, why[SL_ERRLEN] = "";
    sl_http_header hdrs[2];
    size_t nh = 0;
    sl_aws_response resp;
    long status = 0;
    int rc = -1;

    sl_aws_response_init(&resp);
    /* RELATIVE_URI wins over FULL_URI (botocore ContainerProvider, SDK reference guide). */
    if (rel) {
        size_t n = strlen(CREDS_ECS_HOST) + strlen(rel) + 2;
        if (!(url = malloc(n)))
            goto oom;
        snprintf(url, n, "%s%s%s", CREDS_ECS_HOST, rel[0] == '/' ? "" : "/", rel);
    } else {
        /* Only the agent's own addresses or TLS: a FULL_URI pointing anywhere else would hand
           the authorization token and the credentials to an arbitrary host. */
        if (!sl_creds_full_uri_allowed(full)) {
            sl_seterr(err, errlen,
                      "container: AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to "
                      "a loopback address, 169.254.170.2, 169.254.170.23 or fd00:ec2::23");
            goto out;
        }
        if (!(url = strdup(full)))
            goto oom;
    }
    /* The token file is preferred and re-read each time: EKS Pod Identity rotates it. */
    if (tokfile) {
        token = read_secret_file(tokfile, "container authorization token file", why, sizeof(why));
        if (!token) {
            sl_seterr(err, errlen, "container: %s", why);
            goto out;
        }
    } else if (tokenv && !(token = strdup(tokenv))) {
        goto oom;
    }
    if (token) {
        /* A CR or LF would let the token inject headers (botocore _validate_auth_token). */
        if (token_has_crlf(token)) {
            sl_seterr(err, errlen, "container: authorization token contains CR or LF");
            goto out;
        }
        hdrs[nh].name = "Authorization";
        hdrs[nh++].value = token;
    }
    hdrs[nh].name = "Accept";
    hdrs[nh++].value = "application/json";
    /* botocore: 2 s timeout, 3 attempts. Transport errors and 5xx are retried; 4xx are not. */
    for (int attempt = 1; attempt <= 3; attempt++) {
        status = meta_http("GET", url, hdrs, nh, 1000, 2000, CREDS_BODY_CAP, &resp, why,
                           sizeof(why)) == 0
                     ? resp.status
                     : 0;
        if (status && status < 500)
            break;
        if (attempt < 3) {
            struct timespec ts = {0, 200 * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    if (status == 0) {
        sl_seterr(err, errlen, "container: %s", why);
        goto out;
    }
    if (status != 200) {
        sl_seterr(err, errlen, "container: GET %s answered HTTP %ld", url, status);
        goto out;
    }
    if (sl_creds_parse_json(resp.body.data, resp.body.len, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "container: %s", why);
        goto out;
    }
    rc = 0;
    goto out;
oom:
    sl_seterr(err, errlen, "container: out of memory");
out:
    wipe_resp(&resp);
    wipe_free(token);
    free(url);
    return rc;
}

/* IAM role names: [\w+=,.@-]{1,64}; anything else in the listing is not put into a URL. */
static int role_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && !strchr("_+=,.@-", *s))
            return 0;
    return 1;
}

static int fetch_imds(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    const char *ep = penv(p, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
    char base[512], url[768], role[80], why[SL_ERRLEN] = "";
    sl_http_header hdr;
    char *token = NULL;
    sl_aws_response resp;
    size_t n;
    int rc = -1;

    sl_aws_response_init(&resp);
    if (!ep)
        ep = CREDS_IMDS_DEFAULT;
    n = strlen(ep);
    while (n && ep[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof(base)) {
        sl_seterr(err, errlen, "imds: AWS_EC2_METADATA_SERVICE_ENDPOINT is empty or too long");
        goto out;
    }
    memcpy(base, ep, n);
    base[n] = '\0';

    /* IMDSv2 (EC2 user guide, "Use IMDSv2"): a session token from PUT /latest/api/token, sent
       back as X-aws-ec2-metadata-token. No IMDSv1 fallback: instances should require v2.
       1 s timeouts, one attempt: botocore's defaults, so a non-EC2 host passes quickly. */
    hdr.name = "X-aws-ec2-metadata-token-ttl-seconds";
    hdr.value = CREDS_IMDS_TOKEN_TTL;
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    if (meta_http("PUT", url, &hdr, 1, 1000, 1000, 4096, &resp, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    if (resp.status != 200 || resp.body.len == 0) {
        sl_seterr(err, errlen, "imds: PUT %s answered HTTP %ld", url, resp.status);
        goto out;
    }
    token = sl_buf_steal(&resp.body);
    {
        char *t = trim_ws(token);
        memmove(token, t, strlen(t) + 1);
    }
    if (token_has_crlf(token) || !*token) {
        sl_seterr(err, errlen, "imds: malformed session token");
        goto out;
    }
    hdr.name = "X-aws-ec2-metadata-token";
    hdr.value = token;

    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/", base);
    if (meta_http("GET", url, &hdr, 1, 1000, 1000, 4096, &resp, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    if (resp.status == 404) {
        sl_seterr(err, errlen, "imds: the instance has no IAM role (HTTP 404 on %s)", url);
        goto out;
    }
    if (resp.status != 200 || resp.body.len == 0) {
        sl_seterr(err, errlen, "imds: GET %s answered HTTP %ld", url, resp.status);
        goto out;
    }
    /* One role per instance profile; the listing has it on its first line. */
    {
        size_t rl = strcspn(resp.body.data, "\r\n");
        if (rl >= sizeof(role))
            rl = sizeof(role) - 1;
        memcpy(role, resp.body.data, rl);
        role[rl] = '\0';
    }
    if (!role_name_ok(trim_ws(role))) {
        sl_seterr(err, errlen, "imds: role name in %s is not a valid IAM role name", url);
        goto out;
    }
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/%s", base,
             trim_ws(role));
    if (meta_http("GET", url, &hdr, 1, 1000, 1000, CREDS_BODY_CAP, &resp, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    if (resp.status != 200) {
        sl_seterr(err, errlen, "imds: GET %s answered HTTP %ld", url, resp.status);
        goto out;
    }
    if (sl_creds_parse_json(resp.body.data, resp.body.len, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "imds: %s", why);
        goto out;
    }
    rc = 0;
out:
    wipe_resp(&resp);
    wipe_free(token);
    return rc;
}

static int fetch_assume_role(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    char why[SL_ERRLEN] = "", aetext[800];
    sl_sts_assume_role_req req;
    xmlDoc *doc = NULL;
    sl_aws_error ae;
    int rc = -1;

    memset(&ae, 0, sizeof(ae));
    /* Signed with the base chain's credentials; the client asks base for them per request,
       so base refreshes on its own schedule. */
    if (sts_client(p, p->base, why, sizeof(why))) {
        sl_seterr(err, errlen, "assume-role: STS client: %s", why);
        goto out;
    }
    memset(&req, 0, sizeof(req));
    req.role_arn = p->assume_arn;
    req.session_name = p->assume_session;
    req.external_id = p->assume_external_id;
    req.duration_s = p->assume_duration_s;
    if (sl_sts_assume_role(p->sts, &req, &doc, &ae)) {
        aws_err_text(&ae, aetext, sizeof(aetext));
        sl_seterr(err, errlen, "assume-role: STS AssumeRole %s (base %s): %s", p->assume_arn,
                  sl_creds_source(p->base), aetext);
        goto out;
    }
    if (sl_creds_from_sts_doc(doc, out, why, sizeof(why))) {
        sl_seterr(err, errlen, "assume-role: %s", why);
        goto out;
    }
    rc = 0;
out:
    xmlFreeDoc(doc);
    return rc;
}

/* Resolves the source once, then fetches from it. */
static int fetch(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    if (p->assume_arn) {
        int rc = fetch_assume_role(p, out, err, errlen);
        if (!p->resolved && p->base->resolved) {
            snprintf(p->source, sizeof(p->source), "%.32s+assume-role", sl_creds_source(p->base));
            p->resolved = 1;
        }
        return rc;
    }
    if (!p->resolved) {
        p->kind = sl_creds_select(p->getenv_fn, p->getenv_ud);
        if (p->kind == SL_CREDS_NONE)
            return sl_seterr(err, errlen,
                             "no AWS credentials: env: AWS_ACCESS_KEY_ID not set; web-identity: "
                             "AWS_WEB_IDENTITY_TOKEN_FILE not set; container: neither "
                             "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor _FULL_URI set; imds: "
                             "disabled by AWS_EC2_METADATA_DISABLED");
        p->resolved = 1;
        snprintf(p->source, sizeof(p->source), "%s", sl_creds_kind_name(p->kind));
    }
    switch (p->kind) {
    case SL_CREDS_ENV:
        return fetch_env(p, out, err, errlen);
    case SL_CREDS_WEB_IDENTITY:
        return fetch_web_identity(p, out, err, errlen);
    case SL_CREDS_CONTAINER:
        return fetch_container(p, out, err, errlen);
    case SL_CREDS_IMDS: {
        /* IMDS is the default last link: when it fails nothing was configured at all, so the
           message lists each source (botocore's "Unable to locate credentials"). */
        char why[SL_ERRLEN] = "";
        if (fetch_imds(p, out, why, sizeof(why)) == 0) {
            p->imds_ok = 1;
            return 0;
        }
        if (p->imds_ok) /* it worked before: this is a refresh failure, not a missing source */
            return sl_seterr(err, errlen, "%s", why);
        return sl_seterr(err, errlen,
                         "no AWS credentials: env: AWS_ACCESS_KEY_ID not set; web-identity: "
                         "AWS_WEB_IDENTITY_TOKEN_FILE not set; container: no container URI "
                         "set; %s",
                         why);
    }
    case SL_CREDS_NONE:
        break;
    }
    return sl_seterr(err, errlen, "no AWS credentials source");
}

/* --- the provider ------------------------------------------------------------------------ */

/* Bare seconds, or the config module's duration forms ("1h", "900s"). STS: 900..43200 s. */
static int parse_assume_duration(const char *s, long long *secs)
{
    long long ms;
    if (sl_config_parse_duration(s, &ms))
        return -1;
    if (ms % 1000 || ms / 1000 < 900 || ms / 1000 > 43200)
        return -1;
    *secs = ms / 1000;
    return 0;
}

static long long real_wall_ms(void *ud)
{
    (void)ud;
    return sl_now_ms();
}

static long long real_mono_ms(void *ud)
{
    (void)ud;
    return sl_mono_ms();
}

/*
 * Sets up AssumeRole on top of p: the role's settings are copied, and base (owned by p from
 * here on, freed with it) is the chain whose credentials sign the AssumeRole call. where names
 * the settings' origin in errors (the variables' prefix: "ASSUME_ROLE_" + "SESSION_NAME"). 0, or -1
 * with err (base is freed either way on failure, through p).
 */
static int set_assume(sl_creds_provider *p, const char *arn, const char *external_id,
                      const char *session, long long duration_s, sl_creds_provider *base,
                      const char *where, char *err, size_t errlen)
{
    p->base = base;
    if (!base)
        return -1;
    if (duration_s && (duration_s < 900 || duration_s > 43200))
        return sl_seterr(err, errlen, "creds: %sDURATION must be 900..43200 seconds", where);
    if (session && !session_name_ok(session))
        return sl_seterr(err, errlen, "creds: %sSESSION_NAME must be 2-64 of [\\w+=,.@-]", where);
    if (!(p->assume_arn = strdup(arn)))
        goto oom;
    if (external_id && *external_id && !(p->assume_external_id = strdup(external_id)))
        goto oom;
    if (session) {
        p->assume_session = strdup(session);
    } else {
        char gen[64];
        gen_session_name(gen, sizeof(gen));
        p->assume_session = strdup(gen);
    }
    if (!p->assume_session)
        goto oom;
    p->assume_duration_s = duration_s;
    return 0;
oom:
    return sl_seterr(err, errlen, "creds: out of memory");
}

/* The transport's interface (aws_creds.h) over sl_creds_get / sl_creds_invalidate. */
static int signer_get(void *ud, sl_creds *out, char *err, size_t errlen)
{
    return sl_creds_get(ud, out, err, errlen);
}

static void signer_invalidate(void *ud)
{
    sl_creds_invalidate(ud);
}

/* The provider without a source yet: options, clocks and a copy of aws_opts. NULL with err. */
static sl_creds_provider *provider_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                       char *err, size_t errlen)
{
    sl_creds_provider *p = calloc(1, sizeof(*p));

    if (!p) {
        sl_seterr(err, errlen, "creds: out of memory");
        return NULL;
    }
    if (opts) {
        p->getenv_fn = opts->getenv_fn;
        p->getenv_ud = opts->getenv_ud;
        p->margin_ms = opts->refresh_margin_ms;
        p->wall_ms = opts->wall_ms;
        p->mono_ms = opts->mono_ms;
        p->clock_ud = opts->clock_ud;
    }
    if (!p->wall_ms)
        p->wall_ms = real_wall_ms;
    if (!p->mono_ms)
        p->mono_ms = real_mono_ms;
    if (p->margin_ms < 0) {
        sl_seterr(err, errlen, "creds: refresh_margin_ms must not be negative");
        goto fail;
    }
    if (p->margin_ms == 0)
        p->margin_ms = CREDS_DEFAULT_MARGIN_MS;
    snprintf(p->source, sizeof(p->source), "none");
    p->signer.get = signer_get;
    p->signer.invalidate = signer_invalidate;
    p->signer.ud = p;
    if (sl_aws_opts_copy(&p->aws, aws_opts, err, errlen))
        goto fail;
    return p;
fail:
    sl_creds_provider_free(p);
    return NULL;
}

static sl_creds_provider *chain_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                    int with_assume, char *err, size_t errlen)
{
    sl_creds_provider *p = provider_new(opts, aws_opts, err, errlen);
    const char *arn, *v;
    long long duration_s = 0;

    if (!p || !with_assume || !(arn = penv(p, "ASSUME_ROLE_ARN")))
        return p;
    if ((v = penv(p, "ASSUME_ROLE_DURATION")) && parse_assume_duration(v, &duration_s)) {
        sl_seterr(err, errlen,
                  "creds: ASSUME_ROLE_DURATION must be 900..43200 seconds (\"3600\", \"1h\")");
        goto fail;
    }
    if (set_assume(p, arn, penv(p, "ASSUME_ROLE_EXTERNAL_ID"), penv(p, "ASSUME_ROLE_SESSION_NAME"),
                   duration_s, chain_new(opts, aws_opts, 0, err, errlen), "ASSUME_ROLE_", err,
                   errlen))
        goto fail;
    return p;
fail:
    sl_creds_provider_free(p);
    return NULL;
}

sl_creds_provider *sl_creds_chain_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                      char *err, size_t errlen)
{
    return chain_new(opts, aws_opts, 1, err, errlen);
}

sl_creds_provider *sl_creds_role_new(const sl_creds_opts *opts, const sl_aws_opts *aws_opts,
                                     const sl_creds_role *role, char *err, size_t errlen)
{
    sl_creds_provider *p;

    if (!role || !role->arn || !*role->arn) {
        sl_seterr(err, errlen, "creds: %sARN is not set", role && role->what ? role->what : "");
        return NULL;
    }
    if (!(p = provider_new(opts, aws_opts, err, errlen)))
        return NULL;
    /* The base is the whole chain, its own ASSUME_ROLE_ARN included: the role trusts whoever
       the worker is once that chain has run (role chaining, as the SDKs' source_profile). */
    if (set_assume(p, role->arn, role->external_id, role->session_name, role->duration_s,
                   chain_new(opts, aws_opts, 1, err, errlen), role->what ? role->what : "", err,
                   errlen)) {
        sl_creds_provider_free(p);
        return NULL;
    }
    return p;
}

void sl_creds_provider_free(sl_creds_provider *p)
{
    if (!p)
        return;
    /* The STS client borrows base, so it goes first. */
    sl_aws_free(p->sts);
    sl_creds_provider_free(p->base);
    sl_creds_cleanup(&p->cached);
    free(p->assume_arn);
    wipe_free(p->assume_external_id);
    free(p->assume_session);
    sl_aws_opts_cleanup(&p->aws);
    free(p);
}

void sl_creds_invalidate(sl_creds_provider *p)
{
    if (!p)
        return;
    sl_creds_cleanup(&p->cached);
    p->have_cached = 0;
    p->retry_after_mono_ms = 0;
    /* An ExpiredToken on assumed credentials may come from stale base credentials too. */
    sl_creds_invalidate(p->base);
}

const sl_aws_creds *sl_creds_signer(sl_creds_provider *p)
{
    return p ? &p->signer : NULL;
}

const char *sl_creds_source(const sl_creds_provider *p)
{
    return p ? p->source : "none";
}

int sl_creds_get(sl_creds_provider *p, sl_creds *out, char *err, size_t errlen)
{
    sl_creds fresh;
    char why[SL_ERRLEN] = "";
    long long now, mono;

    if (!p || !out)
        return sl_seterr(err, errlen, "sl_creds_get: NULL argument");
    now = p->wall_ms(p->clock_ud);
    mono = p->mono_ms(p->clock_ud);
    if (p->have_cached && !sl_creds_needs_refresh(&p->cached, now, p->margin_ms))
        goto serve;
    /* Inside the margin but still valid, and a refresh failed a moment ago: keep serving. */
    if (p->have_cached && !sl_creds_expired(&p->cached, now) && p->retry_after_mono_ms &&
        mono < p->retry_after_mono_ms)
        goto serve;

    memset(&fresh, 0, sizeof(fresh));
    if (fetch(p, &fresh, why, sizeof(why)) == 0) {
        sl_creds_cleanup(&p->cached);
        p->cached = fresh;
        OPENSSL_cleanse(&fresh, sizeof(fresh));
        p->have_cached = 1;
        p->retry_after_mono_ms = 0;
        goto serve;
    }
    if (p->have_cached && !sl_creds_expired(&p->cached, now)) {
        /* The SDKs' advisory refresh: the old credentials still work, so a flaky metadata
           endpoint must not fail the caller's request. The failure is logged (no secrets). */
        const char *kv[] = {"source", p->source, NULL};
        sl_log_kv(SL_LOG_WARN, NULL, kv, "credentials refresh failed, using cached ones: %s", why);
        p->retry_after_mono_ms = mono + CREDS_RETRY_AFTER_FAIL_MS;
        goto serve;
    }
    /* Expired and not renewable: drop them so nothing can serve them again. */
    sl_creds_cleanup(&p->cached);
    p->have_cached = 0;
    return sl_seterr(err, errlen, "%s", why);
serve:
    if (creds_copy(out, &p->cached))
        return sl_seterr(err, errlen, "creds: out of memory");
    return 0;
}
