/*
 * s3sink.c - the copy benchmark's sink endpoint: an S3 look-alike that answers the requests
 * the copy stage sends (ListObjectsV2, CopyObject, UploadPartCopy, Create/Complete/Abort
 * MultipartUpload, DeleteObjects, HeadObject, PutObject, CreateBucket) correctly but stores
 * no bytes: an object is its key, size and ETag, in memory (and, for a small PUT that is not
 * Parquet, its body: the export_tables_info files the copy stage reads). With nothing to store, the
 * *client* is the bottleneck, as real S3 (about 3,500 COPY/PUT a second per prefix) would let
 * it be. It checks no signature (the worker signs anyway; that cost is the client's).
 *
 *   s3sink PORT [BIND_ADDR [CERT_PEM KEY_PEM]]
 *
 * BIND_ADDR (an IPv4 address, default 127.0.0.1) lets the benchmark run it inside a network
 * namespace behind tc netem. With CERT_PEM and KEY_PEM it serves HTTPS (libmicrohttpd's TLS),
 * as S3 does: what a client holds per TLS connection is then part of its figures. Latency is added
 * on the network, not here: by netem, or by bench/latproxy in front of it (a per-answer sleep in
 * the server would delay the answer but not the request's bytes, and would need a thread per
 * waiting request).
 *
 * Bench-only requests (not S3):
 *   POST /_sink/layout?bucket=B&prefix=P&n=N&tables=T   N objects of an RDS export under P
 *   GET  /_sink/count?bucket=B&prefix=P                 "<objects> <bytes>"
 *
 * Not part of the product; bench/copy_bench.py starts and stops it. libmicrohttpd serves HTTP,
 * libxml2 reads the DeleteObjects and CompleteMultipartUpload bodies.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <microhttpd.h>

#define MAX_BODY (4 * 1024 * 1024)
/* A PUT body this small whose key is not Parquet (export_info, export_tables_info: what the
   copy stage reads) is kept and served by GET; data files keep no bytes. */
#define KEEP_BODY_MAX (64 * 1024)
/* Threads, each with its own epoll set over its share of the connections.
   poll() threads (one, then POOL) walked every connection they held on each wake-up, and at
   1,024 connections the sink spent as much CPU per request as the worker it measures; with
   epoll the cost is per ready socket (0.01-0.02 CPU s per 1,000 copies at 1,024 against
   0.04-0.05 with POOL poll() threads). An earlier note saw libmicrohttpd 0.9.75's epoll loop,
   single-threaded, stall with a few hundred connections arriving at once; runs at 1,024 with the
   pool have not, and a stall would show as a slow run (every run's copies are still verified). */
#define POOL 8

/* ---- the object table: open addressing, keys "bucket/key" ------------------------------ */

typedef struct obj {
    char *key; /* NULL = empty; TOMB = deleted */
    long long size;
    char etag[40];
    char *body; /* kept for small non-Parquet PUTs only (KEEP_BODY_MAX), else NULL */
} obj;

static char tomb_[1];
#define TOMB tomb_

static obj *tab;
static size_t cap = 1 << 16, used;
static char **sorted; /* every live key, sorted; rebuilt when dirty */
static size_t nsorted;
static int dirty = 1;
/* Keys inserted since the last sort: merged into `sorted` at the next listing, so a listing
   while copies land costs the new keys, not a sort of the whole table (a client that lists
   while it writes would otherwise measure the sink's sorting under its lock). */
static char **pend;
static size_t npend, cappend;
static long long uploads;
static unsigned long long requests;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static size_t hash(const char *s)
{
    size_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static obj *find(const char *key, int insert)
{
    size_t i = hash(key) & (cap - 1);
    obj *t = NULL;

    for (;; i = (i + 1) & (cap - 1)) {
        obj *o = &tab[i];
        if (!o->key)
            break;
        if (o->key == TOMB) {
            if (!t)
                t = o;
            continue;
        }
        if (strcmp(o->key, key) == 0)
            return o;
    }
    if (!insert)
        return NULL;
    if (!t)
        t = &tab[i];
    t->key = strdup(key);
    used++;
    if (!dirty && t->key) {
        if (npend == cappend) {
            size_t nc = cappend ? cappend * 2 : 1024;
            char **g = realloc(pend, nc * sizeof(*g));
            if (!g) {
                dirty = 1;
                return t;
            }
            pend = g;
            cappend = nc;
        }
        pend[npend++] = t->key;
    }
    return t;
}

static void grow_table(void)
{
    obj *old = tab;
    size_t oc = cap;

    if ((used + 1) * 2 < cap)
        return;
    cap *= 2;
    tab = calloc(cap, sizeof(*tab));
    used = 0;
    dirty = 1; /* every key is copied anew: the next listing sorts them all */
    for (size_t i = 0; i < oc; i++) {
        if (old[i].key && old[i].key != TOMB) {
            obj *n = find(old[i].key, 1);
            n->size = old[i].size;
            n->body = old[i].body;
            memcpy(n->etag, old[i].etag, sizeof(n->etag));
            free(old[i].key);
        }
    }
    free(old);
}

static obj *put(const char *key, long long size, const char *etag)
{
    obj *o;

    grow_table();
    o = find(key, 1);
    o->size = size;
    free(o->body);
    o->body = NULL;
    snprintf(o->etag, sizeof(o->etag), "%s", etag);
    return o;
}

static int del(const char *key)
{
    obj *o = find(key, 0);

    if (!o)
        return 0;
    free(o->key);
    free(o->body);
    o->body = NULL;
    o->key = TOMB;
    dirty = 1;
    return 1;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_keys(void)
{
    if (!dirty && npend) {
        char **m = malloc((nsorted + npend + 1) * sizeof(*m));
        size_t i = 0, k = 0;
        if (!m) {
            dirty = 1;
        } else {
            /* Each new key's place by binary search, the runs between them copied whole. */
            qsort(pend, npend, sizeof(*pend), cmp);
            for (size_t j = 0; j < npend; j++) {
                size_t lo = i, hi = nsorted;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (strcmp(sorted[mid], pend[j]) < 0)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                memcpy(m + k, sorted + i, (lo - i) * sizeof(*m));
                k += lo - i;
                i = lo;
                m[k++] = pend[j];
            }
            memcpy(m + k, sorted + i, (nsorted - i) * sizeof(*m));
            k += nsorted - i;
            free(sorted);
            sorted = m;
            nsorted = k;
            npend = 0;
        }
    }
    if (!dirty)
        return;
    free(sorted);
    sorted = malloc((used + 1) * sizeof(*sorted));
    nsorted = 0;
    for (size_t i = 0; i < cap; i++)
        if (tab[i].key && tab[i].key != TOMB)
            sorted[nsorted++] = tab[i].key;
    qsort(sorted, nsorted, sizeof(*sorted), cmp);
    npend = 0;
    dirty = 0;
}

/* First index whose key is >= k. */
static size_t lower(const char *k)
{
    size_t lo = 0, hi = nsorted;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(sorted[mid], k) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* ---- text helpers -------------------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* The first n bytes of s in S3's encoding-type=url form of a key ('/' kept), which is also
   XML-safe. */
static void sb_add_urlenc(sbuf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p < (const unsigned char *)s + n; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~/", *p)) {
            sb_add(b, (const char *)p, 1);
        } else {
            char e[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            sb_add(b, e, 3);
        }
    }
}

static void sb_urlenc(sbuf *b, const char *s)
{
    sb_add_urlenc(b, s, strlen(s));
}

static void urldecode(char *s)
{
    char *o = s;
    for (; *s; s++) {
        if (*s == '%' && s[1] && s[2]) {
            char h[3] = {s[1], s[2], 0};
            *o++ = (char)strtol(h, NULL, 16);
            s += 2;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

/* ---- requests ------------------------------------------------------------------------------ */

typedef struct req {
    sbuf body;
    int overflow;
} req;

static enum MHD_Result answer(struct MHD_Connection *c, unsigned status, const char *body,
                              const char *etag)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (*body)
        MHD_add_response_header(r, "Content-Type", "application/xml");
    if (etag)
        MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "x-amz-request-id", "sink");
    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result s3_error(struct MHD_Connection *c, unsigned status, const char *code)
{
    char b[256];
    snprintf(b, sizeof(b),
             "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>%s</Code>"
             "<Message>%s</Message><RequestId>sink</RequestId></Error>",
             code, code);
    return answer(c, status, b, NULL);
}

static const char *arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* A sub-resource flag such as `?delete` or `?uploads`: present with or without a value
   (botocore sends `?delete`, which arg() cannot tell from absent: its value is NULL). */
static int has_arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value_n(c, MHD_GET_ARGUMENT_KIND, name, strlen(name), NULL,
                                         NULL) == MHD_YES;
}

/* ListObjectsV2, with a delimiter's folders as CommonPrefixes (each counted as one entry, as
   S3 counts them). The continuation token is the first key not yet returned. */
static enum MHD_Result list(struct MHD_Connection *c, const char *bucket)
{
    const char *prefix = arg(c, "prefix"), *token = arg(c, "continuation-token");
    const char *after = arg(c, "start-after"), *mk = arg(c, "max-keys");
    const char *delim = arg(c, "delimiter");
    int max = mk ? atoi(mk) : 1000, n = 0;
    char base[2048], from[4096], num[64];
    size_t i, blen, plen;
    sbuf b = {0};
    enum MHD_Result rc;

    if (max <= 0 || max > 1000)
        max = 1000;
    if (delim && !*delim)
        delim = NULL;
    snprintf(base, sizeof(base), "%s/%s", bucket, prefix ? prefix : "");
    blen = strlen(bucket) + 1;
    plen = strlen(base);
    sort_keys();
    i = lower(base);
    if (token || after) {
        size_t j;
        snprintf(from, sizeof(from), "%s/%s", bucket, token ? token : after);
        if (token)
            urldecode(from);
        j = lower(from);
        if (!token && j < nsorted && strcmp(sorted[j], from) == 0)
            j++;
        if (j > i)
            i = j;
    }
    sb_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult "
               "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>");
    sb_str(&b, bucket);
    sb_str(&b, "</Name><EncodingType>url</EncodingType>");
    while (i < nsorted && strncmp(sorted[i], base, plen) == 0 && n < max) {
        const char *d = delim ? strstr(sorted[i] + plen, delim) : NULL;
        obj *o;
        n++;
        if (d) {
            size_t cpl = (size_t)(d - sorted[i]) + strlen(delim);
            const char *first = sorted[i];
            sb_str(&b, "<CommonPrefixes><Prefix>");
            sb_add_urlenc(&b, first + blen, cpl - blen);
            sb_str(&b, "</Prefix></CommonPrefixes>");
            while (i < nsorted && strncmp(sorted[i], first, cpl) == 0)
                i++;
            continue;
        }
        o = find(sorted[i], 0);
        sb_str(&b, "<Contents><Key>");
        sb_urlenc(&b, sorted[i] + blen);
        snprintf(num, sizeof(num), "</Key><Size>%lld</Size><ETag>&quot;", o->size);
        sb_str(&b, num);
        sb_add(&b, o->etag + 1, strlen(o->etag) - 2);
        sb_str(&b, "&quot;</ETag><LastModified>2024-03-05T03:04:00.000Z</LastModified>"
                   "<StorageClass>STANDARD</StorageClass></Contents>");
        i++;
    }
    snprintf(num, sizeof(num), "<KeyCount>%d</KeyCount>", n);
    sb_str(&b, num);
    if (i < nsorted && strncmp(sorted[i], base, plen) == 0 && n > 0) {
        sb_str(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>");
        sb_urlenc(&b, sorted[i] + blen);
        sb_str(&b, "</NextContinuationToken>");
    } else {
        sb_str(&b, "<IsTruncated>false</IsTruncated>");
    }
    sb_str(&b, "</ListBucketResult>");
    rc = answer(c, 200, b.p, NULL);
    free(b.p);
    return rc;
}

static enum MHD_Result copy(struct MHD_Connection *c, const char *dkey, const char *src)
{
    char s[4096], out[512];
    const char *part = arg(c, "partNumber");
    obj *o;

    snprintf(s, sizeof(s), "%s", src[0] == '/' ? src + 1 : src);
    urldecode(s);
    if (!(o = find(s, 0)))
        return s3_error(c, 404, "NoSuchKey");
    if (part) {
        snprintf(out, sizeof(out),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyPartResult>"
                 "<ETag>&quot;part%s&quot;</ETag><LastModified>2024-03-05T03:04:00.000Z"
                 "</LastModified></CopyPartResult>",
                 part);
        return answer(c, 200, out, NULL);
    }
    {
        long long size = o->size;
        char etag[40];
        memcpy(etag, o->etag, sizeof(etag));
        put(dkey, size, etag);
        snprintf(out, sizeof(out),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CopyObjectResult>"
                 "<ETag>&quot;%.*s&quot;</ETag><LastModified>2024-03-05T03:04:00.000Z"
                 "</LastModified></CopyObjectResult>",
                 (int)strlen(etag) - 2, etag + 1);
    }
    return answer(c, 200, out, NULL);
}

/* DeleteObjects: every <Key> of the body is removed; quiet, so the answer lists nothing. */
static enum MHD_Result delete_objects(struct MHD_Connection *c, const char *bucket, req *r)
{
    xmlDoc *doc = xmlReadMemory(r->body.p ? r->body.p : "", (int)r->body.n, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    xmlNode *root = doc ? xmlDocGetRootElement(doc) : NULL;

    if (!root)
        return s3_error(c, 400, "MalformedXML");
    for (xmlNode *o = root->children; o; o = o->next)
        for (xmlNode *k = o->children; k; k = k->next)
            if (k->type == XML_ELEMENT_NODE && strcmp((const char *)k->name, "Key") == 0) {
                xmlChar *t = xmlNodeGetContent(k);
                char full[4096];
                snprintf(full, sizeof(full), "%s/%s", bucket, (const char *)t);
                del(full);
                xmlFree(t);
            }
    xmlFreeDoc(doc);
    return answer(c, 200, "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DeleteResult></DeleteResult>",
                  NULL);
}

static enum MHD_Result layout(struct MHD_Connection *c)
{
    const char *bucket = arg(c, "bucket"), *prefix = arg(c, "prefix");
    long n = arg(c, "n") ? atol(arg(c, "n")) : 0,
         tables = arg(c, "tables") ? atol(arg(c, "tables")) : 10;
    char key[4096], etag[40];

    if (!bucket || !prefix || n <= 0 || tables <= 0)
        return s3_error(c, 400, "InvalidArgument");
    for (long i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s/%s/shop/public.t%03ld/part-%05ld-%08lx.gz.parquet", bucket,
                 prefix, i % tables, i / tables, (unsigned long)i * 2654435761ul);
        snprintf(etag, sizeof(etag), "\"%032lx\"", (unsigned long)i * 40503ul + 17);
        put(key, 1024 + (i % 3072), etag);
    }
    return answer(c, 200, "", NULL);
}

static enum MHD_Result count(struct MHD_Connection *c)
{
    const char *bucket = arg(c, "bucket"), *prefix = arg(c, "prefix");
    char base[4096], out[64];
    long long n = 0, bytes = 0;

    snprintf(base, sizeof(base), "%s/%s", bucket ? bucket : "", prefix ? prefix : "");
    sort_keys();
    for (size_t i = lower(base); i < nsorted && strncmp(sorted[i], base, strlen(base)) == 0; i++) {
        n++;
        bytes += find(sorted[i], 0)->size;
    }
    snprintf(out, sizeof(out), "%lld %lld", n, bytes);
    return answer(c, 200, out, NULL);
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const char *method, req *r)
{
    char bucket[256], full[4096];
    const char *slash, *key;
    const char *src = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-copy-source");

    if (strncmp(url, "/_sink/", 7) == 0)
        return strcmp(url, "/_sink/layout") == 0 ? layout(c) : count(c);
    url++;
    slash = strchr(url, '/');
    snprintf(bucket, sizeof(bucket), "%.*s", slash ? (int)(slash - url) : (int)strlen(url), url);
    key = slash ? slash + 1 : "";
    snprintf(full, sizeof(full), "%s/%s", bucket, key);
    urldecode(full);
    if (!*key) {
        if (strcmp(method, "GET") == 0)
            return list(c, bucket);
        if (strcmp(method, "POST") == 0 && has_arg(c, "delete"))
            return delete_objects(c, bucket, r);
        return answer(c, 200, "", NULL); /* CreateBucket and the like */
    }
    if (strcmp(method, "PUT") == 0) {
        char etag[40];
        if (src)
            return copy(c, full, src);
        size_t kl = strlen(full);
        obj *o;
        snprintf(etag, sizeof(etag), "\"%032llx\"", (unsigned long long)r->body.n * 31 + 7);
        o = put(full, (long long)r->body.n, etag);
        if (r->body.n <= KEEP_BODY_MAX && (kl < 8 || strcmp(full + kl - 8, ".parquet") != 0) &&
            (o->body = malloc(r->body.n + 1)) != NULL) {
            memcpy(o->body, r->body.p ? r->body.p : "", r->body.n);
            o->body[r->body.n] = '\0';
        }
        return answer(c, 200, "", etag);
    }
    if (strcmp(method, "POST") == 0 && has_arg(c, "uploads")) {
        char out[256];
        snprintf(out, sizeof(out),
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                 "<InitiateMultipartUploadResult><UploadId>u%lld</UploadId>"
                 "</InitiateMultipartUploadResult>",
                 ++uploads);
        return answer(c, 200, out, NULL);
    }
    if (strcmp(method, "POST") == 0 && arg(c, "uploadId")) {
        put(full, 0, "\"00000000000000000000000000000000-1\"");
        return answer(c, 200,
                      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
                      "<CompleteMultipartUploadResult><ETag>&quot;x-1&quot;</ETag>"
                      "</CompleteMultipartUploadResult>",
                      NULL);
    }
    if (strcmp(method, "DELETE") == 0) {
        if (!arg(c, "uploadId"))
            del(full);
        return answer(c, 204, "", NULL);
    }
    if (strcmp(method, "HEAD") == 0 || strcmp(method, "GET") == 0) {
        obj *o = find(full, 0);
        if (!o)
            return s3_error(c, 404, "NoSuchKey");
        return answer(c, 200, strcmp(method, "GET") == 0 && o->body ? o->body : "", o->etag);
    }
    return s3_error(c, 405, "MethodNotAllowed");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *data,
                               size_t *size, void **con_cls)
{
    req *r = *con_cls;
    enum MHD_Result rc;

    (void)cls;
    (void)version;
    if (!r) {
        *con_cls = calloc(1, sizeof(req));
        return MHD_YES;
    }
    if (*size) {
        if (r->body.n + *size <= MAX_BODY)
            sb_add(&r->body, data, *size);
        else
            r->overflow = 1;
        *size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock(&mu);
    requests++;
    rc = r->overflow ? s3_error(c, 400, "EntityTooLarge") : route(c, url, method, r);
    pthread_mutex_unlock(&mu);
    return rc;
}

static void done(void *cls, struct MHD_Connection *c, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
    req *r = *con_cls;

    (void)cls;
    (void)c;
    (void)toe;
    if (r) {
        free(r->body.p);
        free(r);
    }
    *con_cls = NULL;
}

static volatile sig_atomic_t stop;
static void on_sig(int s)
{
    (void)s;
    stop = 1;
}

/* A whole (small) file as a NUL-terminated heap string, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 1024 * 1024 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1))) {
        if (fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = '\0';
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    struct MHD_Daemon *d;
    struct sockaddr_in sa;
    unsigned flags;
    char *cert = NULL, *key = NULL;

    const char *bind_addr = argc > 2 ? argv[2] : "127.0.0.1";

    if (argc != 2 && argc != 3 && argc != 5) {
        fprintf(stderr, "usage: s3sink PORT [BIND_ADDR [CERT_PEM KEY_PEM]]\n");
        return 2;
    }
    if (argc == 5 && (!(cert = slurp(argv[3])) || !(key = slurp(argv[4])))) {
        fprintf(stderr, "s3sink: cannot read %s or %s\n", argv[3], argv[4]);
        return 2;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(argv[1]));
    if (inet_pton(AF_INET, bind_addr, &sa.sin_addr) != 1) {
        fprintf(stderr, "s3sink: not an IPv4 address: %s\n", bind_addr);
        return 2;
    }
    tab = calloc(cap, sizeof(*tab));
    /* A pool of POOL epoll threads (above); MHD spreads accepted connections over it. */
    flags = MHD_USE_EPOLL_INTERNAL_THREAD | (cert ? MHD_USE_TLS : 0);
    /* MHD reads options up to MHD_OPTION_END: without TLS the key and certificate options are
       left out by ending the list where they would start. */
    d = MHD_start_daemon(flags | MHD_USE_ERROR_LOG, (uint16_t)atoi(argv[1]), NULL, NULL, handler,
                         NULL, MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_CONNECTION_LIMIT,
                         8192u, MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_LISTEN_BACKLOG_SIZE,
                         4096u, MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_THREAD_POOL_SIZE,
                         (unsigned)POOL, cert ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, key,
                         MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "s3sink: cannot listen on %s\n", argv[1]);
        return 1;
    }
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    printf("s3sink: listening on %s:%s%s\n", bind_addr, argv[1], cert ? " (TLS)" : "");
    fflush(stdout);
    while (!stop)
        pause();
    MHD_stop_daemon(d);
    free(cert);
    free(key);
    fprintf(stderr, "s3sink: %llu requests\n", requests);
    return 0;
}
