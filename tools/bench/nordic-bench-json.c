/* nordic-bench-json: formatting the hot live messages (`live` at 50 Hz and
 * 50-point `wave` blocks, header included) with the daemon's text writer
 * (nd_json_writer + nd_messages_text) against the peer it replaced: a cJSON
 * tree per message (body built, its items moved under a header object as the
 * publisher's send_body does) printed with cJSON_PrintUnformatted. Both
 * format the same messages; the program checks that both texts parse (cJSON)
 * to the same values before timing. A benchmark, not a test.
 *
 * Usage: nordic-bench-json [--messages N (1000000)] [--runs R (3, best of)] */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "bench_proc.h"
#include "nd_messages_text.h"

#define WAVE_POINTS 50
#define VARIANTS    64 /* distinct messages cycled through */

static double rand_force(unsigned *seed)
{
    return (double)rand_r(seed) / RAND_MAX * 605.0 - 5.0;
}

/* ---- the peer: cJSON, as the publisher formatted these topics before ---- */

static cJSON *add_number_or_null(cJSON *o, const char *name, double v)
{
    return isfinite(v) ? cJSON_AddNumberToObject(o, name, v) : cJSON_AddNullToObject(o, name);
}

static cJSON *cjson_live_body(const nd_live_msg *m)
{
    cJSON *o = cJSON_CreateObject();
    add_number_or_null(o, "left_N", m->state.force_N[0]);
    add_number_or_null(o, "right_N", m->state.force_N[1]);
    add_number_or_null(o, "total_N", m->state.force_N[0] + m->state.force_N[1]);
    cJSON_AddBoolToObject(o, "rep_open", m->state.rep_open);
    add_number_or_null(o, "running_peak_left_N", m->state.running_peak_N[0]);
    add_number_or_null(o, "running_peak_right_N", m->state.running_peak_N[1]);
    cJSON_AddNumberToObject(o, "reps", m->state.reps);
    cJSON_AddNumberToObject(o, "samples", (double)m->state.samples);
    if (m->host_ns) cJSON_AddNumberToObject(o, "host_ns", (double)m->host_ns);
    if (m->sets.phase != ND_SET_PHASE_NONE)
        cJSON_AddItemToObject(o, "set", nd_json_set_live(&m->sets));
    return o;
}

static cJSON *cjson_wave_body(const nd_wave_block *b)
{
    cJSON *o = cJSON_CreateObject();
    add_number_or_null(o, "t0", b->t0_s);
    add_number_or_null(o, "dt", b->dt_s);
    cJSON_AddNumberToObject(o, "decimation", b->decimation);
    cJSON_AddNumberToObject(o, "n", b->n);
    cJSON *l = cJSON_AddArrayToObject(o, "left_N");
    cJSON *r = cJSON_AddArrayToObject(o, "right_N");
    for (unsigned i = 0; i < b->n; i++) {
        cJSON_AddItemToArray(l, cJSON_CreateNumber(round(b->left_N[i] * 100) / 100));
        cJSON_AddItemToArray(r, cJSON_CreateNumber(round(b->right_N[i] * 100) / 100));
    }
    cJSON_AddNumberToObject(o, "host_ns", (double)b->host_ns);
    cJSON_AddNumberToObject(o, "host_ns_oldest", (double)b->host_ns_oldest);
    return o;
}

static char *cjson_message(uint64_t seq, const char *trial_id, double t_s, double uptime,
                           cJSON *body)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON_AddNumberToObject(msg, "v", 1);
    cJSON_AddNumberToObject(msg, "seq", (double)seq);
    add_number_or_null(msg, "t", t_s);
    cJSON_AddStringToObject(msg, "trial_id", trial_id);
    cJSON_AddNumberToObject(msg, "uptime_s", uptime);
    for (cJSON *it = body->child; it;) {
        cJSON *next = it->next;
        cJSON *item = cJSON_DetachItemViaPointer(body, it);
        if (cJSON_GetObjectItemCaseSensitive(msg, item->string))
            cJSON_Delete(item);
        else
            cJSON_AddItemToObject(msg, item->string, item);
        it = next;
    }
    char *text = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    cJSON_Delete(body);
    return text;
}

/* ---- ours: the text writer the publisher uses ---- */

static ssize_t text_message(char *buf, size_t cap, uint64_t seq, const char *trial_id, double t_s,
                            double uptime, const nd_live_msg *live, const nd_wave_block *wave)
{
    nd_json_writer w;
    nd_jw_init(&w, buf, cap);
    nd_jw_begin_object(&w);
    nd_jw_key(&w, "v");
    nd_jw_int(&w, 1);
    nd_jw_key(&w, "seq");
    nd_jw_uint(&w, seq);
    nd_jw_key(&w, "t");
    nd_jw_double(&w, t_s);
    nd_jw_key(&w, "trial_id");
    nd_jw_string(&w, trial_id);
    nd_jw_key(&w, "uptime_s");
    nd_jw_double(&w, uptime);
    if (live) nd_text_live_fields(&w, live);
    if (wave) nd_text_wave_fields(&w, wave);
    nd_jw_end_object(&w);
    return nd_jw_finish(&w);
}

static nd_live_msg lives[VARIANTS];
static nd_wave_block waves[VARIANTS];

static void make_messages(void)
{
    unsigned seed = 7;
    for (int i = 0; i < VARIANTS; i++) {
        nd_live_msg *m = &lives[i];
        memset(m, 0, sizeof *m);
        m->state.force_N[0] = rand_force(&seed);
        m->state.force_N[1] = rand_force(&seed);
        m->state.rep_open = i % 2;
        m->state.running_peak_N[0] = i % 2 ? rand_force(&seed) : 0;
        m->state.running_peak_N[1] = i % 2 ? rand_force(&seed) : 0;
        m->state.reps = (uint32_t)i / 4;
        m->state.samples = 1000000 + 20 * (uint64_t)i;
        m->host_ns = 86400000000000ull + 20000000ull * (uint64_t)i;
        if (i % 2) { /* a session's set object on half of them */
            m->sets.phase = ND_SET_PHASE_ACTIVE;
            m->sets.set = 1, m->sets.sets_planned = 3, m->sets.rep = 2, m->sets.reps_planned = 6;
        }
        nd_wave_block *b = &waves[i];
        memset(b, 0, sizeof *b);
        b->t0_s = i * 0.05, b->dt_s = 0.01, b->decimation = 10, b->n = WAVE_POINTS;
        for (int k = 0; k < WAVE_POINTS; k++) {
            b->left_N[k] = rand_force(&seed);
            b->right_N[k] = rand_force(&seed);
        }
        b->host_ns = m->host_ns, b->host_ns_oldest = m->host_ns - 50000000ull;
    }
}

/* Both texts parse to the same values. cJSON's own round-trip check is
 * approximate (within DBL_EPSILON relative), so its text may read back one
 * ulp away from the double it printed; the writer's reads back exactly. */
static bool same_json(const cJSON *a, const cJSON *b)
{
    if ((a->type & 0xff) != (b->type & 0xff)) return false;
    if (cJSON_IsNumber(a))
        return fabs(a->valuedouble - b->valuedouble) <= 2 * DBL_EPSILON * fabs(b->valuedouble);
    if (cJSON_IsString(a)) return !strcmp(a->valuestring, b->valuestring);
    if (cJSON_IsArray(a) || cJSON_IsObject(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x && y; x = x->next, y = y->next)
            if ((x->string || y->string) &&
                (!x->string || !y->string || strcmp(x->string, y->string)))
                return false;
            else if (!same_json(x, y))
                return false;
        return !x && !y;
    }
    return true;
}

static bool outputs_agree(void)
{
    static char buf[16384];
    for (int i = 0; i < VARIANTS; i++) {
        for (int kind = 0; kind < 2; kind++) {
            const nd_live_msg *l = kind ? NULL : &lives[i];
            const nd_wave_block *w = kind ? &waves[i] : NULL;
            char *peer = cjson_message((uint64_t)i, "T1", i * 0.02, 12.345 + i,
                                       l ? cjson_live_body(l) : cjson_wave_body(w));
            ssize_t n =
                text_message(buf, sizeof buf, (uint64_t)i, "T1", i * 0.02, 12.345 + i, l, w);
            cJSON *a = cJSON_Parse(peer), *b = n >= 0 ? cJSON_Parse(buf) : NULL;
            bool ok = a && b && same_json(a, b);
            if (!ok) fprintf(stderr, "cJSON:  %s\nwriter: %s\n", peer, n >= 0 ? buf : "(failed)");
            cJSON_Delete(a);
            cJSON_Delete(b);
            free(peer);
            if (!ok) return false;
        }
    }
    return true;
}

/* ns per message; out_bytes accumulates text length (keeps the work observable). */
static double time_peer(long n, bool wave, size_t *out_bytes)
{
    uint64_t t0 = bench_mono_ns();
    for (long i = 0; i < n; i++) {
        int v = (int)(i % VARIANTS);
        cJSON *body = wave ? cjson_wave_body(&waves[v]) : cjson_live_body(&lives[v]);
        char *text = cjson_message((uint64_t)i, "T1", i * 0.02, 12.345 + i * 0.02, body);
        *out_bytes += strlen(text);
        free(text);
    }
    return (double)(bench_mono_ns() - t0) / (double)n;
}

static double time_ours(long n, bool wave, size_t *out_bytes)
{
    static char buf[16384];
    uint64_t t0 = bench_mono_ns();
    for (long i = 0; i < n; i++) {
        int v = (int)(i % VARIANTS);
        ssize_t len = text_message(buf, sizeof buf, (uint64_t)i, "T1", i * 0.02, 12.345 + i * 0.02,
                                   wave ? NULL : &lives[v], wave ? &waves[v] : NULL);
        *out_bytes += (size_t)len;
    }
    return (double)(bench_mono_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    long messages = 1000000;
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--messages") && i + 1 < argc)
            messages = atol(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            runs = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: nordic-bench-json [--messages N (1000000)] [--runs R (3)]\n");
            return 2;
        }
    }
    if (messages < 1 || runs < 1) {
        fprintf(stderr, "nordic-bench-json: --messages and --runs must be >= 1\n");
        return 2;
    }
    make_messages();
    if (!outputs_agree()) {
        fprintf(stderr, "nordic-bench-json: the writer and cJSON disagree on a message\n");
        return 1;
    }
    printf("nordic-bench-json: %ld messages per kind, best of %d runs; both outputs parse to "
           "the same values\n",
           messages, runs);
    printf("%-28s %14s %14s %8s %12s\n", "message", "cJSON ns/msg", "writer ns/msg", "ratio",
           "bytes/msg");
    for (int wave = 0; wave < 2; wave++) {
        double best_peer = INFINITY, best_ours = INFINITY;
        size_t peer_bytes = 0, ours_bytes = 0;
        for (int r = 0; r < runs; r++) {
            double a = time_peer(messages, wave, &peer_bytes);
            double b = time_ours(messages, wave, &ours_bytes);
            if (a < best_peer) best_peer = a;
            if (b < best_ours) best_ours = b;
        }
        printf("%-28s %14.0f %14.0f %7.1fx %5.0f / %4.0f\n",
               wave ? "wave (50 points per leg)" : "live (half with set)", best_peer, best_ours,
               best_peer / best_ours, (double)peer_bytes / ((double)messages * runs),
               (double)ours_bytes / ((double)messages * runs));
    }
    return 0;
}
