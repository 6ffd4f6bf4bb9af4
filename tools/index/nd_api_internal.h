/* Shared between the /api/v1 source files; not part of the interface. */
#ifndef ND_API_INTERNAL_H
#define ND_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "nd_api.h"

#define API_MAX_QUERY     4096 /* bytes of raw query string */
#define API_MAX_PARAMS    16
#define API_MAX_VALUE     1024 /* bytes of one decoded value */
#define API_DEFAULT_LIMIT 100

/* ---- responses ---- */
/* 4xx/5xx with {"error": message, "parameter": parameter-or-null}. Returns 0. */
int api_error(nd_api_response *out, int status, const char *parameter, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 200/201 with the JSON of j (freed). Returns 0. */
int api_json(nd_api_response *out, int status, cJSON *j);
/* Takes ownership of a malloc'd body. */
int api_body(nd_api_response *out, int status, const char *content_type, char *body, size_t len);

/* ---- a growing text buffer ---- */
typedef struct strbuf {
    char *s;
    size_t len, cap;
    bool failed; /* out of memory */
} strbuf;
void sb_add(strbuf *b, const char *s, size_t n);
void sb_puts(strbuf *b, const char *s);
void sb_printf(strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Shortest text that reads back to the same double; NaN/inf as nan_text. */
void sb_num(strbuf *b, double v, const char *nan_text);

/* ---- query strings ---- */
typedef struct api_query {
    int n;
    char key[API_MAX_PARAMS][32];
    char value[API_MAX_PARAMS][API_MAX_VALUE + 1];
} api_query;

/* Parses raw ("a=1&b=2", percent-encoded, '+' = space) and checks every key
 * is in allowed (NULL-terminated). Duplicate, unknown or malformed keys and
 * values with control characters or bad UTF-8 are refused: returns -1 with
 * a 400 in out. */
int api_query_parse(const char *raw, const char *const *allowed, api_query *q,
                    nd_api_response *out);
const char *api_query_get(const api_query *q, const char *key);
/* limit: decimal 1..max, else 400 naming "limit". */
int api_parse_limit(const api_query *q, long *limit, nd_api_response *out);
/* A positive integer parameter in [min, max] with a default. */
int api_parse_int(const api_query *q, const char *key, long min, long max, long dflt, long *v,
                  nd_api_response *out);
/* "YYYY-MM-DDTHH:MM:SSZ" or decimal Unix seconds. */
int api_parse_time(const api_query *q, const char *key, bool *given, int64_t *t,
                   nd_api_response *out);
/* The id rule of trial files ([A-Za-z0-9._-]{1,64}, no leading '.'), else
 * 400 naming parameter. */
int api_check_id(const char *value, const char *parameter, nd_api_response *out);
/* Free-text search: letters, digits, space and . _ - ' only; no "--". */
int api_check_search(const char *value, const char *parameter, nd_api_response *out);
/* Decodes %XX in a path segment into out (size outlen). -1 when malformed. */
int api_decode_segment(const char *seg, size_t seglen, char *out, size_t outlen);

/* Opaque cursors: a key (number and text) hex-encoded after a version tag. */
void api_cursor_encode(int64_t num, const char *text, char *out, size_t outlen);
int api_cursor_decode(const char *cursor, int64_t *num, char *text, size_t textlen);

/* ---- handlers ---- */
int api_trials(nd_index *ix, const char *method, const char *rest, const char *query,
               nd_api_response *out);
int api_athletes(nd_index *ix, const char *method, const char *rest, const char *query,
                 const char *body, size_t body_len, nd_api_response *out);
/* Trial list items (used by the athlete history): the columns selected by
 * API_TRIAL_ITEM_SELECT, row -> JSON object. */
#define API_TRIAL_ITEM_SELECT                                                                      \
    "trial_id, athlete_id, file_name, status, error, created_utc, closed_utc, recovered_utc, "     \
    "sample_rate_hz, nch, samples, rep_count, event_count, protocol, file_size, file_mtime_ns, "   \
    "has_summary, s_reps, s_discarded_reps, s_max_left_N, s_max_right_N, s_mean_left_N, "          \
    "s_mean_right_N, s_asymmetry_pct, s_abs_asymmetry_pct, s_weaker_side, s_lsi_pct, "             \
    "s_torque_max_left_Nm, s_torque_max_right_Nm, s_rel_force_max_left_N_per_kg, "                 \
    "s_rel_force_max_right_N_per_kg, s_weak_left, s_weak_right, s_imbalance, s_pain, "             \
    "s_pain_rating, s_samples, s_nonfinite_skipped, created_unix_s"
cJSON *api_trial_item(sqlite3_stmt *st);
/* JSON helpers reading one column. */
void api_add_col_num(cJSON *o, const char *name, sqlite3_stmt *st, int col);
void api_add_col_int(cJSON *o, const char *name, sqlite3_stmt *st, int col);
void api_add_col_text(cJSON *o, const char *name, sqlite3_stmt *st, int col);

#endif
