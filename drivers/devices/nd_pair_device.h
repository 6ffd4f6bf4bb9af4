/* One two-channel board from two single-channel devices: a complete driver
 * running two other devices. */
#ifndef ND_PAIR_DEVICE_H
#define ND_PAIR_DEVICE_H

#include "nd_driver.h"

extern const nd_driver nd_driver_pair; /* pair: */

#endif
