/* test_ids.c - snapshot id parsing, export task ids, run ids and S3 prefixes. */
#include "sl_test.h"

#include <stdio.h>
#include <string.h>

#include "ids.h"

typedef struct parse_case {
    const char *in;
    int ok;
    const char *cluster, *date, *time;
} parse_case;

static const parse_case parse_cases[] = {
    {"rds:prod-db-2024-02-29-03-05", 1, "prod-db", "2024-02-29", "03-05"},
    {"rds:a-2023-12-31-23-59", 1, "a", "2023-12-31", "23-59"},
    {"rds:db1-2000-02-29-00-00", 1, "db1", "2000-02-29", "00-00"}, /* 2000: leap (÷400) */
    {"arn:aws:rds:us-east-1:123456789012:cluster-snapshot:rds:orders-2024-01-02-03-04", 1, "orders",
     "2024-01-02", "03-04"},
    {"arn:aws-cn:rds:cn-north-1:123456789012:cluster-snapshot:rds:x9-2024-01-02-03-04", 1, "x9",
     "2024-01-02", "03-04"},
    /* 63-char cluster id: the longest RDS allows. */
    {"rds:abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh-2024-05-06-07-08", 1,
     "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh", "2024-05-06", "07-08"},
    {"rds:a-b-c-2024-01-01-00-00", 1, "a-b-c", "2024-01-01", "00-00"},
    {"rds:db1-1900-02-29-00-00", 0, NULL, NULL, NULL},   /* 1900: not leap (century) */
    {"rds:db1-2023-02-29-00-00", 0, NULL, NULL, NULL},   /* not a leap year */
    {"rds:db1-2024-13-01-00-00", 0, NULL, NULL, NULL},   /* bad month */
    {"rds:db1-2024-00-10-00-00", 0, NULL, NULL, NULL},   /* month 0 */
    {"rds:db1-2024-04-31-00-00", 0, NULL, NULL, NULL},   /* April has 30 */
    {"rds:db1-2024-04-00-00-00", 0, NULL, NULL, NULL},   /* day 0 */
    {"rds:db1-2024-04-01-24-00", 0, NULL, NULL, NULL},   /* hour 24 */
    {"rds:db1-2024-04-01-23-60", 0, NULL, NULL, NULL},   /* minute 60 */
    {"db1-2024-04-01-00-00", 0, NULL, NULL, NULL},       /* manual: no rds: */
    {"rds:Db1-2024-04-01-00-00", 0, NULL, NULL, NULL},   /* uppercase */
    {"rds:1db-2024-04-01-00-00", 0, NULL, NULL, NULL},   /* first not a letter */
    {"rds:db--1-2024-04-01-00-00", 0, NULL, NULL, NULL}, /* double hyphen */
    {"rds:db--2024-04-01-00-00", 0, NULL, NULL, NULL},   /* trailing hyphen */
    {"rds:db_1-2024-04-01-00-00", 0, NULL, NULL, NULL},  /* underscore */
    {"rds:-2024-04-01-00-00", 0, NULL, NULL, NULL},      /* empty cluster */
    {"rds:db-2024-4-01-00-00", 0, NULL, NULL, NULL},     /* short month */
    {"rds:db-2024-04-01-00-0x", 0, NULL, NULL, NULL},
    {"rds:db-2024-04-01", 0, NULL, NULL, NULL},
    {"rds:", 0, NULL, NULL, NULL},
    {"", 0, NULL, NULL, NULL},
    /* 64-char cluster id: one too many. */
    {"rds:abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghi-2024-05-06-07-08", 0,
     NULL, NULL, NULL},
    {"arn:aws:s3:::bucket/rds:db-2024-04-01-00-00", 0, NULL, NULL, NULL},
    {"arn:aws:rds:us-east-1:1:snapshot:rds:db-2024-04-01-00-00", 0, NULL, NULL, NULL},
    {"arn:aws:rds:us-east-1:1:cluster-snapshot:db-2024-04-01-00-00", 0, NULL, NULL, NULL},
};

static void test_parse_snapshot_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(parse_cases); i++) {
        const parse_case *c = &parse_cases[i];
        sl_snapshot_id id;
        char err[SL_ERRLEN] = "";
        int rc = sl_ids_parse_snapshot(c->in, &id, err, sizeof(err));
        if ((rc == 0) != c->ok)
            fprintf(stderr, "case %zu (%s): rc %d err %s\n", i, c->in, rc, err);
        CHECK_INT(rc == 0, c->ok);
        if (!c->ok) {
            CHECK(err[0] != '\0');
            continue;
        }
        CHECK_STR(id.cluster, c->cluster);
        CHECK_STR(id.date, c->date);
        CHECK_STR(id.time, c->time);
        CHECK(strncmp(id.snapshot_id, "rds:", 4) == 0);
        CHECK(strstr(c->in, id.snapshot_id) != NULL);
    }
}

typedef struct tid_case {
    const char *snap;
    const char *prefix;
    const char *want; /* NULL = check shape only */
} tid_case;

static const tid_case tid_cases[] = {
    {"rds:prod-db-2024-02-29-03-05", NULL, "prod-db-2024-02-29-03-05"},
    {"rds:prod-db-2024-02-29-03-05", "", "prod-db-2024-02-29-03-05"},
    {"rds:prod-db-2024-02-29-03-05", "sl-", "sl-prod-db-2024-02-29-03-05"},
    {"rds:prod-db-2024-02-29-03-05", "snaplake", "snaplakeprod-db-2024-02-29-03-05"},
    /* 43-char cluster + 17 = exactly 60: not shortened. */
    {"rds:abcdefghij-abcdefghij-abcdefghij-abcdefghi-2024-01-01-00-00", NULL,
     "abcdefghij-abcdefghij-abcdefghij-abcdefghi-2024-01-01-00-00"},
    /* 44 chars: shortened; expected values computed independently with Python's hashlib. */
    {"rds:abcdefghij-abcdefghij-abcdefghij-abcdefghijk-2024-01-01-00-00", NULL,
     "abcdefghij-abcdefghij-abcdefghij-a-2024-01-01-00-00-c56defa0"},
    {"rds:abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh-2024-05-06-07-08", NULL,
     NULL},
    {"rds:abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh-2024-05-06-07-08", "sl-",
     NULL},
    /* The cut lands right after a hyphen: it must not leave `--` or a trailing hyphen. */
    {"rds:abcdefghijklmnopqrstuvwxyzabcdefg-hijklmnopqrstuvwxyz-2024-05-06-07-08", NULL,
     "abcdefghijklmnopqrstuvwxyzabcdefg-2024-05-06-07-08-dde5711e"},
    {"rds:abcdefghijklmnopqrstuvwxyzabcdef-g-hijklmnopqrstuvwxyz-2024-05-06-07-08", "sl-", NULL},
    {"rds:abcdefghijklmnopqrstuvwxyzabcdef-g-hijklmnopqrstuvwxyz-2024-05-06-07-08",
     "abcdefghijklmno-", NULL},
};

static void test_export_task_id_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(tid_cases); i++) {
        const tid_case *c = &tid_cases[i];
        sl_snapshot_id id;
        char out[SL_IDS_BUFLEN], again[SL_IDS_BUFLEN], err[SL_ERRLEN];
        CHECK_INT(sl_ids_parse_snapshot(c->snap, &id, err, sizeof(err)), 0);
        CHECK_INT(sl_ids_export_task_id(&id, c->prefix, out, sizeof(out), err, sizeof(err)), 0);
        CHECK(sl_ids_export_task_id_valid(out));
        CHECK(strlen(out) <= SL_IDS_EXPORT_ID_MAX);
        if (c->want) {
            CHECK_STR(out, c->want);
        } else {
            /* Shortened: 60 (59 when a hyphen fell at the cut), keeps date/time, ends with
             * `-` and 8 hex chars. */
            size_t n = strlen(out);
            CHECK(n == 60 || n == 59);
            CHECK(strstr(out, id.date) != NULL);
            CHECK(out[n - 9] == '-');
            CHECK_INT(strspn(out + n - 8, "0123456789abcdef"), 8);
            if (c->prefix)
                CHECK(strncmp(out, c->prefix, strlen(c->prefix)) == 0);
        }
        /* Deterministic. */
        CHECK_INT(sl_ids_export_task_id(&id, c->prefix, again, sizeof(again), err, sizeof(err)), 0);
        CHECK_STR(again, out);
    }
}

static void test_long_ids_stay_unique(void)
{
    /* Two 63-char clusters sharing the first 60 chars, and two snapshots of one cluster. */
    const char *a =
        "rds:abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh-2024-05-06-07-08";
    const char *b =
        "rds:abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgx-2024-05-06-07-08";
    const char *c =
        "rds:abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh-2024-05-06-07-09";
    sl_snapshot_id ia, ib, ic;
    char oa[SL_IDS_BUFLEN], ob[SL_IDS_BUFLEN], oc[SL_IDS_BUFLEN], err[SL_ERRLEN];

    CHECK_INT(sl_ids_parse_snapshot(a, &ia, err, sizeof(err)), 0);
    CHECK_INT(sl_ids_parse_snapshot(b, &ib, err, sizeof(err)), 0);
    CHECK_INT(sl_ids_parse_snapshot(c, &ic, err, sizeof(err)), 0);
    CHECK_INT(sl_ids_export_task_id(&ia, "sl-", oa, sizeof(oa), err, sizeof(err)), 0);
    CHECK_INT(sl_ids_export_task_id(&ib, "sl-", ob, sizeof(ob), err, sizeof(err)), 0);
    CHECK_INT(sl_ids_export_task_id(&ic, "sl-", oc, sizeof(oc), err, sizeof(err)), 0);
    CHECK(strcmp(oa, ob) != 0);
    CHECK(strcmp(oa, oc) != 0);
    CHECK(strcmp(ob, oc) != 0);
}

static void test_bad_prefix_and_buffer(void)
{
    static const char *const bad[] = {"1sl-", "-sl",   "s_l",
                                      "sl--", "sl--x", "abcdefghijklmnopq" /* 17 > 16 */};
    sl_snapshot_id id;
    char out[SL_IDS_BUFLEN], err[SL_ERRLEN];

    CHECK_INT(sl_ids_parse_snapshot("rds:db-2024-01-01-00-00", &id, err, sizeof(err)), 0);
    for (size_t i = 0; i < SL_ARRAY_LEN(bad); i++) {
        CHECK_INT(sl_ids_export_task_id(&id, bad[i], out, sizeof(out), err, sizeof(err)), -1);
        CHECK(strstr(err, "prefix") != NULL);
    }
    CHECK_INT(sl_ids_export_task_id(&id, NULL, out, 10, err, sizeof(err)), -1);
}

typedef struct valid_case {
    const char *s;
    int ok;
} valid_case;

static const valid_case valid_cases[] = {
    {"a", 1},
    {"A-1", 1},
    {"sl-db-2024-01-01-00-00", 1},
    {"abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdef", 0}, /* 61 */
    {"abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcde", 1},  /* 60 */
    {"", 0},
    {"1a", 0},
    {"-a", 0},
    {"a-", 0},
    {"a--b", 0},
    {"a_b", 0},
    {"a.b", 0},
    {"a b", 0},
    {"\xc3\xa9t\xc3\xa9", 0},
};

static void test_export_task_id_validator_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(valid_cases); i++)
        CHECK_INT(sl_ids_export_task_id_valid(valid_cases[i].s) != 0, valid_cases[i].ok);
    CHECK_INT(sl_ids_export_task_id_valid(NULL), 0);
}

static void test_cluster_mode(void)
{
    sl_snapshot_id id;
    char out[SL_IDS_BUFLEN], run[SL_IDS_BUFLEN], err[SL_ERRLEN];

    /* 2024-02-29T03:05:59Z: seconds are dropped. */
    CHECK_INT(sl_ids_from_cluster("prod-db", 1709175959LL, &id, err, sizeof(err)), 0);
    CHECK_STR(id.cluster, "prod-db");
    CHECK_STR(id.date, "2024-02-29");
    CHECK_STR(id.time, "03-05");
    CHECK_STR(id.snapshot_id, "");
    CHECK_INT(sl_ids_export_task_id(&id, "sl-", out, sizeof(out), err, sizeof(err)), 0);
    CHECK_STR(out, "sl-prod-db-2024-02-29-03-05");
    CHECK_INT(sl_ids_run_id(&id, run, sizeof(run), err, sizeof(err)), 0);
    CHECK_STR(run, "prod-db-2024-02-29-03-05");
    CHECK_INT(sl_ids_from_cluster("Prod", 0, &id, err, sizeof(err)), -1);
    CHECK_INT(sl_ids_from_cluster("prod", -1, &id, err, sizeof(err)), -1);
    CHECK_INT(sl_ids_from_cluster("prod", 0, &id, err, sizeof(err)), 0);
    CHECK_STR(id.date, "1970-01-01");
    CHECK_STR(id.time, "00-00");
}

/* Cluster ids of 43 (the longest whose run id is not shortened), 44 and 63 (RDS's longest). */
#define C43 "abcdefghij-abcdefghij-abcdefghij-abcdefghij"
#define C44 "abcdefghij-abcdefghij-abcdefghij-abcdefghijk"
#define C63 "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefgh"

static void test_cluster_run_round_trip(void)
{
    /* 2024-02-29T03:05Z, the way the producer's cluster mode builds a run. */
    static const char *const clusters[] = {"prod-db", C43, C44, C63};
    for (size_t i = 0; i < SL_ARRAY_LEN(clusters); i++) {
        sl_snapshot_id made, back, snap;
        char run[SL_IDS_BUFLEN], sid[SL_IDS_BUFLEN + 4], a[SL_IDS_BUFLEN], b[SL_IDS_BUFLEN];
        char err[SL_ERRLEN];
        CHECK_INT(sl_ids_from_cluster(clusters[i], 1709175959LL, &made, err, sizeof(err)), 0);
        CHECK_INT(sl_ids_run_id(&made, run, sizeof(run), err, sizeof(err)), 0);
        CHECK_INT(sl_ids_parse_cluster_run(clusters[i], run, &back, err, sizeof(err)), 0);
        CHECK_STR(back.cluster, clusters[i]);
        CHECK_STR(back.date, "2024-02-29");
        CHECK_STR(back.time, "03-05");
        CHECK_STR(back.snapshot_id, "");
        /* The export task id (and so the S3 files) is the one the producer's parts give. */
        CHECK_INT(sl_ids_export_task_id(&made, "sl-", a, sizeof(a), err, sizeof(err)), 0);
        CHECK_INT(sl_ids_export_task_id(&back, "sl-", b, sizeof(b), err, sizeof(err)), 0);
        CHECK_STR(a, b);
        /* The shortened run ids are the ones `rds:` + run id never parsed back. */
        snprintf(sid, sizeof(sid), "rds:%s", run);
        CHECK_INT(sl_ids_parse_snapshot(sid, &snap, err, sizeof(err)),
                  strlen(clusters[i]) > 43 ? -1 : 0);
    }
    {
        /* Pinned: the SHA-256 of C44 "-2024-02-29-03-05" begins 4aabfcdb. */
        sl_snapshot_id id;
        char err[SL_ERRLEN];
        CHECK_INT(sl_ids_parse_cluster_run(
                      C44, "abcdefghij-abcdefghij-abcdefghij-a-2024-02-29-03-05-4aabfcdb", &id, err,
                      sizeof(err)),
                  0);
        CHECK_STR(id.cluster, C44);
    }
}

typedef struct cluster_run_case {
    const char *cluster, *run_id;
} cluster_run_case;

/* Runs that must be refused: each is some other cluster's, or no run at all. */
static const cluster_run_case bad_cluster_run_cases[] = {
    {"prod-db", "other-db-2024-02-29-03-05"},         /* another cluster's */
    {"prod", "prod-db-2024-02-29-03-05"},             /* a longer cluster's */
    {"prod-db", "prod-db-2024-02-29-03-05-0123abcd"}, /* not shortened, yet a hash */
    {C44, C44 "-2024-02-29-03-05"},                   /* over 60 yet not shortened */
    {C44, "abcdefghij-abcdefghij-abcdefghij-a-2024-02-29-03-05-4aabfcdc"}, /* wrong hash */
    {C63, "abcdefghij-abcdefghij-abcdefghij-a-2024-02-29-03-05-4aabfcdb"}, /* C44's run id */
    {"prod-db", "prod-db-2024-02-30-03-05"},                               /* no such date */
    {"prod-db", "prod-db-2024-02-29-24-05"},                               /* no such hour */
    {"prod-db", "prod-db-2024-02-29"},                                     /* no time */
    {"prod-db", "-2024-02-29-03-05"},
    {"prod-db", ""},
    {"prod-db", NULL},
    {"Prod-db", "Prod-db-2024-02-29-03-05"}, /* not a cluster id */
    {NULL, "prod-db-2024-02-29-03-05"},
};

static void test_cluster_run_refused_table(void)
{
    for (size_t i = 0; i < SL_ARRAY_LEN(bad_cluster_run_cases); i++) {
        const cluster_run_case *c = &bad_cluster_run_cases[i];
        sl_snapshot_id id;
        char err[SL_ERRLEN] = "";
        memset(&id, 'x', sizeof(id));
        CHECK_INT(sl_ids_parse_cluster_run(c->cluster, c->run_id, &id, err, sizeof(err)), -1);
        CHECK(strncmp(err, "cluster run: ", 13) == 0);
        CHECK(id.cluster[0] == 'x'); /* untouched on failure */
    }
}

static void test_run_id_ignores_prefix(void)
{
    sl_snapshot_id id;
    char run[SL_IDS_BUFLEN], task[SL_IDS_BUFLEN], err[SL_ERRLEN];

    CHECK_INT(sl_ids_parse_snapshot("rds:orders-2024-01-02-03-04", &id, err, sizeof(err)), 0);
    CHECK_INT(sl_ids_run_id(&id, run, sizeof(run), err, sizeof(err)), 0);
    CHECK_INT(sl_ids_export_task_id(&id, NULL, task, sizeof(task), err, sizeof(err)), 0);
    CHECK_STR(run, "orders-2024-01-02-03-04");
    CHECK_STR(run, task);
}

typedef struct prefix_case {
    const char *root;
    const char *want;
} prefix_case;

static const prefix_case prefix_cases[] = {
    {NULL, "s3-export/orders/2024-01-02"},
    {"s3-export", "s3-export/orders/2024-01-02"},
    {"exports/aurora//", "exports/aurora/orders/2024-01-02"},
    {"", "orders/2024-01-02"},
    {"/", "orders/2024-01-02"},
};

static void test_export_s3_prefix_table(void)
{
    char out[256], err[SL_ERRLEN];

    for (size_t i = 0; i < SL_ARRAY_LEN(prefix_cases); i++) {
        CHECK_INT(sl_ids_export_s3_prefix(prefix_cases[i].root, "orders", "2024-01-02", out,
                                          sizeof(out), err, sizeof(err)),
                  0);
        CHECK_STR(out, prefix_cases[i].want);
    }
    CHECK_INT(
        sl_ids_export_s3_prefix(NULL, "orders", "2024-02-30", out, sizeof(out), err, sizeof(err)),
        -1);
    CHECK_INT(sl_ids_export_s3_prefix(NULL, "orders", "2024-01-02", out, 5, err, sizeof(err)), -1);
}

static void test_date_valid_table(void)
{
    static const valid_case dates[] = {
        {"2024-02-29", 1},  {"2023-02-28", 1}, {"2023-02-29", 0}, {"2100-02-29", 0},
        {"2400-02-29", 1},  {"2024-06-31", 0}, {"2024-12-31", 1}, {"2024-1-01", 0},
        {"2024-01-01x", 0}, {"0000-01-01", 0}, {"abcd-01-01", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(dates); i++)
        CHECK_INT(sl_ids_date_valid(dates[i].s) != 0, dates[i].ok);
}

typedef struct gen_case {
    const char *base;
    int gen;
    const char *want; /* NULL: must fail */
} gen_case;

static const gen_case gen_cases[] = {
    {"orders-2024-01-02-03-04", 1, "orders-2024-01-02-03-04"},
    {"orders-2024-01-02-03-04", 2, "orders-2024-01-02-03-04-g2"},
    {"sl-orders-2024-01-02-03-04", 17, "sl-orders-2024-01-02-03-04-g17"},
    /* 57 + 3 = 60: still fits whole. */
    {"abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-ab", 2,
     "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-ab-g2"},
    /* 60-char base: cut to 48, hash of the whole base, suffix (SHA-256 from Python's hashlib). */
    {"abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcde", 2,
     "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcd-165050f9-g2"},
    {"orders-2024-01-02-03-04", 0, NULL},
    {"orders-2024-01-02-03-04", SL_IDS_EXPORT_GEN_MAX + 1, NULL},
    {"orders--2024", 2, NULL}, /* not a valid base */
    {"", 2, NULL},
};

static void test_export_task_id_gen_table(void)
{
    char out[SL_IDS_EXPORT_ID_MAX + 1], err[SL_ERRLEN];

    for (size_t i = 0; i < SL_ARRAY_LEN(gen_cases); i++) {
        const gen_case *c = &gen_cases[i];
        int rc = sl_ids_export_task_id_gen(c->base, c->gen, out, sizeof(out), err, sizeof(err));
        CHECK_INT(rc, c->want ? 0 : -1);
        if (c->want && rc == 0)
            CHECK_STR(out, c->want);
    }
    CHECK_INT(sl_ids_export_task_id_gen("a", 2, out, SL_IDS_EXPORT_ID_MAX, err, sizeof(err)), -1);
}

/* Every generation of the longest bases (and of cuts landing on a hyphen) keeps AWS's rules,
 * is distinct from every other generation and from the base of another run. */
static void test_export_task_id_gen_rules_and_uniqueness(void)
{
    static const char *const bases[] = {
        "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcde",
        "abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdefghij-abcdf",
        "abcdefghij-abcdefghij-abcdefghij-abcdefg-ij-abcdefghij-abcde", /* hyphen at a cut */
        "abcdefghij-abcdefghij-abcdefghij-abcdef-hij-abcdefghij-abcde",
        "a-2024-01-01-00-00",
    };
    static const int gens[] = {2, 3, 9, 10, 99, 100, SL_IDS_EXPORT_GEN_MAX};
    char ids[SL_ARRAY_LEN(bases) * SL_ARRAY_LEN(gens)][SL_IDS_EXPORT_ID_MAX + 1], err[SL_ERRLEN];
    size_t n = 0;

    for (size_t b = 0; b < SL_ARRAY_LEN(bases); b++) {
        for (size_t g = 0; g < SL_ARRAY_LEN(gens); g++, n++) {
            CHECK_INT(sl_ids_export_task_id_gen(bases[b], gens[g], ids[n], sizeof(ids[n]), err,
                                                sizeof(err)),
                      0);
            CHECK(sl_ids_export_task_id_valid(ids[n]));
            CHECK(strlen(ids[n]) <= SL_IDS_EXPORT_ID_MAX);
            for (size_t k = 0; k < SL_ARRAY_LEN(bases); k++)
                CHECK(strcmp(ids[n], bases[k]) != 0);
            for (size_t k = 0; k < n; k++)
                CHECK(strcmp(ids[n], ids[k]) != 0);
        }
    }
}

static const sl_test tests[] = {
    SL_TEST(test_export_task_id_gen_table),
    SL_TEST(test_export_task_id_gen_rules_and_uniqueness),
    SL_TEST(test_parse_snapshot_table),
    SL_TEST(test_export_task_id_table),
    SL_TEST(test_long_ids_stay_unique),
    SL_TEST(test_bad_prefix_and_buffer),
    SL_TEST(test_export_task_id_validator_table),
    SL_TEST(test_cluster_mode),
    SL_TEST(test_cluster_run_round_trip),
    SL_TEST(test_cluster_run_refused_table),
    SL_TEST(test_run_id_ignores_prefix),
    SL_TEST(test_export_s3_prefix_table),
    SL_TEST(test_date_valid_table),
};
SL_TEST_MAIN(tests)
