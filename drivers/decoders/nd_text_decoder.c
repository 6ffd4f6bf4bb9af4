/* Text line decoder: presets, number extraction, line framing. */
#include "nd_text_decoder.h"

#include <ctype.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_log.h"
#include "nd_rate_estimate.h"

#define BATCH 64

const char *const nd_text_keys[] = {"preset", "channels", "time", "time_unit",  "fields", "match",
                                    "unit",   "scale",    "rate", "first_line", "model",  NULL};

struct nd_text_decoder {
    nd_device *dev;
    nd_text_config cfg;
    nd_text_line_hook hook;
    void *hook_ctx;
    char line[ND_TEXT_MAX_LINE + 1];
    size_t len;
    bool overflow;     /* current line exceeded ND_TEXT_MAX_LINE */
    bool binary;       /* current line holds control or non-ASCII bytes */
    bool skipping;     /* still inside the first (possibly partial) line */
    uint64_t next_seq; /* host counter: text carries no sequence numbers */
    nd_sample batch[BATCH];
    size_t nbatch;
    bool publishes_info; /* the stream decoder (not Loadstar's reuse) owns dev info */
    nd_rate_estimate rate;
    double measured_hz; /* 0 until measured */
    uint64_t misfits;   /* lines refused as not fitting the preset, none accepted yet */
    bool accepted_any;
    char rate_warning[96];
    char fit_warning[176];
};

/* Lines refused for not fitting the preset, with none accepted, before the
 * decoder warns: a stray banner or half line must not trigger it. */
#define MISFITS_BEFORE_WARNING 5

/* strtod must not follow the daemon's LC_NUMERIC (a decimal comma). */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

double nd_text_unit_newtons(const char *unit)
{
    static const struct {
        const char *name;
        double newtons;
    } units[] = {
        {"N", 1.0},
        {"kg", 9.80665},
        {"g", 0.00980665},
        {"lbf", 4.4482216152605},
        {"lb", 4.4482216152605},
        {"mlbf", 0.0044482216152605},
        {"counts", 0.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(unit, units[i].name) == 0) return units[i].newtons;
    return -1.0;
}

int nd_text_config_preset(nd_text_config *cfg, const char *preset)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->time_index = -1;
    cfg->time_to_us = 1000.0;
    cfg->skip_first = true;
    if (strcmp(preset, "csv") == 0) {
        /* Plain columns of raw ADC counts, left then right. */
        cfg->nch = 2;
        cfg->chan_index[0] = 0;
        cfg->chan_index[1] = 1;
        snprintf(cfg->unit, sizeof cfg->unit, "counts");
        cfg->scale = 1.0;
        cfg->rate_hz = 100.0;
        cfg->bare_columns = true;
        cfg->fit_hint = "bare numeric columns, left then right";
    } else if (strcmp(preset, "hx711-adc-2x") == 0) {
        /* "Load_cell 1 output val: <f>    Load_cell 2 output val: <f>": the
         * cell numbers are numbers too, so the values are indices 1 and 3. */
        cfg->nch = 2;
        cfg->chan_index[0] = 1;
        cfg->chan_index[1] = 3;
        cfg->fields = 4;
        snprintf(cfg->match, sizeof cfg->match, "Load_cell");
        snprintf(cfg->unit, sizeof cfg->unit, "g");
        cfg->scale = 100.0;
        cfg->rate_hz = 10.0; /* HX711 with RATE pin low */
        cfg->fit_hint = "two cells, Load_cell 1 and 2, 4 numbers";
    } else if (strcmp(preset, "openscale") == 0) {
        /* SparkFun OpenScale: "<ms>,<reading>,lbs," with the timestamp on. */
        cfg->nch = 1;
        cfg->chan_index[0] = 1;
        cfg->time_index = 0;
        snprintf(cfg->match, sizeof cfg->match, "lbs");
        snprintf(cfg->unit, sizeof cfg->unit, "lbf");
        cfg->scale = 1000.0;
        cfg->rate_hz = 10.0;
        cfg->fit_hint = "\"<ms>,<reading>,lbs,\"";
    } else {
        return -1;
    }
    snprintf(cfg->preset, sizeof cfg->preset, "%s", preset);
    snprintf(cfg->model, sizeof cfg->model, "text:%s", preset);
    cfg->newtons_per_unit = nd_text_unit_newtons(cfg->unit);
    return 0;
}

static int parse_channels(nd_text_config *cfg, const char *text, char *err, size_t errlen)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= ND_TEXT_MAX_NUMBERS || n >= ND_MAX_CHANNELS ||
            (*end && *end != ',')) {
            snprintf(err, errlen,
                     "channels=%s: expected 1..%d comma-separated number indices 0..%d", text,
                     ND_MAX_CHANNELS, ND_TEXT_MAX_NUMBERS - 1);
            return -1;
        }
        cfg->chan_index[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) {
        snprintf(err, errlen, "channels= is empty: give e.g. channels=0,1");
        return -1;
    }
    cfg->nch = n;
    return 0;
}

int nd_text_config_from_uri(nd_text_config *cfg, const nd_uri *uri, const char *default_preset,
                            char *err, size_t errlen)
{
    const char *preset = nd_uri_get(uri, "preset");
    if (!preset) preset = default_preset;
    if (nd_text_config_preset(cfg, preset) < 0) {
        snprintf(err, errlen, "preset=%s is unknown (known: csv, hx711-adc-2x, openscale)", preset);
        return -1;
    }
    const char *v;
    if ((v = nd_uri_get(uri, "channels")) && parse_channels(cfg, v, err, errlen) < 0) return -1;
    /* Columns or a pattern chosen by hand say what the line means. */
    if (nd_uri_get(uri, "channels") || nd_uri_get(uri, "match")) cfg->bare_columns = false;
    if ((v = nd_uri_get(uri, "time"))) {
        long idx;
        if (strcmp(v, "none") == 0) {
            cfg->time_index = -1;
        } else if (nd_uri_get_long(uri, "time", 0, 0, ND_TEXT_MAX_NUMBERS - 1, &idx, err, errlen) <
                   0) {
            return -1;
        } else {
            cfg->time_index = (int)idx;
        }
    }
    if ((v = nd_uri_get(uri, "time_unit"))) {
        if (strcmp(v, "s") == 0)
            cfg->time_to_us = 1e6;
        else if (strcmp(v, "ms") == 0)
            cfg->time_to_us = 1e3;
        else if (strcmp(v, "us") == 0)
            cfg->time_to_us = 1.0;
        else {
            snprintf(err, errlen, "time_unit=%s: expected s, ms or us", v);
            return -1;
        }
    }
    long fields;
    if (nd_uri_get_long(uri, "fields", cfg->fields, 0, ND_TEXT_MAX_NUMBERS, &fields, err, errlen) <
        0)
        return -1;
    cfg->fields = (int)fields;
    if ((v = nd_uri_get(uri, "match"))) {
        if (strlen(v) >= sizeof cfg->match) {
            snprintf(err, errlen, "match= is longer than %zu characters", sizeof cfg->match - 1);
            return -1;
        }
        snprintf(cfg->match, sizeof cfg->match, "%s", v);
    }
    if ((v = nd_uri_get(uri, "unit"))) {
        double npu = nd_text_unit_newtons(v);
        if (npu < 0) {
            snprintf(err, errlen, "unit=%s: expected N, kg, g, lbf, mlbf or counts", v);
            return -1;
        }
        snprintf(cfg->unit, sizeof cfg->unit, "%s", v);
        cfg->newtons_per_unit = npu;
        /* OpenScale prints its unit on every line: follow the choice. */
        if (strcmp(cfg->preset, "openscale") == 0 && !nd_uri_get(uri, "match"))
            snprintf(cfg->match, sizeof cfg->match, "%s", strcmp(v, "kg") == 0 ? "kg" : "lbs");
    }
    if (nd_uri_get_double(uri, "scale", cfg->scale, 1e-9, 1e9, &cfg->scale, err, errlen) < 0)
        return -1;
    if ((v = nd_uri_get(uri, "rate")) && strcmp(v, "auto") == 0)
        cfg->rate_auto = true;
    else if (nd_uri_get_double(uri, "rate", cfg->rate_hz, 0.01, 1e6, &cfg->rate_hz, err, errlen) <
             0)
        return -1;
    if ((v = nd_uri_get(uri, "first_line"))) {
        if (strcmp(v, "skip") == 0)
            cfg->skip_first = true;
        else if (strcmp(v, "keep") == 0)
            cfg->skip_first = false;
        else {
            snprintf(err, errlen, "first_line=%s: expected skip or keep", v);
            return -1;
        }
    }
    if ((v = nd_uri_get(uri, "model"))) snprintf(cfg->model, sizeof cfg->model, "%s", v);
    int needed = cfg->time_index + 1;
    for (int c = 0; c < cfg->nch; c++)
        if (cfg->chan_index[c] + 1 > needed) needed = cfg->chan_index[c] + 1;
    if (cfg->fields && cfg->fields < needed) {
        snprintf(err, errlen, "fields=%d but the channel/time indices need at least %d numbers",
                 cfg->fields, needed);
        return -1;
    }
    return 0;
}

void nd_text_config_info(const nd_text_config *cfg, nd_device_info *info)
{
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "%s", cfg->model);
    info->rate_hz = cfg->rate_hz;
    info->nch = cfg->nch;
    for (int c = 0; c < cfg->nch; c++) {
        if (cfg->nch == 2)
            snprintf(info->channel_names[c], 32, "%s", c == 0 ? "left" : "right");
        else
            snprintf(info->channel_names[c], 32, "ch%d", c);
        info->counts_per_newton[c] =
            cfg->newtons_per_unit > 0 ? cfg->scale / cfg->newtons_per_unit : 0.0;
    }
}

static bool starts_number(const char *p)
{
    if (isdigit((unsigned char)p[0])) return true;
    if (p[0] == '.' && isdigit((unsigned char)p[1])) return true;
    if (p[0] == '+' || p[0] == '-')
        return isdigit((unsigned char)p[1]) || (p[1] == '.' && isdigit((unsigned char)p[2]));
    return false;
}

static bool glued(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.';
}

int nd_text_extract_numbers(const char *line, double *out, int max)
{
    pthread_once(&c_locale_once, make_c_locale);
    int n = 0;
    const char *p = line;
    while (*p) {
        if (!starts_number(p) || (p > line && glued(p[-1]))) {
            p++;
            continue;
        }
        const char *s = p;
        if (*p == '+' || *p == '-') p++;
        while (isdigit((unsigned char)*p)) p++;
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) p++;
        }
        if ((*p == 'e' || *p == 'E') &&
            (isdigit((unsigned char)p[1]) ||
             ((p[1] == '+' || p[1] == '-') && isdigit((unsigned char)p[2])))) {
            p += 2;
            while (isdigit((unsigned char)*p)) p++;
        }
        char tok[64];
        size_t tl = (size_t)(p - s);
        if (tl >= sizeof tok) return -1;
        memcpy(tok, s, tl);
        tok[tl] = '\0';
        if (n < max) out[n] = c_locale ? strtod_l(tok, NULL, c_locale) : strtod(tok, NULL);
        n++;
    }
    return n;
}

nd_text_decoder *nd_text_decoder_new(nd_device *dev, const nd_text_config *cfg)
{
    nd_text_decoder *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->dev = dev;
    d->cfg = *cfg;
    d->skipping = cfg->skip_first;
    nd_rate_estimate_init(&d->rate, ND_RATE_WINDOW_S);
    return d;
}

void nd_text_decoder_set_hook(nd_text_decoder *d, nd_text_line_hook hook, void *ctx)
{
    d->hook = hook;
    d->hook_ctx = ctx;
}

/* The device info: the config's, with the measured rate (rate=auto) and
 * any warning. With rate=auto nothing is published before the measurement:
 * a trial cannot start on a rate nobody knows. */
static void publish_info(nd_text_decoder *d)
{
    if (!d->publishes_info) return;
    if (d->cfg.rate_auto && d->measured_hz <= 0) return;
    nd_device_info info;
    nd_text_config_info(&d->cfg, &info);
    if (d->cfg.rate_auto) info.rate_hz = d->measured_hz;
    snprintf(info.warning, sizeof info.warning, "%s%s%s", d->fit_warning,
             d->fit_warning[0] && d->rate_warning[0] ? "; " : "", d->rate_warning);
    nd_device_set_info(d->dev, &info);
}

static void rate_measured(nd_text_decoder *d, double hz)
{
    /* Stored as the rate used with rate=auto: 3 significant digits are
     * what a few seconds of arrivals can tell. */
    double digits = hz >= 100 ? 1 : hz >= 10 ? 10 : 100;
    d->measured_hz = round(hz * digits) / digits;
    if (d->cfg.rate_auto) {
        nd_notice("device %s: measured %g lines/s, used as the rate (rate=auto)",
                  nd_device_uri(d->dev), d->measured_hz);
    } else if (nd_rate_differs(hz, d->cfg.rate_hz)) {
        snprintf(
            d->rate_warning, sizeof d->rate_warning,
            "measured %g lines/s but rate=%g: times are off by x%.3g; set rate=%g or rate=auto",
            d->measured_hz, d->cfg.rate_hz, d->cfg.rate_hz / d->measured_hz, d->measured_hz);
        nd_warn("device %s: %s", nd_device_uri(d->dev), d->rate_warning);
    } else {
        nd_info("device %s: measured %g lines/s, nominal %g: fine", nd_device_uri(d->dev),
                d->measured_hz, d->cfg.rate_hz);
        return;
    }
    publish_info(d);
}

static void misfit_line(nd_text_decoder *d, const char *why)
{
    if (d->accepted_any || ++d->misfits != MISFITS_BEFORE_WARNING) return;
    snprintf(d->fit_warning, sizeof d->fit_warning,
             "lines do not fit preset=%s (%s): %s in \"%.40s\"", d->cfg.preset,
             d->cfg.fit_hint ? d->cfg.fit_hint : "its columns", why, d->line);
    nd_warn("device %s: %s. Such lines are refused; for a single-cell board give channels=N "
            "(the index of its reading among the line's numbers) and fields= to match",
            nd_device_uri(d->dev), d->fit_warning);
    if (d->publishes_info) {
        if (d->cfg.rate_auto && d->measured_hz <= 0) return;
        publish_info(d);
    }
}

static void flush_batch(nd_text_decoder *d)
{
    if (d->nbatch == 0) return;
    nd_device_emit_samples(d->dev, d->batch, d->nbatch);
    d->nbatch = 0;
}

static void bad_line(nd_text_decoder *d, const char *why)
{
    uint64_t n = nd_device_count(d->dev, ND_COUNT_LINES_BAD, 1);
    /* Log the first few and then rarely: a noisy link must not flood the journal. */
    if (n <= 5 || (n & (n - 1)) == 0)
        nd_debug("text: line skipped (%s), %llu so far: \"%.60s\"", why, (unsigned long long)n,
                 d->line);
}

static bool to_raw(double v, double scale, int32_t *out)
{
    double r = v * scale;
    if (!isfinite(r) || r > 2147483647.0 || r < -2147483648.0) return false;
    long long q = llround(r);
    if (q > INT32_MAX || q < INT32_MIN) return false;
    *out = (int32_t)q;
    return true;
}

/* True when the line has letters other than a number's exponent: labels
 * such as "reading:" or "average:". */
static bool has_label_text(const char *line)
{
    for (const char *p = line; *p; p++) {
        if (!isalpha((unsigned char)*p)) continue;
        bool exponent = (*p == 'e' || *p == 'E') && p > line &&
                        (isdigit((unsigned char)p[-1]) || p[-1] == '.') &&
                        (isdigit((unsigned char)p[1]) || p[1] == '+' || p[1] == '-');
        if (!exponent) return true;
    }
    return false;
}

/* Reasons that mean the line is not what the preset describes (as opposed
 * to noise, a too long line or a value out of range). */
/* A line that does not fit the preset's shape; a line without any digit is
 * a banner or a menu (OpenScale prints five at start-up), not a misfit. */
static bool is_misfit(const char *why, const char *line)
{
    if (!strpbrk(line, "0123456789")) return false;
    return strcmp(why, "wrong count of numbers") == 0 || strcmp(why, "has text labels") == 0 ||
           strcmp(why, "too few numbers") == 0 || strcmp(why, "pattern text missing") == 0;
}

/* Returns NULL when the line is a sample set (written to *s), else why not. */
static const char *parse_line(const nd_text_decoder *d, nd_sample *s)
{
    const nd_text_config *c = &d->cfg;
    if (d->overflow) return "too long";
    if (d->binary) return "control or non-ASCII bytes";
    if (c->match[0] && !strstr(d->line, c->match)) return "pattern text missing";
    double num[ND_TEXT_MAX_NUMBERS];
    int n = nd_text_extract_numbers(d->line, num, ND_TEXT_MAX_NUMBERS);
    if (n < 0) return "number too long";
    if (c->fields && n != c->fields) return "wrong count of numbers";
    if (c->bare_columns && has_label_text(d->line)) return "has text labels";
    memset(s, 0, sizeof *s);
    s->nch = (uint8_t)c->nch;
    for (int ch = 0; ch < c->nch; ch++) {
        if (c->chan_index[ch] >= n) return "too few numbers";
        if (!to_raw(num[c->chan_index[ch]], c->scale, &s->raw[ch]))
            return "value out of int32 range after scale";
    }
    if (c->time_index >= 0) {
        if (c->time_index >= n) return "time column missing";
        double us = num[c->time_index] * c->time_to_us;
        if (!isfinite(us) || us < 0 || us >= 1.8e19) return "bad time value";
        s->dev_t_us = (uint32_t)(uint64_t)llround(us); /* wraps like an NFP/1 device clock */
    }
    return NULL;
}

static void handle_line(nd_text_decoder *d, uint64_t host_ns)
{
    d->line[d->len] = '\0';
    if (d->hook && !d->overflow && !d->binary && d->hook(d->hook_ctx, d->line, host_ns)) return;
    nd_sample s;
    const char *why = parse_line(d, &s);
    if (why) {
        bad_line(d, why);
        if (is_misfit(why, d->line)) misfit_line(d, why);
        return;
    }
    d->accepted_any = true;
    if (!d->dev->replayed && nd_rate_estimate_add(&d->rate, host_ns, 1))
        rate_measured(d, d->rate.measured_hz);
    s.seq = d->next_seq++;
    s.host_ns = host_ns;
    nd_device_count(d->dev, ND_COUNT_LINES_OK, 1);
    d->batch[d->nbatch++] = s;
    if (d->nbatch == BATCH) flush_batch(d);
}

void nd_text_decoder_feed(nd_text_decoder *d, const uint8_t *buf, size_t len, uint64_t host_ns)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t b = buf[i];
        if (b == '\n' || b == '\r') {
            if (d->skipping) {
                /* Whatever preceded the first terminator may be half a line. */
                d->skipping = false;
                if (d->len > 0 || d->overflow) {
                    d->line[d->len] = '\0';
                    bad_line(d, "partial first line");
                }
            } else if (d->len > 0 || d->overflow) {
                handle_line(d, host_ns);
            }
            d->len = 0;
            d->overflow = d->binary = false;
            continue;
        }
        if (d->len >= ND_TEXT_MAX_LINE) {
            d->overflow = true;
            continue;
        }
        if ((b < 0x20 && b != '\t') || b >= 0x7f) d->binary = true;
        d->line[d->len++] = (char)b;
    }
    flush_batch(d);
}

void nd_text_decoder_reset(nd_text_decoder *d)
{
    flush_batch(d);
    /* An outage inside the window would read as a slow device: start over. */
    if (!d->rate.done) nd_rate_estimate_init(&d->rate, ND_RATE_WINDOW_S);
    d->len = 0;
    d->overflow = d->binary = false;
    d->skipping = d->cfg.skip_first;
}

void nd_text_decoder_free(nd_text_decoder *d)
{
    free(d);
}

/* --- proto=text for the stream device --- */

static int text_create(void **state, nd_device *dev, const nd_uri *uri, char *err, size_t errlen)
{
    nd_text_config cfg;
    if (nd_text_config_from_uri(&cfg, uri, "csv", err, errlen) < 0) return -1;
    if (cfg.rate_auto && dev->replayed) {
        snprintf(err, errlen,
                 "text: rate=auto measures a live device; a replay's arrival times are not the "
                 "device's: give the rate it was recorded at (rate=N)");
        return -1;
    }
    nd_text_decoder *d = nd_text_decoder_new(dev, &cfg);
    if (!d) {
        snprintf(err, errlen, "text decoder: out of memory");
        return -1;
    }
    d->publishes_info = true;
    publish_info(d);
    *state = d;
    return 0;
}

static void text_feed(void *state, const uint8_t *buf, size_t len, uint64_t host_ns)
{
    nd_text_decoder_feed(state, buf, len, host_ns);
}
static void text_reset(void *state)
{
    nd_text_decoder_reset(state);
}
static void text_destroy(void *state)
{
    nd_text_decoder_free(state);
}

const nd_decoder_ops nd_decoder_text = {
    .name = "text",
    .description = "ASCII lines, one sample set per line (presets csv, hx711-adc-2x, openscale)",
    .keys = nd_text_keys,
    .create = text_create,
    .feed = text_feed,
    .reset = text_reset,
    .destroy = text_destroy,
};
