/* fuzz_sqs.c - SQS ReceiveMessage and DeleteMessageBatch answer parsers. Invariants: never
 * crash; a refused answer leaves no message; an accepted one has at most 10 messages, each
 * with a non-empty receipt handle and a body of its stated length; a batch result never counts
 * more failures than entries, and every entry it does not call done has a code. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    char err[SL_ERRLEN];
    sl_sqs_messages ms;
    sl_sqs_batch_result r;

    if (!j)
        return 0;
    if (sl_sqs_parse_receive(j, &ms, err, sizeof(err)) == 0) {
        if (ms.n > SL_SQS_MAX_BATCH)
            abort();
        for (size_t i = 0; i < ms.n; i++)
            if (!ms.items[i].receipt_handle[0] || strlen(ms.items[i].body) != ms.items[i].body_len)
                abort();
    } else if (ms.n != 0 || !err[0]) {
        abort();
    }
    sl_sqs_messages_cleanup(&ms);
    for (size_t n = 1; n <= SL_SQS_MAX_BATCH; n += 9)
        if (sl_sqs_parse_batch(j, n, &r, err, sizeof(err)) == 0) {
            size_t nf = 0;
            if (r.nfailed > n)
                abort();
            for (size_t i = 0; i < n; i++)
                if (r.failed[i]) {
                    nf++;
                    if (!r.code[i][0])
                        abort();
                }
            if (nf != r.nfailed)
                abort();
        }
    cJSON_Delete(j);
    return 0;
}
