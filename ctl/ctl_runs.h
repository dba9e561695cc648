/*
 * ctl_runs.h - the execution console's commands (ctl/runs.c, show.c, redo.c, replay.c), each
 * called by main.c with the arguments after its name; each returns the exit status (ctl_db.h).
 */
#ifndef SL_CTL_RUNS_H
#define SL_CTL_RUNS_H

#include <stdio.h>

#include <cjson/cJSON.h>

int ctl_runs_main(int argc, char **argv);
int ctl_show_main(int argc, char **argv);
int ctl_redo_main(int argc, char **argv);
int ctl_replay_main(int argc, char **argv);

/* Prints the usage lines of the four commands. */
void ctl_console_usage(FILE *out, const char *prog);

/* Reading ctl_db_runs' JSON: a string member ("" when absent or null), a number (0), true. */
const char *ctl_json_str(const cJSON *o, const char *name);
double ctl_json_num(const cJSON *o, const char *name);
int ctl_json_true(const cJSON *o, const char *name);

/* One stage of ctl_db_runs as the one line `runs` prints (status, attempt, duration, task,
 * error, and for a stale stage its last owner). */
void ctl_print_stage_line(FILE *out, const cJSON *stage);

#endif /* SL_CTL_RUNS_H */
