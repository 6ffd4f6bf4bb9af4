/* Fake USB devices for tests and benchmarks, built on the umockdev C API.
 *
 * A fake device is a sysfs entry with real descriptors plus a usbfs ioctl
 * handler (UMockdevIoctlBase "handle-ioctl") that implements what libusb's
 * Linux backend issues: capabilities, claim/release, control transfers
 * (string descriptors), SUBMITURB/REAPURB[NDELAY]/DISCARDURB for bulk
 * endpoints, clear-halt. The real libusb runs unchanged against it.
 *
 * IN endpoints serve queued USB packets: a reap fills the URB with whole
 * packets and stops after a short one, as a host controller does. OUT data
 * is handed to a callback (the fake firmware), which may queue replies.
 *
 * The program must run under `umockdev-wrapper` (or with
 * LD_PRELOAD=libumockdev-preload.so.0). */
#ifndef ND_USB_FAKE_H
#define ND_USB_FAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct nd_fake_usb nd_fake_usb;

typedef struct nd_fake_usb_desc {
    uint16_t vid, pid;
    const char *manufacturer, *product, *serial;
    uint16_t max_packet; /* bulk wMaxPacketSize (64 full speed, 512 high speed) */
    uint8_t ep_in[3];    /* bulk IN endpoint addresses (0 = unused) */
    uint8_t ep_out;      /* bulk OUT endpoint address (0 = none) */
} nd_fake_usb_desc;

/* Called on umockdev's handler thread with the fake's lock held: may call
 * nd_fake_usb_push*_locked() to answer. */
typedef void (*nd_fake_usb_out_fn)(void *ctx, nd_fake_usb *f, uint8_t ep, const uint8_t *data,
                                   size_t len);

/* Returns NULL (with a message on stderr) when not running under umockdev. */
nd_fake_usb *nd_fake_usb_new(const nd_fake_usb_desc *desc, nd_fake_usb_out_fn on_out, void *ctx);
void nd_fake_usb_free(nd_fake_usb *f);

/* Plug in (a new device address each time, like a real replug). */
int nd_fake_usb_plug(nd_fake_usb *f);
/* Unplug with transfers in flight: pending URBs complete with -ESHUTDOWN,
 * further I/O gets ENODEV, then the remove uevent and sysfs removal. */
void nd_fake_usb_unplug(nd_fake_usb *f);
/* The path of the device node while plugged (for permission tests). */
const char *nd_fake_usb_devnode(const nd_fake_usb *f);

/* Queue bytes on an IN endpoint, split into max_packet USB packets. */
void nd_fake_usb_push(nd_fake_usb *f, uint8_t ep, const void *data, size_t len);
/* Queue exactly one USB packet (len <= max_packet; shorter = short packet). */
void nd_fake_usb_push_packet(nd_fake_usb *f, uint8_t ep, const void *data, size_t len);
void nd_fake_usb_push_packet_locked(nd_fake_usb *f, uint8_t ep, const void *data, size_t len);
/* The next IN transfer on ep fails with a stall (-EPIPE). */
void nd_fake_usb_stall(nd_fake_usb *f, uint8_t ep);

/* Bytes still queued on ep (not yet taken by the host). */
size_t nd_fake_usb_pending(nd_fake_usb *f, uint8_t ep);
/* URBs the host currently has in flight on ep. */
int nd_fake_usb_inflight(nd_fake_usb *f, uint8_t ep);
/* Counters: clear-halt requests, URBs submitted on ep. */
unsigned nd_fake_usb_clear_halts(nd_fake_usb *f);
uint64_t nd_fake_usb_submits(nd_fake_usb *f, uint8_t ep);
/* Wait (polling) until cond(f) or timeout_ms; returns the last result. */
bool nd_fake_usb_wait(nd_fake_usb *f, bool (*cond)(nd_fake_usb *f, void *arg), void *arg,
                      int timeout_ms);

#endif
