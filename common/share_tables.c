/* share_tables.c - see share_tables.h: Glue's GetTables pages as the share stage reads them. */
#include "share_tables.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_share_history_cleanup(sl_share_history *h)
{
    if (!h)
        return;
    sl_lf_strv_cleanup(&h->owned);
    for (size_t i = 0; i < h->ntables; i++) {
        free(h->tables[i].table);
        sl_lf_strv_cleanup(&h->tables[i].columns);
    }
    free(h->tables);
    memset(h, 0, sizeof(*h));
}

int sl_share_history_add(sl_share_history *h, const char *table, const char *const *columns,
                         size_t n)
{
    sl_share_prev *nt = realloc(h->tables, (h->ntables + 1) * sizeof(*nt));

    if (!nt)
        return -1;
    h->tables = nt;
    memset(&nt[h->ntables], 0, sizeof(*nt));
    if (!(nt[h->ntables].table = strdup(table)))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (sl_lf_strv_push(&nt[h->ntables].columns, columns[i]) != 0) {
            free(nt[h->ntables].table);
            sl_lf_strv_cleanup(&nt[h->ntables].columns);
            return -1;
        }
    h->ntables++;
    return 0;
}

/* Appends the Name of each object of arr (may be NULL) to *v. 0, -1 (shape), -2 (OOM). */
static int names_of(const cJSON *arr, char ***v, size_t *n)
{
    const cJSON *c;

    if (!arr)
        return 0;
    if (!cJSON_IsArray(arr))
        return -1;
    cJSON_ArrayForEach(c, arr)
    {
        const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "Name");
        char **g;
        if (!cJSON_IsString(nm) || !nm->valuestring[0] || *n >= SL_SHARE_COLUMNS_MAX)
            return -1;
        if (!(g = realloc(*v, (*n + 1) * sizeof(*g))))
            return -2;
        *v = g;
        if (!(g[*n] = strdup(nm->valuestring)))
            return -2;
        (*n)++;
    }
    return 0;
}

static void table_in_cleanup(sl_share_table_in *t)
{
    for (size_t i = 0; i < t->ncolumns; i++)
        free((char *)t->columns[i]);
    free((void *)t->columns);
    free((char *)t->name);
}

void sl_share_tables_cleanup(sl_share_tables *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        table_in_cleanup(&t->v[i]);
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* One Glue Table object -> *out. 0, -1 (shape), -2 (OOM). */
static int read_table(const cJSON *t, sl_share_table_in *out)
{
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(t, "Name");
    const cJSON *sd = cJSON_GetObjectItemCaseSensitive(t, "StorageDescriptor");
    char **cols = NULL;
    size_t ncols = 0;
    int rc = 0;

    memset(out, 0, sizeof(*out));
    if (!cJSON_IsObject(t) || !cJSON_IsString(nm) || !nm->valuestring[0] ||
        (sd && !cJSON_IsObject(sd)))
        return -1;
    rc = names_of(sd ? cJSON_GetObjectItemCaseSensitive(sd, "Columns") : NULL, &cols, &ncols);
    if (rc == 0)
        rc = names_of(cJSON_GetObjectItemCaseSensitive(t, "PartitionKeys"), &cols, &ncols);
    out->columns = (const char *const *)cols;
    out->ncolumns = ncols;
    if (rc == 0 && !(out->name = strdup(nm->valuestring)))
        rc = -2;
    if (rc != 0)
        table_in_cleanup(out);
    return rc;
}

int sl_share_tables_add_page(sl_share_tables *t, const cJSON *resp, char *next, size_t nextlen,
                             char *err, size_t errlen)
{
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(resp, "TableList");
    const cJSON *nt = cJSON_GetObjectItemCaseSensitive(resp, "NextToken");
    const cJSON *it;
    sl_share_table_in *grown;
    size_t n = 0, base = t->n;
    int rc;

    if (!cJSON_IsObject(resp))
        return sl_seterr(err, errlen, "GetTables: the answer is not an object");
    if (list && !cJSON_IsArray(list))
        return sl_seterr(err, errlen, "GetTables: TableList is not a list");
    if (nt && !cJSON_IsNull(nt) && (!cJSON_IsString(nt) || strlen(nt->valuestring) >= nextlen))
        return sl_seterr(err, errlen, "GetTables: NextToken is not a string of at most %zu bytes",
                         nextlen ? nextlen - 1 : 0);
    n = list ? (size_t)cJSON_GetArraySize(list) : 0;
    if (n > SL_SHARE_TABLES_MAX - base)
        return sl_seterr(err, errlen, "GetTables: more than %d tables", SL_SHARE_TABLES_MAX);
    if (n && !(grown = realloc(t->v, (base + n) * sizeof(*grown))))
        return sl_seterr(err, errlen, "GetTables: out of memory");
    if (n)
        t->v = grown;
    n = 0;
    cJSON_ArrayForEach(it, list)
    {
        if ((rc = read_table(it, &t->v[base + n])) != 0) {
            for (size_t i = 0; i < n; i++)
                table_in_cleanup(&t->v[base + i]);
            return sl_seterr(err, errlen,
                             rc == -2 ? "GetTables: out of memory"
                                      : "GetTables: TableList[%zu] has no usable "
                                        "Name, or a column without one "
                                        "(or more than %d)",
                             n, SL_SHARE_COLUMNS_MAX);
        }
        n++;
    }
    /* A page adds all its tables or none; a table listed twice is Glue's error, refused. */
    for (size_t i = base; i < base + n; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(t->v[i].name, t->v[j].name) == 0) {
                sl_seterr(err, errlen, "GetTables: table %.255s is listed twice", t->v[i].name);
                for (size_t k = 0; k < n; k++)
                    table_in_cleanup(&t->v[base + k]);
                return -1;
            }
    t->n = base + n;
    snprintf(next, nextlen, "%s", cJSON_IsString(nt) ? nt->valuestring : "");
    return 0;
}

int sl_share_tables_parse_bytes(sl_share_tables *t, const char *buf, size_t len, char *next,
                                size_t nextlen, char *err, size_t errlen)
{
    cJSON *j;
    int rc;

    if (len > SL_SHARE_TABLES_MAX_BYTES)
        return sl_seterr(err, errlen, "GetTables: answer over %zu bytes",
                         (size_t)SL_SHARE_TABLES_MAX_BYTES);
    if (!(j = cJSON_ParseWithLength(buf, len)))
        return sl_seterr(err, errlen, "GetTables: not JSON");
    rc = sl_share_tables_add_page(t, j, next, nextlen, err, errlen);
    cJSON_Delete(j);
    return rc;
}

void sl_share_tables_attach(sl_share_tables *t, const sl_share_history *h)
{
    for (size_t i = 0; i < t->n; i++) {
        t->v[i].prev_columns = NULL;
        t->v[i].nprev = 0;
        t->v[i].has_prev = 0;
        for (size_t j = 0; h && j < h->ntables; j++)
            if (strcmp(h->tables[j].table, t->v[i].name) == 0) {
                t->v[i].prev_columns = (const char *const *)h->tables[j].columns.v;
                t->v[i].nprev = h->tables[j].columns.n;
                t->v[i].has_prev = 1;
                break;
            }
    }
}
