/* XDF 1.0 export (EXPORT.md "XDF"): a Force stream with every sample set, a
 * Markers stream for reps and events, ClockOffset chunks from the clock
 * pairs and a StreamFooter per stream. Chunk layout from the XDF
 * specification (sccn/xdf wiki, "Specifications"): little-endian,
 * [NumLengthBytes][Length][Tag][Content], Length counting the tag. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nd_export_internal.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the XDF writer stores native little-endian numbers"
#endif

enum {
    TAG_FILE_HEADER = 1,
    TAG_STREAM_HEADER = 2,
    TAG_SAMPLES = 3,
    TAG_CLOCK_OFFSET = 4,
    TAG_STREAM_FOOTER = 6
};
enum { STREAM_FORCE = 1, STREAM_MARKERS = 2 };

/* XDF variable-length integer: 1, 4 or 8 bytes after a byte giving the width. */
static size_t varlen_size(uint64_t v)
{
    return v <= 0xff ? 2 : v <= 0xffffffffu ? 5 : 9;
}

static size_t put_varlen(uint8_t *p, uint64_t v)
{
    if (v <= 0xff) {
        p[0] = 1;
        p[1] = (uint8_t)v;
        return 2;
    }
    if (v <= 0xffffffffu) {
        uint32_t w = (uint32_t)v;
        p[0] = 4;
        memcpy(p + 1, &w, 4);
        return 5;
    }
    p[0] = 8;
    memcpy(p + 1, &v, 8);
    return 9;
}

/* Chunk head: length of tag + content, then the tag. */
static void chunk_head(FILE *f, uint64_t content_len, uint16_t tag)
{
    uint8_t b[9];
    size_t n = put_varlen(b, content_len + 2);
    fwrite(b, 1, n, f);
    fwrite(&tag, 2, 1, f);
}

/* A chunk whose content is [StreamID] + text (or just text for stream 0). */
static void text_chunk(FILE *f, uint16_t tag, uint32_t stream, const char *text, size_t len)
{
    chunk_head(f, len + (stream ? 4 : 0), tag);
    if (stream) fwrite(&stream, 4, 1, f);
    fwrite(text, 1, len, f);
}

static void put_xml_num(FILE *f, const char *tag, double v)
{
    fprintf(f, "<%s>", tag);
    nd_export_put_num(f, v, "NaN");
    fprintf(f, "</%s>", tag);
}

static void put_xml_text(FILE *f, const char *tag, const char *v)
{
    fprintf(f, "<%s>", tag);
    nd_export_put_xml(f, v);
    fprintf(f, "</%s>", tag);
}

/* Builds XML in memory (open_memstream) so the chunk length is known. */
static char *force_header(const nd_export_trial *t, size_t *len)
{
    const nd_trial_meta *m = &t->in->meta;
    char *buf = NULL;
    FILE *x = open_memstream(&buf, len);
    if (!x) return NULL;
    fputs("<?xml version=\"1.0\"?><info>", x);
    put_xml_text(x, "name", "NordicForce");
    put_xml_text(x, "type", "Force");
    fprintf(x, "<channel_count>%d</channel_count>", m->nch);
    put_xml_num(x, "nominal_srate", m->sample_rate_hz);
    put_xml_text(x, "channel_format", "double64");
    fputs("<source_id>", x);
    nd_export_put_xml(x, m->device.serial);
    fputs(":", x);
    nd_export_put_xml(x, m->trial_id);
    fputs("</source_id>", x);
    put_xml_text(x, "version", "1.1");
    put_xml_text(x, "uid", m->trial_id);
    fputs("<desc><channels>", x);
    for (int ch = 0; ch < m->nch; ch++) {
        const char *leg = ch == m->calibration.left_channel    ? "left"
                          : ch == m->calibration.right_channel ? "right"
                                                               : "none";
        fputs("<channel>", x);
        put_xml_text(x, "label", m->channel_names[ch]);
        put_xml_text(x, "unit", "N");
        put_xml_text(x, "type", "Force");
        put_xml_text(x, "leg", leg);
        fputs("</channel>", x);
    }
    fputs("</channels><acquisition>", x);
    put_xml_text(x, "manufacturer", "nordicd");
    put_xml_text(x, "model", m->device.model);
    put_xml_text(x, "serial_number", m->device.serial);
    put_xml_text(x, "firmware", m->device.fw);
    put_xml_text(x, "software", m->software_version);
    fputs("</acquisition><trial>", x);
    put_xml_text(x, "trial_id", m->trial_id);
    put_xml_text(x, "athlete_id", m->athlete_id);
    put_xml_text(x, "created_utc", t->in->created_utc);
    put_xml_text(x, "status", t->in->status);
    put_xml_num(x, "body_mass_kg", m->subject.body_mass_kg);
    put_xml_num(x, "lever_m", m->subject.lever_m);
    put_xml_text(x, "protocol", m->protocol);
    fputs("</trial><clock>", x);
    put_xml_text(x, "stream_clock", t->n_clock ? "host CLOCK_MONOTONIC (s)" : "trial time (s)");
    put_xml_text(x, "synchronized_clock", "UTC, Unix seconds");
    fprintf(x, "<clock_pairs>%zu</clock_pairs>", t->n_clock);
    fputs("</clock></desc></info>", x);
    if (fclose(x) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static char *marker_header(const nd_export_trial *t, size_t *len)
{
    char *buf = NULL;
    FILE *x = open_memstream(&buf, len);
    if (!x) return NULL;
    fputs("<?xml version=\"1.0\"?><info>", x);
    put_xml_text(x, "name", "NordicMarkers");
    put_xml_text(x, "type", "Markers");
    fputs("<channel_count>1</channel_count><nominal_srate>0</nominal_srate>"
          "<channel_format>string</channel_format>",
          x);
    fputs("<source_id>", x);
    nd_export_put_xml(x, t->in->meta.device.serial);
    fputs(":", x);
    nd_export_put_xml(x, t->in->meta.trial_id);
    fputs(":markers</source_id>", x);
    put_xml_text(x, "version", "1.1");
    fputs("<desc><channels><channel><label>marker</label><type>Marker</type></channel>"
          "</channels></desc></info>",
          x);
    if (fclose(x) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

typedef struct marker {
    uint64_t row;
    size_t order; /* ties keep reps before events, each in file order */
    char text[320];
} marker;

static int marker_cmp(const void *a, const void *b)
{
    const marker *x = a, *y = b;
    if (x->row != y->row) return x->row < y->row ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* EXPORT.md "Markers": rep start/end at their sample rows, events at
 * round(t_s * fs). */
static marker *collect_markers(const nd_export_trial *t, size_t *n_out)
{
    size_t n = 2 * t->n_reps + t->n_events;
    marker *mk = calloc(n ? n : 1, sizeof *mk);
    if (!mk) return NULL;
    size_t k = 0;
    const double fs = t->in->meta.sample_rate_hz;
    for (size_t i = 0; i < t->n_reps; i++) {
        const nd_rep_result *r = &t->reps[i];
        mk[k].row = r->i_open;
        snprintf(mk[k++].text, sizeof mk->text, "rep_start %u", r->index);
        mk[k].row = r->i_end;
        snprintf(mk[k++].text, sizeof mk->text, "rep_end %u peak_left_N=%.17g peak_right_N=%.17g",
                 r->index, r->peak_N[0], r->peak_N[1]);
    }
    for (size_t i = 0; i < t->n_events; i++) {
        const nd_trial_event *e = &t->events[i];
        double row = round(e->t_s * fs);
        mk[k].row = row > 0 ? (uint64_t)row : 0;
        snprintf(mk[k++].text, sizeof mk->text, "%s: %s", e->kind, e->detail);
    }
    for (size_t i = 0; i < k; i++) mk[i].order = i;
    qsort(mk, k, sizeof *mk, marker_cmp);
    *n_out = k;
    return mk;
}

static void write_clock_offsets(FILE *f, const nd_export_trial *t, uint32_t stream)
{
    for (size_t k = 0; k < t->n_clock; k++) {
        const nd_trial_clock_row *c = &t->clock[k];
        double when = (double)c->host_monotonic_ns / 1e9;
        double offset = (double)(c->host_realtime_ns - (int64_t)c->host_monotonic_ns) / 1e9;
        chunk_head(f, 4 + 16, TAG_CLOCK_OFFSET);
        fwrite(&stream, 4, 1, f);
        fwrite(&when, 8, 1, f);
        fwrite(&offset, 8, 1, f);
    }
}

static int write_footer(FILE *f, const nd_export_trial *t, uint32_t stream, double first,
                        double last, uint64_t count, double srate)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *x = open_memstream(&buf, &len);
    if (!x) return -1;
    fputs("<?xml version=\"1.0\"?><info>", x);
    put_xml_num(x, "first_timestamp", first);
    put_xml_num(x, "last_timestamp", last);
    fprintf(x, "<sample_count>%llu</sample_count>", (unsigned long long)count);
    put_xml_num(x, "measured_srate", srate);
    fputs("<clock_offsets>", x);
    for (size_t k = 0; k < t->n_clock; k++) {
        const nd_trial_clock_row *c = &t->clock[k];
        fputs("<offset>", x);
        put_xml_num(x, "time", (double)c->host_monotonic_ns / 1e9);
        put_xml_num(x, "value",
                    (double)(c->host_realtime_ns - (int64_t)c->host_monotonic_ns) / 1e9);
        fputs("</offset>", x);
    }
    fputs("</clock_offsets></info>", x);
    if (fclose(x) != 0) {
        free(buf);
        return -1;
    }
    text_chunk(f, TAG_STREAM_FOOTER, stream, buf, len);
    free(buf);
    return 0;
}

static int write_samples(FILE *f, nd_export_trial *t, double *first_ts, double *last_ts, char *err,
                         size_t errlen)
{
    const int nch = t->in->meta.nch;
    const uint64_t total = t->in->samples;
    const size_t row_bytes = 1 + 8 + 8 * (size_t)nch;
    double *force = malloc(ND_EXPORT_SLICE_ROWS * (size_t)nch * sizeof *force);
    uint8_t *chunk = malloc(ND_EXPORT_SLICE_ROWS * row_bytes);
    if (!force || !chunk) {
        free(force);
        free(chunk);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    nd_export_clock_cursor cur;
    nd_export_cursor_init(&cur, t);
    int rc = 0;
    const uint32_t stream = STREAM_FORCE;
    for (uint64_t first = 0; first < total; first += ND_EXPORT_SLICE_ROWS) {
        size_t n =
            total - first < ND_EXPORT_SLICE_ROWS ? (size_t)(total - first) : ND_EXPORT_SLICE_ROWS;
        char why[512];
        if (nd_trial_reader_read_samples(t->r, first, n, NULL, force, NULL, why, sizeof why) < 0) {
            snprintf(err, errlen, "cannot export %s: damaged at sample set %llu: %s", t->path,
                     (unsigned long long)first, why);
            rc = -1;
            break;
        }
        uint8_t *p = chunk;
        for (size_t i = 0; i < n; i++) {
            double ts = nd_export_mono_s(&cur, first + i);
            if (first + i == 0) *first_ts = ts;
            *last_ts = ts;
            *p++ = 8; /* every sample carries its own time stamp */
            memcpy(p, &ts, 8);
            p += 8;
            memcpy(p, force + i * (size_t)nch, 8 * (size_t)nch);
            p += 8 * (size_t)nch;
        }
        uint8_t head[9];
        size_t hn = put_varlen(head, n);
        chunk_head(f, 4 + hn + n * row_bytes, TAG_SAMPLES);
        fwrite(&stream, 4, 1, f);
        fwrite(head, 1, hn, f);
        fwrite(chunk, 1, n * row_bytes, f);
    }
    free(force);
    free(chunk);
    return rc;
}

static void write_markers(FILE *f, const nd_export_trial *t, const marker *mk, size_t n,
                          double *first_ts, double *last_ts)
{
    if (n == 0) return;
    nd_export_clock_cursor cur;
    nd_export_cursor_init(&cur, t);
    uint64_t len = 4 + varlen_size(n);
    for (size_t i = 0; i < n; i++) {
        size_t sl = strlen(mk[i].text);
        len += 1 + 8 + varlen_size(sl) + sl;
    }
    chunk_head(f, len, TAG_SAMPLES);
    uint32_t stream = STREAM_MARKERS;
    fwrite(&stream, 4, 1, f);
    uint8_t b[9];
    fwrite(b, 1, put_varlen(b, n), f);
    for (size_t i = 0; i < n; i++) {
        double ts = nd_export_mono_s(&cur, mk[i].row);
        if (i == 0) *first_ts = ts;
        *last_ts = ts;
        uint8_t eight = 8;
        fwrite(&eight, 1, 1, f);
        fwrite(&ts, 8, 1, f);
        size_t sl = strlen(mk[i].text);
        fwrite(b, 1, put_varlen(b, sl), f);
        fwrite(mk[i].text, 1, sl, f);
    }
}

int nd_export_xdf(nd_export_trial *t, const char *dir, FILE *written, char *err, size_t errlen)
{
    char name[300];
    snprintf(name, sizeof name, "%s.xdf", t->stem);
    size_t n_markers = 0;
    marker *mk = collect_markers(t, &n_markers);
    size_t fh_len = 0, mh_len = 0;
    char *fh = force_header(t, &fh_len), *mh = marker_header(t, &mh_len);
    if (!mk || !fh || !mh) {
        free(mk);
        free(fh);
        free(mh);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    nd_export_out o;
    if (nd_export_out_open(&o, dir, name, err, errlen) < 0) {
        free(mk);
        free(fh);
        free(mh);
        return -1;
    }
    FILE *f = o.f;
    fputs("XDF:", f);
    static const char file_header[] = "<?xml version=\"1.0\"?><info><version>1.0</version>"
                                      "<writer>nordicd nordic-trial export</writer></info>";
    text_chunk(f, TAG_FILE_HEADER, 0, file_header, sizeof file_header - 1);
    text_chunk(f, TAG_STREAM_HEADER, STREAM_FORCE, fh, fh_len);
    text_chunk(f, TAG_STREAM_HEADER, STREAM_MARKERS, mh, mh_len);
    double f_first = 0, f_last = 0, m_first = 0, m_last = 0;
    int rc = write_samples(f, t, &f_first, &f_last, err, errlen);
    if (rc == 0) {
        write_markers(f, t, mk, n_markers, &m_first, &m_last);
        write_clock_offsets(f, t, STREAM_FORCE);
        write_clock_offsets(f, t, STREAM_MARKERS);
        double span = f_last - f_first;
        double measured = t->in->samples > 1 && span > 0 ? (double)(t->in->samples - 1) / span : 0;
        if (write_footer(f, t, STREAM_FORCE, f_first, f_last, t->in->samples, measured) < 0 ||
            write_footer(f, t, STREAM_MARKERS, m_first, m_last, n_markers, 0) < 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
    }
    free(mk);
    free(fh);
    free(mh);
    if (rc < 0) {
        nd_export_out_abort(&o);
        return -1;
    }
    if (nd_export_out_commit(&o, err, errlen) < 0) return -1;
    if (written) fprintf(written, "%s\n", o.final_path);
    return 0;
}
