/* Marks added to a CLOSED trial file: the next-day pain of a session
 * (daemon/metrics/METRICS.md 5.6, TRIAL_FORMAT.md "Next-day pain"). The file is
 * reopened read-write without SWMR, under the same "in use" lock the writer
 * and recovery take, so it never races a recording or a recovery; it must be
 * "complete". Use from the thread that owns HDF5 in the daemon (the writer).
 *
 * The mark is stored as a `pain_next_day` event with its own time: t_s =
 * seconds from the trial's start to the moment of the mark, and the UTC time
 * in the detail ("<n>/10; <ISO UTC>[; detail]"). The progression suggestion
 * is re-evaluated with it from the stored /sets rows and rules, and the
 * summary attributes of /reps (suggestion_*, next_day_pain, next_day_utc) are
 * replaced: the newest mark wins; every mark stays in /events. */
#ifndef ND_TRIAL_ANNOTATE_H
#define ND_TRIAL_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

#include "nd_metrics.h"

/* Finds "<data_dir>/<athlete>_<time>_<trial_id>.h5". 0, or -1 with err. */
int nd_trial_find_by_id(const char *data_dir, const char *trial_id, char *path, size_t pathlen,
                        char *err, size_t errlen);

/* now_unix: the mark's time. On success fills *summary (the stored summary
 * with the new suggestion) and returns 0; else -1 with a clear message
 * (file in use, not complete, no protocol, HDF5 error). */
int nd_trial_add_next_day_pain(const char *path, int64_t now_unix, int pain, const char *detail,
                               nd_trial_summary *summary, char *err, size_t errlen);

#endif
