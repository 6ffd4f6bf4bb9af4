/* The tables of transports, decoders and drivers. To add one, add one line to
 * the matching list below (and the .c file defining the symbol):
 *   ND_STREAM_TRANSPORTS: an nd_transport_ops; it becomes a driver whose scheme
 *                         is the transport's, run by nd_stream_device.c.
 *   ND_DECODERS:          an nd_decoder_ops, selected by proto=.
 *   ND_OTHER_DRIVERS:     a complete nd_driver that is not transport+decoder. */
#include <string.h>

#include "nd_decoder.h"
#include "nd_stream_device.h"
#include "nd_transport.h"

#define ND_STREAM_TRANSPORTS(X)                                                                    \
    X(nd_transport_sim)                                                                            \
    X(nd_transport_tcp)                                                                            \
    X(nd_transport_file)                                                                           \
    X(nd_tr_serial_ops)                                                                            \
    X(nd_tr_usb_ops)

#define ND_DECODERS(X) X(nd_decoder_nfp) X(nd_text_decoder_ops) X(nd_loadstar_decoder_ops)

#define ND_OTHER_DRIVERS(X) X(nd_labjack_u6_driver) X(nd_pair_driver)

#define ND_DECLARE_TRANSPORT(t) extern const nd_transport_ops t;
#define ND_DECLARE_DECODER(d)   extern const nd_decoder_ops d;
#define ND_DECLARE_DRIVER(d)    extern const nd_driver d;
ND_STREAM_TRANSPORTS(ND_DECLARE_TRANSPORT)
ND_DECODERS(ND_DECLARE_DECODER)
ND_OTHER_DRIVERS(ND_DECLARE_DRIVER)

/* One driver per stream transport. scheme/description/usage are copied from
 * the transport before main() (C does not allow reading another object's
 * fields in a static initializer). */
#define ND_STREAM_DRIVER(t)                                                                        \
    static nd_driver t##_driver = {.open = nd_stream_open,                                         \
                                   .run = nd_stream_run,                                           \
                                   .close = nd_stream_close,                                       \
                                   .command = nd_stream_command};
ND_STREAM_TRANSPORTS(ND_STREAM_DRIVER)

#define ND_FILL_DRIVER(t)                                                                          \
    t##_driver.scheme = t.scheme;                                                                  \
    t##_driver.description = t.description;                                                        \
    t##_driver.usage = t.usage;
__attribute__((constructor)) static void nd_registry_init(void)
{
    ND_STREAM_TRANSPORTS(ND_FILL_DRIVER)
}

#define ND_ADDRESS(x)        &x,
#define ND_DRIVER_ADDRESS(t) &t##_driver,

const nd_transport_ops *const nd_transports[] = {ND_STREAM_TRANSPORTS(ND_ADDRESS) NULL};
const nd_decoder_ops *const nd_decoders[] = {ND_DECODERS(ND_ADDRESS) NULL};
const nd_driver *const nd_drivers[] = {ND_STREAM_TRANSPORTS(ND_DRIVER_ADDRESS)
                                           ND_OTHER_DRIVERS(ND_ADDRESS) NULL};

const nd_driver *nd_driver_find(const char *scheme)
{
    for (size_t i = 0; nd_drivers[i]; i++)
        if (nd_drivers[i]->scheme && strcmp(nd_drivers[i]->scheme, scheme) == 0)
            return nd_drivers[i];
    return NULL;
}

const nd_transport_ops *nd_transport_find(const char *scheme)
{
    for (size_t i = 0; nd_transports[i]; i++)
        if (strcmp(nd_transports[i]->scheme, scheme) == 0) return nd_transports[i];
    return NULL;
}

const nd_decoder_ops *nd_decoder_find(const char *name)
{
    for (size_t i = 0; nd_decoders[i]; i++)
        if (strcmp(nd_decoders[i]->name, name) == 0) return nd_decoders[i];
    return NULL;
}
