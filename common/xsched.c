/*
 * xsched.c - many AWS requests at once on one curl multi handle, driven by
 * curl_multi_socket_action over epoll (see xsched.h for the contract).
 *
 * libcurl tells us which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when it needs a
 * timeout call (CURLMOPT_TIMERFUNCTION); we keep the sockets in an epoll set and the timer as a
 * deadline the caller's loop folds into its own wait. A run() hands curl only the sockets that
 * are ready, collects finished transfers and refills the freed slots before returning, so a
 * slot never waits for the next wake-up to be reused.
 *
 * Transfers are spread over up to XS_SHARDS multi handles (shards), each with its own
 * connection cache, filled in order, XS_SHARD_FILL in flight each. libcurl 7.88's cost per
 * transfer grows with the connections its multi holds to one host: picking an idle connection
 * walks the host's connection list (ConnectionExists), and curl_multi_remove_handle walks the
 * cache for the transfer's last connection. At 1,024 in flight on one multi that doubled the
 * worker's CPU per object against 64 in flight; with shards of at most XS_SHARD_FILL each walk
 * is bounded by the shard. Below XS_SHARD_FILL in flight only shard 0 exists: nothing changes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "xsched.h"

/* Events taken from epoll per call, and calls per run() (the rest wait for the next run). */
#define EV_BATCH 256
#define EV_PASSES 8
/* Rounds of "curl timer due now -> socket_action -> reap -> refill" per run(): newly added
   handles ask for a timeout of 0, and starting them at once is what "refill at once" means. */
#define KICK_ROUNDS 4
/* One window cut per this long: the 503s of requests already in flight count once. */
#define AIMD_HOLD_MS 1000
/* Multi handles at most, and transfers in flight on one before the next is used (above). */
#define XS_SHARDS 16
#define XS_SHARD_FILL 128

typedef struct xs_shard {
    struct sl_xsched *s;
    CURLM *multi;        /* NULL until first needed */
    long long timer_due; /* -1 = none */
    size_t inflight;
} xs_shard;

typedef struct xs_slot {
    sl_aws_xfer *x; /* NULL when free */
    sl_xsched_queue *q;
    xs_shard *sh; /* the multi handle x is on */
    uint64_t unit;
    int attempt;
    long long started; /* mono ms it was handed to curl (ops->attempt_end) */
} xs_slot;

typedef struct xs_retry {
    uint64_t unit;
    int attempt; /* the attempt it will be */
    long long due;
    int held; /* ops->admit refused it; asked again after the queue's next finished transfer */
} xs_retry;

struct sl_xsched_queue {
    sl_xsched *s;
    const sl_xsched_ops *ops;
    void *ud;
    sl_xsched_queue_opts o;
    xs_slot *slots;
    size_t *freel; /* stack of free slot indexes */
    size_t nfree, inflight;
    xs_retry *retry;
    size_t nretry, capretry;
    long long retried;
    sl_xsched_aimd aimd;
    int want_refill;
    int stopped;
    sl_xsched_queue *prev, *next;
};

struct sl_xsched {
    xs_shard sh[XS_SHARDS];
    long max_connects; /* CURLMOPT_MAXCONNECTS of each shard */
    int ep;
    size_t inflight;
    sl_bdp bdp; /* round trips and CPU of every finished transfer: sized queues' limit */
    sl_xsched_queue *queues;
};

/* epoll's data for fd: the shard in the high half, the fd in the low half. */
static uint64_t ev_data(const xs_shard *sh, curl_socket_t fd)
{
    return (uint64_t)(sh - sh->s->sh) << 32 | (uint32_t)fd;
}

/* ---- curl callbacks ----------------------------------------------------------------------- */

/* CURLMOPT_SOCKETFUNCTION: keep the epoll set in step with what curl wants to watch. The
   socketp marker (curl_multi_assign) says whether the fd is already in the set. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    xs_shard *sh = userp;
    sl_xsched *s = sh->s;
    struct epoll_event ev;

    (void)easy;
    if (what == CURL_POLL_REMOVE) {
        /* curl may already have closed it; ENOENT/EBADF are fine. */
        (void)epoll_ctl(s->ep, EPOLL_CTL_DEL, fd, NULL);
        curl_multi_assign(sh->multi, fd, NULL);
        return 0;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0u) | (what & CURL_POLL_OUT ? EPOLLOUT : 0u);
    ev.data.u64 = ev_data(sh, fd);
    if (epoll_ctl(s->ep, socketp ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
        /* A recycled fd number can disagree with our marker: try the other verb once. */
        int op = errno == EEXIST ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
        if (epoll_ctl(s->ep, op, fd, &ev) != 0)
            return -1;
    }
    curl_multi_assign(sh->multi, fd, (void *)sh);
    return 0;
}

/* CURLMOPT_TIMERFUNCTION: -1 deletes the timer, else call socket_action(TIMEOUT) then. */
static int on_timer(CURLM *multi, long timeout_ms, void *userp)
{
    xs_shard *sh = userp;

    (void)multi;
    sh->timer_due = timeout_ms < 0 ? -1 : sl_mono_ms() + timeout_ms;
    return 0;
}

/* ---- adaptive concurrency ----------------------------------------------------------------- */

void sl_xsched_aimd_init(sl_xsched_aimd *a, size_t max)
{
    a->max = max ? max : 1;
    a->window = (double)a->max;
    a->last_cut_ms = -1;
}

void sl_xsched_aimd_ok(sl_xsched_aimd *a)
{
    a->window += 1.0 / a->window;
    if (a->window > (double)a->max)
        a->window = (double)a->max;
}

int sl_xsched_aimd_throttled(sl_xsched_aimd *a, long long now_ms, long long hold_ms)
{
    if (a->last_cut_ms >= 0 && now_ms - a->last_cut_ms < hold_ms)
        return 0;
    a->window /= 2.0;
    if (a->window < 1.0)
        a->window = 1.0;
    a->last_cut_ms = now_ms;
    return 1;
}

size_t sl_xsched_aimd_window(const sl_xsched_aimd *a)
{
    size_t w = (size_t)a->window;
    return w ? w : 1;
}

int sl_xsched_slowdown(const sl_aws_error *e)
{
    return e->http_status == 503 || strcmp(e->code, "SlowDown") == 0;
}

/* ---- scheduler ---------------------------------------------------------------------------- */

/* Creates shard sh's multi handle. 0, or -1. */
static int shard_open(xs_shard *sh)
{
    if (!(sh->multi = curl_multi_init()))
        return -1;
    if (curl_multi_setopt(sh->multi, CURLMOPT_SOCKETFUNCTION, on_socket) != CURLM_OK ||
        curl_multi_setopt(sh->multi, CURLMOPT_SOCKETDATA, sh) != CURLM_OK ||
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERFUNCTION, on_timer) != CURLM_OK ||
        curl_multi_setopt(sh->multi, CURLMOPT_TIMERDATA, sh) != CURLM_OK ||
        /* As many connections kept as requests in flight: each is reused, not reopened. */
        curl_multi_setopt(sh->multi, CURLMOPT_MAXCONNECTS, sh->s->max_connects) != CURLM_OK) {
        curl_multi_cleanup(sh->multi);
        sh->multi = NULL;
        return -1;
    }
    return 0;
}

sl_xsched *sl_xsched_new(long max_connects, char *err, size_t errlen)
{
    sl_xsched *s = calloc(1, sizeof(*s));

    if (!s) {
        sl_seterr(err, errlen, "xsched: out of memory");
        return NULL;
    }
    s->max_connects = max_connects;
    sl_bdp_init(&s->bdp);
    for (size_t i = 0; i < XS_SHARDS; i++) {
        s->sh[i].s = s;
        s->sh[i].timer_due = -1;
    }
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0 || shard_open(&s->sh[0])) {
        sl_seterr(err, errlen, "xsched: %s",
                  s->ep < 0 ? strerror(errno) : "curl_multi_init/setopt failed");
        sl_xsched_free(s);
        return NULL;
    }
    return s;
}

void sl_xsched_free(sl_xsched *s)
{
    if (!s)
        return;
    while (s->queues)
        sl_xsched_queue_free(s->queues);
    for (size_t i = 0; i < XS_SHARDS; i++)
        if (s->sh[i].multi)
            curl_multi_cleanup(s->sh[i].multi);
    if (s->ep >= 0)
        close(s->ep);
    free(s);
}

int sl_xsched_fd(const sl_xsched *s)
{
    return s->ep;
}

size_t sl_xsched_inflight(const sl_xsched *s)
{
    return s->inflight;
}

const sl_bdp *sl_xsched_bdp(const sl_xsched *s)
{
    return &s->bdp;
}

/* The requests q may have in flight now: its AIMD window, and for a sized queue no more than
   the scheduler's bandwidth-delay product (bdp.h) asks for. */
static size_t queue_limit(const sl_xsched_queue *q)
{
    size_t w = sl_xsched_aimd_window(&q->aimd);

    if (q->o.min_inflight) {
        size_t b = sl_bdp_limit(&q->s->bdp, q->o.min_inflight, q->o.max_inflight);
        if (b < w)
            w = b;
    }
    return w;
}

static long long queue_due(const sl_xsched_queue *q)
{
    long long due = -1;

    if (q->stopped)
        return -1;
    if (q->want_refill)
        return sl_mono_ms();
    if (q->inflight < queue_limit(q))
        for (size_t i = 0; i < q->nretry; i++)
            if (!q->retry[i].held && (due < 0 || q->retry[i].due < due))
                due = q->retry[i].due;
    return due;
}

long long sl_xsched_due(const sl_xsched *s)
{
    long long due = -1;

    for (size_t i = 0; i < XS_SHARDS; i++) {
        long long d = s->sh[i].timer_due;
        if (d >= 0 && (due < 0 || d < due))
            due = d;
    }
    for (const sl_xsched_queue *q = s->queues; q; q = q->next) {
        long long d = queue_due(q);
        if (d >= 0 && (due < 0 || d < due))
            due = d;
    }
    return due;
}

static int add_retry(sl_xsched_queue *q, uint64_t unit, int attempt, long long due)
{
    if (q->nretry == q->capretry) {
        size_t nc = q->capretry ? q->capretry * 2 : 16;
        xs_retry *g = realloc(q->retry, nc * sizeof(*g));
        if (!g)
            return -1;
        q->retry = g;
        q->capretry = nc;
    }
    q->retry[q->nretry++] = (xs_retry){unit, attempt, due, 0};
    return 0;
}

static void local_error(sl_aws_error *e, const char *code, const char *msg)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->code, sizeof(e->code), "%s", code);
    snprintf(e->message, sizeof(e->message), "%s", msg);
}

/* A unit's attempt failed with e: again later (transient, attempts left), else done(). */
static void unit_failed(sl_xsched_queue *q, uint64_t unit, int attempt, sl_aws_xfer *x,
                        const sl_aws_error *e)
{
    if (!q->o.paced && sl_xsched_slowdown(e))
        (void)sl_xsched_aimd_throttled(&q->aimd, sl_mono_ms(), AIMD_HOLD_MS);
    if (e->transient && attempt < q->o.max_attempts) {
        long long due = sl_mono_ms() + sl_aws_backoff_ms(q->o.aws, attempt);
        if (add_retry(q, unit, attempt + 1, due) == 0) {
            q->retried++;
            return;
        }
    }
    if (q->ops->done(q->ud, unit, x, e, attempt) != 0)
        q->stopped = 1;
}

/* The shard a new transfer goes on: the first below XS_SHARD_FILL (opened when first needed),
   else the least loaded. Shard 0 always exists, so there is always one. */
static xs_shard *pick_shard(sl_xsched *s)
{
    xs_shard *least = &s->sh[0];

    for (size_t i = 0; i < XS_SHARDS; i++) {
        xs_shard *sh = &s->sh[i];
        if (!sh->multi && shard_open(sh))
            break;
        if (sh->inflight < XS_SHARD_FILL)
            return sh;
        if (sh->inflight < least->inflight)
            least = sh;
    }
    return least;
}

static void start_unit(sl_xsched_queue *q, uint64_t unit, int attempt)
{
    sl_aws_xfer *x = NULL;
    sl_aws_error e;
    xs_slot *slot;

    if (q->ops->start(q->ud, unit, attempt, &x, &e) != 0) {
        unit_failed(q, unit, attempt, NULL, &e);
        return;
    }
    slot = &q->slots[q->freel[--q->nfree]];
    slot->x = x;
    slot->q = q;
    slot->sh = pick_shard(q->s);
    slot->unit = unit;
    slot->attempt = attempt;
    slot->started = sl_mono_ms();
    sl_aws_xfer_set_user(x, slot);
    if (q->o.request_timeout_ms > 0)
        curl_easy_setopt(sl_aws_xfer_handle(x), CURLOPT_TIMEOUT_MS, q->o.request_timeout_ms);
    if (q->o.recv_buffer > 0)
        curl_easy_setopt(sl_aws_xfer_handle(x), CURLOPT_BUFFERSIZE, q->o.recv_buffer);
    if (curl_multi_add_handle(slot->sh->multi, sl_aws_xfer_handle(x)) != CURLM_OK) {
        slot->x = NULL;
        q->freel[q->nfree++] = (size_t)(slot - q->slots);
        sl_aws_xfer_free(x);
        local_error(&e, "ClientError", "xsched: curl_multi_add_handle failed");
        if (q->ops->attempt_end)
            q->ops->attempt_end(q->ud, unit, attempt, &e, slot->started);
        unit_failed(q, unit, attempt, NULL, &e);
        return;
    }
    q->inflight++;
    q->s->inflight++;
    slot->sh->inflight++;
}

/* The index of a due retry that ops->admit lets start (refusals are marked held), or
   q->nretry when there is none. */
static size_t due_retry(sl_xsched_queue *q, long long now)
{
    for (size_t i = 0; i < q->nretry; i++) {
        xs_retry *r = &q->retry[i];
        if (r->held || r->due > now)
            continue;
        if (!q->ops->admit || q->ops->admit(q->ud, r->unit) == 0)
            return i;
        r->held = 1;
    }
    return q->nretry;
}

/* Fills q's free slots: due retries first (they were owed before any fresh unit), then
   fresh units from ops->next. held: a transfer of q just finished, so the retries that
   ops->admit refused are asked again. */
static void refill(sl_xsched_queue *q, int held)
{
    q->want_refill = 0;
    for (size_t i = 0; held && i < q->nretry; i++)
        q->retry[i].held = 0;
    while (!q->stopped && q->inflight < queue_limit(q)) {
        long long now = sl_mono_ms();
        uint64_t unit;
        int attempt = 1;
        size_t i = due_retry(q, now);

        if (i < q->nretry) {
            unit = q->retry[i].unit;
            attempt = q->retry[i].attempt;
            q->retry[i] = q->retry[--q->nretry];
        } else if (q->ops->next(q->ud, &unit) != 0) {
            break;
        }
        start_unit(q, unit, attempt);
    }
}

/* A finished transfer's round trip (from the request's first byte, so a new connection's
   set-up is left out) and, every BDP_CPU_EVERY transfers, the thread's CPU: bdp.h. */
static void measure(sl_xsched *s, CURL *easy)
{
    curl_off_t total = 0, pre = 0;
    struct timespec ts;

    if (curl_easy_getinfo(easy, CURLINFO_TOTAL_TIME_T, &total) == CURLE_OK &&
        curl_easy_getinfo(easy, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK)
        sl_bdp_rtt(&s->bdp, (long long)(total - pre), sl_mono_ms());
    if (sl_bdp_finished(&s->bdp) && clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) == 0)
        sl_bdp_cpu(&s->bdp, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
}

/* Every finished transfer of shard sh goes to its queue; its slot is free again at once. */
static void reap(xs_shard *sh)
{
    sl_xsched *s = sh->s;
    CURLMsg *m;
    int left = 0;

    while ((m = curl_multi_info_read(sh->multi, &left))) {
        char *priv = NULL;
        xs_slot *slot;
        sl_xsched_queue *q;
        sl_aws_xfer *x;
        sl_aws_error e;
        CURLcode cc = m->data.result;
        CURL *easy = m->easy_handle;

        if (m->msg != CURLMSG_DONE)
            continue;
        /* CURLINFO_PRIVATE is the xfer (aws_http.h); its user pointer is our slot. */
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv) != CURLE_OK || !priv) {
            curl_multi_remove_handle(sh->multi, easy);
            continue;
        }
        x = (sl_aws_xfer *)(void *)priv;
        slot = sl_aws_xfer_user(x);
        q = slot->q;
        if (cc == CURLE_OK)
            measure(s, easy);
        curl_multi_remove_handle(sh->multi, easy);
        slot->x = NULL;
        sh->inflight--;
        q->freel[q->nfree++] = (size_t)(slot - q->slots);
        q->inflight--;
        s->inflight--;
        if (sl_aws_xfer_finish(x, cc, &e) == 0) {
            if (q->ops->attempt_end)
                q->ops->attempt_end(q->ud, slot->unit, slot->attempt, NULL, slot->started);
            if (!q->o.paced)
                sl_xsched_aimd_ok(&q->aimd);
            if (q->ops->done(q->ud, slot->unit, x, NULL, slot->attempt) != 0)
                q->stopped = 1;
        } else {
            if (q->ops->attempt_end)
                q->ops->attempt_end(q->ud, slot->unit, slot->attempt, &e, slot->started);
            unit_failed(q, slot->unit, slot->attempt, x, &e);
        }
        sl_aws_xfer_free(x);
        refill(q, 1);
    }
}

/* Shards whose curl timer is due get their timeout call, then their finished transfers.
   1 when any was due. */
static int run_timers(sl_xsched *s)
{
    long long now = sl_mono_ms();
    int running = 0, any = 0;

    for (size_t i = 0; i < XS_SHARDS; i++) {
        xs_shard *sh = &s->sh[i];
        if (!sh->multi || sh->timer_due < 0 || sh->timer_due > now)
            continue;
        sh->timer_due = -1;
        curl_multi_socket_action(sh->multi, CURL_SOCKET_TIMEOUT, 0, &running);
        reap(sh);
        any = 1;
    }
    return any;
}

void sl_xsched_run(sl_xsched *s)
{
    struct epoll_event ev[EV_BATCH];
    int running = 0;

    for (int pass = 0; pass < EV_PASSES; pass++) {
        int n = epoll_wait(s->ep, ev, EV_BATCH, 0);
        for (int i = 0; i < n; i++) {
            uint32_t k = (uint32_t)(ev[i].data.u64 >> 32);
            curl_socket_t fd = (curl_socket_t)(uint32_t)ev[i].data.u64;
            int flags = (ev[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
                        (ev[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                        (ev[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0);
            if (k >= XS_SHARDS || !s->sh[k].multi)
                continue;
            curl_multi_socket_action(s->sh[k].multi, fd, flags, &running);
        }
        for (size_t k = 0; k < XS_SHARDS; k++)
            if (s->sh[k].multi)
                reap(&s->sh[k]);
        if (n < EV_BATCH)
            break;
    }
    for (int round = 0; round < KICK_ROUNDS; round++) {
        int kicked = 0;

        for (sl_xsched_queue *q = s->queues; q; q = q->next) {
            long long d = queue_due(q);
            /* A fresh clock read: a kicked queue is due "now" as of queue_due's own read. */
            if (d >= 0 && d <= sl_mono_ms()) {
                refill(q, 0);
                kicked = 1;
            }
        }
        if (!run_timers(s) && !kicked)
            break;
    }
}

/* ---- queues ------------------------------------------------------------------------------- */

sl_xsched_queue *sl_xsched_queue_new(sl_xsched *s, const sl_xsched_ops *ops, void *ud,
                                     const sl_xsched_queue_opts *o)
{
    sl_xsched_queue *q = calloc(1, sizeof(*q));
    size_t n = o->max_inflight ? o->max_inflight : 1;

    if (!q)
        return NULL;
    q->s = s;
    q->ops = ops;
    q->ud = ud;
    q->o = *o;
    q->o.max_inflight = n;
    if (q->o.max_attempts < 1)
        q->o.max_attempts = 1;
    q->slots = calloc(n, sizeof(*q->slots));
    q->freel = calloc(n, sizeof(*q->freel));
    if (!q->slots || !q->freel) {
        free(q->slots);
        free(q->freel);
        free(q);
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        q->freel[i] = n - 1 - i;
    q->nfree = n;
    sl_xsched_aimd_init(&q->aimd, n);
    q->next = s->queues;
    if (s->queues)
        s->queues->prev = q;
    s->queues = q;
    return q;
}

void sl_xsched_queue_free(sl_xsched_queue *q)
{
    if (!q)
        return;
    for (size_t i = 0; i < q->o.max_inflight; i++) {
        if (!q->slots[i].x)
            continue;
        curl_multi_remove_handle(q->slots[i].sh->multi, sl_aws_xfer_handle(q->slots[i].x));
        sl_aws_xfer_free(q->slots[i].x);
        q->slots[i].sh->inflight--;
        q->s->inflight--;
    }
    if (q->prev)
        q->prev->next = q->next;
    else
        q->s->queues = q->next;
    if (q->next)
        q->next->prev = q->prev;
    free(q->slots);
    free(q->freel);
    free(q->retry);
    free(q);
}

void sl_xsched_queue_kick(sl_xsched_queue *q)
{
    q->want_refill = 1;
}

size_t sl_xsched_queue_inflight(const sl_xsched_queue *q)
{
    return q->inflight;
}

size_t sl_xsched_queue_waiting(const sl_xsched_queue *q)
{
    return q->nretry;
}

long long sl_xsched_queue_retried(const sl_xsched_queue *q)
{
    return q->retried;
}

size_t sl_xsched_queue_window(const sl_xsched_queue *q)
{
    return queue_limit(q);
}

int sl_xsched_queue_stopped(const sl_xsched_queue *q)
{
    return q->stopped;
}
