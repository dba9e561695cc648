/*
 * ctl_share.h - `snaplakectl share plan|apply [--cluster C] [--prune]`: the share stage's plan
 * and apply from the command line (ctl/share.c).
 */
#ifndef SL_CTL_SHARE_H
#define SL_CTL_SHARE_H

#include <stdio.h>

/* The command's config table, for `snaplakectl --help`. */
void ctl_share_help(FILE *out);

/*
 * Runs the command with its own arguments (argv after "share"). Returns the exit status: plan
 * 0 nothing to do, 2 changes; apply 0 converged, 1 a failure or a table held back; 2 also for
 * bad usage or configuration.
 */
int ctl_share_main(int argc, char **argv);

#endif /* SL_CTL_SHARE_H */
