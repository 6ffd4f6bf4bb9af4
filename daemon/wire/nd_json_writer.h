/* Allocation-free JSON text writer into a caller's buffer, for the hot live
 * topics (`live` at 50 Hz, `wave` blocks) where building a cJSON tree and
 * cJSON's sprintf/sscanf number round trip cost most of the publisher's CPU.
 *
 * Output matches what cJSON_PrintUnformatted gives for the same values:
 * same escaping, integral numbers as JSON integers, non-finite as null.
 * Commas are placed automatically. Nothing is ever truncated: once a write
 * does not fit (or begin/end do not pair), the writer is marked failed and
 * nd_jw_finish() returns -1, so the caller drops the whole message. */
#ifndef ND_JSON_WRITER_H
#define ND_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct nd_json_writer {
    char *buf;
    size_t cap, len;
    unsigned depth;  /* open objects/arrays */
    bool need_comma; /* a value was written at this level */
    bool failed;     /* overflow or unbalanced begin/end */
} nd_json_writer;

void nd_jw_init(nd_json_writer *w, char *buf, size_t cap);
void nd_jw_begin_object(nd_json_writer *w);
void nd_jw_end_object(nd_json_writer *w);
void nd_jw_begin_array(nd_json_writer *w);
void nd_jw_end_array(nd_json_writer *w);
/* The name of the next member (escaped like a string). */
void nd_jw_key(nd_json_writer *w, const char *name);

/* Bytes >= 0x80 pass through (UTF-8 is the caller's), '"', '\\' and control
 * characters are escaped. */
void nd_jw_string(nd_json_writer *w, const char *s);
void nd_jw_null(nd_json_writer *w);
void nd_jw_bool(nd_json_writer *w, bool v);
void nd_jw_int(nd_json_writer *w, int64_t v);
void nd_jw_uint(nd_json_writer *w, uint64_t v); /* exact up to 2^64 - 1 */
/* NaN/inf -> null; integral values below 1e15 as integers; otherwise %.15g
 * when it reads back (strtod) as v, else %.17g (exact), as cJSON prints. */
void nd_jw_double(nd_json_writer *w, double v);
/* v rounded to 0.01 (round(v * 100) / 100, the value a reader gets back is
 * that double exactly) printed through an integer formatter: "12.3", "-0.05",
 * "7". NaN/inf -> null. */
void nd_jw_fixed2(nd_json_writer *w, double v);

/* Length of the text (NUL-terminated in buf), or -1 when it did not fit or
 * objects/arrays are still open or were closed too often. */
ssize_t nd_jw_finish(nd_json_writer *w);

#endif
