/* lfpolicy.c - see lfpolicy.h. Parsing and validation in one pass; the checks that relate
   sections to each other (database tags vs grants, grant option vs filters) run at the end. */
#include "lfpolicy.h"

#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* --- error collection ------------------------------------------------------------------------- */

typedef struct ctx {
    char path[1024]; /* the JSON path of what is being read, "$.tables[2].filter" */
    size_t plen;
    sl_buf errs;
    size_t nerr;
    int oom;
} ctx;

static void perr(ctx *c, const char *fmt, ...) SL_PRINTF(2, 3);
static void perr(ctx *c, const char *fmt, ...)
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
static void poom(ctx *c)
{
    if (!c->oom)
        perr(c, "out of memory");
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
static size_t push_key(ctx *c, const char *key)
{
    size_t old = c->plen;
    int w = is_ident(key) ? snprintf(c->path + old, sizeof(c->path) - old, ".%s", key)
                          : snprintf(c->path + old, sizeof(c->path) - old, "[\"%.64s\"]", key);
    if (w > 0 && (size_t)w < sizeof(c->path) - old)
        c->plen += (size_t)w;
    c->path[c->plen] = '\0';
    return old;
}

static size_t push_index(ctx *c, size_t i)
{
    size_t old = c->plen;
    int w = snprintf(c->path + old, sizeof(c->path) - old, "[%zu]", i);
    if (w > 0 && (size_t)w < sizeof(c->path) - old)
        c->plen += (size_t)w;
    c->path[c->plen] = '\0';
    return old;
}

static void pop(ctx *c, size_t old)
{
    c->plen = old;
    c->path[old] = '\0';
}

/* Reports members not in `allowed` (NULL-terminated; NULL: any name) and members given twice
   (cJSON keeps both; the second would silently win or lose). */
static void check_members(ctx *c, const cJSON *obj, const char *const *allowed)
{
    for (const cJSON *m = obj->child; m; m = m->next) {
        size_t old = push_key(c, m->string ? m->string : "");
        int known = !allowed;
        for (size_t i = 0; allowed && allowed[i]; i++)
            known = known || strcmp(allowed[i], m->string) == 0;
        if (!known)
            perr(c, "unknown member");
        for (const cJSON *o = obj->child; o != m; o = o->next)
            if (strcmp(o->string, m->string) == 0) {
                perr(c, "member given twice");
                break;
            }
        pop(c, old);
    }
}

/* --- value rules ------------------------------------------------------------------------------ */

/*
 * LF-Tag keys and values: the model's pattern ^([\p{L}\p{Z}\p{N}_.:\/=+\-@%]*)$, restricted to
 * ASCII and to lower case, so that the policy and what Lake Formation answers compare byte for
 * byte whatever case folding the service applies. Returns NULL or the rule broken.
 */
static const char *tag_text_rule(const char *s, size_t max, int allow_empty)
{
    size_t n = strlen(s);

    if (n == 0 && !allow_empty)
        return "must not be empty";
    if (n > max)
        return max == SL_LF_TAG_KEY_MAX ? "longer than 128 characters (Lake Formation's limit)"
                                        : "longer than 256 characters (Lake Formation's limit)";
    for (const char *p = s; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch >= 'A' && ch <= 'Z')
            return "must be lower case";
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || strchr(" _.:/=+-@%", ch)))
            return "may hold only a-z, 0-9, space and _ . : / = + - @ %";
    }
    return NULL;
}

/* Glue names (NameString): 1..255, single line. Glue stores names in lower case. */
static const char *name_rule(const char *s)
{
    size_t n = strlen(s);

    if (n == 0)
        return "must not be empty";
    if (n > SL_LF_NAME_MAX)
        return "longer than 255 characters (Glue's limit)";
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "holds a control character";
        if (*p >= 'A' && *p <= 'Z')
            return "must be lower case (Glue stores names in lower case)";
    }
    return NULL;
}

/* A glob for fnmatch(3): closed brackets, no trailing backslash, lower case. */
static const char *glob_rule(const char *s)
{
    size_t n = strlen(s);

    if (n == 0)
        return "must not be empty";
    if (n > SL_LFP_MAX_PATTERN)
        return "longer than 512 bytes";
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return "holds a control character";
        if (*p >= 'A' && *p <= 'Z')
            return "must be lower case (Glue names are lower case: it could never match)";
        if (*p == '\\') {
            if (!p[1])
                return "ends with a backslash";
            p++;
        } else if (*p == '[') {
            const char *q = p + 1;
            if (*q == '!' || *q == '^')
                q++;
            if (*q == ']')
                q++;
            while (*q && *q != ']')
                q++;
            if (!*q)
                return "has a '[' without its ']'";
            p = q;
        }
    }
    return NULL;
}

/* 12 digits, or arn:<partition>:iam::<12 digits>:(role|user)/[path/]name. */
static const char *principal_rule(const char *s)
{
    static const char *const parts[] = {
        "arn:aws:iam::", "arn:aws-cn:iam::", "arn:aws-us-gov:iam::"};
    size_t n = strlen(s), pl = 0;
    const char *p;

    if (n == 12 && strspn(s, "0123456789") == 12)
        return NULL;
    if (n > 255)
        return "longer than 255 characters (DataLakePrincipalIdentifier)";
    for (size_t i = 0; i < SL_ARRAY_LEN(parts); i++)
        if (strncmp(s, parts[i], strlen(parts[i])) == 0)
            pl = strlen(parts[i]);
    if (!pl)
        return "must be a 12-digit AWS account id or an IAM role or user ARN "
               "(arn:aws:iam::<account>:role/<name>)";
    p = s + pl;
    if (strspn(p, "0123456789") != 12 || p[12] != ':')
        return "the ARN's account must be 12 digits";
    p += 13;
    if (strncmp(p, "role/", 5) == 0)
        p += 5;
    else if (strncmp(p, "user/", 5) == 0)
        p += 5;
    else
        return "the ARN must name a role/ or a user/";
    if (!*p || p[strlen(p) - 1] == '/')
        return "the ARN has no role or user name";
    for (; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("+=,.@_-/", *p)))
            return "the ARN's name may hold only letters, digits and + = , . @ _ - /";
    return NULL;
}

/*
 * A name template: literal a-z 0-9 _ - and the variables in `vars` (NULL-terminated, without
 * braces). Returns NULL or the rule broken (in buf when it names the variable).
 */
static const char *template_rule(const char *s, const char *const *vars, char *buf, size_t blen)
{
    if (!*s)
        return "must not be empty";
    if (strlen(s) > SL_LF_NAME_MAX)
        return "longer than 255 characters (Glue's limit)";
    for (const char *p = s; *p; p++) {
        if (*p == '{') {
            const char *e = strchr(p, '}');
            int ok = 0;
            if (!e)
                return "has a '{' without its '}'";
            for (size_t i = 0; vars[i]; i++)
                ok = ok || ((size_t)(e - p - 1) == strlen(vars[i]) &&
                            strncmp(p + 1, vars[i], strlen(vars[i])) == 0);
            if (!ok) {
                size_t k = 0;
                snprintf(buf, blen, "unknown variable {%.*s}; allowed:", (int)(e - p - 1), p + 1);
                for (size_t i = 0; vars[i]; i++) {
                    k = strlen(buf);
                    snprintf(buf + k, blen - k, " {%s}", vars[i]);
                }
                return buf;
            }
            p = e;
        } else if (*p == '}') {
            return "has a '}' without its '{'";
        } else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' ||
                     *p == '-')) {
            return "literal text may hold only a-z, 0-9, _ and -";
        }
    }
    return NULL;
}

static int has_control(const char *s)
{
    for (; *s; s++)
        if (((unsigned char)*s < 0x20 && !strchr("\t\r\n", *s)) || *s == 0x7f)
            return 1;
    return 0;
}

/* --- readers ---------------------------------------------------------------------------------- */

static const cJSON *member(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

/* A string member: NULL (and an error when required) when absent or not a string. */
static const char *get_str(ctx *c, const cJSON *o, const char *k, int required)
{
    const cJSON *v = member(o, k);
    size_t old;

    if (!v) {
        if (required) {
            old = push_key(c, k);
            perr(c, "required");
            pop(c, old);
        }
        return NULL;
    }
    if (!cJSON_IsString(v) || !v->valuestring) {
        old = push_key(c, k);
        perr(c, "must be a string");
        pop(c, old);
        return NULL;
    }
    return v->valuestring;
}

static char *dup_or_oom(ctx *c, const char *s)
{
    char *d = strdup(s);
    if (!d)
        poom(c);
    return d;
}

/*
 * Reads an array of strings at o[k] into *out (sorted and deduplicated when `sort`), each
 * checked by rule (NULL: any); duplicates are errors. Returns the array item or NULL.
 */
static const cJSON *get_strv(ctx *c, const cJSON *o, const char *k, size_t min, size_t max,
                             const char *(*rule)(const char *), sl_lf_strv *out)
{
    const cJSON *a = member(o, k);
    size_t old = push_key(c, k), i = 0;
    const cJSON *e;

    if (!a)
        goto out;
    if (!cJSON_IsArray(a)) {
        perr(c, "must be an array of strings");
        a = NULL;
        goto out;
    }
    if ((size_t)cJSON_GetArraySize(a) < min || (size_t)cJSON_GetArraySize(a) > max) {
        perr(c, "must hold %zu to %zu items", min, max);
        if ((size_t)cJSON_GetArraySize(a) > max)
            goto out;
    }
    cJSON_ArrayForEach(e, a)
    {
        size_t o2 = push_index(c, i++);
        const char *why;
        if (!cJSON_IsString(e) || !e->valuestring) {
            perr(c, "must be a string");
        } else if (rule && (why = rule(e->valuestring)) != NULL) {
            perr(c, "%s", why);
        } else if (sl_lf_strv_find(out, e->valuestring) >= 0) {
            perr(c, "\"%.64s\" is listed twice", e->valuestring);
        } else if (sl_lf_strv_push(out, e->valuestring) != 0) {
            poom(c);
        }
        pop(c, o2);
    }
out:
    pop(c, old);
    return a;
}

static int get_bool(ctx *c, const cJSON *o, const char *k, int def)
{
    const cJSON *v = member(o, k);

    if (!v)
        return def;
    if (!cJSON_IsBool(v)) {
        size_t old = push_key(c, k);
        perr(c, "must be true or false");
        pop(c, old);
        return def;
    }
    return cJSON_IsTrue(v);
}

static const char *tag_key_rule(const char *s)
{
    return tag_text_rule(s, SL_LF_TAG_KEY_MAX, 0);
}

static const char *tag_value_rule(const char *s)
{
    if (strchr(s, '*'))
        return "must not hold '*' (a wildcard in Lake Formation expressions)";
    return tag_text_rule(s, SL_LF_TAG_VALUE_MAX, 0);
}

/* $.tags: {"key": ["v", ...], ...} */
static void parse_tags(ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    const cJSON *t = member(doc, "tags");
    size_t old = push_key(c, "tags"), n = 0;
    const cJSON *m;

    if (!cJSON_IsObject(t)) {
        perr(c, t ? "must be an object of LF-Tag keys to their values" : "required");
        goto out;
    }
    cJSON_ArrayForEach(m, t) n++;
    check_members(c, t, NULL);
    if (n < 1 || n > SL_LFP_MAX_TAG_KEYS) {
        perr(c, "must declare 1 to %d LF-Tags", SL_LFP_MAX_TAG_KEYS);
        if (n > SL_LFP_MAX_TAG_KEYS)
            goto out;
    }
    for (m = t->child; m; m = m->next) {
        size_t o2 = push_key(c, m->string);
        const char *why = tag_key_rule(m->string);
        sl_lf_strv vals = {0};
        pop(c, o2);
        if (why) {
            o2 = push_key(c, m->string);
            perr(c, "LF-Tag key %s", why);
            pop(c, o2);
        }
        if (sl_lf_tags_find(p->tags, p->ntags, m->string))
            continue; /* given twice: check_members said so */
        if (!cJSON_IsArray(m)) {
            o2 = push_key(c, m->string);
            perr(c, "must be an array of the LF-Tag's values");
            pop(c, o2);
            continue;
        }
        get_strv(c, t, m->string, 1, SL_LFP_MAX_TAG_VALUES, tag_value_rule, &vals);
        if (!why && sl_lf_tags_add(&p->tags, &p->ntags, m->string, (const char *const *)vals.v,
                                   vals.n) != 0)
            poom(c);
        sl_lf_strv_cleanup(&vals);
    }
out:
    pop(c, old);
}

/* {"key": "value"} pairs at o[k], each key and value declared in p->tags. */
static void parse_pairs(ctx *c, const cJSON *o, const char *k, const sl_lfpolicy *p, int required,
                        sl_lf_tag **out, size_t *nout)
{
    const cJSON *t = member(o, k), *m;
    size_t old = push_key(c, k);

    if (!t) {
        if (required)
            perr(c, "required");
        goto out;
    }
    if (!cJSON_IsObject(t) || !t->child) {
        perr(c, "must be a non-empty object of LF-Tag keys to one value each");
        goto out;
    }
    check_members(c, t, NULL);
    for (m = t->child; m; m = m->next) {
        size_t o2 = push_key(c, m->string);
        const sl_lf_tag *def = sl_lf_tags_find(p->tags, p->ntags, m->string);
        const char *v = m->valuestring;
        if (!def)
            perr(c, "LF-Tag \"%.128s\" is not declared in $.tags", m->string);
        else if (!cJSON_IsString(m) || !v)
            perr(c, "must be a string (a resource carries one value per LF-Tag)");
        else if (sl_lf_strv_find(&def->values, v) < 0)
            perr(c, "\"%.256s\" is not a value of LF-Tag \"%s\"", v, def->key);
        else if (!sl_lf_tags_find(*out, *nout, m->string) &&
                 sl_lf_tags_add(out, nout, m->string, &v, 1) != 0)
            poom(c);
        pop(c, o2);
    }
out:
    pop(c, old);
}

static const char *const db_vars[] = {"cluster", NULL};
static const char *const filter_vars[] = {"cluster", "database", "table", NULL};

/* $.database: {"name": "<template>", "tags": {"key": "value"}} */
static void parse_database(ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    static const char *const allowed[] = {"name", "tags", NULL};
    const cJSON *d = member(doc, "database");
    size_t old = push_key(c, "database");
    const char *name, *why;
    char buf[256];

    if (!cJSON_IsObject(d)) {
        perr(c, d ? "must be an object" : "required");
        goto out;
    }
    check_members(c, d, allowed);
    name = get_str(c, d, "name", 1);
    if (name) {
        size_t o2 = push_key(c, "name");
        if ((why = template_rule(name, db_vars, buf, sizeof(buf))) != NULL)
            perr(c, "%s", why);
        else
            p->database = dup_or_oom(c, name);
        pop(c, o2);
    }
    parse_pairs(c, d, "tags", p, 1, &p->db_tags, &p->ndb_tags);
out:
    pop(c, old);
}

/* $.tables[i].filter */
static void parse_filter(ctx *c, const cJSON *f, const sl_lfpolicy *p, sl_lfp_rule *r)
{
    static const char *const allowed[] = {"name", "include", "exclude", "row_filter", NULL};
    const char *name, *rf, *why;
    const cJSON *inc, *exc;
    size_t old = push_key(c, "filter");
    char buf[256];

    if (!cJSON_IsObject(f)) {
        perr(c, "must be an object");
        goto out;
    }
    check_members(c, f, allowed);
    name = get_str(c, f, "name", 1);
    if (name) {
        size_t o2 = push_key(c, "name");
        if ((why = template_rule(name, filter_vars, buf, sizeof(buf))) != NULL)
            perr(c, "%s", why);
        else if (strncmp(name, p->filter_prefix, strlen(p->filter_prefix)) != 0)
            perr(c,
                 "must start with the filter prefix \"%s\" ($.filter_prefix): that is how "
                 "snaplake knows the filters it made",
                 p->filter_prefix);
        else
            r->filter_name = dup_or_oom(c, name);
        pop(c, o2);
    }
    inc = get_strv(c, f, "include", 1, SL_LFP_MAX_COLUMNS, name_rule, &r->columns);
    exc = member(f, "exclude");
    if (inc && exc) {
        size_t o2 = push_key(c, "exclude");
        perr(c, "give include or exclude, not both");
        pop(c, o2);
    } else if (exc) {
        get_strv(c, f, "exclude", 1, SL_LFP_MAX_COLUMNS, name_rule, &r->columns);
    }
    r->has_include = inc != NULL;
    sl_lf_strv_sort(&r->columns);
    rf = get_str(c, f, "row_filter", 0);
    if (rf) {
        size_t o2 = push_key(c, "row_filter");
        size_t n = strlen(rf);
        if (n == 0 || n > SL_LF_PREDICATE_MAX)
            perr(c, "must be 1 to 2048 bytes (PredicateString); leave it out for all rows");
        else if (strspn(rf, " \t\r\n") == n)
            perr(c, "must not be blank");
        else if (has_control(rf))
            perr(c, "holds a control character other than tab, CR, LF");
        else
            r->row_filter = dup_or_oom(c, rf);
        pop(c, o2);
    }
    if (!inc && !exc && !member(f, "row_filter"))
        perr(c, "a filter needs include, exclude or row_filter (else it filters nothing)");
out:
    pop(c, old);
}

static int is_catch_all(const char *m)
{
    return strcmp(m, "*") == 0 || strcmp(m, "*.*") == 0;
}

/* $.tables[i] */
static void parse_rule(ctx *c, const cJSON *o, const sl_lfpolicy *p, sl_lfp_rule *r)
{
    static const char *const allowed[] = {"match",   "tags",          "filter",
                                          "private", "allow_columns", NULL};
    const char *m, *why;
    int kinds = 0;

    if (!cJSON_IsObject(o)) {
        perr(c, "must be an object");
        return;
    }
    check_members(c, o, allowed);
    m = get_str(c, o, "match", 1);
    if (m) {
        size_t o2 = push_key(c, "match");
        if ((why = glob_rule(m)) != NULL)
            perr(c, "%s", why);
        else
            r->match = dup_or_oom(c, m);
        pop(c, o2);
    }
    kinds = !!member(o, "tags") + !!member(o, "filter") + !!member(o, "private");
    if (kinds != 1)
        perr(c, "give exactly one of tags, filter, private");
    if (member(o, "tags")) {
        r->kind = SL_LFP_RULE_TAGS;
        parse_pairs(c, o, "tags", p, 1, &r->tags, &r->ntags);
    } else if (member(o, "filter")) {
        r->kind = SL_LFP_RULE_FILTER;
        parse_filter(c, member(o, "filter"), p, r);
    } else if (member(o, "private")) {
        size_t o2 = push_key(c, "private");
        r->kind = SL_LFP_RULE_PRIVATE;
        if (!cJSON_IsTrue(member(o, "private")))
            perr(c, "must be true (leave the rule out to not decide here)");
        pop(c, o2);
    }
    get_strv(c, o, "allow_columns", 1, SL_LFP_MAX_COLUMNS, glob_rule, &r->allow_columns);
    if (member(o, "allow_columns") &&
        (r->kind == SL_LFP_RULE_PRIVATE || (r->kind == SL_LFP_RULE_FILTER && r->has_include))) {
        size_t o2 = push_key(c, "allow_columns");
        perr(c, "only for tables whose new columns are shared automatically (a tags rule or an "
                "exclude filter)");
        pop(c, o2);
    }
}

static void parse_rules(ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    const cJSON *a = member(doc, "tables"), *e;
    size_t old = push_key(c, "tables"), i = 0, n;

    if (!a)
        goto out;
    if (!cJSON_IsArray(a)) {
        perr(c, "must be an array of table rules");
        goto out;
    }
    n = (size_t)cJSON_GetArraySize(a);
    if (n > SL_LFP_MAX_RULES) {
        perr(c, "at most %d table rules", SL_LFP_MAX_RULES);
        goto out;
    }
    p->rules = calloc(n ? n : 1, sizeof(*p->rules));
    if (!p->rules) {
        poom(c);
        goto out;
    }
    cJSON_ArrayForEach(e, a)
    {
        size_t o2 = push_index(c, i);
        sl_lfp_rule *r = &p->rules[i];
        parse_rule(c, e, p, r);
        p->nrules = ++i;
        /* First match wins: a rule after a catch-all, or a repeated match, is dead. */
        for (size_t j = 0; r->match && j + 1 < i; j++) {
            const char *pm = p->rules[j].match;
            if (!pm)
                continue;
            if (strcmp(pm, r->match) == 0 || is_catch_all(pm)) {
                size_t o3 = push_key(c, "match");
                perr(c, "never used: $.tables[%zu] (\"%.64s\") matches first", j, pm);
                pop(c, o3);
                break;
            }
        }
        pop(c, o2);
    }
out:
    pop(c, old);
}

/* $.grants[i].tags: {"key": ["v", ...]} -> a TAG_POLICY resource */
static void parse_expr(ctx *c, const cJSON *t, const sl_lfpolicy *p, sl_lf_resource *r)
{
    size_t old = push_key(c, "tags");

    r->kind = SL_LF_RES_TAG_POLICY;
    if (!cJSON_IsObject(t) || !t->child) {
        perr(c, "must be a non-empty object of LF-Tag keys to the values granted");
        goto out;
    }
    check_members(c, t, NULL);
    for (const cJSON *m = t->child; m; m = m->next) {
        const sl_lf_tag *def = sl_lf_tags_find(p->tags, p->ntags, m->string);
        sl_lf_strv vals = {0};
        size_t o2;
        if (!def) {
            o2 = push_key(c, m->string);
            perr(c, "LF-Tag \"%.128s\" is not declared in $.tags", m->string);
            pop(c, o2);
            continue;
        }
        if (cJSON_IsString(m) && m->valuestring) {
            if (sl_lf_strv_push(&vals, m->valuestring) != 0)
                poom(c);
        } else {
            get_strv(c, t, m->string, 1, SL_LF_VALUES_PER_CALL, NULL, &vals);
        }
        o2 = push_key(c, m->string);
        if (!cJSON_IsString(m) && !cJSON_IsArray(m))
            perr(c, "must be a value or an array of values");
        for (size_t i = 0; i < vals.n; i++)
            if (sl_lf_strv_find(&def->values, vals.v[i]) < 0)
                perr(c, "\"%.256s\" is not a value of LF-Tag \"%s\"", vals.v[i], def->key);
        pop(c, o2);
        if (vals.n && !sl_lf_tags_find(r->expr, r->nexpr, m->string) &&
            sl_lf_tags_add(&r->expr, &r->nexpr, m->string, (const char *const *)vals.v, vals.n) !=
                0)
            poom(c);
        sl_lf_strv_cleanup(&vals);
    }
    sl_lf_resource_normalize(r);
out:
    pop(c, old);
}

/* $.grants[i] */
static void parse_grant(ctx *c, const cJSON *o, const sl_lfpolicy *p, sl_lfp_grant *g)
{
    static const char *const allowed[] = {"principal",   "tags",         "filters", "resource_type",
                                          "permissions", "grant_option", NULL};
    const char *pr, *why, *rt;
    const cJSON *perms, *e;
    size_t i = 0;

    if (!cJSON_IsObject(o)) {
        perr(c, "must be an object");
        return;
    }
    check_members(c, o, allowed);
    pr = get_str(c, o, "principal", 1);
    if (pr) {
        size_t o2 = push_key(c, "principal");
        if ((why = principal_rule(pr)) != NULL)
            perr(c, "%s", why);
        else
            g->principal = dup_or_oom(c, pr);
        pop(c, o2);
    }
    if (!!member(o, "tags") + !!member(o, "filters") != 1)
        perr(c, "give exactly one target: tags (an LF-Tag expression) or filters");
    if (member(o, "tags")) {
        g->target = SL_LFP_TARGET_TAGS;
        parse_expr(c, member(o, "tags"), p, &g->expr);
    } else if (member(o, "filters")) {
        g->target = SL_LFP_TARGET_FILTERS;
        get_strv(c, o, "filters", 1, SL_LFP_MAX_PATTERNS, glob_rule, &g->filters);
    }
    rt = get_str(c, o, "resource_type", 0);
    if (rt) {
        size_t o2 = push_key(c, "resource_type");
        if (g->target != SL_LFP_TARGET_TAGS)
            perr(c, "only for a tags target");
        else if (strcmp(rt, "database") == 0)
            g->expr.policy_database = 1;
        else if (strcmp(rt, "table") != 0)
            perr(c, "must be \"table\" or \"database\"");
        pop(c, o2);
    }
    perms = member(o, "permissions");
    {
        size_t o2 = push_key(c, "permissions");
        if (!perms)
            perr(c, "required");
        else if (!cJSON_IsArray(perms) || !perms->child)
            perr(c, "must be a non-empty array of \"SELECT\", \"DESCRIBE\"");
        const cJSON *plist = cJSON_IsArray(perms) ? perms : NULL;
        cJSON_ArrayForEach(e, plist)
        {
            size_t o3 = push_index(c, i++);
            unsigned bit = cJSON_IsString(e) ? sl_lf_perm_bit(e->valuestring) : 0;
            if (bit != SL_LF_P_SELECT && bit != SL_LF_P_DESCRIBE)
                perr(c, "must be \"SELECT\" or \"DESCRIBE\"");
            else if (g->perms & bit)
                perr(c, "listed twice");
            else if (bit == SL_LF_P_SELECT && g->expr.policy_database)
                perr(c, "SELECT does not apply to databases (resource_type \"database\")");
            else
                g->perms |= bit;
            pop(c, o3);
        }
        pop(c, o2);
    }
    g->grant_option = get_bool(c, o, "grant_option", 0);
}

static void parse_grants(ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    const cJSON *a = member(doc, "grants"), *e;
    size_t old = push_key(c, "grants"), i = 0, n;

    if (!cJSON_IsArray(a)) {
        perr(c, a ? "must be an array of grants" : "required");
        goto out;
    }
    n = (size_t)cJSON_GetArraySize(a);
    if (n < 1 || n > SL_LFP_MAX_GRANTS) {
        perr(c, "must hold 1 to %d grants", SL_LFP_MAX_GRANTS);
        goto out;
    }
    p->grants = calloc(n, sizeof(*p->grants));
    if (!p->grants) {
        poom(c);
        goto out;
    }
    cJSON_ArrayForEach(e, a)
    {
        size_t o2 = push_index(c, i);
        parse_grant(c, e, p, &p->grants[i]);
        p->ngrants = ++i;
        pop(c, o2);
    }
out:
    pop(c, old);
}

/* --- cross checks ----------------------------------------------------------------------------- */

static void cross_check(ctx *c, const sl_lfpolicy *p)
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
        size_t old = push_key(c, "database");
        size_t o2 = push_key(c, "tags");
        sl_lf_resource_describe(&g->expr, what, sizeof(what));
        perr(c,
             "the database's default tags are granted on tables by $.grants[%zu] (%s): "
             "every table would be shared by inheritance; share tables through table rules",
             i, what);
        pop(c, o2);
        pop(c, old);
    }
    for (size_t i = 0; i < p->ngrants; i++) {
        const sl_lfp_grant *g = &p->grants[i];
        size_t nfilter_rules = 0;
        if (g->target != SL_LFP_TARGET_FILTERS)
            continue;
        size_t old = push_key(c, "grants");
        push_index(c, i);
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
                size_t o2 = push_key(c, "grant_option");
                perr(c,
                     "a grant with grant option needs an include list on the filters it "
                     "targets; $.tables[%zu].filter has none (Lake Formation's rule)",
                     j);
                pop(c, o2);
            }
        }
        if (nfilter_rules == 0) {
            size_t o2 = push_key(c, "filters");
            perr(c, "no table rule defines a filter");
            pop(c, o2);
        }
        pop(c, old);
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

static const char *prefix_rule(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return "must be 1 to 64 characters";
    if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return "may hold only a-z, 0-9, _ and -";
    return NULL;
}

static void parse_doc(ctx *c, const cJSON *doc, sl_lfpolicy *p)
{
    static const char *const allowed[] = {
        "version", "catalog_id",        "tags",          "database", "tables",
        "grants",  "sensitive_columns", "filter_prefix", "prune",    NULL};
    const cJSON *v = member(doc, "version");
    const char *s, *why;

    check_members(c, doc, allowed);
    if (!v || !cJSON_IsNumber(v) || v->valuedouble != 1) {
        size_t old = push_key(c, "version");
        perr(c, v ? "must be 1" : "required (1)");
        pop(c, old);
    }
    s = get_str(c, doc, "catalog_id", 0);
    if (s) {
        size_t old = push_key(c, "catalog_id");
        if (strlen(s) != 12 || strspn(s, "0123456789") != 12)
            perr(c, "must be a 12-digit AWS account id");
        else
            p->catalog_id = dup_or_oom(c, s);
        pop(c, old);
    }
    s = get_str(c, doc, "filter_prefix", 0);
    if (s) {
        size_t old = push_key(c, "filter_prefix");
        if ((why = prefix_rule(s)) != NULL)
            perr(c, "%s", why);
        pop(c, old);
    }
    p->filter_prefix = dup_or_oom(c, s && !prefix_rule(s) ? s : SL_LFP_DEFAULT_PREFIX);
    if (!p->filter_prefix)
        return;
    parse_tags(c, doc, p);
    parse_database(c, doc, p);
    parse_rules(c, doc, p);
    parse_grants(c, doc, p);
    get_strv(c, doc, "sensitive_columns", 0, SL_LFP_MAX_PATTERNS, glob_rule, &p->sensitive);
    p->prune = get_bool(c, doc, "prune", 0);
    cross_check(c, p);
}

int sl_lfpolicy_parse(const char *buf, size_t len, sl_lfpolicy *out, size_t *nerrors, char *err,
                      size_t errlen)
{
    sl_lfpolicy p;
    cJSON *doc = NULL;
    ctx c;
    int rc = -1;

    memset(&p, 0, sizeof(p));
    memset(&c, 0, sizeof(c));
    snprintf(c.path, sizeof(c.path), "$");
    c.plen = 1;
    sl_buf_init(&c.errs, 64 * 1024);
    if (nerrors)
        *nerrors = 0;
    if (!buf || len > SL_LFP_MAX_BYTES) {
        perr(&c, "the document is over %zu bytes", SL_LFP_MAX_BYTES);
        goto out;
    }
    doc = sl_json_parse_exact(buf, len);
    if (!doc)
        perr(&c, "not one JSON value");
    else if (!cJSON_IsObject(doc))
        perr(&c, "must be a JSON object");
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

const sl_lfp_rule *sl_lfpolicy_rule_for(const sl_lfpolicy *p, const char *database,
                                        const char *table)
{
    char name[2 * SL_LF_NAME_MAX + 2];

    if (!database || !table)
        return NULL;
    snprintf(name, sizeof(name), "%s.%s", database, table);
    for (size_t i = 0; i < p->nrules; i++)
        if (p->rules[i].match && fnmatch(p->rules[i].match, name, 0) == 0)
            return &p->rules[i];
    return NULL;
}

int sl_lfpolicy_expand(const char *tmpl, const char *cluster, const char *database,
                       const char *table, char *out, size_t outlen)
{
    static const char *const names[] = {"cluster", "database", "table"};
    const char *vals[] = {cluster, database, table};
    size_t o = 0;

    if (!tmpl || outlen == 0)
        return -1;
    for (const char *p = tmpl; *p;) {
        const char *src = p;
        size_t n = 1;
        if (*p == '{') {
            const char *e = strchr(p, '}');
            size_t i;
            if (!e)
                return -1;
            for (i = 0; i < SL_ARRAY_LEN(names); i++)
                if ((size_t)(e - p - 1) == strlen(names[i]) &&
                    strncmp(p + 1, names[i], strlen(names[i])) == 0)
                    break;
            if (i == SL_ARRAY_LEN(names) || !vals[i])
                return -1;
            src = vals[i];
            n = strlen(src);
            p = e + 1;
        } else {
            p++;
        }
        if (o + n >= outlen)
            return -1;
        memcpy(out + o, src, n);
        o += n;
    }
    out[o] = '\0';
    return o ? 0 : -1;
}

int sl_lfpolicy_expr_matches(const sl_lf_resource *expr, const sl_lf_tag *tags, size_t ntags)
{
    if (!expr || expr->kind != SL_LF_RES_TAG_POLICY || expr->nexpr == 0)
        return 0;
    for (size_t i = 0; i < expr->nexpr; i++) {
        const sl_lf_tag *t = sl_lf_tags_find(tags, ntags, expr->expr[i].key);
        if (!t || t->values.n == 0 || sl_lf_strv_find(&expr->expr[i].values, t->values.v[0]) < 0)
            return 0;
    }
    return 1;
}
