/* nordicd configuration: defaults, the INI file (inih) and command-line
 * overrides. INI keys mirror the long options ("--data-dir" = data_dir). */
#ifndef ND_CONFIG_H
#define ND_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nd_metrics.h"
#include "nd_progression.h"

#define ND_PATH_MAX 512

typedef struct nd_config {
    /* [daemon] */
    char device[512];
    char data_dir[ND_PATH_MAX];
    char state_dir[ND_PATH_MAX];
    char runtime_dir[ND_PATH_MAX];
    char pub[ND_PATH_MAX];
    char ctl[ND_PATH_MAX];
    int log_level;
    bool foreground;
    char user[33];               /* account to drop to when started as root; "" = stay */
    char group[33];              /* its primary group; "" = the user's login group */
    unsigned long ring_capacity; /* sample sets, power of two: the most the ring may take */
    double ring_seconds;         /* size the ring to this much of the device's rate (0 = off) */
    double flush_interval_s;     /* HDF5 flush period, (0, 0.5] */
    /* [live] */
    double live_hz;      /* rate of the `live` topic */
    int wave_decimation; /* one `wave` point per N sample sets */
    /* [channels] */
    int left_channel, right_channel;
    double tare_max_shift_N;  /* tare guard: largest zero move from the last zero, N */
    double tare_max_offset_N; /* ... from the device's nominal zero; 0 = not checked */
    /* [metrics] */
    nd_metric_settings metrics;
    /* [progression] (daemon/metrics/METRICS.md 5.6) */
    nd_progression_rules progression;
    /* [security] */
    char curve_secret_key[ND_PATH_MAX];
    char curve_allowed_clients[ND_PATH_MAX];
} nd_config;

/* Defaults that depend on who runs the daemon (root vs user, systemd's
 * STATE_DIRECTORY / RUNTIME_DIRECTORY). */
void nd_config_defaults(nd_config *c);

/* Apply one key=value (section may be NULL for "any section"). Returns 0, or
 * -1 with a message naming the key and the accepted values. */
int nd_config_set(nd_config *c, const char *section, const char *key, const char *value, char *err,
                  size_t errlen);

/* Load an INI file. Unknown sections or keys and bad values are errors that
 * name the file and line. */
int nd_config_load(nd_config *c, const char *path, char *err, size_t errlen);

/* Cross-field checks (e.g. off_N <= on_N, distinct channels). */
int nd_config_validate(const nd_config *c, char *err, size_t errlen);

/* Prints the effective configuration as an INI file. */
void nd_config_print(const nd_config *c, FILE *out);

#endif
