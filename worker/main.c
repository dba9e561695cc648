/*
 * main.c - snaplake-worker: runs one pipeline stage (`snaplake-worker export`, or
 * WORKER_STAGE). Thin on purpose: read config -> build the worker -> run the loop -> tear
 * down. Exit status 0 after a clean stop (SIGTERM/SIGINT), 1 on a fatal error (a connection
 * refused, a lost group), 2 on bad usage or a configuration error (nothing was connected).
 *
 * `snaplake-worker --probe PATH` is a container health check for images without curl (ECS):
 * GET PATH of the worker's own endpoint (METRICS_ADDR of the same environment), exit 0 on a
 * 200, 1 otherwise, 2 when METRICS_ADDR is unset or bad.
 */
#include <stdio.h>
#include <string.h>

#include "probe.h"
#include "signals.h"
#include "worker.h"

int main(int argc, char **argv)
{
    char err[8192];
    const char *stage = NULL;
    sl_worker *w;
    int rc;

    if (argc == 3 && strcmp(argv[1], "--probe") == 0)
        return sl_probe_main(argv[0], argv[2]);
    if (argc > 2) {
        fprintf(stderr, "usage: %s [stage] | --probe PATH  (see --help)\n", argv[0]);
        return 2;
    }
    if (argc == 2) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            sl_worker_help(stdout, argv[0]);
            return 0;
        }
        stage = argv[1];
    }
    if (sl_signals_install(err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    if (sl_worker_config_check(stage, err, sizeof(err))) {
        fprintf(stderr, "%s: bad configuration:\n%s\n", argv[0], err);
        return 2;
    }
    w = sl_worker_new(stage, err, sizeof(err));
    if (!w) {
        fprintf(stderr, "%s: cannot start:\n%s\n", argv[0], err);
        return 1;
    }
    rc = sl_worker_run(w, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s: %s\n", argv[0], err);
    sl_worker_free(w);
    return rc ? 1 : 0;
}
