/* Start-up recovery of trials left open by a crash (kill -9, power loss).
 *
 * A trial file that is not "complete" is repaired through the HDF5 API the
 * way `h5clear -s --increment` does (clear the superblock's SWMR status
 * flags, skip the EOF check, set EOA = max(EOA, EOF) + 1 MiB), its sample
 * datasets are cut to a common length, and it is marked: root attribute
 * status = "interrupted", recovered_utc, samples_recovered, and an /events
 * row of kind "interrupted".
 *
 * Files held by a live writer (it keeps an OFD lock on the file) are left
 * alone, so running recovery while the daemon records is harmless. Stale
 * ".<name>.partial" files (a crash while a trial was being created, before
 * any sample was stored) are deleted. */
#ifndef ND_TRIAL_RECOVER_H
#define ND_TRIAL_RECOVER_H

#include <stddef.h>
#include <stdint.h>

typedef enum nd_recover_outcome {
    ND_RECOVER_OK_ALREADY,      /* complete or already interrupted: untouched */
    ND_RECOVER_RECOVERED,       /* repaired and marked interrupted now */
    ND_RECOVER_IN_USE,          /* a live writer holds it: untouched */
    ND_RECOVER_PARTIAL_REMOVED, /* stale ".partial" deleted */
    ND_RECOVER_FAILED,          /* could not repair (message says why) */
} nd_recover_outcome;

/* Repairs one file. Returns the outcome; *samples (may be NULL) gets the
 * number of sample sets the file holds afterwards. */
nd_recover_outcome nd_trial_recover_file(const char *path, uint64_t *samples, char *msg,
                                         size_t msglen);

typedef struct nd_recover_item {
    char name[256]; /* file name within the directory */
    nd_recover_outcome outcome;
    uint64_t samples;
    char message[512];
} nd_recover_item;

typedef struct nd_recover_report {
    size_t scanned; /* *.h5 and .*.partial files looked at */
    size_t recovered, in_use, partial_removed, failed;
    size_t n_items; /* items: every file that was not simply complete */
    nd_recover_item *items;
} nd_recover_report;

/* Scans data_dir (not recursive). Returns 0, or -1 with a message when the
 * directory cannot be read. Free the report with nd_trial_recover_report_free. */
int nd_trial_recover_dir(const char *data_dir, nd_recover_report *report, char *err, size_t errlen);
void nd_trial_recover_report_free(nd_recover_report *report);
const char *nd_recover_outcome_name(nd_recover_outcome o);

#endif
