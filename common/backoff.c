/* backoff.c - see backoff.h. */
#include "backoff.h"

long long sl_backoff_ms(long long base_ms, long long max_ms, int attempt, unsigned long long r)
{
    long long cap = base_ms;

    if (base_ms <= 0 || max_ms <= 0)
        return 0;
    if (cap > max_ms)
        cap = max_ms;
    for (int i = 1; i < attempt && cap < max_ms; i++)
        cap = cap > max_ms / 2 ? max_ms : cap * 2;
    return (long long)(r % ((unsigned long long)cap + 1ULL));
}
