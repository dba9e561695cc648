/*
 * creds_parse.c - the pure parsers of what the credential sources bring back (see creds.h):
 * ISO 8601 expirations, the container agent's and IMDS's JSON, STS's XML answers, and the
 * FULL_URI rule of the container source. No I/O; fuzzed by tests/fuzz (creds JSON, STS XML).
 * Secrets are wiped before their buffers are freed.
 */
#include "creds_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/crypto.h>

#include "json.h"
#include "xml.h"

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
    if (sl_creds_fill(out, ak, sk, tok, exp_ms, err, errlen))
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

char *sl_creds_trim(char *s)
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
    if (!*sl_creds_trim((char *)tok)) {
        sl_seterr(err, errlen, "STS response: <SessionToken> is empty");
        goto out;
    }
    if (sl_creds_parse_iso8601(sl_creds_trim((char *)exp), &exp_ms)) {
        sl_seterr(err, errlen, "STS response: Expiration is not an ISO 8601 timestamp");
        goto out;
    }
    if (sl_creds_fill(out, sl_creds_trim((char *)ak), sl_creds_trim((char *)sk),
                      sl_creds_trim((char *)tok), exp_ms, err, errlen))
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

/* --- the FULL_URI rule ---------------------------------------------------------------------- */

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
