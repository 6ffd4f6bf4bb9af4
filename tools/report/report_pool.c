/* nordic-report worker pool: worker PROCESSES, not threads. The HDF5 library
 * here is built thread-safe with one global lock, so threads reading trial
 * files run one at a time; processes each have their own library and scale
 * with the cores. A worker also cannot take the whole report down: if one
 * dies on a file (HDF5 aborts on some damage), that file is reported skipped.
 *
 * Workers take file indices from a shared atomic counter and append each
 * result (the trial struct, then its rep arrays) to their own unlinked
 * temporary file, flushed per record; the parent reads them all back. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

typedef struct shared {
    atomic_size_t next, done;
} shared;

static int put_reps(FILE *f, const nd_rep_result *r, size_t n)
{
    return n == 0 || fwrite(r, sizeof *r, n, f) == n ? 0 : -1;
}

static int put_sets(FILE *f, const nd_set_result *s, size_t n)
{
    return n == 0 || fwrite(s, sizeof *s, n, f) == n ? 0 : -1;
}

static nd_set_result *get_sets(FILE *f, size_t n)
{
    nd_set_result *s = calloc(n ? n : 1, sizeof *s);
    if (s && n && fread(s, sizeof *s, n, f) != n) {
        free(s);
        return NULL;
    }
    return s;
}

static void worker(shared *sh, nd_report_trial *trials, size_t n, const nd_report_options *o,
                   FILE *out)
{
    for (;;) {
        size_t i = atomic_fetch_add(&sh->next, 1);
        if (i >= n) break;
        nd_report_trial *t = &trials[i];
        nd_report_analyse(t, o);
        if (fwrite(&i, sizeof i, 1, out) != 1 || fwrite(t, sizeof *t, 1, out) != 1 ||
            put_reps(out, t->stored_reps, t->n_stored_reps) ||
            put_reps(out, t->recomputed_reps, t->n_recomputed_reps) ||
            put_sets(out, t->stored_sets, t->n_stored_sets) ||
            put_sets(out, t->recomputed_sets, t->n_recomputed_sets) || fflush(out) != 0)
            _exit(3);
        nd_report_trial_free(t);
        atomic_fetch_add(&sh->done, 1);
    }
}

static nd_rep_result *get_reps(FILE *f, size_t n)
{
    nd_rep_result *r = calloc(n ? n : 1, sizeof *r);
    if (r && n && fread(r, sizeof *r, n, f) != n) {
        free(r);
        return NULL;
    }
    return r;
}

/* Reads one worker's results; returns -1 if its file is damaged. */
static int collect(FILE *f, nd_report_trial *trials, size_t n, unsigned char *got)
{
    rewind(f);
    size_t i;
    while (fread(&i, sizeof i, 1, f) == 1) {
        nd_report_trial t;
        if (i >= n || fread(&t, sizeof t, 1, f) != 1) return -1;
        t.stored_reps = get_reps(f, t.n_stored_reps);
        t.recomputed_reps = get_reps(f, t.n_recomputed_reps);
        t.stored_sets = get_sets(f, t.n_stored_sets);
        t.recomputed_sets = get_sets(f, t.n_recomputed_sets);
        if (!t.stored_reps || !t.recomputed_reps || !t.stored_sets || !t.recomputed_sets) {
            free(t.stored_reps);
            free(t.recomputed_reps);
            free(t.stored_sets);
            free(t.recomputed_sets);
            return -1;
        }
        t.sets = t.recomputed ? t.recomputed_sets : t.stored_sets;
        t.reps = t.recomputed ? t.recomputed_reps : t.stored_reps;
        if (!t.recomputed && t.n_reps != t.n_stored_reps) t.n_reps = t.n_stored_reps;
        trials[i] = t;
        got[i] = 1;
    }
    return 0;
}

static void draw_progress(size_t done, size_t n, bool final)
{
    const int width = 40;
    int fill = n ? (int)((double)done / (double)n * width) : width;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu files", fill, "########################################",
            width - fill, "", done, n);
    if (final) fputs("\r\033[K", stderr);
    fflush(stderr);
}

int nd_report_run_pool(nd_report_trial *trials, size_t n, const nd_report_options *o, bool progress)
{
    size_t jobs = o->jobs > 0 ? (size_t)o->jobs : 1;
    if (jobs > n) jobs = n ? n : 1;
    shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    FILE **out = calloc(jobs, sizeof *out);
    pid_t *pid = calloc(jobs, sizeof *pid);
    unsigned char *got = calloc(n ? n : 1, 1);
    if (sh == MAP_FAILED || !out || !pid || !got) {
        fprintf(stderr, "nordic-report: cannot set up workers: %s\n", strerror(errno));
        if (sh != MAP_FAILED) munmap(sh, sizeof *sh);
        free(out);
        free(pid);
        free(got);
        return -1;
    }
    atomic_init(&sh->next, 0);
    atomic_init(&sh->done, 0);
    fflush(NULL); /* children must not repeat buffered output */
    size_t started = 0;
    for (; started < jobs; started++) {
        out[started] = tmpfile();
        if (!out[started]) break;
        pid[started] = fork();
        if (pid[started] < 0) {
            fclose(out[started]);
            break;
        }
        if (pid[started] == 0) {
            worker(sh, trials, n, o, out[started]);
            _exit(0);
        }
    }
    int rc = 0;
    if (started == 0) {
        fprintf(stderr, "nordic-report: cannot start a worker process: %s\n", strerror(errno));
        rc = -1;
    }
    for (size_t alive = started; alive > 0;) {
        if (progress) draw_progress(atomic_load(&sh->done), n, false);
        int st;
        pid_t p = waitpid(-1, &st, progress ? WNOHANG : 0);
        if (p > 0) {
            alive--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
                fprintf(stderr, "nordic-report: a worker process %s %d\n",
                        WIFSIGNALED(st) ? "was killed by signal" : "exited with",
                        WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
        } else if (p == 0) {
            nanosleep(&(struct timespec){0, 100000000}, NULL);
        } else if (errno != EINTR) {
            break;
        }
    }
    if (progress) draw_progress(n, n, true);
    for (size_t k = 0; k < started; k++) {
        if (collect(out[k], trials, n, got) < 0) {
            fprintf(stderr, "nordic-report: results of a worker process are damaged\n");
            rc = -1;
        }
        fclose(out[k]);
    }
    for (size_t i = 0; i < n; i++) {
        if (got[i]) continue;
        trials[i].ok = false;
        snprintf(trials[i].error, sizeof trials[i].error,
                 "the worker process reading this file died (damaged file?)");
    }
    munmap(sh, sizeof *sh);
    free(out);
    free(pid);
    free(got);
    return rc;
}
