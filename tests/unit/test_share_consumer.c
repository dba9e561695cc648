/*
 * test_share_consumer.c - the consumer side's pure pieces (share_consumer.h): the link name,
 * the RAM and Glue request bodies (checked against botocore's models by the stand-in in the
 * integration test), and the readers of GetResourceShareInvitations and GetDatabase answers.
 */
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "share_consumer.h"
#include "sl_test.h"

#define SVC "123456789012"

static void test_link_name_table(void)
{
    static const struct {
        const char *tmpl, *db, *want; /* want NULL: refused */
    } t[] = {
        {NULL, "snaplake_c1", "snaplake_c1_link"},
        {"", "snaplake_c1", "snaplake_c1_link"},
        {"{database}_link", "snaplake_c1", "snaplake_c1_link"},
        {"shared_{database}", "db", "shared_db"},
        {"analytics", "db", "analytics"},
        {"{database}", "db", "db"},
        {"Link-{database}", "Shop.DB", "link_shop_db"}, /* the catalog's naming: lower, [a-z0-9_] */
        {"{cluster}_link", "db", NULL},                 /* {database} is the only placeholder */
        {"{database", "db", NULL},
        {"{database}_link", "", NULL},
        {"{database}_link", NULL, NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        char out[256] = "", err[SL_ERRLEN] = "";
        int rc = sl_share_link_name(t[i].tmpl, t[i].db, out, sizeof(out), err, sizeof(err));
        if (t[i].want) {
            CHECK_INT(rc, 0);
            CHECK_STR(out, t[i].want);
        } else {
            CHECK_INT(rc, -1);
            CHECK(err[0] != '\0');
        }
    }
    {
        /* Over Glue's 255: an error, never a cut name. */
        char db[252], out[256], err[SL_ERRLEN]; /* 251 + "_link" = 256 */
        memset(db, 'a', sizeof(db) - 1);
        db[sizeof(db) - 1] = '\0';
        CHECK_INT(sl_share_link_name("{database}_link", db, out, sizeof(out), err, sizeof(err)),
                  -1);
    }
}

/* Compares a body with its compact JSON text, then frees it. */
static int body_is(cJSON *b, const char *want)
{
    char *s = b ? cJSON_PrintUnformatted(b) : NULL;
    int ok = s && strcmp(s, want) == 0;

    if (!ok)
        fprintf(stderr, "body %s, want %s\n", s ? s : "(null)", want);
    free(s);
    cJSON_Delete(b);
    return ok;
}

static void test_bodies(void)
{
    CHECK(body_is(sl_share_body_invitations(NULL), "{\"maxResults\":500}"));
    CHECK(body_is(sl_share_body_invitations("tok"), "{\"maxResults\":500,\"nextToken\":\"tok\"}"));
    CHECK(body_is(sl_share_body_accept("arn:aws:ram:us-east-1:" SVC ":resource-share-invitation/x"),
                  "{\"resourceShareInvitationArn\":\"arn:aws:ram:us-east-1:" SVC
                  ":resource-share-invitation/x\"}"));
    CHECK(body_is(sl_share_body_get_database("db_link"), "{\"Name\":\"db_link\"}"));
    CHECK(
        body_is(sl_share_body_create_link("db_link", SVC, "db", "eu-west-1"),
                "{\"DatabaseInput\":{\"Name\":\"db_link\",\"TargetDatabase\":{\"CatalogId\":\"" SVC
                "\",\"DatabaseName\":\"db\",\"Region\":\"eu-west-1\"}}}"));
}

#define INV(arn, from, status)                                                                     \
    "{\"resourceShareInvitationArn\":\"" arn "\",\"resourceShareName\":\"LakeFormation-V4-X\","    \
    "\"resourceShareArn\":\"arn:aws:ram:us-east-1:" from                                           \
    ":resource-share/s\",\"senderAccountId\":"                                                     \
    "\"" from "\",\"receiverAccountId\":\"210987654321\",\"invitationTimestamp\":1.7e9,"           \
    "\"status\":\"" status "\"}"

static void test_parse_invitations_table(void)
{
    static const struct {
        const char *body;
        int ok, npending, seen, accepted, skipped;
        const char *next;
    } t[] = {
        {"{\"resourceShareInvitations\":[]}", 1, 0, 0, 0, 0, NULL},
        {"{}", 1, 0, 0, 0, 0, NULL}, /* an absent list is an empty page */
        {"{\"resourceShareInvitations\":[" INV("arn:a1", SVC, "PENDING") "," INV(
             "arn:a2", SVC,
             "ACCEPTED") "," INV("arn:a3", SVC,
                                 "REJECTED") "," INV("arn:a4", SVC,
                                                     "EXPIRED") "," INV("arn:a5", "999988887777",
                                                                        "PENDING") "],"
                                                                                   "\"nextToken\":"
                                                                                   "\"n2\"}",
         1, 1, 4, 1, 2, "n2"},
        {"{\"resourceShareInvitations\":[],\"nextToken\":null}", 1, 0, 0, 0, 0, NULL},
        /* refused */
        {"[]", 0, 0, 0, 0, 0, NULL},
        {"{\"resourceShareInvitations\":{}}", 0, 0, 0, 0, 0, NULL},
        {"{\"resourceShareInvitations\":[1]}", 0, 0, 0, 0, 0, NULL},
        {"{\"resourceShareInvitations\":[{\"senderAccountId\":\"" SVC
         "\",\"status\":\"PENDING\"}]}",
         0, 0, 0, 0, 0, NULL},
        {"{\"resourceShareInvitations\":[" INV("not-an-arn", SVC, "PENDING") "]}", 0, 0, 0, 0, 0,
         NULL},
        {"{\"resourceShareInvitations\":[" INV("arn:a1", SVC, "MAYBE") "]}", 0, 0, 0, 0, 0, NULL},
        {"{\"resourceShareInvitations\":[],\"nextToken\":\"\"}", 0, 0, 0, 0, 0, NULL},
        {"{\"resourceShareInvitations\":[],\"nextToken\":5}", 0, 0, 0, 0, 0, NULL},
        {"not json", 0, 0, 0, 0, 0, NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        sl_share_invitations_page pg;
        char err[SL_ERRLEN] = "";
        int rc = sl_share_parse_invitations_bytes(t[i].body, strlen(t[i].body), SVC, &pg, err,
                                                  sizeof(err));
        if (!t[i].ok) {
            if (rc == 0)
                fprintf(stderr, "case %zu accepted\n", i);
            CHECK_INT(rc, -1);
            CHECK(err[0] != '\0');
            CHECK(pg.npending == 0 && pg.next_token == NULL);
            continue;
        }
        if (rc)
            fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK_INT(rc, 0);
        CHECK_INT((int)pg.npending, t[i].npending);
        CHECK_INT(pg.seen, t[i].seen);
        CHECK_INT(pg.accepted, t[i].accepted);
        CHECK_INT(pg.skipped, t[i].skipped);
        if (t[i].next)
            CHECK_STR(pg.next_token, t[i].next);
        else
            CHECK(pg.next_token == NULL);
        if (pg.npending) {
            CHECK_STR(pg.pending[0], "arn:a1");
            CHECK_STR(pg.pending_names[0], "LakeFormation-V4-X");
        }
        sl_share_invitations_page_cleanup(&pg);
    }
}

static void test_parse_invitations_limits(void)
{
    /* 501 entries: more than the model's maxResults allows on one page. */
    sl_buf b;
    sl_share_invitations_page pg;
    char err[SL_ERRLEN];

    sl_buf_init(&b, 0);
    CHECK(sl_buf_append(&b, "{\"resourceShareInvitations\":[", 29) == 0);
    for (int i = 0; i < 501; i++) {
        const char *e = INV("arn:x", SVC, "PENDING");
        if (i && sl_buf_append(&b, ",", 1) != 0)
            break;
        CHECK(sl_buf_append(&b, e, strlen(e)) == 0);
    }
    CHECK(sl_buf_append(&b, "]}", 2) == 0);
    CHECK_INT(sl_share_parse_invitations_bytes(b.data, b.len, SVC, &pg, err, sizeof(err)), -1);
    CHECK(strstr(err, "500") != NULL);
    sl_buf_cleanup(&b);
}

static void test_parse_link_table(void)
{
    static const struct {
        const char *body;
        int ok;
        sl_share_link_verdict v;
        const char *detail_part;
    } t[] = {
        {"{\"Database\":{\"Name\":\"db_link\",\"TargetDatabase\":{\"CatalogId\":\"" SVC
         "\",\"DatabaseName\":\"db\",\"Region\":\"us-east-1\"},\"CatalogId\":\"210987654321\"}}",
         1, SL_SHARE_LINK_MATCH, ""},
        /* no Region in the answer: a same-region link */
        {"{\"Database\":{\"Name\":\"db_link\",\"TargetDatabase\":{\"CatalogId\":\"" SVC
         "\",\"DatabaseName\":\"db\"}}}",
         1, SL_SHARE_LINK_MATCH, ""},
        {"{\"Database\":{\"Name\":\"db_link\",\"TargetDatabase\":null}}", 1, SL_SHARE_LINK_CONFLICT,
         "not a resource link"},
        {"{\"Database\":{\"Name\":\"db_link\"}}", 1, SL_SHARE_LINK_CONFLICT, "not a resource link"},
        {"{\"Database\":{\"Name\":\"db_link\",\"TargetDatabase\":{\"CatalogId\":\"111122223333"
         "\",\"DatabaseName\":\"db\"}}}",
         1, SL_SHARE_LINK_CONFLICT, "111122223333:db"},
        {"{\"Database\":{\"Name\":\"db_link\",\"TargetDatabase\":{\"CatalogId\":\"" SVC
         "\",\"DatabaseName\":\"other\"}}}",
         1, SL_SHARE_LINK_CONFLICT, ":other"},
        {"{\"Database\":{\"Name\":\"db_link\",\"TargetDatabase\":{\"CatalogId\":\"" SVC
         "\",\"DatabaseName\":\"db\",\"Region\":\"eu-west-1\"}}}",
         1, SL_SHARE_LINK_CONFLICT, "eu-west-1"},
        /* refused */
        {"{}", 0, 0, NULL},
        {"{\"Database\":{}}", 0, 0, NULL},
        {"{\"Database\":{\"Name\":\"x\",\"TargetDatabase\":{\"CatalogId\":1}}}", 0, 0, NULL},
        {"{\"Database\":{\"Name\":\"x\",\"TargetDatabase\":{\"CatalogId\":\"1\","
         "\"DatabaseName\":\"d\",\"Region\":7}}}",
         0, 0, NULL},
        {"{\"Database\":{\"Name\":\"x\",\"TargetDatabase\":[]}}", 0, 0, NULL},
        {"", 0, 0, NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        sl_share_link_verdict v = SL_SHARE_LINK_MATCH;
        char detail[512] = "", err[SL_ERRLEN] = "";
        int rc = sl_share_parse_link_bytes(t[i].body, strlen(t[i].body), SVC, "db", "us-east-1", &v,
                                           detail, sizeof(detail), err, sizeof(err));
        if (!t[i].ok) {
            if (rc == 0)
                fprintf(stderr, "case %zu accepted\n", i);
            CHECK_INT(rc, -1);
            CHECK(err[0] != '\0');
            continue;
        }
        if (rc)
            fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK_INT(rc, 0);
        CHECK_INT((int)v, (int)t[i].v);
        if (strstr(detail, t[i].detail_part) == NULL)
            fprintf(stderr, "case %zu: detail \"%s\"\n", i, detail);
        CHECK(strstr(detail, t[i].detail_part) != NULL);
    }
}

static void test_summary(void)
{
    sl_share_consumer_result r = {.invitations_accepted = 1,
                                  .invitations_already = 2,
                                  .links_created = 3,
                                  .links_present = 4};
    char out[512];

    sl_share_consumer_summary(&r, out, sizeof(out));
    CHECK_STR(out, "invitations: 1 accepted, 2 already accepted, 0 rejected or expired; "
                   "resource links: 3 created, 4 already present");
}

static void test_new_bad_settings(void)
{
    /* Settings are refused before any AWS call; a client is needed only to exist. */
    sl_aws_opts ao = {.region = "us-east-1"};
    char err[SL_ERRLEN];
    sl_aws *aws = sl_aws_new(&ao, NULL, err, sizeof(err));
    const char *two[] = {"a", "b"}, *same[] = {"a_b", "a.b"};
    static const struct {
        const char *svc, *catalog, *tmpl;
        size_t n;
        int which; /* 0: two, 1: same */
        const char *errpart;
    } t[] = {
        {"12345", NULL, NULL, 0, 0, "12-digit"},
        {SVC, "abc", NULL, 0, 0, "catalog"},
        {SVC, NULL, "one_link", 2, 0, "{database}"},
        {SVC, NULL, "{cluster}", 1, 0, "placeholder"},
        {SVC, NULL, NULL, 2, 1, "both"},
    };

    CHECK(aws != NULL);
    for (size_t i = 0; i < SL_ARRAY_LEN(t); i++) {
        sl_share_consumer_opts o = {.service_account = t[i].svc,
                                    .source_catalog = t[i].catalog,
                                    .link_template = t[i].tmpl,
                                    .databases = t[i].which ? same : two,
                                    .ndatabases = t[i].n};
        sl_share_consumer *c = sl_share_consumer_new(&o, aws, NULL, err, sizeof(err));
        if (c) {
            sl_share_consumer_free(c);
            fprintf(stderr, "case %zu accepted\n", i);
        }
        CHECK(c == NULL);
        if (!strstr(err, t[i].errpart))
            fprintf(stderr, "case %zu: %s\n", i, err);
        CHECK(strstr(err, t[i].errpart) != NULL);
    }
    {
        sl_share_consumer_opts o = {.service_account = SVC, .databases = two, .ndatabases = 2};
        sl_share_consumer *c = sl_share_consumer_new(&o, aws, NULL, err, sizeof(err));
        CHECK(c != NULL);
        CHECK_STR(sl_share_consumer_phase(c), "list-invitations");
        CHECK_INT(sl_share_consumer_failures(c), 0);
        CHECK_STR(sl_share_consumer_error(c)->code, "");
        CHECK_INT(sl_share_consumer_result_get(c)->links_created, 0);
        sl_share_consumer_free(c);
    }
    sl_share_consumer_free(NULL);
    sl_aws_free(aws);
}

static const sl_test tests[] = {
    SL_TEST(test_link_name_table),         SL_TEST(test_bodies),
    SL_TEST(test_parse_invitations_table), SL_TEST(test_parse_invitations_limits),
    SL_TEST(test_parse_link_table),        SL_TEST(test_summary),
    SL_TEST(test_new_bad_settings),
};

SL_TEST_MAIN(tests)
