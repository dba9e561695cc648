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
    const char *name;   /* environment variable */
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
int sl_config_load(const sl_cfg_opt *opts, size_t nopts, void *cfg, sl_cfg_getter getter,
                   void *ud, char *err, size_t errlen) SL_MUST_CHECK;

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

/* Parses a duration ("250ms", "10s", "5m", "1h", bare = seconds) into ms. Returns 0 or -1. */
int sl_config_parse_duration(const char *s, long long *ms) SL_MUST_CHECK;

/* Parses a boolean word. Returns 0 or -1. */
int sl_config_parse_bool(const char *s, int *out) SL_MUST_CHECK;

#endif /* SL_CONFIG_H */
