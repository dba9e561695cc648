/*
 * sigv4_canon.c - the canonical forms SigV4 signs (see sigv4.h, and sigv4.c for the pipeline
 * that assembles them): AWS UriEncode, the canonical query (decoded, re-encoded, sorted), the
 * canonical headers (lowercased, trimmed, folded, the never-signed list), and the canonical URI
 * (normalised and encoded twice, or as sent for S3). Pure.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sigv4_canon.h"

static const char hexdig_upper[] = "0123456789ABCDEF";

static int is_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
}

static int is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* AWS UriEncode into b: unreserved bytes kept, '/' kept when keep_slash, the rest %XX. */
int sl_sigv4_canon_encode(sl_buf *b, const char *in, size_t len, int keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        char enc[3];
        if (is_unreserved(c) || (keep_slash && c == '/')) {
            if (sl_buf_append(b, &in[i], 1))
                return -1;
            continue;
        }
        enc[0] = '%';
        enc[1] = hexdig_upper[c >> 4];
        enc[2] = hexdig_upper[c & 0xf];
        if (sl_buf_append(b, enc, 3))
            return -1;
    }
    return 0;
}

char *sl_sigv4_uri_encode(const char *in, size_t len, int keep_slash)
{
    sl_buf b;

    if (!in)
        len = 0;
    if (len > (SIZE_MAX - 1) / 3)
        return NULL;
    sl_buf_init(&b, len * 3 + 1);
    if (sl_sigv4_canon_encode(&b, in, len, keep_slash) || sl_buf_append(&b, "", 0)) {
        sl_buf_cleanup(&b);
        return NULL;
    }
    return sl_buf_steal(&b);
}

/*
 * Decodes %XX escapes of in[0..len) into b. A '%' not followed by two hex digits is a literal
 * '%', and '+' stays '+': SigV4 queries are RFC 3986, not HTML forms.
 */
static int buf_pct_decode(sl_buf *b, const char *in, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%' && len - i >= 3 && hexval((unsigned char)in[i + 1]) >= 0 &&
            hexval((unsigned char)in[i + 2]) >= 0) {
            c = (char)(hexval((unsigned char)in[i + 1]) * 16 + hexval((unsigned char)in[i + 2]));
            i += 2;
        }
        if (sl_buf_append(b, &c, 1))
            return -1;
    }
    return 0;
}

/* Decode then encode: the canonical form of one query key or value. NULL on OOM. */
static char *canon_component(const char *in, size_t len)
{
    sl_buf dec;
    char *enc;

    sl_buf_init(&dec, SIGV4_MAX_QUERY + 1);
    if (buf_pct_decode(&dec, in, len)) {
        sl_buf_cleanup(&dec);
        return NULL;
    }
    enc = sl_sigv4_uri_encode(dec.data ? dec.data : "", dec.len, 0);
    sl_buf_cleanup(&dec);
    return enc;
}

static int add_param(sigv4_lists *l, const char *k, size_t klen, const char *v, size_t vlen)
{
    sigv4_param *p;

    if (l->nparams == l->capparams) {
        size_t ncap = l->capparams ? l->capparams * 2 : 16;
        if (l->nparams >= SIGV4_MAX_PARAMS)
            return -1;
        p = realloc(l->params, ncap * sizeof(*p));
        if (!p)
            return -1;
        l->params = p;
        l->capparams = ncap;
    }
    p = &l->params[l->nparams];
    p->key = canon_component(k, klen);
    p->value = canon_component(v, vlen);
    if (!p->key || !p->value) {
        free(p->key);
        free(p->value);
        return -1;
    }
    l->nparams++;
    return 0;
}

/* Splits the wire query on '&' (empty pieces skipped, as curl and the SDKs do) and '='. */
int sl_sigv4_canon_query(sigv4_lists *l, const char *q)
{
    const char *p = q;

    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        if (n) {
            const char *eq = memchr(p, '=', n);
            size_t klen = eq ? (size_t)(eq - p) : n;
            const char *v = eq ? eq + 1 : "";
            size_t vlen = eq ? n - klen - 1 : 0;
            if (add_param(l, p, klen, v, vlen))
                return -1;
        }
        p = amp ? amp + 1 : NULL;
    }
    return 0;
}

int sl_sigv4_canon_cmp_param(const void *a, const void *b)
{
    const sigv4_param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

int sl_sigv4_canon_cmp_header(const void *a, const void *b)
{
    const sigv4_hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Trims and folds whitespace runs (including obs-fold line breaks) into one space. */
static char *canon_header_value(const char *v)
{
    size_t n = strlen(v), o = 0;
    char *out = malloc(n + 1);
    int pending_space = 0;

    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        if (is_space(c)) {
            pending_space = o > 0;
            continue;
        }
        if (pending_space)
            out[o++] = ' ';
        pending_space = 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

int sl_sigv4_canon_header(sigv4_lists *l, const char *name, const char *value)
{
    sigv4_hdr *h = &l->hdrs[l->nhdrs];
    size_t n = strlen(name);

    h->name = malloc(n + 1);
    h->value = canon_header_value(value);
    if (!h->name || !h->value) {
        free(h->name);
        free(h->value);
        return -1;
    }
    for (size_t i = 0; i <= n; i++) {
        char c = name[i];
        h->name[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    h->order = l->nhdrs++;
    return 0;
}

void sl_sigv4_canon_header_free(sigv4_hdr *h)
{
    free(h->name);
    /* A value may be the session token, a credential: do not leave it in freed memory. */
    OPENSSL_cleanse(h->value, strlen(h->value));
    free(h->value);
    h->name = h->value = NULL;
}

void sl_sigv4_canon_lists_cleanup(sigv4_lists *l)
{
    for (size_t i = 0; i < l->nhdrs; i++)
        sl_sigv4_canon_header_free(&l->hdrs[i]);
    free(l->hdrs);
    for (size_t i = 0; i < l->nparams; i++) {
        free(l->params[i].key);
        OPENSSL_cleanse(l->params[i].value, strlen(l->params[i].value));
        free(l->params[i].value);
    }
    free(l->params);
    memset(l, 0, sizeof(*l));
}

/*
 * Non-S3 canonical URI, as botocore's remove_dot_segments (RFC 3986 5.2.4, plus the AWS rule
 * that empty segments from "//" are dropped): "." and empty segments go, ".." pops one, a
 * trailing '/' stays when something is left. Then the result is UriEncoded with '/' kept,
 * which encodes the already-encoded wire path a second time ("%20" -> "%2520").
 */
int sl_sigv4_canon_uri(sl_buf *b, const char *path, int s3, unsigned flags)
{
    size_t len = strlen(path), nseg = 0, nslash = 1;
    const char **seg = NULL;
    size_t *seglen = NULL;
    const char *p = path;
    int rc = -1;

    /* S3 signs the path encoded once, as sent, not normalised. */
    if (s3)
        return sl_buf_append(b, path, len);
    if (flags & SL_SIGV4_NO_NORMALIZE)
        return sl_sigv4_canon_encode(b, path, len, 1);

    for (size_t i = 0; i < len; i++)
        nslash += path[i] == '/';
    seg = malloc(nslash * sizeof(*seg));
    seglen = malloc(nslash * sizeof(*seglen));
    if (!seg || !seglen)
        goto out;
    while (p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (nseg)
                nseg--;
        } else if (n && !(n == 1 && p[0] == '.')) {
            seg[nseg] = p;
            seglen[nseg++] = n;
        }
        p = slash ? slash + 1 : NULL;
    }
    if (sl_buf_append(b, "/", 1))
        goto out;
    for (size_t i = 0; i < nseg; i++) {
        if ((i && sl_buf_append(b, "/", 1)) || sl_sigv4_canon_encode(b, seg[i], seglen[i], 1))
            goto out;
    }
    if (nseg && len > 1 && path[len - 1] == '/' && sl_buf_append(b, "/", 1))
        goto out;
    rc = 0;
out:
    free(seg);
    free(seglen);
    return rc;
}

int sl_sigv4_canon_unsigned_header(const char *lname, int presign, int has_token, int s3)
{
    /* botocore's SIGNED_HEADERS_BLACKLIST (hop-by-hop headers, and ones that proxies, curl
       or tracing rewrite in flight), plus authorization, which is the output. */
    static const char *const never[] = {"authorization",
                                        "baggage",
                                        "connection",
                                        "expect",
                                        "keep-alive",
                                        "proxy-authenticate",
                                        "proxy-authorization",
                                        "te",
                                        "traceparent",
                                        "tracestate",
                                        "trailer",
                                        "transfer-encoding",
                                        "upgrade",
                                        "user-agent",
                                        "x-amzn-trace-id"};
    for (size_t i = 0; i < SL_ARRAY_LEN(never); i++)
        if (strcmp(lname, never[i]) == 0)
            return 1;
    if (presign)
        return 0;
    /* Header form: these are ours; a stale copy from a retry must not be signed twice. */
    if (strcmp(lname, "x-amz-date") == 0)
        return 1;
    if (has_token && strcmp(lname, "x-amz-security-token") == 0)
        return 1;
    if (s3 && strcmp(lname, "x-amz-content-sha256") == 0)
        return 1;
    return 0;
}
