/* Default state and data directories (nd_trial_dirs.h). */
#include "nd_trial_dirs.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void nd_default_state_dir(char *out, size_t outlen)
{
    const char *home = getenv("HOME");
    const char *state = getenv("STATE_DIRECTORY"); /* systemd StateDirectory= */
    const char *xdg_data = getenv("XDG_DATA_HOME");
    if (state && *state)
        snprintf(out, outlen, "%s", state);
    else if (geteuid() == 0)
        snprintf(out, outlen, "/var/lib/nordicd");
    else if (xdg_data && *xdg_data)
        snprintf(out, outlen, "%s/nordicd", xdg_data);
    else
        snprintf(out, outlen, "%s/.local/share/nordicd", home && *home ? home : "/tmp");
}

void nd_default_data_dir(char *out, size_t outlen)
{
    char state[512];
    nd_default_state_dir(state, sizeof state);
    snprintf(out, outlen, "%.400s/trials", state);
}
