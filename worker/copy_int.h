/*
 * copy_int.h - what the copy stage's three files share (not an API: only copy.c,
 * copy_xfer.c and copy_replace.c include it).
 *
 *   copy.c          the stage's state machine: LIST, INFO, plan, LOCK .. DELETE by phase, DONE
 *   copy_xfer.c     the copies themselves as units on the stage's xsched (CopyObject,
 *                   multipart CreateMultipartUpload / UploadPartCopy / Complete, and the
 *                   AbortMultipartUpload calls owed), all non-blocking
 *   copy_replace.c  partition replacement: the lock, the newest-wins check, the listing of the
 *                   destination folders (skip and stale sets), DeleteObjects, the holder record
 *
 * Ownership: copy_job is job->state (copy.c allocates it in start and frees it in
 * job_cleanup); copy_ctx is the stage context (init / cleanup). The xsched and its abort
 * queue belong to copy_ctx; each job's queue to the job.
 */
#ifndef SL_COPY_INT_H
#define SL_COPY_INT_H

#include <libpq-fe.h>

#include "config.h"
#include "copy_pace.h"
#include "copy_plan.h"
#include "keymap.h"
#include "s3.h"
#include "stage.h"
#include "xsched.h"

struct sl_worker;

/* Warnings logged one by one (skipped files, failed tables) before only counting them. */
#define CP_MAX_WARN_LINES 20
/* Upper bound of one blocking step's slice (HeadObject of multipart objects). */
#define CP_STEP_SLICE_MS 150

typedef struct copy_cfg {
    char *lake_bucket;
    char *lake_prefix;
    long long concurrency;
    char *kms_key;
    char *lake_owner;
    char *export_owner;
    long long multipart_threshold;
    long long part_size;
    int replace_partition;
    long long object_attempts;
    long long request_timeout_ms;
    long long lock_timeout_ms;
} copy_cfg;

/* Aborts queued (bounded) and in flight at once. */
#define CP_ABORT_QUEUE_MAX 4096
#define CP_ABORT_INFLIGHT 8

/* The stage context: settings, the scheduler every job's requests share, and the
   AbortMultipartUpload calls owed (job_cleanup queues, the abort queue sends). */
typedef struct copy_ctx {
    copy_cfg cfg;
    sl_aws *aws;         /* borrowed from the worker */
    struct sl_worker *w; /* borrowed: the worker, for its metrics */
    sl_xsched *xs;
    sl_copy_abortq aborts;
    sl_xsched_queue *abortq;
    sl_copy_abort asent[CP_ABORT_INFLIGHT]; /* popped and being sent; key NULL = free */
} copy_ctx;

typedef enum cp_phase {
    CP_LIST,
    CP_INFO,
    CP_LOCK,
    CP_DEST_LIST,
    CP_DEST_HEAD,
    CP_COPY,
    CP_DELETE
} cp_phase;

/* A source object as listed. */
typedef struct cp_src {
    long long size;
    char etag[80];
} cp_src;

/* A multipart copy in progress. */
typedef struct cp_mpu {
    char *upload_id; /* NULL until CreateMultipartUpload answered */
    sl_s3_part_range *ranges;
    size_t nparts;
    size_t next;    /* parts handed out (first time) */
    size_t ndone;   /* parts finished */
    int completing; /* CompleteMultipartUpload handed out */
    char **etags;   /* nparts entries */
} cp_mpu;

typedef struct cp_obj {
    long long size;
    int attempts; /* whole-multipart attempts made (a failed completion redoes the object) */
    int done;
    cp_mpu *mpu; /* NULL unless a multipart copy is under way */
} cp_obj;

/* The one request a step has on its way (listings, DeleteObjects): copy_xfer.c's call. */
typedef enum cp_call_state {
    CALL_IDLE = 0,
    CALL_WANT,
    CALL_INFLIGHT,
    CALL_DONE,
    CALL_FAILED
} cp_call_state;

typedef struct copy_job {
    cp_phase phase;
    sl_job *job; /* back pointer for the scheduler's callbacks */
    copy_ctx *cx;
    char *root;        /* <s3_prefix>/<export_task_id> */
    char *list_prefix; /* root + "/" */
    char *token;       /* continuation token of the listing in progress */
    long long t0;      /* monotonic start */

    /* LIST / INFO */
    sl_keymap_entry *entries; /* PARQUET entries only */
    cp_src *srcs;             /* parallel to entries */
    size_t nentries, capentries;
    char **info_keys;
    size_t ninfo, capinfo, info_next;
    sl_msg_table_failure *failed;
    size_t nfailed;
    size_t nskipped; /* SL_KEY_OTHER */
    size_t nlisted;

    /* A step's own request, one at a time, on a queue of its own (copy_xfer.c) */
    sl_xsched_queue *cq;
    cp_call_state call_state;
    sl_s3_req call_req;
    char *call_body; /* the answer's body (heap) once CALL_DONE */
    size_t call_len;
    sl_aws_error call_err; /* once CALL_FAILED */

    /* COPY (copy_xfer.c) */
    sl_xsched_queue *q;
    cp_obj *objs; /* parallel to entries */
    size_t nobjs, objs_done;
    long long bytes_done;
    size_t *mpu_ready; /* objects with parts to hand out or a completion to send */
    size_t nmpu_ready, capmpu;
    int failed_result; /* SL_STEP_* set by a callback that ended the job, else 0 */
    long long last_progress;
    long long copy_ms;
    long long nretries;   /* transient failures retried (summary line) */
    size_t nskipped_dest; /* already at their destination (restart), not recopied */
    /* Pacing per destination prefix (copy_xfer.c, copy_pace.h): a lane per table's date=
       folder, built when COPY begins; window cuts logged one by one up to CP_MAX_WARN_LINES. */
    sl_copy_pace pace;
    size_t ncuts_logged;

    /* LOCK: the partition's replacement lock, on a connection of the job's own */
    PGconn *pg;
    int32_t lock_key;
    int locked;
    long long lock_deadline;
    int lock_logged;
    long long snap_ms; /* sl_copy_plan_snap_time of the input */

    /* DEST_LIST / DELETE */
    char **prefixes;
    size_t nprefixes, prefix_i;
    sl_copy_destset dests;
    char **stale;
    unsigned char *stale_tries; /* DeleteObjects attempts per stale key */
    size_t *heads;              /* multipart objects whose marker is to be read (HeadObject) */
    size_t nheads, capheads, head_next;
    size_t nstale, capstale, captries, stale_next;
    long long removed;
} copy_job;

/* Array growth by doubling (copy.c): p, or a larger block with *cap updated, or NULL when
   memory ran out (p is then untouched and still the caller's). need >= 1. */
void *sl_copy_grow(void *p, size_t *cap, size_t need, size_t elem);

/* A transient failure of the job (the runtime backs off and starts it again). */
sl_step_result sl_copy_job_retry(sl_job *job, const char *code, const char *fmt, ...)
    SL_PRINTF(3, 4);

/* An object is at its destination (copied or found there). */
void sl_copy_object_done(copy_job *cj, cp_obj *o);

/* ---- copy_xfer.c ---- */

/* The job's queue on cx->xs (at the start of COPY). 0, or -1 (out of memory). */
int sl_copy_xfer_begin(copy_ctx *cx, copy_job *cj);
/* One step of COPY: PENDING while copies run (next_step_ms set), DONE when every object is
   in place, or the failure a callback recorded. */
sl_step_result sl_copy_xfer_step(copy_job *cj);
/* Cancels the job's requests and queues the aborts of its open uploads. */
void sl_copy_xfer_cleanup(copy_ctx *cx, copy_job *cj);
void sl_copy_mpu_free(cp_mpu *m);
/* The stage's abort queue on cx->xs. 0 or -1. */
int sl_copy_aborts_init(copy_ctx *cx);
void sl_copy_aborts_cleanup(copy_ctx *cx);
/* Aborts queued or being sent. */
size_t sl_copy_aborts_owed(const copy_ctx *cx);

/* The step's queue for single requests (at start). 0 or -1 (out of memory). */
int sl_copy_call_init(copy_ctx *cx, copy_job *cj);
/* Cancels the call in flight and frees the queue (job cleanup). */
void sl_copy_call_cleanup(copy_job *cj);
/*
 * One ListObjectsV2 page without blocking: the first call sends it and returns 1 (the step
 * returns PENDING; the answer brings next_step_ms forward), a later call returns 0 with *page
 * (sl_s3_list_page_cleanup) or -1 with e, and the call is over. Same for DeleteObjects (its
 * per-key failures as sl_s3_delete_objects gives them; the keys are read when it is sent).
 */
int sl_copy_list_page(copy_job *cj, const char *bucket, const sl_s3_list_opts *lo,
                      sl_s3_list_page *page, sl_aws_error *e);
int sl_copy_delete_call(copy_job *cj, const char *bucket, const char *const *keys, size_t n,
                        const char *owner, sl_s3_delete_failure **f, size_t *nf, sl_aws_error *e);

/* ---- copy_replace.c ---- */

sl_step_result sl_copy_lock_step(struct sl_worker *w, copy_job *cj);
sl_step_result sl_copy_dest_list_step(const copy_cfg *cfg, copy_job *cj);
sl_step_result sl_copy_dest_head_step(sl_aws *aws, const copy_cfg *cfg, copy_job *cj);
sl_step_result sl_copy_check_lock(copy_job *cj);
sl_step_result sl_copy_delete_step(const copy_cfg *cfg, copy_job *cj);
sl_step_result sl_copy_record_holder(copy_job *cj);
/* Releases the lock and closes the job's connection. */
void sl_copy_replace_cleanup(copy_job *cj);

#endif /* SL_COPY_INT_H */
