/* catalog_register.c - see catalog_register.h. */
#include "catalog_register.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>

#include "glue.h"

static void set_err(sl_aws_error *err, const char *code, int transient, const char *fmt, ...)
    SL_PRINTF(4, 5);
static void set_err(sl_aws_error *err, const char *code, int transient, const char *fmt, ...)
{
    va_list ap;

    memset(err, 0, sizeof(*err));
    snprintf(err->code, sizeof(err->code), "%s", code);
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->transient = transient;
}

/* Creates the table, or finds it made by someone else in the meantime (*existing set). */
static int create_table(sl_aws *aws, const char *database, const sl_cat_table *t,
                        const char *location, cJSON **existing, sl_cat_register_result *res,
                        sl_aws_error *err)
{
    cJSON *req = sl_catalog_create_table_req(database, t->glue_name, location, t->cols, t->ncols);
    int rc;

    *existing = NULL;
    if (!req) {
        set_err(err, "ClientError", 0, "CreateTable %s: out of memory", t->glue_name);
        return -1;
    }
    res->calls++;
    rc = sl_glue_create_table(aws, req, err);
    cJSON_Delete(req);
    if (rc == 0) {
        res->table_created = 1;
        res->ncolumns = t->ncols;
        return 0;
    }
    if (strcmp(err->code, "AlreadyExistsException") != 0)
        return -1;
    /* Lost a race: the table is there now; decide its schema like any existing table. */
    res->calls++;
    if (sl_glue_get_table(aws, database, t->glue_name, existing, err) != 0)
        return -1;
    if (!*existing) {
        set_err(err, "EntityNotFoundException", 1,
                "table %s: CreateTable said it exists, GetTable that it does not", t->glue_name);
        return -1;
    }
    return 0;
}

/* Appends the export's new columns to the catalog's, when the schema allows it. */
static int reconcile_schema(sl_aws *aws, const char *database, const sl_cat_table *t,
                            const char *location, const cJSON *table, sl_cat_register_result *res,
                            sl_aws_error *err)
{
    sl_cat_column *cur = NULL, *merged = NULL;
    size_t ncur = 0, nadded = 0, k;
    char cause[SL_ERRLEN];
    cJSON *req = NULL;
    int rc = -1;

    if (sl_catalog_table_columns(table, &cur, &ncur, cause, sizeof(cause)) != 0) {
        set_err(err, "ParseError", 0, "GetTable %s: %s", t->glue_name, cause);
        return -1;
    }
    switch (sl_catalog_schema_decide(t->glue_name, cur, ncur, t->cols, t->ncols, &nadded, cause,
                                     sizeof(cause))) {
    case SL_CAT_SCHEMA_UNCHANGED:
        res->ncolumns = ncur;
        rc = 0;
        goto out;
    case SL_CAT_SCHEMA_INCOMPATIBLE:
        set_err(err, "SchemaIncompatible", 0, "%s", cause);
        goto out;
    case SL_CAT_SCHEMA_APPEND:
        break;
    }
    /* The catalog's columns keep their order; the new ones follow, in export order. */
    merged = calloc(ncur + nadded, sizeof(*merged));
    if (!merged)
        goto oom;
    for (k = 0; k < ncur; k++)
        merged[k] = cur[k];
    for (size_t i = 0; i < t->ncols; i++) {
        int known = 0;
        for (size_t j = 0; j < ncur; j++)
            known |= strcasecmp(cur[j].name, t->cols[i].name) == 0;
        if (!known && k < ncur + nadded)
            merged[k++] = t->cols[i];
    }
    req = sl_catalog_update_table_req(database, t->glue_name, location, merged, k);
    if (!req)
        goto oom;
    res->calls++;
    if (sl_glue_update_table(aws, req, err) != 0)
        goto out;
    res->table_updated = 1;
    res->columns_added = nadded;
    res->ncolumns = k;
    rc = 0;
    goto out;
oom:
    set_err(err, "ClientError", 0, "UpdateTable %s: out of memory", t->glue_name);
out:
    cJSON_Delete(req);
    free(merged); /* borrowed strings: cur's and t's */
    sl_catalog_columns_free(cur, ncur);
    return rc;
}

/* One BatchCreatePartition call and the per-partition follow-ups. */
static int add_batch(sl_aws *aws, const char *database, const sl_cat_table *t,
                     const sl_cat_partition *parts, size_t n, sl_cat_register_result *res,
                     sl_aws_error *err)
{
    cJSON *req =
        sl_catalog_batch_create_partition_req(database, t->glue_name, parts, n, t->cols, t->ncols);
    cJSON *resp = NULL;
    sl_cat_part_error *pe = NULL;
    size_t npe = 0, failed = 0;
    char perr[SL_ERRLEN];
    int rc = -1;

    if (!req) {
        set_err(err, "ClientError", 0, "BatchCreatePartition %s: out of memory", t->glue_name);
        return -1;
    }
    res->calls++;
    if (sl_glue_batch_create_partition(aws, req, &resp, err) != 0)
        goto out;
    if (sl_catalog_parse_partition_errors(resp, &pe, &npe, perr, sizeof(perr)) != 0) {
        set_err(err, "ParseError", 0, "%s (table %s)", perr, t->glue_name);
        goto out;
    }
    res->partitions_created += n >= npe ? n - npe : 0;
    for (size_t i = 0; i < npe; i++) {
        const sl_cat_partition *p = NULL;
        cJSON *up;
        for (size_t j = 0; j < n && !p; j++)
            if (strcmp(parts[j].value, pe[i].value) == 0)
                p = &parts[j];
        if (pe[i].kind != SL_CAT_PERR_EXISTS || !p) {
            /* Keep going so every partition that can be registered is; report the first. */
            if (!failed++) {
                set_err(err, "PartitionFailed", pe[i].kind == SL_CAT_PERR_TRANSIENT,
                        "table %.200s partition date=%.64s: %.100s: %.100s", t->glue_name,
                        pe[i].value, pe[i].code, pe[i].message);
            }
            continue;
        }
        up = sl_catalog_update_partition_req(database, t->glue_name, p, t->cols, t->ncols);
        if (!up) {
            set_err(err, "ClientError", 0, "UpdatePartition %s: out of memory", t->glue_name);
            goto out;
        }
        res->calls++;
        {
            sl_aws_error ue;
            int urc = sl_glue_update_partition(aws, up, &ue);
            cJSON_Delete(up);
            if (urc != 0) {
                if (!failed++)
                    *err = ue;
                continue;
            }
        }
        res->partitions_updated++;
    }
    rc = failed ? -1 : 0;
out:
    sl_catalog_part_errors_free(pe, npe);
    cJSON_Delete(resp);
    cJSON_Delete(req);
    return rc;
}

int sl_catalog_register_table(sl_aws *aws, const char *database, const sl_cat_table *t,
                              const char *location, const sl_cat_partition *parts, size_t nparts,
                              sl_cat_register_result *res, sl_aws_error *err)
{
    cJSON *table = NULL;
    int rc = -1;

    memset(res, 0, sizeof(*res));
    if (!t->complete || t->error || !t->ncols || !t->glue_name[0]) {
        set_err(err, "InvalidInput", 0, "table %s is not registrable: %s", t->target,
                t->error      ? t->error
                : t->complete ? "no Glue name or no columns"
                              : "not COMPLETE");
        return -1;
    }
    res->calls++;
    if (sl_glue_get_table(aws, database, t->glue_name, &table, err) != 0)
        goto out;
    if (!table) {
        if (create_table(aws, database, t, location, &table, res, err) != 0)
            goto out;
    }
    if (table && reconcile_schema(aws, database, t, location, table, res, err) != 0)
        goto out;
    for (size_t i = 0, off, cnt; sl_catalog_batch_at(nparts, i, &off, &cnt) == 0; i++)
        if (add_batch(aws, database, t, parts + off, cnt, res, err) != 0)
            goto out;
    rc = 0;
out:
    cJSON_Delete(table);
    return rc;
}
