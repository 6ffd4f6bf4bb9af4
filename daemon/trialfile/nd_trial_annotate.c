/* Next-day pain on a closed trial (nd_trial_annotate.h). */
#include "nd_trial_annotate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nd_sets.h"
#include "nd_trial_file.h"
#include "nd_trial_h5.h"
#include "nd_trial_layout.h"
#include "nd_trial_sets.h"

int nd_trial_find_by_id(const char *data_dir, const char *trial_id, char *path, size_t pathlen,
                        char *err, size_t errlen)
{
    if (nd_trial_id_check(trial_id, err, errlen)) return -1;
    DIR *d = opendir(data_dir);
    if (!d) return snprintf(err, errlen, "data directory %s: %s", data_dir, strerror(errno)), -1;
    char suffix[ND_TRIAL_ID_MAX + 8];
    snprintf(suffix, sizeof suffix, "_%s.h5", trial_id);
    size_t sl = strlen(suffix);
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (e->d_name[0] == '.' || n <= sl || strcmp(e->d_name + n - sl, suffix)) continue;
        if (snprintf(path, pathlen, "%s/%s", data_dir, e->d_name) >= (int)pathlen) continue;
        found++;
    }
    closedir(d);
    if (found == 1) return 0;
    if (found == 0) return snprintf(err, errlen, "no trial %s in %s", trial_id, data_dir), -1;
    return snprintf(err, errlen, "%d files carry trial id %s in %s", found, trial_id, data_dir), -1;
}

static int append_event(hid_t f, double t_s, const char *kind, const char *detail)
{
    hid_t d = H5Dopen2(f, "/events", H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t t = nd_h5_event_mem_type();
    hid_t fs = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(fs, &n, NULL);
    H5Sclose(fs);
    nd_h5_event_row row;
    memset(&row, 0, sizeof row);
    row.t_s = t_s;
    nd_utf8_copy(row.kind, kind, ND_TRIAL_EVENT_KIND_MAX);
    nd_utf8_copy(row.detail, detail, ND_TRIAL_EVENT_DETAIL_MAX);
    hsize_t dims = n + 1, start = n, count = 1;
    int rc = -1;
    if (H5Dset_extent(d, &dims) >= 0) {
        fs = H5Dget_space(d);
        hid_t ms = H5Screate_simple(1, &count, NULL);
        if (fs >= 0 && ms >= 0 &&
            H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL) >= 0 &&
            H5Dwrite(d, t, ms, fs, H5P_DEFAULT, &row) >= 0)
            rc = 0;
        if (ms >= 0) H5Sclose(ms);
        if (fs >= 0) H5Sclose(fs);
    }
    H5Tclose(t);
    H5Dclose(d);
    return rc;
}

static long read_sets(hid_t f, nd_set_result *out, size_t max)
{
    hid_t d = H5Dopen2(f, "/sets", H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t fs = H5Dget_space(d);
    hsize_t n = 0;
    H5Sget_simple_extent_dims(fs, &n, NULL);
    H5Sclose(fs);
    long rc = -1;
    if (n > max) { /* never in practice: more set rows than this reader holds */
        H5Dclose(d);
        return -1;
    }
    nd_h5_set_row *rows = calloc(n ? n : 1, sizeof *rows);
    hid_t t = nd_h5_set_mem_type();
    if (rows && (n == 0 || H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0)) {
        for (hsize_t i = 0; i < n; i++) nd_h5_row_to_set(&rows[i], &out[i]);
        rc = (long)n;
    }
    free(rows);
    H5Tclose(t);
    H5Dclose(d);
    return rc;
}

/* Under the lock, with the file open read-write. */
static int annotate(hid_t f, int64_t now_unix, int pain, const char *detail,
                    nd_trial_summary *summary, char *err, size_t errlen)
{
    char status[32] = "";
    if (nd_h5_read_str(f, "status", status, sizeof status) || strcmp(status, "complete"))
        return snprintf(err, errlen, "the trial is not complete (status '%s')", status), -1;
    nd_set_plan plan;
    if (nd_trial_sets_read_plan(f, &plan) || plan.sets == 0)
        return snprintf(err, errlen,
                        "the trial has no protocol (no sets): a next-day pain rates a session"),
               -1;
    int64_t created = 0;
    nd_h5_read_i64(f, "created_unix_s", &created);
    /* Up to 20 planned sets plus extra ones: never more rows than reps + sets. */
    enum { MAX_ROWS = 256 };
    nd_set_result *rows = calloc(MAX_ROWS, sizeof *rows);
    if (!rows) return snprintf(err, errlen, "out of memory"), -1;
    long n = read_sets(f, rows, MAX_ROWS);
    hid_t reps = n >= 0 ? H5Dopen2(f, "/reps", H5P_DEFAULT) : -1;
    int rc = -1;
    if (reps < 0 || !nd_trial_read_summary_attrs(reps, summary)) {
        nd_h5_error(err, errlen, "reading /sets and the summary");
        goto out;
    }
    nd_session_outcome o;
    nd_sets_outcome_from_rows(&plan, rows, (size_t)n, &o);
    nd_sets_summarise_outcome(&plan, &o, pain, summary);
    char when[32], text[ND_TRIAL_EVENT_DETAIL_MAX + 1];
    nd_utc_iso(now_unix, when, sizeof when);
    snprintf(text, sizeof text, "%d/10; %s%s%s", pain, when, detail && *detail ? "; " : "",
             detail ? detail : "");
    if (append_event(f, (double)(now_unix - created), "pain_next_day", text) ||
        nd_trial_write_summary_attrs(reps, summary) ||
        nd_h5_attr_i32(reps, "next_day_pain", pain) || nd_h5_attr_str(reps, "next_day_utc", when)) {
        nd_h5_error(err, errlen, "writing the next-day pain");
        goto out;
    }
    rc = 0;
out:
    if (reps >= 0) H5Dclose(reps);
    free(rows);
    return rc;
}

int nd_trial_add_next_day_pain(const char *path, int64_t now_unix, int pain, const char *detail,
                               nd_trial_summary *summary, char *err, size_t errlen)
{
    nd_h5_quiet();
    if (pain < 0 || pain > 10) return snprintf(err, errlen, "pain must be 0 to 10"), -1;
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
    /* The writer and recovery hold this lock while they use the file. */
    struct flock lk = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    if (fcntl(fd, F_OFD_SETLK, &lk) < 0) {
        int e = errno;
        close(fd);
        return snprintf(err, errlen, "%s is in use (%s)", path,
                        e == EAGAIN || e == EACCES ? "being written or recovered" : strerror(e)),
               -1;
    }
    hid_t fapl = nd_h5_fapl();
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, fapl);
    H5Pclose(fapl);
    int rc = -1;
    if (f < 0) {
        nd_h5_error(err, errlen, "opening the trial read-write");
    } else {
        rc = annotate(f, now_unix, pain, detail, summary, err, errlen);
        if (H5Fclose(f) < 0 && rc == 0) {
            nd_h5_error(err, errlen, "closing the trial");
            rc = -1;
        }
    }
    if (rc == 0 && fdatasync(fd) < 0 && errno != EINVAL) {
        snprintf(err, errlen, "fdatasync: %s", strerror(errno));
        rc = -1;
    }
    close(fd);
    H5Eclear2(H5E_DEFAULT);
    return rc;
}
