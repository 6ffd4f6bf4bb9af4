#include "test_util.h"

#include "nd_device.h"

#include <stdbool.h>
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

int nd_test_reachable_by_others(const char *path)
{
    char *real = realpath(path, NULL);
    if (!real) return 0;
    struct stat st;
    int ok = stat("/", &st) == 0 && (st.st_mode & S_IXOTH);
    /* Every prefix that ends at a '/', then the whole path. */
    size_t n = strlen(real);
    for (size_t i = 1; ok && i <= n; i++) {
        if (real[i] != '/' && real[i] != '\0') continue;
        char saved = real[i];
        real[i] = '\0';
        ok = stat(real, &st) == 0 && (st.st_mode & S_IXOTH);
        real[i] = saved;
    }
    free(real);
    return ok;
}

const char *nd_test_tmpdir_for_nobody(const char *tag)
{
    static char path[512];
    const char *base = getenv("NORDIC_TEST_TMP");
    if (!base || !*base) base = "/tmp";
    mkdir(base, 0755);
    if (!nd_test_reachable_by_others(base)) base = "/tmp";
    snprintf(path, sizeof path, "%s/%s.XXXXXX", base, tag);
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    chmod(path, 0755);
    return path;
}

int nd_test_finish(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, nd_test_passed, nd_test_failed);
    return nd_test_failed == 0 && nd_test_passed > 0 ? 0 : 1;
}

void nd_test_expect_open_error(const char *uri, const char *want1, const char *want2)
{
    nd_sink sink = {0};
    nd_device *dev = (nd_device *)1; /* must come back NULL */
    char err[512] = "";
    int rc = nd_device_open(uri, &sink, &dev, err, sizeof err);
    CHECK_EQ_INT(rc, -1);
    CHECK(dev == NULL);
    bool named = strstr(err, want1) && (!want2 || strstr(err, want2));
    if (!named)
        fprintf(stderr, "  %s -> '%s' (wanted '%s'%s%s%s)\n", uri, err, want1, want2 ? ", '" : "",
                want2 ? want2 : "", want2 ? "'" : "");
    CHECK(named);
    if (rc == 0 && dev) nd_device_close(dev);
}

void nd_test_prerequisite_missing(const char *what)
{
    const char *ci = getenv("CI");
    if (ci && *ci) {
        nd_test_failed++;
        fprintf(stderr, "FAIL: prerequisite missing under CI: %s\n", what);
    } else {
        fprintf(stderr, "SKIP: %s\n", what);
    }
}
