/* /api/v1 request handling over an nd_index (tools/index/INDEX.md,
 * tools/index/openapi.yaml). No HTTP library inside: the server (the
 * station) parses HTTP, authenticates, then hands method, path, raw query
 * and body here and sends back what it gets.
 *
 * Endpoints handled:
 *   GET  /api/v1/trials                  athlete, from, to, modified_since,
 *                                        status, limit (1..1000), cursor
 *   GET  /api/v1/trials/{trial_id}       metadata, settings, summary, reps, events
 *   GET  /api/v1/trials/{trial_id}/events
 *   GET  /api/v1/trials/{trial_id}/settings
 *   GET  /api/v1/trials/{trial_id}/trace format=json|csv, decimate=1..100000
 *   GET  /api/v1/trials/{trial_id}/file  the HDF5 file (file_path set)
 *   GET  /api/v1/athletes                q, limit, cursor
 *   POST /api/v1/athletes                JSON body: a new athlete
 *   GET  /api/v1/athletes/{id}
 *   PUT  /api/v1/athletes/{id}           JSON body: the athlete's fields
 *   GET  /api/v1/athletes/{id}/history   the athlete's trials with summaries
 *   GET  /api/v1/athletes/{id}/best      from: the best bilateral rep peak per leg
 * Errors: JSON {"error": "...", "parameter": "name"} with 400 (bad or
 * unknown parameter or field; "parameter" names it), 404 (no such trial or
 * athlete), 405 (method), 409 (athlete exists; settings or trace of a
 * damaged or foreign file), 413 (body too large), 414 (query too long), 500. */
#ifndef ND_API_H
#define ND_API_H

#include <stddef.h>

#include "nd_index.h"

#define ND_API_MAX_BODY  (64 * 1024) /* larger request bodies get 413 */
#define ND_API_MAX_LIMIT 1000

typedef struct nd_api_response {
    int status;               /* HTTP status */
    const char *content_type; /* static string */
    char *body;               /* malloc'd, or NULL */
    size_t body_len;
    char *file_path; /* non-NULL: send this file (HDF5 download) instead of body */
} nd_api_response;

/* path without query string, e.g. "/api/v1/trials/ABC" (percent-decoding of
 * path segments is done here); query raw ("a=1&b=2", percent-encoded) or
 * NULL. Returns 0 when it handled the request (any status; *out filled),
 * -1 when the path is not its (404 is then the caller's; *out untouched). */
int nd_api_handle(nd_index *ix, const char *method, const char *path, const char *query,
                  const char *body, size_t body_len, nd_api_response *out);
void nd_api_response_free(nd_api_response *r);

#endif
