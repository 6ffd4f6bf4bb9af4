/* Serial transport on libserialport (USB-CDC boards, FTDI adapters).
 *
 *   serial:/dev/ttyACM0?baud=921600&bits=8&parity=none&stop=1&flow=none
 *   serial:usb=2341:0043?baud=115200          (first port with that VID:PID)
 *   serial:usb=0403:6001:A600XYZ?baud=9600    (VID:PID and USB serial number)
 *
 * Reads are non-blocking plus sp_wait(); an unplug is "ready, 0 bytes and
 * sp_input_waiting() < 0" (or a read error) and returns ND_TR_LOST; reopen()
 * looks the port up again (by USB ids it may come back under another name).
 * See SERIAL.md. */
#ifndef ND_TR_SERIAL_H
#define ND_TR_SERIAL_H

#include "nd_transport.h"

/* URI keys of the serial transport itself (NULL-terminated). */
extern const char *const nd_tr_serial_keys[];

#endif
