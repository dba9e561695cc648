/*
 * test_aws_http.c - the AWS client core: retry classification, error parsing of every
 * protocol, endpoint resolution and S3 addressing, backoff bounds, header lookup, and the
 * retry loop end to end against a scripted local HTTP server (a forked child process).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aws_http.h"
#include "sl_test.h"

static void test_is_transient(void)
{
    static const struct {
        const char *code;
        long status;
        int want;
    } cases[] = {
        {"Throttling", 400, 1},
        {"ThrottlingException", 400, 1},
        {"SlowDown", 503, 1},
        {"RequestLimitExceeded", 400, 1},
        {"TooManyRequestsException", 429, 1},
        {"InternalError", 200, 1},
        {"RequestTimeout", 400, 1},
        {"ServiceUnavailable", 503, 1},
        {"PriorRequestNotComplete", 400, 1},
        {"EC2ThrottledException", 400, 1},
        {"NetworkError", 0, 1},
        {"Whatever", 500, 1},
        {"Whatever", 502, 1},
        {"Whatever", 504, 1},
        {NULL, 503, 1},
        {"NoSuchBucket", 404, 0},
        {"AccessDenied", 403, 0},
        {"ValidationException", 400, 0},
        {"ExportTaskLimitReachedFault", 400, 0},
        {"throttling", 400, 0}, /* codes are case-sensitive */
        {NULL, 400, 0},
        {"", 501, 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        if (sl_aws_is_transient(cases[i].code, cases[i].status) != cases[i].want)
            fprintf(stderr, "case %zu (%s, %ld)\n", i, cases[i].code ? cases[i].code : "NULL",
                    cases[i].status);
        CHECK_INT(sl_aws_is_transient(cases[i].code, cases[i].status), cases[i].want);
    }
}

static void test_parse_error(void)
{
    static const struct {
        sl_aws_protocol proto;
        long status;
        const char *body;
        const char *headers;
        int rc;
        const char *code, *message, *request_id;
        int transient;
    } cases[] = {
        {SL_AWS_PROTO_QUERY, 404,
         "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender"
         "</Type><Code>DBClusterNotFoundFault</Code><Message>DBCluster x not found.</Message>"
         "</Error><RequestId>rid-1</RequestId></ErrorResponse>",
         NULL, 0, "DBClusterNotFoundFault", "DBCluster x not found.", "rid-1", 0},
        {SL_AWS_PROTO_QUERY, 400,
         "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>slow</Message>"
         "</Error></Errors><RequestID>rid-2</RequestID></Response>",
         NULL, 0, "RequestLimitExceeded", "slow", "rid-2", 1},
        {SL_AWS_PROTO_REST_XML, 404,
         "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchBucket</Code>"
         "<Message>The specified bucket does not exist</Message><BucketName>b</BucketName>"
         "<RequestId>rid-3</RequestId></Error>",
         "x-amz-request-id: hdr-3\r\n", 0, "NoSuchBucket", "The specified bucket does not exist",
         "hdr-3", 0},
        {SL_AWS_PROTO_REST_XML, 404, "", "x-amz-request-id: h4\r\nContent-Length: 0\r\n", -1,
         "NotFound", "HTTP status 404", "h4", 0},
        {SL_AWS_PROTO_REST_XML, 403, NULL, NULL, -1, "AccessDenied", "HTTP status 403", "", 0},
        {SL_AWS_PROTO_REST_XML, 503, "  ", NULL, -1, "ServiceUnavailable", "HTTP status 503", "",
         1},
        {SL_AWS_PROTO_JSON, 400,
         "{\"__type\":\"com.amazonaws.glue#EntityNotFoundException\",\"message\":\"no crawler\"}",
         "x-amzn-RequestId: j1\r\n", 0, "EntityNotFoundException", "no crawler", "j1", 0},
        {SL_AWS_PROTO_JSON, 400,
         "{\"__type\":\"ThrottlingException:http://internal.amazon.com/\",\"Message\":\"Rate\"}",
         NULL, 0, "ThrottlingException", "Rate", "", 1},
        {SL_AWS_PROTO_REST_JSON, 400, "{\"message\":\"bad principal\",\"code\":\"Other\"}",
         "X-Amzn-ErrorType: InvalidInputException:http://internal.amazon.com/\r\n", 0,
         "InvalidInputException", "bad principal", "", 0},
        {SL_AWS_PROTO_JSON, 400, "{\"message\":\"only a message\"}",
         "x-amzn-errortype: ValidationException\r\n", 0, "ValidationException", "only a message",
         "", 0},
        {SL_AWS_PROTO_QUERY, 502, "<html><body>Bad gateway</body></html>", NULL, -1, "BadGateway",
         "HTTP status 502", "", 1},
        {SL_AWS_PROTO_JSON, 418, "{not json", NULL, -1, "HTTP418", "HTTP status 418", "", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_aws_error e;
        const char *b = cases[i].body, *h = cases[i].headers;
        int rc = sl_aws_parse_error(cases[i].proto, cases[i].status, b, b ? strlen(b) : 0, h,
                                    h ? strlen(h) : 0, &e);
        fprintf(stderr, "parse_error case %zu\n", i);
        CHECK_INT(rc, cases[i].rc);
        CHECK_STR(e.code, cases[i].code);
        CHECK_STR(e.message, cases[i].message);
        CHECK_STR(e.request_id, cases[i].request_id);
        CHECK_INT(e.transient, cases[i].transient);
        CHECK_INT(e.http_status, cases[i].status);
    }
}

static void test_endpoint_resolve(void)
{
    static const struct {
        const char *region, *url, *url_s3, *url_rds;
        int path_style;
        const char *service, *bucket, *path, *query;
        const char *want_url, *want_host, *want_path;
    } cases[] = {
        {"us-east-1", NULL, NULL, NULL, 0, "rds", NULL, NULL, NULL,
         "https://rds.us-east-1.amazonaws.com/", "rds.us-east-1.amazonaws.com", "/"},
        {"eu-west-1", NULL, NULL, NULL, 0, "s3", "my-bucket", "/a%20b", "x=1",
         "https://my-bucket.s3.eu-west-1.amazonaws.com/a%20b?x=1",
         "my-bucket.s3.eu-west-1.amazonaws.com", "/a%20b"},
        /* Dotted names would break the wildcard TLS certificate: path style. */
        {"eu-west-1", NULL, NULL, NULL, 0, "s3", "my.bucket", "/k", NULL,
         "https://s3.eu-west-1.amazonaws.com/my.bucket/k", "s3.eu-west-1.amazonaws.com",
         "/my.bucket/k"},
        {"eu-west-1", NULL, NULL, NULL, 1, "s3", "bkt", "/", "list-type=2",
         "https://s3.eu-west-1.amazonaws.com/bkt?list-type=2", "s3.eu-west-1.amazonaws.com",
         "/bkt"},
        /* An override means path style, and a non-default port is part of Host. */
        {"us-east-1", "http://127.0.0.1:15000", NULL, NULL, 0, "s3", "bkt", "/k%2B1", NULL,
         "http://127.0.0.1:15000/bkt/k%2B1", "127.0.0.1:15000", "/bkt/k%2B1"},
        {"us-east-1", "http://127.0.0.1:15000/", NULL, NULL, 0, "glue", NULL, NULL, NULL,
         "http://127.0.0.1:15000/", "127.0.0.1:15000", "/"},
        /* The per-service override beats AWS_ENDPOINT_URL; default ports are dropped. */
        {"us-east-1", "http://127.0.0.1:15000", "https://s3.local:443/base/", NULL, 0, "s3", "bkt",
         "/k", NULL, "https://s3.local/base/bkt/k", "s3.local", "/base/bkt/k"},
        {"us-east-1", "http://127.0.0.1:15000", NULL, "http://rds.local:80", 0, "rds", NULL, NULL,
         NULL, "http://rds.local/", "rds.local", "/"},
        {"us-east-1", "http://127.0.0.1:15000", NULL, "http://rds.local:80", 0, "sts", NULL, NULL,
         NULL, "http://127.0.0.1:15000/", "127.0.0.1:15000", "/"},
        {"cn-north-1", NULL, NULL, NULL, 0, "glue", NULL, NULL, NULL,
         "https://glue.cn-north-1.amazonaws.com.cn/", "glue.cn-north-1.amazonaws.com.cn", "/"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_aws_opts o;
        sl_aws_endpoint ep;
        char err[SL_ERRLEN];
        int rc;

        memset(&o, 0, sizeof(o));
        o.region = (char *)cases[i].region;
        o.endpoint_url = (char *)cases[i].url;
        o.endpoint_s3 = (char *)cases[i].url_s3;
        o.endpoint_rds = (char *)cases[i].url_rds;
        o.s3_path_style = cases[i].path_style;
        rc = sl_aws_endpoint_resolve(&o, cases[i].service, cases[i].bucket, cases[i].path,
                                     cases[i].query, &ep, err, sizeof(err));
        fprintf(stderr, "endpoint case %zu\n", i);
        CHECK_INT(rc, 0);
        rc = strcmp(ep.url, cases[i].want_url) || strcmp(ep.host, cases[i].want_host) ||
             strcmp(ep.path, cases[i].want_path);
        if (rc)
            fprintf(stderr, "got %s | %s | %s\n", ep.url, ep.host, ep.path);
        sl_aws_endpoint_cleanup(&ep);
        CHECK_INT(rc, 0);
    }
}

static void test_endpoint_errors(void)
{
    sl_aws_opts o;
    sl_aws_endpoint ep;
    char err[SL_ERRLEN];

    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    CHECK_INT(sl_aws_endpoint_resolve(&o, "s3", "b", "no-slash", NULL, &ep, err, sizeof(err)), -1);
    CHECK(strstr(err, "does not start") != NULL);
    o.endpoint_url = "ftp://example.com";
    CHECK_INT(sl_aws_endpoint_resolve(&o, "rds", NULL, "/", NULL, &ep, err, sizeof(err)), -1);
    o.endpoint_url = NULL;
    o.region = NULL;
    CHECK_INT(sl_aws_endpoint_resolve(&o, "rds", NULL, "/", NULL, &ep, err, sizeof(err)), -1);
    CHECK(strstr(err, "AWS_REGION") != NULL);
    /* sl_aws_new refuses a bad override at start. */
    o.region = "us-east-1";
    o.endpoint_glue = "not a url";
    CHECK(sl_aws_new(&o, NULL, err, sizeof(err)) == NULL);
}

static void test_bucket_virtual_ok(void)
{
    static const struct {
        const char *b;
        int want;
    } cases[] = {
        {"abc", 1},   {"my-bucket-1", 1},
        {"ab", 0},    {"My-Bucket", 0},
        {"a.b.c", 0}, {"-abc", 0},
        {"abc-", 0},  {"a_bc", 0},
        {NULL, 0},    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++)
        CHECK_INT(sl_aws_s3_bucket_virtual_ok(cases[i].b), cases[i].want);
}

/* The deep copy owns its own strings: the source may be freed first; cleanup zeroes. */
static void test_opts_copy_cleanup(void)
{
    char region[] = "eu-west-1", ep[] = "http://127.0.0.1:1", err[SL_ERRLEN];
    sl_aws_opts src, dst;

    memset(&src, 0, sizeof(src));
    src.region = region;
    src.endpoint_s3 = ep;
    src.s3_path_style = 1;
    src.max_attempts = 7;
    CHECK_INT(sl_aws_opts_copy(&dst, &src, err, sizeof(err)), 0);
    CHECK(dst.region != region && dst.endpoint_s3 != ep);
    memset(region, 'x', sizeof(region) - 1);
    CHECK_STR(dst.region, "eu-west-1");
    CHECK_STR(dst.endpoint_s3, "http://127.0.0.1:1");
    CHECK(dst.endpoint_url == NULL && dst.ca_bundle == NULL && dst.endpoint_glue == NULL);
    CHECK_INT(dst.s3_path_style, 1);
    CHECK_INT(dst.max_attempts, 7);
    sl_aws_opts_cleanup(&dst);
    CHECK(dst.region == NULL && dst.endpoint_s3 == NULL && dst.max_attempts == 0);
    sl_aws_opts_cleanup(NULL);

    /* A NULL source gives zeroed options. */
    dst.max_attempts = 5;
    CHECK_INT(sl_aws_opts_copy(&dst, NULL, err, sizeof(err)), 0);
    CHECK(dst.region == NULL && dst.max_attempts == 0);
}

static void test_backoff_bounds(void)
{
    sl_aws_opts o;
    char err[SL_ERRLEN];
    sl_aws *c;
    int over = 0, nonzero = 0;

    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    o.retry_base_ms = 100;
    c = sl_aws_new(&o, NULL, err, sizeof(err));
    CHECK(c != NULL);
    for (int a = 1; a <= 12; a++) {
        long long cap = 100LL << a;
        if (cap > 20000)
            cap = 20000;
        for (int k = 0; k < 200; k++) {
            long long v = sl_aws_backoff_ms(c, a);
            if (v < 0 || v > cap)
                over++;
            if (v > 0)
                nonzero++;
        }
    }
    CHECK_INT(sl_aws_max_attempts(c), 3);
    CHECK_STR(sl_aws_region(c), "us-east-1");
    sl_aws_free(c);
    sl_aws_free(NULL);
    CHECK_INT(over, 0);
    CHECK(nonzero > 0);
}

static void test_response_header(void)
{
    sl_aws_response r;
    char v[64];
    const char *block = "Content-Type: text/xml\r\nx-amz-request-id:  ABC123 \r\n"
                        "ETag: \"e1\"\r\n\r\n";

    sl_aws_response_init(&r);
    CHECK_INT(sl_buf_append(&r.headers, block, strlen(block)), 0);
    CHECK_INT(sl_aws_response_header(&r, "X-Amz-Request-Id", v, sizeof(v)), 0);
    CHECK_STR(v, "ABC123");
    CHECK_INT(sl_aws_response_header(&r, "etag", v, sizeof(v)), 0);
    CHECK_STR(v, "\"e1\"");
    CHECK_INT(sl_aws_response_header(&r, "x-amz", v, sizeof(v)), -1);
    sl_aws_response_cleanup(&r);
}

/* --- the retry loop against a scripted server -------------------------------------------- */

typedef struct canned {
    int status;
    const char *body; /* NULL: echo the request head back as the body */
} canned;

static void serve(int lfd, const canned *script, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char req[8192], resp[16384];
        size_t got = 0;
        const char *body;
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0)
            _exit(2);
        while (got < sizeof(req) - 1) {
            ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n"))
                break;
        }
        req[got] = '\0';
        body = script[i].body ? script[i].body : req;
        int len = snprintf(resp, sizeof(resp),
                           "HTTP/1.1 %d X\r\nContent-Length: %zu\r\nConnection: close\r\n"
                           "x-amz-request-id: req-%zu\r\n\r\n%s",
                           script[i].status, strlen(body), i, body);
        if (write(fd, resp, (size_t)len) < 0)
            _exit(3);
        close(fd);
    }
    _exit(0);
}

static pid_t start_server(const canned *script, size_t n, int *port)
{
    struct sockaddr_in a;
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    pid_t pid;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 8) ||
        getsockname(lfd, (struct sockaddr *)&a, &al))
        return -1;
    *port = ntohs(a.sin_port);
    pid = fork();
    if (pid == 0)
        serve(lfd, script, n);
    close(lfd);
    return pid;
}

static int wait_server(pid_t pid)
{
    int st = 0;
    if (waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static sl_aws *local_client(int port)
{
    sl_aws_opts o;
    char url[64], err[SL_ERRLEN];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    o.endpoint_url = url;
    o.max_attempts = 3;
    o.retry_base_ms = 1;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 5000;
    return sl_aws_new(&o, NULL, err, sizeof(err));
}

static void test_call_retries_then_succeeds(void)
{
    static const canned script[] = {
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {500, ""},
        {200, NULL},
    };
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    char host[64], rid[32];
    int port = 0, rc, srv;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "GET";
    req.bucket = "bkt";
    req.path = "/a%20b/..%2Fc";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    rc = sl_aws_call(c, &req, &resp, &e);
    srv = wait_server(pid);
    snprintf(host, sizeof(host), "Host: 127.0.0.1:%d\r\n", port);
    CHECK_INT(srv, 0);
    CHECK_INT(rc, 0);
    CHECK_INT(e.attempts, 3);
    CHECK_INT(resp.status, 200);
    /* The echoed request: exact path (not normalised) and the Host we would sign. */
    CHECK(strstr(resp.body.data, "GET /bkt/a%20b/..%2Fc HTTP/1.1\r\n") == resp.body.data);
    CHECK(strstr(resp.body.data, host) != NULL);
    CHECK(strstr(resp.body.data, "Expect:") == NULL);
    CHECK_INT(sl_aws_response_header(&resp, "x-amz-request-id", rid, sizeof(rid)), 0);
    CHECK_STR(rid, "req-2");
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
}

static void test_call_permanent_error_no_retry(void)
{
    static const canned script[] = {
        {404, "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist"
              "</Message></Error>"},
    };
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0, rc, srv;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.bucket = "nope";
    req.anonymous = 1;
    req.method = "GET";
    sl_aws_response_init(&resp);
    rc = sl_aws_call(c, &req, &resp, &e);
    srv = wait_server(pid);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    CHECK_INT(srv, 0);
    CHECK_INT(rc, -1);
    CHECK_INT(e.attempts, 1);
    CHECK_STR(e.code, "NoSuchBucket");
    CHECK_STR(e.message, "The specified bucket does not exist");
    CHECK_STR(e.request_id, "req-0");
    CHECK_INT(e.transient, 0);
}

static void test_s3_200_error_is_retried(void)
{
    /* CopyObject's 200 carrying <Error>: an error, retried; then a real success. */
    static const canned script[] = {
        {200, "<?xml version=\"1.0\"?>\n<Error><Code>InternalError</Code><Message>We "
              "encountered an internal error.</Message></Error>"},
        {200, "<CopyObjectResult><ETag>\"abc\"</ETag></CopyObjectResult>"},
    };
    static const sl_http_header h[] = {{"x-amz-copy-source", "src/k"}};
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0, rc, srv;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "PUT";
    req.bucket = "dst";
    req.path = "/k";
    req.headers = h;
    req.nheaders = 1;
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    rc = sl_aws_call(c, &req, &resp, &e);
    srv = wait_server(pid);
    CHECK_INT(srv, 0);
    CHECK_INT(rc, 0);
    CHECK_INT(e.attempts, 2);
    CHECK(strstr(resp.body.data, "CopyObjectResult") != NULL);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
}

static void test_network_error_is_transient(void)
{
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0, srv;
    /* A server that answers nothing and exits: the port is then closed. */
    pid_t pid = start_server(NULL, 0, &port);
    sl_aws *c;

    CHECK(pid > 0);
    srv = wait_server(pid);
    CHECK_INT(srv, 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "rds";
    req.method = "POST";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    CHECK_STR(e.code, "NetworkError");
    CHECK_INT(e.transient, 1);
    CHECK_INT(e.attempts, 3);
    CHECK_INT(e.http_status, 0);
}

static void test_call_sleep_budget_returns_retry_after(void)
{
    static const canned script[] = {
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
        {503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"},
    };
    sl_aws_opts o;
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    char url[64], err[SL_ERRLEN];
    int port = 0, st = 0;
    pid_t pid = start_server(script, SL_ARRAY_LEN(script), &port);
    sl_aws *c;

    CHECK(pid > 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
    memset(&o, 0, sizeof(o));
    o.region = "us-east-1";
    o.endpoint_url = url;
    o.max_attempts = 5;
    /* Backoffs drawn from [0, 20 s]: five attempts would sleep seconds; a 250 ms budget
     * allows the rare short draw and nothing more. */
    o.retry_base_ms = 60000;
    o.max_sleep_ms = 250;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 5000;
    c = sl_aws_new(&o, NULL, err, sizeof(err));
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "s3";
    req.method = "GET";
    req.bucket = "bkt";
    req.path = "/k";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    /* The server waits for connections that will not come. */
    kill(pid, SIGTERM);
    (void)waitpid(pid, &st, 0);
    CHECK_STR(e.code, "SlowDown");
    CHECK_INT(e.transient, 1);
    CHECK(e.attempts >= 1 && e.attempts < 5);
    CHECK(e.retry_after_ms > 0);
    CHECK(e.retry_after_ms <= 20000);
}

static void test_call_without_budget_has_no_retry_after(void)
{
    sl_aws_request req;
    sl_aws_response resp;
    sl_aws_error e;
    int port = 0;
    pid_t pid = start_server(NULL, 0, &port); /* exits at once: the port is then closed */
    sl_aws *c;

    CHECK(pid > 0);
    CHECK_INT(wait_server(pid), 0);
    c = local_client(port);
    CHECK(c != NULL);
    memset(&req, 0, sizeof(req));
    req.service = "rds";
    req.method = "POST";
    req.anonymous = 1;
    sl_aws_response_init(&resp);
    CHECK_INT(sl_aws_call(c, &req, &resp, &e), -1);
    sl_aws_response_cleanup(&resp);
    sl_aws_free(c);
    CHECK_INT(e.attempts, 3); /* every attempt made */
    CHECK(e.retry_after_ms == 0);
}

static const sl_test tests[] = {
    SL_TEST(test_is_transient),
    SL_TEST(test_parse_error),
    SL_TEST(test_endpoint_resolve),
    SL_TEST(test_endpoint_errors),
    SL_TEST(test_bucket_virtual_ok),
    SL_TEST(test_opts_copy_cleanup),
    SL_TEST(test_backoff_bounds),
    SL_TEST(test_response_header),
    SL_TEST(test_call_retries_then_succeeds),
    SL_TEST(test_call_permanent_error_no_retry),
    SL_TEST(test_s3_200_error_is_retried),
    SL_TEST(test_network_error_is_transient),
    SL_TEST(test_call_sleep_budget_returns_retry_after),
    SL_TEST(test_call_without_budget_has_no_retry_after),
};
SL_TEST_MAIN(tests)
