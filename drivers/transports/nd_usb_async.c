/* libusb asynchronous streaming layer; see nd_usb_async.h. */
#include "nd_usb_async.h"

#include <errno.h>
#include <libusb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_device.h"
#include "nd_log.h"
#include "nd_transport.h"

#define ND_USB_STOP_WAIT_MS 3000

typedef struct nd_usb_chunk {
    uint8_t *data;
    size_t len, off;
    uint64_t host_ns;
} nd_usb_chunk;

struct nd_usb_async {
    nd_usb_async_config cfg;
    libusb_context *ctx;
    pthread_t event_thread;
    bool thread_started;
    atomic_bool quit;

    libusb_hotplug_callback_handle hotplug;
    bool hotplug_registered;
    atomic_bool arrived; /* hotplug ARRIVED for our VID:PID since the last scan */
    uint64_t last_scan_ns;

    /* dev and handle change only in open_device/close_device (the reopening
     * thread), under handle_lock and lock both: the event thread's hotplug
     * callback compares dev under lock, and bulk() (commands, possibly from
     * another thread) uses handle under handle_lock. Order: handle_lock, then
     * lock. */
    pthread_mutex_t handle_lock;
    libusb_device *dev; /* referenced while open */
    libusb_device_handle *handle;
    int iface;
    uint8_t ep;
    char serial[64];
    char product[128];

    /* Everything below is guarded by lock (callbacks run on the event thread). */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    struct libusb_transfer **xfers;
    int inflight;
    bool stopping;
    atomic_bool lost;
    nd_usb_chunk *queue;
    int qhead, qcount;
    struct libusb_transfer *parked[64]; /* completed, waiting for queue room */
    uint64_t parked_ns[64];
    int nparked;

    nd_usb_stats stats;
};

static void fmt(char *err, size_t errlen, const char *f, ...) __attribute__((format(printf, 3, 4)));
static void fmt(char *err, size_t errlen, const char *f, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, f);
    vsnprintf(err, errlen, f, ap);
    va_end(ap);
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

static int parse_hex16(const char *s, size_t n, uint16_t *out)
{
    if (n == 0 || n > 4) return -1;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + (unsigned)d;
    }
    *out = (uint16_t)v;
    return 0;
}

int nd_usb_id_parse(const char *text, uint16_t def_vid, uint16_t def_pid, nd_usb_id *id, char *err,
                    size_t errlen)
{
    memset(id, 0, sizeof *id);
    id->vid = def_vid;
    id->pid = def_pid;
    if (!text || !*text) return 0;
    const char *c1 = strchr(text, ':');
    if (!c1) {
        fmt(err, errlen, "bad USB id '%s': expected VID:PID[:SERIAL] in hex, e.g. 1209:0001", text);
        return -1;
    }
    const char *pid = c1 + 1;
    const char *c2 = strchr(pid, ':');
    size_t pid_len = c2 ? (size_t)(c2 - pid) : strlen(pid);
    if (parse_hex16(text, (size_t)(c1 - text), &id->vid) != 0 ||
        parse_hex16(pid, pid_len, &id->pid) != 0) {
        fmt(err, errlen,
            "bad USB id '%s': expected VID:PID[:SERIAL], 1-4 hex digits each, e.g. 1209:0001",
            text);
        return -1;
    }
    if (c2) {
        const char *serial = c2 + 1;
        if (!*serial || strlen(serial) >= sizeof id->serial) {
            fmt(err, errlen, "bad USB id '%s': serial must be 1-%zu characters", text,
                sizeof id->serial - 1);
            return -1;
        }
        strcpy(id->serial, serial);
    }
    return 0;
}

void nd_usb_async_config_default(nd_usb_async_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->interface_number = -1;
    cfg->ep_in = 0;
    cfg->transfers = 8;
    cfg->transfer_size = 16384;
    cfg->queue_chunks = 32;
    cfg->rescan_ms = 500;
}

/* ---- event thread and callbacks ---- */

static void *event_thread_main(void *arg)
{
    nd_usb_async *u = arg;
    while (!atomic_load(&u->quit)) {
        struct timeval tv = {0, 100000};
        int rc = libusb_handle_events_timeout_completed(u->ctx, &tv, NULL);
        if (rc != 0 && rc != LIBUSB_ERROR_INTERRUPTED)
            nd_debug("usb: event handling: %s", libusb_error_name(rc));
    }
    return NULL;
}

static void mark_lost_locked(nd_usb_async *u)
{
    if (!atomic_load(&u->lost)) {
        atomic_store(&u->lost, true);
        atomic_fetch_add(&u->stats.disconnects, 1);
    }
    pthread_cond_broadcast(&u->cond);
}

static int LIBUSB_CALL on_hotplug(libusb_context *ctx, libusb_device *device,
                                  libusb_hotplug_event event, void *user_data)
{
    (void)ctx;
    nd_usb_async *u = user_data;
    if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED) {
        atomic_store(&u->arrived, true);
    } else if (event == LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT) {
        pthread_mutex_lock(&u->lock);
        if (device == u->dev) mark_lost_locked(u);
        pthread_mutex_unlock(&u->lock);
    }
    return 0;
}

static void enqueue_locked(nd_usb_async *u, const uint8_t *data, size_t len, uint64_t now)
{
    nd_usb_chunk *c = &u->queue[(u->qhead + u->qcount) % u->cfg.queue_chunks];
    memcpy(c->data, data, len);
    c->len = len;
    c->off = 0;
    c->host_ns = now;
    u->qcount++;
    pthread_cond_broadcast(&u->cond);
}

/* The reader freed a queue slot: take the oldest held-back transfer's data
 * and put that transfer back in flight. */
static void unpark_locked(nd_usb_async *u)
{
    while (u->nparked > 0 && u->qcount < u->cfg.queue_chunks) {
        struct libusb_transfer *x = u->parked[0];
        memmove(u->parked, u->parked + 1, (size_t)(u->nparked - 1) * sizeof *u->parked);
        u->nparked--;
        enqueue_locked(u, x->buffer, (size_t)x->actual_length, u->parked_ns[0]);
        memmove(u->parked_ns, u->parked_ns + 1, (size_t)u->nparked * sizeof *u->parked_ns);
        if (u->stopping || atomic_load(&u->lost) || libusb_submit_transfer(x) != 0) {
            u->inflight--;
            pthread_cond_broadcast(&u->cond);
        }
    }
}

static void LIBUSB_CALL on_transfer(struct libusb_transfer *x)
{
    nd_usb_async *u = x->user_data;
    uint64_t now = nd_monotonic_ns();
    bool resubmit = false, clear_halt = false;

    pthread_mutex_lock(&u->lock);
    switch (x->status) {
    case LIBUSB_TRANSFER_COMPLETED:
        atomic_fetch_add(&u->stats.transfers_done, 1);
        /* Stopping discards queued data anyway; parking now would leave a
         * transfer nobody resubmits or counts back, so stop() would wait
         * in vain. */
        if (x->actual_length > 0 && !u->stopping) {
            atomic_fetch_add(&u->stats.bytes, (uint64_t)x->actual_length);
            if (u->qcount == u->cfg.queue_chunks || u->nparked > 0) {
                /* The reader is behind: hold this transfer (data and all)
                 * instead of dropping; the device buffers meanwhile and
                 * reports its own overflow if it must drop. */
                atomic_fetch_add(&u->stats.throttled, 1);
                u->parked_ns[u->nparked] = now;
                u->parked[u->nparked++] = x;
                pthread_mutex_unlock(&u->lock);
                return;
            }
            enqueue_locked(u, x->buffer, (size_t)x->actual_length, now);
        }
        resubmit = true;
        break;
    case LIBUSB_TRANSFER_TIMED_OUT:
        resubmit = true;
        break;
    case LIBUSB_TRANSFER_STALL:
        atomic_fetch_add(&u->stats.stalls, 1);
        clear_halt = true;
        resubmit = true;
        break;
    case LIBUSB_TRANSFER_OVERFLOW:
        atomic_fetch_add(&u->stats.babble, 1);
        resubmit = true;
        break;
    case LIBUSB_TRANSFER_CANCELLED:
        break;
    case LIBUSB_TRANSFER_NO_DEVICE:
        mark_lost_locked(u);
        break;
    default: /* LIBUSB_TRANSFER_ERROR: the link is unusable; treat as unplug */
        nd_warn("usb %04x:%04x: transfer error, re-attaching", u->cfg.id.vid, u->cfg.id.pid);
        mark_lost_locked(u);
        break;
    }
    if (clear_halt && !u->stopping && !atomic_load(&u->lost)) {
        /* A direct ioctl, safe on the event thread; not under our lock. */
        pthread_mutex_unlock(&u->lock);
        int rc = libusb_clear_halt(x->dev_handle, x->endpoint);
        pthread_mutex_lock(&u->lock);
        if (rc == LIBUSB_ERROR_NO_DEVICE)
            mark_lost_locked(u);
        else if (rc != 0)
            nd_warn("usb: clear halt on 0x%02x: %s", x->endpoint, libusb_error_name(rc));
    }
    if (u->stopping || atomic_load(&u->lost)) resubmit = false;
    if (resubmit) {
        int rc = libusb_submit_transfer(x);
        if (rc != 0) {
            if (rc != LIBUSB_ERROR_NO_DEVICE)
                nd_warn("usb: resubmit failed: %s", libusb_error_name(rc));
            mark_lost_locked(u);
            resubmit = false;
        }
    }
    if (!resubmit) {
        u->inflight--;
        pthread_cond_broadcast(&u->cond);
    }
    pthread_mutex_unlock(&u->lock);
}

/* ---- command transfers ----
 *
 * libusb 1.0.26's synchronous API (libusb_bulk_transfer, libusb_control_transfer
 * and the descriptor helpers on top of it) is unsafe while another thread
 * handles events, which our event thread always does: its completion callback
 * sets the flag the caller polls and then still touches the transfer, which
 * the caller may already have freed (libusb issue #1263, fixed in 1.0.27).
 * ThreadSanitizer reports it as libusb_free_transfer racing the event thread.
 * So every command transfer here is an asynchronous one whose completion is
 * signalled under our own lock; the caller frees it only after that. Must not
 * be called on the event thread or with lock held. */

typedef struct nd_usb_wait {
    nd_usb_async *u;
    bool done;
} nd_usb_wait;

static void LIBUSB_CALL on_command_done(struct libusb_transfer *x)
{
    nd_usb_wait *w = x->user_data;
    nd_usb_async *u = w->u;
    pthread_mutex_lock(&u->lock);
    w->done = true; /* the last touch: the waiter may free x right after */
    pthread_cond_broadcast(&u->cond);
    pthread_mutex_unlock(&u->lock);
}

/* Submits x (callback and user_data are set here) and waits for it to come
 * back. Returns 0 or a libusb error like the synchronous API would. */
static int submit_and_wait(nd_usb_async *u, struct libusb_transfer *x)
{
    nd_usb_wait w = {.u = u, .done = false};
    x->callback = on_command_done;
    x->user_data = &w;
    int rc = libusb_submit_transfer(x);
    if (rc != 0) return rc;
    /* libusb enforces x->timeout on the event thread; the extra wait only
     * guards against a transfer that never returns (then it is cancelled,
     * and still waited for: libusb owns it until the callback). */
    struct timespec ts;
    deadline_after(&ts, (int)x->timeout + ND_USB_STOP_WAIT_MS);
    bool cancelled = false;
    pthread_mutex_lock(&u->lock);
    while (!w.done) {
        if (pthread_cond_timedwait(&u->cond, &u->lock, &ts) == ETIMEDOUT && !w.done) {
            pthread_mutex_unlock(&u->lock);
            if (!cancelled)
                nd_warn("usb: command transfer on 0x%02x overdue; cancelling", x->endpoint);
            libusb_cancel_transfer(x);
            cancelled = true;
            deadline_after(&ts, ND_USB_STOP_WAIT_MS);
            pthread_mutex_lock(&u->lock);
        }
    }
    pthread_mutex_unlock(&u->lock);
    switch (x->status) {
    case LIBUSB_TRANSFER_COMPLETED:
        return 0;
    case LIBUSB_TRANSFER_TIMED_OUT:
        return LIBUSB_ERROR_TIMEOUT;
    case LIBUSB_TRANSFER_CANCELLED:
        return cancelled ? LIBUSB_ERROR_TIMEOUT : LIBUSB_ERROR_INTERRUPTED;
    case LIBUSB_TRANSFER_STALL:
        return LIBUSB_ERROR_PIPE;
    case LIBUSB_TRANSFER_NO_DEVICE:
        return LIBUSB_ERROR_NO_DEVICE;
    case LIBUSB_TRANSFER_OVERFLOW:
        return LIBUSB_ERROR_OVERFLOW;
    default:
        return LIBUSB_ERROR_IO;
    }
}

/* A control IN request on h; returns the byte count or a libusb error. */
static int control_in(nd_usb_async *u, libusb_device_handle *h, uint8_t request, uint16_t value,
                      uint16_t index, uint8_t *data, uint16_t len)
{
    struct libusb_transfer *x = libusb_alloc_transfer(0);
    uint8_t *buf = malloc(LIBUSB_CONTROL_SETUP_SIZE + (size_t)len);
    if (!x || !buf) {
        libusb_free_transfer(x);
        free(buf);
        return LIBUSB_ERROR_NO_MEM;
    }
    libusb_fill_control_setup(buf, LIBUSB_ENDPOINT_IN | LIBUSB_REQUEST_TYPE_STANDARD, request,
                              value, index, len);
    libusb_fill_control_transfer(x, h, buf, NULL, NULL, 1000);
    int rc = submit_and_wait(u, x);
    if (rc == 0) {
        rc = x->actual_length;
        memcpy(data, libusb_control_transfer_get_data(x), (size_t)rc);
    }
    libusb_free_transfer(x);
    free(buf);
    return rc;
}

/* ---- opening ---- */

static int find_endpoint(nd_usb_async *u, libusb_device *dev, int *iface, uint8_t *ep)
{
    struct libusb_config_descriptor *cd = NULL;
    if (libusb_get_active_config_descriptor(dev, &cd) != 0 &&
        libusb_get_config_descriptor(dev, 0, &cd) != 0)
        return -1;
    int best_iface = -1, best_vendor = 0;
    uint8_t best_ep = 0;
    for (int i = 0; i < cd->bNumInterfaces; i++) {
        if (cd->interface[i].num_altsetting < 1) continue;
        const struct libusb_interface_descriptor *id = &cd->interface[i].altsetting[0];
        if (u->cfg.interface_number >= 0 && id->bInterfaceNumber != u->cfg.interface_number)
            continue;
        for (int e = 0; e < id->bNumEndpoints; e++) {
            const struct libusb_endpoint_descriptor *ed = &id->endpoint[e];
            bool bulk_in = (ed->bmAttributes & 3) == LIBUSB_TRANSFER_TYPE_BULK &&
                           (ed->bEndpointAddress & LIBUSB_ENDPOINT_IN);
            if (!bulk_in) continue;
            if (u->cfg.ep_in && ed->bEndpointAddress != u->cfg.ep_in) continue;
            int vendor = id->bInterfaceClass == LIBUSB_CLASS_VENDOR_SPEC;
            if (best_iface < 0 || (vendor && !best_vendor)) {
                best_iface = id->bInterfaceNumber;
                best_ep = ed->bEndpointAddress;
                best_vendor = vendor;
            }
        }
    }
    libusb_free_config_descriptor(cd);
    if (best_iface < 0) return -1;
    *iface = best_iface;
    *ep = best_ep;
    return 0;
}

/* String descriptor index in the device's first language, as ASCII ('?' for
 * anything else); "" if absent or unreadable. */
static void read_string(nd_usb_async *u, libusb_device_handle *h, uint8_t index, char *out,
                        size_t cap)
{
    out[0] = '\0';
    if (index == 0 || cap == 0) return;
    uint8_t d[255];
    int n = control_in(u, h, LIBUSB_REQUEST_GET_DESCRIPTOR, LIBUSB_DT_STRING << 8, 0, d, sizeof d);
    if (n < 4) return;
    uint16_t lang = (uint16_t)(d[2] | d[3] << 8);
    n = control_in(u, h, LIBUSB_REQUEST_GET_DESCRIPTOR, (uint16_t)(LIBUSB_DT_STRING << 8 | index),
                   lang, d, sizeof d);
    if (n < 2 || d[1] != LIBUSB_DT_STRING) return;
    int end = d[0] < n ? d[0] : n;
    size_t o = 0;
    for (int i = 2; i + 1 < end && o + 1 < cap; i += 2)
        out[o++] = (d[i + 1] != 0 || d[i] >= 0x80) ? '?' : (char)d[i];
    out[o] = '\0';
}

/* 0 = open and claimed; -1 = not found or failed, message in err. */
static int open_device(nd_usb_async *u, char *err, size_t errlen)
{
    libusb_device **list = NULL;
    ssize_t n = libusb_get_device_list(u->ctx, &list);
    if (n < 0) {
        fmt(err, errlen, "cannot list USB devices: %s", libusb_error_name((int)n));
        return -1;
    }
    int rc = -1;
    bool seen = false;
    char why[256] = "";
    for (ssize_t i = 0; i < n && rc != 0; i++) {
        struct libusb_device_descriptor dd;
        if (libusb_get_device_descriptor(list[i], &dd) != 0) continue;
        if (dd.idVendor != u->cfg.id.vid || dd.idProduct != u->cfg.id.pid) continue;
        seen = true;
        libusb_device_handle *h = NULL;
        int orc = libusb_open(list[i], &h);
        if (orc == LIBUSB_ERROR_ACCESS) {
            snprintf(
                why, sizeof why,
                "permission denied opening USB device %04x:%04x (bus %u address %u): ", dd.idVendor,
                dd.idProduct, libusb_get_bus_number(list[i]), libusb_get_device_address(list[i]));
            continue;
        }
        if (orc != 0) {
            snprintf(why, sizeof why, "cannot open USB device %04x:%04x: %s", dd.idVendor,
                     dd.idProduct, libusb_error_name(orc));
            continue;
        }
        char serial[64];
        read_string(u, h, dd.iSerialNumber, serial, sizeof serial);
        if (u->cfg.id.serial[0] && strcmp(serial, u->cfg.id.serial) != 0) {
            libusb_close(h);
            continue;
        }
        int iface;
        uint8_t ep;
        if (find_endpoint(u, list[i], &iface, &ep) != 0) {
            snprintf(why, sizeof why,
                     "USB device %04x:%04x has no bulk IN endpoint%s%s matching the options",
                     dd.idVendor, dd.idProduct, u->cfg.ep_in ? " " : "",
                     u->cfg.ep_in ? "(ep_in)" : "");
            libusb_close(h);
            continue;
        }
        /* Unbind a kernel driver (e.g. a CDC or vendor module) while we hold
         * the interface, and give it back on release. Not all platforms can. */
        int arc = libusb_set_auto_detach_kernel_driver(h, 1);
        if (arc != 0 && arc != LIBUSB_ERROR_NOT_SUPPORTED)
            nd_debug("usb: auto-detach: %s", libusb_error_name(arc));
        int crc = libusb_claim_interface(h, iface);
        if (crc != 0) {
            snprintf(why, sizeof why, "cannot claim interface %d of USB device %04x:%04x: %s%s",
                     iface, dd.idVendor, dd.idProduct, libusb_error_name(crc),
                     crc == LIBUSB_ERROR_BUSY ? " (another program or kernel driver holds it)"
                                              : "");
            libusb_close(h);
            continue;
        }
        char product[sizeof u->product];
        read_string(u, h, dd.iProduct, product, sizeof product);
        pthread_mutex_lock(&u->handle_lock);
        pthread_mutex_lock(&u->lock);
        u->handle = h;
        u->dev = libusb_ref_device(list[i]);
        u->iface = iface;
        u->ep = ep;
        snprintf(u->serial, sizeof u->serial, "%s", serial);
        snprintf(u->product, sizeof u->product, "%s", product);
        pthread_mutex_unlock(&u->lock);
        pthread_mutex_unlock(&u->handle_lock);
        rc = 0;
    }
    libusb_free_device_list(list, 1);
    if (rc == 0) return 0;
    if (strncmp(why, "permission denied", 17) == 0) {
        fmt(err, errlen, "%s%s", why, ND_USB_PERMISSION_HINT);
    } else if (why[0]) {
        fmt(err, errlen, "%s", why);
    } else if (seen) {
        fmt(err, errlen, "USB device %04x:%04x with serial '%s' not found", u->cfg.id.vid,
            u->cfg.id.pid, u->cfg.id.serial);
    } else {
        fmt(err, errlen, "USB device %04x:%04x%s%s not found (is it plugged in? `lsusb` lists it)",
            u->cfg.id.vid, u->cfg.id.pid, u->cfg.id.serial[0] ? " serial " : "", u->cfg.id.serial);
    }
    return -1;
}

static void close_device(nd_usb_async *u)
{
    if (!u->handle) return;
    nd_usb_async_stop(u);
    if (u->xfers) {
        for (int i = 0; i < u->cfg.transfers; i++) {
            if (u->xfers[i]) {
                free(u->xfers[i]->buffer);
                libusb_free_transfer(u->xfers[i]);
            }
        }
        free(u->xfers);
        u->xfers = NULL;
    }
    /* Unpublish first: a hotplug callback must not match a device we are
     * letting go of, and a command in progress finishes before the close. */
    pthread_mutex_lock(&u->handle_lock);
    pthread_mutex_lock(&u->lock);
    libusb_device_handle *h = u->handle;
    libusb_device *dev = u->dev;
    u->handle = NULL;
    u->dev = NULL;
    pthread_mutex_unlock(&u->lock);
    libusb_release_interface(h, u->iface);
    libusb_close(h);
    pthread_mutex_unlock(&u->handle_lock);
    libusb_unref_device(dev);
}

int nd_usb_async_open(const nd_usb_async_config *cfg, nd_usb_async **out, char *err, size_t errlen)
{
    *out = NULL;
    if (cfg->transfers < 1 || cfg->transfers > 64 || cfg->transfer_size < 64 ||
        cfg->transfer_size > (1u << 20) || cfg->queue_chunks < cfg->transfers) {
        fmt(err, errlen,
            "bad USB streaming settings: transfers 1-64, size 64-1048576, queue >= transfers");
        return -1;
    }
    nd_usb_async *u = calloc(1, sizeof *u);
    if (!u) {
        fmt(err, errlen, "out of memory");
        return -1;
    }
    u->cfg = *cfg;
    pthread_mutex_init(&u->lock, NULL);
    pthread_mutex_init(&u->handle_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&u->cond, &ca);
    pthread_condattr_destroy(&ca);
    u->queue = calloc((size_t)cfg->queue_chunks, sizeof *u->queue);
    if (!u->queue) goto oom;
    for (int i = 0; i < cfg->queue_chunks; i++) {
        u->queue[i].data = malloc(cfg->transfer_size);
        if (!u->queue[i].data) goto oom;
    }
    int rc = libusb_init(&u->ctx);
    if (rc != 0) {
        fmt(err, errlen, "libusb_init failed: %s", libusb_error_name(rc));
        nd_usb_async_close(u);
        return -1;
    }
    if (libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
        rc = libusb_hotplug_register_callback(
            u->ctx, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT, 0,
            cfg->id.vid, cfg->id.pid, LIBUSB_HOTPLUG_MATCH_ANY, on_hotplug, u, &u->hotplug);
        u->hotplug_registered = rc == 0;
        if (rc != 0)
            nd_info("usb: hotplug unavailable (%s); rescanning every %d ms instead",
                    libusb_error_name(rc), cfg->rescan_ms);
    }
    if (pthread_create(&u->event_thread, NULL, event_thread_main, u) != 0) {
        fmt(err, errlen, "cannot start the USB event thread");
        nd_usb_async_close(u);
        return -1;
    }
    u->thread_started = true;
    if (open_device(u, err, errlen) != 0) {
        nd_usb_async_close(u);
        return -1;
    }
    u->last_scan_ns = nd_monotonic_ns();
    *out = u;
    return 0;
oom:
    fmt(err, errlen, "out of memory");
    nd_usb_async_close(u);
    return -1;
}

void nd_usb_async_close(nd_usb_async *u)
{
    if (!u) return;
    if (u->ctx) {
        close_device(u);
        if (u->hotplug_registered) libusb_hotplug_deregister_callback(u->ctx, u->hotplug);
        if (u->thread_started) {
            atomic_store(&u->quit, true);
            libusb_interrupt_event_handler(u->ctx);
            pthread_join(u->event_thread, NULL);
        }
        libusb_exit(u->ctx);
    }
    if (u->queue) {
        for (int i = 0; i < u->cfg.queue_chunks; i++) free(u->queue[i].data);
        free(u->queue);
    }
    pthread_cond_destroy(&u->cond);
    pthread_mutex_destroy(&u->handle_lock);
    pthread_mutex_destroy(&u->lock);
    free(u);
}

/* ---- streaming ---- */

int nd_usb_async_start(nd_usb_async *u)
{
    if (!u->handle || atomic_load(&u->lost)) return -1;
    if (!u->xfers) {
        u->xfers = calloc((size_t)u->cfg.transfers, sizeof *u->xfers);
        if (!u->xfers) return -1;
        for (int i = 0; i < u->cfg.transfers; i++) {
            u->xfers[i] = libusb_alloc_transfer(0);
            uint8_t *buf = malloc(u->cfg.transfer_size);
            if (!u->xfers[i] || !buf) {
                free(buf);
                for (int j = 0; j <= i; j++) {
                    if (u->xfers[j]) {
                        if (j < i) free(u->xfers[j]->buffer);
                        libusb_free_transfer(u->xfers[j]);
                    }
                }
                free(u->xfers);
                u->xfers = NULL;
                return -1;
            }
            libusb_fill_bulk_transfer(u->xfers[i], u->handle, u->ep, buf, (int)u->cfg.transfer_size,
                                      on_transfer, u, 0);
        }
    }
    pthread_mutex_lock(&u->lock);
    if (u->inflight > 0) {
        pthread_mutex_unlock(&u->lock);
        return 0;
    }
    u->stopping = false;
    int rc = 0;
    for (int i = 0; i < u->cfg.transfers; i++) {
        rc = libusb_submit_transfer(u->xfers[i]);
        if (rc != 0) break;
        u->inflight++;
    }
    pthread_mutex_unlock(&u->lock);
    if (rc != 0) {
        nd_err("usb %04x:%04x: cannot submit transfers: %s", u->cfg.id.vid, u->cfg.id.pid,
               libusb_error_name(rc));
        nd_usb_async_stop(u);
        if (rc == LIBUSB_ERROR_NO_DEVICE) {
            pthread_mutex_lock(&u->lock);
            mark_lost_locked(u);
            pthread_mutex_unlock(&u->lock);
        }
        return -1;
    }
    return 0;
}

void nd_usb_async_stop(nd_usb_async *u)
{
    pthread_mutex_lock(&u->lock);
    u->stopping = true;
    u->inflight -= u->nparked; /* held-back transfers are idle already */
    u->nparked = 0;
    int inflight = u->inflight;
    pthread_mutex_unlock(&u->lock);
    if (inflight > 0 && u->xfers) {
        for (int i = 0; i < u->cfg.transfers; i++)
            libusb_cancel_transfer(u->xfers[i]); /* NOT_FOUND for idle ones: fine */
    }
    struct timespec ts;
    deadline_after(&ts, ND_USB_STOP_WAIT_MS);
    pthread_mutex_lock(&u->lock);
    while (u->inflight > 0) {
        if (pthread_cond_timedwait(&u->cond, &u->lock, &ts) == ETIMEDOUT) break;
    }
    if (u->inflight > 0) {
        /* Never free a transfer libusb still owns: keep them (leak) instead. */
        nd_err("usb: %d transfers did not come back after cancel", u->inflight);
        u->xfers = NULL;
        u->inflight = 0;
    }
    u->qhead = 0;
    u->qcount = 0;
    pthread_mutex_unlock(&u->lock);
}

ssize_t nd_usb_async_read(nd_usb_async *u, uint8_t *buf, size_t cap, int timeout_ms,
                          uint64_t *host_ns, bool *chunk_end)
{
    if (chunk_end) *chunk_end = false;
    struct timespec ts;
    if (timeout_ms > 0) deadline_after(&ts, timeout_ms);
    pthread_mutex_lock(&u->lock);
    while (u->qcount == 0) {
        if (atomic_load(&u->lost)) {
            pthread_mutex_unlock(&u->lock);
            return ND_TR_LOST;
        }
        if (timeout_ms <= 0 || pthread_cond_timedwait(&u->cond, &u->lock, &ts) == ETIMEDOUT) {
            bool lost = atomic_load(&u->lost) && u->qcount == 0;
            pthread_mutex_unlock(&u->lock);
            return lost ? ND_TR_LOST : 0;
        }
    }
    if (host_ns) *host_ns = u->queue[u->qhead].host_ns;
    size_t got = 0;
    /* Byte-stream readers (chunk_end == NULL) take as many chunks as fit;
     * packet readers get at most one chunk so transfer boundaries stay. */
    while (u->qcount > 0 && got < cap) {
        nd_usb_chunk *c = &u->queue[u->qhead];
        size_t n = c->len - c->off;
        if (n > cap - got) n = cap - got;
        memcpy(buf + got, c->data + c->off, n);
        got += n;
        c->off += n;
        if (c->off < c->len) break;
        u->qhead = (u->qhead + 1) % u->cfg.queue_chunks;
        u->qcount--;
        unpark_locked(u);
        if (chunk_end) {
            *chunk_end = true;
            break;
        }
    }
    pthread_mutex_unlock(&u->lock);
    return (ssize_t)got;
}

static ssize_t bulk(nd_usb_async *u, uint8_t ep, uint8_t *buf, size_t len, int timeout_ms)
{
    if (len > INT32_MAX) return ND_TR_ERR;
    struct libusb_transfer *x = libusb_alloc_transfer(0);
    if (!x) return ND_TR_ERR;
    /* Held across the transfer so a reopen on another thread cannot close
     * the handle under it. */
    pthread_mutex_lock(&u->handle_lock);
    if (!u->handle || atomic_load(&u->lost)) {
        pthread_mutex_unlock(&u->handle_lock);
        libusb_free_transfer(x);
        return ND_TR_LOST;
    }
    libusb_fill_bulk_transfer(x, u->handle, ep, buf, (int)len, NULL, NULL,
                              timeout_ms > 0 ? (unsigned)timeout_ms : 1u);
    int rc = submit_and_wait(u, x);
    int done = x->actual_length;
    libusb_free_transfer(x);
    if (rc == LIBUSB_ERROR_PIPE) libusb_clear_halt(u->handle, ep);
    pthread_mutex_unlock(&u->handle_lock);
    if (rc == 0 || (rc == LIBUSB_ERROR_TIMEOUT && done > 0)) return done;
    if (rc == LIBUSB_ERROR_TIMEOUT) return 0;
    if (rc == LIBUSB_ERROR_PIPE) {
        nd_warn("usb: endpoint 0x%02x stalled; cleared", ep);
        return ND_TR_ERR;
    }
    if (rc == LIBUSB_ERROR_NO_DEVICE || rc == LIBUSB_ERROR_IO) {
        pthread_mutex_lock(&u->lock);
        mark_lost_locked(u);
        pthread_mutex_unlock(&u->lock);
        return ND_TR_LOST;
    }
    nd_warn("usb: bulk transfer on 0x%02x: %s", ep, libusb_error_name(rc));
    return ND_TR_ERR;
}

ssize_t nd_usb_async_bulk_out(nd_usb_async *u, uint8_t ep, const uint8_t *buf, size_t len,
                              int timeout_ms)
{
    return bulk(u, (uint8_t)(ep & 0x7f), (uint8_t *)buf, len, timeout_ms);
}

ssize_t nd_usb_async_bulk_in(nd_usb_async *u, uint8_t ep, uint8_t *buf, size_t cap, int timeout_ms)
{
    return bulk(u, (uint8_t)(ep | 0x80), buf, cap, timeout_ms);
}

int nd_usb_async_reopen(nd_usb_async *u)
{
    if (u->handle && !atomic_load(&u->lost)) return 0;
    close_device(u);
    uint64_t now = nd_monotonic_ns();
    bool arrived = atomic_exchange(&u->arrived, false);
    if (!arrived && now - u->last_scan_ns < (uint64_t)u->cfg.rescan_ms * 1000000u) return -1;
    u->last_scan_ns = now;
    char err[512];
    if (open_device(u, err, sizeof err) != 0) {
        nd_debug("usb: reopen: %s", err);
        if (strncmp(err, "permission", 10) == 0) nd_err("usb: %s", err);
        return -1;
    }
    atomic_store(&u->lost, false);
    atomic_fetch_add(&u->stats.reopens, 1);
    nd_info("usb %04x:%04x: device back", u->cfg.id.vid, u->cfg.id.pid);
    return 0;
}

bool nd_usb_async_is_lost(const nd_usb_async *u)
{
    return atomic_load(&u->lost) || !u->handle;
}

const char *nd_usb_async_serial(const nd_usb_async *u)
{
    return u->serial;
}

const char *nd_usb_async_product(const nd_usb_async *u)
{
    return u->product;
}

uint8_t nd_usb_async_stream_ep(const nd_usb_async *u)
{
    return u->ep;
}

const nd_usb_stats *nd_usb_async_stats(const nd_usb_async *u)
{
    return &u->stats;
}
