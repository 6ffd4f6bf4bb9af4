#include "station_auth.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define USERS_MAX      64
#define TOKENS_MAX     64
#define SESSIONS_MAX   128
#define PEERS_MAX      256
#define SESSION_IDLE_S (8 * 3600)

typedef struct account {
    char name[STATION_USER_MAX + 1];
    char hash[crypto_pwhash_STRBYTES];
} account;

typedef struct session {
    char token[STATION_TOKEN_HEX + 1];
    char csrf[STATION_TOKEN_HEX + 1];
    char user[STATION_USER_MAX + 1];
    double last_used;
} session;

typedef struct peer_fails {
    char addr[64];
    int fails;
    double window_start;
} peer_fails;

typedef struct api_token {
    char name[STATION_USER_MAX + 1];
    unsigned char hash[crypto_generichash_BYTES];
} api_token;

/* All addresses together: password checks take ~0.1 s of the server's one
 * thread, so at most a burst of 10, then 2 per second. */
#define VERIFY_BURST 10.0
#define VERIFY_PER_S 2.0

struct station_auth {
    bool required;
    double verify_tokens, verify_at; /* token bucket for password checks */
    account users[USERS_MAX];
    int nusers;
    api_token tokens[TOKENS_MAX];
    int ntokens;
    session sessions[SESSIONS_MAX];
    peer_fails peers[PEERS_MAX];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool valid_user_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > STATION_USER_MAX) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Opens a file of secrets, refusing one that others may read. */
static FILE *open_secret_file(const char *what, const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot read %s file %s: %s", what, path, strerror(errno));
        if (fd >= 0) close(fd);
        return NULL;
    }
    if (st.st_mode & S_IRWXO) {
        snprintf(err, errlen, "%s file %s is accessible by others (mode %03o): chmod o= it", what,
                 path, (unsigned)(st.st_mode & 0777));
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read %s file %s: %s", what, path, strerror(errno));
        close(fd);
    }
    return f;
}

/* users file: "name:$argon2id$..." per line, '#' comments. */
static int load_users(station_auth *a, const char *path, char *err, size_t errlen)
{
    FILE *f = open_secret_file("users", path, err, errlen);
    if (!f) return -1;
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *colon = strchr(line, ':');
        if (colon) *colon = 0;
        if (!colon || !valid_user_name(line) || strncmp(colon + 1, "$argon2id$", 10) ||
            strlen(colon + 1) >= crypto_pwhash_STRBYTES) {
            snprintf(err, errlen, "%s:%d: expected NAME:$argon2id$... (made by --add-user)", path,
                     lineno);
            fclose(f);
            return -1;
        }
        if (a->nusers == USERS_MAX) {
            snprintf(err, errlen, "%s: more than %d accounts", path, USERS_MAX);
            fclose(f);
            return -1;
        }
        account *u = &a->users[a->nusers++];
        snprintf(u->name, sizeof u->name, "%s", line);
        snprintf(u->hash, sizeof u->hash, "%s", colon + 1);
    }
    fclose(f);
    return 0;
}

int station_auth_load_tokens(station_auth *a, const char *tokens_file, char *err, size_t errlen)
{
    FILE *f = open_secret_file("tokens", tokens_file, err, errlen);
    if (!f) return -1;
    char line[512];
    int lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') continue;
        char *colon = strchr(line, ':');
        if (colon) *colon = 0;
        api_token t;
        size_t bin_len = 0;
        if (!colon || !valid_user_name(line) || a->ntokens == TOKENS_MAX ||
            sodium_hex2bin(t.hash, sizeof t.hash, colon + 1, strlen(colon + 1), NULL, &bin_len,
                           NULL) != 0 ||
            bin_len != sizeof t.hash) {
            snprintf(err, errlen, "%s:%d: expected NAME:<64 hex digits> (made by --add-token)",
                     tokens_file, lineno);
            fclose(f);
            return -1;
        }
        snprintf(t.name, sizeof t.name, "%s", line);
        a->tokens[a->ntokens++] = t;
    }
    fclose(f);
    return 0;
}

bool station_auth_bearer_ok(const station_auth *a, const char *authorization)
{
    if (!authorization || strncmp(authorization, "Bearer ", 7)) return false;
    const char *tok = authorization + 7;
    if (strlen(tok) != STATION_API_TOKEN_LEN) return false;
    unsigned char h[crypto_generichash_BYTES];
    crypto_generichash(h, sizeof h, (const unsigned char *)tok, STATION_API_TOKEN_LEN, NULL, 0);
    bool ok = false;
    for (int i = 0; i < a->ntokens; i++) /* every entry is compared: no early exit */
        ok |= sodium_memcmp(a->tokens[i].hash, h, sizeof h) == 0;
    return ok;
}

station_auth *station_auth_new(const char *users_file, bool required, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    station_auth *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->required = required;
    a->verify_tokens = VERIFY_BURST;
    a->verify_at = mono_s();
    if (users_file[0] && load_users(a, users_file, err, errlen) != 0) {
        free(a);
        return NULL;
    }
    if (required && a->nusers == 0) {
        snprintf(err, errlen,
                 "login is required but %s holds no account (add one with "
                 "nordic-station --users FILE --add-user NAME)",
                 users_file[0] ? users_file : "no users file is given and it");
        free(a);
        return NULL;
    }
    return a;
}

void station_auth_free(station_auth *a)
{
    if (a) sodium_memzero(a, sizeof *a), free(a);
}

bool station_auth_required(const station_auth *a)
{
    return a->required;
}

static void random_hex(char *out)
{
    unsigned char b[STATION_TOKEN_HEX / 2];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, STATION_TOKEN_HEX + 1, b, sizeof b);
}

static peer_fails *peer_slot(station_auth *a, const char *addr, double now)
{
    peer_fails *oldest = &a->peers[0];
    for (int i = 0; i < PEERS_MAX; i++) {
        peer_fails *p = &a->peers[i];
        if (!strcmp(p->addr, addr)) return p;
        if (p->window_start < oldest->window_start) oldest = p;
    }
    memset(oldest, 0, sizeof *oldest);
    snprintf(oldest->addr, sizeof oldest->addr, "%s", addr);
    oldest->window_start = now;
    return oldest;
}

station_login_result station_auth_login(station_auth *a, const char *peer, const char *user,
                                        const char *password, char *token, char *csrf,
                                        int *retry_after_s)
{
    double now = mono_s();
    peer_fails *pf = peer_slot(a, peer, now);
    if (now - pf->window_start > STATION_LOGIN_WINDOW_S) pf->fails = 0, pf->window_start = now;
    if (pf->fails >= STATION_LOGIN_FAILS) {
        *retry_after_s = (int)(STATION_LOGIN_WINDOW_S - (now - pf->window_start)) + 1;
        return AUTH_LIMITED;
    }
    a->verify_tokens += (now - a->verify_at) * VERIFY_PER_S;
    if (a->verify_tokens > VERIFY_BURST) a->verify_tokens = VERIFY_BURST;
    a->verify_at = now;
    if (a->verify_tokens < 1) {
        *retry_after_s = 1;
        return AUTH_LIMITED;
    }
    a->verify_tokens -= 1;
    const account *acc = NULL;
    for (int i = 0; i < a->nusers; i++)
        if (!strcmp(a->users[i].name, user)) acc = &a->users[i];
    /* An unknown name costs a hash too, so timing does not reveal names. */
    static char dummy[crypto_pwhash_STRBYTES];
    if (!dummy[0] && crypto_pwhash_str(dummy, "x", 1, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                       crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        return AUTH_BAD;
    bool ok =
        crypto_pwhash_str_verify(acc ? acc->hash : dummy, password, strlen(password)) == 0 && acc;
    if (!ok) {
        if (pf->fails++ == 0) pf->window_start = now;
        return AUTH_BAD;
    }
    session *slot = &a->sessions[0];
    for (int i = 0; i < SESSIONS_MAX; i++) {
        session *s = &a->sessions[i];
        if (!s->token[0] || now - s->last_used > SESSION_IDLE_S) {
            slot = s;
            break;
        }
        if (s->last_used < slot->last_used) slot = s; /* full: the least recently used goes */
    }
    random_hex(slot->token);
    random_hex(slot->csrf);
    snprintf(slot->user, sizeof slot->user, "%s", acc->name);
    slot->last_used = now;
    memcpy(token, slot->token, STATION_TOKEN_HEX + 1);
    memcpy(csrf, slot->csrf, STATION_TOKEN_HEX + 1);
    return AUTH_OK;
}

/* The nd_session value in a Cookie header, copied into out. */
static bool cookie_token(const char *cookie, char *out)
{
    const char *p = cookie;
    while (p && *p) {
        while (*p == ' ' || *p == ';') p++;
        if (!strncmp(p, "nd_session=", 11)) {
            p += 11;
            size_t n = strcspn(p, "; ");
            if (n != STATION_TOKEN_HEX) return false;
            memcpy(out, p, n);
            out[n] = 0;
            return true;
        }
        p = strchr(p, ';');
    }
    return false;
}

static session *find_session(station_auth *a, const char *cookie)
{
    char tok[STATION_TOKEN_HEX + 1];
    if (!cookie || !cookie_token(cookie, tok)) return NULL;
    double now = mono_s();
    for (int i = 0; i < SESSIONS_MAX; i++) {
        session *s = &a->sessions[i];
        if (s->token[0] && sodium_memcmp(s->token, tok, STATION_TOKEN_HEX) == 0) {
            if (now - s->last_used > SESSION_IDLE_S) {
                memset(s, 0, sizeof *s);
                return NULL;
            }
            s->last_used = now;
            return s;
        }
    }
    return NULL;
}

bool station_auth_session(station_auth *a, const char *cookie_header, char *csrf, char *user)
{
    session *s = find_session(a, cookie_header);
    if (!s) return false;
    if (csrf) memcpy(csrf, s->csrf, STATION_TOKEN_HEX + 1);
    if (user) snprintf(user, STATION_USER_MAX + 1, "%s", s->user);
    return true;
}

bool station_auth_csrf_ok(station_auth *a, const char *cookie_header, const char *csrf)
{
    session *s = find_session(a, cookie_header);
    return s && csrf && strlen(csrf) == STATION_TOKEN_HEX &&
           sodium_memcmp(s->csrf, csrf, STATION_TOKEN_HEX) == 0;
}

void station_auth_logout(station_auth *a, const char *cookie_header)
{
    session *s = find_session(a, cookie_header);
    if (s) sodium_memzero(s, sizeof *s);
}

static int replace_line(const char *users_file, const char *name, const char *hash, char *err,
                        size_t errlen);

int station_add_user(const char *users_file, const char *name, const char *password, char *err,
                     size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (!valid_user_name(name)) {
        snprintf(err, errlen, "user name \"%s\": 1-%d characters of A-Z a-z 0-9 . _ -", name,
                 STATION_USER_MAX);
        return -1;
    }
    if (strlen(password) < 10) {
        snprintf(err, errlen, "password too short: at least 10 characters");
        return -1;
    }
    char hash[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str(hash, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        snprintf(err, errlen, "out of memory hashing the password");
        return -1;
    }
    return replace_line(users_file, name, hash, err, errlen);
}

/* Rewrites file without NAME's old line plus "NAME:value", through a
 * temporary 0600 file renamed over it. */
static int replace_line(const char *users_file, const char *name, const char *hash, char *err,
                        size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", users_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    FILE *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!out) {
        snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    FILE *in = fopen(users_file, "r");
    char line[512];
    size_t nl = strlen(name);
    while (in && fgets(line, sizeof line, in))
        if (!(strncmp(line, name, nl) == 0 && line[nl] == ':')) fputs(line, out);
    if (in) fclose(in);
    fprintf(out, "%s:%s\n", name, hash);
    bool ok = fflush(out) == 0 && fsync(fileno(out)) == 0;
    ok = (fclose(out) == 0) && ok;
    if (!ok || rename(tmp, users_file) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", users_file, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

int station_add_token(const char *tokens_file, const char *name, char *out, char *err,
                      size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -1;
    }
    if (!valid_user_name(name)) {
        snprintf(err, errlen, "token name \"%s\": 1-%d characters of A-Z a-z 0-9 . _ -", name,
                 STATION_USER_MAX);
        return -1;
    }
    unsigned char secret[STATION_TOKEN_HEX / 2], h[crypto_generichash_BYTES];
    randombytes_buf(secret, sizeof secret);
    memcpy(out, "nd_", 3);
    sodium_bin2hex(out + 3, STATION_TOKEN_HEX + 1, secret, sizeof secret);
    /* A 256-bit random token needs no slow hash: a fast one is not reversible. */
    crypto_generichash(h, sizeof h, (const unsigned char *)out, STATION_API_TOKEN_LEN, NULL, 0);
    char hex[2 * sizeof h + 1];
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    sodium_memzero(secret, sizeof secret);
    return replace_line(tokens_file, name, hex, err, errlen);
}
