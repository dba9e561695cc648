/*
 * stages.c - the stages this worker binary can run. Each stage's file defines its sl_stage
 * (stage.h); add it here when the file lands. Kept apart from worker.c so adding a stage
 * touches one line.
 */
#include "worker.h"

const sl_stage *const sl_worker_stages[] = {
    &sl_stage_export, /* snapshots -> exports */
    &sl_stage_copy,   /* exports -> copies */
    &sl_stage_crawl,  /* copies -> crawls */
    &sl_stage_share,  /* crawls -> shares */
    &sl_stage_notify, /* failures, dlq -> a webhook */
    NULL,
};
