/* Emulated serial devices and fault injection (nd_devsim.h). */
#include "nd_devsim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nd_nfp.h"

#define LBF_N 4.4482216152605
#define G_N   0.00980665

struct nd_devsim {
    nd_devsim_config cfg;
    nd_sim_model model;
    uint64_t rng;
    uint64_t next_set; /* index of the next sample set to send */
    uint64_t next_info_set;
    nd_devsim_stats stats;
    /* loadstar emulation */
    enum { LS_IDLE, LS_STREAM_MLB, LS_STREAM_UNIT } ls_mode;
    char ls_cmd[64];
    size_t ls_cmd_len;
    double ls_zero_n;
    char ls_unit[8];
    double ls_unit_n;
    char ls_id[32];
};

uint64_t nd_devsim_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double nd_devsim_rand01(uint64_t *state)
{
    return (double)(nd_devsim_rand(state) >> 11) * 0x1p-53;
}

int nd_devsim_proto_parse(const char *name, nd_devsim_proto *out)
{
    static const char *const names[] = {"nfp", "csv", "hx711-adc-2x", "openscale", "loadstar"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (nd_devsim_proto)i;
            return 0;
        }
    return -1;
}

nd_devsim *nd_devsim_new(const nd_devsim_config *cfg, char *err, size_t errlen)
{
    int nch = cfg->nch;
    if (cfg->proto == ND_DEVSIM_HX711) nch = 2;
    if (cfg->proto == ND_DEVSIM_OPENSCALE || cfg->proto == ND_DEVSIM_LOADSTAR) nch = 2;
    if (nch < 1 || nch > ND_MAX_CHANNELS) {
        snprintf(err, errlen, "channels must be 1..%d", ND_MAX_CHANNELS);
        return NULL;
    }
    if (cfg->sets_per_frame < 1 || cfg->sets_per_frame > NFP_MAX_NSETS) {
        snprintf(err, errlen, "sets per frame must be 1..%d", NFP_MAX_NSETS);
        return NULL;
    }
    if (cfg->seq_jump < 0 || cfg->seq_jump > 1) {
        snprintf(err, errlen, "seq jump probability must be 0..1");
        return NULL;
    }
    nd_devsim *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->cfg = *cfg;
    d->cfg.nch = nch;
    d->rng = cfg->seed ^ 0x5EEDF00Dull;
    nd_sim_settings s;
    nd_sim_settings_default(&s);
    s.rate_hz = cfg->rate_hz;
    s.nch = nch;
    s.seed = cfg->seed;
    if (nd_sim_model_init(&d->model, &s, err, errlen) < 0) {
        free(d);
        return NULL;
    }
    d->ls_mode = cfg->interactive ? LS_IDLE : LS_STREAM_MLB;
    snprintf(d->ls_unit, sizeof d->ls_unit, "lb");
    d->ls_unit_n = LBF_N;
    snprintf(d->ls_id, sizeof d->ls_id, "LS-%llu", (unsigned long long)cfg->seed);
    return d;
}

void nd_devsim_free(nd_devsim *d)
{
    free(d);
}

const nd_devsim_stats *nd_devsim_stats_get(const nd_devsim *d)
{
    return &d->stats;
}

void nd_devsim_raw(nd_devsim *d, uint64_t i, int32_t *raw)
{
    nd_sim_model_sample(&d->model, i, raw, NULL);
}

static size_t nfp_unit(nd_devsim *d, uint8_t *out, size_t cap)
{
    const nd_devsim_config *c = &d->cfg;
    if (d->next_set >= d->next_info_set) {
        /* INFO at start and once per second of data, as NFP/1, drivers/decoders/PROTOCOL.md asks.
         */
        d->next_info_set = d->next_set + c->rate_hz;
        char json[512];
        int n = snprintf(json, sizeof json,
                         "{\"model\":\"nordic-devsim\",\"serial\":\"DEVSIM-%llu\",\"rate_hz\":%u,"
                         "\"nch\":%d,\"fw\":\"devsim\",\"counts_per_newton\":[",
                         (unsigned long long)c->seed, c->rate_hz, c->nch);
        for (int ch = 0; ch < c->nch && n > 0 && (size_t)n < sizeof json; ch++)
            n += snprintf(json + n, sizeof json - (size_t)n, "%s%g", ch ? "," : "",
                          d->model.s.counts_per_newton);
        if (n > 0 && (size_t)n < sizeof json) snprintf(json + n, sizeof json - (size_t)n, "]}");
        size_t len = nfp_encode_info(out, cap, json);
        if (len) d->stats.units++;
        return len;
    }
    if (c->seq_jump > 0 && nd_devsim_rand01(&d->rng) < c->seq_jump) {
        uint64_t skip = 1 + nd_devsim_rand(&d->rng) % 50;
        d->next_set += skip;
        d->stats.sets_skipped += skip;
    }
    int32_t raw[NFP_MAX_NSETS * NFP_MAX_NCH];
    int nsets = c->sets_per_frame;
    for (int k = 0; k < nsets; k++)
        nd_sim_model_sample(&d->model, d->next_set + (uint64_t)k, raw + k * c->nch, NULL);
    uint32_t t_us = (uint32_t)(uint64_t)((double)d->next_set * 1e6 / c->rate_hz);
    size_t len = nfp_encode_samples(out, cap, (uint32_t)d->next_set, t_us, (uint8_t)c->nch,
                                    (uint8_t)nsets, raw);
    if (!len) return 0;
    d->next_set += (uint64_t)nsets;
    d->stats.sets += (uint64_t)nsets;
    d->stats.units++;
    return len;
}

static size_t text_unit(nd_devsim *d, uint8_t *out, size_t cap)
{
    const nd_devsim_config *c = &d->cfg;
    int32_t raw[ND_MAX_CHANNELS];
    double f[ND_MAX_CHANNELS];
    uint64_t i = d->next_set;
    nd_sim_model_sample(&d->model, i, raw, f);
    int n = 0;
    switch (c->proto) {
    case ND_DEVSIM_CSV:
        for (int ch = 0; ch < c->nch; ch++)
            n += snprintf((char *)out + n, cap > (size_t)n ? cap - (size_t)n : 0, "%s%d",
                          ch ? "," : "", raw[ch]);
        n += snprintf((char *)out + n, cap > (size_t)n ? cap - (size_t)n : 0, "\r\n");
        break;
    case ND_DEVSIM_HX711:
        n = snprintf((char *)out, cap,
                     "Load_cell 1 output val: %.2f    Load_cell 2 output val: %.2f\r\n", f[0] / G_N,
                     f[1] / G_N);
        break;
    case ND_DEVSIM_OPENSCALE:
        n = snprintf((char *)out, cap, "%llu,%.2f,lbs,\r\n",
                     (unsigned long long)(i * 1000 / c->rate_hz), f[c->leg] / LBF_N);
        break;
    case ND_DEVSIM_LOADSTAR:
        if (d->ls_mode == LS_STREAM_UNIT)
            n = snprintf((char *)out, cap, "%12.4f\r\n", (f[c->leg] - d->ls_zero_n) / d->ls_unit_n);
        else
            n = snprintf((char *)out, cap, "%ld\r\n",
                         lround((f[c->leg] - d->ls_zero_n) / LBF_N * 1000.0));
        break;
    case ND_DEVSIM_NFP:
        return 0;
    }
    if (n <= 0 || (size_t)n >= cap) return 0;
    d->next_set++;
    d->stats.sets++;
    d->stats.units++;
    return (size_t)n;
}

size_t nd_devsim_next(nd_devsim *d, uint8_t *out, size_t cap)
{
    return d->cfg.proto == ND_DEVSIM_NFP ? nfp_unit(d, out, cap) : text_unit(d, out, cap);
}

/* --- Loadstar command set --- */

static const struct {
    const char *name;
    double newtons;
} ls_units[] = {{"lb", LBF_N}, {"lbf", LBF_N}, {"kg", 9.80665}, {"kgf", 9.80665},
                {"N", 1.0},    {"kN", 1000.0}, {"g", G_N},      {"oz", LBF_N / 16.0}};

bool nd_devsim_streaming(const nd_devsim *d)
{
    return d->cfg.proto != ND_DEVSIM_LOADSTAR || d->ls_mode != LS_IDLE;
}

const char *nd_devsim_id(const nd_devsim *d)
{
    return d->ls_id;
}

double nd_devsim_zero_n(const nd_devsim *d)
{
    return d->ls_zero_n;
}

/* Force on the emulated cell now (at the next set to be sent). */
static double ls_force_now(nd_devsim *d)
{
    int32_t raw[ND_MAX_CHANNELS];
    double f[ND_MAX_CHANNELS];
    nd_sim_model_sample(&d->model, d->next_set, raw, f);
    return f[d->cfg.leg];
}

static int ls_answer(nd_devsim *d, const char *cmd, char *out, size_t cap)
{
    if (cmd[0] == '\0') return snprintf(out, cap, "A\r\n");
    if (strcasecmp(cmd, "MODEL") == 0) return snprintf(out, cap, "FCM DI-1000\r\n");
    if (strcasecmp(cmd, "ID") == 0 || strcasecmp(cmd, "SS1") == 0)
        return snprintf(out, cap, "%s\r\n", d->ls_id);
    if (strcasecmp(cmd, "UNITS") == 0) return snprintf(out, cap, "%s\r\n", d->ls_unit);
    if (strncasecmp(cmd, "UNITS ", 6) == 0) {
        for (size_t i = 0; i < sizeof ls_units / sizeof ls_units[0]; i++)
            if (strcmp(cmd + 6, ls_units[i].name) == 0) {
                snprintf(d->ls_unit, sizeof d->ls_unit, "%s", ls_units[i].name);
                d->ls_unit_n = ls_units[i].newtons;
                return snprintf(out, cap, "%s\r\n", d->ls_unit);
            }
        return snprintf(out, cap, "?\r\n");
    }
    if (strcasecmp(cmd, "LC") == 0)
        return snprintf(out, cap, "%.2f\r\n",
                        ND_DEVSIM_LOADSTAR_CAPACITY_LB * LBF_N / d->ls_unit_n);
    if (strcasecmp(cmd, "SLC") == 0)
        return snprintf(out, cap, "%.2f\r\n", ND_DEVSIM_LOADSTAR_CAPACITY_LB);
    if (strcasecmp(cmd, "CT0") == 0 || strcasecmp(cmd, "CT1") == 0 ||
        strcasecmp(cmd, "TARE") == 0) {
        d->ls_zero_n = ls_force_now(d);
        return snprintf(out, cap, "Tared\r\n");
    }
    if (strcasecmp(cmd, "W") == 0)
        return snprintf(out, cap, "%.4f\r\n", (ls_force_now(d) - d->ls_zero_n) / d->ls_unit_n);
    if (strcasecmp(cmd, "O0W1") == 0)
        return snprintf(out, cap, "%ld\r\n",
                        lround((ls_force_now(d) - d->ls_zero_n) / LBF_N * 1000.0));
    if (strcasecmp(cmd, "WC") == 0) {
        d->ls_mode = LS_STREAM_UNIT;
        return 0;
    }
    if (strcasecmp(cmd, "O0W0") == 0) {
        d->ls_mode = LS_STREAM_MLB;
        return 0;
    }
    return snprintf(out, cap, "?\r\n");
}

size_t nd_devsim_input(nd_devsim *d, const uint8_t *in, size_t len, uint8_t *out, size_t cap)
{
    size_t n = 0;
    if (d->cfg.proto != ND_DEVSIM_LOADSTAR) return 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = in[i];
        if (b == '\n' && i > 0 && in[i - 1] == '\r') continue; /* CRLF is one end */
        if (b != '\r' && b != '\n') {
            if (d->ls_cmd_len + 1 < sizeof d->ls_cmd) d->ls_cmd[d->ls_cmd_len++] = (char)b;
            continue;
        }
        d->ls_cmd[d->ls_cmd_len] = '\0';
        d->ls_cmd_len = 0;
        bool was_streaming = d->ls_mode != LS_IDLE;
        d->ls_mode = LS_IDLE; /* any line stops the stream */
        /* The CR that stops a stream is not a ping: the stream just ends. */
        if (was_streaming && d->ls_cmd[0] == '\0') continue;
        char ans[64];
        int a = ls_answer(d, d->ls_cmd, ans, sizeof ans);
        if (a > 0 && n + (size_t)a <= cap) {
            memcpy(out + n, ans, (size_t)a);
            n += (size_t)a;
        }
    }
    return n;
}

size_t nd_devsim_banner(nd_devsim *d, uint8_t *out, size_t cap)
{
    const char *text;
    switch (d->cfg.proto) {
    case ND_DEVSIM_NFP: {
        /* Bootloader chatter before the first frame: no 0x00 inside, ends
         * with one so the receiver resynchronises. */
        size_t n = cap < 40 ? cap : 40;
        for (size_t i = 0; i + 1 < n; i++) out[i] = (uint8_t)(1 + nd_devsim_rand(&d->rng) % 255);
        if (n) out[n - 1] = 0;
        return n;
    }
    case ND_DEVSIM_HX711:
        text = "\r\nStarting...\r\nStartup is complete\r\n";
        break;
    case ND_DEVSIM_OPENSCALE:
        text = "\r\nSparkFun OpenScale\r\nReadings:\r\n";
        break;
    case ND_DEVSIM_CSV:
        text = "\r\n# nordic devsim csv, HX711 v0.7\r\nleft,right\r\n";
        break;
    default:
        text = "\r\n";
        break;
    }
    size_t n = strlen(text);
    if (n > cap) n = cap;
    memcpy(out, text, n);
    return n;
}

void nd_faults_init(nd_faults *f, const nd_fault_config *cfg)
{
    memset(f, 0, sizeof *f);
    f->cfg = *cfg;
    f->rng = cfg->seed ^ 0xFA017ull;
}

size_t nd_faults_apply(nd_faults *f, const uint8_t *in, size_t len, uint8_t *out)
{
    size_t keep = len;
    if (f->cfg.truncate > 0 && len > 1 && nd_devsim_rand01(&f->rng) < f->cfg.truncate) {
        keep = 1 + nd_devsim_rand(&f->rng) % (len - 1);
        f->truncated++;
    }
    size_t n = 0;
    for (size_t i = 0; i < keep; i++) {
        if (f->cfg.drop > 0 && nd_devsim_rand01(&f->rng) < f->cfg.drop) {
            f->dropped++;
            continue;
        }
        uint8_t b = in[i];
        if (f->cfg.flip > 0 && nd_devsim_rand01(&f->rng) < f->cfg.flip) {
            b ^= (uint8_t)(1u << (nd_devsim_rand(&f->rng) & 7));
            f->flipped++;
        }
        out[n++] = b;
    }
    return n;
}
