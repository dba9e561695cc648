/* catalog.c - see catalog.h. */
#include "catalog.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

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
        /* A column named like the partition key would make the table's columns hold one name
           twice, which query engines refuse (Athena: "duplicate columns"): the table could be
           registered but never read. Report it instead. */
        if (strcmp(t->cols[i].name, SL_CATALOG_PARTITION_KEY) == 0) {
            snprintf(why, sizeof(why),
                     "column %zu is named %s, as the lake's partition key (the %s= folders) "
                     "is: a query engine refuses a table with the name twice",
                     i + 1, t->cols[i].name, SL_CATALOG_PARTITION_KEY);
            i++;
            goto bad;
        }
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
    static const char *const keys[] = {"cluster", "database", "schema", "table", "folder"};
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
                    const char *vals[] = {v->cluster, v->database, v->schema, v->table, v->folder};
                    val = vals[k] ? vals[k] : "";
                    break;
                }
            }
            if (!val)
                return sl_seterr(err, errlen,
                                 "name template \"%s\": unknown placeholder {%.*s} (known: "
                                 "{cluster} {database} {schema} {table} {folder})",
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
        const char *dot = t->target ? strchr(t->target, '.') : NULL;
        sl_cat_name_vars nv = {cluster, t->database, t->schema, t->table, dot ? dot + 1 : t->table};
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
