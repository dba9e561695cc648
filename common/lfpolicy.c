/* lfpolicy.c - see lfpolicy.h. Parsing and validation in one pass; the checks that relate
   sections to each other (database tags vs grants, grant option vs filters) run at the end. */
#include "lfpolicy.h"

#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "lfpolicy_read.h"

/* $.tags: {"key": ["v", ...], ...} */
static void parse_tags(sl_lfp_ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    const cJSON *t = sl_lfp_member(doc, "tags");
    size_t old = sl_lfp_push_key(c, "tags"), n = 0;
    const cJSON *m;

    if (!cJSON_IsObject(t)) {
        sl_lfp_err(c, t ? "must be an object of LF-Tag keys to their values" : "required");
        goto out;
    }
    cJSON_ArrayForEach(m, t) n++;
    sl_lfp_members(c, t, NULL);
    if (n < 1 || n > SL_LFP_MAX_TAG_KEYS) {
        sl_lfp_err(c, "must declare 1 to %d LF-Tags", SL_LFP_MAX_TAG_KEYS);
        if (n > SL_LFP_MAX_TAG_KEYS)
            goto out;
    }
    for (m = t->child; m; m = m->next) {
        size_t o2 = sl_lfp_push_key(c, m->string);
        const char *why = sl_lfpolicy_check_tag_key(m->string);
        sl_lf_strv vals = {0};
        sl_lfp_pop(c, o2);
        if (why) {
            o2 = sl_lfp_push_key(c, m->string);
            sl_lfp_err(c, "LF-Tag key %s", why);
            sl_lfp_pop(c, o2);
        }
        if (sl_lf_tags_find(p->tags, p->ntags, m->string))
            continue; /* given twice: sl_lfp_members said so */
        if (!cJSON_IsArray(m)) {
            o2 = sl_lfp_push_key(c, m->string);
            sl_lfp_err(c, "must be an array of the LF-Tag's values");
            sl_lfp_pop(c, o2);
            continue;
        }
        sl_lfp_strv(c, t, m->string, 1, SL_LFP_MAX_TAG_VALUES, sl_lfpolicy_check_tag_value, &vals);
        if (!why && sl_lf_tags_add(&p->tags, &p->ntags, m->string, (const char *const *)vals.v,
                                   vals.n) != 0)
            sl_lfp_oom(c);
        sl_lf_strv_cleanup(&vals);
    }
out:
    sl_lfp_pop(c, old);
}

/* {"key": "value"} pairs at o[k], each key and value declared in p->tags. */
static void parse_pairs(sl_lfp_ctx *c, const cJSON *o, const char *k, const sl_lfpolicy *p,
                        int required, sl_lf_tag **out, size_t *nout)
{
    const cJSON *t = sl_lfp_member(o, k), *m;
    size_t old = sl_lfp_push_key(c, k);

    if (!t) {
        if (required)
            sl_lfp_err(c, "required");
        goto out;
    }
    if (!cJSON_IsObject(t) || !t->child) {
        sl_lfp_err(c, "must be a non-empty object of LF-Tag keys to one value each");
        goto out;
    }
    sl_lfp_members(c, t, NULL);
    for (m = t->child; m; m = m->next) {
        size_t o2 = sl_lfp_push_key(c, m->string);
        const sl_lf_tag *def = sl_lf_tags_find(p->tags, p->ntags, m->string);
        const char *v = m->valuestring;
        if (!def)
            sl_lfp_err(c, "LF-Tag \"%.128s\" is not declared in $.tags", m->string);
        else if (!cJSON_IsString(m) || !v)
            sl_lfp_err(c, "must be a string (a resource carries one value per LF-Tag)");
        else if (sl_lf_strv_find(&def->values, v) < 0)
            sl_lfp_err(c, "\"%.256s\" is not a value of LF-Tag \"%s\"", v, def->key);
        else if (!sl_lf_tags_find(*out, *nout, m->string) &&
                 sl_lf_tags_add(out, nout, m->string, &v, 1) != 0)
            sl_lfp_oom(c);
        sl_lfp_pop(c, o2);
    }
out:
    sl_lfp_pop(c, old);
}

static const char *const db_vars[] = {"cluster", NULL};
static const char *const filter_vars[] = {"cluster", "database", "table", NULL};

/* $.database: {"name": "<template>", "tags": {"key": "value"}} */
static void parse_database(sl_lfp_ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    static const char *const allowed[] = {"name", "tags", NULL};
    const cJSON *d = sl_lfp_member(doc, "database");
    size_t old = sl_lfp_push_key(c, "database");
    const char *name, *why;
    char buf[256];

    if (!cJSON_IsObject(d)) {
        sl_lfp_err(c, d ? "must be an object" : "required");
        goto out;
    }
    sl_lfp_members(c, d, allowed);
    name = sl_lfp_str(c, d, "name", 1);
    if (name) {
        size_t o2 = sl_lfp_push_key(c, "name");
        if ((why = sl_lfpolicy_check_template(name, db_vars, buf, sizeof(buf))) != NULL)
            sl_lfp_err(c, "%s", why);
        else
            p->database = sl_lfp_dup(c, name);
        sl_lfp_pop(c, o2);
    }
    parse_pairs(c, d, "tags", p, 1, &p->db_tags, &p->ndb_tags);
out:
    sl_lfp_pop(c, old);
}

/* $.tables[i].filter */
static void parse_filter(sl_lfp_ctx *c, const cJSON *f, const sl_lfpolicy *p, sl_lfp_rule *r)
{
    static const char *const allowed[] = {"name", "include", "exclude", "row_filter", NULL};
    const char *name, *rf, *why;
    const cJSON *inc, *exc;
    size_t old = sl_lfp_push_key(c, "filter");
    char buf[256];

    if (!cJSON_IsObject(f)) {
        sl_lfp_err(c, "must be an object");
        goto out;
    }
    sl_lfp_members(c, f, allowed);
    name = sl_lfp_str(c, f, "name", 1);
    if (name) {
        size_t o2 = sl_lfp_push_key(c, "name");
        if ((why = sl_lfpolicy_check_template(name, filter_vars, buf, sizeof(buf))) != NULL)
            sl_lfp_err(c, "%s", why);
        else if (strncmp(name, p->filter_prefix, strlen(p->filter_prefix)) != 0)
            sl_lfp_err(c,
                       "must start with the filter prefix \"%s\" ($.filter_prefix): that is how "
                       "snaplake knows the filters it made",
                       p->filter_prefix);
        else
            r->filter_name = sl_lfp_dup(c, name);
        sl_lfp_pop(c, o2);
    }
    inc = sl_lfp_strv(c, f, "include", 1, SL_LFP_MAX_COLUMNS, sl_lfpolicy_check_name, &r->columns);
    exc = sl_lfp_member(f, "exclude");
    if (inc && exc) {
        size_t o2 = sl_lfp_push_key(c, "exclude");
        sl_lfp_err(c, "give include or exclude, not both");
        sl_lfp_pop(c, o2);
    } else if (exc) {
        sl_lfp_strv(c, f, "exclude", 1, SL_LFP_MAX_COLUMNS, sl_lfpolicy_check_name, &r->columns);
    }
    r->has_include = inc != NULL;
    sl_lf_strv_sort(&r->columns);
    rf = sl_lfp_str(c, f, "row_filter", 0);
    if (rf) {
        size_t o2 = sl_lfp_push_key(c, "row_filter");
        if ((why = sl_lfpolicy_check_predicate(rf)) != NULL)
            sl_lfp_err(c, "%s", why);
        else
            r->row_filter = sl_lfp_dup(c, rf);
        sl_lfp_pop(c, o2);
    }
    if (!inc && !exc && !sl_lfp_member(f, "row_filter"))
        sl_lfp_err(c, "a filter needs include, exclude or row_filter (else it filters nothing)");
out:
    sl_lfp_pop(c, old);
}

static int is_catch_all(const char *m)
{
    return strcmp(m, "*") == 0 || strcmp(m, "*.*") == 0;
}

/* $.tables[i] */
static void parse_rule(sl_lfp_ctx *c, const cJSON *o, const sl_lfpolicy *p, sl_lfp_rule *r)
{
    static const char *const allowed[] = {"match",   "tags",          "filter",
                                          "private", "allow_columns", NULL};
    const char *m, *why;
    int kinds = 0;

    if (!cJSON_IsObject(o)) {
        sl_lfp_err(c, "must be an object");
        return;
    }
    sl_lfp_members(c, o, allowed);
    m = sl_lfp_str(c, o, "match", 1);
    if (m) {
        size_t o2 = sl_lfp_push_key(c, "match");
        if ((why = sl_lfpolicy_check_glob(m)) != NULL)
            sl_lfp_err(c, "%s", why);
        else
            r->match = sl_lfp_dup(c, m);
        sl_lfp_pop(c, o2);
    }
    kinds =
        !!sl_lfp_member(o, "tags") + !!sl_lfp_member(o, "filter") + !!sl_lfp_member(o, "private");
    if (kinds != 1)
        sl_lfp_err(c, "give exactly one of tags, filter, private");
    if (sl_lfp_member(o, "tags")) {
        r->kind = SL_LFP_RULE_TAGS;
        parse_pairs(c, o, "tags", p, 1, &r->tags, &r->ntags);
    } else if (sl_lfp_member(o, "filter")) {
        r->kind = SL_LFP_RULE_FILTER;
        parse_filter(c, sl_lfp_member(o, "filter"), p, r);
    } else if (sl_lfp_member(o, "private")) {
        size_t o2 = sl_lfp_push_key(c, "private");
        r->kind = SL_LFP_RULE_PRIVATE;
        if (!cJSON_IsTrue(sl_lfp_member(o, "private")))
            sl_lfp_err(c, "must be true (leave the rule out to not decide here)");
        sl_lfp_pop(c, o2);
    }
    sl_lfp_strv(c, o, "allow_columns", 1, SL_LFP_MAX_COLUMNS, sl_lfpolicy_check_glob,
                &r->allow_columns);
    if (sl_lfp_member(o, "allow_columns") &&
        (r->kind == SL_LFP_RULE_PRIVATE || (r->kind == SL_LFP_RULE_FILTER && r->has_include))) {
        size_t o2 = sl_lfp_push_key(c, "allow_columns");
        sl_lfp_err(c,
                   "only for tables whose new columns are shared automatically (a tags rule or an "
                   "exclude filter)");
        sl_lfp_pop(c, o2);
    }
}

static void parse_rules(sl_lfp_ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    const cJSON *a = sl_lfp_member(doc, "tables"), *e;
    size_t old = sl_lfp_push_key(c, "tables"), i = 0, n;

    if (!a)
        goto out;
    if (!cJSON_IsArray(a)) {
        sl_lfp_err(c, "must be an array of table rules");
        goto out;
    }
    n = (size_t)cJSON_GetArraySize(a);
    if (n > SL_LFP_MAX_RULES) {
        sl_lfp_err(c, "at most %d table rules", SL_LFP_MAX_RULES);
        goto out;
    }
    p->rules = calloc(n ? n : 1, sizeof(*p->rules));
    if (!p->rules) {
        sl_lfp_oom(c);
        goto out;
    }
    cJSON_ArrayForEach(e, a)
    {
        size_t o2 = sl_lfp_push_index(c, i);
        sl_lfp_rule *r = &p->rules[i];
        parse_rule(c, e, p, r);
        p->nrules = ++i;
        /* First match wins: a rule after a catch-all, or a repeated match, is dead. */
        for (size_t j = 0; r->match && j + 1 < i; j++) {
            const char *pm = p->rules[j].match;
            if (!pm)
                continue;
            if (strcmp(pm, r->match) == 0 || is_catch_all(pm)) {
                size_t o3 = sl_lfp_push_key(c, "match");
                sl_lfp_err(c, "never used: $.tables[%zu] (\"%.64s\") matches first", j, pm);
                sl_lfp_pop(c, o3);
                break;
            }
        }
        sl_lfp_pop(c, o2);
    }
out:
    sl_lfp_pop(c, old);
}

/* $.grants[i].tags: {"key": ["v", ...]} -> a TAG_POLICY resource */
static void parse_expr(sl_lfp_ctx *c, const cJSON *t, const sl_lfpolicy *p, sl_lf_resource *r)
{
    size_t old = sl_lfp_push_key(c, "tags");

    r->kind = SL_LF_RES_TAG_POLICY;
    if (!cJSON_IsObject(t) || !t->child) {
        sl_lfp_err(c, "must be a non-empty object of LF-Tag keys to the values granted");
        goto out;
    }
    sl_lfp_members(c, t, NULL);
    for (const cJSON *m = t->child; m; m = m->next) {
        const sl_lf_tag *def = sl_lf_tags_find(p->tags, p->ntags, m->string);
        sl_lf_strv vals = {0};
        size_t o2;
        if (!def) {
            o2 = sl_lfp_push_key(c, m->string);
            sl_lfp_err(c, "LF-Tag \"%.128s\" is not declared in $.tags", m->string);
            sl_lfp_pop(c, o2);
            continue;
        }
        if (cJSON_IsString(m) && m->valuestring) {
            if (sl_lf_strv_push(&vals, m->valuestring) != 0)
                sl_lfp_oom(c);
        } else {
            sl_lfp_strv(c, t, m->string, 1, SL_LF_VALUES_PER_CALL, NULL, &vals);
        }
        o2 = sl_lfp_push_key(c, m->string);
        if (!cJSON_IsString(m) && !cJSON_IsArray(m))
            sl_lfp_err(c, "must be a value or an array of values");
        for (size_t i = 0; i < vals.n; i++)
            if (sl_lf_strv_find(&def->values, vals.v[i]) < 0)
                sl_lfp_err(c, "\"%.256s\" is not a value of LF-Tag \"%s\"", vals.v[i], def->key);
        sl_lfp_pop(c, o2);
        if (vals.n && !sl_lf_tags_find(r->expr, r->nexpr, m->string) &&
            sl_lf_tags_add(&r->expr, &r->nexpr, m->string, (const char *const *)vals.v, vals.n) !=
                0)
            sl_lfp_oom(c);
        sl_lf_strv_cleanup(&vals);
    }
    sl_lf_resource_normalize(r);
out:
    sl_lfp_pop(c, old);
}

/* $.grants[i] */
static void parse_grant(sl_lfp_ctx *c, const cJSON *o, const sl_lfpolicy *p, sl_lfp_grant *g)
{
    static const char *const allowed[] = {"principal",   "tags",         "filters", "resource_type",
                                          "permissions", "grant_option", NULL};
    const char *pr, *why, *rt;
    const cJSON *perms, *e;
    size_t i = 0;

    if (!cJSON_IsObject(o)) {
        sl_lfp_err(c, "must be an object");
        return;
    }
    sl_lfp_members(c, o, allowed);
    pr = sl_lfp_str(c, o, "principal", 1);
    if (pr) {
        size_t o2 = sl_lfp_push_key(c, "principal");
        if ((why = sl_lfpolicy_check_principal(pr)) != NULL)
            sl_lfp_err(c, "%s", why);
        else
            g->principal = sl_lfp_dup(c, pr);
        sl_lfp_pop(c, o2);
    }
    if (!!sl_lfp_member(o, "tags") + !!sl_lfp_member(o, "filters") != 1)
        sl_lfp_err(c, "give exactly one target: tags (an LF-Tag expression) or filters");
    if (sl_lfp_member(o, "tags")) {
        g->target = SL_LFP_TARGET_TAGS;
        parse_expr(c, sl_lfp_member(o, "tags"), p, &g->expr);
    } else if (sl_lfp_member(o, "filters")) {
        g->target = SL_LFP_TARGET_FILTERS;
        sl_lfp_strv(c, o, "filters", 1, SL_LFP_MAX_PATTERNS, sl_lfpolicy_check_glob, &g->filters);
    }
    rt = sl_lfp_str(c, o, "resource_type", 0);
    if (rt) {
        size_t o2 = sl_lfp_push_key(c, "resource_type");
        if (g->target != SL_LFP_TARGET_TAGS)
            sl_lfp_err(c, "only for a tags target");
        else if (strcmp(rt, "database") == 0)
            g->expr.policy_database = 1;
        else if (strcmp(rt, "table") != 0)
            sl_lfp_err(c, "must be \"table\" or \"database\"");
        sl_lfp_pop(c, o2);
    }
    perms = sl_lfp_member(o, "permissions");
    {
        size_t o2 = sl_lfp_push_key(c, "permissions");
        if (!perms)
            sl_lfp_err(c, "required");
        else if (!cJSON_IsArray(perms) || !perms->child)
            sl_lfp_err(c, "must be a non-empty array of \"SELECT\", \"DESCRIBE\"");
        const cJSON *plist = cJSON_IsArray(perms) ? perms : NULL;
        cJSON_ArrayForEach(e, plist)
        {
            size_t o3 = sl_lfp_push_index(c, i++);
            unsigned bit = cJSON_IsString(e) ? sl_lf_perm_bit(e->valuestring) : 0;
            if (bit != SL_LF_P_SELECT && bit != SL_LF_P_DESCRIBE)
                sl_lfp_err(c, "must be \"SELECT\" or \"DESCRIBE\"");
            else if (g->perms & bit)
                sl_lfp_err(c, "listed twice");
            else if (bit == SL_LF_P_SELECT && g->expr.policy_database)
                sl_lfp_err(c, "SELECT does not apply to databases (resource_type \"database\")");
            else
                g->perms |= bit;
            sl_lfp_pop(c, o3);
        }
        sl_lfp_pop(c, o2);
    }
    g->grant_option = sl_lfp_bool(c, o, "grant_option", 0);
}

static void parse_grants(sl_lfp_ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    const cJSON *a = sl_lfp_member(doc, "grants"), *e;
    size_t old = sl_lfp_push_key(c, "grants"), i = 0, n;

    if (!cJSON_IsArray(a)) {
        sl_lfp_err(c, a ? "must be an array of grants" : "required");
        goto out;
    }
    n = (size_t)cJSON_GetArraySize(a);
    if (n < 1 || n > SL_LFP_MAX_GRANTS) {
        sl_lfp_err(c, "must hold 1 to %d grants", SL_LFP_MAX_GRANTS);
        goto out;
    }
    p->grants = calloc(n, sizeof(*p->grants));
    if (!p->grants) {
        sl_lfp_oom(c);
        goto out;
    }
    cJSON_ArrayForEach(e, a)
    {
        size_t o2 = sl_lfp_push_index(c, i);
        parse_grant(c, e, p, &p->grants[i]);
        p->ngrants = ++i;
        sl_lfp_pop(c, o2);
    }
out:
    sl_lfp_pop(c, old);
}

/* --- cross checks ----------------------------------------------------------------------------- */

static void cross_check(sl_lfp_ctx *c, const sl_lfpolicy *p)
{
    char what[512];

    /* Sharing is opt-in per table: if the database's own tags were granted on tables, every
       table (a new one, a private one, one held back by the drift guard) would be shared by
       inheritance, and `private` could not be honoured. */
    for (size_t i = 0; i < p->ngrants; i++) {
        const sl_lfp_grant *g = &p->grants[i];
        if (g->target != SL_LFP_TARGET_TAGS || g->expr.policy_database || !g->expr.nexpr ||
            !p->ndb_tags || !sl_lfpolicy_expr_matches(&g->expr, p->db_tags, p->ndb_tags))
            continue;
        size_t old = sl_lfp_push_key(c, "database");
        size_t o2 = sl_lfp_push_key(c, "tags");
        sl_lf_resource_describe(&g->expr, what, sizeof(what));
        sl_lfp_err(c,
                   "the database's default tags are granted on tables by $.grants[%zu] (%s): "
                   "every table would be shared by inheritance; share tables through table rules",
                   i, what);
        sl_lfp_pop(c, o2);
        sl_lfp_pop(c, old);
    }
    for (size_t i = 0; i < p->ngrants; i++) {
        const sl_lfp_grant *g = &p->grants[i];
        size_t nfilter_rules = 0;
        if (g->target != SL_LFP_TARGET_FILTERS)
            continue;
        size_t old = sl_lfp_push_key(c, "grants");
        sl_lfp_push_index(c, i);
        for (size_t j = 0; j < p->nrules; j++) {
            const sl_lfp_rule *r = &p->rules[j];
            int hit = 0;
            if (r->kind != SL_LFP_RULE_FILTER || !r->match)
                continue;
            nfilter_rules++;
            /* A grant targets a rule when one of its globs matches the rule's own pattern
               taken as a name (so "*" targets every rule, "*.users" targets "*.users"). */
            for (size_t k = 0; k < g->filters.n; k++)
                hit = hit || strcmp(g->filters.v[k], r->match) == 0 ||
                      fnmatch(g->filters.v[k], r->match, 0) == 0;
            if (hit && g->grant_option && !r->has_include) {
                size_t o2 = sl_lfp_push_key(c, "grant_option");
                sl_lfp_err(c,
                           "a grant with grant option needs an include list on the filters it "
                           "targets; $.tables[%zu].filter has none (Lake Formation's rule)",
                           j);
                sl_lfp_pop(c, o2);
            }
        }
        if (nfilter_rules == 0) {
            size_t o2 = sl_lfp_push_key(c, "filters");
            sl_lfp_err(c, "no table rule defines a filter");
            sl_lfp_pop(c, o2);
        }
        sl_lfp_pop(c, old);
    }
}

/* --- entry points ----------------------------------------------------------------------------- */

void sl_lfpolicy_cleanup(sl_lfpolicy *p)
{
    if (!p)
        return;
    free(p->catalog_id);
    sl_lf_tags_free(p->tags, p->ntags);
    free(p->database);
    sl_lf_tags_free(p->db_tags, p->ndb_tags);
    for (size_t i = 0; p->rules && i < p->nrules; i++) {
        sl_lfp_rule *r = &p->rules[i];
        free(r->match);
        sl_lf_tags_free(r->tags, r->ntags);
        free(r->filter_name);
        sl_lf_strv_cleanup(&r->columns);
        free(r->row_filter);
        sl_lf_strv_cleanup(&r->allow_columns);
    }
    free(p->rules);
    for (size_t i = 0; p->grants && i < p->ngrants; i++) {
        free(p->grants[i].principal);
        sl_lf_resource_cleanup(&p->grants[i].expr);
        sl_lf_strv_cleanup(&p->grants[i].filters);
    }
    free(p->grants);
    sl_lf_strv_cleanup(&p->sensitive);
    free(p->filter_prefix);
    memset(p, 0, sizeof(*p));
}

static void parse_doc(sl_lfp_ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    static const char *const allowed[] = {
        "version", "catalog_id",        "tags",          "database", "tables",
        "grants",  "sensitive_columns", "filter_prefix", "prune",    NULL};
    const cJSON *v = sl_lfp_member(doc, "version");
    const char *s, *why;

    sl_lfp_members(c, doc, allowed);
    if (!v || !cJSON_IsNumber(v) || v->valuedouble != 1) {
        size_t old = sl_lfp_push_key(c, "version");
        sl_lfp_err(c, v ? "must be 1" : "required (1)");
        sl_lfp_pop(c, old);
    }
    s = sl_lfp_str(c, doc, "catalog_id", 0);
    if (s) {
        size_t old = sl_lfp_push_key(c, "catalog_id");
        if (strlen(s) != 12 || strspn(s, "0123456789") != 12)
            sl_lfp_err(c, "must be a 12-digit AWS account id");
        else
            p->catalog_id = sl_lfp_dup(c, s);
        sl_lfp_pop(c, old);
    }
    s = sl_lfp_str(c, doc, "filter_prefix", 0);
    if (s) {
        size_t old = sl_lfp_push_key(c, "filter_prefix");
        if ((why = sl_lfpolicy_check_prefix(s)) != NULL)
            sl_lfp_err(c, "%s", why);
        sl_lfp_pop(c, old);
    }
    p->filter_prefix = sl_lfp_dup(c, s && !sl_lfpolicy_check_prefix(s) ? s : SL_LFP_DEFAULT_PREFIX);
    if (!p->filter_prefix)
        return;
    parse_tags(c, doc, p);
    parse_database(c, doc, p);
    parse_rules(c, doc, p);
    parse_grants(c, doc, p);
    sl_lfp_strv(c, doc, "sensitive_columns", 0, SL_LFP_MAX_PATTERNS, sl_lfpolicy_check_glob,
                &p->sensitive);
    p->prune = sl_lfp_bool(c, doc, "prune", 0);
    cross_check(c, p);
}

int sl_lfpolicy_parse(const char *buf, size_t len, sl_lfpolicy *out, size_t *nerrors, char *err,
                      size_t errlen)
{
    sl_lfpolicy p;
    cJSON *doc = NULL;
    sl_lfp_ctx c;
    int rc = -1;

    memset(&p, 0, sizeof(p));
    memset(&c, 0, sizeof(c));
    snprintf(c.path, sizeof(c.path), "$");
    c.plen = 1;
    sl_buf_init(&c.errs, 64 * 1024);
    if (nerrors)
        *nerrors = 0;
    if (!buf || len > SL_LFP_MAX_BYTES) {
        sl_lfp_err(&c, "the document is over %zu bytes", SL_LFP_MAX_BYTES);
        goto out;
    }
    doc = sl_json_parse_exact(buf, len);
    if (!doc)
        sl_lfp_err(&c, "%s",
                   sl_json_has_nul(buf, len) ? "a string holds a NUL (\\u0000)"
                                             : "not one JSON value");
    else if (!cJSON_IsObject(doc))
        sl_lfp_err(&c, "must be a JSON object");
    else
        parse_doc(&c, doc, &p);
out:
    if (c.nerr > SL_LFP_MAX_ERRORS &&
        sl_buf_appendf(&c.errs, "\n... and %zu more errors", c.nerr - SL_LFP_MAX_ERRORS) != 0)
        c.oom = 1;
    if (nerrors)
        *nerrors = c.nerr;
    if (c.nerr == 0) {
        *out = p;
        rc = 0;
    } else {
        snprintf(err, errlen, "%s", c.errs.data ? c.errs.data : "share policy: out of memory");
        sl_lfpolicy_cleanup(&p);
    }
    sl_buf_cleanup(&c.errs);
    cJSON_Delete(doc);
    return rc;
}
