/* LabJack U6 in stream mode over libusb (USB.md): a complete driver. */
#ifndef ND_LABJACK_U6_H
#define ND_LABJACK_U6_H

#include "nd_driver.h"

extern const nd_driver nd_driver_labjack_u6; /* labjack-u6: */

#endif
