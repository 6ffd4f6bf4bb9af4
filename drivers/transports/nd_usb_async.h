/* USB streaming on libusb-1.0's asynchronous API, shared by the USB transport
 * (nd_tr_usb.c, NFP/1 over vendor bulk) and the LabJack U6 driver.
 *
 * One nd_usb_async owns a libusb context and an event thread. While
 * streaming, `transfers` bulk IN transfers of `transfer_size` bytes are kept
 * in flight on the stream endpoint, so the device always has a pending read;
 * each completed transfer is copied into a small queue of chunks and
 * resubmitted at once on the event thread. The reader takes chunks in order.
 * Nothing is dropped on the host: when the queue is full a completed transfer
 * is held back (not resubmitted) until the reader makes room, so the device
 * sees fewer pending reads and its own buffer (and overflow report) takes
 * over, as with a slow host.
 *
 * Unplug: in-flight transfers complete with NO_DEVICE, the queue is drained
 * by the reader and then reads report ND_TR_LOST. nd_usb_async_reopen() gets
 * the device back: immediately after a hotplug ARRIVED event, otherwise by a
 * rescan every rescan_ms. Streaming must be restarted by the caller after a
 * reopen (a LabJack needs its stream configured again first). */
#ifndef ND_USB_ASYNC_H
#define ND_USB_ASYNC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Which device: VID:PID and optionally its serial-number string. */
typedef struct nd_usb_id {
    uint16_t vid, pid;
    char serial[64]; /* "" = any */
} nd_usb_id;

/* Parses "VVVV:PPPP[:SERIAL]" (hex ids); an empty text gives the defaults.
 * Returns 0, or -1 with a message naming the bad part. */
int nd_usb_id_parse(const char *text, uint16_t def_vid, uint16_t def_pid, nd_usb_id *id, char *err,
                    size_t errlen);

typedef struct nd_usb_async_config {
    nd_usb_id id;
    int interface_number; /* -1: the interface that holds ep_in */
    uint8_t ep_in;        /* stream endpoint (0x80 bit set); 0 = first bulk IN */
    int transfers;        /* transfers kept in flight (1..64) */
    size_t transfer_size; /* bytes per transfer */
    int queue_chunks;     /* completed transfers held for the reader (>= transfers) */
    int rescan_ms;        /* rescan period while the device is away */
} nd_usb_async_config;

/* Counters, written on the event thread, readable by anyone. */
typedef struct nd_usb_stats {
    _Atomic uint64_t transfers_done; /* completed with data or empty */
    _Atomic uint64_t bytes;
    _Atomic uint64_t stalls;    /* endpoint halted, cleared and resubmitted */
    _Atomic uint64_t babble;    /* device sent more than asked */
    _Atomic uint64_t throttled; /* transfers held back: the reader was behind */
    _Atomic uint64_t disconnects;
    _Atomic uint64_t reopens;
} nd_usb_stats;

typedef struct nd_usb_async nd_usb_async;

/* Sets the defaults: any interface, first bulk IN, 8 x 16 KiB, queue 32,
 * rescan 500 ms. */
void nd_usb_async_config_default(nd_usb_async_config *cfg);

/* Creates the context and event thread, registers hotplug where libusb
 * supports it, and opens + claims the device. Fails with one clear line
 * (device absent, permission denied naming the udev rule, interface busy). */
int nd_usb_async_open(const nd_usb_async_config *cfg, nd_usb_async **out, char *err, size_t errlen);
void nd_usb_async_close(nd_usb_async *u);

/* Submit the streaming transfers (idempotent). 0 or -1 (logged). */
int nd_usb_async_start(nd_usb_async *u);
/* Cancel the streaming transfers and wait until all have come back; queued
 * chunks are discarded. */
void nd_usb_async_stop(nd_usb_async *u);

/* Copy up to cap bytes of queued data (chunk_end == NULL: as many chunks as
 * fit; otherwise at most one chunk). Returns the byte count,
 * 0 on timeout, ND_TR_LOST once the device is gone and the queue is empty.
 * A chunk larger than cap is returned over several calls; *chunk_end (if not
 * NULL) says whether this call finished a chunk, which is a USB transfer
 * boundary. host_ns (if not NULL) gets the completion time of the chunk. */
ssize_t nd_usb_async_read(nd_usb_async *u, uint8_t *buf, size_t cap, int timeout_ms,
                          uint64_t *host_ns, bool *chunk_end);

/* Synchronous bulk transfers for command/response endpoints. Return bytes
 * transferred, or ND_TR_LOST (device gone) / ND_TR_ERR / 0 on timeout. */
ssize_t nd_usb_async_bulk_out(nd_usb_async *u, uint8_t ep, const uint8_t *buf, size_t len,
                              int timeout_ms);
ssize_t nd_usb_async_bulk_in(nd_usb_async *u, uint8_t ep, uint8_t *buf, size_t cap, int timeout_ms);

/* After ND_TR_LOST: release the old handle and try once to open the device
 * again. 0 = back (not streaming yet), -1 = not yet. */
int nd_usb_async_reopen(nd_usb_async *u);
bool nd_usb_async_is_lost(const nd_usb_async *u);

/* Strings read from the device at open ("" if it has none). */
const char *nd_usb_async_serial(const nd_usb_async *u);
const char *nd_usb_async_product(const nd_usb_async *u);
uint8_t nd_usb_async_stream_ep(const nd_usb_async *u);
const nd_usb_stats *nd_usb_async_stats(const nd_usb_async *u);

/* The sentence shown when the device node cannot be opened for lack of
 * permission (names the udev rule to install). */
#define ND_USB_PERMISSION_HINT                                                                     \
    "install the udev rules (sudo cp udev/60-nordic.rules /etc/udev/rules.d/ && sudo "             \
    "udevadm control --reload && sudo udevadm trigger), then replug the device; see "              \
    "udev/README.md"

#endif
