/* lfpolicy_rules.c - see lfpolicy.h: the rule of each kind of name or value in the policy,
   and the pure helpers the share stage applies it with (rule lookup, templates, expressions). */
#include "lfpolicy.h"

#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

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
const char *sl_lfpolicy_check_name(const char *s)
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
const char *sl_lfpolicy_check_glob(const char *s)
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
const char *sl_lfpolicy_check_principal(const char *s)
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
const char *sl_lfpolicy_check_template(const char *s, const char *const *vars, char *buf,
                                       size_t blen)
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

const char *sl_lfpolicy_check_tag_key(const char *s)
{
    return tag_text_rule(s, SL_LF_TAG_KEY_MAX, 0);
}

const char *sl_lfpolicy_check_tag_value(const char *s)
{
    if (strchr(s, '*'))
        return "must not hold '*' (a wildcard in Lake Formation expressions)";
    return tag_text_rule(s, SL_LF_TAG_VALUE_MAX, 0);
}

const char *sl_lfpolicy_check_prefix(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return "must be 1 to 64 characters";
    if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_-") != n)
        return "may hold only a-z, 0-9, _ and -";
    return NULL;
}

const char *sl_lfpolicy_check_predicate(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > SL_LF_PREDICATE_MAX)
        return "must be 1 to 2048 bytes (PredicateString); leave it out for all rows";
    if (strspn(s, " \t\r\n") == n)
        return "must not be blank";
    if (has_control(s))
        return "holds a control character other than tab, CR, LF";
    return NULL;
}

/* --- helpers --------------------------------------------------------------------------------- */

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
