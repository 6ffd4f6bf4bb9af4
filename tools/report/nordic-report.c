/* nordic-report: batch analysis of nordicd trial files (tools/report/REPORT.md).
 *
 *   nordic-report [options] INPUT...     INPUT = file, folder (recursive) or glob
 *
 * Writes OUT/trials.csv, OUT/trials.json, OUT/reps.csv, OUT/trends.csv
 * (+ OUT/compare.csv with --compare, OUT/plots/ with --plots). Bad files are
 * reported one line each and skipped. Exit status: 0 all processed; bit 1
 * (1) some files skipped; bit 2 (2) usage or output error; bit 3 (4)
 * --compare found differences.
 *
 *   nordic-report --export xdf|bids|csv|club-csv [-o DIR] INPUT...
 *
 * exports the inputs for other lab software instead (tools/export/EXPORT.md,
 * the same code as `nordic-trial export --format`). */
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_export.h"
#include "nd_log.h"
#include "report.h"

#define EXIT_SKIPPED  1
#define EXIT_ERROR    2
#define EXIT_MISMATCH 4

static void usage(FILE *out)
{
    fprintf(out, "usage: nordic-report [options] INPUT...\n"
                 "INPUT is a trial file, a folder (searched recursively for *.h5) or a glob\n"
                 "pattern (quote it to let nordic-report expand it).\n"
                 "\n"
                 "  -o, --out-dir DIR       output folder (default: report); created if missing\n"
                 "  -j, --jobs N            worker processes (default: all cores)\n"
                 "      --recompute         recompute metrics from the stored force with the\n"
                 "                          stored settings (same code as nordicd)\n"
                 "      --set NAME=VALUE    change one metric setting for the recomputation\n"
                 "                          (implies --recompute; repeatable), e.g.\n"
                 "                          --set cutoff_hz=6 --set on_N=150\n"
                 "      --compare           also recompute and compare with the stored values\n"
                 "                          (OUT/compare.csv)\n"
                 "      --tolerance X       |stored - recomputed| accepted by --compare (1e-9)\n"
                 "      --include-incomplete  process interrupted or still-recording trials\n"
                 "                          (their metrics are recomputed)\n"
                 "      --plots[=png,svg]   force-time plot per trial and trend plot per athlete\n"
                 "                          in OUT/plots (default both formats)\n"
                 "      --mdc N             minimal detectable change for trend flags (76 N)\n"
                 "      --mdc-pct P         ... and as %% of the athlete's first test (20 %%);\n"
                 "                          the applied MDC is the larger of the two\n"
                 "      --no-progress       no progress bar (it is shown only on a terminal)\n"
                 "      --export FORMAT     instead of the report, export the inputs into the\n"
                 "                          output folder as xdf (one .xdf per trial), bids (a\n"
                 "                          BIDS motion dataset nordic_bids/), csv (one .csv per\n"
                 "                          trial, a row per sample set) or club-csv\n"
                 "                          (nordic_club.csv, a row per trial); see\n"
                 "                          tools/export/EXPORT.md\n"
                 "  -h, --help\n"
                 "\n"
                 "Settings for --set:");
    for (size_t k = 0; k < nd_metric_setting_count; k++)
        fprintf(out, " %s", nd_metric_setting_table[k].name);
    fprintf(out, "\nExit status: 0 all processed; +1 files skipped; +2 usage or output error;\n"
                 "+4 --compare found differences.\n");
}

static int make_dir(const char *path)
{
    char buf[PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *c = buf + 1; *c; c++) {
        if (*c != '/') continue;
        *c = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
        *c = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST) return -1;
    struct stat st;
    if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static int parse_set(nd_report_options *o, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg) {
        fprintf(stderr, "nordic-report: --set needs NAME=VALUE, got '%s'\n", arg);
        return -1;
    }
    if (o->n_set == ND_REPORT_MAX_SET) {
        fprintf(stderr, "nordic-report: at most %d --set options\n", ND_REPORT_MAX_SET);
        return -1;
    }
    size_t len = (size_t)(eq - arg);
    if (len >= sizeof o->set_name[0]) len = sizeof o->set_name[0] - 1;
    char *name = o->set_name[o->n_set];
    memcpy(name, arg, len);
    name[len] = '\0';
    char *end;
    errno = 0;
    double v = strtod(eq + 1, &end);
    if (eq[1] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v)) {
        fprintf(stderr, "nordic-report: --set %s: '%s' is not a finite number\n", name, eq + 1);
        return -1;
    }
    /* Name and range are checked here once; rate-dependent rules per trial. */
    nd_metric_settings probe;
    nd_metric_settings_default(&probe);
    char err[256];
    if (nd_metric_setting_set(&probe, name, v, err, sizeof err)) {
        fprintf(stderr, "nordic-report: --set: %s\n", err);
        return -1;
    }
    o->set_value[o->n_set++] = v;
    return 0;
}

static int parse_number(const char *opt, const char *arg, double min, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (arg[0] == '\0' || *end != '\0' || errno == ERANGE || !isfinite(v) || v < min) {
        fprintf(stderr, "nordic-report: %s needs a number >= %g, got '%s'\n", opt, min, arg);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_plots(nd_report_options *o, const char *arg)
{
    o->plot_png = o->plot_svg = false;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (strcmp(tok, "png") == 0)
            o->plot_png = true;
        else if (strcmp(tok, "svg") == 0)
            o->plot_svg = true;
        else {
            fprintf(stderr, "nordic-report: --plots takes png, svg or png,svg, got '%s'\n", arg);
            return -1;
        }
    }
    return o->plot_png || o->plot_svg ? 0 : -1;
}

/* Trend plots: one per athlete, over that athlete's run in order[]. */
static int plot_trends(const nd_report_trial *t, const size_t *order, size_t n,
                       const nd_report_options *o)
{
    int rc = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && t[order[j]].test_number > 1) j++;
        char id[ND_TRIAL_ID_MAX + 1], base[PATH_MAX + 128], err[512];
        snprintf(id, sizeof id, "%s", t[order[i]].info.meta.athlete_id);
        for (char *c = id; *c; c++) /* ids are checked by the writer; stay safe anyway */
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.", *c) ||
                (c == id && *c == '.'))
                *c = '_';
        snprintf(base, sizeof base, "%s/plots/%s_trend", o->out_dir, id);
        if (nd_report_plot_trend(base, t, order + i, j - i, o, err, sizeof err)) {
            fprintf(stderr, "nordic-report: trend plot for %s: %s\n", id, err);
            rc = -1;
        }
        i = j;
    }
    return rc;
}

static int write_outputs(nd_report_trial *trials, size_t n, const nd_report_options *o,
                         size_t *mismatches)
{
    char path[PATH_MAX + 32];
    int rc = 0;
    size_t *order = calloc(n ? n : 1, sizeof *order);
    if (!order) return -1;
    size_t n_order = nd_report_trend_order(trials, n, order);
    snprintf(path, sizeof path, "%s/trials.csv", o->out_dir);
    rc |= nd_report_write_trials_csv(path, trials, n);
    snprintf(path, sizeof path, "%s/reps.csv", o->out_dir);
    rc |= nd_report_write_reps_csv(path, trials, n);
    snprintf(path, sizeof path, "%s/sets.csv", o->out_dir);
    rc |= nd_report_write_sets_csv(path, trials, n);
    snprintf(path, sizeof path, "%s/trends.csv", o->out_dir);
    rc |= nd_report_write_trends_csv(path, trials, order, n_order, o->mdc_N, o->mdc_pct);
    snprintf(path, sizeof path, "%s/trials.json", o->out_dir);
    rc |= nd_report_write_json(path, trials, n, o);
    if (o->compare) {
        snprintf(path, sizeof path, "%s/compare.csv", o->out_dir);
        rc |= nd_report_write_compare_csv(path, trials, n, o->compare_tol, mismatches);
    }
    if (o->plot_png || o->plot_svg) {
        rc |= plot_trends(trials, order, n_order, o);
        nd_report_plot_cleanup();
    }
    free(order);
    return rc;
}

/* --export: the inputs (files, folders, globs) through the export library. */
static int run_export(const char *format, const nd_report_options *o, const nd_report_inputs *in)
{
    nd_export_options eo = {.out_dir = o->out_dir, .notes = stderr};
    if (nd_export_format_parse(format, &eo.format) < 0) {
        fprintf(stderr, "nordic-report: unknown export format '%s' (xdf, bids, csv, club-csv)\n",
                format);
        return EXIT_ERROR;
    }
    if (in->n == 0) {
        fprintf(stderr, "nordic-report: no trial files (*.h5) found in the inputs\n");
        return EXIT_SKIPPED;
    }
    if (make_dir(o->out_dir) < 0) {
        fprintf(stderr, "nordic-report: cannot create output folder %s: %s\n", o->out_dir,
                strerror(errno));
        return EXIT_ERROR;
    }
    char err[4600];
    int rc = nd_export_files((const char *const *)in->paths, in->n, &eo, stdout, err, sizeof err);
    if (rc < 0 || (rc > 0 && in->n > 1)) fprintf(stderr, "nordic-report: %s\n", err);
    return rc < 0 ? EXIT_ERROR : rc > 0 ? EXIT_SKIPPED : 0;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    nd_log_set_level(ND_LOG_WARNING);
    /* Every file needs a few MB of sample buffers: keep them in the heap for
     * the next file instead of mmap/munmap (and page faults) each time. */
    mallopt(M_MMAP_THRESHOLD, 256 << 20);
    mallopt(M_TRIM_THRESHOLD, 512 << 20);
    nd_report_options o = {
        .mdc_N = 76.0, .mdc_pct = 20.0, .compare_tol = 1e-9, .out_dir = "report"};
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    o.jobs = cores > 0 ? (int)cores : 1;
    bool progress = isatty(STDERR_FILENO);
    enum {
        O_RECOMPUTE = 256,
        O_SET,
        O_COMPARE,
        O_TOL,
        O_INCOMPLETE,
        O_PLOTS,
        O_MDC,
        O_NOPROG,
        O_EXPORT,
        O_MDC_PCT
    };
    const char *export_format = NULL;
    static const struct option longs[] = {
        {"out-dir", required_argument, NULL, 'o'},
        {"jobs", required_argument, NULL, 'j'},
        {"recompute", no_argument, NULL, O_RECOMPUTE},
        {"set", required_argument, NULL, O_SET},
        {"compare", no_argument, NULL, O_COMPARE},
        {"tolerance", required_argument, NULL, O_TOL},
        {"include-incomplete", no_argument, NULL, O_INCOMPLETE},
        {"plots", optional_argument, NULL, O_PLOTS},
        {"mdc", required_argument, NULL, O_MDC},
        {"mdc-pct", required_argument, NULL, O_MDC_PCT},
        {"no-progress", no_argument, NULL, O_NOPROG},
        {"export", required_argument, NULL, O_EXPORT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    double v;
    while ((c = getopt_long(argc, argv, "o:j:h", longs, NULL)) != -1) {
        switch (c) {
        case 'o':
            o.out_dir = optarg;
            break;
        case 'j':
            if (parse_number("--jobs", optarg, 1, &v) || v > 1024 || v != floor(v)) {
                fprintf(stderr, "nordic-report: --jobs takes an integer 1..1024\n");
                return EXIT_ERROR;
            }
            o.jobs = (int)v;
            break;
        case O_RECOMPUTE:
            o.recompute = true;
            break;
        case O_SET:
            if (parse_set(&o, optarg)) return EXIT_ERROR;
            o.recompute = true;
            break;
        case O_COMPARE:
            o.compare = true;
            break;
        case O_TOL:
            if (parse_number("--tolerance", optarg, 0, &o.compare_tol)) return EXIT_ERROR;
            break;
        case O_INCOMPLETE:
            o.include_incomplete = true;
            break;
        case O_PLOTS:
            if (parse_plots(&o, optarg ? optarg : "png,svg")) return EXIT_ERROR;
            break;
        case O_MDC:
            if (parse_number("--mdc", optarg, 0, &o.mdc_N)) return EXIT_ERROR;
            break;
        case O_MDC_PCT:
            if (parse_number("--mdc-pct", optarg, 0, &o.mdc_pct)) return EXIT_ERROR;
            break;
        case O_NOPROG:
            progress = false;
            break;
        case O_EXPORT:
            export_format = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "nordic-report: see --help\n");
            return EXIT_ERROR;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "nordic-report: no input (give trial files, folders or glob patterns)\n");
        usage(stderr);
        return EXIT_ERROR;
    }
    nd_report_inputs in = {0};
    char err[512];
    for (int i = optind; i < argc; i++) {
        if (nd_report_inputs_add(&in, argv[i], err, sizeof err)) {
            fprintf(stderr, "nordic-report: %s\n", err);
            nd_report_inputs_free(&in);
            return EXIT_ERROR;
        }
    }
    nd_report_inputs_finish(&in);
    if (export_format) {
        int rc = run_export(export_format, &o, &in);
        nd_report_inputs_free(&in);
        return rc;
    }
    char plots[PATH_MAX];
    snprintf(plots, sizeof plots, "%s/plots", o.out_dir);
    if (make_dir(o.out_dir) < 0 || ((o.plot_png || o.plot_svg) && make_dir(plots) < 0)) {
        fprintf(stderr, "nordic-report: cannot create output folder %s: %s\n", o.out_dir,
                strerror(errno));
        nd_report_inputs_free(&in);
        return EXIT_ERROR;
    }
    nd_report_trial *trials = calloc(in.n ? in.n : 1, sizeof *trials);
    if (!trials) {
        fprintf(stderr, "nordic-report: out of memory\n");
        return EXIT_ERROR;
    }
    for (size_t i = 0; i < in.n; i++)
        snprintf(trials[i].path, sizeof trials[i].path, "%s", in.paths[i]);
    int rc = 0;
    if (nd_report_run_pool(trials, in.n, &o, progress) < 0) {
        rc |= EXIT_ERROR;
    }
    size_t skipped = 0, processed = 0, mismatches = 0;
    for (size_t i = 0; i < in.n; i++) {
        if (trials[i].ok) {
            processed++;
        } else {
            skipped++;
            fprintf(stderr, "nordic-report: skipped %s: %s\n", trials[i].path, trials[i].error);
        }
    }
    if (write_outputs(trials, in.n, &o, &mismatches)) rc |= EXIT_ERROR;
    if (in.n == 0) fprintf(stderr, "nordic-report: no trial files (*.h5) found in the inputs\n");
    fprintf(stderr, "nordic-report: %zu processed, %zu skipped", processed, skipped);
    if (o.compare) fprintf(stderr, ", %zu differ from their recomputation", mismatches);
    fprintf(stderr, "; tables in %s\n", o.out_dir);
    if (skipped || in.n == 0) rc |= EXIT_SKIPPED;
    if (mismatches) rc |= EXIT_MISMATCH;
    for (size_t i = 0; i < in.n; i++) nd_report_trial_free(&trials[i]);
    free(trials);
    nd_report_inputs_free(&in);
    return rc;
}
