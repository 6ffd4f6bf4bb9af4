/* nordic-report-gen: writes simulated trial files (as nordicd would record
 * them) for trying nordic-report, its tests and its benchmark.
 *
 *   nordic-report-gen DIR [--athlete ID] [--date UNIX_S] [--seconds S] [--rate HZ]
 *                         [--reps N] [--left N] [--right N] [--mass KG] [--lever M]
 *                         [--pain 0..10] [--seed N] [--trial-id ID] [--incomplete]
 *                         [--count N]   (N files, dated a week apart, seeds seed..)
 * Prints each file's path. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_log.h"
#include "report_gen.h"

static int number(const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(v)) {
        fprintf(stderr, "nordic-report-gen: %s needs a number, got '%s'\n", opt, s);
        return -1;
    }
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    signal(SIGXFSZ, SIG_IGN);
    nd_log_set_level(ND_LOG_WARNING);
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: nordic-report-gen DIR [options] (see the source header or "
                        "tools/report/REPORT.md)\n");
        return 2;
    }
    nd_report_gen g;
    nd_report_gen_default(&g);
    double count = 1;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--incomplete") == 0) {
            g.complete = false;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "nordic-report-gen: %s needs a value (or is unknown)\n", o);
            return 2;
        }
        const char *a = argv[++i];
        double v = 0;
        if (strcmp(o, "--athlete") == 0) {
            g.athlete_id = a;
            continue;
        }
        if (strcmp(o, "--trial-id") == 0) {
            g.trial_id = a;
            continue;
        }
        if (number(o, a, &v)) return 2;
        if (strcmp(o, "--date") == 0)
            g.created_utc_s = (int64_t)v;
        else if (strcmp(o, "--seconds") == 0)
            g.seconds = v;
        else if (strcmp(o, "--rate") == 0)
            g.rate_hz = v;
        else if (strcmp(o, "--reps") == 0)
            g.reps = (long)v;
        else if (strcmp(o, "--left") == 0)
            g.peak_left_N = v;
        else if (strcmp(o, "--right") == 0)
            g.peak_right_N = v;
        else if (strcmp(o, "--mass") == 0)
            g.body_mass_kg = v;
        else if (strcmp(o, "--lever") == 0)
            g.lever_m = v;
        else if (strcmp(o, "--pain") == 0)
            g.pain_rating = (int)v;
        else if (strcmp(o, "--seed") == 0)
            g.seed = (uint64_t)v;
        else if (strcmp(o, "--count") == 0)
            count = v;
        else {
            fprintf(stderr, "nordic-report-gen: unknown option '%s'\n", o);
            return 2;
        }
    }
    if (count < 1 || (g.trial_id && count > 1)) {
        fprintf(stderr, "nordic-report-gen: --count must be >= 1 (and 1 with --trial-id)\n");
        return 2;
    }
    for (long k = 0; k < (long)count; k++) {
        char path[4096], err[1024];
        if (nd_report_gen_write(argv[1], &g, path, sizeof path, err, sizeof err)) {
            fprintf(stderr, "nordic-report-gen: %s\n", err);
            return 1;
        }
        printf("%s\n", path);
        g.seed++;
        g.created_utc_s += 7 * 86400;
    }
    return 0;
}
