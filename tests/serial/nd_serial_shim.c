/* LD_PRELOAD shim for serial tests under umockdev: libserialport needs the
 * modem-status ioctls (TIOCMGET and friends), which ptys do not have, and
 * umockdev's preload answers ENOTTY for some tty ioctls (TCGETS2, FIONREAD)
 * on emulated nodes. An ENOTTY is retried as a raw syscall on the pty, and
 * the modem ioctls are emulated with one set of lines per process.
 * Load it before libumockdev-preload.so.0 in LD_PRELOAD. */
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

static int nd_shim_modem_lines = TIOCM_DTR | TIOCM_RTS | TIOCM_CTS | TIOCM_DSR | TIOCM_CD;

int ioctl(int fd, unsigned long request, ...)
{
    static int (*next_ioctl)(int, unsigned long, ...);
    if (!next_ioctl) next_ioctl = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
    va_list ap;
    va_start(ap, request);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    int r = next_ioctl(fd, request, arg);
    if (r != -1 || errno != ENOTTY) return r;
    r = (int)syscall(SYS_ioctl, fd, request, arg);
    if (r != -1 || errno != ENOTTY) return r;
    int *lines = arg;
    switch (request) {
    case TIOCMGET:
        *lines = nd_shim_modem_lines;
        return 0;
    case TIOCMSET:
        nd_shim_modem_lines = *lines;
        return 0;
    case TIOCMBIS:
        nd_shim_modem_lines |= *lines;
        return 0;
    case TIOCMBIC:
        nd_shim_modem_lines &= ~*lines;
        return 0;
    default:
        errno = ENOTTY;
        return -1;
    }
}
