#include "nd_config.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "nd_endpoints.h"
#include "nd_trial_dirs.h"
#include "nd_log.h"
#include "nd_sample.h"

/* One table drives parsing, validation and printing, so a key cannot be
 * accepted without being documented by --print-config. */
typedef enum { K_STRING, K_PATH, K_DOUBLE, K_INT, K_ULONG, K_BOOL, K_LOGLEVEL } key_type;

typedef struct key_desc {
    const char *section;
    const char *name;
    key_type type;
    size_t offset;
    size_t size; /* strings */
    double min, max;
} key_desc;

#define STR(sec, name, field)                                                                      \
    {                                                                                              \
        sec, name, K_STRING, offsetof(nd_config, field), sizeof(((nd_config *)0)->field), 0, 0     \
    }
#define PATH(sec, name, field)                                                                     \
    {                                                                                              \
        sec, name, K_PATH, offsetof(nd_config, field), sizeof(((nd_config *)0)->field), 0, 0       \
    }
#define DBL(sec, name, field, lo, hi)                                                              \
    {                                                                                              \
        sec, name, K_DOUBLE, offsetof(nd_config, field), 0, lo, hi                                 \
    }
#define INT(sec, name, field, lo, hi)                                                              \
    {                                                                                              \
        sec, name, K_INT, offsetof(nd_config, field), 0, lo, hi                                    \
    }

static const key_desc keys[] = {
    STR("daemon", "device", device),
    PATH("daemon", "data_dir", data_dir),
    PATH("daemon", "state_dir", state_dir),
    PATH("daemon", "runtime_dir", runtime_dir),
    STR("daemon", "pub", pub),
    STR("daemon", "ctl", ctl),
    {"daemon", "log_level", K_LOGLEVEL, offsetof(nd_config, log_level), 0, 0, 0},
    {"daemon", "foreground", K_BOOL, offsetof(nd_config, foreground), 0, 0, 0},
    STR("daemon", "user", user),
    STR("daemon", "group", group),
    {"daemon", "ring_capacity", K_ULONG, offsetof(nd_config, ring_capacity), 0, 1024, 1 << 26},
    DBL("daemon", "ring_seconds", ring_seconds, 0, 3600),
    DBL("daemon", "flush_interval_s", flush_interval_s, 0.01, 0.5),
    DBL("live", "live_hz", live_hz, 1, 200),
    INT("live", "wave_decimation", wave_decimation, 1, 100000),
    INT("channels", "left_channel", left_channel, 0, ND_MAX_CHANNELS - 1),
    INT("channels", "right_channel", right_channel, 0, ND_MAX_CHANNELS - 1),
    DBL("channels", "tare_max_shift_N", tare_max_shift_N, 0, 1e5),
    DBL("channels", "tare_max_offset_N", tare_max_offset_N, 0, 1e5),
    DBL("metrics", "cutoff_hz", metrics.cutoff_hz, 0.1, 1e6),
    DBL("metrics", "on_N", metrics.on_N, 0, 1e5),
    DBL("metrics", "off_N", metrics.off_N, 0, 1e5),
    DBL("metrics", "hold_s", metrics.hold_s, 0, 60),
    DBL("metrics", "min_rep_s", metrics.min_rep_s, 0, 600),
    DBL("metrics", "impulse_threshold_N", metrics.impulse_threshold_N, 0, 1e5),
    DBL("metrics", "weak_threshold_N", metrics.weak_threshold_N, 0, 1e5),
    DBL("metrics", "imbalance_pct", metrics.imbalance_pct, 0, 100),
    DBL("metrics", "tare_window_s", metrics.tare_window_s, 0.05, 60),
    DBL("progression", "acceptable_pain", progression.acceptable_pain, 0, 10),
    DBL("progression", "step_back_above", progression.step_back_above, 0, 10),
    DBL("progression", "baseline_pain", progression.baseline_pain, 0, 10),
    DBL("progression", "goal_sets", progression.goal_sets, 1, 20),
    DBL("progression", "goal_reps", progression.goal_reps, 1, 50),
    DBL("progression", "rep_step", progression.rep_step, 1, 10),
    DBL("progression", "add_set_at_reps", progression.add_set_at_reps, 1, 50),
    PATH("security", "curve_secret_key", curve_secret_key),
    PATH("security", "curve_allowed_clients", curve_allowed_clients),
};
#define NKEYS (sizeof keys / sizeof keys[0])

static void set_default_dirs(nd_config *c)
{
    nd_default_state_dir(c->state_dir, sizeof c->state_dir);
    snprintf(c->data_dir, sizeof c->data_dir, "%.400s/trials", c->state_dir);
    nd_default_runtime_dir(c->runtime_dir, sizeof c->runtime_dir);
    snprintf(c->ctl, sizeof c->ctl, "ipc://%.480s/control", c->runtime_dir);
}

void nd_config_defaults(nd_config *c)
{
    memset(c, 0, sizeof *c);
    /* The simulated board, repeating reps until stopped (a station to try out). */
    snprintf(c->device, sizeof c->device, "sim:?reps=0");
    set_default_dirs(c);
    snprintf(c->pub, sizeof c->pub, "%s", ND_DEFAULT_PUB_ENDPOINT);
    c->log_level = ND_LOG_INFO;
    c->foreground = true;
    c->ring_capacity = 1ul << 20; /* at most 64 MiB: 10 s at 100 kHz */
    c->ring_seconds = 8;          /* daemon/pipeline/RING.md, "Sizing" */
    c->flush_interval_s = 0.25;
    c->live_hz = 50;
    c->wave_decimation = 10;
    nd_progression_rules_default(&c->progression);
    c->left_channel = 0;
    c->right_channel = 1;
    c->tare_max_shift_N = 25; /* kneeling on the hooks is ~40 N per hook */
    c->tare_max_offset_N = 0;
    nd_metric_settings_default(&c->metrics);
}

static int parse_double(const char *v, double *out)
{
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(d)) return -1;
    *out = d;
    return 0;
}

static int parse_bool(const char *v, bool *out)
{
    static const char *yes[] = {"1", "yes", "true", "on"}, *no[] = {"0", "no", "false", "off"};
    for (int i = 0; i < 4; i++) {
        if (!strcasecmp(v, yes[i])) return *out = true, 0;
        if (!strcasecmp(v, no[i])) return *out = false, 0;
    }
    return -1;
}

static const key_desc *find_key(const char *section, const char *name)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (!strcmp(keys[i].name, name) && (!section || !strcmp(keys[i].section, section)))
            return &keys[i];
    return NULL;
}

int nd_config_set(nd_config *c, const char *section, const char *key, const char *value, char *err,
                  size_t errlen)
{
    const key_desc *k = find_key(section, key);
    if (!k) {
        if (section && find_key(NULL, key))
            snprintf(err, errlen, "key '%s' belongs in section [%s], not [%s]", key,
                     find_key(NULL, key)->section, section);
        else
            snprintf(err, errlen, "unknown key '%s'%s%s%s", key, section ? " in [" : "",
                     section ? section : "", section ? "]" : "");
        return -1;
    }
    char *field = (char *)c + k->offset;
    switch (k->type) {
    case K_STRING:
    case K_PATH:
        if (strlen(value) >= k->size) {
            snprintf(err, errlen, "%s: value too long (max %zu characters)", key, k->size - 1);
            return -1;
        }
        if (k->type == K_PATH && *value && value[0] != '/') {
            snprintf(err, errlen, "%s: '%s' must be an absolute path", key, value);
            return -1;
        }
        if (k->offset == offsetof(nd_config, state_dir)) {
            /* data_dir follows state_dir unless it was set on its own. */
            char old_default[ND_PATH_MAX + 8];
            snprintf(old_default, sizeof old_default, "%s/trials", c->state_dir);
            if (!strcmp(c->data_dir, old_default))
                snprintf(c->data_dir, sizeof c->data_dir, "%.400s/trials", value);
        }
        memcpy(field, value, strlen(value) + 1);
        return 0;
    case K_DOUBLE: {
        double d;
        if (parse_double(value, &d) || d < k->min || d > k->max) {
            snprintf(err, errlen, "%s: '%s' is not a number in [%g, %g]", key, value, k->min,
                     k->max);
            return -1;
        }
        *(double *)field = d;
        return 0;
    }
    case K_INT:
    case K_ULONG: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end || v < k->min || v > k->max) {
            snprintf(err, errlen, "%s: '%s' is not an integer in [%.0f, %.0f]", key, value, k->min,
                     k->max);
            return -1;
        }
        if (k->type == K_INT)
            *(int *)field = (int)v;
        else
            *(unsigned long *)field = (unsigned long)v;
        return 0;
    }
    case K_BOOL:
        if (parse_bool(value, (bool *)field)) {
            snprintf(err, errlen, "%s: '%s' is not a boolean (yes/no, true/false, 1/0)", key,
                     value);
            return -1;
        }
        return 0;
    case K_LOGLEVEL: {
        int lvl = nd_log_parse_level(value);
        if (lvl < 0) {
            snprintf(err, errlen, "%s: '%s' is not one of error, warning, notice, info, debug", key,
                     value);
            return -1;
        }
        *(int *)field = lvl;
        return 0;
    }
    }
    return -1;
}

struct load_ctx {
    nd_config *c;
    char *err;
    size_t errlen;
    int failed;
};

static int on_ini_line(void *user, const char *section, const char *name, const char *value)
{
    struct load_ctx *lc = user;
    if (lc->failed) return 0;
    if (!section || !*section) {
        snprintf(lc->err, lc->errlen, "key '%s' is outside any [section]", name);
        lc->failed = 1;
        return 0;
    }
    if (nd_config_set(lc->c, section, name, value, lc->err, lc->errlen)) {
        lc->failed = 1;
        return 0;
    }
    return 1;
}

int nd_config_load(nd_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(errno));
        return -1;
    }
    char msg[256] = "";
    struct load_ctx lc = {c, msg, sizeof msg, 0};
    int line = ini_parse_file(f, on_ini_line, &lc);
    fclose(f);
    if (line != 0) {
        /* inih reports the first line whose handler failed or that did not parse. */
        if (line < 0)
            snprintf(err, errlen, "cannot read config file %s", path);
        else if (lc.failed)
            snprintf(err, errlen, "%s:%d: %s", path, line, msg);
        else
            snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)", path,
                     line);
        return -1;
    }
    return 0;
}

int nd_config_validate(const nd_config *c, char *err, size_t errlen)
{
    if (!*c->device) return snprintf(err, errlen, "device: no device URI given"), -1;
    if (nd_progression_rules_validate(&c->progression, err, errlen)) return -1;
    if (c->ring_capacity & (c->ring_capacity - 1))
        return snprintf(err, errlen, "ring_capacity: %lu is not a power of two", c->ring_capacity),
               -1;
    if (c->left_channel == c->right_channel)
        return snprintf(err, errlen, "left_channel and right_channel are both %d", c->left_channel),
               -1;
    if (c->metrics.off_N > c->metrics.on_N)
        return snprintf(err, errlen, "off_N (%g) must not exceed on_N (%g)", c->metrics.off_N,
                        c->metrics.on_N),
               -1;
    if (!*c->data_dir) return snprintf(err, errlen, "data_dir is empty"), -1;
    if (!*c->state_dir) return snprintf(err, errlen, "state_dir is empty"), -1;
    return 0;
}

void nd_config_print(const nd_config *c, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < NKEYS; i++) {
        const key_desc *k = &keys[i];
        const char *field = (const char *)c + k->offset;
        if (strcmp(section, k->section)) {
            fprintf(out, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        fprintf(out, "%s = ", k->name);
        switch (k->type) {
        case K_STRING:
        case K_PATH:
            fprintf(out, "%s\n", field);
            break;
        case K_DOUBLE:
            fprintf(out, "%.17g\n", *(const double *)field);
            break;
        case K_INT:
            fprintf(out, "%d\n", *(const int *)field);
            break;
        case K_ULONG:
            fprintf(out, "%lu\n", *(const unsigned long *)field);
            break;
        case K_BOOL:
            fprintf(out, "%s\n", *(const bool *)field ? "yes" : "no");
            break;
        case K_LOGLEVEL: {
            static const char *names[] = {"",        "",       "",     "error",
                                          "warning", "notice", "info", "debug"};
            int l = *(const int *)field;
            fprintf(out, "%s\n", l >= 3 && l <= 7 ? names[l] : "info");
            break;
        }
        }
    }
}
