/* nordic-station: the clinic's browser front to one or more nordicd
 * (STATION.md). It talks to each daemon only over the documented ZeroMQ
 * interface, so the HTTP surface never runs in the acquisition process. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "station_auth.h"
#include "station_config.h"
#include "station_hub.h"
#include "station_link.h"
#include "station_server.h"

#ifndef NORDIC_STATION_WWW
#define NORDIC_STATION_WWW "/usr/share/nordic-station/www"
#endif

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: nordic-station [options]\n"
        "  --daemon NAME=CTL,PUB  a nordicd to serve (repeatable; one page per board),\n"
        "                         e.g. board1=ipc:///run/nordicd/control,tcp://127.0.0.1:5556\n"
        "  --listen HOST:PORT     address of the web server (default 127.0.0.1:8080)\n"
        "  --config FILE          INI file, [station] keys named like these options\n"
        "                         (daemon, listen, data_dir, state_dir, www, tls_cert, tls_key,\n"
        "                         users, tokens, require_login, index, station_id, base_url,\n"
        "                         hub, hub_token); options\n"
        "                         given here override it\n"
        "  --data-dir DIR         trial files for the index (default /var/lib/nordicd/trials)\n"
        "  --state-dir DIR        the station's index database (default /var/lib/nordic-station)\n"
        "  --www DIR              the static pages (default %s)\n"
        "  --tls-cert FILE --tls-key FILE   serve HTTPS/WSS (PEM files)\n"
        "  --users FILE           operator accounts (made with --add-user); login is then\n"
        "                         required for every page and action\n"
        "  --tokens FILE          API tokens for programs (Authorization: Bearer)\n"
        "  --add-token NAME       make a token for NAME in --tokens FILE, print it once, exit\n"
        "  --server-key FILE      CURVE: the daemons' public key (with --client-key)\n"
        "  --client-key FILE      CURVE: this station's secret key (nordctl keygen)\n"
        "  --require-login        refuse to start without accounts even on loopback\n"
        "  --add-user NAME        add or replace NAME in --users FILE (password read from\n"
        "                         stdin; asked twice on a terminal) and exit\n"
        "  --index URL            also copy the trial index to one central PostgreSQL\n"
        "                         (postgresql://...; tools/index/INDEX.md), as --station-id ID\n"
        "  --station-id ID        this station's name in the central index\n"
        "  --base-url URL         where a hub fetches this station's trial files from, e.g.\n"
        "                         http://10.0.0.5:8080 (published in the central index)\n"
        "  --hub URL              be a hub: no daemons; the pages (trials, athletes) and\n"
        "                         /api/v1 over every station of this central PostgreSQL\n"
        "                         (postgresql://...), trial ids as STATION:TRIAL, files\n"
        "                         fetched from the station that holds them\n"
        "  --hub-token FILE       API token (one line) the hub sends to stations\n"
        "  --help                 this text\n"
        "A listen address other than loopback needs --tls-cert, --tls-key and --users.\n",
        NORDIC_STATION_WWW);
}

static int read_password(char *buf, size_t n, const char *prompt)
{
    bool tty = isatty(STDIN_FILENO);
    struct termios old, noecho;
    if (tty) {
        fprintf(stderr, "%s", prompt);
        tcgetattr(STDIN_FILENO, &old);
        noecho = old;
        noecho.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho);
    }
    char *r = fgets(buf, (int)n, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        fprintf(stderr, "\n");
    }
    if (!r) return -1;
    buf[strcspn(buf, "\r\n")] = 0;
    return 0;
}

static int add_user(const char *users, const char *name)
{
    if (!users[0]) {
        fprintf(stderr, "nordic-station: --add-user needs --users FILE\n");
        return 2;
    }
    char pw[256], again[256];
    if (read_password(pw, sizeof pw, "password: ") != 0) {
        fprintf(stderr, "nordic-station: no password on stdin\n");
        return 2;
    }
    if (isatty(STDIN_FILENO) &&
        (read_password(again, sizeof again, "again: ") != 0 || strcmp(pw, again))) {
        fprintf(stderr, "nordic-station: the passwords differ\n");
        return 2;
    }
    char err[512];
    int rc = station_add_user(users, name, pw, err, sizeof err);
    memset(pw, 0, sizeof pw);
    memset(again, 0, sizeof again);
    if (rc != 0) {
        fprintf(stderr, "nordic-station: %s\n", err);
        return 1;
    }
    fprintf(stderr, "nordic-station: account %s written to %s\n", name, users);
    return 0;
}

static int add_token(const char *tokens, const char *name)
{
    if (!tokens[0]) {
        fprintf(stderr, "nordic-station: --add-token needs --tokens FILE\n");
        return 2;
    }
    char token[STATION_API_TOKEN_LEN + 1], err[512];
    if (station_add_token(tokens, name, token, err, sizeof err) != 0) {
        fprintf(stderr, "nordic-station: %s\n", err);
        return 1;
    }
    /* Shown once: only its hash is stored. */
    printf("%s\n", token);
    fprintf(stderr, "nordic-station: token %s written to %s (send it as Authorization: Bearer)\n",
            name, tokens);
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        O_DAEMON = 256,
        O_LISTEN,
        O_CONFIG,
        O_DATA,
        O_STATE,
        O_WWW,
        O_CERT,
        O_KEY,
        O_USERS,
        O_REQUIRE,
        O_ADDUSER,
        O_TOKENS,
        O_ADDTOKEN,
        O_SERVERKEY,
        O_CLIENTKEY,
        O_INDEX,
        O_STATION_ID,
        O_BASE_URL,
        O_HUB,
        O_HUB_TOKEN,
        O_HELP
    };
    static const struct option opts[] = {
        {"daemon", required_argument, 0, O_DAEMON},
        {"listen", required_argument, 0, O_LISTEN},
        {"config", required_argument, 0, O_CONFIG},
        {"data-dir", required_argument, 0, O_DATA},
        {"state-dir", required_argument, 0, O_STATE},
        {"www", required_argument, 0, O_WWW},
        {"tls-cert", required_argument, 0, O_CERT},
        {"tls-key", required_argument, 0, O_KEY},
        {"users", required_argument, 0, O_USERS},
        {"require-login", no_argument, 0, O_REQUIRE},
        {"add-user", required_argument, 0, O_ADDUSER},
        {"tokens", required_argument, 0, O_TOKENS},
        {"add-token", required_argument, 0, O_ADDTOKEN},
        {"server-key", required_argument, 0, O_SERVERKEY},
        {"client-key", required_argument, 0, O_CLIENTKEY},
        {"index", required_argument, 0, O_INDEX},
        {"station-id", required_argument, 0, O_STATION_ID},
        {"base-url", required_argument, 0, O_BASE_URL},
        {"hub", required_argument, 0, O_HUB},
        {"hub-token", required_argument, 0, O_HUB_TOKEN},
        {"help", no_argument, 0, O_HELP},
        {0, 0, 0, 0},
    };
    station_config cfg;
    station_config_defaults(&cfg, NORDIC_STATION_WWW);
    char err[1024];

    /* The config file first, so that options override it wherever they stand. */
    for (int i = 1; i < argc; i++) {
        const char *file = NULL;
        if (!strcmp(argv[i], "--config") && i + 1 < argc)
            file = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9))
            file = argv[i] + 9;
        if (file && station_config_load(&cfg, file, err, sizeof err) != 0) {
            fprintf(stderr, "nordic-station: %s\n", err);
            return 2;
        }
    }
    const char *add_user_name = NULL, *add_token_name = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case O_DAEMON:
            rc = station_config_add_daemon(&cfg, optarg, err, sizeof err);
            break;
        case O_LISTEN:
            rc = station_config_set_listen(&cfg, optarg, err, sizeof err);
            break;
        case O_CONFIG:
            break;
        case O_DATA:
            snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", optarg);
            break;
        case O_STATE:
            snprintf(cfg.state_dir, sizeof cfg.state_dir, "%s", optarg);
            break;
        case O_WWW:
            snprintf(cfg.www_dir, sizeof cfg.www_dir, "%s", optarg);
            break;
        case O_SERVERKEY:
            snprintf(cfg.server_key, sizeof cfg.server_key, "%s", optarg);
            break;
        case O_CLIENTKEY:
            snprintf(cfg.client_key, sizeof cfg.client_key, "%s", optarg);
            break;
        case O_CERT:
            snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s", optarg);
            break;
        case O_KEY:
            snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s", optarg);
            break;
        case O_USERS:
            snprintf(cfg.users_file, sizeof cfg.users_file, "%s", optarg);
            break;
        case O_REQUIRE:
            cfg.require_login = true;
            break;
        case O_INDEX:
            snprintf(cfg.index_url, sizeof cfg.index_url, "%s", optarg);
            break;
        case O_STATION_ID:
            snprintf(cfg.station_id, sizeof cfg.station_id, "%s", optarg);
            break;
        case O_BASE_URL:
            snprintf(cfg.base_url, sizeof cfg.base_url, "%s", optarg);
            break;
        case O_HUB:
            snprintf(cfg.hub_url, sizeof cfg.hub_url, "%s", optarg);
            break;
        case O_HUB_TOKEN:
            snprintf(cfg.hub_token_file, sizeof cfg.hub_token_file, "%s", optarg);
            break;
        case O_ADDUSER:
            add_user_name = optarg;
            break;
        case O_TOKENS:
            snprintf(cfg.tokens_file, sizeof cfg.tokens_file, "%s", optarg);
            break;
        case O_ADDTOKEN:
            add_token_name = optarg;
            break;
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
        if (rc != 0) {
            fprintf(stderr, "nordic-station: %s\n", err);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "nordic-station: unexpected argument \"%s\" (see --help)\n", argv[optind]);
        return 2;
    }
    if (add_user_name) return add_user(cfg.users_file, add_user_name);
    if (add_token_name) return add_token(cfg.tokens_file, add_token_name);
    if (station_config_check(&cfg, err, sizeof err) != 0) {
        fprintf(stderr, "nordic-station: %s\n", err);
        return 2;
    }
    /* Accounts make login mandatory; a non-loopback bind always has them (checked above). */
    bool login = cfg.require_login || cfg.users_file[0];
    station_auth *auth = station_auth_new(cfg.users_file, login, err, sizeof err);
    if (!auth || (cfg.tokens_file[0] &&
                  station_auth_load_tokens(auth, cfg.tokens_file, err, sizeof err) != 0)) {
        fprintf(stderr, "nordic-station: %s\n", err);
        station_auth_free(auth);
        return 2;
    }
    station_hub *hub = station_hub_new(&cfg);
    if (!hub) {
        fprintf(stderr, "nordic-station: out of memory\n");
        return 1;
    }

    /* Only the main thread takes SIGINT/SIGTERM, so the service loop wakes. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    station_link *links[STATION_MAX_DAEMONS] = {0};
    station_link_callbacks cb = {station_hub_on_message, station_hub_on_reply, hub};
    int rc = 0;
    for (int i = 0; i < cfg.ndaemons && rc == 0; i++) {
        links[i] = station_link_start(
            i, cfg.daemons[i].ctl, cfg.daemons[i].pub, cfg.server_key[0] ? cfg.server_key : NULL,
            cfg.client_key[0] ? cfg.client_key : NULL, &cb, err, sizeof err);
        if (!links[i]) {
            fprintf(stderr, "nordic-station: daemon %s: %s\n", cfg.daemons[i].name, err);
            rc = 2;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    station_server *srv =
        rc == 0 ? station_server_new(&cfg, hub, links, auth, err, sizeof err) : NULL;
    if (rc == 0 && !srv) {
        fprintf(stderr, "nordic-station: %s\n", err);
        rc = 1;
    }
    if (srv) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        if (cfg.hub_url[0]) /* (the URL may hold a password: not echoed) */
            fprintf(stderr, "nordic-station: hub over the central index on %s://%s:%d/%s\n",
                    cfg.tls_cert[0] ? "https" : "http", cfg.listen_host, cfg.listen_port,
                    login ? " (login required)" : "");
        else
            fprintf(stderr, "nordic-station: serving %d daemon(s) on %s://%s:%d/%s\n", cfg.ndaemons,
                    cfg.tls_cert[0] ? "https" : "http", cfg.listen_host, cfg.listen_port,
                    login ? " (login required)" : "");
        station_server_run(srv, &stop_requested);
        station_server_free(srv);
    }
    for (int i = 0; i < cfg.ndaemons; i++) station_link_stop(links[i]);
    station_hub_free(hub);
    station_auth_free(auth);
    return rc;
}
