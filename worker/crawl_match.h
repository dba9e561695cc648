/*
 * crawl_match.h - the crawl stage's run-matching rule (no I/O), apart from crawl.c so it can be
 * tested with tables: does the crawler's LastCrawl cover this copy?
 */
#ifndef SL_CRAWL_MATCH_H
#define SL_CRAWL_MATCH_H

/* What to do with a READY crawler's LastCrawl. */
typedef enum sl_crawl_verdict {
    SL_CRAWL_TRUST,   /* the run covers this copy: its result is ours */
    SL_CRAWL_WAIT,    /* our run is not visible yet: poll again */
    SL_CRAWL_RESTART, /* the run may have missed this copy's files: start the crawler again */
} sl_crawl_verdict;

/*
 * Judges a READY crawler whose LastCrawl began at last_start_ms (Glue's clock, epoch ms).
 * copied_ms: when the copy finished; started_ms: our StartCrawler time when ours is non-zero
 * (we started a run and wait for it), ignored otherwise (someone else's run was under way);
 * skew_ms >= 0: CRAWL_CLOCK_SKEW.
 *
 * The rule: a run that began before the copy finished never covers it, whatever the skew (it
 * may have listed the lake before the last files were there). The skew only ever moves the
 * threshold later, toward a spare crawl, never toward a missed file:
 *   - someone else's run is trusted from copied + skew on; else RESTART;
 *   - our own run is trusted from max(copied, started - skew) on (Glue's clock may be behind
 *     ours, but never so far that a run before the copy is taken for ours). A LastCrawl from
 *     before started - skew is the previous run, still shown: WAIT. One between started - skew
 *     and copied may be ours or an older one; it cannot be told apart, so RESTART.
 * Pure.
 */
sl_crawl_verdict sl_crawl_match(int ours, long long last_start_ms, long long copied_ms,
                                long long started_ms, long long skew_ms);

#endif /* SL_CRAWL_MATCH_H */
