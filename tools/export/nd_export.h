/* Trial exports for other lab software (tools/export/EXPORT.md): XDF 1.0
 * (LabRecorder / EEGLAB / MNE users), a BIDS motion dataset, a per-sample CSV
 * and a one-row-per-trial "club" CSV with the column names of commercial
 * Nordic boards.
 *
 * Every export streams the samples in slices (never the whole trial in
 * memory), writes under a hidden temporary name and renames it into place
 * only when complete, so a final name always holds a whole export. */
#ifndef ND_EXPORT_H
#define ND_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum nd_export_format {
    ND_EXPORT_XDF,
    ND_EXPORT_BIDS,
    ND_EXPORT_CSV,
    ND_EXPORT_CLUB_CSV,
} nd_export_format;

/* "xdf", "bids", "csv", "club-csv". Returns 0, or -1 for an unknown name. */
int nd_export_format_parse(const char *name, nd_export_format *out);
const char *nd_export_format_name(nd_export_format f);

typedef struct nd_export_options {
    nd_export_format format;
    const char *out_dir; /* created when missing (one level); NULL = "." */
    FILE *notes;         /* one line per note (interrupted / older files); NULL = stderr */
} nd_export_options;

/* Exports the trial files. xdf and csv write one output per trial
 * (OUT/<stem>.xdf, OUT/<stem>.csv); club-csv writes OUT/nordic_club.csv with
 * one row per trial; bids writes the dataset folder OUT/nordic_bids (refused
 * when it exists). A file that cannot be exported (foreign, damaged, still
 * being recorded) gets one line in err; for xdf and csv the other files are
 * still exported, for club-csv and bids nothing is written. Returns the
 * number of files that failed (0 = all exported), or -1 when the output
 * itself failed (message in err). Outputs written are printed to `written`
 * one path a line (may be NULL). */
int nd_export_files(const char *const *paths, size_t n, const nd_export_options *opt, FILE *written,
                    char *err, size_t errlen);

#endif
