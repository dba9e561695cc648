/*
 * notify.c - the notify stage: `snaplake-worker notify` reads `failures` and `dlq` and posts
 * each message to a webhook (Slack's incoming webhooks, or any receiver of plain JSON), so a
 * failed run reaches people and not only the logs. The body is built by notify_body.c (pure);
 * this file owns the webhook URL, the HTTP posts and what their answers mean.
 *
 * One job per alert. A post is one easy handle on the stage's curl multi handle, driven by
 * step() (stage.h: a step never blocks): step performs the multi handle once, reads finished
 * transfers into their jobs (CURLINFO_PRIVATE), and comes back in POLL_MS while its post is in
 * flight. The runtime stores the offset only after the job ends (stage.h), so:
 *
 *   2xx                       DONE: posted; the offset is stored.
 *   429, 408, 5xx, network,   retried in the job, full-jitter backoff from NOTIFY_RETRY_BASE
 *   TLS, timeout              to NOTIFY_RETRY_MAX, never shorter than a Retry-After, and with
 *                             no limit on the count: the offset is not stored meanwhile, so a
 *                             restart (or a rebalance) re-reads the alert and nothing is lost;
 *                             a receiver that stays down shows as consumer lag and
 *                             snaplake_alert_retries_total, and the loop stays live.
 *   401, 403, 404, 410        the webhook itself is refused (revoked token, deleted hook,
 *                             archived channel): every alert would get the same answer, so
 *                             these retry like a 5xx (cause webhook_refused, logged at error
 *                             each time) rather than drain the backlog into the logs; alerts
 *                             wait in Kafka until an operator fixes NOTIFY_WEBHOOK_URL.
 *   any other 4xx (400, 413,  this body is refused (Slack's invalid_blocks, a payload too
 *   422, ...)                 large): the same bytes would be refused for ever, and waiting
 *                             would stall every later alert behind it. In the Slack format
 *                             the text line alone is posted once first (Block Kit is the
 *                             strict part); refused again, or in json, the alert is logged at
 *                             error with its whole body (no secret in it: the failure texts
 *                             are redacted upstream), counted in snaplake_alerts_failed_total
 *                             (alert on it through Prometheus), and its offset is stored: it is
 *                             skipped, loudly, and still in the logs, the failures topic and
 *                             the ledger (`snaplakectl show`).
 *
 * A post that reached the receiver but whose answer was lost (a crash, a timeout after
 * delivery) is posted again: alerts are at-least-once, never at-most-once.
 *
 * The webhook URL is a secret (Slack's carries the token in its path): it comes from
 * NOTIFY_WEBHOOK_URL or from the file NOTIFY_WEBHOOK_URL_FILE (a Kubernetes Secret volume), is
 * wiped on cleanup, and only its host is ever logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "notify_body.h"
#include "notify_policy.h"
#include "worker.h"

/* Comes back this soon while a post is in flight (a post takes milliseconds to seconds). */
#define POLL_MS 20
/* Bytes of the receiver's answer kept for the log (Slack answers "invalid_blocks", ...). */
#define ANSWER_MAX 512
/* The URL file: a URL, not a document. */
#define URL_FILE_MAX 8192
/* A Retry-After beyond this is taken as this (a receiver's typo must not park alerts a day). */
#define RETRY_AFTER_MAX_MS (3600LL * 1000)
#define DEFAULT_MAX_JOBS 4

typedef struct notify_cfg {
    char *url;
    char *url_file;
    char *format;
    char *ca_bundle;
    long long timeout_ms, connect_timeout_ms, retry_base_ms, retry_max_ms;
} notify_cfg;

static const sl_cfg_opt notify_opts[] = {
    {"NOTIFY_WEBHOOK_URL", SL_CFG_SECRET, NULL, 0, -1, 0, offsetof(notify_cfg, url),
     "webhook URL (a secret: Slack's carries a token); or NOTIFY_WEBHOOK_URL_FILE"},
    {"NOTIFY_WEBHOOK_URL_FILE", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(notify_cfg, url_file),
     "file holding the webhook URL (a mounted Secret); one of the two is required"},
    {"NOTIFY_FORMAT", SL_CFG_STRING, "slack", 0, -1, 0, offsetof(notify_cfg, format),
     "slack (text + blocks) | json (one flat object)"},
    {"NOTIFY_CA_BUNDLE", SL_CFG_STRING, NULL, 0, -1, 0, offsetof(notify_cfg, ca_bundle),
     "CA file for the webhook's TLS (unset = the system's; verification is always on)"},
    {"NOTIFY_TIMEOUT", SL_CFG_DURATION, "10s", 1000, 600000, 0, offsetof(notify_cfg, timeout_ms),
     "whole-post timeout"},
    {"NOTIFY_CONNECT_TIMEOUT", SL_CFG_DURATION, "5s", 100, 600000, 0,
     offsetof(notify_cfg, connect_timeout_ms), "TCP+TLS connect timeout"},
    {"NOTIFY_RETRY_BASE", SL_CFG_DURATION, "1s", 1, 3600000, 0, offsetof(notify_cfg, retry_base_ms),
     "base of the full-jitter backoff between posts"},
    {"NOTIFY_RETRY_MAX", SL_CFG_DURATION, "5m", 1, 3600000, 0, offsetof(notify_cfg, retry_max_ms),
     "longest backoff between posts (retries never stop: the offset waits)"},
};

typedef struct notify_ctx {
    notify_cfg cfg;
    char *url; /* the effective URL, a secret: wiped on cleanup */
    char host[256];
    sl_notify_format fmt;
    CURLM *multi;
} notify_ctx;

typedef struct notify_job {
    CURL *easy; /* in ctx->multi while in_flight */
    struct curl_slist *hdrs;
    int in_flight, done; /* done: the transfer finished, result below */
    CURLcode cc;
    long status;
    long long retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
    sl_buf answer; /* the receiver's answer, capped at ANSWER_MAX */
    char *body;
    size_t bodylen;
    const char *kind;  /* "failure" | "dead_letter" */
    const sl_msg *msg; /* the alert's message: &job->in or &synth */
    int retries;
    int text_only; /* the Slack text-only fallback is the body now */
    sl_msg synth;  /* the dead letter made of a bad dlq input (job->bad_input) */
} notify_job;

/* ---- set-up -------------------------------------------------------------------------------- */

/* Reads the URL from cfg (the variable, or the file's first line). *out owned by the caller. */
static int load_url(const notify_cfg *cfg, char **out, char *err, size_t errlen)
{
    char buf[URL_FILE_MAX + 1];
    size_t n;
    FILE *f;

    if (cfg->url && cfg->url_file)
        return sl_seterr(err, errlen,
                         "set NOTIFY_WEBHOOK_URL or NOTIFY_WEBHOOK_URL_FILE, not both");
    if (cfg->url) {
        *out = sl_strdup0(cfg->url);
        return *out ? 0 : sl_seterr(err, errlen, "out of memory");
    }
    if (!cfg->url_file)
        return sl_seterr(err, errlen, "NOTIFY_WEBHOOK_URL or NOTIFY_WEBHOOK_URL_FILE is required");
    if (!(f = fopen(cfg->url_file, "rb")))
        return sl_seterr(err, errlen, "NOTIFY_WEBHOOK_URL_FILE %s: %s", cfg->url_file,
                         strerror(errno));
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n > URL_FILE_MAX) {
        OPENSSL_cleanse(buf, sizeof(buf));
        return sl_seterr(err, errlen, "NOTIFY_WEBHOOK_URL_FILE %s: longer than %d bytes",
                         cfg->url_file, URL_FILE_MAX);
    }
    buf[n] = '\0';
    buf[strcspn(buf, "\r\n")] = '\0'; /* the first line: Secrets often end with a newline */
    *out = sl_strdup0(buf);
    OPENSSL_cleanse(buf, sizeof(buf));
    return *out ? 0 : sl_seterr(err, errlen, "out of memory");
}

/* Checks url (http or https, a host) and copies its host into host[hostlen]. The error never
 * quotes the URL. */
static int check_url(const char *url, char *host, size_t hostlen, char *err, size_t errlen)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *h = NULL;
    int rc = -1;

    if (!u)
        return sl_seterr(err, errlen, "out of memory");
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || !h[0]) {
        sl_seterr(err, errlen, "the webhook URL is not a URL with a host (value not shown)");
        goto out;
    }
    if (strcmp(scheme, "https") != 0 && strcmp(scheme, "http") != 0) {
        sl_seterr(err, errlen, "the webhook URL's scheme is %.16s, not https or http", scheme);
        goto out;
    }
    snprintf(host, hostlen, "%s", h);
    rc = 0;
out:
    curl_free(scheme);
    curl_free(h);
    curl_url_cleanup(u);
    return rc;
}

static void notify_cleanup(sl_worker *w, void *ctx);

static int notify_init(sl_worker *w, void **out, char *err, size_t errlen)
{
    notify_ctx *cx = calloc(1, sizeof(*cx));
    char e2[SL_ERRLEN];

    if (!cx)
        return sl_seterr(err, errlen, "out of memory");
    if (sl_config_load(notify_opts, SL_ARRAY_LEN(notify_opts), &cx->cfg, NULL, NULL, err, errlen)) {
        free(cx);
        return -1;
    }
    sl_config_dump(notify_opts, SL_ARRAY_LEN(notify_opts), &cx->cfg);
    if (sl_notify_format_parse(cx->cfg.format, &cx->fmt)) {
        sl_seterr(err, errlen, "NOTIFY_FORMAT \"%.32s\" is neither slack nor json", cx->cfg.format);
        goto fail;
    }
    if (load_url(&cx->cfg, &cx->url, e2, sizeof(e2)) ||
        check_url(cx->url, cx->host, sizeof(cx->host), e2, sizeof(e2))) {
        sl_seterr(err, errlen, "%s", e2);
        goto fail;
    }
    if (!(cx->multi = curl_multi_init())) {
        sl_seterr(err, errlen, "curl_multi_init failed");
        goto fail;
    }
    sl_worker_set_default_max_jobs(w, DEFAULT_MAX_JOBS);
    {
        const char *kv[] = {"webhook_host", cx->host, "format", cx->cfg.format, NULL};
        sl_log_kv(SL_LOG_INFO, NULL, kv, "notify: posting alerts to %s", cx->host);
    }
    *out = cx;
    return 0;
fail:
    notify_cleanup(w, cx); /* the runtime calls cleanup only after a successful init */
    return -1;
}

static void notify_cleanup(sl_worker *w, void *ctx)
{
    notify_ctx *cx = ctx;

    (void)w;
    if (!cx)
        return;
    if (cx->multi)
        curl_multi_cleanup(cx->multi);
    if (cx->url) {
        OPENSSL_cleanse(cx->url, strlen(cx->url));
        free(cx->url);
    }
    sl_config_cleanup(notify_opts, SL_ARRAY_LEN(notify_opts), &cx->cfg);
    free(cx);
}

/* ---- one post ------------------------------------------------------------------------------ */

static size_t on_answer(char *p, size_t size, size_t n, void *ud)
{
    notify_job *nj = ud;
    size_t len = size * n, room = ANSWER_MAX - nj->answer.len;
    int full = 0;

    /* Kept up to ANSWER_MAX, the rest read and dropped (refusing it would make the transfer
     * an error of its own, hiding the status). */
    if (room)
        full = sl_buf_append(&nj->answer, p, len < room ? len : room);
    (void)full;
    return len;
}

static void post_release(notify_ctx *cx, notify_job *nj)
{
    if (nj->easy) {
        if (nj->in_flight)
            curl_multi_remove_handle(cx->multi, nj->easy);
        curl_easy_cleanup(nj->easy);
    }
    nj->easy = NULL;
    nj->in_flight = 0;
    curl_slist_free_all(nj->hdrs);
    nj->hdrs = NULL;
}

/* Starts one post of nj->body. Returns 0, or -1 (curl could not set it up: retried later). */
static int post_begin(notify_ctx *cx, notify_job *nj)
{
    CURL *e = curl_easy_init();
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json"), *h2;
    int bad;

    post_release(cx, nj);
    nj->done = 0;
    nj->status = 0;
    nj->retry_after_ms = 0;
    nj->errbuf[0] = '\0';
    sl_buf_cleanup(&nj->answer);
    sl_buf_init(&nj->answer, ANSWER_MAX);
    /* "Expect:" off: no 100-continue round trip before the body. */
    if (h && !(h2 = curl_slist_append(h, "Expect:"))) {
        curl_slist_free_all(h);
        h = NULL;
    }
    if (!e || !h) {
        curl_easy_cleanup(e);
        curl_slist_free_all(h);
        return -1;
    }
    bad =
        curl_easy_setopt(e, CURLOPT_URL, cx->url) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L) != CURLE_OK ||
        (cx->cfg.ca_bundle && curl_easy_setopt(e, CURLOPT_CAINFO, cx->cfg.ca_bundle) != CURLE_OK) ||
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cx->cfg.timeout_ms) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)cx->cfg.connect_timeout_ms) !=
            CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_USERAGENT, "snaplake-notify") != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, h) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, nj->body) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)nj->bodylen) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_answer) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_WRITEDATA, nj) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nj->errbuf) != CURLE_OK ||
        curl_easy_setopt(e, CURLOPT_PRIVATE, nj) != CURLE_OK;
    nj->easy = e;
    nj->hdrs = h;
    if (bad || curl_multi_add_handle(cx->multi, e) != CURLM_OK) {
        post_release(cx, nj);
        return -1;
    }
    nj->in_flight = 1;
    return 0;
}

/* Performs the multi handle once and hands each finished transfer to its job. */
static void drive(notify_ctx *cx)
{
    CURLMsg *m;
    int running = 0, left = 0;

    (void)curl_multi_perform(cx->multi, &running);
    while ((m = curl_multi_info_read(cx->multi, &left))) {
        notify_job *nj = NULL;
        curl_off_t ra = -1;

        if (m->msg != CURLMSG_DONE)
            continue;
        (void)curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&nj);
        if (!nj)
            continue;
        nj->cc = m->data.result;
        (void)curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &nj->status);
        /* curl parses both Retry-After forms (seconds, HTTP-date; RFC 9110 10.2.3). */
        if (curl_easy_getinfo(m->easy_handle, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
            nj->retry_after_ms = ra > RETRY_AFTER_MAX_MS / 1000 ? RETRY_AFTER_MAX_MS : ra * 1000;
        curl_multi_remove_handle(cx->multi, m->easy_handle);
        if (nj->answer.len) /* the receiver's bytes go into a JSON log line */
            (void)sl_worker_utf8_repair(nj->answer.data);
        nj->in_flight = 0;
        nj->done = 1;
    }
}

/* ---- the stage ----------------------------------------------------------------------------- */

static void log_post(sl_log_level lvl, notify_ctx *cx, sl_job *job, const notify_job *nj,
                     const char *event, const char *msg)
{
    char st[16], tries[16];
    const char *kv[] = {"event",   event,         "webhook_host",
                        cx->host,  "http_status", st,
                        "retries", tries,         "kind",
                        nj->kind,  "answer",      nj->answer.len ? nj->answer.data : NULL,
                        NULL};

    snprintf(st, sizeof(st), "%ld", nj->status);
    snprintf(tries, sizeof(tries), "%d", nj->retries);
    sl_log_kv(lvl, &job->log, kv, "%s", msg);
}

/* The dead letter that stands for a bad input on the dlq topic (stage.h SL_STAGE_REPORTER). */
static int synth_dead_letter(sl_job *job, sl_msg *d)
{
    size_t n = strlen(job->bad_input) + 64;

    sl_msg_init(d);
    d->type = SL_MSG_DEAD_LETTER;
    if ((d->reason = malloc(n)))
        snprintf(d->reason, n, "bad message on the dead-letter topic: %s", job->bad_input);
    d->topic = sl_strdup0(job->topic);
    d->partition = job->partition;
    d->offset = job->offset;
    d->payload = malloc(job->rawlen ? job->rawlen : 1);
    if (d->payload) {
        memcpy(d->payload, job->raw ? job->raw : "", job->rawlen);
        d->payload_len = job->rawlen;
    }
    return d->reason && d->topic && d->payload ? 0 : -1;
}

/* (Re)builds nj->body of nj->msg in format fmt. Returns 0, or -1 with err. */
static int build_body(sl_job *job, notify_job *nj, sl_notify_format fmt, char *err, size_t errlen)
{
    sl_notify_src src = {job->topic, job->partition, (long long)job->offset};
    char *body = NULL;
    size_t len = 0;

    if (sl_notify_body(nj->msg, &src, fmt, &body, &len, err, errlen))
        return -1;
    free(nj->body);
    nj->body = body;
    nj->bodylen = len;
    return 0;
}

static sl_step_result notify_start(sl_worker *w, void *ctx, sl_job *job)
{
    notify_ctx *cx = ctx;
    notify_job *nj = calloc(1, sizeof(*nj));
    const sl_msg *m = &job->in;
    char err[SL_ERRLEN];

    (void)w;
    if (!nj)
        return sl_job_fail(job, "OutOfMemory", "notify: out of memory");
    job->state = nj;
    sl_msg_init(&nj->synth);
    sl_buf_init(&nj->answer, ANSWER_MAX);
    if (job->bad_input) {
        if (synth_dead_letter(job, &nj->synth))
            return sl_job_fail(job, "OutOfMemory", "notify: out of memory");
        m = &nj->synth;
    }
    nj->kind = m->type == SL_MSG_DEAD_LETTER ? "dead_letter" : "failure";
    nj->msg = m;
    if (build_body(job, nj, cx->fmt, err, sizeof(err)))
        return sl_job_fail(job, "AlertBody", "%s", err);
    if (post_begin(cx, nj))
        job->next_step_ms = sl_mono_ms() + cx->cfg.retry_base_ms;
    else
        job->next_step_ms = sl_mono_ms() + POLL_MS;
    return SL_STEP_PENDING;
}

static sl_step_result notify_step(sl_worker *w, void *ctx, sl_job *job)
{
    notify_ctx *cx = ctx;
    notify_job *nj = job->state;
    const char *cause;
    long long now, delay;
    char msg[768];

    drive(cx);
    now = sl_mono_ms();
    if (nj->in_flight) {
        job->next_step_ms = now + POLL_MS;
        return SL_STEP_PENDING;
    }
    if (!nj->done) { /* a backoff ended, or a post that could not be set up */
        job->next_step_ms = now + (post_begin(cx, nj) ? cx->cfg.retry_base_ms : POLL_MS);
        return SL_STEP_PENDING;
    }
    nj->done = 0;
    switch (sl_notify_classify(nj->cc == CURLE_OK, nj->status, &cause)) {
    case SL_NOTIFY_POSTED:
        sl_worker_count_alert(w, "posted", nj->kind);
        log_post(SL_LOG_INFO, cx, job, nj, "alert_posted", "alert posted");
        return SL_STEP_DONE; /* job->out stays SL_MSG_NONE: nothing to publish */
    case SL_NOTIFY_REFUSED:
        if (cx->fmt == SL_NOTIFY_SLACK && !nj->text_only &&
            build_body(job, nj, SL_NOTIFY_SLACK_TEXT, msg, sizeof(msg)) == 0) {
            /* Block Kit is strict (Slack answers 400 invalid_blocks); the notification line
             * alone still tells the channel what failed and how to redo it. */
            nj->text_only = 1;
            snprintf(msg, sizeof(msg),
                     "the webhook refused the alert's blocks (HTTP %ld): posting its text alone",
                     nj->status);
            log_post(SL_LOG_WARN, cx, job, nj, "alert_fallback", msg);
            job->next_step_ms = now;
            return SL_STEP_PENDING;
        }
        sl_worker_count_alert(w, "failed", nj->kind);
        snprintf(msg, sizeof(msg),
                 "the webhook refused this alert for good (HTTP %ld): it is skipped; the alert "
                 "was: %.600s",
                 nj->status, nj->body);
        log_post(SL_LOG_ERROR, cx, job, nj, "alert_refused", msg);
        return sl_job_fail(job, "WebhookRefused", "HTTP %ld from %s", nj->status, cx->host);
    case SL_NOTIFY_RETRY:
    default:
        break;
    }
    if (nj->retries < 1000000)
        nj->retries++;
    sl_worker_count_alert(w, "retry", cause);
    delay = sl_worker_retry_delay_ms(cx->cfg.retry_base_ms, cx->cfg.retry_max_ms, nj->retries,
                                     nj->retry_after_ms, sl_random_u64());
    if (nj->retry_after_ms > delay) /* Retry-After wins over NOTIFY_RETRY_MAX too */
        delay = nj->retry_after_ms;
    if (nj->cc != CURLE_OK)
        snprintf(msg, sizeof(msg), "webhook post failed (%s%s%s), retrying in %lld ms",
                 curl_easy_strerror(nj->cc), nj->errbuf[0] ? ": " : "",
                 /* curl's own text names the host at most, never the path (the token) */
                 strstr(nj->errbuf, "/") ? "" : nj->errbuf, delay);
    else
        snprintf(msg, sizeof(msg), "webhook answered HTTP %ld, retrying in %lld ms", nj->status,
                 delay);
    log_post(strcmp(cause, "webhook_refused") == 0 ? SL_LOG_ERROR : SL_LOG_WARN, cx, job, nj,
             "alert_retry", msg);
    job->next_step_ms = now + delay;
    return SL_STEP_PENDING;
}

static void notify_job_cleanup(sl_worker *w, void *ctx, sl_job *job)
{
    notify_job *nj = job->state;

    (void)w;
    if (!nj)
        return;
    post_release(ctx, nj);
    sl_buf_cleanup(&nj->answer);
    sl_msg_cleanup(&nj->synth);
    free(nj->body);
    free(nj);
    job->state = NULL;
}

const sl_stage sl_stage_notify = {
    .name = "notify",
    .in_topic = SL_KAFKA_TOPIC_FAILURES,
    .in_type = SL_MSG_FAILURE,
    .out_topic = NULL,
    .in_topic2 = SL_KAFKA_TOPIC_DLQ,
    .in_type2 = SL_MSG_DEAD_LETTER,
    .flags = SL_STAGE_REPORTER,
    .cfg_opts = notify_opts,
    .ncfg_opts = SL_ARRAY_LEN(notify_opts),
    .cfg_size = sizeof(notify_cfg),
    .init = notify_init,
    .start = notify_start,
    .step = notify_step,
    .job_cleanup = notify_job_cleanup,
    .tick = NULL,
    .cleanup = notify_cleanup,
};
