/* Input expansion for nordic-report: files, folders (recursive) and globs. */
#include <dirent.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "report.h"

static int push(nd_report_inputs *in, const char *path, char *err, size_t errlen)
{
    if (in->n == in->cap) {
        size_t cap = in->cap ? 2 * in->cap : 64;
        char **p = realloc(in->paths, cap * sizeof *p);
        if (!p) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        in->paths = p;
        in->cap = cap;
    }
    in->paths[in->n] = strdup(path);
    if (!in->paths[in->n]) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    in->n++;
    return 0;
}

static bool is_trial_name(const char *name)
{
    size_t len = strlen(name);
    /* Hidden files include the writer's ".<name>.partial" under creation. */
    return name[0] != '.' && len > 3 && strcmp(name + len - 3, ".h5") == 0;
}

static int walk(nd_report_inputs *in, const char *dir, int depth, char *err, size_t errlen)
{
    if (depth > 64) return 0; /* a symlink loop: stop rather than recurse forever */
    DIR *d = opendir(dir);
    if (!d) return push(in, dir, err, errlen); /* reported as skipped later */
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[PATH_MAX];
        if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= (int)sizeof path) continue;
        struct stat st;
        if (stat(path, &st) < 0) continue;
        if (S_ISDIR(st.st_mode))
            rc = walk(in, path, depth + 1, err, errlen);
        else if (S_ISREG(st.st_mode) && is_trial_name(e->d_name))
            rc = push(in, path, err, errlen);
    }
    closedir(d);
    return rc;
}

static int add_one(nd_report_inputs *in, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return walk(in, path, 0, err, errlen);
    return push(in, path, err, errlen);
}

int nd_report_inputs_add(nd_report_inputs *in, const char *arg, char *err, size_t errlen)
{
    struct stat st;
    /* An existing path is taken literally even if it contains glob characters. */
    if (stat(arg, &st) == 0 || strpbrk(arg, "*?[") == NULL) return add_one(in, arg, err, errlen);
    glob_t g;
    int grc = glob(arg, 0, NULL, &g);
    if (grc == GLOB_NOMATCH) return push(in, arg, err, errlen);
    if (grc != 0) {
        snprintf(err, errlen, "pattern '%s': %s", arg,
                 grc == GLOB_NOSPACE ? "out of memory" : "read error");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) rc = add_one(in, g.gl_pathv[i], err, errlen);
    globfree(&g);
    return rc;
}

static int cmp_path(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void nd_report_inputs_finish(nd_report_inputs *in)
{
    if (in->n == 0) return;
    qsort(in->paths, in->n, sizeof *in->paths, cmp_path);
    size_t w = 1;
    for (size_t i = 1; i < in->n; i++) {
        if (strcmp(in->paths[i], in->paths[w - 1]) == 0)
            free(in->paths[i]);
        else
            in->paths[w++] = in->paths[i];
    }
    in->n = w;
}

void nd_report_inputs_free(nd_report_inputs *in)
{
    for (size_t i = 0; i < in->n; i++) free(in->paths[i]);
    free(in->paths);
    memset(in, 0, sizeof *in);
}
