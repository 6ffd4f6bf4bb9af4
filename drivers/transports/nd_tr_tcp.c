/* TCP client transport: tcp:HOST:PORT?connect_timeout_ms=N&wait=0
 * HOST is a name, an IPv4 address or an IPv6 address (preferably in brackets:
 * tcp:[::1]:7000). Every address getaddrinfo() returns is tried in turn with
 * a non-blocking connect bounded by connect_timeout_ms. The peer closing the
 * connection, a socket error or failed keepalive probes is ND_TR_LOST;
 * reopen() resolves and connects again. wait=1 (as serial's): a peer that is
 * not there at open is not an error; the first read reports it lost and the
 * reconnect policy brings it in when it appears. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <pthread.h>
#include <unistd.h>

#include "nd_log.h"
#include "nd_transport.h"

typedef struct tcp_priv {
    /* write() may run on a control thread: fd_lock keeps a command from
     * sending on a descriptor the reader has closed (and the kernel may
     * already have handed to another socket). Reads need no lock: only the
     * acquisition thread closes or replaces fd. */
    _Atomic int fd;
    pthread_mutex_t fd_lock;
    char host[256];
    char port[8];
    int connect_timeout_ms;
    bool got_bytes; /* on the current connection: a close before any is logged quietly */
} tcp_priv;

/* Split "host:port" / "[v6]:port" into parts; -1 with a message if malformed. */
static int split_host_port(const char *path, tcp_priv *p, char *err, size_t errlen)
{
    const char *host = path, *host_end, *port;
    if (path[0] == '[') {
        host = path + 1;
        host_end = strchr(host, ']');
        if (!host_end || host_end[1] != ':') {
            snprintf(err, errlen, "tcp: '%s' is not [IPV6]:PORT", path);
            return -1;
        }
        port = host_end + 2;
    } else {
        host_end = strrchr(path, ':');
        if (!host_end) {
            snprintf(err, errlen, "tcp: '%s' has no port (expected tcp:HOST:PORT)", path);
            return -1;
        }
        port = host_end + 1;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof p->host) {
        snprintf(err, errlen, "tcp: host in '%s' is empty or too long (expected tcp:HOST:PORT)",
                 path);
        return -1;
    }
    char *end = NULL;
    long port_no = strtol(port, &end, 10);
    if (!*port || *end || port_no < 1 || port_no > 65535) {
        snprintf(err, errlen, "tcp: port '%s' is not a number 1..65535", port);
        return -1;
    }
    memcpy(p->host, host, hlen);
    p->host[hlen] = '\0';
    snprintf(p->port, sizeof p->port, "%ld", port_no);
    return 0;
}

/* One non-blocking connect attempt with a timeout. Returns the fd or -1 and
 * sets *why. */
static int connect_one(const struct addrinfo *ai, int timeout_ms, int *why)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        *why = errno;
        return -1;
    }
    /* A peer that vanishes without closing (bridge unplugged, Wi-Fi gone)
     * sends nothing; keepalive probes turn that into a read error (about
     * 11 s: 5 s idle, then 3 probes 2 s apart), i.e. "device lost". */
    int on = 1, idle = 5, intvl = 2, cnt = 3;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt);
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return fd;
    if (errno != EINPROGRESS) {
        *why = errno;
        close(fd);
        return -1;
    }
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int rc;
    do rc = poll(&pfd, 1, timeout_ms);
    while (rc < 0 && errno == EINTR);
    if (rc == 0) {
        *why = ETIMEDOUT;
        close(fd);
        return -1;
    }
    int soerr = 0;
    socklen_t len = sizeof soerr;
    if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0 || soerr != 0) {
        *why = rc < 0 ? errno : soerr ? soerr : EIO;
        close(fd);
        return -1;
    }
    return fd;
}

static void set_fd(tcp_priv *p, int fd)
{
    pthread_mutex_lock(&p->fd_lock);
    if (p->fd >= 0) close(p->fd);
    p->fd = fd;
    pthread_mutex_unlock(&p->fd_lock);
}

static int tcp_connect(tcp_priv *p, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    int gai = getaddrinfo(p->host, p->port, &hints, &res);
    if (gai != 0) {
        snprintf(err, errlen, "tcp: cannot resolve '%s': %s", p->host, gai_strerror(gai));
        return -1;
    }
    int why = 0, fd = -1;
    for (const struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai, p->connect_timeout_ms, &why);
    freeaddrinfo(res);
    set_fd(p, fd);
    p->got_bytes = false;
    if (fd < 0) {
        snprintf(err, errlen, "tcp: cannot connect to %s port %s: %s", p->host, p->port,
                 strerror(why));
        return -1;
    }
    return 0;
}

static int tcp_open(nd_transport *t, const nd_uri *uri, char *err, size_t errlen)
{
    tcp_priv *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->fd = -1;
    pthread_mutex_init(&p->fd_lock, NULL);
    long timeout;
    int wait = 0;
    if (split_host_port(uri->path, p, err, errlen) < 0 ||
        nd_uri_get_long(uri, "connect_timeout_ms", 1000, 1, 60000, &timeout, err, errlen) < 0 ||
        nd_uri_get_bool(uri, "wait", 0, &wait, err, errlen) < 0) {
        pthread_mutex_destroy(&p->fd_lock);
        free(p);
        return -1;
    }
    p->connect_timeout_ms = (int)timeout;
    if (tcp_connect(p, err, errlen) < 0) {
        if (!wait) {
            pthread_mutex_destroy(&p->fd_lock);
            free(p);
            return -1;
        }
        /* fd stays -1: the first read reports the peer lost. */
        nd_warn("%s; waiting for it (wait=1)", err);
        err[0] = '\0';
    }
    t->priv = p;
    return 0;
}

static ssize_t tcp_read(nd_transport *t, uint8_t *buf, size_t len, int timeout_ms)
{
    tcp_priv *p = t->priv;
    if (p->fd < 0) return ND_TR_LOST;
    struct pollfd pfd = {.fd = p->fd, .events = POLLIN};
    int rc = poll(&pfd, 1, timeout_ms);
    if (rc < 0) return errno == EINTR ? 0 : ND_TR_ERR;
    if (rc == 0) return 0;
    /* On POLLHUP/POLLERR, recv still returns buffered data first, then 0 or
     * the error, so nothing the peer sent before leaving is lost. */
    ssize_t n = recv(p->fd, buf, len, 0);
    if (n > 0) {
        p->got_bytes = true;
        return n;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return 0;
    /* A peer that accepts and closes at once (a bridge with no board behind
     * it) would log a line per attempt: the lost event says it once. */
    if (n == 0 && !p->got_bytes)
        nd_debug("tcp: %s port %s closed the connection before sending anything", p->host, p->port);
    else if (n == 0)
        nd_info("tcp: %s port %s closed the connection", p->host, p->port);
    else
        nd_warn("tcp: connection to %s port %s failed: %s", p->host, p->port, strerror(errno));
    set_fd(p, -1);
    return ND_TR_LOST;
}

static int tcp_write(nd_transport *t, const uint8_t *buf, size_t len)
{
    tcp_priv *p = t->priv;
    size_t done = 0;
    int rc = 0;
    pthread_mutex_lock(&p->fd_lock);
    int fd = p->fd;
    while (done < len && rc == 0) {
        if (fd < 0) {
            rc = -1;
            break;
        }
        ssize_t n = send(fd, buf + done, len - done, MSG_NOSIGNAL);
        if (n > 0) {
            done += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, 1000) <= 0) rc = -1;
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&p->fd_lock);
    return rc;
}

static int tcp_reopen(nd_transport *t)
{
    tcp_priv *p = t->priv;
    set_fd(p, -1);
    char err[256];
    if (tcp_connect(p, err, sizeof err) < 0) {
        nd_debug("%s", err);
        return -1;
    }
    return 0;
}

static void tcp_close(nd_transport *t)
{
    tcp_priv *p = t->priv;
    if (!p) return;
    set_fd(p, -1);
    pthread_mutex_destroy(&p->fd_lock);
    free(p);
    t->priv = NULL;
}

static const char *const tcp_keys[] = {"connect_timeout_ms", "wait", NULL};

const nd_transport_ops nd_transport_tcp = {
    .keys = tcp_keys,
    .default_proto = "nfp",
    .open = tcp_open,
    .read = tcp_read,
    .write = tcp_write,
    .reopen = tcp_reopen,
    .close = tcp_close,
};
