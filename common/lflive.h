/*
 * lflive.h - Lake Formation's live state as the share stage reads it back, and the per-entry
 * failures its write calls report inside an HTTP 200. Pure parsers of outside input (fuzzed by
 * tests/fuzz/fuzz_lflive.c): every answer is bounded (SL_LFLIVE_MAX_BYTES per page,
 * SL_LFLIVE_MAX_ITEMS per list), and a page either adds all its entries or none.
 *
 * What the caller reads, per cluster (one Glue database):
 *   ListLFTags (all pages), or GetLFTag per key -> sl_lflive_add_lf_tags / sl_lflive_add_lf_tag
 *   GetResourceLFTags on the database           -> sl_lflive_add_resource_tags(NULL)
 *   GetResourceLFTags on each table, with ShowAssignedLFTags (sl_lf_body_get_resource_lf_tags)
 *                                               -> sl_lflive_add_resource_tags(table)
 *   ListDataCellsFilter on the database         -> sl_lflive_add_filters
 *   ListPermissions (all pages; any filters)    -> sl_lflive_add_permissions
 */
#ifndef SL_LFLIVE_H
#define SL_LFLIVE_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lf.h"
#include "util.h"

#define SL_LFLIVE_MAX_BYTES ((size_t)8 * 1024 * 1024)
#define SL_LFLIVE_MAX_ITEMS 100000
#define SL_LFLIVE_TOKEN_MAX 4096

/* The LF-Tags assigned on one column (GetResourceLFTags LFTagsOnColumns). */
typedef struct sl_lflive_column {
    char *name;
    sl_lf_tag *tags;
    size_t ntags;
} sl_lflive_column;

/* One table's assigned tags (LFTagsOnTable) and its columns' (LFTagsOnColumns). */
typedef struct sl_lflive_table {
    char *name;
    sl_lf_tag *tags;
    size_t ntags;
    sl_lflive_column *columns;
    size_t ncolumns;
} sl_lflive_table;

typedef struct sl_lflive {
    sl_lf_tag *tag_defs; /* ListLFTags */
    size_t ntag_defs;
    int have_db_tags;   /* the database's tags were read */
    sl_lf_tag *db_tags; /* LFTagOnDatabase */
    size_t ndb_tags;
    sl_lflive_table *tables;
    size_t ntables;
    sl_lf_filter *filters; /* ListDataCellsFilter; columns sorted */
    size_t nfilters;
    sl_lf_grant *grants; /* ListPermissions; TAG_POLICY expressions normalized */
    size_t ngrants;
} sl_lflive;

void sl_lflive_init(sl_lflive *l);
void sl_lflive_cleanup(sl_lflive *l);
/* The live tags of a table, or NULL when it was not read. Borrowed. */
const sl_lflive_table *sl_lflive_table_find(const sl_lflive *l, const char *table);

/*
 * Page parsers: each reads one response object and appends what it holds to *l. NextToken is
 * copied into next (at most SL_LFLIVE_TOKEN_MAX - 1 bytes; "" when absent: the last page).
 * Returns 0, or -1 with err (the operation and what was wrong) and *l unchanged.
 */
int sl_lflive_add_lf_tags(sl_lflive *l, const cJSON *resp, char *next, size_t nextlen, char *err,
                          size_t errlen) SL_MUST_CHECK;
/* GetLFTag {CatalogId, TagKey, TagValues}: one definition, replacing one of the same key. */
int sl_lflive_add_lf_tag(sl_lflive *l, const cJSON *resp, char *err, size_t errlen) SL_MUST_CHECK;
/* table NULL: the database's answer (LFTagOnDatabase); else that table's (a table read twice
   replaces the first read). */
int sl_lflive_add_resource_tags(sl_lflive *l, const char *table, const cJSON *resp, char *err,
                                size_t errlen) SL_MUST_CHECK;
int sl_lflive_add_filters(sl_lflive *l, const cJSON *resp, char *next, size_t nextlen, char *err,
                          size_t errlen) SL_MUST_CHECK;
int sl_lflive_add_permissions(sl_lflive *l, const cJSON *resp, char *next, size_t nextlen,
                              char *err, size_t errlen) SL_MUST_CHECK;

/* Parses a resource object of the model ({"Table": {...}} etc.). Unknown kinds become OTHER
   with a description. Returns 0 or -1 (err) when the object is malformed. */
int sl_lflive_parse_resource(const cJSON *res, sl_lf_resource *out, char *err,
                             size_t errlen) SL_MUST_CHECK;

/* One entry of a Failures list (BatchGrant/RevokePermissions, AddLFTagsToResource). */
typedef struct sl_lf_failure {
    char id[256];      /* RequestEntry.Id (batch calls); "" for AddLFTagsToResource */
    char tag_key[129]; /* LFTag.TagKey (AddLFTagsToResource); "" for batch calls */
    char code[256];    /* Error.ErrorCode; "UnknownError" when absent */
    char message[2049];
    int transient; /* sl_lf_error_transient(code) */
} sl_lf_failure;

/*
 * Reads the Failures list of a write call's 200 answer into *out (heap, free(); NULL when
 * *n is 0). A missing or empty list is success with *n = 0. Returns 0, or -1 with err when
 * Failures is not a list of objects (or holds more than SL_LFLIVE_MAX_ITEMS).
 */
int sl_lf_parse_failures(const cJSON *resp, sl_lf_failure **out, size_t *n, char *err,
                         size_t errlen) SL_MUST_CHECK;

/*
 * Whether a Lake Formation error code (of a call or of a Failures entry) is worth retrying:
 * ConcurrentModificationException (another writer: retry with backoff), InternalServiceException,
 * OperationTimeoutException, ThrottledException, ResourceNotReadyException,
 * TransactionCommitInProgressException, plus the SDKs' generic transient codes
 * (sl_aws_is_transient). Everything else (InvalidInputException, AccessDeniedException,
 * EntityNotFoundException, AlreadyExistsException, ResourceNumberLimitExceededException, ...)
 * is permanent: the run fails with the entry's own code and message.
 */
int sl_lf_error_transient(const char *code);

/* The parsers over raw bytes (at most SL_LFLIVE_MAX_BYTES): the fuzzers' entry points. */
typedef enum sl_lflive_kind {
    SL_LFLIVE_LF_TAGS,
    SL_LFLIVE_DB_TAGS,
    SL_LFLIVE_TABLE_TAGS,
    SL_LFLIVE_FILTERS,
    SL_LFLIVE_PERMISSIONS,
    SL_LFLIVE_FAILURES,
    SL_LFLIVE_LF_TAG
} sl_lflive_kind;
int sl_lflive_parse_bytes(sl_lflive_kind kind, const char *buf, size_t len, sl_lflive *l, char *err,
                          size_t errlen) SL_MUST_CHECK;

#endif /* SL_LFLIVE_H */
