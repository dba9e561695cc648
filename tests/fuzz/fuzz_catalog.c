/*
 * fuzz_catalog.c - export_tables_info comes from the export bucket and BatchCreatePartition's
 * answer from the network: parsing must never crash, and whatever is accepted must be
 * consistent (a registrable table has typed, lower-case, distinct columns; every Glue name is
 * [a-z0-9_]{1,255}; every rejection says why). The same bytes are also tried as one
 * expectedExportedType.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "catalog_req.h"

static void check_name(const char *n)
{
    size_t len = strlen(n);

    if (len == 0 || len > SL_CATALOG_NAME_MAX)
        abort();
    for (size_t i = 0; i < len; i++)
        if (!((n[i] >= 'a' && n[i] <= 'z') || (n[i] >= '0' && n[i] <= '9') || n[i] == '_'))
            abort();
}

static void fuzz_tables_info(const char *buf, size_t len)
{
    sl_cat_export e;
    char err[SL_ERRLEN] = "";

    if (sl_catalog_parse_tables_info(buf, len, &e, err, sizeof(err)) != 0) {
        if (!err[0] || e.tables || e.ntables)
            abort();
        return;
    }
    for (size_t i = 0; i < e.ntables; i++) {
        const sl_cat_table *t = &e.tables[i];
        if (!t->target || !t->status || !t->database || !t->schema || !t->table)
            abort();
        if (!t->complete && (!t->reason || t->cols))
            abort();
        if (t->complete && !t->error && (!t->cols || !t->ncols))
            abort();
        if (t->error && t->cols)
            abort();
        for (size_t k = 0; k < t->ncols; k++) {
            if (!t->cols[k].name[0] || !t->cols[k].type[0])
                abort();
            for (const char *c = t->cols[k].name; *c; c++)
                if (isupper((unsigned char)*c))
                    abort();
            for (size_t m = 0; m < k; m++)
                if (strcmp(t->cols[m].name, t->cols[k].name) == 0)
                    abort();
        }
    }
    err[0] = '\0';
    if (sl_catalog_name_tables(&e, "{database}_{schema}_{table}", "c", err, sizeof(err)) == 0) {
        for (size_t i = 0; i < e.ntables; i++) {
            check_name(e.tables[i].glue_name);
            for (size_t k = 0; k < i; k++)
                if (strcmp(e.tables[k].glue_name, e.tables[i].glue_name) == 0)
                    abort(); /* a shared name must have been refused */
        }
    } else if (!err[0]) {
        abort();
    }
    sl_catalog_export_cleanup(&e);
}

static void fuzz_partition_errors(const char *buf, size_t len)
{
    sl_cat_part_error *pe;
    size_t n;
    char err[SL_ERRLEN] = "";

    if (sl_catalog_parse_partition_errors_bytes(buf, len, &pe, &n, err, sizeof(err)) != 0) {
        if (!err[0] || pe || n)
            abort();
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (!pe[i].value || !pe[i].message || !pe[i].code[0])
            abort();
        if ((pe[i].kind == SL_CAT_PERR_EXISTS) !=
            (strcmp(pe[i].code, "AlreadyExistsException") == 0))
            abort();
    }
    sl_catalog_part_errors_free(pe, n);
}

static void fuzz_type(const char *buf, size_t len)
{
    char s[300], out[64], err[SL_ERRLEN] = "";

    if (len >= sizeof(s))
        len = sizeof(s) - 1;
    memcpy(s, buf, len);
    s[len] = '\0';
    if (sl_catalog_glue_type(s, "fuzz", 10, 2, out, sizeof(out), err, sizeof(err)) == 0) {
        static const char *const known[] = {"boolean", "tinyint", "smallint", "int",
                                            "bigint",  "float",   "double",   "string",
                                            "binary",  "date",    "timestamp"};
        int ok = strncmp(out, "decimal(", 8) == 0;
        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            ok |= strcmp(out, known[i]) == 0;
        if (!ok)
            abort();
    } else if (!err[0]) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_tables_info((const char *)data, size);
    fuzz_partition_errors((const char *)data, size);
    fuzz_type((const char *)data, size);
    return 0;
}
