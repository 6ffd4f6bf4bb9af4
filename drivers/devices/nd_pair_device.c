/* pair: one two-channel board from two single-channel devices (two Loadstar
 * units, two HX711 boards on separate ports, ...).
 *
 *   pair:?left=serial:/dev/ttyUSB0&left.proto=text&left.preset=csv&left.channels=0
 *        &right=serial:/dev/ttyUSB1&right.proto=text&right.preset=csv&right.channels=0
 *
 * left= / right= are complete device URIs (percent-encode their own '&');
 * every "left.KEY=VALUE" is appended to the left URI as KEY=VALUE (same for
 * right), so options need no encoding. left_ch / right_ch pick the channel
 * of each device (default 0). The result has channel 0 = left, 1 = right.
 *
 * Alignment rule (documented in SERIAL.md): each side runs on its own
 * thread; sets are paired by their device sequence numbers at a fixed
 * offset, the offset being fixed when the two queue heads first arrive
 * within tol_ms of each other (host clock), and fixed again after a restart,
 * a reconnect, or when paired heads drift more than tol_ms apart. A set
 * whose partner is missing is dropped; the combined seq is the left device's
 * seq, so every dropped set shows as an exact gap. Output is emitted on the
 * thread that called run(), as the sink contract requires. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_pair_device.h"
#include "nd_log.h"

#define PAIR_QUEUE  8192 /* per side: 8 s at 1 kHz */
#define PAIR_EVENTS 64
#define PAIR_BATCH  256

typedef struct pair_priv pair_priv;

typedef struct pair_side {
    pair_priv *p;
    const char *name; /* "left" / "right" */
    nd_device *dev;
    long ch;
    pthread_t thread;
    int rc;
    bool running;
    /* queue, guarded by p->lock */
    nd_sample q[PAIR_QUEUE];
    size_t head, count;
    uint64_t overflowed; /* sets dropped because the other side fell behind */
    nd_device_info info;
    bool have_info;
} pair_side;

typedef struct queued_event {
    nd_device_event ev;
    int side;
} queued_event;

struct pair_priv {
    nd_device *dev;
    pair_side side[2];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool sub_stop;
    queued_event events[PAIR_EVENTS];
    size_t nevents;
    bool info_dirty;
    uint64_t tol_ns;
    /* alignment state (run thread only) */
    bool have_offset;
    int64_t offset; /* left seq - right seq of partners */
    bool emitted_any;
    uint64_t last_seq;
};

static const char *const pair_keys[] = {"left", "right", "left_ch", "right_ch", "tol_ms", NULL};

/* --- sub-device sinks: called on the sides' threads --- */

static void side_samples(void *ctx, const nd_sample *s, size_t n)
{
    pair_side *sd = ctx;
    pair_priv *p = sd->p;
    pthread_mutex_lock(&p->lock);
    for (size_t i = 0; i < n; i++) {
        if (sd->count == PAIR_QUEUE) { /* the other side is absent or far behind */
            sd->head = (sd->head + 1) % PAIR_QUEUE;
            sd->count--;
            sd->overflowed++;
        }
        sd->q[(sd->head + sd->count) % PAIR_QUEUE] = s[i];
        sd->count++;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void side_event(void *ctx, const nd_device_event *ev)
{
    pair_side *sd = ctx;
    pair_priv *p = sd->p;
    /* Gaps of one side become gaps of the pair when partners go missing;
     * reporting them here too would count the loss twice. */
    if (ev->kind == ND_EV_GAP) return;
    pthread_mutex_lock(&p->lock);
    if (p->nevents < PAIR_EVENTS) {
        p->events[p->nevents].ev = *ev;
        p->events[p->nevents].side = sd == &p->side[0] ? 0 : 1;
        p->nevents++;
    }
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static void side_info(void *ctx, const nd_device_info *info)
{
    pair_side *sd = ctx;
    pthread_mutex_lock(&sd->p->lock);
    sd->info = *info;
    sd->have_info = true;
    sd->p->info_dirty = true;
    pthread_mutex_unlock(&sd->p->lock);
}

/* --- open --- */

static int build_sub_uri(const nd_uri *uri, const char *side, char *out, size_t cap, char *err,
                         size_t errlen)
{
    const char *base = nd_uri_get(uri, side);
    if (!base || !base[0]) {
        snprintf(err, errlen, "pair: %s=<device URI> is required", side);
        return -1;
    }
    size_t len = (size_t)snprintf(out, cap, "%s", base);
    bool has_query = strchr(base, '?') != NULL;
    size_t plen = strlen(side);
    for (size_t i = 0; i < uri->nparams && len < cap; i++) {
        const char *k = uri->params[i].key;
        if (strncmp(k, side, plen) != 0 || k[plen] != '.') continue;
        len += (size_t)snprintf(out + len, cap - len, "%c%s=%s", has_query ? '&' : '?',
                                k + plen + 1, uri->params[i].value);
        has_query = true;
    }
    if (len >= cap) {
        snprintf(err, errlen, "pair: %s device URI longer than %zu characters", side, cap - 1);
        return -1;
    }
    return 0;
}

static int check_pair_keys(const nd_uri *uri, char *err, size_t errlen)
{
    for (size_t i = 0; i < uri->nparams; i++) {
        const char *k = uri->params[i].key;
        if (strncmp(k, "left.", 5) == 0 || strncmp(k, "right.", 6) == 0) continue;
        bool known = false;
        for (size_t j = 0; pair_keys[j]; j++) known |= strcmp(k, pair_keys[j]) == 0;
        if (!known) {
            snprintf(err, errlen,
                     "pair: unknown option '%s' (known: left, right, left_ch, right_ch, tol_ms, "
                     "left.KEY, right.KEY)",
                     k);
            return -1;
        }
    }
    return 0;
}

static void pair_free(pair_priv *p)
{
    for (int i = 0; i < 2; i++)
        if (p->side[i].dev) nd_device_close(p->side[i].dev);
    pthread_mutex_destroy(&p->lock);
    pthread_cond_destroy(&p->cond);
    free(p);
}

static int pair_open(nd_device *dev, const nd_uri *uri, char *err, size_t errlen)
{
    if (uri->path[0]) {
        snprintf(err, errlen, "pair: write pair:?left=URI&right=URI (nothing before '?')");
        return -1;
    }
    if (check_pair_keys(uri, err, errlen) < 0) return -1;
    long lch, rch;
    double tol_ms;
    if (nd_uri_get_long(uri, "left_ch", 0, 0, ND_MAX_CHANNELS - 1, &lch, err, errlen) < 0 ||
        nd_uri_get_long(uri, "right_ch", 0, 0, ND_MAX_CHANNELS - 1, &rch, err, errlen) < 0 ||
        nd_uri_get_double(uri, "tol_ms", 50, 1, 10000, &tol_ms, err, errlen) < 0)
        return -1;
    char sub[2][512];
    if (build_sub_uri(uri, "left", sub[0], sizeof sub[0], err, errlen) < 0 ||
        build_sub_uri(uri, "right", sub[1], sizeof sub[1], err, errlen) < 0)
        return -1;
    pair_priv *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "pair: out of memory");
        return -1;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    p->dev = dev;
    p->tol_ns = (uint64_t)(tol_ms * 1e6);
    for (int i = 0; i < 2; i++) {
        pair_side *sd = &p->side[i];
        sd->p = p;
        sd->name = i == 0 ? "left" : "right";
        sd->ch = i == 0 ? lch : rch;
        nd_sink sink = {.ctx = sd, .samples = side_samples, .event = side_event, .info = side_info};
        char suberr[256];
        if (nd_device_open(sub[i], &sink, &sd->dev, suberr, sizeof suberr) < 0) {
            snprintf(err, errlen, "pair: %s device: %s", sd->name, suberr);
            sd->dev = NULL;
            pair_free(p);
            return -1;
        }
    }
    dev->priv = p;
    return 0;
}

/* --- run --- */

static void *side_thread(void *arg)
{
    pair_side *sd = arg;
    sd->rc = nd_device_run(sd->dev, &sd->p->sub_stop);
    pthread_mutex_lock(&sd->p->lock);
    sd->running = false;
    pthread_cond_signal(&sd->p->cond);
    pthread_mutex_unlock(&sd->p->lock);
    return NULL;
}

static void pop(pair_side *sd)
{
    sd->head = (sd->head + 1) % PAIR_QUEUE;
    sd->count--;
}

static uint64_t absdiff(uint64_t a, uint64_t b)
{
    return a > b ? a - b : b - a;
}

/* Pair queue heads into out[]; called with the lock held. */
static size_t align(pair_priv *p, nd_sample *out, size_t cap)
{
    pair_side *L = &p->side[0], *R = &p->side[1];
    size_t n = 0;
    while (n < cap && L->count && R->count) {
        const nd_sample *l = &L->q[L->head], *r = &R->q[R->head];
        if ((l->flags | r->flags) & (ND_SAMPLE_AFTER_RESTART | ND_SAMPLE_AFTER_RECONNECT))
            p->have_offset = false;
        if (!p->have_offset) {
            if (absdiff(l->host_ns, r->host_ns) > p->tol_ns) {
                pop(l->host_ns < r->host_ns ? L : R); /* the older has no partner */
                continue;
            }
            p->offset = (int64_t)(l->seq - r->seq);
            p->have_offset = true;
        }
        int64_t k = (int64_t)(l->seq - r->seq) - p->offset;
        if (k > 0) { /* right's partner was lost on the left */
            pop(R);
            continue;
        }
        if (k < 0) {
            pop(L);
            continue;
        }
        if (absdiff(l->host_ns, r->host_ns) > p->tol_ns) { /* drifted: align again */
            p->have_offset = false;
            continue;
        }
        nd_sample s;
        memset(&s, 0, sizeof s);
        s.nch = 2;
        s.raw[0] = L->ch < l->nch ? l->raw[L->ch] : 0;
        s.raw[1] = R->ch < r->nch ? r->raw[R->ch] : 0;
        s.seq = l->seq;
        s.host_ns = l->host_ns > r->host_ns ? l->host_ns : r->host_ns;
        s.dev_t_us = l->dev_t_us;
        s.flags = (uint8_t)((l->flags | r->flags) &
                            (ND_SAMPLE_AFTER_RESTART | ND_SAMPLE_AFTER_RECONNECT));
        if (p->emitted_any && s.seq > p->last_seq + 1) {
            s.flags |= ND_SAMPLE_AFTER_GAP;
            s.gap_sets = s.seq - p->last_seq - 1;
        } else if (p->emitted_any && s.seq <= p->last_seq) {
            s.flags |= ND_SAMPLE_AFTER_RESTART;
        }
        p->emitted_any = true;
        p->last_seq = s.seq;
        out[n++] = s;
        pop(L);
        pop(R);
    }
    return n;
}

static void combined_info(pair_priv *p, nd_device_info *info)
{
    const nd_device_info *l = &p->side[0].info, *r = &p->side[1].info;
    memset(info, 0, sizeof *info);
    snprintf(info->model, sizeof info->model, "pair(%.28s,%.28s)", l->model, r->model);
    snprintf(info->serial, sizeof info->serial, "%.31s+%.31s", l->serial, r->serial);
    snprintf(info->fw, sizeof info->fw, "%.15s/%.15s", l->fw, r->fw);
    info->rate_hz = l->rate_hz;
    info->nch = 2;
    snprintf(info->channel_names[0], 32, "left");
    snprintf(info->channel_names[1], 32, "right");
    if (p->side[0].ch < l->nch) info->counts_per_newton[0] = l->counts_per_newton[p->side[0].ch];
    if (p->side[1].ch < r->nch) info->counts_per_newton[1] = r->counts_per_newton[p->side[1].ch];
    if (l->rate_hz != r->rate_hz)
        nd_warn("pair: left runs at %g Hz, right at %g Hz; sets without a partner are dropped",
                l->rate_hz, r->rate_hz);
    /* What a side warns about (e.g. its measured rate) is the pair's too. */
    if (l->warning[0] || r->warning[0])
        snprintf(info->warning, sizeof info->warning, "%s%.120s%s%s%.120s",
                 l->warning[0] ? "left: " : "", l->warning,
                 l->warning[0] && r->warning[0] ? "; " : "", r->warning[0] ? "right: " : "",
                 r->warning);
}

/* Sub counters summed into the pair's, except those the pair owns. */
static void mirror_counters(pair_priv *p)
{
    nd_device *const parts[2] = {p->side[0].dev, p->side[1].dev};
    nd_device_sum_counters(p->dev, parts, 2);
}

/* Finished when both sides ended, one failed, or one replay ended and none
 * of its sets wait for a partner any more. Called with the lock held. */
static bool pair_ended(const pair_priv *p)
{
    for (int i = 0; i < 2; i++) {
        const pair_side *sd = &p->side[i];
        if (!sd->running && (sd->rc < 0 || sd->count == 0 || !p->side[1 - i].running)) return true;
    }
    return false;
}

static int pair_run(nd_device *dev, const atomic_bool *stop)
{
    pair_priv *p = dev->priv;
    atomic_store(&p->sub_stop, false);
    for (int i = 0; i < 2; i++) {
        p->side[i].running = true;
        if (pthread_create(&p->side[i].thread, NULL, side_thread, &p->side[i]) != 0) {
            nd_err("pair: cannot start the %s device thread", p->side[i].name);
            p->side[i].running = false;
            atomic_store(&p->sub_stop, true);
            if (i == 1) pthread_join(p->side[0].thread, NULL);
            return -1;
        }
    }
    nd_sample *out = malloc(PAIR_BATCH * sizeof *out);
    queued_event ev[PAIR_EVENTS];
    int rc = 0;
    for (;;) {
        pthread_mutex_lock(&p->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 20000000L; /* bounds how long a stop request waits */
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        /* Wait unless there is work or the end has come; a side that
         * finished early still leaves sets waiting for partners, and those
         * arrive with a signal (side_samples), so no busy loop then either. */
        if (!p->nevents && !(p->side[0].count && p->side[1].count) && !pair_ended(p))
            pthread_cond_timedwait(&p->cond, &p->lock, &until);
        size_t nev = p->nevents;
        memcpy(ev, p->events, nev * sizeof *ev);
        p->nevents = 0;
        nd_device_info info;
        bool new_info = p->info_dirty && p->side[0].have_info && p->side[1].have_info;
        if (new_info) {
            combined_info(p, &info);
            p->info_dirty = false;
        }
        size_t n = align(p, out, PAIR_BATCH);
        bool ended = pair_ended(p);
        pthread_mutex_unlock(&p->lock);

        if (new_info) nd_device_set_info(dev, &info);
        for (size_t i = 0; i < nev; i++)
            nd_device_emit_event(dev, ev[i].ev.kind, ev[i].ev.seq, ev[i].ev.count, "%s: %s",
                                 p->side[ev[i].side].name, ev[i].ev.detail);
        for (size_t i = 0; i < n; i++)
            if (out[i].flags & ND_SAMPLE_AFTER_GAP) {
                nd_device_emit_gap(dev, out[i].seq - out[i].gap_sets, out[i].gap_sets,
                                   "%llu sample sets without a partner",
                                   (unsigned long long)out[i].gap_sets);
            }
        if (n) nd_device_emit_samples(dev, out, n);
        mirror_counters(p);
        if (n == PAIR_BATCH) continue; /* more may be ready */
        if (atomic_load(stop) || ended) break;
    }
    atomic_store(&p->sub_stop, true);
    for (int i = 0; i < 2; i++) pthread_join(p->side[i].thread, NULL);
    if (!atomic_load(stop)) {
        /* One side ended by itself: replay finished (EOF) or a fatal error. */
        int a = p->side[0].rc, b = p->side[1].rc;
        rc = (a < 0 || b < 0) ? -1 : ND_RUN_EOF;
        if (rc < 0) nd_err("pair: the %s device failed", a < 0 ? "left" : "right");
    }
    free(out);
    return rc;
}

static void pair_close(nd_device *dev)
{
    if (dev->priv) pair_free(dev->priv);
    dev->priv = NULL;
}

static int pair_command(nd_device *dev, const char *cmd, char *err, size_t errlen)
{
    pair_priv *p = dev->priv;
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        const nd_driver *d = p->side[i].dev->driver;
        char suberr[200];
        if (!d->command || d->command(p->side[i].dev, cmd, suberr, sizeof suberr) < 0) {
            snprintf(err, errlen, "pair: %s device: %s", p->side[i].name,
                     d->command ? suberr : "does not accept commands");
            rc = -1;
        }
    }
    return rc;
}

const nd_driver nd_driver_pair = {
    .scheme = "pair",
    .description = "one two-channel board from two single-channel devices (left, right)",
    .usage = "pair:?left=URI&right=URI[&left.KEY=V...][&right.KEY=V...]&left_ch=0&right_ch=0"
             "&tol_ms=50",
    .open = pair_open,
    .run = pair_run,
    .close = pair_close,
    .command = pair_command,
};
