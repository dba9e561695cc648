/*
 * fuzz_glue.c - GetCrawler responses come from the network: parsing must never crash, and
 * whatever it accepts must be internally consistent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "glue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_glue_crawler c;
    char err[SL_ERRLEN];

    if (sl_glue_parse_crawler_bytes((const char *)data, size, &c, err, sizeof(err)) == 0) {
        /* Accepted: a name and a state were present, and strings are terminated. */
        if (c.name[0] == '\0' || c.state[0] == '\0')
            abort();
        if (strlen(c.state) >= sizeof(c.state) || c.last_start_ms < 0)
            abort();
        if (!c.has_last_crawl && (c.last_error || c.last_status[0]))
            abort();
        sl_glue_crawler_cleanup(&c);
    } else if (err[0] == '\0') {
        abort(); /* every rejection says why */
    }
    return 0;
}
