/* lf.c - see lf.h. */
#include "lf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- string vectors and tags ------------------------------------------------------------------ */

int sl_lf_strv_push(sl_lf_strv *s, const char *str)
{
    char *c = strdup(str ? str : "");
    char **nv;

    if (!c)
        return -1;
    nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
    if (!nv) {
        free(c);
        return -1;
    }
    nv[s->n++] = c;
    s->v = nv;
    return 0;
}

long sl_lf_strv_find(const sl_lf_strv *s, const char *str)
{
    for (size_t i = 0; s && str && i < s->n; i++)
        if (strcmp(s->v[i], str) == 0)
            return (long)i;
    return -1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void sl_lf_strv_sort(sl_lf_strv *s)
{
    size_t o = 0;

    if (!s || s->n < 2)
        return;
    qsort(s->v, s->n, sizeof(*s->v), cmp_str);
    for (size_t i = 0; i < s->n; i++) {
        if (o > 0 && strcmp(s->v[o - 1], s->v[i]) == 0) {
            free(s->v[i]);
            continue;
        }
        s->v[o++] = s->v[i];
    }
    s->n = o;
}

int sl_lf_strv_copy(sl_lf_strv *dst, const sl_lf_strv *src)
{
    sl_lf_strv c = {0};

    for (size_t i = 0; src && i < src->n; i++) {
        if (sl_lf_strv_push(&c, src->v[i]) != 0) {
            sl_lf_strv_cleanup(&c);
            return -1;
        }
    }
    *dst = c;
    return 0;
}

void sl_lf_strv_cleanup(sl_lf_strv *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

void sl_lf_strv_join(const sl_lf_strv *s, char *out, size_t outlen)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < s->n && o < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s", i ? ", " : "", s->v[i]);
        if (w < 0)
            return;
        o += (size_t)w;
    }
}

void sl_lf_tag_cleanup(sl_lf_tag *t)
{
    if (!t)
        return;
    free(t->key);
    t->key = NULL;
    sl_lf_strv_cleanup(&t->values);
}

void sl_lf_tags_free(sl_lf_tag *tags, size_t n)
{
    for (size_t i = 0; tags && i < n; i++)
        sl_lf_tag_cleanup(&tags[i]);
    free(tags);
}

int sl_lf_tags_add(sl_lf_tag **tags, size_t *n, const char *key, const char *const *values,
                   size_t nvalues)
{
    sl_lf_tag t = {0};
    sl_lf_tag *nt;

    t.key = strdup(key);
    if (!t.key)
        return -1;
    for (size_t i = 0; i < nvalues; i++) {
        if (sl_lf_strv_push(&t.values, values[i]) != 0)
            goto fail;
    }
    nt = realloc(*tags, (*n + 1) * sizeof(*nt));
    if (!nt)
        goto fail;
    nt[(*n)++] = t;
    *tags = nt;
    return 0;
fail:
    sl_lf_tag_cleanup(&t);
    return -1;
}

const sl_lf_tag *sl_lf_tags_find(const sl_lf_tag *tags, size_t n, const char *key)
{
    for (size_t i = 0; tags && key && i < n; i++)
        if (tags[i].key && strcmp(tags[i].key, key) == 0)
            return &tags[i];
    return NULL;
}

/* --- permissions ------------------------------------------------------------------------------ */

static const char *const perm_names[SL_LF_NPERMS] = {
    "ALL",
    "SELECT",
    "ALTER",
    "DROP",
    "DELETE",
    "INSERT",
    "DESCRIBE",
    "CREATE_DATABASE",
    "CREATE_TABLE",
    "DATA_LOCATION_ACCESS",
    "CREATE_LF_TAG",
    "ASSOCIATE",
    "GRANT_WITH_LF_TAG_EXPRESSION",
    "CREATE_LF_TAG_EXPRESSION",
    "CREATE_CATALOG",
    "SUPER_USER",
    "EXECUTE",
};

unsigned sl_lf_perm_bit(const char *name)
{
    for (unsigned i = 0; name && i < SL_LF_NPERMS; i++)
        if (strcmp(perm_names[i], name) == 0)
            return 1u << i;
    return 0;
}

const char *sl_lf_perm_name(unsigned bit)
{
    for (unsigned i = 0; i < SL_LF_NPERMS; i++)
        if (bit == 1u << i)
            return perm_names[i];
    return NULL;
}

void sl_lf_perms_format(unsigned perms, char *out, size_t outlen)
{
    size_t o = 0;

    if (outlen == 0)
        return;
    out[0] = '\0';
    for (unsigned i = 0; i < SL_LF_NPERMS; i++) {
        if (!(perms & (1u << i)))
            continue;
        int w = snprintf(out + o, outlen - o, "%s%s", o ? ", " : "", perm_names[i]);
        if (w < 0 || (size_t)w >= outlen - o)
            return;
        o += (size_t)w;
    }
    if (o == 0)
        snprintf(out, outlen, "none");
}

/* --- resources -------------------------------------------------------------------------------- */

void sl_lf_resource_cleanup(sl_lf_resource *r)
{
    if (!r)
        return;
    free(r->catalog_id);
    free(r->database);
    free(r->table);
    free(r->name);
    free(r->other);
    sl_lf_tags_free(r->expr, r->nexpr);
    memset(r, 0, sizeof(*r));
}

/* strdup0 that reports failure: 0 when src is NULL or copied, -1 on OOM. */
static int dup0(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

int sl_lf_resource_copy(sl_lf_resource *dst, const sl_lf_resource *src)
{
    sl_lf_resource c;

    memset(&c, 0, sizeof(c));
    c.kind = src->kind;
    c.table_wildcard = src->table_wildcard;
    c.policy_database = src->policy_database;
    if (dup0(&c.catalog_id, src->catalog_id) || dup0(&c.database, src->database) ||
        dup0(&c.table, src->table) || dup0(&c.name, src->name) || dup0(&c.other, src->other))
        goto fail;
    for (size_t i = 0; i < src->nexpr; i++) {
        if (sl_lf_tags_add(&c.expr, &c.nexpr, src->expr[i].key,
                           (const char *const *)src->expr[i].values.v, src->expr[i].values.n) != 0)
            goto fail;
    }
    *dst = c;
    return 0;
fail:
    sl_lf_resource_cleanup(&c);
    return -1;
}

static int cmp_tag(const void *a, const void *b)
{
    return strcmp(((const sl_lf_tag *)a)->key, ((const sl_lf_tag *)b)->key);
}

void sl_lf_resource_normalize(sl_lf_resource *r)
{
    if (!r || r->kind != SL_LF_RES_TAG_POLICY)
        return;
    for (size_t i = 0; i < r->nexpr; i++)
        sl_lf_strv_sort(&r->expr[i].values);
    if (r->nexpr > 1)
        qsort(r->expr, r->nexpr, sizeof(*r->expr), cmp_tag);
}

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

static int catalog_eq(const char *a, const char *b)
{
    return !a || !b || strcmp(a, b) == 0;
}

static int strv_eq(const sl_lf_strv *a, const sl_lf_strv *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0)
            return 0;
    return 1;
}

int sl_lf_resource_equal(const sl_lf_resource *a, const sl_lf_resource *b)
{
    if (a->kind != b->kind || !catalog_eq(a->catalog_id, b->catalog_id))
        return 0;
    switch (a->kind) {
    case SL_LF_RES_DATABASE:
        return str_eq(a->database, b->database);
    case SL_LF_RES_TABLE:
        return str_eq(a->database, b->database) && a->table_wildcard == b->table_wildcard &&
               str_eq(a->table, b->table);
    case SL_LF_RES_FILTER:
        return str_eq(a->database, b->database) && str_eq(a->table, b->table) &&
               str_eq(a->name, b->name);
    case SL_LF_RES_TAG_POLICY:
        if (a->policy_database != b->policy_database || a->nexpr != b->nexpr)
            return 0;
        /* Both sides are normalized (sorted) by whoever built them. */
        for (size_t i = 0; i < a->nexpr; i++)
            if (strcmp(a->expr[i].key, b->expr[i].key) != 0 ||
                !strv_eq(&a->expr[i].values, &b->expr[i].values))
                return 0;
        return 1;
    case SL_LF_RES_OTHER:
        break;
    }
    return 0;
}

/* Appends "k=v1|v2 AND k2=v" to out. */
static void expr_format(const sl_lf_resource *r, char *out, size_t outlen)
{
    size_t o = strlen(out);

    for (size_t i = 0; i < r->nexpr && o < outlen; i++) {
        int w = snprintf(out + o, outlen - o, "%s%s=", i ? " AND " : "", r->expr[i].key);
        if (w < 0 || (size_t)w >= outlen - o)
            return;
        o += (size_t)w;
        for (size_t j = 0; j < r->expr[i].values.n; j++) {
            w = snprintf(out + o, outlen - o, "%s%s", j ? "|" : "", r->expr[i].values.v[j]);
            if (w < 0 || (size_t)w >= outlen - o)
                return;
            o += (size_t)w;
        }
    }
}

void sl_lf_resource_describe(const sl_lf_resource *r, char *out, size_t outlen)
{
    if (outlen == 0)
        return;
    switch (r->kind) {
    case SL_LF_RES_DATABASE:
        snprintf(out, outlen, "Database %s", r->database ? r->database : "?");
        break;
    case SL_LF_RES_TABLE:
        snprintf(out, outlen, "Table %s.%s", r->database ? r->database : "?",
                 r->table_wildcard ? "*" : (r->table ? r->table : "?"));
        break;
    case SL_LF_RES_FILTER:
        snprintf(out, outlen, "DataCellsFilter %s.%s/%s", r->database ? r->database : "?",
                 r->table ? r->table : "?", r->name ? r->name : "?");
        break;
    case SL_LF_RES_TAG_POLICY:
        snprintf(out, outlen, "LFTagPolicy %s (", r->policy_database ? "DATABASE" : "TABLE");
        expr_format(r, out, outlen);
        if (strlen(out) + 2 <= outlen)
            strcat(out, ")");
        break;
    case SL_LF_RES_OTHER:
        snprintf(out, outlen, "%s", r->other ? r->other : "(other resource)");
        break;
    }
}

/* --- grants ----------------------------------------------------------------------------------- */

void sl_lf_grant_cleanup(sl_lf_grant *g)
{
    if (!g)
        return;
    free(g->principal);
    sl_lf_resource_cleanup(&g->res);
    memset(g, 0, sizeof(*g));
}

void sl_lf_grants_free(sl_lf_grant *g, size_t n)
{
    for (size_t i = 0; g && i < n; i++)
        sl_lf_grant_cleanup(&g[i]);
    free(g);
}

int sl_lf_grant_copy(sl_lf_grant *dst, const sl_lf_grant *src)
{
    sl_lf_grant c;

    memset(&c, 0, sizeof(c));
    c.perms = src->perms;
    c.grantable = src->grantable;
    if (dup0(&c.principal, src->principal) != 0 || sl_lf_resource_copy(&c.res, &src->res) != 0) {
        free(c.principal);
        return -1;
    }
    *dst = c;
    return 0;
}

char *sl_lf_grant_key(const char *principal, const sl_lf_resource *r)
{
    cJSON *a = cJSON_CreateArray(), *expr;
    char *out = NULL;
    int bad = !a || !principal;

#define PUSH(x) (bad = bad || !cJSON_AddItemToArray(a, cJSON_CreateString((x) ? (x) : "")))
    PUSH(principal);
    switch (r->kind) {
    case SL_LF_RES_DATABASE:
        PUSH("Database");
        PUSH(r->database);
        break;
    case SL_LF_RES_TABLE:
        PUSH("Table");
        PUSH(r->database);
        PUSH(r->table_wildcard ? "*" : r->table);
        break;
    case SL_LF_RES_FILTER:
        PUSH("DataCellsFilter");
        PUSH(r->database);
        PUSH(r->table);
        PUSH(r->name);
        break;
    case SL_LF_RES_TAG_POLICY:
        PUSH("LFTagPolicy");
        PUSH(r->policy_database ? "DATABASE" : "TABLE");
        expr = cJSON_CreateArray();
        if (bad || !expr || !cJSON_AddItemToArray(a, expr)) {
            cJSON_Delete(expr);
            bad = 1;
        }
        for (size_t i = 0; !bad && i < r->nexpr; i++) {
            cJSON *term = cJSON_CreateArray(), *vals = cJSON_CreateArray();
            if (!term || !vals || !cJSON_AddItemToArray(expr, term)) {
                cJSON_Delete(term);
                cJSON_Delete(vals);
                bad = 1;
                break;
            }
            /* term belongs to expr now */
            if (!cJSON_AddItemToArray(term, cJSON_CreateString(r->expr[i].key)) ||
                !cJSON_AddItemToArray(term, vals)) {
                cJSON_Delete(vals);
                bad = 1;
                break;
            }
            for (size_t j = 0; !bad && j < r->expr[i].values.n; j++)
                bad = !cJSON_AddItemToArray(vals, cJSON_CreateString(r->expr[i].values.v[j]));
        }
        break;
    case SL_LF_RES_OTHER:
        bad = 1;
        break;
    }
#undef PUSH
    if (!bad)
        out = cJSON_PrintUnformatted(a);
    cJSON_Delete(a);
    return out;
}

/* --- filters ---------------------------------------------------------------------------------- */

void sl_lf_filter_cleanup(sl_lf_filter *f)
{
    if (!f)
        return;
    free(f->catalog_id);
    free(f->database);
    free(f->table);
    free(f->name);
    free(f->row_filter);
    free(f->version_id);
    sl_lf_strv_cleanup(&f->columns);
    memset(f, 0, sizeof(*f));
}

void sl_lf_filters_free(sl_lf_filter *f, size_t n)
{
    for (size_t i = 0; f && i < n; i++)
        sl_lf_filter_cleanup(&f[i]);
    free(f);
}

int sl_lf_filter_copy(sl_lf_filter *dst, const sl_lf_filter *src)
{
    sl_lf_filter c;

    memset(&c, 0, sizeof(c));
    c.column_wildcard = src->column_wildcard;
    if (dup0(&c.catalog_id, src->catalog_id) || dup0(&c.database, src->database) ||
        dup0(&c.table, src->table) || dup0(&c.name, src->name) ||
        dup0(&c.row_filter, src->row_filter) || dup0(&c.version_id, src->version_id) ||
        sl_lf_strv_copy(&c.columns, &src->columns)) {
        sl_lf_filter_cleanup(&c);
        return -1;
    }
    *dst = c;
    return 0;
}

int sl_lf_filter_same(const sl_lf_filter *a, const sl_lf_filter *b)
{
    return catalog_eq(a->catalog_id, b->catalog_id) && str_eq(a->database, b->database) &&
           str_eq(a->table, b->table) && str_eq(a->name, b->name);
}

int sl_lf_filter_equal(const sl_lf_filter *a, const sl_lf_filter *b)
{
    /* columns are kept sorted by both the policy side and the parser. */
    return a->column_wildcard == b->column_wildcard && str_eq(a->row_filter, b->row_filter) &&
           strv_eq(&a->columns, &b->columns);
}
