/*
 * msg_validate.c - what makes a pipeline message valid, checked by sl_msg_encode before it writes
 * and by sl_msg_decode after it reads, so a message this module wrote always decodes: required
 * fields per type, ranges, the cross-field rules of docs/messages.md; strict UTF-8; the nesting
 * depth of an embedded input message.
 */
#include <string.h>

#include "msg_fields.h"

static int oneof(const char *s, const char *a, const char *b, const char *c)
{
    return s && (strcmp(s, a) == 0 || strcmp(s, b) == 0 || (c && strcmp(s, c) == 0));
}

int sl_msg_validate(const sl_msg *m, char *err, size_t errlen)
{
    unsigned bit;
    size_t i;

    if (!sl_msg_type_name(m->type) || m->type == SL_MSG_NONE)
        return sl_seterr(err, errlen, "message: unknown type %d", (int)m->type);
    bit = 1u << m->type;
    for (i = 0; i < sl_msg_nsfields; i++)
        if ((sl_msg_sfields[i].required & bit) && !*csp(m, sl_msg_sfields[i].off))
            return sl_seterr(err, errlen, "%s message: missing %s", sl_msg_type_names[m->type],
                             sl_msg_sfields[i].name);
    for (i = 0; i < sl_msg_nnfields; i++) {
        long long v = *cnp(m, sl_msg_nfields[i].off);
        if ((sl_msg_nfields[i].present & bit) &&
            (v < sl_msg_nfields[i].min || v > SL_MSG_COUNT_MAX))
            return sl_seterr(err, errlen, "%s message: %s %lld out of range",
                             sl_msg_type_names[m->type], sl_msg_nfields[i].name, v);
    }
    if (bit & RUN) {
        if (!oneof(m->mode, "snapshot", "cluster", NULL))
            return sl_seterr(err, errlen, "%s message: mode must be snapshot or cluster",
                             sl_msg_type_names[m->type]);
        if (strcmp(m->mode, "snapshot") == 0 && !m->snapshot_id)
            return sl_seterr(err, errlen, "%s message: missing snapshot_id (mode snapshot)",
                             sl_msg_type_names[m->type]);
        if (!oneof(m->source, "event", "discovery", "cluster"))
            return sl_seterr(err, errlen, "%s message: source must be event, discovery or cluster",
                             sl_msg_type_names[m->type]);
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
    for (i = 0; (bit & B_H) && i < sl_msg_nafields; i++) {
        if (can_(m, &sl_msg_afields[i]) && !cap_(m, &sl_msg_afields[i]))
            return sl_seterr(err, errlen, "shared message: %s missing", sl_msg_afields[i].name);
        for (size_t j = 0; j < can_(m, &sl_msg_afields[i]); j++)
            if (!cap_(m, &sl_msg_afields[i])[j])
                return sl_seterr(err, errlen, "shared message: %s[%zu] is null",
                                 sl_msg_afields[i].name, j);
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

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), and no NUL, which a C
 * string field could not carry. */
int sl_msg_utf8_ok(const unsigned char *s, size_t n)
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

int sl_msg_json_depth(const cJSON *j, int limit)
{
    const cJSON *c;
    int d = 0, cd;

    if (limit < 0)
        return 1;
    for (c = j->child; c; c = c->next) {
        cd = sl_msg_json_depth(c, limit - 1);
        if (cd > d)
            d = cd;
        if (d > limit)
            break;
    }
    return d + 1;
}
