/* lf_body.c - see lf.h: the REST-JSON request bodies, and the Resource object they share.
   Every body is built by cJSON; a failed add anywhere makes the whole body NULL. */
#include "lf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        cJSON *x = cJSON_CreateString(sl_lf_perm_name(1u << i));
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

/* --- request bodies --------------------------------------------------------------------------- */

static cJSON *body_or_null(cJSON *o, int bad)
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

    return body_or_null(o, !o || !key || !values_ok(values) ||
                               add_str(o, "CatalogId", catalog_id) || add_str(o, "TagKey", key) ||
                               add_strv(o, "TagValues", values));
}

cJSON *sl_lf_body_update_lf_tag(const char *catalog_id, const char *key, const sl_lf_strv *add)
{
    cJSON *o = cJSON_CreateObject();

    return body_or_null(o, !o || !key || !values_ok(add) || add_str(o, "CatalogId", catalog_id) ||
                               add_str(o, "TagKey", key) || add_strv(o, "TagValuesToAdd", add));
}

/* AddLFTagsToResource and RemoveLFTagsFromResource share one request shape. */
static cJSON *resource_tags_body(const char *catalog_id, const sl_lf_resource *r,
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
    return body_or_null(o, bad || add_tag_list(o, "LFTags", pairs, npairs));
}

cJSON *sl_lf_body_add_lf_tags(const char *catalog_id, const sl_lf_resource *r,
                              const sl_lf_tag *pairs, size_t npairs)
{
    return resource_tags_body(catalog_id, r, pairs, npairs);
}

cJSON *sl_lf_body_remove_lf_tags(const char *catalog_id, const sl_lf_resource *r,
                                 const sl_lf_tag *pairs, size_t npairs)
{
    return resource_tags_body(catalog_id, r, pairs, npairs);
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
        return body_or_null(o, 1);
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
    return body_or_null(o, bad);
}

cJSON *sl_lf_body_delete_data_cells_filter(const sl_lf_filter *f)
{
    cJSON *o = cJSON_CreateObject();

    return body_or_null(o, !o || add_str(o, "TableCatalogId", f->catalog_id) ||
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
    return body_or_null(o, bad);
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

    /* No ResourceShareType: only the catalog's own LF-Tags ("ALL" would add the ones other
       accounts share with it, which may carry the same keys). */
    return body_or_null(o, !o || add_str(o, "CatalogId", catalog_id) ||
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
    return body_or_null(o, bad || !cJSON_AddTrueToObject(o, "ShowAssignedLFTags"));
}

cJSON *sl_lf_body_list_data_cells_filter(const char *catalog_id, const char *database,
                                         const char *next_token)
{
    cJSON *o = cJSON_CreateObject(), *t;

    return body_or_null(o, !o || !database || !(t = cJSON_AddObjectToObject(o, "Table")) ||
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
    return body_or_null(o, bad || !cJSON_AddNumberToObject(o, "MaxResults", LIST_PAGE) ||
                               add_str(o, "NextToken", next_token));
}
