/*
 * lf.h - the Lake Formation shapes the share stage works with (resources, grants, data cells
 * filters, LF-Tags) and the REST-JSON request bodies built from them. Pure: no I/O.
 *
 * Field names and limits are botocore's lakeformation 2017-03-31 service model: a TagKey is
 * 1..128 characters, a tag value 0..256, a TagValueList (and an LFTagsList) 1..50 items per
 * call, Glue names (NameString) 1..255, a row filter (PredicateString) at most 2048, an
 * Identifier of a batch entry 1..255. Every struct here owns its heap strings; _cleanup frees
 * them and zeroes the struct; _cleanup(NULL) is a no-op. lf.c holds the shapes, lf_body.c the
 * request bodies.
 */
#ifndef SL_LF_H
#define SL_LF_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util.h"

#define SL_LF_TAG_KEY_MAX 128
#define SL_LF_TAG_VALUE_MAX 256
#define SL_LF_NAME_MAX 255       /* NameString: databases, tables, columns, filters */
#define SL_LF_PREDICATE_MAX 2048 /* PredicateString: RowFilter.FilterExpression */
#define SL_LF_VALUES_PER_CALL 50 /* TagValueList max */
#define SL_LF_TAGS_PER_CALL 50   /* LFTagsList max */
#define SL_LF_BATCH_MAX 20       /* BatchGrant/RevokePermissions entries per call */

/* A growable array of heap strings. */
typedef struct sl_lf_strv {
    char **v;
    size_t n;
} sl_lf_strv;

/* Appends a copy of s. Returns 0, or -1 on OOM (strv unchanged). */
int sl_lf_strv_push(sl_lf_strv *s, const char *str) SL_MUST_CHECK;
/* Index of str in s, or -1. */
long sl_lf_strv_find(const sl_lf_strv *s, const char *str);
/* Sorts bytewise and drops duplicates. */
void sl_lf_strv_sort(sl_lf_strv *s);
int sl_lf_strv_copy(sl_lf_strv *dst, const sl_lf_strv *src) SL_MUST_CHECK;
void sl_lf_strv_cleanup(sl_lf_strv *s);
/* "a, b, c" into out (outlen > 0), cut short when out is full: for messages. */
void sl_lf_strv_join(const sl_lf_strv *s, char *out, size_t outlen);

/*
 * An LF-Tag key with values: a definition (ListLFTags, the policy's tags), a term of an
 * LF-Tag expression, or a resource's assignment (exactly one value: a resource carries one
 * value per key).
 */
typedef struct sl_lf_tag {
    char *key;
    sl_lf_strv values;
} sl_lf_tag;

void sl_lf_tag_cleanup(sl_lf_tag *t);
/* Frees an array of n tags and the array itself. */
void sl_lf_tags_free(sl_lf_tag *tags, size_t n);
/* Appends {key, values} (copied) to *tags / *n. Returns 0 or -1 (OOM, unchanged). */
int sl_lf_tags_add(sl_lf_tag **tags, size_t *n, const char *key, const char *const *values,
                   size_t nvalues) SL_MUST_CHECK;
/* The tag of key in tags, or NULL. */
const sl_lf_tag *sl_lf_tags_find(const sl_lf_tag *tags, size_t n, const char *key);

/* Permissions, one bit each, in the model's Permission enum order. */
enum {
    SL_LF_P_ALL = 1u << 0,
    SL_LF_P_SELECT = 1u << 1,
    SL_LF_P_ALTER = 1u << 2,
    SL_LF_P_DROP = 1u << 3,
    SL_LF_P_DELETE = 1u << 4,
    SL_LF_P_INSERT = 1u << 5,
    SL_LF_P_DESCRIBE = 1u << 6,
    SL_LF_P_CREATE_DATABASE = 1u << 7,
    SL_LF_P_CREATE_TABLE = 1u << 8,
    SL_LF_P_DATA_LOCATION_ACCESS = 1u << 9,
    SL_LF_P_CREATE_LF_TAG = 1u << 10,
    SL_LF_P_ASSOCIATE = 1u << 11,
    SL_LF_P_GRANT_WITH_LF_TAG_EXPRESSION = 1u << 12,
    SL_LF_P_CREATE_LF_TAG_EXPRESSION = 1u << 13,
    SL_LF_P_CREATE_CATALOG = 1u << 14,
    SL_LF_P_SUPER_USER = 1u << 15,
    SL_LF_P_EXECUTE = 1u << 16,
};
#define SL_LF_NPERMS 17

/* The bit of a Permission name, or 0 for a name the model does not list. */
unsigned sl_lf_perm_bit(const char *name);
/* The name of one bit, or NULL. */
const char *sl_lf_perm_name(unsigned bit);
/* "SELECT, DESCRIBE" (model order) into out; "none" for 0. */
void sl_lf_perms_format(unsigned perms, char *out, size_t outlen);

typedef enum sl_lf_res_kind {
    SL_LF_RES_OTHER = 0,  /* a kind the share stage never makes (DataLocation, ...) */
    SL_LF_RES_DATABASE,   /* Database {CatalogId, Name} */
    SL_LF_RES_TABLE,      /* Table {CatalogId, DatabaseName, Name | TableWildcard} */
    SL_LF_RES_TAG_POLICY, /* LFTagPolicy {CatalogId, ResourceType, Expression} */
    SL_LF_RES_FILTER      /* DataCellsFilter {TableCatalogId, DatabaseName, TableName, Name} */
} sl_lf_res_kind;

/*
 * A Lake Formation resource. A NULL catalog_id means "the caller's account"; two resources
 * compare equal on catalog when either side is NULL (Lake Formation fills CatalogId in its
 * answers where a request may leave it out).
 */
typedef struct sl_lf_resource {
    sl_lf_res_kind kind;
    char *catalog_id;
    char *database; /* DATABASE: Name; TABLE, FILTER: DatabaseName */
    char *table;    /* TABLE: Name (NULL with table_wildcard); FILTER: TableName */
    int table_wildcard;
    char *name;          /* FILTER: Name */
    int policy_database; /* TAG_POLICY: ResourceType DATABASE (1) or TABLE (0) */
    sl_lf_tag *expr;     /* TAG_POLICY: terms sorted by key, values sorted */
    size_t nexpr;
    char *other; /* OTHER: the member's name and what it names, for display */
} sl_lf_resource;

void sl_lf_resource_cleanup(sl_lf_resource *r);
int sl_lf_resource_copy(sl_lf_resource *dst, const sl_lf_resource *src) SL_MUST_CHECK;
/* Sorts a TAG_POLICY expression (terms by key, values) so equal policies compare equal. */
void sl_lf_resource_normalize(sl_lf_resource *r);
/* Non-zero when a and b name the same resource (expressions compared after normalizing). */
int sl_lf_resource_equal(const sl_lf_resource *a, const sl_lf_resource *b);
/* One line for people: "LFTagPolicy TABLE (confidential=public)", "Table db.t", ... */
void sl_lf_resource_describe(const sl_lf_resource *r, char *out, size_t outlen);
/* The Resource object of the model for r (NULL on OOM or OTHER). Caller cJSON_Deletes. */
cJSON *sl_lf_resource_json(const sl_lf_resource *r);

/* One principal's permissions on one resource (a ListPermissions entry, a batch entry). */
typedef struct sl_lf_grant {
    char *principal; /* DataLakePrincipalIdentifier */
    sl_lf_resource res;
    unsigned perms;     /* Permissions */
    unsigned grantable; /* PermissionsWithGrantOption */
} sl_lf_grant;

void sl_lf_grant_cleanup(sl_lf_grant *g);
void sl_lf_grants_free(sl_lf_grant *g, size_t n);
int sl_lf_grant_copy(sl_lf_grant *dst, const sl_lf_grant *src) SL_MUST_CHECK;

/*
 * The canonical key of a grant's (principal, resource), a compact JSON array, e.g.
 * ["444455556666","LFTagPolicy","TABLE",[["confidential",["public"]]]]: what the share stage
 * records in the ledger for each grant it made (the "owned" set of sl_share_plan_make). The
 * catalog id is left out (NULL and the account's own id mean the same). Heap string (free()),
 * NULL on OOM or an OTHER resource.
 */
char *sl_lf_grant_key(const char *principal, const sl_lf_resource *r);

/* A data cells filter (CreateDataCellsFilter TableData, a ListDataCellsFilter entry). */
typedef struct sl_lf_filter {
    char *catalog_id; /* TableCatalogId (required by the model) */
    char *database;
    char *table;
    char *name;
    char *row_filter;    /* RowFilter.FilterExpression; NULL = AllRowsWildcard */
    int column_wildcard; /* 1: ColumnWildcard with `columns` excluded; 0: ColumnNames */
    sl_lf_strv columns;  /* sorted */
    char *version_id;    /* VersionId as read back; NULL in desired state */
} sl_lf_filter;

void sl_lf_filter_cleanup(sl_lf_filter *f);
void sl_lf_filters_free(sl_lf_filter *f, size_t n);
int sl_lf_filter_copy(sl_lf_filter *dst, const sl_lf_filter *src) SL_MUST_CHECK;
/* Same table and name (catalog compared as for resources). */
int sl_lf_filter_same(const sl_lf_filter *a, const sl_lf_filter *b);
/* Same definition: columns (as sets), wildcard and row filter. */
int sl_lf_filter_equal(const sl_lf_filter *a, const sl_lf_filter *b);

/*
 * Request bodies of the REST-JSON calls, shapes as botocore's model says. Each returns a new
 * object the caller cJSON_Deletes, or NULL on OOM or when the input breaks the model's
 * counts (more than SL_LF_VALUES_PER_CALL values, SL_LF_TAGS_PER_CALL pairs or
 * SL_LF_BATCH_MAX entries; none at all). catalog_id NULL leaves CatalogId out.
 */
/* POST /CreateLFTag {CatalogId?, TagKey, TagValues} */
cJSON *sl_lf_body_create_lf_tag(const char *catalog_id, const char *key, const sl_lf_strv *values);
/* POST /UpdateLFTag {CatalogId?, TagKey, TagValuesToAdd}: values are only ever added. */
cJSON *sl_lf_body_update_lf_tag(const char *catalog_id, const char *key, const sl_lf_strv *add);
/* POST /AddLFTagsToResource {CatalogId?, Resource, LFTags:[{TagKey, TagValues}]} */
cJSON *sl_lf_body_add_lf_tags(const char *catalog_id, const sl_lf_resource *r,
                              const sl_lf_tag *pairs, size_t npairs);
/* POST /RemoveLFTagsFromResource, the same shape: each pair names the key and the value the
   resource carries. */
cJSON *sl_lf_body_remove_lf_tags(const char *catalog_id, const sl_lf_resource *r,
                                 const sl_lf_tag *pairs, size_t npairs);
/* POST /CreateDataCellsFilter and /UpdateDataCellsFilter {TableData:{...}}; with_version
   adds VersionId (Update's optimistic lock) when f has one. */
cJSON *sl_lf_body_data_cells_filter(const sl_lf_filter *f, int with_version);
/* POST /DeleteDataCellsFilter {TableCatalogId, DatabaseName, TableName, Name} */
cJSON *sl_lf_body_delete_data_cells_filter(const sl_lf_filter *f);
/*
 * POST /BatchGrantPermissions and /BatchRevokePermissions {CatalogId?, Entries:[{Id,
 * Principal:{DataLakePrincipalIdentifier}, Resource, Permissions, PermissionsWithGrantOption}]}.
 * Entry i gets Id "<i>" (sl_lf_batch_index maps a Failures entry's Id back).
 */
cJSON *sl_lf_body_batch_permissions(const char *catalog_id, const sl_lf_grant *entries, size_t n);
/* The index of a batch entry Id made by sl_lf_body_batch_permissions, or -1. */
long sl_lf_batch_index(const char *id, size_t n);

/* The read calls (pagination: next_token NULL on the first page). */
/* POST /ListLFTags {CatalogId?, MaxResults, NextToken?}: the catalog's own LF-Tags only. */
cJSON *sl_lf_body_list_lf_tags(const char *catalog_id, const char *next_token);
/* POST /GetResourceLFTags {CatalogId?, Resource, ShowAssignedLFTags: true}: only the tags
   assigned on the resource itself, so a table's inherited database tags are not read as its
   own (sl_share_plan_make relies on this). */
cJSON *sl_lf_body_get_resource_lf_tags(const char *catalog_id, const sl_lf_resource *r);
/* POST /ListDataCellsFilter {Table:{CatalogId, DatabaseName, TableWildcard:{}}, MaxResults,
   NextToken?}: every filter of one database. */
cJSON *sl_lf_body_list_data_cells_filter(const char *catalog_id, const char *database,
                                         const char *next_token);
/* POST /ListPermissions {CatalogId?, Principal?, ResourceType?, Resource?, MaxResults,
   NextToken?}; resource_type e.g. "LF_TAG_POLICY_TABLE", NULL to leave out. */
cJSON *sl_lf_body_list_permissions(const char *catalog_id, const char *principal,
                                   const char *resource_type, const sl_lf_resource *r,
                                   const char *next_token);

#endif /* SL_LF_H */
