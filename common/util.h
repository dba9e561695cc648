/*
 * util.h - the few helpers every module shares: the error-buffer convention, attribute
 * macros and a growable byte buffer.
 *
 * Error convention (curl's failf, librdkafka's errstr): a fallible function returns 0 on
 * success and non-zero on failure, and on failure writes one human-readable line into a
 * caller-owned buffer `err` of `errlen` bytes (SL_ERRLEN is a good size). The line names the
 * operation and carries the underlying library's own text.
 */
#ifndef SL_UTIL_H
#define SL_UTIL_H

#include <stddef.h>
#include <stdarg.h>

#define SL_ERRLEN 512

#if defined(__GNUC__)
#define SL_MUST_CHECK __attribute__((warn_unused_result))
#define SL_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define SL_SENTINEL __attribute__((sentinel)) /* variadic list must end with NULL */
#else
#define SL_MUST_CHECK
#define SL_PRINTF(fmt, args)
#define SL_SENTINEL
#endif

#define SL_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* Formats into err (if non-NULL) and returns -1, so callers can `return sl_seterr(...)`. */
int sl_seterr(char *err, size_t errlen, const char *fmt, ...) SL_PRINTF(3, 4);

/* Appends `more` (if not empty) to the NUL-terminated err as a new line: how a config check
 * reports every error at once. Cut to errlen. */
void sl_err_append(char *err, size_t errlen, const char *more);

/*
 * sl_buf: a growable, always NUL-terminated byte buffer with a hard cap, for data whose size
 * comes from outside (HTTP bodies, files). Embedded: sl_buf_init / sl_buf_cleanup.
 */
typedef struct sl_buf {
    char *data;   /* owned; NUL-terminated once anything was appended */
    size_t len;   /* bytes used, not counting the NUL */
    size_t cap;   /* bytes allocated */
    size_t limit; /* appends that would pass this many bytes fail; 0 = SL_BUF_DEFAULT_LIMIT */
} sl_buf;

#define SL_BUF_DEFAULT_LIMIT ((size_t)64 * 1024 * 1024)

void sl_buf_init(sl_buf *b, size_t limit);
void sl_buf_cleanup(sl_buf *b);
/* Returns 0, or -1 when the limit would be passed or memory ran out (buffer unchanged). */
int sl_buf_append(sl_buf *b, const void *p, size_t n) SL_MUST_CHECK;
int sl_buf_appendf(sl_buf *b, const char *fmt, ...) SL_PRINTF(2, 3) SL_MUST_CHECK;
/* Hands the data to the caller (free() it) and resets b. Never NULL: "" for an empty buffer. */
char *sl_buf_steal(sl_buf *b);

/* strdup that returns NULL for NULL. */
char *sl_strdup0(const char *s);

/* The value of one hex digit (either case), or -1 for anything else (a %XX decoder's half). */
int sl_hexval(int c);

/* Wall clock in milliseconds (CLOCK_REALTIME), monotonic milliseconds and microseconds. */
long long sl_now_ms(void);
long long sl_mono_ms(void);
long long sl_mono_us(void);

/*
 * Parses an RFC 3339 / ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SS[.fff...](Z|+00:00)" into epoch
 * milliseconds (fraction truncated to ms). Returns 0, or -1 for anything else (other offsets
 * included: every AWS API and snaplake message uses UTC).
 */
int sl_time_parse_ms(const char *s, long long *out) SL_MUST_CHECK;

/* Random 64-bit value from OpenSSL's CSPRNG (jitter, ids). Falls back to time-seeded on error. */
unsigned long long sl_random_u64(void);

/*
 * Raises this process's soft limit on open files (RLIMIT_NOFILE) to its hard limit, at most
 * SL_NOFILE_MAX, as servers do at start: a container's soft limit is often 1,024 whatever its
 * hard limit, and each request in flight is a socket. Never lowers it. Returns the soft limit
 * in effect after (SL_NOFILE_MAX for an unlimited one), or -1 if it cannot be read.
 */
#define SL_NOFILE_MAX 1048576
long long sl_nofile_raise(void);

#endif /* SL_UTIL_H */
