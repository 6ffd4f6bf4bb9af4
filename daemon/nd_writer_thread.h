/* The file writer thread: a lossless ring consumer that stores every sample
 * set of a trial, with its reps and events, in the trial's HDF5 file
 * (nd_trial_file.h). All HDF5 calls of the daemon happen on this thread.
 * It creates a trial's file when it reaches the trial's start and answers
 * the start command through the trial (nd_trial.h); it closes the file when
 * the summary arrives and answers the stop command the same way.
 *
 * A slow disk delays only this thread (the ring absorbs it); a failed disk
 * stops the file, not acquisition or metrics: the loss is counted and shown
 * on status, and the file stays valid up to its last flush. */
#ifndef ND_WRITER_THREAD_H
#define ND_WRITER_THREAD_H

#include <stddef.h>

#include "nd_boards.h"
#include "nd_consumer.h"

typedef struct nd_writer_thread {
    /* inputs */
    nd_consumer in;
    const char *data_dir;
    double flush_interval_s;
    nd_error_board *errors;
    /* output (this thread is the only writer) */
    nd_file_counters counters;
} nd_writer_thread;

/* Before the threads start: the data directory exists and is writable, and
 * trials left open by a crash are repaired and marked interrupted. An
 * unusable directory is an error that stops the daemon. */
int nd_writer_prepare(const char *data_dir, nd_error_board *errors, char *err, size_t errlen);
void *nd_writer_main(void *arg);

#endif
