/* nordic-report: per-athlete ordering of tests for the trend table. A test
 * is dated by the file's created_utc (ISO 8601 UTC, so text order is time
 * order); ties fall back to the trial id and the path so output is stable. */
#include <stdlib.h>
#include <string.h>

#include "report.h"

static const nd_report_trial *sort_base;

static int cmp_trial(const void *a, const void *b)
{
    const nd_report_trial *x = &sort_base[*(const size_t *)a];
    const nd_report_trial *y = &sort_base[*(const size_t *)b];
    int c = strcmp(x->info.meta.athlete_id, y->info.meta.athlete_id);
    if (!c) c = strcmp(x->info.created_utc, y->info.created_utc);
    if (!c) c = strcmp(x->info.meta.trial_id, y->info.meta.trial_id);
    if (!c) c = strcmp(x->path, y->path);
    return c;
}

size_t nd_report_trend_order(nd_report_trial *trials, size_t n, size_t *order)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (trials[i].ok) order[k++] = i;
    /* qsort has no context argument in C11; this runs once, on the main thread. */
    sort_base = trials;
    qsort(order, k, sizeof *order, cmp_trial);
    for (size_t i = 0; i < k; i++) {
        nd_report_trial *t = &trials[order[i]];
        const nd_report_trial *prev = i ? &trials[order[i - 1]] : NULL;
        bool same = prev && strcmp(prev->info.meta.athlete_id, t->info.meta.athlete_id) == 0;
        t->test_number = same ? prev->test_number + 1 : 1;
    }
    return k;
}
