/* Athlete and trial ids, file names and metadata defaults (daemon/trialfile/TRIAL_FORMAT.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "nd_trial_file.h"
#include "nd_trial_h5.h"

static int id_check(const char *what, const char *id, char *err, size_t errlen)
{
    if (!id || !id[0]) {
        snprintf(err, errlen, "%s is empty (1 to 64 characters of A-Z a-z 0-9 . _ -)", what);
        return -1;
    }
    size_t len = strlen(id);
    if (len > ND_TRIAL_ID_MAX) {
        snprintf(err, errlen, "%s is %zu characters long (at most 64 allowed)", what, len);
        return -1;
    }
    if (id[0] == '.') {
        snprintf(err, errlen, "%s '%s' starts with '.' (not allowed)", what, id);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)id[i];
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok) {
            if (c >= 0x20 && c < 0x7f)
                snprintf(err, errlen,
                         "%s contains '%c' at position %zu (allowed: A-Z a-z 0-9 . _ -)", what, c,
                         i + 1);
            else
                snprintf(err, errlen,
                         "%s contains byte 0x%02x at position %zu (allowed: A-Z a-z 0-9 . _ -)",
                         what, c, i + 1);
            return -1;
        }
    }
    return 0;
}

int nd_trial_athlete_id_check(const char *id, char *err, size_t errlen)
{
    return id_check("athlete id", id, err, errlen);
}

int nd_trial_id_check(const char *id, char *err, size_t errlen)
{
    return id_check("trial id", id, err, errlen);
}

void nd_trial_id_generate(char *out, size_t outlen)
{
    unsigned char bytes[6];
    if (getrandom(bytes, sizeof bytes, 0) != (ssize_t)sizeof bytes) {
        /* Fallback: time-derived, still unique enough for one daemon. */
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t v = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        for (size_t i = 0; i < sizeof bytes; i++) bytes[i] = (unsigned char)(v >> (8 * i));
    }
    snprintf(out, outlen, "%02x%02x%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3],
             bytes[4], bytes[5]);
}

int nd_trial_file_name(const nd_trial_meta *m, char *out, size_t outlen, char *err, size_t errlen)
{
    if (nd_trial_athlete_id_check(m->athlete_id, err, errlen) < 0 ||
        nd_trial_id_check(m->trial_id, err, errlen) < 0)
        return -1;
    char stamp[32];
    nd_utc_compact(m->created_utc_s, stamp, sizeof stamp);
    int len = snprintf(out, outlen, "%s_%s_%s.h5", m->athlete_id, stamp, m->trial_id);
    if (len < 0 || (size_t)len >= outlen) {
        snprintf(err, errlen, "file name too long");
        return -1;
    }
    return 0;
}

void nd_trial_meta_init(nd_trial_meta *m, int nch)
{
    memset(m, 0, sizeof *m);
    if (nch < 1 || nch > ND_MAX_CHANNELS) nch = 2;
    m->nch = nch;
    m->created_utc_s = (int64_t)time(NULL);
    nd_set_plan_default(&m->plan);
#ifdef NORDIC_VERSION
    snprintf(m->software_version, sizeof m->software_version, "nordicd %s", NORDIC_VERSION);
#endif
    m->device.nch = nch;
    for (int ch = 0; ch < nch; ch++) {
        if (ch < 2)
            snprintf(m->channel_names[ch], sizeof m->channel_names[ch], "%s",
                     ch == 0 ? "left" : "right");
        else
            snprintf(m->channel_names[ch], sizeof m->channel_names[ch], "ch%d", ch);
    }
    /* Identity calibration; the daemon copies its live calibration in. */
    m->calibration.nch = nch;
    for (int ch = 0; ch < nch; ch++) m->calibration.gain[ch] = 1.0;
    m->calibration.left_channel = 0;
    m->calibration.right_channel = nch > 1 ? 1 : 0;
    /* daemon/metrics/METRICS.md defaults (kept in step with nd_metric_settings_default()). */
    m->settings.cutoff_hz = 10.0;
    m->settings.on_N = 100.0;
    m->settings.off_N = 50.0;
    m->settings.hold_s = 0.25;
    m->settings.min_rep_s = 0.5;
    m->settings.impulse_threshold_N = 25.0;
    m->settings.weak_threshold_N = 256.0;
    m->settings.imbalance_pct = 15.0;
    m->settings.tare_window_s = 1.0;
}
