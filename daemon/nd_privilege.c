/* Privilege drop for nordicd started as root (nd_privilege.h). */
#include "nd_privilege.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nd_log.h"

int nd_privilege_resolve(const nd_config *cfg, nd_identity *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!*cfg->user) {
        if (*cfg->group)
            return snprintf(err, errlen, "group = %s is set but user is not; set both", cfg->group),
                   -1;
        return 0;
    }
    char buf[4096];
    struct passwd pw, *pwp = NULL;
    int rc = getpwnam_r(cfg->user, &pw, buf, sizeof buf, &pwp);
    if (rc || !pwp)
        return snprintf(err, errlen,
                        "user = %s: no such user (create it, e.g. adduser --system "
                        "--group %s, or change user in the configuration)",
                        cfg->user, cfg->user),
               -1;
    snprintf(out->user, sizeof out->user, "%s", cfg->user);
    out->uid = pw.pw_uid;
    out->gid = pw.pw_gid;
    if (*cfg->group) {
        struct group gr, *grp = NULL;
        rc = getgrnam_r(cfg->group, &gr, buf, sizeof buf, &grp);
        if (rc || !grp) return snprintf(err, errlen, "group = %s: no such group", cfg->group), -1;
        out->gid = gr.gr_gid;
    }
    return 1;
}

bool nd_privilege_needed(const nd_identity *id)
{
    return geteuid() == 0 && id->uid != 0;
}

/* mkdir -p whose parents stay root's and whose new leaf goes to id. */
static int make_owned_dir(const char *path, const nd_identity *id, char *err, size_t errlen)
{
    struct stat st;
    if (!*path || stat(path, &st) == 0) return 0;
    if (errno != ENOENT) return snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1;
    char buf[ND_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0755) && errno != EEXIST) goto fail;
        *p = '/';
    }
    if (mkdir(buf, 0750) && errno != EEXIST) goto fail;
    if (chown(buf, id->uid, id->gid))
        return snprintf(err, errlen, "cannot give %s to %s: %s", buf, id->user, strerror(errno)),
               -1;
    nd_info("created %s for user %s", buf, id->user);
    return 0;
fail:
    return snprintf(err, errlen, "cannot create directory %s: %s", buf, strerror(errno)), -1;
}

int nd_privilege_prepare_dirs(const nd_config *cfg, const nd_identity *id, char *err, size_t errlen)
{
    /* state_dir first: data_dir usually lives inside it. */
    if (make_owned_dir(cfg->state_dir, id, err, errlen)) return -1;
    if (make_owned_dir(cfg->data_dir, id, err, errlen)) return -1;
    return make_owned_dir(cfg->runtime_dir, id, err, errlen);
}

int nd_privilege_drop(const nd_identity *id, char *err, size_t errlen)
{
    /* Groups before the uid: once the uid is dropped they cannot change. */
    if (initgroups(id->user, id->gid))
        return snprintf(err, errlen, "initgroups(%s): %s", id->user, strerror(errno)), -1;
    if (setresgid(id->gid, id->gid, id->gid))
        return snprintf(err, errlen, "setresgid(%u): %s", (unsigned)id->gid, strerror(errno)), -1;
    if (setresuid(id->uid, id->uid, id->uid))
        return snprintf(err, errlen, "setresuid(%u): %s", (unsigned)id->uid, strerror(errno)), -1;
    /* The daemon never executes anything; make sure nothing it might run
     * could gain privileges either. */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
        return snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(errno)), -1;

    uid_t r, e, s;
    gid_t rg, eg, sg;
    if (getresuid(&r, &e, &s) || getresgid(&rg, &eg, &sg) || r != id->uid || e != id->uid ||
        s != id->uid || rg != id->gid || eg != id->gid || sg != id->gid)
        return snprintf(err, errlen, "privilege drop to %s did not take effect", id->user), -1;
    if (setuid(0) == 0 || seteuid(0) == 0 || setgid(0) == 0)
        return snprintf(err, errlen, "root could be regained after dropping to %s", id->user), -1;

    gid_t groups[64];
    int n = getgroups(64, groups);
    char list[256] = "";
    for (int i = 0; i < n && strlen(list) < sizeof list - 16; i++) {
        struct group *g = getgrgid(groups[i]);
        size_t used = strlen(list);
        if (g)
            snprintf(list + used, sizeof list - used, "%s%s", used ? "," : "", g->gr_name);
        else
            snprintf(list + used, sizeof list - used, "%s%u", used ? "," : "", (unsigned)groups[i]);
    }
    nd_notice("dropped root: running as %s (uid %u, gid %u, groups %s)", id->user,
              (unsigned)id->uid, (unsigned)id->gid, *list ? list : "none");
    return 0;
}

static int check_dir(const char *key, const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (!*path) return 0;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return 0; /* the daemon creates it and says if it can't */
        return snprintf(err, errlen,
                        "%s %s is not reachable by uid %u: %s (check the parent directories' "
                        "permissions)",
                        key, path, (unsigned)geteuid(), strerror(errno)),
               -1;
    }
    if (access(path, W_OK | X_OK) == 0) return 0;
    struct passwd *pw = getpwuid(st.st_uid);
    char owner[48];
    if (pw)
        snprintf(owner, sizeof owner, "%s", pw->pw_name);
    else
        snprintf(owner, sizeof owner, "uid %u", (unsigned)st.st_uid);
    return snprintf(err, errlen,
                    "%s %s is not writable by uid %u (owner %s, mode %03o): chown it to the "
                    "service user or choose another directory",
                    key, path, (unsigned)geteuid(), owner, (unsigned)(st.st_mode & 0777)),
           -1;
}

int nd_privilege_check_dirs(const nd_config *cfg, char *err, size_t errlen)
{
    if (check_dir("state_dir", cfg->state_dir, err, errlen)) return -1;
    if (check_dir("data_dir", cfg->data_dir, err, errlen)) return -1;
    return check_dir("runtime_dir", cfg->runtime_dir, err, errlen);
}

int nd_privilege_apply(const nd_config *cfg, char *err, size_t errlen)
{
    nd_identity id;
    int found = nd_privilege_resolve(cfg, &id, err, errlen);
    if (found < 0) return -1;
    if (found == 0 && geteuid() == 0)
        nd_notice("running as root: set user = in [daemon] to run as an unprivileged account");
    if (found > 0 && nd_privilege_needed(&id)) {
        if (nd_privilege_prepare_dirs(cfg, &id, err, errlen)) return -1;
        if (nd_privilege_drop(&id, err, errlen)) return -1;
    } else if (found > 0 && geteuid() != id.uid) {
        nd_notice("user = %s not applied: only a daemon started as root switches user "
                  "(running as uid %u)",
                  id.user, (unsigned)geteuid());
    }
    return nd_privilege_check_dirs(cfg, err, errlen);
}
