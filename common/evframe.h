/*
 * evframe.h - splits the producer's event input into one frame per event (pure logic, no I/O).
 *
 * The producer's event mode reads EventBridge events from stdin or a file in any of three
 * shapes, and must work on a long-running pipe, so framing is incremental: bytes are fed as
 * they arrive and each event is handed out as soon as it is complete, never waiting for EOF.
 *
 *   JSON lines    one event per line; blank lines skipped. A line is one frame whatever it
 *                 holds, so a malformed line costs only itself (`{"a": 1` does not swallow
 *                 the lines after it).
 *   pretty JSON   an object whose first line is `{` alone (jq, json.dumps(indent=..), the
 *                 AWS console) spans lines; it ends where its braces balance. Several such
 *                 objects may follow each other.
 *   JSON array    `[ev, ev, ...]`, compact or pretty: each element is one frame.
 * The shape is decided per top-level value by its first bytes, so the shapes may be mixed.
 *
 * Brace counting skips string contents (with escapes). A raw newline inside a string can
 * never be valid JSON, so it ends the frame there: an unclosed quote costs one frame, not
 * the rest of the input.
 *
 * Frames are at most max_frame bytes. A longer one is not fatal: its first max_frame bytes
 * are kept, the rest is counted and skipped up to where the frame ends, and the frame is
 * handed out flagged `oversize` with its full length, for the dead-letter topic. Memory is
 * thus bounded by max_frame whatever the input.
 *
 * Frames are handed out trimmed of surrounding blanks (space, tab, CR, LF, FF, VT; an oversize
 * frame only in front). A frame is *not* validated as JSON here: sl_event_parse does that and
 * gives the reason.
 */
#ifndef SL_EVFRAME_H
#define SL_EVFRAME_H

#include <stddef.h>

#include "util.h"

/* Default cap on one frame: 1 MiB (an EventBridge entry is at most 256 KiB). */
#define SL_EVFRAME_DEFAULT_MAX ((size_t)1024 * 1024)
/* Smallest accepted cap. */
#define SL_EVFRAME_MIN_MAX ((size_t)16)

/* One frame. data points into the framer and stays valid until the next call on it. */
typedef struct sl_evframe_item {
    const char *data;   /* the frame's bytes (not NUL-terminated); may be empty when reason set */
    size_t len;         /* bytes at data (<= max_frame) */
    size_t total;       /* the frame's full length; > len only when oversize */
    int oversize;       /* non-zero: longer than max_frame, only the first len bytes kept */
    const char *reason; /* NULL, or a framing problem without a frame of its own
                         * ("unterminated JSON array at end of input"); static string */
    unsigned long long line;  /* 1-based input line the frame starts on */
    unsigned long long index; /* 1-based number of this frame */
} sl_evframe_item;

typedef struct sl_evframe sl_evframe;

/*
 * Creates a framer with a cap of max_frame bytes per frame (0 = SL_EVFRAME_DEFAULT_MAX;
 * smaller than SL_EVFRAME_MIN_MAX is raised to it). Returns NULL when memory ran out. Free
 * with sl_evframe_free.
 */
sl_evframe *sl_evframe_new(size_t max_frame);

/* Frees the framer. NULL is a no-op. */
void sl_evframe_free(sl_evframe *f);

/*
 * Hands the next len bytes of input to the framer. buf is borrowed, not copied: it must stay
 * valid and unchanged until sl_evframe_next returns 0. Call sl_evframe_next until it returns 0
 * before feeding again (feeding while input is still pending is a programming error and
 * returns -1, as does feeding after sl_evframe_finish). Returns 0 or -1.
 */
int sl_evframe_feed(sl_evframe *f, const char *buf, size_t len) SL_MUST_CHECK;

/* Marks the end of input: the next sl_evframe_next calls hand out what is still open. */
void sl_evframe_finish(sl_evframe *f);

/*
 * Returns 1 with *out set to the next complete frame, or 0 when the fed input is used up
 * (feed more, or after sl_evframe_finish: nothing is left). Returns -1 only when memory ran
 * out growing the frame buffer (the frame is lost; the framer resynchronises at the next
 * line). Never reads past what was fed.
 */
int sl_evframe_next(sl_evframe *f, sl_evframe_item *out) SL_MUST_CHECK;

/* Bytes of an incomplete frame held so far (0 between frames): what a stop would leave
 * unhandled, for the log. */
size_t sl_evframe_pending(const sl_evframe *f);

/* Input lines seen so far (newlines + 1 once anything was fed). */
unsigned long long sl_evframe_lines(const sl_evframe *f);

#endif /* SL_EVFRAME_H */
