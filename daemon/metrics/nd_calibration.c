/* Calibration of METRICS.md 4.1 and its persistence as a small key = value file
 * that is replaced atomically (tmp + fsync + rename + fsync of the dir). */
#include "nd_calibration.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CAL_FORMAT  "nordic-calibration"
#define CAL_VERSION 1

void nd_calibration_default(nd_calibration *c, int nch, const double *counts_per_newton)
{
    memset(c, 0, sizeof *c);
    if (nch < 1) nch = 1;
    if (nch > ND_MAX_CHANNELS) nch = ND_MAX_CHANNELS;
    c->nch = nch;
    for (int ch = 0; ch < nch; ch++) {
        double cpn = counts_per_newton ? counts_per_newton[ch] : 0.0;
        c->offset[ch] = 0.0;
        c->gain[ch] = isfinite(cpn) && cpn != 0.0 ? 1.0 / cpn : 1.0;
    }
    c->left_channel = 0;
    c->right_channel = nch > 1 ? 1 : 0;
}

void nd_calibration_from_device(nd_calibration *c, const nd_device_info *info)
{
    int l = c->left_channel, r = c->right_channel;
    nd_calibration_default(c, info->nch, info->counts_per_newton);
    c->left_channel = l;
    c->right_channel = r;
    snprintf(c->device_serial, sizeof c->device_serial, "%s", info->serial);
}

void nd_raw_mean_start(nd_raw_mean *a, int nch, uint64_t want_sets)
{
    memset(a, 0, sizeof *a);
    a->nch = nch < 0 ? 0 : nch > ND_MAX_CHANNELS ? ND_MAX_CHANNELS : nch;
    a->want = want_sets;
}

int nd_raw_mean_add(nd_raw_mean *a, const nd_sample *s)
{
    if (a->n >= a->want) return 1;
    for (int ch = 0; ch < a->nch; ch++) a->sum[ch] += ch < s->nch ? (double)s->raw[ch] : 0.0;
    a->n++;
    return a->n >= a->want;
}

double nd_raw_mean_value(const nd_raw_mean *a, int ch)
{
    if (a->n == 0 || ch < 0 || ch >= a->nch) return NAN;
    return a->sum[ch] / (double)a->n;
}

int nd_calibration_tare(nd_calibration *c, const nd_raw_mean *a, char *err, size_t errlen)
{
    if (a->n == 0) {
        snprintf(err, errlen, "tare refused: no samples were averaged");
        return -1;
    }
    if (a->nch != c->nch) {
        snprintf(err, errlen, "tare refused: averaged %d channels, calibration has %d", a->nch,
                 c->nch);
        return -1;
    }
    for (int ch = 0; ch < c->nch; ch++) c->offset[ch] = nd_raw_mean_value(a, ch);
    return 0;
}

int nd_calibration_set_gain_from_mass(nd_calibration *c, int ch, double mass_kg, double mean_raw,
                                      char *err, size_t errlen)
{
    if (ch < 0 || ch >= c->nch) {
        snprintf(err, errlen, "calibration refused: channel %d does not exist (device has %d)", ch,
                 c->nch);
        return -1;
    }
    if (!isfinite(mass_kg) || mass_kg <= 0.0 || mass_kg > ND_CALIBRATION_MAX_MASS_KG) {
        snprintf(err, errlen, "calibration refused: mass %g kg must be in (0, %g] kg", mass_kg,
                 ND_CALIBRATION_MAX_MASS_KG);
        return -1;
    }
    double delta = mean_raw - c->offset[ch];
    if (!isfinite(delta) || fabs(delta) < ND_CALIBRATION_MIN_DELTA_COUNTS) {
        snprintf(err, errlen,
                 "calibration refused: no load change on channel %d (mean raw %g, offset %g); "
                 "is the mass on the right hook, and was the hook tared unloaded?",
                 ch, mean_raw, c->offset[ch]);
        return -1;
    }
    double gain = mass_kg * ND_G / delta;
    if (!isfinite(gain) || gain == 0.0) {
        snprintf(err, errlen, "calibration refused: gain %g N/count is not usable", gain);
        return -1;
    }
    c->gain[ch] = gain;
    return 0;
}

/* A serial goes on one line and is trimmed on load: refuse what would not
 * round-trip. */
static bool serial_storable(const char *s)
{
    size_t len = strnlen(s, sizeof((nd_calibration *)0)->device_serial);
    if (len >= sizeof((nd_calibration *)0)->device_serial) return false;
    if (len > 0 && (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t'))
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) return false;
    return true;
}

static int check_calibration(const nd_calibration *c, char *err, size_t errlen)
{
    if (c->nch < 1 || c->nch > ND_MAX_CHANNELS) {
        snprintf(err, errlen, "channel count %d is outside 1..%d", c->nch, ND_MAX_CHANNELS);
        return -1;
    }
    for (int ch = 0; ch < c->nch; ch++) {
        if (!isfinite(c->offset[ch])) {
            snprintf(err, errlen, "offset of channel %d is not a finite number", ch);
            return -1;
        }
        if (!isfinite(c->gain[ch]) || c->gain[ch] == 0.0) {
            snprintf(err, errlen, "gain of channel %d is not a finite non-zero number", ch);
            return -1;
        }
    }
    if (c->left_channel < 0 || c->left_channel >= c->nch || c->right_channel < 0 ||
        c->right_channel >= c->nch) {
        snprintf(err, errlen, "channel mapping left=%d right=%d is outside 0..%d", c->left_channel,
                 c->right_channel, c->nch - 1);
        return -1;
    }
    if (!serial_storable(c->device_serial)) {
        snprintf(err, errlen, "device serial has control characters or surrounding blanks");
        return -1;
    }
    return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

int nd_calibration_save(const nd_calibration *c, const char *path, char *err, size_t errlen)
{
    char detail[160];
    if (check_calibration(c, detail, sizeof detail) < 0) {
        snprintf(err, errlen, "calibration not saved: %s", detail);
        return -1;
    }
    char text[4096];
    int len = snprintf(text, sizeof text,
                       "# nordicd calibration: F = (raw - offset) * gain, gain in N/count\n"
                       "format = %s\nversion = %d\ndevice_serial = %s\nchannels = %d\n"
                       "left_channel = %d\nright_channel = %d\n",
                       CAL_FORMAT, CAL_VERSION, c->device_serial, c->nch, c->left_channel,
                       c->right_channel);
    for (int ch = 0; ch < c->nch; ch++)
        len += snprintf(text + len, sizeof text - (size_t)len,
                        "offset.%d = %.17g\ngain.%d = %.17g\n", ch, c->offset[ch], ch, c->gain[ch]);

    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        snprintf(err, errlen, "calibration not saved: path too long");
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0) {
        snprintf(err, errlen, "calibration not saved: cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (write_all(fd, text, (size_t)len) < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "calibration not saved: cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        return -1;
    }
    if (close(fd) < 0 || rename(tmp, path) < 0) {
        snprintf(err, errlen, "calibration not saved: cannot replace %s: %s", path,
                 strerror(errno));
        unlink(tmp);
        return -1;
    }
    /* Make the rename itself durable. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') s++;
    size_t len = strlen(s);
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' || s[len - 1] == '\n'))
        s[--len] = '\0';
    return s;
}

static int parse_double(const char *text, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end != '\0' || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *text, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end != '\0' || errno == ERANGE || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

/* Keys seen, to refuse duplicates and detect missing ones. */
enum { SEEN_FORMAT, SEEN_VERSION, SEEN_SERIAL, SEEN_CHANNELS, SEEN_LEFT, SEEN_RIGHT, SEEN_N };

static int parse_line(nd_calibration *c, char *key, char *value, bool seen[SEEN_N],
                      bool seen_offset[ND_MAX_CHANNELS], bool seen_gain[ND_MAX_CHANNELS], char *err,
                      size_t errlen)
{
    static const char *const names[SEEN_N] = {"format",   "version",      "device_serial",
                                              "channels", "left_channel", "right_channel"};
    for (int k = 0; k < SEEN_N; k++) {
        if (strcmp(key, names[k]) != 0) continue;
        if (seen[k]) {
            snprintf(err, errlen, "key '%s' appears twice", key);
            return -1;
        }
        seen[k] = true;
        int version;
        switch (k) {
        case SEEN_FORMAT:
            if (strcmp(value, CAL_FORMAT) == 0) return 0;
            snprintf(err, errlen, "format is '%.40s', expected '%s'", value, CAL_FORMAT);
            return -1;
        case SEEN_VERSION:
            if (parse_int(value, 1, 1000000, &version) == 0 && version == CAL_VERSION) return 0;
            snprintf(err, errlen, "version '%.40s' is not supported (expected %d)", value,
                     CAL_VERSION);
            return -1;
        case SEEN_SERIAL:
            if (strlen(value) < sizeof c->device_serial) {
                snprintf(c->device_serial, sizeof c->device_serial, "%s", value);
                return 0;
            }
            snprintf(err, errlen, "device_serial is longer than %zu characters",
                     sizeof c->device_serial - 1);
            return -1;
        case SEEN_CHANNELS:
            if (parse_int(value, 1, ND_MAX_CHANNELS, &c->nch) == 0) return 0;
            snprintf(err, errlen, "channels '%.40s' is not a number in 1..%d", value,
                     ND_MAX_CHANNELS);
            return -1;
        case SEEN_LEFT:
        case SEEN_RIGHT:
            if (parse_int(value, 0, ND_MAX_CHANNELS - 1,
                          k == SEEN_LEFT ? &c->left_channel : &c->right_channel) == 0)
                return 0;
            snprintf(err, errlen, "%s '%.40s' is not a channel number in 0..%d", key, value,
                     ND_MAX_CHANNELS - 1);
            return -1;
        }
    }
    bool is_offset = strncmp(key, "offset.", 7) == 0, is_gain = strncmp(key, "gain.", 5) == 0;
    if (is_offset || is_gain) {
        int ch;
        if (parse_int(key + (is_offset ? 7 : 5), 0, ND_MAX_CHANNELS - 1, &ch) < 0) {
            snprintf(err, errlen, "key '%.40s' names no channel in 0..%d", key,
                     ND_MAX_CHANNELS - 1);
            return -1;
        }
        bool *seen_ch = is_offset ? &seen_offset[ch] : &seen_gain[ch];
        if (*seen_ch) {
            snprintf(err, errlen, "key '%s' appears twice", key);
            return -1;
        }
        *seen_ch = true;
        if (parse_double(value, is_offset ? &c->offset[ch] : &c->gain[ch]) < 0) {
            snprintf(err, errlen, "%s = '%.40s' is not a finite number", key, value);
            return -1;
        }
        return 0;
    }
    snprintf(err, errlen, "unknown key '%.40s'", key);
    return -1;
}

int nd_calibration_load(nd_calibration *out, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errlen, "cannot open calibration %s: %s", path, strerror(errno));
        return -1;
    }
    /* Bounds what getline below may allocate: a real file is a few hundred bytes. */
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 65536) {
        snprintf(err, errlen, "calibration %s is invalid: file is too large (%lld bytes)", path,
                 (long long)st.st_size);
        fclose(f);
        return -1;
    }
    nd_calibration c;
    memset(&c, 0, sizeof c);
    bool seen[SEEN_N] = {false};
    bool seen_offset[ND_MAX_CHANNELS] = {false}, seen_gain[ND_MAX_CHANNELS] = {false};
    char *line = NULL, detail[200];
    size_t cap = 0;
    int lineno = 0, rc = 0;
    ssize_t got;
    /* getline gives the true length, so a NUL byte (which strlen-based
     * reading would silently end the line at) is seen and refused. */
    while (rc == 0 && (got = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (len > 511) {
            snprintf(detail, sizeof detail, "line is too long");
            rc = -1;
            break;
        }
        if (memchr(line, '\0', len) != NULL) {
            snprintf(detail, sizeof detail, "line contains a NUL byte");
            rc = -1;
            break;
        }
        char *text = trim(line);
        if (*text == '\0' || *text == '#') continue;
        char *eq = strchr(text, '=');
        if (!eq) {
            snprintf(detail, sizeof detail, "expected 'key = value'");
            rc = -1;
            break;
        }
        *eq = '\0';
        rc = parse_line(&c, trim(text), trim(eq + 1), seen, seen_offset, seen_gain, detail,
                        sizeof detail);
    }
    if (rc == 0 && ferror(f)) {
        snprintf(detail, sizeof detail, "read error");
        rc = -1;
    }
    free(line);
    fclose(f);
    if (rc < 0) {
        snprintf(err, errlen, "calibration %s is invalid at line %d: %s", path, lineno, detail);
        return -1;
    }
    static const char *const required[] = {"format",   "version",      "device_serial",
                                           "channels", "left_channel", "right_channel"};
    for (int k = 0; k < SEEN_N; k++) {
        if (!seen[k]) {
            snprintf(err, errlen, "calibration %s is invalid: '%s' is missing", path, required[k]);
            return -1;
        }
    }
    for (int ch = 0; ch < ND_MAX_CHANNELS; ch++) {
        bool want = ch < c.nch;
        if (want && (!seen_offset[ch] || !seen_gain[ch])) {
            snprintf(err, errlen,
                     "calibration %s is invalid: offset or gain of channel %d is missing", path,
                     ch);
            return -1;
        }
        if (!want && (seen_offset[ch] || seen_gain[ch])) {
            snprintf(err, errlen, "calibration %s is invalid: channel %d given but channels = %d",
                     path, ch, c.nch);
            return -1;
        }
    }
    if (check_calibration(&c, detail, sizeof detail) < 0) {
        snprintf(err, errlen, "calibration %s is invalid: %s", path, detail);
        return -1;
    }
    *out = c;
    return 0;
}
