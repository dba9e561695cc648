/* test_lflive.c - Lake Formation's answers read back into the live state (shapes of botocore's
 * lakeformation model): ListLFTags, GetResourceLFTags, ListDataCellsFilter, ListPermissions
 * with every resource kind, pagination tokens, malformed pages (all or nothing), the per-entry
 * Failures of the write calls and their transient/permanent classification. */
#include "sl_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lflive.h"

static int parse(sl_lflive_kind k, const char *json, sl_lflive *l, char *err)
{
    return sl_lflive_parse_bytes(k, json, strlen(json), l, err, SL_ERRLEN);
}

static void test_lf_tags_pages(void)
{
    sl_lflive l;
    char err[SL_ERRLEN], next[64];
    cJSON *j;

    sl_lflive_init(&l);
    j = cJSON_Parse("{\"LFTags\": [{\"CatalogId\": \"111122223333\", \"TagKey\": "
                    "\"confidential\", \"TagValues\": [\"private\", \"public\"]}], "
                    "\"NextToken\": \"page-2\"}");
    CHECK(sl_lflive_add_lf_tags(&l, j, next, sizeof(next), err, sizeof(err)) == 0);
    cJSON_Delete(j);
    CHECK_STR(next, "page-2");
    j = cJSON_Parse("{\"LFTags\": [{\"TagKey\": \"region\", \"TagValues\": [\"eu\"]}]}");
    CHECK(sl_lflive_add_lf_tags(&l, j, next, sizeof(next), err, sizeof(err)) == 0);
    cJSON_Delete(j);
    CHECK_STR(next, "");
    CHECK_INT(l.ntag_defs, 2);
    CHECK_STR(l.tag_defs[0].key, "confidential");
    CHECK_STR(l.tag_defs[0].values.v[1], "public");
    CHECK_STR(l.tag_defs[1].key, "region");
    /* A token that does not fit the caller's buffer is an error, not a truncated token. */
    j = cJSON_Parse("{\"LFTags\": [], \"NextToken\": \"0123456789\"}");
    CHECK(sl_lflive_add_lf_tags(&l, j, next, 8, err, sizeof(err)) != 0);
    cJSON_Delete(j);
    sl_lflive_cleanup(&l);
    sl_lflive_cleanup(&l);
    sl_lflive_cleanup(NULL);
}

static void test_get_lf_tag(void)
{
    sl_lflive l;
    char err[SL_ERRLEN];

    sl_lflive_init(&l);
    CHECK(parse(SL_LFLIVE_LF_TAG,
                "{\"CatalogId\": \"111122223333\", \"TagKey\": \"confidential\", "
                "\"TagValues\": [\"private\"]}",
                &l, err) == 0);
    CHECK(parse(SL_LFLIVE_LF_TAG, "{\"TagKey\": \"confidential\", \"TagValues\": [\"a\", \"b\"]}",
                &l, err) == 0);
    CHECK_INT(l.ntag_defs, 1); /* the same key again replaces it */
    CHECK_INT(l.tag_defs[0].values.n, 2);
    CHECK(parse(SL_LFLIVE_LF_TAG, "{\"TagValues\": []}", &l, err) != 0);
    CHECK(strstr(err, "GetLFTag: TagKey") != NULL);
    CHECK_INT(l.ntag_defs, 1);
    sl_lflive_cleanup(&l);
}

static void test_resource_tags(void)
{
    sl_lflive l;
    char err[SL_ERRLEN];
    const sl_lflive_table *t;

    sl_lflive_init(&l);
    CHECK(parse(SL_LFLIVE_DB_TAGS,
                "{\"LFTagOnDatabase\": [{\"CatalogId\": \"111122223333\", \"TagKey\": "
                "\"confidential\", \"TagValues\": [\"private\"]}]}",
                &l, err) == 0);
    CHECK(l.have_db_tags);
    CHECK_INT(l.ndb_tags, 1);
    CHECK_STR(l.db_tags[0].values.v[0], "private");
    CHECK(parse(SL_LFLIVE_TABLE_TAGS,
                "{\"LFTagOnDatabase\": [{\"TagKey\": \"confidential\", \"TagValues\": "
                "[\"private\"]}], \"LFTagsOnTable\": [{\"TagKey\": \"confidential\", "
                "\"TagValues\": [\"public\"]}], \"LFTagsOnColumns\": [{\"Name\": \"email\", "
                "\"LFTags\": [{\"TagKey\": \"confidential\", \"TagValues\": [\"sensitive\"]}]}, "
                "{\"Name\": \"id\", \"LFTags\": []}]}",
                &l, err) == 0);
    t = sl_lflive_table_find(&l, "t");
    CHECK(t != NULL);
    CHECK_INT(t->ntags, 1);
    CHECK_STR(t->tags[0].values.v[0], "public");
    CHECK_INT(t->ncolumns, 2);
    CHECK_STR(t->columns[0].name, "email");
    CHECK_STR(t->columns[0].tags[0].values.v[0], "sensitive");
    /* Read again: the second read replaces the first. */
    CHECK(parse(SL_LFLIVE_TABLE_TAGS, "{}", &l, err) == 0);
    CHECK_INT(l.ntables, 1);
    CHECK_INT(sl_lflive_table_find(&l, "t")->ntags, 0);
    CHECK(sl_lflive_table_find(&l, "u") == NULL);
    /* Malformed: a tag without a key, a column that is not an object. */
    CHECK(parse(SL_LFLIVE_TABLE_TAGS, "{\"LFTagsOnTable\": [{\"TagValues\": [\"x\"]}]}", &l, err) !=
          0);
    CHECK(strstr(err, "TagKey") != NULL);
    CHECK(parse(SL_LFLIVE_TABLE_TAGS, "{\"LFTagsOnColumns\": [1]}", &l, err) != 0);
    CHECK_INT(sl_lflive_table_find(&l, "t")->ntags, 0); /* unchanged */
    sl_lflive_cleanup(&l);
}

static void test_filters(void)
{
    sl_lflive l;
    char err[SL_ERRLEN];

    sl_lflive_init(&l);
    CHECK(parse(SL_LFLIVE_FILTERS,
                "{\"DataCellsFilters\": ["
                "{\"TableCatalogId\": \"111122223333\", \"DatabaseName\": \"db\", \"TableName\": "
                "\"t\", \"Name\": \"snaplake_a\", \"RowFilter\": {\"FilterExpression\": "
                "\"country = 'DE'\"}, \"ColumnNames\": [\"name\", \"id\"], \"VersionId\": \"7\"},"
                "{\"TableCatalogId\": \"111122223333\", \"DatabaseName\": \"db\", \"TableName\": "
                "\"t\", \"Name\": \"snaplake_b\", \"RowFilter\": {\"AllRowsWildcard\": {}}, "
                "\"ColumnWildcard\": {\"ExcludedColumnNames\": [\"email\"]}}],"
                " \"NextToken\": \"n\"}",
                &l, err) == 0);
    CHECK_INT(l.nfilters, 2);
    CHECK_STR(l.filters[0].row_filter, "country = 'DE'");
    CHECK(!l.filters[0].column_wildcard);
    CHECK_STR(l.filters[0].columns.v[0], "id"); /* sorted */
    CHECK_STR(l.filters[0].version_id, "7");
    CHECK(l.filters[1].row_filter == NULL);
    CHECK(l.filters[1].column_wildcard);
    CHECK_STR(l.filters[1].columns.v[0], "email");
    /* A page with one bad entry adds nothing. */
    CHECK(parse(SL_LFLIVE_FILTERS,
                "{\"DataCellsFilters\": [{\"TableCatalogId\": \"1\", \"DatabaseName\": \"db\", "
                "\"TableName\": \"t\", \"Name\": \"ok\"}, {\"DatabaseName\": \"db\"}]}",
                &l, err) != 0);
    CHECK(strstr(err, "TableCatalogId") != NULL);
    CHECK_INT(l.nfilters, 2);
    sl_lflive_cleanup(&l);
}

static void test_permissions_every_resource(void)
{
    sl_lflive l;
    char err[SL_ERRLEN], desc[512];

    sl_lflive_init(&l);
    CHECK(parse(SL_LFLIVE_PERMISSIONS,
                "{\"PrincipalResourcePermissions\": ["
                "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"444455556666\"}, "
                "\"Resource\": {\"LFTagPolicy\": {\"CatalogId\": \"111122223333\", "
                "\"ResourceType\": \"TABLE\", \"Expression\": [{\"TagKey\": \"region\", "
                "\"TagValues\": [\"eu\"]}, {\"TagKey\": \"confidential\", \"TagValues\": "
                "[\"public\", \"private\"]}]}}, \"Permissions\": [\"SELECT\", \"DESCRIBE\"], "
                "\"PermissionsWithGrantOption\": [\"SELECT\"], \"LastUpdated\": 1700000000, "
                "\"LastUpdatedBy\": \"arn:aws:iam::111122223333:role/snaplake\"},"
                "{\"Principal\": {\"DataLakePrincipalIdentifier\": "
                "\"arn:aws:iam::444455556666:role/r\"}, \"Resource\": {\"Table\": "
                "{\"CatalogId\": \"111122223333\", \"DatabaseName\": \"db\", \"TableWildcard\": "
                "{}}}, \"Permissions\": [\"ALL\", \"SOME_FUTURE_PERMISSION\"]},"
                "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"444455556666\"}, "
                "\"Resource\": {\"Database\": {\"Name\": \"db\"}}, \"Permissions\": "
                "[\"DESCRIBE\"]},"
                "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"444455556666\"}, "
                "\"Resource\": {\"DataCellsFilter\": {\"TableCatalogId\": \"111122223333\", "
                "\"DatabaseName\": \"db\", \"TableName\": \"t\", \"Name\": \"f\"}}, "
                "\"Permissions\": [\"SELECT\"]},"
                "{\"Principal\": {\"DataLakePrincipalIdentifier\": \"444455556666\"}, "
                "\"Resource\": {\"TableWithColumns\": {\"DatabaseName\": \"db\", \"Name\": \"t\", "
                "\"ColumnNames\": [\"id\"]}}, \"Permissions\": [\"SELECT\"]}]}",
                &l, err) == 0);
    CHECK_INT(l.ngrants, 5);
    CHECK_INT(l.grants[0].res.kind, SL_LF_RES_TAG_POLICY);
    CHECK_STR(l.grants[0].res.expr[0].key, "confidential"); /* normalized: sorted */
    CHECK_STR(l.grants[0].res.expr[0].values.v[0], "private");
    CHECK_INT(l.grants[0].perms, SL_LF_P_SELECT | SL_LF_P_DESCRIBE);
    CHECK_INT(l.grants[0].grantable, SL_LF_P_SELECT);
    sl_lf_resource_describe(&l.grants[0].res, desc, sizeof(desc));
    CHECK_STR(desc, "LFTagPolicy TABLE (confidential=private|public AND region=eu)");
    CHECK_INT(l.grants[1].res.kind, SL_LF_RES_TABLE);
    CHECK(l.grants[1].res.table_wildcard);
    CHECK_INT(l.grants[1].perms, SL_LF_P_ALL); /* the unknown one is ignored */
    CHECK_INT(l.grants[2].res.kind, SL_LF_RES_DATABASE);
    CHECK(l.grants[2].res.catalog_id == NULL);
    CHECK_INT(l.grants[3].res.kind, SL_LF_RES_FILTER);
    CHECK_STR(l.grants[3].res.name, "f");
    CHECK_INT(l.grants[4].res.kind, SL_LF_RES_OTHER);
    sl_lf_resource_describe(&l.grants[4].res, desc, sizeof(desc));
    CHECK_STR(desc, "TableWithColumns db.t");
    /* Malformed entries refuse the page. */
    CHECK(parse(SL_LFLIVE_PERMISSIONS,
                "{\"PrincipalResourcePermissions\": [{\"Principal\": {}, \"Resource\": "
                "{\"Database\": {\"Name\": \"db\"}}}]}",
                &l, err) != 0);
    CHECK(parse(SL_LFLIVE_PERMISSIONS,
                "{\"PrincipalResourcePermissions\": [{\"Principal\": "
                "{\"DataLakePrincipalIdentifier\": \"x\"}, \"Resource\": {\"LFTagPolicy\": "
                "{\"ResourceType\": \"COLUMN\"}}}]}",
                &l, err) != 0);
    CHECK(parse(SL_LFLIVE_PERMISSIONS,
                "{\"PrincipalResourcePermissions\": [{\"Principal\": "
                "{\"DataLakePrincipalIdentifier\": \"x\"}, \"Resource\": {\"Table\": "
                "{\"DatabaseName\": \"db\"}}}]}",
                &l, err) != 0);
    CHECK(parse(SL_LFLIVE_PERMISSIONS, "{\"PrincipalResourcePermissions\": {}}", &l, err) != 0);
    CHECK(parse(SL_LFLIVE_PERMISSIONS, "[]", &l, err) != 0);
    CHECK(parse(SL_LFLIVE_PERMISSIONS, "{} x", &l, err) != 0);
    CHECK_INT(l.ngrants, 5);
    sl_lflive_cleanup(&l);
}

static void test_failures(void)
{
    static const char batch[] =
        "{\"Failures\": ["
        "{\"RequestEntry\": {\"Id\": \"3\", \"Principal\": {\"DataLakePrincipalIdentifier\": "
        "\"444455556666\"}}, \"Error\": {\"ErrorCode\": \"ConcurrentModificationException\", "
        "\"ErrorMessage\": \"Try again\"}},"
        "{\"RequestEntry\": {\"Id\": \"4\"}, \"Error\": {\"ErrorCode\": "
        "\"InvalidInputException\", \"ErrorMessage\": \"Permissions modification is invalid.\"}},"
        "{\"RequestEntry\": {\"Id\": \"5\"}}]}";
    static const char tags[] =
        "{\"Failures\": [{\"LFTag\": {\"TagKey\": \"confidential\", \"TagValues\": "
        "[\"public\"]}, \"Error\": {\"ErrorCode\": \"AccessDeniedException\", "
        "\"ErrorMessage\": \"no ASSOCIATE\"}}]}";
    sl_lf_failure *f = NULL;
    size_t n = 9;
    char err[SL_ERRLEN];
    cJSON *j = cJSON_Parse(batch);

    CHECK(sl_lf_parse_failures(j, &f, &n, err, sizeof(err)) == 0);
    cJSON_Delete(j);
    CHECK_INT(n, 3);
    CHECK_STR(f[0].id, "3");
    CHECK_STR(f[0].code, "ConcurrentModificationException");
    CHECK_STR(f[0].message, "Try again");
    CHECK(f[0].transient);
    CHECK_STR(f[1].code, "InvalidInputException");
    CHECK(!f[1].transient);
    CHECK_STR(f[2].code, "UnknownError"); /* no code: still a failure */
    CHECK(!f[2].transient);
    free(f);

    j = cJSON_Parse(tags);
    CHECK(sl_lf_parse_failures(j, &f, &n, err, sizeof(err)) == 0);
    cJSON_Delete(j);
    CHECK_INT(n, 1);
    CHECK_STR(f[0].tag_key, "confidential");
    CHECK_STR(f[0].id, "");
    CHECK(!f[0].transient);
    free(f);

    static const char *const ok[] = {"{}", "{\"Failures\": []}", "{\"Failures\": null}"};
    for (size_t i = 0; i < SL_ARRAY_LEN(ok); i++) {
        j = cJSON_Parse(ok[i]);
        CHECK(sl_lf_parse_failures(j, &f, &n, err, sizeof(err)) == 0);
        CHECK_INT(n, 0);
        CHECK(f == NULL);
        cJSON_Delete(j);
    }
    j = cJSON_Parse("{\"Failures\": [1]}");
    CHECK(sl_lf_parse_failures(j, &f, &n, err, sizeof(err)) != 0);
    cJSON_Delete(j);
    j = cJSON_Parse("{\"Failures\": \"x\"}");
    CHECK(sl_lf_parse_failures(j, &f, &n, err, sizeof(err)) != 0);
    cJSON_Delete(j);
}

static void test_error_classes(void)
{
    static const struct {
        const char *code;
        int transient;
    } cases[] = {
        {"ConcurrentModificationException", 1},
        {"InternalServiceException", 1},
        {"OperationTimeoutException", 1},
        {"ThrottledException", 1},
        {"ResourceNotReadyException", 1},
        {"TransactionCommitInProgressException", 1},
        {"ThrottlingException", 1},
        {"InvalidInputException", 0},
        {"AccessDeniedException", 0},
        {"EntityNotFoundException", 0},
        {"AlreadyExistsException", 0},
        {"ResourceNumberLimitExceededException", 0},
        {"GlueEncryptionException", 0},
        {"", 0},
    };

    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_lf_error_transient(cases[i].code), cases[i].transient);
    CHECK(!sl_lf_error_transient(NULL));
}

static void test_read_request_bodies(void)
{
    sl_lf_resource t;
    cJSON *b;
    char *s;

    memset(&t, 0, sizeof(t));
    t.kind = SL_LF_RES_TABLE;
    t.catalog_id = "111122223333";
    t.database = "db";
    t.table = "t";
    b = sl_lf_body_get_resource_lf_tags("111122223333", &t);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"CatalogId\":\"111122223333\",\"Resource\":{\"Table\":{\"CatalogId\":"
                 "\"111122223333\",\"DatabaseName\":\"db\",\"Name\":\"t\"}},"
                 "\"ShowAssignedLFTags\":true}");
    free(s);
    cJSON_Delete(b);
    b = sl_lf_body_list_data_cells_filter(NULL, "db", "tok");
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"Table\":{\"DatabaseName\":\"db\",\"TableWildcard\":{}},\"MaxResults\":100,"
                 "\"NextToken\":\"tok\"}");
    free(s);
    cJSON_Delete(b);
    b = sl_lf_body_list_permissions(NULL, "444455556666", "LF_TAG_POLICY_TABLE", NULL, NULL);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"Principal\":{\"DataLakePrincipalIdentifier\":\"444455556666\"},"
                 "\"ResourceType\":\"LF_TAG_POLICY_TABLE\",\"MaxResults\":100}");
    free(s);
    cJSON_Delete(b);
    b = sl_lf_body_list_lf_tags(NULL, NULL);
    s = cJSON_PrintUnformatted(b);
    CHECK_STR(s, "{\"MaxResults\":100}");
    free(s);
    cJSON_Delete(b);
}

static const sl_test tests[] = {
    SL_TEST(test_lf_tags_pages),
    SL_TEST(test_get_lf_tag),
    SL_TEST(test_resource_tags),
    SL_TEST(test_filters),
    SL_TEST(test_permissions_every_resource),
    SL_TEST(test_failures),
    SL_TEST(test_error_classes),
    SL_TEST(test_read_request_bodies),
};

SL_TEST_MAIN(tests)
