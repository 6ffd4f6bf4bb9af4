/* BIDS motion dataset (EXPORT.md "BIDS"): one session per trial, the force
 * channels typed MISC (BIDS motion has no force type) next to a LATENCY
 * channel carrying the host time of every sample from the clock pairs. The
 * dataset is built in a hidden folder and renamed into place when whole. */
#include <ctype.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_export_internal.h"

#define DATASET  "nordic_bids"
#define TASK     "nordic"
#define TRACKSYS "nordicboard"

/* BIDS labels are alphanumeric: drop '.', '_' and '-' from the ids. */
static void bids_label(const char *in, char *out, size_t cap)
{
    size_t k = 0;
    for (; *in && k + 1 < cap; in++)
        if (isalnum((unsigned char)*in)) out[k++] = *in;
    out[k] = '\0';
}

static int mkdir_p(const char *base, const char *rel, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    for (char *c = path + strlen(base) + 1; *c; c++) {
        if (*c != '/') continue;
        *c = '\0';
        if (mkdir(path, 0755) < 0 && errno != EEXIST) goto fail;
        *c = '/';
    }
    if (mkdir(path, 0755) < 0 && errno != EEXIST) goto fail;
    return 0;
fail:
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
}

static FILE *open_in(const char *base, const char *rel, char *err, size_t errlen)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    FILE *f = fopen(path, "w");
    if (!f) snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    if (f) setvbuf(f, NULL, _IOFBF, 1 << 20);
    return f;
}

static int close_checked(FILE *f, const char *what, char *err, size_t errlen)
{
    int bad = fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0) bad = 1;
    if (bad) snprintf(err, errlen, "writing %s failed: %s", what, strerror(e ? e : EIO));
    return bad ? -1 : 0;
}

static void put_tsv_num(FILE *f, double v)
{
    nd_export_put_num(f, v, "n/a");
}

/* TSV text cells may not hold tabs or newlines. */
static void put_tsv_text(FILE *f, const char *s)
{
    if (!*s) {
        fputs("n/a", f);
        return;
    }
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static const char *side_name(nd_side s)
{
    return s == ND_SIDE_LEFT ? "left" : s == ND_SIDE_RIGHT ? "right" : "none";
}

static int write_top(const char *root, nd_export_trial *ts, size_t n, char **subs, char *err,
                     size_t errlen)
{
    FILE *f = open_in(root, "dataset_description.json", err, errlen);
    if (!f) return -1;
    fprintf(f, "{\n  \"Name\": \"Nordic hamstring curl trials (nordicd export)\",\n"
               "  \"BIDSVersion\": \"1.9.0\",\n  \"DatasetType\": \"raw\",\n"
               "  \"GeneratedBy\": [{\"Name\": \"nordic-trial export\", \"Version\": ");
    nd_export_put_json(f, ts[0].in->meta.software_version);
    fprintf(f, "}]\n}\n");
    if (close_checked(f, "dataset_description.json", err, errlen) < 0) return -1;

    f = open_in(root, "README", err, errlen);
    if (!f) return -1;
    fprintf(f, "Nordic hamstring curl trials exported from nordicd trial files (HDF5, schema\n"
               "nordic-trial). One session per trial; motion files hold a LATENCY channel (host\n"
               "time of each sample from the trial's clock pairs) and one MISC channel per load\n"
               "cell in newtons. Events are the detected reps and the trial's events.\n");
    if (close_checked(f, "README", err, errlen) < 0) return -1;

    f = open_in(root, "participants.tsv", err, errlen);
    if (!f) return -1;
    fprintf(f, "participant_id\tbody_mass_kg\tinjured_side\n");
    for (size_t i = 0; i < n; i++) {
        bool first = true;
        for (size_t j = 0; j < i; j++)
            if (strcmp(subs[i], subs[j]) == 0) first = false;
        if (!first) continue;
        /* The latest trial of the athlete gives the body mass. */
        const nd_trial_meta *m = &ts[i].in->meta;
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(subs[i], subs[j]) == 0 && ts[j].in->meta.created_utc_s > m->created_utc_s)
                m = &ts[j].in->meta;
        fprintf(f, "sub-%s\t", subs[i]);
        put_tsv_num(f, m->subject.body_mass_kg > 0 ? m->subject.body_mass_kg : NAN);
        fprintf(f, "\t%s\n", side_name(m->subject.injured_side));
    }
    if (close_checked(f, "participants.tsv", err, errlen) < 0) return -1;

    f = open_in(root, "participants.json", err, errlen);
    if (!f) return -1;
    fprintf(f, "{\n  \"body_mass_kg\": {\"Description\": \"body mass as entered for the trial\", "
               "\"Units\": \"kg\"},\n"
               "  \"injured_side\": {\"Description\": \"injured leg as entered for the trial\", "
               "\"Levels\": {\"none\": \"no injured side\", \"left\": \"left leg\", \"right\": "
               "\"right leg\"}}\n}\n");
    return close_checked(f, "participants.json", err, errlen);
}

static int write_channels(const char *root, const char *prefix, const nd_export_trial *t, char *err,
                          size_t errlen)
{
    const nd_trial_meta *m = &t->in->meta;
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s_channels.tsv", prefix);
    FILE *f = open_in(root, rel, err, errlen);
    if (!f) return -1;
    fprintf(f, "name\tcomponent\ttype\ttracked_point\tunits\tdescription\n");
    fprintf(f, "latency\tn/a\tLATENCY\tn/a\ts\thost time of the sample from the clock pairs, s "
               "from the first sample\n");
    for (int ch = 0; ch < m->nch; ch++) {
        const char *point = ch == m->calibration.left_channel    ? "LeftAnkleHook"
                            : ch == m->calibration.right_channel ? "RightAnkleHook"
                                                                 : "AuxChannel";
        fprintf(f,
                "%s\tn/a\tMISC\t%s\tN\tcalibrated force of the load cell (BIDS motion has no "
                "force type)\n",
                m->channel_names[ch], point);
    }
    return close_checked(f, rel, err, errlen);
}

static int write_sidecar(const char *root, const char *prefix, const nd_export_trial *t, char *err,
                         size_t errlen)
{
    const nd_trial_meta *m = &t->in->meta;
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s_motion.json", prefix);
    FILE *f = open_in(root, rel, err, errlen);
    if (!f) return -1;
    fprintf(f, "{\n  \"TaskName\": \"%s\",\n  \"TaskDescription\": ", TASK);
    nd_export_put_json(f, m->protocol[0] ? m->protocol : "Nordic hamstring curl");
    fprintf(f, ",\n  \"SamplingFrequency\": %.17g,\n", m->sample_rate_hz);
    fprintf(f, "  \"RecordingDuration\": %.17g,\n", (double)t->in->samples / m->sample_rate_hz);
    fprintf(f, "  \"RecordingType\": \"continuous\",\n");
    fprintf(f, "  \"TrackingSystemName\": \"%s\",\n  \"Manufacturer\": \"nordicd\",\n", TRACKSYS);
    fprintf(f, "  \"ManufacturersModelName\": ");
    nd_export_put_json(f, m->device.model);
    fprintf(f, ",\n  \"DeviceSerialNumber\": ");
    nd_export_put_json(f, m->device.serial);
    fprintf(f, ",\n  \"SoftwareVersions\": ");
    nd_export_put_json(f, m->software_version);
    fprintf(f,
            ",\n  \"MISCChannelCount\": %d,\n  \"LATENCYChannelCount\": 1,\n"
            "  \"TrackedPointsCount\": %d,\n",
            m->nch, m->nch);
    fprintf(f, "  \"SubjectArtefactDescription\": \"n/a\"\n}\n");
    return close_checked(f, rel, err, errlen);
}

static int write_motion(const char *root, const char *prefix, nd_export_trial *t, char *err,
                        size_t errlen)
{
    const int nch = t->in->meta.nch;
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s_motion.tsv", prefix);
    FILE *f = open_in(root, rel, err, errlen);
    if (!f) return -1;
    double *force = malloc(ND_EXPORT_SLICE_ROWS * (size_t)nch * sizeof *force);
    if (!force) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    nd_export_clock_cursor cur;
    nd_export_cursor_init(&cur, t);
    double t0 = t->in->samples ? nd_export_mono_s(&cur, 0) : 0;
    int rc = 0;
    for (uint64_t first = 0; first < t->in->samples; first += ND_EXPORT_SLICE_ROWS) {
        size_t n = t->in->samples - first < ND_EXPORT_SLICE_ROWS ? (size_t)(t->in->samples - first)
                                                                 : ND_EXPORT_SLICE_ROWS;
        char why[512];
        if (nd_trial_reader_read_samples(t->r, first, n, NULL, force, NULL, why, sizeof why) < 0) {
            snprintf(err, errlen, "cannot export %s: damaged at sample set %llu: %s", t->path,
                     (unsigned long long)first, why);
            rc = -1;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            fprintf(f, "%.6f", nd_export_mono_s(&cur, first + i) - t0);
            for (int ch = 0; ch < nch; ch++) {
                fputc('\t', f);
                nd_export_put_exact(f, force[i * (size_t)nch + (size_t)ch], "n/a");
            }
            fputc('\n', f);
        }
    }
    free(force);
    if (rc < 0) {
        fclose(f);
        return -1;
    }
    return close_checked(f, rel, err, errlen);
}

static int write_events(const char *root, const char *prefix_events, const nd_export_trial *t,
                        char *err, size_t errlen)
{
    const double fs = t->in->meta.sample_rate_hz;
    char rel[PATH_MAX];
    snprintf(rel, sizeof rel, "%s_events.tsv", prefix_events);
    FILE *f = open_in(root, rel, err, errlen);
    if (!f) return -1;
    fprintf(f, "onset\tduration\ttrial_type\tvalue\tpeak_left_N\tpeak_right_N\n");
    /* Reps and events in time order (both tables are stored in time order). */
    size_t i = 0, j = 0;
    while (i < t->n_reps || j < t->n_events) {
        double rep_t = i < t->n_reps ? (double)t->reps[i].i_open / fs : INFINITY;
        double ev_t = j < t->n_events ? t->events[j].t_s : INFINITY;
        if (rep_t <= ev_t) {
            const nd_rep_result *r = &t->reps[i++];
            put_tsv_num(f, rep_t);
            fputc('\t', f);
            put_tsv_num(f, (double)(r->i_end - r->i_open) / fs);
            fprintf(f, "\trep\t%u\t", r->index);
            put_tsv_num(f, r->peak_N[0]);
            fputc('\t', f);
            put_tsv_num(f, r->peak_N[1]);
            fputc('\n', f);
        } else {
            const nd_trial_event *e = &t->events[j++];
            put_tsv_num(f, e->t_s);
            fputs("\t0\t", f);
            put_tsv_text(f, e->kind);
            fputc('\t', f);
            put_tsv_text(f, e->detail);
            fputs("\tn/a\tn/a\n", f);
        }
    }
    if (close_checked(f, rel, err, errlen) < 0) return -1;
    snprintf(rel, sizeof rel, "%s_events.json", prefix_events);
    f = open_in(root, rel, err, errlen);
    if (!f) return -1;
    fprintf(f,
            "{\n  \"onset\": {\"Description\": \"row of the sample divided by the sample rate\", "
            "\"Units\": \"s\"},\n"
            "  \"trial_type\": {\"Description\": \"rep (a detected repetition) or the kind of a "
            "trial event (tare, calibration, gap, pain, mark, ...)\"},\n"
            "  \"value\": {\"Description\": \"rep number, or the event's detail text\"},\n"
            "  \"peak_left_N\": {\"Description\": \"peak filtered force of the left leg in the "
            "rep\", \"Units\": \"N\"},\n"
            "  \"peak_right_N\": {\"Description\": \"peak filtered force of the right leg in the "
            "rep\", \"Units\": \"N\"}\n}\n");
    return close_checked(f, rel, err, errlen);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int build(const char *tmp, nd_export_trial *ts, size_t n, char **subs, char **sess,
                 char *err, size_t errlen)
{
    if (write_top(tmp, ts, n, subs, err, errlen) < 0) return -1;
    for (size_t i = 0; i < n; i++) {
        char dir[PATH_MAX], prefix[PATH_MAX], prefix_ev[PATH_MAX];
        snprintf(dir, sizeof dir, "sub-%s/ses-%s/motion", subs[i], sess[i]);
        snprintf(prefix, sizeof prefix, "%s/sub-%s_ses-%s_task-%s_tracksys-%s", dir, subs[i],
                 sess[i], TASK, TRACKSYS);
        snprintf(prefix_ev, sizeof prefix_ev, "%s/sub-%s_ses-%s_task-%s", dir, subs[i], sess[i],
                 TASK);
        if (mkdir_p(tmp, dir, err, errlen) < 0 ||
            write_channels(tmp, prefix, &ts[i], err, errlen) ||
            write_sidecar(tmp, prefix, &ts[i], err, errlen) < 0 ||
            write_motion(tmp, prefix, &ts[i], err, errlen) < 0 ||
            write_events(tmp, prefix_ev, &ts[i], err, errlen) < 0)
            return -1;
    }
    return 0;
}

int nd_export_bids(nd_export_trial *ts, size_t n, const char *dir, FILE *written, char *err,
                   size_t errlen)
{
    char final_path[PATH_MAX], tmp[PATH_MAX];
    snprintf(final_path, sizeof final_path, "%s/%s", dir, DATASET);
    snprintf(tmp, sizeof tmp, "%s/.%s.partial", dir, DATASET);
    if (access(final_path, F_OK) == 0) {
        snprintf(err, errlen, "%s already exists (refusing to overwrite a dataset)", final_path);
        return -1;
    }
    char(*subs)[80] = calloc(n, sizeof *subs);
    char(*sess)[32] = calloc(n, sizeof *sess);
    char **sp = calloc(n, sizeof *sp), **ep = calloc(n, sizeof *ep);
    int rc = subs && sess && sp && ep ? 0 : -1;
    if (rc < 0) snprintf(err, errlen, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const nd_trial_meta *m = &ts[i].in->meta;
        bids_label(m->athlete_id, subs[i], sizeof subs[i]);
        char iso[32];
        snprintf(iso, sizeof iso, "%s", ts[i].in->created_utc);
        bids_label(iso, sess[i], sizeof sess[i]); /* 2024-05-01T12:34:56Z -> 20240501T123456Z */
        sp[i] = subs[i];
        ep[i] = sess[i];
        if (!sess[i][0]) {
            snprintf(err, errlen, "%s: no created_utc attribute to name its BIDS session",
                     ts[i].path);
            rc = -1;
        } else if (!subs[i][0]) {
            snprintf(err, errlen, "%s: athlete id '%s' has no letters or digits for a BIDS label",
                     ts[i].path, m->athlete_id);
            rc = -1;
        }
        for (size_t j = 0; rc == 0 && j < i; j++) {
            if (strcmp(subs[i], subs[j]) == 0 &&
                strcmp(ts[i].in->meta.athlete_id, ts[j].in->meta.athlete_id) != 0) {
                snprintf(err, errlen, "athlete ids '%s' and '%s' both become BIDS label sub-%s",
                         ts[j].in->meta.athlete_id, m->athlete_id, subs[i]);
                rc = -1;
            } else if (strcmp(subs[i], subs[j]) == 0 && strcmp(sess[i], sess[j]) == 0) {
                snprintf(err, errlen, "%s and %s: same athlete and start second (one BIDS session)",
                         ts[j].path, ts[i].path);
                rc = -1;
            }
        }
    }
    if (rc == 0) {
        nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS); /* a leftover of a killed export */
        if (mkdir(tmp, 0755) < 0) {
            snprintf(err, errlen, "cannot create %s: %s", tmp, strerror(errno));
            rc = -1;
        }
        if (rc == 0) rc = build(tmp, ts, n, sp, ep, err, errlen);
        if (rc == 0 && rename(tmp, final_path) < 0) {
            snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, final_path, strerror(errno));
            rc = -1;
        }
        if (rc < 0) nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    }
    free(subs);
    free(sess);
    free(sp);
    free(ep);
    if (rc == 0 && written) fprintf(written, "%s\n", final_path);
    return rc;
}
