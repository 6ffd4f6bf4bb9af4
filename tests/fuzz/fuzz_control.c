/* libFuzzer target: the control request parser (daemon/nd_control_parse.c).
 * Arbitrary bytes, not NUL-terminated; a refusal must come with a message and
 * an accepted request must name a known command. */
#include <stdlib.h>
#include <string.h>

#include "nd_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    char *buf = malloc(size ? size : 1);
    if (size) memcpy(buf, data, size);
    nd_request req;
    char err[256];
    memset(err, 'x', sizeof err);
    int rc = nd_request_parse(buf, size, &req, err, sizeof err);
    if (rc == 0) {
        if ((int)req.cmd < 0 || req.cmd >= ND_CMD_COUNT) abort();
    } else if (rc != -1 || memchr(err, 0, sizeof err) == NULL || err[0] == 0) {
        abort(); /* refusals always say why */
    }
    free(buf);
    return 0;
}
