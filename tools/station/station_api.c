/* The /api/v1 hook of the station: the trial index (tools/index) and its
 * watcher, opened in the station's state directory. */
#include "station_api.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "nd_api.h"
#include "nd_index.h"
#include "nd_index_hub.h"
#include "nd_index_watcher.h"
#include "station_fetch.h"

#define HUB_POLL_MS 2000 /* how often a hub pulls the central index */

struct station_api {
    nd_index *ix;
    /* Files copied in or closed by nordicd are indexed on its own thread
     * and connection while this one serves requests. */
    nd_index_watcher *watcher;
    /* A hub: the mirror of the central index, pulled on its own thread;
     * ix then reads the mirror. */
    nd_index_hub *hub;
    char hub_token[256]; /* sent to the stations; "" = none */
};

static int read_token(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "hub_token %s: %s", path, strerror(errno));
        return -1;
    }
    if (!fgets(out, (int)outlen, f)) out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    if (!out[0]) {
        snprintf(err, errlen, "hub_token %s: empty (expected the token on its first line)", path);
        return -1;
    }
    return 0;
}

static station_api *open_hub(station_api *a, const station_config *c, const char *db, char *err,
                             size_t errlen)
{
    if ((c->hub_token_file[0] &&
         read_token(c->hub_token_file, a->hub_token, sizeof a->hub_token, err, errlen)) ||
        station_fetch_init() != 0) {
        if (!err[0]) snprintf(err, errlen, "cannot initialise libcurl");
        free(a);
        return NULL;
    }
    /* The puller makes the mirror's tables before this connection reads them. */
    a->hub = nd_index_hub_start(db, c->hub_url, HUB_POLL_MS, err, errlen);
    if (!a->hub || !(a->ix = nd_index_open(db, ND_INDEX_HUB_NO_DATA_DIR, err, errlen))) {
        nd_index_hub_stop(a->hub);
        free(a);
        return NULL;
    }
    return a;
}

station_api *station_api_open(const station_config *c, char *err, size_t errlen)
{
    station_api *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* The state directory is the station's own (systemd makes it for the service). */
    if (mkdir(c->state_dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create state directory %s: %s", c->state_dir,
                 strerror(errno));
        free(a);
        return NULL;
    }
    char db[STATION_PATH_MAX + 32];
    if (c->hub_url[0]) {
        snprintf(db, sizeof db, "%s/hub.sqlite", c->state_dir);
        err[0] = '\0';
        return open_hub(a, c, db, err, errlen);
    }
    snprintf(db, sizeof db, "%s/index.sqlite", c->state_dir);
    a->ix = nd_index_open(db, c->data_dir, err, errlen);
    if (!a->ix || nd_index_sync(a->ix, err, errlen) != 0) {
        if (a->ix) nd_index_close(a->ix);
        free(a);
        return NULL;
    }
    a->watcher = nd_index_watcher_start_station(
        db, c->data_dir, c->index_url[0] ? c->index_url : NULL, c->station_id,
        c->base_url[0] ? c->base_url : NULL, err, errlen);
    if (!a->watcher) {
        nd_index_close(a->ix);
        free(a);
        return NULL;
    }
    return a;
}

void station_api_close(station_api *a)
{
    if (!a) return;
    nd_index_watcher_stop(a->watcher);
    nd_index_hub_stop(a->hub);
    nd_index_close(a->ix);
    free(a);
}

bool station_api_is_hub(const station_api *a)
{
    return a->hub != NULL;
}

static int json_error(station_api_response *out, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* {"error": message, "parameter": null}, the API's error shape. */
static int json_error(station_api_response *out, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    cJSON_AddNullToObject(o, "parameter");
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    out->status = status;
    out->content_type = "application/json";
    out->body = t ? strdup(t) : NULL;
    out->body_len = out->body ? strlen(out->body) : 0;
    cJSON_free(t);
    return 0;
}

static int hex_digit(char ch)
{
    return ch >= '0' && ch <= '9'   ? ch - '0'
           : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
           : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                    : -1;
}

/* The content types the API sends (the response holds a static string). */
static const char *known_type(const char *ct)
{
    if (!strncmp(ct, "application/x-hdf5", 18)) return "application/x-hdf5";
    if (!strncmp(ct, "text/csv", 8)) return "text/csv; charset=utf-8";
    if (!strncmp(ct, "application/json", 16)) return "application/json";
    return "application/octet-stream";
}

/* A hub's GET /api/v1/trials/{station:trial}/file and /trace: the trial is
 * looked up in the mirror (400/404 as any trial request) and the station's
 * base URL found; the fetch itself is the caller's (station_api_fetch_run,
 * off the web server's thread). Returns 0 with out filled when answered
 * here, 1 with *fetch set when the station must be asked. */
static int hub_forward(station_api *a, const char *seg, size_t seglen, const char *what,
                       const char *query, station_api_response *out, station_api_fetch **fetch)
{
    /* Existence and the id rule: the mirror answers like for any trial. */
    char check[600];
    snprintf(check, sizeof check, "/api/v1/trials/%.*s/events", (int)seglen, seg);
    nd_api_response r;
    memset(&r, 0, sizeof r);
    if (nd_api_handle(a->ix, "GET", check, NULL, NULL, 0, &r) != 0 || r.status != 200) {
        out->status = r.status ? r.status : 404;
        out->content_type = r.content_type;
        out->body = r.body;
        out->body_len = r.body_len;
        free(r.file_path);
        return 0;
    }
    nd_api_response_free(&r);
    char ref[300];
    size_t n = 0;
    for (size_t i = 0; i < seglen && n + 1 < sizeof ref; i++) {
        if (seg[i] == '%' && i + 2 < seglen && hex_digit(seg[i + 1]) >= 0 &&
            hex_digit(seg[i + 2]) >= 0) {
            ref[n++] = (char)(hex_digit(seg[i + 1]) * 16 + hex_digit(seg[i + 2]));
            i += 2;
        } else {
            ref[n++] = seg[i];
        }
    }
    ref[n] = '\0';
    char *colon = strchr(ref, ':'); /* every mirror trial id has one (nd_index_hub.h) */
    if (!colon) return json_error(out, 404, "no trial '%s'", ref);
    *colon = '\0';
    const char *station = ref, *trial = colon + 1;
    station_api_fetch *f = calloc(1, sizeof *f);
    if (!f) return json_error(out, 500, "out of memory");
    char err[512];
    int found = nd_index_hub_station_url(a->ix, station, f->base, sizeof f->base, err, sizeof err);
    if (found != 0) {
        free(f);
        if (found < 0) return json_error(out, 500, "%s", err);
        return json_error(out, 502,
                          "station '%s' published no base URL (its nordic-station needs "
                          "base_url), so its files cannot be fetched",
                          station);
    }
    snprintf(f->station, sizeof f->station, "%s", station);
    snprintf(f->token, sizeof f->token, "%s", a->hub_token);
    if (asprintf(&f->url, "%s/api/v1/trials/%s/%s%s%s", f->base, trial, what, query ? "?" : "",
                 query ? query : "") < 0) {
        free(f);
        return json_error(out, 500, "out of memory");
    }
    *fetch = f;
    return 1;
}

void station_api_fetch_run(const station_api_fetch *fetch, const atomic_bool *cancel,
                           station_api_response *out)
{
    memset(out, 0, sizeof *out);
    station_fetch_result f;
    if (station_fetch(fetch->url, fetch->token[0] ? fetch->token : NULL, cancel, &f) != 0) {
        json_error(out, 502, "station '%s' (%s) is unreachable: %s", fetch->station, fetch->base,
                   f.error);
        return;
    }
    if (f.status == 401 || f.status == 403 || f.status >= 500) {
        station_fetch_free(&f);
        json_error(out, 502, "station '%s' (%s) refused the hub's request (HTTP %ld)%s",
                   fetch->station, fetch->base, f.status,
                   f.status < 500 ? ": check the hub's hub_token against its tokens" : "");
        return;
    }
    out->status = (int)f.status;
    out->content_type = known_type(f.content_type);
    out->body = f.body;
    out->body_len = f.body_len;
}

void station_api_fetch_free(station_api_fetch *f)
{
    if (!f) return;
    free(f->url);
    free(f);
}

int station_api_handle(station_api *a, const char *method, const char *path, const char *query,
                       const char *body, size_t body_len, station_api_response *out,
                       station_api_fetch **fetch)
{
    memset(out, 0, sizeof *out);
    *fetch = NULL;
    static const char prefix[] = "/api/v1/trials/";
    if (a->hub && !strcmp(method, "GET") && !strncmp(path, prefix, sizeof prefix - 1)) {
        const char *seg = path + sizeof prefix - 1, *slash = strchr(seg, '/');
        if (slash && (!strcmp(slash + 1, "file") || !strcmp(slash + 1, "trace")))
            return hub_forward(a, seg, (size_t)(slash - seg), slash + 1, query, out, fetch);
    }
    nd_api_response r;
    memset(&r, 0, sizeof r);
    if (nd_api_handle(a->ix, method, path, query, body, body_len, &r) != 0) return -1;
    out->status = r.status;
    out->content_type = r.content_type;
    out->body = r.body;
    out->body_len = r.body_len;
    out->file_path = r.file_path;
    return 0; /* ownership of body/file_path moved to out */
}

void station_api_response_free(station_api_response *r)
{
    free(r->body);
    free(r->file_path);
    memset(r, 0, sizeof *r);
}

/* The shortest text that reads back to the same double: cJSON's own
 * printing accepts 15 digits that are only approximately equal, which
 * moved the zone nordicd computed from a best by one bit. */
static cJSON *exact_number(double v)
{
    char buf[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    return cJSON_CreateRaw(buf);
}

/* "L 512.3 N (trial 3f2a9c1d0b7e, rep 2, 2026-03-01T10:00:00Z)" */
static void describe_best(const nd_best_rep *b, const char *leg, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s %.1f N (trial %.64s, rep %ld, %s)", leg, b->peak_N, b->trial_id,
             b->rep, b->created_utc);
}

int station_api_fill_best(station_api *a, cJSON *start, char *note, size_t notelen)
{
    note[0] = '\0';
    static const char *const key[2] = {"best_left_N", "best_right_N"};
    static const char *const leg_name[2] = {"L", "R"};
    static const char *const field_name[2] = {"Best L", "Best R"};
    const cJSON *pct = cJSON_GetObjectItemCaseSensitive(start, "target_pct");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(start, "athlete_id");
    bool missing[2];
    for (int leg = 0; leg < 2; leg++)
        missing[leg] = !cJSON_GetObjectItemCaseSensitive(start, key[leg]);
    /* Nothing to look up, or a request nordicd refuses itself with its own
     * message (bad athlete id, a best_source given by the caller). */
    if (!pct || (!missing[0] && !missing[1]) || !cJSON_IsString(id) ||
        cJSON_GetObjectItemCaseSensitive(start, "best_source"))
        return 0;
    char err[512];
    nd_athlete_best best;
    if (!a || !a->ix || a->hub) {
        snprintf(note, notelen,
                 "no trial index on this station to take the athlete's best from: enter "
                 "best_left_N and best_right_N");
        return -1;
    }
    if (nd_index_athlete_best(a->ix, id->valuestring, ND_BEST_NO_FROM, &best, err, sizeof err)) {
        snprintf(note, notelen, "cannot look up the athlete's best: %s", err);
        return -1;
    }
    for (int leg = 0; leg < 2; leg++)
        if (missing[leg] && !best.leg[leg].found) {
            snprintf(
                note, notelen,
                "the index holds no complete bilateral Nordic trial of athlete '%.64s' with a rep "
                "of the %s leg, so target_pct has no best to refer to: enter %s (%s) or "
                "give the target in N; nothing was started",
                id->valuestring, leg ? "right" : "left", field_name[leg], key[leg]);
            return -1;
        }
    char part[2][200];
    for (int leg = 0; leg < 2; leg++) {
        if (missing[leg]) {
            cJSON_AddItemToObject(start, key[leg], exact_number(best.leg[leg].peak_N));
            describe_best(&best.leg[leg], leg_name[leg], part[leg], sizeof part[leg]);
        } else {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(start, key[leg]);
            snprintf(part[leg], sizeof part[leg], "%s %.1f N (entered)", leg_name[leg],
                     cJSON_IsNumber(v) ? v->valuedouble : 0.0);
        }
    }
    /* best_source is one line of at most 255 bytes (ZMQ_PROTOCOL.md); the
     * text is ASCII, so cutting it keeps it valid. */
    char source[256];
    snprintf(source, sizeof source, "index: %s; %s", part[0], part[1]);
    cJSON_AddStringToObject(start, "best_source", source);
    snprintf(note, notelen, "best from index: %s; %s", part[0], part[1]);
    return 1;
}

int station_api_watch_fd(station_api *a)
{
    return a->hub ? -1 : nd_index_watch_fd(a->ix);
}

void station_api_watch_handle(station_api *a)
{
    nd_index_watch_handle(a->ix);
}
