/*
 * lfpolicy.h - the share policy: one JSON document (docs/share-policy.md) saying which LF-Tags
 * exist, which Glue database a cluster's tables live in and the tag it carries, how each table
 * is shared (a tag override, a data cells filter, or private), the grants, the sensitive-column
 * patterns of the schema-drift guard, and whether drift is pruned.
 *
 * sl_lfpolicy_parse validates the whole document and reports every error at once, one line
 * each, "<JSON path>: <rule broken>" (`$.tables[2].filter.include[0]: ...`), so an operator
 * fixes a bad ConfigMap in one go. Pure: no I/O.
 *
 * Table rules match `<database>.<table>` with fnmatch(3) (no flags: `*` crosses dots), in
 * document order, and the FIRST rule that matches decides (like a firewall's rule list): put
 * specific rules before general ones. A rule that can never be reached (after a `*` rule, or a
 * duplicate match) is an error.
 */
#ifndef SL_LFPOLICY_H
#define SL_LFPOLICY_H

#include <stddef.h>

#include "lf.h"
#include "util.h"

#define SL_LFP_MAX_BYTES ((size_t)256 * 1024)
#define SL_LFP_MAX_TAG_KEYS 50     /* a resource carries at most 50 LF-Tags (LFTagsList) */
#define SL_LFP_MAX_TAG_VALUES 1000 /* Lake Formation's limit of values per LF-Tag */
#define SL_LFP_MAX_RULES 1000
#define SL_LFP_MAX_GRANTS 100
#define SL_LFP_MAX_COLUMNS 1000 /* per include / exclude / allow list */
#define SL_LFP_MAX_PATTERNS 100 /* sensitive_columns, filters of a grant */
#define SL_LFP_MAX_PATTERN 512  /* bytes of one glob */
#define SL_LFP_MAX_ERRORS 100   /* errors reported; then "... and N more" */
#define SL_LFP_DEFAULT_PREFIX "snaplake_"

typedef enum sl_lfp_rule_kind {
    SL_LFP_RULE_TAGS = 1, /* tag override: the table carries these values */
    SL_LFP_RULE_FILTER,   /* shared through a data cells filter */
    SL_LFP_RULE_PRIVATE   /* not shared: carries the database's tags */
} sl_lfp_rule_kind;

typedef struct sl_lfp_rule {
    char *match; /* glob on "<database>.<table>" */
    sl_lfp_rule_kind kind;
    sl_lf_tag *tags; /* TAGS: one value per key, keys declared */
    size_t ntags;
    /* FILTER */
    char *filter_name;  /* template: {cluster}, {database}, {table} */
    int has_include;    /* include list (ColumnNames) given */
    sl_lf_strv columns; /* include list, or the exclude list when !has_include; sorted */
    char *row_filter;   /* NULL = all rows */
    /* TAGS and FILTER without include: columns acknowledged by the drift guard (globs). */
    sl_lf_strv allow_columns;
} sl_lfp_rule;

typedef enum sl_lfp_target {
    SL_LFP_TARGET_TAGS = 1, /* an LF-Tag expression (LFTagPolicy) */
    SL_LFP_TARGET_FILTERS   /* the filters of the filter rules whose tables match */
} sl_lfp_target;

typedef struct sl_lfp_grant {
    char *principal; /* 12-digit account id or IAM principal ARN */
    sl_lfp_target target;
    sl_lf_resource expr; /* TAGS: a TAG_POLICY resource (catalog unset), normalized */
    sl_lf_strv filters;  /* FILTERS: globs on "<database>.<table>" */
    unsigned perms;      /* SL_LF_P_SELECT | SL_LF_P_DESCRIBE */
    int grant_option;
} sl_lfp_grant;

typedef struct sl_lfpolicy {
    char *catalog_id; /* NULL: the caller's account */
    sl_lf_tag *tags;  /* the LF-Tags and their allowed values (order of the document) */
    size_t ntags;
    char *database;     /* template: {cluster} */
    sl_lf_tag *db_tags; /* the database's default tags, one value each */
    size_t ndb_tags;
    sl_lfp_rule *rules;
    size_t nrules;
    sl_lfp_grant *grants;
    size_t ngrants;
    sl_lf_strv sensitive; /* column globs */
    char *filter_prefix;  /* every filter name starts with it: how snaplake knows its own */
    int prune;
} sl_lfpolicy;

/*
 * Parses and validates len bytes of buf (at most SL_LFP_MAX_BYTES). Returns 0 with *out filled
 * (the caller calls sl_lfpolicy_cleanup), or -1 with every error, newline-separated, in err
 * (at most SL_LFP_MAX_ERRORS lines, then "... and N more errors"; a buffer of 16 KiB holds
 * them) and *out untouched. *nerrors (may be NULL) gets the number of errors found.
 */
int sl_lfpolicy_parse(const char *buf, size_t len, sl_lfpolicy *out, size_t *nerrors, char *err,
                      size_t errlen) SL_MUST_CHECK;

void sl_lfpolicy_cleanup(sl_lfpolicy *p);

/* The first rule whose glob matches "<database>.<table>", or NULL (the table is not shared). */
const sl_lfp_rule *sl_lfpolicy_rule_for(const sl_lfpolicy *p, const char *database,
                                        const char *table);

/*
 * Expands a template: {cluster}, {database}, {table} become the given values (NULL: the
 * variable is not allowed here). Returns 0, or -1 when a variable is unknown or NULL, or the
 * result is empty or does not fit outlen. Pure.
 */
int sl_lfpolicy_expand(const char *tmpl, const char *cluster, const char *database,
                       const char *table, char *out, size_t outlen) SL_MUST_CHECK;

/*
 * Non-zero when a resource carrying `tags` (one value per key) is matched by the LF-Tag
 * expression of a TAG_POLICY resource: every term's key is on the resource with one of the
 * term's values (Lake Formation's AND of ORs).
 */
int sl_lfpolicy_expr_matches(const sl_lf_resource *expr, const sl_lf_tag *tags, size_t ntags);

/*
 * The rule of each kind of value in the policy: NULL when s follows it, else the rule broken
 * (static text). Pure; lfpolicy_rules.c.
 *   tag_key    1..128, ASCII a-z 0-9 space _ . : / = + - @ % (the model's LFTagKey pattern,
 *              restricted to ASCII lower case so policy and answers compare byte for byte)
 *   tag_value  1..256, the same characters, no '*' (a wildcard in expressions)
 *   name       a Glue name (databases, tables, columns): 1..255, no control character, lower
 *              case (Glue stores names in lower case)
 *   glob       an fnmatch(3) pattern: 1..512, closed brackets, lower case
 *   principal  a 12-digit account id or arn:<partition>:iam::<account>:(role|user)/[path/]name
 *   template   literal a-z 0-9 _ - and the variables of vars ({cluster}, ...); buf receives the
 *              message when it names a variable
 *   prefix     1..64 of a-z 0-9 _ -
 *   predicate  a row filter: 1..2048 bytes (PredicateString), not blank, no control character
 *              but tab, CR, LF
 */
const char *sl_lfpolicy_check_tag_key(const char *s);
const char *sl_lfpolicy_check_tag_value(const char *s);
const char *sl_lfpolicy_check_name(const char *s);
const char *sl_lfpolicy_check_glob(const char *s);
const char *sl_lfpolicy_check_principal(const char *s);
const char *sl_lfpolicy_check_template(const char *s, const char *const *vars, char *buf,
                                       size_t blen);
const char *sl_lfpolicy_check_prefix(const char *s);
const char *sl_lfpolicy_check_predicate(const char *s);

#endif /* SL_LFPOLICY_H */
