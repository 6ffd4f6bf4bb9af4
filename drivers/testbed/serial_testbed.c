/* umockdev testbed for fake USB serial ports (serial_testbed.h). */
#include "serial_testbed.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umockdev.h>
#include <unistd.h>

#define ND_STB_MAX 8

struct nd_stb {
    UMockdevTestbed *tb;
    char *usb_syspath[ND_STB_MAX]; /* top of each plugged device */
    int master[ND_STB_MAX];
};

nd_stb *nd_stb_new(void)
{
    const char *preload = getenv("LD_PRELOAD");
    if (!preload || !strstr(preload, "libumockdev-preload")) {
        fprintf(stderr, "serial testbed: not running under libumockdev-preload\n");
        return NULL;
    }
    nd_stb *s = calloc(1, sizeof *s);
    if (s) s->tb = umockdev_testbed_new();
    return s;
}

void nd_stb_free(nd_stb *s)
{
    if (!s) return;
    for (int i = 0; i < ND_STB_MAX; i++)
        if (s->usb_syspath[i]) nd_stb_unplug(s, i);
    g_object_unref(s->tb);
    free(s);
}

int nd_stb_plug(nd_stb *s, int n, const char *vid, const char *pid, const char *serial)
{
    if (n < 0 || n >= ND_STB_MAX || s->usb_syspath[n]) return -1;
    /* Real layout: usb device -> cdc_acm interface -> tty, with the tty's
     * "device" link pointing at the interface (libserialport walks up from
     * there to find idVendor/idProduct/serial). */
    char desc[2048];
    snprintf(desc, sizeof desc,
             "P: /devices/pci0000:00/usb1/1-%d\n"
             "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\n"
             "A: idVendor=%s\nA: idProduct=%s\nA: serial=%s\n"
             "A: manufacturer=nordic-test\nA: product=fake CDC board\n"
             "A: busnum=1\nA: devnum=%d\n\n"
             "P: /devices/pci0000:00/usb1/1-%d/1-%d:1.0\n"
             "E: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\nE: DRIVER=cdc_acm\n"
             "A: bInterfaceNumber=00\n\n"
             "P: /devices/pci0000:00/usb1/1-%d/1-%d:1.0/tty/ttyACM%d\n"
             "N: ttyACM%d\n"
             "E: SUBSYSTEM=tty\nE: DEVNAME=/dev/ttyACM%d\n"
             "A: dev=166:%d\nL: device=../../../1-%d:1.0\n",
             n + 1, vid, pid, serial, n + 2, n + 1, n + 1, n + 1, n + 1, n, n, n, n, n + 1);
    GError *err = NULL;
    if (!umockdev_testbed_add_from_string(s->tb, desc, &err)) {
        fprintf(stderr, "serial testbed: %s\n", err ? err->message : "cannot add device");
        if (err) g_error_free(err);
        return -1;
    }
    char syspath[128], node[32];
    snprintf(syspath, sizeof syspath, "/sys/devices/pci0000:00/usb1/1-%d", n + 1);
    snprintf(node, sizeof node, "/dev/ttyACM%d", n);
    s->usb_syspath[n] = g_strdup(syspath);
    s->master[n] = umockdev_testbed_get_dev_fd(s->tb, node);
    return s->master[n];
}

void nd_stb_unplug(nd_stb *s, int n)
{
    if (n < 0 || n >= ND_STB_MAX || !s->usb_syspath[n]) return;
    char tty[192];
    snprintf(tty, sizeof tty, "%s/1-%d:1.0/tty/ttyACM%d", s->usb_syspath[n], n + 1, n);
    umockdev_testbed_uevent(s->tb, tty, "remove");
    /* Children first; removing the tty closes the pty master (hangup). */
    umockdev_testbed_remove_device(s->tb, tty);
    char intf[160];
    snprintf(intf, sizeof intf, "%s/1-%d:1.0", s->usb_syspath[n], n + 1);
    umockdev_testbed_remove_device(s->tb, intf);
    umockdev_testbed_remove_device(s->tb, s->usb_syspath[n]);
    /* umockdev keeps the pty master (and asserts if the same node is created
     * again), so hang up by putting /dev/null on its fd number: the pty is
     * closed, and the testbed's own close later stays harmless. Replug under
     * another ttyACM number, as Linux does while the old node is held. */
    char pts[64];
    if (s->master[n] >= 0 && ptsname_r(s->master[n], pts, sizeof pts) == 0) {
        /* umockdev maps the pty name back to the node; the kernel reuses pty
         * numbers, so a stale map entry would break the next plug. */
        gchar *root = umockdev_testbed_get_root_dir(s->tb);
        gchar *mangled = g_strdelimit(g_strdup(pts), "/", '_');
        gchar *map = g_build_filename(root, "dev", ".ptymap", mangled, NULL);
        unlink(map);
        g_free(map);
        g_free(mangled);
        g_free(root);
    }
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0 && s->master[n] >= 0) {
        dup2(null_fd, s->master[n]);
        close(null_fd);
    }
    g_free(s->usb_syspath[n]);
    s->usb_syspath[n] = NULL;
}

bool nd_stb_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        len -= (size_t)w;
    }
    return true;
}
