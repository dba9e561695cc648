/* catalog_type.c - see catalog_type.h. */
#include "catalog_type.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================================
 * types
 * ========================================================================================== */

/* Lower-cased copy of s without surrounding blanks; -1 when it does not fit. */
static int lower_trim(const char *s, char *out, size_t outlen)
{
    size_t n, o = 0;

    while (*s == ' ' || *s == '\t')
        s++;
    n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (n >= outlen)
        return -1;
    for (size_t i = 0; i < n; i++)
        out[o++] = (char)tolower((unsigned char)s[i]);
    out[o] = '\0';
    return 0;
}

/* Reads blanks, a decimal number and blanks at *q into *v; advances *q. -1 when no digit. */
static int read_num(const char **q, long long *v)
{
    char *end;

    while (**q == ' ')
        (*q)++;
    if (!isdigit((unsigned char)**q))
        return -1;
    *v = strtoll(*q, &end, 10);
    *q = end;
    while (**q == ' ')
        (*q)++;
    return 0;
}

/* Reads "(p,s)" at *pp (blanks allowed inside) into *p, *s; advances *pp. -1 when absent. */
static int read_pair(const char **pp, long long *a, long long *b)
{
    const char *q = *pp;

    if (*q != '(')
        return -1;
    q++;
    if (read_num(&q, a) || *q != ',')
        return -1;
    q++;
    if (read_num(&q, b) || *q != ')')
        return -1;
    *pp = q + 1;
    return 0;
}

/* Annotation kinds that decide a type. */
enum ann {
    ANN_NONE,
    ANN_STRING, /* UTF8, STRING, ENUM, JSON */
    ANN_DATE,
    ANN_TIMESTAMP, /* TIMESTAMP_MICROS, TIMESTAMP_MILLIS, TIMESTAMP(unit,utc) */
    ANN_DECIMAL,
    ANN_INT8,
    ANN_INT16,
    ANN_INT32,
    ANN_INT64,
    ANN_UINT8,
    ANN_UINT16,
    ANN_UINT32,
    ANN_UINT64,
    ANN_BSON,
    ANN_UNKNOWN
};

/* Parses an annotation such as "utf8", "decimal(12,2)", "timestamp(micros,true)". */
static enum ann read_annotation(const char *a, long long *p, long long *s)
{
    static const struct {
        const char *name;
        enum ann kind;
    } plain[] = {
        {"utf8", ANN_STRING},
        {"string", ANN_STRING},
        {"enum", ANN_STRING},
        {"json", ANN_STRING},
        {"date", ANN_DATE},
        {"timestamp_micros", ANN_TIMESTAMP},
        {"timestamp_millis", ANN_TIMESTAMP},
        {"int_8", ANN_INT8},
        {"int_16", ANN_INT16},
        {"int_32", ANN_INT32},
        {"int_64", ANN_INT64},
        {"uint_8", ANN_UINT8},
        {"uint_16", ANN_UINT16},
        {"uint_32", ANN_UINT32},
        {"uint_64", ANN_UINT64},
        {"bson", ANN_BSON},
        {"decimal", ANN_DECIMAL}, /* without (p,s): the precision fields decide */
    };
    const char *q;

    for (size_t i = 0; i < SL_ARRAY_LEN(plain); i++)
        if (strcmp(a, plain[i].name) == 0)
            return plain[i].kind;
    if (strncmp(a, "decimal", 7) == 0) {
        q = a + 7;
        if (read_pair(&q, p, s) == 0 && *q == '\0')
            return ANN_DECIMAL;
        return ANN_UNKNOWN;
    }
    /* The newer LogicalType printing: TIMESTAMP(MICROS,true), INTEGER(16,true). */
    if (strcmp(a, "timestamp(micros,true)") == 0 || strcmp(a, "timestamp(micros,false)") == 0 ||
        strcmp(a, "timestamp(millis,true)") == 0 || strcmp(a, "timestamp(millis,false)") == 0)
        return ANN_TIMESTAMP;
    if (strncmp(a, "integer", 7) == 0) {
        static const struct {
            const char *args;
            enum ann kind;
        } ints[] = {{"(8,true)", ANN_INT8},     {"(16,true)", ANN_INT16},
                    {"(32,true)", ANN_INT32},   {"(64,true)", ANN_INT64},
                    {"(8,false)", ANN_UINT8},   {"(16,false)", ANN_UINT16},
                    {"(32,false)", ANN_UINT32}, {"(64,false)", ANN_UINT64}};
        for (size_t i = 0; i < SL_ARRAY_LEN(ints); i++)
            if (strcmp(a + 7, ints[i].args) == 0)
                return ints[i].kind;
    }
    return ANN_UNKNOWN;
}

enum prim { P_BOOLEAN, P_INT32, P_INT64, P_INT96, P_FLOAT, P_DOUBLE, P_BINARY, P_FIXED, P_BAD };

static enum prim read_primitive(const char **pp)
{
    static const struct {
        const char *name;
        enum prim kind;
    } prims[] = {{"boolean", P_BOOLEAN}, {"int32", P_INT32},      {"int64", P_INT64},
                 {"int96", P_INT96},     {"float", P_FLOAT},      {"double", P_DOUBLE},
                 {"binary", P_BINARY},   {"byte_array", P_BINARY}};
    const char *q = *pp;
    size_t n = 0;

    while (isalnum((unsigned char)q[n]) || q[n] == '_')
        n++;
    if (n == 20 && strncmp(q, "fixed_len_byte_array", 20) == 0) {
        char *end;
        q += n;
        if (*q == '(') {
            long long len;
            if (!isdigit((unsigned char)q[1]))
                return P_BAD;
            len = strtoll(q + 1, &end, 10);
            if (*end != ')' || len < 1)
                return P_BAD;
            q = end + 1;
        }
        *pp = q;
        return P_FIXED;
    }
    for (size_t i = 0; i < SL_ARRAY_LEN(prims); i++) {
        if (strlen(prims[i].name) == n && strncmp(q, prims[i].name, n) == 0) {
            *pp = q + n;
            return prims[i].kind;
        }
    }
    return P_BAD;
}

int sl_catalog_glue_type(const char *expected, const char *original, long long num_precision,
                         long long num_scale, char *out, size_t outlen, char *err, size_t errlen)
{
    char norm[256], ann_s[128];
    const char *q = norm, *type = NULL;
    enum prim pr;
    enum ann an = ANN_NONE;
    long long p = -1, s = -1;
    char dec[32];

    if (!expected || lower_trim(expected, norm, sizeof(norm)) != 0 || !norm[0])
        return sl_seterr(err, errlen, "expectedExportedType missing, empty or too long");
    pr = read_primitive(&q);
    if (pr == P_BAD)
        goto unknown;
    while (*q == ' ')
        q++;
    if (*q == '(') {
        /* The annotation runs to the matching ')' and must end the string. */
        int depth = 0;
        size_t n = 0;
        const char *a = q + 1;
        for (; *q; q++) {
            if (*q == '(')
                depth++;
            else if (*q == ')' && --depth == 0)
                break;
        }
        if (*q != ')' || q[1] != '\0')
            goto unknown;
        n = (size_t)(q - a);
        if (n == 0 || n >= sizeof(ann_s))
            goto unknown;
        /* Blanks inside an annotation carry nothing: "DECIMAL(10, 2)" == "DECIMAL(10,2)". */
        size_t o = 0;
        for (size_t i = 0; i < n; i++)
            if (a[i] != ' ')
                ann_s[o++] = a[i];
        ann_s[o] = '\0';
        an = read_annotation(ann_s, &p, &s);
        if (an == ANN_UNKNOWN)
            goto unknown;
    } else if (*q != '\0') {
        goto unknown;
    }

    if (an == ANN_DECIMAL) {
        if (pr != P_INT32 && pr != P_INT64 && pr != P_BINARY && pr != P_FIXED)
            goto unknown;
        if (p < 0) {
            p = num_precision;
            s = num_scale;
        }
        /* Glue/Athena decimals go to precision 38; RDS writes wider ones as strings. */
        if (p < 1 || p > 38 || s < 0 || s > p)
            return sl_seterr(err, errlen,
                             "type %s (%s): decimal precision %lld, scale %lld is not 1..38 "
                             "with 0 <= scale <= precision",
                             expected, original ? original : "?", p, s);
        snprintf(dec, sizeof(dec), "decimal(%lld,%lld)", p, s);
        type = dec;
    } else {
        switch (pr) {
        case P_BOOLEAN:
            type = an == ANN_NONE ? "boolean" : NULL;
            break;
        case P_INT32:
            type = an == ANN_NONE || an == ANN_INT32    ? "int"
                   : an == ANN_INT8                     ? "tinyint"
                   : an == ANN_INT16 || an == ANN_UINT8 ? "smallint"
                   : an == ANN_UINT16                   ? "int"
                   : an == ANN_UINT32                   ? "bigint"
                   : an == ANN_DATE                     ? "date"
                                                        : NULL;
            break;
        case P_INT64:
            type = an == ANN_NONE || an == ANN_INT64 ? "bigint"
                   : an == ANN_UINT64                ? "decimal(20,0)"
                   : an == ANN_TIMESTAMP             ? "timestamp"
                                                     : NULL;
            break;
        case P_INT96:
            type = an == ANN_NONE ? "timestamp" : NULL;
            break;
        case P_FLOAT:
            type = an == ANN_NONE ? "float" : NULL;
            break;
        case P_DOUBLE:
            type = an == ANN_NONE ? "double" : NULL;
            break;
        case P_BINARY:
            type = an == ANN_NONE || an == ANN_BSON ? "binary" : an == ANN_STRING ? "string" : NULL;
            break;
        case P_FIXED:
            type = an == ANN_NONE ? "binary" : NULL;
            break;
        case P_BAD:
            break;
        }
    }
    if (!type)
        goto unknown;
    if (strlen(type) >= outlen)
        return sl_seterr(err, errlen, "type %s: no room for %s", expected, type);
    snprintf(out, outlen, "%s", type);
    return 0;
unknown:
    return sl_seterr(err, errlen, "unknown exported type \"%s\" (source type %s)", expected,
                     original ? original : "?");
}
