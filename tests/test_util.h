/* Minimal test harness: CHECK() records a failure and carries on; every test
 * program ends with nd_test_finish(), which prints "N passed, N failed" and
 * returns the exit status. */
#ifndef ND_TEST_UTIL_H
#define ND_TEST_UTIL_H

#include <math.h>
#include <stdio.h>

extern int nd_test_passed, nd_test_failed;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (cond) {                                                                                \
            nd_test_passed++;                                                                      \
        } else {                                                                                   \
            nd_test_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);               \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        if (va_ == vb_) {                                                                          \
            nd_test_passed++;                                                                      \
        } else {                                                                                   \
            nd_test_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_EQ_INT failed: %s = %lld, %s = %lld\n", __FILE__,        \
                    __LINE__, #a, va_, #b, vb_);                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
    do {                                                                                           \
        double va_ = (double)(a), vb_ = (double)(b);                                               \
        if (fabs(va_ - vb_) <= (tol)) {                                                            \
            nd_test_passed++;                                                                      \
        } else {                                                                                   \
            nd_test_failed++;                                                                      \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.12g, %s = %.12g (tol %g)\n",         \
                    __FILE__, __LINE__, #a, va_, #b, vb_, (double)(tol));                          \
        }                                                                                          \
    } while (0)

/* A fresh directory under $NORDIC_TEST_TMP (or /tmp); returns a static path. */
const char *nd_test_tmpdir(const char *tag);

/* Whether every directory from / down to path lets others search it, i.e. a
 * child that dropped to nobody can reach path. A clone in a Debian 12 home
 * directory (mode 0700) is not reachable. */
int nd_test_reachable_by_others(const char *path);

/* A fresh 0755 directory a child running as nobody can reach: under
 * $NORDIC_TEST_TMP when that is reachable, else under /tmp; returns a static
 * path. The caller removes it when it is done. */
const char *nd_test_tmpdir_for_nobody(const char *tag);
int nd_test_finish(const char *name);
/* A case needs something this machine lacks (root, a mount, IPv6...): a
 * printed SKIP on a developer machine, a failed check naming it when the CI
 * environment variable is set, so CI never passes by skipping. */
void nd_test_prerequisite_missing(const char *what);

/* Opening the device URI must fail (-1, no device) with an error naming
 * want1 and, if not NULL, want2. Prints the actual error when it does not. */
void nd_test_expect_open_error(const char *uri, const char *want1, const char *want2);

#endif
