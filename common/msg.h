/*
 * msg.h - the versioned pipeline messages (JSON through cJSON; pure logic, no I/O).
 *
 * Every message is one JSON object with "v": 1 and "type". Decoding rejects another version
 * (a newer producer must not be half-understood by an older worker) and ignores unknown
 * fields (a newer writer may add some within v1). Timestamps are RFC 3339 UTC strings with
 * milliseconds, "2024-02-29T03:05:00.000Z" (sl_msg_format_time writes them). Counts are JSON
 * numbers holding integers in 0..2^53 (exact in a double). The full field list per type, the
 * topics and keys are in docs/messages.md; in short (each later stage carries all fields of
 * the earlier ones, so any stage can be replayed from its input alone):
 *
 *   snapshot    producer -> export   topic `snapshots`, key = cluster
 *   exported    export   -> copy     topic `exports`,   key = cluster
 *   copied      copy     -> crawl    topic `copies`,    key = cluster
 *   crawled     crawl    -> share    topic `crawls`,    key = cluster
 *   shared      share    (last)     topic `shares`,    key = cluster
 *   failure     any stage            topic `failures`,  key = cluster (or none)
 *   dead_letter any stage/producer   topic `dlq`,       key = the original key
 *
 * One struct, sl_msg, carries every type; fields a type does not use are NULL/0 and are not
 * written. Every string is heap-owned by the struct (set them with strdup/sl_strdup0) and
 * freed by sl_msg_cleanup. Encoding validates exactly what decoding validates, so a message
 * this module wrote always decodes to an equal struct.
 *
 * One header for the module; the code is split by concern: msg.c (the field tables, type names,
 * init/cleanup/copy/equal, timestamps), msg_validate.c (the rules encode and decode share),
 * msg_encode.c and msg_decode.c. msg_fields.h holds the tables for those files only.
 */
#ifndef SL_MSG_H
#define SL_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define SL_MSG_VERSION 1
/* Cap on an encoded message to decode (Kafka's default message.max.bytes is ~1 MB). */
#define SL_MSG_MAX_BYTES ((size_t)1024 * 1024)
/* Largest count value carried exactly (2^53). */
#define SL_MSG_COUNT_MAX 9007199254740992LL

typedef enum sl_msg_type {
    SL_MSG_NONE = 0,
    SL_MSG_SNAPSHOT,
    SL_MSG_EXPORTED,
    SL_MSG_COPIED,
    SL_MSG_CRAWLED,
    SL_MSG_FAILURE,
    SL_MSG_DEAD_LETTER,
    SL_MSG_SHARED /* last so the other types keep their numbers */
} sl_msg_type;

typedef struct sl_msg_table_failure {
    char *table; /* `db/schema.table` */
    char *reason;
} sl_msg_table_failure;

typedef struct sl_msg {
    sl_msg_type type;

    /* Run context: snapshot and every later stage; failure uses run_id/cluster (optional). */
    char *run_id;        /* required (stages); see ids.h */
    char *cluster;       /* required (stages) */
    char *mode;          /* required: "snapshot" | "cluster" */
    char *snapshot_id;   /* "rds:..."; required when mode == "snapshot" */
    char *source_arn;    /* snapshot ARN, or cluster ARN in cluster mode; required */
    char *date;          /* YYYY-MM-DD, required */
    char *snapshot_time; /* RFC 3339; optional (the snapshot's creation time) */
    char *source;        /* required: "event" | "discovery" | "cluster" */
    char *produced_at;   /* RFC 3339; required */

    /* exported and later */
    char *export_task_id;    /* required */
    char *s3_bucket;         /* required */
    char *s3_prefix;         /* required (may be ""): files under <s3_prefix>/<export_task_id>/ */
    char *export_started_at; /* RFC 3339; optional */
    char *export_ended_at;   /* RFC 3339; optional */
    long long export_generation; /* 1.. (ids.h, sl_ids_export_task_id_gen); 0 = absent: a
                                  * message from before generations, generation 1 */

    /* copied and later */
    char *lake_bucket; /* required */
    char *lake_prefix; /* required (may be "") */
    long long objects; /* copied objects, 0..SL_MSG_COUNT_MAX */
    long long bytes;   /* copied bytes */
    long long removed; /* stale objects deleted (partition replacement) */
    long long skipped; /* of `objects`, those already at their destination (not recopied);
                          optional (0 when absent) */
    char **tables;     /* `db/schema.table` copied; ntables entries */
    size_t ntables;
    long long tables_total; /* distinct tables copied; more than ntables when `tables` was cut
                               to keep the message under SL_MSG_MAX_BYTES; optional */
    sl_msg_table_failure *failed_tables; /* from export_tables_info; nfailed_tables entries */
    size_t nfailed_tables;
    long long failed_tables_total; /* likewise for failed_tables; optional */
    char *copied_at;               /* RFC 3339; required */

    /* crawled */
    char *crawler;          /* required unless catalog_mode is "direct" (no crawler ran) */
    char *crawl_started_at; /* RFC 3339; required (direct: when the registration began) */
    char *crawl_status;     /* LastCrawl.Status, e.g. "SUCCEEDED"; required (direct: SUCCEEDED) */
    char *catalog_mode;     /* "crawler" | "direct": who registered the partition; optional
                               (absent = crawler, a message from before direct registration) */
    char *glue_database;    /* Glue database registered into; required when direct */
    char **glue_tables;     /* direct: Glue tables registered, sorted; nglue_tables entries */
    size_t nglue_tables;
    long long glue_tables_total; /* direct: tables registered; more than nglue_tables when the
                                    list was cut to keep the message bounded; optional */

    /* shared (carries the crawled fields; glue_database required): what the share stage did */
    char *shared_at;          /* RFC 3339; required */
    long long share_created;  /* plan counts of the run's first plan: LF-Tags, filters, grants */
    long long share_updated;  /* tags set, tag values added, filters updated */
    long long share_removed;  /* revokes and filter deletes (prune) */
    long long share_drift;    /* drift left alone at the end */
    long long tables_shared;  /* tables shared (tag or filter) */
    long long tables_private; /* tables not shared (private, or no rule) */
    long long share_invitations_accepted; /* consumer side: RAM invitations accepted; optional */
    long long share_links_created;        /* consumer side: resource links created; optional */
    char **shared_tables; /* names of the tables shared, sorted; nshared_tables (capped) */
    size_t nshared_tables;
    char **share_changes; /* the first plan's lines ("+ grant ..."); nshare_changes (capped) */
    size_t nshare_changes;

    /* failure: stage, error_message, failed_at required; the rest optional */
    char *stage;      /* "producer" | "export" | "copy" | "crawl" | "share" ... */
    char *error_code; /* AWS error code or our own (e.g. "ExportFailed") */
    char *error_message;
    char *aws_request_id;
    long long attempt; /* 1-based; 0 = unknown */
    char *failed_at;   /* RFC 3339 */
    char *input_json;  /* the input message's JSON text; embedded as an object when it
                        * parses as JSON, else as a string. Optional. */

    /* dead_letter: reason, topic, payload required; partition/offset may be -1 (unknown) */
    char *reason;
    char *topic; /* source topic ("" for producer input that had none) */
    int32_t partition;
    long long offset;
    unsigned char *key; /* original key bytes, NULL = no key */
    size_t key_len;
    unsigned char *payload; /* original payload bytes (never NULL when set; may be len 0) */
    size_t payload_len;
    /* On the wire each of key/payload is a string when it is valid UTF-8 without NUL bytes,
     * else base64 (EVP_EncodeBlock), with "key_encoding"/"payload_encoding": "utf8"|"base64".
     * Decoding takes base64 only in that canonical form (padding only at the end, zero pad
     * bits), so a corrupt record is refused instead of replayed as other bytes. */
} sl_msg;

/* Zeroes m (partition and offset -1). */
void sl_msg_init(sl_msg *m);

/* Frees every owned field and re-inits m. NULL is a no-op. */
void sl_msg_cleanup(sl_msg *m);

/*
 * Deep copy of src into dst (dst is overwritten without being freed: init or clean it
 * first). Used to build the next stage's message from the input. Returns 0, or -1 with err
 * when memory ran out (dst then holds nothing).
 */
int sl_msg_copy(sl_msg *dst, const sl_msg *src, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Non-zero when a and b hold the same message: same type and equal value in every field
 * (NULL and "" differ; key/payload compared as bytes). Used by tests and fuzzers to check
 * that decode(encode(m)) == m.
 */
int sl_msg_equal(const sl_msg *a, const sl_msg *b);

/* "snapshot", "exported", ... or NULL for an unknown value. */
const char *sl_msg_type_name(sl_msg_type t);

/* The default topic of a type ("snapshots", "exports", ...), NULL for SL_MSG_NONE. */
const char *sl_msg_default_topic(sl_msg_type t);

/*
 * Validates m for its type and writes it as compact JSON: *out is a heap string (free()),
 * *outlen its length (may be NULL). Returns 0, or -1 with err naming the first missing or
 * invalid field (or out of memory).
 */
int sl_msg_encode(const sl_msg *m, char **out, size_t *outlen, char *err,
                  size_t errlen) SL_MUST_CHECK;

/*
 * Decodes len bytes (need not be NUL-terminated, at most SL_MSG_MAX_BYTES). Rejects bytes that
 * are not strict UTF-8 (or hold a NUL, raw or as the escape \u0000), non-JSON, a non-object, a
 * missing or other "v", an unknown "type", and missing or wrongly typed required fields; ignores
 * unknown fields. *out is initialised here and filled only on success (caller then calls
 * sl_msg_cleanup). Returns 0, or -1 with the reason in err (this text goes to the dead-letter
 * topic).
 */
int sl_msg_decode(const char *buf, size_t len, sl_msg *out, char *err, size_t errlen) SL_MUST_CHECK;

/*
 * Writes epoch milliseconds as RFC 3339 UTC with milliseconds ("2024-02-29T03:05:00.000Z")
 * into out (outlen >= 25). Returns 0, or -1 when out is too small or the time is outside
 * years 0..9999.
 */
int sl_msg_format_time(long long epoch_ms, char *out, size_t outlen) SL_MUST_CHECK;

#endif /* SL_MSG_H */
