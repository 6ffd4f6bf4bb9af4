/* The rate estimator (drivers/core/nd_rate_estimate.h) on synthetic
 * arrivals: a device making sets every 1/rate s, the host reading them late
 * by random non-negative delays, in bunches, after a backlog and a stall.
 * The expected rate is the one the arrivals were generated with. */
#include <stdint.h>
#include <stdlib.h>

#include "nd_rate_estimate.h"
#include "test_util.h"

/* xorshift: reproducible delays without libc's rand state. */
static uint64_t rng_state = 88172645463325252ull;
static double uniform01(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (double)(rng_state >> 11) / 9007199254740992.0;
}

/* Feed sets made at rate_hz from t=1 s; each read happens at a made time
 * plus a delay and takes every set made by then. backlog sets arrive all at
 * once first; a host stall of stall_s happens 1 s in. From dev_stall_at_s
 * for dev_stall_s the sending side stalls (the board's or the bridge's
 * thread descheduled): reads then see only what was sent before; then it
 * catches up over dev_catch_s, reads seeing part of the backlog. Returns
 * the estimate. */
static double dev_stall_at_s = -1, dev_stall_s, dev_catch_s;
static double estimate(double rate_hz, int backlog, double max_delay_s, double stall_s,
                       double read_every_s)
{
    nd_rate_estimate *e = malloc(sizeof *e);
    nd_rate_estimate_init(e, ND_RATE_WINDOW_S);
    double t0 = 1.0;
    nd_rate_estimate_add(e, (uint64_t)(t0 * 1e9), (uint64_t)backlog);
    uint64_t made_read = 0;
    double result = -1;
    for (double now = t0; now < t0 + 20 && result < 0; now += read_every_s) {
        double read_at = now + uniform01() * max_delay_s;
        if (read_at > t0 + 1.0 && read_at < t0 + 1.0 + stall_s) continue; /* host stalled */
        /* sets the device made by `now` (the read sees those) */
        double sent_by = now, since = now - t0 - dev_stall_at_s;
        if (dev_stall_at_s >= 0 && since >= 0 && since < dev_stall_s)
            sent_by = t0 + dev_stall_at_s;
        else if (dev_stall_at_s >= 0 && since >= dev_stall_s && since < dev_stall_s + dev_catch_s)
            sent_by = t0 + dev_stall_at_s +
                      (since - dev_stall_s) / dev_catch_s * (dev_stall_s + dev_catch_s);
        uint64_t made = (uint64_t)((sent_by - t0) * rate_hz) + 1;
        if (made <= made_read) continue;
        uint64_t n = made - made_read;
        made_read = made;
        if (nd_rate_estimate_add(e, (uint64_t)(read_at * 1e9), n)) result = e->measured_hz;
    }
    free(e);
    return result;
}

int main(void)
{
    /* Reads every 16 ms (USB-serial latency), each up to 30 ms late. */
    double r = estimate(80.0, 0, 0.030, 0, 0.016);
    CHECK(r > 0 && fabs(r / 80.0 - 1.0) < 0.01);
    /* A backlog of 200 lines at the start and a 400 ms stall followed by a
     * burst: the naive count / span would read about 147 lines/s. */
    r = estimate(80.0, 200, 0.030, 0.4, 0.016);
    CHECK(r > 0 && fabs(r / 80.0 - 1.0) < 0.01);
    /* 10 lines/s with 150 ms random lateness. */
    r = estimate(10.0, 3, 0.150, 0.5, 0.1);
    CHECK(r > 0 && fabs(r / 10.0 - 1.0) < 0.03);
    /* The sender stalls for 400 ms and catches up over 300 ms just as the
     * window closes: the reads then carry old sets. Counting sets over the
     * time since the first arrival reads about 12 % slow. */
    dev_stall_at_s = 2.6;
    dev_stall_s = 0.4;
    dev_catch_s = 0.3;
    r = estimate(80.0, 0, 0.010, 0, 0.016);
    CHECK(r > 0 && fabs(r / 80.0 - 1.0) < 0.01);
    dev_stall_at_s = -1;
    /* Loadstar UHS-1K, about 575 readings/s, read every 1 ms. */
    r = estimate(575.0, 0, 0.004, 0, 0.001);
    CHECK(r > 0 && fabs(r / 575.0 - 1.0) < 0.01);
    CHECK(nd_rate_differs(84.1, 80.0) && !nd_rate_differs(83.9, 80.0));
    CHECK(nd_rate_differs(80.0, 10.0) && !nd_rate_differs(10.0, 10.0));
    return nd_test_finish("test_rate_estimate");
}
