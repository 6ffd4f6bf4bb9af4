#include "test_util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int nd_test_passed, nd_test_failed;

const char *nd_test_tmpdir(const char *tag)
{
    static char path[512];
    const char *base = getenv("NORDIC_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    snprintf(path, sizeof path, "%s/%s.XXXXXX", base, tag);
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}

int nd_test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, nd_test_passed, nd_test_failed);
    return nd_test_failed == 0 && nd_test_passed > 0 ? 0 : 1;
}
