#include "station_server.h"

#include <cjson/cJSON.h>
#include <libwebsockets.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "station_api.h"

#define BODY_MAX      (64 * 1024) /* HTTP request bodies and WebSocket messages */
#define PATH_MAX_LEN  512
#define QUERY_MAX_LEN 2048
#define COOKIE_MAX    512
#define CHUNK         16384
#define WS_MAX        64 /* pages at once; more are refused */
/* A page this far behind the live stream is dropped (it reconnects and gets
 * a fresh snapshot): checked every second, also for pages that stopped
 * reading, which libwebsockets never reports as writable. */
#define WS_MAX_LAG (STATION_HUB_RING_SLOTS / 2)

/* Every response: pages take scripts, styles and connections from this
 * origin only (no inline code), and cannot be framed. */
#define CSP                                                                                        \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "                   \
    "frame-ancestors 'none'"

struct station_server {
    const station_config *cfg;
    station_hub *hub;
    station_link **links;
    station_auth *auth;
    station_api *api;
    struct lws_context *ctx;
    bool tls;
    int ws_clients;
    uint64_t next_client;
    struct ws_pss *ws[WS_MAX];
    lws_sorted_usec_list_t sweep;
    pthread_mutex_t jobs_lock;
    pthread_cond_t jobs_idle; /* signalled when jobs_running drops */
    int jobs_running;
};

/* A hub's fetch from a station, on its own thread so the web server keeps
 * serving meanwhile. Owned by the request until it closes; a job whose
 * request closed first is freed by its thread. */
typedef struct hub_job {
    station_api_fetch *fetch;
    station_api_response resp; /* filled by the thread */
    struct lws *wsi;
    struct lws_context *ctx;
    station_server *server; /* its jobs_lock guards done and orphaned */
    atomic_bool cancel;     /* the request is gone: stop fetching */
    bool done, orphaned;
} hub_job;

typedef struct http_pss {
    hub_job *job; /* a hub's fetch in progress for this request */
    char method[8];
    char path[PATH_MAX_LEN];
    char query[QUERY_MAX_LEN];
    char *body;
    size_t body_len;
    bool body_too_big;
    unsigned char *resp;
    size_t resp_len, resp_sent;
    bool responding;
} http_pss;

typedef struct ws_pss {
    struct lws *wsi;
    uint64_t client;
    uint64_t cursor;
    int daemon; /* -1 until the page says hello */
    char cookie[COOKIE_MAX];
    char **queue; /* station messages for this page only (snapshot, hello, errors) */
    int qlen, qpos, qcap;
    char *rx;
    size_t rx_len;
    bool rx_too_big;
} ws_pss;

static station_server *server_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

/* ---- helpers over request headers ---- */

static void header(struct lws *wsi, enum lws_token_indexes tok, char *out, size_t n)
{
    out[0] = 0;
    int len = lws_hdr_total_length(wsi, tok);
    if (len <= 0 || (size_t)len >= n || lws_hdr_copy(wsi, out, (int)n, tok) < 0) out[0] = 0;
}

static void custom_header(struct lws *wsi, const char *name, char *out, size_t n)
{
    out[0] = 0;
    int nl = (int)strlen(name);
    int len = lws_hdr_custom_length(wsi, name, nl);
    if (len <= 0 || (size_t)len >= n || lws_hdr_custom_copy(wsi, out, (int)n, name, nl) < 0)
        out[0] = 0;
}

/* A request from a page of another site (Origin differs from Host) must not
 * act: browsers let any site POST or open a WebSocket to 127.0.0.1. */
static bool same_origin(struct lws *wsi)
{
    char origin[256], host[256];
    header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof origin);
    header(wsi, WSI_TOKEN_HOST, host, sizeof host);
    if (!origin[0]) return true; /* not a browser (curl, scripts) */
    const char *o = origin;
    if (!strncmp(o, "http://", 7))
        o += 7;
    else if (!strncmp(o, "https://", 8))
        o += 8;
    else
        return false;
    return host[0] && !strcmp(o, host);
}

/* ---- responses ---- */

static int add_security_headers(struct lws *wsi, unsigned char **p, unsigned char *end)
{
    static const char *h[][2] = {
        {"content-security-policy:", CSP},   {"x-content-type-options:", "nosniff"},
        {"referrer-policy:", "no-referrer"}, {"x-frame-options:", "DENY"},
        {"cache-control:", "no-store"},
    };
    for (size_t i = 0; i < sizeof h / sizeof *h; i++)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[i][0],
                                        (const unsigned char *)h[i][1], (int)strlen(h[i][1]), p,
                                        end))
            return -1;
    return 0;
}

/* Sends the status line and headers now and the body from HTTP_WRITEABLE.
 * extra: NULL-terminated name/value pairs. */
static int respond(struct lws *wsi, http_pss *p, int status, const char *ctype, const char *body,
                   size_t len, const char *const *extra)
{
    unsigned char buf[LWS_PRE + 4096], *start = buf + LWS_PRE, *pp = start,
                                       *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)status, ctype, len, &pp, end) ||
        add_security_headers(wsi, &pp, end))
        return -1;
    for (int i = 0; extra && extra[i]; i += 2)
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)extra[i],
                                        (const unsigned char *)extra[i + 1],
                                        (int)strlen(extra[i + 1]), &pp, end))
            return -1;
    if (lws_finalize_write_http_header(wsi, start, &pp, end)) return -1;
    free(p->resp);
    p->resp = malloc(LWS_PRE + len + 1);
    if (!p->resp) return -1;
    if (len) memcpy(p->resp + LWS_PRE, body, len);
    p->resp_len = len;
    p->resp_sent = 0;
    p->responding = true;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_json(struct lws *wsi, http_pss *p, int status, const char *json)
{
    return respond(wsi, p, status, "application/json", json, strlen(json), NULL);
}

static int respond_error(struct lws *wsi, http_pss *p, int status, const char *msg)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "error", msg);
    char *txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    int rc = txt ? respond_json(wsi, p, status, txt) : -1;
    cJSON_free(txt);
    return rc;
}

static int write_body_chunk(struct lws *wsi, http_pss *p)
{
    if (!p->responding) return 0;
    size_t left = p->resp_len - p->resp_sent;
    size_t n = left > CHUNK ? CHUNK : left;
    if (n) {
        /* lws_write needs LWS_PRE bytes of room before the data it sends. */
        unsigned char *at = p->resp + LWS_PRE + p->resp_sent;
        unsigned char save[LWS_PRE];
        unsigned char *pre = at - LWS_PRE;
        memcpy(save, pre, LWS_PRE);
        int w = lws_write(wsi, at, n, left == n ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP);
        memcpy(pre, save, LWS_PRE);
        if (w < (int)n) return -1;
        p->resp_sent += n;
    }
    if (p->resp_sent < p->resp_len) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    p->responding = false;
    free(p->resp);
    p->resp = NULL;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* ---- static pages ---- */

static const char *mime_of(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot) return NULL;
    if (!strcmp(dot, ".html")) return "text/html; charset=utf-8";
    if (!strcmp(dot, ".css")) return "text/css; charset=utf-8";
    if (!strcmp(dot, ".js")) return "text/javascript; charset=utf-8";
    if (!strcmp(dot, ".svg")) return "image/svg+xml";
    if (!strcmp(dot, ".png")) return "image/png";
    return NULL;
}

/* Files are served only by plain names from the www directory itself (no
 * subdirectories, no dots but the extension): nothing outside it is reachable. */
static bool static_name_ok(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 64 || !mime_of(name)) return false;
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
            return false;
    }
    return dots == 1;
}

static bool is_public_asset(const char *name)
{
    return !strcmp(name, "login.html") || strstr(name, ".css") || strstr(name, ".js") ||
           strstr(name, ".svg") || strstr(name, ".png");
}

static int serve_file(struct lws *wsi, http_pss *p, const char *path, const char *mime)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return respond_error(wsi, p, 404, "no such file");
    unsigned char hdrs[2048], *pp = hdrs, *end = hdrs + sizeof hdrs;
    if (add_security_headers(wsi, &pp, end)) return -1;
    int n = lws_serve_http_file(wsi, path, mime, (const char *)hdrs, (int)(pp - hdrs));
    if (n < 0 || (n > 0 && lws_http_transaction_completed(wsi))) return -1;
    return 0;
}

static int serve_static(struct lws *wsi, http_pss *p, station_server *s, const char *name)
{
    char path[STATION_PATH_MAX + 80];
    snprintf(path, sizeof path, "%s/%s", s->cfg->www_dir, name);
    return serve_file(wsi, p, path, mime_of(name));
}

static int redirect(struct lws *wsi, http_pss *p, const char *to)
{
    const char *extra[] = {"location:", to, NULL};
    return respond(wsi, p, 302, "text/plain", "", 0, extra);
}

/* ---- auth endpoints ---- */

static int handle_login(struct lws *wsi, http_pss *p, station_server *s)
{
    if (!station_auth_required(s->auth))
        return respond_json(wsi, p, 200, "{\"auth\":false,\"user\":null,\"csrf\":\"\"}");
    cJSON *o = cJSON_ParseWithLength(p->body ? p->body : "", p->body_len);
    cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "user");
    cJSON *pw = cJSON_GetObjectItemCaseSensitive(o, "password");
    if (!cJSON_IsString(u) || !cJSON_IsString(pw)) {
        cJSON_Delete(o);
        return respond_error(wsi, p, 400, "expected {\"user\":...,\"password\":...}");
    }
    char peer[64] = "?";
    lws_get_peer_simple(wsi, peer, sizeof peer);
    char token[STATION_TOKEN_HEX + 1], csrf[STATION_TOKEN_HEX + 1];
    int retry = 0;
    station_login_result r =
        station_auth_login(s->auth, peer, u->valuestring, pw->valuestring, token, csrf, &retry);
    char user[STATION_USER_MAX + 1];
    snprintf(user, sizeof user, "%s", u->valuestring);
    cJSON_Delete(o);
    if (r == AUTH_LIMITED) {
        char ra[16];
        snprintf(ra, sizeof ra, "%d", retry);
        const char *extra[] = {"retry-after:", ra, NULL};
        const char *b = "{\"error\":\"too many failed logins from this address; try later\"}";
        return respond(wsi, p, 429, "application/json", b, strlen(b), extra);
    }
    if (r == AUTH_BAD) return respond_error(wsi, p, 401, "wrong user name or password");
    char cookie[200], body[256];
    snprintf(cookie, sizeof cookie, "nd_session=%s; Path=/; HttpOnly; SameSite=Strict%s", token,
             s->tls ? "; Secure" : "");
    snprintf(body, sizeof body, "{\"auth\":true,\"user\":\"%s\",\"csrf\":\"%s\"}", user, csrf);
    const char *extra[] = {"set-cookie:", cookie, NULL};
    return respond(wsi, p, 200, "application/json", body, strlen(body), extra);
}

static int handle_session(struct lws *wsi, http_pss *p, station_server *s, const char *cookie)
{
    if (!station_auth_required(s->auth))
        return respond_json(wsi, p, 200, "{\"auth\":false,\"user\":null,\"csrf\":\"\"}");
    char csrf[STATION_TOKEN_HEX + 1], user[STATION_USER_MAX + 1], body[256];
    if (!station_auth_session(s->auth, cookie, csrf, user))
        return respond_error(wsi, p, 401, "login required");
    snprintf(body, sizeof body, "{\"auth\":true,\"user\":\"%s\",\"csrf\":\"%s\"}", user, csrf);
    return respond_json(wsi, p, 200, body);
}

static void hub_job_free(hub_job *j)
{
    station_api_fetch_free(j->fetch);
    station_api_response_free(&j->resp);
    free(j);
}

static void *hub_job_main(void *arg)
{
    hub_job *j = arg;
    station_server *s = j->server;
    station_api_fetch_run(j->fetch, &j->cancel, &j->resp);
    pthread_mutex_lock(&s->jobs_lock);
    j->done = true;
    if (j->orphaned)
        hub_job_free(j); /* the request is gone */
    else
        lws_cancel_service(j->ctx); /* under the lock: the context outlives a live request */
    s->jobs_running--;
    pthread_cond_signal(&s->jobs_idle);
    pthread_mutex_unlock(&s->jobs_lock);
    return NULL;
}

/* Starts the fetch; the answer is sent from HTTP_WRITEABLE once it is done. */
static int hub_job_start(struct lws *wsi, http_pss *p, station_server *s, station_api_fetch *f)
{
    hub_job *j = calloc(1, sizeof *j);
    if (!j) {
        station_api_fetch_free(f);
        return respond_error(wsi, p, 500, "out of memory");
    }
    j->fetch = f;
    j->wsi = wsi;
    j->ctx = s->ctx;
    j->server = s;
    atomic_init(&j->cancel, false);
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&s->jobs_lock);
    int rc = pthread_create(&t, &attr, hub_job_main, j);
    if (rc == 0) s->jobs_running++;
    pthread_mutex_unlock(&s->jobs_lock);
    pthread_attr_destroy(&attr);
    if (rc) {
        hub_job_free(j);
        return respond_error(wsi, p, 503, "cannot start a fetch from the station");
    }
    p->job = j;
    /* The fetch bounds the wait (station_fetch.h), not the server's 10 s. */
    lws_set_timeout(wsi, NO_PENDING_TIMEOUT, 0);
    return 0;
}

/* HTTP_WRITEABLE of a request waiting for its fetch: answers once it is done. */
static int hub_job_poll(struct lws *wsi, http_pss *p, station_server *s)
{
    pthread_mutex_lock(&s->jobs_lock);
    bool done = p->job->done;
    pthread_mutex_unlock(&s->jobs_lock);
    if (!done) return 0;
    hub_job *j = p->job;
    p->job = NULL;
    int rc = respond(wsi, p, j->resp.status, j->resp.content_type, j->resp.body ? j->resp.body : "",
                     j->resp.body_len, NULL);
    hub_job_free(j);
    return rc;
}

/* The request closed: its job's thread frees the job when it ends. */
static void hub_job_drop(http_pss *p, station_server *s)
{
    if (!p->job) return;
    pthread_mutex_lock(&s->jobs_lock);
    if (p->job->done) {
        hub_job_free(p->job);
    } else {
        p->job->orphaned = true;
        atomic_store(&p->job->cancel, true);
    }
    pthread_mutex_unlock(&s->jobs_lock);
    p->job = NULL;
}

/* The live page of a hub: there are no boards here (no daemons). */
static int hub_no_live_page(struct lws *wsi, http_pss *p)
{
    static const char page[] =
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<title>Hub: no live page</title><link rel=\"stylesheet\" href=\"app.css\"></head>"
        "<body><main><h1>This is a hub</h1><p>A hub serves the trials and athletes of every "
        "station from the central index. It has no boards, so there is no live page here: "
        "open each station's own page to record.</p><p><a href=\"trial.html\">All trials</a> "
        "&middot; <a href=\"athlete.html\">Athletes</a></p></main></body></html>";
    return respond(wsi, p, 404, "text/html; charset=utf-8", page, sizeof page - 1, NULL);
}

/* ---- routing: every HTTP request passes here, once its body is in ---- */

static int route(struct lws *wsi, http_pss *p)
{
    station_server *s = server_of(wsi);
    char cookie[COOKIE_MAX];
    header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof cookie);
    bool get = !strcmp(p->method, "GET");
    const char *path = p->path;

    if (!get && !same_origin(wsi))
        return respond_error(wsi, p, 403, "cross-origin request refused");

    if (!strcmp(path, "/auth/login"))
        return get ? respond_error(wsi, p, 405, "use POST") : handle_login(wsi, p, s);
    if (!strcmp(path, "/auth/session")) return handle_session(wsi, p, s, cookie);

    /* Programs send an API token instead of a session cookie; with no ambient
     * credential there is nothing to forge, so no CSRF token is asked of them. */
    char authz[128];
    header(wsi, WSI_TOKEN_HTTP_AUTHORIZATION, authz, sizeof authz);
    bool api_path = !strncmp(path, "/api/", 5) || !strcmp(path, "/metrics");
    bool bearer = api_path && authz[0] && station_auth_bearer_ok(s->auth, authz);
    if (api_path && authz[0] && !bearer) return respond_error(wsi, p, 401, "invalid API token");
    bool authed = bearer || !station_auth_required(s->auth) ||
                  station_auth_session(s->auth, cookie, NULL, NULL);
    const char *name = path[0] == '/' ? path + 1 : path;
    bool hub = station_api_is_hub(s->api);
    /* A hub has no boards: its front page is the trials list of every station. */
    if (!*name) name = hub ? "trial.html" : "station.html";
    if (hub && get && !strcmp(name, "station.html") && authed) return hub_no_live_page(wsi, p);
    if (get && static_name_ok(name)) {
        if (!authed && !is_public_asset(name)) return redirect(wsi, p, "/login.html");
        return serve_static(wsi, p, s, name);
    }
    if (!authed) return respond_error(wsi, p, 401, "login required");
    /* Anything that changes state needs the session's CSRF token. */
    if (!get && !bearer && station_auth_required(s->auth)) {
        char csrf[STATION_TOKEN_HEX + 8];
        custom_header(wsi, "x-csrf-token:", csrf, sizeof csrf);
        if (!station_auth_csrf_ok(s->auth, cookie, csrf))
            return respond_error(wsi, p, 403, "missing or wrong CSRF token");
    }
    if (!strcmp(path, "/auth/logout")) {
        if (get) return respond_error(wsi, p, 405, "use POST");
        station_auth_logout(s->auth, cookie);
        const char *extra[] = {"set-cookie:", "nd_session=; Path=/; Max-Age=0", NULL};
        return respond(wsi, p, 200, "application/json", "{}", 2, extra);
    }
    if (!strcmp(path, "/metrics")) {
        if (!get) return respond_error(wsi, p, 405, "use GET");
        char *m = station_hub_metrics(s->hub, s->ws_clients);
        int rc = m ? respond(wsi, p, 200, "text/plain; version=0.0.4", m, strlen(m), NULL) : -1;
        free(m);
        return rc;
    }
    if (!strcmp(path, "/api/v1/status")) {
        if (!get) return respond_error(wsi, p, 405, "use GET");
        if (hub)
            return respond_error(wsi, p, 404,
                                 "this is a hub over the central index: it has no "
                                 "daemons; each station's own page shows them live");
        char *j = station_hub_status_json(s->hub);
        int rc = j ? respond_json(wsi, p, 200, j) : -1;
        cJSON_free(j);
        return rc;
    }
    if (!strncmp(path, "/api/v1/", 8)) {
        station_api_response r;
        station_api_fetch *fetch = NULL;
        int handled = station_api_handle(s->api, p->method, path, p->query[0] ? p->query : NULL,
                                         p->body, p->body_len, &r, &fetch);
        if (handled == 1) return hub_job_start(wsi, p, s, fetch);
        if (handled == 0) {
            int rc;
            if (r.file_path)
                rc = serve_file(wsi, p, r.file_path, r.content_type);
            else
                rc = respond(wsi, p, r.status, r.content_type, r.body ? r.body : "", r.body_len,
                             NULL);
            station_api_response_free(&r);
            return rc;
        }
    }
    return respond_error(wsi, p, 404, "not found");
}

static void method_of(struct lws *wsi, http_pss *p)
{
    static const struct {
        enum lws_token_indexes tok;
        const char *name;
    } m[] = {{WSI_TOKEN_GET_URI, "GET"},
             {WSI_TOKEN_POST_URI, "POST"},
             {WSI_TOKEN_PUT_URI, "PUT"},
             {WSI_TOKEN_DELETE_URI, "DELETE"}};
    p->method[0] = 0;
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        if (lws_hdr_total_length(wsi, m[i].tok) > 0)
            snprintf(p->method, sizeof p->method, "%s", m[i].name);
}

/* libwebsockets hands the query URL-decoded, one fragment per "key=value";
 * nd_api_handle() takes the raw query, so each fragment is percent-encoded
 * again: a decoded '&' or '=' inside a value must not start another
 * parameter. Returns the length, or -1 when it does not fit. */
static int raw_query(struct lws *wsi, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    char frag[QUERY_MAX_LEN];
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0;; i++) {
        int n = lws_hdr_copy_fragment(wsi, frag, sizeof frag, WSI_TOKEN_HTTP_URI_ARGS, i);
        if (n < 0) break;
        if (i > 0) {
            if (o + 2 > outlen) return -1;
            out[o++] = '&';
        }
        bool in_value = false;
        for (int k = 0; k < n; k++) {
            unsigned char c = (unsigned char)frag[k];
            bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                         (c == '=' && !in_value);
            if (c == '=') in_value = true;
            if (o + (plain ? 2 : 4) > outlen) return -1;
            if (plain) {
                out[o++] = (char)c;
            } else {
                out[o++] = '%';
                out[o++] = hex[c >> 4];
                out[o++] = hex[c & 15];
            }
        }
        out[o] = '\0';
    }
    return (int)o;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                         size_t len)
{
    http_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP: {
        hub_job_drop(p, server_of(wsi)); /* (none: a request waiting reads nothing more) */
        free(p->body);                   /* a previous request on this keep-alive connection */
        free(p->resp);
        memset(p, 0, sizeof *p);
        method_of(wsi, p);
        snprintf(p->path, sizeof p->path, "%s", (const char *)in);
        if (strlen((const char *)in) >= sizeof p->path)
            return respond_error(wsi, p, 414, "URI too long");
        int ql = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
        if (ql >= (int)sizeof p->query) return respond_error(wsi, p, 414, "query too long");
        if (ql > 0 && raw_query(wsi, p->query, sizeof p->query) < 0)
            return respond_error(wsi, p, 414, "query too long");
        if (!p->method[0]) return respond_error(wsi, p, 405, "method not allowed");
        if (!strcmp(p->method, "GET") || !strcmp(p->method, "DELETE"))
            return route(wsi, p) ? -1 : 0;
        char cl[32];
        header(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof cl);
        char *endp;
        long n = cl[0] ? strtol(cl, &endp, 10) : -1;
        if (!cl[0] || *endp || n < 0) return respond_error(wsi, p, 411, "Content-Length required");
        if (n > BODY_MAX) return respond_error(wsi, p, 413, "request body over 64 KiB");
        if (n == 0) return route(wsi, p) ? -1 : 0;
        return 0; /* the body follows */
    }
    case LWS_CALLBACK_HTTP_BODY: {
        if (p->body_too_big || p->body_len + len > BODY_MAX) {
            p->body_too_big = true;
            return 0;
        }
        char *b = realloc(p->body, p->body_len + len + 1);
        if (!b) return -1;
        memcpy(b + p->body_len, in, len);
        p->body = b;
        p->body_len += len;
        p->body[p->body_len] = 0;
        return 0;
    }
    case LWS_CALLBACK_HTTP_BODY_COMPLETION:
        if (p->body_too_big) return respond_error(wsi, p, 413, "request body over 64 KiB") ? -1 : 0;
        return route(wsi, p) ? -1 : 0;
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (p->job) return hub_job_poll(wsi, p, server_of(wsi)) ? -1 : 0;
        return write_body_chunk(wsi, p);
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* A hub's fetch may have finished: its request checks in HTTP_WRITEABLE. */
        if (station_api_is_hub(server_of(wsi)->api))
            lws_callback_on_writable_all_protocol(lws_get_context(wsi), lws_get_protocol(wsi));
        return 0;
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (p) {
            hub_job_drop(p, server_of(wsi));
            free(p->body);
            free(p->resp);
            p->body = NULL;
            p->resp = NULL;
            p->body_len = 0;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

/* ---- WebSocket: live messages out, commands in ---- */

static void ws_queue(ws_pss *w, char *msg)
{
    if (!msg) return;
    if (w->qlen == w->qcap) {
        /* A page flooding us with junk gets its error replies capped. */
        if (w->qcap >= 1024) {
            free(msg);
            return;
        }
        int cap = w->qcap ? w->qcap * 2 : 16;
        char **q = realloc(w->queue, sizeof *q * (size_t)cap);
        if (!q) {
            free(msg);
            return;
        }
        w->queue = q;
        w->qcap = cap;
    }
    w->queue[w->qlen++] = msg;
}

static void ws_queue_error(ws_pss *w, const char *what)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "type", "error");
    cJSON_AddStringToObject(o, "error", what);
    char *t = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    ws_queue(w, t ? strdup(t) : NULL);
    cJSON_free(t);
}

static void ws_clear_queue(ws_pss *w)
{
    for (int i = w->qpos; i < w->qlen; i++) free(w->queue[i]);
    free(w->queue);
    w->queue = NULL;
    w->qlen = w->qpos = w->qcap = 0;
}

static bool command_allowed(const char *cmd)
{
    /* set (next set) and next_day_pain (a closed trial) come from the
     * station and trial pages (issue 15); config, calibrate stay with nordctl */
    static const char *ok[] = {"status", "tare", "start", "stop", "mark", "set", "next_day_pain"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!strcmp(cmd, ok[i])) return true;
    return false;
}

static void ws_hello(station_server *s, ws_pss *w, cJSON *o)
{
    cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "daemon");
    int idx = cJSON_IsString(d) ? station_hub_daemon_index(s->hub, d->valuestring) : -1;
    if (idx < 0) {
        ws_queue_error(w, "hello: unknown daemon");
        return;
    }
    ws_clear_queue(w);
    w->daemon = idx;
    w->cursor = station_hub_head(s->hub); /* the snapshot covers what came before */
    char hello[128];
    snprintf(hello, sizeof hello, "{\"type\":\"hello\",\"daemon\":\"%s\"}",
             station_hub_daemon_name(s->hub, idx));
    ws_queue(w, strdup(hello));
    int n = 0;
    char **snap = station_hub_snapshot(s->hub, idx, &n);
    for (int i = 0; i < n; i++) ws_queue(w, snap[i]);
    free(snap);
}

/* A start with target_pct but without the best: taken from the index
 * (METRICS.md 5.4). The page is told where it came from before the reply;
 * without a best in the index the start is refused here, nothing sent.
 * Returns false when refused. */
static bool fill_best(station_server *s, ws_pss *w, int idx, long rid, cJSON *cmd)
{
    char note[600];
    int rc = station_api_fill_best(s->api, cmd, note, sizeof note);
    if (rc < 0) {
        char why[700];
        snprintf(why, sizeof why, "station: %s", note);
        station_hub_reply_error(s->hub, idx, w->client, rid, why);
        return false;
    }
    if (rc == 1) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "type", "best");
        cJSON_AddNumberToObject(o, "id", (double)rid);
        cJSON_AddStringToObject(o, "daemon", station_hub_daemon_name(s->hub, idx));
        cJSON_AddItemReferenceToObject(o, "best_left_N",
                                       cJSON_GetObjectItemCaseSensitive(cmd, "best_left_N"));
        cJSON_AddItemReferenceToObject(o, "best_right_N",
                                       cJSON_GetObjectItemCaseSensitive(cmd, "best_right_N"));
        cJSON_AddStringToObject(o, "text", note);
        char *t = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        ws_queue(w, t ? strdup(t) : NULL);
        cJSON_free(t);
    }
    return true;
}

static void ws_command(station_server *s, ws_pss *w, cJSON *o)
{
    cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "daemon");
    cJSON *cmd = cJSON_GetObjectItemCaseSensitive(o, "cmd");
    cJSON *csrf = cJSON_GetObjectItemCaseSensitive(o, "csrf");
    cJSON *name = cJSON_GetObjectItemCaseSensitive(cmd, "cmd");
    if (!cJSON_IsNumber(id) || id->valuedouble < 0 || id->valuedouble > 1e15) {
        ws_queue_error(w, "cmd: \"id\" must be a non-negative number");
        return;
    }
    long rid = (long)id->valuedouble;
    int idx = cJSON_IsString(d) ? station_hub_daemon_index(s->hub, d->valuestring) : -1;
    if (idx < 0) {
        station_hub_reply_error(s->hub, 0, w->client, rid, "station: unknown daemon");
        return;
    }
    if (station_auth_required(s->auth) &&
        !station_auth_csrf_ok(s->auth, w->cookie,
                              cJSON_IsString(csrf) ? csrf->valuestring : NULL)) {
        station_hub_reply_error(s->hub, idx, w->client, rid,
                                "station: session expired or CSRF token wrong; log in again");
        return;
    }
    if (!cJSON_IsObject(cmd) || !cJSON_IsString(name) || !command_allowed(name->valuestring)) {
        station_hub_reply_error(s->hub, idx, w->client, rid,
                                "station: \"cmd\" must be an object whose cmd is one of status, "
                                "tare, start, stop, mark, set, next_day_pain");
        return;
    }
    if (!strcmp(name->valuestring, "start") && !fill_best(s, w, idx, rid, cmd)) return;
    char *txt = cJSON_PrintUnformatted(cmd);
    if (!txt || station_link_submit(s->links[idx], w->client, rid, txt) != 0)
        station_hub_reply_error(s->hub, idx, w->client, rid,
                                "station: too many commands waiting for this daemon");
    cJSON_free(txt);
}

static void ws_message(station_server *s, ws_pss *w)
{
    cJSON *o = cJSON_ParseWithLength(w->rx, w->rx_len);
    cJSON *type = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (!cJSON_IsObject(o) || !cJSON_IsString(type))
        ws_queue_error(w, "expected a JSON object with \"type\": hello or cmd");
    else if (!strcmp(type->valuestring, "hello"))
        ws_hello(s, w, o);
    else if (!strcmp(type->valuestring, "cmd"))
        ws_command(s, w, o);
    else
        ws_queue_error(w, "unknown \"type\" (valid: hello, cmd)");
    cJSON_Delete(o);
}

/* One message per WRITEABLE (an lws rule): own queue, then replies, then
 * the board's live messages. */
static int ws_write_next(struct lws *wsi, station_server *s, ws_pss *w)
{
    char *msg = NULL;
    size_t len = 0;
    if (w->qpos < w->qlen) {
        msg = w->queue[w->qpos++];
        len = strlen(msg);
        if (w->qpos == w->qlen) w->qpos = w->qlen = 0;
    } else if (station_hub_take_reply(s->hub, w->client, &msg, &len)) {
    } else if (w->daemon >= 0) {
        int rc = station_hub_next(s->hub, &w->cursor, w->daemon, &msg, &len);
        if (rc < 0) {
            lwsl_user("station: dropping a page that fell behind the live stream\n");
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"too slow",
                             8);
            return -1;
        }
    }
    if (!msg) return 0;
    unsigned char *buf = malloc(LWS_PRE + len);
    if (!buf) {
        free(msg);
        return -1;
    }
    memcpy(buf + LWS_PRE, msg, len);
    free(msg);
    int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
    free(buf);
    if (n < (int)len) return -1;
    lws_callback_on_writable(wsi); /* maybe more; an empty round costs one callback */
    return 0;
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
    ws_pss *w = user;
    station_server *s = server_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        if (!same_origin(wsi) || station_api_is_hub(s->api)) return 1; /* a hub has no live data */
        char cookie[COOKIE_MAX];
        header(wsi, WSI_TOKEN_HTTP_COOKIE, cookie, sizeof cookie);
        if (station_auth_required(s->auth) && !station_auth_session(s->auth, cookie, NULL, NULL))
            return 1;
        snprintf(w->cookie, sizeof w->cookie, "%s", cookie);
        return 0;
    }
    case LWS_CALLBACK_ESTABLISHED: {
        int slot = -1;
        for (int i = 0; i < WS_MAX && slot < 0; i++)
            if (!s->ws[i]) slot = i;
        if (slot < 0) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"full", 4);
            return -1;
        }
        s->ws[slot] = w;
        w->wsi = wsi;
        w->client = ++s->next_client;
        w->daemon = -1;
        w->cursor = station_hub_head(s->hub);
        s->ws_clients++;
        return 0;
    }
    case LWS_CALLBACK_RECEIVE:
        if (lws_frame_is_binary(wsi)) {
            lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                             (unsigned char *)"text only", 9);
            return -1;
        }
        if (lws_is_first_fragment(wsi)) w->rx_len = 0, w->rx_too_big = false;
        if (!w->rx_too_big && w->rx_len + len <= BODY_MAX) {
            char *b = realloc(w->rx, w->rx_len + len + 1);
            if (!b) return -1;
            memcpy(b + w->rx_len, in, len);
            w->rx = b;
            w->rx_len += len;
        } else {
            w->rx_too_big = true;
        }
        if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi)) return 0;
        if (w->rx_too_big)
            ws_queue_error(w, "message over 64 KiB refused");
        else
            ws_message(s, w);
        w->rx_len = 0;
        lws_callback_on_writable(wsi);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return ws_write_next(wsi, s, w);
    case LWS_CALLBACK_CLOSED:
        if (!w->wsi) return 0; /* refused before it was counted */
        for (int i = 0; i < WS_MAX; i++)
            if (s->ws[i] == w) s->ws[i] = NULL;
        s->ws_clients--;
        station_hub_drop_client(s->hub, w->client);
        ws_clear_queue(w);
        free(w->rx);
        w->rx = NULL;
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* A daemon link added messages or replies. */
        lws_callback_on_writable_all_protocol(lws_get_context(wsi), lws_get_protocol(wsi));
        return 0;
    default:
        return 0;
    }
}

static const struct lws_protocols protocols[] = {
    {"http", callback_http, sizeof(http_pss), 0, 0, NULL, 0},
    {"nordic-station", callback_ws, sizeof(ws_pss), BODY_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void wake_service(void *arg)
{
    lws_cancel_service(arg);
}

/* Once a second: drop pages that fell too far behind. */
static void sweep_slow_pages(lws_sorted_usec_list_t *sul)
{
    station_server *s = lws_container_of(sul, station_server, sweep);
    uint64_t head = station_hub_head(s->hub);
    for (int i = 0; i < WS_MAX; i++) {
        ws_pss *w = s->ws[i];
        if (w && w->daemon >= 0 && head - w->cursor > WS_MAX_LAG) {
            lwsl_user("station: dropping a page %llu messages behind\n",
                      (unsigned long long)(head - w->cursor));
            lws_set_timeout(w->wsi, PENDING_TIMEOUT_USER_REASON_BASE + 1, LWS_TO_KILL_ASYNC);
        }
    }
    lws_sul_schedule(s->ctx, 0, &s->sweep, sweep_slow_pages, LWS_US_PER_SEC);
}

station_server *station_server_new(const station_config *c, station_hub *hub, station_link **links,
                                   station_auth *auth, char *err, size_t errlen)
{
    station_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->cfg = c;
    s->hub = hub;
    s->links = links;
    s->auth = auth;
    s->tls = c->tls_cert[0] != 0;
    pthread_mutex_init(&s->jobs_lock, NULL);
    pthread_cond_init(&s->jobs_idle, NULL);
    s->api = station_api_open(c, err, errlen);
    if (!s->api) {
        free(s);
        return NULL;
    }
    lws_set_log_level(LLL_ERR | LLL_WARN | LLL_USER, NULL);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = c->listen_port;
    info.iface = strcmp(c->listen_host, "localhost") ? c->listen_host : "127.0.0.1";
    info.protocols = protocols;
    info.user = s;
    info.alpn = "http/1.1"; /* the WebSocket runs over HTTP/1.1 */
    info.timeout_secs = 10; /* a client stalled mid-request or mid-handshake is dropped */
    info.max_http_header_data = 4096;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(info.iface, ':') == NULL) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    if (s->tls) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = c->tls_cert;
        info.ssl_private_key_filepath = c->tls_key;
    }
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(err, errlen, "cannot listen on %s:%d%s (address in use, or bad TLS files?)",
                 c->listen_host, c->listen_port, s->tls ? " with TLS" : "");
        station_api_close(s->api);
        free(s);
        return NULL;
    }
    station_hub_set_wake(hub, wake_service, s->ctx);
    lws_sul_schedule(s->ctx, 0, &s->sweep, sweep_slow_pages, LWS_US_PER_SEC);
    return s;
}

void station_server_run(station_server *s, volatile sig_atomic_t *stop)
{
    while (!*stop)
        if (lws_service(s->ctx, 0) < 0) break;
}

void station_server_free(station_server *s)
{
    if (!s) return;
    station_hub_set_wake(s->hub, NULL, NULL);
    lws_context_destroy(s->ctx); /* closing the requests cancels their fetches */
    pthread_mutex_lock(&s->jobs_lock);
    while (s->jobs_running) pthread_cond_wait(&s->jobs_idle, &s->jobs_lock);
    pthread_mutex_unlock(&s->jobs_lock);
    pthread_mutex_destroy(&s->jobs_lock);
    pthread_cond_destroy(&s->jobs_idle);
    station_api_close(s->api);
    free(s);
}
