/*
 * msg_decode.c - sl_msg_decode: bytes off a topic (outside input; fuzzed by fuzz_msg) to an
 * sl_msg, refusing what is not strict UTF-8 JSON of version 1 with the fields its type needs,
 * with a reason fit for the dead-letter topic.
 */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "json.h"
#include "msg_fields.h"

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
    unsigned char *p, *back;
    int got;

    if (!cJSON_IsString(v))
        return sl_seterr(err, errlen, "dead_letter message: %s is not a string", name);
    s = v->valuestring;
    n = strlen(s);
    if (e && !cJSON_IsString(e))
        return sl_seterr(err, errlen, "dead_letter message: %s is not a string", encname);
    if (!e || strcmp(e->valuestring, "utf8") == 0) {
        if (!(p = sl_msg_dupbytes((const unsigned char *)s, n)))
            return sl_seterr(err, errlen, "dead_letter message: out of memory");
        *out = p;
        *outlen = n;
        return 0;
    }
    if (strcmp(e->valuestring, "base64") != 0)
        return sl_seterr(err, errlen, "dead_letter message: unknown %s", encname);
    /* EVP_DecodeBlock takes whole 4-char groups but is lenient: it reads '=' anywhere as a
       zero sextet ("AA==AAAA" gives 6 bytes, "====" 3), trims blanks at either end and ignores
       the bits padding drops ("AB==" gives what "AA==" does). A corrupt record would then
       replay as other bytes without an error, so the text must be exactly what
       EVP_EncodeBlock writes for the bytes it decodes to: one canonical spelling per value
       (RFC 4648 section 3.5 lets a decoder refuse non-zero pad bits). */
    if (n % 4 != 0 || n > (size_t)2 * SL_MSG_MAX_BYTES)
        return sl_seterr(err, errlen, "dead_letter message: %s is not base64", name);
    if (n && s[n - 1] == '=')
        pad = (s[n - 2] == '=') ? 2 : 1;
    if (!(p = malloc(n / 4 * 3 + 1)) || !(back = malloc(n + 1))) {
        free(p);
        return sl_seterr(err, errlen, "dead_letter message: out of memory");
    }
    got = n ? EVP_DecodeBlock(p, (const unsigned char *)s, (int)n) : 0;
    /* got counts the padding as bytes; the value is the first got - pad of them. */
    if (got < 0 || (size_t)got != n / 4 * 3 || EVP_EncodeBlock(back, p, got - (int)pad) != (int)n ||
        memcmp(back, s, n) != 0) {
        free(back);
        free(p);
        return sl_seterr(err, errlen, "dead_letter message: %s is not base64", name);
    }
    free(back);
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
            sl_msg_json_depth(j, INPUT_MAX_DEPTH) <= INPUT_MAX_DEPTH)
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
    if (!sl_msg_utf8_ok((const unsigned char *)buf, len))
        return sl_seterr(err, errlen, "message: not valid UTF-8");
    /* The raw bytes hold no NUL (checked above), but the escape \u0000 would be one inside a
       C string, every field read cut short at it: the parse refuses it. */
    if (!(root = sl_json_parse_exact(buf, len)))
        return sl_seterr(err, errlen, "%s",
                         sl_json_has_nul(buf, len) ? "message: a string holds a NUL (\\u0000)"
                                                   : "message: not valid JSON");
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
        if (strcmp(v->valuestring, sl_msg_type_names[t]) == 0)
            break;
    if (t > SL_MSG_SHARED) {
        sl_seterr(err, errlen, "message: unknown type \"%.64s\"", v->valuestring);
        goto out;
    }
    m.type = (sl_msg_type)t;
    bit = 1u << t;
    for (i = 0; i < sl_msg_nsfields; i++) {
        if (!(sl_msg_sfields[i].present & bit))
            continue;
        v = cJSON_GetObjectItemCaseSensitive(root, sl_msg_sfields[i].name);
        if (!v || cJSON_IsNull(v))
            continue; /* required ones are caught by sl_msg_validate() */
        if (!cJSON_IsString(v)) {
            sl_seterr(err, errlen, "%s message: %s is not a string", sl_msg_type_names[t],
                      sl_msg_sfields[i].name);
            goto out;
        }
        if (!(*sp(&m, sl_msg_sfields[i].off) = strdup(v->valuestring)))
            goto nomem;
    }
    for (i = 0; i < sl_msg_nnfields; i++) {
        if (!(sl_msg_nfields[i].present & bit))
            continue;
        v = cJSON_GetObjectItemCaseSensitive(root, sl_msg_nfields[i].name);
        if (!v && !(sl_msg_nfields[i].required & bit))
            continue;
        if (!v) {
            sl_seterr(err, errlen, "%s message: missing %s", sl_msg_type_names[t],
                      sl_msg_nfields[i].name);
            goto out;
        }
        if (get_count(v, sl_msg_nfields[i].min, np(&m, sl_msg_nfields[i].off))) {
            sl_seterr(err, errlen, "%s message: %s is not an integer in range",
                      sl_msg_type_names[t], sl_msg_nfields[i].name);
            goto out;
        }
    }
    if (bit & COP) {
        v = cJSON_GetObjectItemCaseSensitive(root, "tables");
        if (!cJSON_IsArray(v)) {
            sl_seterr(err, errlen, "%s message: tables is not an array", sl_msg_type_names[t]);
            goto out;
        }
        if (cJSON_GetArraySize(v) > 0 &&
            !(m.tables = calloc((size_t)cJSON_GetArraySize(v), sizeof(*m.tables))))
            goto nomem;
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it)) {
                sl_seterr(err, errlen, "%s message: tables[%zu] is not a string",
                          sl_msg_type_names[t], m.ntables);
                goto out;
            }
            if (!(m.tables[m.ntables] = strdup(it->valuestring)))
                goto nomem;
            m.ntables++;
        }
        v = cJSON_GetObjectItemCaseSensitive(root, "failed_tables");
        if (!cJSON_IsArray(v)) {
            sl_seterr(err, errlen, "%s message: failed_tables is not an array",
                      sl_msg_type_names[t]);
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
                          sl_msg_type_names[t], m.nfailed_tables);
                goto out;
            }
            m.nfailed_tables++;
            if (!(f->table = strdup(tb->valuestring)) || !(f->reason = strdup(rs->valuestring)))
                goto nomem;
        }
    }
    for (size_t a = 0; (bit & B_H) && a < sl_msg_nafields; a++) {
        char ***to = ap_(&m, &sl_msg_afields[a]);
        size_t *n = an_(&m, &sl_msg_afields[a]);
        v = cJSON_GetObjectItemCaseSensitive(root, sl_msg_afields[a].name);
        if (v && !cJSON_IsArray(v)) {
            sl_seterr(err, errlen, "shared message: %s is not an array", sl_msg_afields[a].name);
            goto out;
        }
        if (cJSON_GetArraySize(v) > 0 &&
            !(*to = calloc((size_t)cJSON_GetArraySize(v), sizeof(**to))))
            goto nomem;
        cJSON_ArrayForEach(it, v)
        {
            if (!cJSON_IsString(it)) {
                sl_seterr(err, errlen, "shared message: %s[%zu] is not a string",
                          sl_msg_afields[a].name, *n);
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
    if (sl_msg_validate(&m, err, errlen))
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
