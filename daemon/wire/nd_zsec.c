/* Endpoint policy, CURVE key files and the ZAP allow-list handler. */
#include "nd_zsec.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "nd_log.h"

#define ZAP_ENDPOINT   "inproc://zeromq.zap.01"
#define ZAP_DOMAIN     "nordicd"
#define KEY_FILE_LIMIT 4096

/* ---------------------------------------------------------------- policy */

static bool host_is_loopback(const char *host)
{
    if (!strcmp(host, "localhost") || !strcmp(host, "lo")) return true;
    unsigned char a4[4], a6[16];
    if (inet_pton(AF_INET, host, a4) == 1) return a4[0] == 127;
    if (inet_pton(AF_INET6, host, a6) == 1) {
        static const unsigned char v6_loop[16] = {[15] = 1};
        static const unsigned char v4_mapped[12] = {[10] = 0xff, [11] = 0xff};
        if (!memcmp(a6, v6_loop, 16)) return true;
        return !memcmp(a6, v4_mapped, 12) && a6[12] == 127;
    }
    return false;
}

nd_endpoint_class nd_endpoint_classify(const char *ep)
{
    if (!ep) return ND_EP_INVALID;
    if (!strncmp(ep, "ipc://", 6)) return ep[6] ? ND_EP_LOCAL : ND_EP_INVALID;
    if (!strncmp(ep, "inproc://", 9)) return ep[9] ? ND_EP_LOCAL : ND_EP_INVALID;
    if (strncmp(ep, "tcp://", 6)) return ND_EP_INVALID;
    const char *hp = ep + 6;
    if (strchr(hp, ';')) return ND_EP_REMOTE; /* "source;destination" form: not a plain bind */
    const char *colon = strrchr(hp, ':');
    if (!colon || colon == hp || !colon[1]) return ND_EP_INVALID;
    const char *port = colon + 1;
    if (strcmp(port, "*")) {
        for (const char *p = port; *p; p++)
            if (*p < '0' || *p > '9') return ND_EP_INVALID;
        if (strlen(port) > 5 || atoi(port) > 65535) return ND_EP_INVALID;
    }
    char host[256];
    size_t hl = (size_t)(colon - hp);
    if (hl >= sizeof host) return ND_EP_INVALID;
    memcpy(host, hp, hl);
    host[hl] = '\0';
    if (host[0] == '[') {
        if (hl < 3 || host[hl - 1] != ']') return ND_EP_INVALID;
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    return host_is_loopback(host) ? ND_EP_LOOPBACK : ND_EP_REMOTE;
}

int nd_zsec_check_bind(const char *endpoint, const nd_curve_server *curve, char *err, size_t errlen)
{
    switch (nd_endpoint_classify(endpoint)) {
    case ND_EP_INVALID:
        snprintf(err, errlen,
                 "unsupported endpoint \"%.200s\" (use ipc://PATH, tcp://127.0.0.1:PORT, or "
                 "tcp://ADDRESS:PORT with CURVE keys)",
                 endpoint ? endpoint : "");
        return -1;
    case ND_EP_LOCAL:
    case ND_EP_LOOPBACK:
        return 0;
    case ND_EP_REMOTE:
        break;
    }
    if (!curve || !curve->secret_z85[0]) {
        snprintf(err, errlen,
                 "refusing to bind %.200s: it is not a loopback address, which needs CURVE; set "
                 "curve_secret_key and curve_allowed_clients in [security] (keys from "
                 "`nordctl keygen PREFIX`, see daemon/wire/ZMQ_PROTOCOL.md)",
                 endpoint);
        return -1;
    }
    if (curve->n_allowed == 0) {
        snprintf(err, errlen, "refusing to bind %.200s: CURVE allow-list of client keys is empty",
                 endpoint);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------- key files */

static bool z85_key_valid(const char *z85)
{
    uint8_t bin[32];
    return strlen(z85) == ND_Z85_KEY_LEN && zmq_z85_decode(bin, z85) != NULL;
}

/* Reads a small text file into a NUL-terminated buffer. */
static int slurp(const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open key file %s: %s", path, strerror(errno));
        return -1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, cap - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            snprintf(err, errlen, "cannot read key file %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == cap - 1) {
            snprintf(err, errlen, "key file %s is too large (keys are 40 characters)", path);
            close(fd);
            return -1;
        }
    }
    close(fd);
    buf[n] = '\0';
    if (memchr(buf, '\0', n)) {
        snprintf(err, errlen, "key file %s is binary, expected Z85 text", path);
        return -1;
    }
    return 0;
}

/* Calls fn for each key line ("# comment" and blank lines skipped). */
typedef int (*key_fn)(void *arg, const char *key, const char *path, int line, char *err,
                      size_t errlen);

static int for_each_key(const char *path, key_fn fn, void *arg, char *err, size_t errlen)
{
    char *buf = malloc(KEY_FILE_LIMIT * 16);
    if (!buf) return snprintf(err, errlen, "out of memory"), -1;
    if (slurp(path, buf, KEY_FILE_LIMIT * 16, err, errlen)) return free(buf), -1;
    int line = 0, rc = 0;
    /* Split by hand: strtok would skip blank lines and miscount them. */
    for (char *l = buf, *nl; l && *l; l = nl) {
        nl = strchr(l, '\n');
        if (nl) *nl++ = '\0';
        line++;
        while (*l == ' ' || *l == '\t') l++;
        size_t n = strlen(l);
        while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r')) l[--n] = '\0';
        if (!n || l[0] == '#') continue;
        if (!z85_key_valid(l)) {
            snprintf(err, errlen, "%s:%d: not a Z85 CURVE key (expected 40 characters)", path,
                     line);
            rc = -1;
            break;
        }
        if ((rc = fn(arg, l, path, line, err, errlen)) != 0) break;
    }
    free(buf);
    return rc;
}

static int take_first(void *arg, const char *key, const char *path, int line, char *err,
                      size_t errlen)
{
    (void)path, (void)line, (void)err, (void)errlen;
    memcpy(arg, key, ND_Z85_KEY_LEN + 1);
    return 1; /* stop */
}

int nd_zsec_read_key_file(const char *path, char out[ND_Z85_KEY_LEN + 1], char *err, size_t errlen)
{
    out[0] = '\0';
    int rc = for_each_key(path, take_first, out, err, errlen);
    if (rc < 0) return -1;
    if (!out[0]) {
        snprintf(err, errlen, "key file %s holds no key", path);
        return -1;
    }
    return 0;
}

static int add_allowed(void *arg, const char *key, const char *path, int line, char *err,
                       size_t errlen)
{
    (void)path, (void)line;
    nd_curve_server *s = arg;
    for (size_t i = 0; i < s->n_allowed; i++)
        if (!strcmp(s->allowed[i], key)) return 0; /* duplicates are harmless */
    void *grown = realloc(s->allowed, (s->n_allowed + 1) * sizeof *s->allowed);
    if (!grown) return snprintf(err, errlen, "out of memory"), -1;
    s->allowed = grown;
    memcpy(s->allowed[s->n_allowed++], key, ND_Z85_KEY_LEN + 1);
    return 0;
}

static int load_allowed_dir(nd_curve_server *s, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) return snprintf(err, errlen, "cannot open %s: %s", dir, strerror(errno)), -1;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".pub") || e->d_name[0] == '.') continue;
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char key[ND_Z85_KEY_LEN + 1];
        rc = nd_zsec_read_key_file(path, key, err, errlen);
        if (rc == 0) rc = add_allowed(s, key, path, 1, err, errlen);
    }
    closedir(d);
    return rc;
}

int nd_curve_server_load(nd_curve_server *s, const char *secret_key_file,
                         const char *allowed_clients, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (!secret_key_file || !secret_key_file[0]) {
        snprintf(err, errlen, "no CURVE server secret key file given (curve_secret_key)");
        return -1;
    }
    struct stat st;
    if (stat(secret_key_file, &st) != 0) {
        snprintf(err, errlen, "cannot open key file %s: %s", secret_key_file, strerror(errno));
        return -1;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "secret key file %s is accessible by group or others (chmod 600 it)",
                 secret_key_file);
        return -1;
    }
    if (nd_zsec_read_key_file(secret_key_file, s->secret_z85, err, errlen)) return -1;
    if (zmq_curve_public(s->public_z85, s->secret_z85) != 0) {
        snprintf(err, errlen, "%s: cannot derive the public key: %s", secret_key_file,
                 zmq_strerror(zmq_errno()));
        goto fail;
    }
    if (!allowed_clients || !allowed_clients[0]) {
        snprintf(err, errlen, "no allowed client keys given (curve_allowed_clients)");
        goto fail;
    }
    if (stat(allowed_clients, &st) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", allowed_clients, strerror(errno));
        goto fail;
    }
    if (S_ISDIR(st.st_mode) ? load_allowed_dir(s, allowed_clients, err, errlen)
                            : for_each_key(allowed_clients, add_allowed, s, err, errlen))
        goto fail;
    if (s->n_allowed == 0) {
        snprintf(err, errlen, "%s lists no client public keys", allowed_clients);
        goto fail;
    }
    return 0;
fail:
    nd_curve_server_free(s);
    return -1;
}

void nd_curve_server_free(nd_curve_server *s)
{
    if (!s) return;
    free(s->allowed);
    /* Do not leave the secret lying around in freed memory. */
    explicit_bzero(s, sizeof *s);
}

bool nd_curve_server_allows(const nd_curve_server *s, const unsigned char public_key[32])
{
    char z85[ND_Z85_KEY_LEN + 1];
    if (!zmq_z85_encode(z85, public_key, 32)) return false;
    for (size_t i = 0; i < s->n_allowed; i++)
        if (!strcmp(s->allowed[i], z85)) return true;
    return false;
}

int nd_zsec_apply_server(void *socket, const nd_curve_server *curve, char *err, size_t errlen)
{
    if (!curve) return 0;
    int one = 1;
    if (zmq_setsockopt(socket, ZMQ_ZAP_DOMAIN, ZAP_DOMAIN, strlen(ZAP_DOMAIN)) ||
        zmq_setsockopt(socket, ZMQ_CURVE_SERVER, &one, sizeof one) ||
        zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, curve->secret_z85, ND_Z85_KEY_LEN)) {
        snprintf(err, errlen, "cannot enable CURVE: %s (libzmq built without CURVE?)",
                 zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

int nd_zsec_apply_client(void *socket, const char *server_public_file,
                         const char *client_secret_file, char *err, size_t errlen)
{
    char server_pub[ND_Z85_KEY_LEN + 1], secret[ND_Z85_KEY_LEN + 1], pub[ND_Z85_KEY_LEN + 1];
    if (nd_zsec_read_key_file(server_public_file, server_pub, err, errlen)) return -1;
    if (nd_zsec_read_key_file(client_secret_file, secret, err, errlen)) return -1;
    if (zmq_curve_public(pub, secret) != 0) {
        snprintf(err, errlen, "%s: cannot derive the public key", client_secret_file);
        return -1;
    }
    int rc = zmq_setsockopt(socket, ZMQ_CURVE_SERVERKEY, server_pub, ND_Z85_KEY_LEN) ||
             zmq_setsockopt(socket, ZMQ_CURVE_PUBLICKEY, pub, ND_Z85_KEY_LEN) ||
             zmq_setsockopt(socket, ZMQ_CURVE_SECRETKEY, secret, ND_Z85_KEY_LEN);
    explicit_bzero(secret, sizeof secret);
    if (rc) {
        snprintf(err, errlen, "cannot enable CURVE: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    return 0;
}

static int write_new_file(const char *path, mode_t mode, const char *text, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create %s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (refusing to overwrite a key)" : "");
        return -1;
    }
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    if (fchmod(fd, mode) != 0 || w != (ssize_t)n || fsync(fd) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

int nd_zsec_keygen(const char *prefix, char *err, size_t errlen)
{
    char pub[ND_Z85_KEY_LEN + 1], sec[ND_Z85_KEY_LEN + 1];
    if (zmq_curve_keypair(pub, sec) != 0) {
        snprintf(err, errlen, "cannot generate a CURVE key pair: %s", zmq_strerror(zmq_errno()));
        return -1;
    }
    char path_key[PATH_MAX], path_pub[PATH_MAX], text[256];
    if (snprintf(path_key, sizeof path_key, "%s.key", prefix) >= (int)sizeof path_key ||
        snprintf(path_pub, sizeof path_pub, "%s.pub", prefix) >= (int)sizeof path_pub) {
        snprintf(err, errlen, "key file prefix too long");
        return -1;
    }
    snprintf(text, sizeof text, "# nordicd CURVE secret key (Z85). Keep private.\n%s\n", sec);
    if (write_new_file(path_key, 0600, text, err, errlen)) return -1;
    snprintf(text, sizeof text, "# nordicd CURVE public key (Z85)\n%s\n", pub);
    if (write_new_file(path_pub, 0644, text, err, errlen)) {
        unlink(path_key);
        return -1;
    }
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(text, sizeof text);
    return 0;
}

/* ------------------------------------------------------------ ZAP handler */

struct nd_zap {
    void *sock;
    pthread_t thread;
    atomic_bool stop;
    const nd_curve_server *curve;
    _Atomic unsigned long long accepted, refused;
};

/* RFC 27/ZAP: request = version, request id, domain, address, identity,
 * mechanism, credentials...; reply = version, request id, status code,
 * status text, user id, metadata. */
static void zap_serve_one(nd_zap *z)
{
    enum { MAXF = 8 };
    zmq_msg_t f[MAXF];
    int nf = 0, more = 1;
    while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, z->sock, 0) < 0) {
            zmq_msg_close(&m);
            break;
        }
        more = zmq_msg_more(&m);
        if (nf < MAXF)
            f[nf++] = m;
        else
            zmq_msg_close(&m);
    }
    const char *code = "400", *text = "client key not allowed";
    if (nf >= 6 && zmq_msg_size(&f[5]) == 5 && !memcmp(zmq_msg_data(&f[5]), "CURVE", 5)) {
        if (nf >= 7 && zmq_msg_size(&f[6]) == 32 &&
            nd_curve_server_allows(z->curve, zmq_msg_data(&f[6])))
            code = "200", text = "OK";
    } else if (nf >= 6 && zmq_msg_size(&f[5]) == 4 && !memcmp(zmq_msg_data(&f[5]), "NULL", 4)) {
        /* Only sockets we left unauthenticated (local endpoints) get here. */
        code = "200", text = "OK";
    } else {
        text = "only CURVE is accepted";
    }
    if (code[0] == '2')
        atomic_fetch_add(&z->accepted, 1);
    else
        atomic_fetch_add(&z->refused, 1);
    if (nf >= 2) {
        zmq_send(z->sock, "1.0", 3, ZMQ_SNDMORE);
        zmq_send(z->sock, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]), ZMQ_SNDMORE);
        zmq_send(z->sock, code, 3, ZMQ_SNDMORE);
        zmq_send(z->sock, text, strlen(text), ZMQ_SNDMORE);
        zmq_send(z->sock, "", 0, ZMQ_SNDMORE);
        zmq_send(z->sock, "", 0, 0);
    } else {
        zmq_send(z->sock, "", 0, 0); /* malformed: still keep REP in step */
    }
    for (int i = 0; i < nf; i++) zmq_msg_close(&f[i]);
}

static void *zap_thread(void *arg)
{
    nd_zap *z = arg;
    while (!atomic_load(&z->stop)) {
        zmq_pollitem_t item = {z->sock, 0, ZMQ_POLLIN, 0};
        int n = zmq_poll(&item, 1, 100);
        if (n < 0 && zmq_errno() == EINTR) continue;
        if (n < 0) break;
        if (n > 0) zap_serve_one(z);
    }
    return NULL;
}

nd_zap *nd_zap_start(void *zctx, const nd_curve_server *curve, char *err, size_t errlen)
{
    if (!curve || curve->n_allowed == 0) {
        snprintf(err, errlen, "ZAP: no allowed client keys");
        return NULL;
    }
    nd_zap *z = calloc(1, sizeof *z);
    if (!z) return snprintf(err, errlen, "out of memory"), NULL;
    z->curve = curve;
    atomic_init(&z->stop, false);
    z->sock = zmq_socket(zctx, ZMQ_REP);
    int linger = 0;
    if (!z->sock) {
        snprintf(err, errlen, "ZAP: cannot create socket: %s", zmq_strerror(zmq_errno()));
        free(z);
        return NULL;
    }
    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(z->sock, ZAP_ENDPOINT) != 0) {
        snprintf(err, errlen, "ZAP: cannot bind %s: %s (is another handler running?)", ZAP_ENDPOINT,
                 zmq_strerror(zmq_errno()));
        zmq_close(z->sock);
        free(z);
        return NULL;
    }
    if (pthread_create(&z->thread, NULL, zap_thread, z) != 0) {
        snprintf(err, errlen, "ZAP: cannot start thread");
        zmq_close(z->sock);
        free(z);
        return NULL;
    }
    nd_info("CURVE: %zu client key(s) allowed", curve->n_allowed);
    return z;
}

void nd_zap_stop(nd_zap *z)
{
    if (!z) return;
    atomic_store(&z->stop, true);
    pthread_join(z->thread, NULL);
    zmq_close(z->sock);
    free(z);
}

void nd_zap_counts(const nd_zap *z, unsigned long long *accepted, unsigned long long *refused)
{
    nd_zap *m = (nd_zap *)z;
    if (accepted) *accepted = atomic_load(&m->accepted);
    if (refused) *refused = atomic_load(&m->refused);
}
