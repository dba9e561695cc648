/*
 * aws_rest_json.c - the REST-JSON protocol (Lake Formation, RAM): the operation is the path
 * ("POST /GrantPermissions"), the body JSON; errors carry x-amzn-ErrorType, which
 * sl_aws_parse_error reads first for this protocol. See aws_http.h.
 */
#include "aws_http.h"

int sl_aws_rest_json(sl_aws *c, const char *service, const char *method, const char *path,
                     const cJSON *body, cJSON **out, sl_aws_error *err)
{
    static const sl_http_header hdrs[] = {{"Content-Type", "application/json"}};
    return sl_aws_json_call(c, service, method ? method : "POST", path, hdrs, 1, body, out, err);
}
