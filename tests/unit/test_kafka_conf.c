/*
 * test_kafka_conf.c - kafka_conf.c's pure configuration: KAFKA_* -> librdkafka property mapping,
 * the variables skipped, secret redaction, locked properties, topic names. No broker needed:
 * librdkafka clients are created without bootstrap servers and never connect.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafka.h"
#include "log.h"
#include "sl_test.h"

static void test_env_to_prop_table(void)
{
    static const struct {
        const char *env;
        int rc;
        const char *prop;
    } cases[] = {
        {"KAFKA_BOOTSTRAP_SERVERS", 1, "bootstrap.servers"},
        {"KAFKA_SECURITY_PROTOCOL", 1, "security.protocol"},
        {"KAFKA_SASL_MECHANISM", 1, "sasl.mechanism"},
        {"KAFKA_SASL_USERNAME", 1, "sasl.username"},
        {"KAFKA_SASL_PASSWORD", 1, "sasl.password"},
        {"KAFKA_SSL_CA_LOCATION", 1, "ssl.ca.location"},
        {"KAFKA_CLIENT_ID", 1, "client.id"},
        {"KAFKA_MAX_POLL_INTERVAL_MS", 1, "max.poll.interval.ms"},
        {"KAFKA_client_id", 1, "client.id"},
        {"KAFKA_TOPIC_METADATA_REFRESH_INTERVAL_MS", 1, "topic.metadata.refresh.interval.ms"},
        /* not for librdkafka */
        {"KAFKA_", 0, NULL},
        {"KAFKA", 0, NULL},
        {"PGHOST", 0, NULL},
        {"kafka_client_id", 0, NULL},
        {"XKAFKA_CLIENT_ID", 0, NULL},
        {"KAFKA_TOPIC_PREFIX", 0, NULL}, /* ours: SL_KAFKA_OWN_VARS */
        {"KAFKA_SERVICE_HOST", 0, NULL}, /* Kubernetes service links */
        {"KAFKA_SERVICE_PORT_PLAINTEXT", 0, NULL},
        {"KAFKA_PORT", 0, NULL},
        {"KAFKA_PORT_9092_TCP_ADDR", 0, NULL},
        {"KAFKA_HEAP_OPTS", 0, NULL}, /* JVM tools */
        {"KAFKA_OPTS", 0, NULL},
        {"KAFKA_HOME", 0, NULL},
        {"KAFKA_CLIENT-ID", 0, NULL}, /* not a shell name */
        {"KAFKA_CLIENT.ID", 0, NULL},
        {NULL, 0, NULL},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char prop[SL_KAFKA_PROP_MAX] = "untouched";
        int rc = sl_kafka_env_to_prop(cases[i].env, prop, sizeof prop);
        if (rc != cases[i].rc)
            fprintf(stderr, "case %s\n", cases[i].env ? cases[i].env : "(null)");
        CHECK_INT(rc, cases[i].rc);
        CHECK_STR(prop, cases[i].rc == 1 ? cases[i].prop : "untouched");
    }
}

static void test_env_to_prop_too_long(void)
{
    char prop[8];
    CHECK_INT(sl_kafka_env_to_prop("KAFKA_BOOTSTRAP_SERVERS", prop, sizeof prop), -1);
    CHECK_INT(sl_kafka_env_to_prop("KAFKA_ACKS", prop, sizeof prop), 1);
    CHECK_STR(prop, "acks");
}

static void test_secret_props(void)
{
    static const struct {
        const char *prop;
        int secret;
    } cases[] = {
        {"sasl.password", 1},
        {"ssl.key.password", 1},
        {"ssl.key.pem", 1},
        {"ssl.keystore.password", 1},
        {"sasl.oauthbearer.client.secret", 1},
        {"sasl.oauthbearer.config", 1},
        {"sasl.oauthbearer.token.endpoint.url", 1},
        {"SASL.PASSWORD", 1},
        {"bootstrap.servers", 0},
        {"sasl.username", 0},
        {"client.id", 0},
        {"security.protocol", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_kafka_prop_is_secret(cases[i].prop), cases[i].secret);
}

static void test_apply_env_reaches_conf(void)
{
    char *env[] = {"PATH=/usr/bin",
                   "KAFKA_BOOTSTRAP_SERVERS=b1:9092,b2:9092",
                   "KAFKA_CLIENT_ID=snaplake-test",
                   "KAFKA_SECURITY_PROTOCOL=sasl_ssl",
                   "KAFKA_SASL_MECHANISM=SCRAM-SHA-512",
                   "KAFKA_SASL_USERNAME=worker",
                   "KAFKA_SASL_PASSWORD=hunter2",
                   "KAFKA_TOPIC_PREFIX=dev.",
                   "KAFKA_SERVICE_HOST=10.0.0.1",
                   "KAFKA_PORT=tcp://10.0.0.1:9092",
                   NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[SL_ERRLEN], val[256];
    size_t vlen;

    CHECK(conf != NULL);
    if (sl_kafka_conf_apply_env(conf, env, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        rd_kafka_conf_destroy(conf);
        CHECK(!"apply env");
    }
    static const char *const want[][2] = {
        {"bootstrap.servers", "b1:9092,b2:9092"},
        {"client.id", "snaplake-test"},
        {"security.protocol", "sasl_ssl"},
        {"sasl.mechanisms", "SCRAM-SHA-512"},
        {"sasl.username", "worker"},
        {"sasl.password", "hunter2"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(want); i++) {
        vlen = sizeof val;
        if (rd_kafka_conf_get(conf, want[i][0], val, &vlen) != RD_KAFKA_CONF_OK ||
            strcmp(val, want[i][1]) != 0) {
            fprintf(stderr, "%s = %s\n", want[i][0], val);
            rd_kafka_conf_destroy(conf);
            CHECK(!"property not applied");
        }
    }
    rd_kafka_conf_destroy(conf);
}

static void test_apply_env_unknown_property_fails(void)
{
    char *env[] = {"KAFKA_BOOTSTRAP_SERVRES=typo:9092", NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[SL_ERRLEN];
    int rc = sl_kafka_conf_apply_env(conf, env, err, sizeof err);

    rd_kafka_conf_destroy(conf);
    CHECK_INT(rc, -1);
    CHECK(strstr(err, "KAFKA_BOOTSTRAP_SERVRES") != NULL);
    CHECK(strstr(err, "bootstrap.servres") != NULL);
}

static void test_apply_env_secret_value_not_echoed(void)
{
    /* sasl.oauthbearer.method takes an enum; librdkafka's refusal would quote the value. */
    char *env[] = {"KAFKA_SASL_OAUTHBEARER_METHOD=Sup3rSecretValue", NULL};
    char *env2[] = {"KAFKA_ACKS=lots", NULL};
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[SL_ERRLEN];
    int rc = sl_kafka_conf_apply_env(conf, env, err, sizeof err);

    CHECK_INT(rc, -1);
    CHECK(strstr(err, "Sup3rSecretValue") == NULL);
    CHECK(strstr(err, "sasl.oauthbearer.method") != NULL);
    /* a non-secret refusal keeps librdkafka's explanation */
    rc = sl_kafka_conf_apply_env(conf, env2, err, sizeof err);
    rd_kafka_conf_destroy(conf);
    CHECK_INT(rc, -1);
    CHECK(strstr(err, "KAFKA_ACKS") != NULL);
    if (!strstr(err, "acks") || !strstr(err, "nvalid"))
        fprintf(stderr, "%s\n", err);
    CHECK(strstr(err, "acks") != NULL && strstr(err, "nvalid") != NULL);
}

static char *capture_run(void (*fn)(void *), void *arg)
{
    FILE *f = tmpfile();
    int saved;
    long n;
    char *s;

    if (!f)
        return NULL;
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    dup2(fileno(f), STDOUT_FILENO);
    fn(arg);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    n = ftell(f);
    s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(f);
    if (s && n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    fclose(f);
    return s;
}

static void apply_fn(void *arg)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char err[SL_ERRLEN];
    if (sl_kafka_conf_apply_env(conf, arg, err, sizeof err))
        printf("FAILED %s\n", err);
    rd_kafka_conf_destroy(conf);
}

static void test_debug_log_redacts_secrets(void)
{
    char *env[] = {"KAFKA_SASL_USERNAME=alice", "KAFKA_SASL_PASSWORD=hunter2",
                   "KAFKA_SSL_KEY_PASSWORD=keypass9", NULL};
    char *out;
    int ok;

    sl_log_init("test", SL_LOG_DEBUG);
    out = capture_run(apply_fn, env);
    sl_log_init("test", SL_LOG_INFO);
    CHECK(out != NULL);
    ok = strstr(out, "\"property\":\"sasl.password\"") && strstr(out, "(redacted)") &&
         strstr(out, "\"value\":\"alice\"") && !strstr(out, "hunter2") &&
         !strstr(out, "keypass9") && !strstr(out, "FAILED");
    if (!ok)
        fprintf(stderr, "%s", out);
    free(out);
    CHECK(ok);
}

static void test_locked_properties(void)
{
    static const struct {
        int consumer;
        const char *env;
        int ok;
    } cases[] = {
        {0, "KAFKA_ENABLE_IDEMPOTENCE=false", 0},
        {0, "KAFKA_ACKS=1", 0},
        {0, "KAFKA_ACKS=-1", 1},
        {0, "KAFKA_LINGER_MS=20", 1},
        {1, "KAFKA_ENABLE_AUTO_OFFSET_STORE=true", 0},
        {1, "KAFKA_PARTITION_ASSIGNMENT_STRATEGY=cooperative-sticky", 0},
        {1, "KAFKA_PARTITION_ASSIGNMENT_STRATEGY=range,cooperative-sticky", 0},
        {1, "KAFKA_PARTITION_ASSIGNMENT_STRATEGY=roundrobin", 1},
        {1, "KAFKA_PARTITION_ASSIGNMENT_STRATEGY=roundrobin,range", 1},
        {1, "KAFKA_ENABLE_AUTO_COMMIT=false", 1},
        {1, "KAFKA_NOT_A_PROPERTY=1", 0},
    };
    /* librdkafka warns about the missing bootstrap.servers; not what is tested here */
    sl_log_init("test_kafka_conf", SL_LOG_ERROR);
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char *env[] = {(char *)cases[i].env, NULL};
        char err[SL_ERRLEN] = "";
        int rc;

        if (cases[i].consumer) {
            sl_kafka_consumer *c = NULL;
            rc = sl_kafka_consumer_new(&c, "g", NULL, env, err, sizeof err);
            sl_kafka_consumer_free(c);
        } else {
            sl_kafka_producer *p = NULL;
            rc = sl_kafka_producer_new(&p, NULL, env, err, sizeof err);
            sl_kafka_producer_free(p);
        }
        if (rc != (cases[i].ok ? 0 : -1))
            fprintf(stderr, "case %s: rc %d err %s\n", cases[i].env, rc, err);
        CHECK_INT(rc, cases[i].ok ? 0 : -1);
    }
}

static void test_layers_env_wins_over_props_over_defaults(void)
{
    const char *props[] = {"client.id", "from-props", "linger.ms", "50", NULL};
    char *env[] = {"KAFKA_LINGER_MS=77", NULL};
    sl_kafka_producer *p = NULL;
    sl_kafka_consumer *c = NULL;
    char err[SL_ERRLEN], val[128];
    size_t vlen;
    const rd_kafka_conf_t *conf;

    sl_log_init("test_kafka_conf", SL_LOG_ERROR);
    CHECK_INT(sl_kafka_producer_new(&p, props, env, err, sizeof err), 0);
    conf = rd_kafka_conf(sl_kafka_producer_handle(p));
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "client.id", val, &vlen);
    if (strcmp(val, "from-props") != 0) {
        sl_kafka_producer_free(p);
        CHECK(!"client.id from props");
    }
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "linger.ms", val, &vlen);
    if (strcmp(val, "77") != 0) {
        sl_kafka_producer_free(p);
        CHECK(!"linger.ms from env");
    }
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "enable.idempotence", val, &vlen);
    sl_kafka_producer_free(p);
    CHECK_STR(val, "true");

    CHECK_INT(sl_kafka_consumer_new(&c, "grp-1", NULL, env, err, sizeof err), 0);
    conf = rd_kafka_conf(sl_kafka_consumer_handle(c));
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "group.id", val, &vlen);
    if (strcmp(val, "grp-1") != 0) {
        sl_kafka_consumer_free(c);
        CHECK(!"group.id");
    }
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "enable.auto.offset.store", val, &vlen);
    if (strcmp(val, "false") != 0) {
        sl_kafka_consumer_free(c);
        CHECK(!"auto offset store");
    }
    vlen = sizeof val;
    rd_kafka_conf_get(conf, "auto.offset.reset", val, &vlen);
    sl_kafka_consumer_free(c);
    CHECK_STR(val, "smallest"); /* librdkafka's canonical spelling of earliest */
}

static void test_consumer_requires_group(void)
{
    sl_kafka_consumer *c = NULL;
    char *env[] = {NULL};
    char err[SL_ERRLEN];

    CHECK_INT(sl_kafka_consumer_new(&c, "", NULL, env, err, sizeof err), -1);
    CHECK(c == NULL);
    CHECK(strstr(err, "group") != NULL);
}

static void test_topic_names(void)
{
    static const struct {
        const char *prefix, *stage;
        int rc;
        const char *want;
    } cases[] = {
        {"snaplake.", SL_KAFKA_TOPIC_SNAPSHOTS, 0, "snaplake.snapshots"},
        {"dev-", SL_KAFKA_TOPIC_DLQ, 0, "dev-dlq"},
        {"", "exports", 0, "exports"},
        {"bad prefix.", "exports", -1, ""},
        {"a/b.", "exports", -1, ""},
        {"", ".", -1, ""},
        {"", "", -1, ""},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char out[300];
        CHECK_INT(sl_kafka_topic_name(out, sizeof out, cases[i].prefix, cases[i].stage),
                  cases[i].rc);
        CHECK_STR(out, cases[i].want);
    }
}

static void test_topic_name_limits_and_env_prefix(void)
{
    char longp[260], out[300], small[8];

    memset(longp, 'a', 249);
    longp[249] = '\0';
    CHECK_INT(sl_kafka_topic_name(out, sizeof out, longp, "x"), -1);
    longp[248] = '\0';
    CHECK_INT(sl_kafka_topic_name(out, sizeof out, longp, "x"), 0);
    CHECK_INT(sl_kafka_topic_name(small, sizeof small, "snaplake.", "x"), -1);
    setenv("KAFKA_TOPIC_PREFIX", "qa.", 1);
    CHECK_INT(sl_kafka_topic_name(out, sizeof out, NULL, "copies"), 0);
    CHECK_STR(out, "qa.copies");
    unsetenv("KAFKA_TOPIC_PREFIX");
    CHECK_INT(sl_kafka_topic_name(out, sizeof out, NULL, "copies"), 0);
    CHECK_STR(out, "snaplake.copies");
}

static const sl_test tests[] = {
    SL_TEST(test_env_to_prop_table),
    SL_TEST(test_env_to_prop_too_long),
    SL_TEST(test_secret_props),
    SL_TEST(test_apply_env_reaches_conf),
    SL_TEST(test_apply_env_unknown_property_fails),
    SL_TEST(test_apply_env_secret_value_not_echoed),
    SL_TEST(test_debug_log_redacts_secrets),
    SL_TEST(test_locked_properties),
    SL_TEST(test_layers_env_wins_over_props_over_defaults),
    SL_TEST(test_consumer_requires_group),
    SL_TEST(test_topic_names),
    SL_TEST(test_topic_name_limits_and_env_prefix),
};
SL_TEST_MAIN(tests)
