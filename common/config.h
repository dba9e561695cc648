/*
 * config.h - environment-variable configuration through one table per binary.
 *
 * Each binary declares a static table of sl_cfg_opt (name, type, default, bounds, help, and
 * the offset of the field it fills in the binary's own config struct). sl_config_load() reads
 * every variable, validates every one, and reports *all* errors at once (one per line in err)
 * so an operator fixes a bad Deployment in one go. sl_config_help() prints the table for
 * --help. Secret options are never echoed, neither in errors nor in sl_config_dump().
 *
 * Field types in the target struct, by option type:
 *   SL_CFG_STRING, SL_CFG_SECRET -> char *   (heap, owned by the struct; NULL when unset
 *                                             and no default)
 *   SL_CFG_INT                   -> long long (bounded by min..max)
 *   SL_CFG_BOOL                  -> int       (accepts 1/0, true/false, yes/no, on/off)
 *   SL_CFG_DURATION              -> long long milliseconds; accepts "250ms", "10s", "5m", "1h"
 *                                   or a bare number of seconds; bounded by min..max (ms)
 */
#ifndef SL_CONFIG_H
#define SL_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "util.h"

typedef enum sl_cfg_type {
    SL_CFG_STRING,
    SL_CFG_SECRET,
    SL_CFG_INT,
    SL_CFG_BOOL,
    SL_CFG_DURATION
} sl_cfg_type;

typedef struct sl_cfg_opt {
    const char *name; /* environment variable */
    sl_cfg_type type;
    const char *def;    /* default as text, NULL = no default */
    long long min, max; /* bounds for INT and DURATION (ms); ignored when min > max */
    int required;       /* non-zero: unset and no default is an error */
    size_t offset;      /* offsetof(struct, field) */
    const char *help;
} sl_cfg_opt;

/* Looks a name up; returns a borrowed value or NULL. Lets tests and fuzzers replace getenv. */
typedef const char *(*sl_cfg_getter)(const char *name, void *ud);

/*
 * Fills `cfg` from the environment (getter NULL = getenv). Returns 0, or -1 with every error,
 * newline-separated, in err. On failure the strings already set are freed (cfg is left
 * zeroed for the string fields) so the caller only reports and exits.
 */
int sl_config_load(const sl_cfg_opt *opts, size_t nopts, void *cfg, sl_cfg_getter getter, void *ud,
                   char *err, size_t errlen) SL_MUST_CHECK;

/* Frees the string fields of cfg that the table describes. */
void sl_config_cleanup(const sl_cfg_opt *opts, size_t nopts, void *cfg);

/*
 * Logs the loaded configuration as one info line (sl_log), one field per option. Secret
 * options show only "(set)" or "(unset)". cfg is borrowed.
 */
void sl_config_dump(const sl_cfg_opt *opts, size_t nopts, const void *cfg);

/* Prints usage: each option's name, type, default, bounds and help. */
void sl_config_help(FILE *out, const char *prog, const char *summary, const sl_cfg_opt *opts,
                    size_t nopts);

/*
 * Validators, per option, beyond type and bounds: what AWS, S3 or librdkafka would refuse
 * later, after connections were made, is refused at start, with every other error. A check
 * gets the value as set (or the table default) and returns 0, or -1 with why filled (one
 * phrase, no secret: secrets are never checked here).
 */
typedef int (*sl_cfg_check_fn)(const char *value, char *why, size_t whylen);

typedef struct sl_cfg_check {
    const char *name; /* environment variable; skipped when the table has no such option */
    sl_cfg_check_fn check;
} sl_cfg_check;

/*
 * Runs every check of `checks` whose name is an option of `opts` on that variable's value
 * (getter NULL = getenv; unset or empty = the option's default; neither = nothing to check).
 * Appends one "NAME: value \"...\" why" line per failure after what err already holds (err
 * is NUL-terminated on entry). Returns 0 when all passed, else -1.
 */
int sl_config_check(const sl_cfg_opt *opts, size_t nopts, const sl_cfg_check *checks,
                    size_t nchecks, sl_cfg_getter getter, void *ud, char *err, size_t errlen);

/* The checks every binary runs over its tables (sl_config_std_checks, below). */
int sl_cfg_check_log_level(const char *v, char *why, size_t whylen);
/* AWS region names: "us-east-1", "eu-central-2", "us-gov-west-1", "cn-north-1",
   "us-iso-east-1", "us-isob-east-1", "ap-southeast-7": [a-z]{2}(-[a-z]+)+-[0-9]+. */
int sl_cfg_check_aws_region(const char *v, char *why, size_t whylen);
/* S3 general-purpose bucket naming rules: 3..63 of [a-z0-9.-], starting and ending with a
   letter or digit, no "..", not an IPv4 address, not "xn--"/"sthree-"/"amzn-s3-demo-" prefixed,
   not "-s3alias"/"--ol-s3"/".mrap"/"--x-s3" suffixed. */
int sl_cfg_check_s3_bucket(const char *v, char *why, size_t whylen);
/* An AWS account id: exactly 12 digits. */
int sl_cfg_check_account_id(const char *v, char *why, size_t whylen);
/* A file that exists and can be read (AWS_CA_BUNDLE). */
int sl_cfg_check_readable_file(const char *v, char *why, size_t whylen);
/* A comma-separated list of RDS DB cluster identifiers (EXPORT_ONLY): each 1..63 of
   [a-zA-Z0-9-], starting with a letter, no "--", no trailing '-'; at most 64 entries. */
int sl_cfg_check_cluster_list(const char *v, char *why, size_t whylen);
/* A Glue crawler name template (CRAWLER_NAME): "{cluster}" the only placeholder, no other
   brace; with the longest cluster id (63) expanded, 1..255 bytes of printable characters. */
int sl_cfg_check_crawler_template(const char *v, char *why, size_t whylen);
/* CATALOG_MODE: "crawler" or "direct". */
int sl_cfg_check_catalog_mode(const char *v, char *why, size_t whylen);
/* CATALOG_DATABASE: a name template (catalog.h's sl_catalog_name) with {cluster} the only
   placeholder that gives a valid Glue name for the longest cluster id (63). */
int sl_cfg_check_catalog_db_template(const char *v, char *why, size_t whylen);
/* CATALOG_TABLE: a name template with known placeholders that gives a valid Glue name. */
int sl_cfg_check_catalog_table_template(const char *v, char *why, size_t whylen);
/* An export task identifier prefix (EXPORT_TASK_PREFIX): sl_ids_export_task_id accepts it. */
int sl_cfg_check_task_prefix(const char *v, char *why, size_t whylen);
/* NOTIFY_FORMAT: slack or json. */
int sl_cfg_check_notify_format(const char *v, char *why, size_t whylen);

/* The table of the checks above by variable name, run by every binary over its tables. */
extern const sl_cfg_check sl_config_std_checks[];
extern const size_t sl_config_nstd_checks;

/* Parses a duration ("250ms", "10s", "5m", "1h", bare = seconds) into ms. Returns 0 or -1. */
int sl_config_parse_duration(const char *s, long long *ms) SL_MUST_CHECK;

/* Parses a boolean word. Returns 0 or -1. */
int sl_config_parse_bool(const char *s, int *out) SL_MUST_CHECK;

#endif /* SL_CONFIG_H */
