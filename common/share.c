/* share.c - see share.h: the desired state and the schema-drift guard (the plan is
   share_plan.c). */
#include "share.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"

int sl_share_guard(const sl_lfpolicy *p, const sl_lfp_rule *rule, const char *const *prev,
                   size_t nprev, int has_prev, const char *const *cur, size_t ncur,
                   sl_lf_strv *hits)
{
    for (size_t i = 0; i < ncur; i++) {
        int seen = 0, sensitive = 0, allowed = 0;
        for (size_t j = 0; has_prev && j < nprev && !seen; j++)
            seen = strcmp(prev[j], cur[i]) == 0;
        if (seen)
            continue;
        for (size_t j = 0; j < p->sensitive.n && !sensitive; j++)
            sensitive = fnmatch(p->sensitive.v[j], cur[i], 0) == 0;
        for (size_t j = 0; rule && sensitive && j < rule->allow_columns.n && !allowed; j++)
            allowed = fnmatch(rule->allow_columns.v[j], cur[i], 0) == 0;
        if (sensitive && !allowed && sl_lf_strv_find(hits, cur[i]) < 0 &&
            sl_lf_strv_push(hits, cur[i]) != 0)
            return -1;
    }
    return 0;
}

void sl_share_desired_cleanup(sl_share_desired *d)
{
    if (!d)
        return;
    free(d->catalog_id);
    free(d->database);
    sl_lf_tags_free(d->tag_defs, d->ntag_defs);
    sl_lf_tags_free(d->db_tags, d->ndb_tags);
    for (size_t i = 0; d->tables && i < d->ntables; i++) {
        free(d->tables[i].name);
        sl_lf_tags_free(d->tables[i].tags, d->tables[i].ntags);
        free(d->tables[i].cause);
    }
    free(d->tables);
    sl_lf_filters_free(d->filters, d->nfilters);
    sl_lf_grants_free(d->grants, d->ngrants);
    free(d->filter_prefix);
    memset(d, 0, sizeof(*d));
}

/* A Glue name as Glue keeps it: 1..255 bytes, single line, lower case. */
static int glue_name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > SL_LF_NAME_MAX)
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (*s >= 'A' && *s <= 'Z'))
            return 0;
    return 1;
}

static int copy_tags(sl_lf_tag **dst, size_t *ndst, const sl_lf_tag *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (sl_lf_tags_add(dst, ndst, src[i].key, (const char *const *)src[i].values.v,
                           src[i].values.n) != 0)
            return -1;
    return 0;
}

/* The table's tags: the database's, with the rule's values over them. */
static int table_tags(const sl_lfpolicy *p, const sl_lfp_rule *r, sl_share_table *t)
{
    if (copy_tags(&t->tags, &t->ntags, p->db_tags, p->ndb_tags) != 0)
        return -1;
    for (size_t i = 0; r && r->kind == SL_LFP_RULE_TAGS && i < r->ntags; i++) {
        sl_lf_tag *have = (sl_lf_tag *)sl_lf_tags_find(t->tags, t->ntags, r->tags[i].key);
        if (have) {
            char *v = strdup(r->tags[i].values.v[0]);
            if (!v)
                return -1;
            free(have->values.v[0]);
            have->values.v[0] = v;
        } else if (copy_tags(&t->tags, &t->ntags, &r->tags[i], 1) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Whether grant g of the policy targets the filter of table `qualified` ("db.table"). */
static int grant_targets(const sl_lfp_grant *g, const char *qualified)
{
    for (size_t k = 0; g->target == SL_LFP_TARGET_FILTERS && k < g->filters.n; k++)
        if (fnmatch(g->filters.v[k], qualified, 0) == 0)
            return 1;
    return 0;
}

/* Adds (principal, res) with perms, merging into an equal one already there. res is copied. */
static int add_grant(sl_share_desired *d, const char *principal, const sl_lf_resource *res,
                     unsigned perms, unsigned grantable)
{
    sl_lf_grant g, *ng;

    for (size_t i = 0; i < d->ngrants; i++) {
        if (strcmp(d->grants[i].principal, principal) == 0 &&
            sl_lf_resource_equal(&d->grants[i].res, res)) {
            d->grants[i].perms |= perms;
            d->grants[i].grantable |= grantable;
            return 0;
        }
    }
    memset(&g, 0, sizeof(g));
    g.principal = strdup(principal);
    if (!g.principal || sl_lf_resource_copy(&g.res, res) != 0) {
        free(g.principal);
        return -1;
    }
    g.perms = perms;
    g.grantable = grantable;
    ng = realloc(d->grants, (d->ngrants + 1) * sizeof(*ng));
    if (!ng) {
        sl_lf_grant_cleanup(&g);
        return -1;
    }
    ng[d->ngrants++] = g;
    d->grants = ng;
    return 0;
}

static int hold(sl_share_desired *d, sl_share_table *t, const char *why, const sl_lf_strv *cols)
{
    char list[1024], buf[2048];

    sl_lf_strv_join(cols, list, sizeof(list));
    snprintf(buf, sizeof(buf), "table %s.%s held back: %s: %s", d->database, t->name, why, list);
    t->held = 1;
    t->cause = strdup(buf);
    d->nheld++;
    return t->cause ? 0 : -1;
}

/* The filter of a FILTERED table, or a reason to hold it. */
static int desire_filter(const char *cluster, const sl_lfp_rule *r, const sl_share_table_in *in,
                         sl_share_desired *d, sl_share_table *t)
{
    sl_lf_strv missing = {0};
    sl_lf_filter f, *nf;
    char name[SL_LF_NAME_MAX + 1];
    int rc = -1;

    memset(&f, 0, sizeof(f));
    if (sl_lfpolicy_expand(r->filter_name, cluster, d->database, in->name, name, sizeof(name)) !=
            0 ||
        !glue_name_ok(name)) {
        sl_lf_strv none = {0};
        return hold(d, t, "its filter name does not expand to 1 to 255 characters", &none);
    }
    /* Every listed column must exist: an include list naming a dropped column fails the call,
       and an exclude list naming a missing one withholds nothing it meant to. */
    for (size_t i = 0; i < r->columns.n; i++) {
        int found = 0;
        for (size_t j = 0; j < in->ncolumns && !found; j++)
            found = strcmp(in->columns[j], r->columns.v[i]) == 0;
        if (!found && sl_lf_strv_push(&missing, r->columns.v[i]) != 0)
            goto out;
    }
    if (missing.n) {
        rc = hold(d, t,
                  r->has_include ? "included column(s) not in the table"
                                 : "excluded column(s) not in the table",
                  &missing);
        goto out;
    }
    if (!(f.catalog_id = strdup(d->catalog_id)) || !(f.database = strdup(d->database)) ||
        !(f.table = strdup(in->name)) || !(f.name = strdup(name)) ||
        (r->row_filter && !(f.row_filter = strdup(r->row_filter))) ||
        sl_lf_strv_copy(&f.columns, &r->columns) != 0)
        goto out;
    f.column_wildcard = !r->has_include;
    nf = realloc(d->filters, (d->nfilters + 1) * sizeof(*nf));
    if (!nf)
        goto out;
    nf[d->nfilters++] = f;
    d->filters = nf;
    memset(&f, 0, sizeof(f));
    rc = 0;
out:
    sl_lf_filter_cleanup(&f);
    sl_lf_strv_cleanup(&missing);
    return rc;
}

static int desire_table(const sl_lfpolicy *p, const char *cluster, const sl_share_table_in *in,
                        sl_share_desired *d, sl_share_table *t)
{
    const sl_lfp_rule *r = sl_lfpolicy_rule_for(p, d->database, in->name);
    char qualified[2 * SL_LF_NAME_MAX + 2];
    sl_lf_strv hits = {0};
    int rc = -1;

    snprintf(qualified, sizeof(qualified), "%s.%s", d->database, in->name);
    t->name = strdup(in->name);
    if (!t->name)
        return -1;
    t->cls = !r || r->kind == SL_LFP_RULE_PRIVATE ? SL_SHARE_UNSHARED
             : r->kind == SL_LFP_RULE_TAGS        ? SL_SHARE_TAGGED
                                                  : SL_SHARE_FILTERED;
    if (table_tags(p, t->cls == SL_SHARE_TAGGED ? r : NULL, t) != 0)
        return -1;
    for (size_t i = 0; i < p->ngrants && !t->exposed; i++) {
        const sl_lfp_grant *g = &p->grants[i];
        if (t->cls == SL_SHARE_TAGGED && g->target == SL_LFP_TARGET_TAGS &&
            !g->expr.policy_database)
            t->exposed = sl_lfpolicy_expr_matches(&g->expr, t->tags, t->ntags);
        if (t->cls == SL_SHARE_FILTERED && !r->has_include)
            t->exposed = grant_targets(g, qualified);
    }
    /* A tag grant, or a filter with a column wildcard, shares every new column by itself. */
    if (t->exposed) {
        if (sl_share_guard(p, r, in->prev_columns, in->nprev, in->has_prev, in->columns,
                           in->ncolumns, &hits) != 0)
            goto out;
        if (hits.n && hold(d, t,
                           "new column(s) match the policy's sensitive_columns; list them in "
                           "the rule's allow_columns, share the table through a filter with "
                           "an include list, or make it private",
                           &hits) != 0)
            goto out;
    }
    if (t->held && t->cls == SL_SHARE_TAGGED) {
        /* Withdrawn (with prune): back to the database's tags, which no grant shares. */
        sl_lf_tags_free(t->tags, t->ntags);
        t->tags = NULL;
        t->ntags = 0;
        if (table_tags(p, NULL, t) != 0)
            goto out;
    }
    if (!t->held && t->cls == SL_SHARE_FILTERED && desire_filter(cluster, r, in, d, t) != 0)
        goto out;
    rc = 0;
out:
    sl_lf_strv_cleanup(&hits);
    return rc;
}

int sl_share_database(const sl_lfpolicy *p, const char *cluster, char *out, size_t outlen,
                      char *err, size_t errlen)
{
    sl_cat_name_vars v = {.cluster = cluster};
    char why[SL_ERRLEN];

    /* Named as the crawl stage names the database (CATALOG_DATABASE): cluster
       "orders-prod" is Glue database snaplake_orders_prod, not snaplake_orders-prod. */
    if (sl_catalog_name(p->database, &v, out, outlen, why, sizeof(why)) != 0)
        return sl_seterr(err, errlen,
                         "share: the policy's database template \"%s\" gives no name for "
                         "cluster \"%s\": %s",
                         p->database, cluster ? cluster : "", why);
    if (!glue_name_ok(out))
        return sl_seterr(err, errlen,
                         "share: the database template \"%s\" does not give a Glue name for "
                         "cluster \"%s\" (1 to 255 characters, lower case)",
                         p->database, cluster ? cluster : "");
    return 0;
}

int sl_share_desire(const sl_lfpolicy *p, const char *cluster, const char *account_id,
                    const sl_share_table_in *tables, size_t ntables, sl_share_desired *out,
                    char *err, size_t errlen)
{
    const char *catalog = p->catalog_id ? p->catalog_id : account_id;
    char db[SL_LF_NAME_MAX + 1];
    sl_share_desired d;

    memset(&d, 0, sizeof(d));
    if (!catalog || !*catalog)
        return sl_seterr(err, errlen, "share: no catalog id (the policy's or the account's)");
    if (sl_share_database(p, cluster, db, sizeof(db), err, errlen) != 0)
        return -1;
    if (!(d.catalog_id = strdup(catalog)) || !(d.database = strdup(db)) ||
        !(d.filter_prefix = strdup(p->filter_prefix)) ||
        copy_tags(&d.tag_defs, &d.ntag_defs, p->tags, p->ntags) != 0 ||
        copy_tags(&d.db_tags, &d.ndb_tags, p->db_tags, p->ndb_tags) != 0)
        goto oom;
    d.prune = p->prune;
    d.tables = calloc(ntables + 1, sizeof(*d.tables));
    if (!d.tables)
        goto oom;
    for (size_t i = 0; i < ntables; i++) {
        d.ntables = i + 1;
        if (!tables[i].name || !glue_name_ok(tables[i].name)) {
            sl_share_desired_cleanup(&d);
            return sl_seterr(err, errlen, "share: table %zu has no valid Glue name", i);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(tables[j].name, tables[i].name) == 0) {
                sl_share_desired_cleanup(&d);
                return sl_seterr(err, errlen, "share: table %s is listed twice", tables[i].name);
            }
        }
        if (desire_table(p, cluster, &tables[i], &d, &d.tables[i]) != 0)
            goto oom;
    }
    for (size_t i = 0; i < p->ngrants; i++) {
        const sl_lfp_grant *g = &p->grants[i];
        unsigned grantable = g->grant_option ? g->perms : 0;
        if (g->target == SL_LFP_TARGET_TAGS) {
            sl_lf_resource r;
            if (sl_lf_resource_copy(&r, &g->expr) != 0)
                goto oom;
            free(r.catalog_id);
            r.catalog_id = strdup(d.catalog_id);
            if (!r.catalog_id || add_grant(&d, g->principal, &r, g->perms, grantable) != 0) {
                sl_lf_resource_cleanup(&r);
                goto oom;
            }
            sl_lf_resource_cleanup(&r);
            continue;
        }
        for (size_t j = 0; j < d.nfilters; j++) {
            char q[2 * SL_LF_NAME_MAX + 2];
            sl_lf_resource r;
            snprintf(q, sizeof(q), "%s.%s", d.filters[j].database, d.filters[j].table);
            if (!grant_targets(g, q))
                continue;
            /* Lake Formation grants a filter with grant option only when it has an include
               list. The policy check catches the rules it can see; a glob that meets a rule
               only here is caught now, holding the table instead of failing the call. */
            if (g->grant_option && d.filters[j].column_wildcard) {
                sl_share_table *t = NULL;
                sl_lf_strv none = {0};
                for (size_t k = 0; k < d.ntables && !t; k++)
                    if (strcmp(d.tables[k].name, d.filters[j].table) == 0)
                        t = &d.tables[k];
                if (t && !t->held &&
                    hold(&d, t,
                         "a grant with grant option targets its filter, which has no "
                         "include list (Lake Formation's rule)",
                         &none) != 0)
                    goto oom;
                continue;
            }
            memset(&r, 0, sizeof(r));
            r.kind = SL_LF_RES_FILTER;
            r.catalog_id = d.filters[j].catalog_id;
            r.database = d.filters[j].database;
            r.table = d.filters[j].table;
            r.name = d.filters[j].name;
            if (add_grant(&d, g->principal, &r, g->perms, grantable) != 0)
                goto oom; /* r borrows: nothing to free */
        }
    }
    *out = d;
    return 0;
oom:
    sl_share_desired_cleanup(&d);
    return sl_seterr(err, errlen, "share: out of memory");
}
