/*
 * it_share_consumer.c - the consumer side's step API (share_consumer.h) as the share stage
 * drives it, one call per step, against the stack's stand-in (STANDIN_ENDPOINT: RAM from the
 * stand-in, Glue from moto with signature checking on), in the analytics account through
 * sl_creds_role_new. Between two steps the test does, out of band, what a concurrent actor
 * could: it accepts the invitation the consumer is about to accept, and creates the link the
 * consumer is about to create. Both must end as "already there", never as a failure.
 *
 * The analytics role (snaplake-analytics-consumer in 210987654321) is made in moto by
 * tests/aws_setup.py when the stack starts; a stack started before that answers Glue calls with
 * HTTP 500 (moto checks an assumed role's policies): restart it (scripts/stack.sh stop; start).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "aws_http.h"
#include "creds.h"
#include "glue.h"
#include "json.h"
#include "share_consumer.h"
#include "../unit/sl_test.h"

#define SERVICE_ACCOUNT "123456789012"
#define ANALYTICS "210987654321"
#define ROLE "arn:aws:iam::" ANALYTICS ":role/snaplake-analytics-consumer"

static sl_creds_provider *svc_creds, *an_creds;
static sl_aws *svc, *an;
static char db[128], link_name[160];
static const char *region;

static int setup(void)
{
    sl_aws_opts o;
    sl_aws_error e;
    char err[SL_ERRLEN];
    int created;
    sl_creds_role role = {.arn = ROLE, .session_name = "it-share-consumer"};

    memset(&o, 0, sizeof(o));
    region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
    o.region = (char *)region;
    o.endpoint_url = getenv("STANDIN_ENDPOINT");
    o.max_attempts = 3;
    o.retry_base_ms = 50;
    if (!(svc_creds = sl_creds_chain_new(&(sl_creds_opts){0}, &o, err, sizeof(err))) ||
        !(svc = sl_aws_new(&o, sl_creds_signer(svc_creds), err, sizeof(err))) ||
        !(an_creds = sl_creds_role_new(&(sl_creds_opts){0}, &o, &role, err, sizeof(err))) ||
        !(an = sl_aws_new(&o, sl_creds_signer(an_creds), err, sizeof(err)))) {
        fprintf(stderr, "clients: %s\n", err);
        return -1;
    }
    snprintf(db, sizeof(db), "snaplake_it_sc_%ld_%ld", (long)getpid(), (long)time(NULL));
    snprintf(link_name, sizeof(link_name), "%s_link", db);
    if (sl_glue_create_database(svc, db, &created, &e) != 0) {
        fprintf(stderr, "CreateDatabase %s: %s: %s\n", db, e.code, e.message);
        return -1;
    }
    {
        /* A cross-account grant: the stand-in's Lake Formation sends a RAM invitation. */
        char text[512];
        cJSON *body, *resp = NULL;
        int rc;

        snprintf(text, sizeof(text),
                 "{\"Principal\":{\"DataLakePrincipalIdentifier\":\"" ANALYTICS "\"},"
                 "\"Resource\":{\"Database\":{\"Name\":\"%s\"}},\"Permissions\":[\"DESCRIBE\"]}",
                 db);
        body = cJSON_Parse(text);
        rc = sl_aws_rest_json(svc, "lakeformation", "POST", "/GrantPermissions", body, &resp, &e);
        cJSON_Delete(body);
        cJSON_Delete(resp);
        if (rc) {
            fprintf(stderr, "GrantPermissions: %s: %s\n", e.code, e.message);
            return -1;
        }
    }
    return 0;
}

static void teardown(void)
{
    sl_aws_free(an);
    sl_creds_provider_free(an_creds);
    sl_aws_free(svc);
    sl_creds_provider_free(svc_creds);
}

/* Our database's pending invitation, found as the consumer finds it. 0 with arn, or -1. */
static int pending_arn(char *arn, size_t arnlen)
{
    cJSON *body = sl_share_body_invitations(NULL), *resp = NULL;
    sl_share_invitations_page pg;
    sl_aws_error e;
    char err[SL_ERRLEN];
    int rc = -1;

    memset(&pg, 0, sizeof(pg));
    if (sl_aws_rest_json(an, "ram", "POST", "/getresourceshareinvitations", body, &resp, &e) != 0)
        fprintf(stderr, "GetResourceShareInvitations: %s: %s\n", e.code, e.message);
    else if (sl_share_parse_invitations(resp, SERVICE_ACCOUNT, &pg, err, sizeof(err)) != 0)
        fprintf(stderr, "parse: %s\n", err);
    else if (pg.npending > 0) {
        /* The newest is ours (the stand-in lists in the order it made them). */
        snprintf(arn, arnlen, "%s", pg.pending[pg.npending - 1]);
        rc = 0;
    }
    sl_share_invitations_page_cleanup(&pg);
    cJSON_Delete(body);
    cJSON_Delete(resp);
    return rc;
}

static sl_share_consumer_status step(sl_share_consumer *c)
{
    long long due = -1;
    sl_share_consumer_status st = sl_share_consumer_step(c, &due);

    if (st == SL_SHARE_CONSUMER_FAILED || st == SL_SHARE_CONSUMER_RETRY)
        fprintf(stderr, "step %s: %s: %s\n", sl_share_consumer_phase(c),
                sl_share_consumer_error(c)->code, sl_share_consumer_error(c)->message);
    /* PENDING is due at once: each step is one call, and nothing here waits. */
    if (st == SL_SHARE_CONSUMER_PENDING && due > sl_mono_ms())
        return SL_SHARE_CONSUMER_FAILED;
    return st;
}

static void test_concurrent_accept_and_create_are_already_there(void)
{
    const char *dbs[] = {db};
    char err[SL_ERRLEN], arn[2100];
    sl_share_consumer_opts o = {
        .service_account = SERVICE_ACCOUNT, .databases = dbs, .ndatabases = 1};
    sl_share_consumer *c = sl_share_consumer_new(&o, an, NULL, err, sizeof(err));
    const sl_share_consumer_result *r;
    sl_aws_error e;
    cJSON *body, *resp = NULL;
    int rc;

    CHECK(c != NULL);
    CHECK_INT(pending_arn(arn, sizeof(arn)), 0);
    /* Step 1 lists (one page): the invitation is pending, to be accepted next. */
    CHECK_INT(step(c), SL_SHARE_CONSUMER_PENDING);
    CHECK_STR(sl_share_consumer_phase(c), "accept");
    /* Someone else accepts every pending one first. */
    while (pending_arn(arn, sizeof(arn)) == 0) {
        body = sl_share_body_accept(arn);
        rc = sl_aws_rest_json(an, "ram", "POST", "/acceptresourceshareinvitation", body, &resp, &e);
        cJSON_Delete(body);
        cJSON_Delete(resp);
        resp = NULL;
        CHECK_INT(rc, 0);
    }
    /* The consumer's accepts now answer AlreadyAccepted: counted, not failed. */
    while (strcmp(sl_share_consumer_phase(c), "accept") == 0)
        CHECK_INT(step(c), SL_SHARE_CONSUMER_PENDING);
    CHECK_STR(sl_share_consumer_phase(c), "get-link");
    r = sl_share_consumer_result_get(c);
    CHECK_INT(r->invitations_accepted, 0);
    CHECK(r->invitations_already >= 1);
    /* GetDatabase: no link yet, so create-link is next; someone creates it first. */
    CHECK_INT(step(c), SL_SHARE_CONSUMER_PENDING);
    CHECK_STR(sl_share_consumer_phase(c), "create-link");
    body = sl_share_body_create_link(link_name, SERVICE_ACCOUNT, db, region);
    rc = sl_aws_json(an, "glue", "AWSGlue.CreateDatabase", body, &resp, &e);
    if (rc)
        fprintf(stderr, "CreateDatabase: %s: %s\n", e.code, e.message);
    cJSON_Delete(body);
    cJSON_Delete(resp);
    CHECK_INT(rc, 0);
    /* AlreadyExistsException -> read it again -> the same target: present. */
    CHECK_INT(step(c), SL_SHARE_CONSUMER_PENDING);
    CHECK_STR(sl_share_consumer_phase(c), "get-link");
    CHECK_INT(step(c), SL_SHARE_CONSUMER_PENDING);
    CHECK_STR(sl_share_consumer_phase(c), "done");
    CHECK_INT(step(c), SL_SHARE_CONSUMER_DONE);
    CHECK_INT(step(c), SL_SHARE_CONSUMER_DONE); /* and stays done */
    r = sl_share_consumer_result_get(c);
    CHECK_INT(r->links_created, 0);
    CHECK_INT(r->links_present, 1);
    CHECK_STR(sl_share_consumer_error(c)->code, "");
    sl_share_consumer_free(c);
}

static void test_a_second_consumer_writes_nothing(void)
{
    const char *dbs[] = {db};
    char err[SL_ERRLEN];
    sl_share_consumer_opts o = {
        .service_account = SERVICE_ACCOUNT, .databases = dbs, .ndatabases = 1};
    sl_share_consumer *c = sl_share_consumer_new(&o, an, NULL, err, sizeof(err));
    sl_share_consumer_status st;
    int steps = 0;

    CHECK(c != NULL);
    while ((st = step(c)) == SL_SHARE_CONSUMER_PENDING && steps < 20)
        steps++;
    CHECK_INT(st, SL_SHARE_CONSUMER_DONE);
    /* list, get-link (present): two calls, nothing accepted or created. */
    CHECK_INT(steps, 2);
    CHECK_INT(sl_share_consumer_result_get(c)->invitations_accepted, 0);
    CHECK_INT(sl_share_consumer_result_get(c)->links_created, 0);
    CHECK_INT(sl_share_consumer_result_get(c)->links_present, 1);
    sl_share_consumer_free(c);
}

static const sl_test tests[] = {
    SL_TEST(test_concurrent_accept_and_create_are_already_there),
    SL_TEST(test_a_second_consumer_writes_nothing),
};

SL_TEST_MAIN_REQUIRE(tests, setup, teardown, "STANDIN_ENDPOINT", "AWS_ACCESS_KEY_ID")
