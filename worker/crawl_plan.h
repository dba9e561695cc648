/*
 * crawl_plan.h - the pure decisions of the crawl stage's direct registration
 * (CATALOG_MODE=direct, crawl.c), apart so they are tested with tables: which mode a cluster
 * uses, where a table lives in the lake, and the digest that names a schema version.
 */
#ifndef SL_CRAWL_PLAN_H
#define SL_CRAWL_PLAN_H

#include <stddef.h>

#include "catalog.h"

/*
 * 1 when cluster is registered directly: CATALOG_MODE (mode) is "direct", or the cluster is
 * in CATALOG_DIRECT_CLUSTERS (list: comma-separated ids, blanks around them ignored, compared
 * case-insensitively as RDS does; NULL or "" = none), the per-cluster override that moves a
 * crawler deployment to direct registration one cluster at a time. 0 otherwise.
 */
int sl_crawl_plan_direct(const char *mode, const char *list, const char *cluster);

/*
 * The table's location, s3://<lake_bucket>/[<lake_prefix>/]<cluster>/<db>/<folder>/ where
 * db/folder is the target with its first '.' as '/': the copy stage's layout (keymap.h).
 * Heap string (free()), NULL on OOM or a target without a dot.
 */
char *sl_crawl_plan_location(const char *lake_bucket, const char *lake_prefix, const char *cluster,
                             const char *target);

/*
 * The schema version of cols[0..n): the first 16 hex digits of SHA-256 over "name:type\n" per
 * column in order, into out (outlen >= 17). Two registrations with the same columns give the
 * same digest; an appended column gives another. 0, or -1 when out is too small.
 */
int sl_crawl_plan_schema_digest(const sl_cat_column *cols, size_t n, char *out, size_t outlen);

#endif /* SL_CRAWL_PLAN_H */
