/*
 * export_admit.h - the export stage's slot admission rule (no I/O), apart from export.c so it
 * can be tested with tables: may a job take an export slot now, and which slot numbers may it
 * try?
 */
#ifndef SL_EXPORT_ADMIT_H
#define SL_EXPORT_ADMIT_H

/*
 * limit: EXPORT_TASK_LIMIT; live: |L|, the exports held by live slots of any snaplake worker;
 * foreign: F = |R \ L|, running exports no live slot holds (other tools, dead workers' exports
 * nobody adopted yet). Returns how many slot numbers the job may try (slots 0 .. n-1), 0 when
 * it must wait.
 *
 * The rule (export.c's header): a new slot must keep |L| + F + 1 <= limit, and only slot
 * k < limit - F may be taken. Bounding the slot number alone is not enough: slot 0 freed while
 * slot 1 is held and a foreign export runs passes k < limit - F with limit - 1 exports already
 * running (a slot lost with its connection, a retry or a revoke turns a running export foreign
 * the same way). The slot-number bound stays: it settles two workers deciding at once, since
 * both try the same lowest numbers and the advisory lock lets one win. Pure.
 */
long long sl_export_admit(long long limit, long long live, long long foreign);

#endif /* SL_EXPORT_ADMIT_H */
