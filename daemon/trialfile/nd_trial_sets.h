/* The /sets table of schema "nordic-trial" 1.1 (TRIAL_FORMAT.md): one row per
 * set of a planned protocol (daemon/metrics/METRICS.md section 5), and the plan as
 * attributes of /sets. Files of version 1.0 have no /sets: readers report
 * zero sets for them. Internal to the trial-file modules. */
#ifndef ND_TRIAL_SETS_H
#define ND_TRIAL_SETS_H

#include <hdf5.h>
#include <stdint.h>

#include "nd_sets.h"

/* /sets is part of schema 1.1 (ND_TRIAL_SCHEMA_MINOR, nd_trial_file.h). */

/* One /sets row in memory (HDF5 converts to the packed file layout by name). */
typedef struct nd_h5_set_row {
    uint32_t index, reps_done, reps_planned;
    uint8_t completed;
    uint64_t i_start, i_end;
    double t_start_s, t_end_s, duration_s, rest_after_s;
    double mean_peak_left_N, mean_peak_right_N, max_peak_left_N, max_peak_right_N;
    double mean_asymmetry_pct;
    uint8_t weaker_side; /* enum none=0 left=1 right=2 */
    uint32_t same_weaker_reps;
    double decline_left_pct, decline_right_pct;
    int32_t zone_reps, pain;
    uint8_t ended_by; /* enum next=0 gap=1 stop=2 */
    uint8_t leg;      /* enum both=0 left=1 right=2: the working leg */
    /* Schema 1.2 (absent in older files: read as 0 = nordic). */
    uint8_t test;     /* enum nordic=0 isometric=1 */
    double angle_deg; /* isometric: knee angle; NaN for Nordic sets */
} nd_h5_set_row;

void nd_h5_set_to_row(const nd_set_result *r, nd_h5_set_row *row);
void nd_h5_row_to_set(const nd_h5_set_row *row, nd_set_result *r);
hid_t nd_h5_set_mem_type(void); /* caller closes */

/* Creates the empty, extensible /sets table with the plan as attributes
 * (protocol_sets, protocol_reps, rest_s, set_gap_s, zone_*_N). */
hid_t nd_trial_sets_create(hid_t file, const nd_set_plan *plan);
/* Reads the plan back from /sets (0), or -1 when the file has no /sets. */
int nd_trial_sets_read_plan(hid_t file, nd_set_plan *plan);

#endif
