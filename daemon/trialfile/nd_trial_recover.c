/* Start-up recovery of interrupted trial files (see nd_trial_recover.h). */
#include "nd_trial_recover.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "nd_log.h"
#include "nd_trial_file.h"
#include "nd_trial_h5.h"

/* h5clear's default increment: room past the stale end-of-allocation. */
#define EOA_INCREMENT (1u << 20)
/* Marking writes a few KiB of metadata; a repair that runs out of space half
 * way would leave the file worse than before, so insist on a margin. */
#define MIN_FREE_BYTES (1u << 20)

const char *nd_recover_outcome_name(nd_recover_outcome o)
{
    switch (o) {
    case ND_RECOVER_OK_ALREADY:
        return "ok";
    case ND_RECOVER_RECOVERED:
        return "recovered";
    case ND_RECOVER_IN_USE:
        return "in use";
    case ND_RECOVER_PARTIAL_REMOVED:
        return "partial removed";
    case ND_RECOVER_FAILED:
        return "failed";
    }
    return "?";
}

static const char *const sample_sets[] = {"/samples/raw", "/samples/force_N", "/samples/seq"};

/* Sample sets the file holds: the shortest of the three datasets. */
static int count_samples(hid_t f, uint64_t *n)
{
    *n = UINT64_MAX;
    for (int i = 0; i < 3; i++) {
        hid_t d = H5Dopen2(f, sample_sets[i], H5P_DEFAULT);
        if (d < 0) return -1;
        hid_t s = H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        H5Sget_simple_extent_dims(s, dims, NULL);
        H5Sclose(s);
        H5Dclose(d);
        if (dims[0] < *n) *n = dims[0];
    }
    return 0;
}

/* Cuts the three sample datasets to n rows (a crash between their flushes
 * can leave them of different lengths). */
static int truncate_samples(hid_t f, uint64_t n)
{
    for (int i = 0; i < 3; i++) {
        hid_t d = H5Dopen2(f, sample_sets[i], H5P_DEFAULT);
        if (d < 0) return -1;
        hid_t s = H5Dget_space(d);
        hsize_t dims[2] = {0, 0};
        int rank = H5Sget_simple_extent_dims(s, dims, NULL);
        H5Sclose(s);
        int rc = 0;
        if (rank >= 1 && dims[0] != n) {
            dims[0] = n;
            rc = H5Dset_extent(d, dims) < 0 ? -1 : 0;
        }
        H5Dclose(d);
        if (rc < 0) return -1;
    }
    return 0;
}

static int append_event(hid_t f, double t_s, const char *kind, const char *detail)
{
    hid_t d = H5Dopen2(f, "/events", H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t mt = nd_h5_event_mem_type();
    hid_t s = H5Dget_space(d);
    hsize_t n = 0, one = 1;
    H5Sget_simple_extent_dims(s, &n, NULL);
    H5Sclose(s);
    nd_h5_event_row row;
    memset(&row, 0, sizeof row);
    row.t_s = t_s;
    nd_utf8_copy(row.kind, kind, ND_TRIAL_EVENT_KIND_MAX);
    nd_utf8_copy(row.detail, detail, ND_TRIAL_EVENT_DETAIL_MAX);
    hsize_t newn = n + 1;
    int rc = -1;
    if (H5Dset_extent(d, &newn) >= 0) {
        hid_t fs = H5Dget_space(d);
        hid_t ms = H5Screate_simple(1, &one, NULL);
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, &n, NULL, &one, NULL) >= 0 &&
            H5Dwrite(d, mt, ms, fs, H5P_DEFAULT, &row) >= 0)
            rc = 0;
        H5Sclose(ms);
        H5Sclose(fs);
    }
    H5Tclose(mt);
    H5Dclose(d);
    return rc;
}

/* The h5clear -s --increment equivalent: private file-access properties that
 * the library registers for h5clear, set through the public H5Pset(). */
static int clear_status_flags(const char *path, char *msg, size_t msglen)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    hbool_t on = 1;
    if (H5Pset(fapl, "clear_status_flags", &on) < 0 || H5Pset(fapl, "skip_eof_check", &on) < 0 ||
        H5Pset(fapl, "null_fsm_addr", &on) < 0) {
        nd_h5_error(msg, msglen, "this HDF5 library lacks the h5clear properties");
        H5Pclose(fapl);
        return -1;
    }
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        nd_h5_error(msg, msglen, "clearing the status flags");
        return -1;
    }
    int rc = 0;
    if (H5Fincrement_filesize(f, EOA_INCREMENT) < 0) {
        nd_h5_error(msg, msglen, "raising the end of allocation");
        rc = -1;
    }
    if (H5Fclose(f) < 0 && rc == 0) {
        nd_h5_error(msg, msglen, "closing after clearing the status flags");
        rc = -1;
    }
    return rc;
}

/* A file still marked open for writing: read its schema in SWMR-read mode
 * (that open needs no repair) so that another program's file is never
 * repaired. true unless it opens and is not a trial file. */
static bool open_file_is_trial(const char *path, char *msg, size_t msglen)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY | H5F_ACC_SWMR_READ, H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        return true; /* cannot tell: let the repair try (and report) */
    }
    char schema[64] = "";
    bool trial = nd_h5_read_str(f, "schema", schema, sizeof schema) == 0 &&
                 strcmp(schema, ND_TRIAL_SCHEMA) == 0;
    if (!trial)
        snprintf(msg, msglen, "not a %s file (schema '%s'); left alone", ND_TRIAL_SCHEMA, schema);
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return trial;
}

/* Reads schema and status with a plain read-only open. Returns 1 if the file
 * opened, 0 if it is still marked open for writing, -1 if not a trial file. */
static int peek(const char *path, char *status, size_t slen, uint64_t *samples, char *msg,
                size_t msglen)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        return open_file_is_trial(path, msg, msglen) ? 0 : -1;
    }
    char schema[64] = "";
    int rc = 1;
    if (nd_h5_read_str(f, "schema", schema, sizeof schema) < 0 ||
        strcmp(schema, ND_TRIAL_SCHEMA) != 0) {
        snprintf(msg, msglen, "not a %s file (schema '%s'); left alone", ND_TRIAL_SCHEMA, schema);
        rc = -1;
    } else if (nd_h5_read_str(f, "status", status, slen) < 0) {
        status[0] = '\0';
    }
    if (rc == 1 && count_samples(f, samples) < 0) *samples = 0;
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}

static int mark_interrupted(const char *path, bool was_open, uint64_t *samples, char *msg,
                            size_t msglen)
{
    hid_t fapl = nd_h5_fapl();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    if (f < 0) {
        nd_h5_error(msg, msglen, "reopening after repair");
        return -1;
    }
    char schema[64] = "";
    if (nd_h5_read_str(f, "schema", schema, sizeof schema) < 0 ||
        strcmp(schema, ND_TRIAL_SCHEMA) != 0) {
        snprintf(msg, msglen, "not a %s file (schema '%s')", ND_TRIAL_SCHEMA, schema);
        H5Fclose(f);
        return -1;
    }
    uint64_t n = 0;
    double rate = 0;
    int rc = count_samples(f, &n);
    if (rc == 0) rc = truncate_samples(f, n);
    nd_h5_read_f64(f, "sample_rate_hz", &rate);
    char when[32], detail[160];
    nd_utc_iso((int64_t)time(NULL), when, sizeof when);
    snprintf(detail, sizeof detail, "%s; recovered %llu sample sets at %s",
             was_open ? "writer stopped without closing the file (crash or power loss)"
                      : "writer closed the file without completing it (write error or no summary)",
             (unsigned long long)n, when);
    if (rc == 0) rc = append_event(f, rate > 0 ? (double)n / rate : 0.0, "interrupted", detail);
    if (rc == 0) rc = nd_h5_attr_str(f, "recovered_utc", when);
    if (rc == 0) rc = nd_h5_attr_u64(f, "samples_recovered", n);
    if (rc == 0) rc = nd_h5_attr_str(f, "status", ND_TRIAL_STATUS_INTERRUPTED);
    if (rc < 0) nd_h5_error(msg, msglen, "marking the file interrupted");
    if (H5Fclose(f) < 0 && rc == 0) {
        nd_h5_error(msg, msglen, "closing after marking");
        rc = -1;
    }
    if (rc == 0)
        snprintf(msg, msglen, "marked interrupted, %llu sample sets kept", (unsigned long long)n);
    *samples = n;
    return rc;
}

static bool enough_space(const char *path, char *msg, size_t msglen)
{
    /* This process may not grow files (RLIMIT_FSIZE): the EOA increment could
     * not be written, so do not start. */
    struct rlimit rl;
    struct stat st;
    if (getrlimit(RLIMIT_FSIZE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && stat(path, &st) == 0 &&
        (unsigned long long)st.st_size + EOA_INCREMENT + MIN_FREE_BYTES > rl.rlim_cur) {
        snprintf(msg, msglen,
                 "the file size limit of this process (RLIMIT_FSIZE) leaves no room to repair "
                 "it; run recovery again without that limit");
        return false;
    }
    struct statvfs vfs;
    if (statvfs(path, &vfs) != 0) return true; /* unknown: try anyway */
    unsigned long long avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
    if (avail >= MIN_FREE_BYTES) return true;
    snprintf(msg, msglen,
             "only %llu KiB free on its file system (1024 KiB needed to repair it); free some "
             "space and run recovery again (file left untouched, readable in SWMR mode)",
             avail / 1024);
    return false;
}

nd_recover_outcome nd_trial_recover_file(const char *path, uint64_t *samples_out, char *msg,
                                         size_t msglen)
{
    nd_h5_quiet();
    uint64_t samples = 0;
    msg[0] = '\0';
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot open: %s", strerror(errno));
        return ND_RECOVER_FAILED;
    }
    /* A live writer holds this lock for the whole recording; holding it
     * ourselves also keeps two recoveries apart. */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &lk) < 0) {
        int e = errno;
        close(fd);
        if (e == EAGAIN || e == EACCES) {
            snprintf(msg, msglen, "being written by a running writer; left alone");
            return ND_RECOVER_IN_USE;
        }
        snprintf(msg, msglen, "cannot lock: %s", strerror(e));
        return ND_RECOVER_FAILED;
    }
    nd_recover_outcome out = ND_RECOVER_FAILED;
    char status[32] = "";
    int p = peek(path, status, sizeof status, &samples, msg, msglen);
    if (p < 0) {
        out = ND_RECOVER_OK_ALREADY;
    } else if (p == 1 && (strcmp(status, ND_TRIAL_STATUS_COMPLETE) == 0 ||
                          strcmp(status, ND_TRIAL_STATUS_INTERRUPTED) == 0)) {
        snprintf(msg, msglen, "%s", status);
        out = ND_RECOVER_OK_ALREADY;
    } else if (!enough_space(path, msg, msglen)) {
        out = ND_RECOVER_FAILED;
    } else if ((p == 1 || clear_status_flags(path, msg, msglen) == 0) &&
               mark_interrupted(path, p == 0, &samples, msg, msglen) == 0) {
        fdatasync(fd);
        out = ND_RECOVER_RECOVERED;
    }
    close(fd);
    H5Eclear2(H5E_DEFAULT);
    if (samples_out) *samples_out = samples;
    return out;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A ".<name>.partial" left by a crash during creation: no samples yet. */
static nd_recover_outcome remove_partial(const char *path, char *msg, size_t msglen)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(msg, msglen, "cannot open: %s", strerror(errno));
        return ND_RECOVER_FAILED;
    }
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    nd_recover_outcome out;
    if (fcntl(fd, F_OFD_SETLK, &lk) < 0) {
        snprintf(msg, msglen, "being created by a running writer; left alone");
        out = ND_RECOVER_IN_USE;
    } else if (unlink(path) < 0) {
        snprintf(msg, msglen, "cannot delete: %s", strerror(errno));
        out = ND_RECOVER_FAILED;
    } else {
        snprintf(msg, msglen, "deleted a trial file whose creation was interrupted (no samples)");
        out = ND_RECOVER_PARTIAL_REMOVED;
    }
    close(fd);
    return out;
}

static int add_item(nd_recover_report *r, const char *name, nd_recover_outcome o, uint64_t n,
                    const char *msg)
{
    nd_recover_item *items = realloc(r->items, (r->n_items + 1) * sizeof *items);
    if (!items) return -1;
    r->items = items;
    nd_recover_item *it = &items[r->n_items++];
    snprintf(it->name, sizeof it->name, "%s", name);
    it->outcome = o;
    it->samples = n;
    snprintf(it->message, sizeof it->message, "%s", msg);
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int nd_trial_recover_dir(const char *data_dir, nd_recover_report *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    DIR *dir = opendir(data_dir);
    if (!dir) {
        snprintf(err, errlen, "data directory '%s': %s", data_dir, strerror(errno));
        return -1;
    }
    /* Collect first, sorted, so the report is in a stable order. */
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(dir))) {
        bool partial = de->d_name[0] == '.' && ends_with(de->d_name, ".h5.partial");
        bool trial = de->d_name[0] != '.' && ends_with(de->d_name, ".h5");
        if (!partial && !trial) continue;
        char **grown = realloc(names, (n + 1) * sizeof *names);
        if (!grown) break;
        names = grown;
        names[n] = strdup(de->d_name);
        if (names[n]) n++;
    }
    closedir(dir);
    if (n) qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; i < n; i++) {
        char path[PATH_MAX], msg[512];
        uint64_t samples = 0;
        if (snprintf(path, sizeof path, "%s/%s", data_dir, names[i]) >= (int)sizeof path) continue;
        r->scanned++;
        nd_recover_outcome o = names[i][0] == '.'
                                   ? remove_partial(path, msg, sizeof msg)
                                   : nd_trial_recover_file(path, &samples, msg, sizeof msg);
        switch (o) {
        case ND_RECOVER_RECOVERED:
            r->recovered++;
            nd_warn("recovered interrupted trial %s: %s", path, msg);
            break;
        case ND_RECOVER_IN_USE:
            r->in_use++;
            break;
        case ND_RECOVER_PARTIAL_REMOVED:
            r->partial_removed++;
            nd_notice("%s: %s", path, msg);
            break;
        case ND_RECOVER_FAILED:
            r->failed++;
            nd_err("cannot recover trial %s: %s", path, msg);
            break;
        case ND_RECOVER_OK_ALREADY:
            break;
        }
        if (o != ND_RECOVER_OK_ALREADY || strncmp(msg, "not a ", 6) == 0)
            add_item(r, names[i], o, samples, msg);
        free(names[i]);
    }
    free(names);
    return 0;
}

void nd_trial_recover_report_free(nd_recover_report *r)
{
    free(r->items);
    r->items = NULL;
    r->n_items = 0;
}
