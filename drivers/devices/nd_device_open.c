/* Opening a device by URI: the one place that maps a scheme to its driver
 * through the registry (nd_registry.c), so the core contract below it needs
 * no knowledge of which drivers exist. */
#include <stdio.h>
#include <stdlib.h>

#include "nd_driver.h"

static void list_schemes(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; nd_drivers[i] && used < cap; i++) {
        int n = snprintf(buf + used, cap - used, "%s%s:", i ? ", " : "", nd_drivers[i]->scheme);
        if (n < 0) break;
        used += (size_t)n;
    }
}

int nd_device_open(const char *uri_text, const nd_sink *sink, nd_device **out, char *err,
                   size_t errlen)
{
    *out = NULL;
    nd_uri uri;
    if (nd_uri_parse(uri_text, &uri, err, errlen) < 0) return -1;
    const nd_driver *drv = nd_driver_find(uri.scheme);
    if (!drv) {
        char known[256];
        list_schemes(known, sizeof known);
        snprintf(err, errlen, "unknown device type '%s:' (known: %s)", uri.scheme, known);
        nd_uri_free(&uri);
        return -1;
    }
    nd_device *dev = calloc(1, sizeof *dev);
    if (!dev) {
        snprintf(err, errlen, "out of memory");
        nd_uri_free(&uri);
        return -1;
    }
    dev->driver = drv;
    snprintf(dev->uri_text, sizeof dev->uri_text, "%s", uri_text);
    if (sink) dev->sink = *sink;
    /* The URI lives only during open: drivers copy what they keep. */
    int rc = drv->open(dev, &uri, err, errlen);
    nd_uri_free(&uri);
    if (rc < 0) {
        free(dev);
        return -1;
    }
    *out = dev;
    return 0;
}
