/* Where nordicd keeps its state and trial files when not configured
 * otherwise; shared by the daemon's configuration and the offline tools
 * (nordic-trial), which must find the same files. */
#ifndef ND_TRIAL_DIRS_H
#define ND_TRIAL_DIRS_H

#include <stddef.h>

/* $STATE_DIRECTORY (systemd), /var/lib/nordicd for root, $XDG_DATA_HOME/nordicd,
 * else ~/.local/share/nordicd. */
void nd_default_state_dir(char *out, size_t outlen);
/* <state dir>/trials */
void nd_default_data_dir(char *out, size_t outlen);

#endif
