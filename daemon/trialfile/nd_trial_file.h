/* Trial file writer (daemon/trialfile/TRIAL_FORMAT.md, schema "nordic-trial" version 1).
 * Format: daemon/trialfile/TRIAL_FORMAT.md.
 *
 * One writer per trial, used from ONE thread (the daemon's writer thread).
 * The HDF5 library here is built thread-safe, so a reader in another thread
 * is fine, but never share one nd_trial_file between threads.
 *
 * Lifecycle
 *   nd_trial_file_create()  validates the ids, builds the whole layout and
 *                           every attribute under a hidden temporary name
 *                           (".<name>.partial"), enters SWMR write mode, then
 *                           renames it to its final name (never overwriting).
 *                           A file under a final name therefore always has its
 *                           full layout; a crash before the rename leaves only
 *                           an empty ".partial" that recovery deletes.
 *   nd_trial_file_append*() buffers sample sets; whole chunks are written as
 *                           soon as they fill (no flush).
 *   nd_trial_file_add_rep() / _add_event() write one row immediately.
 *   nd_trial_file_maybe_flush() on the writer thread's timer (or _flush()):
 *                           writes partial buffers and H5Dflush()es every
 *                           dataset; SWMR readers see the rows from then on,
 *                           and after kill -9 they survive (recovery).
 *   nd_trial_file_close()   final flush, closes SWMR, reopens read-write to
 *                           write the summary, status = "complete".
 *
 * Errors (disk full, EFBIG, I/O errors) are returned as -1 with one clear
 * line in err and latch the writer into a failed state: later appends, reps,
 * events and flushes fail fast (the caller counts what it could not store).
 * The file stays valid up to the last successful flush; close() still
 * releases everything and leaves the file for recovery ("interrupted").
 *
 * The process should ignore SIGXFSZ (signal(SIGXFSZ, SIG_IGN)) so that an
 * RLIMIT_FSIZE overrun becomes an EFBIG error instead of killing it. */
#ifndef ND_TRIAL_FILE_H
#define ND_TRIAL_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_calibration.h"
#include "nd_device.h"
#include "nd_metrics.h"
#include "nd_sample.h"
#include "nd_sets.h"

#define ND_TRIAL_SCHEMA         "nordic-trial"
#define ND_TRIAL_SCHEMA_VERSION 1
/* Additions within version 1 (root attribute schema_minor_version; absent = 0).
 * 1: the /clock dataset of clock pairs and the /sets table of sessions.
 * 2: /sets fields test and angle_deg, attributes test and angle_deg
 *    (isometric tests), the iso_* summary attributes of /reps. */
#define ND_TRIAL_SCHEMA_MINOR 2
/* A periodic /clock row at least this often (host time between rows). */
#define ND_TRIAL_CLOCK_PERIOD_NS 250000000ull
/* device_time_us of a /clock row whose device sends no timestamp. */
#define ND_TRIAL_NO_DEVICE_TIME   (-1)
#define ND_TRIAL_ID_MAX           64 /* chars, without the terminating NUL */
#define ND_TRIAL_EVENT_KIND_MAX   31 /* bytes stored per event kind (UTF-8) */
#define ND_TRIAL_EVENT_DETAIL_MAX 255
#define ND_TRIAL_FLUSH_DEFAULT_S  0.25
#define ND_TRIAL_FLUSH_MAX_S      0.5

/* Values of the root attribute "status". */
#define ND_TRIAL_STATUS_RECORDING   "recording"
#define ND_TRIAL_STATUS_COMPLETE    "complete"
#define ND_TRIAL_STATUS_INTERRUPTED "interrupted"

typedef struct nd_trial_meta {
    char trial_id[ND_TRIAL_ID_MAX + 1];   /* same character rules as athlete_id */
    char athlete_id[ND_TRIAL_ID_MAX + 1]; /* [A-Za-z0-9._-]{1,64}, no leading '.' */
    int64_t created_utc_s;                /* Unix time (UTC) of the start; names the file */
    char software_version[32];            /* e.g. NORDIC_VERSION */
    nd_device_info device;                /* model, serial, fw, counts_per_newton */
    double sample_rate_hz;                /* > 0 */
    int nch;                              /* 1..ND_MAX_CHANNELS: columns stored */
    char channel_names[ND_MAX_CHANNELS][32];
    nd_calibration calibration; /* offsets, gains, left/right channel mapping */
    nd_metric_settings settings;
    nd_subject subject; /* 0 = not given, stored verbatim */
    char protocol[128]; /* free text, e.g. "1x3 maximal" (may be empty) */
    char notes[1024];   /* free text (may be empty) */
    nd_set_plan plan;   /* planned sets (plan.sets == 0: none); attributes of /sets */
} nd_trial_meta;

/* Zeroes *m and fills defaults (software_version, default metric settings,
 * default calibration for nch, created_utc_s = now). */
void nd_trial_meta_init(nd_trial_meta *m, int nch);

/* daemon/trialfile/TRIAL_FORMAT.md athlete id rule. Returns 0, or -1 with a message saying why. */
int nd_trial_athlete_id_check(const char *id, char *err, size_t errlen);
/* Trial ids follow the same rule (they are part of the file name). */
int nd_trial_id_check(const char *id, char *err, size_t errlen);
/* A fresh random trial id: 12 lowercase hex digits. out must hold 13 bytes. */
void nd_trial_id_generate(char *out, size_t outlen);
/* "<athlete_id>_<UTC yyyymmddThhmmssZ>_<trial_id>.h5" (no directory). */
int nd_trial_file_name(const nd_trial_meta *m, char *out, size_t outlen, char *err, size_t errlen);

/* Why a /clock row was written (HDF5 enum "reason"). */
typedef enum nd_clock_reason {
    ND_CLOCK_PERIODIC = 0,  /* the period passed */
    ND_CLOCK_FIRST = 1,     /* first sample set of the trial */
    ND_CLOCK_GAP = 2,       /* first set after lost sets */
    ND_CLOCK_RESTART = 3,   /* first set after the device restarted (seq went back) */
    ND_CLOCK_RECONNECT = 4, /* first set after the device came back */
} nd_clock_reason;

/* One clock pair: the host clocks at which sample row sample_index arrived,
 * and the device's own time stamp of that set. */
typedef struct nd_trial_clock_row {
    uint64_t sample_index;      /* row in /samples */
    uint64_t seq;               /* device sequence number of that row */
    uint64_t host_monotonic_ns; /* CLOCK_MONOTONIC when its bytes arrived */
    int64_t host_realtime_ns;   /* the same instant on CLOCK_REALTIME (Unix ns, UTC) */
    int64_t device_time_us;     /* device clock, unwrapped; ND_TRIAL_NO_DEVICE_TIME if none */
    uint8_t reason;             /* nd_clock_reason */
} nd_trial_clock_row;

typedef struct nd_trial_file nd_trial_file;

/* Creates the file in data_dir (must exist and be writable; it is not created
 * here). flush_interval_s: 0 = default 0.25 s, else (0, 0.5]. On success
 * returns the writer and copies the final path to path_out (may be NULL). On
 * failure returns NULL with a clear message (invalid id or meta, directory
 * missing or unwritable, file exists, HDF5 error); nothing is left behind. */
nd_trial_file *nd_trial_file_create(const char *data_dir, const nd_trial_meta *meta,
                                    double flush_interval_s, char *path_out, size_t path_len,
                                    char *err, size_t errlen);

/* How the sample datasets are stored. deflate_level 0 = uncompressed;
 * 1..9 = byte shuffle + deflate (zlib), filters every HDF5 build and h5py
 * read. nd_trial_file_create uses ND_TRIAL_DEFLATE_DEFAULT, 0: with a flush
 * every 0.25 s each flush rewrites the compressed partial chunk elsewhere in
 * the file, which made files 7x larger and cost 0.6 % of a core at
 * 1 kHz x 2 (nordic-bench-storage; TRIAL_FORMAT.md, "Compression"). */
#define ND_TRIAL_DEFLATE_DEFAULT 0
typedef struct nd_trial_storage {
    int deflate_level;
} nd_trial_storage;

/* nd_trial_file_create with explicit storage options (NULL = uncompressed). */
nd_trial_file *nd_trial_file_create_with(const char *data_dir, const nd_trial_meta *meta,
                                         double flush_interval_s, const nd_trial_storage *storage,
                                         char *path_out, size_t path_len, char *err, size_t errlen);

/* Bytes each sample dataset takes in the file (raw, force_N, seq), for
 * benchmarks; -1 on error. */
int nd_trial_file_storage_sizes(nd_trial_file *tf, uint64_t out[3]);

/* Sample sets from the ring: raw[0..nch-1] and seq are stored; force_N holds
 * n*nch calibrated forces, set-major (set0 ch0, set0 ch1, ...). force_N may
 * be NULL: the file's calibration is applied. A /clock row is added for the
 * first set, for sets flagged ND_SAMPLE_AFTER_GAP/RESTART/RECONNECT, and for
 * the last set of a read (host_ns differs from the next set's) once host_ns
 * has advanced ND_TRIAL_CLOCK_PERIOD_NS since the last row.
 * Returns 0 or -1 (failed). */
int nd_trial_file_append(nd_trial_file *tf, const nd_sample *sets, const double *force_N, size_t n,
                         char *err, size_t errlen);
/* Same from separate arrays: raw and force_N are n*nch set-major, seq n. */
int nd_trial_file_append_columns(nd_trial_file *tf, const int32_t *raw, const double *force_N,
                                 const uint64_t *seq, size_t n, char *err, size_t errlen);

/* Stores one clock pair as given (for writers that append columns and keep
 * their own clock, e.g. converters and benchmarks). */
int nd_trial_file_add_clock(nd_trial_file *tf, const nd_trial_clock_row *row, char *err,
                            size_t errlen);

int nd_trial_file_add_rep(nd_trial_file *tf, const nd_rep_result *rep, char *err, size_t errlen);
/* One /sets row (schema 1.1), written immediately like a rep. */
int nd_trial_file_add_set(nd_trial_file *tf, const nd_set_result *set, char *err, size_t errlen);
/* t_s: seconds from the trial's first sample. kind e.g. "tare", "gap",
 * "device_lost", "device_back", "pain", "mark", "error"; detail free text
 * (may be NULL). Longer strings are cut at a UTF-8 character boundary. */
int nd_trial_file_add_event(nd_trial_file *tf, double t_s, const char *kind, const char *detail,
                            char *err, size_t errlen);

/* Writes buffered rows and flushes every dataset to the file. */
int nd_trial_file_flush(nd_trial_file *tf, char *err, size_t errlen);
/* Flushes when at least the flush interval has passed since the last flush
 * (now_ns from nd_monotonic_ns()). Returns 1 if it flushed, 0 if not due, -1 on error. */
int nd_trial_file_maybe_flush(nd_trial_file *tf, uint64_t now_ns, char *err, size_t errlen);
/* Monotonic time at which the next flush is due (for the writer's wait timeout). */
uint64_t nd_trial_file_next_flush_ns(const nd_trial_file *tf);

/* Final flush, then the summary as attributes of /reps and status
 * "complete". summary NULL: the file is closed cleanly but stays
 * "recording", so recovery marks it interrupted (a trial without its summary
 * is not complete). Always frees tf. Returns 0, or -1 with a message (the
 * trial was already failed or closing failed; the file keeps every flushed
 * row and is left for recovery). */
int nd_trial_file_close(nd_trial_file *tf, const nd_trial_summary *summary, char *err,
                        size_t errlen);

typedef struct nd_trial_file_stats {
    uint64_t rows_appended; /* sample sets accepted */
    uint64_t rows_written;  /* handed to HDF5 */
    uint64_t rows_flushed;  /* durable: on disk at the last successful flush */
    uint64_t reps, events, clock_rows, sets;
    uint64_t flushes;
    uint64_t flush_p99_ns; /* over the last (up to) 8192 flushes */
    uint64_t flush_max_ns;
    uint64_t last_flush_ns; /* monotonic time of the last successful flush */
    uint64_t rejected_rows; /* appends refused after a failure */
    bool failed;
    size_t chunk_rows;
} nd_trial_file_stats;

void nd_trial_file_get_stats(const nd_trial_file *tf, nd_trial_file_stats *out);
bool nd_trial_file_failed(const nd_trial_file *tf);
/* The message of the failure that latched the writer ("" when healthy). */
const char *nd_trial_file_error(const nd_trial_file *tf);
const char *nd_trial_file_path(const nd_trial_file *tf);

/* Rows per chunk for nch channels (see TRIAL_FORMAT.md: every chunk of every
 * sample dataset is between 64 KiB and 1 MiB). */
size_t nd_trial_chunk_rows(int nch);

#endif
