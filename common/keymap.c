/* keymap.c - see keymap.h. */
#include "keymap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ids.h"
#include "json.h"

#define PARQUET_SUFFIX ".gz.parquet"
#define MAX_SEGS 4

void sl_keymap_entry_cleanup(sl_keymap_entry *e)
{
    if (!e)
        return;
    free(e->src);
    free(e->db);
    free(e->table);
    free(e->partition);
    free(e->file);
    free(e->dest_dir);
    free(e->dest);
    memset(e, 0, sizeof(*e));
}

void sl_keymap_strv_free(char **v, size_t n)
{
    size_t i;

    if (!v)
        return;
    for (i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static char *dupn(const char *s, size_t n)
{
    char *p = malloc(n + 1);

    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
    size_t m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static int starts_with(const char *s, size_t n, const char *prefix)
{
    size_t m = strlen(prefix);
    return n >= m && memcmp(s, prefix, m) == 0;
}

static int dot_seg(const char *s, size_t n)
{
    return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

static int reject(sl_keymap_entry *out, const char *why)
{
    memset(out, 0, sizeof(*out));
    out->kind = SL_KEY_REJECTED;
    snprintf(out->reason, sizeof(out->reason), "%s", why);
    return 0;
}

/* The lake prefix without leading/trailing slashes; -1 when it has empty or dot segments
 * inside (it comes from configuration, so that is a configuration error). */
static int lake_span(const char *lake, const char **start, size_t *len)
{
    const char *s = lake ? lake : "", *seg;
    size_t n, i, segstart;

    while (*s == '/')
        s++;
    n = strlen(s);
    while (n && s[n - 1] == '/')
        n--;
    for (i = 0, segstart = 0; i <= n; i++) {
        if (i == n || s[i] == '/') {
            seg = s + segstart;
            if (n && (i == segstart || dot_seg(seg, i - segstart)))
                return -1;
            segstart = i + 1;
        }
    }
    *start = s;
    *len = n;
    return 0;
}

int sl_keymap_map(const sl_keymap_ctx *ctx, const char *key, sl_keymap_entry *out, char *err,
                  size_t errlen)
{
    const char *rel, *lake, *seg[MAX_SEGS + 1];
    size_t seglen[MAX_SEGS + 1], keylen, rootlen, rellen, lakelen, nseg = 0, i, start;
    sl_keymap_entry e;
    const char *base;
    size_t baselen;
    sl_buf b;

    memset(out, 0, sizeof(*out));
    if (!ctx || !ctx->export_root || !key || !sl_ids_cluster_id_valid(ctx->cluster) ||
        !sl_ids_date_valid(ctx->date))
        return sl_seterr(err, errlen, "keymap: context needs export root, cluster and date");
    if (lake_span(ctx->lake_prefix, &lake, &lakelen))
        return sl_seterr(err, errlen, "keymap: lake prefix has empty or dot segments");
    keylen = strlen(key);
    if (keylen > SL_KEYMAP_KEY_MAX)
        return reject(out, "key longer than 1024 bytes");
    rootlen = strlen(ctx->export_root);
    while (rootlen && ctx->export_root[rootlen - 1] == '/')
        rootlen--;
    if (rootlen) {
        if (keylen <= rootlen || memcmp(key, ctx->export_root, rootlen) != 0 || key[rootlen] != '/')
            return reject(out, "outside the export prefix");
        rel = key + rootlen + 1;
    } else {
        rel = key;
    }
    rellen = strlen(rel);
    if (rellen == 0)
        return reject(out, "the export folder itself");
    /* Split on '/'; every segment must be a real name, or the destination would differ from
     * what a reader of the source expects (S3 itself does not normalise `..`). */
    for (i = 0, start = 0; i <= rellen; i++) {
        if (i < rellen && rel[i] != '/')
            continue;
        if (i == start)
            return reject(out, "empty path segment");
        if (dot_seg(rel + start, i - start))
            return reject(out, "`.` or `..` path segment");
        if (nseg == MAX_SEGS)
            return reject(out, "too deep for either naming convention");
        seg[nseg] = rel + start;
        seglen[nseg] = i - start;
        nseg++;
        start = i + 1;
    }
    base = seg[nseg - 1];
    baselen = seglen[nseg - 1];

    memset(&e, 0, sizeof(e));
    sl_buf_init(&b, 4 * SL_KEYMAP_KEY_MAX);
    if (ends_with(base, baselen, PARQUET_SUFFIX)) {
        if (nseg < 3)
            return reject(out, "data file too shallow (need <db>/<schema.table>/<file>)");
        if (nseg == 4) {
            for (i = 0; i < seglen[2]; i++)
                if (seg[2][i] < '0' || seg[2][i] > '9')
                    return reject(out, "partition folder is not a number");
            if (!(e.partition = dupn(seg[2], seglen[2])))
                goto nomem;
        }
        e.kind = SL_KEY_PARQUET;
        if (!(e.db = dupn(seg[0], seglen[0])) || !(e.table = dupn(seg[1], seglen[1])) ||
            !(e.file = dupn(base, baselen)))
            goto nomem;
        if ((lakelen && (sl_buf_append(&b, lake, lakelen) || sl_buf_append(&b, "/", 1))) ||
            sl_buf_appendf(&b, "%s/%s/%s/date=%s/", ctx->cluster, e.db, e.table, ctx->date))
            goto nomem;
        e.dest_dir = sl_buf_steal(&b);
        if (sl_buf_appendf(&b, "%s%s", e.dest_dir, e.file))
            goto nomem;
        e.dest = sl_buf_steal(&b);
    } else if (baselen == 8 && memcmp(base, "_SUCCESS", 8) == 0) {
        e.kind = SL_KEY_SUCCESS;
        if (nseg >= 2 && !(e.db = dupn(seg[0], seglen[0])))
            goto nomem;
        if (nseg >= 3 && !(e.table = dupn(seg[1], seglen[1])))
            goto nomem;
    } else if (nseg == 1 && starts_with(base, baselen, "export_info_") &&
               ends_with(base, baselen, ".json")) {
        e.kind = SL_KEY_EXPORT_INFO;
    } else if (nseg == 1 && starts_with(base, baselen, "export_tables_info_") &&
               ends_with(base, baselen, ".json")) {
        e.kind = SL_KEY_TABLES_INFO;
    } else {
        e.kind = SL_KEY_OTHER;
    }
    if (!(e.src = dupn(key, keylen)))
        goto nomem;
    *out = e;
    return 0;
nomem:
    sl_buf_cleanup(&b);
    sl_keymap_entry_cleanup(&e);
    return sl_seterr(err, errlen, "keymap: out of memory");
}

/* qsort over pointers to strings. */
static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct dest_ref {
    const char *dest;
    size_t idx;
} dest_ref;

static int cmp_ref(const void *a, const void *b)
{
    const dest_ref *x = a, *y = b;
    int c = strcmp(x->dest, y->dest);
    return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

int sl_keymap_plan_names(const sl_keymap_entry *entries, size_t n, char **newdest, size_t *renamed,
                         char *err, size_t errlen)
{
    dest_ref *refs = NULL;
    size_t i, j, k, np = 0, nren = 0;
    int rc = -1;

    for (i = 0; i < n; i++)
        newdest[i] = NULL;
    if (n == 0) {
        if (renamed)
            *renamed = 0;
        return 0;
    }
    refs = calloc(n, sizeof(*refs));
    if (!refs) {
        sl_seterr(err, errlen, "keymap plan: out of memory");
        goto out;
    }
    for (i = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].dest)
            refs[np++] = (dest_ref){entries[i].dest, i};
    qsort(refs, np, sizeof(*refs), cmp_ref);
    /* Rename every member of a shared destination that has a partition folder. Sorting makes
     * the groups; the new names depend only on each entry, so order does not matter. */
    for (i = 0; i < np; i = j) {
        for (j = i + 1; j < np && strcmp(refs[j].dest, refs[i].dest) == 0; j++)
            ;
        if (j - i < 2)
            continue;
        for (k = i; k < j; k++) {
            const sl_keymap_entry *e = &entries[refs[k].idx];
            size_t m;
            if (!e->partition)
                continue;
            m = strlen(e->dest_dir) + strlen(e->partition) + 1 + strlen(e->file) + 1;
            if (!(newdest[refs[k].idx] = malloc(m))) {
                sl_seterr(err, errlen, "keymap plan: out of memory");
                goto out;
            }
            snprintf(newdest[refs[k].idx], m, "%s%s-%s", e->dest_dir, e->partition, e->file);
            nren++;
        }
    }
    /* Check the final set: anything still shared would overwrite data. */
    for (i = 0; i < np; i++)
        refs[i].dest = newdest[refs[i].idx] ? newdest[refs[i].idx] : entries[refs[i].idx].dest;
    qsort(refs, np, sizeof(*refs), cmp_ref);
    for (i = 1; i < np; i++) {
        if (strcmp(refs[i].dest, refs[i - 1].dest) == 0) {
            sl_seterr(err, errlen,
                      "keymap plan: %s and %s both map to %.300s; refusing to overwrite",
                      entries[refs[i - 1].idx].src ? entries[refs[i - 1].idx].src : "?",
                      entries[refs[i].idx].src ? entries[refs[i].idx].src : "?", refs[i].dest);
            goto out;
        }
    }
    if (renamed)
        *renamed = nren;
    rc = 0;
out:
    if (rc)
        for (i = 0; i < n; i++) {
            free(newdest[i]);
            newdest[i] = NULL;
        }
    free(refs);
    return rc;
}

int sl_keymap_plan(sl_keymap_entry *entries, size_t n, size_t *renamed, char *err, size_t errlen)
{
    char **nd;

    if (n == 0)
        return sl_keymap_plan_names(entries, 0, NULL, renamed, err, errlen);
    if (!(nd = calloc(n, sizeof(*nd))))
        return sl_seterr(err, errlen, "keymap plan: out of memory");
    if (sl_keymap_plan_names(entries, n, nd, renamed, err, errlen)) {
        free(nd);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (nd[i]) {
            free(entries[i].dest);
            entries[i].dest = nd[i];
        }
    }
    free(nd);
    return 0;
}

int sl_keymap_date_prefixes(const sl_keymap_entry *entries, size_t n, char ***out, size_t *nout,
                            char *err, size_t errlen)
{
    const char **tmp = NULL;
    char **res = NULL;
    size_t i, m = 0, u = 0;
    int rc = -1;

    *out = NULL;
    *nout = 0;
    for (i = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].dest_dir)
            m++;
    if (m == 0)
        return 0;
    tmp = malloc(m * sizeof(*tmp));
    res = calloc(m, sizeof(*res));
    if (!tmp || !res)
        goto nomem;
    for (i = 0, m = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].dest_dir)
            tmp[m++] = entries[i].dest_dir;
    qsort(tmp, m, sizeof(*tmp), cmp_strp);
    for (i = 0; i < m; i++) {
        if (u && strcmp(res[u - 1], tmp[i]) == 0)
            continue;
        if (!(res[u] = strdup(tmp[i])))
            goto nomem;
        u++;
    }
    *out = res;
    *nout = u;
    res = NULL;
    rc = 0;
    goto out;
nomem:
    sl_seterr(err, errlen, "keymap date prefixes: out of memory");
out:
    sl_keymap_strv_free(res, u);
    free(tmp);
    return rc;
}

void sl_keymap_tables_info_cleanup(sl_tables_info *ti)
{
    size_t i;

    if (!ti)
        return;
    for (i = 0; i < ti->nfailed; i++) {
        free(ti->failed[i].table);
        free(ti->failed[i].status);
        free(ti->failed[i].reason);
    }
    free(ti->failed);
    sl_keymap_strv_free(ti->warnings, ti->nwarnings);
    memset(ti, 0, sizeof(*ti));
}

int sl_keymap_parse_tables_info(const char *buf, size_t len, sl_tables_info *out, char *err,
                                size_t errlen)
{
    cJSON *root = NULL;
    const cJSON *arr, *it;
    sl_tables_info ti;
    size_t cap, idx = 0;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    memset(&ti, 0, sizeof(ti));
    if (!buf || len == 0)
        return sl_seterr(err, errlen, "export_tables_info: empty");
    if (len > SL_KEYMAP_TABLES_INFO_MAX)
        return sl_seterr(err, errlen, "export_tables_info: %zu bytes exceeds the cap", len);
    if (!(root = sl_json_parse_exact(buf, len)))
        return sl_seterr(err, errlen, "export_tables_info: not valid JSON");
    arr = cJSON_GetObjectItemCaseSensitive(root, "perTableStatus");
    if (!cJSON_IsObject(root) || !cJSON_IsArray(arr)) {
        sl_seterr(err, errlen, "export_tables_info: no perTableStatus array");
        goto out;
    }
    cap = (size_t)cJSON_GetArraySize(arr);
    if (cap) {
        ti.failed = calloc(cap, sizeof(*ti.failed));
        ti.warnings = calloc(cap, sizeof(*ti.warnings));
        if (!ti.failed || !ti.warnings)
            goto nomem;
    }
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *st;
        const char *target, *status, *why;
        char note[64];
        sl_table_status *f;

        if (!cJSON_IsObject(it)) {
            sl_seterr(err, errlen, "export_tables_info: perTableStatus[%zu] is not an object", idx);
            goto out;
        }
        idx++;
        target = sl_json_str(it, "target");
        st = cJSON_GetObjectItemCaseSensitive(it, "status");
        why = sl_json_str(it, "warningMessage");
        if (!why)
            why = sl_json_str(it, "failureCause");
        if (!why)
            why = sl_json_str(it, "errorMessage");
        if (!st && why) {
            /* A note on the database rather than a table (e.g. tables skipped for missing
             * permissions, PERMISSIONS_DO_NOT_EXIST). */
            sl_buf b;
            sl_buf_init(&b, 0);
            if (sl_buf_appendf(&b, "%s: %s", target ? target : "(unknown)", why)) {
                sl_buf_cleanup(&b);
                goto nomem;
            }
            ti.warnings[ti.nwarnings++] = sl_buf_steal(&b);
            continue;
        }
        ti.ntables++;
        status = cJSON_IsString(st) ? st->valuestring : NULL;
        if (status && strcmp(status, "COMPLETE") == 0) {
            ti.ncomplete++;
            continue;
        }
        f = &ti.failed[ti.nfailed++];
        if (!why) {
            snprintf(note, sizeof(note), "%s",
                     !st      ? "entry has no status"
                     : status ? "table export did not complete"
                              : "status is not a string");
            why = note;
        }
        f->table = strdup(target ? target : "(unknown)");
        f->status = strdup(status ? status : st ? "(invalid)" : "(missing)");
        f->reason = strdup(why);
        if (!f->table || !f->status || !f->reason)
            goto nomem;
    }
    *out = ti;
    memset(&ti, 0, sizeof(ti));
    rc = 0;
    goto out;
nomem:
    sl_seterr(err, errlen, "export_tables_info: out of memory");
out:
    sl_keymap_tables_info_cleanup(&ti);
    cJSON_Delete(root);
    return rc;
}
