/* The systemd watchdog as a health check of the daemon's threads: the main
 * loop pets it only while acquisition, metrics and the file writer make
 * progress or are idle by design. A thread that stops beating for half the
 * watchdog interval stops the pets (systemd then restarts the service); one
 * stuck for the whole interval is reported and WATCHDOG=trigger is sent at
 * once, with the reason on the status line. */
#ifndef ND_WATCHDOG_H
#define ND_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nd_daemon.h"

typedef enum nd_watchdog_verdict {
    ND_WATCHDOG_PET,     /* all healthy: send WATCHDOG=1 */
    ND_WATCHDOG_HOLD,    /* a thread is late: send nothing */
    ND_WATCHDOG_TRIGGER, /* a thread is stuck: send WATCHDOG=trigger (once) */
} nd_watchdog_verdict;

typedef struct nd_watchdog {
    uint64_t interval_ns;
    uint64_t acq_sets;        /* device sets seen at the last check */
    uint64_t acq_progress_ns; /* when acquisition last moved or was idle by design */
    bool late_reported, triggered;
} nd_watchdog;

void nd_watchdog_init(nd_watchdog *w, uint64_t interval_usec, uint64_t now_ns);
/* why: the stuck or late thread, for the log and the status line. */
nd_watchdog_verdict nd_watchdog_check(nd_watchdog *w, nd_daemon *d, uint64_t now_ns, char *why,
                                      size_t whylen);

/* Test-only hook (see nordicd(8), ENVIRONMENT): the seconds the file writer
 * sleeps, once, when it stores the first sample sets of a trial. 0 = off. */
double nd_watchdog_test_writer_stall_s(void);

#endif
