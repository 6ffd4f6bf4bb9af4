/* nordicd: acquisition daemon for instrumented Nordic hamstring curl boards.
 * Reads the configuration, starts the daemon's threads and then only waits
 * for signals (and, with --record, runs one trial from the command line). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef NORDIC_HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "nd_config.h"
#include "nd_daemon.h"
#include "nd_log.h"
#include "nd_privilege.h"
#include "nd_reload.h"
#include "nd_transport.h"
#include "nd_watchdog.h"

typedef struct record_opts {
    bool enabled, tare;
    nd_trial_request req;
    double duration_s; /* 0 = until the source ends or a signal */
} record_opts;

static void usage(FILE *out)
{
    fprintf(
        out,
        "Usage: nordicd [OPTION]...\n"
        "Acquisition daemon for instrumented Nordic hamstring curl boards: reads load\n"
        "cells, computes per-leg peak force and asymmetry live, writes HDF5 trials and\n"
        "publishes live metrics over ZeroMQ.\n"
        "\n"
        "  -d, --device URI         device to read (default sim:?reps=0, the built-in simulated\n"
        "                           board repeating reps until stopped)\n"
        "  -c, --config FILE        INI configuration file (keys mirror these options)\n"
        "      --data-dir DIR       where trial files go (default <state-dir>/trials)\n"
        "      --state-dir DIR      calibration and state (default /var/lib/nordicd as root,\n"
        "                           ~/.local/share/nordicd otherwise)\n"
        "      --pub ENDPOINT       live metrics PUB socket (default tcp://127.0.0.1:5556)\n"
        "      --ctl ENDPOINT       control REP socket (default ipc://<runtime-dir>/control)\n"
        "  -f, --foreground         stay in the foreground (always the case; for compatibility)\n"
        "  -l, --log-level LEVEL    error, warning, notice, info (default) or debug\n"
        "      --check-config       validate the configuration, print it, and exit\n"
        "      --list-devices       list the device drivers and their URI options\n"
        "  -h, --help               this help\n"
        "  -V, --version            version\n"
        "\n"
        "One trial from the command line (without a control client):\n"
        "      --record ATHLETE_ID  start a trial at once; stop when the device stream\n"
        "                           ends, after --duration, or on SIGINT/SIGTERM\n"
        "      --tare               tare both hooks (unloaded) before recording\n"
        "      --duration SECONDS   stop the trial after this long\n"
        "      --mass KG            athlete body mass (for N/kg)\n"
        "      --lever M            knee-to-hook lever arm (for torque)\n"
        "      --injured SIDE       left, right or none (for the limb symmetry index)\n"
        "      --notes TEXT         free-text notes stored in the trial file\n"
        "\n"
        "Device URIs: sim:?rate=1000&reps=3, tcp:HOST:PORT?proto=nfp,\n"
        "file:capture.bin?proto=nfp&pace=1, serial:/dev/ttyACM0?baud=921600&proto=nfp,\n"
        "usb:1209:0001. See --list-devices and drivers/DRIVERS.md.\n");
}

static void list_devices(void)
{
    for (size_t i = 0; nd_drivers[i]; i++) {
        const nd_driver *drv = nd_drivers[i];
        printf("%-12s %s\n", drv->scheme, drv->description ? drv->description : "");
        if (drv->usage && *drv->usage) printf("             %s\n", drv->usage);
    }
}

enum {
    OPT_DATA_DIR = 256,
    OPT_STATE_DIR,
    OPT_PUB,
    OPT_CTL,
    OPT_CHECK,
    OPT_LIST,
    OPT_RECORD,
    OPT_TARE,
    OPT_DURATION,
    OPT_MASS,
    OPT_LEVER,
    OPT_INJURED,
    OPT_NOTES,
};

static const struct option long_opts[] = {
    {"device", required_argument, 0, 'd'},
    {"config", required_argument, 0, 'c'},
    {"data-dir", required_argument, 0, OPT_DATA_DIR},
    {"state-dir", required_argument, 0, OPT_STATE_DIR},
    {"pub", required_argument, 0, OPT_PUB},
    {"ctl", required_argument, 0, OPT_CTL},
    {"foreground", no_argument, 0, 'f'},
    {"log-level", required_argument, 0, 'l'},
    {"check-config", no_argument, 0, OPT_CHECK},
    {"list-devices", no_argument, 0, OPT_LIST},
    {"help", no_argument, 0, 'h'},
    {"version", no_argument, 0, 'V'},
    {"record", required_argument, 0, OPT_RECORD},
    {"tare", no_argument, 0, OPT_TARE},
    {"duration", required_argument, 0, OPT_DURATION},
    {"mass", required_argument, 0, OPT_MASS},
    {"lever", required_argument, 0, OPT_LEVER},
    {"injured", required_argument, 0, OPT_INJURED},
    {"notes", required_argument, 0, OPT_NOTES},
    {0, 0, 0, 0},
};

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "nordicd: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 2;
}

static int parse_number(const char *opt, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "nordicd: %s: '%s' is not a number in [%g, %g]\n", opt, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

/* Relative directories on the command line are taken from the current one. */
static int set_path(nd_config *cfg, const char *key, const char *value, char *err, size_t errlen)
{
    char abs[ND_PATH_MAX * 2];
    if (value[0] != '/') {
        char cwd[ND_PATH_MAX];
        if (!getcwd(cwd, sizeof cwd))
            return snprintf(err, errlen, "%s: cannot resolve '%s'", key, value), -1;
        snprintf(abs, sizeof abs, "%s/%s", cwd, value);
        value = abs;
    }
    return nd_config_set(cfg, "daemon", key, value, err, errlen);
}

static int parse_args(int argc, char **argv, nd_config *cfg, record_opts *rec, bool *check,
                      bool *list)
{
    char err[512];
    /* Pass 1: help/version/config file, so the file is applied before flags. */
    const char *config_path = NULL;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "d:c:fl:hV", long_opts, NULL)) != -1) {
        if (c == 'h') return usage(stdout), 1;
        if (c == 'V') return printf("nordicd %s\n", NORDIC_VERSION), 1;
        if (c == 'c') config_path = optarg;
        if (c == '?') {
            if (optopt)
                return fail("option '-%c' is unknown or lacks its value; see --help", optopt);
            return fail("option '%s' is unknown or lacks its value; see --help", argv[optind - 1]);
        }
        if (c == ':') return fail("option '%s' needs a value; see --help", argv[optind - 1]);
    }
    if (optind < argc) return fail("unexpected argument '%s'; see --help", argv[optind]);
    if (config_path && nd_config_load(cfg, config_path, err, sizeof err)) return fail("%s", err);

    optind = 1;
    while ((c = getopt_long(argc, argv, "d:c:fl:hV", long_opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'd':
            rc = nd_config_set(cfg, "daemon", "device", optarg, err, sizeof err);
            break;
        case 'c':
            break;
        case OPT_DATA_DIR:
            rc = set_path(cfg, "data_dir", optarg, err, sizeof err);
            break;
        case OPT_STATE_DIR: {
            /* data_dir follows state_dir unless it was set explicitly. */
            rc = set_path(cfg, "state_dir", optarg, err, sizeof err);
            break;
        }
        case OPT_PUB:
            rc = nd_config_set(cfg, "daemon", "pub", optarg, err, sizeof err);
            break;
        case OPT_CTL:
            rc = nd_config_set(cfg, "daemon", "ctl", optarg, err, sizeof err);
            break;
        case 'f':
            cfg->foreground = true;
            break;
        case 'l':
            rc = nd_config_set(cfg, "daemon", "log_level", optarg, err, sizeof err);
            break;
        case OPT_CHECK:
            *check = true;
            break;
        case OPT_LIST:
            *list = true;
            break;
        case OPT_RECORD:
            rec->enabled = true;
            snprintf(rec->req.athlete_id, sizeof rec->req.athlete_id, "%s", optarg);
            if (strlen(optarg) >= sizeof rec->req.athlete_id)
                return fail("--record: athlete id '%s' is longer than 64 characters", optarg);
            break;
        case OPT_TARE:
            rec->tare = true;
            break;
        case OPT_DURATION:
            if (parse_number("--duration", optarg, 0.001, 86400, &rec->duration_s)) return 2;
            break;
        case OPT_MASS:
            if (parse_number("--mass", optarg, 0.001, 500, &rec->req.subject.body_mass_kg))
                return 2;
            break;
        case OPT_LEVER:
            if (parse_number("--lever", optarg, 0.001, 1.5, &rec->req.subject.lever_m)) return 2;
            break;
        case OPT_INJURED:
            if (nd_side_parse(optarg, &rec->req.subject.injured_side))
                return fail("--injured: '%s' is not left, right or none", optarg);
            break;
        case OPT_NOTES:
            if (strlen(optarg) >= sizeof rec->req.notes)
                return fail("--notes: longer than 1024 bytes");
            snprintf(rec->req.notes, sizeof rec->req.notes, "%s", optarg);
            break;
        default:
            break;
        }
        if (rc) return fail("%s", err);
    }
    return 0;
}

static void notify(const char *state)
{
#ifdef NORDIC_HAVE_SYSTEMD
    sd_notify(0, state);
#else
    (void)state;
#endif
}

/* Pets only while every thread makes progress (nd_watchdog.h). */
static void pet_watchdog(nd_watchdog *w, nd_daemon *d)
{
    char why[200], msg[256];
    switch (nd_watchdog_check(w, d, nd_monotonic_ns(), why, sizeof why)) {
    case ND_WATCHDOG_PET:
        notify("WATCHDOG=1");
        break;
    case ND_WATCHDOG_TRIGGER:
        snprintf(msg, sizeof msg, "WATCHDOG=trigger\nSTATUS=%s", why);
        notify(msg);
        break;
    case ND_WATCHDOG_HOLD:
        break;
    }
}

/* SIGHUP: rebuild the configuration as at start (defaults, file, command
 * line) and let nd_reload apply what may change at run time. */
static void reload_config(nd_daemon *d, nd_reload *r, int argc, char **argv)
{
    nd_config fresh = r->defaults;
    record_opts rec = {0};
    bool check = false, list = false;
    char err[512], status[1100];
    notify("RELOADING=1");
    optind = 0; /* full getopt re-initialisation */
    if (parse_args(argc, argv, &fresh, &rec, &check, &list) != 0) {
        nd_err("reload: the configuration has errors (above); keeping the running one");
        notify("READY=1\nSTATUS=reload failed: configuration has errors; running unchanged");
        return;
    }
    if (nd_config_validate(&fresh, err, sizeof err)) {
        nd_err("reload: %s; keeping the running configuration", err);
        snprintf(status, sizeof status, "READY=1\nSTATUS=reload failed: %s", err);
        notify(status);
        return;
    }
    char summary[1024];
    nd_reload_apply(r, d, &fresh, summary, sizeof summary);
    snprintf(status, sizeof status, "READY=1\nSTATUS=%s", summary);
    notify(status);
}

static int record_trial(nd_daemon *d, const record_opts *rec)
{
    char err[512];
    nd_trial_slot slot;
    if (nd_daemon_record_start(d, &rec->req, rec->tare, &slot, err, sizeof err)) {
        nd_err("cannot start the trial: %s", err);
        return -1;
    }
    return 0;
}

static void print_summary(const nd_trial_slot *slot, const nd_trial_summary *s)
{
    printf("trial %s (athlete %s): %u reps (%u discarded), %llu sample sets\n", slot->trial_id,
           slot->req.athlete_id, s->reps, s->discarded_reps, (unsigned long long)s->samples);
    if (s->reps == 0) {
        printf("  no rep reached %.0f N on both hooks together\n  file         %s\n",
               slot->settings.on_N, slot->path);
        fflush(stdout);
        return;
    }
    printf("  max force    left %7.1f N   right %7.1f N\n", s->max_N[ND_LEFT], s->max_N[ND_RIGHT]);
    printf("  mean peaks   left %7.1f N   right %7.1f N\n", s->mean_N[ND_LEFT],
           s->mean_N[ND_RIGHT]);
    printf("  asymmetry    %.1f %% (%s weaker)\n", s->asymmetry_pct, nd_side_name(s->weaker_side));
    printf("  flags       %s%s%s%s%s\n", s->weak_left ? " weak_left" : "",
           s->weak_right ? " weak_right" : "", s->imbalance ? " imbalance" : "",
           s->pain ? " pain" : "",
           !(s->weak_left || s->weak_right || s->imbalance || s->pain) ? " none" : "");
    printf("  file         %s\n", slot->path);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    nd_config cfg;
    nd_config_defaults(&cfg);
    record_opts rec = {0};
    bool check = false, list = false;
    int rc = parse_args(argc, argv, &cfg, &rec, &check, &list);
    if (rc) return rc == 1 ? 0 : rc;
    if (list) return list_devices(), 0;

    char err[512];
    if (nd_config_validate(&cfg, err, sizeof err)) return fail("%s", err);
    if (check) {
        nd_identity id;
        if (nd_privilege_resolve(&cfg, &id, err, sizeof err) < 0) return fail("%s", err);
        nd_config_print(&cfg, stdout);
        return 0;
    }
    nd_log_set_level(cfg.log_level);
    nd_reload reload;
    nd_reload_init(&reload, &cfg);
    if (nd_privilege_apply(&cfg, err, sizeof err)) return fail("%s", err);

    /* Signals are taken synchronously by this thread only. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    nd_info("nordicd %s starting: device %s, data %s", NORDIC_VERSION, cfg.device, cfg.data_dir);
    nd_daemon *d = nd_daemon_start(&cfg, rec.enabled, err, sizeof err);
    if (!d) {
        nd_err("%s", err);
        return 1;
    }
    notify("READY=1\nSTATUS=acquiring");

    int exit_code = 0;
    if (rec.enabled && record_trial(d, &rec)) {
        exit_code = 1;
        rec.enabled = false;
        nd_daemon_request_stop(d);
    }
    uint64_t t0 = nd_monotonic_ns();
    uint64_t watchdog_usec = 0;
#ifdef NORDIC_HAVE_SYSTEMD
    if (sd_watchdog_enabled(0, &watchdog_usec) <= 0) watchdog_usec = 0;
#endif
    nd_watchdog watchdog;
    nd_watchdog_init(&watchdog, watchdog_usec, nd_monotonic_ns());
    /* Signals end the wait at once; the timeout only serves --record's
     * checks and the watchdog, so a plain daemon wakes once a second. */
    long wait_ms = rec.enabled ? 100 : 1000;
    /* The watchdog is petted eight times an interval: a late thread is seen
     * within an eighth of it, well before the half that stops the pets. */
    if (watchdog_usec && (long)(watchdog_usec / 8000) < wait_ms)
        wait_ms = watchdog_usec / 8000 > 0 ? (long)(watchdog_usec / 8000) : 1;
    while (!nd_daemon_stop_requested(d)) {
        struct timespec timeout = {wait_ms / 1000, (wait_ms % 1000) * 1000000L};
        int sig = sigtimedwait(&sigs, NULL, &timeout);
        if (sig == SIGINT || sig == SIGTERM) {
            nd_notice("%s received: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            break;
        }
        if (sig == SIGHUP) reload_config(d, &reload, argc, argv);
        if (watchdog_usec) pet_watchdog(&watchdog, d);
        if (rec.enabled && rec.duration_s > 0 && (nd_monotonic_ns() - t0) / 1e9 >= rec.duration_s)
            break;
        if (nd_daemon_source_ended(d) && rec.enabled) break;
        if (rec.enabled && !nd_daemon_recording(d)) break; /* stopped over the control socket */
    }
    notify("STOPPING=1");
    if (rec.enabled) {
        nd_trial_slot slot = {0};
        nd_trial_summary summary;
        if (!nd_daemon_recording(d)) {
            /* An operator stopped it with `nordctl stop`: report that trial. */
            nd_daemon_last_trial(d, &slot, &summary);
        } else if (nd_daemon_stop_trial(d, &slot, &summary, err, sizeof err)) {
            nd_err("stopping the trial: %s", err);
            exit_code = 1;
        }
        /* Metrics survive a failed file (disk full): show them regardless. */
        if (slot.trial_id[0]) print_summary(&slot, &summary);
    }
    nd_daemon_shutdown(d);
    nd_info("nordicd stopped");
    return exit_code;
}
