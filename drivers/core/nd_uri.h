/* Device URIs: "scheme:path?key=value&key=value", e.g.
 *   sim:?rate=1000&reps=3
 *   serial:/dev/ttyACM0?baud=921600&proto=nfp
 *   tcp:127.0.0.1:7000?proto=nfp
 *   file:capture.bin?proto=nfp&pace=1
 *   usb:1209:0001
 * Values are percent-decoded. Drivers must call nd_uri_check_keys() so that a
 * misspelt option is an error, never silently ignored. */
#ifndef ND_URI_H
#define ND_URI_H

#include <stddef.h>
#include <stdint.h>

#define ND_URI_MAX_PARAMS 32

typedef struct nd_uri_param {
    char *key;
    char *value;
} nd_uri_param;

typedef struct nd_uri {
    char *scheme; /* lower-case letters/digits, never empty */
    char *path;   /* may be empty */
    size_t nparams;
    nd_uri_param params[ND_URI_MAX_PARAMS];
} nd_uri;

/* Returns 0 on success; on failure -1 and a one-line message in err. */
int nd_uri_parse(const char *text, nd_uri *out, char *err, size_t errlen);
void nd_uri_free(nd_uri *uri);

/* NULL if absent. */
const char *nd_uri_get(const nd_uri *uri, const char *key);

/* Typed getters: return 0 and set *out (default when absent), or -1 with a
 * message naming the key, the bad value and the accepted range. */
int nd_uri_get_long(const nd_uri *uri, const char *key, long def, long min, long max, long *out,
                    char *err, size_t errlen);
int nd_uri_get_double(const nd_uri *uri, const char *key, double def, double min, double max,
                      double *out, char *err, size_t errlen);
int nd_uri_get_bool(const nd_uri *uri, const char *key, int def, int *out, char *err,
                    size_t errlen);

/* allowed: NULL-terminated list. Returns -1 naming the first unknown key. */
int nd_uri_check_keys(const nd_uri *uri, const char *const *allowed, char *err, size_t errlen);

#endif
