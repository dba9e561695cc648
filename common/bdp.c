/*
 * bdp.c - the in-flight limit from the least round trip and the CPU per request (bdp.h).
 */
#include "bdp.h"

void sl_bdp_init(sl_bdp *b)
{
    b->rtt_us[0] = b->rtt_us[1] = -1;
    b->win_start_ms = -1;
    b->cpu_ns = 0;
    b->cpu_mark_ns = -1;
    b->since = 0;
}

void sl_bdp_rtt(sl_bdp *b, long long rtt_us, long long now_ms)
{
    long long age = now_ms - b->win_start_ms;

    if (rtt_us < 0)
        return;
    if (b->win_start_ms < 0 || age >= 2 * BDP_RTT_WINDOW_MS) {
        /* First sample, or both windows are stale: start over. */
        b->rtt_us[0] = -1;
        b->rtt_us[1] = rtt_us;
        b->win_start_ms = now_ms;
    } else if (age >= BDP_RTT_WINDOW_MS) {
        b->rtt_us[0] = b->rtt_us[1];
        b->rtt_us[1] = rtt_us;
        b->win_start_ms = now_ms;
    } else if (rtt_us < b->rtt_us[1]) {
        b->rtt_us[1] = rtt_us;
    }
}

int sl_bdp_finished(sl_bdp *b)
{
    return ++b->since >= BDP_CPU_EVERY || b->cpu_mark_ns < 0;
}

void sl_bdp_cpu(sl_bdp *b, long long cpu_ns)
{
    if (b->cpu_mark_ns >= 0 && b->since > 0 && cpu_ns >= b->cpu_mark_ns) {
        double sample = (double)(cpu_ns - b->cpu_mark_ns) / b->since;
        b->cpu_ns = b->cpu_ns > 0 ? b->cpu_ns + (sample - b->cpu_ns) / 4 : sample;
    }
    b->cpu_mark_ns = cpu_ns;
    b->since = 0;
}

long long sl_bdp_rtt_min_us(const sl_bdp *b)
{
    long long a = b->rtt_us[0], c = b->rtt_us[1];

    if (a < 0)
        return c;
    return c < 0 || a < c ? a : c;
}

double sl_bdp_cpu_ns(const sl_bdp *b)
{
    return b->cpu_ns;
}

size_t sl_bdp_limit(const sl_bdp *b, size_t floor, size_t max)
{
    long long rtt = sl_bdp_rtt_min_us(b);
    double cpu = b->cpu_ns > 0 ? b->cpu_ns : BDP_CPU_NS_GUESS, want;

    if (max == 0)
        max = 1;
    if (floor > max)
        floor = max;
    if (floor == 0) /* never 0 in flight: the queue would stall */
        floor = 1;
    if (rtt < 0) /* slow start: one round trip at the floor, then what it measured */
        return floor;
    want = BDP_GAIN * (double)rtt * 1000.0 / cpu;
    if (want >= (double)max)
        return max;
    if (want <= (double)floor)
        return floor;
    return (size_t)want + ((double)(size_t)want < want); /* rounded up */
}
