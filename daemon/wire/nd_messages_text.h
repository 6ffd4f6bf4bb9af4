/* Bodies of the hot live topics, `live` (50 Hz) and `wave`, written straight
 * as JSON text (nd_json_writer) instead of through a cJSON tree: the same
 * field names, order, types and values as the contract of
 * daemon/wire/ZMQ_PROTOCOL.md. Each writes its fields into an object the
 * caller has opened (after the header fields); none of the names clashes
 * with a header field ("v", "seq", "t", "trial_id", "uptime_s"). */
#ifndef ND_MESSAGES_TEXT_H
#define ND_MESSAGES_TEXT_H

#include "nd_json_writer.h"
#include "nd_messages.h"

void nd_text_live_fields(nd_json_writer *w, const nd_live_msg *m);
/* Points at 0.01 N resolution; at most ND_WAVE_MAX_POINTS. */
void nd_text_wave_fields(nd_json_writer *w, const nd_wave_block *b);
/* The `set` object of `live` (as nd_json_set_live builds it for `status`). */
void nd_text_set_live(nd_json_writer *w, const nd_set_live *s);

#endif
