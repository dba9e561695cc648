/*
 * ctl_share_accept.h - `snaplakectl share accept [--cluster C]... [--database D]...`: the
 * consumer side of the share stage run by hand, in the analytics account (a role assumed
 * through SHARE_CONSUMER_ROLE_ARN): accepts the pending RAM invitations from the service
 * account and creates the resource links (common/share_consumer.h).
 */
#ifndef SL_CTL_SHARE_ACCEPT_H
#define SL_CTL_SHARE_ACCEPT_H

#include <stdio.h>

/* The command's usage lines and config table, for `snaplakectl --help`. */
void ctl_share_accept_help(FILE *out);

/*
 * Runs the command with its own arguments (argv after "share accept"). Returns the exit status:
 * 0 done (also when there was nothing to do), 1 a failure (what was already done is printed
 * first), 2 bad usage or configuration.
 */
int ctl_share_accept_main(int argc, char **argv);

#endif /* SL_CTL_SHARE_ACCEPT_H */
