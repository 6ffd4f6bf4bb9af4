/* Allocation-free JSON text writer (see nd_json_writer.h). */
#include "nd_json_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nd_jw_init(nd_json_writer *w, char *buf, size_t cap)
{
    *w = (nd_json_writer){.buf = buf, .cap = cap, .failed = cap == 0};
    if (cap) buf[0] = '\0';
}

/* Appends n bytes, keeping room for the final NUL; refuses what does not fit. */
static void put(nd_json_writer *w, const char *s, size_t n)
{
    if (w->failed) return;
    if (n >= w->cap - w->len) {
        w->failed = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void put_char(nd_json_writer *w, char c)
{
    put(w, &c, 1);
}

/* Separates a value from the previous one at the same level. */
static void before_value(nd_json_writer *w)
{
    if (w->need_comma) put_char(w, ',');
    w->need_comma = true;
}

static void open_container(nd_json_writer *w, char c)
{
    before_value(w);
    put_char(w, c);
    w->depth++;
    w->need_comma = false;
}

static void close_container(nd_json_writer *w, char c)
{
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    put_char(w, c);
    w->depth--;
    w->need_comma = true;
}

void nd_jw_begin_object(nd_json_writer *w)
{
    open_container(w, '{');
}

void nd_jw_end_object(nd_json_writer *w)
{
    close_container(w, '}');
}

void nd_jw_begin_array(nd_json_writer *w)
{
    open_container(w, '[');
}

void nd_jw_end_array(nd_json_writer *w)
{
    close_container(w, ']');
}

static void put_escaped(nd_json_writer *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    put_char(w, '"');
    const char *run = s; /* bytes copied as they are, in one put */
    for (;; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        put(w, run, (size_t)(s - run));
        if (c == '\0') break;
        char esc[6] = {'\\', 0};
        size_t n = 2;
        switch (c) {
        case '"':
            esc[1] = '"';
            break;
        case '\\':
            esc[1] = '\\';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
            n = 6;
        }
        put(w, esc, n);
        run = s + 1;
    }
    put_char(w, '"');
}

void nd_jw_key(nd_json_writer *w, const char *name)
{
    if (w->need_comma) put_char(w, ',');
    put_escaped(w, name);
    put_char(w, ':');
    w->need_comma = false;
}

void nd_jw_string(nd_json_writer *w, const char *s)
{
    before_value(w);
    put_escaped(w, s);
}

void nd_jw_null(nd_json_writer *w)
{
    before_value(w);
    put(w, "null", 4);
}

void nd_jw_bool(nd_json_writer *w, bool v)
{
    before_value(w);
    if (v)
        put(w, "true", 4);
    else
        put(w, "false", 5);
}

/* Decimal digits of v (and a leading '-'), without a value separator. */
static void put_decimal(nd_json_writer *w, bool negative, uint64_t v)
{
    char tmp[24];
    char *p = tmp + sizeof tmp;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative) *--p = '-';
    put(w, p, (size_t)(tmp + sizeof tmp - p));
}

void nd_jw_uint(nd_json_writer *w, uint64_t v)
{
    before_value(w);
    put_decimal(w, false, v);
}

void nd_jw_int(nd_json_writer *w, int64_t v)
{
    before_value(w);
    /* Magnitude through unsigned arithmetic: -INT64_MIN does not fit int64. */
    put_decimal(w, v < 0, v < 0 ? 0 - (uint64_t)v : (uint64_t)v);
}

/* Integral doubles below this print as integers (cJSON's %1.15g switches to
 * an exponent from 1e15 on, so the text stays the same). */
#define INTEGRAL_LIMIT 1e15

void nd_jw_double(nd_json_writer *w, double v)
{
    if (!isfinite(v)) {
        nd_jw_null(w);
        return;
    }
    if (fabs(v) < INTEGRAL_LIMIT && v == trunc(v)) {
        nd_jw_int(w, (int64_t)v);
        return;
    }
    before_value(w);
    char tmp[32];
    int n = snprintf(tmp, sizeof tmp, "%.15g", v);
    if (strtod(tmp, NULL) != v) n = snprintf(tmp, sizeof tmp, "%.17g", v);
    put(w, tmp, (size_t)n);
}

void nd_jw_fixed2(nd_json_writer *w, double v)
{
    double hundredths = round(v * 100);
    if (!isfinite(hundredths)) {
        nd_jw_null(w);
        return;
    }
    if (fabs(hundredths) >= INTEGRAL_LIMIT) { /* beyond exact integers: as a double */
        nd_jw_double(w, hundredths / 100);
        return;
    }
    before_value(w);
    int64_t c = (int64_t)hundredths;
    uint64_t mag = c < 0 ? 0 - (uint64_t)c : (uint64_t)c;
    put_decimal(w, c < 0, mag / 100);
    unsigned frac = (unsigned)(mag % 100);
    if (frac == 0) return;
    char tail[3] = {'.', (char)('0' + frac / 10), (char)('0' + frac % 10)};
    put(w, tail, frac % 10 ? 3 : 2); /* "1.5", not "1.50" */
}

ssize_t nd_jw_finish(nd_json_writer *w)
{
    if (w->failed || w->depth != 0) return -1;
    w->buf[w->len] = '\0';
    return (ssize_t)w->len;
}
