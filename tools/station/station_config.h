/* nordic-station settings: command line and the INI file mirror each other
 * ([station] keys named like the long options). */
#ifndef STATION_CONFIG_H
#define STATION_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define STATION_MAX_DAEMONS 16
#define STATION_NAME_MAX    32
#define STATION_EP_MAX      256
#define STATION_PATH_MAX    1024

typedef struct station_daemon_cfg {
    char name[STATION_NAME_MAX + 1]; /* [A-Za-z0-9_-], used in URLs */
    char ctl[STATION_EP_MAX];
    char pub[STATION_EP_MAX];
} station_daemon_cfg;

typedef struct station_config {
    station_daemon_cfg daemons[STATION_MAX_DAEMONS];
    int ndaemons;
    char listen_host[128];
    int listen_port;
    char data_dir[STATION_PATH_MAX];
    char state_dir[STATION_PATH_MAX];
    char www_dir[STATION_PATH_MAX];
    char tls_cert[STATION_PATH_MAX];
    char tls_key[STATION_PATH_MAX];
    char users_file[STATION_PATH_MAX];
    char tokens_file[STATION_PATH_MAX]; /* API tokens (Bearer) for programs */
    bool require_login;                 /* also on loopback (always on for other binds) */
    /* CURVE towards daemons that require it (daemon/wire/ZMQ_PROTOCOL.md):
     * the daemons' public key and this station's secret key; "" = none. */
    char server_key[STATION_PATH_MAX];
    char client_key[STATION_PATH_MAX];
    /* Central PostgreSQL copy of the trial index (tools/index/INDEX.md):
     * "postgresql://..." or "" for none, and this station's id there. */
    char index_url[STATION_PATH_MAX];
    char station_id[65];
    /* The URL a hub fetches this station's trial files from (published in
     * the central index with index/station_id); "" = none. */
    char base_url[STATION_PATH_MAX];
    /* Hub mode: no daemons; pages and /api/v1 over every station of this
     * central PostgreSQL ("postgresql://..."); "" = an ordinary station. */
    char hub_url[STATION_PATH_MAX];
    /* A file holding the API token a hub sends to the stations
     * (Authorization: Bearer) when it fetches a file; "" = none. */
    char hub_token_file[STATION_PATH_MAX];
} station_config;

void station_config_defaults(station_config *c, const char *www_default);
/* "NAME=CTL,PUB" -> appended daemon. Returns 0, or -1 with a message. */
int station_config_add_daemon(station_config *c, const char *spec, char *err, size_t errlen);
/* "HOST:PORT", "[v6]:PORT" or "PORT" (host stays). */
int station_config_set_listen(station_config *c, const char *spec, char *err, size_t errlen);
/* Reads an INI file; unknown sections/keys and bad values are errors naming the line. */
int station_config_load(station_config *c, const char *path, char *err, size_t errlen);
/* Whether the host is a loopback address (127.0.0.0/8, ::1, localhost). */
bool station_host_is_loopback(const char *host);
/* Start-up policy of SECURITY in STATION.md: a non-loopback bind needs TLS and
 * accounts; a lone certificate or key is a mistake. 0 = acceptable. */
int station_config_check(const station_config *c, char *err, size_t errlen);

#endif
