/* The registry: every driver and every decoder, one line each.
 *
 * To add a driver: write it (one .c/.h pair defining a const nd_driver) and
 * add one line to nd_drivers[]. A new kind of link (a transport, nd_transport.h)
 * becomes a driver through the stream device: define its nd_driver object in
 * this file (scheme, description, usage; the stream device's functions) and
 * list it. A new protocol over existing links is a decoder (nd_decoder.h):
 * one line in nd_decoders[], chosen by proto=. */
#include <string.h>

#include "nd_decoder.h"
#include "nd_labjack_u6.h"
#include "nd_loadstar.h"
#include "nd_nfp_decoder.h"
#include "nd_pair_device.h"
#include "nd_stream_device.h"
#include "nd_text_decoder.h"
#include "nd_transport.h"

/* Stream drivers: a transport read by nd_stream_device.c and decoded by the
 * decoder that proto= names. */
const nd_driver nd_driver_sim = {
    .scheme = "sim",
    .description = "built-in simulated Nordic board (NFP/1 frames from a force model)",
    .usage =
        "sim:?rate=HZ&nch=N&reps=N&rest=S&unloaded=S&lead=S&peak_left=N&peak_right=N|peak=N&asym="
        "PCT"
        "&rise=S&var=PCT&baseline=N&seed=N&noise=N_PP&spike_prob=P&spike_amp=N"
        "&hum_hz=0|50|60&hum_amp=N&cpn=COUNTS_PER_N&pace=1|0&sets_per_frame=1..64&clock_ppm=P"
        "&duration=S&serial=TEXT&model=TEXT&drop_every=N&corrupt_every=N"
        " (defaults: rate=1000 nch=2 reps=3 rest=4 unloaded=1 lead=2 peak_left=330 peak_right=300"
        " rise=2.5 var=5 baseline=10 seed=1 noise=0.4 cpn=1000 pace=1; see SIMULATOR.md)",
    .transport = &nd_transport_sim,
    .open = nd_stream_open,
    .run = nd_stream_run,
    .close = nd_stream_close,
    .command = nd_stream_command,
};

const nd_driver nd_driver_tcp = {
    .scheme = "tcp",
    .description = "TCP client (a network bridge or a simulator streaming NFP/1)",
    .usage = "tcp:HOST:PORT[?proto=nfp&connect_timeout_ms=1000&wait=0] (IPv6: tcp:[ADDR]:PORT; "
             "wait=1: start without the peer and connect when it appears)",
    .transport = &nd_transport_tcp,
    .open = nd_stream_open,
    .run = nd_stream_run,
    .close = nd_stream_close,
    .command = nd_stream_command,
};

const nd_driver nd_driver_file = {
    .scheme = "file",
    .description = "replay of a raw byte capture (real time or faster)",
    .usage = "file:PATH[?proto=nfp&pace=1&loop=0] (pace: 0 = as fast as possible, "
             "1 = real time, N = N times real time)",
    .transport = &nd_transport_file,
    .open = nd_stream_open,
    .run = nd_stream_run,
    .close = nd_stream_close,
    .command = nd_stream_command,
};

const nd_driver nd_driver_serial = {
    .scheme = "serial",
    .description = "serial port via libserialport (USB-CDC, FTDI, RS-232)",
    .usage = "serial:/dev/ttyACM0 | serial:usb=VID:PID[:SERIAL] ?baud=115200&bits=8&parity=none"
             "&stop=1&flow=none|rtscts|xonxoff&dtr=1&wait=0&proto=nfp|text",
    .transport = &nd_transport_serial,
    .open = nd_stream_open,
    .run = nd_stream_run,
    .close = nd_stream_close,
    .command = nd_stream_command,
};

const nd_driver nd_driver_usb = {
    .scheme = "usb",
    .description = "USB vendor bulk endpoint (libusb async; NFP/1 boards, default 1209:0001)",
    .usage = "usb:[VID:PID[:SERIAL]]?transfers=8&size=16384&queue=32&interface=-1&ep=0x81&"
             "ep_out=1&rescan_ms=500&proto=nfp",
    .transport = &nd_transport_usb,
    .open = nd_stream_open,
    .run = nd_stream_run,
    .close = nd_stream_close,
    .command = nd_stream_command,
};

const nd_driver *const nd_drivers[] = {
    &nd_driver_sim, &nd_driver_tcp,        &nd_driver_file, &nd_driver_serial,
    &nd_driver_usb, &nd_driver_labjack_u6, &nd_driver_pair, NULL,
};

const nd_decoder_ops *const nd_decoders[] = {
    &nd_decoder_nfp,
    &nd_decoder_text,
    &nd_decoder_loadstar,
    NULL,
};

const nd_driver *nd_driver_find(const char *scheme)
{
    for (size_t i = 0; nd_drivers[i]; i++)
        if (strcmp(nd_drivers[i]->scheme, scheme) == 0) return nd_drivers[i];
    return NULL;
}

const nd_decoder_ops *nd_decoder_find(const char *name)
{
    for (size_t i = 0; nd_decoders[i]; i++)
        if (strcmp(nd_decoders[i]->name, name) == 0) return nd_decoders[i];
    return NULL;
}
