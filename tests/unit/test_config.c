/* test_config.c - config.c: parsers, table loading, all-errors-at-once, secrets, help. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sl_test.h"

typedef struct test_cfg {
    char *bucket;
    char *password;
    long long slots;
    long long poll_ms;
    int dry_run;
    char *region;
} test_cfg;

static const sl_cfg_opt opts[] = {
    {"T_BUCKET", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(test_cfg, bucket), "lake bucket"},
    {"T_PASSWORD", SL_CFG_SECRET, NULL, 0, -1, 0, offsetof(test_cfg, password), "db password"},
    {"T_SLOTS", SL_CFG_INT, "5", 1, 64, 0, offsetof(test_cfg, slots), "export slots"},
    {"T_POLL", SL_CFG_DURATION, "30s", 100, 3600000, 0, offsetof(test_cfg, poll_ms), "poll"},
    {"T_DRY_RUN", SL_CFG_BOOL, "false", 0, -1, 0, offsetof(test_cfg, dry_run), "dry run"},
    {"T_REGION", SL_CFG_STRING, "us-east-1", 0, -1, 0, offsetof(test_cfg, region), "region"},
};

static void test_parse_duration_table(void)
{
    static const struct {
        const char *in;
        int rc;
        long long ms;
    } cases[] = {
        {"250ms", 0, 250},
        {"10s", 0, 10000},
        {"5m", 0, 300000},
        {"1h", 0, 3600000},
        {"7", 0, 7000},
        {"0", 0, 0},
        {"0ms", 0, 0},
        {"", -1, 0},
        {"s", -1, 0},
        {"-5s", -1, 0},
        {"5 s", -1, 0},
        {" 5s", -1, 0},
        {"1.5s", -1, 0},
        {"5d", -1, 0},
        {"5sec", -1, 0},
        {"10S", -1, 0},
        {"9223372036854775807ms", 0, 9223372036854775807LL},
        {"9223372036854775807", -1, 0}, /* overflows when scaled to ms */
        {"99999999999999999999ms", -1, 0},
        {"3000000000000000h", -1, 0},
        {NULL, -1, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        long long ms = -42;
        int rc = sl_config_parse_duration(cases[i].in, &ms);
        if (rc != cases[i].rc)
            fprintf(stderr, "case %zu \"%s\"\n", i, cases[i].in ? cases[i].in : "(null)");
        CHECK_INT(rc, cases[i].rc);
        CHECK_INT(ms, cases[i].rc == 0 ? cases[i].ms : -42);
    }
}

static void test_parse_bool_table(void)
{
    static const struct {
        const char *in;
        int rc, v;
    } cases[] = {
        {"1", 0, 1},  {"true", 0, 1},  {"TRUE", 0, 1},   {"yes", 0, 1},    {"On", 0, 1},
        {"0", 0, 0},  {"false", 0, 0}, {"No", 0, 0},     {"off", 0, 0},    {"", -1, 0},
        {"2", -1, 0}, {"y", -1, 0},    {"truee", -1, 0}, {" true", -1, 0}, {NULL, -1, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        int v = -1;
        CHECK_INT(sl_config_parse_bool(cases[i].in, &v), cases[i].rc);
        CHECK_INT(v, cases[i].rc == 0 ? cases[i].v : -1);
    }
}

static void test_load_defaults_and_values(void)
{
    const char *env[] = {"T_BUCKET",  "lake", "T_PASSWORD", "hunter2", "T_POLL", "250ms",
                         "T_DRY_RUN", "yes",  "T_REGION",   "",        NULL};
    test_cfg c;
    char err[SL_ERRLEN];

    memset(&c, 0x5a, sizeof c);
    CHECK_INT(sl_config_load(opts, SL_ARRAY_LEN(opts), &c, sl_test_env_get, env, err, sizeof err),
              0);
    CHECK_STR(c.bucket, "lake");
    CHECK_STR(c.password, "hunter2");
    CHECK_INT(c.slots, 5);
    CHECK_INT(c.poll_ms, 250);
    CHECK_INT(c.dry_run, 1);
    /* empty counts as unset: the default applies */
    CHECK_STR(c.region, "us-east-1");
    sl_config_cleanup(opts, SL_ARRAY_LEN(opts), &c);
    CHECK(c.bucket == NULL && c.password == NULL && c.region == NULL);
}

static void test_optional_unset_is_null(void)
{
    const char *env[] = {"T_BUCKET", "b", NULL};
    test_cfg c;
    char err[SL_ERRLEN];

    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_load(opts, SL_ARRAY_LEN(opts), &c, sl_test_env_get, env, err, sizeof err),
              0);
    CHECK(c.password == NULL);
    CHECK_INT(c.dry_run, 0);
    CHECK_INT(c.poll_ms, 30000);
    sl_config_cleanup(opts, SL_ARRAY_LEN(opts), &c);
}

static void test_all_errors_reported_at_once(void)
{
    /* bucket missing, slots out of range, poll not a duration, dry run not a bool,
     * password set (must not appear anywhere) */
    const char *env[] = {"T_PASSWORD", "s3cr3t-value", "T_SLOTS",  "65",        "T_POLL", "soon",
                         "T_DRY_RUN",  "maybe",        "T_REGION", "eu-west-1", NULL};
    test_cfg c;
    char err[2048];
    int lines = 1;

    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_load(opts, SL_ARRAY_LEN(opts), &c, sl_test_env_get, env, err, sizeof err),
              -1);
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    CHECK_INT(lines, 4);
    CHECK(strstr(err, "T_BUCKET: required") != NULL);
    CHECK(strstr(err, "T_SLOTS: value 65 is out of range 1..64") != NULL);
    CHECK(strstr(err, "T_POLL: value \"soon\" is not a duration") != NULL);
    CHECK(strstr(err, "T_DRY_RUN: value \"maybe\" is not a boolean") != NULL);
    CHECK(strstr(err, "s3cr3t") == NULL);
    /* strings set before the failure were freed */
    CHECK(c.password == NULL && c.region == NULL && c.bucket == NULL);
}

static void test_int_table(void)
{
    static const struct {
        const char *in;
        int rc;
        long long v;
    } cases[] = {
        {"1", 0, 1},     {"64", 0, 64}, {"0", -1, 0},
        {"-1", -1, 0},   {"+5", -1, 0}, {"5x", -1, 0},
        {"0x10", -1, 0}, {" 5", -1, 0}, {"99999999999999999999", -1, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        const char *env[] = {"T_BUCKET", "b", "T_SLOTS", cases[i].in, NULL};
        test_cfg c;
        char err[SL_ERRLEN];

        memset(&c, 0, sizeof c);
        CHECK_INT(
            sl_config_load(opts, SL_ARRAY_LEN(opts), &c, sl_test_env_get, env, err, sizeof err),
            cases[i].rc);
        if (cases[i].rc == 0)
            CHECK_INT(c.slots, cases[i].v);
        else
            CHECK(strncmp(err, "T_SLOTS:", 8) == 0);
        sl_config_cleanup(opts, SL_ARRAY_LEN(opts), &c);
    }
}

static void test_duration_bounds(void)
{
    const char *env[] = {"T_BUCKET", "b", "T_POLL", "50ms", NULL};
    test_cfg c;
    char err[SL_ERRLEN];

    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_load(opts, SL_ARRAY_LEN(opts), &c, sl_test_env_get, env, err, sizeof err),
              -1);
    CHECK(strstr(err, "T_POLL: value 50ms is out of range 100ms..3600000ms") != NULL);
}

static void test_secret_bad_value_not_echoed(void)
{
    /* A secret longer than the cap fails, and the error still does not quote it. */
    static const sl_cfg_opt sopts[] = {
        {"T_TOKEN", SL_CFG_SECRET, NULL, 0, -1, 1, 0, "token"},
    };
    char *big = malloc(9000);
    const char *env[] = {"T_TOKEN", big, NULL};
    char *tok = NULL;
    char err[SL_ERRLEN];
    int rc;

    CHECK(big != NULL);
    memset(big, 'Z', 8999);
    big[8999] = '\0';
    rc = sl_config_load(sopts, 1, &tok, sl_test_env_get, (void *)env, err, sizeof err);
    free(big);
    CHECK_INT(rc, -1);
    CHECK(strstr(err, "ZZZ") == NULL);
    CHECK(strstr(err, "T_TOKEN") != NULL);
    CHECK(tok == NULL);
}

static void test_bad_default_reported(void)
{
    static const sl_cfg_opt bopts[] = {
        {"T_N", SL_CFG_INT, "lots", 0, 10, 0, 0, "n"},
    };
    const char *env[] = {NULL};
    long long n = 0;
    char err[SL_ERRLEN];

    CHECK_INT(sl_config_load(bopts, 1, &n, sl_test_env_get, (void *)env, err, sizeof err), -1);
    CHECK(strstr(err, "T_N: default value \"lots\"") != NULL);
}

static void test_tiny_error_buffer(void)
{
    const char *env[] = {"T_SLOTS", "0", "T_POLL", "x", NULL};
    test_cfg c;
    char err[16];

    memset(&c, 0, sizeof c);
    memset(err, 'X', sizeof err);
    CHECK_INT(sl_config_load(opts, SL_ARRAY_LEN(opts), &c, sl_test_env_get, env, err, sizeof err),
              -1);
    CHECK(memchr(err, '\0', sizeof err) != NULL);
    CHECK(strncmp(err, "T_BUCKET", 8) == 0);
}

static void test_getenv_default_getter(void)
{
    test_cfg c;
    char err[SL_ERRLEN];

    setenv("T_BUCKET", "from-env", 1);
    setenv("T_SLOTS", "7", 1);
    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_load(opts, SL_ARRAY_LEN(opts), &c, NULL, NULL, err, sizeof err), 0);
    unsetenv("T_BUCKET");
    unsetenv("T_SLOTS");
    CHECK_STR(c.bucket, "from-env");
    CHECK_INT(c.slots, 7);
    sl_config_cleanup(opts, SL_ARRAY_LEN(opts), &c);
}

static char *slurp(FILE *f)
{
    long n = ftell(f);
    char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(f);
    if (s && n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n)
        s[0] = '\0';
    return s;
}

static void test_help_lists_every_option(void)
{
    static const sl_cfg_opt hopts[] = {
        {"T_KEY", SL_CFG_SECRET, "defaultsecret", 0, -1, 0, 0, "api key"},
        {"T_SLOTS", SL_CFG_INT, "5", 1, 64, 1, 0, "export slots"},
        {"T_POLL", SL_CFG_DURATION, "30s", 100, 3600000, 0, 0, "poll interval"},
    };
    FILE *f = tmpfile();
    char *s;

    CHECK(f != NULL);
    sl_config_help(f, "snaplake-worker", "Runs a stage.", hopts, SL_ARRAY_LEN(hopts));
    s = slurp(f);
    fclose(f);
    CHECK(s != NULL);
    if (!strstr(s, "Usage: snaplake-worker") || !strstr(s, "Runs a stage.") ||
        !strstr(s, "T_KEY") || !strstr(s, "api key") || strstr(s, "defaultsecret") ||
        !strstr(s, "T_SLOTS") || !strstr(s, "required") || !strstr(s, "range: 1..64") ||
        !strstr(s, "default: 5") || !strstr(s, "T_POLL") || !strstr(s, "default: 30s") ||
        !strstr(s, "100ms..3600000ms")) {
        fprintf(stderr, "%s", s);
        free(s);
        CHECK(!"help text incomplete");
    }
    free(s);
}

static void test_dump_hides_secrets(void)
{
    const char *env[] = {"T_BUCKET", "lake", "T_PASSWORD", "pa55word", NULL};
    test_cfg c;
    char err[SL_ERRLEN];
    FILE *f = tmpfile();
    int saved;
    char *s;

    CHECK(f != NULL);
    memset(&c, 0, sizeof c);
    CHECK_INT(sl_config_load(opts, SL_ARRAY_LEN(opts), &c, sl_test_env_get, env, err, sizeof err),
              0);
    fflush(stdout);
    saved = dup(STDOUT_FILENO);
    dup2(fileno(f), STDOUT_FILENO);
    sl_config_dump(opts, SL_ARRAY_LEN(opts), &c);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    sl_config_cleanup(opts, SL_ARRAY_LEN(opts), &c);
    s = slurp(f);
    fclose(f);
    CHECK(s != NULL);
    if (strstr(s, "pa55word") || !strstr(s, "\"T_PASSWORD\":\"(set)\"") ||
        !strstr(s, "\"T_BUCKET\":\"lake\"") || !strstr(s, "\"T_POLL\":\"30000ms\"") ||
        !strstr(s, "\"T_SLOTS\":\"5\"")) {
        fprintf(stderr, "%s", s);
        free(s);
        CHECK(!"dump wrong");
    }
    free(s);
}

/* Each validator against the values it must take and refuse. */
static void test_validators_table(void)
{
    static const struct {
        sl_cfg_check_fn fn;
        const char *v;
        int ok;
    } cases[] = {
        {sl_cfg_check_log_level, "debug", 1},
        {sl_cfg_check_log_level, "WARN", 1},
        {sl_cfg_check_log_level, "warning", 1},
        {sl_cfg_check_log_level, "loud", 0},
        {sl_cfg_check_aws_region, "us-east-1", 1},
        {sl_cfg_check_aws_region, "eu-central-2", 1},
        {sl_cfg_check_aws_region, "ap-southeast-7", 1},
        {sl_cfg_check_aws_region, "us-gov-west-1", 1},
        {sl_cfg_check_aws_region, "cn-northwest-1", 1},
        {sl_cfg_check_aws_region, "us-iso-east-1", 1},
        {sl_cfg_check_aws_region, "us-isob-east-1", 1},
        {sl_cfg_check_aws_region, "mars", 0},
        {sl_cfg_check_aws_region, "us-east", 0},
        {sl_cfg_check_aws_region, "US-EAST-1", 0},
        {sl_cfg_check_aws_region, "us-east-1 ", 0},
        {sl_cfg_check_aws_region, "useast-1", 0},
        {sl_cfg_check_aws_region, "us--east-1", 0},
        {sl_cfg_check_aws_region, "us-east-1a", 0},
        {sl_cfg_check_s3_bucket, "snaplake-lake", 1},
        {sl_cfg_check_s3_bucket, "a.b-c.1", 1},
        {sl_cfg_check_s3_bucket, "abc", 1},
        {sl_cfg_check_s3_bucket, "ab", 0},
        {sl_cfg_check_s3_bucket, "Bad_Bucket", 0},
        {sl_cfg_check_s3_bucket, "-starts-with-dash", 0},
        {sl_cfg_check_s3_bucket, "ends-with-dash-", 0},
        {sl_cfg_check_s3_bucket, "two..dots", 0},
        {sl_cfg_check_s3_bucket, "192.168.5.4", 0},
        {sl_cfg_check_s3_bucket, "xn--bucket", 0},
        {sl_cfg_check_s3_bucket, "sthree-bucket", 0},
        {sl_cfg_check_s3_bucket, "bucket-s3alias", 0},
        {sl_cfg_check_s3_bucket, "bucket--ol-s3", 0},
        {sl_cfg_check_s3_bucket, "a234567890123456789012345678901234567890123456789012345678901234",
         0},
        {sl_cfg_check_account_id, "123456789012", 1},
        {sl_cfg_check_account_id, "12345678901", 0},
        {sl_cfg_check_account_id, "1234567890123", 0},
        {sl_cfg_check_account_id, "12345678901a", 0},
        {sl_cfg_check_readable_file, "/dev/null", 1},
        {sl_cfg_check_readable_file, "/nonexistent/ca.pem", 0},
        {sl_cfg_check_cluster_list, "orders", 1},
        {sl_cfg_check_cluster_list, "orders, billing-2,Users", 1},
        {sl_cfg_check_cluster_list, "orders,,billing", 1},
        {sl_cfg_check_cluster_list, "9orders", 0},
        {sl_cfg_check_cluster_list, "orders-", 0},
        {sl_cfg_check_cluster_list, "ord--ers", 0},
        {sl_cfg_check_cluster_list, "ord_ers", 0},
        {sl_cfg_check_crawler_template, "snaplake-{cluster}", 1},
        {sl_cfg_check_crawler_template, "fixed-crawler", 1},
        {sl_cfg_check_crawler_template, "snaplake-{clustr}", 0},
        {sl_cfg_check_crawler_template, "snaplake-{cluster", 0},
        {sl_cfg_check_crawler_template, "a\tb", 0},
        {sl_cfg_check_catalog_mode, "crawler", 1},
        {sl_cfg_check_catalog_mode, "direct", 1},
        {sl_cfg_check_catalog_mode, "Direct", 0},
        {sl_cfg_check_catalog_mode, "", 0},
        {sl_cfg_check_catalog_db_template, "snaplake_{cluster}", 1},
        {sl_cfg_check_catalog_db_template, "lake", 1},
        {sl_cfg_check_catalog_db_template, "lake_{table}", 0},
        {sl_cfg_check_catalog_db_template, "lake_{clustr}", 0},
        {sl_cfg_check_catalog_db_template, "{cluster}{cluster}{cluster}{cluster}{cluster}", 0},
        {sl_cfg_check_catalog_table_template, "{folder}", 1},
        {sl_cfg_check_catalog_table_template, "{schema}_{table}", 1},
        {sl_cfg_check_catalog_table_template, "{schema}_{tbl}", 0},
        {sl_cfg_check_catalog_table_template, "{table", 0},
        {sl_cfg_check_task_prefix, "snaplake", 1},
        {sl_cfg_check_task_prefix, "bad prefix!", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        char why[SL_ERRLEN] = "";
        int rc = cases[i].fn(cases[i].v, why, sizeof(why));
        fprintf(stderr, "validator case %zu (%s)\n", i, cases[i].v);
        CHECK_INT(rc == 0, cases[i].ok);
        CHECK(cases[i].ok || why[0]);
    }
}

/* sl_config_check: every failing option reported, appended after what err held; defaults
   checked; unset options and options not in the table skipped; secrets never checked. */
static void test_config_check_all_errors(void)
{
    static const sl_cfg_opt copts[] = {
        {"LOG_LEVEL", SL_CFG_STRING, "info", 0, -1, 0, 0, "level"},
        {"AWS_REGION", SL_CFG_STRING, NULL, 0, -1, 1, 0, "region"},
        {"LAKE_BUCKET", SL_CFG_STRING, NULL, 0, -1, 0, 0, "bucket"},
        {"CRAWLER_NAME", SL_CFG_STRING, "bad-{x}", 0, -1, 0, 0, "template"},
        {"LAKE_EXPECTED_BUCKET_OWNER", SL_CFG_STRING, NULL, 0, -1, 0, 0, "owner"},
        {"EXPORT_S3_BUCKET", SL_CFG_SECRET, NULL, 0, -1, 0, 0, "never checked"},
    };
    const char *env[] = {
        "LOG_LEVEL",        "loud",     "AWS_REGION",  "mars", "LAKE_BUCKET", "Bad_B",
        "EXPORT_S3_BUCKET", "Also_Bad", "EXPORT_ONLY", "9x",   NULL};
    char err[2048] = "earlier error";

    CHECK_INT(sl_config_check(copts, SL_ARRAY_LEN(copts), sl_config_std_checks,
                              sl_config_nstd_checks, sl_test_env_get, env, err, sizeof(err)),
              -1);
    CHECK(strncmp(err, "earlier error\n", 14) == 0);
    CHECK(strstr(err, "LOG_LEVEL: value \"loud\"") != NULL);
    CHECK(strstr(err, "AWS_REGION: value \"mars\"") != NULL);
    CHECK(strstr(err, "LAKE_BUCKET: value \"Bad_B\"") != NULL);
    CHECK(strstr(err, "CRAWLER_NAME: value \"bad-{x}\"") != NULL); /* the default */
    CHECK(strstr(err, "LAKE_EXPECTED_BUCKET_OWNER") == NULL);      /* unset */
    CHECK(strstr(err, "Also_Bad") == NULL);                        /* a secret */
    CHECK(strstr(err, "EXPORT_ONLY") == NULL);                     /* not in the table */
    {
        const char *good[] = {"AWS_REGION", "us-gov-west-1", "CRAWLER_NAME", "c-{cluster}", NULL};
        err[0] = '\0';
        CHECK_INT(sl_config_check(copts, 4, sl_config_std_checks, sl_config_nstd_checks,
                                  sl_test_env_get, good, err, sizeof(err)),
                  0);
        CHECK_STR(err, "");
    }
}

static const sl_test tests[] = {
    SL_TEST(test_parse_duration_table),
    SL_TEST(test_parse_bool_table),
    SL_TEST(test_load_defaults_and_values),
    SL_TEST(test_optional_unset_is_null),
    SL_TEST(test_all_errors_reported_at_once),
    SL_TEST(test_int_table),
    SL_TEST(test_duration_bounds),
    SL_TEST(test_secret_bad_value_not_echoed),
    SL_TEST(test_bad_default_reported),
    SL_TEST(test_tiny_error_buffer),
    SL_TEST(test_getenv_default_getter),
    SL_TEST(test_help_lists_every_option),
    SL_TEST(test_dump_hides_secrets),
    SL_TEST(test_validators_table),
    SL_TEST(test_config_check_all_errors),
};
SL_TEST_MAIN(tests)
