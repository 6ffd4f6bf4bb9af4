/* Output helpers shared by the nordic-report writers. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

void nd_report_put_num(FILE *f, double v)
{
    if (isnan(v)) {
        fputs("NaN", f);
        return;
    }
    /* Shortest text that reads back to the same double. */
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    fputs(buf, f);
}

void nd_report_put_text(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

void nd_report_flags(const nd_trial_summary *s, char *out, size_t outlen)
{
    const char *names[] = {"weak_left", "weak_right", "imbalance", "pain"};
    const bool on[] = {s->weak_left, s->weak_right, s->imbalance, s->pain};
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < 4; i++) {
        if (!on[i]) continue;
        int w = snprintf(out + len, outlen - len, "%s%s", len ? ";" : "", names[i]);
        if (w < 0 || (size_t)w >= outlen - len) break;
        len += (size_t)w;
    }
}

void nd_report_stem(const char *path, char *out, size_t outlen)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 3 && strcmp(base + len - 3, ".h5") == 0) len -= 3;
    snprintf(out, outlen, "%.*s", (int)len, base);
}

FILE *nd_report_begin(const char *path, char *tmp, size_t tmplen)
{
    if (snprintf(tmp, tmplen, "%s.tmp", path) >= (int)tmplen) {
        fprintf(stderr, "nordic-report: output path too long: %s\n", path);
        return NULL;
    }
    FILE *f = fopen(tmp, "w");
    if (!f) fprintf(stderr, "nordic-report: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

int nd_report_finish(FILE *f, const char *tmp, const char *path)
{
    int rc = ferror(f) ? -1 : 0;
    int saved = errno;
    if (fclose(f) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        fprintf(stderr, "nordic-report: writing %s failed: %s\n", path, strerror(saved));
        unlink(tmp);
    }
    return rc;
}

void nd_report_put_row_start(FILE *f, const nd_report_trial *p)
{
    nd_report_put_text(f, p->path);
    const char *cols[] = {p->info.meta.trial_id, p->info.meta.athlete_id, p->info.created_utc,
                          p->recomputed ? "recomputed" : "stored"};
    for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
        fputc(',', f);
        nd_report_put_text(f, cols[i]);
    }
}

void nd_report_field_num(FILE *f, double v)
{
    fputc(',', f);
    nd_report_put_num(f, v);
}

void nd_report_field_text(FILE *f, const char *s)
{
    fputc(',', f);
    nd_report_put_text(f, s);
}
