/* libFuzzer target: the device URI parser (drivers/nd_uri.c) and its typed
 * getters. Input: one URI text (NUL bytes end it, as in a C string). */
#include <stdlib.h>
#include <string.h>

#include "nd_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    memcpy(text, data, size);
    text[size] = 0;
    nd_uri uri;
    char err[256];
    err[0] = 0;
    if (nd_uri_parse(text, &uri, err, sizeof err) < 0) {
        if (err[0] == 0) abort(); /* refusals say why */
        free(text);
        return 0;
    }
    static const char *const keys[] = {"proto", "baud", "rate", "scale", "left",
                                       "right", "wait", "tare", "",      NULL};
    for (int i = 0; keys[i]; i++) {
        const char *v = nd_uri_get(&uri, keys[i]);
        if (v && strlen(v) > size) abort(); /* a value is never longer than the text */
        long l;
        double d;
        int b;
        nd_uri_get_long(&uri, keys[i], 7, -100, 100, &l, err, sizeof err);
        nd_uri_get_double(&uri, keys[i], 1.5, -1e9, 1e9, &d, err, sizeof err);
        nd_uri_get_bool(&uri, keys[i], 0, &b, err, sizeof err);
    }
    static const char *const allowed[] = {"proto", "baud", "rate", NULL};
    nd_uri_check_keys(&uri, allowed, err, sizeof err);
    nd_uri_free(&uri);
    free(text);
    return 0;
}
