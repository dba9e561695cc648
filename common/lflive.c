/* lflive.c - see lflive.h. Each page is parsed into temporaries first and appended only when
   all of it was valid, so a bad page never leaves half of itself in the live state. */
#include "lflive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws_http.h"
#include "json.h"

void sl_lflive_init(sl_lflive *l)
{
    memset(l, 0, sizeof(*l));
}

static void table_cleanup(sl_lflive_table *t)
{
    free(t->name);
    sl_lf_tags_free(t->tags, t->ntags);
    for (size_t i = 0; i < t->ncolumns; i++) {
        free(t->columns[i].name);
        sl_lf_tags_free(t->columns[i].tags, t->columns[i].ntags);
    }
    free(t->columns);
    memset(t, 0, sizeof(*t));
}

void sl_lflive_cleanup(sl_lflive *l)
{
    if (!l)
        return;
    sl_lf_tags_free(l->tag_defs, l->ntag_defs);
    sl_lf_tags_free(l->db_tags, l->ndb_tags);
    for (size_t i = 0; i < l->ntables; i++)
        table_cleanup(&l->tables[i]);
    free(l->tables);
    sl_lf_filters_free(l->filters, l->nfilters);
    sl_lf_grants_free(l->grants, l->ngrants);
    sl_lflive_init(l);
}

const sl_lflive_table *sl_lflive_table_find(const sl_lflive *l, const char *table)
{
    for (size_t i = 0; l && table && i < l->ntables; i++)
        if (strcmp(l->tables[i].name, table) == 0)
            return &l->tables[i];
    return NULL;
}

/* --- pieces ----------------------------------------------------------------------------------- */

/* A required string member, copied; -1 with err when absent, mistyped, empty or over max. */
static int req_str(const cJSON *o, const char *k, size_t max, char **out, const char *op, char *err,
                   size_t errlen)
{
    const char *s = sl_json_str(o, k);

    if (!s || !*s || strlen(s) > max)
        return sl_seterr(err, errlen, "%s: %s missing, empty or over %zu bytes", op, k, max);
    *out = strdup(s);
    if (!*out)
        return sl_seterr(err, errlen, "%s: out of memory", op);
    return 0;
}

/* An optional string member: NULL when absent; -1 when present but not a string. */
static int opt_str(const cJSON *o, const char *k, size_t max, char **out, const char *op, char *err,
                   size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

    *out = NULL;
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) > max)
        return sl_seterr(err, errlen, "%s: %s is not a string of at most %zu bytes", op, k, max);
    *out = strdup(v->valuestring);
    if (!*out)
        return sl_seterr(err, errlen, "%s: out of memory", op);
    return 0;
}

/* A list of strings at o[k] (absent: empty). */
static int str_list(const cJSON *o, const char *k, sl_lf_strv *out, const char *op, char *err,
                    size_t errlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *e;

    if (!a || cJSON_IsNull(a))
        return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > SL_LFLIVE_MAX_ITEMS)
        return sl_seterr(err, errlen, "%s: %s is not a list of strings", op, k);
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e) || !e->valuestring || strlen(e->valuestring) > 2048)
            return sl_seterr(err, errlen, "%s: %s holds a non-string", op, k);
        if (sl_lf_strv_push(out, e->valuestring) != 0)
            return sl_seterr(err, errlen, "%s: out of memory", op);
    }
    return 0;
}

/* [{TagKey, TagValues}] at o[k] (absent: none). */
static int tag_list(const cJSON *o, const char *k, sl_lf_tag **out, size_t *n, const char *op,
                    char *err, size_t errlen)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *e;

    if (!a || cJSON_IsNull(a))
        return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > SL_LFLIVE_MAX_ITEMS)
        return sl_seterr(err, errlen, "%s: %s is not a list of LF-Tags", op, k);
    cJSON_ArrayForEach(e, a)
    {
        sl_lf_tag t = {0};
        sl_lf_tag *nt;
        if (!cJSON_IsObject(e))
            return sl_seterr(err, errlen, "%s: %s holds a non-object", op, k);
        if (req_str(e, "TagKey", SL_LF_TAG_KEY_MAX, &t.key, op, err, errlen) != 0 ||
            str_list(e, "TagValues", &t.values, op, err, errlen) != 0) {
            sl_lf_tag_cleanup(&t);
            return -1;
        }
        nt = realloc(*out, (*n + 1) * sizeof(*nt));
        if (!nt) {
            sl_lf_tag_cleanup(&t);
            return sl_seterr(err, errlen, "%s: out of memory", op);
        }
        nt[(*n)++] = t;
        *out = nt;
    }
    return 0;
}

static int copy_token(const cJSON *resp, char *next, size_t nextlen, const char *op, char *err,
                      size_t errlen)
{
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(resp, "NextToken");

    if (nextlen)
        next[0] = '\0';
    if (!t || cJSON_IsNull(t))
        return 0;
    if (!cJSON_IsString(t) || !t->valuestring || strlen(t->valuestring) >= nextlen ||
        strlen(t->valuestring) >= SL_LFLIVE_TOKEN_MAX)
        return sl_seterr(err, errlen, "%s: NextToken is not a string that fits", op);
    snprintf(next, nextlen, "%s", t->valuestring);
    return 0;
}

static int check_total(size_t have, size_t add, const char *op, char *err, size_t errlen)
{
    if (have + add > SL_LFLIVE_MAX_ITEMS)
        return sl_seterr(err, errlen, "%s: more than %d entries", op, SL_LFLIVE_MAX_ITEMS);
    return 0;
}

/* --- resources -------------------------------------------------------------------------------- */

int sl_lflive_parse_resource(const cJSON *res, sl_lf_resource *out, char *err, size_t errlen)
{
    static const char op[] = "Resource";
    sl_lf_resource r;
    const cJSON *in;
    int rc = -1;

    memset(&r, 0, sizeof(r));
    if (!cJSON_IsObject(res))
        return sl_seterr(err, errlen, "Resource is not an object");
    sl_seterr(err, errlen, "Resource: a member is not an object"); /* until a reader says more */
    if ((in = cJSON_GetObjectItemCaseSensitive(res, "Database")) != NULL) {
        r.kind = SL_LF_RES_DATABASE;
        if (!cJSON_IsObject(in) ||
            opt_str(in, "CatalogId", 255, &r.catalog_id, op, err, errlen) != 0 ||
            req_str(in, "Name", SL_LF_NAME_MAX, &r.database, op, err, errlen) != 0)
            goto out;
    } else if ((in = cJSON_GetObjectItemCaseSensitive(res, "Table")) != NULL) {
        r.kind = SL_LF_RES_TABLE;
        if (!cJSON_IsObject(in) ||
            opt_str(in, "CatalogId", 255, &r.catalog_id, op, err, errlen) != 0 ||
            req_str(in, "DatabaseName", SL_LF_NAME_MAX, &r.database, op, err, errlen) != 0 ||
            opt_str(in, "Name", SL_LF_NAME_MAX, &r.table, op, err, errlen) != 0)
            goto out;
        r.table_wildcard = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(in, "TableWildcard"));
        if (!r.table_wildcard && !r.table) {
            sl_seterr(err, errlen, "Resource: Table has neither Name nor TableWildcard");
            goto out;
        }
    } else if ((in = cJSON_GetObjectItemCaseSensitive(res, "DataCellsFilter")) != NULL) {
        r.kind = SL_LF_RES_FILTER;
        if (!cJSON_IsObject(in) ||
            opt_str(in, "TableCatalogId", 255, &r.catalog_id, op, err, errlen) != 0 ||
            req_str(in, "DatabaseName", SL_LF_NAME_MAX, &r.database, op, err, errlen) != 0 ||
            req_str(in, "TableName", SL_LF_NAME_MAX, &r.table, op, err, errlen) != 0 ||
            req_str(in, "Name", SL_LF_NAME_MAX, &r.name, op, err, errlen) != 0)
            goto out;
    } else if ((in = cJSON_GetObjectItemCaseSensitive(res, "LFTagPolicy")) != NULL) {
        const char *rt;
        r.kind = SL_LF_RES_TAG_POLICY;
        if (!cJSON_IsObject(in) ||
            opt_str(in, "CatalogId", 255, &r.catalog_id, op, err, errlen) != 0 ||
            tag_list(in, "Expression", &r.expr, &r.nexpr, op, err, errlen) != 0)
            goto out;
        rt = sl_json_str(in, "ResourceType");
        if (!rt || (strcmp(rt, "TABLE") != 0 && strcmp(rt, "DATABASE") != 0)) {
            sl_seterr(err, errlen, "Resource: LFTagPolicy.ResourceType is not TABLE or DATABASE");
            goto out;
        }
        r.policy_database = strcmp(rt, "DATABASE") == 0;
        sl_lf_resource_normalize(&r);
    } else {
        /* TableWithColumns, DataLocation, LFTag, Catalog, ...: shown, never changed. */
        const cJSON *m = res->child;
        const char *db = m ? sl_json_str(m, "DatabaseName") : NULL;
        const char *nm = m ? sl_json_str(m, "Name") : NULL;
        char desc[600];
        r.kind = SL_LF_RES_OTHER;
        snprintf(desc, sizeof(desc), "%.64s%s%.255s%s%.255s", m && m->string ? m->string : "?",
                 db || nm ? " " : "", db ? db : "", db && nm ? "." : "", nm ? nm : "");
        r.other = strdup(desc);
        if (!r.other) {
            sl_seterr(err, errlen, "Resource: out of memory");
            goto out;
        }
    }
    *out = r;
    rc = 0;
out:
    if (rc != 0)
        sl_lf_resource_cleanup(&r);
    return rc;
}

/* --- pages ------------------------------------------------------------------------------------ */

int sl_lflive_add_lf_tags(sl_lflive *l, const cJSON *resp, char *next, size_t nextlen, char *err,
                          size_t errlen)
{
    sl_lf_tag *tags = NULL, *nt;
    size_t n = 0;

    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "ListLFTags: the answer is not an object");
    if (tag_list(resp, "LFTags", &tags, &n, "ListLFTags", err, errlen) != 0 ||
        check_total(l->ntag_defs, n, "ListLFTags", err, errlen) != 0 ||
        copy_token(resp, next, nextlen, "ListLFTags", err, errlen) != 0)
        goto fail;
    if (n) {
        nt = realloc(l->tag_defs, (l->ntag_defs + n) * sizeof(*nt));
        if (!nt) {
            sl_seterr(err, errlen, "ListLFTags: out of memory");
            goto fail;
        }
        memcpy(nt + l->ntag_defs, tags, n * sizeof(*tags));
        l->tag_defs = nt;
        l->ntag_defs += n;
    }
    free(tags);
    return 0;
fail:
    sl_lf_tags_free(tags, n);
    return -1;
}

int sl_lflive_add_lf_tag(sl_lflive *l, const cJSON *resp, char *err, size_t errlen)
{
    static const char op[] = "GetLFTag";
    sl_lf_tag t = {0}, *nt;

    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "%s: the answer is not an object", op);
    if (req_str(resp, "TagKey", SL_LF_TAG_KEY_MAX, &t.key, op, err, errlen) != 0 ||
        str_list(resp, "TagValues", &t.values, op, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < l->ntag_defs; i++) {
        if (strcmp(l->tag_defs[i].key, t.key) == 0) {
            sl_lf_tag_cleanup(&l->tag_defs[i]);
            l->tag_defs[i] = t;
            return 0;
        }
    }
    if (check_total(l->ntag_defs, 1, op, err, errlen) != 0)
        goto fail;
    nt = realloc(l->tag_defs, (l->ntag_defs + 1) * sizeof(*nt));
    if (!nt) {
        sl_seterr(err, errlen, "%s: out of memory", op);
        goto fail;
    }
    nt[l->ntag_defs++] = t;
    l->tag_defs = nt;
    return 0;
fail:
    sl_lf_tag_cleanup(&t);
    return -1;
}

int sl_lflive_add_resource_tags(sl_lflive *l, const char *table, const cJSON *resp, char *err,
                                size_t errlen)
{
    static const char op[] = "GetResourceLFTags";
    sl_lflive_table t;
    const cJSON *cols, *e;
    sl_lflive_table *nt;

    memset(&t, 0, sizeof(t));
    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "%s: the answer is not an object", op);
    if (!table) {
        sl_lf_tag *tags = NULL;
        size_t n = 0;
        if (tag_list(resp, "LFTagOnDatabase", &tags, &n, op, err, errlen) != 0) {
            sl_lf_tags_free(tags, n);
            return -1;
        }
        sl_lf_tags_free(l->db_tags, l->ndb_tags);
        l->db_tags = tags;
        l->ndb_tags = n;
        l->have_db_tags = 1;
        return 0;
    }
    t.name = strdup(table);
    if (!t.name)
        return sl_seterr(err, errlen, "%s: out of memory", op);
    if (tag_list(resp, "LFTagsOnTable", &t.tags, &t.ntags, op, err, errlen) != 0)
        goto fail;
    cols = cJSON_GetObjectItemCaseSensitive(resp, "LFTagsOnColumns");
    if (cols && !cJSON_IsNull(cols)) {
        if (!cJSON_IsArray(cols) || cJSON_GetArraySize(cols) > SL_LFLIVE_MAX_ITEMS) {
            sl_seterr(err, errlen, "%s: LFTagsOnColumns is not a list", op);
            goto fail;
        }
        t.columns = calloc((size_t)cJSON_GetArraySize(cols) + 1, sizeof(*t.columns));
        if (!t.columns) {
            sl_seterr(err, errlen, "%s: out of memory", op);
            goto fail;
        }
        cJSON_ArrayForEach(e, cols)
        {
            sl_lflive_column *c = &t.columns[t.ncolumns];
            if (!cJSON_IsObject(e)) {
                sl_seterr(err, errlen, "%s: LFTagsOnColumns holds a non-object", op);
                goto fail;
            }
            t.ncolumns++;
            if (req_str(e, "Name", SL_LF_NAME_MAX, &c->name, op, err, errlen) != 0 ||
                tag_list(e, "LFTags", &c->tags, &c->ntags, op, err, errlen) != 0)
                goto fail;
        }
    }
    for (size_t i = 0; i < l->ntables; i++) {
        if (strcmp(l->tables[i].name, table) == 0) {
            table_cleanup(&l->tables[i]);
            l->tables[i] = t;
            return 0;
        }
    }
    if (check_total(l->ntables, 1, op, err, errlen) != 0)
        goto fail;
    nt = realloc(l->tables, (l->ntables + 1) * sizeof(*nt));
    if (!nt) {
        sl_seterr(err, errlen, "%s: out of memory", op);
        goto fail;
    }
    nt[l->ntables++] = t;
    l->tables = nt;
    return 0;
fail:
    table_cleanup(&t);
    return -1;
}

static int parse_filter(const cJSON *e, sl_lf_filter *f, char *err, size_t errlen)
{
    static const char op[] = "ListDataCellsFilter";
    const cJSON *rf, *cw;

    memset(f, 0, sizeof(*f));
    if (!cJSON_IsObject(e))
        return sl_seterr(err, errlen, "%s: DataCellsFilters holds a non-object", op);
    if (req_str(e, "TableCatalogId", 255, &f->catalog_id, op, err, errlen) != 0 ||
        req_str(e, "DatabaseName", SL_LF_NAME_MAX, &f->database, op, err, errlen) != 0 ||
        req_str(e, "TableName", SL_LF_NAME_MAX, &f->table, op, err, errlen) != 0 ||
        req_str(e, "Name", SL_LF_NAME_MAX, &f->name, op, err, errlen) != 0 ||
        opt_str(e, "VersionId", 255, &f->version_id, op, err, errlen) != 0)
        return -1;
    rf = cJSON_GetObjectItemCaseSensitive(e, "RowFilter");
    if (rf && !cJSON_IsNull(rf)) {
        if (!cJSON_IsObject(rf))
            return sl_seterr(err, errlen, "%s: RowFilter is not an object", op);
        /* AllRowsWildcard or no expression: all rows (row_filter NULL). */
        if (!cJSON_GetObjectItemCaseSensitive(rf, "AllRowsWildcard") &&
            opt_str(rf, "FilterExpression", SL_LF_PREDICATE_MAX, &f->row_filter, op, err, errlen) !=
                0)
            return -1;
    }
    cw = cJSON_GetObjectItemCaseSensitive(e, "ColumnWildcard");
    if (cw && !cJSON_IsNull(cw)) {
        if (!cJSON_IsObject(cw))
            return sl_seterr(err, errlen, "%s: ColumnWildcard is not an object", op);
        f->column_wildcard = 1;
        if (str_list(cw, "ExcludedColumnNames", &f->columns, op, err, errlen) != 0)
            return -1;
    } else if (cJSON_GetObjectItemCaseSensitive(e, "ColumnNames")) {
        if (str_list(e, "ColumnNames", &f->columns, op, err, errlen) != 0)
            return -1;
    } else {
        f->column_wildcard = 1; /* neither: every column */
    }
    sl_lf_strv_sort(&f->columns);
    return 0;
}

int sl_lflive_add_filters(sl_lflive *l, const cJSON *resp, char *next, size_t nextlen, char *err,
                          size_t errlen)
{
    static const char op[] = "ListDataCellsFilter";
    const cJSON *a, *e;
    sl_lf_filter *fs = NULL, *nf;
    size_t n = 0;

    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "%s: the answer is not an object", op);
    a = cJSON_GetObjectItemCaseSensitive(resp, "DataCellsFilters");
    if (a && !cJSON_IsNull(a)) {
        if (!cJSON_IsArray(a) ||
            check_total(l->nfilters, (size_t)cJSON_GetArraySize(a), op, err, errlen) != 0)
            return sl_seterr(err, errlen, "%s: DataCellsFilters is not a list that fits", op);
        fs = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*fs));
        if (!fs)
            return sl_seterr(err, errlen, "%s: out of memory", op);
        cJSON_ArrayForEach(e, a)
        {
            int rc = parse_filter(e, &fs[n], err, errlen);
            n++;
            if (rc != 0)
                goto fail;
        }
    }
    if (copy_token(resp, next, nextlen, op, err, errlen) != 0)
        goto fail;
    if (n) {
        nf = realloc(l->filters, (l->nfilters + n) * sizeof(*nf));
        if (!nf) {
            sl_seterr(err, errlen, "%s: out of memory", op);
            goto fail;
        }
        memcpy(nf + l->nfilters, fs, n * sizeof(*fs));
        l->filters = nf;
        l->nfilters += n;
    }
    free(fs);
    return 0;
fail:
    sl_lf_filters_free(fs, n);
    return -1;
}

static unsigned perm_list(const cJSON *o, const char *k, int *bad)
{
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, k), *e;
    unsigned bits = 0;

    if (!a || cJSON_IsNull(a))
        return 0;
    if (!cJSON_IsArray(a)) {
        *bad = 1;
        return 0;
    }
    /* A permission the model does not list (a newer service) is ignored: it cannot be named
       back in a revoke by this build anyway. */
    cJSON_ArrayForEach(e, a)
    {
        if (!cJSON_IsString(e)) {
            *bad = 1;
            return 0;
        }
        bits |= sl_lf_perm_bit(e->valuestring);
    }
    return bits;
}

int sl_lflive_add_permissions(sl_lflive *l, const cJSON *resp, char *next, size_t nextlen,
                              char *err, size_t errlen)
{
    static const char op[] = "ListPermissions";
    const cJSON *a, *e;
    sl_lf_grant *gs = NULL, *ng;
    size_t n = 0;

    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "%s: the answer is not an object", op);
    a = cJSON_GetObjectItemCaseSensitive(resp, "PrincipalResourcePermissions");
    if (a && !cJSON_IsNull(a)) {
        if (!cJSON_IsArray(a) ||
            check_total(l->ngrants, (size_t)cJSON_GetArraySize(a), op, err, errlen) != 0)
            return sl_seterr(err, errlen, "%s: PrincipalResourcePermissions is not a list", op);
        gs = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*gs));
        if (!gs)
            return sl_seterr(err, errlen, "%s: out of memory", op);
        cJSON_ArrayForEach(e, a)
        {
            sl_lf_grant *g = &gs[n++];
            int bad = 0;
            if (!cJSON_IsObject(e)) {
                sl_seterr(err, errlen, "%s: an entry is not an object", op);
                goto fail;
            }
            if (req_str(cJSON_GetObjectItemCaseSensitive(e, "Principal"),
                        "DataLakePrincipalIdentifier", 255, &g->principal, op, err, errlen) != 0 ||
                sl_lflive_parse_resource(cJSON_GetObjectItemCaseSensitive(e, "Resource"), &g->res,
                                         err, errlen) != 0)
                goto fail;
            g->perms = perm_list(e, "Permissions", &bad);
            g->grantable = perm_list(e, "PermissionsWithGrantOption", &bad);
            if (bad) {
                sl_seterr(err, errlen, "%s: Permissions is not a list of strings", op);
                goto fail;
            }
        }
    }
    if (copy_token(resp, next, nextlen, op, err, errlen) != 0)
        goto fail;
    if (n) {
        ng = realloc(l->grants, (l->ngrants + n) * sizeof(*ng));
        if (!ng) {
            sl_seterr(err, errlen, "%s: out of memory", op);
            goto fail;
        }
        memcpy(ng + l->ngrants, gs, n * sizeof(*gs));
        l->grants = ng;
        l->ngrants += n;
    }
    free(gs);
    return 0;
fail:
    sl_lf_grants_free(gs, n);
    return -1;
}

/* --- failures --------------------------------------------------------------------------------- */

int sl_lf_error_transient(const char *code)
{
    static const char *const lf_transient[] = {
        "ConcurrentModificationException", "InternalServiceException",
        "OperationTimeoutException",       "ThrottledException",
        "ResourceNotReadyException",       "TransactionCommitInProgressException",
    };

    if (!code)
        return 0;
    for (size_t i = 0; i < SL_ARRAY_LEN(lf_transient); i++)
        if (strcmp(code, lf_transient[i]) == 0)
            return 1;
    return sl_aws_is_transient(code, 0);
}

int sl_lf_parse_failures(const cJSON *resp, sl_lf_failure **out, size_t *n, char *err,
                         size_t errlen)
{
    const cJSON *a, *e;
    sl_lf_failure *fs;
    size_t k = 0;

    *out = NULL;
    *n = 0;
    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "Failures: the answer is not an object");
    a = cJSON_GetObjectItemCaseSensitive(resp, "Failures");
    if (!a || cJSON_IsNull(a) || (cJSON_IsArray(a) && !a->child))
        return 0;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > SL_LFLIVE_MAX_ITEMS)
        return sl_seterr(err, errlen, "Failures is not a list");
    fs = calloc((size_t)cJSON_GetArraySize(a), sizeof(*fs));
    if (!fs)
        return sl_seterr(err, errlen, "Failures: out of memory");
    cJSON_ArrayForEach(e, a)
    {
        sl_lf_failure *f = &fs[k++];
        const cJSON *er = cJSON_GetObjectItemCaseSensitive(e, "Error");
        const char *s;
        if (!cJSON_IsObject(e)) {
            free(fs);
            return sl_seterr(err, errlen, "Failures holds a non-object");
        }
        s = sl_json_str(cJSON_GetObjectItemCaseSensitive(e, "RequestEntry"), "Id");
        snprintf(f->id, sizeof(f->id), "%s", s ? s : "");
        s = sl_json_str(cJSON_GetObjectItemCaseSensitive(e, "LFTag"), "TagKey");
        snprintf(f->tag_key, sizeof(f->tag_key), "%s", s ? s : "");
        s = sl_json_str(er, "ErrorCode");
        /* An entry without a code is still a failure: never read it as success. */
        snprintf(f->code, sizeof(f->code), "%s", s && *s ? s : "UnknownError");
        s = sl_json_str(er, "ErrorMessage");
        snprintf(f->message, sizeof(f->message), "%s", s ? s : "");
        f->transient = sl_lf_error_transient(f->code);
    }
    *out = fs;
    *n = k;
    return 0;
}

/* --- bytes ------------------------------------------------------------------------------------ */

int sl_lflive_parse_bytes(sl_lflive_kind kind, const char *buf, size_t len, sl_lflive *l, char *err,
                          size_t errlen)
{
    char next[SL_LFLIVE_TOKEN_MAX];
    sl_lf_failure *fs = NULL;
    size_t nfs = 0;
    cJSON *j;
    int rc = -1;

    if (len > SL_LFLIVE_MAX_BYTES)
        return sl_seterr(err, errlen, "Lake Formation answer of %zu bytes is over the cap", len);
    j = sl_json_parse_exact(buf, len);
    if (!j)
        return sl_seterr(err, errlen, "Lake Formation answer is not JSON");
    switch (kind) {
    case SL_LFLIVE_LF_TAGS:
        rc = sl_lflive_add_lf_tags(l, j, next, sizeof(next), err, errlen);
        break;
    case SL_LFLIVE_DB_TAGS:
        rc = sl_lflive_add_resource_tags(l, NULL, j, err, errlen);
        break;
    case SL_LFLIVE_TABLE_TAGS:
        rc = sl_lflive_add_resource_tags(l, "t", j, err, errlen);
        break;
    case SL_LFLIVE_FILTERS:
        rc = sl_lflive_add_filters(l, j, next, sizeof(next), err, errlen);
        break;
    case SL_LFLIVE_PERMISSIONS:
        rc = sl_lflive_add_permissions(l, j, next, sizeof(next), err, errlen);
        break;
    case SL_LFLIVE_FAILURES:
        rc = sl_lf_parse_failures(j, &fs, &nfs, err, errlen);
        free(fs);
        break;
    case SL_LFLIVE_LF_TAG:
        rc = sl_lflive_add_lf_tag(l, j, err, errlen);
        break;
    }
    cJSON_Delete(j);
    return rc;
}
