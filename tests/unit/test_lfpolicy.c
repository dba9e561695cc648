/* test_lfpolicy.c - the share policy: the documented example parses into the typed struct;
 * every kind of error is reported, all at once, each with its JSON path; templates, rule
 * precedence (first match) and LF-Tag expression matching. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lfpolicy.h"

/* The example of docs/share-policy.md (the seed's setup). */
static const char example[] =
    "{\n"
    "  \"version\": 1,\n"
    "  \"tags\": {\"confidential\": [\"sensitive\", \"private\", \"public\"]},\n"
    "  \"database\": {\"name\": \"snaplake_{cluster}\", \"tags\": {\"confidential\": "
    "\"private\"}},\n"
    "  \"tables\": [\n"
    "    {\"match\": \"*.shop_public_audit_log\", \"private\": true},\n"
    "    {\"match\": \"*.shop_public_customers\", \"filter\": {\"name\": "
    "\"snaplake_{table}_no_email\",\n"
    "       \"include\": [\"id\", \"name\", \"country\", \"created_at\"]}},\n"
    "    {\"match\": \"*\", \"tags\": {\"confidential\": \"public\"}}\n"
    "  ],\n"
    "  \"grants\": [\n"
    "    {\"principal\": \"444455556666\", \"tags\": {\"confidential\": [\"public\"]},\n"
    "     \"permissions\": [\"SELECT\", \"DESCRIBE\"]},\n"
    "    {\"principal\": \"444455556666\", \"filters\": [\"*\"], \"permissions\": [\"SELECT\"],\n"
    "     \"grant_option\": true}\n"
    "  ],\n"
    "  \"sensitive_columns\": [\"*email*\", \"*phone*\", \"*password*\", \"*token*\"],\n"
    "  \"prune\": false\n"
    "}\n";

static void test_example_parses(void)
{
    sl_lfpolicy p;
    char err[16384];
    size_t nerr = 99;
    const sl_lfp_rule *r;

    int rc = sl_lfpolicy_parse(example, strlen(example), &p, &nerr, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "%s\n", err);
    CHECK_INT(rc, 0);
    CHECK_INT(nerr, 0);
    CHECK(p.catalog_id == NULL);
    CHECK_INT(p.ntags, 1);
    CHECK_STR(p.tags[0].key, "confidential");
    CHECK_INT(p.tags[0].values.n, 3);
    CHECK_STR(p.tags[0].values.v[2], "public"); /* document order kept */
    CHECK_STR(p.database, "snaplake_{cluster}");
    CHECK_INT(p.ndb_tags, 1);
    CHECK_STR(p.db_tags[0].values.v[0], "private");
    CHECK_INT(p.nrules, 3);
    CHECK_INT(p.rules[0].kind, SL_LFP_RULE_PRIVATE);
    CHECK_INT(p.rules[1].kind, SL_LFP_RULE_FILTER);
    CHECK(p.rules[1].has_include);
    CHECK_INT(p.rules[1].columns.n, 4);
    CHECK_STR(p.rules[1].columns.v[0], "country"); /* sorted */
    CHECK(p.rules[1].row_filter == NULL);
    CHECK_STR(p.rules[1].filter_name, "snaplake_{table}_no_email");
    CHECK_INT(p.rules[2].kind, SL_LFP_RULE_TAGS);
    CHECK_INT(p.ngrants, 2);
    CHECK_STR(p.grants[0].principal, "444455556666");
    CHECK_INT(p.grants[0].target, SL_LFP_TARGET_TAGS);
    CHECK_INT(p.grants[0].expr.kind, SL_LF_RES_TAG_POLICY);
    CHECK_INT(p.grants[0].perms, SL_LF_P_SELECT | SL_LF_P_DESCRIBE);
    CHECK(!p.grants[0].grant_option);
    CHECK_INT(p.grants[1].target, SL_LFP_TARGET_FILTERS);
    CHECK(p.grants[1].grant_option);
    CHECK_INT(p.sensitive.n, 4);
    CHECK_STR(p.filter_prefix, "snaplake_");
    CHECK(!p.prune);

    /* First match wins. */
    r = sl_lfpolicy_rule_for(&p, "snaplake_orders", "shop_public_audit_log");
    CHECK(r == &p.rules[0]);
    r = sl_lfpolicy_rule_for(&p, "snaplake_orders", "shop_public_customers");
    CHECK(r == &p.rules[1]);
    r = sl_lfpolicy_rule_for(&p, "snaplake_orders", "shop_public_orders");
    CHECK(r == &p.rules[2]);
    sl_lfpolicy_cleanup(&p);
    sl_lfpolicy_cleanup(&p);
    sl_lfpolicy_cleanup(NULL);
}

/* Each error expected in the many-errors document, by its path and a word of its rule. */
static const struct {
    const char *path, *word;
} expected_errors[] = {
    {"$.version", "must be 1"},
    {"$.colour", "unknown member"},
    {"$.catalog_id", "12-digit"},
    {"$.tags.Confidential", "lower case"},
    {"$.tags.confidential[1]", "listed twice"},
    {"$.tags.confidential[2]", "'*'"},
    {"$.tags.region", "array"},
    {"$.database.name", "unknown variable {table}"},
    {"$.database.tags.confidential", "not a value"},
    {"$.tables[0].match", "without its ']'"},
    {"$.tables[0]", "exactly one of tags, filter, private"},
    {"$.tables[1].filter.name", "filter prefix"},
    {"$.tables[1].filter.include[0]", "lower case"},
    {"$.tables[1].filter.exclude", "not both"},
    {"$.tables[2].private", "must be true"},
    {"$.tables[3].tags.owner", "not declared"},
    {"$.tables[4].match", "never used: $.tables[3]"},
    {"$.tables[5].filter", "needs include, exclude or row_filter"},
    {"$.tables[6].filter.row_filter", "2048"},
    {"$.grants[0].principal", "12-digit"},
    {"$.grants[0].permissions[0]", "\"SELECT\" or \"DESCRIBE\""},
    {"$.grants[0].permissions[2]", "listed twice"},
    {"$.grants[1].tags.confidential", "not a value"},
    {"$.grants[1].grant_option", "true or false"},
    {"$.grants[2]", "exactly one target"},
    {"$.grants[3].principal", "role/ or a user/"},
    {"$.grants[3].permissions[0]", "does not apply to databases"},
    {"$.grants[4].grant_option", "$.tables[7].filter has none"},
    {"$.sensitive_columns[0]", "lower case"},
    {"$.prune", "true or false"},
    {"$.filter_prefix", "a-z"},
};

static void test_every_error_at_once(void)
{
    char *doc = NULL;
    char big[2100];
    char err[16384];
    sl_lfpolicy p;
    size_t nerr = 0, lines = 1;
    sl_buf b;

    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    sl_buf_init(&b, 0);
    CHECK(
        sl_buf_appendf(
            &b,
            "{\"version\": 2, \"colour\": 1, \"catalog_id\": \"12\", \"filter_prefix\": \"Bad!\",\n"
            " \"tags\": {\"Confidential\": [\"x\"],\n"
            "          \"confidential\": [\"public\", \"public\", \"a*\", \"private\"],\n"
            "          \"region\": \"eu\"},\n"
            " \"database\": {\"name\": \"db_{table}\", \"tags\": {\"confidential\": \"nope\"}},\n"
            " \"tables\": [\n"
            "  {\"match\": \"[abc\", \"tags\": {\"confidential\": \"public\"}, \"private\": "
            "true},\n"
            "  {\"match\": \"*.a\", \"filter\": {\"name\": \"x_{table}\", \"include\": [\"Email\"],"
            " \"exclude\": [\"b\"]}},\n"
            "  {\"match\": \"*.b\", \"private\": false},\n"
            "  {\"match\": \"*.c\", \"tags\": {\"owner\": \"me\"}},\n"
            "  {\"match\": \"*.c\", \"private\": true},\n"
            "  {\"match\": \"*.d\", \"filter\": {\"name\": \"snaplake_d\"}},\n"
            "  {\"match\": \"*.e\", \"filter\": {\"name\": \"snaplake_e\", \"row_filter\": "
            "\"%s\"}},\n"
            "  {\"match\": \"*.f\", \"filter\": {\"name\": \"snaplake_f\", \"exclude\": "
            "[\"email\"]}}\n"
            " ],\n"
            " \"grants\": [\n"
            "  {\"principal\": \"4444\", \"tags\": {\"confidential\": \"public\"},"
            " \"permissions\": [\"ALL\", \"SELECT\", \"SELECT\"]},\n"
            "  {\"principal\": \"444455556666\", \"tags\": {\"confidential\": [\"secret\"]},"
            " \"permissions\": [\"SELECT\"], \"grant_option\": \"yes\"},\n"
            "  {\"principal\": \"444455556666\", \"permissions\": [\"SELECT\"]},\n"
            "  {\"principal\": \"arn:aws:iam::444455556666:group/x\", \"tags\": {\"confidential\":"
            " \"public\"}, \"resource_type\": \"database\", \"permissions\": [\"SELECT\"]},\n"
            "  {\"principal\": \"444455556666\", \"filters\": [\"*.f\"], \"permissions\": "
            "[\"SELECT\"], \"grant_option\": true}\n"
            " ],\n"
            " \"sensitive_columns\": [\"*EMAIL*\"], \"prune\": 1}\n",
            big) == 0);
    doc = sl_buf_steal(&b);
    CHECK(sl_lfpolicy_parse(doc, strlen(doc), &p, &nerr, err, sizeof(err)) != 0);
    for (const char *q = err; *q; q++)
        lines += *q == '\n';
    for (size_t i = 0; i < SL_ARRAY_LEN(expected_errors); i++) {
        char want[256];
        const char *line;
        int found = 0;
        snprintf(want, sizeof(want), "%s: ", expected_errors[i].path);
        for (line = err; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
            size_t n = strcspn(line, "\n");
            char one[1024];
            snprintf(one, sizeof(one), "%.*s", (int)n, line);
            if (strncmp(one, want, strlen(want)) == 0 && strstr(one, expected_errors[i].word))
                found = 1;
        }
        if (!found)
            fprintf(stderr, "missing: %s ... %s\nin:\n%s\n", expected_errors[i].path,
                    expected_errors[i].word, err);
        CHECK(found);
    }
    CHECK_INT(lines, nerr);
    free(doc);
}

static void test_document_level_errors(void)
{
    static const struct {
        const char *doc, *want;
    } cases[] = {
        {"", "$: not one JSON value"},
        {"[1]", "$: must be a JSON object"},
        {"{} {}", "$: not one JSON value"},
        {"{\"version\":1,\"tags\":{\"a\\u0000b\":[\"x\"]}}", "$: a string holds a NUL"},
        {"{}", "$.version: required"},
        {"{}", "$.tags: required"},
        {"{}", "$.database: required"},
        {"{}", "$.grants: required"},
        {"{\"version\":1,\"tags\":{},\"database\":{\"name\":\"d\",\"tags\":{}},\"grants\":[]}",
         "$.tags: must declare 1 to 50"},
        {"{\"version\":1,\"grants\":[]}", "$.grants: must hold 1 to 100"},
        {"{\"version\":1,\"version\":1}", "$.version: member given twice"},
    };
    char err[16384];
    sl_lfpolicy p;

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        CHECK(sl_lfpolicy_parse(cases[i].doc, strlen(cases[i].doc), &p, NULL, err, sizeof(err)) !=
              0);
        if (!strstr(err, cases[i].want))
            fprintf(stderr, "case %zu: want \"%s\" in:\n%s\n", i, cases[i].want, err);
        CHECK(strstr(err, cases[i].want) != NULL);
    }
    /* Over the size cap: refused before parsing. */
    CHECK(sl_lfpolicy_parse("{}", SL_LFP_MAX_BYTES + 1, &p, NULL, err, sizeof(err)) != 0);
    CHECK(strstr(err, "over") != NULL);
}

static void test_database_default_must_not_be_granted(void)
{
    static const char doc[] =
        "{\"version\":1,\"tags\":{\"confidential\":[\"private\",\"public\"]},"
        "\"database\":{\"name\":\"d\",\"tags\":{\"confidential\":\"public\"}},"
        "\"grants\":[{\"principal\":\"444455556666\",\"tags\":{\"confidential\":[\"public\"]},"
        "\"permissions\":[\"SELECT\"]},"
        "{\"principal\":\"444455556666\",\"tags\":{\"confidential\":\"public\"},"
        "\"resource_type\":\"database\",\"permissions\":[\"DESCRIBE\"]}]}";
    char err[16384];
    sl_lfpolicy p;
    size_t nerr;

    CHECK(sl_lfpolicy_parse(doc, strlen(doc), &p, &nerr, err, sizeof(err)) != 0);
    CHECK_INT(nerr, 1); /* the DATABASE grant is fine: it does not share tables */
    CHECK(strstr(err, "$.database.tags: the database's default tags are granted on tables by "
                      "$.grants[0]") != NULL);
}

static void test_principals(void)
{
    static const struct {
        const char *principal;
        int ok;
    } cases[] = {
        {"444455556666", 1},
        {"arn:aws:iam::444455556666:role/analytics", 1},
        {"arn:aws:iam::444455556666:role/team/analytics-reader", 1},
        {"arn:aws-cn:iam::444455556666:user/bob", 1},
        {"44445555666", 0},
        {"4444555566667", 0},
        {"arn:aws:iam::44445555666:role/x", 0},
        {"arn:aws:iam::444455556666:role/", 0},
        {"arn:aws:iam::444455556666:policy/x", 0},
        {"arn:aws:s3:::bucket", 0},
        {"arn:aws:iam::444455556666:role/a b", 0},
    };
    char doc[1024], err[16384];
    sl_lfpolicy p;

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        int rc;
        snprintf(doc, sizeof(doc),
                 "{\"version\":1,\"tags\":{\"c\":[\"a\",\"b\"]},\"database\":{\"name\":\"d\","
                 "\"tags\":{\"c\":\"a\"}},\"grants\":[{\"principal\":\"%s\",\"tags\":{\"c\":"
                 "\"b\"},\"permissions\":[\"SELECT\"]}]}",
                 cases[i].principal);
        rc = sl_lfpolicy_parse(doc, strlen(doc), &p, NULL, err, sizeof(err));
        if ((rc == 0) != cases[i].ok)
            fprintf(stderr, "principal %s: rc %d %s\n", cases[i].principal, rc, err);
        CHECK_INT(rc == 0, cases[i].ok);
        if (rc == 0)
            sl_lfpolicy_cleanup(&p);
        else
            CHECK(strstr(err, "$.grants[0].principal: ") != NULL);
    }
}

static void test_limits(void)
{
    char key[200], doc[1024], err[16384];
    sl_lfpolicy p;

    /* 128 characters is a valid key, 129 is not (LFTagKey max 128). */
    for (int n = 128; n <= 129; n++) {
        memset(key, 'k', (size_t)n);
        key[n] = '\0';
        snprintf(doc, sizeof(doc),
                 "{\"version\":1,\"tags\":{\"%s\":[\"a\",\"b\"]},\"database\":{\"name\":\"d\","
                 "\"tags\":{\"%s\":\"a\"}},\"grants\":[{\"principal\":\"444455556666\",\"tags\":"
                 "{\"%s\":\"b\"},\"permissions\":[\"SELECT\"]}]}",
                 key, key, key);
        int rc = sl_lfpolicy_parse(doc, strlen(doc), &p, NULL, err, sizeof(err));
        CHECK_INT(rc == 0, n == 128);
        if (rc == 0)
            sl_lfpolicy_cleanup(&p);
        else
            CHECK(strstr(err, "longer than 128") != NULL);
    }
}

static void test_expand(void)
{
    char out[64];

    CHECK(sl_lfpolicy_expand("snaplake_{cluster}", "orders", NULL, NULL, out, sizeof(out)) == 0);
    CHECK_STR(out, "snaplake_orders");
    CHECK(sl_lfpolicy_expand("snaplake_{database}_{table}", "c", "db", "t", out, sizeof(out)) == 0);
    CHECK_STR(out, "snaplake_db_t");
    CHECK(sl_lfpolicy_expand("x_{table}", "c", "db", NULL, out, sizeof(out)) != 0);
    CHECK(sl_lfpolicy_expand("x_{nope}", "c", "db", "t", out, sizeof(out)) != 0);
    CHECK(sl_lfpolicy_expand("x_{table", "c", "db", "t", out, sizeof(out)) != 0);
    CHECK(sl_lfpolicy_expand("{cluster}", "", NULL, NULL, out, sizeof(out)) != 0);
    CHECK(sl_lfpolicy_expand("0123456789{cluster}", "0123456789", NULL, NULL, out, 20) != 0);
    CHECK(sl_lfpolicy_expand("0123456789{cluster}", "012345678", NULL, NULL, out, 20) == 0);
}

static void test_expr_matches(void)
{
    sl_lf_resource e;
    sl_lf_tag *tags = NULL;
    size_t n = 0;
    const char *pub_priv[] = {"public", "private"}, *pub = "public", *sens = "sensitive",
               *eu = "eu";

    memset(&e, 0, sizeof(e));
    e.kind = SL_LF_RES_TAG_POLICY;
    CHECK(sl_lf_tags_add(&e.expr, &e.nexpr, "confidential", pub_priv, 2) == 0);
    CHECK(sl_lf_tags_add(&e.expr, &e.nexpr, "region", &eu, 1) == 0);
    CHECK(sl_lf_tags_add(&tags, &n, "confidential", &pub, 1) == 0);
    CHECK(!sl_lfpolicy_expr_matches(&e, tags, n)); /* region missing: AND */
    CHECK(sl_lf_tags_add(&tags, &n, "region", &eu, 1) == 0);
    CHECK(sl_lfpolicy_expr_matches(&e, tags, n));
    free(tags[0].values.v[0]);
    tags[0].values.v[0] = strdup(sens);
    CHECK(!sl_lfpolicy_expr_matches(&e, tags, n)); /* value not among the ORs */
    sl_lf_tags_free(tags, n);
    sl_lf_resource_cleanup(&e);
}

static const sl_test tests[] = {
    SL_TEST(test_example_parses),
    SL_TEST(test_every_error_at_once),
    SL_TEST(test_document_level_errors),
    SL_TEST(test_database_default_must_not_be_granted),
    SL_TEST(test_principals),
    SL_TEST(test_limits),
    SL_TEST(test_expand),
    SL_TEST(test_expr_matches),
};

SL_TEST_MAIN(tests)
