/* test_log.c - log.c: level parsing, threshold, and the JSON lines it writes (parsed back). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "log.h"
#include "sl_test.h"

/* Output capture: stdout is pointed at a temp file while the logger writes. */
static FILE *cap_file;
static int cap_saved = -1;

static int capture_begin(void)
{
    fflush(stdout);
    cap_file = tmpfile();
    if (!cap_file)
        return -1;
    cap_saved = dup(STDOUT_FILENO);
    if (cap_saved < 0 || dup2(fileno(cap_file), STDOUT_FILENO) < 0)
        return -1;
    return 0;
}

/* Restores stdout and returns what was written (caller frees). */
static char *capture_end(void)
{
    long n;
    char *s;

    fflush(stdout);
    dup2(cap_saved, STDOUT_FILENO);
    close(cap_saved);
    cap_saved = -1;
    n = ftell(cap_file);
    s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    rewind(cap_file);
    if (s && n > 0 && fread(s, 1, (size_t)n, cap_file) != (size_t)n)
        s[0] = '\0';
    fclose(cap_file);
    cap_file = NULL;
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static const char *jstr(const cJSON *o, const char *k)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(it) ? it->valuestring : NULL;
}

static void test_level_parse_table(void)
{
    static const struct {
        const char *in;
        int rc;
        sl_log_level want;
    } cases[] = {
        {"debug", 0, SL_LOG_DEBUG},  {"INFO", 0, SL_LOG_INFO},   {"warn", 0, SL_LOG_WARN},
        {"Warning", 0, SL_LOG_WARN}, {"error", 0, SL_LOG_ERROR}, {"", -1, SL_LOG_INFO},
        {"trace", -1, SL_LOG_INFO},  {"info ", -1, SL_LOG_INFO}, {NULL, -1, SL_LOG_INFO},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        sl_log_level got = SL_LOG_INFO;
        CHECK_INT(sl_log_level_parse(cases[i].in, &got), cases[i].rc);
        if (cases[i].rc == 0)
            CHECK_INT(got, cases[i].want);
    }
}

static void test_threshold(void)
{
    char *out;

    sl_log_init("t", SL_LOG_WARN);
    CHECK(!sl_log_enabled(SL_LOG_DEBUG));
    CHECK(!sl_log_enabled(SL_LOG_INFO));
    CHECK(sl_log_enabled(SL_LOG_WARN));
    CHECK(sl_log_enabled(SL_LOG_ERROR));
    CHECK(capture_begin() == 0);
    sl_debug(NULL, "hidden debug");
    sl_info(NULL, "hidden info");
    sl_warn(NULL, "shown warn");
    sl_error(NULL, "shown error");
    out = capture_end();
    sl_log_init("t", SL_LOG_INFO);
    CHECK(out != NULL);
    CHECK_INT(count_lines(out), 2);
    CHECK(strstr(out, "hidden") == NULL);
    CHECK(strstr(out, "shown warn") != NULL);
    free(out);
}

static void test_line_fields(void)
{
    sl_log_ctx ctx = {"run-1", "orders-db", "export"};
    const char *kv[] = {"export_task", "snap-1", "skipped", NULL, "bytes", "123", NULL};
    cJSON *o;
    char *out;
    const char *t;

    sl_log_init("export-worker", SL_LOG_DEBUG);
    CHECK(capture_begin() == 0);
    sl_log_kv(SL_LOG_INFO, &ctx, kv, "started %s in %d ms", "task", 42);
    out = capture_end();
    sl_log_init("t", SL_LOG_INFO);
    CHECK(out != NULL);
    CHECK_INT(count_lines(out), 1);
    CHECK(out[strlen(out) - 1] == '\n');
    o = cJSON_Parse(out);
    free(out);
    CHECK(o != NULL);
    CHECK_STR(jstr(o, "level"), "info");
    CHECK_STR(jstr(o, "component"), "export-worker");
    CHECK_STR(jstr(o, "msg"), "started task in 42 ms");
    CHECK_STR(jstr(o, "run_id"), "run-1");
    CHECK_STR(jstr(o, "cluster"), "orders-db");
    CHECK_STR(jstr(o, "stage"), "export");
    CHECK_STR(jstr(o, "export_task"), "snap-1");
    CHECK_STR(jstr(o, "bytes"), "123");
    CHECK(cJSON_GetObjectItemCaseSensitive(o, "skipped") == NULL);
    t = jstr(o, "time");
    /* RFC 3339 UTC with milliseconds: YYYY-MM-DDTHH:MM:SS.mmmZ */
    CHECK(t != NULL);
    CHECK_INT(strlen(t), 24);
    CHECK(t[4] == '-' && t[7] == '-' && t[10] == 'T' && t[13] == ':' && t[16] == ':' &&
          t[19] == '.' && t[23] == 'Z');
    CHECK(strncmp(t, "20", 2) == 0);
    cJSON_Delete(o);
}

static void test_escaping_and_utf8(void)
{
    static const struct {
        const char *in;
        const char *want;
    } cases[] = {
        {"quote \" backslash \\ done", "quote \" backslash \\ done"},
        {"new\nline\ttab\r", "new\nline\ttab\r"},
        {"ctl \x01\x1f end", "ctl \x01\x1f end"},
        {"key with space+%=~ \xc3\xa9\xe6\x97\xa5", "key with space+%=~ \xc3\xa9\xe6\x97\xa5"},
        /* invalid UTF-8 becomes U+FFFD so the line stays valid JSON text */
        {"bad \xff\xc3 byte", "bad \xef\xbf\xbd\xef\xbf\xbd byte"},
        {"overlong \xc0\xaf", "overlong \xef\xbf\xbd\xef\xbf\xbd"},
    };
    for (size_t i = 0; i < SL_ARRAY_LEN(cases); i++) {
        const char *kv[] = {"key", cases[i].in, NULL};
        char *out;
        cJSON *o;

        CHECK(capture_begin() == 0);
        sl_log_kv(SL_LOG_ERROR, NULL, kv, "%s", cases[i].in);
        out = capture_end();
        CHECK(out != NULL);
        /* one physical line: raw newlines inside values were escaped */
        CHECK_INT(count_lines(out), 1);
        o = cJSON_Parse(out);
        free(out);
        CHECK(o != NULL);
        if (strcmp(jstr(o, "msg"), cases[i].want) != 0 ||
            strcmp(jstr(o, "key"), cases[i].want) != 0) {
            cJSON_Delete(o);
            CHECK(!"escaped value did not round-trip");
        }
        cJSON_Delete(o);
    }
}

static void test_field_cannot_shadow_fixed_keys(void)
{
    const char *kv[] = {"level", "fake", "msg", "fake msg", NULL};
    cJSON *o;
    char *out;

    CHECK(capture_begin() == 0);
    sl_log_kv(SL_LOG_WARN, NULL, kv, "real");
    out = capture_end();
    o = cJSON_Parse(out);
    free(out);
    CHECK(o != NULL);
    CHECK_STR(jstr(o, "level"), "warn");
    CHECK_STR(jstr(o, "msg"), "real");
    CHECK_STR(jstr(o, "fields.level"), "fake");
    CHECK_STR(jstr(o, "fields.msg"), "fake msg");
    cJSON_Delete(o);
}

static void test_long_message_truncated(void)
{
    size_t n = 100000;
    char *big = malloc(n + 1);
    char *out;
    cJSON *o;
    const char *m;

    CHECK(big != NULL);
    memset(big, 'a', n);
    big[n] = '\0';
    if (capture_begin() != 0) {
        free(big);
        CHECK(!"capture");
    }
    sl_error(NULL, "%s", big);
    free(big);
    out = capture_end();
    o = cJSON_Parse(out);
    free(out);
    CHECK(o != NULL);
    m = jstr(o, "msg");
    CHECK(m != NULL);
    CHECK(strlen(m) < 20000);
    CHECK(strstr(m, "...(truncated)") != NULL);
    cJSON_Delete(o);
}

static void test_many_lines_each_parse(void)
{
    char *out, *line, *save = NULL;
    int n = 0;

    CHECK(capture_begin() == 0);
    for (int i = 0; i < 50; i++) {
        char num[16];
        const char *kv[] = {"i", num, NULL};
        snprintf(num, sizeof num, "%d", i);
        sl_log_kv(SL_LOG_INFO, NULL, kv, "line %d", i);
    }
    out = capture_end();
    CHECK(out != NULL);
    for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        cJSON *o = cJSON_Parse(line);
        char want[16];
        int ok;
        snprintf(want, sizeof want, "%d", n);
        ok = o && jstr(o, "i") && strcmp(jstr(o, "i"), want) == 0;
        cJSON_Delete(o);
        if (!ok) {
            free(out);
            CHECK(!"line did not parse in order");
        }
        n++;
    }
    free(out);
    CHECK_INT(n, 50);
}

static const sl_test tests[] = {
    SL_TEST(test_level_parse_table),
    SL_TEST(test_threshold),
    SL_TEST(test_line_fields),
    SL_TEST(test_escaping_and_utf8),
    SL_TEST(test_field_cannot_shadow_fixed_keys),
    SL_TEST(test_long_message_truncated),
    SL_TEST(test_many_lines_each_parse),
};
SL_TEST_MAIN(tests)
