/* Strict validation of control requests into nd_request (no sockets). */
#include "nd_request.h"

#include <ctype.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const cmd_names[ND_CMD_COUNT] = {
    "status", "devices", "tare",   "calibrate", "start",
    "stop",   "mark",    "config", "set",       "next_day_pain",
};

static const char *const config_key_names[ND_CFG_COUNT] = {
    "cutoff_hz",
    "on_N",
    "off_N",
    "hold_s",
    "min_rep_s",
    "impulse_threshold_N",
    "weak_threshold_N",
    "imbalance_pct",
    "tare_window_s",
    "live_hz",
    "wave_decimation",
};

/* Accepted ranges; the same as the daemon's configuration file. */
static const struct {
    double min, max;
    bool integer;
} config_key_range[ND_CFG_COUNT] = {
    {0.1, 1e6, false}, {0, 1e5, false}, {0, 1e5, false},   {0, 60, false},
    {0, 600, false},   {0, 1e5, false}, {0, 1e5, false},   {0, 100, false},
    {0.05, 60, false}, {1, 200, false}, {1, 100000, true},
};

/* Fields each command accepts besides "cmd" (NULL-terminated). */
static const char *const fields_none[] = {NULL};
static const char *const fields_tare[] = {"side", "window_s", "force", NULL};
static const char *const fields_calibrate[] = {"side", "mass_kg", "window_s", NULL};
static const char *const fields_start[] = {"athlete_id",
                                           "body_mass_kg",
                                           "lever_m",
                                           "injured_side",
                                           "notes",
                                           "protocol",
                                           "rest_s",
                                           "set_gap_s",
                                           "target_left_N",
                                           "target_right_N",
                                           "target_pct",
                                           "best_left_N",
                                           "best_right_N",
                                           "target_tolerance_pct",
                                           "leg",
                                           "leg_on_N",
                                           "leg_off_N",
                                           "test",
                                           "angle_deg",
                                           "best_source",
                                           NULL};
static const char *const fields_mark[] = {"kind", "detail", "value", NULL};
static const char *const fields_config[] = {"set", NULL};
static const char *const fields_set[] = {"action", "leg", "angle_deg", NULL};
static const char *const fields_next_day[] = {"trial_id", "value", "detail", NULL};

static const char *const *const cmd_fields[ND_CMD_COUNT] = {
    fields_none, fields_none, fields_tare,   fields_calibrate, fields_start,
    fields_none, fields_mark, fields_config, fields_set,       fields_next_day,
};

const char *nd_cmd_name(nd_cmd c)
{
    return (unsigned)c < ND_CMD_COUNT ? cmd_names[c] : "?";
}

const char *nd_config_key_name(nd_config_key k)
{
    return (unsigned)k < ND_CFG_COUNT ? config_key_names[k] : "?";
}

void nd_config_request_apply(const nd_config_request *r, nd_metric_settings *s)
{
    double *const dst[] = {
        [ND_CFG_CUTOFF_HZ] = &s->cutoff_hz,
        [ND_CFG_ON_N] = &s->on_N,
        [ND_CFG_OFF_N] = &s->off_N,
        [ND_CFG_HOLD_S] = &s->hold_s,
        [ND_CFG_MIN_REP_S] = &s->min_rep_s,
        [ND_CFG_IMPULSE_THRESHOLD_N] = &s->impulse_threshold_N,
        [ND_CFG_WEAK_THRESHOLD_N] = &s->weak_threshold_N,
        [ND_CFG_IMBALANCE_PCT] = &s->imbalance_pct,
        [ND_CFG_TARE_WINDOW_S] = &s->tare_window_s,
    };
    for (int k = 0; k <= ND_CFG_TARE_WINDOW_S; k++)
        if (r->has[k]) *dst[k] = r->value[k];
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errlen) vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Length of the valid UTF-8 sequence starting at s (at most n bytes), or 0.
 * Rejects overlong forms, surrogates and code points above U+10FFFF. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    unsigned cp, min;
    if ((c & 0xE0) == 0xC0) {
        len = 2, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static bool utf8_valid(const char *buf, size_t len)
{
    const unsigned char *s = (const unsigned char *)buf;
    for (size_t i = 0; i < len;) {
        size_t l = utf8_seq_len(s + i, len - i);
        if (!l) return false;
        i += l;
    }
    return true;
}

/* cJSON turns "\u0000" into an early string end; refuse it up front, naming
 * the field. Walks the JSON strings: one followed by ':' is a field name (the
 * field of the values after it). A backslash only starts an escape when it is
 * not itself escaped, so "\\u0000" (a backslash, then the text u0000) is fine.
 * Returns true with the field (or "a field name") in `field`. */
static bool find_escaped_nul(const char *buf, size_t len, char *field, size_t fieldlen)
{
    char key[48] = "";
    for (size_t i = 0; i < len; i++) {
        if (buf[i] != '"') continue;
        size_t start = ++i;
        bool nul = false;
        for (; i < len && buf[i] != '"'; i++) {
            if (buf[i] != '\\') continue;
            nul |= i + 6 <= len && !memcmp(buf + i + 1, "u0000", 5);
            i++; /* skip the escaped character (possibly another backslash) */
        }
        size_t end = i, j = i + 1;
        while (j < len && isspace((unsigned char)buf[j])) j++;
        bool is_key = j < len && buf[j] == ':';
        if (nul) {
            if (is_key)
                snprintf(field, fieldlen, "a field name");
            else
                snprintf(field, fieldlen, "\"%s\"", key[0] ? key : "(top level)");
            return true;
        }
        if (is_key) {
            size_t n = end - start < sizeof key - 1 ? end - start : sizeof key - 1;
            memcpy(key, buf + start, n);
            key[n] = '\0';
            for (size_t k = 0; k < n; k++)
                if ((unsigned char)key[k] < 0x20 || key[k] == '\\' || key[k] == 0x7f) key[k] = '?';
        }
    }
    return false;
}

/* Names a control character for an error message. */
static const char *control_name(unsigned cp)
{
    switch (cp) {
    case '\r':
        return " (carriage return)";
    case 0x85:
        return " (next line, NEL)";
    case '\v':
        return " (vertical tab)";
    case '\f':
        return " (form feed)";
    case 0x7F:
        return " (delete)";
    default:
        return "";
    }
}

static bool name_in(const char *name, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(name, *list)) return true;
    return false;
}

static void join_names(char *out, size_t outlen, const char *const *list, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t i = 0; (n ? i < n : list[i] != NULL) && used < outlen; i++) {
        int w = snprintf(out + used, outlen - used, "%s%s", i ? ", " : "", list[i]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Prints a field name for an error message without echoing junk bytes. */
static void printable_name(const char *name, char *out, size_t outlen)
{
    size_t j = 0;
    for (size_t i = 0; name[i] && j + 1 < outlen; i++) {
        unsigned char c = (unsigned char)name[i];
        out[j++] = (c >= 0x20 && c < 0x7F) ? (char)c : '?';
        if (i >= 40) {
            if (j + 4 < outlen) out[j++] = '.', out[j++] = '.', out[j++] = '.';
            break;
        }
    }
    out[j] = '\0';
}

/* String field: type, byte length, UTF-8 (already checked on the whole
 * buffer), no control characters except tab/newline where allowed. */
static int get_string(const cJSON *item, const char *name, size_t maxlen, bool multiline, char *dst,
                      size_t dstlen, char *err, size_t errlen)
{
    if (!cJSON_IsString(item) || !item->valuestring)
        return fail(err, errlen, "\"%s\" must be a string", name);
    const char *v = item->valuestring;
    size_t n = strlen(v);
    if (n > maxlen)
        return fail(err, errlen, "\"%s\" is too long (%zu bytes, at most %zu)", name, n, maxlen);
    /* Control characters: C0, DEL and C1 (U+0080-U+009F, UTF-8 C2 80-9F);
     * multi-line fields allow tab and newline only (TRIAL_FORMAT.md). */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        unsigned cp = c;
        if (c == 0xC2 && i + 1 < n && (unsigned char)v[i + 1] <= 0x9F) cp = (unsigned char)v[i + 1];
        bool control = c < 0x20 || c == 0x7F || cp != c;
        if (!control || (multiline && (c == '\n' || c == '\t'))) continue;
        return fail(err, errlen, "\"%s\" contains the control character U+%04X%s at byte %zu (%s)",
                    name, cp, control_name(cp), i,
                    multiline ? "only tab and newline are allowed" : "none are allowed");
    }
    if (n + 1 > dstlen) return fail(err, errlen, "\"%s\" is too long", name);
    memcpy(dst, v, n + 1);
    return 0;
}

static int get_number(const cJSON *item, const char *name, double min, double max,
                      bool min_exclusive, bool integer, double *out, char *err, size_t errlen)
{
    if (!cJSON_IsNumber(item)) return fail(err, errlen, "\"%s\" must be a number", name);
    double v = item->valuedouble;
    if (!isfinite(v)) return fail(err, errlen, "\"%s\" must be a finite number", name);
    if (integer && v != floor(v)) return fail(err, errlen, "\"%s\" must be an integer", name);
    if ((min_exclusive ? v <= min : v < min) || v > max)
        return fail(err, errlen, "\"%s\" = %g is out of range %s%g, %g]", name, v,
                    min_exclusive ? "(" : "[", min, max);
    *out = v;
    return 0;
}

static int get_side(const cJSON *item, const char *name, bool allow_both, bool allow_none, int *out,
                    char *err, size_t errlen)
{
    const char *v = cJSON_IsString(item) ? item->valuestring : NULL;
    if (v && !strcmp(v, "left")) return *out = ND_SIDE_LEFT, 0;
    if (v && !strcmp(v, "right")) return *out = ND_SIDE_RIGHT, 0;
    if (v && allow_both && !strcmp(v, "both")) return *out = 3, 0;
    if (v && allow_none && !strcmp(v, "none")) return *out = ND_SIDE_NONE, 0;
    return fail(err, errlen, "\"%s\" must be %s", name,
                allow_both   ? "\"left\", \"right\" or \"both\""
                : allow_none ? "\"left\", \"right\" or \"none\""
                             : "\"left\" or \"right\"");
}

/* The first character of s outside [A-Za-z0-9_-] (plus '.' if dot), or -1. */
static long bad_char_at(const char *s, bool dot)
{
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isascii(c) && (isalnum(c) || c == '_' || c == '-' || (dot && c == '.'))))
            return (long)i;
    }
    return -1;
}

/* "the character 'x' (U+0078) at byte 3", or U+ alone for non-printables. */
static void describe_char(const char *s, long at, char *out, size_t outlen)
{
    const unsigned char *p = (const unsigned char *)s + at;
    size_t l = utf8_seq_len(p, strlen((const char *)p));
    unsigned cp = *p;
    if (l == 2) cp = (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
    if (l == 3) cp = (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
    if (l == 4)
        cp = (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
    if (cp >= 0x21 && cp < 0x7F)
        snprintf(out, outlen, "the character '%c' (U+%04X) at byte %ld", (char)cp, cp, at);
    else
        snprintf(out, outlen, "the character U+%04X at byte %ld", cp, at);
}

/* Athlete and trial ids share one rule (file names are built from them). */
static int check_id(const char *field, const char *id, char *err, size_t errlen)
{
    size_t n = strlen(id);
    const char *rule = "1-64 characters of A-Z a-z 0-9 . _ - and not start with '.'";
    char what[80];
    if (n < 1 || n > ND_ATHLETE_ID_MAX) return fail(err, errlen, "\"%s\" must be %s", field, rule);
    if (id[0] == '.')
        return fail(err, errlen, "\"%s\" must be %s: it starts with '.'", field, rule);
    long at = bad_char_at(id, true);
    if (at < 0) return 0;
    describe_char(id, at, what, sizeof what);
    return fail(err, errlen, "\"%s\" must be %s: it contains %s", field, rule, what);
}

static int check_mark_kind(const char *k, char *err, size_t errlen)
{
    size_t n = strlen(k);
    const char *rule = "1-32 characters of A-Z a-z 0-9 _ -";
    char what[80];
    if (n < 1 || n > ND_MARK_KIND_MAX) return fail(err, errlen, "\"kind\" must be %s", rule);
    long at = bad_char_at(k, false);
    if (at < 0) return 0;
    describe_char(k, at, what, sizeof what);
    return fail(err, errlen, "\"kind\" must be %s: it contains %s", rule, what);
}

/* "SxR": sets 1..20, reps 1..50, 'x' or 'X'; stored normalised. */
static int parse_protocol(const char *p, nd_start_request *st, char *err, size_t errlen)
{
    unsigned sets = 0, reps = 0;
    size_t i = 0, digits = 0;
    while (isdigit((unsigned char)p[i]) && digits < 3)
        sets = sets * 10 + (unsigned)(p[i++] - '0'), digits++;
    bool ok = digits > 0 && p[0] != '0' && (p[i] == 'x' || p[i] == 'X');
    if (ok) {
        i++;
        size_t start = i;
        digits = 0;
        while (isdigit((unsigned char)p[i]) && digits < 3)
            reps = reps * 10 + (unsigned)(p[i++] - '0'), digits++;
        ok = digits > 0 && p[start] != '0' && p[i] == '\0';
    }
    if (!ok || sets < 1 || sets > 20 || reps < 1 || reps > 50)
        return fail(err, errlen,
                    "\"protocol\" must look like \"3x6\" (sets 1-20 x reps 1-50), got \"%.20s\"",
                    p);
    st->protocol_sets = (int)sets;
    st->protocol_reps = (int)reps;
    snprintf(st->protocol, sizeof st->protocol, "%ux%u", sets, reps);
    return 0;
}

static int parse_tare(const cJSON *root, nd_tare_request *t, char *err, size_t errlen)
{
    t->left = t->right = true;
    t->window_s = 0;
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(root, "side");
    if (side) {
        int s;
        if (get_side(side, "side", true, false, &s, err, errlen)) return -1;
        t->left = s != ND_SIDE_RIGHT;
        t->right = s != ND_SIDE_LEFT;
    }
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "window_s");
    if (w && get_number(w, "window_s", 0.05, 60, false, false, &t->window_s, err, errlen))
        return -1;
    const cJSON *force = cJSON_GetObjectItemCaseSensitive(root, "force");
    t->force = false;
    if (force) {
        if (!cJSON_IsBool(force)) return fail(err, errlen, "\"force\" must be true or false");
        t->force = cJSON_IsTrue(force);
    }
    return 0;
}

static int parse_calibrate(const cJSON *root, nd_calibrate_request *c, char *err, size_t errlen)
{
    const cJSON *side = cJSON_GetObjectItemCaseSensitive(root, "side");
    const cJSON *mass = cJSON_GetObjectItemCaseSensitive(root, "mass_kg");
    if (!side) return fail(err, errlen, "calibrate needs \"side\" (\"left\" or \"right\")");
    if (!mass) return fail(err, errlen, "calibrate needs \"mass_kg\" (known mass in kg, > 0)");
    int s;
    if (get_side(side, "side", false, false, &s, err, errlen)) return -1;
    c->side = s == ND_SIDE_LEFT ? ND_LEFT : ND_RIGHT;
    if (get_number(mass, "mass_kg", 0, 500, true, false, &c->mass_kg, err, errlen)) return -1;
    c->window_s = 0;
    const cJSON *w = cJSON_GetObjectItemCaseSensitive(root, "window_s");
    if (w && get_number(w, "window_s", 0.05, 60, false, false, &c->window_s, err, errlen))
        return -1;
    return 0;
}

/* An isometric test (METRICS.md 5.7): "test" and the knee angle of the first
 * sets, which it requires; a Nordic session takes no angle. */
static int parse_test(const cJSON *root, nd_set_plan *p, char *err, size_t errlen)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(root, "test");
    if (it) {
        char t[16];
        if (get_string(it, "test", sizeof t - 1, false, t, sizeof t, err, errlen)) return -1;
        if (nd_set_test_parse(t, &p->test))
            return fail(err, errlen, "unknown test \"%s\" (valid: nordic, isometric)", t);
    }
    it = cJSON_GetObjectItemCaseSensitive(root, "angle_deg");
    if (it && p->test != ND_TEST_ISOMETRIC)
        return fail(err, errlen, "\"angle_deg\" is for \"test\": \"isometric\" only");
    if (p->test == ND_TEST_ISOMETRIC && !it)
        return fail(err, errlen,
                    "\"test\": \"isometric\" needs \"angle_deg\" (knee angle 0-90, e.g. 30)");
    if (it && get_number(it, "angle_deg", 0, ND_ISO_ANGLE_MAX_DEG, false, false, &p->angle_deg, err,
                         errlen))
        return -1;
    return 0;
}

/* rest, gap and target zone of a protocol (METRICS.md section 5). */
static int parse_plan(const cJSON *root, nd_start_request *st, char *err, size_t errlen)
{
    nd_set_plan *p = &st->plan;
    nd_set_plan_default(p);
    p->sets = (uint32_t)st->protocol_sets;
    p->reps = (uint32_t)st->protocol_reps;
    static const char *const needs_protocol[] = {"rest_s",
                                                 "set_gap_s",
                                                 "target_left_N",
                                                 "target_right_N",
                                                 "target_pct",
                                                 "best_left_N",
                                                 "best_right_N",
                                                 "target_tolerance_pct",
                                                 "leg",
                                                 "leg_on_N",
                                                 "leg_off_N",
                                                 "test",
                                                 "angle_deg",
                                                 "best_source",
                                                 NULL};
    for (size_t i = 0; needs_protocol[i]; i++)
        if (!st->protocol[0] && cJSON_GetObjectItemCaseSensitive(root, needs_protocol[i]))
            return fail(err, errlen, "\"%s\" needs a \"protocol\" (e.g. \"3x6\")",
                        needs_protocol[i]);
    const cJSON *it;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "rest_s")) &&
        get_number(it, "rest_s", 0, 3600, false, false, &p->rest_s, err, errlen))
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "set_gap_s")) &&
        get_number(it, "set_gap_s", 1, 3600, false, false, &p->set_gap_s, err, errlen))
        return -1;
    double target[2] = {NAN, NAN}, best[2] = {NAN, NAN}, pct = NAN, tol = 10;
    static const char *const tname[2] = {"target_left_N", "target_right_N"};
    static const char *const bname[2] = {"best_left_N", "best_right_N"};
    for (int leg = 0; leg < 2; leg++) {
        if ((it = cJSON_GetObjectItemCaseSensitive(root, tname[leg])) &&
            get_number(it, tname[leg], 0, 1e5, true, false, &target[leg], err, errlen))
            return -1;
        if ((it = cJSON_GetObjectItemCaseSensitive(root, bname[leg])) &&
            get_number(it, bname[leg], 0, 1e5, true, false, &best[leg], err, errlen))
            return -1;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "target_pct")) &&
        get_number(it, "target_pct", 0, 200, true, false, &pct, err, errlen))
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "target_tolerance_pct")) &&
        get_number(it, "target_tolerance_pct", 0, 100, false, false, &tol, err, errlen))
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "leg"))) {
        int v;
        if (get_side(it, "leg", true, false, &v, err, errlen)) return -1;
        p->leg = v == 3 ? ND_SIDE_NONE : (nd_side)v;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "leg_on_N")) &&
        get_number(it, "leg_on_N", 0, 1e5, false, false, &p->leg_on_N, err, errlen))
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "leg_off_N")) &&
        get_number(it, "leg_off_N", 0, 1e5, false, false, &p->leg_off_N, err, errlen))
        return -1;
    if (p->leg_off_N > p->leg_on_N)
        return fail(err, errlen, "\"leg_off_N\" (%g) must not exceed \"leg_on_N\" (%g)",
                    p->leg_off_N, p->leg_on_N);
    if (parse_test(root, p, err, errlen)) return -1;
    bool have_n = !isnan(target[0]) || !isnan(target[1]);
    bool have_best = !isnan(best[0]) || !isnan(best[1]);
    if (have_n && (!isnan(pct) || have_best))
        return fail(err, errlen,
                    "give the target either in N (target_left_N/target_right_N) or as "
                    "target_pct of best_left_N/best_right_N, not both");
    if (!isnan(pct) && !have_best)
        return fail(err, errlen, "\"target_pct\" needs best_left_N and/or best_right_N");
    if (isnan(pct) && have_best)
        return fail(err, errlen, "best_left_N/best_right_N need \"target_pct\"");
    /* Where best_*_N came from (e.g. the station's index look-up), kept with
     * the zone in the trial file. */
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "best_source"))) {
        if (isnan(pct)) return fail(err, errlen, "\"best_source\" needs \"target_pct\"");
        if (get_string(it, "best_source", ND_SETS_BEST_SOURCE_MAX, false, p->best_source,
                       sizeof p->best_source, err, errlen))
            return -1;
    }
    if (!have_n && isnan(pct) && cJSON_GetObjectItemCaseSensitive(root, "target_tolerance_pct"))
        return fail(err, errlen, "\"target_tolerance_pct\" needs a target");
    for (int leg = 0; leg < 2; leg++) {
        double t = !isnan(pct) ? best[leg] * pct / 100.0 : target[leg];
        if (isnan(t)) continue;
        p->zone_lo_N[leg] = t * (1.0 - tol / 100.0);
        p->zone_hi_N[leg] = t * (1.0 + tol / 100.0);
    }
    return 0;
}

static int parse_start(const cJSON *root, nd_start_request *st, char *err, size_t errlen)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "athlete_id");
    if (!id) return fail(err, errlen, "start needs \"athlete_id\"");
    if (get_string(id, "athlete_id", ND_ATHLETE_ID_MAX, false, st->athlete_id,
                   sizeof st->athlete_id, err, errlen))
        return -1;
    if (check_id("athlete_id", st->athlete_id, err, errlen)) return -1;
    const cJSON *it;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "body_mass_kg")) &&
        get_number(it, "body_mass_kg", 0, 500, true, false, &st->subject.body_mass_kg, err, errlen))
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "lever_m")) &&
        get_number(it, "lever_m", 0, 1.5, true, false, &st->subject.lever_m, err, errlen))
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "injured_side"))) {
        int s;
        if (get_side(it, "injured_side", false, true, &s, err, errlen)) return -1;
        st->subject.injured_side = (nd_side)s;
    }
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "notes")) &&
        get_string(it, "notes", ND_NOTES_MAX, true, st->notes, sizeof st->notes, err, errlen))
        return -1;
    if ((it = cJSON_GetObjectItemCaseSensitive(root, "protocol"))) {
        char p[32];
        if (get_string(it, "protocol", sizeof p - 1, false, p, sizeof p, err, errlen)) return -1;
        if (parse_protocol(p, st, err, errlen)) return -1;
    }
    return parse_plan(root, st, err, errlen);
}

static int parse_next_day(const cJSON *root, nd_next_day_request *r, char *err, size_t errlen)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "trial_id");
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(root, "value");
    if (!id) return fail(err, errlen, "next_day_pain needs \"trial_id\" (of the closed session)");
    if (!value) return fail(err, errlen, "next_day_pain needs \"value\" (integer 0-10)");
    if (get_string(id, "trial_id", ND_ATHLETE_ID_MAX, false, r->trial_id, sizeof r->trial_id, err,
                   errlen))
        return -1;
    if (check_id("trial_id", r->trial_id, err, errlen)) return -1;
    double v;
    if (get_number(value, "value", 0, 10, false, true, &v, err, errlen)) return -1;
    r->pain = (int)v;
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    if (detail && get_string(detail, "detail", ND_MARK_DETAIL_MAX, true, r->detail,
                             sizeof r->detail, err, errlen))
        return -1;
    return 0;
}

static int parse_set(const cJSON *root, nd_set_request *s, char *err, size_t errlen)
{
    const cJSON *action = cJSON_GetObjectItemCaseSensitive(root, "action");
    if (!action) return fail(err, errlen, "set needs \"action\" (\"next\")");
    char a[16];
    if (get_string(action, "action", sizeof a - 1, false, a, sizeof a, err, errlen)) return -1;
    if (strcmp(a, "next")) return fail(err, errlen, "unknown set action \"%s\" (valid: next)", a);
    s->action = ND_SET_ACTION_NEXT;
    const cJSON *leg = cJSON_GetObjectItemCaseSensitive(root, "leg");
    if (leg) {
        int v;
        if (get_side(leg, "leg", true, false, &v, err, errlen)) return -1;
        s->switch_leg = true;
        s->leg = v == 3 ? ND_SIDE_NONE : (nd_side)v;
    }
    const cJSON *angle = cJSON_GetObjectItemCaseSensitive(root, "angle_deg");
    if (angle) {
        if (get_number(angle, "angle_deg", 0, ND_ISO_ANGLE_MAX_DEG, false, false, &s->angle_deg,
                       err, errlen))
            return -1;
        s->set_angle = true;
    }
    return 0;
}

static int parse_mark(const cJSON *root, nd_mark_request *m, char *err, size_t errlen)
{
    const cJSON *kind = cJSON_GetObjectItemCaseSensitive(root, "kind");
    if (!kind) return fail(err, errlen, "mark needs \"kind\" (e.g. \"pain\", \"note\")");
    if (get_string(kind, "kind", ND_MARK_KIND_MAX, false, m->kind, sizeof m->kind, err, errlen))
        return -1;
    if (check_mark_kind(m->kind, err, errlen)) return -1;
    const cJSON *detail = cJSON_GetObjectItemCaseSensitive(root, "detail");
    if (detail && get_string(detail, "detail", ND_MARK_DETAIL_MAX, true, m->detail,
                             sizeof m->detail, err, errlen))
        return -1;
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(root, "value");
    m->pain = -1;
    if (!strcmp(m->kind, "pain")) {
        if (!value) return fail(err, errlen, "mark pain needs \"value\" (integer 0-10)");
        double v;
        if (get_number(value, "value", 0, 10, false, true, &v, err, errlen)) return -1;
        m->pain = (int)v;
    } else if (value) {
        return fail(err, errlen, "\"value\" is only accepted with kind \"pain\"");
    }
    return 0;
}

static int parse_config(const cJSON *root, nd_config_request *c, char *err, size_t errlen)
{
    const cJSON *set = cJSON_GetObjectItemCaseSensitive(root, "set");
    if (!set) return 0;
    if (!cJSON_IsObject(set)) return fail(err, errlen, "\"set\" must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, set)
    {
        int k;
        for (k = 0; k < ND_CFG_COUNT; k++)
            if (it->string && !strcmp(it->string, config_key_names[k])) break;
        if (k == ND_CFG_COUNT) {
            char name[48], list[400];
            printable_name(it->string ? it->string : "", name, sizeof name);
            join_names(list, sizeof list, config_key_names, ND_CFG_COUNT);
            return fail(err, errlen, "unknown config key \"%s\" (known: %s)", name, list);
        }
        if (c->has[k])
            return fail(err, errlen, "config key \"%s\" given twice", config_key_names[k]);
        if (get_number(it, config_key_names[k], config_key_range[k].min, config_key_range[k].max,
                       false, config_key_range[k].integer, &c->value[k], err, errlen))
            return -1;
        c->has[k] = true;
    }
    return 0;
}

static int parse_object(const cJSON *root, nd_request *out, char *err, size_t errlen)
{
    if (!cJSON_IsObject(root)) return fail(err, errlen, "request must be a JSON object");
    const cJSON *cmd = cJSON_GetObjectItemCaseSensitive(root, "cmd");
    char list[200];
    join_names(list, sizeof list, cmd_names, ND_CMD_COUNT);
    if (!cmd) return fail(err, errlen, "request needs \"cmd\" (one of: %s)", list);
    if (!cJSON_IsString(cmd) || !cmd->valuestring)
        return fail(err, errlen, "\"cmd\" must be a string (one of: %s)", list);
    int c;
    for (c = 0; c < ND_CMD_COUNT; c++)
        if (!strcmp(cmd->valuestring, cmd_names[c])) break;
    if (c == ND_CMD_COUNT) {
        char name[48];
        printable_name(cmd->valuestring, name, sizeof name);
        return fail(err, errlen, "unknown cmd \"%s\" (valid: %s)", name, list);
    }
    out->cmd = (nd_cmd)c;

    /* Unknown and duplicate fields are refused so a typo never goes unnoticed. */
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const char *name = it->string ? it->string : "";
        if (strcmp(name, "cmd") && !name_in(name, cmd_fields[c])) {
            char pname[48], allowed[200];
            printable_name(name, pname, sizeof pname);
            join_names(allowed, sizeof allowed, cmd_fields[c], 0);
            return fail(err, errlen, "unknown field \"%s\" for cmd \"%s\" (accepted: %s)", pname,
                        cmd_names[c], allowed[0] ? allowed : "none");
        }
        for (const cJSON *o = root->child; o != it; o = o->next)
            if (o->string && !strcmp(o->string, name))
                return fail(err, errlen, "field \"%s\" given twice", name);
    }

    switch (out->cmd) {
    case ND_CMD_TARE:
        return parse_tare(root, &out->tare, err, errlen);
    case ND_CMD_CALIBRATE:
        return parse_calibrate(root, &out->calibrate, err, errlen);
    case ND_CMD_START:
        return parse_start(root, &out->start, err, errlen);
    case ND_CMD_MARK:
        return parse_mark(root, &out->mark, err, errlen);
    case ND_CMD_CONFIG:
        return parse_config(root, &out->config, err, errlen);
    case ND_CMD_SET:
        return parse_set(root, &out->set, err, errlen);
    case ND_CMD_NEXT_DAY_PAIN:
        return parse_next_day(root, &out->next_day, err, errlen);
    default:
        return 0;
    }
}

int nd_request_parse(const char *buf, size_t len, nd_request *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    out->mark.pain = -1;
    if (!buf || len == 0) return fail(err, errlen, "empty request (expected a JSON object)");
    if (len > ND_CONTROL_MAX_REQUEST)
        return fail(err, errlen, "request too large (%zu bytes, at most %d)", len,
                    ND_CONTROL_MAX_REQUEST);
    if (memchr(buf, '\0', len)) return fail(err, errlen, "request contains a NUL byte");
    if (!utf8_valid(buf, len)) return fail(err, errlen, "request is not valid UTF-8");
    char nul_field[64];
    if (find_escaped_nul(buf, len, nul_field, sizeof nul_field))
        return fail(err, errlen, "%s contains the character U+0000 (NUL, \\u0000): not allowed",
                    nul_field);

    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, 0);
    if (!root) {
        size_t at = end && end >= buf && end <= buf + len ? (size_t)(end - buf) : 0;
        return fail(err, errlen, "request is not valid JSON (error near byte %zu)", at);
    }
    for (const char *p = end; p && p < buf + len; p++) {
        if (!isspace((unsigned char)*p)) {
            cJSON_Delete(root);
            return fail(err, errlen, "unexpected data after the JSON object (byte %zu)",
                        (size_t)(p - buf));
        }
    }
    int rc = parse_object(root, out, err, errlen);
    cJSON_Delete(root);
    if (rc) {
        nd_cmd keep = out->cmd;
        memset(out, 0, sizeof *out);
        out->cmd = keep;
        out->mark.pain = -1;
    }
    return rc;
}
