/* nordic-report internals: one analysed trial, the options, and the helpers
 * that turn a set of trials into tables and pictures (tools/report/REPORT.md). */
#ifndef ND_REPORT_H
#define ND_REPORT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "nd_metrics.h"
#include "nd_trial_reader.h"

#define ND_REPORT_MAX_SET 16

typedef struct nd_report_options {
    bool recompute;          /* metrics from the samples, not the stored values */
    bool compare;            /* recompute too and compare with the stored values */
    bool include_incomplete; /* process interrupted / still-recording files */
    size_t n_set;            /* --set NAME=VALUE overrides (imply recompute) */
    char set_name[ND_REPORT_MAX_SET][48];
    double set_value[ND_REPORT_MAX_SET];
    bool plot_png, plot_svg;
    double mdc_N;       /* minimal detectable change for the trend flags */
    double mdc_pct;     /* ... and as % of the athlete's baseline (first test) */
    double compare_tol; /* |stored - recomputed| allowed in --compare */
    const char *out_dir;
    int jobs;
} nd_report_options;

/* Everything the outputs need about one input file. */
typedef struct nd_report_trial {
    char path[PATH_MAX];
    bool ok;                     /* false: skipped, reason in error */
    char error[1024];            /* one line */
    nd_trial_info info;          /* metadata, status, stored summary */
    bool recomputed;             /* the reported metrics come from recomputation */
    nd_metric_settings settings; /* settings behind the reported metrics */
    nd_trial_summary summary;    /* reported */
    nd_rep_result *reps;         /* reported, n_reps rows */
    size_t n_reps;
    double impulse_Ns[2]; /* sum over reported reps */
    uint64_t lost_sets;   /* from /samples/seq jumps */
    /* --compare: the other side of the comparison (stored is in info). */
    bool compared;
    nd_trial_summary recomputed_summary;
    nd_rep_result *recomputed_reps;
    size_t n_recomputed_reps;
    nd_rep_result *stored_reps;
    size_t n_stored_reps;
    /* sets of a planned protocol (report_sets.c): reported, stored, replayed */
    nd_set_result *sets, *stored_sets, *recomputed_sets;
    size_t n_sets, n_stored_sets, n_recomputed_sets;
    /* trend (filled after all files are read) */
    int test_number; /* 1-based per athlete, by created_utc */
} nd_report_trial;

/* report_inputs.c: files, folders (recursive, *.h5) and glob patterns.
 * Paths are sorted and de-duplicated. An input that matches nothing is
 * returned as a path anyway, so that the analysis reports it as skipped. */
typedef struct nd_report_inputs {
    char **paths;
    size_t n, cap;
} nd_report_inputs;
int nd_report_inputs_add(nd_report_inputs *in, const char *arg, char *err, size_t errlen);
void nd_report_inputs_finish(nd_report_inputs *in);
void nd_report_inputs_free(nd_report_inputs *in);

/* report_trial.c: reads and analyses one file into t (t->path set by the
 * caller). Never fails loudly: a bad file leaves t->ok false with a reason.
 * With plots requested the per-trial picture is drawn here, while the
 * samples are in memory. */
void nd_report_analyse(nd_report_trial *t, const nd_report_options *o);
void nd_report_trial_free(nd_report_trial *t);

/* report_pool.c: analyses every trial with o->jobs worker processes (files
 * whose worker died are marked skipped); progress bar on stderr if asked.
 * Returns 0, or -1 when workers could not be started or results were lost. */
int nd_report_run_pool(nd_report_trial *trials, size_t n, const nd_report_options *o,
                       bool progress);

/* report_trend.c: orders the processed trials per athlete by created_utc.
 * order receives indices into trials (processed ones only); returns count. */
size_t nd_report_trend_order(nd_report_trial *trials, size_t n, size_t *order);

/* report_sets.c: stored /sets, and the tracker replayed over the samples
 * and the set_next/pain events when recompute (or compare) asks. 0 or -1. */
int nd_report_sets_analyse(nd_report_trial *t, nd_trial_reader *r, const double *left,
                           const double *right, size_t n, bool recompute, int pain, char *err,
                           size_t errlen);
int nd_report_write_sets_csv(const char *path, const nd_report_trial *t, size_t n);
/* Appends set rows to compare.csv through row(); returns the mismatches. */
size_t nd_report_compare_sets(FILE *f, const nd_report_trial *p,
                              size_t (*row)(FILE *, const nd_report_trial *, const char *, double,
                                            double, double));

/* report_csv.c / report_json.c: each writes OUT.tmp then renames. 0 or -1
 * with a message on stderr. */
int nd_report_write_trials_csv(const char *path, const nd_report_trial *t, size_t n);
int nd_report_write_reps_csv(const char *path, const nd_report_trial *t, size_t n);
int nd_report_write_trends_csv(const char *path, const nd_report_trial *t, const size_t *order,
                               size_t n_order, double mdc_N, double mdc_pct);
int nd_report_write_compare_csv(const char *path, const nd_report_trial *t, size_t n, double tol,
                                size_t *mismatches);
int nd_report_write_json(const char *path, const nd_report_trial *t, size_t n,
                         const nd_report_options *o);

/* report_plot.c (cairo). base is the path without extension. */
int nd_report_plot_trial(const char *base, const nd_report_trial *t, const double *left_N,
                         const double *right_N, size_t n, const nd_report_options *o, char *err,
                         size_t errlen);
/* order[0..n_order) are one athlete's trials in date order. */
int nd_report_plot_trend(const char *base, const nd_report_trial *t, const size_t *order,
                         size_t n_order, const nd_report_options *o, char *err, size_t errlen);

/* At exit, after the last plot. */
void nd_report_plot_cleanup(void);

/* report_util.c: shared output helpers. */
void nd_report_put_num(FILE *f, double v);       /* shortest round trip, NaN as "NaN" */
void nd_report_put_text(FILE *f, const char *s); /* CSV-quoted */
/* The same as the next field of a row: a comma, then the value. */
void nd_report_field_num(FILE *f, double v);
void nd_report_field_text(FILE *f, const char *s);
/* The columns every per-rep and per-set row starts with: file, trial_id,
 * athlete_id, created_utc, metrics_source (stored or recomputed). */
void nd_report_put_row_start(FILE *f, const nd_report_trial *p);
/* "weak_left;imbalance" or "" */
void nd_report_flags(const nd_trial_summary *s, char *out, size_t outlen);
/* The file name without directory and ".h5". */
void nd_report_stem(const char *path, char *out, size_t outlen);
FILE *nd_report_begin(const char *path, char *tmp, size_t tmplen);
int nd_report_finish(FILE *f, const char *tmp, const char *path);

#endif
