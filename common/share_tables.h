/*
 * share_tables.h - the share stage's inputs from the Data Catalog and the ledger: Glue's
 * GetTables pages turned into sl_share_table_in (a table's columns are its StorageDescriptor
 * columns and then its partition keys), and the history earlier runs recorded (the grant keys
 * snaplake made, each shared table's columns) that the drift guard compares with. Pure: the
 * page parser reads outside input and is fuzzed by tests/fuzz/fuzz_share_tables.c.
 */
#ifndef SL_SHARE_TABLES_H
#define SL_SHARE_TABLES_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lf.h"
#include "share.h"
#include "util.h"

#define SL_SHARE_TABLES_MAX 10000  /* tables of one database */
#define SL_SHARE_COLUMNS_MAX 10000 /* columns of one table (Glue's own limit is far lower) */
#define SL_SHARE_TABLES_MAX_BYTES ((size_t)16 * 1024 * 1024) /* one page */

/* One table's columns as recorded when it was last shared. */
typedef struct sl_share_prev {
    char *table;
    sl_lf_strv columns;
} sl_share_prev;

/* What earlier runs recorded (share_store.h): the grant keys snaplake made, and columns. */
typedef struct sl_share_history {
    sl_lf_strv owned;
    sl_share_prev *tables;
    size_t ntables;
} sl_share_history;

void sl_share_history_cleanup(sl_share_history *h);
/* Appends a table's record (columns copied). 0, or -1 on OOM. */
int sl_share_history_add(sl_share_history *h, const char *table, const char *const *columns,
                         size_t n) SL_MUST_CHECK;

/* The tables read so far; every string heap-owned (sl_share_tables_cleanup frees them). */
typedef struct sl_share_tables {
    sl_share_table_in *v;
    size_t n;
} sl_share_tables;

void sl_share_tables_cleanup(sl_share_tables *t);

/*
 * One GetTables answer ({TableList, NextToken}): appends every table of the page to *t, or none
 * (a table without a Name, a column without a Name, a name listed twice, more than the caps),
 * and copies NextToken into next ("" on the last page; it must fit nextlen). Returns 0, or -1
 * with err and *t unchanged.
 */
int sl_share_tables_add_page(sl_share_tables *t, const cJSON *resp, char *next, size_t nextlen,
                             char *err, size_t errlen) SL_MUST_CHECK;
/* The same over raw bytes (at most SL_SHARE_TABLES_MAX_BYTES): the fuzzer's entry point. */
int sl_share_tables_parse_bytes(sl_share_tables *t, const char *buf, size_t len, char *next,
                                size_t nextlen, char *err, size_t errlen) SL_MUST_CHECK;

/* Points each table's prev_columns at its record in h (borrowed: h must outlive t's use);
   h NULL: no table has a record. */
void sl_share_tables_attach(sl_share_tables *t, const sl_share_history *h);

#endif /* SL_SHARE_TABLES_H */
