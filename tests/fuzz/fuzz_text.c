/* libFuzzer target: the text line decoder with each preset and custom
 * patterns (number extraction, line framing, scaling, time column). */
#include "fuzz_common.h"

static const char *const text_uris[] = {
    "serial:/x?proto=text&preset=csv",
    "serial:/x?proto=text&preset=csv&first_line=keep&fields=2&unit=kg&scale=1000",
    "serial:/x?proto=text&preset=hx711-adc-2x",
    "serial:/x?proto=text&preset=openscale&first_line=keep",
    "serial:/x?proto=text&preset=openscale&unit=kg&time_unit=us",
    "serial:/x?proto=text&channels=7,0,3&time=1&time_unit=s&scale=1e6&first_line=keep",
    "serial:/x?proto=text&channels=0&match=W%3D&unit=lbf&scale=0.001",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return nd_fuzz_run(text_uris, sizeof text_uris / sizeof *text_uris, data, size);
}
