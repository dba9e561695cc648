/*
 * ctl_slots.h - `snaplakectl slots [--json]`: the export stage's slots (worker/export.c) as
 * PostgreSQL holds them, the runs waiting for one, and the foreign exports the workers counted.
 */
#ifndef SL_CTL_SLOTS_H
#define SL_CTL_SLOTS_H

#include <stdio.h>

void ctl_slots_help(FILE *out);

/* Runs the command with its arguments (--json only). 0 done, 1 an error, 2 bad usage or
 * configuration. */
int ctl_slots_main(int argc, char **argv);

#endif /* SL_CTL_SLOTS_H */
