/*
 * it_kafka.c - the kafka module (common/kafka_*.c) against the real broker of the local stack
 * (KAFKA_BOOTSTRAP_SERVERS; skipped with the reason when unset). Every client is configured only
 * through the environment mapping, so these runs also prove KAFKA_* reaches librdkafka.
 *
 * Covered: topic creation (twice: "already exists" is success); 20 messages produced
 * synchronously by the idempotent producer; consumer A stores offsets for exactly 10 and
 * closes; consumer B of the same group resumes at the 11th; pause keeps a partition silent
 * while the consumer polls and stays in the group past its session timeout, resume delivers;
 * produce errors surface; KAFKA_CLIENT_ID visible through rd_kafka_conf_get.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"
#include "../unit/sl_test.h"

static char topic1[128], topic2[128], group1[128], group2[128];

/* Polls until a message arrives or timeout_ms passes; transient errors are printed. */
static rd_kafka_message_t *poll_one(sl_kafka_consumer *c, int timeout_ms)
{
    long long deadline = sl_mono_ms() + timeout_ms;
    char err[SL_ERRLEN];

    while (sl_mono_ms() < deadline) {
        rd_kafka_message_t *m = NULL;
        if (sl_kafka_consumer_poll(c, 200, &m, NULL, err, sizeof err))
            fprintf(stderr, "poll: %s\n", err);
        else if (m)
            return m;
    }
    return NULL;
}

static int header_is(const rd_kafka_message_t *m, const char *name, const char *want)
{
    rd_kafka_headers_t *h = NULL;
    const void *v;
    size_t n;

    if (rd_kafka_message_headers(m, &h) || rd_kafka_header_get_last(h, name, &v, &n))
        return 0;
    return n == strlen(want) && memcmp(v, want, n) == 0;
}

static void test_create_topics_idempotent(void)
{
    const char *topics[] = {topic1, topic2};
    const char *one[] = {topic1};
    char err[SL_ERRLEN];

    if (sl_kafka_create_topics(topics, 1, 1, 1, NULL, NULL, 15000, err, sizeof err) ||
        sl_kafka_create_topics(topics + 1, 1, 2, 1, NULL, NULL, 15000, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        CHECK(!"create topics");
    }
    /* again: "already exists" counts as success */
    CHECK_INT(sl_kafka_create_topics(one, 1, 1, 1, NULL, NULL, 15000, err, sizeof err), 0);
    /* a real refusal (replication 3 on a one-broker cluster) names the topic */
    {
        char name[160];
        const char *bad[] = {name};
        snprintf(name, sizeof name, "%s.rf3", topic1);
        CHECK_INT(sl_kafka_create_topics(bad, 1, 1, 3, NULL, NULL, 15000, err, sizeof err), -1);
        CHECK(strstr(err, name) != NULL);
        fprintf(stderr, "expected refusal: %s\n", err);
    }
}

/* The seven pipeline topics come out of one call, with the asked partitions; a bad prefix is
   refused before any broker call. */
static void test_create_pipeline_topics(void)
{
    static const char *const stages[] = {"snapshots", "exports",  "copies", "crawls",
                                         "shares",    "failures", "dlq"};
    char prefix[192], err[SL_ERRLEN];
    sl_kafka_topic_opts o = {.prefix = prefix, .create = 1, .partitions = 3, .replication = 1};
    sl_kafka_topic_opts bad = {.prefix = "no spaces allowed.", .partitions = 1, .replication = 1};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_t *rk;
    const rd_kafka_metadata_t *md = NULL;
    int found = 0;

    snprintf(prefix, sizeof prefix, "%s.pipe.", topic1);
    CHECK_INT(sl_kafka_create_pipeline_topics(&o, NULL, err, sizeof err), 0);
    CHECK_INT(sl_kafka_create_pipeline_topics(&o, NULL, err, sizeof err), 0);
    CHECK_INT(sl_kafka_create_pipeline_topics(&bad, NULL, err, sizeof err), -1);
    CHECK(strstr(err, "KAFKA_TOPIC_PREFIX") != NULL);

    CHECK(rd_kafka_conf_set(conf, "bootstrap.servers", getenv("KAFKA_BOOTSTRAP_SERVERS"), err,
                            sizeof err) == RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    CHECK(rk != NULL);
    /* CreateTopics answers before every broker's metadata cache has the topics: look again
       for up to 10 s. */
    for (long long until = sl_mono_ms() + 10000; found < 7 && sl_mono_ms() < until;) {
        found = 0;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR)
            continue;
        for (int i = 0; i < md->topic_cnt; i++)
            for (size_t k = 0; k < SL_ARRAY_LEN(stages); k++) {
                char want[256];
                snprintf(want, sizeof want, "%s%s", prefix, stages[k]);
                if (strcmp(md->topics[i].topic, want) == 0 && md->topics[i].partition_cnt == 3)
                    found++;
            }
        rd_kafka_metadata_destroy(md);
        if (found < 7) {
            struct timespec ts = {0, 200 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    rd_kafka_destroy(rk);
    CHECK_INT(found, 7);
}

static void test_produce_20_sync(void)
{
    sl_kafka_producer *p = NULL;
    char err[SL_ERRLEN];
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR__FAIL;

    CHECK_INT(sl_kafka_producer_new(&p, NULL, NULL, err, sizeof err), 0);
    for (int i = 0; i < 20; i++) {
        char val[32], idx[16];
        sl_kafka_header h[] = {{"snaplake-version", "1", 1}, {"index", idx, 0}};
        snprintf(val, sizeof val, "msg-%d", i);
        snprintf(idx, sizeof idx, "%d", i);
        h[1].len = strlen(idx);
        if (sl_kafka_produce_sync(p, topic1, RD_KAFKA_PARTITION_UA, "cluster-a", 9, val,
                                  strlen(val), h, 2, 15000, &code, err, sizeof err)) {
            fprintf(stderr, "produce %d: %s\n", i, err);
            sl_kafka_producer_free(p);
            CHECK(!"produce");
        }
    }
    sl_kafka_producer_free(p);
    CHECK_INT(code, RD_KAFKA_RESP_ERR_NO_ERROR);
}

/* Delivery reports of async produces, as the hook saw them. */
typedef struct reports {
    uint64_t ticket[8];
    rd_kafka_resp_err_t err[8];
    int n;
} reports;

static void report_hook(sl_kafka_producer *p, uint64_t ticket, rd_kafka_resp_err_t e, void *ud)
{
    reports *r = ud;

    (void)p;
    if (r->n < 8) {
        r->ticket[r->n] = ticket;
        r->err[r->n++] = e;
    }
}

static void test_produce_async_reports_each_ticket(void)
{
    sl_kafka_producer *p = NULL;
    char err[SL_ERRLEN];
    reports r = {{0}, {0}, 0};
    uint64_t t[3] = {0, 0, 0};
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR__FAIL;
    long long deadline;

    CHECK_INT(sl_kafka_producer_new(&p, NULL, NULL, err, sizeof err), 0);
    sl_kafka_producer_set_report_hook(p, report_hook, &r);
    for (int i = 0; i < 2; i++)
        CHECK_INT(sl_kafka_produce_async(p, topic1, RD_KAFKA_PARTITION_UA, "k", 1, "async", 5, NULL,
                                         0, &t[i], &code, err, sizeof err),
                  0);
    /* A sync produce in between waits for its own report and passes the others on. */
    CHECK_INT(sl_kafka_produce_sync(p, topic1, RD_KAFKA_PARTITION_UA, "k", 1, "sync", 4, NULL, 0,
                                    15000, &code, err, sizeof err),
              0);
    CHECK_INT(sl_kafka_produce_async(p, topic1, RD_KAFKA_PARTITION_UA, "k", 1, "async", 5, NULL, 0,
                                     &t[2], &code, err, sizeof err),
              0);
    CHECK(t[0] != 0 && t[1] != t[0] && t[2] != t[1] && t[2] != t[0]);
    deadline = sl_mono_ms() + 15000;
    while (r.n < 3 && sl_mono_ms() < deadline)
        (void)sl_kafka_producer_poll(p, 100);
    sl_kafka_producer_free(p);
    CHECK_INT(r.n, 3);
    for (int i = 0; i < 3; i++) {
        CHECK(r.ticket[i] == t[i]); /* one partition (same key): reports in order */
        CHECK_INT(r.err[i], RD_KAFKA_RESP_ERR_NO_ERROR);
    }
}

static int assigned_calls, revoked_calls;

static void count_hook(sl_kafka_consumer *c, int assigned,
                       const rd_kafka_topic_partition_list_t *parts, void *ud)
{
    (void)c;
    (void)parts;
    (void)ud;
    if (assigned)
        assigned_calls++;
    else
        revoked_calls++;
}

static void test_manual_offsets_survive_restart(void)
{
    const char *topics[] = {topic1};
    sl_kafka_consumer *a = NULL, *b = NULL;
    rd_kafka_message_t *m;
    char err[SL_ERRLEN];
    int got = 0, ok = 1;

    /* Consumer A: handles 10 messages and stores exactly those. */
    CHECK_INT(sl_kafka_consumer_new(&a, group1, NULL, NULL, err, sizeof err), 0);
    assigned_calls = revoked_calls = 0;
    sl_kafka_consumer_set_rebalance_hook(a, count_hook, NULL);
    if (sl_kafka_consumer_subscribe(a, topics, 1, err, sizeof err)) {
        sl_kafka_consumer_free(a);
        CHECK(!"subscribe A");
    }
    while (got < 10 && (m = poll_one(a, 30000)) != NULL) {
        char want[32];
        snprintf(want, sizeof want, "msg-%d", got);
        if (m->offset != got || m->len != strlen(want) || memcmp(m->payload, want, m->len) ||
            m->key_len != 9 || memcmp(m->key, "cluster-a", 9) ||
            !header_is(m, "snaplake-version", "1")) {
            fprintf(stderr, "unexpected message at %lld\n", (long long)m->offset);
            ok = 0;
        }
        /* Half by message, half by explicit topic/partition/offset. */
        if (got < 5 ? sl_kafka_consumer_store(a, m, err, sizeof err)
                    : sl_kafka_consumer_store_offset(a, rd_kafka_topic_name(m->rkt), m->partition,
                                                     m->offset, err, sizeof err)) {
            fprintf(stderr, "store: %s\n", err);
            ok = 0;
        }
        rd_kafka_message_destroy(m);
        got++;
    }
    if (sl_kafka_consumer_close(a, err, sizeof err)) {
        fprintf(stderr, "close A: %s\n", err);
        ok = 0;
    }
    sl_kafka_consumer_free(a);
    CHECK_INT(got, 10);
    CHECK(ok);
    CHECK(assigned_calls >= 1);
    CHECK(revoked_calls >= 1); /* the close left the group through the hook */

    /* Consumer B, same group: resumes at the 11th message exactly. */
    CHECK_INT(sl_kafka_consumer_new(&b, group1, NULL, NULL, err, sizeof err), 0);
    if (sl_kafka_consumer_subscribe(b, topics, 1, err, sizeof err)) {
        sl_kafka_consumer_free(b);
        CHECK(!"subscribe B");
    }
    got = 10;
    while (got < 20 && (m = poll_one(b, 30000)) != NULL) {
        char want[32];
        snprintf(want, sizeof want, "msg-%d", got);
        if (m->offset != got || m->len != strlen(want) || memcmp(m->payload, want, m->len)) {
            fprintf(stderr, "B got offset %lld \"%.*s\", expected %s\n", (long long)m->offset,
                    (int)m->len, (const char *)m->payload, want);
            ok = 0;
        }
        rd_kafka_message_destroy(m);
        got++;
    }
    /* nothing beyond the 20 */
    m = poll_one(b, 1000);
    if (m) {
        ok = 0;
        rd_kafka_message_destroy(m);
    }
    sl_kafka_consumer_free(b);
    CHECK_INT(got, 20);
    CHECK(ok);
}

static int assignment_size(sl_kafka_consumer *c)
{
    rd_kafka_topic_partition_list_t *l = NULL;
    int n = -1;

    if (rd_kafka_assignment(sl_kafka_consumer_handle(c), &l) == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = l->cnt;
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    return n;
}

static void test_pause_resume_stays_in_group(void)
{
    /* A short session timeout, so "stays in the group" is checked past it. */
    const char *props[] = {"session.timeout.ms", "6000", "heartbeat.interval.ms", "1000", NULL};
    const char *topics[] = {topic2};
    sl_kafka_consumer *c = NULL;
    sl_kafka_producer *p = NULL;
    rd_kafka_message_t *m = NULL;
    char err[SL_ERRLEN], *member;
    long long t0;
    int from_p0 = 0, from_p1 = 0, ok = 1, revoked_before;

    CHECK_INT(sl_kafka_consumer_new(&c, group2, props, NULL, err, sizeof err), 0);
    assigned_calls = revoked_calls = 0;
    sl_kafka_consumer_set_rebalance_hook(c, count_hook, NULL);
    if (sl_kafka_consumer_subscribe(c, topics, 1, err, sizeof err)) {
        sl_kafka_consumer_free(c);
        CHECK(!"subscribe");
    }
    t0 = sl_mono_ms();
    while (assignment_size(c) < 2 && sl_mono_ms() - t0 < 30000) {
        if (sl_kafka_consumer_poll(c, 200, &m, NULL, err, sizeof err) == 0 && m) {
            rd_kafka_message_destroy(m);
            ok = 0; /* the topic is still empty */
        }
    }
    if (assignment_size(c) != 2 || sl_kafka_consumer_pause(c, topic2, 0, err, sizeof err)) {
        fprintf(stderr, "assignment %d, %s\n", assignment_size(c), err);
        sl_kafka_consumer_free(c);
        CHECK(!"assign and pause");
    }
    revoked_before = revoked_calls;

    if (sl_kafka_producer_new(&p, NULL, NULL, err, sizeof err)) {
        sl_kafka_consumer_free(c);
        CHECK(!"producer");
    }
    for (int i = 0; i < 10; i++) {
        char v[16];
        snprintf(v, sizeof v, "p%d-%d", i % 2, i / 2);
        if (sl_kafka_produce_sync(p, topic2, i % 2, "k", 1, v, strlen(v), NULL, 0, 15000, NULL, err,
                                  sizeof err)) {
            fprintf(stderr, "%s\n", err);
            ok = 0;
        }
    }
    sl_kafka_producer_free(p);

    /* Paused for longer than session.timeout.ms, polling all along. */
    t0 = sl_mono_ms();
    while (sl_mono_ms() - t0 < 9000) {
        if (sl_kafka_consumer_poll(c, 200, &m, NULL, err, sizeof err) == 0 && m) {
            if (m->partition == 0)
                from_p0++;
            else
                from_p1++;
            rd_kafka_message_destroy(m);
        }
    }
    member = rd_kafka_memberid(sl_kafka_consumer_handle(c));
    if (from_p0 != 0 || from_p1 != 5 || revoked_calls != revoked_before ||
        assignment_size(c) != 2 || !member || !*member) {
        fprintf(stderr, "while paused: p0 %d, p1 %d, revokes %d->%d, assignment %d\n", from_p0,
                from_p1, revoked_before, revoked_calls, assignment_size(c));
        ok = 0;
    }
    rd_kafka_mem_free(NULL, member);

    if (sl_kafka_consumer_resume(c, topic2, 0, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        ok = 0;
    }
    t0 = sl_mono_ms();
    while (from_p0 < 5 && sl_mono_ms() - t0 < 15000) {
        if (sl_kafka_consumer_poll(c, 200, &m, NULL, err, sizeof err) == 0 && m) {
            char want[16];
            snprintf(want, sizeof want, "p0-%d", from_p0);
            if (m->partition != 0 || m->len != strlen(want) || memcmp(m->payload, want, m->len))
                ok = 0;
            else
                from_p0++;
            if (sl_kafka_consumer_store(c, m, err, sizeof err))
                ok = 0;
            rd_kafka_message_destroy(m);
        }
    }
    if (sl_kafka_consumer_commit(c, err, sizeof err)) {
        fprintf(stderr, "commit: %s\n", err);
        ok = 0;
    }
    sl_kafka_consumer_free(c);
    CHECK_INT(from_p0, 5);
    CHECK(ok);
}

static void test_produce_errors_surface(void)
{
    sl_kafka_producer *p = NULL;
    char err[SL_ERRLEN];
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    size_t big = 2 * 1024 * 1024;
    char *v = calloc(1, big);
    int rc;

    CHECK(v != NULL);
    if (sl_kafka_producer_new(&p, NULL, NULL, err, sizeof err)) {
        free(v);
        CHECK(!"producer");
    }
    /* larger than message.max.bytes: refused, with librdkafka's text */
    rc = sl_kafka_produce_sync(p, topic1, RD_KAFKA_PARTITION_UA, NULL, 0, v, big, NULL, 0, 5000,
                               &code, err, sizeof err);
    free(v);
    sl_kafka_producer_free(p);
    CHECK_INT(rc, -1);
    CHECK_INT(code, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
    CHECK(strstr(err, topic1) != NULL);
}

static void test_env_client_id_reaches_librdkafka(void)
{
    sl_kafka_producer *p = NULL;
    char err[SL_ERRLEN], val[128];
    size_t vlen = sizeof val;
    int rc;

    setenv("KAFKA_CLIENT_ID", "it-kafka-client", 1);
    rc = sl_kafka_producer_new(&p, NULL, NULL, err, sizeof err);
    unsetenv("KAFKA_CLIENT_ID");
    CHECK_INT(rc, 0);
    if (rd_kafka_conf_get(rd_kafka_conf(sl_kafka_producer_handle(p)), "client.id", val, &vlen) !=
        RD_KAFKA_CONF_OK) {
        sl_kafka_producer_free(p);
        CHECK(!"conf get");
    }
    /* and the client works with it */
    rc = sl_kafka_produce_sync(p, topic1, RD_KAFKA_PARTITION_UA, NULL, 0, "x", 1, NULL, 0, 15000,
                               NULL, err, sizeof err);
    sl_kafka_producer_free(p);
    CHECK_STR(val, "it-kafka-client");
    CHECK_INT(rc, 0);
}

static const sl_test tests[] = {
    SL_TEST(test_create_topics_idempotent),
    SL_TEST(test_create_pipeline_topics),
    SL_TEST(test_produce_20_sync),
    SL_TEST(test_manual_offsets_survive_restart),
    SL_TEST(test_pause_resume_stays_in_group),
    SL_TEST(test_produce_errors_surface),
    SL_TEST(test_env_client_id_reaches_librdkafka),
    SL_TEST(test_produce_async_reports_each_ticket), /* last: topic1 has 20 before it */
};

static int setup(void)
{
    long long id = (long long)getpid() * 1000000 + sl_now_ms() % 1000000;

    sl_log_init("it_kafka", SL_LOG_WARN);
    snprintf(topic1, sizeof topic1, "it_kafka.roundtrip.%lld", id);
    snprintf(topic2, sizeof topic2, "it_kafka.pause.%lld", id);
    snprintf(group1, sizeof group1, "it_kafka.g1.%lld", id);
    snprintf(group2, sizeof group2, "it_kafka.g2.%lld", id);
    return 0;
}

SL_TEST_MAIN_REQUIRE(tests, setup, NULL, "KAFKA_BOOTSTRAP_SERVERS")
