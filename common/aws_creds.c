/*
 * aws_creds.c - see aws_creds.h. Only the value's cleanup lives here: the transport releases
 * the copies it signs with, and must not link the chain to do so.
 */
#include "aws_creds.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

void sl_creds_cleanup(sl_creds *c)
{
    if (!c)
        return;
    OPENSSL_cleanse(c->access_key, sizeof(c->access_key));
    OPENSSL_cleanse(c->secret_key, sizeof(c->secret_key));
    if (c->session_token) {
        OPENSSL_cleanse(c->session_token, strlen(c->session_token));
        free(c->session_token);
    }
    c->session_token = NULL;
    c->expires_ms = 0;
}
