/* json.c - see json.h. */
#include "json.h"

/* RFC 8259 section 2: ws = *( %x20 / %x09 / %x0A / %x0D ). */
static int json_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

cJSON *sl_json_parse_exact(const char *buf, size_t len)
{
    const char *end = NULL;
    cJSON *r = cJSON_ParseWithLengthOpts(buf, len, &end, 0);

    if (!r)
        return NULL;
    while (end && end < buf + len && json_ws(*end))
        end++;
    if (end != buf + len) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

const char *sl_json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}
