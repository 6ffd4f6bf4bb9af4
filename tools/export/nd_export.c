/* Export driver: format names, opening and checking trials, the sample-time
 * mapping, all-or-nothing output files (see nd_export.h). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_export_internal.h"

static const char *const format_names[] = {"xdf", "bids", "csv", "club-csv"};

int nd_export_format_parse(const char *name, nd_export_format *out)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, format_names[i]) == 0) {
            *out = (nd_export_format)i;
            return 0;
        }
    return -1;
}

const char *nd_export_format_name(nd_export_format f)
{
    return (unsigned)f < 4 ? format_names[f] : "?";
}

/* ---- trials ---- */

static int load_tables(nd_export_trial *t, char *err, size_t errlen)
{
    const nd_trial_info *in = t->in;
    char why[512];
    if (in->has_clock && in->clock_rows) {
        t->clock = malloc((size_t)in->clock_rows * sizeof *t->clock);
        if (!t->clock || nd_trial_reader_read_clock(t->r, 0, (size_t)in->clock_rows, t->clock, why,
                                                    sizeof why) < 0) {
            snprintf(err, errlen, "%s: damaged: %s", t->path, t->clock ? why : "out of memory");
            return -1;
        }
        /* After a crash, pairs may name sets that were never flushed. */
        size_t n = (size_t)in->clock_rows;
        while (n > 0 && t->clock[n - 1].sample_index >= in->samples) n--;
        t->n_clock = n;
    }
    t->reps = calloc(in->reps ? (size_t)in->reps : 1, sizeof *t->reps);
    t->events = calloc(in->events ? (size_t)in->events : 1, sizeof *t->events);
    if (!t->reps || !t->events) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    long nr = nd_trial_reader_read_reps(t->r, t->reps, (size_t)in->reps, why, sizeof why);
    long ne =
        nr < 0 ? -1
               : nd_trial_reader_read_events(t->r, t->events, (size_t)in->events, why, sizeof why);
    if (nr < 0 || ne < 0) {
        snprintf(err, errlen, "%s: damaged: %s", t->path, why);
        return -1;
    }
    t->n_reps = (size_t)nr;
    t->n_events = (size_t)ne;
    return 0;
}

int nd_export_trial_open(nd_export_trial *t, const char *path, FILE *notes, char *err,
                         size_t errlen)
{
    memset(t, 0, sizeof *t);
    snprintf(t->path, sizeof t->path, "%s", path);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".h5") == 0) len -= 3;
    snprintf(t->stem, sizeof t->stem, "%.*s", (int)(len < 255 ? len : 255), base);
    char why[4400];
    t->r = nd_trial_reader_open(path, why, sizeof why);
    if (!t->r) {
        /* The reader's line already names the file and the reason
         * (not HDF5, other schema, newer version, missing dataset). */
        snprintf(err, errlen, "cannot export %s", why);
        return -1;
    }
    t->in = nd_trial_reader_info(t->r);
    if (t->in->swmr || strcmp(t->in->status, ND_TRIAL_STATUS_RECORDING) == 0) {
        snprintf(err, errlen,
                 "cannot export %s: the trial is still being recorded, or its recorder stopped "
                 "without closing it (run 'nordic-trial recover DIR' first)",
                 path);
        nd_export_trial_close(t);
        return -1;
    }
    if (load_tables(t, err, errlen) < 0) {
        nd_export_trial_close(t);
        return -1;
    }
    FILE *out = notes ? notes : stderr;
    if (strcmp(t->in->status, ND_TRIAL_STATUS_INTERRUPTED) == 0)
        fprintf(out,
                "note: %s: interrupted trial (recovered %s): exporting its %llu flushed sample "
                "sets, no summary\n",
                path, t->in->recovered_utc[0] ? t->in->recovered_utc : "after a crash",
                (unsigned long long)t->in->samples);
    if (!t->in->has_clock)
        fprintf(out,
                "note: %s: schema %d.%d file without clock pairs: sample times are "
                "created_utc + i / sample_rate_hz (created_utc has 1 s resolution), no XDF "
                "clock offsets\n",
                path, t->in->schema_version, t->in->schema_minor);
    return 0;
}

void nd_export_trial_close(nd_export_trial *t)
{
    if (t->r) nd_trial_reader_close(t->r);
    free(t->clock);
    free(t->reps);
    free(t->events);
    memset(t, 0, sizeof *t);
}

/* ---- sample times ---- */

void nd_export_cursor_init(nd_export_clock_cursor *c, const nd_export_trial *t)
{
    c->t = t;
    c->k = 0;
}

static const nd_trial_clock_row *pair_for(nd_export_clock_cursor *c, uint64_t row)
{
    const nd_export_trial *t = c->t;
    if (t->n_clock == 0) return NULL;
    if (c->k >= t->n_clock || t->clock[c->k].sample_index > row) c->k = 0;
    while (c->k + 1 < t->n_clock && t->clock[c->k + 1].sample_index <= row) c->k++;
    return &t->clock[c->k];
}

double nd_export_mono_s(nd_export_clock_cursor *c, uint64_t row)
{
    const nd_export_trial *t = c->t;
    const double fs = t->in->meta.sample_rate_hz;
    const nd_trial_clock_row *a = pair_for(c, row);
    if (!a) return (double)row / fs;
    double a_s = (double)a->host_monotonic_ns / 1e9;
    if (row < a->sample_index) /* before the first pair */
        return a_s - (double)(a->sample_index - row) / fs;
    if (c->k + 1 < t->n_clock) {
        const nd_trial_clock_row *b = a + 1;
        uint64_t rows = b->sample_index - a->sample_index;
        double span_s = (double)(int64_t)(b->host_monotonic_ns - a->host_monotonic_ns) / 1e9;
        /* Before a gap (restart, reconnect) the host time between the pairs
         * also covers the lost sets: keep the nominal rate from a, unless
         * the host saw these rows faster than nominal (then interpolate, so
         * that times never go backwards at b). */
        if (b->sample_index > a->sample_index &&
            (b->reason == ND_CLOCK_PERIODIC || span_s < (double)rows / fs))
            return a_s + (double)(row - a->sample_index) * span_s / (double)rows;
    }
    return a_s + (double)(row - a->sample_index) / fs;
}

double nd_export_offset_s(nd_export_clock_cursor *c, uint64_t row)
{
    const nd_trial_clock_row *a = pair_for(c, row);
    if (!a) return (double)c->t->in->meta.created_utc_s;
    return (double)(a->host_realtime_ns - (int64_t)a->host_monotonic_ns) / 1e9;
}

/* ---- output files ---- */

int nd_export_out_open(nd_export_out *o, const char *dir, const char *name, char *err,
                       size_t errlen)
{
    memset(o, 0, sizeof *o);
    if (snprintf(o->final_path, sizeof o->final_path, "%s/%s", dir, name) >=
            (int)sizeof o->final_path ||
        snprintf(o->tmp_path, sizeof o->tmp_path, "%s/.%s.partial", dir, name) >=
            (int)sizeof o->tmp_path) {
        snprintf(err, errlen, "output path too long: %s/%s", dir, name);
        return -1;
    }
    int fd = open(o->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    o->f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!o->f) {
        snprintf(err, errlen, "cannot write %s: %s", o->final_path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    setvbuf(o->f, NULL, _IOFBF, 1 << 20);
    return 0;
}

int nd_export_out_commit(nd_export_out *o, char *err, size_t errlen)
{
    int rc = 0, e = 0;
    if (fflush(o->f) != 0 || ferror(o->f)) {
        rc = -1;
        e = errno;
    }
    if (rc == 0 && fsync(fileno(o->f)) != 0 && errno != EINVAL) {
        rc = -1;
        e = errno;
    }
    if (fclose(o->f) != 0 && rc == 0) {
        rc = -1;
        e = errno;
    }
    o->f = NULL;
    if (rc == 0 && rename(o->tmp_path, o->final_path) != 0) {
        rc = -1;
        e = errno;
    }
    if (rc < 0) {
        snprintf(err, errlen, "writing %s failed: %s (nothing left under that name)", o->final_path,
                 strerror(e ? e : EIO));
        unlink(o->tmp_path);
    }
    return rc;
}

void nd_export_out_abort(nd_export_out *o)
{
    if (o->f) fclose(o->f);
    o->f = NULL;
    unlink(o->tmp_path);
}

/* ---- text ---- */

void nd_export_put_num(FILE *f, double v, const char *nan_text)
{
    if (isnan(v)) {
        fputs(nan_text, f);
        return;
    }
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (prec == 17 || strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

void nd_export_put_exact(FILE *f, double v, const char *nan_text)
{
    if (isnan(v))
        fputs(nan_text, f);
    else
        fprintf(f, "%.17g", v); /* 17 significant digits always read back exactly */
}

void nd_export_put_xml(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            fputc(*s, f);
        }
    }
}

void nd_export_put_json(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ---- driver ---- */

int nd_export_files(const char *const *paths, size_t n, const nd_export_options *opt, FILE *written,
                    char *err, size_t errlen)
{
    const char *dir = opt->out_dir ? opt->out_dir : ".";
    FILE *notes = opt->notes ? opt->notes : stderr;
    err[0] = '\0';
    struct stat st;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create output folder %s: %s", dir, strerror(errno));
        return -1;
    }
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "output %s is not a folder", dir);
        return -1;
    }
    if (opt->format == ND_EXPORT_XDF || opt->format == ND_EXPORT_CSV) {
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
            nd_export_trial t;
            char why[4600];
            if (nd_export_trial_open(&t, paths[i], notes, why, sizeof why) < 0) {
                fprintf(notes, "%s\n", why);
                failed++;
                continue;
            }
            int rc = opt->format == ND_EXPORT_XDF
                         ? nd_export_xdf(&t, dir, written, why, sizeof why)
                         : nd_export_csv(&t, dir, written, why, sizeof why);
            nd_export_trial_close(&t);
            if (rc < 0) {
                fprintf(notes, "%s\n", why);
                failed++;
            }
        }
        if (failed) snprintf(err, errlen, "%d of %zu trial(s) not exported", failed, n);
        return failed;
    }
    /* club-csv and bids: one output for all trials, written only when every
     * trial opened. */
    nd_export_trial *ts = calloc(n ? n : 1, sizeof *ts);
    if (!ts) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int failed = 0;
    for (size_t i = 0; i < n; i++) {
        char why[4600];
        if (nd_export_trial_open(&ts[i], paths[i], notes, why, sizeof why) < 0) {
            fprintf(notes, "%s\n", why);
            failed++;
        }
    }
    int rc = failed;
    if (failed) {
        snprintf(err, errlen, "%d of %zu trial(s) cannot be exported; nothing written", failed, n);
    } else {
        int r = opt->format == ND_EXPORT_CLUB_CSV
                    ? nd_export_club(ts, n, dir, written, err, errlen)
                    : nd_export_bids(ts, n, dir, written, err, errlen);
        if (r < 0) rc = -1;
    }
    for (size_t i = 0; i < n; i++)
        if (ts[i].r) nd_export_trial_close(&ts[i]);
    free(ts);
    return rc;
}
