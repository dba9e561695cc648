/*
 * metrics.h - a small in-process metrics registry (counters, gauges, histograms with fixed
 * buckets, each with up to SL_METRICS_MAX_LABELS labels) and its rendering in the Prometheus
 * text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats).
 *
 * One thread: the owner (the worker loop) updates it and renders it; nothing here locks. A
 * family is declared once (sl_metrics_family) and a series is found or created by its label
 * values on each update, so callers never keep series pointers. Families render in
 * declaration order, series in creation order, so a scrape is stable between turns.
 */
#ifndef SL_METRICS_H
#define SL_METRICS_H

#include <stddef.h>

#include "util.h"

#define SL_METRICS_MAX_LABELS 4
#define SL_METRICS_MAX_BUCKETS 16

typedef enum sl_metric_type {
    SL_METRIC_COUNTER,
    SL_METRIC_GAUGE,
    SL_METRIC_HISTOGRAM
} sl_metric_type;

typedef struct sl_metrics sl_metrics;
typedef struct sl_metric_family sl_metric_family;

/* A new empty registry (free with sl_metrics_free), or NULL when out of memory. */
sl_metrics *sl_metrics_new(void);
void sl_metrics_free(sl_metrics *m);

/*
 * Declares a family. name follows Prometheus naming ([a-zA-Z_:][a-zA-Z0-9_:]*; a counter's
 * ends in "_total"), labels is NULL-terminated (at most SL_METRICS_MAX_LABELS names), buckets
 * the histogram's upper bounds in increasing order (nbuckets <= SL_METRICS_MAX_BUCKETS; +Inf
 * is implicit), NULL/0 for the other types. Strings are borrowed and must outlive m (string
 * literals). Returns the family (owned by m), or NULL on a bad declaration or no memory.
 */
sl_metric_family *sl_metrics_family(sl_metrics *m, sl_metric_type type, const char *name,
                                    const char *help, const char *const *labels,
                                    const double *buckets, size_t nbuckets);

/*
 * Updates the series of f with these label values (one per label name, NULL-terminated array
 * or NULL when f has no labels; values are copied, cut at 127 bytes). A series that does not
 * exist yet is created at zero. Returns 0, or -1 when f is NULL, the values do not match, or
 * memory ran out (the update is then lost: metrics never stop the caller).
 */
int sl_metrics_add(sl_metric_family *f, const char *const *values, double v); /* counter, gauge */
int sl_metrics_set(sl_metric_family *f, const char *const *values, double v); /* gauge */
int sl_metrics_observe(sl_metric_family *f, const char *const *values, double v); /* histogram */

/* Removes every series of f (a gauge family rebuilt from scratch, e.g. consumer lag). */
void sl_metrics_reset(sl_metric_family *f);

/*
 * Renders the whole registry in the text format into a new NUL-terminated heap string
 * (*out, the caller's to free; *outlen its length). Returns 0 or -1 (out of memory).
 */
int sl_metrics_render(const sl_metrics *m, char **out, size_t *outlen) SL_MUST_CHECK;

/* The content type of sl_metrics_render's text. */
#define SL_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#endif /* SL_METRICS_H */
