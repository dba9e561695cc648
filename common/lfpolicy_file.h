/*
 * lfpolicy_file.h - the share policy read from its file (SHARE_POLICY_FILE, a ConfigMap's mount in
 * Kubernetes): the I/O in front of the pure parser of lfpolicy.h, shared by the share worker
 * (validated at start with the configuration) and `snaplakectl share`.
 */
#ifndef SL_LFPOLICY_FILE_H
#define SL_LFPOLICY_FILE_H

#include <stddef.h>

#include "lfpolicy.h"
#include "util.h"

/*
 * Reads and validates the policy file at path (at most SL_LFP_MAX_BYTES): 0 with *out filled
 * (sl_lfpolicy_cleanup), or -1 with err: "<path>: ..." and every error of the document, one a
 * line (a buffer of 16 KiB holds them all).
 */
int sl_lfpolicy_load_file(const char *path, sl_lfpolicy *out, char *err,
                          size_t errlen) SL_MUST_CHECK;

#endif /* SL_LFPOLICY_FILE_H */
