/*
 * json.h - the small cJSON helpers more than one JSON reader in snaplake shares (events,
 * pipeline messages, export_tables_info, credential and AWS error bodies).
 *
 * Kept to what was written more than once: parsing a buffer that must hold exactly one JSON
 * value, refusing text whose strings would reach C cut short, and reading an optional string
 * member.
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
 * first. A string holding a NUL (sl_json_has_nul) is refused too: cJSON would hand it out cut
 * short at the NUL. Returns the value, owned by the caller (cJSON_Delete), or NULL when buf does
 * not hold exactly one such JSON value (or memory ran out); a caller that names the reason asks
 * sl_json_has_nul then. Callers cap len before calling.
 */
cJSON *sl_json_parse_exact(const char *buf, size_t len) SL_MUST_CHECK;

/*
 * Non-zero when len bytes of buf, JSON text cJSON has accepted, hold a NUL inside a string:
 * the escape \u0000 or a raw NUL byte. cJSON stores a string as a C string and writes that NUL
 * into it, so every reader of valuestring would take {"s3_bucket":"lake\u0000evil"} for bucket
 * "lake" without an error, so sl_json_parse_exact refuses such text (RFC 8259 section 9 lets a
 * parser limit the strings it accepts). On text cJSON refused the answer only names a likely
 * reason. buf need not be NUL-terminated.
 */
int sl_json_has_nul(const char *buf, size_t len);

/*
 * The string value of member `name` of obj (case-sensitive), or NULL when obj is not an
 * object, the member is absent, or it is not a string. Borrowed from obj.
 */
const char *sl_json_str(const cJSON *obj, const char *name);

#endif /* SL_JSON_H */
