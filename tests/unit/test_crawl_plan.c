/* test_crawl_plan.c - the crawl stage's direct-registration decisions: which clusters are
 * registered directly, the table locations, and the schema-version digest. */
#include "sl_test.h"

#include <stdlib.h>
#include <string.h>

#include "../../worker/crawl_plan.h"

static void test_direct_choice(void)
{
    static const struct {
        const char *mode, *list, *cluster;
        int want;
    } cases[] = {
        {"direct", NULL, "orders", 1},
        {"crawler", NULL, "orders", 0},
        {"crawler", "", "orders", 0},
        {"crawler", "billing, Orders ,x", "orders", 1},
        {"crawler", "billing,orders2", "orders", 0},
        {"crawler", "order", "orders", 0},
        {"crawler", "orders", "order", 0},
        {"crawler", ",,orders,,", "orders", 1},
        {"direct", "billing", "orders", 1},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_crawl_plan_direct(cases[i].mode, cases[i].list, cases[i].cluster),
                  cases[i].want);
}

static void test_location(void)
{
    static const struct {
        const char *prefix, *target, *want;
    } cases[] = {
        {"lake", "appdb.public.users", "s3://lb/lake/c1/appdb/public.users/"},
        {"lake/", "appdb.public.users", "s3://lb/lake/c1/appdb/public.users/"},
        {"", "shop.items", "s3://lb/c1/shop/items/"},
        {NULL, "shop.items", "s3://lb/c1/shop/items/"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char *s = sl_crawl_plan_location("lb", cases[i].prefix, "c1", cases[i].target);
        CHECK(s != NULL);
        if (s)
            CHECK_STR(s, cases[i].want);
        free(s);
    }
    CHECK(sl_crawl_plan_location("lb", "", "c1", "nodot") == NULL);
}

static void test_schema_digest(void)
{
    sl_cat_column a[] = {{"id", "bigint"}, {"name", "string"}};
    sl_cat_column b[] = {{"id", "bigint"}, {"name", "string"}, {"note", "string"}};
    sl_cat_column c[] = {{"id", "int"}, {"name", "string"}};
    char da[17], da2[17], db[17], dc[17], small[8];

    CHECK_INT(sl_crawl_plan_schema_digest(a, 2, da, sizeof(da)), 0);
    CHECK_INT(sl_crawl_plan_schema_digest(a, 2, da2, sizeof(da2)), 0);
    CHECK_INT(sl_crawl_plan_schema_digest(b, 3, db, sizeof(db)), 0);
    CHECK_INT(sl_crawl_plan_schema_digest(c, 2, dc, sizeof(dc)), 0);
    CHECK_INT((int)strlen(da), 16);
    CHECK_STR(da, da2);
    CHECK(strcmp(da, db) != 0 && strcmp(da, dc) != 0);
    CHECK_INT(sl_crawl_plan_schema_digest(a, 2, small, sizeof(small)), -1);
}

static const sl_test tests[] = {
    SL_TEST(test_direct_choice),
    SL_TEST(test_location),
    SL_TEST(test_schema_digest),
};
SL_TEST_MAIN(tests)
