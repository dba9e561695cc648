/* job_phase.c - see job_phase.h. */
#include "job_phase.h"

#include <stddef.h>

static const char *const names[SL_JP_COUNT] = {
    [SL_JP_NEW] = "new",
    [SL_JP_BEGIN] = "begin",
    [SL_JP_RUNNING] = "running",
    [SL_JP_RETRY_WAIT] = "retry_wait",
    [SL_JP_PUBLISH] = "publish",
    [SL_JP_PUBLISHING] = "publishing",
    [SL_JP_RECORDING] = "recording",
    [SL_JP_COMMITTING] = "committing",
    [SL_JP_DONE] = "done",
    [SL_JP_DROPPED] = "dropped",
};

#define B(p) (1u << (p))

/* allowed[from] = the set of phases a job may move to from there. */
static const unsigned allowed[SL_JP_COUNT] = {
    [SL_JP_NEW] = B(SL_JP_BEGIN) | B(SL_JP_PUBLISH),
    [SL_JP_BEGIN] = B(SL_JP_RUNNING) | B(SL_JP_PUBLISH) | B(SL_JP_DROPPED),
    [SL_JP_RUNNING] = B(SL_JP_PUBLISH) | B(SL_JP_RETRY_WAIT) | B(SL_JP_DROPPED),
    [SL_JP_RETRY_WAIT] = B(SL_JP_BEGIN) | B(SL_JP_DROPPED),
    [SL_JP_PUBLISH] = B(SL_JP_PUBLISHING) | B(SL_JP_RECORDING) | B(SL_JP_DROPPED),
    [SL_JP_PUBLISHING] = B(SL_JP_RECORDING) | B(SL_JP_PUBLISH) | B(SL_JP_DROPPED),
    [SL_JP_RECORDING] = B(SL_JP_COMMITTING) | B(SL_JP_DROPPED),
    [SL_JP_COMMITTING] = B(SL_JP_DONE),
    [SL_JP_DONE] = 0,
    [SL_JP_DROPPED] = 0,
};

const char *sl_job_phase_name(sl_job_phase p)
{
    return (unsigned)p < SL_JP_COUNT && names[p] ? names[p] : "?";
}

int sl_job_phase_allowed(sl_job_phase from, sl_job_phase to)
{
    if ((unsigned)from >= SL_JP_COUNT || (unsigned)to >= SL_JP_COUNT)
        return 0;
    return (allowed[from] & B(to)) != 0;
}
