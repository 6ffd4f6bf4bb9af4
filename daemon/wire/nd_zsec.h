/* ZeroMQ endpoint security policy (daemon/wire/ZMQ_PROTOCOL.md).
 *
 * Local endpoints (ipc://, inproc://, tcp on a loopback address) may be bound
 * without authentication. Any other tcp bind (a LAN address, "*", 0.0.0.0, a
 * host name) needs CURVE: the server's secret key and a non-empty list of
 * allowed client public keys; otherwise the bind is refused with a clear
 * error. Allowed keys are enforced by a ZAP handler thread (libzmq has no
 * built-in allow-list without CZMQ) bound on inproc://zeromq.zap.01 in the
 * daemon's context.
 *
 * Key files hold one Z85 key (40 characters) on a line; lines starting with
 * '#' and blank lines are ignored. `nordctl keygen PREFIX` writes PREFIX.key
 * (secret, mode 0600) and PREFIX.pub. */
#ifndef ND_ZSEC_H
#define ND_ZSEC_H

#include <stdbool.h>
#include <stddef.h>

#define ND_Z85_KEY_LEN 40

typedef enum nd_endpoint_class {
    ND_EP_INVALID = -1, /* not a transport we support, or malformed */
    ND_EP_LOCAL = 0,    /* ipc:// or inproc:// */
    ND_EP_LOOPBACK,     /* tcp://127.x.x.x:port, tcp://[::1]:port, tcp://localhost:port */
    ND_EP_REMOTE,       /* any other tcp address, including * and 0.0.0.0 */
} nd_endpoint_class;

nd_endpoint_class nd_endpoint_classify(const char *endpoint);

typedef struct nd_curve_server {
    char secret_z85[ND_Z85_KEY_LEN + 1];
    char public_z85[ND_Z85_KEY_LEN + 1]; /* derived from the secret key */
    char (*allowed)[ND_Z85_KEY_LEN + 1]; /* allowed client public keys */
    size_t n_allowed;
} nd_curve_server;

/* Loads the server secret key file and the allowed client keys (a file of
 * keys, one per line, or a directory whose *.pub files each hold one key).
 * Refuses a secret key file readable by group or others, and an empty
 * allow-list. Returns 0, or -1 with a message naming the file and line. */
int nd_curve_server_load(nd_curve_server *s, const char *secret_key_file,
                         const char *allowed_clients, char *err, size_t errlen);
void nd_curve_server_free(nd_curve_server *s);
bool nd_curve_server_allows(const nd_curve_server *s, const unsigned char public_key[32]);

/* The bind policy: 0 if `endpoint` may be bound with this security (curve may
 * be NULL), else -1 with a clear message saying what to configure. */
int nd_zsec_check_bind(const char *endpoint, const nd_curve_server *curve, char *err,
                       size_t errlen);

/* Makes `socket` a CURVE server with this key (call before bind). With
 * curve == NULL does nothing. */
int nd_zsec_apply_server(void *socket, const nd_curve_server *curve, char *err, size_t errlen);

/* Client side (tools): loads the server's public key and this client's secret
 * key from files and configures `socket` (call before connect). */
int nd_zsec_apply_client(void *socket, const char *server_public_file,
                         const char *client_secret_file, char *err, size_t errlen);

/* Reads one Z85 key from a file (first non-comment line). */
int nd_zsec_read_key_file(const char *path, char out[ND_Z85_KEY_LEN + 1], char *err, size_t errlen);

/* Writes PREFIX.key (secret, 0600, refuses to overwrite) and PREFIX.pub. */
int nd_zsec_keygen(const char *prefix, char *err, size_t errlen);

/* ZAP handler thread for the allow-list. Start it in the same context as the
 * CURVE sockets, before they bind. Only one per context. */
typedef struct nd_zap nd_zap;
nd_zap *nd_zap_start(void *zctx, const nd_curve_server *curve, char *err, size_t errlen);
void nd_zap_stop(nd_zap *z);
/* Handshakes accepted and refused so far. */
void nd_zap_counts(const nd_zap *z, unsigned long long *accepted, unsigned long long *refused);

#endif
