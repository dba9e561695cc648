/* share_plan.c - see share.h: the plan (desired minus live), its text and its requests. */
#include "share.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- plan building ---------------------------------------------------------------------------- */

/* Steps are collected per phase and concatenated in phase order at the end. */
enum {
    PH_TAG_DEFS,
    PH_REVOKE,
    PH_DELETE_FILTER,
    PH_DB_TAGS,
    PH_TABLE_TAGS,
    PH_FILTERS,
    PH_GRANT,
    NPHASES
};

typedef struct builder {
    sl_share_plan ph[NPHASES];
    sl_share_plan drift; /* only drift used */
    sl_lf_grant *grants, *revokes;
    size_t ngrants, nrevokes;
} builder;

static void step_cleanup(sl_share_step *s)
{
    free(s->tag_key);
    sl_lf_strv_cleanup(&s->values);
    sl_lf_resource_cleanup(&s->res);
    sl_lf_tags_free(s->pairs, s->npairs);
    sl_lf_filter_cleanup(&s->filter);
    sl_lf_grants_free(s->entries, s->nentries);
    memset(s, 0, sizeof(*s));
}

void sl_share_plan_cleanup(sl_share_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nsteps; i++)
        step_cleanup(&p->steps[i]);
    free(p->steps);
    for (size_t i = 0; i < p->ndrift; i++)
        free(p->drift[i].what);
    free(p->drift);
    memset(p, 0, sizeof(*p));
}

/* Moves *s into phase ph (s is zeroed). On OOM s is cleaned up. */
static int push_step(builder *b, int ph, sl_share_step *s)
{
    sl_share_plan *p = &b->ph[ph];
    sl_share_step *ns = realloc(p->steps, (p->nsteps + 1) * sizeof(*ns));

    if (!ns) {
        step_cleanup(s);
        return -1;
    }
    ns[p->nsteps++] = *s;
    p->steps = ns;
    memset(s, 0, sizeof(*s));
    return 0;
}

static int push_drift(builder *b, int removed, const char *fmt, ...) SL_PRINTF(3, 4);
static int push_drift(builder *b, int removed, const char *fmt, ...)
{
    char line[2048];
    va_list ap;
    sl_share_drift *nd;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    nd = realloc(b->drift.drift, (b->drift.ndrift + 1) * sizeof(*nd));
    if (!nd)
        return -1;
    b->drift.drift = nd;
    nd[b->drift.ndrift].what = strdup(line);
    nd[b->drift.ndrift].removed = removed;
    if (!nd[b->drift.ndrift].what)
        return -1;
    b->drift.ndrift++;
    return 0;
}

/* LF-Tag definitions: create what is missing, add missing values, 50 per call. */
static int plan_tag_defs(builder *b, const sl_share_desired *d, const sl_lflive *live)
{
    for (size_t i = 0; i < d->ntag_defs; i++) {
        const sl_lf_tag *want = &d->tag_defs[i];
        const sl_lf_tag *have = sl_lf_tags_find(live->tag_defs, live->ntag_defs, want->key);
        sl_lf_strv add = {0};
        int first = !have;
        for (size_t j = 0; j < want->values.n; j++)
            if ((!have || sl_lf_strv_find(&have->values, want->values.v[j]) < 0) &&
                sl_lf_strv_push(&add, want->values.v[j]) != 0)
                goto oom_add;
        for (size_t off = 0; off < add.n; off += SL_LF_VALUES_PER_CALL) {
            sl_share_step s;
            memset(&s, 0, sizeof(s));
            s.op = first ? SL_SHARE_CREATE_LF_TAG : SL_SHARE_UPDATE_LF_TAG;
            first = 0;
            if (!(s.tag_key = strdup(want->key)))
                goto oom_add;
            for (size_t j = off; j < add.n && j < off + SL_LF_VALUES_PER_CALL; j++)
                if (sl_lf_strv_push(&s.values, add.v[j]) != 0) {
                    step_cleanup(&s);
                    goto oom_add;
                }
            if (push_step(b, PH_TAG_DEFS, &s) != 0)
                goto oom_add;
        }
        sl_lf_strv_cleanup(&add);
        /* Values are never removed: another team's resources may carry them. */
        for (size_t j = 0; have && j < have->values.n; j++)
            if (sl_lf_strv_find(&want->values, have->values.v[j]) < 0 &&
                push_drift(b, 0,
                           "LF-Tag %s has value %s that the policy does not list (values "
                           "are never removed)",
                           want->key, have->values.v[j]) != 0)
                return -1;
        continue;
    oom_add:
        sl_lf_strv_cleanup(&add);
        return -1;
    }
    return 0;
}

static int owned_grant(const sl_share_desired *d, const sl_lf_strv *owned, const sl_lf_grant *g,
                       int *oom);

/*
 * Whether a live grant concerns what this plan manages: its database's resources, and LF-Tag
 * policies on the policy's tag keys or made by snaplake (owned). The latter matters when the
 * policy drops a tag key with its grant: the grant snaplake made on share=yes would otherwise
 * be neither revoked (even with prune) nor shown as drift, and the tables still tagged
 * share=yes would stay shared.
 */
static int relevant(const sl_share_desired *d, const sl_lf_strv *owned, const sl_lf_grant *g,
                    int *oom)
{
    switch (g->res.kind) {
    case SL_LF_RES_TAG_POLICY:
        if (g->res.nexpr == 0)
            return 0;
        for (size_t i = 0; i < g->res.nexpr; i++)
            if (!sl_lf_tags_find(d->tag_defs, d->ntag_defs, g->res.expr[i].key))
                return owned_grant(d, owned, g, oom);
        return 1;
    case SL_LF_RES_FILTER:
    case SL_LF_RES_TABLE:
    case SL_LF_RES_DATABASE:
        return g->res.database && strcmp(g->res.database, d->database) == 0;
    case SL_LF_RES_OTHER:
        break;
    }
    return 0;
}

static int prefixed(const sl_share_desired *d, const char *name)
{
    return name && strncmp(name, d->filter_prefix, strlen(d->filter_prefix)) == 0;
}

static int owned_grant(const sl_share_desired *d, const sl_lf_strv *owned, const sl_lf_grant *g,
                       int *oom)
{
    char *key;
    int hit;

    if (g->res.kind == SL_LF_RES_FILTER && prefixed(d, g->res.name))
        return 1;
    if (!owned || owned->n == 0)
        return 0;
    key = sl_lf_grant_key(g->principal, &g->res);
    if (!key) {
        *oom = 1;
        return 0;
    }
    hit = sl_lf_strv_find(owned, key) >= 0;
    free(key);
    return hit;
}

static int same_grant(const sl_lf_grant *a, const sl_lf_grant *b)
{
    return strcmp(a->principal, b->principal) == 0 && sl_lf_resource_equal(&a->res, &b->res);
}

static int add_entry(sl_lf_grant **arr, size_t *n, const sl_lf_grant *g, unsigned perms,
                     unsigned grantable)
{
    sl_lf_grant *na = realloc(*arr, (*n + 1) * sizeof(*na));

    if (!na)
        return -1;
    *arr = na;
    if (sl_lf_grant_copy(&na[*n], g) != 0)
        return -1;
    na[*n].perms = perms;
    na[*n].grantable = grantable;
    (*n)++;
    return 0;
}

static int plan_grants(builder *b, const sl_share_desired *d, const sl_lflive *live,
                       const sl_lf_strv *owned)
{
    char perms[256], res[1024];
    int oom = 0;

    for (size_t i = 0; i < d->ngrants; i++) {
        const sl_lf_grant *w = &d->grants[i];
        unsigned have = 0, haveg = 0, miss, missg;
        /* ListPermissions may split one principal's permissions on a resource in entries. */
        for (size_t j = 0; j < live->ngrants; j++)
            if (same_grant(w, &live->grants[j])) {
                have |= live->grants[j].perms;
                haveg |= live->grants[j].grantable;
            }
        miss = w->perms & ~have;
        missg = w->grantable & ~haveg;
        if ((miss | missg) && add_entry(&b->grants, &b->ngrants, w, miss | missg, missg) != 0)
            return -1;
    }
    for (size_t j = 0; j < live->ngrants; j++) {
        const sl_lf_grant *g = &live->grants[j];
        unsigned have = 0, haveg = 0, want = 0, wantg = 0, extra, extrag;
        int dup = 0, removable;
        if (!relevant(d, owned, g, &oom)) {
            if (oom)
                return -1;
            continue;
        }
        for (size_t k = 0; k < j && !dup; k++)
            dup = same_grant(g, &live->grants[k]) && relevant(d, owned, &live->grants[k], &oom);
        if (oom)
            return -1;
        if (dup)
            continue;
        for (size_t k = j; k < live->ngrants; k++)
            if (same_grant(g, &live->grants[k])) {
                have |= live->grants[k].perms;
                haveg |= live->grants[k].grantable;
            }
        for (size_t i = 0; i < d->ngrants; i++)
            if (same_grant(g, &d->grants[i])) {
                want |= d->grants[i].perms;
                wantg |= d->grants[i].grantable;
            }
        extra = have & ~want;
        extrag = haveg & ~wantg;
        if (!(extra | extrag))
            continue;
        removable = d->prune && owned_grant(d, owned, g, &oom);
        if (oom)
            return -1;
        sl_lf_perms_format(extra | extrag, perms, sizeof(perms));
        sl_lf_resource_describe(&g->res, res, sizeof(res));
        if (push_drift(b, removable, "grant %s %s%s on %s that the policy does not name%s",
                       g->principal, perms, extrag && !extra ? " (grant option)" : "", res,
                       removable  ? ""
                       : d->prune ? " (not made by snaplake: left alone)"
                                  : " (prune is off)") != 0)
            return -1;
        /* Revoking a permission takes its grant option with it. */
        if (removable && add_entry(&b->revokes, &b->nrevokes, g, extra, extrag | (extra & haveg)))
            return -1;
    }
    return 0;
}

static int plan_filters(builder *b, const sl_share_desired *d, const sl_lflive *live)
{
    for (size_t i = 0; i < d->nfilters; i++) {
        const sl_lf_filter *w = &d->filters[i];
        const sl_lf_filter *have = NULL;
        sl_share_step s;
        for (size_t j = 0; j < live->nfilters && !have; j++)
            if (sl_lf_filter_same(w, &live->filters[j]))
                have = &live->filters[j];
        if (have && sl_lf_filter_equal(w, have))
            continue;
        memset(&s, 0, sizeof(s));
        s.op = have ? SL_SHARE_UPDATE_FILTER : SL_SHARE_CREATE_FILTER;
        if (sl_lf_filter_copy(&s.filter, w) != 0)
            return -1;
        if (have && have->version_id && !(s.filter.version_id = strdup(have->version_id))) {
            step_cleanup(&s);
            return -1;
        }
        if (push_step(b, PH_FILTERS, &s) != 0)
            return -1;
    }
    for (size_t j = 0; j < live->nfilters; j++) {
        const sl_lf_filter *f = &live->filters[j];
        int wanted = 0, removable;
        if (!f->database || strcmp(f->database, d->database) != 0)
            continue;
        for (size_t i = 0; i < d->nfilters && !wanted; i++)
            wanted = sl_lf_filter_same(&d->filters[i], f);
        if (wanted)
            continue;
        removable = d->prune && prefixed(d, f->name);
        if (push_drift(b, removable, "data cells filter %s.%s/%s that the policy does not name%s",
                       f->database, f->table, f->name,
                       removable               ? ""
                       : !prefixed(d, f->name) ? " (not made by snaplake: left alone)"
                                               : " (prune is off)") != 0)
            return -1;
        if (removable) {
            sl_share_step s;
            memset(&s, 0, sizeof(s));
            s.op = SL_SHARE_DELETE_FILTER;
            if (sl_lf_filter_copy(&s.filter, f) != 0 || push_step(b, PH_DELETE_FILTER, &s) != 0)
                return -1;
        }
    }
    return 0;
}

static const char *value_of(const sl_lf_tag *tags, size_t n, const char *key)
{
    const sl_lf_tag *t = sl_lf_tags_find(tags, n, key);
    return t && t->values.n ? t->values.v[0] : NULL;
}

/* One AddLFTagsToResource step for the pairs of want whose value differs from have(key). */
static int plan_resource_tags(builder *b, const sl_share_desired *d, int ph, const char *table,
                              const sl_lf_tag *want, size_t nwant, const sl_lflive *live,
                              const sl_lflive_table *lt)
{
    sl_share_step s;

    memset(&s, 0, sizeof(s));
    s.op = SL_SHARE_ADD_LF_TAGS;
    for (size_t i = 0; i < nwant; i++) {
        const char *v = want[i].values.v[0], *cur;
        if (table) {
            /* Assigned on the table, else inherited from the database after this plan's
               database step (the desired value), else the database's live value. */
            cur = lt ? value_of(lt->tags, lt->ntags, want[i].key) : NULL;
            if (!cur)
                cur = value_of(d->db_tags, d->ndb_tags, want[i].key);
            if (!cur)
                cur = value_of(live->db_tags, live->ndb_tags, want[i].key);
        } else {
            cur = value_of(live->db_tags, live->ndb_tags, want[i].key);
        }
        if (cur && strcmp(cur, v) == 0)
            continue;
        if (sl_lf_tags_add(&s.pairs, &s.npairs, want[i].key, &v, 1) != 0)
            goto oom;
    }
    if (s.npairs == 0)
        return 0;
    s.res.kind = table ? SL_LF_RES_TABLE : SL_LF_RES_DATABASE;
    if (!(s.res.catalog_id = strdup(d->catalog_id)) || !(s.res.database = strdup(d->database)) ||
        (table && !(s.res.table = strdup(table))))
        goto oom;
    return push_step(b, ph, &s);
oom:
    step_cleanup(&s);
    return -1;
}

/*
 * One RemoveLFTagsFromResource step for the keys table t carries (assigned on the table itself)
 * that the policy declares and t's desired tags do not list: a table withdrawn by the drift
 * guard, or whose rule went from tags to filter or private, would otherwise keep the rule's
 * old value (share=yes) and a tag grant on it would go on sharing the table. Only the
 * policy's own keys: another team's tags on the table are drift, never removed.
 */
static int plan_table_untag(builder *b, const sl_share_desired *d, const sl_share_table *t,
                            const sl_lflive_table *lt)
{
    sl_share_step s;

    memset(&s, 0, sizeof(s));
    s.op = SL_SHARE_REMOVE_LF_TAGS;
    for (size_t k = 0; lt && k < lt->ntags; k++) {
        const sl_lf_tag *have = &lt->tags[k];
        if (!have->values.n || sl_lf_tags_find(t->tags, t->ntags, have->key) ||
            !sl_lf_tags_find(d->tag_defs, d->ntag_defs, have->key))
            continue;
        if (sl_lf_tags_add(&s.pairs, &s.npairs, have->key, (const char *const *)have->values.v,
                           1) != 0)
            goto oom;
    }
    if (s.npairs == 0)
        return 0;
    s.res.kind = SL_LF_RES_TABLE;
    if (!(s.res.catalog_id = strdup(d->catalog_id)) || !(s.res.database = strdup(d->database)) ||
        !(s.res.table = strdup(t->name)))
        goto oom;
    return push_step(b, PH_TABLE_TAGS, &s);
oom:
    step_cleanup(&s);
    return -1;
}

static int plan_tags(builder *b, const sl_share_desired *d, const sl_lflive *live)
{
    if (plan_resource_tags(b, d, PH_DB_TAGS, NULL, d->db_tags, d->ndb_tags, live, NULL) != 0)
        return -1;
    for (size_t i = 0; i < live->ndb_tags; i++)
        if (!sl_lf_tags_find(d->db_tags, d->ndb_tags, live->db_tags[i].key) &&
            push_drift(b, 0, "Database %s carries LF-Tag %s=%s that the policy does not name",
                       d->database, live->db_tags[i].key,
                       live->db_tags[i].values.n ? live->db_tags[i].values.v[0] : "") != 0)
            return -1;
    for (size_t i = 0; i < d->ntables; i++) {
        const sl_share_table *t = &d->tables[i];
        const sl_lflive_table *lt = sl_lflive_table_find(live, t->name);
        /* A key the policy declares is the plan's to remove (plan_table_untag), not drift. */
        for (size_t k = 0; lt && k < lt->ntags; k++)
            if (!sl_lf_tags_find(t->tags, t->ntags, lt->tags[k].key) &&
                !sl_lf_tags_find(d->tag_defs, d->ntag_defs, lt->tags[k].key) &&
                push_drift(b, 0, "Table %s.%s carries LF-Tag %s=%s that the policy does not name",
                           d->database, t->name, lt->tags[k].key,
                           lt->tags[k].values.n ? lt->tags[k].values.v[0] : "") != 0)
                return -1;
        if (t->held && push_drift(b, d->prune && t->cls == SL_SHARE_TAGGED, "%s%s", t->cause,
                                  d->prune || t->cls != SL_SHARE_TAGGED
                                      ? ""
                                      : " (left as it is: prune is off)") != 0)
            return -1;
        if (t->held && !d->prune)
            continue;
        if (plan_resource_tags(b, d, PH_TABLE_TAGS, t->name, t->tags, t->ntags, live, lt) != 0 ||
            plan_table_untag(b, d, t, lt) != 0)
            return -1;
    }
    return 0;
}

/* Turns an entry list into steps of at most SL_LF_BATCH_MAX entries (the list is consumed). */
static int batch(builder *b, int ph, sl_share_op op, sl_lf_grant **arr, size_t *n)
{
    size_t off = 0;
    int rc = 0;

    for (off = 0; off < *n && rc == 0; off += SL_LF_BATCH_MAX) {
        size_t k = *n - off < SL_LF_BATCH_MAX ? *n - off : SL_LF_BATCH_MAX;
        sl_share_step s;
        memset(&s, 0, sizeof(s));
        s.op = op;
        s.entries = calloc(k, sizeof(*s.entries));
        if (!s.entries) {
            rc = -1;
            break;
        }
        memcpy(s.entries, *arr + off, k * sizeof(*s.entries));
        memset(*arr + off, 0, k * sizeof(**arr)); /* moved */
        s.nentries = k;
        rc = push_step(b, ph, &s);
    }
    sl_lf_grants_free(*arr, *n);
    *arr = NULL;
    *n = 0;
    return rc;
}

int sl_share_plan_make(const sl_share_desired *d, const sl_lflive *live, const sl_lf_strv *owned,
                       sl_share_plan *out, char *err, size_t errlen)
{
    builder b;
    sl_share_plan p;
    size_t total = 0;

    memset(&b, 0, sizeof(b));
    memset(&p, 0, sizeof(p));
    if (plan_tag_defs(&b, d, live) != 0 || plan_grants(&b, d, live, owned) != 0 ||
        plan_filters(&b, d, live) != 0 || plan_tags(&b, d, live) != 0 ||
        batch(&b, PH_REVOKE, SL_SHARE_REVOKE, &b.revokes, &b.nrevokes) != 0 ||
        batch(&b, PH_GRANT, SL_SHARE_GRANT, &b.grants, &b.ngrants) != 0)
        goto oom;
    for (int i = 0; i < NPHASES; i++)
        total += b.ph[i].nsteps;
    p.steps = calloc(total + 1, sizeof(*p.steps));
    if (!p.steps)
        goto oom;
    for (int i = 0; i < NPHASES; i++) {
        if (b.ph[i].nsteps)
            memcpy(p.steps + p.nsteps, b.ph[i].steps, b.ph[i].nsteps * sizeof(*p.steps));
        p.nsteps += b.ph[i].nsteps;
        free(b.ph[i].steps);
        b.ph[i].steps = NULL;
        b.ph[i].nsteps = 0;
    }
    p.drift = b.drift.drift;
    p.ndrift = b.drift.ndrift;
    *out = p;
    return 0;
oom:
    for (int i = 0; i < NPHASES; i++)
        sl_share_plan_cleanup(&b.ph[i]);
    sl_share_plan_cleanup(&b.drift);
    sl_lf_grants_free(b.grants, b.ngrants);
    sl_lf_grants_free(b.revokes, b.nrevokes);
    free(p.steps);
    return sl_seterr(err, errlen, "share plan: out of memory");
}

/* --- text ------------------------------------------------------------------------------------- */

sl_share_counts sl_share_plan_counts(const sl_share_plan *p)
{
    sl_share_counts c = {0, 0, 0, 0};

    for (size_t i = 0; i < p->nsteps; i++) {
        switch (p->steps[i].op) {
        case SL_SHARE_CREATE_LF_TAG:
        case SL_SHARE_CREATE_FILTER:
            c.create++;
            break;
        case SL_SHARE_GRANT:
            c.create += p->steps[i].nentries;
            break;
        case SL_SHARE_UPDATE_LF_TAG:
        case SL_SHARE_ADD_LF_TAGS:
        case SL_SHARE_UPDATE_FILTER:
            c.update++;
            break;
        case SL_SHARE_REVOKE:
            c.remove += p->steps[i].nentries;
            break;
        case SL_SHARE_REMOVE_LF_TAGS:
            c.remove += p->steps[i].npairs;
            break;
        case SL_SHARE_DELETE_FILTER:
            c.remove++;
            break;
        }
    }
    for (size_t i = 0; i < p->ndrift; i++)
        c.drift += !p->drift[i].removed;
    return c;
}

static int format_filter(sl_buf *out, char sym, const char *verb, const sl_lf_filter *f)
{
    char cols[2048];

    sl_lf_strv_join(&f->columns, cols, sizeof(cols));
    return sl_buf_appendf(out, "%c %s data cells filter %s.%s/%s: columns %s%s; rows %s\n", sym,
                          verb, f->database, f->table, f->name,
                          f->column_wildcard ? (f->columns.n ? "all except " : "all") : "", cols,
                          f->row_filter ? f->row_filter : "all");
}

static int format_entries(sl_buf *out, const sl_share_step *s)
{
    char perms[256], grant[256], res[1024];

    for (size_t i = 0; i < s->nentries; i++) {
        const sl_lf_grant *g = &s->entries[i];
        sl_lf_perms_format(g->perms, perms, sizeof(perms));
        sl_lf_perms_format(g->grantable, grant, sizeof(grant));
        sl_lf_resource_describe(&g->res, res, sizeof(res));
        if (sl_buf_appendf(out, "%c %s %s %s%s%s%s on %s\n", s->op == SL_SHARE_GRANT ? '+' : '-',
                           s->op == SL_SHARE_GRANT ? "grant" : "revoke", g->principal,
                           g->perms ? perms : "", g->grantable ? " (grant option: " : "",
                           g->grantable ? grant : "", g->grantable ? ")" : "", res) != 0)
            return -1;
    }
    return 0;
}

int sl_share_plan_format(const sl_share_plan *p, sl_buf *out)
{
    char list[4096], res[1024];
    sl_share_counts c = sl_share_plan_counts(p);

    for (size_t i = 0; i < p->nsteps; i++) {
        const sl_share_step *s = &p->steps[i];
        int rc = 0;
        switch (s->op) {
        case SL_SHARE_CREATE_LF_TAG:
        case SL_SHARE_UPDATE_LF_TAG:
            sl_lf_strv_join(&s->values, list, sizeof(list));
            rc = sl_buf_appendf(out, "%s LF-Tag %s: %s%s\n",
                                s->op == SL_SHARE_CREATE_LF_TAG ? "+ create" : "~ update",
                                s->tag_key, s->op == SL_SHARE_UPDATE_LF_TAG ? "add values " : "",
                                list);
            break;
        case SL_SHARE_ADD_LF_TAGS:
        case SL_SHARE_REMOVE_LF_TAGS: {
            size_t o = 0;
            list[0] = '\0';
            for (size_t j = 0; j < s->npairs && o < sizeof(list); j++) {
                int w = snprintf(list + o, sizeof(list) - o, "%s%s=%s", j ? ", " : "",
                                 s->pairs[j].key, s->pairs[j].values.v[0]);
                if (w < 0)
                    break;
                o += (size_t)w;
            }
            sl_lf_resource_describe(&s->res, res, sizeof(res));
            rc = sl_buf_appendf(out, "%s %s: %s\n",
                                s->op == SL_SHARE_ADD_LF_TAGS ? "~ tag" : "- untag", res, list);
            break;
        }
        case SL_SHARE_CREATE_FILTER:
            rc = format_filter(out, '+', "create", &s->filter);
            break;
        case SL_SHARE_UPDATE_FILTER:
            rc = format_filter(out, '~', "update", &s->filter);
            break;
        case SL_SHARE_DELETE_FILTER:
            rc = sl_buf_appendf(out, "- delete data cells filter %s.%s/%s\n", s->filter.database,
                                s->filter.table, s->filter.name);
            break;
        case SL_SHARE_GRANT:
        case SL_SHARE_REVOKE:
            rc = format_entries(out, s);
            break;
        }
        if (rc != 0)
            return -1;
    }
    for (size_t i = 0; i < p->ndrift; i++)
        if (sl_buf_appendf(out, "! drift: %s%s\n", p->drift[i].what,
                           p->drift[i].removed ? " (removed: prune)" : "") != 0)
            return -1;
    if (c.create + c.update + c.remove == 0)
        return sl_buf_appendf(out, "No changes.%s\n",
                              c.drift ? " (drift above is left alone)" : "");
    return sl_buf_appendf(out, "Plan: %zu to create, %zu to update, %zu to remove, %zu drift.\n",
                          c.create, c.update, c.remove, c.drift);
}

/* --- requests --------------------------------------------------------------------------------- */

cJSON *sl_share_step_request(const sl_share_step *s, const char *catalog_id, const char **path)
{
    switch (s->op) {
    case SL_SHARE_CREATE_LF_TAG:
        *path = "/CreateLFTag";
        return sl_lf_body_create_lf_tag(catalog_id, s->tag_key, &s->values);
    case SL_SHARE_UPDATE_LF_TAG:
        *path = "/UpdateLFTag";
        return sl_lf_body_update_lf_tag(catalog_id, s->tag_key, &s->values);
    case SL_SHARE_ADD_LF_TAGS:
        *path = "/AddLFTagsToResource";
        return sl_lf_body_add_lf_tags(catalog_id, &s->res, s->pairs, s->npairs);
    case SL_SHARE_REMOVE_LF_TAGS:
        *path = "/RemoveLFTagsFromResource";
        return sl_lf_body_remove_lf_tags(catalog_id, &s->res, s->pairs, s->npairs);
    case SL_SHARE_CREATE_FILTER:
        *path = "/CreateDataCellsFilter";
        return sl_lf_body_data_cells_filter(&s->filter, 0);
    case SL_SHARE_UPDATE_FILTER:
        *path = "/UpdateDataCellsFilter";
        return sl_lf_body_data_cells_filter(&s->filter, 1);
    case SL_SHARE_DELETE_FILTER:
        *path = "/DeleteDataCellsFilter";
        return sl_lf_body_delete_data_cells_filter(&s->filter);
    case SL_SHARE_GRANT:
        *path = "/BatchGrantPermissions";
        return sl_lf_body_batch_permissions(catalog_id, s->entries, s->nentries);
    case SL_SHARE_REVOKE:
        *path = "/BatchRevokePermissions";
        return sl_lf_body_batch_permissions(catalog_id, s->entries, s->nentries);
    }
    *path = NULL;
    return NULL;
}
