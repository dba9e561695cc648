/*
 * sigv4.c - AWS Signature Version 4 (see sigv4.h).
 *
 * Spec: "Create a signed AWS API request" and "Authenticating Requests: Using Query Parameters"
 * (AWS docs), checked against the botocore and aws-c-auth test suites in ../shared/sigv4 and,
 * request by request, against botocore itself (tests/integration/test_sigv4_botocore.py).
 *
 *   CanonicalRequest = Method \n CanonicalURI \n CanonicalQuery \n CanonicalHeaders \n
 *                      SignedHeaders \n HexPayloadHash
 *   StringToSign     = "AWS4-HMAC-SHA256" \n AmzDate \n Scope \n Hex(SHA256(CanonicalRequest))
 *   SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 *                           "aws4_request")
 *
 * All hashing and HMAC is OpenSSL's; the key chain is wiped with OPENSSL_cleanse.
 *
 * This file is the pipeline: validation, payload hash, the key chain and the assembly of the
 * canonical request, string to sign, Authorization header or presigned query. The canonical
 * forms of the parts (UriEncode, query, headers, URI) are in sigv4_canon.c.
 */
#include "sigv4.h"
#include "sigv4_canon.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED "UNSIGNED-PAYLOAD"
#define SIGV4_MAX_HEADERS 256
#define SIGV4_MAX_PATH ((size_t)8 * 1024)
#define SIGV4_MAX_FIELD 1024 /* access key, secret, region, service, payload hash */
#define SIGV4_MAX_TOKEN ((size_t)16 * 1024)
/* The canonical request holds every header value and the query: cap it well above both. */
#define SIGV4_TEXT_LIMIT ((size_t)4 * 1024 * 1024)
#define SIGV4_MAX_EXPIRES 604800L /* 7 days: the presigned-URL maximum */

static const char hexdig_lower[] = "0123456789abcdef";

/* RFC 7230 tchar: what a header name may be made of. */
static int is_tchar(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static void to_hex(const unsigned char *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig_lower[in[i] >> 4];
        out[2 * i + 1] = hexdig_lower[in[i] & 0xf];
    }
    out[2 * n] = '\0';
}

/* Hex SHA-256 of data with md (a fetched SHA-256 or EVP_sha256()); "" on an OpenSSL failure. */
static void sha256_hex_md(const EVP_MD *md, const void *data, size_t len, char out[65])
{
    unsigned char h[EVP_MAX_MD_SIZE];
    unsigned int hlen = 0;

    if (len == 0) { /* every body-less request: SHA-256("") */
        memcpy(out, SL_SIGV4_EMPTY_SHA256, sizeof(SL_SIGV4_EMPTY_SHA256));
        return;
    }
    if (!EVP_Digest(data ? data : "", len, h, &hlen, md, NULL) || hlen != 32) {
        /* Only on a broken OpenSSL; an empty hash makes the signature fail loudly. */
        out[0] = '\0';
        return;
    }
    to_hex(h, 32, out);
}

void sl_sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
    sha256_hex_md(EVP_sha256(), data, len, out);
}

/* The cache's fetched SHA-256, fetched on first use; EVP_sha256() without a cache or when the
   fetch fails (the same algorithm, looked up per call). */
static const EVP_MD *cache_sha256(sl_sigv4_keycache *c)
{
    if (!c)
        return EVP_sha256();
    if (!c->sha256)
        c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    return c->sha256 ? c->sha256 : EVP_sha256();
}

/* A new HMAC-SHA256 context keyed with key, from the cache's fetched HMAC; NULL on failure
   (the caller then signs with key and HMAC()). */
static EVP_MAC_CTX *cache_keyed_mac(sl_sigv4_keycache *c, const unsigned char key[32])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC_CTX *m;

    if (!c->hmac)
        c->hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!c->hmac)
        return NULL;
    m = EVP_MAC_CTX_new(c->hmac);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!m || !EVP_MAC_init(m, key, 32, params)) {
        EVP_MAC_CTX_free(m);
        return NULL;
    }
    return m;
}

static int hmac_sha256(const void *key, size_t keylen, const void *data, size_t len,
                       unsigned char out[32])
{
    unsigned int outlen = 0;

    if (keylen > SIGV4_MAX_FIELD + 4)
        return -1;
    if (!HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) || outlen != 32)
        return -1;
    return 0;
}

static int has_ctl(const char *s, int allow_space)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c == 0x7f || (!allow_space && c == ' '))
            return 1;
    }
    return 0;
}

static int check_field(const char *s, size_t max, int allow_slash)
{
    size_t n = s ? strlen(s) : 0;
    if (n == 0 || n > max || has_ctl(s, 0))
        return -1;
    if (!allow_slash && strchr(s, '/'))
        return -1;
    return 0;
}

static int validate(const sl_sigv4_request *req, const sl_sigv4_keys *keys,
                    const sl_sigv4_params *params, char *err, size_t errlen)
{
    size_t mlen;

    if (!req || !keys || !params)
        return sl_seterr(err, errlen, "sigv4: missing request, keys or params");
    mlen = req->method ? strlen(req->method) : 0;
    if (mlen == 0 || mlen > 32)
        return sl_seterr(err, errlen, "sigv4: bad method");
    for (size_t i = 0; i < mlen; i++)
        if (req->method[i] < 'A' || req->method[i] > 'Z')
            return sl_seterr(err, errlen, "sigv4: bad method (want upper-case letters)");
    if (!req->path || req->path[0] != '/')
        return sl_seterr(err, errlen, "sigv4: path must start with '/'");
    if (strlen(req->path) > SIGV4_MAX_PATH || has_ctl(req->path, 1) || strpbrk(req->path, "?#"))
        return sl_seterr(err, errlen,
                         "sigv4: bad path (control byte, '?' or '#', or over %zu bytes)",
                         SIGV4_MAX_PATH);
    if (req->query &&
        (strlen(req->query) > SIGV4_MAX_QUERY || has_ctl(req->query, 1) || strchr(req->query, '#')))
        return sl_seterr(err, errlen, "sigv4: bad query (control byte, '#', or over %zu bytes)",
                         SIGV4_MAX_QUERY);
    if (req->nheaders && !req->headers)
        return sl_seterr(err, errlen, "sigv4: nheaders without headers");
    if (req->nheaders > SIGV4_MAX_HEADERS)
        return sl_seterr(err, errlen, "sigv4: more than %d headers", SIGV4_MAX_HEADERS);
    for (size_t i = 0; i < req->nheaders; i++) {
        const char *n = req->headers[i].name;
        if (!n || !*n || !req->headers[i].value || strlen(n) > 256)
            return sl_seterr(err, errlen, "sigv4: header %zu has no name or value", i);
        for (const char *c = n; *c; c++)
            if (!is_tchar((unsigned char)*c))
                return sl_seterr(err, errlen, "sigv4: bad header name");
    }
    if (req->body_len && !req->body)
        return sl_seterr(err, errlen, "sigv4: body_len without body");
    if (req->payload_hash && check_field(req->payload_hash, 128, 0))
        return sl_seterr(err, errlen, "sigv4: bad payload hash");
    if (check_field(keys->access_key, SIGV4_MAX_FIELD, 0) ||
        check_field(keys->secret_key, SIGV4_MAX_FIELD, 1))
        return sl_seterr(err, errlen, "sigv4: missing or malformed access key or secret key");
    if (keys->session_token && *keys->session_token &&
        (strlen(keys->session_token) > SIGV4_MAX_TOKEN || has_ctl(keys->session_token, 0)))
        return sl_seterr(err, errlen, "sigv4: malformed session token");
    if (check_field(params->region, 64, 0) || check_field(params->service, 64, 0))
        return sl_seterr(err, errlen, "sigv4: missing or malformed region or service");
    if (params->presign && (params->expires < 1 || params->expires > SIGV4_MAX_EXPIRES))
        return sl_seterr(err, errlen, "sigv4: expires %ld outside 1..%ld", params->expires,
                         SIGV4_MAX_EXPIRES);
    return 0;
}

/* The SigV4 signing key for (secret, date, region, service); every intermediate key is wiped. */
static int derive_key(const char *secret, const char *date, const char *region, const char *service,
                      unsigned char key[32])
{
    unsigned char k1[32], k2[32];
    char kseed[SIGV4_MAX_FIELD + 5];
    size_t slen = strlen(secret);
    int rc = -1;

    memcpy(kseed, "AWS4", 4);
    memcpy(kseed + 4, secret, slen);
    if (hmac_sha256(kseed, slen + 4, date, strlen(date), k1) ||
        hmac_sha256(k1, 32, region, strlen(region), k2) ||
        hmac_sha256(k2, 32, service, strlen(service), k1) ||
        hmac_sha256(k1, 32, "aws4_request", 12, key))
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(kseed, sizeof(kseed));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    return rc;
}

void sl_sigv4_keycache_cleanup(sl_sigv4_keycache *c)
{
    if (!c)
        return;
    for (unsigned i = 0; i < SL_SIGV4_KEYCACHE_SLOTS; i++)
        EVP_MAC_CTX_free(c->slot[i].mac); /* frees and wipes its copy of the key */
    EVP_MAC_free(c->hmac);
    EVP_MD_free(c->sha256);
    OPENSSL_cleanse(c, sizeof(*c));
}

/* The cache slot holding this (day, region, service, secret), filled by deriving the key when
   none does; -1 with the key derived into key when there is no cache, or the region or service
   is longer than a slot's field (derived, not cached). Returns -2 on an OpenSSL failure. The
   secret is identified by its SHA-256, so the cache never holds it in clear. */
static int signing_slot(sl_sigv4_keycache *c, const char *secret, const char *date,
                        const char *region, const char *service, unsigned char key[32])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    unsigned i;

    if (!c || strlen(region) >= sizeof(c->slot[0].region) ||
        strlen(service) >= sizeof(c->slot[0].service))
        return derive_key(secret, date, region, service, key) ? -2 : -1;
    if (!EVP_Digest(secret, strlen(secret), md, &mdlen, cache_sha256(c), NULL) || mdlen != 32)
        return -2;
    for (i = 0; i < SL_SIGV4_KEYCACHE_SLOTS; i++) {
        if (c->slot[i].used && strcmp(c->slot[i].date, date) == 0 &&
            strcmp(c->slot[i].region, region) == 0 && strcmp(c->slot[i].service, service) == 0 &&
            CRYPTO_memcmp(c->slot[i].secret_md, md, 32) == 0) {
            c->hits++;
            OPENSSL_cleanse(md, sizeof(md));
            return (int)i;
        }
    }
    if (derive_key(secret, date, region, service, key)) {
        OPENSSL_cleanse(md, sizeof(md));
        return -2;
    }
    i = c->next++ % SL_SIGV4_KEYCACHE_SLOTS;
    EVP_MAC_CTX_free(c->slot[i].mac);
    snprintf(c->slot[i].date, sizeof(c->slot[i].date), "%s", date);
    snprintf(c->slot[i].region, sizeof(c->slot[i].region), "%s", region);
    snprintf(c->slot[i].service, sizeof(c->slot[i].service), "%s", service);
    memcpy(c->slot[i].secret_md, md, 32);
    memcpy(c->slot[i].key, key, 32);
    c->slot[i].mac = cache_keyed_mac(c, key);
    c->slot[i].used = 1;
    c->misses++;
    OPENSSL_cleanse(md, sizeof(md));
    return (int)i;
}

/* Signature = Hex(HMAC(signing key, StringToSign)); the key is wiped after use. A cached key
   signs with its slot's keyed context, re-initialised in place (HMAC keeps the key), which
   saves the two key-pad blocks and the algorithm lookup of a one-shot HMAC(). */
static int signature_hex(sl_sigv4_keycache *c, const char *secret, const char *date,
                         const char *region, const char *service, const char *sts, size_t stslen,
                         char out[65])
{
    unsigned char key[32], sig[32];
    size_t siglen = 0;
    int slot, rc = -1;

    slot = signing_slot(c, secret, date, region, service, key);
    if (slot == -2)
        goto out;
    if (slot >= 0 && c->slot[slot].mac) {
        EVP_MAC_CTX *m = c->slot[slot].mac;
        if (!EVP_MAC_init(m, NULL, 0, NULL) ||
            !EVP_MAC_update(m, (const unsigned char *)sts, stslen) ||
            !EVP_MAC_final(m, sig, &siglen, sizeof(sig)) || siglen != 32)
            goto out;
    } else if (hmac_sha256(slot >= 0 ? c->slot[slot].key : key, 32, sts, stslen, sig)) {
        goto out;
    }
    to_hex(sig, 32, out);
    rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(sig, sizeof(sig));
    return rc;
}

/* Appends each string up to the NULL that ends the list. The request's text is built of
   strings alone, and a vsnprintf() per piece (sl_buf_appendf) showed in a copy worker's
   profile at about as much as the hashing. */
SL_SENTINEL static int put(sl_buf *b, ...)
{
    va_list ap;
    const char *s;
    int rc = 0;

    va_start(ap, b);
    while (rc == 0 && (s = va_arg(ap, const char *)) != NULL)
        rc = sl_buf_append(b, s, strlen(s));
    va_end(ap);
    return rc;
}

/* Appends "&key=UriEncode(value)" (no '&' when the buffer is empty). */
static int query_append(sl_buf *b, const char *key, const char *value)
{
    if ((b->len && sl_buf_append(b, "&", 1)) || put(b, key, "=", NULL) ||
        sl_sigv4_canon_encode(b, value, strlen(value), 0))
        return -1;
    return 0;
}

int sl_sigv4_sign(const sl_sigv4_request *req, const sl_sigv4_keys *keys,
                  const sl_sigv4_params *params, sl_sigv4_result *out, char *err, size_t errlen)
{
    return sl_sigv4_sign_ex(req, keys, params, 0, out, err, errlen);
}

/*
 * The payload hash a caller put in an x-amz-content-sha256 header: UNSIGNED-PAYLOAD, a
 * STREAMING-* algorithm (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-
 * TRAILER, ...) or a lowercase hex SHA-256. botocore's canonical_request takes that header's
 * value over the hash it would compute, and S3 checks the two agree, so signing anything
 * else than what is sent cannot succeed. Returns 1 with out filled, 0 when no such header,
 * -1 when its value is none of those (or two copies disagree).
 */
static int caller_payload_hash(const sl_sigv4_request *req, char *out, size_t outlen)
{
    int found = 0;

    for (size_t i = 0; i < req->nheaders; i++) {
        const char *v = req->headers[i].value;
        size_t n;
        int ok;

        if (strcasecmp(req->headers[i].name, "x-amz-content-sha256") != 0)
            continue;
        while (*v == ' ' || *v == '\t')
            v++;
        n = strlen(v);
        while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
            n--;
        if (n == 0 || n >= outlen)
            return -1;
        if (n == 64) {
            ok = 1;
            for (size_t k = 0; k < n && ok; k++)
                ok = (v[k] >= '0' && v[k] <= '9') || (v[k] >= 'a' && v[k] <= 'f');
        } else if (n == 16 && strncmp(v, SIGV4_UNSIGNED, 16) == 0) {
            ok = 1;
        } else {
            ok = n > 10 && strncmp(v, "STREAMING-", 10) == 0;
            for (size_t k = 10; k < n && ok; k++)
                ok = (v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= '0' && v[k] <= '9') || v[k] == '-';
        }
        if (!ok || (found && (strlen(out) != n || strncmp(out, v, n) != 0)))
            return -1;
        memcpy(out, v, n);
        out[n] = '\0';
        found = 1;
    }
    return found;
}

int sl_sigv4_sign_ex(const sl_sigv4_request *req, const sl_sigv4_keys *keys,
                     const sl_sigv4_params *params, unsigned flags, sl_sigv4_result *out, char *err,
                     size_t errlen)
{
    sl_sigv4_result r;
    sigv4_lists l;
    sl_buf creq, sts, signed_hdrs, pq, authz;
    struct tm tm;
    char date[9], payload_hex[65], creq_hash[65], expires[24], caller_hash[129];
    const char *payload, *token;
    char *scope = NULL, *credential = NULL;
    int have_host = 0, rc = -1;
    size_t nadd = 0;

    memset(&r, 0, sizeof(r));
    memset(&l, 0, sizeof(l));
    sl_buf_init(&creq, SIGV4_TEXT_LIMIT);
    sl_buf_init(&sts, SIGV4_TEXT_LIMIT);
    sl_buf_init(&signed_hdrs, SIGV4_TEXT_LIMIT);
    sl_buf_init(&pq, SIGV4_TEXT_LIMIT);
    sl_buf_init(&authz, SIGV4_TEXT_LIMIT);

    if (!out) {
        sl_seterr(err, errlen, "sigv4: no result to fill");
        goto fail;
    }
    if (validate(req, keys, params, err, errlen))
        goto fail;
    token = keys->session_token && *keys->session_token ? keys->session_token : NULL;

    if (!gmtime_r(&params->when, &tm) ||
        strftime(r.amz_date, sizeof(r.amz_date), "%Y%m%dT%H%M%SZ", &tm) != 16) {
        sl_seterr(err, errlen, "sigv4: signing time out of range");
        goto fail;
    }
    memcpy(date, r.amz_date, 8);
    date[8] = '\0';

    /* Payload: given hash, else the caller's x-amz-content-sha256 header, else
       UNSIGNED-PAYLOAD for S3 presigned URLs (the payload is not known when the URL is made),
       else the SHA-256 of the body. */
    payload = req->payload_hash;
    if (!payload) {
        int found = caller_payload_hash(req, caller_hash, sizeof(caller_hash));
        if (found < 0) {
            sl_seterr(err, errlen,
                      "sigv4: x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-*, or a "
                      "lowercase hex SHA-256 (one value)");
            goto fail;
        }
        if (found)
            payload = caller_hash;
    }
    if (!payload && params->presign && params->s3) {
        payload = SIGV4_UNSIGNED;
    } else if (!payload) {
        sha256_hex_md(cache_sha256(params->cache), req->body, req->body_len, payload_hex);
        if (!payload_hex[0]) {
            sl_seterr(err, errlen, "sigv4: OpenSSL SHA-256 failed");
            goto fail;
        }
        payload = payload_hex;
    }

    /* Header form adds x-amz-date, the session token and (S3) the payload hash as headers. */
    if (!params->presign) {
        r.add_headers[nadd].name = "x-amz-date";
        r.add_headers[nadd++].value = sl_strdup0(r.amz_date);
        if (token) {
            r.add_headers[nadd].name = "x-amz-security-token";
            r.add_headers[nadd++].value = sl_strdup0(token);
        }
        if (params->s3) {
            r.add_headers[nadd].name = "x-amz-content-sha256";
            r.add_headers[nadd++].value = sl_strdup0(payload);
        }
        r.nadd_headers = nadd;
        for (size_t i = 0; i < nadd; i++)
            if (!r.add_headers[i].value)
                goto oom;
    }

    l.hdrs = calloc(req->nheaders + nadd + 1, sizeof(*l.hdrs));
    if (!l.hdrs)
        goto oom;
    for (size_t i = 0; i < req->nheaders; i++) {
        sigv4_hdr *h;
        if (sl_sigv4_canon_header(&l, req->headers[i].name, req->headers[i].value))
            goto oom;
        h = &l.hdrs[l.nhdrs - 1];
        if (strcmp(h->name, "host") == 0)
            have_host = 1;
        if (sl_sigv4_canon_unsigned_header(h->name, params->presign, token != NULL, params->s3)) {
            sl_sigv4_canon_header_free(h);
            l.nhdrs--;
        }
    }
    if (!have_host) {
        sl_seterr(err, errlen, "sigv4: request has no host header");
        goto fail;
    }
    for (size_t i = 0; i < nadd; i++)
        if (sl_sigv4_canon_header(&l, r.add_headers[i].name, r.add_headers[i].value))
            goto oom;
    qsort(l.hdrs, l.nhdrs, sizeof(*l.hdrs), sl_sigv4_canon_cmp_header);
    for (size_t i = 0; i < l.nhdrs; i++) {
        if (i && strcmp(l.hdrs[i].name, l.hdrs[i - 1].name) == 0)
            continue;
        if ((signed_hdrs.len && sl_buf_append(&signed_hdrs, ";", 1)) ||
            put(&signed_hdrs, l.hdrs[i].name, NULL))
            goto oom;
    }

    if (put(&sts, date, "/", params->region, "/", params->service, "/aws4_request", NULL))
        goto oom;
    scope = sl_buf_steal(&sts);
    if (put(&sts, keys->access_key, "/", scope, NULL))
        goto oom;
    credential = sl_buf_steal(&sts);

    /* Query: the wire query, plus in query form the X-Amz-* parameters (not the signature). */
    if (req->query && sl_sigv4_canon_query(&l, req->query))
        goto toolarge;
    if (params->presign) {
        snprintf(expires, sizeof(expires), "%ld", params->expires);
        if (query_append(&pq, "X-Amz-Algorithm", SIGV4_ALGORITHM) ||
            query_append(&pq, "X-Amz-Credential", credential) ||
            query_append(&pq, "X-Amz-Date", r.amz_date) ||
            query_append(&pq, "X-Amz-Expires", expires) ||
            query_append(&pq, "X-Amz-SignedHeaders", signed_hdrs.data) ||
            (token && !params->omit_token_from_signature &&
             query_append(&pq, "X-Amz-Security-Token", token)))
            goto oom;
        /* Parsed back from what was just built, so they sort through the same path as the
           wire query. */
        if (sl_sigv4_canon_query(&l, pq.data))
            goto toolarge;
        /* A token the service wants added after signing (IoT) is sent but not signed. */
        if (token && params->omit_token_from_signature &&
            query_append(&pq, "X-Amz-Security-Token", token))
            goto oom;
    }
    if (l.nparams > 1)
        qsort(l.params, l.nparams, sizeof(*l.params), sl_sigv4_canon_cmp_param);

    /* Canonical request. */
    if (put(&creq, req->method, "\n", NULL) ||
        sl_sigv4_canon_uri(&creq, req->path, params->s3, flags) || sl_buf_append(&creq, "\n", 1))
        goto oom;
    for (size_t i = 0; i < l.nparams; i++)
        if (put(&creq, i ? "&" : "", l.params[i].key, "=", l.params[i].value, NULL))
            goto oom;
    if (sl_buf_append(&creq, "\n", 1))
        goto oom;
    for (size_t i = 0; i < l.nhdrs; i++) {
        int same = i && strcmp(l.hdrs[i].name, l.hdrs[i - 1].name) == 0;
        /* Repeated names: one line, values joined with ',' in the order sent. */
        if (same ? put(&creq, ",", l.hdrs[i].value, NULL)
                 : put(&creq, i ? "\n" : "", l.hdrs[i].name, ":", l.hdrs[i].value, NULL))
            goto oom;
    }
    if (put(&creq, "\n\n", signed_hdrs.data, "\n", payload, NULL))
        goto oom;

    sha256_hex_md(cache_sha256(params->cache), creq.data, creq.len, creq_hash);
    if (!creq_hash[0]) {
        sl_seterr(err, errlen, "sigv4: OpenSSL SHA-256 failed");
        goto fail;
    }
    if (put(&sts, SIGV4_ALGORITHM "\n", r.amz_date, "\n", scope, "\n", creq_hash, NULL))
        goto oom;
    if (signature_hex(params->cache, keys->secret_key, date, params->region, params->service,
                      sts.data, sts.len, r.signature)) {
        sl_seterr(err, errlen, "sigv4: OpenSSL HMAC-SHA256 failed");
        goto fail;
    }

    if (params->presign) {
        sl_buf full;
        int bad;
        sl_buf_init(&full, SIGV4_TEXT_LIMIT);
        bad = (req->query && *req->query && put(&full, req->query, "&", NULL)) ||
              sl_buf_append(&full, pq.data, pq.len) ||
              put(&full, "&X-Amz-Signature=", r.signature, NULL);
        if (bad) {
            sl_buf_cleanup(&full);
            goto oom;
        }
        r.presigned_query = sl_buf_steal(&full);
    } else {
        if (put(&authz, SIGV4_ALGORITHM " Credential=", credential,
                ", SignedHeaders=", signed_hdrs.data, ", Signature=", r.signature, NULL))
            goto oom;
        r.authorization = sl_buf_steal(&authz);
    }
    r.canonical_request = sl_buf_steal(&creq);
    r.string_to_sign = sl_buf_steal(&sts);
    *out = r;
    memset(&r, 0, sizeof(r));
    rc = 0;
    goto out;

toolarge:
    sl_seterr(err, errlen, "sigv4: query has more than %d parameters, or out of memory",
              SIGV4_MAX_PARAMS);
    goto fail;
oom:
    sl_seterr(err, errlen, "sigv4: out of memory (or request text over %zu bytes)",
              SIGV4_TEXT_LIMIT);
fail:
    sl_sigv4_result_cleanup(&r);
out:
    sl_sigv4_canon_lists_cleanup(&l);
    if (sts.data)
        OPENSSL_cleanse(sts.data, sts.len);
    if (pq.data)
        OPENSSL_cleanse(pq.data, pq.len);
    /* The canonical request holds the session token (x-amz-security-token), the
       Authorization value the signature. */
    if (creq.data)
        OPENSSL_cleanse(creq.data, creq.len);
    if (authz.data)
        OPENSSL_cleanse(authz.data, authz.len);
    sl_buf_cleanup(&creq);
    sl_buf_cleanup(&sts);
    sl_buf_cleanup(&signed_hdrs);
    sl_buf_cleanup(&pq);
    sl_buf_cleanup(&authz);
    free(scope);
    free(credential);
    return rc;
}

void sl_sigv4_result_cleanup(sl_sigv4_result *r)
{
    if (!r)
        return;
    if (r->canonical_request) /* holds the session token */
        OPENSSL_cleanse(r->canonical_request, strlen(r->canonical_request));
    free(r->canonical_request);
    if (r->authorization)
        OPENSSL_cleanse(r->authorization, strlen(r->authorization));
    if (r->string_to_sign)
        OPENSSL_cleanse(r->string_to_sign, strlen(r->string_to_sign));
    free(r->string_to_sign);
    free(r->authorization);
    if (r->presigned_query)
        OPENSSL_cleanse(r->presigned_query, strlen(r->presigned_query));
    free(r->presigned_query);
    for (size_t i = 0; i < r->nadd_headers && i < SL_ARRAY_LEN(r->add_headers); i++) {
        char *v = (char *)(uintptr_t)r->add_headers[i].value;
        if (v) {
            OPENSSL_cleanse(v, strlen(v));
            free(v);
        }
    }
    OPENSSL_cleanse(r->signature, sizeof(r->signature));
    memset(r, 0, sizeof(*r));
}
