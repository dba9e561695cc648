/*
 * log.h - structured logging: one JSON object per line on stdout.
 *
 * Every line has "time" (RFC 3339 UTC with milliseconds), "level", "component" and "msg", then
 * the context fields that are set (run_id, cluster, stage) and any extra key/value fields.
 * The level threshold comes from LOG_LEVEL (debug|info|warn|error, default info).
 *
 * The logger is the one piece of process-wide state besides the stop flag: component and
 * threshold are set once by main() through sl_log_init() before anything else runs.
 *
 * Secrets never go through here: callers pass ids, names and AWS error text, never keys,
 * tokens, signatures or strings-to-sign.
 */
#ifndef SL_LOG_H
#define SL_LOG_H

#include "util.h"

typedef enum sl_log_level {
    SL_LOG_DEBUG = 0,
    SL_LOG_INFO = 1,
    SL_LOG_WARN = 2,
    SL_LOG_ERROR = 3
} sl_log_level;

/* Context carried by a unit of work; any member may be NULL. Borrowed, never freed here. */
typedef struct sl_log_ctx {
    const char *run_id;
    const char *cluster;
    const char *stage;
} sl_log_ctx;

/* Sets the component name (copied) and threshold. Safe to call again. */
void sl_log_init(const char *component, sl_log_level level);

/* Parses "debug|info|warn|warning|error" (case-insensitive). Returns 0 or -1. */
int sl_log_level_parse(const char *s, sl_log_level *out) SL_MUST_CHECK;

/* Non-zero when a line at `level` would be written. */
int sl_log_enabled(sl_log_level level);

/*
 * Writes one line. `kv` is NULL or a NULL-terminated list of key, value strings
 * ("export_task", id, "bytes", "123", NULL); NULL values are skipped. The line is built with
 * cJSON so every string is escaped, and written with a single fwrite + fflush.
 */
void sl_log_kv(sl_log_level level, const sl_log_ctx *ctx, const char *const *kv, const char *fmt,
               ...) SL_PRINTF(4, 5);

#define sl_debug(ctx, ...) sl_log_kv(SL_LOG_DEBUG, (ctx), NULL, __VA_ARGS__)
#define sl_info(ctx, ...) sl_log_kv(SL_LOG_INFO, (ctx), NULL, __VA_ARGS__)
#define sl_warn(ctx, ...) sl_log_kv(SL_LOG_WARN, (ctx), NULL, __VA_ARGS__)
#define sl_error(ctx, ...) sl_log_kv(SL_LOG_ERROR, (ctx), NULL, __VA_ARGS__)

#endif /* SL_LOG_H */
