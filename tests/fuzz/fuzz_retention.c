/* fuzz_retention.c - the retention decisions over lake keys (S3 listings are outside input).
 * Input: "<prefix>\n<key>". Invariants: a PARTITION key starts with the prefix, its folder is
 * a prefix of the key ending in "/date=<date>/" with a date that parses and formats back to
 * itself, the key is allowed under its own folder, and a key outside the prefix is never
 * allowed under any folder. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "retention.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf, *key, *nl;
    sl_retention_key k;
    sl_retention_kind kind;

    if (size > 4096)
        return 0;
    buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    nl = strchr(buf, '\n');
    if (!nl || strlen(buf) != size) { /* one prefix, one key, no NUL inside */
        free(buf);
        return 0;
    }
    *nl = '\0';
    key = nl + 1;
    kind = sl_retention_parse_key(buf, key, &k);
    if (kind == SL_RETENTION_PARTITION) {
        char folder[4200], back[11];
        long days;

        if (strncmp(key, buf, strlen(buf)) != 0 || k.folder_len > strlen(key) ||
            k.table_len >= k.folder_len)
            abort();
        memcpy(folder, key, k.folder_len);
        folder[k.folder_len] = '\0';
        if (k.folder_len != k.table_len + 17 || strncmp(folder + k.table_len, "/date=", 6) != 0 ||
            strncmp(folder + k.table_len + 6, k.date, 10) != 0 || folder[k.folder_len - 1] != '/')
            abort();
        if (sl_retention_date_days(k.date, &days) != 0)
            abort();
        sl_retention_days_date(days, back);
        if (strcmp(back, k.date) != 0)
            abort();
        if (sl_retention_key_allowed(buf, folder, key) != 0)
            abort();
    } else if (kind == SL_RETENTION_OUTSIDE) {
        if (sl_retention_key_allowed(buf, key, key) == 0)
            abort();
    }
    free(buf);
    return 0;
}
