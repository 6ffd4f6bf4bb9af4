/* proto=loadstar: start-up dialogue, stream lines, commands (nd_loadstar.h). */
#include "nd_loadstar.h"

#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "nd_log.h"
#include "nd_rate_estimate.h"
#include "nd_transport.h"

#define LS_MAX_LINE 128
#define LS_BATCH    64
#define LBF_N       4.4482216152605

static const char *const ls_keys[] = {"dialect", "tare",  "rate", "timeout_ms",
                                      "unit",    "scale", NULL};

typedef struct ls_config {
    nd_loadstar_dialect dialect;
    bool tare;       /* CT0 at open (not after reconnections) */
    double rate_hz;  /* nominal; the device does not say */
    bool rate_auto;  /* rate=auto: measured from arrivals, then used */
    int timeout_ms;  /* per answer */
    char unit[16];   /* "" = take the device's UNITS answer */
    double scale;    /* raw = llround(value * scale) */
    bool scale_auto; /* di1000 without scale=: chosen from the capacity (LC) */
} ls_config;

typedef struct nd_loadstar {
    nd_device *dev;
    ls_config cfg;
    bool tared;
    double newtons_per_unit;    /* of the streamed values, known after connect */
    char unit[16];              /* their unit name */
    pthread_mutex_t write_lock; /* commands may come from another thread */
    /* dialogue receive buffer */
    char rx[512];
    size_t rx_len;
    /* stream line assembly */
    char line[LS_MAX_LINE + 1];
    size_t len;
    bool overflow;
    uint64_t next_seq; /* host counter: the stream carries no sequence numbers */
    nd_sample batch[LS_BATCH];
    size_t nbatch;
    /* what identify() learned; published with the rate (publish_info) */
    nd_device_info info;
    bool identified;
    nd_rate_estimate rate;
    double measured_hz; /* 0 until measured */
    int scale_decimals; /* decimals the scale keeps (log10 scale, if a power of 10) */
    char rate_warning[96];
    char decimals_warning[96];
} nd_loadstar;

/* scale=auto keeps this multiple of the capacity inside int32 counts. */
#define LS_AUTO_SCALE_HEADROOM 4.0
/* scale=auto before the capacity is known (and its upper end). */
#define LS_AUTO_SCALE_MAX_DECIMALS 9
#define LS_AUTO_SCALE_DEFAULT      1e6

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void make_c_locale(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

/* Whole string (surrounding blanks allowed) is one decimal number. */
static bool parse_number(const char *s, double *out)
{
    pthread_once(&c_locale_once, make_c_locale);
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return false;
    char *end;
    double v = c_locale ? strtod_l(s, &end, c_locale) : strtod(s, &end);
    if (end == s) return false;
    while (*end == ' ' || *end == '\t') end++;
    if (*end || !isfinite(v)) return false;
    *out = v;
    return true;
}

double nd_loadstar_unit_newtons(const char *unit)
{
    static const struct {
        const char *name;
        double newtons;
    } units[] = {
        {"lb", LBF_N},
        {"lbf", LBF_N},
        {"lbs", LBF_N},
        {"kg", 9.80665},
        {"kgf", 9.80665},
        {"N", 1.0},
        {"kN", 1000.0},
        {"g", 0.00980665},
        {"gf", 0.00980665},
        {"oz", LBF_N / 16.0},
        {"ozf", LBF_N / 16.0},
        {"mlb", LBF_N / 1000.0},
        {"mlbf", LBF_N / 1000.0},
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcasecmp(unit, units[i].name) == 0) return units[i].newtons;
    return -1.0;
}

static bool is_ack(const char *line)
{
    return strcmp(line, "A") == 0 || strcasecmp(line, "Tared") == 0;
}

/* --- stream lines --- */

static void flush_batch(nd_loadstar *d)
{
    if (d->nbatch == 0) return;
    nd_device_emit_samples(d->dev, d->batch, d->nbatch);
    d->nbatch = 0;
}

static void bad_line(nd_loadstar *d, const char *why)
{
    uint64_t n = nd_device_count(d->dev, ND_COUNT_LINES_BAD, 1);
    if (n <= 5 || (n & (n - 1)) == 0)
        nd_debug("loadstar: line skipped (%s), %llu so far: \"%.40s\"", why, (unsigned long long)n,
                 d->line);
}

/* The device info from identify(), with the rate (measured with rate=auto)
 * and any warning. With rate=auto nothing is published before the
 * measurement: a trial cannot start on a rate nobody knows. */
static void publish_info(nd_loadstar *d)
{
    if (!d->identified || (d->cfg.rate_auto && d->measured_hz <= 0)) return;
    nd_device_info info = d->info;
    info.rate_hz = d->cfg.rate_auto ? d->measured_hz : d->cfg.rate_hz;
    info.counts_per_newton[0] = d->cfg.scale / d->newtons_per_unit;
    snprintf(info.warning, sizeof info.warning, "%s%s%s", d->rate_warning,
             d->rate_warning[0] && d->decimals_warning[0] ? "; " : "", d->decimals_warning);
    nd_device_set_info(d->dev, &info);
}

static void rate_measured(nd_loadstar *d, double hz)
{
    /* 3 significant digits: what a few seconds of arrivals can tell. */
    double digits = hz >= 100 ? 1 : hz >= 10 ? 10 : 100;
    d->measured_hz = round(hz * digits) / digits;
    if (d->cfg.rate_auto) {
        nd_notice("device %s: measured %g readings/s, used as the rate (rate=auto)",
                  nd_device_uri(d->dev), d->measured_hz);
    } else if (nd_rate_differs(hz, d->cfg.rate_hz)) {
        snprintf(d->rate_warning, sizeof d->rate_warning,
                 "measured %g readings/s but rate=%g; set rate=%g or rate=auto", d->measured_hz,
                 d->cfg.rate_hz, d->measured_hz);
        nd_warn("device %s: %s", nd_device_uri(d->dev), d->rate_warning);
    } else {
        nd_info("device %s: measured %g readings/s, nominal %g: fine", nd_device_uri(d->dev),
                d->measured_hz, d->cfg.rate_hz);
        return;
    }
    publish_info(d);
}

/* Significant decimals of the number in the line (trailing zeros do not
 * count), -1 with an exponent (not printed by these devices). */
static int printed_decimals(const char *line)
{
    const char *dot = strchr(line, '.');
    if (strpbrk(line, "eE")) return -1;
    if (!dot) return 0;
    int n = 0, last = 0;
    for (const char *p = dot + 1; *p >= '0' && *p <= '9'; p++) {
        n++;
        if (*p != '0') last = n;
    }
    return last;
}

/* Every printed decimal must survive llround(value * scale); say so once
 * when the scale cannot keep them (scale= given, or a huge capacity). */
static void check_decimals(nd_loadstar *d)
{
    if (d->decimals_warning[0] || d->scale_decimals < 0) return;
    int n = printed_decimals(d->line);
    if (n <= d->scale_decimals) return;
    snprintf(d->decimals_warning, sizeof d->decimals_warning,
             "readings print %d decimals, scale=%g keeps %d: the rest is rounded", n, d->cfg.scale,
             d->scale_decimals);
    nd_warn("device %s: %s (\"%.30s\")", nd_device_uri(d->dev), d->decimals_warning, d->line);
    publish_info(d);
}

/* Decimals a power-of-ten scale keeps; -1 when it is not one (no check). */
static int decimals_of_scale(double scale)
{
    int k = (int)lround(log10(scale));
    return fabs(pow(10.0, k) - scale) <= 1e-9 * scale && k >= 0 ? k : -1;
}

static void handle_line(nd_loadstar *d, uint64_t host_ns)
{
    d->line[d->len] = '\0';
    if (d->overflow) {
        bad_line(d, "too long");
        return;
    }
    if (is_ack(d->line)) return; /* answers to CR / CT0 between readings */
    double v;
    if (!parse_number(d->line, &v)) {
        bad_line(d, "not a single number");
        return;
    }
    double r = v * d->cfg.scale;
    if (!(r <= 2147483647.0 && r >= -2147483648.0)) {
        bad_line(d, "value out of int32 range after scale");
        return;
    }
    check_decimals(d);
    if (!d->dev->replayed && nd_rate_estimate_add(&d->rate, host_ns, 1))
        rate_measured(d, d->rate.measured_hz);
    nd_sample *s = &d->batch[d->nbatch++];
    memset(s, 0, sizeof *s);
    s->nch = 1;
    s->raw[0] = (int32_t)llround(r);
    s->seq = d->next_seq++;
    s->host_ns = host_ns;
    nd_device_count(d->dev, ND_COUNT_LINES_OK, 1);
    if (d->nbatch == LS_BATCH) flush_batch(d);
}

static void ls_feed(void *state, const uint8_t *buf, size_t len, uint64_t host_ns)
{
    nd_loadstar *d = state;
    for (size_t i = 0; i < len; i++) {
        uint8_t b = buf[i];
        if (b == '\r' || b == '\n') {
            if (d->len > 0 || d->overflow) handle_line(d, host_ns);
            d->len = 0;
            d->overflow = false;
            continue;
        }
        if (d->len >= LS_MAX_LINE || b == 0 || b >= 0x7f) {
            d->overflow = true; /* binary garbage counts as one bad line */
            continue;
        }
        d->line[d->len++] = (char)b;
    }
    flush_batch(d);
}

static void ls_reset(void *state)
{
    nd_loadstar *d = state;
    flush_batch(d);
    /* An outage inside the window would read as a slow device: start over. */
    if (!d->rate.done) nd_rate_estimate_init(&d->rate, ND_RATE_WINDOW_S);
    d->len = 0;
    d->overflow = false;
}

/* --- start-up dialogue --- */

static int send_text(nd_loadstar *d, const nd_decoder_link *l, const char *text)
{
    pthread_mutex_lock(&d->write_lock);
    int rc = l->write(l->ctx, (const uint8_t *)text, strlen(text));
    pthread_mutex_unlock(&d->write_lock);
    return rc;
}

/* Next non-empty line of the dialogue before deadline. Returns 1 (line),
 * 0 (timeout) or a transport code (ND_TR_LOST, ...). */
static int read_line(nd_loadstar *d, const nd_decoder_link *l, char *out, size_t cap,
                     uint64_t deadline)
{
    for (;;) {
        size_t start = 0;
        for (size_t i = 0; i < d->rx_len; i++) {
            if (d->rx[i] != '\r' && d->rx[i] != '\n') continue;
            size_t n = i - start;
            if (n > 0) {
                if (n >= cap) n = cap - 1;
                memcpy(out, d->rx + start, n);
                out[n] = '\0';
                memmove(d->rx, d->rx + i + 1, d->rx_len - i - 1);
                d->rx_len -= i + 1;
                return 1;
            }
            start = i + 1;
        }
        memmove(d->rx, d->rx + start, d->rx_len - start); /* drop empty lines */
        d->rx_len -= start;
        if (d->rx_len == sizeof d->rx) d->rx_len = 0; /* no line end in 512 bytes: noise */
        uint64_t now = nd_monotonic_ns();
        if (now >= deadline) return 0;
        int wait_ms = (int)((deadline - now + 999999) / 1000000);
        ssize_t n = l->read(l->ctx, (uint8_t *)d->rx + d->rx_len, sizeof d->rx - d->rx_len,
                            wait_ms > 100 ? 100 : wait_ms);
        if (n < 0) return (int)n;
        d->rx_len += (size_t)n;
    }
}

static uint64_t deadline_in(const nd_loadstar *d)
{
    return nd_monotonic_ns() + (uint64_t)d->cfg.timeout_ms * 1000000u;
}

/* CR until the device answers "A"; other lines are the tail of a stream
 * still running (CR stops it) or boot noise. */
static int wake(nd_loadstar *d, const nd_decoder_link *l, char *err, size_t errlen)
{
    char line[LS_MAX_LINE];
    for (int t = 0; t < ND_LOADSTAR_WAKE_TRIES; t++) {
        if (send_text(d, l, "\r") < 0) return ND_TR_LOST;
        /* The first CR may only stop a stream left running (no "A"): the
         * vendor's recipe is two CRs, so do not wait long for the first. */
        uint64_t deadline = deadline_in(d);
        if (t == 0 && d->cfg.timeout_ms > 100) deadline = nd_monotonic_ns() + 100000000u;
        int rc;
        while ((rc = read_line(d, l, line, sizeof line, deadline)) == 1)
            if (strcmp(line, "A") == 0) return 0;
        if (rc < 0) return rc;
    }
    snprintf(err, errlen,
             "loadstar: no \"A\" after %d CRs (%d ms each): is it a Loadstar interface, and the "
             "baud rate right (9600; high-speed units 230400)?",
             ND_LOADSTAR_WAKE_TRIES, d->cfg.timeout_ms);
    return -1;
}

/* Send a query; its answer is the next line that is not an "A". */
static int ask(nd_loadstar *d, const nd_decoder_link *l, const char *cmd, char *answer, size_t cap,
               char *err, size_t errlen)
{
    char text[32];
    snprintf(text, sizeof text, "%s\r", cmd);
    if (send_text(d, l, text) < 0) return ND_TR_LOST;
    uint64_t deadline = deadline_in(d);
    int rc;
    while ((rc = read_line(d, l, answer, cap, deadline)) == 1) {
        if (strcmp(answer, "A") != 0) {
            /* trim blanks: fixed-width fields are padded */
            char *s = answer;
            while (*s == ' ' || *s == '\t') s++;
            size_t n = strlen(s);
            while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
            memmove(answer, s, n);
            answer[n] = '\0';
            return 0;
        }
    }
    if (rc < 0) return rc;
    snprintf(err, errlen, "loadstar: no answer to %s within %d ms", cmd, d->cfg.timeout_ms);
    return -1;
}

static int tare_now(nd_loadstar *d, const nd_decoder_link *l, char *err, size_t errlen)
{
    if (send_text(d, l, "CT0\r") < 0) return ND_TR_LOST;
    char line[LS_MAX_LINE];
    uint64_t deadline = deadline_in(d);
    int rc = read_line(d, l, line, sizeof line, deadline);
    if (rc < 0) return rc;
    if (rc == 0) {
        snprintf(err, errlen, "loadstar: no answer to CT0 (tare) within %d ms", d->cfg.timeout_ms);
        return -1;
    }
    if (!is_ack(line)) {
        snprintf(err, errlen, "loadstar: CT0 (tare) answered \"%.40s\", expected \"Tared\"", line);
        return -1;
    }
    return 0;
}

/* Capacity answers look like "250", "250.00" or "250.00 lb". */
static bool parse_capacity(const char *answer, double *out)
{
    char num[64];
    size_t n = strcspn(answer, " \t");
    if (n == 0 || n >= sizeof num) return false;
    memcpy(num, answer, n);
    num[n] = '\0';
    return parse_number(num, out) && *out > 0;
}

static int identify(nd_loadstar *d, const nd_decoder_link *l, nd_device_info *info, char *err,
                    size_t errlen)
{
    bool di = d->cfg.dialect == ND_LOADSTAR_DI1000;
    char a[LS_MAX_LINE];
    int rc;
    memset(info, 0, sizeof *info);
    if (di) {
        if ((rc = ask(d, l, "MODEL", a, sizeof a, err, errlen)) < 0) return rc;
        if (!strstr(a, "DI-100")) {
            snprintf(err, errlen,
                     "loadstar: MODEL answered \"%.40s\", not a DI-100/DI-1000 (iLoad sensors: "
                     "dialect=iload)",
                     a);
            return -1;
        }
        const char *m = strncmp(a, "FCM ", 4) == 0 ? a + 4 : a;
        snprintf(info->model, sizeof info->model, "Loadstar %.50s", m);
    } else {
        snprintf(info->model, sizeof info->model, "Loadstar iLoad");
    }
    if ((rc = ask(d, l, di ? "ID" : "SS1", a, sizeof a, err, errlen)) < 0) return rc;
    snprintf(info->serial, sizeof info->serial, "%.63s", a);

    char unit[16];
    if (di) {
        if ((rc = ask(d, l, "UNITS", a, sizeof a, err, errlen)) < 0) return rc;
    } else {
        snprintf(a, sizeof a, "mlb"); /* the iLoad set streams millipounds */
    }
    snprintf(unit, sizeof unit, "%.15s", d->cfg.unit[0] ? d->cfg.unit : a);
    if (d->cfg.unit[0] && strcasecmp(d->cfg.unit, a) != 0)
        nd_warn("loadstar: device unit is \"%s\", using unit=%s as asked", a, d->cfg.unit);
    double npu = nd_loadstar_unit_newtons(unit);
    if (npu <= 0) {
        snprintf(err, errlen,
                 "loadstar: UNITS answered \"%.30s\", not a force unit known here (lb, lbf, kg, "
                 "kgf, N, kN, g, oz); give unit= to say what the values are",
                 unit);
        return -1;
    }
    d->newtons_per_unit = npu;
    snprintf(d->unit, sizeof d->unit, "%s", unit);

    if ((rc = ask(d, l, di ? "LC" : "SLC", a, sizeof a, err, errlen)) < 0) return rc;
    double cap;
    if (!parse_capacity(a, &cap)) {
        snprintf(err, errlen, "loadstar: %s answered \"%.40s\", not a load capacity",
                 di ? "LC" : "SLC", a);
        return -1;
    }
    /* LC is in the calibrated unit; the iLoad SLC always in lb. */
    info->capacity_n[0] = cap * (di ? npu : LBF_N);
    info->nch = 1;
    info->rate_hz = d->cfg.rate_hz;
    snprintf(info->channel_names[0], sizeof info->channel_names[0], "force");
    if (d->cfg.scale_auto) {
        /* The finest power of ten that keeps 4x the capacity in int32. */
        double cap_units = cap; /* di1000 only: LC is in the streamed unit */
        int k = LS_AUTO_SCALE_MAX_DECIMALS;
        while (k > 0 && LS_AUTO_SCALE_HEADROOM * cap_units * pow(10.0, k) > 2147483647.0) k--;
        d->cfg.scale = pow(10.0, k);
        d->scale_decimals = k;
    }
    info->counts_per_newton[0] = d->cfg.scale / npu;
    return 0;
}

static int ls_connect(void *state, const nd_decoder_link *l, char *err, size_t errlen)
{
    nd_loadstar *d = state;
    d->rx_len = 0;
    nd_device_info info;
    int rc;
    if ((rc = wake(d, l, err, errlen)) < 0) return rc;
    if ((rc = identify(d, l, &info, err, errlen)) < 0) return rc;
    /* Tare once, at open: after a replug mid-trial the athlete may be
     * pulling, and CT0 is kept by the device anyway. */
    if (d->cfg.tare && !d->tared) {
        if ((rc = tare_now(d, l, err, errlen)) < 0) return rc;
        d->tared = true;
    }
    d->info = info;
    d->identified = true;
    publish_info(d);
    if (send_text(d, l, d->cfg.dialect == ND_LOADSTAR_DI1000 ? "WC\r" : "O0W0\r") < 0)
        return ND_TR_LOST;
    /* Whatever followed the last answer belongs to the stream. */
    d->len = 0;
    d->overflow = false;
    if (d->rx_len) ls_feed(d, (const uint8_t *)d->rx, d->rx_len, nd_monotonic_ns());
    d->rx_len = 0;
    nd_info("loadstar: %s %s streaming (%g N/%s, capacity %g N)", info.model, info.serial,
            d->newtons_per_unit, d->unit, info.capacity_n[0]);
    return 0;
}

static void ls_disconnect(void *state, const nd_decoder_link *l)
{
    send_text(state, l, "\r"); /* stops the stream; the device then idles */
}

static int ls_command(void *state, const nd_decoder_link *l, const char *cmd, char *err,
                      size_t errlen)
{
    nd_loadstar *d = state;
    if (strcmp(cmd, "t") != 0 && strcasecmp(cmd, "tare") != 0) {
        snprintf(err, errlen, "loadstar: unknown command '%s' (known: tare)", cmd);
        return -1;
    }
    /* Stop, tare, restart: the "A" and "Tared" answers arrive in the stream
     * and are skipped there. Readings are paused for a few milliseconds. */
    const char *start = d->cfg.dialect == ND_LOADSTAR_DI1000 ? "WC\r" : "O0W0\r";
    if (send_text(d, l, "\r") < 0 || send_text(d, l, "CT0\r") < 0 || send_text(d, l, start) < 0) {
        snprintf(err, errlen, "loadstar: could not send the tare to the device");
        return -1;
    }
    return 0;
}

static int ls_create(void **state, nd_device *dev, const nd_uri *uri, char *err, size_t errlen)
{
    ls_config c = {.dialect = ND_LOADSTAR_DI1000};
    const char *v = nd_uri_get(uri, "dialect");
    if (v && strcmp(v, "iload") == 0)
        c.dialect = ND_LOADSTAR_ILOAD;
    else if (v && strcmp(v, "di1000") != 0) {
        snprintf(err, errlen, "loadstar: dialect=%s: expected di1000 or iload", v);
        return -1;
    }
    int tare;
    long timeout;
    /* WC prints as many decimals as the unit resolves (the vendor shows
     * -0.000456): di1000 chooses its scale from the capacity (scale=auto);
     * the iLoad stream is whole millipounds. */
    double def_scale = c.dialect == ND_LOADSTAR_DI1000 ? LS_AUTO_SCALE_DEFAULT : 1.0;
    c.scale_auto = c.dialect == ND_LOADSTAR_DI1000 && !nd_uri_get(uri, "scale");
    const char *rate = nd_uri_get(uri, "rate");
    c.rate_auto = rate && strcmp(rate, "auto") == 0;
    c.rate_hz = 80.0;
    if (nd_uri_get_bool(uri, "tare", 0, &tare, err, errlen) < 0 ||
        (!c.rate_auto &&
         nd_uri_get_double(uri, "rate", 80.0, 0.01, 100000.0, &c.rate_hz, err, errlen) < 0) ||
        nd_uri_get_long(uri, "timeout_ms", ND_LOADSTAR_TIMEOUT_MS, 10, 10000, &timeout, err,
                        errlen) < 0 ||
        nd_uri_get_double(uri, "scale", def_scale, 1e-6, 1e9, &c.scale, err, errlen) < 0)
        return -1;
    c.tare = tare;
    c.timeout_ms = (int)timeout;
    if ((v = nd_uri_get(uri, "unit"))) {
        if (nd_loadstar_unit_newtons(v) <= 0) {
            snprintf(err, errlen,
                     "loadstar: unit=%s: expected lb, lbf, kg, kgf, N, kN, g, oz or mlb", v);
            return -1;
        }
        snprintf(c.unit, sizeof c.unit, "%s", v);
    }
    nd_loadstar *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "loadstar: out of memory");
        return -1;
    }
    d->dev = dev;
    d->cfg = c;
    d->scale_decimals = decimals_of_scale(c.scale);
    nd_rate_estimate_init(&d->rate, ND_RATE_WINDOW_S);
    pthread_mutex_init(&d->write_lock, NULL);
    *state = d;
    return 0;
}

static void ls_destroy(void *state)
{
    nd_loadstar *d = state;
    if (!d) return;
    pthread_mutex_destroy(&d->write_lock);
    free(d);
}

const nd_decoder_ops nd_decoder_loadstar = {
    .name = "loadstar",
    .description = "Loadstar DI-100U/DI-1000U (and iLoad) ASCII command set, one reading per line",
    .keys = ls_keys,
    .create = ls_create,
    .feed = ls_feed,
    .reset = ls_reset,
    .destroy = ls_destroy,
    .connect = ls_connect,
    .disconnect = ls_disconnect,
    .command = ls_command,
};
