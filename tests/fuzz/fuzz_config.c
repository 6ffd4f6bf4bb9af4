/* libFuzzer target: the daemon's configuration file parser
 * (daemon/nd_config.c, inih underneath) and its validation. The input is the
 * file's content, handed over through a memfd so the real file path is used. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nd_config.h"
#include "nd_log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    nd_log_set_level(ND_LOG_ERR);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) fd = memfd_create("fuzz_config", 0);
    if (fd < 0) abort();
    if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    nd_config c;
    nd_config_defaults(&c);
    char err[512];
    err[0] = 0;
    if (nd_config_load(&c, path, err, sizeof err) < 0) {
        if (err[0] == 0 || memchr(err, 0, sizeof err) == NULL) abort(); /* errors say where */
        return 0;
    }
    if (nd_config_validate(&c, err, sizeof err) < 0 && err[0] == 0) abort();
    return 0;
}
