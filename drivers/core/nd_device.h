/* The driver contract, modelled on sigrok: one contract, a table of drivers
 * (nd_registry.c), transports (where bytes come from) kept apart from decoders
 * (how bytes become sample sets).
 *
 * A device is opened from a URI, then nd_device_run() is called on the
 * acquisition thread. It blocks, delivering sample sets and events to the
 * sink, reconnecting by itself when the hardware goes away and comes back,
 * until *stop becomes true (returns 0), the source ends (file replay:
 * returns ND_RUN_EOF) or a fatal error occurs (returns -1, logged). */
#ifndef ND_DEVICE_H
#define ND_DEVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_sample.h"
#include "nd_uri.h"

#define ND_RUN_EOF 1

typedef struct nd_device_info {
    char model[64];
    char serial[64];
    char fw[32];
    double rate_hz; /* sample-set rate used: nominal, or measured (text/Loadstar rate=auto) */
    int nch;        /* 1..ND_MAX_CHANNELS */
    char channel_names[ND_MAX_CHANNELS][32];
    double counts_per_newton[ND_MAX_CHANNELS]; /* 0 = unknown (needs calibration) */
    double capacity_n[ND_MAX_CHANNELS];        /* rated load of the cell, N; 0 = unknown */
    /* Something about the stream the user must know ("" = nothing), e.g. the
     * measured line rate is not the nominal one; shown on status. */
    char warning[256];
} nd_device_info;

typedef enum nd_device_event_kind {
    ND_EV_GAP,         /* count = sample sets lost (seq jump) */
    ND_EV_RESTART,     /* device seq went backwards */
    ND_EV_DEVICE_LOST, /* unplugged / peer gone */
    ND_EV_DEVICE_BACK, /* re-attached */
    ND_EV_OVERFLOW,    /* device reported its own dropped sets (STATUS); count = new drops */
    ND_EV_ERROR,       /* detail says what */
} nd_device_event_kind;

typedef struct nd_device_event {
    nd_device_event_kind kind;
    uint64_t host_ns;
    uint64_t seq;   /* device seq at which it happened (next expected) */
    uint64_t count; /* kind-specific */
    char detail[160];
} nd_device_event;

/* Counters are written by the acquisition thread (through the counting
 * helpers of nd_driver.h) and read by anyone. */
typedef struct nd_counters {
    _Atomic uint64_t bytes;
    _Atomic uint64_t frames_ok;
    _Atomic uint64_t frames_bad_cobs; /* COBS decode failed */
    _Atomic uint64_t frames_bad_crc;
    _Atomic uint64_t frames_bad_version;
    _Atomic uint64_t frames_bad_length; /* too short, too long, payload/len mismatch */
    _Atomic uint64_t frames_unknown_type;
    _Atomic uint64_t lines_ok;  /* text protocol */
    _Atomic uint64_t lines_bad; /* text protocol: did not parse */
    _Atomic uint64_t sets;      /* sample sets delivered */
    _Atomic uint64_t gaps;      /* number of seq jumps */
    _Atomic uint64_t gap_sets;  /* sample sets lost in those jumps */
    _Atomic uint64_t restarts;
    _Atomic uint64_t device_overflows; /* as reported by the device */
    _Atomic uint64_t disconnects;
    _Atomic uint64_t reconnects;
    /* Well framed (COBS, CRC, version fine) but the content is invalid, e.g.
     * an INFO frame whose JSON is malformed or lacks a required field. */
    _Atomic uint64_t frames_bad_payload;
} nd_counters;

/* Where a device delivers. Called on the acquisition thread only. */
typedef struct nd_sink {
    void *ctx;
    /* Hot path: n consecutive sample sets (n >= 1). */
    void (*samples)(void *ctx, const nd_sample *sets, size_t n);
    /* Rare: gaps, restarts, unplug/replug, errors. May be NULL. */
    void (*event)(void *ctx, const nd_device_event *ev);
    /* The device description is known or changed. May be NULL. */
    void (*info)(void *ctx, const nd_device_info *info);
    /* The sets delivered since the last call came from one read of the
     * device: a sink may hold them until now and pass them on together (the
     * daemon publishes once per read, RING.md "Wake-ups"). Drivers that read
     * in batches call it after each read (nd_device_end_read); for the
     * others every `samples` call is followed by one. May be NULL. */
    void (*end_of_read)(void *ctx);
} nd_sink;

/* Opaque to the daemon and tools: drivers see its fields in nd_driver.h. */
typedef struct nd_device nd_device;

/* A driver in the registry (nd_registry.c); its functions are the drivers'
 * business (nd_driver.h), the daemon only lists scheme, description, usage. */
typedef struct nd_driver nd_driver;
struct nd_driver {
    const char *scheme;      /* URI scheme */
    const char *description; /* one line for --help and `devices` */
    const char *usage;       /* URI form and options, for --help */
    /* Stream drivers (nd_stream_device.c): the transport they read; NULL for
     * complete drivers (LabJack, pair). */
    const struct nd_transport_ops *transport;
    /* Allocate dev->priv and prepare; may fail with a message (bad options,
     * device absent). Must not start streaming yet. */
    int (*open)(nd_device *dev, const nd_uri *uri, char *err, size_t errlen);
    int (*run)(nd_device *dev, const atomic_bool *stop);
    void (*close)(nd_device *dev);
    /* Optional: send a device-side command (e.g. hardware tare). */
    int (*command)(nd_device *dev, const char *cmd, char *err, size_t errlen);
};

/* Table of drivers, NULL-terminated (nd_registry.c). */
extern const nd_driver *const nd_drivers[];
const nd_driver *nd_driver_find(const char *scheme);

/* Parse the URI, find the driver, open. On failure returns -1 with one clear
 * line in err (unknown scheme lists the known ones). */
int nd_device_open(const char *uri_text, const nd_sink *sink, nd_device **out, char *err,
                   size_t errlen);
int nd_device_run(nd_device *dev, const atomic_bool *stop);
void nd_device_close(nd_device *dev);

/* Nobody watches the stream live (no live subscriber): a stream device may
 * then gather its reads for longer (ND_STREAM_IDLE_COALESCE_MS, drivers/
 * DRIVERS.md), unless its URI turned coalescing off. Safe from any thread; a
 * change cuts a read's pause short, so a new watcher gets data at once. */
void nd_device_set_unwatched(nd_device *dev, bool unwatched);

/* Read-only views, safe from any thread. */
const nd_counters *nd_device_counters(const nd_device *dev);
bool nd_device_connected(const nd_device *dev);
const char *nd_device_uri(const nd_device *dev);
/* The device's description once it gave one (true), copied into *out. The
 * acquisition thread may replace it meanwhile: the info callback is the way
 * to follow changes; this is for a look after run() returned or at open. */
bool nd_device_get_info(const nd_device *dev, nd_device_info *out);
/* A device-side command (e.g. "t" = tare on DIY firmware); any thread. -1
 * with one line in err when the device does not take commands or the send
 * failed. */
int nd_device_command(nd_device *dev, const char *cmd, char *err, size_t errlen);

uint64_t nd_monotonic_ns(void);

#endif
