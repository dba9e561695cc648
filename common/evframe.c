/* evframe.c - see evframe.h. A byte-at-a-time state machine; the only allocation is the
 * frame buffer, grown by doubling up to max_frame. */
#include "evframe.h"

#include <stdlib.h>
#include <string.h>

#define INITIAL_CAP 4096

typedef enum ev_state {
    ST_TOP,   /* between top-level values */
    ST_ARRAY, /* inside a top-level array, between elements */
    ST_FRAME, /* inside a frame (kind says which) */
    ST_SKIP   /* dropping the rest of a line after a lost frame (out of memory) */
} ev_state;

typedef enum ev_kind {
    FK_LINE,  /* ends at the newline */
    FK_OPEN,  /* `{` and only blanks so far on its line: a newline makes it FK_MULTI */
    FK_MULTI, /* pretty object: ends where its braces balance */
    FK_ELEM   /* array element: ends where it balances, or before `,`/`]` at depth 0 */
} ev_kind;

/* What one byte did. */
enum { B_CONSUMED, B_FRAME_INCL, B_FRAME_EXCL };

struct sl_evframe {
    size_t max;
    char *buf;
    size_t len, cap, total;
    int oversize;
    ev_state state;
    ev_state after; /* state to return to when the frame ends (TOP or ARRAY) */
    ev_kind kind;
    int depth, in_str, esc;
    const char *in;
    size_t inlen, inpos;
    int eof;
    int array_reported; /* the unterminated-array notice was handed out */
    int emitted;        /* the last call handed out the frame: reset it on the next call */
    unsigned long long line, frame_line, index;
};

static int blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

sl_evframe *sl_evframe_new(size_t max_frame)
{
    sl_evframe *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    if (max_frame == 0)
        max_frame = SL_EVFRAME_DEFAULT_MAX;
    if (max_frame < SL_EVFRAME_MIN_MAX)
        max_frame = SL_EVFRAME_MIN_MAX;
    f->max = max_frame;
    f->state = ST_TOP;
    f->line = 1;
    return f;
}

void sl_evframe_free(sl_evframe *f)
{
    if (!f)
        return;
    free(f->buf);
    free(f);
}

int sl_evframe_feed(sl_evframe *f, const char *buf, size_t len)
{
    if (f->eof || f->inpos < f->inlen || (!buf && len))
        return -1;
    f->in = buf;
    f->inlen = len;
    f->inpos = 0;
    return 0;
}

void sl_evframe_finish(sl_evframe *f)
{
    f->eof = 1;
}

size_t sl_evframe_pending(const sl_evframe *f)
{
    return f->state == ST_FRAME && !f->emitted ? f->total : 0;
}

unsigned long long sl_evframe_lines(const sl_evframe *f)
{
    return f->line;
}

static void frame_reset(sl_evframe *f)
{
    f->len = f->total = 0;
    f->oversize = 0;
    f->depth = f->in_str = f->esc = 0;
}

/* Appends one byte, keeping at most max (the rest is only counted). 0, or -1 out of memory. */
static int put(sl_evframe *f, char c)
{
    f->total++;
    if (f->len >= f->max) {
        f->oversize = 1;
        return 0;
    }
    if (f->len == f->cap) {
        size_t ncap = f->cap ? f->cap * 2 : INITIAL_CAP;
        char *nb;
        if (ncap > f->max)
            ncap = f->max;
        nb = realloc(f->buf, ncap);
        if (!nb)
            return -1;
        f->buf = nb;
        f->cap = ncap;
    }
    f->buf[f->len++] = c;
    return 0;
}

static int frame_start(sl_evframe *f, char c, ev_kind kind, ev_state after)
{
    frame_reset(f);
    f->state = ST_FRAME;
    f->after = after;
    f->kind = kind;
    f->frame_line = f->line;
    return put(f, c);
}

/* String and bracket tracking shared by FK_MULTI and FK_ELEM. Returns 1 when c closed the
 * outermost bracket, 0 otherwise; *bad_nl set when c is a raw newline inside a string. */
static int track(sl_evframe *f, char c, int *bad_nl)
{
    *bad_nl = 0;
    if (f->in_str) {
        if (f->esc)
            f->esc = 0;
        else if (c == '\\')
            f->esc = 1;
        else if (c == '"')
            f->in_str = 0;
        else if (c == '\n')
            *bad_nl = 1;
        return 0;
    }
    if (c == '"') {
        f->in_str = 1;
    } else if (c == '{' || c == '[') {
        f->depth++;
    } else if ((c == '}' || c == ']') && f->depth > 0) {
        f->depth--;
        return f->depth == 0;
    }
    return 0;
}

/* Feeds one byte to the state machine. Returns B_CONSUMED, B_FRAME_INCL (c consumed, frame
 * complete) or B_FRAME_EXCL (frame complete before c; c not consumed), or -1 out of memory. */
static int step(sl_evframe *f, char c)
{
    int bad_nl;

    switch (f->state) {
    case ST_SKIP:
        if (c == '\n')
            f->state = ST_TOP;
        return B_CONSUMED;
    case ST_TOP:
        if (blank(c))
            return B_CONSUMED;
        if (c == '[') {
            f->state = ST_ARRAY;
            f->array_reported = 0;
            return B_CONSUMED;
        }
        if (frame_start(f, c, c == '{' ? FK_OPEN : FK_LINE, ST_TOP))
            return -1;
        if (c == '{')
            f->depth = 1;
        return B_CONSUMED;
    case ST_ARRAY:
        if (blank(c) || c == ',')
            return B_CONSUMED;
        if (c == ']') {
            f->state = ST_TOP;
            return B_CONSUMED;
        }
        if (frame_start(f, c, FK_ELEM, ST_ARRAY))
            return -1;
        if (c == '{' || c == '[')
            f->depth = 1;
        else if (c == '"')
            f->in_str = 1;
        return B_CONSUMED;
    case ST_FRAME:
        break;
    }

    switch (f->kind) {
    case FK_OPEN:
        if (c == '\n') {
            f->kind = FK_MULTI;
            return put(f, c) ? -1 : B_CONSUMED;
        }
        if (!blank(c))
            f->kind = FK_LINE;
        return put(f, c) ? -1 : B_CONSUMED;
    case FK_LINE:
        if (c == '\n')
            return B_FRAME_EXCL;
        return put(f, c) ? -1 : B_CONSUMED;
    case FK_MULTI:
        if (track(f, c, &bad_nl))
            return put(f, c) ? -1 : B_FRAME_INCL;
        if (bad_nl)
            return B_FRAME_EXCL;
        return put(f, c) ? -1 : B_CONSUMED;
    case FK_ELEM:
        /* A `,` or `]` outside any bracket ends a scalar (or junk) element. */
        if (!f->in_str && f->depth == 0 && (c == ',' || c == ']'))
            return B_FRAME_EXCL;
        if (track(f, c, &bad_nl))
            return put(f, c) ? -1 : B_FRAME_INCL;
        if (bad_nl)
            return B_FRAME_EXCL;
        return put(f, c) ? -1 : B_CONSUMED;
    }
    return B_CONSUMED;
}

static void emit(sl_evframe *f, sl_evframe_item *out)
{
    size_t n = f->len;

    /* An oversize frame keeps exactly its first max bytes, blanks included: the dead letter
     * shows the input as it was. */
    while (!f->oversize && n > 0 && blank(f->buf[n - 1]))
        n--;
    memset(out, 0, sizeof(*out));
    out->data = f->buf ? f->buf : "";
    out->len = n;
    out->total = f->oversize ? f->total : n;
    out->oversize = f->oversize;
    out->line = f->frame_line;
    out->index = ++f->index;
    f->state = f->after;
    f->emitted = 1;
}

int sl_evframe_next(sl_evframe *f, sl_evframe_item *out)
{
    if (f->emitted) {
        frame_reset(f);
        f->emitted = 0;
    }
    while (f->inpos < f->inlen) {
        char c = f->in[f->inpos];
        int r = step(f, c);

        if (r < 0) {
            /* The frame is lost; drop the rest of its line and start afresh. */
            f->inpos++;
            if (c == '\n')
                f->line++;
            frame_reset(f);
            f->state = c == '\n' ? ST_TOP : ST_SKIP;
            return -1;
        }
        if (r != B_FRAME_EXCL) {
            f->inpos++;
            if (c == '\n')
                f->line++;
        }
        if (r != B_CONSUMED) {
            emit(f, out);
            return 1;
        }
    }
    if (!f->eof)
        return 0;
    if (f->state == ST_FRAME) {
        emit(f, out);
        return 1;
    }
    if (f->state == ST_ARRAY && !f->array_reported) {
        f->array_reported = 1;
        memset(out, 0, sizeof(*out));
        out->data = "";
        out->reason = "unterminated JSON array at end of input";
        out->line = f->line;
        out->index = ++f->index;
        return 1;
    }
    return 0;
}
