/*
 * copy_table.c - the copy stage's tables in the stream (copy_int.h): a lister lists one table
 * folder `<db>/<schema.table>/` and hands its data files over one by one, so the table is
 * complete when that listing ends.
 *
 * A complete table is planned on its own: its destinations all lie in its own `date=` folder,
 * so its collision plan (sl_keymap_plan_names) and its destination set are exactly what the
 * whole export's would say for it. Then it waits for its folder's listing (copy_replace.c) and
 * its copies join the scheduler (copy_xfer.c); once every object is done it is freed. Its
 * strings live in one arena (source key and ETag, about 140 bytes an object, and a 48-byte
 * cp_obj), so memory follows the tables in flight, not the export's size. Destination keys are
 * held only while the table is T_DEST (in darena) and, past it, only where the collision plan
 * renamed a file: the others are the table's dest_dir + the source's file name.
 *
 * Ownership: each cp_table is the job's (cj->tabs[slot]); sl_copy_table_free and
 * sl_copy_tables_cleanup free it with everything it holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copy_int.h"
#include "log.h"

static const char *const tstate_name[] = {"listing", "dest", "ready"};

static void tlist_push(cp_tlist *l, cp_table *t)
{
    t->next = NULL;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
}

static void tlist_remove(cp_tlist *l, cp_table *t)
{
    cp_table *prev = NULL;

    for (cp_table *p = l->head; p; prev = p, p = p->next) {
        if (p != t)
            continue;
        if (prev)
            prev->next = p->next;
        else
            l->head = p->next;
        if (l->tail == p)
            l->tail = prev;
        p->next = NULL;
        return;
    }
}

/* Frees what a table holds past T_LISTING (its plan's scratch) or past T_DEST. */
static void table_drop_dest(cp_table *t)
{
    sl_copy_call_cleanup(&t->dcall);
    free(t->dtoken);
    t->dtoken = NULL;
    sl_copy_destset_cleanup(&t->dests);
    free(t->heads);
    t->heads = NULL;
    t->nheads = t->capheads = t->head_next = 0;
}

void sl_copy_table_state(copy_job *cj, cp_table *t, cp_tstate to)
{
    char n[32];

    if (to == T_DEST && t->state == T_LISTING) {
        free((void *)t->parts);
        t->parts = NULL;
        tlist_push(&cj->dest_q, t);
    } else if (to == T_READY && t->state == T_DEST) {
        tlist_remove(&cj->dest_q, t);
        table_drop_dest(t);
        for (size_t i = 0; i < t->nobjs; i++)
            if (!t->objs[i].kept)
                t->objs[i].dest = NULL;
        sl_copy_arena_cleanup(&t->darena);
        tlist_push(&cj->ready_q, t);
        (void)sl_copy_xfer_table_ready(cj, t); /* on failure the job has ended */
    } else {
        sl_log_kv(SL_LOG_ERROR, &cj->job->log,
                  (const char *const[]){"table", t->name, "from", tstate_name[t->state], "to",
                                        tstate_name[to], NULL},
                  "copy: impossible table state change refused");
        return;
    }
    snprintf(n, sizeof(n), "%zu", t->nobjs);
    sl_log_kv(SL_LOG_DEBUG, &cj->job->log,
              (const char *const[]){"table", t->name, "from", tstate_name[t->state], "to",
                                    tstate_name[to], "objects", n, NULL},
              "table state");
    t->state = to;
}

void sl_copy_table_free(copy_job *cj, cp_table *t)
{
    if (!t)
        return;
    if (t->state == T_DEST)
        tlist_remove(&cj->dest_q, t);
    else if (t->state == T_READY)
        tlist_remove(&cj->ready_q, t);
    for (size_t i = 0; i < cj->nlisters; i++)
        if (cj->listers[i].cur == t)
            cj->listers[i].cur = NULL;
    sl_copy_xfer_table_gone(cj, t);
    for (size_t i = 0; i < t->nobjs; i++)
        sl_copy_mpu_free(t->objs[i].mpu);
    free(t->objs);
    free((void *)t->parts);
    table_drop_dest(t);
    sl_copy_arena_cleanup(&t->darena);
    sl_copy_arena_cleanup(&t->arena);
    cj->tabs[t->slot] = NULL;
    cj->ntabs--;
    free(t);
}

void sl_copy_tables_cleanup(copy_job *cj)
{
    for (size_t s = 0; cj->tabs && s < cj->captabs; s++)
        sl_copy_table_free(cj, cj->tabs[s]);
    free(cj->tabs);
    cj->tabs = NULL;
    cj->captabs = 0;
    sl_keymap_strv_free(cj->tables, cj->ntables);
    cj->tables = NULL;
    cj->ntables = cj->captables = 0;
}

/* A new table for the data file ent (its first), in a free slot; NULL when memory ran out. */
static cp_table *table_new(copy_job *cj, const sl_keymap_entry *ent)
{
    size_t slot = 0;
    cp_table *t;

    while (slot < cj->captabs && cj->tabs[slot])
        slot++;
    if (slot == cj->captabs) {
        size_t cap = cj->captabs;
        cp_table **g = sl_copy_grow(cj->tabs, &cap, slot + 1, sizeof(*g));
        if (!g)
            return NULL;
        memset(g + cj->captabs, 0, (cap - cj->captabs) * sizeof(*g));
        cj->tabs = g;
        cj->captabs = cap;
    }
    if (!(t = calloc(1, sizeof(*t))))
        return NULL;
    sl_copy_arena_init(&t->arena);
    sl_copy_arena_init(&t->darena);
    t->slot = (uint32_t)slot;
    t->lane = CP_NO_LANE;
    t->state = T_LISTING;
    t->db = sl_copy_arena_put(&t->arena, ent->db, NULL);
    t->table = sl_copy_arena_put(&t->arena, ent->table, NULL);
    t->dest_dir = sl_copy_arena_put(&t->arena, ent->dest_dir, NULL);
    {
        char nm[2 * SL_KEYMAP_KEY_MAX + 2]; /* db and table are parts of one key */
        snprintf(nm, sizeof(nm), "%s/%s", ent->db, ent->table);
        t->name = sl_copy_arena_put(&t->arena, nm, NULL);
    }
    if (!t->db || !t->table || !t->dest_dir || !t->name) {
        sl_copy_arena_cleanup(&t->arena);
        free(t);
        return NULL;
    }
    t->failed = sl_copy_plan_in_failed_table(ent, cj->failed, cj->nfailed);
    cj->tabs[slot] = t;
    cj->ntabs++;
    return t;
}

/*
 * The plan of a complete table: each object's destination (dest_dir + file, or `<n>-` + file
 * where two partition folders hold the same name), the check that no two share one, and the
 * set the folder listing looks destinations up in. The sl_keymap_entry views borrow the
 * arena's strings and last only for the call.
 */
static sl_step_result table_plan(copy_job *cj, cp_table *t)
{
    sl_job *job = cj->job;
    sl_keymap_entry *e = calloc(t->nobjs, sizeof(*e));
    char **nd = calloc(t->nobjs, sizeof(*nd));
    char err[SL_ERRLEN];
    size_t renamed = 0;
    sl_step_result r = SL_STEP_PENDING;

    if (!e || !nd) {
        r = sl_job_fail(job, "ClientError", "copy: out of memory planning %zu copies", t->nobjs);
        goto out;
    }
    for (size_t i = 0; i < t->nobjs; i++) {
        cp_obj *o = &t->objs[i];
        const char *file = strrchr(o->src, '/');
        file = file ? file + 1 : o->src;
        /* A key longer than sl_copy_obj_dest's buffer (a very long LAKE_PREFIX) is kept. */
        o->kept = strlen(t->dest_dir) + strlen(file) >= CP_KEY_BUF;
        if (!(o->dest = sl_copy_arena_put(o->kept ? &t->arena : &t->darena, t->dest_dir, file))) {
            r = sl_job_fail(job, "ClientError", "copy: out of memory planning %zu copies",
                            t->nobjs);
            goto out;
        }
        e[i] = (sl_keymap_entry){.kind = SL_KEY_PARQUET,
                                 .src = (char *)o->src,
                                 .db = (char *)t->db,
                                 .table = (char *)t->table,
                                 .partition = (char *)t->parts[i],
                                 .file = (char *)file,
                                 .dest_dir = (char *)t->dest_dir,
                                 .dest = (char *)o->dest};
    }
    if (sl_keymap_plan_names(e, t->nobjs, nd, &renamed, err, sizeof(err))) {
        r = sl_job_fail(job, "KeyCollision", "%s", err);
        goto out;
    }
    for (size_t i = 0; i < t->nobjs; i++) {
        if (!nd[i])
            continue;
        if (!(t->objs[i].dest = sl_copy_arena_put(&t->arena, nd[i], NULL))) {
            r = sl_job_fail(job, "ClientError", "copy: out of memory planning %zu copies",
                            t->nobjs);
            goto out;
        }
        t->objs[i].kept = 1;
        e[i].dest = (char *)t->objs[i].dest;
    }
    if (sl_copy_destset_init(&t->dests, e, t->nobjs, err, sizeof(err))) {
        r = sl_job_fail(job, "ClientError", "%s", err);
        goto out;
    }
    cj->nrenamed += renamed;
out:
    for (size_t i = 0; nd && i < t->nobjs; i++)
        free(nd[i]);
    free(nd);
    free(e);
    return r;
}

sl_step_result sl_copy_table_end(copy_job *cj, cp_table **cur)
{
    cp_table *t = *cur;
    sl_step_result r;
    int kept;

    if (!t)
        return SL_STEP_PENDING;
    *cur = NULL;
    if (t->failed || t->nobjs == 0) {
        sl_copy_table_free(cj, t);
        return SL_STEP_PENDING;
    }
    if ((r = table_plan(cj, t)) != SL_STEP_PENDING)
        return r;
    if (sl_copy_call_init(cj->cx, cj, &t->dcall))
        return sl_job_fail(cj->job, "ClientError", "copy: out of memory");
    if ((kept = sl_copy_plan_tables_add(&cj->tables, &cj->ntables, &cj->captables, MSG_MAX_TABLES,
                                        t->name)) < 0)
        return sl_job_fail(cj->job, "ClientError", "copy: out of memory");
    cj->tables_total++;
    cj->nobjs += t->nobjs;
    cj->nplanned += t->nobjs;
    sl_copy_table_state(cj, t, T_DEST);
    cj->woke = 1;
    return SL_STEP_PENDING;
}

/* Whether ent belongs to table t (the same `<db>/<schema.table>/` folder). */
static int same_table(const cp_table *t, const sl_keymap_entry *ent)
{
    return strcmp(t->db, ent->db) == 0 && strcmp(t->table, ent->table) == 0;
}

sl_step_result sl_copy_table_add(copy_job *cj, cp_table **cur, const sl_keymap_entry *ent,
                                 long long size, const char *etag)
{
    sl_job *job = cj->job;
    cp_table *t = *cur;
    cp_obj *o;
    sl_step_result r;

    if (t && !same_table(t, ent)) {
        if ((r = sl_copy_table_end(cj, cur)) != SL_STEP_PENDING)
            return r;
        t = NULL;
    }
    if (!t) {
        if (!(t = table_new(cj, ent)))
            return sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
        *cur = t;
    }
    if (t->failed) {
        cj->ndropped++; /* a table RDS did not finish: its partial files are not copied */
        return SL_STEP_PENDING;
    }
    if (t->nobjs >= (size_t)0xFFFFFF)
        return sl_job_fail(job, "ExportTooLarge", "table %s lists more than %u files", t->name,
                           0xFFFFFFu);
    {
        size_t cap = t->capobjs;
        cp_obj *g = sl_copy_grow(t->objs, &cap, t->nobjs + 1, sizeof(*g));
        const char **gp =
            g ? sl_copy_grow((void *)t->parts, &t->capparts, t->nobjs + 1, sizeof(*gp)) : NULL;
        if (g) {
            t->objs = g;
            t->capobjs = cap;
        }
        if (!gp)
            return sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
        t->parts = gp;
    }
    o = &t->objs[t->nobjs];
    memset(o, 0, sizeof(*o));
    o->size = size;
    o->src = sl_copy_arena_put(&t->arena, ent->src, NULL);
    o->etag = sl_copy_arena_put(&t->arena, etag ? etag : "", NULL);
    t->parts[t->nobjs] = ent->partition ? sl_copy_arena_put(&t->arena, ent->partition, NULL) : NULL;
    if (!o->src || !o->etag || (ent->partition && !t->parts[t->nobjs]))
        return sl_job_fail(job, "ClientError", "copy: out of memory listing the export");
    t->nobjs++;
    return SL_STEP_PENDING;
}

const char *sl_copy_obj_dest(const cp_table *t, const cp_obj *o, char *buf)
{
    const char *file;
    size_t d, f;

    if (o->dest)
        return o->dest;
    file = strrchr(o->src, '/');
    file = file ? file + 1 : o->src;
    d = strlen(t->dest_dir);
    f = strlen(file);
    if (d + f >= CP_KEY_BUF) { /* never: table_plan kept every key that would not fit */
        buf[0] = '\0';
        return buf;
    }
    memcpy(buf, t->dest_dir, d);
    memcpy(buf + d, file, f + 1);
    return buf;
}

void sl_copy_object_done(copy_job *cj, cp_table *t, cp_obj *o)
{
    o->done = 1;
    t->ndone++;
    cj->objs_done++;
    cj->bytes_done += o->size;
    cj->nplanned--;
    /* The step frees a finished table, and resumes a listing that waited for room. */
    if (t->ndone == t->nobjs || cj->nplanned == cj->resume_at)
        cj->job->next_step_ms = sl_mono_ms();
}

void sl_copy_tables_sweep(copy_job *cj)
{
    cp_table *t = cj->ready_q.head;

    while (t) {
        cp_table *n = t->next;
        if (t->ndone == t->nobjs)
            sl_copy_table_free(cj, t);
        t = n;
    }
}
