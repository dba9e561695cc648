/*
 * share.h - the share stage's pure logic: the desired Lake Formation state of one cluster
 * (the policy applied to the run's Glue tables), the schema-drift guard, and the plan (desired
 * minus live as ordered create/update/delete steps), printable like `terraform plan` and
 * turned step by step into REST-JSON requests. No I/O: the worker and `snaplakectl share`
 * drive it as
 *
 *   1. read the database's tables from Glue (GetTables, every page) -> sl_share_table_in[]
 *   2. read the live state (lflive.h)                                -> sl_lflive
 *   3. sl_share_desire + sl_share_plan_make                          -> sl_share_plan
 *   4. for each step: sl_share_step_request, send it, sl_lf_parse_failures on the answer of
 *      the batch calls and Add/RemoveLFTags* (transient entries: retry; others fail the run
 *      with the entry's code and message)
 *   5. read the live state again and plan again: done when the plan has no steps (a write
 *      reported failed may have succeeded, and the reverse)
 *   6. publish `shared`; record the grant keys of the GRANT steps (sl_lf_grant_key) and each
 *      shared table's columns in the ledger, for the next run's prune and drift guard.
 *
 * What snaplake owns (the only things `prune` removes): data cells filters whose name starts
 * with the policy's filter_prefix, the grants on those filters, and the grants whose key the
 * caller recorded when it made them (the `owned` list). Everything else that the policy does not
 * name is drift: shown, never changed.
 */
#ifndef SL_SHARE_H
#define SL_SHARE_H

#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "lf.h"
#include "lflive.h"
#include "lfpolicy.h"
#include "util.h"

/* One Glue table of the run, borrowed from the caller. */
typedef struct sl_share_table_in {
    const char *name;
    const char *const *columns; /* the table's columns now (Glue StorageDescriptor + partition
                                   keys) */
    size_t ncolumns;
    /* The columns recorded when the table was last shared; has_prev 0 when it never was (then
       every column is new to the drift guard). */
    const char *const *prev_columns;
    size_t nprev;
    int has_prev;
} sl_share_table_in;

typedef enum sl_share_class {
    SL_SHARE_UNSHARED = 0, /* no rule matches, or a private rule: carries the database's tags */
    SL_SHARE_TAGGED,       /* a tags rule */
    SL_SHARE_FILTERED      /* a filter rule */
} sl_share_class;

typedef struct sl_share_table {
    char *name;
    sl_share_class cls;
    sl_lf_tag *tags; /* the table's tags after the plan: the rule's over the database's */
    size_t ntags;
    int exposed; /* new columns are shared automatically (granted tags, or a wildcard filter) */
    int held;    /* held back (drift guard, or a rule it cannot follow): see cause */
    char *cause; /* why it is held, naming the table and the columns; NULL otherwise */
} sl_share_table;

typedef struct sl_share_desired {
    char *catalog_id; /* the Data Catalog (policy's catalog_id or the caller's account) */
    char *database;   /* the cluster's Glue database */
    sl_lf_tag *tag_defs;
    size_t ntag_defs;
    sl_lf_tag *db_tags;
    size_t ndb_tags;
    sl_share_table *tables;
    size_t ntables;
    sl_lf_filter *filters;
    size_t nfilters;
    sl_lf_grant *grants; /* resources carry catalog_id; TAG_POLICY expressions normalized */
    size_t ngrants;
    int prune;
    char *filter_prefix;
    size_t nheld; /* tables held back: the run fails with their causes once applied */
} sl_share_desired;

/*
 * The cluster's Glue database under the policy's template, named as the catalog names it
 * (catalog.h's sl_catalog_name: lower case, [a-z0-9_], so cluster "orders-prod" gives
 * snaplake_orders_prod, the database the crawl stage registers), into out. 0, or -1 with err
 * when the template gives no valid Glue name. Pure.
 */
int sl_share_database(const sl_lfpolicy *p, const char *cluster, char *out, size_t outlen,
                      char *err, size_t errlen) SL_MUST_CHECK;

/*
 * The desired state of one cluster. account_id is the caller's account (the catalog when the
 * policy names none). tables must be every table of the cluster's database (a filter on a
 * table not listed is taken as left over). Fills *out (the caller calls
 * sl_share_desired_cleanup) and returns 0; a table that cannot be shared as the policy says (a
 * filter name that does not expand to a Glue name, an included or excluded column the table
 * does not have, new sensitive columns) is not an error of the call but held, with its cause.
 * The database is sl_share_database's.
 * Returns -1 with err when there is no catalog id, the database name does not expand to a
 * valid Glue name, a table has no valid name or is listed twice, or memory ran out.
 */
int sl_share_desire(const sl_lfpolicy *p, const char *cluster, const char *account_id,
                    const sl_share_table_in *tables, size_t ntables, sl_share_desired *out,
                    char *err, size_t errlen) SL_MUST_CHECK;
void sl_share_desired_cleanup(sl_share_desired *d);

/*
 * The schema-drift guard for one table: the columns in cur that are not in prev (all of cur
 * when !has_prev), match one of the policy's sensitive patterns, and no allow_columns glob of
 * the rule (may be NULL). Appends them to *hits (in cur's order). Returns 0, or -1 on OOM.
 */
int sl_share_guard(const sl_lfpolicy *p, const sl_lfp_rule *rule, const char *const *prev,
                   size_t nprev, int has_prev, const char *const *cur, size_t ncur,
                   sl_lf_strv *hits) SL_MUST_CHECK;

/* --- the plan --------------------------------------------------------------------------------- */

typedef enum sl_share_op {
    SL_SHARE_CREATE_LF_TAG = 1, /* CreateLFTag (values: at most 50) */
    SL_SHARE_UPDATE_LF_TAG,     /* UpdateLFTag TagValuesToAdd (values: at most 50) */
    SL_SHARE_REVOKE,            /* BatchRevokePermissions (entries: at most 20) */
    SL_SHARE_DELETE_FILTER,     /* DeleteDataCellsFilter */
    SL_SHARE_ADD_LF_TAGS,       /* AddLFTagsToResource (pairs on res: at most 50) */
    SL_SHARE_CREATE_FILTER,     /* CreateDataCellsFilter */
    SL_SHARE_UPDATE_FILTER,     /* UpdateDataCellsFilter (with the live VersionId) */
    SL_SHARE_GRANT,             /* BatchGrantPermissions (entries: at most 20) */
    SL_SHARE_REMOVE_LF_TAGS     /* RemoveLFTagsFromResource (pairs on res: at most 50) */
} sl_share_op;

typedef struct sl_share_step {
    sl_share_op op;
    char *tag_key;      /* CREATE/UPDATE_LF_TAG */
    sl_lf_strv values;  /* CREATE/UPDATE_LF_TAG: the values (created or added) */
    sl_lf_resource res; /* ADD/REMOVE_LF_TAGS: the database or table */
    sl_lf_tag *pairs;   /* ADD/REMOVE_LF_TAGS: one value each (REMOVE: the live one) */
    size_t npairs;
    sl_lf_filter filter;  /* CREATE/UPDATE/DELETE_FILTER */
    sl_lf_grant *entries; /* GRANT/REVOKE */
    size_t nentries;
} sl_share_step;

/* Something that exists and the policy does not name (or a table held back). */
typedef struct sl_share_drift {
    char *what;  /* one line: "grant 999988887777 SELECT on Table db.t" */
    int removed; /* a step of this plan revokes or deletes it (prune, and snaplake's own) */
} sl_share_drift;

typedef struct sl_share_plan {
    sl_share_step *steps; /* in the order they must run */
    size_t nsteps;
    sl_share_drift *drift;
    size_t ndrift;
} sl_share_plan;

/*
 * desired minus live. owned (may be NULL) holds the grant keys (sl_lf_grant_key) snaplake made,
 * as recorded by the caller. Steps run in this order: LF-Tags created or given values (values
 * are only ever added), revokes and filter deletes (prune only), the database's tags, the
 * tables' tags (a key the policy declares that a table carries and its desired tags no longer
 * list is removed, so a withdrawn table stops matching a tag grant; keys the policy does not
 * declare are drift, never touched), filters created or updated, grants. A live state that already
 * is the desired one plans zero steps. Returns 0 with *out filled (sl_share_plan_cleanup), or -1
 * (OOM).
 */
int sl_share_plan_make(const sl_share_desired *d, const sl_lflive *live, const sl_lf_strv *owned,
                       sl_share_plan *out, char *err, size_t errlen) SL_MUST_CHECK;
void sl_share_plan_cleanup(sl_share_plan *p);

/* Counts by symbol: + create/grant, ~ update/tag, - revoke/delete, ! drift (not removed). */
typedef struct sl_share_counts {
    size_t create, update, remove, drift;
} sl_share_counts;
sl_share_counts sl_share_plan_counts(const sl_share_plan *p);

/*
 * The plan as text, one line per change (a batch step prints one line per entry), then a
 * summary line "Plan: 2 to create, 1 to update, 0 to remove, 1 drift." or "No changes."
 * Appends to *out. Returns 0, or -1 (OOM or the buffer's cap).
 */
int sl_share_plan_format(const sl_share_plan *p, sl_buf *out) SL_MUST_CHECK;

/*
 * The REST call of one step: *path is the operation's path ("/BatchGrantPermissions", static
 * storage), the return value its body (caller cJSON_Deletes), NULL on OOM. catalog_id as in
 * lf.h (CatalogId; NULL leaves it out).
 */
cJSON *sl_share_step_request(const sl_share_step *s, const char *catalog_id, const char **path);

#endif /* SL_SHARE_H */
