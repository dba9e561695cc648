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

/*
 * ListObjectsV2 is read with the pull reader (xml.h), one node at a time: as a tree, a page's
 * 1,000 entries were some 9,000 nodes plus a copy of the input, 1.9 MB held while it was read
 * (massif), and the walk took 1.2x as long. What is read: the root must be ListBucketResult;
 * of its children, every Contents (its first Key, Size, ETag and LastModified children) and
 * every CommonPrefixes (its first Prefix), the first IsTruncated and the first
 * NextContinuationToken; a field's value is all the text inside it (comments skipped, CDATA
 * kept), the same as xmlNodeGetContent of that element.
 */
enum list_field { F_NONE, F_KEY, F_SIZE, F_ETAG, F_MODIFIED, F_PREFIX, F_TRUNCATED, F_TOKEN };

typedef struct list_read {
    int url_encoded;
    sl_s3_list_page pg;
    size_t cap, pcap;
    int entry;             /* 0, or F_KEY inside a Contents, F_PREFIX inside a CommonPrefixes */
    unsigned seen;         /* bit (1 << field): its first occurrence was read (entry's, page's) */
    enum list_field field; /* the field whose text is being collected, F_NONE when none */
    int field_depth;
    sl_buf text; /* the field's text so far */
    char *key, *size, *prefix, *truncated;
    char etag[sizeof(((sl_s3_object *)0)->etag)];
    char modified[sizeof(((sl_s3_object *)0)->last_modified)];
} list_read;

/* The field's text is complete: kept where it belongs. */
static int field_end(list_read *lr, char *err, size_t errlen)
{
    char *t = sl_buf_steal(&lr->text);

    if (!t)
        return sl_seterr(err, errlen, "s3 list: out of memory");
    switch (lr->field) {
    case F_KEY:
        lr->key = t;
        break;
    case F_SIZE:
        lr->size = t;
        break;
    case F_PREFIX:
        lr->prefix = t;
        break;
    case F_TRUNCATED:
        lr->truncated = t;
        break;
    case F_TOKEN:
        lr->pg.next_token = t;
        break;
    case F_ETAG:
        snprintf(lr->etag, sizeof(lr->etag), "%s", t); /* truncated to fit */
        free(t);
        break;
    case F_MODIFIED:
        snprintf(lr->modified, sizeof(lr->modified), "%s", t);
        free(t);
        break;
    case F_NONE:
        free(t);
        return sl_seterr(err, errlen, "s3 list: internal: no field");
    }
    lr->field = F_NONE;
    return 0;
}

static void entry_reset(list_read *lr)
{
    free(lr->key);
    free(lr->size);
    free(lr->prefix);
    lr->key = lr->size = lr->prefix = NULL;
    lr->etag[0] = lr->modified[0] = '\0';
    lr->seen &= (1u << F_TRUNCATED) | (1u << F_TOKEN);
}

/* A Contents or CommonPrefixes ended: checked and added to the page. */
static int entry_end(list_read *lr, char *err, size_t errlen)
{
    sl_s3_list_page *pg = &lr->pg;
    int kind = lr->entry;

    lr->entry = 0;
    if (kind == F_KEY) {
        sl_s3_object *o;
        if (!lr->key || !*lr->key)
            return sl_seterr(err, errlen, "s3 list: entry %zu has no Key", pg->count);
        if (pg->count == lr->cap) {
            size_t ncap = lr->cap ? lr->cap * 2 : 64;
            sl_s3_object *no = realloc(pg->objects, ncap * sizeof(*no));
            if (!no)
                return sl_seterr(err, errlen, "s3 list: out of memory");
            pg->objects = no;
            lr->cap = ncap;
        }
        o = &pg->objects[pg->count];
        memset(o, 0, sizeof(*o));
        if (lr->url_encoded) {
            if (!(o->key = sl_s3_url_decode(lr->key)))
                return sl_seterr(err, errlen, "s3 list: entry %zu has a malformed encoded key",
                                 pg->count);
        } else {
            o->key = lr->key;
            lr->key = NULL;
        }
        pg->count++;
        if (sl_s3_parse_size(lr->size, &o->size))
            return sl_seterr(err, errlen, "s3 list: entry %zu has a bad Size", pg->count - 1);
        memcpy(o->etag, lr->etag, sizeof(o->etag));
        memcpy(o->last_modified, lr->modified, sizeof(o->last_modified));
    } else {
        char *p;
        if (!lr->prefix || !*lr->prefix)
            return sl_seterr(err, errlen, "s3 list: common prefix %zu has no Prefix",
                             pg->nprefixes);
        if (pg->nprefixes == lr->pcap) {
            size_t ncap = lr->pcap ? lr->pcap * 2 : 16;
            char **np = realloc(pg->prefixes, ncap * sizeof(*np));
            if (!np)
                return sl_seterr(err, errlen, "s3 list: out of memory");
            pg->prefixes = np;
            lr->pcap = ncap;
        }
        if (lr->url_encoded) {
            if (!(p = sl_s3_url_decode(lr->prefix)))
                return sl_seterr(err, errlen, "s3 list: common prefix %zu is malformed",
                                 pg->nprefixes);
        } else {
            p = lr->prefix;
            lr->prefix = NULL;
        }
        pg->prefixes[pg->nprefixes++] = p;
    }
    entry_reset(lr);
    return 0;
}

/* Which field an element opens, at its depth and in the entry it is in; F_NONE: not one. */
static enum list_field field_of(const list_read *lr, int depth, const char *name)
{
    static const struct {
        int entry, depth;
        const char *name;
        enum list_field f;
    } fields[] = {
        {F_KEY, 2, "Key", F_KEY},
        {F_KEY, 2, "Size", F_SIZE},
        {F_KEY, 2, "ETag", F_ETAG},
        {F_KEY, 2, "LastModified", F_MODIFIED},
        {F_PREFIX, 2, "Prefix", F_PREFIX},
        {0, 1, "IsTruncated", F_TRUNCATED},
        {0, 1, "NextContinuationToken", F_TOKEN},
    };

    for (size_t i = 0; i < SL_ARRAY_LEN(fields); i++)
        if (fields[i].entry == lr->entry && fields[i].depth == depth &&
            strcmp(fields[i].name, name) == 0 && !(lr->seen & (1u << fields[i].f)))
            return fields[i].f;
    return F_NONE;
}

/* One element's start: the root's check, an entry's or a field's start. */
static int element_start(list_read *lr, xmlTextReaderPtr r, int depth, char *err, size_t errlen)
{
    const char *name = (const char *)xmlTextReaderConstLocalName(r);
    int empty = xmlTextReaderIsEmptyElement(r) == 1;
    enum list_field f;

    if (!name)
        return sl_seterr(err, errlen, "s3 list: out of memory");
    if (depth == 0) {
        if (strcmp(name, "ListBucketResult") != 0)
            return sl_seterr(err, errlen, "s3 list: root element is not ListBucketResult");
        return 0;
    }
    if (lr->field != F_NONE)
        return 0; /* inside a field: only its text counts */
    if (depth == 1 && lr->entry == 0) {
        if (strcmp(name, "Contents") == 0)
            lr->entry = F_KEY;
        else if (strcmp(name, "CommonPrefixes") == 0)
            lr->entry = F_PREFIX;
        if (lr->entry)
            return empty ? entry_end(lr, err, errlen) : 0;
    }
    if ((f = field_of(lr, depth, name)) == F_NONE)
        return 0;
    lr->seen |= 1u << f;
    lr->field = f;
    lr->field_depth = depth;
    return empty ? field_end(lr, err, errlen) : 0;
}

int sl_s3_list_parse(const char *body, size_t len, int url_encoded, sl_s3_list_page *out, char *err,
                     size_t errlen)
{
    char perr[SL_ERRLEN];
    sl_xml_reader xr;
    list_read lr;
    int rc = -1, got, root = 0;

    memset(&lr, 0, sizeof(lr));
    lr.url_encoded = url_encoded;
    sl_buf_init(&lr.text, 0);
    if (sl_xml_reader_open(&xr, body, len, perr, sizeof(perr))) {
        sl_seterr(err, errlen, "s3 list: %s", perr);
        goto out;
    }
    while ((got = xmlTextReaderRead(xr.r)) == 1) {
        int type = xmlTextReaderNodeType(xr.r), depth = xmlTextReaderDepth(xr.r);
        const char *v;

        switch (type) {
        case XML_READER_TYPE_DOCUMENT_TYPE:
            sl_seterr(err, errlen, "s3 list: a document type declaration is not accepted");
            goto out;
        case XML_READER_TYPE_ELEMENT:
            root |= depth == 0;
            if (element_start(&lr, xr.r, depth, err, errlen))
                goto out;
            break;
        case XML_READER_TYPE_TEXT:
        case XML_READER_TYPE_CDATA:
        case XML_READER_TYPE_WHITESPACE:
        case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
            if (lr.field == F_NONE)
                break;
            v = (const char *)xmlTextReaderConstValue(xr.r);
            if (v && sl_buf_append(&lr.text, v, strlen(v))) {
                sl_seterr(err, errlen, "s3 list: out of memory");
                goto out;
            }
            break;
        case XML_READER_TYPE_END_ELEMENT:
            if (lr.field != F_NONE && depth == lr.field_depth) {
                if (field_end(&lr, err, errlen))
                    goto out;
            } else if (lr.field == F_NONE && depth == 1 && lr.entry) {
                if (entry_end(&lr, err, errlen))
                    goto out;
            }
            break;
        default:
            break;
        }
    }
    if (got < 0) {
        sl_seterr(err, errlen, "s3 list: %s",
                  xr.error[0] ? xr.error : "xml: malformed document: unknown error");
        goto out;
    }
    if (!root) {
        sl_seterr(err, errlen, "s3 list: xml: document has no root element");
        goto out;
    }
    lr.pg.truncated = lr.truncated && strcmp(lr.truncated, "true") == 0;
    if (!lr.pg.truncated) {
        free(lr.pg.next_token);
        lr.pg.next_token = NULL;
    } else if (!lr.pg.next_token || !*lr.pg.next_token) {
        /* NextContinuationToken is opaque and never URL-encoded, even with encoding-type. */
        sl_seterr(err, errlen, "s3 list: truncated page without NextContinuationToken");
        goto out;
    }
    *out = lr.pg;
    memset(&lr.pg, 0, sizeof(lr.pg));
    rc = 0;
out:
    entry_reset(&lr);
    free(lr.truncated);
    sl_buf_cleanup(&lr.text);
    sl_s3_list_page_cleanup(&lr.pg);
    sl_xml_reader_close(&xr);
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
