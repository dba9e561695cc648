/*
 * bdp.h - how many requests a scheduler needs in flight: the bandwidth-delay product of the
 * path, with the worker's own CPU as the bandwidth. Pure (the caller passes the clocks);
 * unit-tested in tests/unit/test_bdp.c.
 *
 * Requests in flight beyond what keeps the worker busy buy nothing: Little's law, throughput =
 * in flight / round trip, and throughput can never pass 1 / (CPU per request). So the limit is
 *
 *     in flight = BDP_GAIN * least round trip / CPU per request,
 *
 * clamped to the caller's [floor, max]. The least round trip (not the mean) is the path's own
 * delay: the mean also holds the time answers waited while the worker was busy, which would
 * make a busy worker ask for still more in flight (BBR's RTprop, RFC 9000's min_rtt). The gain
 * of 2 is headroom for answers that come back in bursts. Why it matters: each request in
 * flight is an HTTP/1.1 connection, and opening one cost the worker the CPU of about five
 * copies (on loopback, a fresh worker copying 10,000 objects at 1,024 in flight used 0.37 s
 * more CPU than at 64, and finished later). Near the endpoint the limit stays at the floor;
 * 100 ms away it reaches 1,024.
 *
 * The least round trip is a windowed minimum (the least of this window and the previous one,
 * BDP_RTT_WINDOW_MS each), so a path that got slower is followed within two windows. The CPU
 * per request is an average over samples of BDP_CPU_EVERY finished requests (EWMA, 1/4).
 * Before a round trip is measured the limit is the floor (slow start: a job's first burst
 * would otherwise open max connections to an endpoint 64 keep busy, which cost a 10,000-copy
 * job on the sink 7%; 100 ms away it costs one round trip at the floor). Then it errs large:
 * no CPU figure takes BDP_CPU_NS_GUESS (faster than any request measured here, so the window
 * only shrinks once the real figure is in).
 *
 * Ownership: sl_bdp is a plain value, embedded by its owner; nothing to free.
 */
#ifndef SL_BDP_H
#define SL_BDP_H

#include <stddef.h>

#define BDP_GAIN 2
#define BDP_RTT_WINDOW_MS 10000
#define BDP_CPU_EVERY 64
#define BDP_CPU_NS_GUESS 20000

typedef struct sl_bdp {
    long long rtt_us[2];    /* least round trip of the previous [0] and current [1] window; -1 */
    long long win_start_ms; /* when the current window began; -1 = no sample yet */
    double cpu_ns;          /* CPU per finished request (EWMA); 0 = not measured yet */
    long long cpu_mark_ns;  /* the thread's CPU at the last sample; -1 = none */
    unsigned since;         /* requests finished since that sample */
} sl_bdp;

void sl_bdp_init(sl_bdp *b);

/* A request's round trip (request sent to answer read, no connection set-up) at now_ms.
   Negative figures are ignored. */
void sl_bdp_rtt(sl_bdp *b, long long rtt_us, long long now_ms);

/* A request finished: 1 when a CPU sample is due (the caller reads its thread's CPU clock and
   passes it to sl_bdp_cpu), else 0. */
int sl_bdp_finished(sl_bdp *b);

/* The thread's CPU clock (ns) now; the first call only sets the mark. */
void sl_bdp_cpu(sl_bdp *b, long long cpu_ns);

/* Requests to keep in flight: in [floor, max] (floor above max counts as max; either 0 as 1). */
size_t sl_bdp_limit(const sl_bdp *b, size_t floor, size_t max);

/* The least round trip in the two windows, or -1 when none; the CPU per request in ns (0 when
   not measured). For the progress line and the tests. */
long long sl_bdp_rtt_min_us(const sl_bdp *b);
double sl_bdp_cpu_ns(const sl_bdp *b);

#endif /* SL_BDP_H */
