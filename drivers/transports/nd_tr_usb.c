/* USB bulk transport: `usb:VID:PID[:SERIAL]?transfers=8&size=16384&proto=nfp`.
 * Bytes from the bulk IN endpoint of a vendor-class interface (NFP/1 boards,
 * default 1209:0001), read through the asynchronous layer (nd_usb_async.h) so
 * several transfers are always pending. See drivers/USB.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nd_log.h"
#include "nd_transport.h"
#include "nd_usb_async.h"

#define ND_USB_DEFAULT_VID 0x1209
#define ND_USB_DEFAULT_PID 0x0001

static const char *const usb_keys[] = {"transfers", "size",   "queue",     "interface",
                                       "ep",        "ep_out", "rescan_ms", NULL};

/* Endpoint addresses are conventionally written in hex: accept 0x81 or 129. */
static int get_ep(const nd_uri *uri, const char *key, long def, long min, long max, long *out,
                  char *err, size_t errlen)
{
    const char *v = nd_uri_get(uri, key);
    *out = def;
    if (!v) return 0;
    char *end = NULL;
    long x = strtol(v, &end, 0);
    if (!*v || *end || x < min || x > max) {
        snprintf(err, errlen, "usb: %s=%s: expected an endpoint address 0x%02lx-0x%02lx", key, v,
                 min, max);
        return -1;
    }
    *out = x;
    return 0;
}

typedef struct usb_tr {
    nd_usb_async *usb;
    uint8_t ep_out;
    uint64_t stalls_seen;
} usb_tr;

static int usb_open(nd_transport *t, const nd_uri *uri, char *err, size_t errlen)
{
    nd_usb_async_config cfg;
    nd_usb_async_config_default(&cfg);
    if (nd_usb_id_parse(uri->path, ND_USB_DEFAULT_VID, ND_USB_DEFAULT_PID, &cfg.id, err, errlen) <
        0)
        return -1;
    long transfers, size, queue, iface, ep, ep_out, rescan;
    if (nd_uri_get_long(uri, "transfers", 8, 1, 64, &transfers, err, errlen) < 0 ||
        nd_uri_get_long(uri, "size", 16384, 64, 1 << 20, &size, err, errlen) < 0 ||
        nd_uri_get_long(uri, "queue", 0, 0, 4096, &queue, err, errlen) < 0 ||
        nd_uri_get_long(uri, "interface", -1, -1, 255, &iface, err, errlen) < 0 ||
        get_ep(uri, "ep", 0, 0, 0xff, &ep, err, errlen) < 0 ||
        get_ep(uri, "ep_out", 0x01, 0x01, 0x0f, &ep_out, err, errlen) < 0 ||
        nd_uri_get_long(uri, "rescan_ms", 500, 10, 60000, &rescan, err, errlen) < 0)
        return -1;
    if (ep != 0 && !(ep & 0x80)) {
        snprintf(err, errlen, "usb: ep=0x%02lx is not an IN endpoint (IN addresses are 0x81-0x8f)",
                 ep);
        return -1;
    }
    cfg.transfers = (int)transfers;
    cfg.transfer_size = (size_t)size;
    /* Default queue: room for four rounds of in-flight transfers. */
    cfg.queue_chunks = queue ? (int)queue : (int)transfers * 4;
    if (cfg.queue_chunks < cfg.transfers) {
        snprintf(err, errlen, "usb: queue=%ld must be at least transfers=%ld", queue, transfers);
        return -1;
    }
    cfg.interface_number = (int)iface;
    cfg.ep_in = (uint8_t)ep;
    cfg.rescan_ms = (int)rescan;

    usb_tr *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->ep_out = (uint8_t)ep_out;
    if (nd_usb_async_open(&cfg, &p->usb, err, errlen) < 0) {
        free(p);
        return -1;
    }
    if (nd_usb_async_start(p->usb) < 0) {
        snprintf(err, errlen, "usb %04x:%04x: cannot start streaming", cfg.id.vid, cfg.id.pid);
        nd_usb_async_close(p->usb);
        free(p);
        return -1;
    }
    nd_info("usb %04x:%04x '%s' serial '%s': streaming from 0x%02x, %d x %zu bytes in flight",
            cfg.id.vid, cfg.id.pid, nd_usb_async_product(p->usb), nd_usb_async_serial(p->usb),
            nd_usb_async_stream_ep(p->usb), cfg.transfers, cfg.transfer_size);
    t->priv = p;
    return 0;
}

/* Host-side trouble is made visible as events. */
static void report_stats(nd_transport *t, usb_tr *p)
{
    const nd_usb_stats *s = nd_usb_async_stats(p->usb);
    uint64_t stalls = atomic_load(&s->stalls);
    if (stalls != p->stalls_seen && t->dev) {
        nd_device_emit_event(t->dev, ND_EV_ERROR, 0, stalls - p->stalls_seen,
                             "usb: stream endpoint stalled %llu time(s); halt cleared",
                             (unsigned long long)(stalls - p->stalls_seen));
    }
    p->stalls_seen = stalls;
}

static ssize_t usb_read(nd_transport *t, uint8_t *buf, size_t len, int timeout_ms)
{
    usb_tr *p = t->priv;
    ssize_t n = nd_usb_async_read(p->usb, buf, len, timeout_ms, NULL, NULL);
    report_stats(t, p);
    return n;
}

static int usb_write(nd_transport *t, const uint8_t *buf, size_t len)
{
    usb_tr *p = t->priv;
    ssize_t n = nd_usb_async_bulk_out(p->usb, p->ep_out, buf, len, 1000);
    return n == (ssize_t)len ? 0 : -1;
}

static int usb_reopen(nd_transport *t)
{
    usb_tr *p = t->priv;
    if (nd_usb_async_reopen(p->usb) < 0) return -1;
    return nd_usb_async_start(p->usb) < 0 ? -1 : 0;
}

static void usb_close(nd_transport *t)
{
    usb_tr *p = t->priv;
    if (!p) return;
    nd_usb_async_close(p->usb);
    free(p);
    t->priv = NULL;
}

const nd_transport_ops nd_transport_usb = {
    .keys = usb_keys,
    .default_proto = "nfp",
    .open = usb_open,
    .read = usb_read,
    .write = usb_write,
    .reopen = usb_reopen,
    .close = usb_close,
};
