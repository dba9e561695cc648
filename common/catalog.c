/* catalog.c - see catalog.h. */
#include "catalog.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define PARQUET_IN "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
#define PARQUET_OUT "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
#define PARQUET_SERDE "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
#define PERR_MAX_BYTES ((size_t)1024 * 1024)

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

/* Reads "(p,s)" at *pp (blanks allowed inside) into *p, *s; advances *pp. -1 when absent. */
static int read_pair(const char **pp, long long *a, long long *b)
{
    const char *q = *pp;
    char *end;

    if (*q != '(')
        return -1;
    q++;
    while (*q == ' ')
        q++;
    if (!isdigit((unsigned char)*q))
        return -1;
    *a = strtoll(q, &end, 10);
    q = end;
    while (*q == ' ')
        q++;
    if (*q != ',')
        return -1;
    q++;
    while (*q == ' ')
        q++;
    if (!isdigit((unsigned char)*q))
        return -1;
    *b = strtoll(q, &end, 10);
    q = end;
    while (*q == ' ')
        q++;
    if (*q != ')')
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

/* ============================================================================================
 * export_tables_info
 * ========================================================================================== */

static void table_cleanup(sl_cat_table *t)
{
    free(t->target);
    free(t->database);
    free(t->schema);
    free(t->table);
    free(t->status);
    free(t->reason);
    free(t->error);
    sl_catalog_columns_free(t->cols, t->ncols);
    memset(t, 0, sizeof(*t));
}

void sl_catalog_export_cleanup(sl_cat_export *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->ntables; i++)
        table_cleanup(&e->tables[i]);
    free(e->tables);
    memset(e, 0, sizeof(*e));
}

void sl_catalog_columns_free(sl_cat_column *cols, size_t n)
{
    if (!cols)
        return;
    for (size_t i = 0; i < n; i++) {
        free(cols[i].name);
        free(cols[i].type);
    }
    free(cols);
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);

    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

/* A finite integral number member, else -1. */
static long long num_field(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 1e9)
        return -1;
    return (long long)v->valuedouble;
}

/* Fills t->cols from schemaMetadata; on a bad column sets t->error. -1 only on OOM. */
static int read_columns(const cJSON *entry, sl_cat_table *t)
{
    const cJSON *sm = cJSON_GetObjectItemCaseSensitive(entry, "schemaMetadata");
    const cJSON *maps = cJSON_GetObjectItemCaseSensitive(sm, "originalTypeMappings");
    const cJSON *m;
    size_t n, i = 0;
    char why[SL_ERRLEN], terr[SL_ERRLEN], type[64];

    if (!cJSON_IsArray(maps) || (n = (size_t)cJSON_GetArraySize(maps)) == 0) {
        t->error = strdup("export_tables_info has no schemaMetadata.originalTypeMappings");
        return t->error ? 0 : -1;
    }
    t->cols = calloc(n, sizeof(*t->cols));
    if (!t->cols)
        return -1;
    cJSON_ArrayForEach(m, maps)
    {
        const char *name = sl_json_str(m, "columnName");
        const char *exp = sl_json_str(m, "expectedExportedType");
        const char *orig = sl_json_str(m, "originalType");
        size_t len;

        if (!name || !(len = strlen(name)) || len > SL_CATALOG_NAME_MAX) {
            snprintf(why, sizeof(why), "column %zu: columnName missing, empty or over %d bytes",
                     i + 1, SL_CATALOG_NAME_MAX);
            goto bad;
        }
        for (size_t k = 0; k < len; k++) {
            if ((unsigned char)name[k] < 0x20 || name[k] == 0x7f) {
                snprintf(why, sizeof(why), "column %zu: columnName has a control character", i + 1);
                goto bad;
            }
        }
        if (sl_catalog_glue_type(exp, orig, num_field(m, "originalNumPrecision"),
                                 num_field(m, "originalNumScale"), type, sizeof(type), terr,
                                 sizeof(terr)) != 0) {
            snprintf(why, sizeof(why), "column %.200s: %.300s", name, terr);
            goto bad;
        }
        /* Glue keeps column names in lower case; Parquet columns match by lower-cased name. */
        t->cols[i].name = dupn(name, len);
        t->cols[i].type = strdup(type);
        if (!t->cols[i].name || !t->cols[i].type) {
            i++;
            t->ncols = i;
            return -1;
        }
        for (char *c = t->cols[i].name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        for (size_t k = 0; k < i; k++) {
            if (strcmp(t->cols[k].name, t->cols[i].name) == 0) {
                snprintf(why, sizeof(why), "columns %zu and %zu are both named %.200s", k + 1,
                         i + 1, t->cols[i].name);
                i++;
                goto bad;
            }
        }
        i++;
    }
    t->ncols = i;
    return 0;
bad:
    sl_catalog_columns_free(t->cols, i);
    t->cols = NULL;
    t->ncols = 0;
    t->error = strdup(why);
    return t->error ? 0 : -1;
}

static int split_target(sl_cat_table *t)
{
    const char *first = strchr(t->target, '.'), *last = strrchr(t->target, '.');

    if (!first) {
        t->database = strdup(t->target);
        t->schema = strdup("");
        t->table = strdup(t->target);
    } else if (first == last) {
        t->database = dupn(t->target, (size_t)(first - t->target));
        t->schema = strdup("");
        t->table = strdup(last + 1);
    } else {
        t->database = dupn(t->target, (size_t)(first - t->target));
        t->schema = dupn(first + 1, (size_t)(last - first - 1));
        t->table = strdup(last + 1);
    }
    return t->database && t->schema && t->table ? 0 : -1;
}

int sl_catalog_parse_tables_info(const char *buf, size_t len, sl_cat_export *out, char *err,
                                 size_t errlen)
{
    cJSON *j = NULL;
    const cJSON *per, *e;
    sl_cat_export ex = {0};
    size_t cap;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (len > SL_CATALOG_INFO_MAX)
        return sl_seterr(err, errlen, "export_tables_info: %zu bytes is over the cap", len);
    j = sl_json_parse_exact(buf, len);
    if (!j || !cJSON_IsObject(j)) {
        sl_seterr(err, errlen, "export_tables_info: not one JSON object");
        goto out;
    }
    per = cJSON_GetObjectItemCaseSensitive(j, "perTableStatus");
    if (!cJSON_IsArray(per)) {
        sl_seterr(err, errlen, "export_tables_info: no perTableStatus array");
        goto out;
    }
    cap = (size_t)cJSON_GetArraySize(per);
    ex.tables = cap ? calloc(cap, sizeof(*ex.tables)) : NULL;
    if (cap && !ex.tables)
        goto oom;
    cJSON_ArrayForEach(e, per)
    {
        const char *target = sl_json_str(e, "target"), *status = sl_json_str(e, "status");
        sl_cat_table *t;
        if (!target || !target[0] || !status)
            continue; /* database-level warnings carry no status */
        t = &ex.tables[ex.ntables++];
        t->target = strdup(target);
        t->status = strdup(status);
        if (!t->target || !t->status || split_target(t) != 0)
            goto oom;
        t->complete = strcmp(status, "COMPLETE") == 0;
        if (!t->complete) {
            const char *why = sl_json_str(e, "warningMessage");
            if (!why)
                why = sl_json_str(e, "failureCause");
            if (!why)
                why = sl_json_str(e, "errorMessage");
            t->reason = strdup(why ? why : "export_tables_info gives no reason");
            if (!t->reason)
                goto oom;
            continue;
        }
        if (!t->table[0] || !t->database[0]) {
            t->error = strdup("target is not <database>.<schema>.<table>");
            if (!t->error)
                goto oom;
            continue;
        }
        if (read_columns(e, t) != 0)
            goto oom;
    }
    *out = ex;
    ex.tables = NULL;
    ex.ntables = 0;
    rc = 0;
    goto out;
oom:
    sl_seterr(err, errlen, "export_tables_info: out of memory");
out:
    sl_catalog_export_cleanup(&ex);
    cJSON_Delete(j);
    return rc;
}

/* ============================================================================================
 * names
 * ========================================================================================== */

int sl_catalog_name(const char *tmpl, const sl_cat_name_vars *v, char *out, size_t outlen,
                    char *err, size_t errlen)
{
    static const char *const keys[] = {"cluster", "database", "schema", "table"};
    size_t o = 0;

    if (!tmpl || !v || outlen == 0)
        return sl_seterr(err, errlen, "name template: no template");
    for (const char *p = tmpl; *p;) {
        const char *src = p, *val = NULL;
        size_t n = 1;
        if (*p == '{') {
            const char *close = strchr(p, '}');
            size_t klen;
            if (!close)
                return sl_seterr(err, errlen, "name template \"%s\": unclosed '{'", tmpl);
            klen = (size_t)(close - p - 1);
            for (size_t k = 0; k < SL_ARRAY_LEN(keys); k++) {
                if (strlen(keys[k]) == klen && strncmp(p + 1, keys[k], klen) == 0) {
                    const char *vals[] = {v->cluster, v->database, v->schema, v->table};
                    val = vals[k] ? vals[k] : "";
                    break;
                }
            }
            if (!val)
                return sl_seterr(err, errlen,
                                 "name template \"%s\": unknown placeholder {%.*s} (known: "
                                 "{cluster} {database} {schema} {table})",
                                 tmpl, (int)klen, p + 1);
            src = val;
            n = strlen(val);
            p = close + 1;
        } else {
            p++;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)src[i];
            char w;
            if (c >= 0x80 && c < 0xc0 && i > 0 && (unsigned char)src[i - 1] >= 0x80)
                continue; /* a UTF-8 continuation: its sequence already gave one '_' */
            w = (char)tolower(c);
            if (!((w >= 'a' && w <= 'z') || (w >= '0' && w <= '9') || w == '_'))
                w = '_';
            if (o >= SL_CATALOG_NAME_MAX || o + 1 >= outlen)
                return sl_seterr(err, errlen,
                                 "name from template \"%s\" is over %d characters (Glue's "
                                 "limit)",
                                 tmpl, SL_CATALOG_NAME_MAX);
            out[o++] = w;
        }
    }
    out[o] = '\0';
    if (!o)
        return sl_seterr(err, errlen, "name template \"%s\" gives an empty name", tmpl);
    return 0;
}

static int cmp_by_name(const void *a, const void *b)
{
    const sl_cat_table *const *x = a, *const *y = b;
    int c = strcmp((*x)->glue_name, (*y)->glue_name);

    /* Equal names keep file order, so the error names the earlier table first. */
    if (c == 0)
        c = *x < *y ? -1 : *x > *y;
    return c;
}

int sl_catalog_name_tables(sl_cat_export *e, const char *table_tmpl, const char *cluster, char *err,
                           size_t errlen)
{
    sl_cat_table **v;
    char why[SL_ERRLEN];
    int rc = 0;

    for (size_t i = 0; i < e->ntables; i++) {
        sl_cat_table *t = &e->tables[i];
        sl_cat_name_vars nv = {cluster, t->database, t->schema, t->table};
        if (sl_catalog_name(table_tmpl, &nv, t->glue_name, sizeof(t->glue_name), why,
                            sizeof(why)) != 0)
            return sl_seterr(err, errlen, "table %s: %s", t->target, why);
    }
    if (e->ntables < 2)
        return 0;
    /* Sorted, equal names sit side by side: O(n log n) for the 500-table export. */
    v = malloc(e->ntables * sizeof(*v));
    if (!v)
        return sl_seterr(err, errlen, "table names: out of memory");
    for (size_t i = 0; i < e->ntables; i++)
        v[i] = &e->tables[i];
    qsort(v, e->ntables, sizeof(*v), cmp_by_name);
    for (size_t i = 1; i < e->ntables; i++) {
        if (strcmp(v[i - 1]->glue_name, v[i]->glue_name) == 0) {
            rc = sl_seterr(err, errlen,
                           "tables %s and %s both map to the Glue table name %s (template "
                           "\"%s\"): refusing to register one over the other",
                           v[i - 1]->target, v[i]->target, v[i]->glue_name, table_tmpl);
            break;
        }
    }
    free(v);
    return rc;
}

/* ============================================================================================
 * schema decision
 * ========================================================================================== */

/* Equal ignoring ASCII case and blanks. */
static int type_eq(const char *a, const char *b)
{
    for (;;) {
        while (*a == ' ')
            a++;
        while (*b == ' ')
            b++;
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return 0;
        if (!*a)
            return 1;
        a++;
        b++;
    }
}

static const sl_cat_column *find_col(const sl_cat_column *c, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(c[i].name, name) == 0)
            return &c[i];
    return NULL;
}

sl_cat_schema_verdict sl_catalog_schema_decide(const char *table, const sl_cat_column *cur,
                                               size_t ncur, const sl_cat_column *exp, size_t nexp,
                                               size_t *nadded, char *cause, size_t causelen)
{
    size_t added = 0;

    *nadded = 0;
    if (causelen)
        cause[0] = '\0';
    for (size_t i = 0; i < ncur; i++) {
        const sl_cat_column *x = find_col(exp, nexp, cur[i].name);
        if (!x) {
            snprintf(cause, causelen,
                     "table %s: column %s (%s) is in the catalog but not in the export", table,
                     cur[i].name, cur[i].type ? cur[i].type : "?");
            return SL_CAT_SCHEMA_INCOMPATIBLE;
        }
        if (!type_eq(cur[i].type ? cur[i].type : "", x->type ? x->type : "")) {
            snprintf(cause, causelen, "table %s: column %s changed type from %s to %s", table,
                     cur[i].name, cur[i].type ? cur[i].type : "?", x->type ? x->type : "?");
            return SL_CAT_SCHEMA_INCOMPATIBLE;
        }
    }
    for (size_t i = 0; i < nexp; i++)
        if (!find_col(cur, ncur, exp[i].name))
            added++;
    *nadded = added;
    return added ? SL_CAT_SCHEMA_APPEND : SL_CAT_SCHEMA_UNCHANGED;
}

int sl_catalog_table_columns(const cJSON *table, sl_cat_column **cols, size_t *n, char *err,
                             size_t errlen)
{
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(table, "StorageDescriptor");
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(sd, "Columns"), *c;
    sl_cat_column *v = NULL;
    size_t k = 0, cap;

    *cols = NULL;
    *n = 0;
    if (!cJSON_IsObject(table))
        return sl_seterr(err, errlen, "Glue table: not an object");
    if (!cl)
        return 0; /* a table without a storage descriptor has no columns */
    if (!cJSON_IsArray(cl))
        return sl_seterr(err, errlen, "Glue table: StorageDescriptor.Columns is not a list");
    cap = (size_t)cJSON_GetArraySize(cl);
    if (!cap)
        return 0;
    v = calloc(cap, sizeof(*v));
    if (!v)
        return sl_seterr(err, errlen, "Glue table: out of memory");
    cJSON_ArrayForEach(c, cl)
    {
        const char *name = sl_json_str(c, "Name"), *type = sl_json_str(c, "Type");
        if (!name) {
            sl_catalog_columns_free(v, k);
            return sl_seterr(err, errlen, "Glue table: column %zu has no Name", k + 1);
        }
        v[k].name = strdup(name);
        v[k].type = strdup(type ? type : "");
        k++;
        if (!v[k - 1].name || !v[k - 1].type) {
            sl_catalog_columns_free(v, k);
            return sl_seterr(err, errlen, "Glue table: out of memory");
        }
    }
    *cols = v;
    *n = k;
    return 0;
}

/* ============================================================================================
 * request bodies
 * ========================================================================================== */

static cJSON *columns_json(const sl_cat_column *cols, size_t n)
{
    cJSON *a = cJSON_CreateArray();

    for (size_t i = 0; a && i < n; i++) {
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddStringToObject(c, "Name", cols[i].name) ||
            !cJSON_AddStringToObject(c, "Type", cols[i].type) || !cJSON_AddItemToArray(a, c)) {
            cJSON_Delete(c);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* The StorageDescriptor shared by tables and partitions. */
static cJSON *storage_descriptor(const char *location, const sl_cat_column *cols, size_t ncols)
{
    cJSON *sd = cJSON_CreateObject(), *serde, *cl = columns_json(cols, ncols);

    if (!sd || !cl || !cJSON_AddItemToObject(sd, "Columns", cl)) {
        cJSON_Delete(cl);
        cJSON_Delete(sd);
        return NULL;
    }
    serde = cJSON_AddObjectToObject(sd, "SerdeInfo");
    if (!cJSON_AddStringToObject(sd, "Location", location) ||
        !cJSON_AddStringToObject(sd, "InputFormat", PARQUET_IN) ||
        !cJSON_AddStringToObject(sd, "OutputFormat", PARQUET_OUT) || !serde ||
        !cJSON_AddStringToObject(serde, "SerializationLibrary", PARQUET_SERDE) ||
        !cJSON_AddFalseToObject(sd, "Compressed")) {
        cJSON_Delete(sd);
        return NULL;
    }
    return sd;
}

cJSON *sl_catalog_table_input(const char *name, const char *location, const sl_cat_column *cols,
                              size_t ncols)
{
    static const sl_cat_column date_key = {"date", "string"};
    cJSON *ti = cJSON_CreateObject(), *sd = storage_descriptor(location, cols, ncols), *pk, *par;

    if (!ti || !sd || !cJSON_AddStringToObject(ti, "Name", name) ||
        !cJSON_AddItemToObject(ti, "StorageDescriptor", sd)) {
        cJSON_Delete(sd);
        cJSON_Delete(ti);
        return NULL;
    }
    pk = columns_json(&date_key, 1);
    if (!pk || !cJSON_AddItemToObject(ti, "PartitionKeys", pk)) {
        cJSON_Delete(pk);
        cJSON_Delete(ti);
        return NULL;
    }
    par = cJSON_AddObjectToObject(ti, "Parameters");
    /* classification is what Athena and Glue jobs read the format from; EXTERNAL keeps a
     * DROP TABLE from deleting the lake's files. */
    if (!cJSON_AddStringToObject(ti, "TableType", "EXTERNAL_TABLE") || !par ||
        !cJSON_AddStringToObject(par, "classification", "parquet") ||
        !cJSON_AddStringToObject(par, "EXTERNAL", "TRUE")) {
        cJSON_Delete(ti);
        return NULL;
    }
    return ti;
}

static cJSON *table_req(const char *database, const char *name, const char *location,
                        const sl_cat_column *cols, size_t ncols)
{
    cJSON *b = cJSON_CreateObject(), *ti = sl_catalog_table_input(name, location, cols, ncols);

    if (!b || !ti || !cJSON_AddStringToObject(b, "DatabaseName", database) ||
        !cJSON_AddItemToObject(b, "TableInput", ti)) {
        cJSON_Delete(ti);
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

cJSON *sl_catalog_create_table_req(const char *database, const char *name, const char *location,
                                   const sl_cat_column *cols, size_t ncols)
{
    return table_req(database, name, location, cols, ncols);
}

cJSON *sl_catalog_update_table_req(const char *database, const char *name, const char *location,
                                   const sl_cat_column *cols, size_t ncols)
{
    /* UpdateTable replaces the whole TableInput: the same body as CreateTable. */
    return table_req(database, name, location, cols, ncols);
}

static cJSON *values_json(const char *value)
{
    cJSON *v = cJSON_CreateArray(), *s = cJSON_CreateString(value);

    if (!v || !s || !cJSON_AddItemToArray(v, s)) {
        cJSON_Delete(s);
        cJSON_Delete(v);
        return NULL;
    }
    return v;
}

cJSON *sl_catalog_partition_input(const sl_cat_partition *p, const sl_cat_column *cols,
                                  size_t ncols)
{
    cJSON *pi = cJSON_CreateObject(), *v = values_json(p->value),
          *sd = storage_descriptor(p->location, cols, ncols);

    if (!pi || !v || !sd || !cJSON_AddItemToObject(pi, "Values", v)) {
        cJSON_Delete(pi);
        cJSON_Delete(v);
        cJSON_Delete(sd);
        return NULL;
    }
    if (!cJSON_AddItemToObject(pi, "StorageDescriptor", sd)) {
        cJSON_Delete(sd);
        cJSON_Delete(pi);
        return NULL;
    }
    return pi;
}

cJSON *sl_catalog_batch_create_partition_req(const char *database, const char *table,
                                             const sl_cat_partition *parts, size_t n,
                                             const sl_cat_column *cols, size_t ncols)
{
    cJSON *b, *list;

    if (n == 0 || n > SL_CATALOG_PARTITION_BATCH)
        return NULL;
    b = cJSON_CreateObject();
    if (!b || !cJSON_AddStringToObject(b, "DatabaseName", database) ||
        !cJSON_AddStringToObject(b, "TableName", table) ||
        !(list = cJSON_AddArrayToObject(b, "PartitionInputList"))) {
        cJSON_Delete(b);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        cJSON *pi = sl_catalog_partition_input(&parts[i], cols, ncols);
        if (!pi || !cJSON_AddItemToArray(list, pi)) {
            cJSON_Delete(pi);
            cJSON_Delete(b);
            return NULL;
        }
    }
    return b;
}

size_t sl_catalog_batch_count(size_t n)
{
    return (n + SL_CATALOG_PARTITION_BATCH - 1) / SL_CATALOG_PARTITION_BATCH;
}

int sl_catalog_batch_at(size_t n, size_t i, size_t *off, size_t *cnt)
{
    if (i >= sl_catalog_batch_count(n))
        return -1;
    *off = i * SL_CATALOG_PARTITION_BATCH;
    *cnt = n - *off < SL_CATALOG_PARTITION_BATCH ? n - *off : SL_CATALOG_PARTITION_BATCH;
    return 0;
}

cJSON *sl_catalog_update_partition_req(const char *database, const char *table,
                                       const sl_cat_partition *p, const sl_cat_column *cols,
                                       size_t ncols)
{
    cJSON *b = cJSON_CreateObject(), *v = values_json(p->value),
          *pi = sl_catalog_partition_input(p, cols, ncols);

    if (!b || !v || !pi || !cJSON_AddStringToObject(b, "DatabaseName", database) ||
        !cJSON_AddStringToObject(b, "TableName", table) ||
        !cJSON_AddItemToObject(b, "PartitionValueList", v)) {
        cJSON_Delete(b);
        cJSON_Delete(v);
        cJSON_Delete(pi);
        return NULL;
    }
    if (!cJSON_AddItemToObject(b, "PartitionInput", pi)) {
        cJSON_Delete(pi);
        cJSON_Delete(b);
        return NULL;
    }
    return b;
}

/* ============================================================================================
 * BatchCreatePartition's Errors
 * ========================================================================================== */

sl_cat_perr_kind sl_catalog_perr_kind(const char *code)
{
    /* Glue's own retryable errors of BatchCreatePartition (botocore model), plus the SDKs'
     * throttling codes. */
    static const char *const transient[] = {"InternalServiceException",
                                            "OperationTimeoutException",
                                            "ConcurrentModificationException",
                                            "ThrottlingException",
                                            "Throttling",
                                            "ServiceUnavailable",
                                            "ServiceUnavailableException"};

    if (!code)
        return SL_CAT_PERR_PERMANENT;
    if (strcmp(code, "AlreadyExistsException") == 0)
        return SL_CAT_PERR_EXISTS;
    for (size_t i = 0; i < SL_ARRAY_LEN(transient); i++)
        if (strcmp(code, transient[i]) == 0)
            return SL_CAT_PERR_TRANSIENT;
    return SL_CAT_PERR_PERMANENT;
}

void sl_catalog_part_errors_free(sl_cat_part_error *e, size_t n)
{
    if (!e)
        return;
    for (size_t i = 0; i < n; i++) {
        free(e[i].value);
        free(e[i].message);
    }
    free(e);
}

int sl_catalog_parse_partition_errors(const cJSON *resp, sl_cat_part_error **out, size_t *n,
                                      char *err, size_t errlen)
{
    const cJSON *errs = cJSON_GetObjectItemCaseSensitive(resp, "Errors"), *e;
    sl_cat_part_error *v;
    size_t k = 0, cap;

    *out = NULL;
    *n = 0;
    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "BatchCreatePartition: response is not an object");
    if (!errs || cJSON_IsNull(errs))
        return 0;
    if (!cJSON_IsArray(errs))
        return sl_seterr(err, errlen, "BatchCreatePartition: Errors is not a list");
    cap = (size_t)cJSON_GetArraySize(errs);
    if (!cap)
        return 0;
    v = calloc(cap, sizeof(*v));
    if (!v)
        return sl_seterr(err, errlen, "BatchCreatePartition: out of memory");
    cJSON_ArrayForEach(e, errs)
    {
        const cJSON *vals = cJSON_GetObjectItemCaseSensitive(e, "PartitionValues");
        const cJSON *det = cJSON_GetObjectItemCaseSensitive(e, "ErrorDetail");
        const cJSON *v0 = cJSON_IsArray(vals) ? cJSON_GetArrayItem(vals, 0) : NULL;
        const char *code = sl_json_str(det, "ErrorCode"), *msg = sl_json_str(det, "ErrorMessage");
        if (!cJSON_IsObject(e)) {
            sl_catalog_part_errors_free(v, k);
            return sl_seterr(err, errlen, "BatchCreatePartition: Errors[%zu] is not an object", k);
        }
        v[k].value = strdup(cJSON_IsString(v0) && v0->valuestring ? v0->valuestring : "");
        v[k].message = strdup(msg ? msg : "");
        snprintf(v[k].code, sizeof(v[k].code), "%s", code && code[0] ? code : "UnknownError");
        v[k].kind = sl_catalog_perr_kind(code);
        k++;
        if (!v[k - 1].value || !v[k - 1].message) {
            sl_catalog_part_errors_free(v, k);
            return sl_seterr(err, errlen, "BatchCreatePartition: out of memory");
        }
    }
    *out = v;
    *n = k;
    return 0;
}

int sl_catalog_parse_partition_errors_bytes(const char *buf, size_t len, sl_cat_part_error **out,
                                            size_t *n, char *err, size_t errlen)
{
    cJSON *j;
    int rc;

    *out = NULL;
    *n = 0;
    if (len > PERR_MAX_BYTES)
        return sl_seterr(err, errlen, "BatchCreatePartition: response of %zu bytes is over the cap",
                         len);
    j = sl_json_parse_exact(buf, len);
    if (!j)
        return sl_seterr(err, errlen, "BatchCreatePartition: response is not JSON");
    rc = sl_catalog_parse_partition_errors(j, out, n, err, errlen);
    cJSON_Delete(j);
    return rc;
}
