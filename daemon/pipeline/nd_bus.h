/* The daemon's low-rate message log: trial start/stop, device events, marks,
 * tare/calibration requests, rep results and summaries. One ordered log,
 * read independently by each consumer thread (metrics, writer, publisher).
 *
 * Every message carries the ring position it applies at. Lossless consumers
 * handle a message just before they process the sample set at that position,
 * so "start" and "stop" cut the sample stream at exactly the same set for the
 * metrics engine and the file writer. Why that cut is race-free: a poster
 * reads the ring's published position P under the bus lock and posts at P
 * (nd_bus_post_at_head); a consumer reads how much the ring has for it BEFORE
 * taking the bus lock to look for messages. If the consumer looked first,
 * its end position was read before P was, so it ends at or before P; if the
 * poster came first, the consumer sees the message.
 *
 * Lossless readers take messages in position order (post order among those
 * already due): a message posted later at an earlier position, such as a
 * held trial's start behind device events posted at the head meanwhile, or
 * a rep result, is handled at its own position rather than behind them. */
#ifndef ND_BUS_H
#define ND_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "nd_calibration.h"
#include "nd_device.h"
#include "nd_metrics.h"
#include "nd_ring.h"
#include "nd_sets.h"

#define ND_BUS_CAPACITY    4096
#define ND_BUS_MAX_READERS 4

struct nd_trial; /* the runtime's trial descriptor (daemon/nd_trial.h) */
struct nd_reply; /* a one-shot reply (nd_reply.h) */

typedef enum nd_msg_kind {
    ND_MSG_TRIAL_START,     /* command -> all: u.trial begins here (each handler retains it) */
    ND_MSG_TRIAL_OPENED,    /* writer -> publisher: the trial's file exists (at its start) */
    ND_MSG_TRIAL_ABORT,     /* command -> all: the trial never began (no file); forget it */
    ND_MSG_TRIAL_STOP,      /* trial_no */
    ND_MSG_DEVICE_EVENT,    /* u.dev */
    ND_MSG_DEVICE_INFO,     /* acquisition -> metrics: the device board changed */
    ND_MSG_MARK,            /* u.mark (operator marks and pain ratings) */
    ND_MSG_TARE,            /* metrics: start a tare window here (u.cal, reply in u.cal.reply) */
    ND_MSG_CALIBRATE,       /* metrics: start a two-point window here (u.cal) */
    ND_MSG_CANCEL_WINDOW,   /* metrics: drop the tare/calibration window (its request timed out) */
    ND_MSG_SET_CALIBRATION, /* metrics: adopt u.calibration (a tare taken by the command) */
    ND_MSG_SETTINGS,        /* metrics: u.settings for the live display between trials */
    ND_MSG_REP,             /* metrics -> writer, publisher: u.rep */
    ND_MSG_SUMMARY,         /* metrics -> writer, publisher: u.summary (after STOP) */
    ND_MSG_ERROR,           /* anyone: u.text, published on status and logged in the file */
    ND_MSG_SET_NEXT,        /* command -> metrics, writer: end the current set here */
    ND_MSG_SET_RESULT,      /* metrics -> writer, publisher: u.set, a final /sets row */
    ND_MSG_NEXT_DAY_PAIN,   /* command -> writer: u.next_day on a closed trial file */
} nd_msg_kind;

typedef struct nd_msg {
    nd_msg_kind kind;
    uint64_t pos;      /* ring position the message applies at */
    uint32_t trial_no; /* trial it belongs to (0 = none) */
    union {
        struct nd_trial *trial;
        nd_device_event dev;
        struct {
            char kind[32];
            char detail[200];
            int pain; /* -1 unless kind is "pain" */
        } mark;
        struct {
            int side;               /* calibrate: ND_LEFT / ND_RIGHT */
            double mass_kg;         /* calibrate */
            bool left, right;       /* tare: which hooks */
            bool force;             /* tare: accept a zero the tare guard finds loaded */
            double window_s;        /* averaging window */
            struct nd_reply *reply; /* finished by the metrics thread (it holds one ref) */
        } cal;
        nd_calibration calibration;
        nd_metric_settings settings;
        nd_rep_result rep;
        nd_trial_summary summary;
        nd_set_result set;
        struct {
            bool switch_leg; /* the following sets are for leg (single-leg blocks) */
            nd_side leg;
            bool set_angle; /* the following sets are at angle_deg (isometric tests) */
            double angle_deg;
        } set_next;
        struct {
            char trial_id[65]; /* the writer finds its file in the data directory */
            int pain;
            char detail[200];
            int64_t now_unix;
            struct nd_reply *reply; /* the writer holds one ref; msg: rule TAB SxR TAB text */
        } next_day;
        char text[240];
    } u;
} nd_msg;

typedef struct nd_bus {
    pthread_mutex_t lock;
    nd_ring *ring;
    nd_msg *msgs;
    uint64_t head; /* messages ever posted */
    int nreaders;
    uint64_t read_idx[ND_BUS_MAX_READERS]; /* oldest message not yet taken */
    /* [reader][slot]: taken out of post order by nd_bus_next (below read_idx
     * everything is taken). */
    uint8_t *taken;
    uint64_t dropped; /* posts refused because a reader fell CAPACITY behind */
} nd_bus;

int nd_bus_init(nd_bus *b, nd_ring *ring);
void nd_bus_destroy(nd_bus *b);
int nd_bus_add_reader(nd_bus *b);

/* Post at a given position (results computed by a consumer). */
int nd_bus_post(nd_bus *b, const nd_msg *m);
/* Post at the ring's current published position, read under the bus lock;
 * returns that position through *pos (may be NULL). */
int nd_bus_post_at_head(nd_bus *b, nd_msg *m, uint64_t *pos);

/* For a lossless consumer at ring position `at` that has `avail` sets
 * available: copies the next message into *out if it applies at or before
 * `at` (returns 1). Otherwise returns 0 and sets *limit to the number of sets
 * it may process before looking again. */
int nd_bus_next(nd_bus *b, int reader, uint64_t at, uint64_t avail, nd_msg *out, uint64_t *limit);
/* For a lossy consumer: the next message regardless of position. */
int nd_bus_next_any(nd_bus *b, int reader, nd_msg *out);

#endif
