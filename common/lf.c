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

/* cJSON_Add* wrappers that make a chain of adds fail as one. */
static int add_str(cJSON *o, const char *k, const char *v)
{
    return v ? (cJSON_AddStringToObject(o, k, v) ? 0 : -1) : 0;
}

static int add_strv(cJSON *o, const char *k, const sl_lf_strv *s)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);

    if (!a)
        return -1;
    for (size_t i = 0; i < s->n; i++) {
        cJSON *x = cJSON_CreateString(s->v[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return -1;
        }
    }
    return 0;
}

static int add_perms(cJSON *o, const char *k, unsigned perms)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);

    if (!a)
        return -1;
    for (unsigned i = 0; i < SL_LF_NPERMS; i++) {
        if (!(perms & (1u << i)))
            continue;
        cJSON *x = cJSON_CreateString(perm_names[i]);
        if (!x || !cJSON_AddItemToArray(a, x)) {
            cJSON_Delete(x);
            return -1;
        }
    }
    return 0;
}

/* [{TagKey, TagValues}] of n tags under o[k]. */
static int add_tag_list(cJSON *o, const char *k, const sl_lf_tag *t, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(o, k);

    if (!a)
        return -1;
    for (size_t i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        if (!e || !cJSON_AddItemToArray(a, e)) {
            cJSON_Delete(e);
            return -1;
        }
        if (add_str(e, "TagKey", t[i].key) || add_strv(e, "TagValues", &t[i].values))
            return -1;
    }
    return 0;
}

cJSON *sl_lf_resource_json(const sl_lf_resource *r)
{
    cJSON *o = cJSON_CreateObject(), *in = NULL;
    int bad = !o;

    switch (r->kind) {
    case SL_LF_RES_DATABASE:
        bad = bad || !(in = cJSON_AddObjectToObject(o, "Database")) ||
              add_str(in, "CatalogId", r->catalog_id) || add_str(in, "Name", r->database);
        break;
    case SL_LF_RES_TABLE:
        bad = bad || !(in = cJSON_AddObjectToObject(o, "Table")) ||
              add_str(in, "CatalogId", r->catalog_id) || add_str(in, "DatabaseName", r->database);
        if (!bad && r->table_wildcard)
            bad = !cJSON_AddObjectToObject(in, "TableWildcard");
        else if (!bad)
            bad = add_str(in, "Name", r->table);
        break;
    case SL_LF_RES_FILTER:
        bad = bad || !(in = cJSON_AddObjectToObject(o, "DataCellsFilter")) ||
              add_str(in, "TableCatalogId", r->catalog_id) ||
              add_str(in, "DatabaseName", r->database) || add_str(in, "TableName", r->table) ||
              add_str(in, "Name", r->name);
        break;
    case SL_LF_RES_TAG_POLICY:
        bad = bad || !(in = cJSON_AddObjectToObject(o, "LFTagPolicy")) ||
              add_str(in, "CatalogId", r->catalog_id) ||
              add_str(in, "ResourceType", r->policy_database ? "DATABASE" : "TABLE") ||
              add_tag_list(in, "Expression", r->expr, r->nexpr);
        break;
    case SL_LF_RES_OTHER:
        bad = 1;
        break;
    }
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
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

/* --- request bodies --------------------------------------------------------------------------- */

static cJSON *finish(cJSON *o, int bad)
{
    if (bad) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static int values_ok(const sl_lf_strv *v)
{
    return v && v->n >= 1 && v->n <= SL_LF_VALUES_PER_CALL;
}

cJSON *sl_lf_body_create_lf_tag(const char *catalog_id, const char *key, const sl_lf_strv *values)
{
    cJSON *o = cJSON_CreateObject();

    return finish(o, !o || !key || !values_ok(values) || add_str(o, "CatalogId", catalog_id) ||
                         add_str(o, "TagKey", key) || add_strv(o, "TagValues", values));
}

cJSON *sl_lf_body_update_lf_tag(const char *catalog_id, const char *key, const sl_lf_strv *add)
{
    cJSON *o = cJSON_CreateObject();

    return finish(o, !o || !key || !values_ok(add) || add_str(o, "CatalogId", catalog_id) ||
                         add_str(o, "TagKey", key) || add_strv(o, "TagValuesToAdd", add));
}

cJSON *sl_lf_body_add_lf_tags(const char *catalog_id, const sl_lf_resource *r,
                              const sl_lf_tag *pairs, size_t npairs)
{
    cJSON *o = cJSON_CreateObject(), *res;
    int bad = !o || npairs == 0 || npairs > SL_LF_TAGS_PER_CALL;

    bad = bad || add_str(o, "CatalogId", catalog_id);
    if (!bad) {
        res = sl_lf_resource_json(r);
        bad = !res || !cJSON_AddItemToObject(o, "Resource", res);
        if (bad)
            cJSON_Delete(res);
    }
    for (size_t i = 0; !bad && i < npairs; i++)
        bad = !values_ok(&pairs[i].values);
    return finish(o, bad || add_tag_list(o, "LFTags", pairs, npairs));
}

cJSON *sl_lf_body_data_cells_filter(const sl_lf_filter *f, int with_version)
{
    cJSON *o = cJSON_CreateObject(), *td, *rf, *cw;
    int bad = !o || !f->catalog_id || !f->database || !f->table || !f->name;

    bad = bad || !(td = cJSON_AddObjectToObject(o, "TableData")) ||
          add_str(td, "TableCatalogId", f->catalog_id) ||
          add_str(td, "DatabaseName", f->database) || add_str(td, "TableName", f->table) ||
          add_str(td, "Name", f->name) || !(rf = cJSON_AddObjectToObject(td, "RowFilter"));
    if (bad)
        return finish(o, 1);
    /* The model's RowFilter is a union: an expression, or the all-rows wildcard. */
    if (f->row_filter)
        bad = add_str(rf, "FilterExpression", f->row_filter);
    else
        bad = !cJSON_AddObjectToObject(rf, "AllRowsWildcard");
    if (!bad && f->column_wildcard) {
        bad = !(cw = cJSON_AddObjectToObject(td, "ColumnWildcard")) ||
              add_strv(cw, "ExcludedColumnNames", &f->columns);
    } else if (!bad) {
        bad = f->columns.n == 0 || add_strv(td, "ColumnNames", &f->columns);
    }
    if (!bad && with_version && f->version_id)
        bad = add_str(td, "VersionId", f->version_id);
    return finish(o, bad);
}

cJSON *sl_lf_body_delete_data_cells_filter(const sl_lf_filter *f)
{
    cJSON *o = cJSON_CreateObject();

    return finish(o, !o || add_str(o, "TableCatalogId", f->catalog_id) ||
                         add_str(o, "DatabaseName", f->database) ||
                         add_str(o, "TableName", f->table) || add_str(o, "Name", f->name));
}

cJSON *sl_lf_body_batch_permissions(const char *catalog_id, const sl_lf_grant *entries, size_t n)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    int bad = !o || n == 0 || n > SL_LF_BATCH_MAX;

    bad =
        bad || add_str(o, "CatalogId", catalog_id) || !(arr = cJSON_AddArrayToObject(o, "Entries"));
    for (size_t i = 0; !bad && i < n; i++) {
        cJSON *e = cJSON_CreateObject(), *p, *res;
        char id[24];
        if (!e || !cJSON_AddItemToArray(arr, e)) {
            cJSON_Delete(e);
            bad = 1;
            break;
        }
        snprintf(id, sizeof(id), "%zu", i);
        res = sl_lf_resource_json(&entries[i].res);
        bad = !res || !cJSON_AddItemToObject(e, "Resource", res);
        if (bad) {
            cJSON_Delete(res);
            break;
        }
        bad = add_str(e, "Id", id) || !(p = cJSON_AddObjectToObject(e, "Principal")) ||
              !entries[i].principal ||
              add_str(p, "DataLakePrincipalIdentifier", entries[i].principal) ||
              add_perms(e, "Permissions", entries[i].perms) ||
              add_perms(e, "PermissionsWithGrantOption", entries[i].grantable);
    }
    return finish(o, bad);
}

long sl_lf_batch_index(const char *id, size_t n)
{
    char *end;
    unsigned long v;

    if (!id || id[0] < '0' || id[0] > '9' || (id[0] == '0' && id[1]))
        return -1;
    v = strtoul(id, &end, 10);
    if (*end || v >= n)
        return -1;
    return (long)v;
}

#define LIST_PAGE 100

cJSON *sl_lf_body_list_lf_tags(const char *catalog_id, const char *next_token)
{
    cJSON *o = cJSON_CreateObject();

    return finish(o, !o || add_str(o, "CatalogId", catalog_id) ||
                         add_str(o, "ResourceShareType", "ALL") ||
                         !cJSON_AddNumberToObject(o, "MaxResults", LIST_PAGE) ||
                         add_str(o, "NextToken", next_token));
}

cJSON *sl_lf_body_get_resource_lf_tags(const char *catalog_id, const sl_lf_resource *r)
{
    cJSON *o = cJSON_CreateObject(), *res = NULL;
    int bad = !o || add_str(o, "CatalogId", catalog_id);

    if (!bad) {
        res = sl_lf_resource_json(r);
        bad = !res || !cJSON_AddItemToObject(o, "Resource", res);
        if (bad)
            cJSON_Delete(res);
    }
    return finish(o, bad || !cJSON_AddTrueToObject(o, "ShowAssignedLFTags"));
}

cJSON *sl_lf_body_list_data_cells_filter(const char *catalog_id, const char *database,
                                         const char *next_token)
{
    cJSON *o = cJSON_CreateObject(), *t;

    return finish(o, !o || !database || !(t = cJSON_AddObjectToObject(o, "Table")) ||
                         add_str(t, "CatalogId", catalog_id) ||
                         add_str(t, "DatabaseName", database) ||
                         !cJSON_AddObjectToObject(t, "TableWildcard") ||
                         !cJSON_AddNumberToObject(o, "MaxResults", LIST_PAGE) ||
                         add_str(o, "NextToken", next_token));
}

cJSON *sl_lf_body_list_permissions(const char *catalog_id, const char *principal,
                                   const char *resource_type, const sl_lf_resource *r,
                                   const char *next_token)
{
    cJSON *o = cJSON_CreateObject(), *p, *res;
    int bad = !o || add_str(o, "CatalogId", catalog_id);

    if (!bad && principal)
        bad = !(p = cJSON_AddObjectToObject(o, "Principal")) ||
              add_str(p, "DataLakePrincipalIdentifier", principal);
    bad = bad || add_str(o, "ResourceType", resource_type);
    if (!bad && r) {
        res = sl_lf_resource_json(r);
        bad = !res || !cJSON_AddItemToObject(o, "Resource", res);
        if (bad)
            cJSON_Delete(res);
    }
    return finish(o, bad || !cJSON_AddNumberToObject(o, "MaxResults", LIST_PAGE) ||
                         add_str(o, "NextToken", next_token));
}
