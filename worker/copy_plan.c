/*
 * copy_plan.c - the copy stage's pure logic (see copy_plan.h).
 */
#include "copy_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct dest_pair {
    const char *key;
    size_t idx;
} dest_pair;

static int cmp_pair(const void *a, const void *b)
{
    return strcmp(((const dest_pair *)a)->key, ((const dest_pair *)b)->key);
}

int sl_copy_destset_init(sl_copy_destset *s, const sl_keymap_entry *entries, size_t n, char *err,
                         size_t errlen)
{
    dest_pair *p;
    size_t k = 0;

    memset(s, 0, sizeof(*s));
    for (size_t i = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].dest)
            k++;
    if (k == 0)
        return 0;
    p = malloc(k * sizeof(*p));
    s->keys = malloc(k * sizeof(*s->keys));
    s->idx = malloc(k * sizeof(*s->idx));
    if (!p || !s->keys || !s->idx) {
        free(p);
        sl_copy_destset_cleanup(s);
        return sl_seterr(err, errlen, "copy plan: out of memory for %zu destinations", k);
    }
    for (size_t i = 0; i < n; i++)
        if (entries[i].kind == SL_KEY_PARQUET && entries[i].dest)
            p[s->n++] = (dest_pair){entries[i].dest, i};
    qsort(p, s->n, sizeof(*p), cmp_pair);
    for (size_t i = 0; i < s->n; i++) {
        s->keys[i] = p[i].key;
        s->idx[i] = p[i].idx;
    }
    free(p);
    return 0;
}

int sl_copy_destset_has(const sl_copy_destset *s, const char *key)
{
    size_t e;
    return sl_copy_destset_find(s, key, &e);
}

int sl_copy_destset_find(const sl_copy_destset *s, const char *key, size_t *entry)
{
    const char **hit;

    if (!s || !s->n || !key)
        return 0;
    hit = bsearch(&key, s->keys, s->n, sizeof(*s->keys), cmp_strp);
    if (!hit)
        return 0;
    *entry = s->idx[hit - s->keys];
    return 1;
}

void sl_copy_destset_cleanup(sl_copy_destset *s)
{
    if (!s)
        return;
    free(s->keys);
    free(s->idx);
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

int sl_copy_plan_in_failed_table(const sl_keymap_entry *e, const sl_msg_table_failure *failed,
                                 size_t nfailed)
{
    size_t dl;

    if (!e || !e->db || !e->table)
        return 0;
    dl = strlen(e->db);
    for (size_t i = 0; i < nfailed; i++) {
        const char *t = failed[i].table;
        if (t && strncmp(t, e->db, dl) == 0 && t[dl] == '/' && strcmp(t + dl + 1, e->table) == 0)
            return 1;
    }
    return 0;
}

double sl_copy_plan_rate(long long amount, long long elapsed_ms)
{
    if (elapsed_ms <= 0)
        return 0.0;
    return (double)amount * 1000.0 / (double)elapsed_ms;
}

sl_copy_skip sl_copy_plan_skip(long long src_size, const char *src_etag, long long dst_size,
                               const char *dst_etag, int multipart)
{
    if (src_size != dst_size || !src_etag || !dst_etag || !*src_etag || !*dst_etag)
        return SL_COPY_DO;
    if (multipart)
        return SL_COPY_CHECK;
    return strcmp(src_etag, dst_etag) == 0 ? SL_COPY_SKIP : SL_COPY_DO;
}

void sl_copy_plan_etag_bare(const char *etag, char *out, size_t outlen)
{
    size_t n;

    if (!outlen)
        return;
    etag = etag ? etag : "";
    n = strlen(etag);
    if (n >= 2 && etag[0] == '"' && etag[n - 1] == '"') {
        etag++;
        n -= 2;
    }
    snprintf(out, outlen, "%.*s", (int)n, etag);
}

int sl_copy_plan_marker_matches(const char *src_etag, const char *marker)
{
    char a[96], b[96];

    sl_copy_plan_etag_bare(src_etag, a, sizeof(a));
    sl_copy_plan_etag_bare(marker, b, sizeof(b));
    return a[0] && strcmp(a, b) == 0;
}

int sl_copy_plan_time_ms(const char *s, long long *ms)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0;
    long long frac = 0, scale = 1000, off = 0;
    const char *p;
    time_t t;

    if (!s || sscanf(s, "%4d-%2d-%2d%*1[Tt ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 ||
        n != 19)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
        return -1;
    p = s + n;
    if (*p == '.') {
        if (p[1] < '0' || p[1] > '9')
            return -1;
        for (p++; *p >= '0' && *p <= '9'; p++)
            if (scale > 1) {
                scale /= 10;
                frac += (*p - '0') * scale;
            }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && p[1] >= '0' && p[1] <= '9' && p[2] >= '0' &&
               p[2] <= '9' && p[3] == ':' && p[4] >= '0' && p[4] <= '9' && p[5] >= '0' &&
               p[5] <= '9') {
        off = ((p[1] - '0') * 10 + (p[2] - '0')) * 60 + (p[4] - '0') * 10 + (p[5] - '0');
        if (*p == '+')
            off = -off;
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    t = timegm(&tm);
    if (t == (time_t)-1)
        return -1;
    *ms = ((long long)t + off * 60) * 1000 + frac;
    return 0;
}

void sl_copy_plan_snap_time(const sl_msg *m, long long *ms)
{
    *ms = -1;
    if (sl_copy_plan_time_ms(m->snapshot_time, ms) == 0)
        return;
    if (sl_copy_plan_time_ms(m->export_started_at, ms) == 0)
        return;
    if (sl_copy_plan_time_ms(m->produced_at, ms) == 0)
        return;
    *ms = -1;
}

int sl_copy_plan_snap_cmp(const sl_copy_snap *a, const sl_copy_snap *b)
{
    if (a->time_ms != b->time_ms)
        return a->time_ms < b->time_ms ? -1 : 1;
    return strcmp(a->export_task_id ? a->export_task_id : "",
                  b->export_task_id ? b->export_task_id : "");
}

int sl_copy_plan_superseded(const sl_copy_snap *mine, const sl_copy_snap *holder)
{
    return holder && sl_copy_plan_snap_cmp(holder, mine) > 0;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence. */
static void utf8_cut(char *s, size_t max)
{
    size_t n = strlen(s);

    if (n <= max)
        return;
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    s[max] = '\0';
}

static void drop_tables(sl_msg *m, size_t keep)
{
    for (size_t i = keep; i < m->ntables; i++)
        free(m->tables[i]);
    if (keep < m->ntables)
        m->ntables = keep;
}

static void drop_failed(sl_msg *m, size_t keep)
{
    for (size_t i = keep; i < m->nfailed_tables; i++) {
        free(m->failed_tables[i].table);
        free(m->failed_tables[i].reason);
    }
    if (keep < m->nfailed_tables)
        m->nfailed_tables = keep;
}

int sl_copy_plan_bound_msg(sl_msg *m, size_t max_tables, size_t max_failed, size_t max_reason,
                           size_t limit, char *err, size_t errlen)
{
    char *text = NULL, e[SL_ERRLEN];
    size_t len = 0;

    if (m->tables_total < (long long)m->ntables)
        m->tables_total = (long long)m->ntables;
    if (m->failed_tables_total < (long long)m->nfailed_tables)
        m->failed_tables_total = (long long)m->nfailed_tables;
    drop_tables(m, max_tables);
    drop_failed(m, max_failed);
    for (size_t i = 0; i < m->nfailed_tables; i++)
        if (m->failed_tables[i].reason)
            utf8_cut(m->failed_tables[i].reason, max_reason);
    for (;;) {
        if (sl_msg_encode(m, &text, &len, e, sizeof(e)))
            return sl_seterr(err, errlen, "copied message does not encode: %s", e);
        free(text);
        text = NULL;
        if (len <= limit)
            return 0;
        if (m->ntables == 0 && m->nfailed_tables == 0)
            return sl_seterr(err, errlen,
                             "copied message needs %zu bytes even without its table lists "
                             "(limit %zu)",
                             len, limit);
        if (m->ntables >= m->nfailed_tables)
            drop_tables(m, m->ntables / 2);
        else
            drop_failed(m, m->nfailed_tables / 2);
    }
}

/* ---- arena and the tables list --------------------------------------------------------- */

#define ARENA_FIRST 512
#define ARENA_MAX (64 * 1024)

struct sl_copy_arena_blk {
    sl_copy_arena_blk *next;
    size_t used, cap;
    char data[];
};

void sl_copy_arena_init(sl_copy_arena *a)
{
    memset(a, 0, sizeof(*a));
}

const char *sl_copy_arena_put(sl_copy_arena *a, const char *a1, const char *a2)
{
    size_t l1 = strlen(a1), l2 = a2 ? strlen(a2) : 0, need = l1 + l2 + 1;
    sl_copy_arena_blk *b = a->head;
    char *p;

    if (!b || b->cap - b->used < need) {
        /* Each block twice the last (a small table stays small), up to ARENA_MAX. */
        size_t cap = b ? b->cap * 2 : ARENA_FIRST;
        if (cap > ARENA_MAX)
            cap = ARENA_MAX;
        if (cap < need)
            cap = need;
        if (!(b = malloc(sizeof(*b) + cap)))
            return NULL;
        b->next = a->head;
        b->used = 0;
        b->cap = cap;
        a->head = b;
        a->bytes += cap;
    }
    p = b->data + b->used;
    memcpy(p, a1, l1);
    if (l2)
        memcpy(p + l1, a2, l2);
    p[l1 + l2] = '\0';
    b->used += need;
    return p;
}

void sl_copy_arena_cleanup(sl_copy_arena *a)
{
    if (!a)
        return;
    while (a->head) {
        sl_copy_arena_blk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
    a->bytes = 0;
}

int sl_copy_plan_tables_add(char ***v, size_t *n, size_t *cap, size_t max, const char *name)
{
    size_t lo = 0, hi = *n;
    char *s;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp((*v)[mid], name);
        if (c == 0)
            return 0;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo >= max)
        return 0;
    if (*n == *cap && *n < max) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **g;
        if (nc > max)
            nc = max;
        if (!(g = realloc(*v, nc * sizeof(*g))))
            return -1;
        *v = g;
        *cap = nc;
    }
    if (!(s = strdup(name)))
        return -1;
    if (*n == max) {
        free((*v)[*n - 1]);
        (*n)--;
    }
    memmove(*v + lo + 1, *v + lo, (*n - lo) * sizeof(**v));
    (*v)[lo] = s;
    (*n)++;
    return 1;
}

void sl_copy_abortq_init(sl_copy_abortq *q, size_t max)
{
    memset(q, 0, sizeof(*q));
    q->max = max ? max : 1;
}

int sl_copy_abortq_push(sl_copy_abortq *q, const char *bucket, const char *key,
                        const char *upload_id)
{
    sl_copy_abort a;

    if (q->n >= q->max) {
        q->dropped++;
        return 1;
    }
    if (q->n == q->cap) {
        size_t nc = q->cap ? q->cap * 2 : 16;
        sl_copy_abort *g;
        if (nc > q->max)
            nc = q->max;
        g = realloc(q->v, nc * sizeof(*g));
        if (!g) {
            q->dropped++;
            return -1;
        }
        q->v = g;
        q->cap = nc;
    }
    a.bucket = strdup(bucket ? bucket : "");
    a.key = strdup(key ? key : "");
    a.upload_id = strdup(upload_id ? upload_id : "");
    if (!a.bucket || !a.key || !a.upload_id) {
        sl_copy_abort_cleanup(&a);
        q->dropped++;
        return -1;
    }
    q->v[q->n++] = a;
    return 0;
}

int sl_copy_abortq_pop(sl_copy_abortq *q, sl_copy_abort *out)
{
    if (q->n == 0)
        return -1;
    *out = q->v[0];
    memmove(q->v, q->v + 1, (q->n - 1) * sizeof(*q->v));
    q->n--;
    return 0;
}

void sl_copy_abort_cleanup(sl_copy_abort *a)
{
    if (!a)
        return;
    free(a->bucket);
    free(a->key);
    free(a->upload_id);
    memset(a, 0, sizeof(*a));
}

void sl_copy_abortq_cleanup(sl_copy_abortq *q)
{
    for (size_t i = 0; i < q->n; i++)
        sl_copy_abort_cleanup(&q->v[i]);
    free(q->v);
    memset(q, 0, sizeof(*q));
}
