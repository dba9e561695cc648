/*
 * fuzz_kstats.c - libFuzzer harness for sl_kstats_parse (librdkafka's statistics JSON, read by
 * the worker for /readyz and the consumer lag gauges), and for the metrics text rendering of
 * what it read (topic names are label values: every byte must come out escaped). On success:
 * at most SL_KSTATS_MAX_PARTS partitions, each with a non-negative lag and partition and a
 * NUL-terminated topic; the rendered text has no raw newline inside a label value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kstats.h"
#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const labels[] = {"topic", "partition", NULL};
    sl_kstats *ks = malloc(sizeof(*ks));
    char err[SL_ERRLEN];
    sl_metrics *m;
    sl_metric_family *f;

    if (!ks)
        return 0;
    if (sl_kstats_parse((const char *)data, size, ks, err, sizeof(err)) != 0) {
        free(ks);
        return 0;
    }
    if (ks->nparts > SL_KSTATS_MAX_PARTS || (ks->group_up != 0 && ks->group_up != 1) ||
        ks->brokers_up < 0)
        abort();
    m = sl_metrics_new();
    f = sl_metrics_family(m, SL_METRIC_GAUGE, "lag", "h", labels, NULL, 0);
    for (size_t i = 0; i < ks->nparts; i++) {
        char p[16];
        const char *const v[] = {ks->parts[i].topic, p, NULL};
        if (ks->parts[i].lag < 0 || ks->parts[i].partition < 0 ||
            !memchr(ks->parts[i].topic, '\0', sizeof(ks->parts[i].topic)))
            abort();
        snprintf(p, sizeof(p), "%d", (int)ks->parts[i].partition);
        (void)sl_metrics_set(f, v, (double)ks->parts[i].lag);
    }
    if (m && f) {
        char *text = NULL;
        size_t len = 0;
        if (sl_metrics_render(m, &text, &len) == 0) {
            /* At most one line per series after the two comment lines (equal topic and
             * partition merge): a raw newline in a label value would add one. */
            size_t lines = 0;
            for (size_t i = 0; i < len; i++)
                lines += text[i] == '\n';
            if (lines > 2 + ks->nparts)
                abort();
            free(text);
        }
    }
    sl_metrics_free(m);
    free(ks);
    return 0;
}
