#include "station_hub.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RING_SLOTS  STATION_HUB_RING_SLOTS
#define REPLIES_MAX 256
#define REPS_MAX    512
#define SETS_MAX    20 /* the daemon plans at most 20 sets */

typedef struct ring_item {
    int daemon;
    char *data;
    size_t len;
} ring_item;

typedef struct reply_item {
    uint64_t client;
    char *data;
    size_t len;
} reply_item;

typedef struct daemon_cache {
    char name[STATION_NAME_MAX + 1];
    char *status, *trial_start, *trial_stop; /* page envelopes */
    char *reps[REPS_MAX];
    int nreps;
    char *sets[SETS_MAX]; /* finished sets of the trial's protocol (issue 15) */
    int nsets;
    double status_at; /* CLOCK_MONOTONIC s of the last status, 0 = never */
    uint64_t messages;
} daemon_cache;

struct station_hub {
    pthread_mutex_t lock;
    ring_item ring[RING_SLOTS];
    uint64_t head; /* sequence number of the next message */
    reply_item replies[REPLIES_MAX];
    int nreplies;
    daemon_cache daemons[STATION_MAX_DAEMONS];
    int ndaemons;
    void (*wake)(void *);
    void *wake_arg;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

station_hub *station_hub_new(const station_config *c)
{
    station_hub *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->ndaemons = c->ndaemons;
    for (int i = 0; i < c->ndaemons; i++)
        snprintf(h->daemons[i].name, sizeof h->daemons[i].name, "%s", c->daemons[i].name);
    return h;
}

static void clear_trial(daemon_cache *d)
{
    free(d->trial_start);
    free(d->trial_stop);
    d->trial_start = d->trial_stop = NULL;
    for (int i = 0; i < d->nreps; i++) free(d->reps[i]);
    d->nreps = 0;
    for (int i = 0; i < d->nsets; i++) free(d->sets[i]);
    d->nsets = 0;
}

void station_hub_free(station_hub *h)
{
    if (!h) return;
    for (int i = 0; i < RING_SLOTS; i++) free(h->ring[i].data);
    for (int i = 0; i < h->nreplies; i++) free(h->replies[i].data);
    for (int i = 0; i < h->ndaemons; i++) {
        clear_trial(&h->daemons[i]);
        free(h->daemons[i].status);
    }
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void station_hub_set_wake(station_hub *h, void (*wake)(void *), void *arg)
{
    pthread_mutex_lock(&h->lock);
    h->wake = wake;
    h->wake_arg = arg;
    pthread_mutex_unlock(&h->lock);
}

int station_hub_daemon_index(const station_hub *h, const char *name)
{
    for (int i = 0; i < h->ndaemons; i++)
        if (!strcmp(h->daemons[i].name, name)) return i;
    return -1;
}

const char *station_hub_daemon_name(const station_hub *h, int daemon)
{
    return daemon >= 0 && daemon < h->ndaemons ? h->daemons[daemon].name : "";
}

int station_hub_daemon_count(const station_hub *h)
{
    return h->ndaemons;
}

static void wake(station_hub *h)
{
    void (*fn)(void *);
    void *arg;
    pthread_mutex_lock(&h->lock);
    fn = h->wake;
    arg = h->wake_arg;
    pthread_mutex_unlock(&h->lock);
    if (fn) fn(arg);
}

/* The daemon's payload is one JSON object (ZMQ_PROTOCOL.md); anything else is
 * not passed to pages. */
static bool plausible_object(const char *json, size_t len)
{
    if (len < 2 || json[0] != '{' || json[len - 1] != '}') return false;
    return memchr(json, 0, len) == NULL;
}

static char *envelope(const char *type, const char *daemon, const char *topic, const char *json,
                      size_t len, size_t *out_len)
{
    size_t cap = len + strlen(daemon) + 96;
    char *s = malloc(cap);
    if (!s) return NULL;
    int n = snprintf(s, cap, "{\"type\":\"%s\",\"daemon\":\"%s\",\"topic\":\"%s\",\"msg\":", type,
                     daemon, topic);
    memcpy(s + n, json, len);
    s[n + len] = '}';
    s[n + len + 1] = 0;
    *out_len = (size_t)n + len + 1;
    return s;
}

void station_hub_on_message(void *hub, int daemon, const char *topic, const char *json, size_t len)
{
    station_hub *h = hub;
    if (daemon < 0 || daemon >= h->ndaemons || !plausible_object(json, len)) return;
    static const char *topics[] = {"status", "live", "rep", "trial", "wave", "set"};
    bool known = false;
    for (size_t i = 0; i < sizeof topics / sizeof *topics; i++) known |= !strcmp(topic, topics[i]);
    if (!known) return;
    daemon_cache *d = &h->daemons[daemon];
    size_t elen;
    char *env = envelope("msg", d->name, topic, json, len, &elen);
    if (!env) return;

    pthread_mutex_lock(&h->lock);
    d->messages++;
    /* Keep what a page joining later needs. */
    if (!strcmp(topic, "status")) {
        free(d->status);
        d->status = strdup(env);
        d->status_at = mono_s();
    } else if (!strcmp(topic, "trial")) {
        bool start = strstr(json, "\"event\":\"start\"") != NULL;
        if (start) {
            clear_trial(d);
            d->trial_start = strdup(env);
        } else {
            free(d->trial_stop);
            d->trial_stop = strdup(env);
        }
    } else if (!strcmp(topic, "rep") && d->nreps < REPS_MAX) {
        d->reps[d->nreps++] = strdup(env);
    } else if (!strcmp(topic, "set") && d->nsets < SETS_MAX) {
        d->sets[d->nsets++] = strdup(env);
    }
    ring_item *it = &h->ring[h->head % RING_SLOTS];
    free(it->data);
    it->daemon = daemon;
    it->data = env;
    it->len = elen;
    h->head++;
    pthread_mutex_unlock(&h->lock);
    wake(h);
}

static void add_reply(station_hub *h, uint64_t client, char *data, size_t len)
{
    pthread_mutex_lock(&h->lock);
    if (h->nreplies == REPLIES_MAX) { /* a client that never reads loses its oldest */
        free(h->replies[0].data);
        memmove(h->replies, h->replies + 1, sizeof h->replies[0] * (REPLIES_MAX - 1));
        h->nreplies--;
    }
    h->replies[h->nreplies++] = (reply_item){client, data, len};
    pthread_mutex_unlock(&h->lock);
    wake(h);
}

void station_hub_on_reply(void *hub, int daemon, uint64_t client, long id, const char *json,
                          size_t len)
{
    station_hub *h = hub;
    const char *raw = json;
    size_t rlen = len;
    char fallback[] = "{\"ok\":false,\"error\":\"malformed reply from nordicd\"}";
    if (!plausible_object(json, len)) raw = fallback, rlen = strlen(fallback);
    const char *name = station_hub_daemon_name(h, daemon);
    size_t cap = rlen + strlen(name) + 96;
    char *s = malloc(cap);
    if (!s) return;
    int n =
        snprintf(s, cap, "{\"type\":\"reply\",\"id\":%ld,\"daemon\":\"%s\",\"reply\":", id, name);
    memcpy(s + n, raw, rlen);
    s[n + rlen] = '}';
    s[n + rlen + 1] = 0;
    add_reply(h, client, s, (size_t)n + rlen + 1);
}

void station_hub_reply_error(station_hub *h, int daemon, uint64_t client, long id,
                             const char *message)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddBoolToObject(o, "ok", 0);
    cJSON_AddStringToObject(o, "error", message);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!txt) return;
    station_hub_on_reply(h, daemon, client, id, txt, strlen(txt));
    cJSON_free(txt);
}

uint64_t station_hub_head(station_hub *h)
{
    pthread_mutex_lock(&h->lock);
    uint64_t v = h->head;
    pthread_mutex_unlock(&h->lock);
    return v;
}

int station_hub_next(station_hub *h, uint64_t *cursor, int daemon, char **out, size_t *len)
{
    int rc = 0;
    pthread_mutex_lock(&h->lock);
    if (h->head - *cursor > RING_SLOTS) {
        rc = -1;
    } else {
        while (*cursor < h->head) {
            ring_item *it = &h->ring[*cursor % RING_SLOTS];
            (*cursor)++;
            if (daemon >= 0 && it->daemon != daemon) continue;
            *out = malloc(it->len + 1);
            if (!*out) break;
            memcpy(*out, it->data, it->len + 1);
            *len = it->len;
            rc = 1;
            break;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int station_hub_take_reply(station_hub *h, uint64_t client, char **out, size_t *len)
{
    int rc = 0;
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < h->nreplies; i++) {
        if (h->replies[i].client != client) continue;
        *out = h->replies[i].data;
        *len = h->replies[i].len;
        memmove(h->replies + i, h->replies + i + 1,
                sizeof h->replies[0] * (size_t)(h->nreplies - i - 1));
        h->nreplies--;
        rc = 1;
        break;
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

void station_hub_drop_client(station_hub *h, uint64_t client)
{
    pthread_mutex_lock(&h->lock);
    int w = 0;
    for (int i = 0; i < h->nreplies; i++) {
        if (h->replies[i].client == client)
            free(h->replies[i].data);
        else
            h->replies[w++] = h->replies[i];
    }
    h->nreplies = w;
    pthread_mutex_unlock(&h->lock);
}

char **station_hub_snapshot(station_hub *h, int daemon, int *count)
{
    *count = 0;
    if (daemon < 0 || daemon >= h->ndaemons) return NULL;
    pthread_mutex_lock(&h->lock);
    daemon_cache *d = &h->daemons[daemon];
    char **v = calloc((size_t)d->nreps + (size_t)d->nsets + 3, sizeof *v);
    int n = 0;
    if (v) {
        if (d->status) v[n++] = strdup(d->status);
        if (d->trial_start) v[n++] = strdup(d->trial_start);
        for (int i = 0; i < d->nreps; i++) v[n++] = strdup(d->reps[i]);
        for (int i = 0; i < d->nsets; i++) v[n++] = strdup(d->sets[i]);
        if (d->trial_stop) v[n++] = strdup(d->trial_stop);
    }
    pthread_mutex_unlock(&h->lock);
    for (int i = 0; i < n; i++)
        if (!v[i]) { /* out of memory: send nothing rather than a partial picture */
            for (int j = 0; j < n; j++) free(v[j]);
            free(v);
            return NULL;
        }
    *count = n;
    return v;
}

/* The daemon's status object out of a cached envelope (caller deletes). */
static cJSON *status_object(const char *env)
{
    cJSON *e = env ? cJSON_Parse(env) : NULL;
    cJSON *msg = e ? cJSON_DetachItemFromObject(e, "msg") : NULL;
    cJSON_Delete(e);
    return msg;
}

char *station_hub_status_json(station_hub *h)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(root, "daemons");
    double now = mono_s();
    pthread_mutex_lock(&h->lock);
    for (int i = 0; i < h->ndaemons; i++) {
        daemon_cache *d = &h->daemons[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", d->name);
        if (d->status_at > 0)
            cJSON_AddNumberToObject(o, "status_age_s", now - d->status_at);
        else
            cJSON_AddNullToObject(o, "status_age_s");
        cJSON *st = status_object(d->status);
        cJSON_AddItemToObject(o, "status", st ? st : cJSON_CreateNull());
        cJSON_AddItemToArray(arr, o);
    }
    pthread_mutex_unlock(&h->lock);
    char *txt = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return txt;
}

typedef struct text_buf {
    char *s;
    size_t len, cap;
} text_buf;

static void tb_printf(text_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tb_printf(text_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = b->s ? vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap) : -1;
        va_end(ap);
        if (n >= 0 && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 4096;
        char *s = realloc(b->s, cap);
        if (!s) return;
        b->s = s;
        b->cap = cap;
    }
}

char *station_hub_metrics(station_hub *h, int ws_clients)
{
    static const struct {
        const char *field, *metric, *help;
    } counters[] = {
        {"samples", "nordic_samples_total", "Sample sets acquired since daemon start."},
        {"gaps", "nordic_gaps_total", "Sequence gaps seen."},
        {"gap_sets", "nordic_gap_sets_total", "Sample sets missing in gaps."},
        {"dropped", "nordic_device_dropped_total", "Sets the device itself dropped."},
        {"ring_overruns", "nordic_ring_overruns_total", "Sets refused by the lossless path."},
        {"live_skipped", "nordic_live_skipped_total", "Sets the live path skipped."},
        {"live_dropped_msgs", "nordic_live_dropped_msgs_total", "Publisher sends that failed."},
        {"file_sets_written", "nordic_file_sets_written_total", "Sets stored in trial files."},
        {"file_sets_lost", "nordic_file_sets_lost_total", "Trial sets not stored."},
        {"file_errors", "nordic_file_errors_total", "Trial file write/flush/close failures."},
        {"disconnects", "nordic_disconnects_total", "Device disconnects."},
    };
    cJSON *st[STATION_MAX_DAEMONS] = {0};
    char names[STATION_MAX_DAEMONS][STATION_NAME_MAX + 1];
    uint64_t msgs[STATION_MAX_DAEMONS];
    int up[STATION_MAX_DAEMONS];
    double now = mono_s();
    pthread_mutex_lock(&h->lock);
    int nd = h->ndaemons;
    for (int i = 0; i < nd; i++) {
        st[i] = status_object(h->daemons[i].status);
        /* status comes at 1 Hz: three missed in a row means the daemon is gone */
        up[i] = h->daemons[i].status_at > 0 && now - h->daemons[i].status_at < 3.5;
        memcpy(names[i], h->daemons[i].name, sizeof names[i]);
        msgs[i] = h->daemons[i].messages;
    }
    pthread_mutex_unlock(&h->lock);
    text_buf b = {0};
    for (size_t k = 0; k < sizeof counters / sizeof *counters; k++) {
        tb_printf(&b, "# HELP %s %s\n# TYPE %s counter\n", counters[k].metric, counters[k].help,
                  counters[k].metric);
        for (int i = 0; i < nd; i++) {
            cJSON *c = st[i] ? cJSON_GetObjectItemCaseSensitive(st[i], "counters") : NULL;
            cJSON *v = c ? cJSON_GetObjectItemCaseSensitive(c, counters[k].field) : NULL;
            if (cJSON_IsNumber(v))
                tb_printf(&b, "%s{daemon=\"%s\"} %.0f\n", counters[k].metric, names[i],
                          v->valuedouble);
        }
    }
    tb_printf(&b, "# HELP nordic_daemon_up Whether the daemon sent a status in the last 3.5 s.\n"
                  "# TYPE nordic_daemon_up gauge\n");
    for (int i = 0; i < nd; i++)
        tb_printf(&b, "nordic_daemon_up{daemon=\"%s\"} %d\n", names[i], up[i]);
    tb_printf(&b, "# HELP nordic_station_messages_total Live messages received from the daemon.\n"
                  "# TYPE nordic_station_messages_total counter\n");
    for (int i = 0; i < nd; i++)
        tb_printf(&b, "nordic_station_messages_total{daemon=\"%s\"} %llu\n", names[i],
                  (unsigned long long)msgs[i]);
    tb_printf(&b,
              "# HELP nordic_station_websocket_clients Connected pages.\n"
              "# TYPE nordic_station_websocket_clients gauge\n"
              "nordic_station_websocket_clients %d\n",
              ws_clients);
    for (int i = 0; i < nd; i++) cJSON_Delete(st[i]);
    return b.s;
}
