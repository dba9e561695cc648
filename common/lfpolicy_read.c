/* lfpolicy_read.c - see lfpolicy_read.h. */
#include "lfpolicy_read.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sl_lfp_err(sl_lfp_ctx *c, const char *fmt, ...)
{
    char msg[768];
    va_list ap;

    c->nerr++;
    if (c->nerr > SL_LFP_MAX_ERRORS)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (sl_buf_appendf(&c->errs, "%s%s: %s", c->errs.len ? "\n" : "", c->path, msg) != 0)
        c->oom = 1;
}

/* Out of memory is reported once, as an error of the document being read. */
void sl_lfp_oom(sl_lfp_ctx *c)
{
    if (!c->oom)
        sl_lfp_err(c, "out of memory");
    c->oom = 1;
}

static int is_ident(const char *k)
{
    if (!*k)
        return 0;
    for (const char *p = k; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || *p == '_' ||
              (p != k && *p >= '0' && *p <= '9')))
            return 0;
    return 1;
}

/* Pushes ".key" (or ["key"] when key is not an identifier); returns the length to pop to. */
size_t sl_lfp_push_key(sl_lfp_ctx *c, const char *key)
{
    size_t old = c->plen;
    int w = is_ident(key) ? snprintf(c->path + old, sizeof(c->path) - old, ".%s", key)
                          : snprintf(c->path + old, sizeof(c->path) - old, "[\"%.64s\"]", key);
    if (w > 0 && (size_t)w < sizeof(c->path) - old)
        c->plen += (size_t)w;
    c->path[c->plen] = '\0';
    return old;
}

size_t sl_lfp_push_index(sl_lfp_ctx *c, size_t i)
{
    size_t old = c->plen;
    int w = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
    if (w > 0 && (size_t)w < sizeof(c->path) - old)
        c->plen += (size_t)w;
    c->path[c->plen] = '\0';
    return old;
}

void sl_lfp_pop(sl_lfp_ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* Reports members not in `allowed` (NULL-terminated; NULL: any name) and members given twice
   (cJSON keeps both; the second would silently win or lose). */
void sl_lfp_members(sl_lfp_ctx *c, const cJSON *obj, const char *const *allowed)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        size_t old = sl_lfp_push_key(c, m->string ? m->string : "");
        int known = !allowed;
        for (size_t i = 0; allowed && allowed[i]; i++)
            known = known || strcmp(allowed[i], m->string) == 0;
        if (!known)
            sl_lfp_err(c, "unknown member");
        for (const cJSON *o = obj->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0) {
                sl_lfp_err(c, "member given twice");
                break;
            }
        sl_lfp_pop(c, old);
    }
}

const cJSON *sl_lfp_member(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A string member: NULL (and an error when required) when absent or not a string. */
const char *sl_lfp_str(sl_lfp_ctx *c, const cJSON *o, const char *k, int required)
{
    const cJSON *v = sl_lfp_member(o, k);
    size_t old;

    if (!v) {
        if (required) {
            old = sl_lfp_push_key(c, k);
            sl_lfp_err(c, "required");
            sl_lfp_pop(c, old);
        }
        return NULL;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        old = sl_lfp_push_key(c, k);
        sl_lfp_err(c, "must be a string");
        sl_lfp_pop(c, old);
        return NULL;
    }
    return v->valuestring;
}

char *sl_lfp_dup(sl_lfp_ctx *c, const char *s)
{
    char *d = strdup(s);
    if (!d)
        sl_lfp_oom(c);
    return d;
}

/*
 * Reads an array of strings at o[k] into *out (sorted and deduplicated when `sort`), each
 * checked by rule (NULL: any); duplicates are errors. Returns the array item or NULL.
 */
const cJSON *sl_lfp_strv(sl_lfp_ctx *c, const cJSON *o, const char *k, size_t min, size_t max,
                         const char *(*rule)(const char *), sl_lf_strv *out)
{
    const cJSON *a = sl_lfp_member(o, k);
    size_t old = sl_lfp_push_key(c, k), i = 0;
    const cJSON *e;

    if (!a)
        goto out;
    if (!cJSON_IsArray(a)) {
        sl_lfp_err(c, "must be an array of strings");
        a = NULL;
        goto out;
    }
    if ((size_t)cJSON_GetArraySize(a) < min || (size_t)cJSON_GetArraySize(a) > max) {
        sl_lfp_err(c, "must hold %zu to %zu items", min, max);
        if ((size_t)cJSON_GetArraySize(a) > max)
            goto out;
    }
    cJSON_ArrayForEach(e, a)
    {
        size_t o2 = sl_lfp_push_index(c, i++);
        const char *why;
        if (!cJSON_IsString(e) || !e->valuestring) {
            sl_lfp_err(c, "must be a string");
        } else if (rule && (why = rule(e->valuestring)) != NULL) {
            sl_lfp_err(c, "%s", why);
        } else if (sl_lf_strv_find(out, e->valuestring) >= 0) {
            sl_lfp_err(c, "\"%.64s\" is listed twice", e->valuestring);
        } else if (sl_lf_strv_push(out, e->valuestring) != 0) {
            sl_lfp_oom(c);
        }
        sl_lfp_pop(c, o2);
    }
out:
    sl_lfp_pop(c, old);
    return a;
}

int sl_lfp_bool(sl_lfp_ctx *c, const cJSON *o, const char *k, int def)
{
    const cJSON *v = sl_lfp_member(o, k);

    if (!v)
        return def;
    if (!cJSON_IsBool(v)) {
        size_t old = sl_lfp_push_key(c, k);
        sl_lfp_err(c, "must be true or false");
        sl_lfp_pop(c, old);
        return def;
    }
    return cJSON_IsTrue(v);
}
