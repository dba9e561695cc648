/* fuzz_evframe.c - the producer's input framer. Invariants: never crashes or reads past the
 * input; the frames do not depend on how the input was split into reads (whole, byte by byte,
 * or in chunks of a size taken from the input); a kept frame is at most the cap, non-empty,
 * trimmed, and lies in the input; oversize exactly when the full length passed the cap;
 * frame numbers count up by one and start lines never go back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evframe.h"

#define CAP 64
#define MAXFRAMES 4096

typedef struct rec {
    size_t len, total;
    int oversize;
    const char *reason;
    unsigned long long line, index;
    char data[CAP];
} rec;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

/* Non-zero when needle[0..n) occurs in hay[0..size) (memmem is a GNU extension). */
static int contains(const char *hay, size_t size, const char *needle, size_t n)
{
    for (size_t i = 0; n <= size && i <= size - n; i++)
        if (memcmp(hay + i, needle, n) == 0)
            return 1;
    return 0;
}

/* Frames the input in chunks of `chunk` bytes into out; returns the count. */
static size_t run(const char *in, size_t size, size_t chunk, rec *out)
{
    sl_evframe *f = sl_evframe_new(CAP);
    sl_evframe_item it;
    size_t pos = 0, n = 0;
    int r, done = 0;

    if (!f)
        abort();
    while (!done) {
        if (pos < size) {
            size_t k = size - pos < chunk ? size - pos : chunk;
            if (sl_evframe_feed(f, in + pos, k))
                abort();
            pos += k;
        } else {
            sl_evframe_finish(f);
            done = 1;
        }
        while ((r = sl_evframe_next(f, &it)) == 1) {
            if (n == MAXFRAMES || it.len > CAP)
                abort();
            out[n].len = it.len;
            out[n].total = it.total;
            out[n].oversize = it.oversize;
            out[n].reason = it.reason;
            out[n].line = it.line;
            out[n].index = it.index;
            memcpy(out[n].data, it.data, it.len);
            n++;
        }
        if (r < 0)
            abort(); /* no allocation failure expected at this size */
    }
    sl_evframe_free(f);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static rec a[MAXFRAMES], b[MAXFRAMES];
    const char *in = (const char *)data;
    size_t na, nb, chunk = size ? (size_t)(data[0] % 13) + 1 : 1;

    if (size > MAXFRAMES)
        return 0;
    na = run(in, size, size ? size : 1, a);
    for (int pass = 0; pass < 2; pass++) {
        nb = run(in, size, pass ? chunk : 1, b);
        if (nb != na)
            abort();
        for (size_t i = 0; i < na; i++)
            if (a[i].len != b[i].len || a[i].total != b[i].total ||
                a[i].oversize != b[i].oversize || a[i].line != b[i].line ||
                a[i].index != b[i].index || (a[i].reason == NULL) != (b[i].reason == NULL) ||
                memcmp(a[i].data, b[i].data, a[i].len) != 0)
                abort();
    }
    for (size_t i = 0; i < na; i++) {
        const rec *r = &a[i];
        if (r->index != i + 1 || (i && r->line < a[i - 1].line) || r->line == 0)
            abort();
        if (r->reason) {
            if (r->len != 0 || i + 1 != na)
                abort();
            continue;
        }
        if (r->oversize != (r->total > r->len) || (r->oversize && r->len != CAP))
            abort();
        if (r->total > size)
            abort();
        if (!r->oversize) {
            if (r->len == 0 || blank(r->data[0]) || blank(r->data[r->len - 1]))
                abort();
            if (!contains(in, size, r->data, r->len))
                abort();
        }
    }
    return 0;
}
