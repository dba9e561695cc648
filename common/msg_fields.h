/*
 * msg_fields.h - private to common/msg*.c: the field tables of msg.c and the rules that
 * msg_encode.c and msg_decode.c share (msg_validate.c). Code outside the module includes msg.h
 * only. The accessors read and write a field of sl_msg through its table offset.
 */
#ifndef SL_MSG_FIELDS_H
#define SL_MSG_FIELDS_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "msg.h"

/* Field tables: which types carry a field, and which require it. Bit t = type t. */
#define B_S (1u << SL_MSG_SNAPSHOT)
#define B_E (1u << SL_MSG_EXPORTED)
#define B_C (1u << SL_MSG_COPIED)
#define B_W (1u << SL_MSG_CRAWLED)
#define B_F (1u << SL_MSG_FAILURE)
#define B_D (1u << SL_MSG_DEAD_LETTER)
#define B_H (1u << SL_MSG_SHARED)
#define RUN (B_S | B_E | B_C | B_W | B_H) /* every later stage carries the earlier ones' fields */
#define EXP (B_E | B_C | B_W | B_H)
#define COP (B_C | B_W | B_H)
#define CRW (B_W | B_H)

/* An embedded input message deeper than this is carried as a string: re-embedding it
 * inside our own object must never push the whole past cJSON's nesting limit. */
#define INPUT_MAX_DEPTH 64

/* String fields (char *). */
typedef struct sl_msg_sfield {
    const char *name;
    size_t off;
    unsigned present;  /* types that write/read it */
    unsigned required; /* types that must have it */
} sl_msg_sfield;

/* Count fields (long long), with their minimum. */
typedef struct sl_msg_nfield {
    const char *name;
    size_t off; /* long long */
    unsigned present, required;
    long long min;
} sl_msg_nfield;

/* The string lists of the shared message (optional arrays of strings). */
typedef struct sl_msg_afield {
    const char *name;
    size_t off, noff; /* char ** and its size_t count */
} sl_msg_afield;

extern const sl_msg_sfield sl_msg_sfields[];
extern const size_t sl_msg_nsfields;
extern const sl_msg_nfield sl_msg_nfields[];
extern const size_t sl_msg_nnfields;
extern const sl_msg_afield sl_msg_afields[];
extern const size_t sl_msg_nafields;

/* "snapshot", "exported", ... indexed by sl_msg_type (NULL for SL_MSG_NONE). */
extern const char *const sl_msg_type_names[];

static inline char ***ap_(sl_msg *m, const sl_msg_afield *a)
{
    return (char ***)(void *)((char *)m + a->off);
}
static inline size_t *an_(sl_msg *m, const sl_msg_afield *a)
{
    return (size_t *)(void *)((char *)m + a->noff);
}
static inline char *const *cap_(const sl_msg *m, const sl_msg_afield *a)
{
    return *(char *const *const *)(const void *)((const char *)m + a->off);
}
static inline size_t can_(const sl_msg *m, const sl_msg_afield *a)
{
    return *(const size_t *)(const void *)((const char *)m + a->noff);
}

static inline char **sp(sl_msg *m, size_t off)
{
    return (char **)(void *)((char *)m + off);
}
static inline char *const *csp(const sl_msg *m, size_t off)
{
    return (char *const *)(const void *)((const char *)m + off);
}
static inline long long *np(sl_msg *m, size_t off)
{
    return (long long *)(void *)((char *)m + off);
}
static inline const long long *cnp(const sl_msg *m, size_t off)
{
    return (const long long *)(const void *)((const char *)m + off);
}

/* Checks m against the rules of its type (msg.h, docs/messages.md). 0, or -1 with err naming the
   first missing or invalid field. */
int sl_msg_validate(const sl_msg *m, char *err, size_t errlen) SL_MUST_CHECK;

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF) without NUL bytes: 1, else 0.
 */
int sl_msg_utf8_ok(const unsigned char *s, size_t n);

/* Nesting depth of j, counted no further than limit + 1. */
int sl_msg_json_depth(const cJSON *j, int limit);

/* A malloc'd copy of n bytes (at least one byte allocated), NULL on out of memory. */
unsigned char *sl_msg_dupbytes(const unsigned char *p, size_t n);

#endif /* SL_MSG_FIELDS_H */
