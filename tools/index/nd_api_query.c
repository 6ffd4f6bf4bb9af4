/* Query-string parsing and strict parameter validation for /api/v1. Every
 * value is checked against a pattern before it reaches SQL (and SQL binds it
 * as a parameter anyway): SQL-looking strings, huge numbers and unknown
 * parameters are refused with a 400 naming the parameter. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nd_api_internal.h"
#include "nd_trial_file.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into out; plus_is_space for query values. */
static int decode(const char *s, size_t n, bool plus_is_space, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == 0 || o + 1 >= outlen) return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

int api_decode_segment(const char *seg, size_t seglen, char *out, size_t outlen)
{
    return decode(seg, seglen, false, out, outlen);
}

/* Valid UTF-8 without control characters. */
static bool clean_text(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x20 || *p == 0x7f) return false;
        if (*p < 0x80) {
            p++;
            continue;
        }
        int extra = (*p & 0xe0) == 0xc0   ? 1
                    : (*p & 0xf0) == 0xe0 ? 2
                    : (*p & 0xf8) == 0xf0 ? 3
                                          : -1;
        if (extra < 0 || (*p == 0xc0 || *p == 0xc1)) return false;
        for (int k = 1; k <= extra; k++)
            if ((p[k] & 0xc0) != 0x80) return false;
        p += extra + 1;
    }
    return true;
}

static bool key_ok(const char *k)
{
    if (!*k) return false;
    for (; *k; k++)
        if (!(islower((unsigned char)*k) || *k == '_')) return false;
    return true;
}

int api_query_parse(const char *raw, const char *const *allowed, api_query *q, nd_api_response *out)
{
    memset(q, 0, sizeof *q);
    if (!raw || !*raw) return 0;
    const char *p = raw;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t klen = eq ? (size_t)(eq - p) : n;
        char key[64];
        if (n == 0 || decode(p, klen, true, key, sizeof key) || !key_ok(key)) {
            char shown[65];
            snprintf(shown, sizeof shown, "%.*s", (int)(klen < 64 ? klen : 64), p);
            api_error(out, 400, shown, "malformed query parameter name");
            return -1;
        }
        bool known = false;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, key) == 0) known = true;
        if (!known) {
            api_error(out, 400, key, "unknown query parameter '%s'", key);
            return -1;
        }
        if (api_query_get(q, key)) {
            api_error(out, 400, key, "query parameter '%s' given twice", key);
            return -1;
        }
        if (!eq) {
            api_error(out, 400, key, "query parameter '%s' needs a value", key);
            return -1;
        }
        if (q->n == API_MAX_PARAMS) {
            api_error(out, 400, key, "too many query parameters");
            return -1;
        }
        char *val = q->value[q->n];
        if (decode(eq + 1, n - klen - 1, true, val, API_MAX_VALUE + 1) || !clean_text(val)) {
            api_error(out, 400, key,
                      "value of '%s' is malformed, longer than %d bytes or holds control "
                      "characters",
                      key, API_MAX_VALUE);
            return -1;
        }
        snprintf(q->key[q->n], sizeof q->key[q->n], "%s", key);
        q->n++;
        p += n;
        if (*p == '&') p++;
    }
    return 0;
}

const char *api_query_get(const api_query *q, const char *key)
{
    for (int i = 0; i < q->n; i++)
        if (strcmp(q->key[i], key) == 0) return q->value[i];
    return NULL;
}

int api_parse_int(const api_query *q, const char *key, long min, long max, long dflt, long *v,
                  nd_api_response *out)
{
    const char *s = api_query_get(q, key);
    if (!s) {
        *v = dflt;
        return 0;
    }
    bool digits = *s && strlen(s) <= 12;
    for (const char *c = s; *c && digits; c++) digits = isdigit((unsigned char)*c);
    long x = digits ? strtol(s, NULL, 10) : 0;
    if (!digits || x < min || x > max) {
        api_error(out, 400, key, "%s must be an integer from %ld to %ld", key, min, max);
        return -1;
    }
    *v = x;
    return 0;
}

int api_parse_limit(const api_query *q, long *limit, nd_api_response *out)
{
    return api_parse_int(q, "limit", 1, ND_API_MAX_LIMIT, API_DEFAULT_LIMIT, limit, out);
}

int api_parse_time(const api_query *q, const char *key, bool *given, int64_t *t,
                   nd_api_response *out)
{
    const char *s = api_query_get(q, key);
    *given = s != NULL;
    if (!s) return 0;
    size_t n = strlen(s);
    bool digits = n > 0 && n <= 11;
    for (const char *c = s; *c && digits; c++) digits = isdigit((unsigned char)*c);
    if (digits) {
        *t = strtoll(s, NULL, 10);
        return 0;
    }
    struct tm tm = {0};
    char tail[2] = "";
    if (n == 20 &&
        sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%1[Z]", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, tail) == 7 &&
        isdigit((unsigned char)s[0]) && s[4] == '-' && s[7] == '-' && s[10] == 'T' &&
        tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31 &&
        tm.tm_hour <= 23 && tm.tm_min <= 59 && tm.tm_sec <= 60) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        *t = (int64_t)timegm(&tm);
        return 0;
    }
    api_error(out, 400, key, "%s must be UTC 'YYYY-MM-DDTHH:MM:SSZ' or Unix seconds", key);
    return -1;
}

int api_check_id(const char *value, const char *parameter, nd_api_response *out)
{
    char why[256];
    if (nd_trial_athlete_id_check(value, why, sizeof why) == 0) return 0;
    api_error(out, 400, parameter, "%s: %s", parameter, why);
    return -1;
}

int api_check_search(const char *value, const char *parameter, nd_api_response *out)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        if (*p >= 0x80 || isalnum(*p) || *p == ' ' || *p == '.' || *p == '_' || *p == '\'' ||
            (*p == '-' && p[1] != '-'))
            continue;
        api_error(out, 400, parameter,
                  "%s may hold letters, digits, spaces and . _ - ' only (found '%c')", parameter,
                  *p == '-' ? '-' : *p);
        return -1;
    }
    if (strlen(value) > 128) {
        api_error(out, 400, parameter, "%s is longer than 128 bytes", parameter);
        return -1;
    }
    return 0;
}

void api_cursor_encode(int64_t num, const char *text, char *out, size_t outlen)
{
    char plain[320];
    int n = snprintf(plain, sizeof plain, "%lld|%s", (long long)num, text);
    if (n < 0) n = 0;
    if ((size_t)n >= sizeof plain) n = (int)sizeof plain - 1;
    size_t o = (size_t)snprintf(out, outlen, "c1");
    for (int i = 0; i < n && o + 3 <= outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, "%02x", (unsigned char)plain[i]);
}

int api_cursor_decode(const char *cursor, int64_t *num, char *text, size_t textlen)
{
    size_t n = strlen(cursor);
    if (n < 4 || strncmp(cursor, "c1", 2) != 0 || (n - 2) % 2 != 0 || (n - 2) / 2 >= 320) return -1;
    char plain[320];
    size_t k = 0;
    for (size_t i = 2; i < n; i += 2) {
        int hi = hexval((unsigned char)cursor[i]), lo = hexval((unsigned char)cursor[i + 1]);
        if (hi < 0 || lo < 0) return -1;
        plain[k++] = (char)(hi * 16 + lo);
    }
    plain[k] = '\0';
    if (strlen(plain) != k) return -1;
    char *bar = strchr(plain, '|');
    if (!bar || bar == plain) return -1;
    *bar = '\0';
    char *end = NULL;
    errno = 0;
    long long v = strtoll(plain, &end, 10);
    if (errno || *end) return -1;
    if (strlen(bar + 1) >= textlen || !bar[1]) return -1;
    *num = v;
    snprintf(text, textlen, "%s", bar + 1);
    return 0;
}
