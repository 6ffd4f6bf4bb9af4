/* Deterministic simulated trial files for nordic-report's tests, docs and
 * benchmark: the simulator's force model (nd_sim_model.h), written with the
 * daemon's writer (nd_trial_file.h), reps and summary from the daemon's
 * metrics engine, so a file is what nordicd would have recorded. */
#ifndef ND_REPORT_GEN_H
#define ND_REPORT_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nd_report_gen {
    const char *athlete_id;
    const char *trial_id; /* NULL: random */
    int64_t created_utc_s;
    double seconds, rate_hz;
    long reps;
    double peak_left_N, peak_right_N;
    double body_mass_kg, lever_m;
    int pain_rating; /* -1: none; else a "pain" event and the summary rating */
    uint64_t seed;
    bool complete; /* false: closed without summary (status stays "recording") */
} nd_report_gen;

void nd_report_gen_default(nd_report_gen *g);
/* Writes one file into dir; path_out receives its path. 0 or -1 with err. */
int nd_report_gen_write(const char *dir, const nd_report_gen *g, char *path_out, size_t path_len,
                        char *err, size_t errlen);

#endif
