/* Device URI parser (nd_uri.h). Strict on purpose: a misspelt or malformed
 * option must be a clear error at open, never a silently different device.
 *
 * Grammar: scheme ":" path [ "?" key "=" value *( "&" key "=" value ) ]
 *   scheme  [A-Za-z][A-Za-z0-9+.-]*, stored lower-case (schemes are
 *           case-insensitive as in RFC 3986)
 *   path    anything up to the first '?', percent-decoded, may be empty
 *   key     non-empty after decoding, unique; value may be empty
 * '+' is a literal plus (this is not an HTML form). "%00" is refused because
 * values are C strings. */
#include "nd_uri.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Matches nd_device.uri_text so every parsed URI can be echoed back whole. */
#define ND_URI_MAX_TEXT 511

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decode text[0..len) into a new string; what names the part for
 * the error message. */
static char *decode_part(const char *text, size_t len, const char *what, char *err, size_t errlen)
{
    char *out = malloc(len + 1);
    if (!out) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] != '%') {
            out[o++] = text[i];
            continue;
        }
        int hi = i + 1 < len ? hex_value(text[i + 1]) : -1;
        int lo = i + 2 < len ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            set_err(err, errlen, "bad percent escape '%.*s' in %s (expected %%XX, X hex)",
                    (int)(len - i < 3 ? len - i : 3), text + i, what);
            free(out);
            return NULL;
        }
        if (hi == 0 && lo == 0) {
            set_err(err, errlen, "%%00 (NUL byte) is not allowed in %s", what);
            free(out);
            return NULL;
        }
        out[o++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[o] = '\0';
    return out;
}

void nd_uri_free(nd_uri *uri)
{
    if (!uri) return;
    free(uri->scheme);
    free(uri->path);
    for (size_t i = 0; i < uri->nparams && i < ND_URI_MAX_PARAMS; i++) {
        free(uri->params[i].key);
        free(uri->params[i].value);
    }
    memset(uri, 0, sizeof *uri);
}

static int parse_scheme(const char *text, size_t len, nd_uri *out, char *err, size_t errlen)
{
    if (len == 0) {
        set_err(err, errlen, "device URI '%s' has an empty scheme (expected scheme:path)", text);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        bool ok = isascii(c) &&
                  (isalpha(c) || (i > 0 && (isdigit(c) || c == '+' || c == '.' || c == '-')));
        if (!ok) {
            set_err(err, errlen,
                    "device URI scheme '%.*s' is invalid (expected a letter, then letters, "
                    "digits, '+', '.' or '-')",
                    (int)len, text);
            return -1;
        }
    }
    out->scheme = malloc(len + 1);
    if (!out->scheme) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++) out->scheme[i] = (char)tolower((unsigned char)text[i]);
    out->scheme[len] = '\0';
    return 0;
}

static int parse_param(const char *seg, size_t len, nd_uri *out, char *err, size_t errlen)
{
    if (len == 0) {
        set_err(err, errlen, "empty option in device URI (stray '&' or '?')");
        return -1;
    }
    const char *eq = memchr(seg, '=', len);
    if (!eq) {
        set_err(err, errlen, "option '%.*s' has no value (expected key=value)", (int)len, seg);
        return -1;
    }
    if (eq == seg) {
        set_err(err, errlen, "option '%.*s' has an empty key (expected key=value)", (int)len, seg);
        return -1;
    }
    if (out->nparams >= ND_URI_MAX_PARAMS) {
        set_err(err, errlen, "too many options in device URI (at most %d)", ND_URI_MAX_PARAMS);
        return -1;
    }
    char *key = decode_part(seg, (size_t)(eq - seg), "option key", err, errlen);
    if (!key) return -1;
    for (size_t i = 0; i < out->nparams; i++) {
        if (strcmp(out->params[i].key, key) == 0) {
            set_err(err, errlen, "option '%s' is given twice in device URI", key);
            free(key);
            return -1;
        }
    }
    char *value = decode_part(eq + 1, len - (size_t)(eq + 1 - seg), "option value", err, errlen);
    if (!value) {
        free(key);
        return -1;
    }
    out->params[out->nparams].key = key;
    out->params[out->nparams].value = value;
    out->nparams++;
    return 0;
}

int nd_uri_parse(const char *text, nd_uri *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!text || !*text) {
        set_err(err, errlen, "empty device URI (expected scheme:path?key=value, e.g. sim:)");
        return -1;
    }
    size_t total = strlen(text);
    if (total > ND_URI_MAX_TEXT) {
        set_err(err, errlen, "device URI is too long (%zu characters, at most %d)", total,
                ND_URI_MAX_TEXT);
        return -1;
    }
    const char *colon = strchr(text, ':');
    const char *qmark = strchr(text, '?');
    if (!colon || (qmark && qmark < colon)) {
        set_err(err, errlen, "device URI '%s' has no scheme (expected scheme:path, e.g. sim:)",
                text);
        return -1;
    }
    if (parse_scheme(text, (size_t)(colon - text), out, err, errlen) < 0) goto fail;

    const char *path = colon + 1;
    size_t path_len = qmark ? (size_t)(qmark - path) : strlen(path);
    out->path = decode_part(path, path_len, "path", err, errlen);
    if (!out->path) goto fail;

    if (qmark) {
        const char *seg = qmark + 1;
        if (*seg) {
            for (;;) {
                const char *amp = strchr(seg, '&');
                size_t len = amp ? (size_t)(amp - seg) : strlen(seg);
                if (parse_param(seg, len, out, err, errlen) < 0) goto fail;
                if (!amp) break;
                seg = amp + 1;
            }
        }
    }
    return 0;
fail:
    nd_uri_free(out);
    return -1;
}

const char *nd_uri_get(const nd_uri *uri, const char *key)
{
    for (size_t i = 0; i < uri->nparams; i++)
        if (strcmp(uri->params[i].key, key) == 0) return uri->params[i].value;
    return NULL;
}

int nd_uri_get_long(const nd_uri *uri, const char *key, long def, long min, long max, long *out,
                    char *err, size_t errlen)
{
    const char *v = nd_uri_get(uri, key);
    if (!v) {
        *out = def;
        return 0;
    }
    /* Base 10 only: "010" must not silently mean 8. */
    char *end = NULL;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || isspace((unsigned char)*v) || *end != '\0') {
        set_err(err, errlen, "option %s='%s' is not an integer (expected %ld..%ld)", key, v, min,
                max);
        return -1;
    }
    if (errno == ERANGE || x < min || x > max) {
        set_err(err, errlen, "option %s=%s is out of range (expected %ld..%ld)", key, v, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

int nd_uri_get_double(const nd_uri *uri, const char *key, double def, double min, double max,
                      double *out, char *err, size_t errlen)
{
    const char *v = nd_uri_get(uri, key);
    if (!v) {
        *out = def;
        return 0;
    }
    char *end = NULL;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || isspace((unsigned char)*v) || *end != '\0' || !isfinite(x)) {
        set_err(err, errlen, "option %s='%s' is not a number (expected %g..%g)", key, v, min, max);
        return -1;
    }
    if (errno == ERANGE || x < min || x > max) {
        set_err(err, errlen, "option %s=%s is out of range (expected %g..%g)", key, v, min, max);
        return -1;
    }
    *out = x;
    return 0;
}

int nd_uri_get_bool(const nd_uri *uri, const char *key, int def, int *out, char *err, size_t errlen)
{
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    const char *v = nd_uri_get(uri, key);
    if (!v) {
        *out = def ? 1 : 0;
        return 0;
    }
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    set_err(err, errlen,
            "option %s='%s' is not a boolean (expected 1/0, true/false, yes/no, "
            "on/off)",
            key, v);
    return -1;
}

int nd_uri_check_keys(const nd_uri *uri, const char *const *allowed, char *err, size_t errlen)
{
    for (size_t i = 0; i < uri->nparams; i++) {
        bool known = false;
        for (size_t k = 0; allowed && allowed[k]; k++)
            if (strcmp(uri->params[i].key, allowed[k]) == 0) known = true;
        if (known) continue;
        char list[256] = "";
        size_t used = 0;
        for (size_t k = 0; allowed && allowed[k] && used < sizeof list; k++) {
            int n = snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", allowed[k]);
            if (n < 0) break;
            used += (size_t)n;
        }
        set_err(err, errlen, "unknown option '%s' for %s: (known: %s)", uri->params[i].key,
                uri->scheme ? uri->scheme : "?", list[0] ? list : "none");
        return -1;
    }
    return 0;
}
