/*
 * metrics.c - the registry and its text exposition (see metrics.h).
 *
 * Sizes are small (a worker has tens of series), so series are kept in a plain array per family
 * and found by a linear scan of their label values: no hash, no tree, creation order for free.
 */
#include "metrics.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_VALUE_MAX 128

typedef struct series {
    char values[SL_METRICS_MAX_LABELS][LABEL_VALUE_MAX];
    double value;                                  /* counter, gauge */
    double sum;                                    /* histogram */
    unsigned long long count;                      /* histogram */
    unsigned long long le[SL_METRICS_MAX_BUCKETS]; /* histogram: observations <= buckets[i] */
} series;

struct sl_metric_family {
    sl_metric_type type;
    const char *name, *help;
    const char *labels[SL_METRICS_MAX_LABELS];
    size_t nlabels;
    double buckets[SL_METRICS_MAX_BUCKETS];
    size_t nbuckets;
    series *s;
    size_t ns, caps;
};

struct sl_metrics {
    sl_metric_family **f;
    size_t nf, capf;
};

sl_metrics *sl_metrics_new(void)
{
    return calloc(1, sizeof(sl_metrics));
}

void sl_metrics_free(sl_metrics *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nf; i++) {
        free(m->f[i]->s);
        free(m->f[i]);
    }
    free(m->f);
    free(m);
}

/* Prometheus metric and label names: [a-zA-Z_:][a-zA-Z0-9_:]* (labels without ':'). */
static int valid_name(const char *n, int colon)
{
    if (!n || !*n || (*n >= '0' && *n <= '9'))
        return 0;
    for (; *n; n++) {
        char c = *n;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || (colon && c == ':')))
            return 0;
    }
    return 1;
}

sl_metric_family *sl_metrics_family(sl_metrics *m, sl_metric_type type, const char *name,
                                    const char *help, const char *const *labels,
                                    const double *buckets, size_t nbuckets)
{
    sl_metric_family *f;
    size_t nl = 0;

    if (!m || !valid_name(name, 1) || !help)
        return NULL;
    if (type == SL_METRIC_HISTOGRAM
            ? (nbuckets == 0 || nbuckets > SL_METRICS_MAX_BUCKETS || !buckets)
            : nbuckets != 0)
        return NULL;
    for (size_t i = 1; i < nbuckets; i++)
        if (!(buckets[i] > buckets[i - 1]))
            return NULL;
    for (; labels && labels[nl]; nl++)
        if (nl >= SL_METRICS_MAX_LABELS || !valid_name(labels[nl], 0) ||
            (type == SL_METRIC_HISTOGRAM && strcmp(labels[nl], "le") == 0))
            return NULL;
    if (m->nf == m->capf) {
        size_t nc = m->capf ? m->capf * 2 : 16;
        sl_metric_family **nf = realloc(m->f, nc * sizeof(*nf));
        if (!nf)
            return NULL;
        m->f = nf;
        m->capf = nc;
    }
    if (!(f = calloc(1, sizeof(*f))))
        return NULL;
    f->type = type;
    f->name = name;
    f->help = help;
    f->nlabels = nl;
    for (size_t i = 0; i < nl; i++)
        f->labels[i] = labels[i];
    f->nbuckets = nbuckets;
    for (size_t i = 0; i < nbuckets; i++)
        f->buckets[i] = buckets[i];
    m->f[m->nf++] = f;
    return f;
}

/* The series of f with these values, created at zero when missing; NULL on a mismatch. */
static series *find(sl_metric_family *f, const char *const *values)
{
    size_t nv = 0;
    series *s;

    if (!f)
        return NULL;
    while (values && values[nv])
        nv++;
    if (nv != f->nlabels)
        return NULL;
    for (size_t i = 0; i < f->ns; i++) {
        size_t k = 0;
        while (k < nv && strncmp(f->s[i].values[k], values[k], LABEL_VALUE_MAX - 1) == 0)
            k++;
        if (k == nv)
            return &f->s[i];
    }
    if (f->ns == f->caps) {
        size_t nc = f->caps ? f->caps * 2 : 4;
        series *ns = realloc(f->s, nc * sizeof(*ns));
        if (!ns)
            return NULL;
        f->s = ns;
        f->caps = nc;
    }
    s = &f->s[f->ns++];
    memset(s, 0, sizeof(*s));
    for (size_t k = 0; k < nv; k++)
        snprintf(s->values[k], LABEL_VALUE_MAX, "%s", values[k]);
    return s;
}

int sl_metrics_add(sl_metric_family *f, const char *const *values, double v)
{
    series *s;

    /* A counter only goes up (a negative add would break every rate() over it). */
    if (!f || f->type == SL_METRIC_HISTOGRAM || (f->type == SL_METRIC_COUNTER && !(v >= 0)))
        return -1;
    if (!(s = find(f, values)))
        return -1;
    s->value += v;
    return 0;
}

int sl_metrics_set(sl_metric_family *f, const char *const *values, double v)
{
    series *s;

    if (!f || f->type != SL_METRIC_GAUGE || !(s = find(f, values)))
        return -1;
    s->value = v;
    return 0;
}

int sl_metrics_observe(sl_metric_family *f, const char *const *values, double v)
{
    series *s;

    if (!f || f->type != SL_METRIC_HISTOGRAM || isnan(v) || !(s = find(f, values)))
        return -1;
    s->count++;
    s->sum += v;
    for (size_t i = 0; i < f->nbuckets; i++)
        if (v <= f->buckets[i])
            s->le[i]++;
    return 0;
}

void sl_metrics_reset(sl_metric_family *f)
{
    if (f)
        f->ns = 0;
}

/* A sample value: integers without an exponent, others in the shortest round-trip form. */
static int put_num(sl_buf *b, double v)
{
    if (isinf(v))
        return sl_buf_appendf(b, "%s", v > 0 ? "+Inf" : "-Inf");
    if (isnan(v))
        return sl_buf_appendf(b, "NaN");
    if (v == floor(v) && fabs(v) < 1e15)
        return sl_buf_appendf(b, "%.0f", v);
    return sl_buf_appendf(b, "%.17g", v);
}

/* HELP text escapes '\' and newline; label values also '"' (exposition format 0.0.4). */
static int put_escaped(sl_buf *b, const char *s, int quote)
{
    for (; *s; s++) {
        int rc;
        if (*s == '\\')
            rc = sl_buf_append(b, "\\\\", 2);
        else if (*s == '\n')
            rc = sl_buf_append(b, "\\n", 2);
        else if (quote && *s == '"')
            rc = sl_buf_append(b, "\\\"", 2);
        else
            rc = sl_buf_append(b, s, 1);
        if (rc)
            return -1;
    }
    return 0;
}

/* name[suffix]{labels[,le="x"]} — le NULL for no bucket label. */
static int put_sample_head(sl_buf *b, const sl_metric_family *f, const series *s,
                           const char *suffix, const char *le)
{
    if (sl_buf_appendf(b, "%s%s", f->name, suffix))
        return -1;
    if (!f->nlabels && !le)
        return sl_buf_append(b, " ", 1);
    if (sl_buf_append(b, "{", 1))
        return -1;
    for (size_t k = 0; k < f->nlabels; k++) {
        if (sl_buf_appendf(b, "%s%s=\"", k ? "," : "", f->labels[k]) ||
            put_escaped(b, s->values[k], 1) || sl_buf_append(b, "\"", 1))
            return -1;
    }
    if (le && sl_buf_appendf(b, "%sle=\"%s\"", f->nlabels ? "," : "", le))
        return -1;
    return sl_buf_append(b, "} ", 2);
}

static int render_family(sl_buf *b, const sl_metric_family *f)
{
    static const char *const types[] = {"counter", "gauge", "histogram"};

    if (sl_buf_appendf(b, "# HELP %s ", f->name) || put_escaped(b, f->help, 0) ||
        sl_buf_appendf(b, "\n# TYPE %s %s\n", f->name, types[f->type]))
        return -1;
    for (size_t i = 0; i < f->ns; i++) {
        const series *s = &f->s[i];
        if (f->type != SL_METRIC_HISTOGRAM) {
            if (put_sample_head(b, f, s, "", NULL) || put_num(b, s->value) ||
                sl_buf_append(b, "\n", 1))
                return -1;
            continue;
        }
        for (size_t k = 0; k < f->nbuckets; k++) {
            char le[40];
            snprintf(le, sizeof(le), "%.15g", f->buckets[k]);
            if (put_sample_head(b, f, s, "_bucket", le) || put_num(b, (double)s->le[k]) ||
                sl_buf_append(b, "\n", 1))
                return -1;
        }
        if (put_sample_head(b, f, s, "_bucket", "+Inf") || put_num(b, (double)s->count) ||
            sl_buf_append(b, "\n", 1) || put_sample_head(b, f, s, "_sum", NULL) ||
            put_num(b, s->sum) || sl_buf_append(b, "\n", 1) ||
            put_sample_head(b, f, s, "_count", NULL) || put_num(b, (double)s->count) ||
            sl_buf_append(b, "\n", 1))
            return -1;
    }
    return 0;
}

int sl_metrics_render(const sl_metrics *m, char **out, size_t *outlen)
{
    sl_buf b;

    sl_buf_init(&b, 0);
    if (sl_buf_append(&b, "", 0))
        goto fail;
    for (size_t i = 0; m && i < m->nf; i++)
        if (render_family(&b, m->f[i]))
            goto fail;
    *outlen = b.len;
    *out = sl_buf_steal(&b);
    return 0;
fail:
    sl_buf_cleanup(&b);
    return -1;
}
