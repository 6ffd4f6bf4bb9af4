/* Operator commands on the sets of a planned protocol (daemon/metrics/METRICS.md
 * section 5): "set next" ends the current set. Like a mark, it is a bus
 * message at the stream's head: the metrics thread ends the set at that
 * sample and the writer stores it as a "set_next" event, so an offline
 * recomputation replays it at the same sample. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "nd_daemon_internal.h"
#include "nd_trial_file.h"

/* Under cmd.lock: true when angle is one of the recording isometric trial's
 * angles or a new one still fits its summary (then it is recorded). */
static bool iso_angle_use(nd_command_state *c, double angle)
{
    if (c->iso_trial_no != c->trial->trial_no) {
        c->iso_trial_no = c->trial->trial_no;
        c->iso_angles[0] = c->trial->req.plan.angle_deg;
        c->iso_angle_count = 1;
    }
    for (uint32_t k = 0; k < c->iso_angle_count; k++)
        if (c->iso_angles[k] == angle) return true;
    if (!(angle >= 0 && angle <= ND_ISO_ANGLE_MAX_DEG)) return true; /* refused below */
    if (c->iso_angle_count == ND_ISO_MAX_ANGLES) return false;
    c->iso_angles[c->iso_angle_count++] = angle;
    return true;
}

int nd_daemon_set_next(nd_daemon *d, const nd_set_next_options *o, char *err, size_t errlen)
{
    const nd_set_next_options none = {.leg = ND_SIDE_NONE};
    if (!o) o = &none;
    pthread_mutex_lock(&d->cmd.lock);
    bool recording = d->cmd.state == ND_TRIAL_RECORDING;
    uint32_t no = recording ? d->cmd.trial->trial_no : 0;
    bool planned = recording && d->cmd.trial->req.plan.sets > 0;
    bool isometric = planned && d->cmd.trial->req.plan.test == ND_TEST_ISOMETRIC;
    bool angle_room = isometric && o->set_angle ? iso_angle_use(&d->cmd, o->angle_deg) : true;
    pthread_mutex_unlock(&d->cmd.lock);
    if (!recording) return snprintf(err, errlen, "no trial is recording"), -1;
    if (!planned)
        return snprintf(err, errlen,
                        "the recording trial has no protocol: start it with \"protocol\" "
                        "(e.g. \"3x6\") to count sets"),
               -1;
    if (o->set_angle && !isometric)
        return snprintf(err, errlen,
                        "\"angle_deg\" is for isometric tests: the recording trial is a Nordic "
                        "session (start it with \"test\": \"isometric\")"),
               -1;
    if (o->set_angle && !(o->angle_deg >= 0 && o->angle_deg <= ND_ISO_ANGLE_MAX_DEG))
        return snprintf(err, errlen, "angle_deg must be 0 to %g, got %g", ND_ISO_ANGLE_MAX_DEG,
                        o->angle_deg),
               -1;
    if (!angle_room)
        return snprintf(err, errlen,
                        "at most %d different knee angles per isometric session; start a new "
                        "trial for more",
                        ND_ISO_MAX_ANGLES),
               -1;
    nd_msg m = {.kind = ND_MSG_SET_NEXT, .trial_no = no};
    m.u.set_next.switch_leg = o->switch_leg;
    m.u.set_next.leg = o->leg;
    m.u.set_next.set_angle = o->set_angle;
    m.u.set_next.angle_deg = o->angle_deg;
    if (nd_bus_post_at_head(&d->bus, &m, NULL))
        return snprintf(err, errlen, "message bus full"), -1;
    return 0;
}

int nd_daemon_next_day_pain(nd_daemon *d, const char *trial_id, int pain, const char *detail,
                            nd_suggestion_reply *out, char *err, size_t errlen)
{
    if (pain < 0 || pain > 10) return snprintf(err, errlen, "pain must be 0 to 10"), -1;
    pthread_mutex_lock(&d->cmd.lock);
    bool recording =
        d->cmd.state == ND_TRIAL_RECORDING && strcmp(d->cmd.trial->trial_id, trial_id) == 0;
    pthread_mutex_unlock(&d->cmd.lock);
    if (recording)
        return snprintf(err, errlen,
                        "trial %s is still recording: the next-day pain is for a closed trial "
                        "(use mark pain during the session)",
                        trial_id),
               -1;
    if (nd_trial_id_check(trial_id, err, errlen)) return -1;
    nd_msg m = {.kind = ND_MSG_NEXT_DAY_PAIN};
    snprintf(m.u.next_day.trial_id, sizeof m.u.next_day.trial_id, "%s", trial_id);
    m.u.next_day.pain = pain;
    snprintf(m.u.next_day.detail, sizeof m.u.next_day.detail, "%s", detail ? detail : "");
    m.u.next_day.now_unix = (int64_t)time(NULL);
    nd_reply *reply = nd_reply_create(2); /* this command and the writer */
    if (!reply) return snprintf(err, errlen, "out of memory"), -1;
    m.u.next_day.reply = reply;
    if (nd_bus_post_at_head(&d->bus, &m, NULL)) {
        nd_reply_release(reply);
        nd_reply_release(reply);
        return snprintf(err, errlen, "message bus full"), -1;
    }
    nd_ring_wake_all(d->ring);
    int result = -1;
    char msg[256] = "";
    int rc = -1;
    if (nd_reply_wait(reply, 30.0, &result, msg, sizeof msg)) {
        snprintf(err, errlen, "the file writer did not answer within 30 s (disk stalled?)");
    } else if (result) {
        snprintf(err, errlen, "%s", msg);
    } else {
        /* "rule TAB SxR TAB text" from the writer */
        char *protocol = strchr(msg, '\t');
        char *text = protocol ? strchr(protocol + 1, '\t') : NULL;
        if (protocol && text) {
            *protocol++ = '\0';
            *text++ = '\0';
            snprintf(out->rule, sizeof out->rule, "%s", msg);
            snprintf(out->protocol, sizeof out->protocol, "%s", protocol);
            snprintf(out->text, sizeof out->text, "%s", text);
            rc = 0;
        } else {
            snprintf(err, errlen, "unexpected answer from the file writer");
        }
    }
    nd_reply_release(reply);
    return rc;
}
