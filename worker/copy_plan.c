/*
 * copy_plan.c - the copy stage's pure logic (see copy_plan.h).
 */
#include "copy_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sl_copy_destset_init(sl_copy_destset *s, const sl_keymap_entry *entries, size_t n, char *err,
                         size_t errlen)
{
    size_t k = 0;

    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].dest)
            k++;
    if (k == 0)
        return 0;
    s->keys = malloc(k * sizeof(*s->keys));
    if (!s->keys)
        return sl_seterr(err, errlen, "copy plan: out of memory for %zu destinations", k);
    for (size_t i = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].dest)
            s->keys[s->n++] = entries[i].dest;
    qsort(s->keys, s->n, sizeof(*s->keys), cmp_strp);
    return 0;
}

int sl_copy_destset_has(const sl_copy_destset *s, const char *key)
{
    if (!s || !s->n || !key)
        return 0;
    return bsearch(&key, s->keys, s->n, sizeof(*s->keys), cmp_strp) != NULL;
}

void sl_copy_destset_cleanup(sl_copy_destset *s)
{
    if (!s)
        return;
    free(s->keys);
    memset(s, 0, sizeof(*s));
}

int sl_copy_plan_stale(const sl_copy_destset *dests, const char *prefix, const char *const *listed,
                       size_t nlisted, const char ***out, size_t *nout, char *err, size_t errlen)
{
    size_t plen = prefix ? strlen(prefix) : 0, add = 0;
    const char **grown;

    /* An empty prefix would make every key of the bucket a candidate: refuse outright. */
    if (plen == 0)
        return 0;
    for (size_t i = 0; i < nlisted; i++)
        if (listed[i] && strncmp(listed[i], prefix, plen) == 0 && listed[i][plen] &&
            !sl_copy_destset_has(dests, listed[i]))
            add++;
    if (add == 0)
        return 0;
    grown = realloc((void *)*out, (*nout + add) * sizeof(*grown));
    if (!grown)
        return sl_seterr(err, errlen, "copy plan: out of memory for %zu stale keys", *nout + add);
    *out = grown;
    for (size_t i = 0; i < nlisted; i++)
        if (listed[i] && strncmp(listed[i], prefix, plen) == 0 && listed[i][plen] &&
            !sl_copy_destset_has(dests, listed[i]))
            grown[(*nout)++] = listed[i];
    return 0;
}

int sl_copy_plan_tables(const sl_keymap_entry *entries, size_t n, char ***out, size_t *nout,
                        char *err, size_t errlen)
{
    char **v = NULL;
    size_t k = 0, u = 0;
    int rc = -1;

    for (size_t i = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].db && entries[i].table)
            k++;
    if (k == 0) {
        *out = NULL;
        *nout = 0;
        return 0;
    }
    v = calloc(k, sizeof(*v));
    if (!v)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        const sl_keymap_entry *e = &entries[i];
        size_t len;
        if (e->kind != SL_KEY_PARQUET || !e->db || !e->table)
            continue;
        len = strlen(e->db) + strlen(e->table) + 2;
        v[u] = malloc(len);
        if (!v[u])
            goto fail;
        snprintf(v[u], len, "%s/%s", e->db, e->table);
        u++;
    }
    qsort(v, u, sizeof(*v), cmp_strp);
    /* Deduplicate in place. */
    k = 0;
    for (size_t i = 0; i < u; i++) {
        if (k && strcmp(v[k - 1], v[i]) == 0) {
            free(v[i]);
            v[i] = NULL;
            continue;
        }
        v[k++] = v[i];
    }
    *out = v;
    *nout = k;
    return 0;
fail:
    sl_keymap_strv_free(v, u);
    sl_seterr(err, errlen, "copy plan: out of memory listing tables");
    return rc;
}

char *sl_copy_plan_table_name(const char *target)
{
    char *s, *dot;

    if (!target)
        return NULL;
    s = strdup(target);
    if (!s)
        return NULL;
    dot = strchr(s, '.');
    if (dot)
        *dot = '/';
    return s;
}

double sl_copy_plan_rate(long long amount, long long elapsed_ms)
{
    if (elapsed_ms <= 0)
        return 0.0;
    return (double)amount * 1000.0 / (double)elapsed_ms;
}
