/* Serial transport: open by path or USB match, configure, read, detect
 * unplug, reopen. */
#include "nd_tr_serial.h"

#include <errno.h>
#include <libserialport.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nd_log.h"

const char *const nd_tr_serial_keys[] = {"baud", "bits", "parity", "stop",
                                         "flow", "dtr",  "wait",   NULL};

typedef struct serial_cfg {
    char path[PATH_MAX]; /* by path (symlinks such as /dev/serial/by-id resolved at open) */
    bool by_usb;         /* else by VID:PID[:serial] */
    int vid, pid;
    char usb_serial[128]; /* "" = any */
    long baud, bits, stop;
    enum sp_parity parity;
    enum sp_flowcontrol flow;
    bool dtr;
} serial_cfg;

typedef struct serial_tr {
    serial_cfg cfg;
    /* write() may run on a control thread (device commands) while the
     * acquisition thread closes the port on unplug: the lock keeps the port
     * alive for a write in progress. The acquisition thread reads without it
     * (it is the only one that opens and closes the port). */
    pthread_mutex_t port_lock;
    struct sp_port *port;
    struct sp_event_set *events;
    char opened[PATH_MAX]; /* device node actually opened */
} serial_tr;

static void sp_error_text(char *out, size_t len)
{
    char *msg = sp_last_error_message();
    snprintf(out, len, "%s", msg ? msg : "unknown error");
    if (msg) sp_free_error_message(msg);
}

static int parse_usb_match(serial_cfg *c, const char *spec, char *err, size_t errlen)
{
    unsigned vid, pid;
    int used = 0;
    if (sscanf(spec, "%4x:%4x%n", &vid, &pid, &used) != 2 ||
        (spec[used] != '\0' && spec[used] != ':')) {
        snprintf(err, errlen, "serial:usb=%s: expected usb=VID:PID[:SERIAL] in hex, e.g. 2341:0043",
                 spec);
        return -1;
    }
    c->by_usb = true;
    c->vid = (int)vid;
    c->pid = (int)pid;
    if (spec[used] == ':') snprintf(c->usb_serial, sizeof c->usb_serial, "%s", spec + used + 1);
    return 0;
}

static int parse_cfg(serial_cfg *c, const nd_uri *uri, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    if (strncmp(uri->path, "usb=", 4) == 0) {
        if (parse_usb_match(c, uri->path + 4, err, errlen) < 0) return -1;
    } else if (uri->path[0] == '/') {
        snprintf(c->path, sizeof c->path, "%s", uri->path);
    } else {
        snprintf(err, errlen,
                 "serial:%s: give a device path (serial:/dev/ttyACM0) or a USB match "
                 "(serial:usb=VID:PID[:SERIAL])",
                 uri->path);
        return -1;
    }
    int dtr;
    if (nd_uri_get_long(uri, "baud", 115200, 50, 12000000, &c->baud, err, errlen) < 0 ||
        nd_uri_get_long(uri, "bits", 8, 5, 8, &c->bits, err, errlen) < 0 ||
        nd_uri_get_long(uri, "stop", 1, 1, 2, &c->stop, err, errlen) < 0 ||
        nd_uri_get_bool(uri, "dtr", 1, &dtr, err, errlen) < 0)
        return -1;
    c->dtr = dtr;
    const char *parity = nd_uri_get(uri, "parity");
    static const char *const parities[] = {"none", "odd", "even", "mark", "space"};
    c->parity = SP_PARITY_NONE;
    if (parity) {
        c->parity = SP_PARITY_INVALID;
        for (int i = 0; i < 5; i++)
            if (strcmp(parity, parities[i]) == 0) c->parity = (enum sp_parity)i;
        if (c->parity == SP_PARITY_INVALID) {
            snprintf(err, errlen, "parity=%s: expected none, odd, even, mark or space", parity);
            return -1;
        }
    }
    const char *flow = nd_uri_get(uri, "flow");
    c->flow = SP_FLOWCONTROL_NONE;
    if (flow) {
        if (strcmp(flow, "none") == 0)
            c->flow = SP_FLOWCONTROL_NONE;
        else if (strcmp(flow, "rtscts") == 0)
            c->flow = SP_FLOWCONTROL_RTSCTS;
        else if (strcmp(flow, "xonxoff") == 0)
            c->flow = SP_FLOWCONTROL_XONXOFF;
        else {
            snprintf(err, errlen, "flow=%s: expected none, rtscts or xonxoff", flow);
            return -1;
        }
    }
    return 0;
}

/* The first port whose USB ids (and serial, if given) match, or NULL. */
static struct sp_port *find_usb_port(const serial_cfg *c)
{
    struct sp_port **list = NULL;
    struct sp_port *found = NULL;
    if (sp_list_ports(&list) != SP_OK) return NULL;
    for (int i = 0; list[i] && !found; i++) {
        int vid = -1, pid = -1;
        if (sp_get_port_transport(list[i]) != SP_TRANSPORT_USB ||
            sp_get_port_usb_vid_pid(list[i], &vid, &pid) != SP_OK || vid != c->vid || pid != c->pid)
            continue;
        const char *sn = sp_get_port_usb_serial(list[i]);
        if (c->usb_serial[0] && (!sn || strcmp(sn, c->usb_serial) != 0)) continue;
        if (sp_copy_port(list[i], &found) != SP_OK) found = NULL;
    }
    sp_free_port_list(list);
    return found;
}

static void close_port(serial_tr *s)
{
    pthread_mutex_lock(&s->port_lock);
    if (s->events) sp_free_event_set(s->events);
    s->events = NULL;
    if (s->port) {
        sp_close(s->port);
        sp_free_port(s->port);
    }
    s->port = NULL;
    pthread_mutex_unlock(&s->port_lock);
}

/* One attempt to find, open and configure the port. */
static int open_port(serial_tr *s, char *err, size_t errlen)
{
    const serial_cfg *c = &s->cfg;
    char what[PATH_MAX + 32];
    if (c->by_usb) {
        snprintf(what, sizeof what, "usb=%04x:%04x%s%s", c->vid, c->pid,
                 c->usb_serial[0] ? ":" : "", c->usb_serial);
        s->port = find_usb_port(c);
        if (!s->port) {
            snprintf(err, errlen, "serial:%s: no such USB serial port is attached", what);
            return -1;
        }
    } else {
        /* libserialport looks the name up in /sys/class/tty, so resolve
         * /dev/serial/by-id/... links to the real node first. */
        char real[PATH_MAX];
        struct stat st;
        const char *name = c->path;
        if (lstat(c->path, &st) == 0 && S_ISLNK(st.st_mode) && realpath(c->path, real)) name = real;
        snprintf(what, sizeof what, "%s", c->path);
        if (sp_get_port_by_name(name, &s->port) != SP_OK) {
            s->port = NULL;
            snprintf(err, errlen,
                     "serial:%s: not a serial port known to the kernel (absent, or "
                     "a pty, which libserialport cannot open)",
                     what);
            return -1;
        }
    }
    snprintf(s->opened, sizeof s->opened, "%s", sp_get_port_name(s->port));
    char msg[200];
    if (sp_open(s->port, SP_MODE_READ_WRITE) != SP_OK) {
        sp_error_text(msg, sizeof msg);
        snprintf(err, errlen, "serial:%s: cannot open %s: %s", what, s->opened, msg);
        sp_free_port(s->port);
        s->port = NULL;
        return -1;
    }
    const char *step = NULL;
    if (sp_set_baudrate(s->port, (int)c->baud) != SP_OK)
        step = "baud rate";
    else if (sp_set_bits(s->port, (int)c->bits) != SP_OK)
        step = "data bits";
    else if (sp_set_parity(s->port, c->parity) != SP_OK)
        step = "parity";
    else if (sp_set_stopbits(s->port, (int)c->stop) != SP_OK)
        step = "stop bits";
    else if (sp_set_flowcontrol(s->port, c->flow) != SP_OK)
        step = "flow control";
    else if (sp_set_dtr(s->port, c->dtr ? SP_DTR_ON : SP_DTR_OFF) != SP_OK)
        step = "DTR";
    else if (sp_new_event_set(&s->events) != SP_OK ||
             sp_add_port_events(s->events, s->port, SP_EVENT_RX_READY) != SP_OK)
        step = "event set";
    if (step) {
        sp_error_text(msg, sizeof msg);
        snprintf(err, errlen, "serial:%s: cannot set %s on %s: %s", what, step, s->opened, msg);
        close_port(s);
        return -1;
    }
    nd_info("serial: opened %s (%ld baud, %ld%c%ld)", s->opened, c->baud, c->bits,
            "NOEMS"[c->parity], c -> stop);
    return 0;
}

static int serial_open(nd_transport *t, const nd_uri *uri, char *err, size_t errlen)
{
    serial_tr *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "serial: out of memory");
        return -1;
    }
    int wait = 0;
    if (parse_cfg(&s->cfg, uri, err, errlen) < 0 ||
        nd_uri_get_bool(uri, "wait", 0, &wait, err, errlen) < 0) {
        free(s);
        return -1;
    }
    /* Recursive: a failed open_port() under the lock closes the port. */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s->port_lock, &attr);
    pthread_mutexattr_destroy(&attr);
    if (open_port(s, err, errlen) < 0) {
        if (!wait) {
            pthread_mutex_destroy(&s->port_lock);
            free(s);
            return -1;
        }
        /* wait=1: start without the device; the first read reports it lost
         * and the stream device keeps trying reopen(). */
        nd_warn("%s; waiting for it to appear", err);
    }
    t->priv = s;
    return 0;
}

static ssize_t lost(serial_tr *s, const char *why)
{
    nd_warn("serial: %s lost (%s)", s->opened, why);
    close_port(s);
    return ND_TR_LOST;
}

static ssize_t serial_read(nd_transport *t, uint8_t *buf, size_t len, int timeout_ms)
{
    serial_tr *s = t->priv;
    if (!s->port) return ND_TR_LOST;
    if (len > INT_MAX) len = INT_MAX;
    int r = sp_nonblocking_read(s->port, buf, len);
    if (r > 0) return r;
    if (r < 0) return lost(s, "read error");
    if (timeout_ms > 0) {
        /* sp_wait(0) would wait forever, hence only with a positive timeout. */
        if (sp_wait(s->events, (unsigned)timeout_ms) != SP_OK) return lost(s, "wait failed");
        r = sp_nonblocking_read(s->port, buf, len);
        if (r > 0) return r;
        if (r < 0) return lost(s, "read error");
    }
    /* A hung-up tty polls ready yet reads 0 bytes; only the FIONREAD behind
     * sp_input_waiting() tells it apart from a quiet line. */
    if (sp_input_waiting(s->port) < 0) return lost(s, "hangup");
    return 0;
}

static int serial_write(nd_transport *t, const uint8_t *buf, size_t len)
{
    serial_tr *s = t->priv;
    pthread_mutex_lock(&s->port_lock);
    int w = s->port ? sp_blocking_write(s->port, buf, len, 1000) : -1;
    if (w != (int)len) nd_warn("serial: %s: write of %zu bytes incomplete (%d)", s->opened, len, w);
    pthread_mutex_unlock(&s->port_lock);
    return w == (int)len ? 0 : -1;
}

static int serial_reopen(nd_transport *t)
{
    serial_tr *s = t->priv;
    close_port(s);
    char err[256];
    /* Publish the port to writers only once it is configured. */
    pthread_mutex_lock(&s->port_lock);
    int rc = open_port(s, err, sizeof err);
    pthread_mutex_unlock(&s->port_lock);
    if (rc < 0) {
        nd_debug("%s", err);
        return -1;
    }
    return 0;
}

static void serial_close(nd_transport *t)
{
    serial_tr *s = t->priv;
    if (!s) return;
    close_port(s);
    pthread_mutex_destroy(&s->port_lock);
    free(s);
    t->priv = NULL;
}

const nd_transport_ops nd_transport_serial = {
    .keys = nd_tr_serial_keys,
    .default_proto = "nfp",
    .open = serial_open,
    .read = serial_read,
    .write = serial_write,
    .reopen = serial_reopen,
    .close = serial_close,
};
