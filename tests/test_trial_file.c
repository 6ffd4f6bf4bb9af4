/* Trial files in C: round trip through writer and reader, id and name rules,
 * mode 0640, refusals (bad ids, bad meta, missing/unwritable directory,
 * existing file, foreign or newer schema), disk full via RLIMIT_FSIZE, a
 * SWMR reader following a live writer, and recovery (crashed-open files are
 * covered by test_trial_crash.py; here: failed writers, partial files, files
 * in use). */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nd_trial_file.h"
#include "nd_trial_reader.h"
#include "nd_trial_recover.h"
#include "test_util.h"

static char err[4400];

static void make_meta(nd_trial_meta *m, const char *athlete, int nch)
{
    nd_trial_meta_init(m, nch);
    snprintf(m->athlete_id, sizeof m->athlete_id, "%s", athlete);
    nd_trial_id_generate(m->trial_id, sizeof m->trial_id);
    m->sample_rate_hz = 500.0;
    for (int ch = 0; ch < nch; ch++) {
        m->calibration.offset[ch] = 1000.0 + ch;
        m->calibration.gain[ch] = 0.01 / (ch + 1);
    }
    m->subject.body_mass_kg = 72.0;
    m->subject.lever_m = 0.42;
    m->subject.injured_side = ND_SIDE_LEFT;
    m->settings.on_N = 120.0;
    snprintf(m->device.model, sizeof m->device.model, "test-dev");
    snprintf(m->notes, sizeof m->notes, "C round trip");
}

static void make_sets(nd_sample *s, size_t n, uint64_t first, int nch)
{
    memset(s, 0, n * sizeof *s);
    for (size_t i = 0; i < n; i++) {
        s[i].seq = first + i + (first + i) / 1000; /* gaps of one every 1000 */
        s[i].nch = (uint8_t)nch;
        for (int ch = 0; ch < nch; ch++)
            s[i].raw[ch] = (int32_t)((first + i) * 31 + (uint64_t)ch * 7) - 50000;
    }
}

static void test_ids(void)
{
    CHECK_EQ_INT(nd_trial_athlete_id_check("A-z_0.9", err, sizeof err), 0);
    CHECK_EQ_INT(nd_trial_athlete_id_check("a..b", err, sizeof err), 0);
    char longest[65];
    memset(longest, 'x', 64);
    longest[64] = '\0';
    CHECK_EQ_INT(nd_trial_athlete_id_check(longest, err, sizeof err), 0);
    char too_long[66];
    memset(too_long, 'x', 65);
    too_long[65] = '\0';
    CHECK_EQ_INT(nd_trial_athlete_id_check(too_long, err, sizeof err), -1);
    CHECK(strstr(err, "at most 64") != NULL);
    CHECK_EQ_INT(nd_trial_athlete_id_check("", err, sizeof err), -1);
    CHECK(strstr(err, "empty") != NULL);
    CHECK_EQ_INT(nd_trial_athlete_id_check(".hidden", err, sizeof err), -1);
    CHECK(strstr(err, "starts with '.'") != NULL);
    CHECK_EQ_INT(nd_trial_athlete_id_check("../etc", err, sizeof err), -1);
    CHECK_EQ_INT(nd_trial_athlete_id_check("a/b", err, sizeof err), -1);
    CHECK(strstr(err, "'/'") != NULL);
    CHECK_EQ_INT(nd_trial_athlete_id_check("a b", err, sizeof err), -1);
    CHECK_EQ_INT(nd_trial_athlete_id_check("jos\xc3\xa9", err, sizeof err), -1);
    CHECK(strstr(err, "0xc3") != NULL);
    CHECK_EQ_INT(nd_trial_id_check("t/1", err, sizeof err), -1);

    char id1[16], id2[16];
    nd_trial_id_generate(id1, sizeof id1);
    nd_trial_id_generate(id2, sizeof id2);
    CHECK_EQ_INT(strlen(id1), 12);
    CHECK(strcmp(id1, id2) != 0);
    CHECK_EQ_INT(nd_trial_id_check(id1, err, sizeof err), 0);

    nd_trial_meta m;
    make_meta(&m, "ath7", 2);
    snprintf(m.trial_id, sizeof m.trial_id, "t42");
    m.created_utc_s = 1714566896; /* 2024-05-01T12:34:56Z */
    char name[256];
    CHECK_EQ_INT(nd_trial_file_name(&m, name, sizeof name, err, sizeof err), 0);
    CHECK(strcmp(name, "ath7_20240501T123456Z_t42.h5") == 0);
}

static void test_chunking(void)
{
    for (int nch = 1; nch <= ND_MAX_CHANNELS; nch++) {
        size_t rows = nd_trial_chunk_rows(nch);
        size_t smallest = rows * (nch == 1 ? 4 : 8); /* raw (1 ch) or seq */
        size_t largest = rows * 8 * (size_t)nch;     /* force_N */
        CHECK(smallest >= 65536);
        CHECK(largest <= 1048576);
    }
}

static void test_round_trip(const char *dir)
{
    const int nch = 3;
    nd_trial_meta m;
    make_meta(&m, "rt-athlete", nch);
    char path[4096];
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0.1, path, sizeof path, err, sizeof err);
    CHECK(tf != NULL);
    if (!tf) {
        fprintf(stderr, "create: %s\n", err);
        return;
    }
    /* The final name exists right away (layout complete), no .partial left. */
    struct stat st;
    CHECK_EQ_INT(stat(path, &st), 0);
    CHECK_EQ_INT(st.st_mode & 0777, 0640);
    char partial[4200];
    const char *base = strrchr(path, '/') + 1;
    snprintf(partial, sizeof partial, "%s/.%s.partial", dir, base);
    CHECK(access(partial, F_OK) != 0);

    const size_t total = 20000; /* > two chunks of 8192 rows */
    nd_sample *sets = malloc(total * sizeof *sets);
    make_sets(sets, total, 0, nch);
    /* Half with explicit force, half through the stored calibration. */
    double *force = malloc(total * (size_t)nch * sizeof *force);
    for (size_t i = 0; i < total; i++)
        for (int ch = 0; ch < nch; ch++)
            force[i * (size_t)nch + (size_t)ch] =
                ((double)sets[i].raw[ch] - m.calibration.offset[ch]) * m.calibration.gain[ch];
    size_t done = 0;
    while (done < total / 2) {
        size_t k = 333;
        CHECK_EQ_INT(
            nd_trial_file_append(tf, sets + done, force + done * (size_t)nch, k, err, sizeof err),
            0);
        done += k;
    }
    CHECK_EQ_INT(nd_trial_file_flush(tf, err, sizeof err), 0);
    CHECK_EQ_INT(nd_trial_file_append(tf, sets + done, NULL, total - done, err, sizeof err), 0);
    nd_rep_result reps[2];
    memset(reps, 0, sizeof reps);
    for (int i = 0; i < 2; i++) {
        reps[i].index = (uint32_t)i + 1;
        reps[i].i_open = 100u * (unsigned)i;
        reps[i].i_end = reps[i].i_open + 50;
        reps[i].peak_N[0] = 310.25 + i;
        reps[i].peak_N[1] = 290.5;
        reps[i].asymmetry_pct = 6.3;
        reps[i].weaker_side = ND_SIDE_RIGHT;
        reps[i].lsi_pct = NAN;
        reps[i].impulse_Ns[1] = 42.0;
        reps[i].rfd_N_per_s[0] = 1e-300;
        CHECK_EQ_INT(nd_trial_file_add_rep(tf, &reps[i], err, sizeof err), 0);
    }
    CHECK_EQ_INT(nd_trial_file_add_event(tf, 1.5, "tare", "offsets set", err, sizeof err), 0);
    /* Over-long text is cut at a character boundary, never mid-character. */
    char longdetail[400];
    for (int i = 0; i < 199; i++) memcpy(longdetail + 2 * i, "\xc3\xa9", 2);
    longdetail[398] = '\0';
    CHECK_EQ_INT(nd_trial_file_add_event(tf, 2.0, "mark", longdetail, err, sizeof err), 0);
    nd_trial_file_stats fs;
    nd_trial_file_get_stats(tf, &fs);
    CHECK_EQ_INT(fs.rows_appended, total);
    CHECK(fs.flushes >= 1);
    CHECK_EQ_INT(fs.chunk_rows, 8192);
    nd_trial_summary sum;
    memset(&sum, 0, sizeof sum);
    sum.reps = 2;
    sum.max_N[0] = 311.25;
    sum.max_N[1] = 290.5;
    sum.asymmetry_pct = NAN;
    sum.weaker_side = ND_SIDE_RIGHT;
    sum.imbalance = true;
    sum.pain_rating = 4;
    sum.pain = true;
    sum.samples = total;
    CHECK_EQ_INT(nd_trial_file_close(tf, &sum, err, sizeof err), 0);

    nd_trial_reader *r = nd_trial_reader_open(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r) {
        fprintf(stderr, "open: %s\n", err);
        free(sets);
        free(force);
        return;
    }
    const nd_trial_info *in = nd_trial_reader_info(r);
    CHECK(!in->swmr);
    CHECK(strcmp(in->status, "complete") == 0);
    CHECK_EQ_INT(in->schema_version, 1);
    CHECK_EQ_INT(in->samples, total);
    CHECK_EQ_INT(in->meta.nch, nch);
    CHECK(strcmp(in->meta.athlete_id, "rt-athlete") == 0);
    CHECK(strcmp(in->meta.trial_id, m.trial_id) == 0);
    CHECK(strcmp(in->meta.notes, "C round trip") == 0);
    CHECK(strcmp(in->meta.channel_names[2], "ch2") == 0);
    CHECK_NEAR(in->meta.settings.on_N, 120.0, 0);
    CHECK_NEAR(in->meta.calibration.gain[2], 0.01 / 3, 0);
    CHECK_EQ_INT(in->meta.subject.injured_side, ND_SIDE_LEFT);
    CHECK_EQ_INT(in->meta.created_utc_s, m.created_utc_s);
    CHECK(in->has_summary);
    CHECK_EQ_INT(in->summary.reps, 2);
    CHECK(isnan(in->summary.asymmetry_pct));
    CHECK(in->summary.imbalance && in->summary.pain && !in->summary.weak_left);
    CHECK_EQ_INT(in->summary.pain_rating, 4);
    CHECK_EQ_INT(in->summary.weaker_side, ND_SIDE_RIGHT);

    int32_t *raw = malloc(total * (size_t)nch * sizeof *raw);
    double *frc = malloc(total * (size_t)nch * sizeof *frc);
    uint64_t *seq = malloc(total * sizeof *seq);
    CHECK_EQ_INT(nd_trial_reader_read_samples(r, 0, total, raw, frc, seq, err, sizeof err), 0);
    size_t bad = 0;
    for (size_t i = 0; i < total; i++) {
        bad += seq[i] != sets[i].seq;
        for (int ch = 0; ch < nch; ch++) {
            bad += raw[i * (size_t)nch + (size_t)ch] != sets[i].raw[ch];
            bad += frc[i * (size_t)nch + (size_t)ch] != force[i * (size_t)nch + (size_t)ch];
        }
    }
    CHECK_EQ_INT(bad, 0);
    /* A slice in the middle, and out-of-range requests refused. */
    CHECK_EQ_INT(nd_trial_reader_read_samples(r, 8190, 5, NULL, NULL, seq, err, sizeof err), 0);
    CHECK_EQ_INT(seq[0], sets[8190].seq);
    CHECK_EQ_INT(nd_trial_reader_read_samples(r, total - 2, 3, raw, NULL, NULL, err, sizeof err),
                 -1);
    CHECK(strstr(err, "outside") != NULL);

    nd_rep_result back[4];
    CHECK_EQ_INT(nd_trial_reader_read_reps(r, back, 4, err, sizeof err), 2);
    CHECK_EQ_INT(back[1].index, 2);
    CHECK_EQ_INT(back[1].i_end, 150);
    CHECK_NEAR(back[1].peak_N[0], 311.25, 0);
    CHECK_EQ_INT(back[0].weaker_side, ND_SIDE_RIGHT);
    CHECK(isnan(back[0].lsi_pct));
    CHECK(back[0].rfd_N_per_s[0] == 1e-300);
    nd_trial_event ev[4];
    CHECK_EQ_INT(nd_trial_reader_read_events(r, ev, 4, err, sizeof err), 2);
    CHECK(strcmp(ev[0].kind, "tare") == 0 && strcmp(ev[0].detail, "offsets set") == 0);
    CHECK_EQ_INT(strlen(ev[1].detail), 254); /* 127 whole two-byte characters */
    nd_trial_reader_close(r);

    /* Same name again: refused, the existing file untouched. */
    tf = nd_trial_file_create(dir, &m, 0, NULL, 0, err, sizeof err);
    CHECK(tf == NULL);
    CHECK(strstr(err, "already exists") != NULL);
    free(raw);
    free(frc);
    free(seq);
    free(sets);
    free(force);
}

static void test_refusals(const char *dir)
{
    nd_trial_meta m;
    make_meta(&m, ".bad", 2);
    CHECK(nd_trial_file_create(dir, &m, 0, NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "athlete id") != NULL);
    make_meta(&m, "ok", 2);
    m.nch = 0;
    CHECK(nd_trial_file_create(dir, &m, 0, NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "channel count") != NULL);
    make_meta(&m, "ok", 2);
    m.sample_rate_hz = 0;
    CHECK(nd_trial_file_create(dir, &m, 0, NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "sample rate") != NULL);
    make_meta(&m, "ok", 2);
    CHECK(nd_trial_file_create(dir, &m, 0.75, NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "flush interval") != NULL);
    m.calibration.right_channel = 5;
    CHECK(nd_trial_file_create(dir, &m, 0, NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "channel mapping") != NULL);

    make_meta(&m, "ok", 2);
    char missing[4200];
    snprintf(missing, sizeof missing, "%s/no-such-dir", dir);
    CHECK(nd_trial_file_create(missing, &m, 0, NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "no-such-dir") != NULL && strstr(err, "No such file") != NULL);
    char notdir[4200];
    snprintf(notdir, sizeof notdir, "%s/plain-file", dir);
    close(open(notdir, O_CREAT | O_WRONLY, 0644));
    CHECK(nd_trial_file_create(notdir, &m, 0, NULL, 0, err, sizeof err) == NULL);
    CHECK(strstr(err, "not a directory") != NULL);

    /* Unwritable directory. root ignores permission bits, so the check runs
     * in a child that drops to an unprivileged user, which must reach it. */
    char reach[4096], ro[4200];
    snprintf(reach, sizeof reach, "%s",
             nd_test_reachable_by_others(dir) ? dir : nd_test_tmpdir_for_nobody("trial_file_ro"));
    snprintf(ro, sizeof ro, "%s/readonly", reach);
    mkdir(ro, 0555);
    chmod(ro, 0555);
    int pipefd[2];
    CHECK_EQ_INT(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        char e[512] = "";
        nd_trial_file *tf = nd_trial_file_create(ro, &m, 0, NULL, 0, e, sizeof e);
        ssize_t w = write(pipefd[1], e, strlen(e) + 1);
        (void)w;
        _exit(tf == NULL ? 0 : 1);
    }
    close(pipefd[1]);
    char childerr[512] = "";
    ssize_t got = read(pipefd[0], childerr, sizeof childerr - 1);
    (void)got;
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    CHECK(strstr(childerr, "not writable") != NULL);
    fprintf(stderr, "unwritable dir message: %s\n", childerr);
    CHECK(rmdir(ro) == 0); /* nothing was left inside */
    if (strcmp(reach, dir) != 0) rmdir(reach);
}

/* Disk full: a child writes until the write fails (RLIMIT_FSIZE when
 * use_rlimit, else the directory is a small tmpfs). */
static void disk_full_case(const char *dir, bool use_rlimit, const char *want_text,
                           const char *filler)
{
    int pipefd[2];
    CHECK_EQ_INT(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {600 * 1024, 600 * 1024};
        if (use_rlimit) setrlimit(RLIMIT_FSIZE, &rl);
        nd_trial_meta m;
        make_meta(&m, "full", 2);
        char e[1024] = "";
        nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, NULL, 0, e, sizeof e);
        if (!tf) _exit(4);
        nd_sample sets[1000];
        uint64_t next = 0;
        int rc = 0;
        for (int i = 0; i < 1000 && rc == 0; i++) {
            make_sets(sets, 1000, next, 2);
            rc = nd_trial_file_append(tf, sets, NULL, 1000, e, sizeof e);
            if (rc == 0) {
                next += 1000;
                rc = nd_trial_file_flush(tf, e, sizeof e);
            }
        }
        nd_trial_file_stats st;
        nd_trial_file_get_stats(tf, &st);
        /* After the failure: appends and events refused fast, and counted. */
        make_sets(sets, 10, next, 2);
        char e2[1024];
        int again = nd_trial_file_append(tf, sets, NULL, 10, e2, sizeof e2);
        int ev = nd_trial_file_add_event(tf, 1.0, "mark", "x", e2, sizeof e2);
        nd_trial_file_stats st2;
        nd_trial_file_get_stats(tf, &st2);
        char e3[1024];
        int closed = nd_trial_file_close(tf, NULL, e3, sizeof e3);
        char msg[1400];
        int len = snprintf(msg, sizeof msg, "%llu %d %d %d %llu %d|%s",
                           (unsigned long long)st.rows_flushed, rc, again, ev,
                           (unsigned long long)st2.rejected_rows, closed, e);
        ssize_t w = write(pipefd[1], msg, (size_t)len + 1);
        (void)w;
        _exit(0);
    }
    close(pipefd[1]);
    char msg[1400] = "";
    size_t have = 0;
    ssize_t k;
    while ((k = read(pipefd[0], msg + have, sizeof msg - 1 - have)) > 0) have += (size_t)k;
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unsigned long long flushed = 0, rejected = 0;
    int rc = 0, again = 0, ev = 0, closed = 0;
    CHECK_EQ_INT(
        sscanf(msg, "%llu %d %d %d %llu %d", &flushed, &rc, &again, &ev, &rejected, &closed), 6);
    const char *text = strchr(msg, '|');
    fprintf(stderr, "disk full message: %s\n", text ? text + 1 : "(none)");
    CHECK_EQ_INT(rc, -1);
    CHECK_EQ_INT(again, -1);
    CHECK_EQ_INT(ev, -1);
    CHECK_EQ_INT(closed, -1);
    CHECK(rejected >= 10);
    CHECK(flushed > 1000);
    CHECK(text && strstr(text, want_text) != NULL);

    /* Before any repair the file already opens and holds the flushed rows. */
    char found[4300] = "";
    {
        char cmd[4400];
        snprintf(cmd, sizeof cmd, "ls %s/*.h5 2>/dev/null | head -1", dir);
        FILE *ls = popen(cmd, "r");
        if (ls) {
            if (fgets(found, sizeof found, ls)) found[strcspn(found, "\n")] = '\0';
            pclose(ls);
        }
    }
    /* On a full tmpfs the failed writer's file opens as it is (SWMR). The
     * RLIMIT_FSIZE case needs recovery first: closing after EFBIG leaves an
     * end-of-allocation beyond the end of the file. */
    nd_trial_reader *before = nd_trial_reader_open(found, err, sizeof err);
    if (filler) CHECK(before != NULL);
    if (before) {
        CHECK(nd_trial_reader_info(before)->samples >= flushed);
        nd_trial_reader_close(before);
    } else {
        fprintf(stderr, "before recovery (expected for RLIMIT_FSIZE): %s\n", err);
    }
    if (filler) {
        /* Still full: recovery refuses and leaves the file as it was. */
        nd_recover_report rep0;
        CHECK_EQ_INT(nd_trial_recover_dir(dir, &rep0, err, sizeof err), 0);
        CHECK_EQ_INT(rep0.failed, 1);
        CHECK(rep0.n_items == 1 && strstr(rep0.items[0].message, "free some space") != NULL);
        nd_trial_recover_report_free(&rep0);
        before = nd_trial_reader_open(found, err, sizeof err);
        CHECK(before != NULL && nd_trial_reader_info(before)->samples >= flushed);
        if (before) nd_trial_reader_close(before);
        unlink(filler);
    }
    /* The file is valid up to the last flush: recovery marks it interrupted
     * and every flushed row reads back exactly. */
    nd_recover_report rep;
    CHECK_EQ_INT(nd_trial_recover_dir(dir, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.recovered, 1);
    CHECK_EQ_INT(rep.failed, 0);
    char path[4300] = "";
    if (rep.n_items == 1) snprintf(path, sizeof path, "%s/%s", dir, rep.items[0].name);
    nd_trial_recover_report_free(&rep);
    nd_trial_reader *r = nd_trial_reader_open(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r) {
        fprintf(stderr, "%s\n", err);
        return;
    }
    const nd_trial_info *in = nd_trial_reader_info(r);
    CHECK(strcmp(in->status, "interrupted") == 0);
    CHECK(in->samples >= flushed);
    size_t n = (size_t)in->samples;
    nd_sample *want = malloc(n * sizeof *want);
    int32_t *raw = malloc(n * 2 * sizeof *raw);
    uint64_t *seq = malloc(n * sizeof *seq);
    make_sets(want, n, 0, 2);
    CHECK_EQ_INT(nd_trial_reader_read_samples(r, 0, n, raw, NULL, seq, err, sizeof err), 0);
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += seq[i] != want[i].seq || raw[2 * i] != want[i].raw[0] ||
               raw[2 * i + 1] != want[i].raw[1];
    CHECK_EQ_INT(bad, 0);
    nd_trial_event evs[8];
    long ne = nd_trial_reader_read_events(r, evs, 8, err, sizeof err);
    CHECK(ne >= 1 && strcmp(evs[ne - 1].kind, "interrupted") == 0);
    nd_trial_reader_close(r);
    free(want);
    free(raw);
    free(seq);
}

static void test_disk_full(const char *parent)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/full", parent);
    mkdir(dir, 0755);
    disk_full_case(dir, true, "File too large", NULL);

    /* A real full filesystem where mounting is allowed (root, or a user
     * namespace); otherwise the RLIMIT_FSIZE case above stands in. */
    snprintf(dir, sizeof dir, "%s/tmpfs", parent);
    mkdir(dir, 0755);
    if (mount("tmpfs", dir, "tmpfs", 0, "size=4m,mode=0755") != 0) {
        char why[256];
        snprintf(why, sizeof why,
                 "tmpfs disk-full case: mount: %s (needs root or a user namespace)",
                 strerror(errno));
        nd_test_prerequisite_missing(why);
        return;
    }
    /* A filler leaves ~600 KiB; deleting it later frees room for recovery. */
    char filler[4300];
    snprintf(filler, sizeof filler, "%s/filler.bin", dir);
    FILE *fl = fopen(filler, "wb");
    static char zeros[64 * 1024];
    for (int i = 0; fl && i < 54; i++) fwrite(zeros, 1, sizeof zeros, fl);
    if (fl) fclose(fl);
    disk_full_case(dir, false, "No space left on device", filler);
    umount2(dir, MNT_DETACH);
}

static void test_swmr_and_in_use(const char *parent)
{
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/live", parent);
    mkdir(dir, 0755);
    nd_trial_meta m;
    make_meta(&m, "live", 2);
    char path[4096];
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, path, sizeof path, err, sizeof err);
    CHECK(tf != NULL);
    if (!tf) return;
    nd_sample sets[500];
    make_sets(sets, 500, 0, 2);
    nd_trial_file_append(tf, sets, NULL, 500, err, sizeof err);
    nd_trial_file_flush(tf, err, sizeof err);
    nd_trial_reader *r = nd_trial_reader_open(path, err, sizeof err);
    CHECK(r != NULL);
    if (r) {
        /* In-process the reader shares the writer's open file; the
         * cross-process SWMR case is in test_trial_crash.py. */
        CHECK_EQ_INT(nd_trial_reader_info(r)->samples, 500);
        make_sets(sets, 500, 500, 2);
        nd_trial_file_append(tf, sets, NULL, 500, err, sizeof err);
        nd_trial_file_flush(tf, err, sizeof err);
        nd_trial_reader_refresh(r, err, sizeof err);
        CHECK_EQ_INT(nd_trial_reader_info(r)->samples, 1000);
        uint64_t seq[2];
        CHECK_EQ_INT(nd_trial_reader_read_samples(r, 998, 2, NULL, NULL, seq, err, sizeof err), 0);
        CHECK_EQ_INT(seq[1], 999);
        nd_trial_reader_close(r);
    }
    /* Recovery while the writer records: the file is left alone. */
    char stale[4300];
    snprintf(stale, sizeof stale, "%s/.x_20240101T000000Z_y.h5.partial", dir);
    close(open(stale, O_CREAT | O_WRONLY, 0640));
    nd_recover_report rep;
    CHECK_EQ_INT(nd_trial_recover_dir(dir, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.in_use, 1);
    CHECK_EQ_INT(rep.recovered, 0);
    CHECK_EQ_INT(rep.partial_removed, 1);
    CHECK(access(stale, F_OK) != 0);
    nd_trial_recover_report_free(&rep);
    /* Closed without a summary: not complete, so recovery marks it. */
    CHECK_EQ_INT(nd_trial_file_close(tf, NULL, err, sizeof err), 0);
    CHECK_EQ_INT(nd_trial_recover_dir(dir, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.scanned, 1);
    CHECK_EQ_INT(rep.recovered, 1);
    CHECK_EQ_INT(rep.n_items == 1 ? rep.items[0].samples : 0, 1000);
    nd_trial_recover_report_free(&rep);
    CHECK_EQ_INT(nd_trial_recover_dir(dir, &rep, err, sizeof err), 0);
    CHECK_EQ_INT(rep.n_items, 0); /* now interrupted: nothing more to do */
    nd_trial_recover_report_free(&rep);
    CHECK_EQ_INT(nd_trial_recover_dir("/nonexistent-nordic", &rep, err, sizeof err), -1);
    CHECK(strstr(err, "No such file") != NULL);
}

/* Foreign and future files are refused by the reader with a clear message. */
static void test_schema_checks(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/foreign.h5", dir);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    CHECK(nd_trial_reader_open(path, err, sizeof err) == NULL);
    CHECK(strstr(err, "no 'schema' attribute") != NULL);

    nd_trial_meta m;
    make_meta(&m, "future", 2);
    char tpath[4096];
    nd_trial_file *tf = nd_trial_file_create(dir, &m, 0, tpath, sizeof tpath, err, sizeof err);
    CHECK(tf != NULL);
    if (!tf) return;
    nd_trial_file_close(tf, NULL, err, sizeof err);
    f = H5Fopen(tpath, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t a = H5Aopen(f, "schema_version", H5P_DEFAULT);
    int v = 2;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Fclose(f);
    CHECK(nd_trial_reader_open(tpath, err, sizeof err) == NULL);
    CHECK(strstr(err, "schema_version 2 is newer") != NULL);

    char txt[4200];
    snprintf(txt, sizeof txt, "%s/notes.h5", dir);
    FILE *t = fopen(txt, "w");
    fputs("not hdf5\n", t);
    fclose(t);
    CHECK(nd_trial_reader_open(txt, err, sizeof err) == NULL);
    CHECK(strstr(err, "not an HDF5 file") != NULL);
}

static void read_all(const char *path, char **buf, size_t *len)
{
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        *buf = realloc(*buf, *len + k);
        memcpy(*buf + *len, chunk, k);
        *len += k;
    }
    fclose(f);
}

/* Recovery repairs only nordic-trial files: another program's HDF5 file in
 * the data directory, left marked open by a crashed SWMR writer, must not be
 * modified (no cleared flags, no raised end of allocation). */
static void test_recover_leaves_foreign_open_file(const char *parent)
{
    char dir[4200], path[4300];
    snprintf(dir, sizeof dir, "%s/foreign-open", parent);
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/other.h5", dir);
    pid_t pid = fork();
    if (pid == 0) { /* a foreign writer that dies without closing */
        hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(f, "owner", H5T_NATIVE_INT, sp, H5P_DEFAULT, H5P_DEFAULT);
        int v = 7;
        H5Awrite(a, H5T_NATIVE_INT, &v);
        H5Aclose(a);
        H5Sclose(sp);
        if (f < 0 || H5Fstart_swmr_write(f) < 0) _exit(1);
        H5Fflush(f, H5F_SCOPE_GLOBAL);
        _exit(0);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *before, *after;
    size_t nbefore, nafter;
    read_all(path, &before, &nbefore);
    CHECK(nbefore > 0);
    uint64_t samples = 99;
    char msg[512];
    nd_recover_outcome o = nd_trial_recover_file(path, &samples, msg, sizeof msg);
    CHECK_EQ_INT(o, ND_RECOVER_OK_ALREADY);
    CHECK(strstr(msg, "not a nordic-trial file") != NULL);
    if (o != ND_RECOVER_OK_ALREADY) fprintf(stderr, "  foreign open file: %s\n", msg);
    read_all(path, &after, &nafter);
    CHECK_EQ_INT(nafter, nbefore);
    CHECK(nafter == nbefore && memcmp(before, after, nbefore) == 0);
    free(before);
    free(after);
}

/* Storage option used by nordic-bench-storage: a shuffle + deflate file
 * holds exactly the same values for the project's reader (h5py reads the
 * same filters); out-of-range levels are refused before anything is made. */
static void test_deflate_option(const char *dir)
{
    nd_trial_meta m;
    make_meta(&m, "Z1", 2);
    char path[4096];
    nd_trial_storage bad = {.deflate_level = 10};
    CHECK(nd_trial_file_create_with(dir, &m, 0, &bad, path, sizeof path, err, sizeof err) == NULL);
    CHECK(strstr(err, "deflate level 10") != NULL);
    nd_trial_storage st = {.deflate_level = 1};
    nd_trial_file *tf =
        nd_trial_file_create_with(dir, &m, 0, &st, path, sizeof path, err, sizeof err);
    CHECK(tf != NULL);
    if (!tf) return;
    enum { N = 20000 };
    static nd_sample sets[N];
    make_sets(sets, N, 0, 2);
    CHECK_EQ_INT(nd_trial_file_append(tf, sets, NULL, N, err, sizeof err), 0);
    uint64_t sizes[3];
    CHECK_EQ_INT(nd_trial_file_flush(tf, err, sizeof err), 0);
    CHECK_EQ_INT(nd_trial_file_storage_sizes(tf, sizes), 0);
    CHECK(sizes[2] < N * sizeof(uint64_t) / 4); /* seq (a counter) compresses well */
    CHECK_EQ_INT(nd_trial_file_close(tf, NULL, err, sizeof err), 0);
    nd_trial_reader *r = nd_trial_reader_open(path, err, sizeof err);
    CHECK(r != NULL);
    if (!r) return;
    static int32_t raw[N * 2];
    static double frc[N * 2];
    static uint64_t seq[N];
    CHECK_EQ_INT(nd_trial_reader_read_samples(r, 0, N, raw, frc, seq, err, sizeof err), 0);
    bool same = true;
    for (size_t i = 0; i < N; i++) {
        same &= seq[i] == sets[i].seq;
        for (int ch = 0; ch < 2; ch++) {
            same &= raw[i * 2 + (size_t)ch] == sets[i].raw[ch];
            double want = (sets[i].raw[ch] - m.calibration.offset[ch]) * m.calibration.gain[ch];
            same &= frc[i * 2 + (size_t)ch] == want;
        }
    }
    CHECK(same);
    nd_trial_reader_close(r);
}

int main(void)
{
    signal(SIGXFSZ, SIG_IGN);
    const char *dir = nd_test_tmpdir("trial_file");
    char base[4096];
    snprintf(base, sizeof base, "%s", dir);
    chmod(base, 0755); /* the unprivileged child must reach readonly/ */
    test_ids();
    test_chunking();
    test_round_trip(base);
    test_refusals(base);
    test_disk_full(base);
    test_swmr_and_in_use(base);
    test_schema_checks(base);
    test_recover_leaves_foreign_open_file(base);
    test_deflate_option(base);
    return nd_test_finish("test_trial_file");
}
