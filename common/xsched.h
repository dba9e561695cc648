/*
 * xsched.h - a reusable scheduler of many AWS requests at once: one curl multi handle driven
 * by curl_multi_socket_action over an epoll set, so the cost of a wake-up is the sockets that
 * are ready, not every transfer in flight (curl_multi_perform and curl_multi_poll walk all of
 * them each time: at 1,024 in flight that was most of a copy worker's CPU).
 *
 * Two objects:
 *   sl_xsched        one per loop (the copy stage's context): the multi handles (one per
 *                    128 transfers in flight, see xsched.c), their epoll fd and curl timers. The
 * worker loop waits on sl_xsched_fd() alongside Kafka (stage.h io_fd) and calls sl_xsched_run()
 * when it is readable or sl_xsched_due() has come; run() never blocks. sl_xsched_queue  one per
 * job: its own cap on requests in flight, its own retry list, and three callbacks. Units of work
 * are the caller's 64-bit ids (the copy stage packs an object index and a part number into one).
 *
 * For each free slot the queue first starts a retry that is due, then asks ops->next for a
 * fresh unit, and ops->start builds and signs the request (a new sl_aws_xfer each attempt,
 * so a retry is re-signed). A finished transfer's slot is refilled at once, in the same run(),
 * never after another wait. A transient failure (sl_aws_xfer_finish's err->transient) with
 * attempts left is retried after sl_aws_backoff_ms, at its own due time (nothing sleeps);
 * anything else reaches ops->done with the error. A 503 SlowDown also halves the queue's window
 * (sl_xsched_aimd), which grows back by successes. Single-threaded; not reentrant from the
 * callbacks except for sl_xsched_queue_kick.
 *
 * A caller that paces its units itself (the copy stage: a window per S3 prefix, copy_pace.h)
 * sets opts.paced: the queue's own window then stays at max_inflight (a SlowDown is counted
 * once, by the caller, not also here), ops->attempt_end tells it how each attempt ended,
 * retried ones included (the retries happen in here; done() only sees the last), and
 * ops->admit lets it hold back a due retry whose prefix is at its window.
 */
#ifndef SL_XSCHED_H
#define SL_XSCHED_H

#include <stddef.h>
#include <stdint.h>

#include "aws_http.h"
#include "bdp.h"
#include "util.h"

typedef struct sl_xsched sl_xsched;
typedef struct sl_xsched_queue sl_xsched_queue;

typedef struct sl_xsched_ops {
    /* A fresh unit to start now: 0 with *unit, or -1 when none (until the next kick/refill). */
    int (*next)(void *ud, uint64_t *unit);
    /* Builds and signs unit's request into *x (attempt is 1 on the first try). 0, or -1 with
       e: a transient e is retried like a failed transfer, anything else goes to done. */
    int (*start)(void *ud, uint64_t unit, int attempt, sl_aws_xfer **x, sl_aws_error *e);
    /* The unit is over: e NULL = success (x holds the answer, valid during the call only), or
       its final error after `attempts` attempts (x NULL when it never got a transfer). Return
       0 to go on, -1 to stop the queue (the job failed: nothing more starts; what is in flight
       is cancelled by sl_xsched_queue_free). */
    int (*done)(void *ud, uint64_t unit, sl_aws_xfer *x, const sl_aws_error *e, int attempts);
    /* Optional (NULL = not told). Every attempt whose start() returned 0 ends here exactly
       once, before its retry is queued or done() is called: e NULL = success, else its error
       (sl_xsched_slowdown says whether it was throttling). started_ms is when the transfer
       was handed to curl (monotonic ms). Not called for what sl_xsched_queue_free cancels. */
    void (*attempt_end)(void *ud, uint64_t unit, int attempt, const sl_aws_error *e,
                        long long started_ms);
    /* Optional (NULL = always). Asked before a due retry starts: 0 = start it now, -1 = not
       yet. A refused retry is asked again after the queue's next finished transfer (nothing
       else can make room), and it does not make the queue due meanwhile. */
    int (*admit)(void *ud, uint64_t unit);
} sl_xsched_ops;

typedef struct sl_xsched_queue_opts {
    size_t max_inflight;     /* >= 1 */
    int max_attempts;        /* per unit, >= 1 */
    long request_timeout_ms; /* CURLOPT_TIMEOUT_MS of each transfer; 0 = none */
    sl_aws *aws;             /* borrowed: the backoff of retries (sl_aws_backoff_ms) */
    long recv_buffer;        /* CURLOPT_BUFFERSIZE of each transfer; 0 = curl's (16 KiB) */
    int paced;               /* non-zero: the caller paces (see above); no queue-level AIMD */
    /* Non-zero: a sized queue. Its limit also follows the requests the path needs in flight,
       the scheduler's bandwidth-delay product (bdp.h: the least round trip of its transfers
       over their CPU), between min_inflight and max_inflight. 0: max_inflight (and AIMD). */
    size_t min_inflight;
} sl_xsched_queue_opts;

/* 1 when e is S3 throttling (503, or the SlowDown code), else 0. The queue's AIMD and a
   pacing caller classify by this one rule. */
int sl_xsched_slowdown(const sl_aws_error *e);

/*
 * Adaptive concurrency of one queue (AIMD, as the AWS SDKs' adaptive retry mode): the window
 * of requests in flight starts at the queue's max_inflight; each success adds 1/window (about
 * one more request per round of answers), each throttling answer (503 SlowDown) halves it, at
 * most once per hold_ms so that one burst of 503s (all sent before the first came back) counts
 * once, never below 1. Pure; unit-tested.
 */
typedef struct sl_xsched_aimd {
    double window;
    size_t max;
    long long last_cut_ms; /* -1 = never */
} sl_xsched_aimd;

void sl_xsched_aimd_init(sl_xsched_aimd *a, size_t max);
void sl_xsched_aimd_ok(sl_xsched_aimd *a);
/* 1 when the window was cut now, 0 when within hold_ms of the last cut. */
int sl_xsched_aimd_throttled(sl_xsched_aimd *a, long long now_ms, long long hold_ms);
/* The requests that may be in flight now: floor(window), at least 1. */
size_t sl_xsched_aimd_window(const sl_xsched_aimd *a);

/* A scheduler keeping up to max_connects connections. NULL with err. */
sl_xsched *sl_xsched_new(long max_connects, char *err, size_t errlen);
/* Frees the scheduler; every queue must have been freed first. NULL is a no-op. */
void sl_xsched_free(sl_xsched *s);

/* The epoll fd to wait on for reading (never closed by the caller). */
int sl_xsched_fd(const sl_xsched *s);
/* The monotonic ms by which run() must be called (curl's timer, a queue's retry, or a queue
   that asked for a refill), or -1 when nothing is due. */
long long sl_xsched_due(const sl_xsched *s);
/* Transfers in flight across every queue. */
size_t sl_xsched_inflight(const sl_xsched *s);
/* What the scheduler measured of the path (least round trip, CPU per request): bdp.h. */
const sl_bdp *sl_xsched_bdp(const sl_xsched *s);
/* Handles the ready sockets and curl's timer, dispatches finished transfers to their queues'
   done callbacks and refills every queue. Never blocks. */
void sl_xsched_run(sl_xsched *s);

/* A queue on s; ops, ud and o->aws are borrowed and must outlive it. NULL on out of memory.
   Nothing starts until the first kick (or run() finds it due). */
sl_xsched_queue *sl_xsched_queue_new(sl_xsched *s, const sl_xsched_ops *ops, void *ud,
                                     const sl_xsched_queue_opts *o);
/* Cancels what q has in flight (no callbacks), drops its retries, frees it. NULL is a no-op. */
void sl_xsched_queue_free(sl_xsched_queue *q);
/* New units may be available (ops->next): refill at the next run(), which is due now. */
void sl_xsched_queue_kick(sl_xsched_queue *q);
/* Requests of q in flight; retries waiting; the transient failures retried so far. */
size_t sl_xsched_queue_inflight(const sl_xsched_queue *q);
size_t sl_xsched_queue_waiting(const sl_xsched_queue *q);
long long sl_xsched_queue_retried(const sl_xsched_queue *q);
/* The requests the queue may have in flight now: its AIMD window (max_inflight when paced),
   and for a sized queue at most the bandwidth-delay product's limit. */
size_t sl_xsched_queue_window(const sl_xsched_queue *q);
/* Non-zero once done() returned -1. */
int sl_xsched_queue_stopped(const sl_xsched_queue *q);

#endif /* SL_XSCHED_H */
