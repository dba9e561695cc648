/* fuzz_msg.c - message decoder (common/msg_decode.c). Invariants: never crashes; whatever decodes
 * re-encodes (the encoder accepts everything the decoder accepts), decode(encode(m)) == m, encoding
 * is a fixed point, and a deep copy equals its source. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sl_msg m, back, copy;
    char err[SL_ERRLEN], *json = NULL, *json2 = NULL;
    size_t len, len2;

    if (sl_msg_decode((const char *)data, size, &m, err, sizeof(err))) {
        if (!err[0] || m.type != SL_MSG_NONE)
            abort();
        return 0;
    }
    if (sl_msg_encode(&m, &json, &len, err, sizeof(err)))
        abort();
    if (sl_msg_decode(json, len, &back, err, sizeof(err)))
        abort();
    if (!sl_msg_equal(&m, &back))
        abort();
    if (sl_msg_encode(&back, &json2, &len2, err, sizeof(err)))
        abort();
    if (len != len2 || memcmp(json, json2, len) != 0)
        abort();
    if (sl_msg_copy(&copy, &m, err, sizeof(err)) || !sl_msg_equal(&copy, &m))
        abort();
    free(json);
    free(json2);
    sl_msg_cleanup(&m);
    sl_msg_cleanup(&back);
    sl_msg_cleanup(&copy);
    return 0;
}
