#include "station_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void station_config_defaults(station_config *c, const char *www_default)
{
    memset(c, 0, sizeof *c);
    snprintf(c->listen_host, sizeof c->listen_host, "127.0.0.1");
    c->listen_port = 8080;
    snprintf(c->data_dir, sizeof c->data_dir, "/var/lib/nordicd/trials");
    snprintf(c->state_dir, sizeof c->state_dir, "/var/lib/nordic-station");
    snprintf(c->www_dir, sizeof c->www_dir, "%s", www_default);
}

static bool valid_name(const char *s, size_t n)
{
    if (n == 0 || n > STATION_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static bool valid_endpoint(const char *s, size_t n)
{
    if (n == 0 || n >= STATION_EP_MAX) return false;
    for (size_t i = 0; i < n; i++) /* endpoints are quoted in JSON error replies */
        if ((unsigned char)s[i] < 0x20 || s[i] == '"' || s[i] == '\\') return false;
    return !strncmp(s, "tcp://", 6) || !strncmp(s, "ipc://", 6) || !strncmp(s, "inproc://", 9);
}

int station_config_add_daemon(station_config *c, const char *spec, char *err, size_t errlen)
{
    const char *eq = strchr(spec, '=');
    const char *comma = eq ? strchr(eq + 1, ',') : NULL;
    if (!eq || !comma) {
        snprintf(err, errlen,
                 "daemon \"%s\": expected NAME=CTL,PUB (e.g. "
                 "board1=ipc:///run/nordicd/control,tcp://127.0.0.1:5556)",
                 spec);
        return -1;
    }
    size_t nlen = (size_t)(eq - spec), clen = (size_t)(comma - eq - 1), plen = strlen(comma + 1);
    if (!valid_name(spec, nlen)) {
        snprintf(err, errlen, "daemon \"%s\": NAME must be 1-%d characters of A-Z a-z 0-9 _ -",
                 spec, STATION_NAME_MAX);
        return -1;
    }
    if (!valid_endpoint(eq + 1, clen) || !valid_endpoint(comma + 1, plen)) {
        snprintf(err, errlen,
                 "daemon \"%s\": CTL and PUB must be ZeroMQ endpoints (tcp://, ipc://)", spec);
        return -1;
    }
    if (c->ndaemons >= STATION_MAX_DAEMONS) {
        snprintf(err, errlen, "at most %d daemons", STATION_MAX_DAEMONS);
        return -1;
    }
    for (int i = 0; i < c->ndaemons; i++)
        if (strlen(c->daemons[i].name) == nlen && !strncmp(c->daemons[i].name, spec, nlen)) {
            snprintf(err, errlen, "daemon \"%.*s\" is given twice", (int)nlen, spec);
            return -1;
        }
    station_daemon_cfg *d = &c->daemons[c->ndaemons++];
    snprintf(d->name, sizeof d->name, "%.*s", (int)nlen, spec);
    snprintf(d->ctl, sizeof d->ctl, "%.*s", (int)clen, eq + 1);
    snprintf(d->pub, sizeof d->pub, "%s", comma + 1);
    return 0;
}

int station_config_set_listen(station_config *c, const char *spec, char *err, size_t errlen)
{
    const char *colon = strrchr(spec, ':');
    const char *port_s = colon ? colon + 1 : spec;
    char *end;
    errno = 0;
    long port = strtol(port_s, &end, 10);
    if (!*port_s || *end || errno || port < 1 || port > 65535) {
        snprintf(err, errlen, "listen \"%s\": expected HOST:PORT with PORT 1-65535", spec);
        return -1;
    }
    if (colon) {
        const char *h = spec;
        size_t hl = (size_t)(colon - spec);
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
        if (hl == 0 || hl >= sizeof c->listen_host) {
            snprintf(err, errlen, "listen \"%s\": missing or too long HOST", spec);
            return -1;
        }
        snprintf(c->listen_host, sizeof c->listen_host, "%.*s", (int)hl, h);
    }
    c->listen_port = (int)port;
    return 0;
}

bool station_host_is_loopback(const char *host)
{
    if (!strcasecmp(host, "localhost")) return true;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return false; /* "*", "0.0.0.0", a LAN address or an interface name */
}

typedef struct load_ctx {
    station_config *c;
    char *err;
    size_t errlen;
    int bad_line_seen;
} load_ctx;

static int set_path(char *dst, size_t n, const char *v, load_ctx *lc, const char *key)
{
    if (!*v || strlen(v) >= n) {
        snprintf(lc->err, lc->errlen, "%s: empty or longer than %zu bytes", key, n - 1);
        return 0;
    }
    snprintf(dst, n, "%s", v);
    return 1;
}

static int on_ini_line(void *user, const char *section, const char *key, const char *value)
{
    load_ctx *lc = user;
    station_config *c = lc->c;
    if (strcmp(section, "station")) {
        snprintf(lc->err, lc->errlen, "unknown section [%s] (valid: [station])", section);
        return 0;
    }
    if (!strcmp(key, "daemon"))
        return station_config_add_daemon(c, value, lc->err, lc->errlen) == 0;
    if (!strcmp(key, "listen"))
        return station_config_set_listen(c, value, lc->err, lc->errlen) == 0;
    if (!strcmp(key, "data_dir")) return set_path(c->data_dir, sizeof c->data_dir, value, lc, key);
    if (!strcmp(key, "state_dir"))
        return set_path(c->state_dir, sizeof c->state_dir, value, lc, key);
    if (!strcmp(key, "www")) return set_path(c->www_dir, sizeof c->www_dir, value, lc, key);
    if (!strcmp(key, "tls_cert")) return set_path(c->tls_cert, sizeof c->tls_cert, value, lc, key);
    if (!strcmp(key, "tls_key")) return set_path(c->tls_key, sizeof c->tls_key, value, lc, key);
    if (!strcmp(key, "users")) return set_path(c->users_file, sizeof c->users_file, value, lc, key);
    if (!strcmp(key, "tokens"))
        return set_path(c->tokens_file, sizeof c->tokens_file, value, lc, key);
    if (!strcmp(key, "server_key"))
        return set_path(c->server_key, sizeof c->server_key, value, lc, key);
    if (!strcmp(key, "client_key"))
        return set_path(c->client_key, sizeof c->client_key, value, lc, key);
    if (!strcmp(key, "require_login")) {
        if (!strcmp(value, "true") || !strcmp(value, "yes") || !strcmp(value, "1"))
            c->require_login = true;
        else if (!strcmp(value, "false") || !strcmp(value, "no") || !strcmp(value, "0"))
            c->require_login = false;
        else {
            snprintf(lc->err, lc->errlen, "require_login = \"%s\": expected true or false", value);
            return 0;
        }
        return 1;
    }
    if (!strcmp(key, "index")) return set_path(c->index_url, sizeof c->index_url, value, lc, key);
    if (!strcmp(key, "station_id"))
        return set_path(c->station_id, sizeof c->station_id, value, lc, key);
    if (!strcmp(key, "base_url")) return set_path(c->base_url, sizeof c->base_url, value, lc, key);
    if (!strcmp(key, "hub")) return set_path(c->hub_url, sizeof c->hub_url, value, lc, key);
    if (!strcmp(key, "hub_token"))
        return set_path(c->hub_token_file, sizeof c->hub_token_file, value, lc, key);
    snprintf(lc->err, lc->errlen,
             "unknown key \"%s\" (valid: daemon, listen, data_dir, state_dir, www, tls_cert, "
             "tls_key, users, tokens, require_login, server_key, client_key, index, "
             "station_id, base_url, hub, hub_token)",
             key);
    return 0;
}

int station_config_load(station_config *c, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read config %s: %s", path, strerror(errno));
        return -1;
    }
    char msg[512] = "";
    load_ctx lc = {c, msg, sizeof msg, 0};
    int line = ini_parse_file(f, on_ini_line, &lc);
    fclose(f);
    if (line != 0) {
        snprintf(err, errlen, "%s:%d: %s", path, line, msg[0] ? msg : "syntax error");
        return -1;
    }
    return 0;
}

int station_config_check(const station_config *c, char *err, size_t errlen)
{
    if (!c->server_key[0] != !c->client_key[0]) {
        snprintf(err, errlen, "CURVE needs both server_key and client_key (or neither)");
        return -1;
    }
    if (c->index_url[0] && !c->station_id[0]) {
        /* (the URL may hold a password: not echoed) */
        snprintf(err, errlen, "index needs station_id (this station's name in the central index)");
        return -1;
    }
    bool tls = c->tls_cert[0] || c->tls_key[0];
    if (tls && !(c->tls_cert[0] && c->tls_key[0])) {
        snprintf(err, errlen, "TLS needs both tls_cert and tls_key");
        return -1;
    }
    if (c->base_url[0] && !c->index_url[0]) {
        snprintf(err, errlen, "base_url is published in the central index: it needs index");
        return -1;
    }
    if (c->base_url[0] && strncmp(c->base_url, "http://", 7) &&
        strncmp(c->base_url, "https://", 8)) {
        snprintf(err, errlen, "base_url \"%s\": expected http://HOST:PORT or https://...",
                 c->base_url);
        return -1;
    }
    if (c->hub_url[0]) {
        /* A hub serves the central index only: no boards, no files of its own. */
        if (c->ndaemons || c->index_url[0] || c->station_id[0] || c->base_url[0]) {
            snprintf(err, errlen,
                     "hub takes no daemon, index, station_id or base_url (it serves every "
                     "station from the central index; those belong to the stations)");
            return -1;
        }
    } else if (c->hub_token_file[0]) {
        snprintf(err, errlen, "hub_token is the token a hub sends to stations: it needs hub");
        return -1;
    }
    if (c->ndaemons == 0 && !c->hub_url[0]) {
        snprintf(err, errlen,
                 "no daemon given (--daemon NAME=CTL,PUB or daemon = in [station]; or --hub URL)");
        return -1;
    }
    if (!station_host_is_loopback(c->listen_host) && !(tls && c->users_file[0])) {
        snprintf(err, errlen,
                 "refusing to listen on %s:%d: not a loopback address, which needs TLS "
                 "(--tls-cert, --tls-key) and operator accounts (--users); see nordic-station "
                 "--help",
                 c->listen_host, c->listen_port);
        return -1;
    }
    return 0;
}
