/* nordic-trial: inspect, export and recover nordicd trial files.
 *
 *   nordic-trial summary FILE
 *   nordic-trial export FILE [--samples OUT.csv] [--reps OUT.csv] [--events OUT.csv]
 *                            [--out-dir DIR]
 *   nordic-trial export FILE... --format xdf|bids|csv|club-csv [--out DIR]
 *   nordic-trial recover DIR
 *   nordic-trial index [--db PATH] [--data-dir DIR] [--rebuild] [--watch]
 *                      [--central postgresql://... --station ID | --no-central]
 *
 * CSV: comma-separated, header row, numbers printed so they read back
 * exactly (shortest round-trip form), NaN as "NaN", text fields quoted. Output files appear
 * only when complete (written as OUT.tmp, then renamed). */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nd_export.h"
#include "nd_trial_dirs.h"
#include "nd_index.h"
#include "nd_index_central.h"
#include "nd_index_watcher.h"
#include "nd_trial_reader.h"
#include "nd_trial_recover.h"

#define SLICE_ROWS 65536

static void usage(FILE *out)
{
    fprintf(out,
            "usage: nordic-trial summary FILE\n"
            "       nordic-trial export FILE [--samples OUT.csv] [--reps OUT.csv]\n"
            "                               [--events OUT.csv] [--out-dir DIR]\n"
            "       nordic-trial export FILE... --format xdf|bids|csv|club-csv [--out DIR]\n"
            "       nordic-trial recover DIR\n"
            "       nordic-trial index [--db PATH] [--data-dir DIR] [--rebuild] [--watch]\n"
            "                          [--central postgresql://... --station ID | --no-central]\n"
            "\n"
            "summary  print the trial's metadata, status and summary metrics\n"
            "export   write samples, reps and/or events as CSV; --out-dir DIR writes\n"
            "         all three as DIR/<trial file name>_{samples,reps,events}.csv\n"
            "export --format  for other lab software (tools/export/EXPORT.md), into DIR\n"
            "         (default: the current folder):\n"
            "           xdf       DIR/<name>.xdf per trial (LabRecorder, EEGLAB, MNE, pyxdf)\n"
            "           bids      DIR/nordic_bids/, a BIDS motion dataset of all the trials\n"
            "           csv       DIR/<name>.csv per trial, one row per sample set\n"
            "           club-csv  DIR/nordic_club.csv, one row per trial, commercial column\n"
            "                     names\n"
            "recover  repair trials in DIR left open by a crash and mark them\n"
            "         interrupted (safe while nordicd records: files in use are skipped)\n"
            "index    bring the trial index (SQLite) in line with the data directory;\n"
            "         --rebuild drops the trial rows and reads every file again (the\n"
            "         athlete registry is kept); --watch keeps indexing files as they\n"
            "         appear. Defaults: /var/lib/nordic-station/index.sqlite and nordicd's\n"
            "         data_dir. --central also copies the index to one PostgreSQL shared by\n"
            "         many stations, through a local outbox (exit status 3: the server could\n"
            "         not be reached, changes stay queued for the next run)\n"
            "\n"
            "File format: TRIAL_FORMAT.md (schema nordic-trial v1).\n");
}

static void put_num(FILE *f, double v)
{
    if (isnan(v)) {
        fputs("NaN", f);
        return;
    }
    /* Shortest text that reads back to the same double. */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

static void put_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static const char *side(nd_side s)
{
    return s == ND_SIDE_LEFT ? "left" : s == ND_SIDE_RIGHT ? "right" : "none";
}

/* The /sets rows of a planned protocol (schema 1.1; none in 1.0 files). */
static void print_sets(nd_trial_reader *r, const nd_trial_info *in)
{
    const nd_set_plan *p = &in->meta.plan;
    if (p->sets == 0) return;
    printf("sets:            %llu of %u planned (%u %s each, rest %g s)\n",
           (unsigned long long)in->sets, p->sets, p->reps,
           p->test == ND_TEST_ISOMETRIC ? "isometric holds" : "reps", p->rest_s);
    nd_set_result rows[64];
    char err[512];
    long n = nd_trial_reader_read_sets(r, rows, 64, err, sizeof err);
    if (n < 0) {
        printf("  (cannot read /sets: %s)\n", err);
        return;
    }
    for (long k = 0; k < n; k++) {
        const nd_set_result *s = &rows[k];
        printf("  set %u: %u/%u reps, mean peak L %.1f R %.1f N, asym %.1f %%, decline L %.1f R "
               "%.1f %%, pain %d, rest after %.0f s, ended by %s\n",
               s->index, s->reps_done, s->reps_planned, s->mean_peak_N[ND_LEFT],
               s->mean_peak_N[ND_RIGHT], s->mean_asymmetry_pct, s->decline_pct[ND_LEFT],
               s->decline_pct[ND_RIGHT], s->pain, s->rest_after_s, nd_set_end_name(s->ended_by));
        if (s->test == ND_TEST_ISOMETRIC)
            printf("         isometric at %g deg, %s\n", s->angle_deg,
                   s->leg == ND_SIDE_NONE ? "both legs" : nd_side_name(s->leg));
    }
}

static int cmd_summary(const char *path)
{
    char err[4400];
    nd_trial_reader *r = nd_trial_reader_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        return 1;
    }
    const nd_trial_info *in = nd_trial_reader_info(r);
    const nd_trial_meta *m = &in->meta;
    printf("file:            %s\n", path);
    printf("schema:          %s v%d.%d\n", ND_TRIAL_SCHEMA, in->schema_version, in->schema_minor);
    printf("status:          %s%s\n", in->status,
           in->swmr ? " (still open for writing or not yet recovered)" : "");
    printf("trial id:        %s\n", m->trial_id);
    printf("athlete id:      %s\n", m->athlete_id);
    printf("created (UTC):   %s\n", in->created_utc);
    if (in->closed_utc[0]) printf("closed (UTC):    %s\n", in->closed_utc);
    if (in->recovered_utc[0]) printf("recovered (UTC): %s\n", in->recovered_utc);
    printf("software:        %s\n", m->software_version);
    printf("device:          %s serial %s fw %s\n", m->device.model, m->device.serial,
           m->device.fw);
    printf("sample rate:     %g Hz, %d channels:", m->sample_rate_hz, m->nch);
    for (int ch = 0; ch < m->nch; ch++) printf(" %s", m->channel_names[ch]);
    printf(" (left = ch %d, right = ch %d)\n", m->calibration.left_channel,
           m->calibration.right_channel);
    printf("sample sets:     %llu (%.3f s)\n", (unsigned long long)in->samples,
           m->sample_rate_hz > 0 ? (double)in->samples / m->sample_rate_hz : 0.0);
    printf("subject:         body mass %g kg, lever %g m, injured side %s\n",
           m->subject.body_mass_kg, m->subject.lever_m, side(m->subject.injured_side));
    if (m->protocol[0]) printf("protocol:        %s\n", m->protocol);
    if (m->notes[0]) printf("notes:           %s\n", m->notes);
    printf("reps stored:     %llu, events: %llu\n", (unsigned long long)in->reps,
           (unsigned long long)in->events);
    if (in->has_clock)
        printf("clock pairs:     %llu\n", (unsigned long long)in->clock_rows);
    else
        printf("clock pairs:     none (written before schema 1.1)\n");
    if (in->has_summary) {
        const nd_trial_summary *s = &in->summary;
        printf("summary:\n");
        printf("  reps %u (discarded %u)\n", s->reps, s->discarded_reps);
        printf("  max   left %.1f N  right %.1f N\n", s->max_N[ND_LEFT], s->max_N[ND_RIGHT]);
        printf("  mean  left %.1f N  right %.1f N\n", s->mean_N[ND_LEFT], s->mean_N[ND_RIGHT]);
        printf("  asymmetry %.1f %% (weaker: %s)", s->asymmetry_pct, side(s->weaker_side));
        if (isfinite(s->lsi_pct))
            printf(", LSI %.1f %%", s->lsi_pct); /* only with an injured side */
        printf("\n");
        printf("  torque max left %.1f N·m right %.1f N·m\n", s->torque_max_Nm[ND_LEFT],
               s->torque_max_Nm[ND_RIGHT]);
        printf("  flags:%s%s%s%s%s\n", s->weak_left ? " weak_left" : "",
               s->weak_right ? " weak_right" : "", s->imbalance ? " imbalance" : "",
               s->pain ? " pain" : "",
               !(s->weak_left || s->weak_right || s->imbalance || s->pain) ? " none" : "");
        if (s->pain_rating >= 0) printf("  pain rating %d/10\n", s->pain_rating);
    } else {
        printf("summary:         none (trial did not close normally)\n");
    }
    print_sets(r, in);
    nd_trial_reader_close(r);
    return 0;
}

/* Opens OUT.tmp; finish() renames it into place or removes it. */
static FILE *begin(const char *out, char *tmp, size_t tmplen)
{
    if (snprintf(tmp, tmplen, "%s.tmp", out) >= (int)tmplen) {
        fprintf(stderr, "nordic-trial: output path too long: %s\n", out);
        return NULL;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) fprintf(stderr, "nordic-trial: cannot write %s: %s\n", out, strerror(errno));
    return f;
}

static int finish(FILE *f, const char *tmp, const char *out, int rc)
{
    if (ferror(f)) rc = -1;
    if (fclose(f) != 0) rc = -1;
    if (rc == 0 && rename(tmp, out) != 0) rc = -1;
    if (rc != 0) {
        fprintf(stderr, "nordic-trial: writing %s failed: %s\n", out, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int export_samples(nd_trial_reader *r, const char *out)
{
    const nd_trial_info *in = nd_trial_reader_info(r);
    const int nch = in->meta.nch;
    char tmp[PATH_MAX + 8], err[512];
    FILE *f = begin(out, tmp, sizeof tmp);
    if (!f) return -1;
    fputs("index,t_s,seq", f);
    for (int ch = 0; ch < nch; ch++) fprintf(f, ",raw_%s", in->meta.channel_names[ch]);
    for (int ch = 0; ch < nch; ch++) fprintf(f, ",force_%s_N", in->meta.channel_names[ch]);
    fputc('\n', f);
    int32_t *raw = malloc(SLICE_ROWS * (size_t)nch * sizeof *raw);
    double *force = malloc(SLICE_ROWS * (size_t)nch * sizeof *force);
    uint64_t *seq = malloc(SLICE_ROWS * sizeof *seq);
    int rc = raw && force && seq ? 0 : -1;
    for (uint64_t first = 0; rc == 0 && first < in->samples; first += SLICE_ROWS) {
        size_t n = in->samples - first < SLICE_ROWS ? (size_t)(in->samples - first) : SLICE_ROWS;
        if (nd_trial_reader_read_samples(r, first, n, raw, force, seq, err, sizeof err) < 0) {
            fprintf(stderr, "nordic-trial: %s\n", err);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "%llu,", (unsigned long long)(first + i));
            put_num(f, (double)(first + i) / in->meta.sample_rate_hz);
            fprintf(f, ",%llu", (unsigned long long)seq[i]);
            for (int ch = 0; ch < nch; ch++) fprintf(f, ",%d", raw[i * (size_t)nch + (size_t)ch]);
            for (int ch = 0; ch < nch; ch++) {
                fputc(',', f);
                put_num(f, force[i * (size_t)nch + (size_t)ch]);
            }
            fputc('\n', f);
        }
    }
    free(raw);
    free(force);
    free(seq);
    return finish(f, tmp, out, rc);
}

static int export_reps(nd_trial_reader *r, const char *out)
{
    const nd_trial_info *in = nd_trial_reader_info(r);
    char tmp[PATH_MAX + 8], err[512];
    size_t n = (size_t)in->reps;
    nd_rep_result *reps = calloc(n ? n : 1, sizeof *reps);
    if (!reps) return -1;
    long got = nd_trial_reader_read_reps(r, reps, n, err, sizeof err);
    if (got < 0) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        free(reps);
        return -1;
    }
    FILE *f = begin(out, tmp, sizeof tmp);
    if (!f) {
        free(reps);
        return -1;
    }
    fputs("index,i_open,i_end,t_open_s,t_end_s,peak_left_N,peak_right_N,i_peak_left,"
          "i_peak_right,t_peak_left_s,t_peak_right_s,asymmetry_pct,abs_asymmetry_pct,"
          "weaker_side,lsi_pct,torque_left_Nm,torque_right_Nm,rel_force_left_N_per_kg,"
          "rel_force_right_N_per_kg,time_to_peak_left_s,time_to_peak_right_s,"
          "rfd_left_N_per_s,rfd_right_N_per_s,impulse_left_Ns,impulse_right_Ns\n",
          f);
    for (long i = 0; i < got; i++) {
        const nd_rep_result *p = &reps[i];
        fprintf(f, "%u,%llu,%llu", p->index, (unsigned long long)p->i_open,
                (unsigned long long)p->i_end);
        const double a[] = {p->t_open_s, p->t_end_s, p->peak_N[0], p->peak_N[1]};
        for (size_t k = 0; k < 4; k++) {
            fputc(',', f);
            put_num(f, a[k]);
        }
        fprintf(f, ",%llu,%llu", (unsigned long long)p->i_peak[0],
                (unsigned long long)p->i_peak[1]);
        const double b[] = {p->t_peak_s[0], p->t_peak_s[1], p->asymmetry_pct, p->abs_asymmetry_pct};
        for (size_t k = 0; k < 4; k++) {
            fputc(',', f);
            put_num(f, b[k]);
        }
        fprintf(f, ",%s", side(p->weaker_side));
        const double c[] = {p->lsi_pct,
                            p->torque_Nm[0],
                            p->torque_Nm[1],
                            p->rel_force_N_per_kg[0],
                            p->rel_force_N_per_kg[1],
                            p->time_to_peak_s[0],
                            p->time_to_peak_s[1],
                            p->rfd_N_per_s[0],
                            p->rfd_N_per_s[1],
                            p->impulse_Ns[0],
                            p->impulse_Ns[1]};
        for (size_t k = 0; k < sizeof c / sizeof c[0]; k++) {
            fputc(',', f);
            put_num(f, c[k]);
        }
        fputc('\n', f);
    }
    free(reps);
    return finish(f, tmp, out, 0);
}

static int export_events(nd_trial_reader *r, const char *out)
{
    const nd_trial_info *in = nd_trial_reader_info(r);
    char tmp[PATH_MAX + 8], err[512];
    size_t n = (size_t)in->events;
    nd_trial_event *ev = calloc(n ? n : 1, sizeof *ev);
    if (!ev) return -1;
    long got = nd_trial_reader_read_events(r, ev, n, err, sizeof err);
    if (got < 0) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        free(ev);
        return -1;
    }
    FILE *f = begin(out, tmp, sizeof tmp);
    if (!f) {
        free(ev);
        return -1;
    }
    fputs("t_s,kind,detail\n", f);
    for (long i = 0; i < got; i++) {
        put_num(f, ev[i].t_s);
        fputc(',', f);
        put_text(f, ev[i].kind);
        fputc(',', f);
        put_text(f, ev[i].detail);
        fputc('\n', f);
    }
    free(ev);
    return finish(f, tmp, out, 0);
}

/* export FILE... --format F [--out DIR] */
static int cmd_export_format(int argc, char **argv)
{
    const char *format = NULL, *out = NULL;
    const char **files = calloc((size_t)argc, sizeof *files);
    size_t n = 0;
    if (!files) return 1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--format") == 0 || strcmp(argv[i], "--out") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nordic-trial: %s needs a value\n", argv[i]);
                free(files);
                return 2;
            }
            if (argv[i][2] == 'f')
                format = argv[++i];
            else
                out = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "nordic-trial: unknown option '%s' with --format (see --help)\n",
                    argv[i]);
            free(files);
            return 2;
        } else {
            files[n++] = argv[i];
        }
    }
    nd_export_options opt = {.out_dir = out, .notes = stderr};
    if (nd_export_format_parse(format, &opt.format) < 0) {
        fprintf(stderr, "nordic-trial: unknown export format '%s' (xdf, bids, csv, club-csv)\n",
                format);
        free(files);
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "nordic-trial: export needs a trial FILE\n");
        free(files);
        return 2;
    }
    char err[4600];
    int rc = nd_export_files(files, n, &opt, stdout, err, sizeof err);
    /* One file: its own line already said everything. */
    if (rc < 0 || (rc > 0 && n > 1)) fprintf(stderr, "nordic-trial: %s\n", err);
    free(files);
    return rc == 0 ? 0 : 1;
}

static int cmd_export(int argc, char **argv)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--format") == 0) return cmd_export_format(argc, argv);
    const char *file = NULL, *samples = NULL, *reps = NULL, *events = NULL, *out_dir = NULL;
    for (int i = 0; i < argc; i++) {
        const char **slot = NULL;
        if (strcmp(argv[i], "--samples") == 0)
            slot = &samples;
        else if (strcmp(argv[i], "--reps") == 0)
            slot = &reps;
        else if (strcmp(argv[i], "--events") == 0)
            slot = &events;
        else if (strcmp(argv[i], "--out-dir") == 0)
            slot = &out_dir;
        if (slot) {
            if (i + 1 >= argc) {
                fprintf(stderr, "nordic-trial: %s needs a path\n", argv[i]);
                return 2;
            }
            *slot = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "nordic-trial: unknown option '%s' (see --help)\n", argv[i]);
            return 2;
        } else if (!file) {
            file = argv[i];
        } else {
            fprintf(stderr, "nordic-trial: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "nordic-trial: export needs a trial FILE\n");
        return 2;
    }
    if (!samples && !reps && !events && !out_dir) {
        fprintf(stderr, "nordic-trial: export needs at least one of --samples, --reps, --events, "
                        "--out-dir\n");
        return 2;
    }
    char ps[PATH_MAX], pr[PATH_MAX], pe[PATH_MAX];
    if (out_dir) {
        const char *base = strrchr(file, '/');
        base = base ? base + 1 : file;
        size_t stem = strlen(base);
        if (stem > 3 && strcmp(base + stem - 3, ".h5") == 0) stem -= 3;
        snprintf(ps, sizeof ps, "%s/%.*s_samples.csv", out_dir, (int)stem, base);
        snprintf(pr, sizeof pr, "%s/%.*s_reps.csv", out_dir, (int)stem, base);
        snprintf(pe, sizeof pe, "%s/%.*s_events.csv", out_dir, (int)stem, base);
        samples = samples ? samples : ps;
        reps = reps ? reps : pr;
        events = events ? events : pe;
    }
    char err[4400];
    nd_trial_reader *r = nd_trial_reader_open(file, err, sizeof err);
    if (!r) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        return 1;
    }
    int rc = 0;
    if (samples && export_samples(r, samples) < 0) rc = 1;
    if (rc == 0 && reps && export_reps(r, reps) < 0) rc = 1;
    if (rc == 0 && events && export_events(r, events) < 0) rc = 1;
    nd_trial_reader_close(r);
    return rc;
}

static int cmd_recover(const char *dir)
{
    nd_recover_report rep;
    char err[4400];
    if (nd_trial_recover_dir(dir, &rep, err, sizeof err) < 0) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        return 1;
    }
    for (size_t i = 0; i < rep.n_items; i++)
        printf("%-16s %s: %s\n", nd_recover_outcome_name(rep.items[i].outcome), rep.items[i].name,
               rep.items[i].message);
    printf("%zu files scanned: %zu recovered, %zu in use, %zu partial removed, %zu failed\n",
           rep.scanned, rep.recovered, rep.in_use, rep.partial_removed, rep.failed);
    int rc = rep.failed ? 1 : 0;
    nd_trial_recover_report_free(&rep);
    return rc;
}

/* Sends the queued changes to the central server; 0 when all went. */
static int push_central(nd_index_central *c)
{
    if (!c) return 0;
    char err[1024];
    int n = nd_index_central_push(c, err, sizeof err);
    if (n < 0) {
        fprintf(stderr, "nordic-trial: %s (%ld file(s) stay queued)\n", err,
                nd_index_central_pending(c));
        return -1;
    }
    if (n > 0) printf("central index: %d file(s) sent\n", n);
    fflush(stdout);
    return 0;
}

/* The watcher thread (nd_index_watcher.h) until SIGINT or SIGTERM. */
static int watch_index(const char *db, const char *data_dir, const char *central,
                       const char *station)
{
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    /* Blocked before the thread starts, so only sigwait() below takes them. */
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    char err[1024];
    nd_index_watcher *w =
        nd_index_watcher_start_central(db, data_dir, central, station, err, sizeof err);
    if (!w) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        return 1;
    }
    fprintf(stderr, "nordic-trial: watching %s (Ctrl-C stops)\n", data_dir);
    int sig = 0;
    sigwait(&stop, &sig);
    nd_index_watcher_stop(w);
    return 0;
}

static int cmd_index(int argc, char **argv)
{
    char default_data_dir[512];
    nd_default_data_dir(default_data_dir, sizeof default_data_dir);
    /* nordic-station keeps the index in its state directory. */
    char db[600];
    snprintf(db, sizeof db, "/var/lib/nordic-station/index.sqlite");
    const char *data_dir = default_data_dir;
    bool rebuild = false, watch = false, no_central = false;
    const char *central = NULL, *station = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--rebuild") == 0)
            rebuild = true;
        else if (strcmp(argv[i], "--watch") == 0)
            watch = true;
        else if (strcmp(argv[i], "--no-central") == 0)
            no_central = true;
        else if (strcmp(argv[i], "--central") == 0 && i + 1 < argc)
            central = argv[++i];
        else if (strcmp(argv[i], "--station") == 0 && i + 1 < argc)
            station = argv[++i];
        else if ((strcmp(argv[i], "--db") == 0 || strcmp(argv[i], "--data-dir") == 0) &&
                 i + 1 < argc) {
            if (argv[i][2] == 'd' && argv[i][3] == 'b')
                snprintf(db, sizeof db, "%s", argv[++i]);
            else
                data_dir = argv[++i];
        } else {
            fprintf(stderr, "nordic-trial: index: unknown or incomplete option '%s' (see --help)\n",
                    argv[i]);
            return 2;
        }
    }
    if (!central != !station) {
        fprintf(stderr, "nordic-trial: index: --central URL and --station ID go together\n");
        return 2;
    }
    struct stat dst;
    if (!watch && stat(data_dir, &dst) < 0) { /* --watch waits for it to appear */
        fprintf(stderr, "nordic-trial: index: data directory %s: %s\n", data_dir, strerror(errno));
        return 1;
    }
    char err[1024];
    nd_index *ix = nd_index_open(db, data_dir, err, sizeof err);
    if (!ix) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        return 1;
    }
    if (no_central && (central || nd_index_central_remove(ix, err, sizeof err))) {
        fprintf(stderr, "nordic-trial: %s\n",
                central ? "--no-central and --central exclude each other" : err);
        nd_index_close(ix);
        return central ? 2 : 1;
    }
    nd_index_central *c = NULL;
    if (central && !(c = nd_index_central_open(ix, central, station, err, sizeof err))) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        nd_index_close(ix);
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int n = rebuild ? nd_index_rebuild(ix, err, sizeof err) : nd_index_sync(ix, err, sizeof err);
    if (n == 0) n = nd_index_last_changes(ix);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    int rc = 0;
    if (n < 0) {
        fprintf(stderr, "nordic-trial: %s\n", err);
        rc = 1;
    } else {
        printf("%s: %d file(s) %s in %.3f s\n", db, n,
               rebuild ? "indexed" : "added, changed or removed",
               (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
        fflush(stdout);
        /* Exit status 3: indexed here, but the central server has not got it yet. */
        if (push_central(c)) rc = 3;
    }
    nd_index_central_close(c);
    nd_index_close(ix);
    if (watch && n >= 0) rc = watch_index(db, data_dir, central, station);
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 3 && strcmp(argv[1], "summary") == 0) return cmd_summary(argv[2]);
    if (argc >= 3 && strcmp(argv[1], "export") == 0) return cmd_export(argc - 2, argv + 2);
    if (argc == 3 && strcmp(argv[1], "recover") == 0) return cmd_recover(argv[2]);
    if (argc >= 2 && strcmp(argv[1], "index") == 0) return cmd_index(argc - 2, argv + 2);
    if (argc >= 2) fprintf(stderr, "nordic-trial: unknown or incomplete command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
