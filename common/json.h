/*
 * json.h - the small cJSON helpers more than one JSON reader in snaplake shares (events,
 * pipeline messages, export_tables_info, credential and AWS error bodies).
 *
 * Kept to what was written more than once: parsing a buffer that must hold exactly one JSON
 * value, and reading an optional string member.
 */
#ifndef SL_JSON_H
#define SL_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "util.h"

/*
 * Parses len bytes of buf (need not be NUL-terminated) as exactly one JSON value: only JSON
 * whitespace (RFC 8259 section 2: space, tab, LF, CR) may follow it, so `{...} junk` or two
 * concatenated values are refused where plain cJSON_ParseWithLength would stop after the
 * first. Returns the value, owned by the caller (cJSON_Delete), or NULL when buf does not hold
 * exactly one JSON value (or memory ran out). Callers cap len before calling.
 */
cJSON *sl_json_parse_exact(const char *buf, size_t len) SL_MUST_CHECK;

/*
 * The string value of member `name` of obj (case-sensitive), or NULL when obj is not an
 * object, the member is absent, or it is not a string. Borrowed from obj.
 */
const char *sl_json_str(const cJSON *obj, const char *name);

#endif /* SL_JSON_H */
