/* nordic-watch: live terminal view of nordicd for the testing station.
 * Subscribes to every live topic (daemon/wire/ZMQ_PROTOCOL.md) and redraws at
 * 25 Hz (configurable): per-leg force bars with the open rep's running
 * peaks, a table of reps, the last trial summary with flags, device
 * counters and lost-message counts (seq gaps).
 *
 * No flicker: the alternate screen is used, each frame is one write() that
 * homes the cursor and overwrites lines (clearing only each line's tail),
 * never a full-screen clear. Plain ANSI/VT100, so it works over SSH. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include <cjson/cJSON.h>

#include "nd_client.h"

#define MAX_REPS  64
#define FRAME_CAP (64 * 1024)

typedef struct rep_row {
    int index;
    double peak[2], asym, torque[2], dur, impulse[2];
    char weaker[8];
} rep_row;

typedef struct view {
    /* status */
    char state[24], trial_id[72], athlete[72], file[512], model[64], serial[64], last_error[240];
    double rate_hz, t;
    bool connected, have_status;
    double samples, gaps, gap_sets, dropped, bad_frames, bad_lines, ring_overruns, live_skipped,
        live_dropped;
    /* live */
    double force[2], running_peak[2];
    bool rep_open, have_live;
    int live_reps;
    /* the protocol's set/rep/rest (live "set"), the last rep's target zone */
    bool have_set;
    char set_phase[16], last_zone[16], set_leg[8], set_test[12];
    int set_k, set_n, rep_j, rep_m;
    double set_angle; /* isometric tests: knee angle of the set */
    double rest_remaining;
    /* reps of the current (or last) trial */
    rep_row reps[MAX_REPS];
    int nreps, reps_total;
    /* last trial summary */
    bool have_summary;
    char summary_trial[72], flags[96];
    char iso[200]; /* isometric test: best hold per leg and asymmetry per angle */
    double max[2], mean[2], sum_asym, pain;
    int sum_reps;
    /* message accounting (kept by the client library) */
    const nd_live_counts *counts;
} view;

static volatile sig_atomic_t g_quit, g_resized;
static struct termios g_saved_tty;
static bool g_tty_raw, g_alt_screen;

static void on_signal(int sig)
{
    if (sig == SIGWINCH)
        g_resized = 1;
    else
        g_quit = 1;
}

static void restore_terminal(void)
{
    if (g_alt_screen) {
        /* show cursor, leave the alternate screen */
        static const char leave[] = "\x1b[?25h\x1b[?1049l";
        ssize_t w = write(STDOUT_FILENO, leave, sizeof leave - 1);
        (void)w;
        g_alt_screen = false;
    }
    if (g_tty_raw) {
        tcsetattr(STDIN_FILENO, TCSANOW, &g_saved_tty);
        g_tty_raw = false;
    }
}

static double num(const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void copy_str(char *dst, size_t len, const cJSON *o, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static void on_status(view *v, const cJSON *j)
{
    v->have_status = true;
    copy_str(v->state, sizeof v->state, j, "state");
    copy_str(v->trial_id, sizeof v->trial_id, j, "trial_id");
    copy_str(v->athlete, sizeof v->athlete, j, "athlete_id");
    copy_str(v->file, sizeof v->file, j, "file");
    copy_str(v->last_error, sizeof v->last_error, j, "last_error");
    v->rate_hz = num(j, "rate_hz");
    v->t = num(j, "t");
    const cJSON *dev = cJSON_GetObjectItemCaseSensitive(j, "device");
    copy_str(v->model, sizeof v->model, dev, "model");
    copy_str(v->serial, sizeof v->serial, dev, "serial");
    v->connected = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(dev, "connected"));
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(j, "counters");
    v->samples = num(c, "samples");
    v->gaps = num(c, "gaps");
    v->gap_sets = num(c, "gap_sets");
    v->dropped = num(c, "dropped");
    v->bad_frames = num(c, "bad_frames");
    v->bad_lines = num(c, "bad_lines");
    v->ring_overruns = num(c, "ring_overruns");
    v->live_skipped = num(c, "live_skipped");
    v->live_dropped = num(c, "live_dropped_msgs");
}

static void on_live(view *v, const cJSON *j)
{
    v->have_live = true;
    v->force[0] = num(j, "left_N");
    v->force[1] = num(j, "right_N");
    v->running_peak[0] = num(j, "running_peak_left_N");
    v->running_peak[1] = num(j, "running_peak_right_N");
    v->rep_open = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "rep_open"));
    v->live_reps = (int)num(j, "reps");
    if (isfinite(num(j, "t"))) v->t = num(j, "t");
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(j, "set");
    v->have_set = cJSON_IsObject(set);
    if (v->have_set) {
        copy_str(v->set_phase, sizeof v->set_phase, set, "phase");
        copy_str(v->last_zone, sizeof v->last_zone, set, "last_rep_zone");
        copy_str(v->set_leg, sizeof v->set_leg, set, "leg");
        copy_str(v->set_test, sizeof v->set_test, set, "test");
        v->set_angle = num(set, "angle_deg");
        v->set_k = (int)num(set, "set");
        v->set_n = (int)num(set, "sets_planned");
        v->rep_j = (int)num(set, "rep");
        v->rep_m = (int)num(set, "reps_planned");
        v->rest_remaining = num(set, "rest_remaining_s");
    }
}

static void on_rep(view *v, const cJSON *j)
{
    if (v->nreps == MAX_REPS) {
        memmove(v->reps, v->reps + 1, (MAX_REPS - 1) * sizeof *v->reps);
        v->nreps--;
    }
    rep_row *r = &v->reps[v->nreps++];
    v->reps_total++;
    r->index = (int)num(j, "index");
    r->peak[0] = num(j, "peak_left_N");
    r->peak[1] = num(j, "peak_right_N");
    r->asym = num(j, "asymmetry_pct");
    r->torque[0] = num(j, "torque_left_Nm");
    r->torque[1] = num(j, "torque_right_Nm");
    r->impulse[0] = num(j, "impulse_left_Ns");
    r->impulse[1] = num(j, "impulse_right_Ns");
    r->dur = num(j, "duration_s");
    copy_str(r->weaker, sizeof r->weaker, j, "weaker_side");
}

static void on_trial(view *v, const cJSON *j)
{
    const cJSON *ev = cJSON_GetObjectItemCaseSensitive(j, "event");
    if (!cJSON_IsString(ev)) return;
    if (!strcmp(ev->valuestring, "start")) {
        v->nreps = 0;
        v->reps_total = 0;
        return;
    }
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "summary");
    if (!cJSON_IsObject(s)) return;
    v->have_summary = true;
    copy_str(v->summary_trial, sizeof v->summary_trial, j, "trial_id");
    v->max[0] = num(s, "max_left_N");
    v->max[1] = num(s, "max_right_N");
    v->mean[0] = num(s, "mean_left_N");
    v->mean[1] = num(s, "mean_right_N");
    v->sum_asym = num(s, "asymmetry_pct");
    v->pain = num(s, "pain_rating");
    v->sum_reps = (int)num(s, "reps");
    v->flags[0] = '\0';
    const cJSON *f;
    size_t used = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(s, "flags"))
    {
        if (cJSON_IsString(f) && used < sizeof v->flags)
            used += (size_t)snprintf(v->flags + used, sizeof v->flags - used, "%s%s",
                                     used ? " " : "", f->valuestring);
    }
    v->iso[0] = '\0';
    used = 0;
    cJSON_ArrayForEach(f, cJSON_GetObjectItemCaseSensitive(s, "isometric"))
    {
        if (used < sizeof v->iso)
            used += (size_t)snprintf(
                v->iso + used, sizeof v->iso - used, "%s%g deg L %.1f R %.1f asym %+.1f %%",
                used ? "; " : "isometric: ", num(f, "angle_deg"), num(f, "best_left_N"),
                num(f, "best_right_N"), num(f, "asymmetry_pct"));
    }
}

static void handle_message(view *v, nd_topic k, const cJSON *j)
{
    switch (k) {
    case ND_TOPIC_STATUS:
        on_status(v, j);
        break;
    case ND_TOPIC_LIVE:
        on_live(v, j);
        break;
    case ND_TOPIC_REP:
        on_rep(v, j);
        break;
    case ND_TOPIC_TRIAL:
        on_trial(v, j);
        break;
    default:
        break;
    }
}

/* ------------------------------------------------------------ rendering */

typedef struct frame {
    char buf[FRAME_CAP];
    size_t len;
    int rows, cols, line;
    bool utf8;
} frame;

/* Appends one screen line: truncated to the width, tail cleared. */
static void line(frame *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(frame *f, const char *fmt, ...)
{
    if (f->line >= f->rows - 1) return; /* keep the last row for the key help */
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    /* Truncate by display columns: UTF-8 continuation bytes and ANSI
     * escape sequences (ESC [ ... final byte) take none. */
    size_t out = 0;
    int cols = 0;
    while (tmp[out]) {
        unsigned char ch = (unsigned char)tmp[out];
        if (ch == 0x1b && tmp[out + 1] == '[') {
            out += 2;
            while (tmp[out] &&
                   !((unsigned char)tmp[out] >= 0x40 && (unsigned char)tmp[out] <= 0x7e))
                out++;
            if (tmp[out]) out++;
            continue;
        }
        if ((ch & 0xC0) != 0x80) {
            if (cols == f->cols) break;
            cols++;
        }
        out++;
    }
    if (f->len + out + 8 < FRAME_CAP) {
        memcpy(f->buf + f->len, tmp, out);
        f->len += out;
        f->len += (size_t)snprintf(f->buf + f->len, FRAME_CAP - f->len, "\x1b[K\r\n");
    }
    f->line++;
}

static void bar(char *dst, size_t cap, double value, double scale, int width, bool utf8)
{
    int fill = 0;
    if (isfinite(value) && value > 0 && scale > 0) fill = (int)lround(value / scale * width);
    if (fill > width) fill = width;
    size_t used = 0;
    for (int i = 0; i < width && used + 4 < cap; i++) {
        const char *c = i < fill ? (utf8 ? "\xe2\x96\x88" : "#") : (utf8 ? "\xc2\xb7" : ".");
        size_t l = strlen(c);
        memcpy(dst + used, c, l);
        used += l;
    }
    dst[used] = '\0';
}

/* decimals < 0: signed with -decimals places. "-" when undefined. */
static const char *fmt_num(char *buf, size_t len, double v, int decimals)
{
    if (!isfinite(v))
        snprintf(buf, len, "-");
    else if (decimals < 0)
        snprintf(buf, len, "%+.*f", -decimals, v);
    else
        snprintf(buf, len, "%.*f", decimals, v);
    return buf;
}

static void render(frame *f, const view *v, const char *endpoint)
{
    f->len = 0;
    f->line = 0;
    f->len += (size_t)snprintf(f->buf, FRAME_CAP, "\x1b[H");
    char a[32], b[32], c[32], d[32], e[32], g[32], h[32];
    bool bold_state = !strcmp(v->state, "recording");
    /* The endpoint goes last: a long ipc path must not push the state,
     * trial and athlete off a narrow terminal. */
    line(f, "nordic-watch  state: %s%s%s   %s%s%s%s  t %s s   %s",
         bold_state ? "\x1b[1;31m" : "\x1b[1m", v->have_status ? v->state : "(waiting)", "\x1b[0m",
         v->trial_id[0] ? "trial " : "", v->trial_id, v->athlete[0] ? "  athlete " : "", v->athlete,
         fmt_num(a, sizeof a, v->t, 1), endpoint);
    line(f, "device %s %s  %s Hz  %s   file %s", v->model[0] ? v->model : "-", v->serial,
         fmt_num(a, sizeof a, v->rate_hz, 0), v->connected ? "connected" : "DISCONNECTED",
         v->file[0] ? v->file : "-");
    line(f, "%s", "");

    /* Bars: scale to the larger of 500 N and 120 % of what has been seen. */
    double scale = 500;
    for (int i = 0; i < 2; i++) {
        if (isfinite(v->running_peak[i]) && v->running_peak[i] * 1.2 > scale)
            scale = v->running_peak[i] * 1.2;
        if (isfinite(v->force[i]) && v->force[i] * 1.2 > scale) scale = v->force[i] * 1.2;
    }
    int width = f->cols - 42;
    if (width < 10) width = 10;
    if (width > 200) width = 200;
    static const char *const leg[2] = {"LEFT ", "RIGHT"};
    for (int i = 0; i < 2; i++) {
        char bb[1024];
        bar(bb, sizeof bb, v->force[i], scale, width, f->utf8);
        line(f, "%s %s %7s N  peak %7s N", leg[i], bb, fmt_num(a, sizeof a, v->force[i], 1),
             fmt_num(b, sizeof b, v->rep_open ? v->running_peak[i] : NAN, 1));
    }
    line(f, "rep open: %-3s  reps this trial: %d   (bar full scale %.0f N)",
         v->rep_open ? "YES" : "no", v->reps_total, scale);
    if (v->have_set) {
        char rest[64] = "";
        if (!strcmp(v->set_phase, "rest"))
            snprintf(rest, sizeof rest, "  REST %s s left",
                     fmt_num(a, sizeof a, v->rest_remaining, 0));
        if (!strcmp(v->set_test, "isometric"))
            line(f, "\x1b[1mISOMETRIC %g deg  SET %d of %d  hold %d of %d\x1b[0m  (%s)%s  leg: %s",
                 v->set_angle, v->set_k, v->set_n, v->rep_j, v->rep_m, v->set_phase, rest,
                 v->set_leg);
        else
            line(f, "\x1b[1mSET %d of %d  rep %d of %d\x1b[0m  (%s)%s  leg: %s  last rep zone: %s",
                 v->set_k, v->set_n, v->rep_j, v->rep_m, v->set_phase, rest, v->set_leg,
                 v->last_zone);
    }
    line(f, "%s", "");

    line(f, "\x1b[1m%4s %9s %9s %8s %7s %10s %10s %7s\x1b[0m", "rep", "peak L N", "peak R N",
         "asym %", "weaker", "torque L", "torque R", "dur s");
    /* Newest reps that fit above the summary block (6 lines). */
    int room = f->rows - f->line - 8;
    if (room < 1) room = 1;
    int first = v->nreps > room ? v->nreps - room : 0;
    for (int i = first; i < v->nreps; i++) {
        const rep_row *r = &v->reps[i];
        line(f, "%4d %9s %9s %8s %7s %10s %10s %7s", r->index, fmt_num(a, sizeof a, r->peak[0], 1),
             fmt_num(b, sizeof b, r->peak[1], 1), fmt_num(c, sizeof c, r->asym, -1), r->weaker,
             fmt_num(d, sizeof d, r->torque[0], 1), fmt_num(e, sizeof e, r->torque[1], 1),
             fmt_num(g, sizeof g, r->dur, 2));
    }
    if (v->nreps == 0) line(f, "%s", "  (no reps yet)");
    line(f, "%s", "");

    if (v->have_summary) {
        line(f,
             "\x1b[1mlast trial %s\x1b[0m: %d reps  max L %s N  R %s N  mean L %s  R %s  asym %s "
             "%%  pain %s",
             v->summary_trial, v->sum_reps, fmt_num(a, sizeof a, v->max[0], 1),
             fmt_num(b, sizeof b, v->max[1], 1), fmt_num(c, sizeof c, v->mean[0], 1),
             fmt_num(d, sizeof d, v->mean[1], 1), fmt_num(e, sizeof e, v->sum_asym, -1),
             fmt_num(g, sizeof g, v->pain, 0));
        line(f, "flags: %s%s\x1b[0m  %s", v->flags[0] ? "\x1b[1;33m" : "",
             v->flags[0] ? v->flags : "none", v->iso);
    } else {
        line(f, "%s", "last trial: -");
        line(f, "%s", "");
    }
    line(f, "samples %s  gaps %s (%s sets)  device dropped %s  bad frames %s  bad lines %s",
         fmt_num(a, sizeof a, v->samples, 0), fmt_num(b, sizeof b, v->gaps, 0),
         fmt_num(c, sizeof c, v->gap_sets, 0), fmt_num(d, sizeof d, v->dropped, 0),
         fmt_num(e, sizeof e, v->bad_frames, 0), fmt_num(g, sizeof g, v->bad_lines, 0));
    unsigned long long lost = 0;
    for (int k = 0; k < ND_TOPIC_COUNT; k++) lost += v->counts->lost[k];
    line(f, "ring overruns %s  live skipped %s  daemon send drops %s  messages lost here %llu",
         fmt_num(a, sizeof a, v->ring_overruns, 0), fmt_num(b, sizeof b, v->live_skipped, 0),
         fmt_num(h, sizeof h, v->live_dropped, 0), lost);
    if (v->last_error[0]) line(f, "\x1b[1;31merror: %s\x1b[0m", v->last_error);
    /* Clear whatever an earlier, longer frame left below, then the help row. */
    f->len += (size_t)snprintf(f->buf + f->len, FRAME_CAP - f->len,
                               "\x1b[J\x1b[%d;1H[q] quit\x1b[K", f->rows);
}

static void screen_size(frame *f)
{
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
        f->rows = ws.ws_row;
        f->cols = ws.ws_col;
    } else {
        f->rows = 30;
        f->cols = 100;
    }
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void usage(FILE *out)
{
    fputs("Usage: nordic-watch [OPTIONS]\n"
          "Live terminal view of nordicd: force bars, reps, summary, counters.\n\n"
          "  --pub ENDPOINT      live endpoint (default $NORDIC_PUB or " ND_DEFAULT_PUB_ENDPOINT
          ")\n"
          "  --hz N              redraw rate, 1-100 (default 25)\n"
          "  --ascii             draw bars with ASCII only (default: UTF-8 if the locale is)\n"
          "  --frames N          exit after N frames (for scripts and tests)\n"
          "  --server-key FILE   CURVE: the daemon's public key ($NORDIC_SERVER_KEY)\n"
          "  --client-key FILE   CURVE: this client's secret key ($NORDIC_CLIENT_KEY)\n"
          "  -h, --help          this help\n"
          "Keys: q quits.\n",
          out);
}

int main(int argc, char **argv)
{
    const char *endpoint = getenv("NORDIC_PUB");
    const char *server_key = getenv("NORDIC_SERVER_KEY");
    const char *client_key = getenv("NORDIC_CLIENT_KEY");
    if (!endpoint || !*endpoint) endpoint = ND_DEFAULT_PUB_ENDPOINT;
    double hz = 25;
    long max_frames = -1;
    static frame fr;
    const char *lang = getenv("LC_ALL");
    if (!lang || !*lang) lang = getenv("LC_CTYPE");
    if (!lang || !*lang) lang = getenv("LANG");
    fr.utf8 = lang && (strstr(lang, "UTF-8") || strstr(lang, "utf8") || strstr(lang, "UTF8"));

    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        bool takes = !strcmp(o, "--pub") || !strcmp(o, "--hz") || !strcmp(o, "--frames") ||
                     !strcmp(o, "--server-key") || !strcmp(o, "--client-key");
        if (takes && i + 1 >= argc) {
            fprintf(stderr, "nordic-watch: %s needs a value\n", o);
            return 2;
        }
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(o, "--pub")) {
            endpoint = argv[++i];
        } else if (!strcmp(o, "--hz")) {
            hz = atof(argv[++i]);
            if (!(hz >= 1 && hz <= 100)) {
                fprintf(stderr, "nordic-watch: --hz must be 1-100\n");
                return 2;
            }
        } else if (!strcmp(o, "--frames")) {
            max_frames = atol(argv[++i]);
        } else if (!strcmp(o, "--ascii")) {
            fr.utf8 = false;
        } else if (!strcmp(o, "--server-key")) {
            server_key = argv[++i];
        } else if (!strcmp(o, "--client-key")) {
            client_key = argv[++i];
        } else {
            fprintf(stderr, "nordic-watch: unknown option %s\nTry 'nordic-watch --help'.\n", o);
            return 2;
        }
    }

    void *zctx = zmq_ctx_new();
    nd_client_options opt = {
        .endpoint = endpoint, .server_key_file = server_key, .client_key_file = client_key};
    char err[600];
    /* wave is for plots only; it is not drawn here. */
    unsigned topics = (1u << ND_TOPIC_COUNT) - 1 - (1u << ND_TOPIC_WAVE);
    nd_live_client *live = nd_live_client_open(zctx, &opt, topics, 10000, err, sizeof err);
    if (!live) {
        fprintf(stderr, "nordic-watch: %s\n", err);
        return 2;
    }
    void *sub = nd_live_client_socket(live);

    bool tty_in = isatty(STDIN_FILENO), tty_out = isatty(STDOUT_FILENO);
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGWINCH, &sa, NULL);
    atexit(restore_terminal);
    if (tty_in && tcgetattr(STDIN_FILENO, &g_saved_tty) == 0) {
        struct termios raw = g_saved_tty;
        raw.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
        raw.c_cc[VMIN] = 0;
        raw.c_cc[VTIME] = 0;
        if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0) g_tty_raw = true;
    }
    if (tty_out) {
        static const char enter[] = "\x1b[?1049h\x1b[?25l\x1b[2J"; /* alt screen, hide cursor */
        ssize_t w = write(STDOUT_FILENO, enter, sizeof enter - 1);
        (void)w;
        g_alt_screen = true;
    }
    screen_size(&fr);

    static view v;
    v.counts = nd_live_client_counts(live);
    uint64_t period = (uint64_t)(1000 / hz), next = now_ms();
    long frames = 0;
    while (!g_quit && (max_frames < 0 || frames < max_frames)) {
        uint64_t t = now_ms();
        long wait = next > t ? (long)(next - t) : 0;
        zmq_pollitem_t items[2] = {{sub, 0, ZMQ_POLLIN, 0}, {NULL, STDIN_FILENO, ZMQ_POLLIN, 0}};
        int n = zmq_poll(items, tty_in ? 2 : 1, wait);
        if (n < 0 && zmq_errno() != EINTR) break;
        if (n > 0 && (items[0].revents & ZMQ_POLLIN)) {
            /* Drain everything queued; only the newest state is drawn. */
            for (int i = 0; i < 10000; i++) {
                cJSON *body;
                int topic = nd_live_client_recv(live, &body, 0);
                if (topic < 0) break;
                handle_message(&v, (nd_topic)topic, body);
                cJSON_Delete(body);
            }
        }
        if (tty_in && n > 0 && (items[1].revents & ZMQ_POLLIN)) {
            char key[16];
            ssize_t r = read(STDIN_FILENO, key, sizeof key);
            for (ssize_t i = 0; i < r; i++)
                if (key[i] == 'q' || key[i] == 'Q' || key[i] == 3) g_quit = 1;
        }
        if (g_resized) {
            g_resized = 0;
            screen_size(&fr);
            ssize_t w = write(STDOUT_FILENO, "\x1b[2J", 4); /* once per resize only */
            (void)w;
        }
        if (now_ms() >= next) {
            render(&fr, &v, endpoint);
            size_t off = 0;
            while (off < fr.len) {
                ssize_t w = write(STDOUT_FILENO, fr.buf + off, fr.len - off);
                if (w < 0 && errno == EINTR) continue;
                if (w <= 0) {
                    g_quit = 1;
                    break;
                }
                off += (size_t)w;
            }
            frames++;
            next += period;
            if (next < now_ms()) next = now_ms() + period; /* fell behind: do not burst */
        }
    }
    restore_terminal();
    if (!tty_out) putchar('\n');
    nd_live_client_close(live);
    zmq_ctx_term(zctx);
    return 0;
}
