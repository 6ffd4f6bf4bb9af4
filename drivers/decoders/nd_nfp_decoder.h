/* NFP/1 binary frames (PROTOCOL.md) as a decoder of the stream device. */
#ifndef ND_NFP_DECODER_H
#define ND_NFP_DECODER_H

#include "nd_decoder.h"

extern const nd_decoder_ops nd_decoder_nfp; /* proto=nfp */

#endif
