/*
 * backoff.h - the one full-jitter backoff of the code base (AWS Architecture Blog,
 * "Exponential Backoff and Jitter"): the worker's job retries and bookkeeping, the producer's
 * tries, the share run's retries. Pure, so tests/unit/test_backoff.c checks it with tables.
 */
#ifndef SL_BACKOFF_H
#define SL_BACKOFF_H

/*
 * A uniform delay in [0, min(max_ms, base_ms * 2^(attempt-1))] for retry number attempt >= 1
 * (attempt < 1 counts as 1), drawn from r (a random 64-bit value: sl_random_u64()). Never
 * negative; 0 when base_ms or max_ms is <= 0; the doubling saturates at max_ms instead of
 * overflowing.
 */
long long sl_backoff_ms(long long base_ms, long long max_ms, int attempt, unsigned long long r);

#endif /* SL_BACKOFF_H */
