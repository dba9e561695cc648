/*
 * ctl_lag.h - `snaplakectl lag [--stage S] [--group STAGE=GROUP]... [--json]`: each stage's
 * consumer lag per partition, from Kafka alone (no PostgreSQL, no AWS).
 */
#ifndef SL_CTL_LAG_H
#define SL_CTL_LAG_H

#include <stdio.h>

void ctl_lag_help(FILE *out);

/* Runs the command with its arguments (argv after "lag"). 0 done, 1 an error (Kafka
 * unreachable, a group's offsets unreadable), 2 bad usage or configuration. */
int ctl_lag_main(int argc, char **argv);

#endif /* SL_CTL_LAG_H */
