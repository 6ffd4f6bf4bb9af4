/* Operator accounts (Argon2id hashes from libsodium's crypto_pwhash_str),
 * login sessions with a CSRF token each, and login rate limiting. Used only
 * from the web server's thread. */
#ifndef STATION_AUTH_H
#define STATION_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define STATION_TOKEN_HEX      64 /* 32 random bytes */
#define STATION_USER_MAX       64
#define STATION_LOGIN_FAILS    5   /* failures per address ... */
#define STATION_LOGIN_WINDOW_S 300 /* ... within this window, then blocked for it */

typedef struct station_auth station_auth;

/* users_file may be "" (no accounts). required: login needed for every page
 * and action; then at least one account must exist. */
station_auth *station_auth_new(const char *users_file, bool required, char *err, size_t errlen);
void station_auth_free(station_auth *a);
bool station_auth_required(const station_auth *a);

typedef enum { AUTH_OK, AUTH_BAD, AUTH_LIMITED } station_login_result;
/* On AUTH_OK fills the new session's token and CSRF token (NUL-terminated);
 * on AUTH_LIMITED *retry_after_s says when the address may try again. */
station_login_result station_auth_login(station_auth *a, const char *peer, const char *user,
                                        const char *password, char *token, char *csrf,
                                        int *retry_after_s);
/* Finds the session named by a Cookie header ("nd_session=..."). Returns true
 * and copies its CSRF token and user when it is valid. */
bool station_auth_session(station_auth *a, const char *cookie_header, char *csrf, char *user);
/* Whether csrf equals the session's token (constant time). */
bool station_auth_csrf_ok(station_auth *a, const char *cookie_header, const char *csrf);
void station_auth_logout(station_auth *a, const char *cookie_header);

/* API tokens for programs (Authorization: Bearer): a file of
 * "name:<hex BLAKE2b-256 of the token>" lines, not readable by others. */
int station_auth_load_tokens(station_auth *a, const char *tokens_file, char *err, size_t errlen);
/* Whether an Authorization header value ("Bearer nd_...") names a token. */
bool station_auth_bearer_ok(const station_auth *a, const char *authorization);
/* Makes a new random token for NAME, stores its hash in the file (0600) and
 * copies the token (NUL-terminated, STATION_API_TOKEN_LEN) to out. */
#define STATION_API_TOKEN_LEN (3 + STATION_TOKEN_HEX)
int station_add_token(const char *tokens_file, const char *name, char *out, char *err,
                      size_t errlen);

/* Adds or replaces NAME in the users file (created 0600). Passwords shorter
 * than 10 bytes are refused. */
int station_add_user(const char *users_file, const char *name, const char *password, char *err,
                     size_t errlen);

#endif
