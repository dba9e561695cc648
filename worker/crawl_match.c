/* crawl_match.c - see crawl_match.h. */
#include "crawl_match.h"

sl_crawl_verdict sl_crawl_match(int ours, long long last_start_ms, long long copied_ms,
                                long long started_ms, long long skew_ms)
{
    long long floor_ms;

    if (skew_ms < 0)
        skew_ms = 0;
    if (!ours)
        return last_start_ms >= copied_ms + skew_ms ? SL_CRAWL_TRUST : SL_CRAWL_RESTART;
    /* max(copied, started - skew): the skew may widen the window below our start, never below
       the copy's end. */
    floor_ms = started_ms - skew_ms > copied_ms ? started_ms - skew_ms : copied_ms;
    if (last_start_ms >= floor_ms)
        return SL_CRAWL_TRUST;
    return last_start_ms < started_ms - skew_ms ? SL_CRAWL_WAIT : SL_CRAWL_RESTART;
}
