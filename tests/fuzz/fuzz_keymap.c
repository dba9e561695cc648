/* fuzz_keymap.c - key mapping, the collision plan and the export_tables_info reader.
 * Input: the first byte picks the mode; the rest is either a list of keys (split on '\n')
 * or a tables_info document. Invariants: a mapped key is under the export root and its
 * destination is lake/cluster/db/table/date=<date>/file with the file bytes intact and no
 * empty or dot segment; after a successful plan all destinations are distinct; every
 * date prefix is a prefix of some destination; tables_info counts are consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "keymap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROOT "exp/c/2024-01-02/c-2024-01-02-03-04"
#define MAXKEYS 64

static void check_dest(const sl_keymap_entry *e)
{
    const char *want = "lake/c/";
    size_t i, n, start;

    if (strncmp(e->src, ROOT "/", strlen(ROOT) + 1) != 0)
        abort();
    if (!e->dest || strncmp(e->dest, want, strlen(want)) != 0 ||
        !strstr(e->dest, "/date=2024-01-02/"))
        abort();
    n = strlen(e->dest);
    if (strcmp(e->dest + n - strlen(e->file), e->file) != 0)
        abort();
    if (strlen(e->file) < strlen(".gz.parquet") ||
        strcmp(e->file + strlen(e->file) - 11, ".gz.parquet") != 0)
        abort();
    for (i = 0, start = 0; i <= n; i++) {
        if (i < n && e->dest[i] != '/')
            continue;
        if (i == start || (i - start == 1 && e->dest[start] == '.') ||
            (i - start == 2 && e->dest[start] == '.' && e->dest[start + 1] == '.'))
            abort();
        start = i + 1;
    }
    /* The source's last segment is the file, byte for byte. */
    if (strcmp(strrchr(e->src, '/') + 1, e->file) != 0)
        abort();
}

static void fuzz_keys(const char *buf, size_t size)
{
    static const sl_keymap_ctx ctx = {ROOT, "lake/", "c", "2024-01-02"};
    sl_keymap_entry e[MAXKEYS];
    size_t n = 0, pos = 0, i, j, renamed, np;
    char err[SL_ERRLEN], **pre = NULL, *key;

    while (pos <= size && n < MAXKEYS) {
        const char *nl = memchr(buf + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (buf + pos)) : size - pos;
        /* Keys are prefixed with the root so that most inputs get past the prefix check. */
        key = malloc(strlen(ROOT) + 1 + len + 1);
        if (!key)
            abort();
        memcpy(key, ROOT "/", strlen(ROOT) + 1);
        memcpy(key + strlen(ROOT) + 1, buf + pos, len);
        key[strlen(ROOT) + 1 + len] = '\0';
        if (memchr(buf + pos, '\0', len)) {
            free(key);
            pos += len + 1;
            continue;
        }
        if (sl_keymap_map(&ctx, key, &e[n], err, sizeof(err)))
            abort();
        if (e[n].kind == SL_KEY_PARQUET)
            check_dest(&e[n]);
        else if (e[n].kind == SL_KEY_REJECTED && (!e[n].reason[0] || e[n].src))
            abort();
        else if (e[n].kind != SL_KEY_REJECTED && strcmp(e[n].src, key) != 0)
            abort();
        free(key);
        n++;
        if (!nl)
            break;
        pos += len + 1;
    }
    if (sl_keymap_plan(e, n, &renamed, err, sizeof(err)) == 0) {
        for (i = 0; i < n; i++)
            for (j = i + 1; j < n; j++)
                if (e[i].kind == SL_KEY_PARQUET && e[j].kind == SL_KEY_PARQUET &&
                    strcmp(e[i].dest, e[j].dest) == 0)
                    abort();
    }
    if (sl_keymap_date_prefixes(e, n, &pre, &np, err, sizeof(err)))
        abort();
    for (i = 0; i < np; i++) {
        int found = 0;
        if (i && strcmp(pre[i - 1], pre[i]) >= 0)
            abort(); /* sorted, unique */
        for (j = 0; j < n && !found; j++)
            found = e[j].kind == SL_KEY_PARQUET && strncmp(e[j].dest, pre[i], strlen(pre[i])) == 0;
        if (!found)
            abort();
    }
    sl_keymap_strv_free(pre, np);
    for (i = 0; i < n; i++)
        sl_keymap_entry_cleanup(&e[i]);
}

static void fuzz_tables_info(const char *buf, size_t size)
{
    sl_tables_info ti;
    char err[SL_ERRLEN];
    size_t i;

    if (sl_keymap_parse_tables_info(buf, size, &ti, err, sizeof(err))) {
        if (ti.failed || ti.warnings || !err[0])
            abort();
        return;
    }
    if (ti.ncomplete + ti.nfailed != ti.ntables)
        abort();
    for (i = 0; i < ti.nfailed; i++)
        if (!ti.failed[i].table || !ti.failed[i].status || !ti.failed[i].reason ||
            strcmp(ti.failed[i].status, "COMPLETE") == 0)
            abort();
    for (i = 0; i < ti.nwarnings; i++)
        if (!ti.warnings[i])
            abort();
    sl_keymap_tables_info_cleanup(&ti);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if (data[0] & 1)
        fuzz_tables_info((const char *)data + 1, size - 1);
    else
        fuzz_keys((const char *)data + 1, size - 1);
    return 0;
}
