/*
 * crawl.c - the crawl stage: runs the Glue crawler over the partitions the copy stage wrote
 * and waits for its result (input `copies`, output `crawls`).
 *
 * Glue runs one crawl per crawler at a time and reports a run only through GetCrawler, whose
 * LastCrawl describes the *previous* run until the current one ends. Two rules follow:
 *
 *   - StartCrawler may answer CrawlerRunningException (another copy, or an operator, started
 *     it). That run is waited for; when it ends, if it *started after this copy finished*
 *     (LastCrawl.StartTime >= copied_at) it crawled our files and its result is ours; else it
 *     may have missed them and the crawler is started again.
 *   - After our own StartCrawler, a READY crawler is only trusted when LastCrawl.StartTime is
 *     no earlier than our start: right after the call, GetCrawler can still show READY with
 *     the previous run's result (eventual consistency), which must not be mistaken for ours.
 *
 * Both comparisons allow CRAWL_CLOCK_SKEW between our clock and Glue's, in the direction that
 * can only cost a spare crawl (crawl_match.h): another run counts only from skew after the
 * copy ended, our own from skew before our start but never from before the copy ended.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crawl_match.h"
#include "glue.h"
#include "log.h"
#include "stage.h"
#include "worker.h"

typedef struct crawl_cfg {
    char *crawler_name;   /* template, "{cluster}" expanded */
    long long poll_ms;    /* GetCrawler interval */
    long long skew_ms;    /* allowed clock difference with Glue */
    long long timeout_ms; /* give up on a run after this long */
} crawl_cfg;

static const sl_cfg_opt crawl_opts[] = {
    {"CRAWLER_NAME", SL_CFG_STRING, "snaplake-{cluster}", 0, -1, 0,
     offsetof(crawl_cfg, crawler_name),
     "Glue crawler to run; {cluster} is replaced by the run's cluster id"},
    {"CRAWL_POLL_INTERVAL", SL_CFG_DURATION, "60s", 100, 3600000, 0, offsetof(crawl_cfg, poll_ms),
     "how often GetCrawler is asked while a crawl runs"},
    {"CRAWL_CLOCK_SKEW", SL_CFG_DURATION, "2s", 0, 600000, 0, offsetof(crawl_cfg, skew_ms),
     "clock difference with Glue tolerated when matching a run to our start"},
    {"CRAWL_TIMEOUT", SL_CFG_DURATION, "6h", 1000, 172800000, 0, offsetof(crawl_cfg, timeout_ms),
     "a crawl still not finished after this fails the run"},
};

enum crawl_phase {
    PHASE_START,      /* call StartCrawler */
    PHASE_WAIT_OTHER, /* someone else's run is under way: wait, then judge it */
    PHASE_WAIT_OURS   /* our run is under way: wait for READY with a fresh LastCrawl */
};

typedef struct crawl_job {
    enum crawl_phase phase;
    char crawler[256];
    long long copied_ms;  /* when the copy stage finished (epoch ms) */
    long long started_ms; /* our StartCrawler time (epoch ms) */
    long long deadline;   /* monotonic ms */
} crawl_job;

static int crawl_init(struct sl_worker *w, void **ctx, char *err, size_t errlen)
{
    crawl_cfg *cfg = calloc(1, sizeof(*cfg));

    (void)w;
    if (!cfg)
        return sl_seterr(err, errlen, "crawl: out of memory");
    if (sl_config_load(crawl_opts, SL_ARRAY_LEN(crawl_opts), cfg, NULL, NULL, err, errlen) != 0) {
        free(cfg);
        return -1;
    }
    *ctx = cfg;
    return 0;
}

static void crawl_cleanup(struct sl_worker *w, void *ctx)
{
    (void)w;
    if (!ctx)
        return;
    sl_config_cleanup(crawl_opts, SL_ARRAY_LEN(crawl_opts), ctx);
    free(ctx);
}

static sl_step_result crawl_start(struct sl_worker *w, void *ctx, sl_job *job)
{
    crawl_cfg *cfg = ctx;
    crawl_job *cj;

    (void)w;
    cj = calloc(1, sizeof(*cj));
    if (!cj)
        return sl_job_fail(job, "ClientError", "crawl: out of memory");
    job->state = cj;
    if (sl_glue_crawler_name(cfg->crawler_name, job->in.cluster, cj->crawler,
                             sizeof(cj->crawler)) != 0)
        return sl_job_fail(job, "BadConfig", "CRAWLER_NAME '%s' gives no usable crawler name",
                           cfg->crawler_name);
    if (!job->in.copied_at || sl_time_parse_ms(job->in.copied_at, &cj->copied_ms) != 0)
        return sl_job_fail(job, "BadInput", "copied_at '%s' is not an RFC 3339 UTC time",
                           job->in.copied_at ? job->in.copied_at : "");
    cj->phase = PHASE_START;
    cj->deadline = sl_mono_ms() + cfg->timeout_ms;
    job->next_step_ms = sl_mono_ms();
    return SL_STEP_PENDING;
}

/* The run described by c ended and is ours (or covers our data): turn it into the outcome. */
static sl_step_result finish(sl_job *job, const crawl_job *cj, const sl_glue_crawler *c)
{
    char started[32];
    char msg[SL_ERRLEN];

    if (strcmp(c->last_status, "SUCCEEDED") != 0) {
        const char *code =
            strcmp(c->last_status, "CANCELLED") == 0 ? "CrawlCancelled" : "CrawlFailed";
        snprintf(msg, sizeof(msg), "crawler %s run %s: %s", cj->crawler,
                 c->last_status[0] ? c->last_status : "(no status)",
                 c->last_error ? c->last_error : "no ErrorMessage");
        return sl_job_fail(job, code, "%s", msg);
    }
    if (sl_msg_format_time(c->last_start_ms, started, sizeof(started)) != 0)
        return sl_job_fail(job, "BadResponse", "crawler LastCrawl.StartTime out of range");
    if (sl_msg_copy(&job->out, &job->in, msg, sizeof(msg)) != 0)
        return sl_job_fail(job, "ClientError", "%s", msg);
    job->out.type = SL_MSG_CRAWLED;
    job->out.crawler = strdup(cj->crawler);
    job->out.crawl_started_at = strdup(started);
    job->out.crawl_status = strdup(c->last_status);
    if (!job->out.crawler || !job->out.crawl_started_at || !job->out.crawl_status)
        return sl_job_fail(job, "ClientError", "crawl: out of memory");
    return SL_STEP_DONE;
}

static sl_step_result crawl_step(struct sl_worker *w, void *ctx, sl_job *job)
{
    crawl_cfg *cfg = ctx;
    crawl_job *cj = job->state;
    sl_aws *aws = sl_worker_aws(w);
    sl_aws_error e;
    sl_glue_crawler c;
    sl_step_result r = SL_STEP_PENDING;

    if (sl_mono_ms() > cj->deadline)
        return sl_job_fail(job, "CrawlTimeout", "crawler %s did not finish within CRAWL_TIMEOUT",
                           cj->crawler);

    if (cj->phase == PHASE_START) {
        long long t = sl_now_ms();
        if (sl_glue_start_crawler(aws, cj->crawler, &e) == 0) {
            cj->started_ms = t;
            cj->phase = PHASE_WAIT_OURS;
            sl_log_kv(SL_LOG_INFO, &job->log, (const char *const[]){"crawler", cj->crawler, NULL},
                      "crawler started");
        } else if (strcmp(e.code, "CrawlerRunningException") == 0) {
            cj->phase = PHASE_WAIT_OTHER;
            sl_log_kv(SL_LOG_INFO, &job->log, (const char *const[]){"crawler", cj->crawler, NULL},
                      "crawler already running; waiting to see whether that run covers this copy");
        } else {
            return sl_job_fail_aws(job, NULL, &e);
        }
        job->next_step_ms = sl_mono_ms() + cfg->poll_ms;
        return SL_STEP_PENDING;
    }

    sl_glue_crawler_init(&c);
    if (sl_glue_get_crawler(aws, cj->crawler, &c, &e) != 0) {
        /* The client already retried; a still-transient error is polled again later. */
        if (e.transient) {
            sl_log_kv(SL_LOG_WARN, &job->log, (const char *const[]){"error", e.code, NULL},
                      "GetCrawler failed, polling again");
            job->next_step_ms = sl_mono_ms() + cfg->poll_ms;
            return SL_STEP_PENDING;
        }
        return sl_job_fail_aws(job, NULL, &e);
    }
    if (strcmp(c.state, "READY") != 0 || !c.has_last_crawl)
        goto wait;

    /* sl_crawl_match: a run begun before the copy ended never covers it, whatever the skew;
     * the skew only leans to crawling again, a spare run, never a missed file. */
    switch (sl_crawl_match(cj->phase == PHASE_WAIT_OURS, c.last_start_ms, cj->copied_ms,
                           cj->started_ms, cfg->skew_ms)) {
    case SL_CRAWL_TRUST:
        r = finish(job, cj, &c);
        goto out;
    case SL_CRAWL_RESTART:
        sl_log_kv(SL_LOG_INFO, &job->log, (const char *const[]){"crawler", cj->crawler, NULL},
                  cj->phase == PHASE_WAIT_OTHER
                      ? "the other run started before this copy finished; starting the crawler "
                        "again"
                      : "the last run cannot be told from one before this copy finished; "
                        "starting the crawler again");
        cj->phase = PHASE_START;
        job->next_step_ms = sl_mono_ms();
        goto out;
    case SL_CRAWL_WAIT:
        break;
    }
    /* PHASE_WAIT_OURS and READY with an older LastCrawl: our run is not visible yet. */
wait:
    job->next_step_ms = sl_mono_ms() + cfg->poll_ms;
out:
    sl_glue_crawler_cleanup(&c);
    return r;
}

static void crawl_job_cleanup(struct sl_worker *w, void *ctx, sl_job *job)
{
    (void)w;
    (void)ctx;
    free(job->state);
    job->state = NULL;
}

const sl_stage sl_stage_crawl = {
    .name = "crawl",
    .in_topic = "copies",
    .in_type = SL_MSG_COPIED,
    .out_topic = "crawls",
    .cfg_opts = crawl_opts,
    .ncfg_opts = SL_ARRAY_LEN(crawl_opts),
    .init = crawl_init,
    .start = crawl_start,
    .step = crawl_step,
    .job_cleanup = crawl_job_cleanup,
    .tick = NULL,
    .cleanup = crawl_cleanup,
};
