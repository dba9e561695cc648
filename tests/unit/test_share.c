/* test_share.c - the share stage's pure logic: the desired state of a cluster from the policy
 * and its Glue tables, the schema-drift guard, and the plan (desired minus live) with its text
 * and its request bodies: first run, replay (zero steps), drift with and without prune,
 * batches of 20, LF-Tag values only ever added. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "share.h"

#define ACCOUNT "111122223333"
#define ANALYTICS "444455556666"

static const char policy_json[] =
    "{\"version\": 1,"
    " \"tags\": {\"confidential\": [\"sensitive\", \"private\", \"public\"]},"
    " \"database\": {\"name\": \"snaplake_{cluster}\", \"tags\": {\"confidential\": \"private\"}},"
    " \"tables\": ["
    "  {\"match\": \"*.shop_public_audit_log\", \"private\": true},"
    "  {\"match\": \"*.shop_public_customers\", \"filter\": {\"name\": "
    "\"snaplake_{table}_no_email\", \"include\": [\"id\", \"name\", \"country\", \"created_at\"]}},"
    "  {\"match\": \"*\", \"tags\": {\"confidential\": \"public\"}}],"
    " \"grants\": ["
    "  {\"principal\": \"" ANALYTICS "\", \"tags\": {\"confidential\": [\"public\"]},"
    "   \"permissions\": [\"SELECT\", \"DESCRIBE\"]},"
    "  {\"principal\": \"" ANALYTICS "\", \"filters\": [\"*\"], \"permissions\": [\"SELECT\"],"
    "   \"grant_option\": true}],"
    " \"sensitive_columns\": [\"*email*\", \"*phone*\", \"*password*\", \"*token*\"]%s}";

static const char *const orders_cols[] = {"id", "customer_id", "total", "date"};
static const char *const customers_cols[] = {"id", "name", "email", "country", "created_at"};
static const char *const audit_cols[] = {"id", "actor", "token"};
static const char *const users_cols[] = {"id", "login", "email", "phone"};
static const char *const users_prev[] = {"id", "login"};

static const sl_share_table_in tables[] = {
    {"shop_public_orders", orders_cols, 4, NULL, 0, 0},
    {"shop_public_customers", customers_cols, 5, NULL, 0, 0},
    {"shop_public_audit_log", audit_cols, 3, NULL, 0, 0},
    {"shop_public_users", users_cols, 4, users_prev, 2, 1},
};

static int load_policy(sl_lfpolicy *p, const char *extra)
{
    char doc[8192], err[16384];

    snprintf(doc, sizeof(doc), policy_json, extra);
    if (sl_lfpolicy_parse(doc, strlen(doc), p, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "policy: %s\n", err);
        return -1;
    }
    return 0;
}

static int desire(const char *extra, sl_lfpolicy *p, sl_share_desired *d)
{
    char err[SL_ERRLEN];

    if (load_policy(p, extra) != 0)
        return -1;
    if (sl_share_desire(p, "orders", ACCOUNT, tables, SL_ARRAY_LEN(tables), d, err, sizeof(err)) !=
        0) {
        fprintf(stderr, "desire: %s\n", err);
        sl_lfpolicy_cleanup(p);
        return -1;
    }
    return 0;
}

/*
 * With SL_SHARE_DUMP_BODIES=<file>, each request body the tests below build is appended to the
 * file as "<REST path>\t<JSON>" lines, so that tests/integration/test_lf_bodies.py checks them
 * with botocore's own parameter validator over the lakeformation model: something that is not
 * our own code.
 */
static void dump(const char *path, const cJSON *body)
{
    const char *file = getenv("SL_SHARE_DUMP_BODIES");
    char *s;
    FILE *f;

    if (!file || !*file || !body || !path)
        return;
    s = cJSON_PrintUnformatted(body);
    f = fopen(file, "a");
    if (f && s)
        fprintf(f, "%s\t%s\n", path, s);
    if (f)
        fclose(f);
    free(s);
}

static void dump_plan(const sl_share_plan *plan)
{
    for (size_t i = 0; i < plan->nsteps; i++) {
        const char *path = NULL;
        cJSON *body = sl_share_step_request(&plan->steps[i], ACCOUNT, &path);
        dump(path, body);
        cJSON_Delete(body);
    }
}

static void test_desired_state(void)
{
    sl_lfpolicy p;
    sl_share_desired d;

    CHECK(desire("", &p, &d) == 0);
    CHECK_STR(d.database, "snaplake_orders");
    CHECK_STR(d.catalog_id, ACCOUNT);
    CHECK_INT(d.ntables, 4);
    CHECK_INT(d.tables[0].cls, SL_SHARE_TAGGED);
    CHECK(d.tables[0].exposed && !d.tables[0].held);
    CHECK_STR(d.tables[0].tags[0].values.v[0], "public");
    CHECK_INT(d.tables[1].cls, SL_SHARE_FILTERED);
    CHECK(!d.tables[1].exposed); /* an include list: new columns stay out */
    CHECK_STR(d.tables[1].tags[0].values.v[0], "private");
    CHECK_INT(d.tables[2].cls, SL_SHARE_UNSHARED);
    CHECK(!d.tables[2].held); /* token column, but nothing shares it */
    CHECK_STR(d.tables[2].tags[0].values.v[0], "private");
    /* users: email and phone are new since the last share: held, withdrawn to private. */
    CHECK(d.tables[3].held);
    CHECK_STR(d.tables[3].tags[0].values.v[0], "private");
    CHECK(strstr(d.tables[3].cause, "snaplake_orders.shop_public_users") != NULL);
    CHECK(strstr(d.tables[3].cause, "email, phone") != NULL);
    CHECK_INT(d.nheld, 1);
    CHECK_INT(d.nfilters, 1);
    CHECK_STR(d.filters[0].name, "snaplake_shop_public_customers_no_email");
    CHECK_STR(d.filters[0].catalog_id, ACCOUNT);
    CHECK(!d.filters[0].column_wildcard && d.filters[0].row_filter == NULL);
    CHECK_INT(d.filters[0].columns.n, 4);
    CHECK_STR(d.filters[0].columns.v[0], "country");
    CHECK_INT(d.ngrants, 2);
    CHECK_INT(d.grants[0].res.kind, SL_LF_RES_TAG_POLICY);
    CHECK_STR(d.grants[0].res.catalog_id, ACCOUNT);
    CHECK_INT(d.grants[0].perms, SL_LF_P_SELECT | SL_LF_P_DESCRIBE);
    CHECK_INT(d.grants[0].grantable, 0);
    CHECK_INT(d.grants[1].res.kind, SL_LF_RES_FILTER);
    CHECK_STR(d.grants[1].res.name, "snaplake_shop_public_customers_no_email");
    CHECK_INT(d.grants[1].grantable, SL_LF_P_SELECT);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

static void test_desired_holds_what_it_cannot_share(void)
{
    static const char *const cust_no_country[] = {"id", "name", "email", "created_at"};
    const sl_share_table_in in[] = {{"shop_public_customers", cust_no_country, 4, NULL, 0, 0}};
    sl_lfpolicy p;
    sl_share_desired d;
    char err[SL_ERRLEN];

    CHECK(load_policy(&p, "") == 0);
    CHECK(sl_share_desire(&p, "orders", ACCOUNT, in, 1, &d, err, sizeof(err)) == 0);
    CHECK(d.tables[0].held);
    CHECK(strstr(d.tables[0].cause, "included column(s) not in the table: country") != NULL);
    CHECK_INT(d.nfilters, 0);
    CHECK_INT(d.ngrants, 1); /* the filter grant has nothing to target */
    sl_share_desired_cleanup(&d);
    /* A hyphenated cluster id gives the database the crawl stage registers (the catalog's
       naming), not snaplake_orders-prod. */
    CHECK(sl_share_desire(&p, "orders-prod", ACCOUNT, in, 1, &d, err, sizeof(err)) == 0);
    CHECK_STR(d.database, "snaplake_orders_prod");
    CHECK_STR(d.tables[0].name, "shop_public_customers");
    sl_share_desired_cleanup(&d);
    /* A cluster that does not give a Glue name (over 255 characters), and no catalog at all. */
    {
        char longc[300];
        memset(longc, 'a', sizeof(longc) - 1);
        longc[sizeof(longc) - 1] = '\0';
        CHECK(sl_share_desire(&p, longc, ACCOUNT, in, 1, &d, err, sizeof(err)) != 0);
        CHECK(strstr(err, "snaplake_{cluster}") != NULL);
    }
    CHECK(sl_share_desire(&p, "orders", NULL, in, 1, &d, err, sizeof(err)) != 0);
    {
        const sl_share_table_in twice[] = {in[0], in[0]};
        CHECK(sl_share_desire(&p, "orders", ACCOUNT, twice, 2, &d, err, sizeof(err)) != 0);
        CHECK(strstr(err, "listed twice") != NULL);
    }
    sl_lfpolicy_cleanup(&p);
}

/* A grant with grant option that meets an exclude filter only at run time (the policy check
   sees no overlap between "*.users" and "db1.*") holds the table instead of failing the call. */
static void test_grant_option_needs_include_at_run_time(void)
{
    static const char doc[] =
        "{\"version\":1,\"tags\":{\"c\":[\"a\",\"b\"]},\"database\":{\"name\":\"db1\","
        "\"tags\":{\"c\":\"a\"}},\"tables\":[{\"match\":\"db1.*\",\"filter\":{\"name\":"
        "\"snaplake_{table}\",\"exclude\":[\"email\"]}}],\"grants\":[{\"principal\":"
        "\"" ANALYTICS "\",\"filters\":[\"*.users\"],\"permissions\":[\"SELECT\"],"
        "\"grant_option\":true}]}";
    static const char *const cols[] = {"id", "email"};
    const sl_share_table_in in[] = {{"users", cols, 2, NULL, 0, 0},
                                    {"orders", cols, 2, NULL, 0, 0}};
    char err[16384];
    sl_lfpolicy p;
    sl_share_desired d;

    CHECK(sl_lfpolicy_parse(doc, strlen(doc), &p, NULL, err, sizeof(err)) == 0);
    CHECK(sl_share_desire(&p, "x", ACCOUNT, in, 2, &d, err, sizeof(err)) == 0);
    CHECK(d.tables[0].held);
    CHECK(strstr(d.tables[0].cause, "grant option targets its filter") != NULL);
    CHECK(!d.tables[1].held);
    CHECK_INT(d.ngrants, 0);
    CHECK_INT(d.nheld, 1);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

static void test_guard(void)
{
    static const struct {
        const char *prev, *cur, *want;
        int has_prev;
    } cases[] = {
        {"id,login", "id,login,email", "email", 1},
        {"id,email", "id,email", "", 1},                       /* not new */
        {"", "id,email,user_phone", "email,user_phone", 0},    /* first share: all new */
        {"id", "id,email_verified,api_token", "api_token", 1}, /* allowed by the rule */
        {"id", "id,notes", "", 1},
    };
    sl_lfpolicy p;
    sl_lfp_rule rule;

    CHECK(load_policy(&p, "") == 0);
    memset(&rule, 0, sizeof(rule));
    CHECK(sl_lf_strv_push(&rule.allow_columns, "*_verified") == 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char prevb[128], curb[128], got[256] = "";
        const char *prev[8], *cur[8];
        size_t np = 0, nc = 0;
        sl_lf_strv hits = {0};
        snprintf(prevb, sizeof(prevb), "%s", cases[i].prev);
        snprintf(curb, sizeof(curb), "%s", cases[i].cur);
        for (char *t = strtok(prevb, ","); t; t = strtok(NULL, ","))
            prev[np++] = t;
        for (char *t = strtok(curb, ","); t; t = strtok(NULL, ","))
            cur[nc++] = t;
        CHECK(sl_share_guard(&p, &rule, prev, np, cases[i].has_prev, cur, nc, &hits) == 0);
        for (size_t k = 0; k < hits.n; k++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s", k ? "," : "", hits.v[k]);
        sl_lf_strv_cleanup(&hits);
        if (strcmp(got, cases[i].want) != 0)
            fprintf(stderr, "guard case %zu: got \"%s\"\n", i, got);
        CHECK_STR(got, cases[i].want);
    }
    sl_lf_strv_cleanup(&rule.allow_columns);
    sl_lfpolicy_cleanup(&p);
}

/* Adds a real-shaped answer to the live state. */
static int feed(sl_lflive *l, sl_lflive_kind kind, const char *table, const char *json)
{
    char err[SL_ERRLEN], next[64];
    cJSON *j = cJSON_Parse(json);
    int rc = -1;

    if (!j)
        return -1;
    switch (kind) {
    case SL_LFLIVE_LF_TAGS:
        rc = sl_lflive_add_lf_tags(l, j, next, sizeof(next), err, sizeof(err));
        break;
    case SL_LFLIVE_DB_TAGS:
    case SL_LFLIVE_TABLE_TAGS:
        rc = sl_lflive_add_resource_tags(l, table, j, err, sizeof(err));
        break;
    case SL_LFLIVE_FILTERS:
        rc = sl_lflive_add_filters(l, j, next, sizeof(next), err, sizeof(err));
        break;
    case SL_LFLIVE_PERMISSIONS:
        rc = sl_lflive_add_permissions(l, j, next, sizeof(next), err, sizeof(err));
        break;
    case SL_LFLIVE_LF_TAG:
        rc = sl_lflive_add_lf_tag(l, j, err, sizeof(err));
        break;
    case SL_LFLIVE_FAILURES:
        break;
    }
    if (rc != 0)
        fprintf(stderr, "feed: %s\n", err);
    cJSON_Delete(j);
    return rc;
}

#define FILTER_RES                                                                                 \
    "{\"DataCellsFilter\": {\"TableCatalogId\": \"" ACCOUNT "\", \"DatabaseName\": "               \
    "\"snaplake_orders\", \"TableName\": \"shop_public_customers\", \"Name\": "                    \
    "\"snaplake_shop_public_customers_no_email\"}}"

/* The live state after the first run was applied, as Lake Formation answers it. */
static int converged(sl_lflive *l)
{
    sl_lflive_init(l);
    return feed(l, SL_LFLIVE_LF_TAGS, NULL,
                "{\"LFTags\": [{\"CatalogId\": \"" ACCOUNT "\", \"TagKey\": \"confidential\", "
                "\"TagValues\": [\"public\", \"private\", \"sensitive\"]}]}") ||
           feed(l, SL_LFLIVE_DB_TAGS, NULL,
                "{\"LFTagOnDatabase\": [{\"CatalogId\": \"" ACCOUNT "\", \"TagKey\": "
                "\"confidential\", \"TagValues\": [\"private\"]}]}") ||
           feed(l, SL_LFLIVE_TABLE_TAGS, "shop_public_orders",
                "{\"LFTagsOnTable\": [{\"CatalogId\": \"" ACCOUNT "\", \"TagKey\": "
                "\"confidential\", \"TagValues\": [\"public\"]}], \"LFTagsOnColumns\": []}") ||
           feed(l, SL_LFLIVE_FILTERS, NULL,
                "{\"DataCellsFilters\": [{\"TableCatalogId\": \"" ACCOUNT "\", "
                "\"DatabaseName\": \"snaplake_orders\", \"TableName\": "
                "\"shop_public_customers\", \"Name\": \"snaplake_shop_public_customers_no_email\", "
                "\"RowFilter\": {\"AllRowsWildcard\": {}}, \"ColumnNames\": [\"id\", \"name\", "
                "\"country\", \"created_at\"], \"VersionId\": \"3\"}]}") ||
           feed(l, SL_LFLIVE_PERMISSIONS, NULL,
                "{\"PrincipalResourcePermissions\": ["
                "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"" ANALYTICS "\"}, "
                "\"Resource\": {\"LFTagPolicy\": {\"CatalogId\": \"" ACCOUNT "\", "
                "\"ResourceType\": \"TABLE\", \"Expression\": [{\"TagKey\": \"confidential\", "
                "\"TagValues\": [\"public\"]}]}}, \"Permissions\": [\"DESCRIBE\", \"SELECT\"], "
                "\"PermissionsWithGrantOption\": []},"
                "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"" ANALYTICS "\"}, "
                "\"Resource\": " FILTER_RES ", \"Permissions\": [\"SELECT\"], "
                "\"PermissionsWithGrantOption\": [\"SELECT\"]}]}");
}

static char *plan_text(const sl_share_plan *p)
{
    sl_buf b;

    sl_buf_init(&b, 0);
    if (sl_share_plan_format(p, &b) != 0) {
        sl_buf_cleanup(&b);
        return NULL;
    }
    return sl_buf_steal(&b);
}

static void test_first_run_plan(void)
{
    sl_lfpolicy p;
    sl_share_desired d;
    sl_lflive live;
    sl_share_plan plan;
    char err[SL_ERRLEN], *text;
    sl_share_counts c;

    CHECK(desire("", &p, &d) == 0);
    sl_lflive_init(&live);
    CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
    CHECK_INT(plan.nsteps, 5);
    CHECK_INT(plan.steps[0].op, SL_SHARE_CREATE_LF_TAG);
    CHECK_STR(plan.steps[0].tag_key, "confidential");
    CHECK_INT(plan.steps[0].values.n, 3);
    CHECK_INT(plan.steps[1].op, SL_SHARE_ADD_LF_TAGS);
    CHECK_INT(plan.steps[1].res.kind, SL_LF_RES_DATABASE);
    CHECK_STR(plan.steps[1].pairs[0].values.v[0], "private");
    /* Only orders needs a tag of its own: the others inherit private from the database. */
    CHECK_INT(plan.steps[2].op, SL_SHARE_ADD_LF_TAGS);
    CHECK_STR(plan.steps[2].res.table, "shop_public_orders");
    CHECK_STR(plan.steps[2].pairs[0].values.v[0], "public");
    CHECK_INT(plan.steps[3].op, SL_SHARE_CREATE_FILTER);
    CHECK_INT(plan.steps[4].op, SL_SHARE_GRANT);
    CHECK_INT(plan.steps[4].nentries, 2);
    CHECK_INT(plan.ndrift, 1); /* the held table */
    CHECK(!plan.drift[0].removed);
    c = sl_share_plan_counts(&plan);
    CHECK_INT(c.create, 4);
    CHECK_INT(c.update, 2);
    CHECK_INT(c.remove, 0);
    CHECK_INT(c.drift, 1);
    text = plan_text(&plan);
    CHECK(text != NULL);
    CHECK(strstr(text, "+ create LF-Tag confidential: sensitive, private, public\n") != NULL);
    CHECK(strstr(text, "~ tag Database snaplake_orders: confidential=private\n") != NULL);
    CHECK(strstr(text, "~ tag Table snaplake_orders.shop_public_orders: confidential=public\n"));
    CHECK(strstr(text, "+ create data cells filter snaplake_orders.shop_public_customers/"
                       "snaplake_shop_public_customers_no_email: columns country, created_at, "
                       "id, name; rows all\n") != NULL);
    CHECK(strstr(text, "+ grant " ANALYTICS " SELECT, DESCRIBE on LFTagPolicy TABLE "
                       "(confidential=public)\n") != NULL);
    CHECK(strstr(text, "+ grant " ANALYTICS " SELECT (grant option: SELECT) on DataCellsFilter "
                       "snaplake_orders.shop_public_customers/"
                       "snaplake_shop_public_customers_no_email\n") != NULL);
    CHECK(strstr(text, "! drift: table snaplake_orders.shop_public_users held back") != NULL);
    CHECK(strstr(text, "Plan: 4 to create, 2 to update, 0 to remove, 1 drift.\n") != NULL);
    free(text);
    sl_share_plan_cleanup(&plan);
    sl_lflive_cleanup(&live);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

static void test_replay_plans_nothing(void)
{
    sl_lfpolicy p;
    sl_share_desired d;
    sl_lflive live;
    sl_share_plan plan;
    char err[SL_ERRLEN], *text;

    CHECK(desire("", &p, &d) == 0);
    CHECK(converged(&live) == 0);
    CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
    text = plan_text(&plan);
    if (plan.nsteps)
        fprintf(stderr, "%s", text);
    CHECK_INT(plan.nsteps, 0);
    CHECK(strstr(text, "No changes.") != NULL);
    free(text);
    sl_share_plan_cleanup(&plan);
    sl_lflive_cleanup(&live);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

/* Grants and filters outside the policy: drift always, removed only with prune and only when
   snaplake made them. */
static void test_drift_and_prune(void)
{
    static const char extra[] =
        "{\"PrincipalResourcePermissions\": ["
        "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"999988887777\"}, \"Resource\": "
        "{\"Table\": {\"CatalogId\": \"" ACCOUNT "\", \"DatabaseName\": \"snaplake_orders\", "
        "\"Name\": \"shop_public_orders\"}}, \"Permissions\": [\"SELECT\"]},"
        "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"888877776666\"}, \"Resource\": "
        "{\"Table\": {\"CatalogId\": \"" ACCOUNT "\", \"DatabaseName\": \"snaplake_orders\", "
        "\"Name\": \"shop_public_orders\"}}, \"Permissions\": [\"SELECT\"]},"
        "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"" ANALYTICS "\"}, \"Resource\": "
        "{\"Table\": {\"CatalogId\": \"" ACCOUNT "\", \"DatabaseName\": \"other_db\", "
        "\"Name\": \"t\"}}, \"Permissions\": [\"SELECT\"]}]}";
    static const char filters[] =
        "{\"DataCellsFilters\": ["
        "{\"TableCatalogId\": \"" ACCOUNT "\", \"DatabaseName\": \"snaplake_orders\", "
        "\"TableName\": \"shop_public_orders\", \"Name\": \"snaplake_old\", \"RowFilter\": "
        "{\"FilterExpression\": \"total > 0\"}, \"ColumnWildcard\": {}},"
        "{\"TableCatalogId\": \"" ACCOUNT "\", \"DatabaseName\": \"snaplake_orders\", "
        "\"TableName\": \"shop_public_orders\", \"Name\": \"manual_x\", \"ColumnNames\": "
        "[\"id\"]}]}";
    static const char users_public[] =
        "{\"LFTagsOnTable\": [{\"TagKey\": \"confidential\", \"TagValues\": [\"public\"]}, "
        "{\"TagKey\": \"owner\", \"TagValues\": [\"crm\"]}]}";
    sl_lf_resource tbl;
    sl_lf_strv owned = {0};
    char *key;

    memset(&tbl, 0, sizeof(tbl));
    tbl.kind = SL_LF_RES_TABLE;
    tbl.database = "snaplake_orders";
    tbl.table = "shop_public_orders";
    key = sl_lf_grant_key("999988887777", &tbl);
    CHECK(key != NULL);
    CHECK_STR(key, "[\"999988887777\",\"Table\",\"snaplake_orders\",\"shop_public_orders\"]");
    CHECK(sl_lf_strv_push(&owned, key) == 0);
    free(key);

    for (int prune = 0; prune <= 1; prune++) {
        sl_lfpolicy p;
        sl_share_desired d;
        sl_lflive live;
        sl_share_plan plan;
        char err[SL_ERRLEN], *text;
        sl_share_counts c;

        CHECK(desire(prune ? ", \"prune\": true" : "", &p, &d) == 0);
        CHECK(converged(&live) == 0);
        CHECK(feed(&live, SL_LFLIVE_PERMISSIONS, NULL, extra) == 0);
        CHECK(feed(&live, SL_LFLIVE_FILTERS, NULL, filters) == 0);
        CHECK(feed(&live, SL_LFLIVE_TABLE_TAGS, "shop_public_users", users_public) == 0);
        CHECK(sl_share_plan_make(&d, &live, &owned, &plan, err, sizeof(err)) == 0);
        text = plan_text(&plan);
        CHECK(text != NULL);
        c = sl_share_plan_counts(&plan);
        dump_plan(&plan);
        /* Always shown: both foreign grants on the database's table (not other_db's), both
           filters, the held table. */
        CHECK(strstr(text,
                     "! drift: grant 999988887777 SELECT on Table "
                     "snaplake_orders.shop_public_orders that the policy does not name") != NULL);
        CHECK(strstr(text, "grant 888877776666 SELECT on Table") != NULL);
        CHECK(strstr(text, "other_db") == NULL);
        CHECK(strstr(text, "! drift: Table snaplake_orders.shop_public_users carries LF-Tag "
                           "owner=crm that the policy does not name\n") != NULL);
        CHECK(strstr(text, "data cells filter snaplake_orders.shop_public_orders/manual_x that "
                           "the policy does not name (not made by snaplake: left alone)") != NULL);
        if (!prune) {
            CHECK_INT(plan.nsteps, 0);
            CHECK_INT(c.drift, 6);
            CHECK(strstr(text, "snaplake_old that the policy does not name (prune is off)"));
            CHECK(strstr(text, "(left as it is: prune is off)") != NULL);
        } else {
            /* revoke the owned grant, delete snaplake_old, withdraw users to private. */
            CHECK_INT(plan.nsteps, 3);
            CHECK_INT(plan.steps[0].op, SL_SHARE_REVOKE);
            CHECK_INT(plan.steps[0].nentries, 1);
            CHECK_STR(plan.steps[0].entries[0].principal, "999988887777");
            CHECK_INT(plan.steps[0].entries[0].perms, SL_LF_P_SELECT);
            CHECK_INT(plan.steps[1].op, SL_SHARE_DELETE_FILTER);
            CHECK_STR(plan.steps[1].filter.name, "snaplake_old");
            CHECK_INT(plan.steps[2].op, SL_SHARE_ADD_LF_TAGS);
            CHECK_STR(plan.steps[2].res.table, "shop_public_users");
            CHECK_STR(plan.steps[2].pairs[0].values.v[0], "private");
            CHECK_INT(c.remove, 2);
            CHECK_INT(c.drift, 3); /* 888877776666's grant, manual_x and the owner tag stay */
            CHECK(strstr(text, "- revoke 999988887777 SELECT on Table "
                               "snaplake_orders.shop_public_orders\n") != NULL);
            CHECK(strstr(text, "- delete data cells filter "
                               "snaplake_orders.shop_public_orders/snaplake_old\n") != NULL);
        }
        free(text);
        sl_share_plan_cleanup(&plan);
        sl_lflive_cleanup(&live);
        sl_share_desired_cleanup(&d);
        sl_lfpolicy_cleanup(&p);
    }
    sl_lf_strv_cleanup(&owned);
}

/* A grant snaplake made on an LF-Tag key the policy no longer declares (the operator dropped
   the key with its grant) is still the plan's: drift, revoked with prune. The same grant to
   someone else, on a key the policy does not know, is none of its business. */
static void test_grant_on_dropped_tag_key_is_revoked(void)
{
    static const char extra[] =
        "{\"PrincipalResourcePermissions\": ["
        "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"" ANALYTICS "\"}, \"Resource\": "
        "{\"LFTagPolicy\": {\"CatalogId\": \"" ACCOUNT "\", \"ResourceType\": \"TABLE\", "
        "\"Expression\": [{\"TagKey\": \"share\", \"TagValues\": [\"yes\"]}]}}, "
        "\"Permissions\": [\"SELECT\"]},"
        "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"999988887777\"}, \"Resource\": "
        "{\"LFTagPolicy\": {\"CatalogId\": \"" ACCOUNT "\", \"ResourceType\": \"TABLE\", "
        "\"Expression\": [{\"TagKey\": \"share\", \"TagValues\": [\"yes\"]}]}}, "
        "\"Permissions\": [\"SELECT\"]}]}";
    sl_lf_strv owned = {0};

    CHECK(sl_lf_strv_push(&owned, "[\"" ANALYTICS
                                  "\",\"LFTagPolicy\",\"TABLE\",[[\"share\",[\"yes\"]]]]") == 0);
    for (int prune = 0; prune <= 1; prune++) {
        sl_lfpolicy p;
        sl_share_desired d;
        sl_lflive live;
        sl_share_plan plan;
        char err[SL_ERRLEN], *text;

        CHECK(desire(prune ? ", \"prune\": true" : "", &p, &d) == 0);
        CHECK(converged(&live) == 0);
        CHECK(feed(&live, SL_LFLIVE_PERMISSIONS, NULL, extra) == 0);
        CHECK(sl_share_plan_make(&d, &live, &owned, &plan, err, sizeof(err)) == 0);
        text = plan_text(&plan);
        CHECK(text != NULL);
        CHECK(strstr(text, "999988887777") == NULL);
        CHECK(strstr(text, "grant " ANALYTICS " SELECT on LFTagPolicy TABLE (share=yes) that "
                           "the policy does not name") != NULL);
        if (!prune) {
            CHECK_INT(plan.nsteps, 0);
        } else {
            CHECK_INT(plan.nsteps, 1);
            CHECK_INT(plan.steps[0].op, SL_SHARE_REVOKE);
            CHECK_INT(plan.steps[0].nentries, 1);
            CHECK_STR(plan.steps[0].entries[0].principal, ANALYTICS);
            CHECK_INT(plan.steps[0].entries[0].perms, SL_LF_P_SELECT);
            dump_plan(&plan);
        }
        free(text);
        sl_share_plan_cleanup(&plan);
        sl_lflive_cleanup(&live);
        sl_share_desired_cleanup(&d);
        sl_lfpolicy_cleanup(&p);
    }
    sl_lf_strv_cleanup(&owned);
}

/* Missing permissions only: a grant option is added on top of an existing SELECT, and an
   extra DESCRIBE on a resource the policy names is drift. */
static void test_grant_differences(void)
{
    static const char perms[] =
        "{\"PrincipalResourcePermissions\": ["
        "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"" ANALYTICS "\"}, "
        "\"Resource\": {\"LFTagPolicy\": {\"CatalogId\": \"" ACCOUNT "\", "
        "\"ResourceType\": \"TABLE\", \"Expression\": [{\"TagKey\": \"confidential\", "
        "\"TagValues\": [\"public\"]}]}}, \"Permissions\": [\"SELECT\"]},"
        "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"" ANALYTICS "\"}, "
        "\"Resource\": " FILTER_RES ", \"Permissions\": [\"SELECT\", \"DESCRIBE\"]}]}";
    sl_lfpolicy p;
    sl_share_desired d;
    sl_lflive live;
    sl_share_plan plan;
    char err[SL_ERRLEN], *text;

    CHECK(desire("", &p, &d) == 0);
    CHECK(converged(&live) == 0);
    sl_lf_grants_free(live.grants, live.ngrants);
    live.grants = NULL;
    live.ngrants = 0;
    CHECK(feed(&live, SL_LFLIVE_PERMISSIONS, NULL, perms) == 0);
    CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
    CHECK_INT(plan.nsteps, 1);
    CHECK_INT(plan.steps[0].op, SL_SHARE_GRANT);
    CHECK_INT(plan.steps[0].nentries, 2);
    CHECK_INT(plan.steps[0].entries[0].perms, SL_LF_P_DESCRIBE);
    CHECK_INT(plan.steps[0].entries[0].grantable, 0);
    CHECK_INT(plan.steps[0].entries[1].perms, SL_LF_P_SELECT);
    CHECK_INT(plan.steps[0].entries[1].grantable, SL_LF_P_SELECT);
    text = plan_text(&plan);
    CHECK(strstr(text, "! drift: grant " ANALYTICS " DESCRIBE on DataCellsFilter") != NULL);
    free(text);
    sl_share_plan_cleanup(&plan);
    sl_lflive_cleanup(&live);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

/* 45 principals: grants go out in batches of 20, 20 and 5. */
static void test_batches_of_20(void)
{
    sl_buf b;
    char *doc, err[16384];
    sl_lfpolicy p;
    sl_share_desired d;
    sl_lflive live;
    sl_share_plan plan;
    cJSON *body;
    const char *path;

    sl_buf_init(&b, 0);
    CHECK(sl_buf_appendf(&b, "{\"version\":1,\"tags\":{\"c\":[\"a\",\"b\"]},\"database\":{"
                             "\"name\":\"db\",\"tags\":{\"c\":\"a\"}},\"grants\":[") == 0);
    for (int i = 0; i < 45; i++)
        CHECK(sl_buf_appendf(&b,
                             "%s{\"principal\":\"1000000000%02d\",\"tags\":{\"c\":\"b\"},"
                             "\"permissions\":[\"SELECT\"]}",
                             i ? "," : "", i) == 0);
    CHECK(sl_buf_appendf(&b, "]}") == 0);
    doc = sl_buf_steal(&b);
    CHECK(sl_lfpolicy_parse(doc, strlen(doc), &p, NULL, err, sizeof(err)) == 0);
    free(doc);
    CHECK(sl_share_desire(&p, "x", ACCOUNT, NULL, 0, &d, err, sizeof(err)) == 0);
    sl_lflive_init(&live);
    CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
    CHECK_INT(plan.nsteps, 5); /* create tag, tag database, 3 grant batches */
    CHECK_INT(plan.steps[2].nentries, 20);
    CHECK_INT(plan.steps[3].nentries, 20);
    CHECK_INT(plan.steps[4].nentries, 5);
    CHECK_STR(plan.steps[4].entries[4].principal, "100000000044");
    body = sl_share_step_request(&plan.steps[3], NULL, &path);
    CHECK(body != NULL);
    CHECK_STR(path, "/BatchGrantPermissions");
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(body, "Entries")), 20);
    CHECK(cJSON_GetObjectItem(body, "CatalogId") == NULL);
    cJSON_Delete(body);
    sl_share_plan_cleanup(&plan);
    sl_lflive_cleanup(&live);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

/* Values are only ever added (UpdateLFTag TagValuesToAdd, 50 per call); a live value the policy
   does not list is drift, never removed. */
static void test_tag_values_only_added(void)
{
    sl_buf b;
    char *doc, err[16384];
    sl_lfpolicy p;
    sl_share_desired d;
    sl_lflive live;
    sl_share_plan plan;

    sl_buf_init(&b, 0);
    CHECK(sl_buf_appendf(&b, "{\"version\":1,\"tags\":{\"c\":[\"a\",\"b\"],\"many\":[") == 0);
    for (int i = 0; i < 120; i++)
        CHECK(sl_buf_appendf(&b, "%s\"v%03d\"", i ? "," : "", i) == 0);
    CHECK(sl_buf_appendf(&b, "]},\"database\":{\"name\":\"db\",\"tags\":{\"c\":\"a\"}},"
                             "\"grants\":[{\"principal\":\"" ANALYTICS "\",\"tags\":{\"c\":"
                             "\"b\"},\"permissions\":[\"SELECT\"]}]}") == 0);
    doc = sl_buf_steal(&b);
    CHECK(sl_lfpolicy_parse(doc, strlen(doc), &p, NULL, err, sizeof(err)) == 0);
    free(doc);
    CHECK(sl_share_desire(&p, "x", ACCOUNT, NULL, 0, &d, err, sizeof(err)) == 0);
    sl_lflive_init(&live);
    CHECK(feed(&live, SL_LFLIVE_LF_TAGS, NULL,
               "{\"LFTags\": [{\"TagKey\": \"c\", \"TagValues\": [\"a\", \"legacy\"]}], "
               "\"NextToken\": \"p2\"}") == 0);
    CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
    CHECK_INT(plan.steps[0].op, SL_SHARE_UPDATE_LF_TAG);
    CHECK_STR(plan.steps[0].tag_key, "c");
    CHECK_INT(plan.steps[0].values.n, 1);
    CHECK_STR(plan.steps[0].values.v[0], "b");
    CHECK_INT(plan.steps[1].op, SL_SHARE_CREATE_LF_TAG);
    CHECK_INT(plan.steps[1].values.n, 50);
    CHECK_STR(plan.steps[1].values.v[0], "v000");
    CHECK_INT(plan.steps[2].op, SL_SHARE_UPDATE_LF_TAG);
    CHECK_INT(plan.steps[2].values.n, 50);
    CHECK_INT(plan.steps[3].op, SL_SHARE_UPDATE_LF_TAG);
    CHECK_INT(plan.steps[3].values.n, 20);
    CHECK_STR(plan.steps[3].values.v[19], "v119");
    CHECK_INT(plan.ndrift, 1);
    CHECK(strstr(plan.drift[0].what, "LF-Tag c has value legacy") != NULL);
    dump_plan(&plan);
    for (size_t i = 0; i < plan.nsteps; i++)
        CHECK(plan.steps[i].op != SL_SHARE_REVOKE && plan.steps[i].op != SL_SHARE_DELETE_FILTER);
    sl_share_plan_cleanup(&plan);
    sl_lflive_cleanup(&live);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

static const cJSON *path_get(const cJSON *o, const char *path)
{
    char buf[256];

    snprintf(buf, sizeof(buf), "%s", path);
    for (char *t = strtok(buf, "."); t && o; t = strtok(NULL, ".")) {
        if (*t >= '0' && *t <= '9')
            o = cJSON_GetArrayItem(o, atoi(t));
        else
            o = cJSON_GetObjectItemCaseSensitive(o, t);
    }
    return o;
}

static const char *path_str(const cJSON *o, const char *path)
{
    const cJSON *v = path_get(o, path);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The first run's requests, field by field against botocore's lakeformation model. */
static void test_request_bodies(void)
{
    sl_lfpolicy p;
    sl_share_desired d;
    sl_lflive live;
    sl_share_plan plan;
    char err[SL_ERRLEN];
    cJSON *body;
    const char *path;

    CHECK(desire("", &p, &d) == 0);
    sl_lflive_init(&live);
    CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
    CHECK_INT(plan.nsteps, 5);

    for (size_t i = 0; i < plan.nsteps; i++) {
        body = sl_share_step_request(&plan.steps[i], ACCOUNT, &path);
        CHECK(body != NULL);
        dump(path, body);
        cJSON_Delete(body);
    }
    body = sl_lf_body_get_resource_lf_tags(ACCOUNT, &plan.steps[2].res);
    dump("/GetResourceLFTags", body);
    cJSON_Delete(body);
    body = sl_lf_body_list_permissions(ACCOUNT, ANALYTICS, NULL, &d.grants[0].res, "tok");
    dump("/ListPermissions", body);
    cJSON_Delete(body);
    body = sl_lf_body_list_permissions(NULL, NULL, "LF_TAG_POLICY_TABLE", NULL, NULL);
    dump("/ListPermissions", body);
    cJSON_Delete(body);
    body = sl_lf_body_list_data_cells_filter(ACCOUNT, d.database, "tok");
    dump("/ListDataCellsFilter", body);
    cJSON_Delete(body);
    body = sl_lf_body_list_lf_tags(ACCOUNT, NULL);
    dump("/ListLFTags", body);
    cJSON_Delete(body);

    body = sl_share_step_request(&plan.steps[0], ACCOUNT, &path);
    CHECK_STR(path, "/CreateLFTag");
    CHECK_STR(path_str(body, "CatalogId"), ACCOUNT);
    CHECK_STR(path_str(body, "TagKey"), "confidential");
    CHECK_STR(path_str(body, "TagValues.2"), "public");
    CHECK_INT(cJSON_GetArraySize(cJSON_GetObjectItem(body, "TagValues")), 3);
    cJSON_Delete(body);

    body = sl_share_step_request(&plan.steps[1], ACCOUNT, &path);
    CHECK_STR(path, "/AddLFTagsToResource");
    CHECK_STR(path_str(body, "Resource.Database.Name"), "snaplake_orders");
    CHECK_STR(path_str(body, "Resource.Database.CatalogId"), ACCOUNT);
    CHECK_STR(path_str(body, "LFTags.0.TagKey"), "confidential");
    CHECK_STR(path_str(body, "LFTags.0.TagValues.0"), "private");
    cJSON_Delete(body);

    body = sl_share_step_request(&plan.steps[2], ACCOUNT, &path);
    CHECK_STR(path_str(body, "Resource.Table.DatabaseName"), "snaplake_orders");
    CHECK_STR(path_str(body, "Resource.Table.Name"), "shop_public_orders");
    CHECK(path_get(body, "Resource.Table.TableWildcard") == NULL);
    cJSON_Delete(body);

    body = sl_share_step_request(&plan.steps[3], ACCOUNT, &path);
    CHECK_STR(path, "/CreateDataCellsFilter");
    CHECK_STR(path_str(body, "TableData.TableCatalogId"), ACCOUNT);
    CHECK_STR(path_str(body, "TableData.DatabaseName"), "snaplake_orders");
    CHECK_STR(path_str(body, "TableData.TableName"), "shop_public_customers");
    CHECK_STR(path_str(body, "TableData.Name"), "snaplake_shop_public_customers_no_email");
    CHECK(cJSON_IsObject(path_get(body, "TableData.RowFilter.AllRowsWildcard")));
    CHECK(path_get(body, "TableData.RowFilter.FilterExpression") == NULL);
    CHECK_STR(path_str(body, "TableData.ColumnNames.0"), "country");
    CHECK_INT(cJSON_GetArraySize(path_get(body, "TableData.ColumnNames")), 4);
    CHECK(path_get(body, "TableData.ColumnWildcard") == NULL);
    CHECK(path_get(body, "TableData.VersionId") == NULL);
    cJSON_Delete(body);

    body = sl_share_step_request(&plan.steps[4], ACCOUNT, &path);
    CHECK_STR(path, "/BatchGrantPermissions");
    CHECK_STR(path_str(body, "CatalogId"), ACCOUNT);
    CHECK_STR(path_str(body, "Entries.0.Id"), "0");
    CHECK_STR(path_str(body, "Entries.1.Id"), "1");
    CHECK_STR(path_str(body, "Entries.0.Principal.DataLakePrincipalIdentifier"), ANALYTICS);
    CHECK_STR(path_str(body, "Entries.0.Resource.LFTagPolicy.ResourceType"), "TABLE");
    CHECK_STR(path_str(body, "Entries.0.Resource.LFTagPolicy.CatalogId"), ACCOUNT);
    CHECK_STR(path_str(body, "Entries.0.Resource.LFTagPolicy.Expression.0.TagKey"), "confidential");
    CHECK_STR(path_str(body, "Entries.0.Resource.LFTagPolicy.Expression.0.TagValues.0"), "public");
    CHECK_STR(path_str(body, "Entries.0.Permissions.0"), "SELECT");
    CHECK_STR(path_str(body, "Entries.0.Permissions.1"), "DESCRIBE");
    CHECK_INT(cJSON_GetArraySize(path_get(body, "Entries.0.PermissionsWithGrantOption")), 0);
    CHECK_STR(path_str(body, "Entries.1.Resource.DataCellsFilter.TableCatalogId"), ACCOUNT);
    CHECK_STR(path_str(body, "Entries.1.Resource.DataCellsFilter.TableName"),
              "shop_public_customers");
    CHECK_STR(path_str(body, "Entries.1.PermissionsWithGrantOption.0"), "SELECT");
    CHECK_INT(sl_lf_batch_index("1", 2), 1);
    CHECK_INT(sl_lf_batch_index("2", 2), -1);
    CHECK_INT(sl_lf_batch_index("01", 2), -1);
    CHECK_INT(sl_lf_batch_index("x", 2), -1);
    cJSON_Delete(body);

    sl_share_plan_cleanup(&plan);
    sl_lflive_cleanup(&live);
    sl_share_desired_cleanup(&d);
    sl_lfpolicy_cleanup(&p);
}

/* The filter and revoke bodies the first run does not make: an update carries the live
   VersionId, an exclude list is a ColumnWildcard, a row filter an expression; a revoke names the
   grant option it takes away. */
static void test_filter_and_revoke_bodies(void)
{
    sl_lf_filter f;
    sl_lf_grant g;
    cJSON *b;
    char *s;

    memset(&f, 0, sizeof(f));
    f.catalog_id = ACCOUNT;
    f.database = "db";
    f.table = "t";
    f.name = "snaplake_t";
    f.row_filter = "country = 'DE'";
    f.column_wildcard = 1;
    f.version_id = "7";
    CHECK(sl_lf_strv_push(&f.columns, "email") == 0);
    b = sl_lf_body_data_cells_filter(&f, 1);
    dump("/UpdateDataCellsFilter", b);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"TableData\":{\"TableCatalogId\":\"" ACCOUNT "\",\"DatabaseName\":\"db\","
                 "\"TableName\":\"t\",\"Name\":\"snaplake_t\",\"RowFilter\":{\"FilterExpression\":"
                 "\"country = 'DE'\"},\"ColumnWildcard\":{\"ExcludedColumnNames\":[\"email\"]},"
                 "\"VersionId\":\"7\"}}");
    free(s);
    cJSON_Delete(b);
    b = sl_lf_body_delete_data_cells_filter(&f);
    dump("/DeleteDataCellsFilter", b);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"TableCatalogId\":\"" ACCOUNT "\",\"DatabaseName\":\"db\",\"TableName\":\"t\","
                 "\"Name\":\"snaplake_t\"}");
    free(s);
    cJSON_Delete(b);
    /* An include list with no columns breaks the model (ColumnNames or ColumnWildcard). */
    f.column_wildcard = 0;
    sl_lf_strv_cleanup(&f.columns);
    CHECK(sl_lf_body_data_cells_filter(&f, 0) == NULL);

    memset(&g, 0, sizeof(g));
    g.principal = ANALYTICS;
    g.res.kind = SL_LF_RES_TABLE;
    g.res.database = "db";
    g.res.table_wildcard = 1;
    g.perms = SL_LF_P_SELECT;
    g.grantable = SL_LF_P_SELECT;
    b = sl_lf_body_batch_permissions(NULL, &g, 1);
    dump("/BatchRevokePermissions", b);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s,
              "{\"Entries\":[{\"Resource\":{\"Table\":{\"DatabaseName\":\"db\","
              "\"TableWildcard\":{}}},\"Id\":\"0\",\"Principal\":{\"DataLakePrincipalIdentifier\":"
              "\"" ANALYTICS "\"},\"Permissions\":[\"SELECT\"],\"PermissionsWithGrantOption\":"
              "[\"SELECT\"]}]}");
    free(s);
    cJSON_Delete(b);
    CHECK(sl_lf_body_batch_permissions(NULL, &g, 0) == NULL);
    CHECK(sl_lf_body_batch_permissions(NULL, &g, 21) == NULL); /* over 20: never sent */
}

/* A table tag the database does not carry: when the table no longer gets it (held back with
   prune, or its rule turned private), the plan removes the policy's key from the table
   (RemoveLFTagsFromResource), so the share=yes grant stops covering it; a key the policy does
   not declare stays, as drift. Once the live table no longer carries it, nothing is left. */
static void test_withdrawn_table_loses_its_tag(void)
{
    static const char doc[] =
        "{\"version\":1,\"tags\":{\"share\":[\"yes\",\"no\"],\"confidential\":[\"private\","
        "\"public\"]},\"database\":{\"name\":\"snaplake_{cluster}\",\"tags\":{\"confidential\":"
        "\"private\"}},\"tables\":[{\"match\":\"*.users\",%s}],\"grants\":[{\"principal\":"
        "\"" ANALYTICS "\",\"tags\":{\"share\":[\"yes\"]},\"permissions\":[\"SELECT\"]}],"
        "\"sensitive_columns\":[\"*email*\"]%s}";
    static const char *const cols[] = {"id", "email"};
    static const char *const prev[] = {"id"};
    const sl_share_table_in in[] = {{"users", cols, 2, prev, 1, 1}};
    static const char users_live[] =
        "{\"LFTagsOnTable\": [{\"TagKey\": \"share\", \"TagValues\": [\"yes\"]}, "
        "{\"TagKey\": \"owner\", \"TagValues\": [\"crm\"]}]}";
    /* held with prune; a private rule; a filter rule (email is new: held, prune off). */
    static const struct {
        const char *rule, *extra;
        int removes;
    } cases[] = {
        {"\"tags\":{\"share\":\"yes\"}", ",\"prune\":true", 1},
        {"\"private\":true", "", 1},
        {"\"filter\":{\"name\":\"snaplake_{table}\",\"include\":[\"id\"]}", "", 1},
        {"\"tags\":{\"share\":\"yes\"}", "", 0}, /* held, prune off: left as it is */
    };

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char buf[4096], err[16384], *text;
        sl_lfpolicy p;
        sl_share_desired d;
        sl_lflive live;
        sl_share_plan plan;
        const sl_share_step *untag = NULL;
        sl_share_counts c;

        snprintf(buf, sizeof(buf), doc, cases[i].rule, cases[i].extra);
        CHECK(sl_lfpolicy_parse(buf, strlen(buf), &p, NULL, err, sizeof(err)) == 0);
        CHECK(sl_share_desire(&p, "orders", ACCOUNT, in, 1, &d, err, sizeof(err)) == 0);
        sl_lflive_init(&live);
        CHECK(feed(&live, SL_LFLIVE_LF_TAGS, NULL,
                   "{\"LFTags\": [{\"TagKey\": \"share\", \"TagValues\": [\"yes\", \"no\"]}, "
                   "{\"TagKey\": \"confidential\", \"TagValues\": [\"private\", "
                   "\"public\"]}]}") == 0);
        CHECK(feed(&live, SL_LFLIVE_DB_TAGS, NULL,
                   "{\"LFTagOnDatabase\": [{\"TagKey\": \"confidential\", \"TagValues\": "
                   "[\"private\"]}]}") == 0);
        CHECK(feed(&live, SL_LFLIVE_TABLE_TAGS, "users", users_live) == 0);
        CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
        dump_plan(&plan);
        for (size_t k = 0; k < plan.nsteps; k++)
            if (plan.steps[k].op == SL_SHARE_REMOVE_LF_TAGS)
                untag = &plan.steps[k];
        text = plan_text(&plan);
        CHECK(text != NULL);
        if (!text)
            break;
        if ((untag != NULL) != cases[i].removes)
            fprintf(stderr, "case %zu:\n%s", i, text);
        CHECK_INT(untag != NULL, cases[i].removes);
        /* owner is not the policy's: drift whatever the rule, never removed. */
        CHECK(strstr(text, "carries LF-Tag owner=crm that the policy does not name") != NULL);
        if (untag) {
            const char *path = NULL;
            cJSON *body;
            c = sl_share_plan_counts(&plan);
            CHECK_INT(c.remove, 1);
            CHECK_INT(untag->npairs, 1);
            CHECK_STR(untag->pairs[0].key, "share");
            CHECK_STR(untag->pairs[0].values.v[0], "yes");
            CHECK(strstr(text, "- untag Table snaplake_orders.users: share=yes\n") != NULL);
            CHECK(strstr(text, "carries LF-Tag share=yes") == NULL);
            body = sl_share_step_request(untag, ACCOUNT, &path);
            CHECK(body != NULL);
            CHECK_STR(path, "/RemoveLFTagsFromResource");
            CHECK_STR(path_str(body, "CatalogId"), ACCOUNT);
            CHECK_STR(path_str(body, "Resource.Table.DatabaseName"), "snaplake_orders");
            CHECK_STR(path_str(body, "Resource.Table.Name"), "users");
            CHECK_STR(path_str(body, "LFTags.0.TagKey"), "share");
            CHECK_STR(path_str(body, "LFTags.0.TagValues.0"), "yes");
            CHECK(path_get(body, "LFTags.1") == NULL);
            cJSON_Delete(body);
        }
        free(text);
        sl_share_plan_cleanup(&plan);
        /* The read-back after the removal: share is gone, nothing left to do on the table. */
        if (untag) {
            sl_lflive_cleanup(&live);
            sl_lflive_init(&live);
            CHECK(feed(&live, SL_LFLIVE_LF_TAGS, NULL,
                       "{\"LFTags\": [{\"TagKey\": \"share\", \"TagValues\": [\"yes\", "
                       "\"no\"]}, {\"TagKey\": \"confidential\", \"TagValues\": [\"private\", "
                       "\"public\"]}]}") == 0);
            CHECK(feed(&live, SL_LFLIVE_DB_TAGS, NULL,
                       "{\"LFTagOnDatabase\": [{\"TagKey\": \"confidential\", \"TagValues\": "
                       "[\"private\"]}]}") == 0);
            CHECK(feed(&live, SL_LFLIVE_TABLE_TAGS, "users",
                       "{\"LFTagsOnTable\": [{\"TagKey\": \"owner\", \"TagValues\": "
                       "[\"crm\"]}]}") == 0);
            CHECK(sl_share_plan_make(&d, &live, NULL, &plan, err, sizeof(err)) == 0);
            for (size_t k = 0; k < plan.nsteps; k++)
                CHECK(plan.steps[k].op != SL_SHARE_REMOVE_LF_TAGS &&
                      plan.steps[k].op != SL_SHARE_ADD_LF_TAGS);
            sl_share_plan_cleanup(&plan);
        }
        sl_lflive_cleanup(&live);
        sl_share_desired_cleanup(&d);
        sl_lfpolicy_cleanup(&p);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_desired_state),
    SL_TEST(test_desired_holds_what_it_cannot_share),
    SL_TEST(test_grant_option_needs_include_at_run_time),
    SL_TEST(test_guard),
    SL_TEST(test_first_run_plan),
    SL_TEST(test_replay_plans_nothing),
    SL_TEST(test_drift_and_prune),
    SL_TEST(test_grant_on_dropped_tag_key_is_revoked),
    SL_TEST(test_grant_differences),
    SL_TEST(test_batches_of_20),
    SL_TEST(test_tag_values_only_added),
    SL_TEST(test_request_bodies),
    SL_TEST(test_filter_and_revoke_bodies),
    SL_TEST(test_withdrawn_table_loses_its_tag),
};

SL_TEST_MAIN(tests)
