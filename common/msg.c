/* msg.c - see msg.h and docs/messages.md. */
#include "msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "json.h"

/* Field tables: which types carry a field, and which require it. Bit t = type t. */
#define B_S (1u << SL_MSG_SNAPSHOT)
#define B_E (1u << SL_MSG_EXPORTED)
#define B_C (1u << SL_MSG_COPIED)
#define B_W (1u << SL_MSG_CRAWLED)
#define B_F (1u << SL_MSG_FAILURE)
#define B_D (1u << SL_MSG_DEAD_LETTER)
#define B_H (1u << SL_MSG_SHARED)
#define RUN (B_S | B_E | B_C | B_W | B_H) /* every later stage carries the earlier ones' fields */
#define EXP (B_E | B_C | B_W | B_H)
#define COP (B_C | B_W | B_H)
#define CRW (B_W | B_H)

/* An embedded input message deeper than this is carried as a string: re-embedding it
 * inside our own object must never push the whole past cJSON's nesting limit. */
#define INPUT_MAX_DEPTH 64

typedef struct sfield {
    const char *name;
    size_t off;
    unsigned present;  /* types that write/read it */
    unsigned required; /* types that must have it */
} sfield;

#define OFF(f) offsetof(sl_msg, f)

static const sfield sfields[] = {
    {"run_id", OFF(run_id), RUN | B_F, RUN},
    {"cluster", OFF(cluster), RUN | B_F, RUN},
    {"mode", OFF(mode), RUN, RUN},
    {"snapshot_id", OFF(snapshot_id), RUN, 0}, /* required when mode == snapshot */
    {"source_arn", OFF(source_arn), RUN, RUN},
    {"date", OFF(date), RUN, RUN},
    {"snapshot_time", OFF(snapshot_time), RUN, 0},
    {"source", OFF(source), RUN, RUN},
    {"produced_at", OFF(produced_at), RUN, RUN},
    {"export_task_id", OFF(export_task_id), EXP | B_F, EXP},
    {"s3_bucket", OFF(s3_bucket), EXP, EXP},
    {"s3_prefix", OFF(s3_prefix), EXP, EXP},
    {"export_started_at", OFF(export_started_at), EXP, 0},
    {"export_ended_at", OFF(export_ended_at), EXP, 0},
    {"lake_bucket", OFF(lake_bucket), COP, COP},
    {"lake_prefix", OFF(lake_prefix), COP, COP},
    {"copied_at", OFF(copied_at), COP, COP},
    {"crawler", OFF(crawler), CRW, 0}, /* required unless catalog_mode is direct */
    {"crawl_started_at", OFF(crawl_started_at), CRW, CRW},
    {"crawl_status", OFF(crawl_status), CRW, CRW},
    {"catalog_mode", OFF(catalog_mode), CRW, 0},
    /* required when catalog_mode is direct, and in shared */
    {"glue_database", OFF(glue_database), CRW, B_H},
    {"shared_at", OFF(shared_at), B_H, B_H},
    {"stage", OFF(stage), B_F, B_F},
    {"error_code", OFF(error_code), B_F, 0},
    {"error_message", OFF(error_message), B_F, B_F},
    {"aws_request_id", OFF(aws_request_id), B_F, 0},
    {"failed_at", OFF(failed_at), B_F, B_F},
    {"reason", OFF(reason), B_D, B_D},
    {"topic", OFF(topic), B_D, B_D},
};

typedef struct nfield {
    const char *name;
    size_t off; /* long long */
    unsigned present, required;
    long long min;
} nfield;

static const nfield nfields[] = {
    {"objects", OFF(objects), COP, COP, 0},
    {"bytes", OFF(bytes), COP, COP, 0},
    {"removed", OFF(removed), COP, COP, 0},
    {"attempt", OFF(attempt), B_F, 0, 0},
    {"export_generation", OFF(export_generation), EXP, 0, 0},
    {"offset", OFF(offset), B_D, B_D, -1},
    {"skipped", OFF(skipped), COP, 0, 0},
    {"tables_total", OFF(tables_total), COP, 0, 0},
    {"failed_tables_total", OFF(failed_tables_total), COP, 0, 0},
    {"glue_tables_total", OFF(glue_tables_total), CRW, 0, 0},
    {"share_created", OFF(share_created), B_H, B_H, 0},
    {"share_updated", OFF(share_updated), B_H, B_H, 0},
    {"share_removed", OFF(share_removed), B_H, B_H, 0},
    {"share_drift", OFF(share_drift), B_H, B_H, 0},
    {"tables_shared", OFF(tables_shared), B_H, B_H, 0},
    {"tables_private", OFF(tables_private), B_H, B_H, 0},
    {"share_invitations_accepted", OFF(share_invitations_accepted), B_H, 0, 0},
    {"share_links_created", OFF(share_links_created), B_H, 0, 0},
};

/* The string lists of the shared message (optional arrays of strings). */
typedef struct afield {
    const char *name;
    size_t off, noff; /* char ** and its size_t count */
} afield;

static const afield afields[] = {
    {"shared_tables", OFF(shared_tables), OFF(nshared_tables)},
    {"share_changes", OFF(share_changes), OFF(nshare_changes)},
};

static char ***ap_(sl_msg *m, const afield *a)
{
    return (char ***)(void *)((char *)m + a->off);
}
static size_t *an_(sl_msg *m, const afield *a)
{
    return (size_t *)(void *)((char *)m + a->noff);
}
static char *const *cap_(const sl_msg *m, const afield *a)
{
    return *(char *const *const *)(const void *)((const char *)m + a->off);
}
static size_t can_(const sl_msg *m, const afield *a)
{
    return *(const size_t *)(const void *)((const char *)m + a->noff);
}

static char **sp(sl_msg *m, size_t off)
{
    return (char **)(void *)((char *)m + off);
}
static char *const *csp(const sl_msg *m, size_t off)
{
    return (char *const *)(const void *)((const char *)m + off);
}
static long long *np(sl_msg *m, size_t off)
{
    return (long long *)(void *)((char *)m + off);
}
static const long long *cnp(const sl_msg *m, size_t off)
{
    return (const long long *)(const void *)((const char *)m + off);
}

static const char *const type_names[] = {NULL,      "snapshot", "exported",    "copied",
                                         "crawled", "failure",  "dead_letter", "shared"};
static const char *const topics[] = {NULL,     "snapshots", "exports", "copies",
                                     "crawls", "failures",  "dlq",     "shares"};

const char *sl_msg_type_name(sl_msg_type t)
{
    return (unsigned)t < SL_ARRAY_LEN(type_names) ? type_names[t] : NULL;
}

const char *sl_msg_default_topic(sl_msg_type t)
{
    return (unsigned)t < SL_ARRAY_LEN(topics) ? topics[t] : NULL;
}

void sl_msg_init(sl_msg *m)
{
    memset(m, 0, sizeof(*m));
    m->partition = -1;
    m->offset = -1;
}

static void free_tables(char **t, size_t n)
{
    size_t i;
    for (i = 0; t && i < n; i++)
        free(t[i]);
    free(t);
}

static void free_failed(sl_msg_table_failure *f, size_t n)
{
    size_t i;
    for (i = 0; f && i < n; i++) {
        free(f[i].table);
        free(f[i].reason);
    }
    free(f);
}

void sl_msg_cleanup(sl_msg *m)
{
    size_t i;

    if (!m)
        return;
    for (i = 0; i < SL_ARRAY_LEN(sfields); i++)
        free(*sp(m, sfields[i].off));
    free_tables(m->tables, m->ntables);
    free_tables(m->glue_tables, m->nglue_tables);
    for (i = 0; i < SL_ARRAY_LEN(afields); i++)
        free_tables(*ap_(m, &afields[i]), *an_(m, &afields[i]));
    free_failed(m->failed_tables, m->nfailed_tables);
    free(m->input_json);
    free(m->key);
    free(m->payload);
    sl_msg_init(m);
}

static unsigned char *dupbytes(const unsigned char *p, size_t n)
{
    unsigned char *r = malloc(n ? n : 1);
    if (r && n)
        memcpy(r, p, n);
    return r;
}

int sl_msg_copy(sl_msg *dst, const sl_msg *src, char *err, size_t errlen)
{
    sl_msg r;
    size_t i;

    r = *src;
    /* Null every pointer first so that cleanup on failure frees only what was copied. */
    for (i = 0; i < SL_ARRAY_LEN(sfields); i++)
        *sp(&r, sfields[i].off) = NULL;
    r.tables = r.glue_tables = NULL;
    r.failed_tables = NULL;
    r.ntables = r.nfailed_tables = r.nglue_tables = 0;
    r.input_json = NULL;
    r.key = r.payload = NULL;
    for (i = 0; i < SL_ARRAY_LEN(afields); i++) {
        *ap_(&r, &afields[i]) = NULL;
        *an_(&r, &afields[i]) = 0;
    }
    for (i = 0; i < SL_ARRAY_LEN(afields); i++) {
        size_t n = can_(src, &afields[i]);
        char *const *from = cap_(src, &afields[i]);
        char ***to = ap_(&r, &afields[i]);
        if (!n)
            continue;
        if (!(*to = calloc(n, sizeof(**to))))
            goto nomem;
        for (; *an_(&r, &afields[i]) < n; (*an_(&r, &afields[i]))++)
            if (!((*to)[*an_(&r, &afields[i])] = sl_strdup0(from[*an_(&r, &afields[i])])) &&
                from[*an_(&r, &afields[i])])
                goto nomem;
    }
    for (i = 0; i < SL_ARRAY_LEN(sfields); i++) {
        const char *s = *csp(src, sfields[i].off);
        if (s && !(*sp(&r, sfields[i].off) = strdup(s)))
            goto nomem;
    }
    if (src->ntables) {
        if (!(r.tables = calloc(src->ntables, sizeof(*r.tables))))
            goto nomem;
        for (; r.ntables < src->ntables; r.ntables++)
            if (!(r.tables[r.ntables] = sl_strdup0(src->tables[r.ntables])) &&
                src->tables[r.ntables])
                goto nomem;
    }
    if (src->nglue_tables) {
        if (!(r.glue_tables = calloc(src->nglue_tables, sizeof(*r.glue_tables))))
            goto nomem;
        for (; r.nglue_tables < src->nglue_tables; r.nglue_tables++)
            if (!(r.glue_tables[r.nglue_tables] = sl_strdup0(src->glue_tables[r.nglue_tables])) &&
                src->glue_tables[r.nglue_tables])
                goto nomem;
    }
    if (src->nfailed_tables) {
        if (!(r.failed_tables = calloc(src->nfailed_tables, sizeof(*r.failed_tables))))
            goto nomem;
        for (; r.nfailed_tables < src->nfailed_tables; r.nfailed_tables++) {
            const sl_msg_table_failure *f = &src->failed_tables[r.nfailed_tables];
            sl_msg_table_failure *g = &r.failed_tables[r.nfailed_tables];
            g->table = sl_strdup0(f->table);
            g->reason = sl_strdup0(f->reason);
            if ((f->table && !g->table) || (f->reason && !g->reason)) {
                r.nfailed_tables++;
                goto nomem;
            }
        }
    }
    if (src->input_json && !(r.input_json = strdup(src->input_json)))
        goto nomem;
    if (src->key && !(r.key = dupbytes(src->key, src->key_len)))
        goto nomem;
    if (src->payload && !(r.payload = dupbytes(src->payload, src->payload_len)))
        goto nomem;
    *dst = r;
    return 0;
nomem:
    sl_msg_cleanup(&r);
    sl_msg_init(dst);
    return sl_seterr(err, errlen, "message copy: out of memory");
}

static int streq0(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static int byteseq(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    if (!a || !b)
        return !a && !b;
    return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

int sl_msg_equal(const sl_msg *a, const sl_msg *b)
{
    size_t i;

    if (a->type != b->type || a->partition != b->partition || a->ntables != b->ntables ||
        a->nfailed_tables != b->nfailed_tables || a->nglue_tables != b->nglue_tables)
        return 0;
    for (i = 0; i < SL_ARRAY_LEN(sfields); i++)
        if (!streq0(*csp(a, sfields[i].off), *csp(b, sfields[i].off)))
            return 0;
    for (i = 0; i < SL_ARRAY_LEN(nfields); i++)
        if (*cnp(a, nfields[i].off) != *cnp(b, nfields[i].off))
            return 0;
    for (i = 0; i < a->ntables; i++)
        if (!streq0(a->tables[i], b->tables[i]))
            return 0;
    for (i = 0; i < a->nglue_tables; i++)
        if (!streq0(a->glue_tables[i], b->glue_tables[i]))
            return 0;
    for (i = 0; i < SL_ARRAY_LEN(afields); i++) {
        if (can_(a, &afields[i]) != can_(b, &afields[i]))
            return 0;
        for (size_t j = 0; j < can_(a, &afields[i]); j++)
            if (!streq0(cap_(a, &afields[i])[j], cap_(b, &afields[i])[j]))
                return 0;
    }
    for (i = 0; i < a->nfailed_tables; i++)
        if (!streq0(a->failed_tables[i].table, b->failed_tables[i].table) ||
            !streq0(a->failed_tables[i].reason, b->failed_tables[i].reason))
            return 0;
    return streq0(a->input_json, b->input_json) &&
           byteseq(a->key, a->key_len, b->key, b->key_len) &&
           byteseq(a->payload, a->payload_len, b->payload, b->payload_len);
}

/* ---- validation shared by encode and decode ---- */

static int oneof(const char *s, const char *a, const char *b, const char *c)
{
    return s && (strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c && strcmp(s, c) == 0));
}

static int validate(const sl_msg *m, char *err, size_t errlen)
{
    unsigned bit;
    size_t i;

    if (!sl_msg_type_name(m->type) || m->type == SL_MSG_NONE)
        return sl_seterr(err, errlen, "message: unknown type %d", (int)m->type);
    bit = 1u << m->type;
    for (i = 0; i < SL_ARRAY_LEN(sfields); i++)
        if ((sfields[i].required & bit) && !*csp(m, sfields[i].off))
            return sl_seterr(err, errlen, "%s message: missing %s", type_names[m->type],
                             sfields[i].name);
    for (i = 0; i < SL_ARRAY_LEN(nfields); i++) {
        long long v = *cnp(m, nfields[i].off);
        if ((nfields[i].present & bit) && (v < nfields[i].min || v > SL_MSG_COUNT_MAX))
            return sl_seterr(err, errlen, "%s message: %s %lld out of range", type_names[m->type],
                             nfields[i].name, v);
    }
    if (bit & RUN) {
        if (!oneof(m->mode, "snapshot", "cluster", NULL))
            return sl_seterr(err, errlen, "%s message: mode must be snapshot or cluster",
                             type_names[m->type]);
        if (strcmp(m->mode, "snapshot") == 0 && !m->snapshot_id)
            return sl_seterr(err, errlen, "%s message: missing snapshot_id (mode snapshot)",
                             type_names[m->type]);
        if (!oneof(m->source, "event", "discovery", "cluster"))
            return sl_seterr(err, errlen, "%s message: source must be event, discovery or cluster",
                             type_names[m->type]);
    }
    if (bit & COP) {
        if (m->ntables && !m->tables)
            return sl_seterr(err, errlen, "copied message: tables missing");
        for (i = 0; i < m->ntables; i++)
            if (!m->tables[i])
                return sl_seterr(err, errlen, "copied message: tables[%zu] is null", i);
        if (m->nfailed_tables && !m->failed_tables)
            return sl_seterr(err, errlen, "copied message: failed_tables missing");
        for (i = 0; i < m->nfailed_tables; i++)
            if (!m->failed_tables[i].table || !m->failed_tables[i].reason)
                return sl_seterr(err, errlen, "copied message: failed_tables[%zu] incomplete", i);
    }
    for (i = 0; (bit & B_H) && i < SL_ARRAY_LEN(afields); i++) {
        if (can_(m, &afields[i]) && !cap_(m, &afields[i]))
            return sl_seterr(err, errlen, "shared message: %s missing", afields[i].name);
        for (size_t j = 0; j < can_(m, &afields[i]); j++)
            if (!cap_(m, &afields[i])[j])
                return sl_seterr(err, errlen, "shared message: %s[%zu] is null", afields[i].name,
                                 j);
    }
    if (bit & CRW) {
        int direct = m->catalog_mode && strcmp(m->catalog_mode, "direct") == 0;
        if (m->catalog_mode && !direct && strcmp(m->catalog_mode, "crawler") != 0)
            return sl_seterr(err, errlen,
                             "crawled message: catalog_mode must be crawler or direct");
        if (!direct && !m->crawler)
            return sl_seterr(err, errlen, "crawled message: missing crawler");
        if (direct && !m->glue_database)
            return sl_seterr(err, errlen,
                             "crawled message: missing glue_database (catalog_mode direct)");
        if (m->nglue_tables && !m->glue_tables)
            return sl_seterr(err, errlen, "crawled message: glue_tables missing");
        for (i = 0; i < m->nglue_tables; i++)
            if (!m->glue_tables[i])
                return sl_seterr(err, errlen, "crawled message: glue_tables[%zu] is null", i);
    }
    if (bit & B_D) {
        if (!m->payload)
            return sl_seterr(err, errlen, "dead_letter message: missing payload");
        if (m->partition < -1)
            return sl_seterr(err, errlen, "dead_letter message: partition out of range");
        if (m->payload_len > SL_MSG_MAX_BYTES / 2 || (m->key && m->key_len > SL_MSG_MAX_BYTES / 2))
            return sl_seterr(err, errlen,
                             "dead_letter message: key or payload over %zu bytes (truncate it)",
                             SL_MSG_MAX_BYTES / 2);
    }
    return 0;
}

/* ---- encode ---- */

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), and no NUL, which a C
 * string field could not carry. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0, k, len;
    unsigned c, cp, min;

    while (i < n) {
        c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

static int depth(const cJSON *j, int limit)
{
    const cJSON *c;
    int d = 0, cd;

    if (limit < 0)
        return 1;
    for (c = j->child; c; c = c->next) {
        cd = depth(c, limit - 1);
        if (cd > d)
            d = cd;
        if (d > limit)
            break;
    }
    return d + 1;
}

/* The input message as it is embedded: a parsed object/array when the text is one (and not
 * too deep), else the text as a JSON string. Decode inverts this exactly. */
static cJSON *embed_input(const char *text)
{
    cJSON *j = sl_json_parse_exact(text, strlen(text));

    if (j && (cJSON_IsObject(j) || cJSON_IsArray(j)) &&
        depth(j, INPUT_MAX_DEPTH) <= INPUT_MAX_DEPTH)
        return j;
    cJSON_Delete(j);
    return cJSON_CreateString(text);
}

static int add_bytes(cJSON *o, const char *name, const char *encname, const unsigned char *p,
                     size_t n)
{
    cJSON *v;
    char *b64 = NULL, *s = NULL;

    if (utf8_ok(p, n)) {
        if (!(s = malloc(n + 1)))
            return -1;
        memcpy(s, p, n);
        s[n] = '\0';
        v = cJSON_AddStringToObject(o, name, s);
        free(s);
        return v && cJSON_AddStringToObject(o, encname, "utf8") ? 0 : -1;
    }
    /* Not text: base64 (4 output chars per 3 input bytes, plus NUL). */
    if (n > SL_MSG_MAX_BYTES || !(b64 = malloc(4 * ((n + 2) / 3) + 1)))
        return -1;
    EVP_EncodeBlock((unsigned char *)b64, p, (int)n);
    v = cJSON_AddStringToObject(o, name, b64);
    free(b64);
    return v && cJSON_AddStringToObject(o, encname, "base64") ? 0 : -1;
}

/* Integers are written as digits: cJSON's number printer takes "%1.15g" whenever it reads
 * back within a relative epsilon, which silently rounds counts above 10^15 (2^53 would come
 * back as 9007199254740990). */
static int add_int(cJSON *o, const char *name, long long v)
{
    char num[32];

    snprintf(num, sizeof(num), "%lld", v);
    return cJSON_AddRawToObject(o, name, num) ? 0 : -1;
}

int sl_msg_encode(const sl_msg *m, char **out, size_t *outlen, char *err, size_t errlen)
{
    cJSON *root = NULL, *arr, *obj, *in;
    unsigned bit;
    size_t i;
    char *s;
    int rc = -1;

    if (validate(m, err, errlen))
        return -1;
    bit = 1u << m->type;
    if (!(root = cJSON_CreateObject()) || !cJSON_AddNumberToObject(root, "v", SL_MSG_VERSION) ||
        !cJSON_AddStringToObject(root, "type", type_names[m->type]))
        goto nomem;
    for (i = 0; i < SL_ARRAY_LEN(sfields); i++) {
        const char *v = *csp(m, sfields[i].off);
        if ((sfields[i].present & bit) && v && !cJSON_AddStringToObject(root, sfields[i].name, v))
            goto nomem;
    }
    for (i = 0; i < SL_ARRAY_LEN(nfields); i++)
        if ((nfields[i].present & bit) && add_int(root, nfields[i].name, *cnp(m, nfields[i].off)))
            goto nomem;
    if (bit & COP) {
        if (!(arr = cJSON_AddArrayToObject(root, "tables")))
            goto nomem;
        for (i = 0; i < m->ntables; i++)
            if (!cJSON_AddItemToArray(arr, cJSON_CreateString(m->tables[i])))
                goto nomem;
        if (!(arr = cJSON_AddArrayToObject(root, "failed_tables")))
            goto nomem;
        for (i = 0; i < m->nfailed_tables; i++) {
            if (!(obj = cJSON_CreateObject()) || !cJSON_AddItemToArray(arr, obj)) {
                cJSON_Delete(obj);
                goto nomem;
            }
            if (!cJSON_AddStringToObject(obj, "table", m->failed_tables[i].table) ||
                !cJSON_AddStringToObject(obj, "reason", m->failed_tables[i].reason))
                goto nomem;
        }
    }
    if ((bit & CRW) && m->nglue_tables) {
        if (!(arr = cJSON_AddArrayToObject(root, "glue_tables")))
            goto nomem;
        for (i = 0; i < m->nglue_tables; i++)
            if (!cJSON_AddItemToArray(arr, cJSON_CreateString(m->glue_tables[i])))
                goto nomem;
    }
    for (i = 0; (bit & B_H) && i < SL_ARRAY_LEN(afields); i++) {
        if (!(arr = cJSON_AddArrayToObject(root, afields[i].name)))
            goto nomem;
        for (size_t j = 0; j < can_(m, &afields[i]); j++)
            if (!cJSON_AddItemToArray(arr, cJSON_CreateString(cap_(m, &afields[i])[j])))
                goto nomem;
    }
    if ((bit & B_F) && m->input_json) {
        if (!(in = embed_input(m->input_json)) || !cJSON_AddItemToObject(root, "input", in)) {
            cJSON_Delete(in);
            goto nomem;
        }
    }
    if (bit & B_D) {
        if (add_int(root, "partition", m->partition) ||
            add_bytes(root, "payload", "payload_encoding", m->payload, m->payload_len) ||
            (m->key && add_bytes(root, "key", "key_encoding", m->key, m->key_len)))
            goto nomem;
    }
    if (!(s = cJSON_PrintUnformatted(root)))
        goto nomem;
    /* Never write what sl_msg_decode would refuse. */
    if (strlen(s) > SL_MSG_MAX_BYTES) {
        free(s);
        sl_seterr(err, errlen, "%s message: encoded size exceeds %zu", type_names[m->type],
                  SL_MSG_MAX_BYTES);
        goto out;
    }
    *out = s;
    if (outlen)
        *outlen = strlen(s);
    rc = 0;
    goto out;
nomem:
    sl_seterr(err, errlen, "%s message: encoding failed (out of memory)", type_names[m->type]);
out:
    cJSON_Delete(root);
    return rc;
}

/* ---- decode ---- */

static int get_count(const cJSON *v, long long min, long long *out)
{
    double d;

    if (!cJSON_IsNumber(v))
        return -1;
    d = v->valuedouble;
    /* Range first, so the cast below is defined; then integral. */
    if (!(d >= (double)min && d <= (double)SL_MSG_COUNT_MAX) || (double)(long long)d != d)
        return -1;
    *out = (long long)d;
    return 0;
}

static int get_bytes(const cJSON *root, const char *name, const char *encname, unsigned char **out,
                     size_t *outlen, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, name);
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, encname);
    const char *s;
    size_t n, pad = 0;
    unsigned char *p;
    int got;

    if (!cJSON_IsString(v))
        return sl_seterr(err, errlen, "dead_letter message: %s is not a string", name);
    s = v->valuestring;
    n = strlen(s);
    if (e && !cJSON_IsString(e))
        return sl_seterr(err, errlen, "dead_letter message: %s is not a string", encname);
    if (!e || strcmp(e->valuestring, "utf8") == 0) {
        if (!(p = dupbytes((const unsigned char *)s, n)))
            return sl_seterr(err, errlen, "dead_letter message: out of memory");
        *out = p;
        *outlen = n;
        return 0;
    }
    if (strcmp(e->valuestring, "base64") != 0)
        return sl_seterr(err, errlen, "dead_letter message: unknown %s", encname);
    /* EVP_DecodeBlock takes whole 4-char groups and counts '=' padding as zero bytes. */
    if (n % 4 != 0 || n > (size_t)2 * SL_MSG_MAX_BYTES)
        return sl_seterr(err, errlen, "dead_letter message: %s is not base64", name);
    if (n && s[n - 1] == '=')
        pad = (n >= 2 && s[n - 2] == '=') ? 2 : 1;
    if (!(p = malloc(n / 4 * 3 + 1)))
        return sl_seterr(err, errlen, "dead_letter message: out of memory");
    got = n ? EVP_DecodeBlock(p, (const unsigned char *)s, (int)n) : 0;
    if (got < 0 || (size_t)got != n / 4 * 3) {
        free(p);
        return sl_seterr(err, errlen, "dead_letter message: %s is not base64", name);
    }
    *out = p;
    *outlen = (size_t)got - pad;
    return 0;
}

static int decode_input(const cJSON *in, char **out)
{
    cJSON *j;

    if (cJSON_IsString(in)) {
        /* Canonical form: text that is an object/array is re-printed, so a struct read here
         * re-encodes to the same bytes. */
        j = sl_json_parse_exact(in->valuestring, strlen(in->valuestring));
        if (j && (cJSON_IsObject(j) || cJSON_IsArray(j)) &&
            depth(j, INPUT_MAX_DEPTH) <= INPUT_MAX_DEPTH)
            *out = cJSON_PrintUnformatted(j);
        else
            *out = strdup(in->valuestring);
        cJSON_Delete(j);
    } else {
        *out = cJSON_PrintUnformatted(in);
    }
    return *out ? 0 : -1;
}

int sl_msg_decode(const char *buf, size_t len, sl_msg *out, char *err, size_t errlen)
{
    cJSON *root = NULL;
    const cJSON *v, *it;
    sl_msg m;
    unsigned bit;
    size_t i;
    int t, rc = -1;

    sl_msg_init(out);
    sl_msg_init(&m);
    if (!buf || len == 0)
        return sl_seterr(err, errlen, "message: empty");
    if (len > SL_MSG_MAX_BYTES)
        return sl_seterr(err, errlen, "message: %zu bytes exceeds %zu", len, SL_MSG_MAX_BYTES);
    /* JSON text exchanged between systems is UTF-8 (RFC 8259 section 8.1) and cJSON does not
       check it: invalid bytes would reach PostgreSQL (which refuses them, SQLSTATE 22021, so
       the run's ledger row could never be finished) and the messages we write. */
    if (!utf8_ok((const unsigned char *)buf, len))
        return sl_seterr(err, errlen, "message: not valid UTF-8");
    if (!(root = sl_json_parse_exact(buf, len)))
        return sl_seterr(err, errlen, "message: not valid JSON");
    if (!cJSON_IsObject(root)) {
        sl_seterr(err, errlen, "message: not a JSON object");
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "v");
    if (!cJSON_IsNumber(v)) {
        sl_seterr(err, errlen, "message: missing version field v");
        goto out;
    }
    if (v->valuedouble != SL_MSG_VERSION) {
        sl_seterr(err, errlen, "message: unsupported version %.17g (this build reads v%d)",
                  v->valuedouble, SL_MSG_VERSION);
        goto out;
    }
    v = cJSON_GetObjectItemCaseSensitive(root, "type");
    if (!cJSON_IsString(v)) {
        sl_seterr(err, errlen, "message: missing type");
        goto out;
    }
    for (t = SL_MSG_SNAPSHOT; t <= SL_MSG_SHARED; t++)
        if (strcmp(v->valuestring, type_names[t]) == 0)
            break;
    if (t > SL_MSG_SHARED) {
        sl_seterr(err, errlen, "message: unknown type \"%.64s\"", v->valuestring);
        goto out;
    }
    m.type = (sl_msg_type)t;
    bit = 1u << t;
    for (i = 0; i < SL_ARRAY_LEN(sfields); i++) {
        if (!(sfields[i].present & bit))
            continue;
        v = cJSON_GetObjectItemCaseSensitive(root, sfields[i].name);
        if (!v || cJSON_IsNull(v))
            continue; /* required ones are caught by validate() */
        if (!cJSON_IsString(v)) {
            sl_seterr(err, errlen, "%s message: %s is not a string", type_names[t],
                      sfields[i].name);
            goto out;
        }
        if (!(*sp(&m, sfields[i].off) = strdup(v->valuestring)))
            goto nomem;
    }
    for (i = 0; i < SL_ARRAY_LEN(nfields); i++) {
        if (!(nfields[i].present & bit))
            continue;
        v = cJSON_GetObjectItemCaseSensitive(root, nfields[i].name);
        if (!v && !(nfields[i].required & bit))
            continue;
        if (!v) {
            sl_seterr(err, errlen, "%s message: missing %s", type_names[t], nfields[i].name);
            goto out;
        }
        if (get_count(v, nfields[i].min, np(&m, nfields[i].off))) {
            sl_seterr(err, errlen, "%s message: %s is not an integer in range", type_names[t],
                      nfields[i].name);
            goto out;
        }
    }
    if (bit & COP) {
        v = cJSON_GetObjectItemCaseSensitive(root, "tables");
        if (!cJSON_IsArray(v)) {
            sl_seterr(err, errlen, "%s message: tables is not an array", type_names[t]);
            goto out;
        }
        if (cJSON_GetArraySize(v) > 0 &&
            !(m.tables = calloc((size_t)cJSON_GetArraySize(v), sizeof(*m.tables))))
            goto nomem;
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it)) {
                sl_seterr(err, errlen, "%s message: tables[%zu] is not a string", type_names[t],
                          m.ntables);
                goto out;
            }
            if (!(m.tables[m.ntables] = strdup(it->valuestring)))
                goto nomem;
            m.ntables++;
        }
        v = cJSON_GetObjectItemCaseSensitive(root, "failed_tables");
        if (!cJSON_IsArray(v)) {
            sl_seterr(err, errlen, "%s message: failed_tables is not an array", type_names[t]);
            goto out;
        }
        if (cJSON_GetArraySize(v) > 0 &&
            !(m.failed_tables = calloc((size_t)cJSON_GetArraySize(v), sizeof(*m.failed_tables))))
            goto nomem;
        cJSON_ArrayForEach(it, v)
        {
            const cJSON *tb = cJSON_GetObjectItemCaseSensitive(it, "table");
            const cJSON *rs = cJSON_GetObjectItemCaseSensitive(it, "reason");
            sl_msg_table_failure *f = &m.failed_tables[m.nfailed_tables];
            if (!cJSON_IsObject(it) || !cJSON_IsString(tb) || !cJSON_IsString(rs)) {
                sl_seterr(err, errlen,
                          "%s message: failed_tables[%zu] needs string table and reason",
                          type_names[t], m.nfailed_tables);
                goto out;
            }
            m.nfailed_tables++;
            if (!(f->table = strdup(tb->valuestring)) || !(f->reason = strdup(rs->valuestring)))
                goto nomem;
        }
    }
    for (size_t a = 0; (bit & B_H) && a < SL_ARRAY_LEN(afields); a++) {
        char ***to = ap_(&m, &afields[a]);
        size_t *n = an_(&m, &afields[a]);
        v = cJSON_GetObjectItemCaseSensitive(root, afields[a].name);
        if (v && !cJSON_IsArray(v)) {
            sl_seterr(err, errlen, "shared message: %s is not an array", afields[a].name);
            goto out;
        }
        if (cJSON_GetArraySize(v) > 0 &&
            !(*to = calloc((size_t)cJSON_GetArraySize(v), sizeof(**to))))
            goto nomem;
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it)) {
                sl_seterr(err, errlen, "shared message: %s[%zu] is not a string", afields[a].name,
                          *n);
                goto out;
            }
            if (!((*to)[*n] = strdup(it->valuestring)))
                goto nomem;
            (*n)++;
        }
    }
    if (bit & CRW) {
        v = cJSON_GetObjectItemCaseSensitive(root, "glue_tables");
        if (v && !cJSON_IsArray(v)) {
            sl_seterr(err, errlen, "crawled message: glue_tables is not an array");
            goto out;
        }
        if (cJSON_GetArraySize(v) > 0 &&
            !(m.glue_tables = calloc((size_t)cJSON_GetArraySize(v), sizeof(*m.glue_tables))))
            goto nomem;
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it)) {
                sl_seterr(err, errlen, "crawled message: glue_tables[%zu] is not a string",
                          m.nglue_tables);
                goto out;
            }
            if (!(m.glue_tables[m.nglue_tables] = strdup(it->valuestring)))
                goto nomem;
            m.nglue_tables++;
        }
    }
    if (bit & B_F) {
        v = cJSON_GetObjectItemCaseSensitive(root, "input");
        if (v && !cJSON_IsNull(v) && decode_input(v, &m.input_json))
            goto nomem;
    }
    if (bit & B_D) {
        long long part;
        v = cJSON_GetObjectItemCaseSensitive(root, "partition");
        if (!v || get_count(v, -1, &part) || part > 0x7fffffffLL) {
            sl_seterr(err, errlen, "dead_letter message: partition is not an integer in range");
            goto out;
        }
        m.partition = (int32_t)part;
        if (!cJSON_GetObjectItemCaseSensitive(root, "payload")) {
            sl_seterr(err, errlen, "dead_letter message: missing payload");
            goto out;
        }
        if (get_bytes(root, "payload", "payload_encoding", &m.payload, &m.payload_len, err, errlen))
            goto out;
        if (cJSON_GetObjectItemCaseSensitive(root, "key") &&
            !cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(root, "key")) &&
            get_bytes(root, "key", "key_encoding", &m.key, &m.key_len, err, errlen))
            goto out;
    }
    if (validate(&m, err, errlen))
        goto out;
    *out = m;
    sl_msg_init(&m);
    rc = 0;
    goto out;
nomem:
    sl_seterr(err, errlen, "message: out of memory");
out:
    sl_msg_cleanup(&m);
    cJSON_Delete(root);
    return rc;
}

int sl_msg_format_time(long long epoch_ms, char *out, size_t outlen)
{
    const long long max_ms = 253402300799999LL; /* 9999-12-31T23:59:59.999Z */
    long long s, ms;
    struct tm tm;
    time_t t;
    int n;

    if (!out || outlen < 25 || epoch_ms < -62167219200000LL || epoch_ms > max_ms)
        return -1;
    s = epoch_ms / 1000;
    ms = epoch_ms % 1000;
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    t = (time_t)s;
    if (!gmtime_r(&t, &tm))
        return -1;
    n = snprintf(out, outlen, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
                 (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
                 (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
                 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)ms % 1000u);
    return (n > 0 && (size_t)n < outlen) ? 0 : -1;
}
