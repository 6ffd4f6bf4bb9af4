/* Live publisher of daemon/wire/ZMQ_PROTOCOL.md: one XPUB socket (behaves as PUB) sending
 * two-frame messages, topic then JSON. Every payload carries "v":1, a
 * per-topic "seq" (incremented for every message produced, so a gap seen by
 * a subscriber is exactly a lost message), trial time "t" (null when no
 * trial runs), "trial_id" while a trial runs and "uptime_s".
 *
 * Never blocks: sends use ZMQ_DONTWAIT, ZMQ_XPUB_NODROP stays off, so a slow
 * or dead subscriber only loses its own messages once its pipe reaches the
 * high-water mark (ZeroMQ drops those silently per subscriber; they show up
 * as seq gaps there). Sends that fail locally are counted per topic.
 *
 * When a new subscriber subscribes to `status` (or to everything), the last
 * status is re-sent at once, so a late joiner learns the device, rate,
 * channel names and units without waiting for the 1 Hz tick (the LSL-style
 * stream description).
 *
 * Not thread-safe: call everything from one thread (the daemon's publisher
 * thread). */
#ifndef ND_PUBLISHER_H
#define ND_PUBLISHER_H

#include <stdbool.h>
#include <stdint.h>

#include "nd_endpoints.h"
#include "nd_messages.h"
#include "nd_zsec.h"

typedef struct nd_publisher_options {
    const char *endpoint;         /* default tcp://127.0.0.1:5556 */
    int sndhwm;                   /* per-subscriber queue in messages; 0 = 1000 */
    const nd_curve_server *curve; /* NULL: local endpoints only */
} nd_publisher_options;

typedef struct nd_publisher_stats {
    uint64_t seq[ND_TOPIC_COUNT];     /* next seq per topic = messages produced */
    uint64_t sent[ND_TOPIC_COUNT];    /* handed to ZeroMQ */
    uint64_t dropped[ND_TOPIC_COUNT]; /* send failed (EAGAIN or error) */
    uint64_t subscriptions;           /* subscribe notifications seen */
} nd_publisher_stats;

typedef struct nd_publisher nd_publisher;

/* Checks the bind policy (nd_zsec_check_bind), creates and binds. Returns
 * NULL with a clear message on failure. */
nd_publisher *nd_publisher_open(void *zctx, const nd_publisher_options *opt, char *err,
                                size_t errlen);
void nd_publisher_close(nd_publisher *p);

/* trial_id: NULL or "" when no trial runs (then "t" is null and "trial_id"
 * absent). t_s: trial time in seconds. Each returns 0 if handed to ZeroMQ,
 * -1 if dropped (counted). */
int nd_publish_status(nd_publisher *p, const char *trial_id, double t_s,
                      const nd_status_snapshot *s);
int nd_publish_live(nd_publisher *p, const char *trial_id, double t_s, const nd_live_msg *m);
int nd_publish_rep(nd_publisher *p, const char *trial_id, double t_s, const nd_rep_result *r);
int nd_publish_trial_start(nd_publisher *p, double t_s, const nd_trial_msg *t);
int nd_publish_trial_stop(nd_publisher *p, double t_s, const nd_trial_msg *t,
                          const nd_trial_summary *summary);
int nd_publish_wave(nd_publisher *p, const char *trial_id, double t_s, const nd_wave_block *b);

/* Sends any topic with a caller-built body (takes ownership of body). */
int nd_publish_json(nd_publisher *p, nd_topic topic, const char *trial_id, double t_s, cJSON *body);

/* Reads pending subscription notifications (non-blocking) and re-sends the
 * last status to new status subscribers. Called by every publish function;
 * call it yourself when idle at least a few times a second. */
void nd_publisher_service(nd_publisher *p);

/* Whether any subscriber's prefix matches the topic now, as of the last
 * nd_publisher_service (a message nobody would receive need not be built).
 * Up to ND_PUB_MAX_PREFIXES distinct prefixes are tracked; beyond that every
 * topic counts as wanted. */
#define ND_PUB_MAX_PREFIXES 32
#define ND_PUB_PREFIX_MAX   15 /* longer prefixes match no topic name */
bool nd_publisher_wanted(const nd_publisher *p, nd_topic topic);
bool nd_publisher_has_subscribers(const nd_publisher *p);

/* The underlying socket, e.g. to wait in zmq_poll for subscriptions. */
void *nd_publisher_socket(nd_publisher *p);

void nd_publisher_get_stats(const nd_publisher *p, nd_publisher_stats *out);
/* Sum of dropped[] (for the status counters). */
uint64_t nd_publisher_drops(const nd_publisher *p);

#endif
