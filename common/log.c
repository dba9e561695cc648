/* log.c - see log.h. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cJSON.h>

/*
 * The logger's process-wide state (log.h): set by sl_log_init() in main before any thread
 * starts; librdkafka's threads only read it afterwards.
 */
static char log_component[64] = "snaplake";
static sl_log_level log_threshold = SL_LOG_INFO;

/* A message or field longer than this is cut: one line must stay one ingestible record even
 * when an AWS error body or a listing ends up in it. */
#define LOG_FIELD_MAX 16384
#define LOG_TRUNC_MARK "...(truncated)"

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void sl_log_init(const char *component, sl_log_level level)
{
    snprintf(log_component, sizeof log_component, "%s", component ? component : "snaplake");
    if (level < SL_LOG_DEBUG || level > SL_LOG_ERROR)
        level = SL_LOG_INFO;
    log_threshold = level;
}

int sl_log_level_parse(const char *s, sl_log_level *out)
{
    static const struct {
        const char *name;
        sl_log_level level;
    } names[] = {{"debug", SL_LOG_DEBUG},
                 {"info", SL_LOG_INFO},
                 {"warn", SL_LOG_WARN},
                 {"warning", SL_LOG_WARN},
                 {"error", SL_LOG_ERROR}};

    if (!s)
        return -1;
    for (size_t i = 0; i < SL_ARRAY_LEN(names); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].level;
            return 0;
        }
    }
    return -1;
}

int sl_log_enabled(sl_log_level level)
{
    return level >= log_threshold;
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates, at most
 * U+10FFFF), or 0 when the bytes there are not one. */
static size_t utf8_seq_len(const unsigned char *p, size_t n)
{
    unsigned char c = p[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

/*
 * Copies s into a new string that is valid UTF-8 (each bad byte becomes U+FFFD, since JSON
 * text must be UTF-8 (RFC 8259 section 8.1) and one bad S3 key must not make a log shipper drop
 * the line) and at most LOG_FIELD_MAX bytes plus a truncation mark. Returns NULL on ENOMEM.
 */
static char *log_clean(const char *s)
{
    size_t n = strlen(s), i = 0, o = 0;
    char *out = malloc((n < LOG_FIELD_MAX ? n : LOG_FIELD_MAX) * 3 + sizeof LOG_TRUNC_MARK);

    if (!out)
        return NULL;
    while (i < n && i < LOG_FIELD_MAX) {
        size_t l = utf8_seq_len((const unsigned char *)s + i, n - i);
        if (l == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    if (i < n) {
        memcpy(out + o, LOG_TRUNC_MARK, sizeof LOG_TRUNC_MARK);
        o += sizeof LOG_TRUNC_MARK - 1;
    }
    out[o] = '\0';
    return out;
}

static void add_clean(cJSON *obj, const char *key, const char *val)
{
    char *k = log_clean(key), *v = log_clean(val);

    if (k && v) {
        /* A caller field must not shadow a fixed one ("level", "msg", ...): keep both. */
        if (cJSON_GetObjectItemCaseSensitive(obj, k)) {
            size_t kl = strlen(k);
            char *alt = malloc(sizeof "fields." + kl);
            if (alt) {
                memcpy(alt, "fields.", sizeof "fields." - 1);
                memcpy(alt + sizeof "fields." - 1, k, kl + 1);
                cJSON_AddStringToObject(obj, alt, v);
                free(alt);
            }
        } else
            cJSON_AddStringToObject(obj, k, v);
    }
    free(k);
    free(v);
}

static void format_time(char *out, size_t outlen)
{
    struct timespec ts;
    struct tm tm;
    size_t n;
    unsigned ms;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    /* RFC 3339 section 5.6, UTC with milliseconds: 2024-01-02T03:04:05.678Z */
    n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
    ms = (unsigned)(ts.tv_nsec / 1000000) % 1000u;

    if (n == 0 || outlen - n < 6) {
        snprintf(out, outlen, "1970-01-01T00:00:00.000Z");
        return;
    }
    out[n++] = '.';
    out[n++] = (char)('0' + ms / 100);
    out[n++] = (char)('0' + ms / 10 % 10);
    out[n++] = (char)('0' + ms % 10);
    out[n++] = 'Z';
    out[n] = '\0';
}

void sl_log_kv(sl_log_level level, const sl_log_ctx *ctx, const char *const *kv, const char *fmt,
               ...)
{
    char tbuf[40];
    char *msg = NULL, *json = NULL, *line = NULL;
    cJSON *obj = NULL;
    va_list ap;
    int n;
    size_t jlen;

    if (level < SL_LOG_DEBUG || level > SL_LOG_ERROR)
        level = SL_LOG_ERROR;
    if (!sl_log_enabled(level))
        return;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        goto out;
    msg = malloc((size_t)n + 1);
    if (!msg)
        goto out;
    va_start(ap, fmt);
    vsnprintf(msg, (size_t)n + 1, fmt, ap);
    va_end(ap);

    obj = cJSON_CreateObject();
    if (!obj)
        goto out;
    format_time(tbuf, sizeof tbuf);
    cJSON_AddStringToObject(obj, "time", tbuf);
    cJSON_AddStringToObject(obj, "level", level_names[level]);
    add_clean(obj, "component", log_component);
    add_clean(obj, "msg", msg);
    if (ctx) {
        if (ctx->run_id)
            add_clean(obj, "run_id", ctx->run_id);
        if (ctx->cluster)
            add_clean(obj, "cluster", ctx->cluster);
        if (ctx->stage)
            add_clean(obj, "stage", ctx->stage);
    }
    for (size_t i = 0; kv && kv[i]; i += 2) {
        if (!kv[i + 1])
            continue;
        add_clean(obj, kv[i], kv[i + 1]);
    }

    json = cJSON_PrintUnformatted(obj);
    if (!json)
        goto out;
    jlen = strlen(json);
    line = malloc(jlen + 2);
    if (!line)
        goto out;
    memcpy(line, json, jlen);
    line[jlen] = '\n';
    line[jlen + 1] = '\0';
    /* One fwrite per line: stdio locks the stream per call, so lines from librdkafka's
     * threads and ours never interleave. */
    fwrite(line, 1, jlen + 1, stdout);
    fflush(stdout);
out:
    free(line);
    if (json)
        cJSON_free(json);
    cJSON_Delete(obj);
    free(msg);
}
