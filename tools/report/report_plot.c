/* nordic-report pictures, drawn with cairo (PNG and SVG from the same
 * drawing code): a force-time plot per trial and a trend plot per athlete. */
#include <cairo-svg.h>
#include <cairo.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nd_butterworth.h"
#include "report.h"

typedef struct axes {
    double x, y, w, h;     /* plot area in device units */
    double x0, x1, y0, y1; /* data range */
} axes;

static const double LEFT_RGB[3] = {0.12, 0.47, 0.71};
static const double RIGHT_RGB[3] = {0.84, 0.15, 0.16};

static double ax_x(const axes *a, double v)
{
    return a->x + (v - a->x0) / (a->x1 - a->x0) * a->w;
}

static double ax_y(const axes *a, double v)
{
    return a->y + a->h - (v - a->y0) / (a->y1 - a->y0) * a->h;
}

/* 1, 2 or 5 times a power of ten, giving about `target` intervals. */
static double nice_step(double range, int target)
{
    double raw = range / target;
    double mag = pow(10, floor(log10(raw)));
    double f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

/* Text anchored at (x, y): ha 0 left, 0.5 centre, 1 right; va likewise for top..bottom. */
static void label(cairo_t *cr, double x, double y, double ha, double va, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - ha * e.width - e.x_bearing, y - e.y_bearing - va * e.height);
    cairo_show_text(cr, s);
}

static void rgb(cairo_t *cr, const double c[3])
{
    cairo_set_source_rgb(cr, c[0], c[1], c[2]);
}

typedef void (*x_label_fn)(double v, char *out, size_t outlen);

static void x_num(double v, char *out, size_t outlen)
{
    snprintf(out, outlen, "%g", v);
}

static void x_date(double days, char *out, size_t outlen)
{
    time_t t = (time_t)llround(days * 86400.0);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%d", &tm);
}

static void draw_axes(cairo_t *cr, const axes *a, const char *xlab, const char *ylab,
                      x_label_fn xfmt, double xmin_step)
{
    char buf[64];
    cairo_set_font_size(cr, 12);
    cairo_set_line_width(cr, 1);
    double ys = nice_step(a->y1 - a->y0, 6);
    for (double v = ceil(a->y0 / ys) * ys; v <= a->y1 + 1e-9 * ys; v += ys) {
        double y = ax_y(a, v);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, a->x, y);
        cairo_line_to(cr, a->x + a->w, y);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-9 * ys ? 0.0 : v);
        label(cr, a->x - 6, y, 1, 0.5, buf);
    }
    double xs = nice_step(a->x1 - a->x0, 8);
    if (xs < xmin_step) xs = xmin_step;
    for (double v = ceil(a->x0 / xs) * xs; v <= a->x1 + 1e-9 * xs; v += xs) {
        double x = ax_x(a, v);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, x, a->y);
        cairo_line_to(cr, x, a->y + a->h);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
        xfmt(v, buf, sizeof buf);
        label(cr, x, a->y + a->h + 6, 0.5, 0, buf);
    }
    cairo_set_source_rgb(cr, 0.2, 0.2, 0.2);
    cairo_rectangle(cr, a->x, a->y, a->w, a->h);
    cairo_stroke(cr);
    label(cr, a->x + a->w / 2, a->y + a->h + 24, 0.5, 0, xlab);
    cairo_save(cr);
    cairo_translate(cr, a->x - 48, a->y + a->h / 2);
    cairo_rotate(cr, -M_PI / 2);
    label(cr, 0, 0, 0.5, 0.5, ylab);
    cairo_restore(cr);
}

static void legend(cairo_t *cr, double x, double y, const char *l, const char *r)
{
    cairo_set_font_size(cr, 12);
    cairo_set_line_width(cr, 2.5);
    const char *names[2] = {l, r};
    const double *cols[2] = {LEFT_RGB, RIGHT_RGB};
    for (int i = 0; i < 2; i++) {
        rgb(cr, cols[i]);
        cairo_move_to(cr, x, y + 18 * i);
        cairo_line_to(cr, x + 24, y + 18 * i);
        cairo_stroke(cr);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        label(cr, x + 30, y + 18 * i, 0, 0.5, names[i]);
    }
}

/* text goes at the right end, above the line (below when `below`). */
static void dashed_hline(cairo_t *cr, const axes *a, double v, double shade, const char *text,
                         bool below)
{
    if (v < a->y0 || v > a->y1) return;
    static const double dash[] = {6, 4};
    cairo_save(cr);
    cairo_set_dash(cr, dash, 2, 0);
    cairo_set_line_width(cr, 1.2);
    cairo_set_source_rgb(cr, shade, 0.35 * shade, 0.0);
    cairo_move_to(cr, a->x, ax_y(a, v));
    cairo_line_to(cr, a->x + a->w, ax_y(a, v));
    cairo_stroke(cr);
    cairo_restore(cr);
    if (text) {
        cairo_set_source_rgb(cr, shade, 0.35 * shade, 0.0);
        cairo_set_font_size(cr, 11);
        if (below)
            label(cr, a->x + a->w - 4, ax_y(a, v) + 3, 1, 0, text);
        else
            label(cr, a->x + a->w - 4, ax_y(a, v) - 3, 1, 1, text);
    }
}

/* Writes base.png and/or base.svg; each appears only when complete. */
typedef void (*draw_fn)(cairo_t *cr, const void *ctx);

static int render(const char *base, const nd_report_options *o, int w, int h, draw_fn fn,
                  const void *ctx, char *err, size_t errlen)
{
    char path[PATH_MAX + 16], tmp[PATH_MAX + 24];
    if (o->plot_png) {
        snprintf(path, sizeof path, "%s.png", base);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
        cairo_t *cr = cairo_create(s);
        fn(cr, ctx);
        cairo_status_t st = cairo_status(cr);
        cairo_destroy(cr);
        if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png(s, tmp);
        cairo_surface_destroy(s);
        if (st != CAIRO_STATUS_SUCCESS || rename(tmp, path) != 0) {
            snprintf(err, errlen, "%s: %s", path,
                     st != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(st) : "rename failed");
            unlink(tmp);
            return -1;
        }
    }
    if (o->plot_svg) {
        snprintf(path, sizeof path, "%s.svg", base);
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        cairo_surface_t *s = cairo_svg_surface_create(tmp, w, h);
        cairo_t *cr = cairo_create(s);
        fn(cr, ctx);
        cairo_status_t st = cairo_status(cr);
        cairo_destroy(cr);
        cairo_surface_finish(s);
        if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(s);
        cairo_surface_destroy(s);
        if (st != CAIRO_STATUS_SUCCESS || rename(tmp, path) != 0) {
            snprintf(err, errlen, "%s: %s", path,
                     st != CAIRO_STATUS_SUCCESS ? cairo_status_to_string(st) : "rename failed");
            unlink(tmp);
            return -1;
        }
    }
    return 0;
}

/* ---- force-time plot ---------------------------------------------------- */

enum { TRIAL_W = 1200, TRIAL_H = 560, TRIAL_PLOT_W = 1080 };

typedef struct trial_ctx {
    const nd_report_trial *t;
    size_t cols;
    double *lo[2], *hi[2]; /* filtered min/max per pixel column (NaN: none) */
    double ymin, ymax, duration_s;
} trial_ctx;

static void draw_trial(cairo_t *cr, const void *arg)
{
    const trial_ctx *c = arg;
    const nd_report_trial *t = c->t;
    const nd_trial_summary *s = &t->summary;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    axes a = {80, 70, TRIAL_PLOT_W, TRIAL_H - 140, 0, c->duration_s, c->ymin, c->ymax};
    char buf[512], flags[64];
    for (size_t k = 0; k < t->n_reps; k++) { /* rep windows under everything */
        const nd_rep_result *r = &t->reps[k];
        double x0 = ax_x(&a, r->t_open_s), x1 = ax_x(&a, r->t_end_s);
        cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
        cairo_rectangle(cr, x0, a.y, x1 - x0, a.h);
        cairo_fill(cr);
    }
    snprintf(buf, sizeof buf, "time (s), filtered at %g Hz", t->settings.cutoff_hz);
    draw_axes(cr, &a, buf, "force (N)", x_num, 0);
    cairo_set_font_size(cr, 11);
    cairo_set_source_rgb(cr, 0.3, 0.3, 0.3);
    for (size_t k = 0; k < t->n_reps; k++) {
        snprintf(buf, sizeof buf, "rep %u", t->reps[k].index);
        label(cr, ax_x(&a, t->reps[k].t_open_s) + 3, a.y + 4, 0, 0, buf);
    }
    cairo_save(cr);
    cairo_rectangle(cr, a.x, a.y, a.w, a.h);
    cairo_clip(cr);
    cairo_set_line_width(cr, 1.2);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    for (int leg = 0; leg < 2; leg++) {
        rgb(cr, leg ? RIGHT_RGB : LEFT_RGB);
        bool pen = false;
        for (size_t i = 0; i < c->cols; i++) {
            if (isnan(c->lo[leg][i])) {
                pen = false;
                continue;
            }
            double x = a.x + (i + 0.5) * a.w / (double)c->cols;
            if (pen)
                cairo_line_to(cr, x, ax_y(&a, c->lo[leg][i]));
            else
                cairo_move_to(cr, x, ax_y(&a, c->lo[leg][i]));
            cairo_line_to(cr, x, ax_y(&a, c->hi[leg][i]));
            pen = true;
        }
        cairo_stroke(cr);
    }
    cairo_restore(cr);
    cairo_set_font_size(cr, 11);
    for (size_t k = 0; k < t->n_reps; k++) { /* peaks */
        const nd_rep_result *r = &t->reps[k];
        for (int leg = 0; leg < 2; leg++) {
            if (!isfinite(r->peak_N[leg])) continue;
            double x = ax_x(&a, r->t_peak_s[leg]), y = ax_y(&a, r->peak_N[leg]);
            rgb(cr, leg ? RIGHT_RGB : LEFT_RGB);
            cairo_arc(cr, x, y, 4.5, 0, 2 * M_PI);
            cairo_fill(cr);
            snprintf(buf, sizeof buf, "%.0f", r->peak_N[leg]);
            label(cr, x + (leg ? 6 : -6), y - 4, leg ? 0 : 1, 1, buf);
        }
    }
    cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
    cairo_set_font_size(cr, 16);
    snprintf(buf, sizeof buf, "%s   %s   trial %s", t->info.meta.athlete_id, t->info.created_utc,
             t->info.meta.trial_id);
    label(cr, a.x, 14, 0, 0, buf);
    cairo_set_font_size(cr, 12);
    nd_report_flags(s, flags, sizeof flags);
    snprintf(buf, sizeof buf,
             "%u reps   max L %.0f N  R %.0f N   asymmetry %+.1f %%   flags: %s   (%s metrics)",
             s->reps, s->max_N[0], s->max_N[1], s->asymmetry_pct, flags[0] ? flags : "none",
             t->recomputed ? "recomputed" : "stored");
    label(cr, a.x, 38, 0, 0, buf);
    legend(cr, a.x + a.w - 70, 22, "left", "right");
}

int nd_report_plot_trial(const char *base, const nd_report_trial *t, const double *left_N,
                         const double *right_N, size_t n, const nd_report_options *o, char *err,
                         size_t errlen)
{
    const double fs = t->info.meta.sample_rate_hz;
    trial_ctx c = {.t = t, .cols = n < TRIAL_PLOT_W ? (n ? n : 1) : TRIAL_PLOT_W};
    c.duration_s = n > 1 ? (double)n / fs : 1.0;
    double *mem = malloc(4 * c.cols * sizeof *mem);
    if (!mem) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int leg = 0; leg < 2; leg++) {
        c.lo[leg] = mem + (2 * leg) * c.cols;
        c.hi[leg] = mem + (2 * leg + 1) * c.cols;
    }
    for (size_t i = 0; i < 4 * c.cols; i++) mem[i] = NAN;
    nd_butterworth f[2];
    c.ymin = 0;
    c.ymax = 50;
    for (int leg = 0; leg < 2; leg++) {
        if (nd_butterworth_design(&f[leg], t->settings.cutoff_hz, fs)) {
            snprintf(err, errlen, "cannot design the %g Hz filter", t->settings.cutoff_hz);
            free(mem);
            return -1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        /* Same skip rule as the metrics: a set with a non-finite leg is left out. */
        if (!isfinite(left_N[i]) || !isfinite(right_N[i])) continue;
        size_t col = (size_t)((double)i / (double)n * (double)c.cols);
        const double in[2] = {left_N[i], right_N[i]};
        for (int leg = 0; leg < 2; leg++) {
            double y = nd_butterworth_step(&f[leg], in[leg]);
            if (isnan(c.lo[leg][col]) || y < c.lo[leg][col]) c.lo[leg][col] = y;
            if (isnan(c.hi[leg][col]) || y > c.hi[leg][col]) c.hi[leg][col] = y;
            if (y < c.ymin) c.ymin = y;
            if (y > c.ymax) c.ymax = y;
        }
    }
    c.ymax += 0.12 * (c.ymax - c.ymin); /* room for the peak labels */
    int rc = render(base, o, TRIAL_W, TRIAL_H, draw_trial, &c, err, errlen);
    free(mem);
    return rc;
}

/* ---- trend plot ----------------------------------------------------------- */

enum { TREND_W = 1000, TREND_H = 760 };

typedef struct trend_ctx {
    const nd_report_trial *t;
    const size_t *order;
    size_t n;
    const nd_report_options *o;
} trend_ctx;

static double day_of(const nd_report_trial *p)
{
    return (double)p->info.meta.created_utc_s / 86400.0;
}

static void series(cairo_t *cr, const axes *a, const trend_ctx *c, int which, const double col[3])
{
    cairo_set_line_width(cr, 2);
    rgb(cr, col);
    bool pen = false;
    for (size_t i = 0; i < c->n; i++) {
        const nd_trial_summary *s = &c->t[c->order[i]].summary;
        double v = which < 2 ? s->max_N[which] : s->asymmetry_pct;
        if (!isfinite(v)) continue;
        double x = ax_x(a, day_of(&c->t[c->order[i]])), y = ax_y(a, v);
        if (pen)
            cairo_line_to(cr, x, y);
        else
            cairo_move_to(cr, x, y);
        pen = true;
    }
    cairo_stroke(cr);
    const nd_trial_summary *first = NULL, *prev = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const nd_trial_summary *s = &c->t[c->order[i]].summary;
        double v = which < 2 ? s->max_N[which] : s->asymmetry_pct;
        if (isfinite(v)) {
            double x = ax_x(a, day_of(&c->t[c->order[i]])), y = ax_y(a, v);
            cairo_arc(cr, x, y, 4, 0, 2 * M_PI);
            cairo_fill(cr);
            /* A ring marks a change beyond the MDC against the previous test. */
            if (which < 2 && prev && fabs(v - prev->max_N[which]) > c->o->mdc_N) {
                cairo_set_line_width(cr, 1.5);
                cairo_arc(cr, x, y, 9, 0, 2 * M_PI);
                cairo_stroke(cr);
            }
        }
        if (!first) first = s;
        prev = s;
    }
}

static void draw_trend(cairo_t *cr, const void *arg)
{
    const trend_ctx *c = arg;
    const nd_report_trial *last = &c->t[c->order[c->n - 1]];
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    double d0 = day_of(&c->t[c->order[0]]), d1 = day_of(last);
    double pad = d1 - d0 < 1 ? 1 : 0.05 * (d1 - d0);
    double fmax = last->settings.weak_threshold_N, amax = last->settings.imbalance_pct + 5;
    if (amax < 25) amax = 25;
    for (size_t i = 0; i < c->n; i++) {
        const nd_trial_summary *s = &c->t[c->order[i]].summary;
        for (int leg = 0; leg < 2; leg++)
            if (isfinite(s->max_N[leg]) && s->max_N[leg] > fmax) fmax = s->max_N[leg];
        if (isfinite(s->asymmetry_pct) && fabs(s->asymmetry_pct) * 1.15 > amax)
            amax = fabs(s->asymmetry_pct) * 1.15;
    }
    axes top = {90, 70, TREND_W - 130, 330, d0 - pad, d1 + pad, 0, fmax * 1.15};
    axes bot = {90, 470, TREND_W - 130, 210, d0 - pad, d1 + pad, -amax, amax};
    draw_axes(cr, &top, "", "max force (N)", x_date, 1);
    draw_axes(cr, &bot, "test date (UTC)", "asymmetry (%, + = left stronger)", x_date, 1);
    char buf[256];
    snprintf(buf, sizeof buf, "weak < %g N (Opar 2015)", last->settings.weak_threshold_N);
    dashed_hline(cr, &top, last->settings.weak_threshold_N, 0.85, buf, false);
    const double imb = last->settings.imbalance_pct;
    snprintf(buf, sizeof buf, "imbalance: |A| >= %g %% (Bourne 2015)", imb);
    dashed_hline(cr, &bot, imb, 0.85, NULL, false);
    dashed_hline(cr, &bot, -imb, 0.85, buf, true);
    if (imb < 20) { /* the higher-risk band of the same study */
        dashed_hline(cr, &bot, 20, 0.5, "20 %", false);
        dashed_hline(cr, &bot, -20, 0.5, NULL, false);
    }
    series(cr, &top, c, 0, LEFT_RGB);
    series(cr, &top, c, 1, RIGHT_RGB);
    static const double grey[3] = {0.25, 0.25, 0.25};
    series(cr, &bot, c, 2, grey);
    cairo_set_source_rgb(cr, 0.05, 0.05, 0.05);
    cairo_set_font_size(cr, 16);
    snprintf(buf, sizeof buf, "%s: %zu tests, %.10s to %.10s", last->info.meta.athlete_id, c->n,
             c->t[c->order[0]].info.created_utc, last->info.created_utc);
    label(cr, top.x, 14, 0, 0, buf);
    cairo_set_font_size(cr, 12);
    snprintf(buf, sizeof buf, "ring: change from the previous test > MDC %g N", c->o->mdc_N);
    label(cr, top.x, 40, 0, 0, buf);
    legend(cr, top.x + top.w - 130, 22, "left max", "right max");
}

int nd_report_plot_trend(const char *base, const nd_report_trial *t, const size_t *order,
                         size_t n_order, const nd_report_options *o, char *err, size_t errlen)
{
    if (n_order == 0) return 0;
    trend_ctx c = {t, order, n_order, o};
    return render(base, o, TREND_W, TREND_H, draw_trend, &c, err, errlen);
}

void nd_report_plot_cleanup(void)
{
    /* Frees cairo's and fontconfig's caches so leak checkers see a clean exit. */
    cairo_debug_reset_static_data();
    FcFini();
}
