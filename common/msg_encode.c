/*
 * msg_encode.c - sl_msg_encode: a validated sl_msg as compact JSON (cJSON), fields written from
 * the tables of msg.c, counts as exact integers, dead-letter bytes as text or base64.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "json.h"
#include "msg_fields.h"

/* The input message as it is embedded: a parsed object/array when the text is one (and not
 * too deep), else the text as a JSON string. Decode inverts this exactly. */
static cJSON *embed_input(const char *text)
{
    cJSON *j = sl_json_parse_exact(text, strlen(text));

    if (j && (cJSON_IsObject(j) || cJSON_IsArray(j)) &&
        sl_msg_json_depth(j, INPUT_MAX_DEPTH) <= INPUT_MAX_DEPTH)
        return j;
    cJSON_Delete(j);
    return cJSON_CreateString(text);
}

static int add_bytes(cJSON *o, const char *name, const char *encname, const unsigned char *p,
                     size_t n)
{
    cJSON *v;
    char *b64 = NULL, *s = NULL;

    if (sl_msg_utf8_ok(p, n)) {
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

    if (sl_msg_validate(m, err, errlen))
        return -1;
    bit = 1u << m->type;
    if (!(root = cJSON_CreateObject()) || !cJSON_AddNumberToObject(root, "v", SL_MSG_VERSION) ||
        !cJSON_AddStringToObject(root, "type", sl_msg_type_names[m->type]))
        goto nomem;
    for (i = 0; i < sl_msg_nsfields; i++) {
        const char *v = *csp(m, sl_msg_sfields[i].off);
        if ((sl_msg_sfields[i].present & bit) && v &&
            !cJSON_AddStringToObject(root, sl_msg_sfields[i].name, v))
            goto nomem;
    }
    for (i = 0; i < sl_msg_nnfields; i++)
        if ((sl_msg_nfields[i].present & bit) &&
            add_int(root, sl_msg_nfields[i].name, *cnp(m, sl_msg_nfields[i].off)))
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
    for (i = 0; (bit & B_H) && i < sl_msg_nafields; i++) {
        if (!(arr = cJSON_AddArrayToObject(root, sl_msg_afields[i].name)))
            goto nomem;
        for (size_t j = 0; j < can_(m, &sl_msg_afields[i]); j++)
            if (!cJSON_AddItemToArray(arr, cJSON_CreateString(cap_(m, &sl_msg_afields[i])[j])))
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
        sl_seterr(err, errlen, "%s message: encoded size exceeds %zu", sl_msg_type_names[m->type],
                  SL_MSG_MAX_BYTES);
        goto out;
    }
    *out = s;
    if (outlen)
        *outlen = strlen(s);
    rc = 0;
    goto out;
nomem:
    sl_seterr(err, errlen, "%s message: encoding failed (out of memory)",
              sl_msg_type_names[m->type]);
out:
    cJSON_Delete(root);
    return rc;
}
