/* A umockdev testbed with fake USB-CDC serial ports (ttyACM<n>) backed by
 * ptys, for tests of the serial transport. The test process must run with
 * LD_PRELOAD=<nd_serial_shim>:libumockdev-preload.so.0 (tests/CMakeLists.txt
 * sets it). */
#ifndef ND_SERIAL_TESTBED_H
#define ND_SERIAL_TESTBED_H

#include <stdbool.h>
#include <stddef.h>

typedef struct nd_stb nd_stb;

nd_stb *nd_stb_new(void);
void nd_stb_free(nd_stb *tb);
/* Plug in /dev/ttyACM<n> as USB vid:pid with a serial number (hex strings,
 * e.g. "2341", "0043"). Returns the device-side (pty master) fd, or -1. */
int nd_stb_plug(nd_stb *tb, int n, const char *vid, const char *pid, const char *serial);
/* Unplug: "remove" uevent, then the node and its sysfs entries vanish and
 * the pty hangs up. A number cannot be plugged again after an unplug (a
 * umockdev limit): replug under another n. */
void nd_stb_unplug(nd_stb *tb, int n);
/* write() all of buf to the device fd (blocks while the pty is full). */
bool nd_stb_write_all(int fd, const void *buf, size_t len);

#endif
