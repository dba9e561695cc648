/*
 * main.c - snaplake-producer: publishes snapshots to the pipeline (`snaplake-producer event`,
 * `discover`, `cluster` or `sqs`, or PRODUCER_MODE). Thin on purpose: read config -> build the
 * producer -> run the mode -> tear down. Exit status 0 when every input was handled (or after
 * a clean SIGTERM/SIGINT stop), 1 on an infrastructure failure, 2 on bad usage or a
 * configuration error (nothing was connected).
 *
 * `snaplake-producer --probe PATH` is the container health check of the long-running modes
 * (ECS runs sqs mode as a service): GET PATH of the producer's own endpoint (METRICS_ADDR),
 * exit 0 on a 200, 1 otherwise, 2 when METRICS_ADDR is unset or bad (probe.h).
 */
#include <stdio.h>
#include <string.h>

#include "probe.h"
#include "producer.h"
#include "signals.h"

int main(int argc, char **argv)
{
    char err[8192];
    const char *mode = NULL;
    sl_producer *p;
    int rc;

    if (argc == 3 && strcmp(argv[1], "--probe") == 0)
        return sl_probe_main(argv[0], argv[2]);
    if (argc > 2) {
        fprintf(stderr, "usage: %s [event|discover|cluster|sqs] | --probe PATH  (see --help)\n",
                argv[0]);
        return 2;
    }
    if (argc == 2) {
        if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
            sl_producer_help(stdout, argv[0]);
            return 0;
        }
        mode = argv[1];
    }
    if (sl_signals_install(err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", argv[0], err);
        return 1;
    }
    if (sl_producer_config_check(mode, err, sizeof(err))) {
        fprintf(stderr, "%s: bad configuration:\n%s\n", argv[0], err);
        return 2;
    }
    p = sl_producer_new(mode, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "%s: cannot start:\n%s\n", argv[0], err);
        return 1;
    }
    rc = sl_producer_run(p, NULL, err, sizeof(err));
    if (rc)
        fprintf(stderr, "%s: %s\n", argv[0], err);
    sl_producer_free(p);
    return rc ? 1 : 0;
}
