/*
 * aws_endpoint.c - see aws_endpoint.h.
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
 */
#include "aws_endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "sigv4.h"

/* --- options ---------------------------------------------------------------------------------- */

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

int sl_aws_endpoint_check(const char *url, char *err, size_t errlen)
{
    char *s = NULL, *h = NULL, *b = NULL;

    if (parse_base(url, &s, &h, &b, err, errlen))
        return -1;
    free(s);
    free(h);
    free(b);
    return 0;
}

/* a b c d e as one heap string, or NULL when memory ran out. */
static char *str_join(const char *a, const char *b, const char *c, const char *d, const char *e)
{
    const char *v[5] = {a, b, c, d, e};
    size_t len[5], n = 1;
    char *s, *w;

    for (size_t i = 0; i < 5; i++)
        n += len[i] = strlen(v[i]);
    if (!(s = w = malloc(n)))
        return NULL;
    for (size_t i = 0; i < 5; i++) {
        memcpy(w, v[i], len[i]);
        w += len[i];
    }
    *w = '\0';
    return s;
}

int sl_aws_endpoint_base_init(const sl_aws_opts *opts, const char *service, sl_aws_endpoint_base *b,
                              char *err, size_t errlen)
{
    const char *override;

    memset(b, 0, sizeof(*b));
    if (!opts || !service || !*service)
        return sl_seterr(err, errlen, "endpoint: no service");
    if (!opts->region || !*opts->region)
        return sl_seterr(err, errlen, "endpoint: no region (AWS_REGION)");
    if (!(b->service = strdup(service)))
        return sl_seterr(err, errlen, "endpoint: out of memory");
    b->is_s3 = strcmp(service, "s3") == 0;
    override = service_override(opts, service);
    b->path_style = b->is_s3 && (opts->s3_path_style || override);
    if (override) {
        if (parse_base(override, &b->scheme, &b->hostport, &b->base, err, errlen)) {
            sl_aws_endpoint_base_cleanup(b);
            return -1;
        }
        return 0;
    }
    /* China partition regions live under amazonaws.com.cn. */
    b->scheme = strdup("https");
    b->base = strdup("");
    b->hostport =
        str_join(service, ".", opts->region, ".",
                 strncmp(opts->region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com");
    if (!b->scheme || !b->base || !b->hostport) {
        sl_aws_endpoint_base_cleanup(b);
        return sl_seterr(err, errlen, "endpoint: out of memory");
    }
    return 0;
}

void sl_aws_endpoint_base_cleanup(sl_aws_endpoint_base *b)
{
    if (!b)
        return;
    free(b->service);
    free(b->scheme);
    free(b->hostport);
    free(b->base);
    memset(b, 0, sizeof(*b));
}

int sl_aws_endpoint_resolve_at(const sl_aws_endpoint_base *b, const char *bucket, const char *path,
                               const char *query, sl_aws_endpoint *out, char *err, size_t errlen)
{
    char *ebucket = NULL, *host = NULL, *fullpath = NULL, *url = NULL;
    int path_style;

    if (!path || !*path)
        path = "/";
    if (path[0] != '/')
        return sl_seterr(err, errlen, "endpoint: path \"%s\" does not start with '/'", path);
    if (bucket && (!b->is_s3 || !*bucket))
        return sl_seterr(err, errlen, "endpoint: bucket given for %s", b->service);

    path_style = b->is_s3 && bucket && (b->path_style || !sl_aws_s3_bucket_virtual_ok(bucket));
    if (b->is_s3 && bucket && !path_style) {
        host = str_join(bucket, ".", b->hostport, "", "");
        fullpath = str_join(b->base, path, "", "", "");
    } else if (b->is_s3 && bucket) {
        ebucket = sl_sigv4_uri_encode(bucket, strlen(bucket), 0);
        host = strdup(b->hostport);
        /* "/bucket" for bucket-level calls, "/bucket/key" for objects. */
        if (ebucket)
            fullpath = str_join(b->base, "/", ebucket, strcmp(path, "/") == 0 ? "" : path, "");
    } else {
        host = strdup(b->hostport);
        fullpath = str_join(b->base, path, "", "", "");
    }
    if (host && fullpath)
        url = str_join(b->scheme, "://", host, fullpath, "");
    if (url && query && *query) {
        char *q = str_join(url, "?", query, "", "");
        free(url);
        url = q;
    }
    free(ebucket);
    if (!url) {
        free(host);
        free(fullpath);
        return sl_seterr(err, errlen, "endpoint: out of memory");
    }
    out->url = url;
    out->host = host;
    out->path = fullpath;
    return 0;
}

int sl_aws_endpoint_resolve(const sl_aws_opts *opts, const char *service, const char *bucket,
                            const char *path, const char *query, sl_aws_endpoint *out, char *err,
                            size_t errlen)
{
    sl_aws_endpoint_base b;
    int rc;

    if (sl_aws_endpoint_base_init(opts, service, &b, err, errlen))
        return -1;
    rc = sl_aws_endpoint_resolve_at(&b, bucket, path, query, out, err, errlen);
    sl_aws_endpoint_base_cleanup(&b);
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
