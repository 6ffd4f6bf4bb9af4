/* The simulated Nordic board ("sim:"): a transport whose bytes are NFP/1
 * frames generated from the force model (nd_sim_model.h), so the demo and the
 * tests run the real decoder path. Paced mode follows CLOCK_MONOTONIC since
 * open (frames are due at absolute times, so it never drifts); unpaced mode
 * fills every read. Optional fault injection drops or corrupts frames. */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_log.h"
#include "nd_nfp.h"
#include "nd_sim_model.h"
#include "nd_transport.h"

#ifndef NORDIC_VERSION
#define NORDIC_VERSION "0"
#endif

#define SIM_OUT_CAP (64 * 1024)
/* Room one batch (INFO + STATUS + SAMPLES) may need in the output buffer. */
#define SIM_BATCH_MAX                                                                              \
    (NFP_MAX_FRAME(NFP_MAX_INFO_BODY) + NFP_MAX_FRAME(2 + NFP_STATUS_PAYLOAD + 2) +                \
     NFP_MAX_FRAME(NFP_MAX_BODY))

/* Every option sim_open() reads; the stream device rejects any other key. */
// clang-format off
static const char *const sim_keys[] = {
    "rate", "nch", "reps", "rest", "unloaded", "lead", "peak_left", "peak_right", "peak", "asym",
    "rise", "var", "baseline", "seed", "noise", "spike_prob", "spike_amp", "hum_hz", "hum_amp",
    "cpn", "pace", "sets_per_frame", "duration", "serial", "model", "drop_every", "corrupt_every",
    "clock_ppm", NULL};
// clang-format on

typedef struct sim_tr {
    nd_sim_model model;
    int spf; /* sample sets per SAMPLES frame */
    bool pace;
    double clock_ppm;    /* device clock error: + runs fast against the host */
    uint64_t total_sets; /* UINT64_MAX = endless */
    uint64_t drop_every; /* 0 = off */
    uint64_t corrupt_every;
    char serial[64];
    char model_name[64];
    char info_json[1024];

    uint64_t open_ns;
    uint64_t next_set; /* first set of the next SAMPLES frame */
    uint64_t frame_no; /* SAMPLES frames generated so far (1-based numbering) */
    uint64_t next_info_set, next_status_set;

    uint8_t out[SIM_OUT_CAP];
    size_t out_pos, out_len; /* pending bytes not yet handed out */
    int32_t raw[NFP_MAX_NSETS * NFP_MAX_NCH];
} sim_tr;

/* ---- options ------------------------------------------------------------ */

static int get_name(const nd_uri *uri, const char *key, const char *def, char *out, size_t cap,
                    char *err, size_t errlen)
{
    const char *v = nd_uri_get(uri, key);
    if (!v) v = def;
    size_t n = strlen(v);
    bool ok = n >= 1 && n < cap && n <= 63;
    for (size_t i = 0; ok && i < n; i++)
        ok = v[i] >= 0x20 && v[i] < 0x7f && v[i] != '"' && v[i] != '\\';
    if (!ok) {
        snprintf(err, errlen,
                 "sim: option %s='%s' must be 1-63 printable ASCII characters without quotes "
                 "or backslashes",
                 key, v);
        return -1;
    }
    memcpy(out, v, n + 1);
    return 0;
}

/* peak_left/peak_right, or peak (+ asym): asym > 0 means the left leg is
 * stronger, as in METRICS.md 4.5, and peak is then the stronger leg's value. */
static int parse_peaks(const nd_uri *uri, nd_sim_settings *s, char *err, size_t errlen)
{
    bool has_lr = nd_uri_get(uri, "peak_left") || nd_uri_get(uri, "peak_right");
    bool has_pa = nd_uri_get(uri, "peak") || nd_uri_get(uri, "asym");
    if (has_lr && has_pa) {
        snprintf(err, errlen, "sim: give either peak_left/peak_right or peak/asym, not both");
        return -1;
    }
    if (has_pa) {
        double peak, asym;
        if (nd_uri_get_double(uri, "peak", 330, 20, 3000, &peak, err, errlen) < 0 ||
            nd_uri_get_double(uri, "asym", 0, -90, 90, &asym, err, errlen) < 0)
            return -1;
        s->peak_n[ND_SIM_LEFT] = asym >= 0 ? peak : peak * (1.0 + asym / 100.0);
        s->peak_n[ND_SIM_RIGHT] = asym >= 0 ? peak * (1.0 - asym / 100.0) : peak;
        return 0;
    }
    return nd_uri_get_double(uri, "peak_left", s->peak_n[0], 20, 3000, &s->peak_n[0], err, errlen) <
                       0 ||
                   nd_uri_get_double(uri, "peak_right", s->peak_n[1], 20, 3000, &s->peak_n[1], err,
                                     errlen) < 0
               ? -1
               : 0;
}

static int parse_options(sim_tr *st, const nd_uri *uri, char *err, size_t errlen)
{
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    long rate, nch, reps, seed, hum_hz, spf, drop_every, corrupt_every;
    int pace;
    double duration;
    if (uri->path && uri->path[0]) {
        snprintf(err, errlen, "sim:%s: the simulator takes no path, only options (sim:?rate=...)",
                 uri->path);
        return -1;
    }
    if (nd_uri_get_long(uri, "rate", 1000, 10, 100000, &rate, err, errlen) < 0 ||
        nd_uri_get_long(uri, "nch", 2, 1, ND_MAX_CHANNELS, &nch, err, errlen) < 0 ||
        nd_uri_get_long(uri, "reps", 3, 0, 100000, &reps, err, errlen) < 0 ||
        nd_uri_get_double(uri, "rest", s.rest_s, 0, 600, &s.rest_s, err, errlen) < 0 ||
        nd_uri_get_double(uri, "lead", s.lead_s, 0, 600, &s.lead_s, err, errlen) < 0 ||
        nd_uri_get_double(uri, "unloaded", s.unloaded_s, 0, 600, &s.unloaded_s, err, errlen) < 0 ||
        parse_peaks(uri, &s, err, errlen) < 0 ||
        nd_uri_get_double(uri, "rise", s.rise_s, 0.5, 10, &s.rise_s, err, errlen) < 0 ||
        nd_uri_get_double(uri, "var", s.rep_cv_pct, 0, 20, &s.rep_cv_pct, err, errlen) < 0 ||
        nd_uri_get_double(uri, "baseline", s.baseline_n, 0, 100, &s.baseline_n, err, errlen) < 0 ||
        nd_uri_get_long(uri, "seed", 1, 0, 0x7fffffffL, &seed, err, errlen) < 0 ||
        nd_uri_get_double(uri, "noise", s.noise_pp_n, 0, 100, &s.noise_pp_n, err, errlen) < 0 ||
        nd_uri_get_double(uri, "spike_prob", s.spike_prob, 0, 1, &s.spike_prob, err, errlen) < 0 ||
        nd_uri_get_double(uri, "spike_amp", s.spike_amp_n, 0, 3000, &s.spike_amp_n, err, errlen) <
            0 ||
        nd_uri_get_long(uri, "hum_hz", 0, 0, 60, &hum_hz, err, errlen) < 0 ||
        nd_uri_get_double(uri, "hum_amp", s.hum_amp_n, 0, 100, &s.hum_amp_n, err, errlen) < 0 ||
        nd_uri_get_double(uri, "cpn", s.counts_per_newton, 0.001, 100000, &s.counts_per_newton, err,
                          errlen) < 0 ||
        nd_uri_get_bool(uri, "pace", 1, &pace, err, errlen) < 0 ||
        nd_uri_get_double(uri, "clock_ppm", 0, -1000, 1000, &st->clock_ppm, err, errlen) < 0 ||
        nd_uri_get_double(uri, "duration", 0, 0, 1e7, &duration, err, errlen) < 0 ||
        nd_uri_get_long(uri, "drop_every", 0, 0, 1000000000L, &drop_every, err, errlen) < 0 ||
        nd_uri_get_long(uri, "corrupt_every", 0, 0, 1000000000L, &corrupt_every, err, errlen) < 0 ||
        get_name(uri, "serial", "SIM-0001", st->serial, sizeof st->serial, err, errlen) < 0 ||
        get_name(uri, "model", "nordic-sim", st->model_name, sizeof st->model_name, err, errlen) <
            0)
        return -1;
    /* About one frame per millisecond, as a USB full-speed board would send. */
    long def_spf =
        rate / 1000 < 1 ? 1 : (rate / 1000 > NFP_MAX_NSETS ? NFP_MAX_NSETS : rate / 1000);
    if (nd_uri_get_long(uri, "sets_per_frame", def_spf, 1, NFP_MAX_NSETS, &spf, err, errlen) < 0)
        return -1;
    if (hum_hz != 0 && hum_hz != 50 && hum_hz != 60) {
        snprintf(err, errlen, "sim: option hum_hz=%ld must be 0, 50 or 60", hum_hz);
        return -1;
    }
    if (drop_every == 1) {
        snprintf(err, errlen, "sim: option drop_every=1 would drop every frame (use 0 or >= 2)");
        return -1;
    }
    s.rate_hz = (uint32_t)rate;
    s.nch = (int)nch;
    s.reps = reps;
    s.seed = (uint64_t)seed;
    s.hum_hz = (uint32_t)hum_hz;
    char merr[200];
    if (nd_sim_model_init(&st->model, &s, merr, sizeof merr) < 0) {
        snprintf(err, errlen, "sim: %s", merr);
        return -1;
    }
    st->spf = (int)spf;
    st->pace = pace;
    st->drop_every = (uint64_t)drop_every;
    st->corrupt_every = (uint64_t)corrupt_every;
    /* The stream ends at duration if given, else 2 s after the last rep;
     * reps=0 without a duration runs forever. */
    if (duration > 0)
        st->total_sets = (uint64_t)(duration * (double)rate + 0.5);
    else if (reps > 0)
        st->total_sets = (uint64_t)((nd_sim_model_last_rep_end_s(&st->model) + 2.0) * (double)rate);
    else
        st->total_sets = UINT64_MAX;
    if (st->total_sets == 0) st->total_sets = 1;
    return 0;
}

/* ---- stream generation --------------------------------------------------- */

static void build_info_json(sim_tr *st)
{
    const nd_sim_settings *s = &st->model.s;
    char *p = st->info_json;
    size_t cap = sizeof st->info_json, n = 0;
    n += (size_t)snprintf(p + n, cap - n,
                          "{\"model\":\"%s\",\"serial\":\"%s\",\"rate_hz\":%u,\"nch\":%d,"
                          "\"fw\":\"nordicd-sim %s\",\"channels\":[",
                          st->model_name, st->serial, s->rate_hz, s->nch, NORDIC_VERSION);
    for (int ch = 0; ch < s->nch; ch++) {
        const char *name = ch == 0 ? "left" : ch == 1 ? "right" : NULL;
        if (name)
            n += (size_t)snprintf(p + n, cap - n, "%s\"%s\"", ch ? "," : "", name);
        else
            n += (size_t)snprintf(p + n, cap - n, ",\"aux%d\"", ch);
    }
    n += (size_t)snprintf(p + n, cap - n, "],\"counts_per_newton\":[");
    for (int ch = 0; ch < s->nch; ch++)
        n += (size_t)snprintf(p + n, cap - n, "%s%.9g", ch ? "," : "", s->counts_per_newton);
    snprintf(p + n, cap - n, "]}");
}

/* Nanoseconds after open at which sample set n exists (exact, no overflow
 * for centuries at 100 kHz). */
static uint64_t set_time_ns(const sim_tr *st, uint64_t n)
{
    uint64_t rate = st->model.s.rate_hz;
    return n / rate * 1000000000ull + n % rate * 1000000000ull / rate;
}

static uint32_t set_time_us(const sim_tr *st, uint64_t n)
{
    uint64_t rate = st->model.s.rate_hz;
    return (uint32_t)(n / rate * 1000000ull + n % rate * 1000000ull / rate);
}

static bool finished(const sim_tr *st)
{
    return st->next_set >= st->total_sets;
}

static int frame_sets(const sim_tr *st)
{
    uint64_t left = st->total_sets - st->next_set;
    return left < (uint64_t)st->spf ? (int)left : st->spf;
}

/* When the next SAMPLES frame is due: once its last set has been sampled. */
static uint64_t next_due_ns(const sim_tr *st)
{
    uint64_t device_ns = set_time_ns(st, st->next_set + (uint64_t)frame_sets(st));
    /* A crystal running fast by p ppm counts 1 + p·1e-6 device seconds per
     * host second, so set n exists earlier in host time. */
    if (st->clock_ppm != 0)
        device_ns = (uint64_t)llround((double)device_ns / (1.0 + st->clock_ppm * 1e-6));
    return st->open_ns + device_ns;
}

/* Flip one data byte of an encoded frame (never a COBS code byte or the
 * delimiter), so the frame stays well framed and fails only its CRC. */
static void corrupt_frame(uint8_t *f, size_t len)
{
    size_t last_data = 0, code = 0;
    bool found = false;
    for (size_t i = 0; i + 1 < len; i++) {
        if (i == code) {
            code = i + f[i];
            continue;
        }
        last_data = i;
        found = true;
    }
    if (!found) return;
    f[last_data] ^= (f[last_data] == 0x01) ? 0x02 : 0x01;
}

static void append(sim_tr *st, size_t n)
{
    if (n == 0) {
        /* Only possible through a programming error (sizes are checked above). */
        nd_err("sim: frame encoder refused a frame");
        return;
    }
    st->out_len += n;
}

/* Append the next batch: INFO and STATUS when due (about once a second of
 * stream time), then one SAMPLES frame. */
static void generate_batch(sim_tr *st)
{
    const nd_sim_settings *s = &st->model.s;
    if (st->next_set >= st->next_info_set) {
        append(st,
               nfp_encode_info(st->out + st->out_len, SIM_OUT_CAP - st->out_len, st->info_json));
        st->next_info_set += s->rate_hz;
    }
    if (st->next_set >= st->next_status_set) {
        append(st, nfp_encode_status(st->out + st->out_len, SIM_OUT_CAP - st->out_len, 0, 0));
        st->next_status_set += s->rate_hz;
    }
    int nsets = frame_sets(st);
    uint64_t first = st->next_set;
    st->next_set += (uint64_t)nsets;
    st->frame_no++;
    bool last =
        finished(st); /* never drop or corrupt the last frame: its loss would be invisible */
    if (!last && st->drop_every && st->frame_no % st->drop_every == 0) return;
    for (int k = 0; k < nsets; k++)
        nd_sim_model_sample(&st->model, first + (uint64_t)k, st->raw + (size_t)k * (size_t)s->nch,
                            NULL);
    size_t n = nfp_encode_samples(st->out + st->out_len, SIM_OUT_CAP - st->out_len, (uint32_t)first,
                                  set_time_us(st, first), (uint8_t)s->nch, (uint8_t)nsets, st->raw);
    if (n && !last && st->corrupt_every && st->frame_no % st->corrupt_every == 0)
        corrupt_frame(st->out + st->out_len, n);
    append(st, n);
}

static void sleep_until(uint64_t target_ns)
{
    struct timespec ts = {.tv_sec = (time_t)(target_ns / 1000000000ull),
                          .tv_nsec = (long)(target_ns % 1000000000ull)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR) {
    }
}

static ssize_t sim_read(nd_transport *t, uint8_t *buf, size_t len, int timeout_ms)
{
    sim_tr *st = t->priv;
    if (len == 0) return 0;
    if (st->out_pos == st->out_len) {
        st->out_pos = st->out_len = 0;
        if (finished(st)) return ND_TR_EOF;
        uint64_t now = nd_monotonic_ns();
        if (st->pace) {
            uint64_t due = next_due_ns(st);
            if (now < due) {
                uint64_t limit = now + (timeout_ms > 0 ? (uint64_t)timeout_ms * 1000000ull : 0);
                if (limit == now) return 0;
                sleep_until(due < limit ? due : limit);
                now = nd_monotonic_ns();
                if (now < due) return 0;
            }
        }
        /* Everything due (paced) or as much as the caller takes (unpaced). */
        while (!finished(st) && st->out_len < len && SIM_OUT_CAP - st->out_len >= SIM_BATCH_MAX &&
               (!st->pace || next_due_ns(st) <= now))
            generate_batch(st);
        if (st->out_len == 0) return finished(st) ? ND_TR_EOF : 0;
    }
    size_t n = st->out_len - st->out_pos;
    if (n > len) n = len;
    memcpy(buf, st->out + st->out_pos, n);
    st->out_pos += n;
    return (ssize_t)n;
}

static int sim_open(nd_transport *t, const nd_uri *uri, char *err, size_t errlen)
{
    sim_tr *st = calloc(1, sizeof *st);
    if (!st) {
        snprintf(err, errlen, "sim: out of memory");
        return -1;
    }
    if (parse_options(st, uri, err, errlen) < 0) {
        free(st);
        return -1;
    }
    build_info_json(st);
    st->open_ns = nd_monotonic_ns();
    t->priv = st;
    nd_info("sim: %u Hz, %d channels, %ld reps, %s, %d sets per frame", st->model.s.rate_hz,
            st->model.s.nch, st->model.s.reps, st->pace ? "real time" : "unpaced", st->spf);
    return 0;
}

static void sim_close(nd_transport *t)
{
    free(t->priv);
    t->priv = NULL;
}

const nd_transport_ops nd_transport_sim = {
    .keys = sim_keys,
    .default_proto = "nfp",
    .open = sim_open,
    .read = sim_read,
    .write = NULL,
    .reopen = NULL,
    .close = sim_close,
};
