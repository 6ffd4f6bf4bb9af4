/* Reader for trial files (schema "nordic-trial" v1, TRIAL_FORMAT.md): the
 * library the command-line tool and batch analysis build on.
 *
 * Opens complete, interrupted and still-recording files. A file still marked
 * open for writing (a live recording, or a crash not yet recovered) is opened
 * in SWMR-read mode; nd_trial_reader_refresh() then follows its growth.
 * Files of another schema, or of a newer schema_version, are refused with a
 * clear message. */
#ifndef ND_TRIAL_READER_H
#define ND_TRIAL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_metrics.h"
#include "nd_trial_file.h"

typedef struct nd_trial_event {
    double t_s;
    char kind[ND_TRIAL_EVENT_KIND_MAX + 1];
    char detail[ND_TRIAL_EVENT_DETAIL_MAX + 1];
} nd_trial_event;

typedef struct nd_trial_info {
    nd_trial_meta meta;
    int schema_version;
    int schema_minor; /* 0: a 1.0 file; 1: 1.1 (/clock and /sets); 2: 1.2 (isometric) */
    char status[32];  /* "recording", "complete", "interrupted" */
    char created_utc[32], closed_utc[32], recovered_utc[32]; /* "" when absent */
    double flush_interval_s;
    uint64_t samples; /* sample sets (rows common to raw, force_N and seq) */
    uint64_t reps, events;
    bool has_clock;      /* /clock present (schema minor >= 1) */
    uint64_t clock_rows; /* rows in /clock */
    uint64_t sets;       /* /sets rows (0 in 1.0 files); the plan is in meta.plan */
    bool has_summary;    /* written at a normal close */
    nd_trial_summary summary;
    bool swmr; /* opened in SWMR-read mode (file still marked open for writing) */
} nd_trial_info;

typedef struct nd_trial_reader nd_trial_reader;

nd_trial_reader *nd_trial_reader_open(const char *path, char *err, size_t errlen);
/* Same without HDF5's file lock: for readers that run beside nordicd (the
 * trial index) and must never make the writer's reopen at stop fail
 * ("unable to lock file") while they hold the file open. What they read of
 * a file being rewritten may be inconsistent; they read it again when its
 * writer closes it. */
nd_trial_reader *nd_trial_reader_open_unlocked(const char *path, char *err, size_t errlen);
void nd_trial_reader_close(nd_trial_reader *r);
const nd_trial_info *nd_trial_reader_info(const nd_trial_reader *r);

/* Re-reads dataset sizes (useful in SWMR mode while a writer appends). */
int nd_trial_reader_refresh(nd_trial_reader *r, char *err, size_t errlen);

/* Rows first..first+n-1 (must lie within info->samples). raw and force_N get
 * n*nch values, set-major; seq gets n. Any output may be NULL. */
int nd_trial_reader_read_samples(nd_trial_reader *r, uint64_t first, size_t n, int32_t *raw,
                                 double *force_N, uint64_t *seq, char *err, size_t errlen);

/* Copies up to max rows; returns how many were copied, or -1. */
long nd_trial_reader_read_reps(nd_trial_reader *r, nd_rep_result *out, size_t max, char *err,
                               size_t errlen);
/* /sets rows (none in 1.0 files); returns how many were copied, or -1. */
long nd_trial_reader_read_sets(nd_trial_reader *r, nd_set_result *out, size_t max, char *err,
                               size_t errlen);
long nd_trial_reader_read_events(nd_trial_reader *r, nd_trial_event *out, size_t max, char *err,
                                 size_t errlen);

/* Clock pairs first..first+n-1 (within info->clock_rows; none when
 * !info->has_clock). */
int nd_trial_reader_read_clock(nd_trial_reader *r, uint64_t first, size_t n,
                               nd_trial_clock_row *out, char *err, size_t errlen);

#endif
