/* The parts of a running daemon, private to its lifecycle (nd_daemon.c) and
 * its commands (nd_commands.c). Each thread gets only its own context below
 * (inputs it reads, outputs it owns); no thread sees this struct.
 *
 * Who owns what:
 *   acquisition thread   the device, the device board
 *   metrics thread       the calibration and the live values (metrics board)
 *   writer thread        trial files, the file counters, the trials' file replies
 *   publisher thread     the PUB socket
 *   commands (cmd_lock)  trial state, the trial being recorded, settings for the
 *                        next trial, the live options board
 * Threads talk through the bus (nd_bus.h); a command waits on a reply
 * (nd_reply.h) carried by its message. */
#ifndef ND_DAEMON_INTERNAL_H
#define ND_DAEMON_INTERNAL_H

#include "nd_acquisition.h"
#include "nd_boards.h"
#include "nd_daemon.h"
#include "nd_metrics_thread.h"
#include "nd_publisher_thread.h"
#include "nd_trial.h"
#include "nd_writer_thread.h"
#include "nd_zmq_endpoints.h"

typedef struct nd_command_state {
    pthread_mutex_t lock;
    nd_trial_state state;
    uint32_t next_trial_no;
    nd_trial *trial;    /* the recording trial, else the last one (held), or NULL */
    uint64_t start_pos; /* ring position of its first set */
    bool window_active; /* a tare or calibration is running */
    char window_kind[16];
    nd_metric_settings settings; /* for the next trial */
    bool settings_pending;       /* settings given while recording: apply at stop */
    nd_metric_settings pending;
    /* Knee angles used so far by the isometric trial iso_trial_no (its
     * summary holds at most ND_ISO_MAX_ANGLES, METRICS.md 5.7). */
    uint32_t iso_trial_no, iso_angle_count;
    double iso_angles[ND_ISO_MAX_ANGLES];
} nd_command_state;

struct nd_daemon {
    nd_config cfg;
    nd_device *dev;
    nd_ring *ring;
    nd_bus bus;
    char cal_path[ND_PATH_MAX + 32];

    atomic_bool held;           /* lossless consumers wait at position 0 */
    atomic_bool stop_requested; /* SIGTERM / SIGINT */
    atomic_bool stop_consumers; /* consumers exit once drained */

    nd_device_board device_board;
    nd_metrics_board metrics_board;
    nd_live_board live_board;
    nd_error_board errors;
    nd_command_state cmd;

    nd_acquisition acq;
    nd_metrics_thread metrics;
    nd_writer_thread writer;
    nd_publisher_thread publisher;
    nd_zmq_endpoints zmq;

    pthread_t t_acquisition, t_metrics, t_writer, t_publisher;
    bool have_acquisition, have_metrics, have_writer, have_publisher;
};

#endif
