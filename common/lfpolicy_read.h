/*
 * lfpolicy_read.h - internal to lfpolicy*.c: reading a JSON document while collecting every
 * error, each prefixed by the JSON path of the value it is about ("$.tables[2].filter.name:
 * ..."). The reader keeps a path stack: push a member name or an index before reading a value,
 * pop back to the saved length after. Errors past SL_LFP_MAX_ERRORS are counted, not kept.
 */
#ifndef SL_LFPOLICY_READ_H
#define SL_LFPOLICY_READ_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "lf.h"
#include "lfpolicy.h"
#include "util.h"

typedef struct sl_lfp_ctx {
    char path[1024]; /* the JSON path of what is being read, "$.tables[2].filter" */
    size_t plen;
    sl_buf errs; /* the errors so far, newline-separated */
    size_t nerr;
    int oom;
} sl_lfp_ctx;

/* Records "<path>: <message>". */
void sl_lfp_err(sl_lfp_ctx *c, const char *fmt, ...) SL_PRINTF(2, 3);
/* Out of memory, recorded once as an error of the document. */
void sl_lfp_oom(sl_lfp_ctx *c);
/* Push ".key" (["key"] when not an identifier) or "[i]"; each returns the length to pop to. */
size_t sl_lfp_push_key(sl_lfp_ctx *c, const char *key);
size_t sl_lfp_push_index(sl_lfp_ctx *c, size_t i);
void sl_lfp_pop(sl_lfp_ctx *c, size_t old);
/* Reports members not in allowed (NULL-terminated; NULL: any name) and members given twice. */
void sl_lfp_members(sl_lfp_ctx *c, const cJSON *obj, const char *const *allowed);
/* o[k] (case-sensitive), or NULL. */
const cJSON *sl_lfp_member(const cJSON *o, const char *k);
/* A string member: NULL (and an error when required or mistyped) when absent or not a string. */
const char *sl_lfp_str(sl_lfp_ctx *c, const cJSON *o, const char *k, int required);
/* strdup that records OOM. */
char *sl_lfp_dup(sl_lfp_ctx *c, const char *s);
/*
 * An array of min..max strings at o[k] appended to *out, each checked by rule (NULL: any;
 * returns NULL or the rule broken); a string listed twice is an error. Returns the array item
 * (NULL when absent or not an array).
 */
const cJSON *sl_lfp_strv(sl_lfp_ctx *c, const cJSON *o, const char *k, size_t min, size_t max,
                         const char *(*rule)(const char *), sl_lf_strv *out);
/* A boolean member, def when absent (an error when mistyped). */
int sl_lfp_bool(sl_lfp_ctx *c, const cJSON *o, const char *k, int def);

#endif /* SL_LFPOLICY_READ_H */
