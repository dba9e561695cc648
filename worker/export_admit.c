/*
 * export_admit.c - the export slot admission rule (see export_admit.h).
 */
#include "export_admit.h"

long long sl_export_admit(long long limit, long long live, long long foreign)
{
    long long usable = limit - foreign;

    if (usable <= 0 || live + foreign >= limit)
        return 0;
    return usable;
}
