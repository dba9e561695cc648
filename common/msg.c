/*
 * msg.c - see msg.h and docs/messages.md: the field tables (which type carries and requires
 * which field), the type names, and the struct's life: init, cleanup, deep copy, equality, and
 * the timestamps. The wire format is in msg_encode.c and msg_decode.c, the rules both share in
 * msg_validate.c.
 */
#include "msg_fields.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OFF(f) offsetof(sl_msg, f)
const sl_msg_sfield sl_msg_sfields[] = {
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

const sl_msg_nfield sl_msg_nfields[] = {
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
const sl_msg_afield sl_msg_afields[] = {
    {"shared_tables", OFF(shared_tables), OFF(nshared_tables)},
    {"share_changes", OFF(share_changes), OFF(nshare_changes)},
};

const size_t sl_msg_nsfields = SL_ARRAY_LEN(sl_msg_sfields);
const size_t sl_msg_nnfields = SL_ARRAY_LEN(sl_msg_nfields);
const size_t sl_msg_nafields = SL_ARRAY_LEN(sl_msg_afields);

const char *const sl_msg_type_names[] = {NULL,      "snapshot", "exported",    "copied",
                                         "crawled", "failure",  "dead_letter", "shared"};
static const char *const topics[] = {NULL,     "snapshots", "exports", "copies",
                                     "crawls", "failures",  "dlq",     "shares"};

const char *sl_msg_type_name(sl_msg_type t)
{
    return (unsigned)t < SL_ARRAY_LEN(sl_msg_type_names) ? sl_msg_type_names[t] : NULL;
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
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_sfields); i++)
        free(*sp(m, sl_msg_sfields[i].off));
    free_tables(m->tables, m->ntables);
    free_tables(m->glue_tables, m->nglue_tables);
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_afields); i++)
        free_tables(*ap_(m, &sl_msg_afields[i]), *an_(m, &sl_msg_afields[i]));
    free_failed(m->failed_tables, m->nfailed_tables);
    free(m->input_json);
    free(m->key);
    free(m->payload);
    sl_msg_init(m);
}

unsigned char *sl_msg_dupbytes(const unsigned char *p, size_t n)
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
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_sfields); i++)
        *sp(&r, sl_msg_sfields[i].off) = NULL;
    r.tables = r.glue_tables = NULL;
    r.failed_tables = NULL;
    r.ntables = r.nfailed_tables = r.nglue_tables = 0;
    r.input_json = NULL;
    r.key = r.payload = NULL;
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_afields); i++) {
        *ap_(&r, &sl_msg_afields[i]) = NULL;
        *an_(&r, &sl_msg_afields[i]) = 0;
    }
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_afields); i++) {
        size_t n = can_(src, &sl_msg_afields[i]);
        char *const *from = cap_(src, &sl_msg_afields[i]);
        char ***to = ap_(&r, &sl_msg_afields[i]);
        if (!n)
            continue;
        if (!(*to = calloc(n, sizeof(**to))))
            goto nomem;
        for (; *an_(&r, &sl_msg_afields[i]) < n; (*an_(&r, &sl_msg_afields[i]))++)
            if (!((*to)[*an_(&r, &sl_msg_afields[i])] =
                      sl_strdup0(from[*an_(&r, &sl_msg_afields[i])])) &&
                from[*an_(&r, &sl_msg_afields[i])])
                goto nomem;
    }
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_sfields); i++) {
        const char *s = *csp(src, sl_msg_sfields[i].off);
        if (s && !(*sp(&r, sl_msg_sfields[i].off) = strdup(s)))
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
    if (src->key && !(r.key = sl_msg_dupbytes(src->key, src->key_len)))
        goto nomem;
    if (src->payload && !(r.payload = sl_msg_dupbytes(src->payload, src->payload_len)))
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
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_sfields); i++)
        if (!streq0(*csp(a, sl_msg_sfields[i].off), *csp(b, sl_msg_sfields[i].off)))
            return 0;
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_nfields); i++)
        if (*cnp(a, sl_msg_nfields[i].off) != *cnp(b, sl_msg_nfields[i].off))
            return 0;
    for (i = 0; i < a->ntables; i++)
        if (!streq0(a->tables[i], b->tables[i]))
            return 0;
    for (i = 0; i < a->nglue_tables; i++)
        if (!streq0(a->glue_tables[i], b->glue_tables[i]))
            return 0;
    for (i = 0; i < SL_ARRAY_LEN(sl_msg_afields); i++) {
        if (can_(a, &sl_msg_afields[i]) != can_(b, &sl_msg_afields[i]))
            return 0;
        for (size_t j = 0; j < can_(a, &sl_msg_afields[i]); j++)
            if (!streq0(cap_(a, &sl_msg_afields[i])[j], cap_(b, &sl_msg_afields[i])[j]))
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
