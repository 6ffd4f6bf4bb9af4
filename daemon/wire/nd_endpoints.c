/* Topic names and default endpoints, shared by the daemon and its clients. */
#include "nd_endpoints.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const topic_names[ND_TOPIC_COUNT] = {"status", "live", "rep",
                                                        "trial",  "wave", "set"};

const char *nd_topic_name(nd_topic t)
{
    return (unsigned)t < ND_TOPIC_COUNT ? topic_names[t] : "?";
}

int nd_topic_from_name(const char *name, size_t len)
{
    for (int t = 0; t < ND_TOPIC_COUNT; t++)
        if (strlen(topic_names[t]) == len && !memcmp(topic_names[t], name, len)) return t;
    return -1;
}

void nd_default_runtime_dir(char *out, size_t outlen)
{
    const char *runtime = getenv("RUNTIME_DIRECTORY");
    const char *xdg_runtime = getenv("XDG_RUNTIME_DIR");
    if (runtime && *runtime)
        snprintf(out, outlen, "%s", runtime);
    else if (geteuid() == 0)
        snprintf(out, outlen, "/run/nordicd");
    else if (xdg_runtime && *xdg_runtime)
        snprintf(out, outlen, "%s/nordicd", xdg_runtime);
    else
        snprintf(out, outlen, "/tmp/nordicd-%u", (unsigned)getuid());
}

void nd_default_control_endpoint(char *out, size_t outlen)
{
    char dir[512];
    nd_default_runtime_dir(dir, sizeof dir);
    snprintf(out, outlen, "ipc://%.480s/control", dir);
}
