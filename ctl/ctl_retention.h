/*
 * retention.h - `snaplakectl retention [--dry-run]`: removes the lake's partitions older than
 * LAKE_RETENTION_DAYS from the Glue catalog and from S3 together (see retention.c for the
 * order and why).
 */
#ifndef SL_CTL_RETENTION_H
#define SL_CTL_RETENTION_H

#include <stdio.h>

/* The command's usage lines and config table, for `snaplakectl --help`. */
void ctl_retention_help(FILE *out);

/*
 * Runs the command with its own arguments (argv after "retention"): loads its config, plans,
 * and (unless --dry-run) deletes. Returns the exit status: 0 done, 1 an error (what was already
 * removed is said), 2 bad usage or configuration.
 */
int ctl_retention_main(int argc, char **argv);

#endif /* SL_CTL_RETENTION_H */
