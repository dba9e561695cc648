/* fuzz_s3_list.c - libFuzzer harness for the ListObjectsV2 response parser (url-encoded keys),
 * sl_s3_list_parse in common/s3_parse.c. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_s3_list_page pg;
    char err[SL_ERRLEN];

    if (sl_s3_list_parse((const char *)data, size, 1, &pg, err, sizeof(err)) == 0) {
        for (size_t i = 0; i < pg.count; i++)
            if (!pg.objects[i].key || pg.objects[i].size < 0)
                __builtin_trap();
        for (size_t i = 0; i < pg.nprefixes; i++)
            if (!pg.prefixes[i])
                __builtin_trap();
        if (pg.truncated && !pg.next_token)
            __builtin_trap();
        sl_s3_list_page_cleanup(&pg);
    }
    return 0;
}
