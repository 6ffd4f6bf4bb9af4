/* The attribute layout of schema "nordic-trial" v1: one place that names
 * every attribute, used by the writer (write) and the reader (read back).
 * TRIAL_FORMAT.md documents the same list. Internal to the trial modules. */
#ifndef ND_TRIAL_LAYOUT_H
#define ND_TRIAL_LAYOUT_H

#include <hdf5.h>

#include "nd_metrics.h"
#include "nd_trial_file.h"

int nd_trial_write_root_attrs(hid_t file, const nd_trial_meta *m, double flush_interval_s,
                              size_t chunk_rows);
/* Units and descriptions on the datasets. */
int nd_trial_write_dataset_attrs(hid_t raw, hid_t force, hid_t seq, hid_t reps, hid_t events);
/* Description of /clock and its sentinel (schema minor 1). */
int nd_trial_write_clock_attrs(hid_t clock);
/* METRICS.md 4.8 summary as attributes of /reps. */
int nd_trial_write_summary_attrs(hid_t reps, const nd_trial_summary *s);

/* Read back what the writer stored. Missing optional attributes keep the
 * values already in *m; a missing required one fails with its name in err. */
int nd_trial_read_root_attrs(hid_t file, nd_trial_meta *m, char *err, size_t errlen);
/* Returns 1 when the summary is present (file closed normally), 0 when not. */
int nd_trial_read_summary_attrs(hid_t reps, nd_trial_summary *s);

#endif
