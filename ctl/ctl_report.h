/*
 * ctl_report.h - `snaplakectl report --html FILE [--since-hours N] [RUN_ID...]`: the runs of
 * the ledger as one self-contained HTML page (common/report_html.h).
 */
#ifndef SL_CTL_REPORT_H
#define SL_CTL_REPORT_H

#include <stdio.h>

void ctl_report_help(FILE *out);

/* Runs the command with its arguments (argv after "report"). 0 written, 1 an error (nothing is
 * left at FILE then), 2 bad usage or configuration. */
int ctl_report_main(int argc, char **argv);

#endif /* SL_CTL_REPORT_H */
