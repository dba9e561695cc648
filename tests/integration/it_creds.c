/*
 * it_creds.c - the credentials chain against real HTTP endpoints:
 *   - tests/integration/metadata_server.py (started here, killed at exit) answering as the
 *     ECS/EKS container agent and as EC2 IMDSv2, with credentials that expire when told to;
 *   - moto (MOTO_ENDPOINT from .stack/env, signature checking on, AWS_ACCESS_KEY_ID/SECRET of
 *     the stack's IAM user) for STS AssumeRoleWithWebIdentity and AssumeRole, whose returned
 *     keys must then pass moto's signature check on GetCallerIdentity.
 * Each case gives the chain its own environment through sl_creds_opts.getenv_fn.
 *
 * AssumeRoleWithWebIdentity goes through the metadata server's relay (see its docstring):
 * moto 5.2.5 answers 500 to any unsigned request while signature checking is on, and AWS
 * requires this call to be unsigned. The relay asserts it arrived unsigned, then signs and
 * forwards it to moto.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libxml/tree.h>

#include "aws_http.h"
#include "creds.h"
#include "../unit/sl_test.h"

#define AUTH_TOKEN "container-auth-token-0123456789"

static pid_t srv_pid = -1;
static int srv_port;
static int srv_failed;
static char repo_root[PATH_MAX];

/* --- fake environment -------------------------------------------------------------------- */

typedef struct fake_env {
    const char *kv[40]; /* name, value, ..., NULL */
} fake_env;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
        ;
}

/* --- the metadata server ----------------------------------------------------------------- */

static int find_root(void)
{
    char cwd[PATH_MAX], probe[PATH_MAX + 64];

    if (!getcwd(cwd, sizeof(cwd)))
        return -1;
    /* The runner starts tests from the repository root; walk up in case it did not. */
    for (int up = 0; up < 6; up++) {
        snprintf(probe, sizeof(probe), "%s/tests/integration/metadata_server.py", cwd);
        if (access(probe, R_OK) == 0) {
            snprintf(repo_root, sizeof(repo_root), "%s", cwd);
            return 0;
        }
        char *slash = strrchr(cwd, '/');
        if (!slash || slash == cwd)
            break;
        *slash = '\0';
    }
    return -1;
}

static void server_stop(void)
{
    if (srv_pid > 0) {
        kill(srv_pid, SIGTERM);
        waitpid(srv_pid, NULL, 0);
        srv_pid = -1;
    }
}

static int server_start(void)
{
    char script[PATH_MAX + 64], python[PATH_MAX + 64], portfile[] = "/tmp/it_creds_portXXXXXX";
    const char *moto = getenv("MOTO_ENDPOINT");
    int fd;

    if (srv_pid > 0)
        return 0;
    if (srv_failed)
        return -1;
    srv_failed = 1;
    if (find_root()) {
        fprintf(stderr, "it_creds: cannot find tests/integration/metadata_server.py\n");
        return -1;
    }
    snprintf(script, sizeof(script), "%s/tests/integration/metadata_server.py", repo_root);
    snprintf(python, sizeof(python), "%s/.venv/bin/python", repo_root);
    if (access(python, X_OK) != 0)
        snprintf(python, sizeof(python), "python3");
    fd = mkstemp(portfile);
    if (fd < 0)
        return -1;
    close(fd);
    unlink(portfile); /* the server creates it atomically once it listens */

    srv_pid = fork();
    if (srv_pid < 0)
        return -1;
    if (srv_pid == 0) {
        char *argv[16];
        int n = 0;
        argv[n++] = python;
        argv[n++] = script;
        argv[n++] = "--port-file";
        argv[n++] = portfile;
        argv[n++] = "--auth-token";
        argv[n++] = AUTH_TOKEN;
        if (moto && *moto) {
            argv[n++] = "--sts-forward";
            argv[n++] = (char *)moto;
        }
        argv[n] = NULL;
        /* Dies with us even if we are killed before atexit runs (Linux). */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        /* Its stdout ("PORT n") is not ours to print into the test output. */
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execvp(python, argv);
        _exit(127);
    }
    atexit(server_stop);
    for (int i = 0; i < 150; i++) {
        FILE *f = fopen(portfile, "r");
        if (f) {
            int ok = fscanf(f, "%d", &srv_port) == 1;
            fclose(f);
            unlink(portfile);
            if (ok && srv_port > 0) {
                srv_failed = 0;
                return 0;
            }
        }
        if (waitpid(srv_pid, NULL, WNOHANG) == srv_pid) {
            srv_pid = -1;
            fprintf(stderr, "it_creds: metadata_server.py exited at start\n");
            return -1;
        }
        sleep_ms(100);
    }
    fprintf(stderr, "it_creds: metadata_server.py did not report its port\n");
    server_stop();
    return -1;
}

static size_t sink(char *p, size_t size, size_t n, void *ud)
{
    sl_buf *b = ud;
    return sl_buf_append(b, p, size * n) ? 0 : size * n;
}

/* Raw request to the server: returns the HTTP status, or -1. body may be NULL. */
static long raw_http(const char *method, const char *path, const char *hdr, const char *data,
                     sl_buf *body)
{
    char url[256];
    struct curl_slist *h = NULL;
    sl_buf tmp;
    long status = -1;
    CURL *c = curl_easy_init();

    sl_buf_init(&tmp, 1 << 20);
    if (!c)
        return -1;
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", srv_port, path);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, body ? body : &tmp);
    if (hdr) {
        h = curl_slist_append(NULL, hdr);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, data ? data : "");
    }
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    sl_buf_cleanup(&tmp);
    return status;
}

static int ctl(const char *json)
{
    return raw_http("POST", "/_control/config", NULL, json, NULL) == 200 ? 0 : -1;
}

/* Server to its defaults, counters zeroed. */
static int server_ready(void)
{
    if (server_start())
        return -1;
    if (ctl("{\"expires_in\": 3600, \"auth_token\": \"" AUTH_TOKEN "\", \"fail\": false}"))
        return -1;
    return raw_http("POST", "/_control/reset", NULL, "", NULL) == 200 ? 0 : -1;
}

/* A request counter of the server, or -1. */
static int stat_of(const char *name)
{
    sl_buf b;
    cJSON *j;
    int v = -1;

    sl_buf_init(&b, 1 << 16);
    if (raw_http("GET", "/_control/stats", NULL, NULL, &b) == 200 && b.data &&
        (j = cJSON_Parse(b.data))) {
        cJSON *it = cJSON_GetObjectItemCaseSensitive(j, name);
        v = cJSON_IsNumber(it) ? it->valueint : 0;
        cJSON_Delete(j);
    }
    sl_buf_cleanup(&b);
    return v;
}

static sl_aws_opts base_opts(void)
{
    sl_aws_opts o;
    const char *region = getenv("AWS_REGION");
    memset(&o, 0, sizeof(o));
    o.region = (char *)(region && *region ? region : "us-east-1");
    o.max_attempts = 2;
    o.connect_timeout_ms = 2000;
    o.request_timeout_ms = 20000;
    o.retry_base_ms = 50;
    return o;
}

/* The chains' clock: real time plus what a test advanced, so expiry is a step of the test. */
static long long clock_skip_ms;

static long long test_wall_ms(void *ud)
{
    (void)ud;
    return sl_now_ms() + clock_skip_ms;
}

static long long test_mono_ms(void *ud)
{
    (void)ud;
    return sl_mono_ms() + clock_skip_ms;
}

static sl_creds_provider *chain(fake_env *e, long long margin_ms, const sl_aws_opts *ao, char *err,
                                size_t errlen)
{
    sl_creds_opts o;
    sl_aws_opts def = base_opts();
    memset(&o, 0, sizeof(o));
    o.getenv_fn = sl_test_env_get;
    o.getenv_ud = e;
    o.refresh_margin_ms = margin_ms;
    o.wall_ms = test_wall_ms;
    o.mono_ms = test_mono_ms;
    clock_skip_ms = 0;
    return sl_creds_chain_new(&o, ao ? ao : &def, err, errlen);
}

/* One get from a fresh chain: 0 with *out and the source name, else -1 with err. */
static int get_once(fake_env *e, sl_creds *out, char *src, size_t srclen, char *err, size_t errlen)
{
    sl_creds_provider *p = chain(e, 0, NULL, err, errlen);
    int rc;
    if (!p)
        return -1;
    memset(out, 0, sizeof(*out));
    rc = sl_creds_get(p, out, err, errlen);
    snprintf(src, srclen, "%s", sl_creds_source(p));
    sl_creds_provider_free(p);
    return rc;
}

/* --- container --------------------------------------------------------------------------- */

static void test_container_with_token(void)
{
    char url[128], err[SL_ERRLEN] = "", src[64];
    sl_creds c;
    long long before, after;

    CHECK(server_ready() == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/container/v2/creds", srv_port);
    before = sl_now_ms();
    {
        fake_env e = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN, NULL}};
        if (get_once(&e, &c, src, sizeof(src), err, sizeof(err)))
            fprintf(stderr, "get: %s\n", err);
        after = sl_now_ms();
        CHECK(c.access_key[0] != '\0');
    }
    {
        int ok = strncmp(c.access_key, "ASIAMETA", 8) == 0 && c.secret_key[0] && c.session_token &&
                 strncmp(c.session_token, "IQoJ", 4) == 0 &&
                 /* 3600 s ahead, to the whole second the server writes */
                 c.expires_ms > before + 3598000 && c.expires_ms <= after + 3601000;
        sl_creds_cleanup(&c);
        CHECK(ok);
    }
    CHECK_STR(src, "container");
    CHECK_INT(stat_of("container_ok"), 1);

    /* A wrong token is refused by the agent and the error names the container source. */
    {
        fake_env e = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", "wrong-token", NULL}};
        CHECK_INT(get_once(&e, &c, src, sizeof(src), err, sizeof(err)), -1);
        CHECK(strstr(err, "container:") != NULL);
        CHECK(strstr(err, "401") != NULL);
        CHECK(strstr(err, "wrong-token") == NULL); /* never echoed */
    }
    CHECK_INT(stat_of("container_unauthorized"), 1);
    CHECK_INT(stat_of("container_ok"), 1);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    int rc;
    if (!f)
        return -1;
    rc = fputs(text, f) < 0 ? -1 : 0;
    return fclose(f) ? -1 : rc;
}

static void test_container_with_token_file(void)
{
    char url[128], err[SL_ERRLEN] = "", tokfile[] = "/tmp/it_creds_tokXXXXXX";
    sl_creds c;
    sl_creds_provider *p;
    int fd, rc1, rc2, rc3;

    CHECK(server_ready() == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/container/pod-identity", srv_port);
    fd = mkstemp(tokfile);
    CHECK(fd >= 0);
    close(fd);
    /* Trailing newline as written by tools; the file wins over the plain variable. */
    CHECK(write_file(tokfile, AUTH_TOKEN "\n") == 0);
    {
        fake_env e = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", tokfile,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", "ignored-when-file-set", NULL}};
        p = chain(&e, 0, NULL, err, sizeof(err));
        if (!p) {
            unlink(tokfile);
            CHECK(!"chain");
        }
        memset(&c, 0, sizeof(c));
        rc1 = sl_creds_get(p, &c, err, sizeof(err));
        sl_creds_cleanup(&c);
        /* Rotated to a token the agent does not know: re-read at the next fetch -> refused. */
        rc2 = write_file(tokfile, "rotated-but-wrong");
        sl_creds_invalidate(p);
        rc2 = rc2 ? 99 : sl_creds_get(p, &c, err, sizeof(err));
        if (rc2 == 0)
            sl_creds_cleanup(&c);
        /* Rotated back to the right one: works again without a new provider. */
        rc3 = write_file(tokfile, AUTH_TOKEN);
        rc3 = rc3 ? 99 : sl_creds_get(p, &c, err, sizeof(err));
        if (rc3 == 0)
            sl_creds_cleanup(&c);
        sl_creds_provider_free(p);
    }
    unlink(tokfile);
    CHECK_INT(rc1, 0);
    CHECK_INT(rc2, -1);
    CHECK_INT(rc3, 0);
    CHECK_INT(stat_of("container_ok"), 2);
    CHECK_INT(stat_of("container_unauthorized"), 1);
}

/* --- IMDSv2 ------------------------------------------------------------------------------ */

static void test_imds_token_flow(void)
{
    char ep[128], err[SL_ERRLEN] = "", src[64];
    sl_creds c;

    CHECK(server_ready() == 0);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d/", srv_port);
    {
        fake_env e = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, NULL}};
        if (get_once(&e, &c, src, sizeof(src), err, sizeof(err)))
            fprintf(stderr, "get: %s\n", err);
        CHECK(c.access_key[0] != '\0');
    }
    {
        int ok = strncmp(c.access_key, "ASIAMETA", 8) == 0 && c.session_token &&
                 c.expires_ms > sl_now_ms();
        sl_creds_cleanup(&c);
        CHECK(ok);
    }
    CHECK_STR(src, "imds");
    /* The v2 sequence: one token PUT, the role listing and the role's credentials, all with
       the token (any request without it would have counted as unauthorized). */
    CHECK_INT(stat_of("imds_token"), 1);
    CHECK_INT(stat_of("imds_role"), 1);
    CHECK_INT(stat_of("imds_creds"), 1);
    CHECK_INT(stat_of("imds_unauthorized"), 0);

    /* The stand-in really enforces v2: no token -> 401, expired token -> 401. */
    CHECK_INT(raw_http("GET", "/latest/meta-data/iam/security-credentials/", NULL, NULL, NULL),
              401);
    CHECK_INT(raw_http("PUT", "/latest/api/token", NULL, "", NULL), 400);
    {
        sl_buf tok;
        char hdr[256];
        long st1, st2;
        sl_buf_init(&tok, 4096);
        st1 = raw_http("PUT", "/latest/api/token", "X-aws-ec2-metadata-token-ttl-seconds: 1", "",
                       &tok);
        snprintf(hdr, sizeof(hdr), "X-aws-ec2-metadata-token: %s", tok.data ? tok.data : "");
        st2 = raw_http("GET", "/latest/meta-data/iam/security-credentials/", hdr, NULL, NULL);
        CHECK(ctl("{\"advance\": 2}") == 0); /* the 1 s token is now expired */
        CHECK_INT(st1, 200);
        CHECK_INT(st2, 200);
        st2 = raw_http("GET", "/latest/meta-data/iam/security-credentials/", hdr, NULL, NULL);
        sl_buf_cleanup(&tok);
        CHECK_INT(st2, 401);
    }
    CHECK_INT(stat_of("imds_unauthorized"), 2);
}

static void test_imds_disabled_and_unreachable(void)
{
    char ep[128], err[SL_ERRLEN] = "", src[64];
    sl_creds c;

    CHECK(server_ready() == 0);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", srv_port);
    {
        fake_env e = {
            {"AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, "AWS_EC2_METADATA_DISABLED", "true", NULL}};
        CHECK_INT(get_once(&e, &c, src, sizeof(src), err, sizeof(err)), -1);
        CHECK(strstr(err, "no AWS credentials") != NULL);
        CHECK(strstr(err, "imds: disabled") != NULL);
    }
    CHECK_INT(stat_of("imds_token"), 0);
    /* Nothing listening: falls through quickly (1 s timeouts) with every source named. */
    {
        fake_env e = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", NULL}};
        long long t0 = sl_mono_ms();
        CHECK_INT(get_once(&e, &c, src, sizeof(src), err, sizeof(err)), -1);
        CHECK(sl_mono_ms() - t0 < 3000);
        CHECK(strstr(err, "env:") && strstr(err, "web-identity:") && strstr(err, "container:"));
        CHECK(strstr(err, "imds:") != NULL);
    }
}

/* --- refresh ----------------------------------------------------------------------------- */

static void test_refresh_before_expiry(void)
{
    char url[128], err[SL_ERRLEN] = "";
    char k1[128] = "", k2[128] = "", k3[128] = "";
    sl_creds c;
    sl_creds_provider *p;
    int n1, n2, n3;

    CHECK(server_ready() == 0);
    /* Credentials good for 4 s, refreshed when under 2 s are left. */
    CHECK(ctl("{\"expires_in\": 4}") == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/container/refresh", srv_port);
    {
        fake_env e = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN, NULL}};
        p = chain(&e, 2000, NULL, err, sizeof(err));
        CHECK(p != NULL);
        memset(&c, 0, sizeof(c));
        if (sl_creds_get(p, &c, err, sizeof(err)) == 0) {
            snprintf(k1, sizeof(k1), "%s", c.access_key);
            sl_creds_cleanup(&c);
        }
        n1 = stat_of("container_ok");
        /* Well outside the margin: served from the cache, no request. */
        if (sl_creds_get(p, &c, err, sizeof(err)) == 0) {
            snprintf(k2, sizeof(k2), "%s", c.access_key);
            sl_creds_cleanup(&c);
        }
        n2 = stat_of("container_ok");
        clock_skip_ms = 2600; /* now inside the 2 s margin (expiry is whole seconds: 3..4 s) */
        if (sl_creds_get(p, &c, err, sizeof(err)) == 0) {
            snprintf(k3, sizeof(k3), "%s", c.access_key);
            sl_creds_cleanup(&c);
        }
        n3 = stat_of("container_ok");
        sl_creds_provider_free(p);
    }
    CHECK(k1[0] != '\0');
    CHECK_STR(k2, k1);
    CHECK(k3[0] != '\0');
    CHECK(strcmp(k3, k1) != 0);
    CHECK_INT(n1, 1);
    CHECK_INT(n2, 1);
    CHECK_INT(n3, 2);
}

static void test_refresh_failure_serves_cached_until_expiry(void)
{
    char ep[128], err[SL_ERRLEN] = "";
    char k1[128] = "", k2[128] = "";
    sl_creds c;
    sl_creds_provider *p;
    int rc2, rc3, fetches_after_fail;

    CHECK(server_ready() == 0);
    CHECK(ctl("{\"expires_in\": 4}") == 0);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", srv_port);
    {
        fake_env e = {{"AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, NULL}};
        /* The margin exceeds the lifetime: every get wants a refresh. */
        p = chain(&e, 10000, NULL, err, sizeof(err));
        CHECK(p != NULL);
        memset(&c, 0, sizeof(c));
        if (sl_creds_get(p, &c, err, sizeof(err)) == 0) {
            snprintf(k1, sizeof(k1), "%s", c.access_key);
            sl_creds_cleanup(&c);
        }
        CHECK(ctl("{\"fail\": true}") == 0 || (sl_creds_provider_free(p), 0));
        /* Refresh fails (HTTP 500) but the cached ones are still valid: served. */
        rc2 = sl_creds_get(p, &c, err, sizeof(err));
        if (rc2 == 0) {
            snprintf(k2, sizeof(k2), "%s", c.access_key);
            sl_creds_cleanup(&c);
        }
        fetches_after_fail = stat_of("imds_creds");
        /* Right after a failure the next get does not hammer the endpoint. */
        if (sl_creds_get(p, &c, err, sizeof(err)) == 0)
            sl_creds_cleanup(&c);
        CHECK(stat_of("imds_creds") == fetches_after_fail || (sl_creds_provider_free(p), 0));
        clock_skip_ms = 4200; /* past the expiry */
        rc3 = sl_creds_get(p, &c, err, sizeof(err));
        if (rc3 == 0)
            sl_creds_cleanup(&c);
        sl_creds_provider_free(p);
    }
    CHECK(k1[0] != '\0');
    CHECK_INT(rc2, 0);
    CHECK_STR(k2, k1);
    CHECK_INT(fetches_after_fail, 2);
    /* Expired and not renewable: now the failure is reported, naming IMDS and the status. */
    CHECK_INT(rc3, -1);
    CHECK(strstr(err, "imds:") != NULL);
    CHECK(strstr(err, "500") != NULL);
}

/* --- precedence -------------------------------------------------------------------------- */

static void test_precedence(void)
{
    char url[128], ep[128], err[SL_ERRLEN] = "", src[64];
    sl_creds c;

    CHECK(server_ready() == 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/container/p", srv_port);
    snprintf(ep, sizeof(ep), "http://127.0.0.1:%d", srv_port);
    {
        /* env beats container and IMDS; neither is contacted */
        fake_env e = {{"AWS_ACCESS_KEY_ID", "AKIAENVKEY", "AWS_SECRET_ACCESS_KEY", "envsecret",
                       "AWS_CONTAINER_CREDENTIALS_FULL_URI", url,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN,
                       "AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, NULL}};
        CHECK_INT(get_once(&e, &c, src, sizeof(src), err, sizeof(err)), 0);
        {
            int ok = strcmp(c.access_key, "AKIAENVKEY") == 0 && c.session_token == NULL &&
                     c.expires_ms == 0;
            sl_creds_cleanup(&c);
            CHECK(ok);
        }
        CHECK_STR(src, "env");
    }
    CHECK_INT(stat_of("container"), 0);
    CHECK_INT(stat_of("imds_token"), 0);
    {
        /* container beats IMDS */
        fake_env e = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", AUTH_TOKEN,
                       "AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, NULL}};
        CHECK_INT(get_once(&e, &c, src, sizeof(src), err, sizeof(err)), 0);
        sl_creds_cleanup(&c);
        CHECK_STR(src, "container");
    }
    CHECK_INT(stat_of("container_ok"), 1);
    CHECK_INT(stat_of("imds_token"), 0);
    {
        /* a configured container source that fails does not fall through to IMDS */
        fake_env e = {{"AWS_CONTAINER_CREDENTIALS_FULL_URI", url,
                       "AWS_CONTAINER_AUTHORIZATION_TOKEN", "bad",
                       "AWS_EC2_METADATA_SERVICE_ENDPOINT", ep, NULL}};
        CHECK_INT(get_once(&e, &c, src, sizeof(src), err, sizeof(err)), -1);
        CHECK(strstr(err, "container:") != NULL);
    }
    CHECK_INT(stat_of("imds_token"), 0);
}

/* --- STS against moto -------------------------------------------------------------------- */

/* Text of the first element named `name` anywhere under n (borrowed into buf). */
static int xml_text(xmlNode *n, const char *name, char *buf, size_t len)
{
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0) {
            xmlChar *t = xmlNodeGetContent(n);
            snprintf(buf, len, "%s", t ? (const char *)t : "");
            xmlFree(t);
            return 0;
        }
        if (xml_text(n->children, name, buf, len) == 0)
            return 0;
    }
    return -1;
}

static int moto_env(sl_aws_opts *o, fake_env *keys)
{
    const char *ep = getenv("MOTO_ENDPOINT"), *ak = getenv("AWS_ACCESS_KEY_ID"),
               *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!ep || !*ep || !ak || !sk) {
        fprintf(stderr, "it_creds: MOTO_ENDPOINT / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
                        "not set (source .stack/env)\n");
        return -1;
    }
    *o = base_opts();
    o->endpoint_url = (char *)ep;
    memset(keys, 0, sizeof(*keys));
    keys->kv[0] = "AWS_ACCESS_KEY_ID";
    keys->kv[1] = ak;
    keys->kv[2] = "AWS_SECRET_ACCESS_KEY";
    keys->kv[3] = sk;
    return 0;
}

/* Creates an IAM role in moto with the stack user's keys; its ARN into arn. */
/* One IAM call with the stack's keys; on 0 *doc is the answer (xmlFreeDoc). */
static int moto_iam(const char *action, const char *const *params, xmlDoc **doc)
{
    sl_aws_opts o;
    fake_env keys;
    char err[SL_ERRLEN] = "";
    sl_creds_provider *p = NULL;
    sl_aws *c = NULL;
    sl_aws_error ae;
    int rc = -1;

    if (moto_env(&o, &keys))
        return -1;
    if (!(p = chain(&keys, 0, &o, err, sizeof(err))) ||
        !(c = sl_aws_new(&o, sl_creds_signer(p), err, sizeof(err))))
        goto out;
    if (sl_aws_query(c, "iam", action, "2010-05-08", params, doc, &ae)) {
        fprintf(stderr, "it_creds: IAM %s: %s: %s\n", action, ae.code, ae.message);
        goto out;
    }
    rc = 0;
out:
    if (rc && err[0])
        fprintf(stderr, "it_creds: %s\n", err);
    sl_aws_free(c);
    sl_creds_provider_free(p);
    return rc;
}

static int moto_create_role(const char *name, char *arn, size_t arnlen)
{
    xmlDoc *doc = NULL;
    int rc = -1;
    const char *params[] = {
        "RoleName", name, "AssumeRolePolicyDocument",
        "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":"
        "{\"AWS\":\"*\",\"Federated\":\"arn:aws:iam::123456789012:oidc-provider/example\"},"
        "\"Action\":[\"sts:AssumeRole\",\"sts:AssumeRoleWithWebIdentity\"]}]}",
        NULL};

    if (moto_iam("CreateRole", params, &doc) == 0)
        rc = xml_text(xmlDocGetRootElement(doc), "Arn", arn, arnlen);
    xmlFreeDoc(doc);
    return rc;
}

/* Lets role `name` assume other roles (moto checks an assumed role's own policies). */
static int moto_allow_assume(const char *name)
{
    xmlDoc *doc = NULL;
    const char *params[] = {"RoleName",
                            name,
                            "PolicyName",
                            "assume",
                            "PolicyDocument",
                            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":"
                            "\"Allow\",\"Action\":\"sts:AssumeRole\",\"Resource\":\"*\"}]}",
                            NULL};
    int rc = moto_iam("PutRolePolicy", params, &doc);

    xmlFreeDoc(doc);
    return rc;
}

/* STS GetCallerIdentity signed with p's credentials (moto checks the signature). */
static int caller_arn(sl_creds_provider *p, char *arn, size_t arnlen)
{
    sl_aws_opts o;
    fake_env keys;
    char err[SL_ERRLEN] = "";
    sl_aws *c = NULL;
    xmlDoc *doc = NULL;
    sl_aws_error ae;
    int rc = -1;

    if (moto_env(&o, &keys))
        return -1;
    if (!(c = sl_aws_new(&o, sl_creds_signer(p), err, sizeof(err)))) {
        fprintf(stderr, "it_creds: %s\n", err);
        return -1;
    }
    if (sl_aws_query(c, "sts", "GetCallerIdentity", "2011-06-15", NULL, &doc, &ae)) {
        fprintf(stderr, "it_creds: GetCallerIdentity: %s: %s\n", ae.code, ae.message);
        goto out;
    }
    rc = xml_text(xmlDocGetRootElement(doc), "Arn", arn, arnlen);
out:
    xmlFreeDoc(doc);
    sl_aws_free(c);
    return rc;
}

static void test_web_identity_via_sts(void)
{
    sl_aws_opts o;
    fake_env keys;
    char role[64], role_arn[256] = "", sts_url[128], err[SL_ERRLEN] = "", who[512] = "";
    char tokfile[] = "/tmp/it_creds_jwtXXXXXX", want[160];
    sl_creds c;
    sl_creds_provider *p;
    int fd, rc, ok;

    CHECK(server_ready() == 0);
    CHECK(moto_env(&o, &keys) == 0);
    snprintf(role, sizeof(role), "it-web-%08llx", sl_random_u64() & 0xffffffffULL);
    CHECK(moto_create_role(role, role_arn, sizeof(role_arn)) == 0);
    fd = mkstemp(tokfile);
    CHECK(fd >= 0);
    close(fd);
    /* A JWT-shaped token, as the EKS projected service-account token is. */
    CHECK(write_file(tokfile, "eyJhbGciOiJSUzI1NiIsImtpZCI6Iml0In0.eyJzdWIiOiJzeXN0ZW06c2Vy"
                              "dmljZWFjY291bnQ6c25hcGxha2U6d29ya2VyIn0.c2lnbmF0dXJl\n") == 0);
    snprintf(sts_url, sizeof(sts_url), "http://127.0.0.1:%d/sts", srv_port);
    o.endpoint_sts = sts_url; /* the relay; everything else goes to moto directly */
    {
        fake_env e = {{"AWS_ROLE_ARN", role_arn, "AWS_WEB_IDENTITY_TOKEN_FILE", tokfile,
                       "AWS_ROLE_SESSION_NAME", "it-web-session",
                       /* lower in the chain: must not be used */
                       "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9", NULL}};
        p = chain(&e, 0, &o, err, sizeof(err));
        if (!p) {
            unlink(tokfile);
            CHECK(!"chain");
        }
        memset(&c, 0, sizeof(c));
        rc = sl_creds_get(p, &c, err, sizeof(err));
        if (rc)
            fprintf(stderr, "get: %s\n", err);
        ok = rc == 0 && c.access_key[0] && strcmp(c.access_key, keys.kv[1]) != 0 &&
             c.session_token && c.expires_ms > sl_now_ms();
        sl_creds_cleanup(&c);
        if (ok && strcmp(sl_creds_source(p), "web-identity") != 0)
            ok = 0;
        /* The returned keys pass moto's signature check. */
        if (ok && caller_arn(p, who, sizeof(who)))
            ok = 0;
        sl_creds_provider_free(p);
    }
    unlink(tokfile);
    CHECK(ok);
    snprintf(want, sizeof(want), "assumed-role/%s/it-web-session", role);
    if (!strstr(who, want))
        fprintf(stderr, "caller %s, want ...%s\n", who, want);
    CHECK(strstr(who, want) != NULL);
    /* The relay saw exactly one call and it was unsigned (it rejects signed ones). */
    CHECK_INT(stat_of("sts_relayed"), 1);
    CHECK_INT(stat_of("sts_rejected"), 0);
}

/*
 * Fetches p's credentials (then frees p) and checks them: temporary keys of their own (not
 * base_key), expiring about 900 s from now when check_900 is set, the source named `source`,
 * and STS saying the caller is assumed-role/<role>/<session>. 1 when all hold, else 0 (said).
 */
static int assumed_as(sl_creds_provider *p, const char *base_key, int check_900, const char *source,
                      const char *role, const char *session)
{
    char err[SL_ERRLEN] = "", who[512] = "", want[160];
    long long now = sl_now_ms();
    sl_creds c;
    int rc, ok;

    memset(&c, 0, sizeof(c));
    rc = sl_creds_get(p, &c, err, sizeof(err));
    if (rc)
        fprintf(stderr, "get: %s\n", err);
    ok = rc == 0 && strcmp(c.access_key, base_key) != 0 && c.session_token &&
         (!check_900 || (c.expires_ms > now + 800000 && c.expires_ms < now + 1000000));
    sl_creds_cleanup(&c);
    if (ok && strcmp(sl_creds_source(p), source) != 0) {
        fprintf(stderr, "source %s, want %s\n", sl_creds_source(p), source);
        ok = 0;
    }
    if (ok && caller_arn(p, who, sizeof(who)))
        ok = 0;
    sl_creds_provider_free(p);
    snprintf(want, sizeof(want), "assumed-role/%s/%s", role, session);
    if (ok && !strstr(who, want)) {
        fprintf(stderr, "caller %s, want ...%s\n", who, want);
        ok = 0;
    }
    return ok;
}

static void test_assume_role_on_env(void)
{
    sl_aws_opts o;
    fake_env keys;
    char role[64], role_arn[256] = "", err[SL_ERRLEN] = "";
    sl_creds_provider *p;

    CHECK(moto_env(&o, &keys) == 0);
    snprintf(role, sizeof(role), "it-assume-%08llx", sl_random_u64() & 0xffffffffULL);
    CHECK(moto_create_role(role, role_arn, sizeof(role_arn)) == 0);
    {
        fake_env e = {{"AWS_ACCESS_KEY_ID", keys.kv[1], "AWS_SECRET_ACCESS_KEY", keys.kv[3],
                       "ASSUME_ROLE_ARN", role_arn, "ASSUME_ROLE_SESSION_NAME", "it-assume",
                       "ASSUME_ROLE_EXTERNAL_ID", "ext-123", "ASSUME_ROLE_DURATION", "900", NULL}};
        p = chain(&e, 0, &o, err, sizeof(err));
        CHECK(p != NULL);
        /* Temporary keys of their own, valid for about the 900 s asked for. */
        CHECK(assumed_as(p, keys.kv[1], 1, "env+assume-role", role, "it-assume"));
    }
}

/*
 * sl_creds_role_new: an explicit role (the share consumer's analytics role) assumed on top of
 * the whole chain, the chain's own ASSUME_ROLE_ARN included (role chaining), with settings that
 * never come from the environment.
 */
static void test_role_provider_on_chain(void)
{
    sl_aws_opts o;
    fake_env keys;
    char r1[64], r2[64], arn1[256] = "", arn2[256] = "", err[SL_ERRLEN] = "";
    sl_creds_provider *p;
    sl_creds_opts co;

    CHECK(moto_env(&o, &keys) == 0);
    snprintf(r1, sizeof(r1), "it-base-%08llx", sl_random_u64() & 0xffffffffULL);
    snprintf(r2, sizeof(r2), "it-analytics-%08llx", sl_random_u64() & 0xffffffffULL);
    CHECK(moto_create_role(r1, arn1, sizeof(arn1)) == 0);
    CHECK(moto_create_role(r2, arn2, sizeof(arn2)) == 0);
    CHECK(moto_allow_assume(r1) == 0); /* the chain's role assumes the analytics one */
    {
        fake_env e = {{"AWS_ACCESS_KEY_ID", keys.kv[1], "AWS_SECRET_ACCESS_KEY", keys.kv[3],
                       "ASSUME_ROLE_ARN", arn1, "ASSUME_ROLE_SESSION_NAME", "it-base", NULL}};
        sl_creds_role bad = {.arn = arn2, .duration_s = 60, .what = "SHARE_CONSUMER_ROLE_"};
        sl_creds_role role = {.arn = arn2,
                              .external_id = "ext-9",
                              .session_name = "it-analytics",
                              .duration_s = 900,
                              .what = "SHARE_CONSUMER_ROLE_"};

        memset(&co, 0, sizeof(co));
        co.getenv_fn = sl_test_env_get;
        co.getenv_ud = &e;
        CHECK(sl_creds_role_new(&co, &o, &bad, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "SHARE_CONSUMER_ROLE_DURATION") != NULL);
        bad.duration_s = 0;
        bad.arn = NULL;
        CHECK(sl_creds_role_new(&co, &o, &bad, err, sizeof(err)) == NULL);
        CHECK(strstr(err, "SHARE_CONSUMER_ROLE_ARN") != NULL);
        p = sl_creds_role_new(&co, &o, &role, err, sizeof(err));
        CHECK(p != NULL);
        CHECK(assumed_as(p, keys.kv[1], 1, "env+assume-role+assume-role", r2, "it-analytics"));
    }
}

static void test_zz_stop_server(void)
{
    CHECK(srv_pid > 0);
    server_stop();
    CHECK(srv_pid == -1);
}

static const sl_test tests[] = {
    SL_TEST(test_container_with_token),
    SL_TEST(test_container_with_token_file),
    SL_TEST(test_imds_token_flow),
    SL_TEST(test_imds_disabled_and_unreachable),
    SL_TEST(test_refresh_before_expiry),
    SL_TEST(test_refresh_failure_serves_cached_until_expiry),
    SL_TEST(test_precedence),
    SL_TEST(test_web_identity_via_sts),
    SL_TEST(test_assume_role_on_env),
    SL_TEST(test_role_provider_on_chain),
    SL_TEST(test_zz_stop_server),
};

/* Every case but the moto ones runs against the private metadata stand-in; the moto ones need
   the stack's endpoint and IAM keys, so without them the binary skips rather than fails. */
SL_TEST_MAIN_REQUIRE(tests, NULL, NULL, "MOTO_ENDPOINT", "AWS_ACCESS_KEY_ID",
                     "AWS_SECRET_ACCESS_KEY")
