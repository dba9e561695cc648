/* test_metrics.c - the registry's text exposition (format 0.0.4), the health decision, the
 * METRICS_ADDR parser, the endpoint past FD_SETSIZE, the statistics JSON reader and the AWS
 * operation names. */
#include "sl_test.h"

#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <unistd.h>

#include <curl/curl.h>

#include "aws_http.h"
#include "health.h"
#include "httpd.h"
#include "kstats.h"
#include "metrics.h"

static char *render(sl_metrics *m)
{
    char *out = NULL;
    size_t len = 0;

    if (sl_metrics_render(m, &out, &len))
        return NULL;
    if (strlen(out) != len) {
        free(out);
        return NULL;
    }
    return out;
}

static void test_counter_gauge_text(void)
{
    static const char *const l[] = {"stage", "outcome", NULL};
    sl_metrics *m = sl_metrics_new();
    sl_metric_family *c =
        sl_metrics_family(m, SL_METRIC_COUNTER, "snaplake_x_total", "Things done.", l, NULL, 0);
    sl_metric_family *g =
        sl_metrics_family(m, SL_METRIC_GAUGE, "snaplake_g", "A gauge.", NULL, NULL, 0);
    const char *const a[] = {"copy", "done", NULL};
    const char *const b[] = {"copy", "failed", NULL};
    char *t;

    CHECK(m && c && g);
    CHECK_INT(sl_metrics_add(c, a, 2), 0);
    CHECK_INT(sl_metrics_add(c, b, 1), 0);
    CHECK_INT(sl_metrics_add(c, a, 1), 0);
    CHECK_INT(sl_metrics_add(c, a, -1), -1);   /* a counter never goes down */
    CHECK_INT(sl_metrics_add(c, NULL, 1), -1); /* wrong number of label values */
    CHECK_INT(sl_metrics_set(c, a, 1), -1);    /* not a gauge */
    CHECK_INT(sl_metrics_set(g, NULL, 0.25), 0);
    t = render(m);
    CHECK(t != NULL);
    /* Families in declaration order, series in creation order, HELP then TYPE. */
    CHECK_STR(t, "# HELP snaplake_x_total Things done.\n"
                 "# TYPE snaplake_x_total counter\n"
                 "snaplake_x_total{stage=\"copy\",outcome=\"done\"} 3\n"
                 "snaplake_x_total{stage=\"copy\",outcome=\"failed\"} 1\n"
                 "# HELP snaplake_g A gauge.\n"
                 "# TYPE snaplake_g gauge\n"
                 "snaplake_g 0.25\n");
    free(t);
    sl_metrics_free(m);
}

static void test_escaping(void)
{
    static const char *const l[] = {"v", NULL};
    sl_metrics *m = sl_metrics_new();
    sl_metric_family *g =
        sl_metrics_family(m, SL_METRIC_GAUGE, "g", "back\\slash\nnew \"q\"", l, NULL, 0);
    const char *const v[] = {"a\"b\\c\nd", NULL};
    char *t;

    CHECK(g);
    CHECK_INT(sl_metrics_set(g, v, 1), 0);
    t = render(m);
    CHECK(t != NULL);
    /* HELP escapes \ and newline only; label values also the double quote. */
    CHECK_STR(t, "# HELP g back\\\\slash\\nnew \"q\"\n"
                 "# TYPE g gauge\n"
                 "g{v=\"a\\\"b\\\\c\\nd\"} 1\n");
    free(t);
    sl_metrics_free(m);
}

static void test_histogram(void)
{
    static const char *const l[] = {"stage", NULL};
    static const double bk[] = {0.5, 1, 10};
    sl_metrics *m = sl_metrics_new();
    sl_metric_family *h =
        sl_metrics_family(m, SL_METRIC_HISTOGRAM, "d_seconds", "Durations.", l, bk, 3);
    const char *const v[] = {"export", NULL};
    char *t;

    CHECK(h);
    CHECK_INT(sl_metrics_observe(h, v, 0.5), 0); /* on a bound: counts in that bucket (le) */
    CHECK_INT(sl_metrics_observe(h, v, 2), 0);
    CHECK_INT(sl_metrics_observe(h, v, 100), 0); /* only +Inf */
    CHECK_INT(sl_metrics_observe(h, v, NAN), -1);
    t = render(m);
    CHECK(t != NULL);
    CHECK_STR(t, "# HELP d_seconds Durations.\n"
                 "# TYPE d_seconds histogram\n"
                 "d_seconds_bucket{stage=\"export\",le=\"0.5\"} 1\n"
                 "d_seconds_bucket{stage=\"export\",le=\"1\"} 1\n"
                 "d_seconds_bucket{stage=\"export\",le=\"10\"} 2\n"
                 "d_seconds_bucket{stage=\"export\",le=\"+Inf\"} 3\n"
                 "d_seconds_sum{stage=\"export\"} 102.5\n"
                 "d_seconds_count{stage=\"export\"} 3\n");
    free(t);
    sl_metrics_free(m);
}

static void test_bad_declarations(void)
{
    static const char *const le[] = {"le", NULL};
    static const char *const bad[] = {"a-b", NULL};
    static const double unsorted[] = {1, 0.5};
    static const double one[] = {1};
    sl_metrics *m = sl_metrics_new();

    CHECK(m);
    CHECK(!sl_metrics_family(m, SL_METRIC_GAUGE, "9x", "h", NULL, NULL, 0));
    CHECK(!sl_metrics_family(m, SL_METRIC_GAUGE, "x-y", "h", NULL, NULL, 0));
    CHECK(!sl_metrics_family(m, SL_METRIC_GAUGE, "x", "h", bad, NULL, 0));
    CHECK(!sl_metrics_family(m, SL_METRIC_HISTOGRAM, "x", "h", le, one, 1));
    CHECK(!sl_metrics_family(m, SL_METRIC_HISTOGRAM, "x", "h", NULL, unsorted, 2));
    CHECK(!sl_metrics_family(m, SL_METRIC_HISTOGRAM, "x", "h", NULL, NULL, 0));
    CHECK(!sl_metrics_family(m, SL_METRIC_GAUGE, "x", "h", NULL, one, 1));
    CHECK(sl_metrics_family(m, SL_METRIC_GAUGE, "ns:x", "h", NULL, NULL, 0) != NULL);
    sl_metrics_free(m);
}

static void test_reset(void)
{
    static const char *const l[] = {"p", NULL};
    sl_metrics *m = sl_metrics_new();
    sl_metric_family *g = sl_metrics_family(m, SL_METRIC_GAUGE, "lag", "h", l, NULL, 0);
    const char *const v0[] = {"0", NULL}, *const v1[] = {"1", NULL};
    char *t;

    CHECK(g);
    CHECK_INT(sl_metrics_set(g, v0, 5), 0);
    sl_metrics_reset(g);
    CHECK_INT(sl_metrics_set(g, v1, 7), 0);
    t = render(m);
    CHECK(t != NULL);
    CHECK_STR(t, "# HELP lag h\n# TYPE lag gauge\nlag{p=\"1\"} 7\n");
    free(t);
    sl_metrics_free(m);
}

/* ---- health: a pure function of timestamps ---- */

static void test_health_table(void)
{
    /* now=1000000; stall 60s, ready 30s, dependency 300s; start 0 unless said. */
    static const struct {
        const char *what;
        long long start, loop, kafka, pg;
        int fatal;
        int live, ready;
    } t[] = {
        {"all fresh", 0, 999000, 999000, 999000, 0, 1, 1},
        {"loop stalled 61s", 0, 939000, 999000, 999000, 0, 0, 0},
        {"loop 60s ago is fine", 0, 940000, 999000, 999000, 0, 1, 1},
        {"kafka never joined, just started", 990000, 999000, 0, 999000, 0, 1, 0},
        {"kafka never joined for 301s", 699000, 999000, 0, 999000, 0, 0, 0},
        {"kafka lost 31s: not ready, live", 0, 999000, 969000, 999000, 0, 1, 0},
        {"kafka lost 301s: not live", 0, 999000, 699000, 999000, 0, 0, 0},
        {"pg lost 31s: not ready", 0, 999000, 999000, 969000, 0, 1, 0},
        {"pg lost 301s: not live", 0, 999000, 999000, 699000, 0, 0, 0},
        {"pg never, started 10s ago", 990000, 999000, 999000, 0, 0, 1, 0},
        {"kafka fatal", 0, 999000, 999000, 999000, 1, 0, 0},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        sl_health_in in = {1000000, t[i].start, t[i].loop, t[i].kafka, t[i].pg, t[i].fatal,
                           60000,   30000,      300000,    0,          0};
        sl_health h = sl_health_eval(&in);
        if (h.live != t[i].live || h.ready != t[i].ready) {
            fprintf(stderr, "case %zu (%s): live %d ready %d\n", i, t[i].what, h.live, h.ready);
            CHECK(0);
        }
    }
}

static void test_health_body(void)
{
    sl_health_in in = {1000000, 0, 999000, 0, 999000, 0, 60000, 30000, 300000, 0, 0};
    sl_health h = sl_health_eval(&in);
    char b[256];

    CHECK_INT(sl_health_body(&h, 1, b, sizeof(b)), 503);
    CHECK_STR(b, "{\"status\":\"fail\",\"checks\":{\"loop\":\"ok\",\"kafka\":\"not joined\","
                 "\"postgres\":\"ok\"}}\n");
    CHECK_INT(sl_health_body(&h, 0, b, sizeof(b)), 503); /* never joined for 1000 s */
    in.kafka_ok_ms = 999500;
    h = sl_health_eval(&in);
    CHECK_INT(sl_health_body(&h, 1, b, sizeof(b)), 200);
    CHECK_INT(sl_health_body(&h, 0, b, sizeof(b)), 200);
    CHECK_STR(b, "{\"status\":\"ok\",\"checks\":{\"loop\":\"ok\",\"kafka\":\"ok\",\"postgres\":"
                 "\"ok\"}}\n");
}

/* The producer's sqs mode: SQS is a third dependency, named in the body and judged like PG. */
static void test_health_sqs(void)
{
    sl_health_in in = {1000000, 0, 999000, 999000, 999000, 0, 60000, 30000, 300000, 1, 0};
    sl_health h = sl_health_eval(&in);
    char b[256];

    CHECK_INT(sl_health_body(&h, 1, b, sizeof(b)), 503); /* never answered */
    CHECK_STR(b, "{\"status\":\"fail\",\"checks\":{\"loop\":\"ok\",\"kafka\":\"ok\","
                 "\"postgres\":\"ok\",\"sqs\":\"unreachable\"}}\n");
    CHECK_INT(sl_health_body(&h, 0, b, sizeof(b)), 503); /* and for longer than dep_timeout */
    CHECK_STR(b, "{\"status\":\"fail\",\"checks\":{\"loop\":\"ok\",\"kafka\":\"ok\","
                 "\"postgres\":\"ok\",\"sqs\":\"lost\"}}\n");
    in.sqs_ok_ms = 990000; /* 10 s ago: ready */
    h = sl_health_eval(&in);
    CHECK_INT(h.ready, 1);
    in.sqs_ok_ms = 960000; /* 40 s ago: not ready, still live */
    h = sl_health_eval(&in);
    CHECK_INT(h.ready, 0);
    CHECK_INT(h.live, 1);
    in.want_sqs = 0; /* a binary without SQS is not judged on it */
    h = sl_health_eval(&in);
    CHECK_INT(h.ready, 1);
}

/* ---- METRICS_ADDR ---- */

static void test_parse_addr(void)
{
    static const struct {
        const char *in, *host;
        int port, ok;
    } t[] = {
        {":9464", "", 9464, 1},
        {"127.0.0.1:0", "127.0.0.1", 0, 1},
        {"[::1]:80", "::1", 80, 1},
        {"localhost:65535", "localhost", 65535, 1},
        {"", "", 0, 0},
        {"9464", "", 0, 0},
        {":", "", 0, 0},
        {":65536", "", 0, 0},
        {":-1", "", 0, 0},
        {":94x", "", 0, 0},
        {"::1:80", "", 0, 0},
        {"[::1]80", "", 0, 0},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char host[64] = "?", err[128];
        int port = -1;
        int rc = sl_httpd_parse_addr(t[i].in, host, sizeof(host), &port, err, sizeof(err));
        if ((rc == 0) != t[i].ok || (t[i].ok && (strcmp(host, t[i].host) || port != t[i].port))) {
            fprintf(stderr, "case %s: rc %d host %s port %d\n", t[i].in, rc, host, port);
            CHECK(0);
        }
    }
}

static int answer_ok(void *ud, const char *path, sl_buf *body, const char **ctype)
{
    (void)ud;
    (void)ctype;
    return sl_buf_appendf(body, "ok %s\n", path) ? 500 : 200;
}

static size_t keep_body(char *p, size_t sz, size_t n, void *ud)
{
    return sl_buf_append(ud, p, sz * n) ? 0 : sz * n;
}

/* A copy worker holds thousands of sockets, so a scrape arrives on a descriptor past
   FD_SETSIZE, which MHD's select mode refuses: with the low descriptors taken, a GET is still
   answered (the client's socket and the accepted one are both past FD_SETSIZE). */
static void test_httpd_past_fd_setsize(void)
{
    enum { EXTRA = FD_SETSIZE + 16 };
    static int fds[EXTRA];
    struct rlimit was, up;
    sl_httpd *h = NULL;
    CURL *c = NULL;
    CURLM *m = NULL;
    char err[256], url[64];
    sl_buf body;
    size_t nfds = 0;
    int running = 1, ok = 0, filled = 0;
    long status = 0;

    sl_buf_init(&body, 4096);
    CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
    up = was;
    if (up.rlim_max != RLIM_INFINITY && up.rlim_max < (rlim_t)EXTRA * 2)
        up.rlim_max = (rlim_t)EXTRA * 2; /* as root; otherwise the check below says why */
    up.rlim_cur = up.rlim_max == RLIM_INFINITY ? (rlim_t)EXTRA * 2 : up.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
        fprintf(stderr, "cannot raise RLIMIT_NOFILE to %d\n", EXTRA * 2);
        CHECK(0);
    }
    if (sl_httpd_new(&h, "127.0.0.1:0", answer_ok, NULL, err, sizeof(err)) == 0) {
        while (nfds < EXTRA && (fds[nfds] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
            nfds++;
        c = curl_easy_init();
        m = curl_multi_init();
    }
    filled = nfds == EXTRA;
    if (h && filled && c && m) {
        long long deadline = sl_mono_ms() + 10000;
        snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", sl_httpd_port(h));
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
        curl_multi_add_handle(m, c);
        /* One thread: the client's turn, then the server's, until the answer (or 10 s). */
        while (running && sl_mono_ms() < deadline) {
            curl_multi_perform(m, &running);
            sl_httpd_run(h);
            if (running)
                curl_multi_poll(m, NULL, 0, 10, NULL);
        }
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        ok = !running;
        curl_multi_remove_handle(m, c);
    }
    curl_multi_cleanup(m);
    curl_easy_cleanup(c);
    sl_httpd_free(h);
    while (nfds)
        close(fds[--nfds]);
    setrlimit(RLIMIT_NOFILE, &was);
    if (!h)
        fprintf(stderr, "httpd: %s\n", err);
    CHECK(h != NULL);
    CHECK(filled);
    CHECK(ok);
    CHECK(status == 200);
    CHECK(body.len == 6 && memcmp(body.data, "ok /x\n", 6) == 0);
    sl_buf_cleanup(&body);
}

/* ---- librdkafka statistics ---- */

static void test_kstats(void)
{
    static const char js[] =
        "{\"name\":\"c\",\"brokers\":{\"localhost:9092/bootstrap\":{\"nodeid\":-1,\"state\":"
        "\"UP\"},\"localhost:9092/1\":{\"nodeid\":1,\"state\":\"UP\"},\"b2\":{\"nodeid\":2,"
        "\"state\":\"DOWN\"}},\"topics\":{\"snaplake.exported\":{\"partitions\":{\"0\":{"
        "\"partition\":0,\"consumer_lag\":7},\"1\":{\"partition\":1,\"consumer_lag\":-1},\"-1\":{"
        "\"partition\":-1,\"consumer_lag\":-1}}}},\"cgrp\":{\"state\":\"up\",\"join_state\":"
        "\"steady\"}}";
    sl_kstats *ks = malloc(sizeof(*ks));
    char err[128];

    CHECK(ks);
    CHECK_INT(sl_kstats_parse(js, strlen(js), ks, err, sizeof(err)), 0);
    CHECK_INT(ks->group_up, 1);
    CHECK_INT(ks->brokers_up, 1);
    CHECK_INT((int)ks->nparts, 1);
    CHECK_STR(ks->parts[0].topic, "snaplake.exported");
    CHECK_INT(ks->parts[0].partition, 0);
    CHECK_INT((int)ks->parts[0].lag, 7);
    {
        static const char wait[] = "{\"cgrp\":{\"state\":\"up\",\"join_state\":\"wait-join\"}}";
        CHECK_INT(sl_kstats_parse(wait, strlen(wait), ks, err, sizeof(err)), 0);
        CHECK_INT(ks->group_up, 0);
        CHECK_INT(ks->brokers_up, 0);
    }
    CHECK_INT(sl_kstats_parse("[1]", 3, ks, err, sizeof(err)), -1);
    CHECK_INT(sl_kstats_parse("{\"a\":", 5, ks, err, sizeof(err)), -1);
    free(ks);
}

/* ---- AWS operation names for snaplake_aws_requests_total ---- */

static void test_aws_operation_names(void)
{
    sl_http_header target = {"X-Amz-Target", "AWSGlue.StartCrawler"};
    sl_http_header copy = {"x-amz-copy-source", "/b/k"};
    static const char form[] = "Action=StartExportTask&Version=2014-10-31";
    struct {
        sl_aws_request r;
        const char *want;
    } t[] = {
        {{"glue", "POST", NULL, "/", NULL, &target, 1, "{}", 2, 0, 0}, "StartCrawler"},
        {{"rds", "POST", NULL, "/", NULL, NULL, 0, form, sizeof(form) - 1, 0, 0},
         "StartExportTask"},
        {{"s3", "PUT", "b", "/k", NULL, &copy, 1, NULL, 0, 0, 0}, "CopyObject"},
        {{"s3", "GET", "b", "/", "list-type=2&prefix=x", NULL, 0, NULL, 0, 0, 0}, "ListObjectsV2"},
        {{"s3", "GET", "b", "/k", NULL, NULL, 0, NULL, 0, 0, 0}, "GetObject"},
        {{"s3", "POST", "b", "/k", "uploadId=1", NULL, 0, NULL, 0, 0, 0},
         "CompleteMultipartUpload"},
        {{"s3", "POST", "b", "/", "delete=", NULL, 0, NULL, 0, 0, 0}, "DeleteObjects"},
        {{"lakeformation", "POST", NULL, "/GrantPermissions", NULL, NULL, 0, NULL, 0, 0, 0},
         "GrantPermissions"},
    };

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        char op[64];
        sl_aws_operation_name(&t[i].r, op, sizeof(op));
        CHECK_STR(op, t[i].want);
    }
}

static const sl_test tests[] = {
    SL_TEST(test_counter_gauge_text),
    SL_TEST(test_escaping),
    SL_TEST(test_histogram),
    SL_TEST(test_bad_declarations),
    SL_TEST(test_reset),
    SL_TEST(test_health_table),
    SL_TEST(test_health_body),
    SL_TEST(test_health_sqs),
    SL_TEST(test_parse_addr),
    SL_TEST(test_httpd_past_fd_setsize),
    SL_TEST(test_kstats),
    SL_TEST(test_aws_operation_names),
};
SL_TEST_MAIN(tests)
