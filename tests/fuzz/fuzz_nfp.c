/* libFuzzer target: the NFP/1 decoder (COBS framing, CRC, payloads, seq). */
#include "fuzz_common.h"

static const char *const nfp_uris[] = {"serial:/dev/ttyACM0?proto=nfp"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nd_fuzz_run(nfp_uris, sizeof nfp_uris / sizeof *nfp_uris, data, size);
}
