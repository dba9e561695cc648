/*
 * fuzz_config.c - arbitrary environment values through sl_config_load (custom getter) and the
 * duration/bool parsers. The input is split at '\n' into one value per option of a table that
 * covers every option type; a missing piece means "unset". Invariants checked: a successful
 * load respects every bound; a failed load leaves no string allocated; a secret's value has
 * no influence on the error text (so it can never appear in it). The first value also goes
 * through every value check of sl_config_std_checks.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

typedef struct fz_cfg {
    char *name;
    char *secret;
    long long n;
    long long wait_ms;
    int flag;
    long long any;
} fz_cfg;

static const sl_cfg_opt fz_opts[] = {
    {"F_NAME", SL_CFG_STRING, NULL, 0, -1, 1, offsetof(fz_cfg, name), "name"},
    {"F_SECRET", SL_CFG_SECRET, NULL, 0, -1, 0, offsetof(fz_cfg, secret), "secret"},
    {"F_N", SL_CFG_INT, "5", -3, 64, 0, offsetof(fz_cfg, n), "n"},
    {"F_WAIT", SL_CFG_DURATION, "10s", 100, 86400000, 0, offsetof(fz_cfg, wait_ms), "wait"},
    {"F_FLAG", SL_CFG_BOOL, "off", 0, -1, 0, offsetof(fz_cfg, flag), "flag"},
    {"F_ANY", SL_CFG_INT, "0", 1, 0, 0, offsetof(fz_cfg, any), "unbounded int"},
};

#define FZ_N (sizeof fz_opts / sizeof fz_opts[0])

typedef struct fz_env {
    char *vals[FZ_N];
} fz_env;

static const char *fz_get(const char *name, void *ud)
{
    fz_env *e = ud;
    for (size_t i = 0; i < FZ_N; i++)
        if (strcmp(fz_opts[i].name, name) == 0)
            return e->vals[i];
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_env env;
    fz_cfg cfg;
    char err[SL_ERRLEN];
    char *copy = malloc(size + 1);
    size_t start = 0, k = 0;
    long long ms;
    int b;

    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    memset(&env, 0, sizeof env);
    for (size_t i = 0; i <= size && k < FZ_N; i++) {
        if (i == size || copy[i] == '\n') {
            copy[i] = '\0';
            env.vals[k++] = copy + start;
            start = i + 1;
        }
    }

    /* The parsers must accept or refuse any string without reading past it. */
    if (env.vals[0]) {
        if (sl_config_parse_duration(env.vals[0], &ms) == 0 && ms < 0)
            __builtin_trap();
        (void)!sl_config_parse_bool(env.vals[0], &b);
        /* Every value check (config.h) answers 0 or -1, with a terminated reason on -1. */
        for (size_t i = 0; i < sl_config_nstd_checks; i++) {
            char why[SL_ERRLEN];
            int rc;
            memset(why, 'z', sizeof why);
            why[0] = '\0';
            rc = sl_config_std_checks[i].check(env.vals[0], why, sizeof why);
            if ((rc != 0 && rc != -1) || !memchr(why, '\0', sizeof why) || (rc && !why[0]))
                __builtin_trap();
        }
    }

    memset(&cfg, 0, sizeof cfg);
    if (sl_config_load(fz_opts, FZ_N, &cfg, fz_get, &env, err, sizeof err) == 0) {
        if (!cfg.name || cfg.n < -3 || cfg.n > 64 || cfg.wait_ms < 100 || cfg.wait_ms > 86400000 ||
            (cfg.flag != 0 && cfg.flag != 1))
            __builtin_trap();
        sl_config_cleanup(fz_opts, FZ_N, &cfg);
    } else {
        if (cfg.name || cfg.secret)
            __builtin_trap();
        if (memchr(err, '\0', sizeof err) == NULL)
            __builtin_trap();
        /* The secret's value must not shape the error text: the same load with a
         * same-length stand-in must report exactly the same. */
        if (env.vals[1] && *env.vals[1]) {
            size_t n = strlen(env.vals[1]);
            char *standin = malloc(n + 1);
            char err2[SL_ERRLEN];
            char *orig = env.vals[1];
            if (standin) {
                memset(standin, 'x', n);
                standin[n] = '\0';
                env.vals[1] = standin;
                if (sl_config_load(fz_opts, FZ_N, &cfg, fz_get, &env, err2, sizeof err2) == 0)
                    __builtin_trap();
                if (strcmp(err, err2) != 0)
                    __builtin_trap();
                env.vals[1] = orig;
                free(standin);
            }
        }
    }
    free(copy);
    return 0;
}
