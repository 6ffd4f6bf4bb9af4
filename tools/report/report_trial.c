/* nordic-report: read one trial file and compute what the tables need.
 * Metrics come from the stored values or from nd_metrics_recompute(), the
 * daemon's own code, on the stored calibrated force (daemon/metrics/METRICS.md 4.9). */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

static void skip(nd_report_trial *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void skip(nd_report_trial *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof t->error, fmt, ap);
    va_end(ap);
    /* One line per skipped file, whatever HDF5 said. */
    for (char *c = t->error; *c; c++)
        if (*c == '\n' || *c == '\r') *c = ' ';
    t->ok = false;
}

/* The reader prefixes its messages with the path; the report line has it already. */
static const char *without_path(const char *msg, const char *path)
{
    size_t len = strlen(path);
    if (strncmp(msg, path, len) == 0 && strncmp(msg + len, ": ", 2) == 0) return msg + len + 2;
    return msg;
}

/* Last "pain" event: the daemon writes "<rating>/10[; detail]". */
static int pain_from_events(const nd_trial_event *ev, long n)
{
    int rating = -1;
    for (long i = 0; i < n; i++) {
        if (strcmp(ev[i].kind, "pain") != 0) continue;
        char *end;
        long v = strtol(ev[i].detail, &end, 10);
        if (end != ev[i].detail && v >= 0 && v <= 10) rating = (int)v;
    }
    return rating;
}

static int apply_overrides(nd_report_trial *t, const nd_report_options *o)
{
    char err[256];
    t->settings = t->info.meta.settings;
    for (size_t i = 0; i < o->n_set; i++) {
        if (nd_metric_setting_set(&t->settings, o->set_name[i], o->set_value[i], err, sizeof err)) {
            skip(t, "--set: %s", err);
            return -1;
        }
    }
    if (nd_metric_settings_validate(&t->settings, t->info.meta.sample_rate_hz, err, sizeof err)) {
        skip(t, "metric settings (stored%s) are invalid: %s", o->n_set ? " + --set" : "", err);
        return -1;
    }
    return 0;
}

static int recompute(nd_report_trial *t, const double *left, const double *right, size_t n,
                     int pain)
{
    const nd_trial_meta *m = &t->info.meta;
    size_t cap = 64;
    for (;;) {
        nd_rep_result *reps = calloc(cap, sizeof *reps);
        if (!reps) {
            skip(t, "out of memory");
            return -1;
        }
        long got = nd_metrics_recompute(&t->settings, m->sample_rate_hz, &m->subject, left, right,
                                        n, pain, reps, cap, &t->recomputed_summary);
        if (got < 0) {
            free(reps);
            skip(t, "recomputation refused the stored data (subject or settings out of range)");
            return -1;
        }
        if ((size_t)got <= cap) {
            t->recomputed_reps = reps;
            t->n_recomputed_reps = (size_t)got;
            return 0;
        }
        free(reps);
        cap = (size_t)got;
    }
}

static int check_layout(nd_report_trial *t)
{
    const nd_trial_meta *m = &t->info.meta;
    if (!(m->sample_rate_hz > 0 && m->sample_rate_hz <= ND_METRICS_MAX_FS)) {
        skip(t, "sample_rate_hz %g is not a usable rate", m->sample_rate_hz);
        return -1;
    }
    if (m->nch < 1 || m->nch > ND_MAX_CHANNELS) {
        skip(t, "nch %d outside 1..%d", m->nch, ND_MAX_CHANNELS);
        return -1;
    }
    const int l = m->calibration.left_channel, r = m->calibration.right_channel;
    if (l < 0 || l >= m->nch || r < 0 || r >= m->nch) {
        skip(t, "channel mapping left=%d right=%d outside the %d stored channels", l, r, m->nch);
        return -1;
    }
    return 0;
}

static int read_reps(nd_report_trial *t, nd_trial_reader *r)
{
    char err[1024];
    size_t n = (size_t)t->info.reps;
    t->stored_reps = calloc(n ? n : 1, sizeof *t->stored_reps);
    if (!t->stored_reps) {
        skip(t, "out of memory");
        return -1;
    }
    long got = nd_trial_reader_read_reps(r, t->stored_reps, n, err, sizeof err);
    if (got < 0 || (size_t)got != n) {
        skip(t, "%s", got < 0 ? without_path(err, t->path) : "/reps is shorter than recorded");
        return -1;
    }
    t->n_stored_reps = n;
    return 0;
}

static int read_pain(nd_report_trial *t, nd_trial_reader *r, int *pain)
{
    if (t->info.has_summary) {
        *pain = t->info.summary.pain_rating;
        if (*pain < -1 || *pain > 10) *pain = -1;
        return 0;
    }
    char err[1024];
    size_t n = (size_t)t->info.events;
    nd_trial_event *ev = calloc(n ? n : 1, sizeof *ev);
    if (!ev) {
        skip(t, "out of memory");
        return -1;
    }
    long got = nd_trial_reader_read_events(r, ev, n, err, sizeof err);
    if (got < 0) {
        free(ev);
        skip(t, "%s", without_path(err, t->path));
        return -1;
    }
    *pain = pain_from_events(ev, got);
    free(ev);
    return 0;
}

void nd_report_analyse(nd_report_trial *t, const nd_report_options *o)
{
    char err[4400];
    t->ok = true;
    nd_trial_reader *r = nd_trial_reader_open(t->path, err, sizeof err);
    if (!r) {
        skip(t, "%s", without_path(err, t->path));
        return;
    }
    t->info = *nd_trial_reader_info(r);
    const nd_trial_info *in = &t->info;
    const bool complete = strcmp(in->status, ND_TRIAL_STATUS_COMPLETE) == 0;
    double *force = NULL, *left = NULL, *right = NULL;
    uint64_t *seq = NULL;
    if (!complete && !o->include_incomplete) {
        if (in->swmr)
            skip(t,
                 "status '%s' and still open for writing (being recorded, or crashed and not "
                 "recovered: run nordic-trial recover); --include-incomplete reads it",
                 in->status);
        else
            skip(t,
                 "status '%s': trial did not finish; --include-incomplete processes it "
                 "with recomputed metrics",
                 in->status);
        goto out;
    }
    if (complete && !in->has_summary) {
        skip(t, "status 'complete' but the summary attributes of /reps are missing or damaged");
        goto out;
    }
    if (check_layout(t) || apply_overrides(t, o) || read_reps(t, r)) goto out;
    int pain;
    if (read_pain(t, r, &pain)) goto out;

    const size_t n = (size_t)in->samples, nch = (size_t)in->meta.nch;
    force = malloc((n ? n : 1) * nch * sizeof *force);
    seq = malloc((n ? n : 1) * sizeof *seq);
    left = malloc((n ? n : 1) * sizeof *left);
    right = malloc((n ? n : 1) * sizeof *right);
    if (!force || !seq || !left || !right) {
        skip(t, "out of memory for %zu sample sets", n);
        goto out;
    }
    if (n && nd_trial_reader_read_samples(r, 0, n, NULL, force, seq, err, sizeof err) < 0) {
        skip(t, "%s", without_path(err, t->path));
        goto out;
    }
    const size_t lc = (size_t)in->meta.calibration.left_channel;
    const size_t rc = (size_t)in->meta.calibration.right_channel;
    for (size_t i = 0; i < n; i++) {
        left[i] = force[i * nch + lc];
        right[i] = force[i * nch + rc];
        if (i && seq[i] > seq[i - 1] + 1) t->lost_sets += seq[i] - seq[i - 1] - 1;
    }
    free(force);
    force = NULL;
    free(seq);
    seq = NULL;

    t->recomputed = !complete || o->recompute || o->n_set > 0;
    if ((t->recomputed || o->compare) && recompute(t, left, right, n, pain)) goto out;
    t->compared = o->compare;
    if (t->recomputed) {
        t->summary = t->recomputed_summary;
        t->reps = t->recomputed_reps;
        t->n_reps = t->n_recomputed_reps;
    } else {
        t->summary = in->summary;
        t->reps = t->stored_reps;
        t->n_reps = t->n_stored_reps;
        t->settings = in->meta.settings;
    }
    if (nd_report_sets_analyse(t, r, left, right, n, t->recomputed || o->compare, pain, err,
                               sizeof err)) {
        skip(t, "sets: %s", without_path(err, t->path));
        goto out;
    }
    for (size_t i = 0; i < t->n_reps; i++)
        for (int s = 0; s < 2; s++) t->impulse_Ns[s] += t->reps[i].impulse_Ns[s];
    if ((o->plot_png || o->plot_svg) && o->out_dir) {
        char stem[PATH_MAX], base[PATH_MAX + 64];
        nd_report_stem(t->path, stem, sizeof stem);
        snprintf(base, sizeof base, "%s/plots/%s", o->out_dir, stem);
        if (nd_report_plot_trial(base, t, left, right, n, o, err, sizeof err))
            skip(t, "plot: %s", err);
    }
out:
    free(force);
    free(seq);
    free(left);
    free(right);
    nd_trial_reader_close(r);
}

void nd_report_trial_free(nd_report_trial *t)
{
    free(t->stored_reps);
    free(t->recomputed_reps);
    t->stored_reps = t->recomputed_reps = t->reps = NULL;
    free(t->stored_sets);
    free(t->recomputed_sets);
    t->stored_sets = t->recomputed_sets = t->sets = NULL;
}
