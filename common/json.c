/* json.c - see json.h. */
#include "json.h"

#include <string.h>

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
    if (end != buf + len || sl_json_has_nul(buf, len)) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

/* Valid JSON has a backslash only inside a string, where it starts an escape of two
   characters (six for \uXXXX), so stepping over each escape keeps an escaped backslash
   followed by "u0000" (the text \u0000) apart from the escape itself. This is no parser: the
   text has already passed cJSON's. */
int sl_json_has_nul(const char *buf, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (buf[i] == '\0')
            return 1;
        if (buf[i] != '\\' || i + 1 >= len)
            continue;
        if (buf[i + 1] == 'u' && len - i >= 6 && memcmp(buf + i + 2, "0000", 4) == 0)
            return 1;
        i++;
    }
    return 0;
}

const char *sl_json_str(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);

    return cJSON_IsString(v) ? v->valuestring : NULL;
}
