/*
 * s3_parse.c - the parsers of S3's answers (outside input, each fuzzed: fuzz_s3_list,
 * fuzz_s3_results): ListObjectsV2 pages with encoding-type=url keys, CopyObject/UploadPartCopy
 * ETags, DeleteObjects results and the CreateMultipartUpload UploadId. XML through libxml2
 * (xml.h). Pure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>

#include "s3_internal.h"
#include "xml.h"

char *sl_s3_url_decode(const char *in)
{
    size_t n, j = 0;
    char *out;

    if (!in)
        return NULL;
    n = strlen(in);
    out = malloc(n + 1);
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (in[i] == '%') {
            int hi, lo;
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            hi = sl_hexval(in[i + 1]);
            lo = hi < 0 ? -1 : sl_hexval(in[i + 2]);
            if (hi < 0 || lo < 0) {
                free(out);
                return NULL;
            }
            out[j++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (in[i] == '+') {
            out[j++] = ' ';
        } else {
            out[j++] = in[i];
        }
    }
    out[j] = '\0';
    return out;
}

/* --- parsers ------------------------------------------------------------------------------- */

void sl_s3_list_page_cleanup(sl_s3_list_page *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++)
        free(p->objects[i].key);
    free(p->objects);
    for (size_t i = 0; i < p->nprefixes; i++)
        free(p->prefixes[i]);
    free(p->prefixes);
    free(p->next_token);
    memset(p, 0, sizeof(*p));
}

int sl_s3_parse_size(const char *s, long long *out)
{
    char *end;
    long long v;

    if (!s || !*s)
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || *end || v < 0)
        return -1;
    *out = v;
    return 0;
}

int sl_s3_list_parse(const char *body, size_t len, int url_encoded, sl_s3_list_page *out, char *err,
                     size_t errlen)
{
    char perr[SL_ERRLEN];
    xmlDoc *doc;
    xmlNode *root, *n;
    sl_s3_list_page pg;
    size_t cap = 0;
    char *t = NULL;
    int rc = -1;

    memset(&pg, 0, sizeof(pg));
    doc = sl_xml_parse(body, len, perr, sizeof(perr));
    if (!doc)
        return sl_seterr(err, errlen, "s3 list: %s", perr);
    root = sl_xml_root(doc);
    if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
        sl_seterr(err, errlen, "s3 list: root element is not ListBucketResult");
        goto out;
    }
    for (n = sl_xml_child(root, "Contents"); n; n = sl_xml_next(n, "Contents")) {
        sl_s3_object *o;
        if (pg.count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            sl_s3_object *no = realloc(pg.objects, ncap * sizeof(*no));
            if (!no) {
                sl_seterr(err, errlen, "s3 list: out of memory");
                goto out;
            }
            pg.objects = no;
            cap = ncap;
        }
        o = &pg.objects[pg.count];
        memset(o, 0, sizeof(*o));
        t = sl_xml_child_text(n, "Key");
        if (!t || !*t) {
            sl_seterr(err, errlen, "s3 list: entry %zu has no Key", pg.count);
            goto out;
        }
        if (url_encoded) {
            o->key = sl_s3_url_decode(t);
            if (!o->key) {
                sl_seterr(err, errlen, "s3 list: entry %zu has a malformed encoded key", pg.count);
                goto out;
            }
            free(t);
        } else {
            o->key = t;
        }
        t = NULL;
        pg.count++;
        t = sl_xml_child_text(n, "Size");
        if (sl_s3_parse_size(t, &o->size)) {
            sl_seterr(err, errlen, "s3 list: entry %zu has a bad Size", pg.count - 1);
            goto out;
        }
        free(t);
        t = NULL;
        (void)sl_xml_child_copy(n, "ETag", o->etag, sizeof(o->etag));
        (void)sl_xml_child_copy(n, "LastModified", o->last_modified, sizeof(o->last_modified));
    }
    /* A delimiter's folders: each a <CommonPrefixes><Prefix>, encoded like the keys. */
    cap = 0;
    for (n = sl_xml_child(root, "CommonPrefixes"); n; n = sl_xml_next(n, "CommonPrefixes")) {
        char *p;
        if (pg.nprefixes == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **np = realloc(pg.prefixes, ncap * sizeof(*np));
            if (!np) {
                sl_seterr(err, errlen, "s3 list: out of memory");
                goto out;
            }
            pg.prefixes = np;
            cap = ncap;
        }
        t = sl_xml_child_text(n, "Prefix");
        if (!t || !*t) {
            sl_seterr(err, errlen, "s3 list: common prefix %zu has no Prefix", pg.nprefixes);
            goto out;
        }
        p = url_encoded ? sl_s3_url_decode(t) : t;
        if (!p) {
            sl_seterr(err, errlen, "s3 list: common prefix %zu is malformed", pg.nprefixes);
            goto out;
        }
        if (p != t)
            free(t);
        t = NULL;
        pg.prefixes[pg.nprefixes++] = p;
    }
    t = sl_xml_child_text(root, "IsTruncated");
    pg.truncated = t && strcmp(t, "true") == 0;
    free(t);
    t = NULL;
    if (pg.truncated) {
        /* NextContinuationToken is opaque and never URL-encoded, even with encoding-type. */
        pg.next_token = sl_xml_child_text(root, "NextContinuationToken");
        if (!pg.next_token || !*pg.next_token) {
            sl_seterr(err, errlen, "s3 list: truncated page without NextContinuationToken");
            goto out;
        }
    }
    *out = pg;
    memset(&pg, 0, sizeof(pg));
    rc = 0;
out:
    free(t);
    sl_s3_list_page_cleanup(&pg);
    xmlFreeDoc(doc);
    return rc;
}

int sl_s3_copy_result_etag(const char *body, size_t len, char *etag, size_t outlen)
{
    char perr[64];
    xmlDoc *doc = sl_xml_parse(body, len, perr, sizeof(perr));
    xmlNode *e;
    int rc = -1;

    if (outlen)
        etag[0] = '\0';
    if (!doc)
        return -1;
    e = sl_xml_find(sl_xml_root(doc), "ETag");
    if (e) {
        char *t = sl_xml_text(e);
        if (t && *t) {
            snprintf(etag, outlen, "%s", t);
            rc = 0;
        }
        free(t);
    }
    xmlFreeDoc(doc);
    return rc;
}

void sl_s3_delete_failures_free(sl_s3_delete_failure *f, size_t n)
{
    if (!f)
        return;
    for (size_t i = 0; i < n; i++)
        free(f[i].key);
    free(f);
}

int sl_s3_delete_result_parse(const char *body, size_t len, sl_s3_delete_failure **out, size_t *n,
                              char *err, size_t errlen)
{
    char perr[SL_ERRLEN];
    xmlDoc *doc;
    xmlNode *root, *e;
    sl_s3_delete_failure *f = NULL;
    size_t count = 0, cap = 0;
    int rc = -1;

    doc = sl_xml_parse(body, len, perr, sizeof(perr));
    if (!doc)
        return sl_seterr(err, errlen, "s3 delete: %s", perr);
    root = sl_xml_root(doc);
    if (strcmp((const char *)root->name, "DeleteResult") != 0) {
        sl_seterr(err, errlen, "s3 delete: root element is not DeleteResult");
        goto out;
    }
    for (e = sl_xml_child(root, "Error"); e; e = sl_xml_next(e, "Error")) {
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            sl_s3_delete_failure *nf = realloc(f, ncap * sizeof(*nf));
            if (!nf) {
                sl_seterr(err, errlen, "s3 delete: out of memory");
                goto out;
            }
            f = nf;
            cap = ncap;
        }
        memset(&f[count], 0, sizeof(f[count]));
        f[count].key = sl_xml_child_text(e, "Key");
        if (!f[count].key) {
            sl_seterr(err, errlen, "s3 delete: error entry without Key");
            goto out;
        }
        (void)sl_xml_child_copy(e, "Code", f[count].code, sizeof(f[count].code));
        (void)sl_xml_child_copy(e, "Message", f[count].message, sizeof(f[count].message));
        count++;
    }
    *out = f;
    *n = count;
    f = NULL;
    count = 0;
    rc = 0;
out:
    sl_s3_delete_failures_free(f, count);
    xmlFreeDoc(doc);
    return rc;
}

int sl_s3_parse_upload_id(const char *body, size_t len, char **out, char *err, size_t errlen)
{
    char perr[SL_ERRLEN];
    xmlDoc *doc;
    char *id;

    doc = sl_xml_parse(body, len, perr, sizeof(perr));
    if (!doc)
        return sl_seterr(err, errlen, "CreateMultipartUpload answer: %s", perr);
    id = sl_xml_text(sl_xml_find(sl_xml_root(doc), "UploadId"));
    xmlFreeDoc(doc);
    if (!id || !*id) {
        free(id);
        return sl_seterr(err, errlen, "CreateMultipartUpload answer has no UploadId");
    }
    *out = id;
    return 0;
}
