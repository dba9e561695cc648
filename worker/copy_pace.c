/* copy_pace.c - per-prefix lanes and their AIMD windows (see copy_pace.h for the rules). */
#include <stdlib.h>
#include <string.h>

#include "copy_pace.h"

void sl_copy_pace_init(sl_copy_pace *p, size_t max)
{
    *p = (sl_copy_pace){0};
    p->max = max ? max : 1;
}

void sl_copy_pace_cleanup(sl_copy_pace *p)
{
    free(p->lanes);
    free(p->act);
    *p = (sl_copy_pace){0};
}

/* v with room for need elements (*cap updated), or NULL (v untouched and still the caller's). */
static void *grow(void *v, size_t *cap, size_t need, size_t elem)
{
    size_t nc = *cap ? *cap : 8;
    void *g;

    if (v && need <= *cap)
        return v;
    while (nc < need)
        nc *= 2;
    if ((g = realloc(v, nc * elem)))
        *cap = nc;
    return g;
}

/* Puts lane i on the pick list (once). The list has room for every lane (sl_copy_pace_add
   grows it with the lanes), so this cannot fail. */
static void activate(sl_copy_pace *p, size_t i)
{
    if (p->lanes[i].active)
        return;
    p->act[p->nact++] = i;
    p->lanes[i].active = 1;
}

static int has_work(const sl_copy_lane *l)
{
    return l->next < l->end || l->ready > 0;
}

int sl_copy_pace_add(sl_copy_pace *p, size_t first, size_t end, int new_lane)
{
    size_t at = p->n ? p->lanes[p->n - 1].end : 0;
    sl_copy_lane *l;

    if (first != at || end < first)
        return -1;
    if (!new_lane && p->n) {
        l = &p->lanes[p->n - 1];
    } else {
        /* Room on the pick list for every lane, so activate() never fails later. */
        sl_copy_lane *gl = grow(p->lanes, &p->cap, p->n + 1, sizeof(*gl));
        size_t *ga;

        if (!gl)
            return -1;
        p->lanes = gl;
        if (!(ga = grow(p->act, &p->capact, p->n + 1, sizeof(*ga))))
            return -1;
        p->act = ga;
        l = &p->lanes[p->n++];
        *l = (sl_copy_lane){.first = first, .end = first, .next = first};
        l->window = (double)p->max;
        l->last_cut = -1;
    }
    l->end = end;
    if (has_work(l))
        activate(p, (size_t)(l - p->lanes));
    return 0;
}

size_t sl_copy_pace_lane_of(const sl_copy_pace *p, size_t obj)
{
    size_t lo = 0, hi = p->n;

    /* The last lane whose first <= obj (lanes are in object order, without gaps). */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (p->lanes[mid].first <= obj)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

size_t sl_copy_pace_window(const sl_copy_pace *p, size_t lane)
{
    size_t w = (size_t)p->lanes[lane].window;
    return w ? w : 1;
}

int sl_copy_pace_room(const sl_copy_pace *p, size_t lane)
{
    return p->lanes[lane].inflight < sl_copy_pace_window(p, lane);
}

int sl_copy_pace_pick(sl_copy_pace *p, size_t *lane)
{
    /* Each turn looks at one lane: drops it (no work left), takes it, or passes it (full).
       A drop keeps the order of the rest, so passing nact lanes in a row has seen them all. */
    for (size_t passed = 0; passed < p->nact;) {
        size_t pos = p->rr < p->nact ? p->rr : 0;
        size_t i = p->act[pos];
        sl_copy_lane *l = &p->lanes[i];

        if (!has_work(l)) {
            l->active = 0;
            p->nact--;
            memmove(&p->act[pos], &p->act[pos + 1], (p->nact - pos) * sizeof(*p->act));
            p->rr = pos;
            continue;
        }
        p->rr = pos + 1;
        if (sl_copy_pace_room(p, i)) {
            *lane = i;
            return 0;
        }
        passed++;
    }
    return -1;
}

void sl_copy_pace_ready(sl_copy_pace *p, size_t lane, int delta)
{
    sl_copy_lane *l = &p->lanes[lane];

    if (delta < 0) {
        l->ready -= l->ready ? 1 : 0;
        return;
    }
    l->ready++;
    activate(p, lane); /* back on the pick list if its range ran out before */
}

void sl_copy_pace_start(sl_copy_pace *p, size_t lane)
{
    sl_copy_lane *l = &p->lanes[lane];

    /* Whether the window is what holds the lane back, as of its latest request. */
    l->limited = ++l->inflight >= sl_copy_pace_window(p, lane);
}

int sl_copy_pace_end(sl_copy_pace *p, size_t lane, sl_copy_pace_outcome outcome,
                     long long started_ms, long long now_ms)
{
    sl_copy_lane *l = &p->lanes[lane];
    size_t flight = l->inflight; /* this request included */

    if (l->inflight)
        l->inflight--;
    if (outcome == SL_PACE_OK) {
        /* Additive increase while the window is what holds the lane back. */
        if (l->limited) {
            l->window += 1.0 / l->window;
            if (l->window > (double)p->max)
                l->window = (double)p->max;
        }
        return 0;
    }
    if (outcome != SL_PACE_SLOWDOWN)
        return 0;
    l->slowdowns++;
    /* Sent before the last cut: it belongs to the burst that cut already counted. */
    if (l->last_cut >= 0 && started_ms <= l->last_cut)
        return 0;
    if ((double)flight < l->window)
        l->window = (double)flight;
    l->window /= 2.0;
    if (l->window < 1.0)
        l->window = 1.0;
    l->last_cut = now_ms;
    l->cuts++;
    return 1;
}
