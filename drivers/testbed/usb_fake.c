/* Fake USB devices on umockdev; see usb_fake.h. */
#include "usb_fake.h"

#include <errno.h>
#include <linux/usbdevice_fs.h>
#include <sys/ioctl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <umockdev.h>

#define FAKE_MAX_EPS   4
#define FAKE_MAX_PLUGS 16

typedef struct fake_packet {
    struct fake_packet *next;
    size_t len;
    uint8_t data[];
} fake_packet;

typedef struct fake_ep {
    uint8_t addr;
    fake_packet *head, *tail;
    size_t bytes;
    bool stall;
    uint64_t submits;
} fake_ep;

typedef struct fake_urb {
    UMockdevIoctlData *urb; /* resolved struct usbdevfs_urb */
    UMockdevIoctlData *buf; /* resolved transfer buffer */
    uint8_t ep;
    int status, actual;
} fake_urb;

struct nd_fake_usb {
    nd_fake_usb_desc desc;
    char manufacturer[64], product[64], serial[64];
    nd_fake_usb_out_fn on_out;
    void *ctx;
    UMockdevIoctlBase *handler;
    pthread_mutex_t lock;
    GList *pending; /* fake_urb*, IN transfers waiting for data, oldest first */
    GList *done;    /* fake_urb*, ready to be reaped */
    fake_ep eps[FAKE_MAX_EPS];
    int neps;
    bool plugged;
    int plugs;
    char syspath[128];
    char devnode[64];
    char attached[FAKE_MAX_PLUGS][64];
    int nattached;
    unsigned clear_halts;
};

static UMockdevTestbed *g_testbed;
static int g_testbed_users;
static int g_next_devnum = 2;

static fake_ep *find_ep(nd_fake_usb *f, uint8_t addr)
{
    for (int i = 0; i < f->neps; i++)
        if (f->eps[i].addr == addr) return &f->eps[i];
    return NULL;
}

static void urb_free(fake_urb *u)
{
    if (u->buf) umockdev_ioctl_data_unref(u->buf);
    if (u->urb) umockdev_ioctl_data_unref(u->urb);
    free(u);
}

static void finish(nd_fake_usb *f, fake_urb *u, int status, int actual)
{
    u->status = status;
    u->actual = actual;
    f->done = g_list_append(f->done, u);
}

/* Move IN URBs that can complete now from pending to done. */
static void serve_locked(nd_fake_usb *f)
{
    GList *l = f->pending;
    while (l) {
        GList *next = l->next;
        fake_urb *u = l->data;
        fake_ep *ep = find_ep(f, u->ep);
        bool complete = false;
        if (ep && ep->stall) {
            ep->stall = false;
            finish(f, u, -EPIPE, 0);
            complete = true;
        } else if (ep && ep->head) {
            size_t cap = (size_t)u->buf->data_len, got = 0;
            int status = 0;
            while (ep->head) {
                fake_packet *p = ep->head;
                if (p->len > cap - got) {
                    if (got == 0) { /* babble: the packet does not fit at all */
                        status = -EOVERFLOW;
                        ep->head = p->next;
                        ep->bytes -= p->len;
                        free(p);
                    }
                    break;
                }
                memcpy(u->buf->data + got, p->data, p->len);
                got += p->len;
                ep->head = p->next;
                ep->bytes -= p->len;
                bool short_packet = p->len < f->desc.max_packet;
                free(p);
                if (short_packet) break;
            }
            if (!ep->head) ep->tail = NULL;
            finish(f, u, status, (int)got);
            complete = true;
        }
        if (complete) f->pending = g_list_delete_link(f->pending, l);
        l = next;
    }
}

static size_t utf16_string(const char *s, uint8_t *out, size_t cap)
{
    size_t n = strlen(s);
    size_t len = 2 + 2 * n;
    if (len > 255) len = 255 & ~1u;
    uint8_t tmp[256];
    tmp[0] = (uint8_t)len;
    tmp[1] = 3; /* STRING */
    for (size_t i = 0; 2 + 2 * i + 1 < len; i++) {
        tmp[2 + 2 * i] = (uint8_t)s[i];
        tmp[3 + 2 * i] = 0;
    }
    size_t copy = len < cap ? len : cap;
    memcpy(out, tmp, copy);
    return copy;
}

/* Control transfers: only GET_DESCRIPTOR(STRING) is needed by libusb here. */
static void control_locked(nd_fake_usb *f, fake_urb *u)
{
    uint8_t *b = u->buf->data;
    int total = u->buf->data_len;
    if (total < 8) {
        finish(f, u, -EINVAL, 0);
        return;
    }
    uint8_t req_type = b[0], req = b[1];
    uint16_t value = (uint16_t)(b[2] | b[3] << 8);
    uint16_t length = (uint16_t)(b[6] | b[7] << 8);
    size_t cap = (size_t)(total - 8) < length ? (size_t)(total - 8) : length;
    if (req_type == 0x80 && req == 6 && (value >> 8) == 3) {
        uint8_t idx = value & 0xff;
        size_t n;
        if (idx == 0) {
            const uint8_t langs[4] = {4, 3, 0x09, 0x04};
            n = cap < 4 ? cap : 4;
            memcpy(b + 8, langs, n);
        } else {
            const char *s = idx == 1 ? f->manufacturer : idx == 2 ? f->product : f->serial;
            n = utf16_string(s, b + 8, cap);
        }
        finish(f, u, 0, (int)n);
        return;
    }
    finish(f, u, -EPIPE, 0); /* unsupported request: stall, as devices do */
}

static gboolean on_ioctl(UMockdevIoctlBase *handler, UMockdevIoctlClient *client, gpointer data)
{
    (void)handler;
    nd_fake_usb *f = data;
    gulong request = umockdev_ioctl_client_get_request(client);
    UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
    const char *node = umockdev_ioctl_client_get_devnode(client);

    pthread_mutex_lock(&f->lock);
    /* A handle on an earlier plug-in of this device sees it gone. */
    bool gone = !f->plugged || strcmp(node, f->devnode) != 0;
    gboolean handled = TRUE;
    switch (request) {
    case USBDEVFS_GET_CAPABILITIES: {
        UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(guint32), NULL);
        *(guint32 *)d->data = USBDEVFS_CAP_BULK_CONTINUATION | USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
                              USBDEVFS_CAP_REAP_AFTER_DISCONNECT | USBDEVFS_CAP_ZERO_PACKET;
        umockdev_ioctl_data_unref(d);
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case USBDEVFS_CLAIMINTERFACE:
    case USBDEVFS_RELEASEINTERFACE:
    case USBDEVFS_DISCONNECT_CLAIM:
    case USBDEVFS_SETINTERFACE:
    case USBDEVFS_SETCONFIGURATION:
    case USBDEVFS_RESET:
    case USBDEVFS_RESETEP:
        if (gone && request != USBDEVFS_RELEASEINTERFACE)
            umockdev_ioctl_client_complete(client, -1, ENODEV);
        else
            umockdev_ioctl_client_complete(client, 0, 0);
        break;
    case USBDEVFS_CLEAR_HALT:
        f->clear_halts++;
        umockdev_ioctl_client_complete(client, gone ? -1 : 0, gone ? ENODEV : 0);
        break;
    case USBDEVFS_GETDRIVER:
    case USBDEVFS_IOCTL:
        umockdev_ioctl_client_complete(client, -1, ENODATA); /* no kernel driver bound */
        break;
    case USBDEVFS_SUBMITURB: {
        if (gone) {
            umockdev_ioctl_client_complete(client, -1, ENODEV);
            break;
        }
        fake_urb *u = calloc(1, sizeof *u);
        u->urb = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb), NULL);
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->urb->data;
        u->buf = umockdev_ioctl_data_resolve(u->urb, G_STRUCT_OFFSET(struct usbdevfs_urb, buffer),
                                             (gsize)urb->buffer_length, NULL);
        u->ep = urb->endpoint;
        fake_ep *ep = find_ep(f, urb->endpoint);
        if (ep) ep->submits++;
        if (urb->type == USBDEVFS_URB_TYPE_CONTROL) {
            control_locked(f, u);
        } else if (urb->type == USBDEVFS_URB_TYPE_BULK && !(urb->endpoint & 0x80)) {
            if (f->on_out)
                f->on_out(f->ctx, f, urb->endpoint, u->buf->data, (size_t)urb->buffer_length);
            finish(f, u, 0, urb->buffer_length);
            serve_locked(f);
        } else if (urb->type == USBDEVFS_URB_TYPE_BULK && ep) {
            f->pending = g_list_append(f->pending, u);
            serve_locked(f);
        } else {
            urb_free(u);
            umockdev_ioctl_client_complete(client, -1, EINVAL);
            break;
        }
        umockdev_ioctl_client_complete(client, 0, 0);
        break;
    }
    case USBDEVFS_REAPURB:
    case USBDEVFS_REAPURBNDELAY: {
        if (!gone) serve_locked(f);
        if (!f->done) {
            umockdev_ioctl_client_complete(client, -1, gone ? ENODEV : EAGAIN);
            break;
        }
        fake_urb *u = f->done->data;
        f->done = g_list_delete_link(f->done, f->done);
        struct usbdevfs_urb *urb = (struct usbdevfs_urb *)u->urb->data;
        urb->status = u->status;
        urb->actual_length = u->actual;
        UMockdevIoctlData *ptr = umockdev_ioctl_data_resolve(arg, 0, sizeof(gpointer), NULL);
        umockdev_ioctl_data_set_ptr(ptr, 0, u->urb);
        umockdev_ioctl_client_complete(client, 0, 0);
        umockdev_ioctl_data_unref(ptr);
        urb_free(u);
        break;
    }
    case USBDEVFS_DISCARDURB: {
        gulong addr = (gulong) * (void **)arg->data;
        GList *l = f->pending;
        while (l && ((fake_urb *)l->data)->urb->client_addr != addr) l = l->next;
        if (l) {
            fake_urb *u = l->data;
            f->pending = g_list_delete_link(f->pending, l);
            finish(f, u, -ENOENT, 0);
            umockdev_ioctl_client_complete(client, 0, 0);
        } else {
            umockdev_ioctl_client_complete(client, -1, EINVAL);
        }
        break;
    }
    default:
        handled = FALSE;
        break;
    }
    pthread_mutex_unlock(&f->lock);
    return handled;
}

nd_fake_usb *nd_fake_usb_new(const nd_fake_usb_desc *desc, nd_fake_usb_out_fn on_out, void *ctx)
{
    const char *preload = getenv("LD_PRELOAD");
    if (!preload || !strstr(preload, "umockdev-preload")) {
        fprintf(stderr, "fake USB: not running under umockdev (use umockdev-wrapper)\n");
        return NULL;
    }
    if (!g_testbed) g_testbed = umockdev_testbed_new();
    g_testbed_users++;
    nd_fake_usb *f = calloc(1, sizeof *f);
    f->desc = *desc;
    snprintf(f->manufacturer, sizeof f->manufacturer, "%s",
             desc->manufacturer ? desc->manufacturer : "");
    snprintf(f->product, sizeof f->product, "%s", desc->product ? desc->product : "");
    snprintf(f->serial, sizeof f->serial, "%s", desc->serial ? desc->serial : "");
    f->on_out = on_out;
    f->ctx = ctx;
    pthread_mutex_init(&f->lock, NULL);
    for (int i = 0; i < 3; i++)
        if (desc->ep_in[i]) f->eps[f->neps++].addr = desc->ep_in[i];
    if (desc->ep_out) f->eps[f->neps++].addr = desc->ep_out;
    f->handler = umockdev_ioctl_base_new();
    g_signal_connect(f->handler, "handle-ioctl", G_CALLBACK(on_ioctl), f);
    return f;
}

static void hex(GString *s, const uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++) g_string_append_printf(s, "%02X", b[i]);
}

int nd_fake_usb_plug(nd_fake_usb *f)
{
    if (f->plugged) return 0;
    if (f->nattached == FAKE_MAX_PLUGS) return -1;
    int devnum = g_next_devnum++;
    snprintf(f->syspath, sizeof f->syspath, "/sys/devices/usb%d", devnum);
    snprintf(f->devnode, sizeof f->devnode, "/dev/bus/usb/001/%03d", devnum);

    /* Device descriptor, then one configuration with one vendor interface. */
    uint8_t d[18 + 9 + 9 + 7 * FAKE_MAX_EPS];
    size_t n = 0;
    const uint8_t dev[18] = {18,
                             1,
                             0x00,
                             0x02,
                             0,
                             0,
                             0,
                             64,
                             f->desc.vid & 0xff,
                             f->desc.vid >> 8,
                             f->desc.pid & 0xff,
                             f->desc.pid >> 8,
                             0x00,
                             0x01,
                             1,
                             2,
                             3,
                             1};
    memcpy(d, dev, 18);
    n = 18;
    uint16_t total = (uint16_t)(9 + 9 + 7 * f->neps);
    const uint8_t cfg[9] = {9, 2, total & 0xff, total >> 8, 1, 1, 0, 0x80, 50};
    memcpy(d + n, cfg, 9);
    n += 9;
    const uint8_t itf[9] = {9, 4, 0, 0, (uint8_t)f->neps, 0xff, 0, 0, 0};
    memcpy(d + n, itf, 9);
    n += 9;
    for (int i = 0; i < f->neps; i++) {
        const uint8_t ep[7] = {
            7, 5, f->eps[i].addr, 2, f->desc.max_packet & 0xff, f->desc.max_packet >> 8, 0};
        memcpy(d + n, ep, 7);
        n += 7;
    }
    GString *s = g_string_new(NULL);
    g_string_append_printf(s,
                           "P: /devices/usb%d\nN: bus/usb/001/%03d\nE: SUBSYSTEM=usb\n"
                           "E: DEVNAME=/dev/bus/usb/001/%03d\nE: DEVTYPE=usb_device\n"
                           "E: BUSNUM=001\nE: DEVNUM=%03d\nA: busnum=1\\n\nA: devnum=%d\\n\n"
                           "A: bConfigurationValue=1\\n\nA: speed=480\\n\n"
                           "A: idVendor=%04x\\n\nA: idProduct=%04x\\n\nA: serial=%s\\n\n"
                           "H: descriptors=",
                           devnum, devnum, devnum, devnum, devnum, f->desc.vid, f->desc.pid,
                           f->serial);
    hex(s, d, n);
    g_string_append(s, "\n");

    pthread_mutex_lock(&f->lock);
    f->plugged = true;
    f->plugs++;
    for (int i = 0; i < f->neps; i++) f->eps[i].stall = false;
    pthread_mutex_unlock(&f->lock);

    /* Attach the handler before the device appears so an ARRIVED callback can
     * open it at once. */
    GError *error = NULL;
    if (!umockdev_testbed_attach_ioctl(g_testbed, f->devnode, f->handler, &error)) {
        fprintf(stderr, "fake USB: attach_ioctl: %s\n", error ? error->message : "?");
        g_clear_error(&error);
        g_string_free(s, TRUE);
        return -1;
    }
    snprintf(f->attached[f->nattached++], sizeof f->attached[0], "%s", f->devnode);
    if (!umockdev_testbed_add_from_string(g_testbed, s->str, &error)) {
        fprintf(stderr, "fake USB: add device: %s\n", error ? error->message : "?");
        g_clear_error(&error);
        g_string_free(s, TRUE);
        return -1;
    }
    g_string_free(s, TRUE);
    return 0;
}

static bool done_drained(nd_fake_usb *f, void *arg)
{
    (void)arg;
    pthread_mutex_lock(&f->lock);
    bool empty = f->done == NULL;
    pthread_mutex_unlock(&f->lock);
    return empty;
}

void nd_fake_usb_unplug(nd_fake_usb *f)
{
    if (!f->plugged) return;
    pthread_mutex_lock(&f->lock);
    f->plugged = false;
    while (f->pending) {
        finish(f, f->pending->data, -ESHUTDOWN, 0);
        f->pending = g_list_delete_link(f->pending, f->pending);
    }
    for (int i = 0; i < f->neps; i++) {
        fake_ep *ep = &f->eps[i];
        while (ep->head) {
            fake_packet *p = ep->head;
            ep->head = p->next;
            free(p);
        }
        ep->tail = NULL;
        ep->bytes = 0;
    }
    pthread_mutex_unlock(&f->lock);
    /* Let the host reap the failed transfers before the node disappears. */
    nd_fake_usb_wait(f, done_drained, NULL, 1000);
    umockdev_testbed_uevent(g_testbed, f->syspath, "remove");
    umockdev_testbed_remove_device(g_testbed, f->syspath);
}

const char *nd_fake_usb_devnode(const nd_fake_usb *f)
{
    return f->devnode;
}

void nd_fake_usb_free(nd_fake_usb *f)
{
    if (!f) return;
    nd_fake_usb_unplug(f);
    for (int i = 0; i < f->nattached; i++)
        umockdev_testbed_detach_ioctl(g_testbed, f->attached[i], NULL);
    g_object_unref(f->handler);
    while (f->done) {
        urb_free(f->done->data);
        f->done = g_list_delete_link(f->done, f->done);
    }
    pthread_mutex_destroy(&f->lock);
    free(f);
    if (--g_testbed_users == 0) {
        g_object_unref(g_testbed);
        g_testbed = NULL;
    }
}

void nd_fake_usb_push_packet_locked(nd_fake_usb *f, uint8_t ep_addr, const void *data, size_t len)
{
    fake_ep *ep = find_ep(f, ep_addr);
    if (!ep || !f->plugged) return;
    fake_packet *p = malloc(sizeof *p + len);
    p->next = NULL;
    p->len = len;
    memcpy(p->data, data, len);
    if (ep->tail)
        ep->tail->next = p;
    else
        ep->head = p;
    ep->tail = p;
    ep->bytes += len;
}

void nd_fake_usb_push_packet(nd_fake_usb *f, uint8_t ep, const void *data, size_t len)
{
    pthread_mutex_lock(&f->lock);
    nd_fake_usb_push_packet_locked(f, ep, data, len);
    pthread_mutex_unlock(&f->lock);
}

void nd_fake_usb_push(nd_fake_usb *f, uint8_t ep, const void *data, size_t len)
{
    const uint8_t *b = data;
    pthread_mutex_lock(&f->lock);
    for (size_t off = 0; off < len; off += f->desc.max_packet) {
        size_t n = len - off < f->desc.max_packet ? len - off : f->desc.max_packet;
        nd_fake_usb_push_packet_locked(f, ep, b + off, n);
    }
    pthread_mutex_unlock(&f->lock);
}

void nd_fake_usb_stall(nd_fake_usb *f, uint8_t ep_addr)
{
    pthread_mutex_lock(&f->lock);
    fake_ep *ep = find_ep(f, ep_addr);
    if (ep) ep->stall = true;
    pthread_mutex_unlock(&f->lock);
}

size_t nd_fake_usb_pending(nd_fake_usb *f, uint8_t ep_addr)
{
    pthread_mutex_lock(&f->lock);
    fake_ep *ep = find_ep(f, ep_addr);
    size_t n = ep ? ep->bytes : 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

int nd_fake_usb_inflight(nd_fake_usb *f, uint8_t ep)
{
    int n = 0;
    pthread_mutex_lock(&f->lock);
    for (GList *l = f->pending; l; l = l->next)
        if (((fake_urb *)l->data)->ep == ep) n++;
    pthread_mutex_unlock(&f->lock);
    return n;
}

unsigned nd_fake_usb_clear_halts(nd_fake_usb *f)
{
    pthread_mutex_lock(&f->lock);
    unsigned n = f->clear_halts;
    pthread_mutex_unlock(&f->lock);
    return n;
}

uint64_t nd_fake_usb_submits(nd_fake_usb *f, uint8_t ep_addr)
{
    pthread_mutex_lock(&f->lock);
    fake_ep *ep = find_ep(f, ep_addr);
    uint64_t n = ep ? ep->submits : 0;
    pthread_mutex_unlock(&f->lock);
    return n;
}

bool nd_fake_usb_wait(nd_fake_usb *f, bool (*cond)(nd_fake_usb *f, void *arg), void *arg,
                      int timeout_ms)
{
    for (int waited = 0;; waited++) {
        if (cond(f, arg)) return true;
        if (waited >= timeout_ms) return false;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}
