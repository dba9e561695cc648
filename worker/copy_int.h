/*
 * copy_int.h - what the copy stage's files share (not an API: only worker/copy*.c include
 * it).
 *
 *   copy.c          the stage's state machine (INFO, the stream of tables, DELETE, DONE)
 *   copy_xfer.c     the copies themselves as units on the stage's xsched (CopyObject,
 *                   multipart CreateMultipartUpload / UploadPartCopy / Complete, and the
 *                   AbortMultipartUpload calls owed), all non-blocking
 *   copy_out.c      the `copied` message: the bounded draft, the final message
 *   copy_table.c    the tables of the stream: one table's files as listed, its plan, its state
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
/* Cap on the tables the `copied` message lists (tables_total is always whole). */
#define MSG_MAX_TABLES 2000
/* Progress line interval while copying. */
#define CP_PROGRESS_MS 10000

typedef struct copy_cfg {
    char *lake_bucket;
    char *lake_prefix;
    long long concurrency;     /* requests in flight per export, at most */
    long long concurrency_min; /* and at least (xsched's sized queue between the two) */
    char *kms_key;
    char *lake_owner;
    char *export_owner;
    long long multipart_threshold;
    long long part_size;
    int replace_partition;
    long long object_attempts;
    long long request_timeout_ms;
    long long lock_timeout_ms;
    long long plan_ahead;
    long long list_concurrency;
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
    CP_INFO_LIST, /* ListObjectsV2 of <root>/ with delimiter /: the info files, the folders */
    CP_INFO,      /* GetObject of each, then the draft of `copied` */
    CP_STREAM,    /* the export listing, each table's plan and folder listing, the copies */
    CP_DELETE     /* DeleteObjects of the stale set, then the holder record */
} cp_phase;

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

/* One data file to copy: 48 bytes, its strings in its table's arena. */
typedef struct cp_obj {
    const char *src; /* source key */
    /* Destination key, when it is not the table's dest_dir + the source's file name: the
       name the collision plan gave it (in the arena). Otherwise NULL once the table is
       T_READY: the key is made when a request needs it (sl_copy_obj_dest), which spares a
       second ~90-byte string an object. While T_DEST it is set for every object (in
       darena, or the arena when kept), for the destination set and the HeadObject calls. */
    const char *dest;
    const char *etag; /* as listed, with its quotes */
    long long size;
    cp_mpu *mpu; /* NULL unless a multipart copy is under way */
    unsigned char done;
    unsigned char kept; /* dest is kept past T_DEST: a plan's name, or too long for CP_KEY_BUF */
} cp_obj;

/* Room for a destination key made when a request needs it; a longer one is kept. */
#define CP_KEY_BUF (2 * SL_KEYMAP_KEY_MAX + 2)

/*
 * Where a table is in the stream (copy_table.c's sl_copy_table_state is the one place that
 * moves it):
 *   T_LISTING  its folder is being listed (by one of the job's listers, copy.c)
 *   T_DEST     planned; its destination `date=` folder is being listed, on a request queue of
 *              its own (then the HeadObject of its multipart objects found there)
 *   T_READY    its copies are handed out to the scheduler; freed once every object is done
 */
typedef enum cp_tstate { T_LISTING, T_DEST, T_READY } cp_tstate;

/* The one request a step has on its way (listings, DeleteObjects): copy_xfer.c's call. */
typedef enum cp_call_state {
    CALL_IDLE = 0,
    CALL_WANT,
    CALL_INFLIGHT,
    CALL_DONE,
    CALL_FAILED
} cp_call_state;

struct copy_job;

/* A request of its own queue, one at a time: the folder listings of the export, each lister's
   and each planned table's listing, the DeleteObjects calls. */
typedef struct cp_call {
    struct copy_job *cj;
    sl_xsched_queue *q;
    cp_call_state state;
    sl_s3_req req;
    char *body; /* the answer's body (heap) once CALL_DONE */
    size_t len;
    int head;             /* a HeadObject: its answer's headers are read into hr */
    sl_s3_head_result hr; /* once CALL_DONE, when head */
    sl_aws_error err;     /* once CALL_FAILED */
} cp_call;

#define CP_NO_LANE ((size_t)-1)

typedef struct cp_table {
    cp_tstate state;
    uint32_t slot;        /* index in copy_job.tabs (a unit names its table by slot) */
    size_t lane;          /* its pacing lane once T_READY (copy_xfer.c), else CP_NO_LANE */
    const char *name;     /* db/schema.table, in the arena */
    const char *db;       /* in the arena */
    const char *table;    /* schema.table, in the arena */
    const char *dest_dir; /* [lake/]cluster/db/table/date=d/: the destination prefix */
    int failed;           /* export_tables_info says it did not complete: files not kept */
    sl_copy_arena arena;  /* every string of the table, but the plain destinations */
    sl_copy_arena darena; /* T_DEST: the plain destinations (cp_obj.dest), freed at T_READY */
    cp_obj *objs;
    size_t nobjs, capobjs;
    const char **parts; /* T_LISTING only: each object's partition folder (NULL = none) */
    size_t capparts;
    size_t ndone;
    /* T_DEST */
    sl_copy_destset dests; /* the objects' destinations (strings borrowed from the arena) */
    cp_call dcall;         /* the listing of dest_dir (queue made as the table is planned) */
    char *dtoken;          /* its continuation token */
    int listed;            /* the folder's listing is over */
    size_t *heads;         /* multipart objects whose marker is to be read (HeadObject) */
    size_t nheads, capheads, head_next;
    struct cp_table *next; /* in the DEST or READY list */
} cp_table;

/*
 * One of the job's export listings in parallel (COPY_LIST_CONCURRENCY of them): it lists one
 * folder at a time, page by page: a database folder `<root>/<db>/` with the delimiter (its
 * table folders), or a table folder `<root>/<db>/<schema.table>/` into the table it fills
 * (cur). Keys of one folder come in ascending order and all belong to that table.
 */
typedef struct cp_lister {
    cp_call call;
    char *prefix;   /* the folder being listed (heap), NULL while idle */
    int db;         /* prefix is a database folder: listed with the delimiter */
    char *token;    /* continuation token of the next page */
    char *last_key; /* the last key listed (the order check) */
    cp_table *cur;  /* the table being filled, or NULL */
    long long seq;  /* when it took its folder (the oldest lister may always go on) */
} cp_lister;

/* A FIFO of tables through cp_table.next. */
typedef struct cp_tlist {
    cp_table *head, *tail;
} cp_tlist;

typedef struct copy_job {
    cp_phase phase;
    sl_job *job; /* back pointer for the scheduler's callbacks */
    copy_ctx *cx;
    char *root;        /* <s3_prefix>/<export_task_id> */
    char *list_prefix; /* root + "/" */
    char *token;       /* continuation token of the root's listing (INFO_LIST) */
    long long t0;      /* monotonic start */
    int woke;          /* a step did something: the stream step runs again at once */

    /* INFO_LIST / INFO */
    char **info_keys;
    size_t ninfo, capinfo, info_next;
    sl_msg_table_failure *failed;
    size_t nfailed;

    /* The export's folders: the root's (INFO_LIST, on lcall) and each database's (STREAM, on
       the listers), listed with a delimiter, give the table folders, which the listers list
       in parallel. */
    char **dirs; /* database folders still to list */
    size_t ndirs, capdirs, dir_next;
    char **tdirs; /* table folders, in the order found; each taken by a lister */
    size_t ntdirs, captdirs, tdir_next;
    cp_lister *listers; /* cfg.list_concurrency of them */
    size_t nlisters;
    long long lister_seq;
    size_t max_listing; /* the most table folders listed at once (the summary line) */
    int list_done;
    size_t nlisted, nskipped, ndata, ndropped, nrenamed;
    cp_table **tabs; /* live tables by slot (NULL = free) */
    size_t captabs, ntabs;
    cp_tlist dest_q;  /* T_DEST tables, in listing order; the head's folder is being listed */
    cp_tlist ready_q; /* T_READY tables, in listing order */
    size_t nplanned;  /* objects of tables past T_LISTING that are not done yet */
    size_t resume_at; /* a lister waits for room: wake the step when nplanned falls to this
                         (SIZE_MAX: none waits) */
    char **tables;    /* the `copied` message's tables (sorted, at most MSG_MAX_TABLES) */
    size_t ntables, captables;
    long long tables_total;

    cp_call lcall; /* the root folder (INFO_LIST) */
    cp_call dcall; /* DeleteObjects */

    /* copies (copy_xfer.c) */
    sl_xsched_queue *q;
    uint64_t *mpu_ready; /* units (part 0) of objects with parts to hand out or to complete */
    size_t nmpu_ready, capmpu;
    size_t nobjs, objs_done; /* objects planned (every table), and done */
    long long bytes_done;
    int failed_result; /* SL_STEP_* set by a callback that ended the job, else 0 */
    long long last_progress;
    long long copy_t0;    /* when the first copy was handed out; -1 before */
    long long copy_ms;    /* first copy handed out .. last one done */
    long long nretries;   /* transient failures retried (summary line) */
    size_t nskipped_dest; /* already at their destination (restart), not recopied */
    /* Pacing per destination prefix (copy_xfer.c, copy_pace.h): a lane per table, added as
       the table becomes T_READY (its objects one range after the previous table's), with its
       table in lane_tab (NULL once the table is freed: its lane has nothing left). Window cuts
       are logged one by one up to CP_MAX_WARN_LINES. */
    sl_copy_pace pace;
    cp_table **lane_tab;
    size_t caplane_tab;
    size_t ncuts_logged;

    /* the partition's replacement lock, on a connection of the job's own */
    PGconn *pg;
    int32_t lock_key;
    int locked;
    long long lock_deadline;
    long long lock_next_ms; /* next try while another export holds it */
    int lock_logged;
    long long snap_ms; /* sl_copy_plan_snap_time of the input */

    /* DELETE */
    sl_copy_arena stale_arena;
    const char **stale;         /* in stale_arena */
    unsigned char *stale_tries; /* DeleteObjects attempts per stale key */
    size_t nstale, capstale, captries, stale_next;
    long long removed;
} copy_job;

/* Array growth by doubling (copy.c): p, or a larger block with *cap updated, or NULL when
   memory ran out (p is then untouched and still the caller's). need >= 1. */
void *sl_copy_grow(void *p, size_t *cap, size_t need, size_t elem);

/* After a listing page: its continuation token moves to *token (freed first) and 1 is
   returned, or 0 when it was the last page (*token NULL). */
int sl_copy_page_next(char **token, sl_s3_list_page *page);

/* A transient failure of the job (the runtime backs off and starts it again). */
sl_step_result sl_copy_job_retry(sl_job *job, const char *code, const char *fmt, ...)
    SL_PRINTF(3, 4);

/* o's destination key: o->dest, or dest_dir + the source's file name written into buf
   (CP_KEY_BUF bytes). */
const char *sl_copy_obj_dest(const cp_table *t, const cp_obj *o, char *buf);

/* An object is at its destination (copied or found there). */
void sl_copy_object_done(copy_job *cj, cp_table *t, cp_obj *o);

/* ---- copy_out.c ---- */

/* The `copied` draft in job->out, bounded (INFO is over, nothing written yet). PENDING, or the
   job's failure (OutputTooLarge, out of memory). */
sl_step_result sl_copy_out_draft(const copy_cfg *cfg, sl_job *job, copy_job *cj);
/* The final `copied` message and the summary line: DONE, or the job's failure. */
sl_step_result sl_copy_out_finish(sl_job *job, copy_job *cj);

/* ---- copy_table.c ---- */

/* A data file as listed (ent from sl_keymap_map, size and ETag from the listing) into *cur,
   the table a listing fills: when ent is of another table, *cur is complete and planned first.
   PENDING, or the job's failure (out of memory, KeyCollision). */
sl_step_result sl_copy_table_add(copy_job *cj, cp_table **cur, const sl_keymap_entry *ent,
                                 long long size, const char *etag);
/* *cur is complete (its listing ended, or passed it): planned and queued for its folder's
   listing, or freed (a failed table, nothing kept); *cur is NULL after. PENDING or the
   failure. */
sl_step_result sl_copy_table_end(copy_job *cj, cp_table **cur);
/* The one place a table changes state (logged by name); an impossible move is refused. */
void sl_copy_table_state(copy_job *cj, cp_table *t, cp_tstate to);
/* Frees the T_READY tables whose objects are all done. */
void sl_copy_tables_sweep(copy_job *cj);
void sl_copy_table_free(copy_job *cj, cp_table *t);
/* Frees every table and the tables list (job cleanup). */
void sl_copy_tables_cleanup(copy_job *cj);

/* ---- copy_xfer.c ---- */

/* The job's copy queue on cx->xs (at the first table ready). 0, or -1 (out of memory). */
int sl_copy_xfer_begin(copy_ctx *cx, copy_job *cj);
/* Table t became T_READY: its objects are a new pacing lane, handed out from now on. 0, or -1
   when memory ran out (the job is then ended: cj->failed_result). */
int sl_copy_xfer_table_ready(copy_job *cj, cp_table *t);
/* Table t is about to be freed: its lane (every object done) keeps no pointer to it. */
void sl_copy_xfer_table_gone(copy_job *cj, cp_table *t);
/* The progress line while copying (every CP_PROGRESS_MS), and the final one. */
void sl_copy_xfer_progress(copy_job *cj, long long now, int final);
/* Cancels the job's copies and queues the aborts of its open uploads (every live table). */
void sl_copy_xfer_cleanup(copy_ctx *cx, copy_job *cj);
void sl_copy_mpu_free(cp_mpu *m);
/* The stage's abort queue on cx->xs. 0 or -1. */
int sl_copy_aborts_init(copy_ctx *cx);
void sl_copy_aborts_cleanup(copy_ctx *cx);
/* Aborts queued or being sent. */
size_t sl_copy_aborts_owed(const copy_ctx *cx);

/* A call's queue (at start). 0 or -1 (out of memory). */
int sl_copy_call_init(copy_ctx *cx, copy_job *cj, cp_call *c);
/* Cancels the call in flight and frees the queue (job cleanup). */
void sl_copy_call_cleanup(cp_call *c);
/* Non-zero while c has a request on its way. */
int sl_copy_call_busy(const cp_call *c);
/*
 * One ListObjectsV2 page without blocking: the first call sends it and returns 1 (the answer
 * brings the job's next_step_ms forward), a later call returns 1 while it is on its way, then
 * 0 with *page (sl_s3_list_page_cleanup) or -1 with e, and the call is over. Same for
 * DeleteObjects (its per-key failures as sl_s3_delete_objects gives them; the keys are read
 * when it is sent).
 */
int sl_copy_list_page(cp_call *c, const char *bucket, const sl_s3_list_opts *lo,
                      sl_s3_list_page *page, sl_aws_error *e);
/* GetObject the same way: 0 with *body (heap, NUL-terminated, the caller's) and *len, capped
   at the response limit (64 MiB). */
int sl_copy_get_call(cp_call *c, const char *bucket, const char *key, const char *owner,
                     char **body, size_t *len, sl_aws_error *e);
/* HeadObject the same way: 0 with *hr. */
int sl_copy_head_call(cp_call *c, const char *bucket, const char *key, const char *owner,
                      sl_s3_head_result *hr, sl_aws_error *e);
int sl_copy_delete_call(cp_call *c, const char *bucket, const char *const *keys, size_t n,
                        const char *owner, sl_s3_delete_failure **f, size_t *nf, sl_aws_error *e);

/* ---- copy_replace.c ---- */

/* Takes the partition lock (PENDING with cj->locked once held, or while waiting), or ends the
   job (superseded: DONE; RETRY; FAILED). */
sl_step_result sl_copy_lock_step(struct sl_worker *w, copy_job *cj);
/* One page of t's destination folder (t->listed once the last is in), then the HeadObject
   of its multipart objects found there, one at a time on t's own queue (the answers bring the
   step forward): PENDING, or the job's end. Returns with *over set once t has been fully
   checked. */
sl_step_result sl_copy_dest_step(const copy_cfg *cfg, copy_job *cj, cp_table *t, int *over);
sl_step_result sl_copy_check_lock(copy_job *cj);
sl_step_result sl_copy_delete_step(const copy_cfg *cfg, copy_job *cj);
sl_step_result sl_copy_record_holder(copy_job *cj);
/* Releases the lock and closes the job's connection; frees the stale set. */
void sl_copy_replace_cleanup(copy_job *cj);

#endif /* SL_COPY_INT_H */
