/* Per-sample CSV and the one-row-per-trial club CSV (EXPORT.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_export_internal.h"

static void put_csv_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* "# key: value" lines before the column header. */
static void metadata_block(FILE *f, const nd_export_trial *t)
{
    const nd_trial_meta *m = &t->in->meta;
    fprintf(f, "# nordic-trial export: csv (one row per sample set)\n");
    fprintf(f, "# source: %s\n", t->stem);
    fprintf(f, "# schema: %s %d.%d\n", ND_TRIAL_SCHEMA, t->in->schema_version, t->in->schema_minor);
    fprintf(f, "# status: %s\n", t->in->status);
    fprintf(f, "# trial_id: %s\n# athlete_id: %s\n", m->trial_id, m->athlete_id);
    fprintf(f, "# created_utc: %s\n", t->in->created_utc);
    fprintf(f, "# device: %s serial %s firmware %s\n", m->device.model, m->device.serial,
            m->device.fw);
    fputs("# sample_rate_hz: ", f);
    nd_export_put_num(f, m->sample_rate_hz, "NaN");
    fprintf(f, "\n# sample_sets: %llu\n", (unsigned long long)t->in->samples);
    fprintf(f, "# left_channel: %s\n# right_channel: %s\n",
            m->channel_names[m->calibration.left_channel],
            m->channel_names[m->calibration.right_channel]);
    fputs("# body_mass_kg: ", f);
    nd_export_put_num(f, m->subject.body_mass_kg, "NaN");
    fputs("\n# lever_m: ", f);
    nd_export_put_num(f, m->subject.lever_m, "NaN");
    fputc('\n', f);
    fprintf(f, "# clock_pairs: %zu\n", t->n_clock);
    fprintf(f,
            "# columns: time_s = row / sample_rate_hz; utc_s = Unix time (UTC) of the row from "
            "the clock pairs (EXPORT.md 'Sample times')%s; raw_* counts; force_* N\n",
            t->n_clock ? "" : ", here created_utc + time_s");
}

int nd_export_csv(nd_export_trial *t, const char *dir, FILE *written, char *err, size_t errlen)
{
    const nd_trial_meta *m = &t->in->meta;
    const int nch = m->nch, L = m->calibration.left_channel, R = m->calibration.right_channel;
    char name[300];
    snprintf(name, sizeof name, "%s.csv", t->stem);
    int32_t *raw = malloc(ND_EXPORT_SLICE_ROWS * (size_t)nch * sizeof *raw);
    double *force = malloc(ND_EXPORT_SLICE_ROWS * (size_t)nch * sizeof *force);
    uint64_t *seq = malloc(ND_EXPORT_SLICE_ROWS * sizeof *seq);
    nd_export_out o;
    if (!raw || !force || !seq || nd_export_out_open(&o, dir, name, err, errlen) < 0) {
        if (!raw || !force || !seq) snprintf(err, errlen, "out of memory");
        free(raw);
        free(force);
        free(seq);
        return -1;
    }
    FILE *f = o.f;
    metadata_block(f, t);
    fputs("time_s,utc_s,seq", f);
    for (int ch = 0; ch < nch; ch++) fprintf(f, ",raw_%s", m->channel_names[ch]);
    fputs(",force_left_N,force_right_N", f);
    for (int ch = 0; ch < nch; ch++)
        if (ch != L && ch != R) fprintf(f, ",force_%s_N", m->channel_names[ch]);
    fputc('\n', f);
    nd_export_clock_cursor cur;
    nd_export_cursor_init(&cur, t);
    int rc = 0;
    for (uint64_t first = 0; first < t->in->samples; first += ND_EXPORT_SLICE_ROWS) {
        size_t n = t->in->samples - first < ND_EXPORT_SLICE_ROWS ? (size_t)(t->in->samples - first)
                                                                 : ND_EXPORT_SLICE_ROWS;
        char why[512];
        if (nd_trial_reader_read_samples(t->r, first, n, raw, force, seq, why, sizeof why) < 0) {
            snprintf(err, errlen, "cannot export %s: damaged at sample set %llu: %s", t->path,
                     (unsigned long long)first, why);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            uint64_t row = first + i;
            const double *fr = force + i * (size_t)nch;
            nd_export_put_num(f, (double)row / m->sample_rate_hz, "NaN");
            fputc(',', f);
            /* Whole seconds and the fraction apart: a double keeps only
             * ~0.2 us of a Unix time, so print it as mono + offset rounded
             * to the microsecond. */
            double utc = nd_export_mono_s(&cur, row) + nd_export_offset_s(&cur, row);
            fprintf(f, "%.6f,%llu", utc, (unsigned long long)seq[i]);
            for (int ch = 0; ch < nch; ch++) fprintf(f, ",%d", raw[i * (size_t)nch + (size_t)ch]);
            fputc(',', f);
            nd_export_put_exact(f, fr[L], "NaN");
            fputc(',', f);
            nd_export_put_exact(f, fr[R], "NaN");
            for (int ch = 0; ch < nch; ch++)
                if (ch != L && ch != R) {
                    fputc(',', f);
                    nd_export_put_exact(f, fr[ch], "NaN");
                }
            fputc('\n', f);
        }
    }
    free(raw);
    free(force);
    free(seq);
    if (rc < 0) {
        nd_export_out_abort(&o);
        return -1;
    }
    if (nd_export_out_commit(&o, err, errlen) < 0) return -1;
    if (written) fprintf(written, "%s\n", o.final_path);
    return 0;
}

/* ---- club CSV ---- */

/* Column names as commercial Nordic boards export them; EXPORT.md has the
 * mapping table with the formula of each. */
static const char *const club_columns[] = {
    "Date UTC",
    "Time UTC",
    "Name",
    "Athlete ID",
    "Test",
    "Device",
    "Device Serial",
    "Trial ID",
    "Reps",
    "L Max Force (N)",
    "R Max Force (N)",
    "Max Imbalance (%)",
    "L Avg Force (N)",
    "R Avg Force (N)",
    "Avg Imbalance (%)",
    "L Max Torque (Nm)",
    "R Max Torque (Nm)",
    "L Avg Torque (Nm)",
    "R Avg Torque (Nm)",
    "L Max Force Per Kg (N/kg)",
    "R Max Force Per Kg (N/kg)",
    "Body Weight (kg)",
    "Status",
    "File",
};
#define N_CLUB (sizeof club_columns / sizeof club_columns[0])

static double imbalance(double l, double r)
{
    double mx = l > r ? l : r;
    return mx > 0 ? 100.0 * (l - r) / mx : NAN;
}

/* Empty cell for "not available" (dashboards read an empty cell as missing). */
static void put_cell(FILE *f, double v)
{
    fputc(',', f);
    if (isfinite(v)) nd_export_put_num(f, v, "");
}

static void club_row(FILE *f, const nd_export_trial *t)
{
    const nd_trial_meta *m = &t->in->meta;
    time_t when = (time_t)m->created_utc_s;
    struct tm tm;
    gmtime_r(&when, &tm);
    fprintf(f, "%04d-%02d-%02d,%02d:%02d:%02d,", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
            tm.tm_hour, tm.tm_min, tm.tm_sec);
    put_csv_text(f, m->athlete_id);
    fputc(',', f);
    put_csv_text(f, m->athlete_id);
    fputc(',', f);
    put_csv_text(f, m->protocol[0] ? m->protocol : "Nordic hamstring curl");
    fputc(',', f);
    put_csv_text(f, m->device.model);
    fputc(',', f);
    put_csv_text(f, m->device.serial);
    fputc(',', f);
    put_csv_text(f, m->trial_id);
    fprintf(f, ",%zu", t->n_reps);
    double maxL = NAN, maxR = NAN, sumL = 0, sumR = 0;
    for (size_t i = 0; i < t->n_reps; i++) {
        double l = t->reps[i].peak_N[0], r = t->reps[i].peak_N[1];
        if (isnan(maxL) || l > maxL) maxL = l;
        if (isnan(maxR) || r > maxR) maxR = r;
        sumL += l;
        sumR += r;
    }
    double avgL = t->n_reps ? sumL / (double)t->n_reps : NAN;
    double avgR = t->n_reps ? sumR / (double)t->n_reps : NAN;
    double lever = m->subject.lever_m > 0 ? m->subject.lever_m : NAN;
    double mass = m->subject.body_mass_kg > 0 ? m->subject.body_mass_kg : NAN;
    put_cell(f, maxL);
    put_cell(f, maxR);
    put_cell(f, imbalance(maxL, maxR));
    put_cell(f, avgL);
    put_cell(f, avgR);
    put_cell(f, imbalance(avgL, avgR));
    put_cell(f, maxL * lever);
    put_cell(f, maxR * lever);
    put_cell(f, avgL * lever);
    put_cell(f, avgR * lever);
    put_cell(f, maxL / mass);
    put_cell(f, maxR / mass);
    put_cell(f, mass);
    fputc(',', f);
    put_csv_text(f, t->in->status);
    fputc(',', f);
    put_csv_text(f, t->stem);
    fputc('\n', f);
}

int nd_export_club(nd_export_trial *ts, size_t n, const char *dir, FILE *written, char *err,
                   size_t errlen)
{
    nd_export_out o;
    if (nd_export_out_open(&o, dir, "nordic_club.csv", err, errlen) < 0) return -1;
    for (size_t c = 0; c < N_CLUB; c++) fprintf(o.f, "%s%s", c ? "," : "", club_columns[c]);
    fputc('\n', o.f);
    for (size_t i = 0; i < n; i++) club_row(o.f, &ts[i]);
    if (nd_export_out_commit(&o, err, errlen) < 0) return -1;
    if (written) fprintf(written, "%s\n", o.final_path);
    return 0;
}
